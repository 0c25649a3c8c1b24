//! vpai against a hostile tree or stack file (the adversarial review's reproductions):
//! links planted where vpai writes, ssh options that run commands. No Docker needed.

use assert_cmd::Command;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn vpai(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("vpai").unwrap();
    cmd.current_dir(dir)
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("VPAI_VAULT_PASSWORD", "hostile-test-passphrase")
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .env_remove("VPAI_VAULT_IDENTITY_FILE");
    cmd
}

/// `vpai render --example --out OUT`, run in `dir`.
fn render_example_into(dir: &Path, out: &Path) -> std::process::Output {
    vpai(dir)
        .args(["render", "--example", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// `mkdir -p out/data && ln -s /some/dir out/data/postgresql; vpai render --out out`
/// used to turn `/some/dir` into 700 999:999.
#[test]
fn render_refuses_a_linked_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(out.join("data")).unwrap();
    std::fs::create_dir(&victim).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink(&victim, out.join("data/postgresql")).unwrap();
    let res = render_example_into(dir.path(), &out);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("data/postgresql") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(mode(&victim), 0o755);
    let meta = std::fs::metadata(&victim).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), {
        let me = std::fs::metadata(dir.path()).unwrap();
        (me.uid(), me.gid())
    });
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
}

/// With `out/env -> a 1777 directory`, every `*.env` (secrets) landed there.
#[test]
fn render_refuses_a_linked_env_directory_and_writes_no_secret_there() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    symlink(&shared, out.join("env")).unwrap();
    let res = render_example_into(dir.path(), &out);
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
    assert_eq!(mode(&shared), 0o1777);
}

/// A link at a file's place: its target is neither chmod'ed nor replaced.
#[test]
fn render_refuses_a_linked_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    symlink(&target, out.join("docker-compose.yml")).unwrap();
    let res = render_example_into(dir.path(), &out);
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("docker-compose.yml"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    assert_eq!(mode(&target), 0o644);
}

/// `ProxyCommand` ran during the read-only `vpai plan` and wrote the vault passphrase
/// to a file. Now the stack file is refused at the option, before any ssh runs.
#[test]
fn ssh_options_that_run_commands_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let leak = dir.path().join("leak");
    let stack = format!(
        "[project]\nname = \"demo\"\ndomain = \"example.com\"\n\n[hosts.prod]\naddress = \"127.0.0.1\"\n\n[hosts.prod.ssh_options]\nServerAliveInterval = \"30\"\nProxyCommand = \"sh -c 'printenv VPAI_VAULT_PASSWORD > {}'\"\n",
        leak.display()
    );
    std::fs::write(dir.path().join("stack.toml"), stack).unwrap();
    for cmd in [
        &["plan"][..],
        &["preflight"],
        &["up", "--check"],
        &["render"],
    ] {
        let res = vpai(dir.path()).args(cmd).output().unwrap();
        assert_eq!(res.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(err.contains("stack.toml:10:1"), "{cmd:?}: {err}");
        assert!(err.contains("`ProxyCommand` is not an ssh option"), "{err}");
        assert!(err.contains("~/.ssh/config"), "{err}");
        assert!(!err.contains("hostile-test-passphrase"), "{err}");
    }
    assert!(!leak.exists());
    assert!(
        !dir.path().join("secrets.vault").exists(),
        "nothing written"
    );
}
