//! Test hosts as Linux namespaces: a holder process in new network and mount namespaces
//! (`unshare --net --mount -- sleep infinity`) that other processes join with
//! `nsenter`, linked to the test's namespace by a veth pair on a /30. Shared by the
//! end-to-end tests that need hosts of their own (`e2e_harden`, `e2e_hosts`).

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// The first of `tools` this machine lacks (`command -v`), if any.
pub fn missing_tool<'a>(tools: &[&'a str]) -> Option<&'a str> {
    tools.iter().copied().find(|tool| {
        !Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The holder of a new network and mount namespace.
pub struct Holder {
    pub child: Child,
    /// Its pid, for `nsenter -t`.
    pub pid: String,
    /// `net:[...]`, the namespace's identity.
    #[allow(dead_code)] // read by e2e_harden only
    pub netns: String,
}

/// Start a holder and wait until it is inside its own network namespace.
// The child is returned: its owner kills and waits for it (the lint follows no moves).
#[allow(clippy::zombie_processes)]
pub fn hold() -> Holder {
    let mut child = Command::new("unshare")
        .args(["--net", "--mount", "--", "sleep", "infinity"])
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare");
    let pid = child.id().to_string();
    let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
    let start = Instant::now();
    loop {
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if ns != mine && exe.ends_with("sleep") {
            let netns = ns.to_string_lossy().to_string();
            return Holder { child, pid, netns };
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unshare did not start");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A veth pair: `host_if` here with `PREFIX.1/30`, `peer_if` in the namespace of `pid`
/// with `PREFIX.2/30`, both up, and the namespace's loopback up. Returns `PREFIX.2`.
pub fn link(pid: &str, host_if: &str, peer_if: &str, prefix: &str) -> String {
    assert!(
        !String::from_utf8_lossy(&run(&["ip", "-br", "addr"]).stdout)
            .contains(&format!("{prefix}.")),
        "{prefix}.0/30 is in use on this machine"
    );
    let addr = format!("{prefix}.2");
    let here = [
        format!("ip link add {host_if} type veth peer name {peer_if} netns {pid}"),
        format!("ip addr add {prefix}.1/30 dev {host_if}"),
        format!("ip link set {host_if} up"),
    ];
    let there = [
        format!("ip addr add {addr}/30 dev {peer_if}"),
        format!("ip link set {peer_if} up"),
        "ip link set lo up".to_string(),
    ];
    for cmd in here {
        let out = run(&["sh", "-c", &cmd]);
        assert!(out.status.success(), "{cmd}: {out:?}");
    }
    for cmd in there {
        let out = run(&["nsenter", "-t", pid, "-n", "--", "sh", "-c", &cmd]);
        assert!(out.status.success(), "{cmd}: {out:?}");
    }
    addr
}

/// A real dockerd in the namespace of `pid` (its data root `data_root`, its logs in
/// `log_dir`), answering, with `images` loaded from this machine's engine (no
/// registry is reachable). Stop it with [`stop_dockerd`].
// The child is returned: its owner stops it (the lint follows no moves).
#[allow(clippy::zombie_processes)]
pub fn start_dockerd(
    pid: &str,
    data_root: &std::path::Path,
    log_dir: &std::path::Path,
    images: &[&str],
) -> Child {
    let child = Command::new("nsenter")
        .args(["-t", pid, "-n", "-m", "--", "dockerd", "--data-root"])
        .arg(data_root)
        .args([
            "--exec-root",
            "/run/docker-exec",
            "--pidfile",
            "/run/docker.pid",
            "--shutdown-timeout",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log_dir.join("dockerd.log")).unwrap())
        .stderr(std::fs::File::create(log_dir.join("dockerd.err")).unwrap())
        .spawn()
        .expect("dockerd");
    let start = Instant::now();
    while !run(&["nsenter", "-t", pid, "-n", "-m", "--", "docker", "version"])
        .status
        .success()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the namespace's engine did not start: {}",
            std::fs::read_to_string(log_dir.join("dockerd.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for image in images {
        let load = run(&[
            "sh",
            "-c",
            &format!("docker save {image} | nsenter -t {pid} -n -m docker load -q"),
        ]);
        assert!(
            load.status.success(),
            "image load: {}",
            String::from_utf8_lossy(&load.stderr)
        );
    }
    child
}

/// Remove the engine's containers (they live in namespaces of their own, out of reach
/// of a kill by network namespace), then stop it and wait for it.
pub fn stop_dockerd(pid: &str, mut dockerd: Child) {
    let _ = run(&[
        "nsenter",
        "-t",
        pid,
        "-n",
        "-m",
        "--",
        "sh",
        "-c",
        "docker rm -f $(docker ps -aq) >/dev/null 2>&1; kill $(cat /run/docker.pid) 2>/dev/null",
    ]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if dockerd.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = dockerd.kill();
    let _ = dockerd.wait();
}

/// An ed25519 key pair without passphrase at `path` (and `path.pub`).
#[allow(dead_code)] // not every test file makes keys
pub fn keygen(path: &std::path::Path, comment: &str) {
    let out = run(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        comment,
        "-f",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "ssh-keygen: {out:?}");
}

/// Whether a test of namespace hosts (`what`) can run here: root, `tools` on PATH,
/// `/usr/sbin/sshd`, and `images` in this machine's engine. When not, say so loudly
/// and return false, or panic when `VPAI_E2E_REQUIRED=1` (CI).
#[allow(dead_code)] // not every test file checks this way
pub fn require_hosts(what: &str, tools: &[&str], images: &[&str]) -> bool {
    let skip = |why: &str| {
        if std::env::var("VPAI_E2E_REQUIRED").as_deref() == Ok("1") {
            panic!("end-to-end {what} test required but cannot run: {why}");
        }
        eprintln!("\n*** SKIPPED end-to-end {what} test: {why} ***\n");
        false
    };
    if String::from_utf8_lossy(&run(&["id", "-u"]).stdout).trim() != "0" {
        return skip("not root: the test makes namespaces and starts Docker engines");
    }
    if let Some(tool) = missing_tool(tools) {
        return skip(&format!(
            "`{tool}` is missing (scripts/test-env.sh and scripts/ssh-test-deps.sh)"
        ));
    }
    if !std::path::Path::new("/usr/sbin/sshd").exists() {
        return skip("/usr/sbin/sshd is missing (scripts/ssh-test-deps.sh)");
    }
    for image in images {
        if !run(&["docker", "image", "inspect", image]).status.success() {
            return skip(&format!(
                "{image} is missing (scripts/test-env.sh builds it)"
            ));
        }
    }
    true
}

/// `vpai ARGS` in `dir` (the operator's project folder), with the vault's passphrase
/// in the environment and its state kept in `dir`; the output is echoed for the log.
#[allow(dead_code)] // not every test file runs vpai this way
pub fn vpai(dir: &std::path::Path, args: &[&str], passphrase: &str) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vpai"))
        .current_dir(dir)
        .args(args)
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("NO_COLOR", "1")
        .env("VPAI_VAULT_PASSWORD", passphrase)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "--- vpai {args:?}: exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
