//! The confirmation switch's host scripts, run for real on this machine (bash, flock,
//! a detached sleeper: this machine has no systemd): a revert that has started is not
//! killed by a late confirm, and a confirm in time leaves the release alone.
//!
//! One test in this binary: it puts a recording `docker` first on PATH, which would
//! race with other tests of the same process.

use std::path::Path;
use std::time::{Duration, Instant};
use vpai_deploy::confirm::{self, Cancelled};
use vpai_host::LocalHost;

/// A kept release `name` whose only file is the infra compose file with `body`.
fn release(root: &Path, name: &str, body: &str) {
    use sha2::Digest;
    let dir = root.join("releases").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let file = "docker-compose-infra.yml";
    std::fs::write(dir.join(file), body).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    std::fs::write(dir.join(".vpai-sums"), format!("{sha}  {file}\n")).unwrap();
    let (uid, gid) = ids();
    std::fs::write(
        dir.join(".vpai-files"),
        format!("0600\t{uid}\t{gid}\t{sha}\t1\t1\t{file}\n"),
    )
    .unwrap();
}

fn ids() -> (String, String) {
    let id = |flag: &str| {
        let out = std::process::Command::new("id").arg(flag).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    (id("-u"), id("-g"))
}

fn current(root: &Path) -> String {
    std::fs::read_link(root.join("releases/current"))
        .unwrap()
        .display()
        .to_string()
}

fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_late_confirm_leaves_a_running_revert_alone_and_a_timely_one_cancels() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let bin = tmp.path().join("bin");
    let calls = tmp.path().join("docker-calls");
    std::fs::create_dir_all(&bin).unwrap();
    // The engine as the revert sees it: it records the call and takes its time,
    // long enough for a confirm to arrive in the middle.
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        format!("#!/bin/sh\necho \"$*\" >>'{}'\nsleep 3\n", calls.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // SAFETY: the only test of this binary, before any thread of ours starts.
    unsafe { std::env::set_var("PATH", path) };

    release(&root, "r1", "services: {one: {}}\n");
    release(&root, "r2", "services: {two: {}}\n");
    std::fs::write(
        root.join("docker-compose-infra.yml"),
        "services: {two: {}}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("r2", root.join("releases/current")).unwrap();

    let mut stack = vpai_model::build(
        &vpai_spec::StackFile::example(),
        &vpai_catalog::Catalog::embedded(),
        &vpai_model::BuildOptions::default(),
    )
    .unwrap();
    stack.root = root.clone();
    stack.project = format!("confirmtest{}", std::process::id());
    let host = LocalHost;

    // In time: cancelled, nothing reverts.
    let at = confirm::arm(&host, &stack, Duration::from_secs(1), "r2", "r1").unwrap();
    assert!(at > 0);
    let state = confirm::read(&host, &stack).unwrap();
    assert_eq!(state.armed.as_ref().map(|a| a.0.as_str()), Some("r2"));
    assert_eq!(state.firing, None);
    assert_eq!(
        confirm::cancel(&host, &stack).unwrap(),
        Cancelled::Cancelled("r2".into())
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(current(&root), "r2");
    assert!(!calls.exists(), "a cancelled switch ran the engine");
    assert_eq!(confirm::cancel(&host, &stack).unwrap(), Cancelled::None);

    // Too late: the revert runs (the engine is slow), the confirm leaves it alone.
    confirm::arm(&host, &stack, Duration::from_secs(1), "r2", "r1").unwrap();
    let firing = wait_for(Duration::from_secs(10), || {
        confirm::read(&host, &stack).unwrap().firing.is_some()
    });
    assert!(firing, "the switch never said it fires");
    assert_eq!(
        confirm::cancel(&host, &stack).unwrap(),
        Cancelled::Firing("r2".into())
    );
    let done = wait_for(Duration::from_secs(15), || {
        confirm::read(&host, &stack).unwrap().reverted.is_some()
    });
    assert!(done, "the revert did not finish");
    let state = confirm::read(&host, &stack).unwrap();
    assert_eq!(state.armed, None);
    let (undone, back, _, ok) = state.reverted.unwrap();
    assert_eq!((undone.as_str(), back.as_str(), ok), ("r2", "r1", true));
    assert_eq!(current(&root), "r1");
    assert_eq!(
        std::fs::read_to_string(root.join("docker-compose-infra.yml")).unwrap(),
        "services: {one: {}}\n"
    );
    let called = std::fs::read_to_string(&calls).unwrap();
    assert!(
        called.contains("compose -f") && called.contains("up -d --remove-orphans"),
        "{called}"
    );
}
