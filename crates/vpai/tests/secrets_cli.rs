//! `vpai secrets ...` as an operator runs it: values only where asked for, refusals
//! that name the fix, the plaintext store migrated once. No Docker needed; the import
//! test needs the real `ansible-vault` (`scripts/vault-test-deps.sh`).

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PASSPHRASE: &str = "a vault passphrase for tests";

struct Stack {
    dir: tempfile::TempDir,
    password_file: PathBuf,
}

impl Stack {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("vault-pass");
        private(&password_file, &format!("{PASSPHRASE}\n"));
        // The example as a stack file: its vault then lives next to it, here.
        std::fs::write(dir.path().join("stack.toml"), vpai_spec::EXAMPLE).unwrap();
        Stack { dir, password_file }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn vpai(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("vpai").unwrap();
        cmd.current_dir(self.path())
            .env("XDG_STATE_HOME", self.path().join(".state"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("VPAI_VAULT_PASSWORD_FILE", &self.password_file)
            .env_remove("VPAI_VAULT_PASSWORD")
            .env_remove("VPAI_VAULT_IDENTITY_FILE")
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let out = self.vpai(args).write_stdin(stdin).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn private(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn has_terminal() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

#[test]
fn set_show_and_list_print_values_only_when_asked() {
    let stack = Stack::new();
    let value = "sk-ant-api03-cli-test-value-0123456789";
    let (code, _, err) = stack.run(
        &["secrets", "set", "anthropic_api_key"],
        &format!("{value}\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("set `anthropic_api_key`"), "{err}");
    assert!(!err.contains(value));

    let vault = stack.path().join("secrets.vault");
    let on_disk = std::fs::read_to_string(&vault).unwrap();
    assert!(on_disk.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!on_disk.contains(value));
    assert_eq!(
        std::fs::metadata(&vault).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // stdout is a pipe here: refused without --stdout.
    let (code, out, err) = stack.run(&["secrets", "show", "anthropic_api_key"], "");
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("--stdout"), "{err}");
    let (code, out, _) = stack.run(&["secrets", "show", "anthropic_api_key", "--stdout"], "");
    assert_eq!((code, out.as_str()), (0, format!("{value}\n").as_str()));

    let (code, out, err) = stack.run(&["secrets", "list", "--json"], "");
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(value) && !err.contains(value));
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "anthropic_api_key")
        .unwrap();
    assert_eq!(entry["origin"], "external");
    assert_eq!(entry["used_by"], serde_json::json!(["litellm"]));

    let (code, out, err) = stack.run(&["secrets", "list"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(!out.contains(value));
}

#[test]
fn plaintext_store_migrates_once_and_never_rotate_secrets_stay() {
    let stack = Stack::new();
    // A plaintext store as the foundation wrote it (`.vpai/secrets.toml`, 0600).
    let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string();
    let legacy = stack.path().join(".vpai/secrets.toml");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    private(
        &legacy,
        &format!(
            "[secrets.n8n_encryption_key]\nvalue = \"{key}\"\norigin = \"generated\"\ncreated = 1760000000\n"
        ),
    );
    assert!(legacy.exists());

    let (code, _, err) = stack.run(&["secrets", "list"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("moved") && err.contains("overwritten and removed"),
        "{err}"
    );
    assert!(!legacy.exists());
    let (_, _, err) = stack.run(&["secrets", "list"], "");
    assert!(!err.contains("moved"), "only once: {err}");

    let (code, out, err) = stack.run(
        &["secrets", "set", "n8n_encryption_key"],
        "another-value-1234\n",
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("must never change") && err.contains("n8n encrypts"),
        "{err}"
    );
    let (_, out, _) = stack.run(&["secrets", "show", "n8n_encryption_key", "--stdout"], "");
    assert_eq!(out.trim_end(), key);
}

#[test]
fn wrong_passphrase_and_no_passphrase_are_clear_errors() {
    let stack = Stack::new();
    let (code, _, _) = stack.run(
        &["secrets", "set", "openai_api_key"],
        "sk-proj-0123456789\n",
    );
    assert_eq!(code, 0);
    let before = std::fs::read(stack.path().join("secrets.vault")).unwrap();

    private(&stack.password_file, "not the passphrase\n");
    let (code, _, err) = stack.run(&["secrets", "list"], "");
    assert_eq!(code, 2);
    assert!(
        err.contains("wrong passphrase") && err.contains("secrets.vault"),
        "{err}"
    );
    assert!(!err.contains("not the passphrase"), "{err}");
    assert_eq!(
        std::fs::read(stack.path().join("secrets.vault")).unwrap(),
        before
    );

    if has_terminal() {
        eprintln!("skipping the no-passphrase case: a terminal is attached, vpai would prompt");
        return;
    }
    let out = stack
        .vpai(&["secrets", "list"])
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("VPAI_VAULT_PASSWORD_FILE"), "{err}");
}

#[test]
fn edit_goes_through_a_private_file_that_is_gone_afterwards() {
    let stack = Stack::new();
    stack.run(
        &["secrets", "set", "openai_api_key"],
        "sk-proj-before-edit\n",
    );
    let editor = stack.path().join("editor.sh");
    let seen = stack.path().join("seen");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\nstat -c '%a %n' \"$1\" > {seen}\nsed -i 's/sk-proj-before-edit/sk-proj-after-edit/' \"$1\"\n",
            seen = seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = stack
        .vpai(&["secrets", "edit"])
        .env("EDITOR", &editor)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("changed: openai_api_key"), "{err}");
    assert!(!err.contains("sk-proj"), "{err}");
    let seen = std::fs::read_to_string(seen).unwrap();
    let (mode, temp) = seen.trim().split_once(' ').unwrap();
    assert_eq!(mode, "600");
    assert!(!Path::new(temp).exists(), "{temp} left behind");
    let (_, out, _) = stack.run(&["secrets", "show", "openai_api_key", "--stdout"], "");
    assert_eq!(out, "sk-proj-after-edit\n");
}

#[test]
fn import_ansible_vault_made_by_ansible() {
    let bin = std::env::var_os("VPAI_ANSIBLE_VAULT")
        .map(PathBuf::from)
        .or_else(|| {
            let venv = PathBuf::from("/tmp/vpai-ansible-venv/bin/ansible-vault");
            venv.exists().then_some(venv)
        });
    let Some(bin) = bin else {
        let msg =
            "ansible-vault not found: run `scripts/vault-test-deps.sh` (or set VPAI_ANSIBLE_VAULT)";
        assert!(
            std::env::var_os("CI").is_none()
                && std::env::var("VPAI_E2E_REQUIRED").as_deref() != Ok("1"),
            "{msg}; scripts/test.sh and CI must run this test"
        );
        eprintln!("\n!!! SKIPPED: {msg} !!!\n");
        return;
    };
    let stack = Stack::new();
    let ansible_pw = stack.path().join("ansible-pass");
    private(&ansible_pw, "ansible password\n");
    let file = stack.path().join("secrets.yml");
    std::fs::write(
        &file,
        "vault_postgresql_password: \"pg-from-ansible-0001\"\nvault_n8n_encryption_key: \"n8n-key-from-ansible-0002\"\nvault_domain_name: \"ai.example.com\"\nvault_mystery: \"x\"\n",
    )
    .unwrap();
    let status = std::process::Command::new(bin)
        .args(["encrypt", "--vault-password-file"])
        .arg(&ansible_pw)
        .arg(&file)
        .env("ANSIBLE_HOME", stack.path())
        .env("ANSIBLE_LOCAL_TEMP", stack.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    let (code, out, err) = stack.run(
        &[
            "secrets",
            "import-ansible",
            "secrets.yml",
            "--password-file",
            "ansible-pass",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("imported 4"), "{err}");
    assert!(
        err.contains("vault_domain_name") && err.contains("vault_mystery"),
        "{err}"
    );
    assert!(!out.contains("from-ansible") && !err.contains("from-ansible"));
    let (_, out, _) = stack.run(&["secrets", "show", "n8n_db_password", "--stdout"], "");
    assert_eq!(out, "pg-from-ansible-0001\n");
}

// --- vpai under attack and abuse -------------------------------------------------

/// `vpai` with the stack's environment, as a plain `std::process::Command` (for
/// children that run concurrently or get signals).
fn vpai_process(stack: &Stack, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("vpai"));
    cmd.current_dir(stack.path())
        .env("XDG_STATE_HOME", stack.path().join(".state"))
        .env("NO_COLOR", "1")
        .env("VPAI_VAULT_PASSWORD_FILE", &stack.password_file)
        .env_remove("VPAI_VAULT_PASSWORD")
        .env_remove("VPAI_VAULT_IDENTITY_FILE")
        .args(args);
    cmd
}

/// Run with `input` on stdin, written from a thread that does not mind vpai closing
/// its end early (it refuses big inputs without reading them).
fn run_with_input(mut cmd: std::process::Command, input: Vec<u8>) -> (Option<i32>, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

fn wait_for(what: &str, timeout: std::time::Duration, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn concurrent_sets_from_several_processes_all_survive() {
    let stack = Stack::new();
    let (code, _, err) = stack.run(
        &["secrets", "set", "key_base", "--unused"],
        "value-base-000\n",
    );
    assert_eq!(code, 0, "{err}");
    let writers = 4;
    let children: Vec<_> = (0..writers)
        .map(|i| {
            let cmd = vpai_process(&stack, &["secrets", "set", &format!("key_{i}"), "--unused"]);
            std::thread::spawn(move || {
                run_with_input(cmd, format!("value-of-key-{i}-0123456789\n").into_bytes())
            })
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let (code, err) = child.join().unwrap();
        assert_eq!(code, Some(0), "writer {i}: {err}");
    }
    for i in 0..writers {
        let (code, out, err) = stack.run(&["secrets", "show", &format!("key_{i}"), "--stdout"], "");
        assert_eq!(code, 0, "key_{i}: {err}");
        assert_eq!(
            out,
            format!("value-of-key-{i}-0123456789\n"),
            "key_{i} lost"
        );
    }
    let (_, out, _) = stack.run(&["secrets", "show", "key_base", "--stdout"], "");
    assert_eq!(out, "value-base-000\n");
}

#[test]
fn an_interrupted_edit_leaves_no_plaintext_and_no_change() {
    let stack = Stack::new();
    let (code, _, err) = stack.run(
        &["secrets", "set", "openai_api_key"],
        "sk-proj-before-interrupt\n",
    );
    assert_eq!(code, 0, "{err}");
    let vault = stack.path().join("secrets.vault");
    let before = std::fs::read(&vault).unwrap();
    let editor = stack.path().join("editor.sh");
    let seen = stack.path().join("seen");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\necho \"$$ $1\" > {seen}.tmp\nmv {seen}.tmp {seen}\nexec sleep 60\n",
            seen = seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();

    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let _ = std::fs::remove_file(&seen);
        let mut child = vpai_process(&stack, &["secrets", "edit"])
            .env("EDITOR", &editor)
            .env_remove("VISUAL")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the editor", std::time::Duration::from_secs(120), || {
            seen.exists()
        });
        let line = std::fs::read_to_string(&seen).unwrap();
        let (editor_pid, temp) = line.trim().split_once(' ').unwrap();
        let temp = PathBuf::from(temp);
        assert!(
            temp.exists(),
            "the plaintext is there while the editor runs"
        );
        // SAFETY: kill(2) on the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let mut status = None;
        wait_for("vpai to exit", std::time::Duration::from_secs(30), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let status = status.unwrap();
        assert_eq!(status.code(), Some(128 + signal), "signal {signal}: {err}");
        assert!(
            !temp.exists(),
            "signal {signal}: {} left behind",
            temp.display()
        );
        assert!(
            !temp.parent().unwrap().exists(),
            "signal {signal}: the private directory left behind"
        );
        assert!(err.contains("interrupted"), "{err}");
        assert!(!err.contains("sk-proj"), "{err}");
        // The editor got the signal too and is gone.
        let editor_proc = PathBuf::from(format!("/proc/{editor_pid}"));
        wait_for(
            "the editor to exit",
            std::time::Duration::from_secs(10),
            || !editor_proc.exists(),
        );
        assert_eq!(std::fs::read(&vault).unwrap(), before, "vault changed");
    }
}

#[test]
fn set_refuses_huge_and_multiline_values_before_saving() {
    let stack = Stack::new();
    let vault = stack.path().join("secrets.vault");
    let started = std::time::Instant::now();
    let (code, err) = run_with_input(
        vpai_process(&stack, &["secrets", "set", "openai_api_key"]),
        vec![b'x'; 20 * 1024 * 1024],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(err.contains("8 KiB") && !err.contains("xxxx"), "{err}");
    assert!(!vault.exists());

    for (input, expected) in [
        ("line-one-abcdef\nline-two\n", "newline"),
        ("carriage\rreturn-value\n", "carriage return"),
        ("nul\0byte-in-value\n", "NUL"),
    ] {
        let (code, out, err) = stack.run(&["secrets", "set", "openai_api_key"], input);
        assert_eq!(code, 2, "{input:?}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(expected), "{input:?}: {err}");
        assert!(
            !err.contains("line-one") && !err.contains("byte-in"),
            "{err}"
        );
        assert!(!vault.exists(), "{input:?}: saved");
    }
    // What no env file can carry literally is refused now, not at the next render.
    for input in ["sk-proj-it's-a-quote\n", "sk-proj-ends-with\\\n"] {
        let (code, _, err) = stack.run(&["secrets", "set", "openai_api_key"], input);
        assert_eq!(code, 2, "{input:?}: {err}");
        assert!(err.contains("cannot be written into an env file"), "{err}");
        assert!(!err.contains("sk-proj"), "{err}");
        assert!(!vault.exists(), "{input:?}: saved");
    }
    // Double quotes, `$` and `#` are fine: the renderer quotes what it writes.
    let (code, _, err) = stack.run(
        &["secrets", "set", "openai_api_key"],
        "sk-proj-\"quoted\"-$value#x\r\n",
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = stack.run(&["secrets", "show", "openai_api_key", "--stdout"], "");
    assert_eq!(out, "sk-proj-\"quoted\"-$value#x\n");
}

#[test]
fn edit_refuses_a_value_with_a_newline() {
    let stack = Stack::new();
    stack.run(
        &["secrets", "set", "openai_api_key"],
        "sk-proj-before-edit\n",
    );
    let before = std::fs::read(stack.path().join("secrets.vault")).unwrap();
    let editor = stack.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/sk-proj-before-edit/sk-proj-first\\\\nsk-proj-second/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = stack
        .vpai(&["secrets", "edit"])
        .env("EDITOR", &editor)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("openai_api_key") && err.contains("newline"),
        "{err}"
    );
    assert!(!err.contains("sk-proj"), "{err}");
    assert_eq!(
        std::fs::read(stack.path().join("secrets.vault")).unwrap(),
        before
    );
}

#[test]
fn import_refuses_unreadable_inputs_and_values_that_are_not_one_line() {
    let stack = Stack::new();
    let fifo = stack.path().join("fifo.yml");
    mkfifo(&fifo);
    for input in ["/dev/zero", "fifo.yml"] {
        let started = std::time::Instant::now();
        let (code, _, err) = stack.run(&["secrets", "import-ansible", input], "");
        assert_eq!(code, 2, "{input}: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        assert!(err.contains("not a regular file"), "{input}: {err}");
    }
    // Plain YAML (no encryption): one value with a newline, one good value.
    std::fs::write(
        stack.path().join("vars.yml"),
        "vault_redis_password: \"redis-line-one\\nredis-line-two\"\nvault_openai_api_key: \"sk-proj-imported-0001\"\n",
    )
    .unwrap();
    let (code, out, err) = stack.run(&["secrets", "import-ansible", "vars.yml"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("imported 1: openai_api_key"), "{err}");
    assert!(
        err.contains("vault_redis_password") && err.contains("newline"),
        "{err}"
    );
    assert!(
        !err.contains("redis-line") && !out.contains("redis-line"),
        "{err}"
    );
    let (code, _, _) = stack.run(&["secrets", "show", "redis_password", "--stdout"], "");
    assert_eq!(code, 2, "the refused value is not in the vault");
}

#[test]
fn password_file_that_never_ends_or_blocks_is_refused_at_once() {
    let stack = Stack::new();
    let (code, _, err) = stack.run(
        &["secrets", "set", "openai_api_key"],
        "sk-proj-0123456789\n",
    );
    assert_eq!(code, 0, "{err}");
    let fifo = stack.path().join("pass-fifo");
    mkfifo(&fifo);
    let link = stack.path().join("pass-link");
    std::os::unix::fs::symlink(&stack.password_file, &link).unwrap();
    for (file, expected) in [
        (PathBuf::from("/dev/zero"), "character device"),
        (fifo, "FIFO"),
        (link, "symbolic link"),
    ] {
        let started = std::time::Instant::now();
        let out = stack
            .vpai(&["secrets", "list"])
            .env("VPAI_VAULT_PASSWORD_FILE", &file)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file:?}: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        assert!(
            err.contains(expected) && err.contains("VPAI_VAULT_PASSWORD_FILE"),
            "{file:?}: {err}"
        );
    }
}

#[test]
fn a_vault_from_another_project_is_refused() {
    let stack = Stack::new();
    let (code, _, err) = stack.run(
        &["secrets", "set", "openai_api_key"],
        "sk-proj-of-demo-0001\n",
    );
    assert_eq!(code, 0, "{err}");
    // The same passphrase, another project: its vault is a copy of this one.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("stack.toml"),
        vpai_spec::EXAMPLE.replacen("name = \"demo\"", "name = \"other\"", 1),
    )
    .unwrap();
    std::fs::copy(
        stack.path().join("secrets.vault"),
        other.path().join("secrets.vault"),
    )
    .unwrap();
    let out = Command::cargo_bin("vpai")
        .unwrap()
        .current_dir(other.path())
        .env("XDG_STATE_HOME", other.path().join(".state"))
        .env("NO_COLOR", "1")
        .env("VPAI_VAULT_PASSWORD_FILE", &stack.password_file)
        .env_remove("VPAI_VAULT_PASSWORD")
        .env_remove("VPAI_VAULT_IDENTITY_FILE")
        .args(["secrets", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("project `demo`") && err.contains("project `other`"),
        "{err}"
    );
    assert!(err.contains("vpai secrets show"), "{err}");
    assert!(!err.contains("sk-proj"), "{err}");
}

/// `vpai` with no key in its environment and no controlling terminal (its own session),
/// so that a vault only opens if `vpai unlock` holds it, and never waits on a prompt.
fn keyless(stack: &Stack, args: &[&str]) -> (Option<i32>, String, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = vpai_process(stack, args);
    cmd.env_remove("VPAI_VAULT_PASSWORD_FILE")
        .stdin(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe; it detaches the child from our terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Removes what `vpai unlock` held for the stack's vault, however the test ends
/// (declare it after the stack: it must drop first, while the directory exists).
struct LockOnDrop(PathBuf);

impl Drop for LockOnDrop {
    fn drop(&mut self) {
        let _ = vpai_vault::keyring::forget(&self.0);
    }
}

/// A stack with one secret set, and its vault locked again at the end.
fn stack_with_a_vault(value: &str) -> (Stack, LockOnDrop) {
    let stack = Stack::new();
    let (code, _, err) = stack.run(&["secrets", "set", "openai_api_key"], &format!("{value}\n"));
    assert_eq!(code, 0, "{err}");
    let guard = LockOnDrop(stack.path().join("secrets.vault"));
    (stack, guard)
}

#[test]
fn unlock_keeps_the_vault_open_until_lock() {
    let value = "sk-proj-unlock-test-0001";
    let (stack, _guard) = stack_with_a_vault(value);
    // Locked: no key, no terminal, a clear error.
    let (code, _, err) = keyless(&stack, &["secrets", "list"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("VPAI_VAULT_PASSWORD_FILE"), "{err}");

    // The passphrase from VPAI_VAULT_PASSWORD this time (the file is not set).
    let out = stack
        .vpai(&["unlock", "--for", "10m"])
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .env("VPAI_VAULT_PASSWORD", PASSPHRASE)
        .output()
        .unwrap();
    let (out_text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("unlocked") && err.contains("10 min"), "{err}");
    assert!(err.contains("until ") && err.contains("vpai lock"), "{err}");
    for text in [&out_text, &err] {
        assert!(
            !text.contains(PASSPHRASE) && !text.contains(value),
            "{text}"
        );
    }
    // Nothing but the vault and its lock next to stack.toml: nothing held on disk.
    let mut names: Vec<String> = std::fs::read_dir(stack.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".state")
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".secrets.vault.lock",
            "secrets.vault",
            "stack.toml",
            "vault-pass"
        ]
    );

    // Open without any key: list, show, and a write that keeps it open.
    let (code, out, err) = keyless(&stack, &["secrets", "list", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("openai_api_key") && !out.contains(value),
        "{out}"
    );
    let (code, _, err) = keyless(&stack, &["secrets", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("(unlocked until "), "{err}");
    let (code, out, err) = keyless(&stack, &["secrets", "show", "openai_api_key", "--stdout"]);
    assert_eq!((code, out.trim_end()), (Some(0), value), "{err}");
    let mut set = vpai_process(&stack, &["secrets", "set", "anthropic_api_key"]);
    set.env_remove("VPAI_VAULT_PASSWORD_FILE");
    let (code, err) = run_with_input(set, b"sk-ant-unlock-test-0002\n".to_vec());
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = keyless(
        &stack,
        &["secrets", "show", "anthropic_api_key", "--stdout"],
    );
    assert_eq!(
        (code, out.trim_end()),
        (Some(0), "sk-ant-unlock-test-0002"),
        "{err}"
    );
    // The vault written while unlocked still opens with the passphrase.
    let (code, _, err) = stack.run(&["secrets", "list"], "");
    assert_eq!(code, 0, "{err}");

    let (code, _, err) = stack.run(&["lock"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("locked"), "{err}");
    let (code, _, err) = keyless(&stack, &["secrets", "list"]);
    assert_eq!(code, Some(2), "locked again: {err}");
    assert!(err.contains("no passphrase"), "{err}");
    // Locking what is not unlocked is fine.
    let (code, _, err) = stack.run(&["lock"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("was not unlocked"), "{err}");
}

#[test]
fn unlock_for_two_seconds_expires_by_itself() {
    let (stack, guard) = stack_with_a_vault("sk-proj-unlock-test-0003");
    // Two seconds, not one: on a loaded 2-core machine (scrypt in the parallel tests) a
    // whole vpai run right after the unlock may take more than one.
    let (code, _, err) = stack.run(&["unlock", "--for", "2s"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("for 2 s"), "{err}");
    let until = vpai_vault::keyring::held_until(&guard.0).expect("held right after unlock");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(until <= now + 2, "{until} vs {now}");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(vpai_vault::keyring::held_until(&guard.0).is_none());
    let (code, _, err) = keyless(&stack, &["secrets", "list"]);
    assert_eq!(code, Some(2), "the kernel dropped it: {err}");
    assert!(err.contains("no passphrase"), "{err}");
}

#[test]
fn unlock_refuses_a_wrong_passphrase_a_missing_vault_and_a_bad_duration() {
    let (stack, _guard) = stack_with_a_vault("sk-proj-unlock-test-0004");
    let out = stack
        .vpai(&["unlock"])
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .env("VPAI_VAULT_PASSWORD", "not the passphrase")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("wrong passphrase"), "{err}");
    assert!(!err.contains("not the passphrase"), "{err}");
    let (code, _, err) = keyless(&stack, &["secrets", "list"]);
    assert_eq!(code, Some(2), "nothing was held: {err}");

    let empty = Stack::new();
    let (code, _, err) = empty.run(&["unlock"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no vault at"), "{err}");

    for bad in ["15", "8d", "soon"] {
        let (code, _, err) = stack.run(&["unlock", "--for", bad], "");
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("--for"), "{bad}: {err}");
    }
}

/// Run `command` (a shell line, `vpai` standing for the binary) on a pseudo-terminal
/// (util-linux's `script`, in every Debian), typing the passphrase at vpai's prompt and
/// `answer` (if any) at its question. Returns whether it succeeded, and the screen.
fn on_a_terminal(stack: &Stack, command: &str, answer: Option<&str>) -> (bool, String) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    let vpai = assert_cmd::cargo::cargo_bin("vpai");
    let line = command.replacen("vpai", &format!("'{}'", vpai.display()), 1);
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(stack.path())
        .env("XDG_STATE_HOME", stack.path().join(".state"))
        .env("NO_COLOR", "1")
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .env_remove("VPAI_VAULT_PASSWORD")
        .env_remove("VPAI_VAULT_IDENTITY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) runs vpai on a pseudo-terminal");
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let screen = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut keyboard = child.stdin.take().unwrap();
    let timeout = std::time::Duration::from_secs(60);
    let shows = |text: &str| screen.lock().unwrap().contains(text);
    wait_for("the passphrase prompt", timeout, || shows("Passphrase for"));
    keyboard
        .write_all(format!("{PASSPHRASE}\n").as_bytes())
        .unwrap();
    if let Some(answer) = answer {
        wait_for("the question", timeout, || shows("[y/N]"));
        keyboard
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
    }
    wait_for("vpai to end", timeout, || {
        child.try_wait().unwrap().is_some()
    });
    drop(keyboard);
    reader.join().unwrap();
    let ok = child.wait().unwrap().success();
    let screen = screen.lock().unwrap().clone();
    (ok, screen)
}

#[test]
fn a_passphrase_typed_at_the_prompt_is_offered_to_stay_unlocked() {
    let (stack, _guard) = stack_with_a_vault("sk-proj-unlock-test-0005");
    // stdin is not the terminal: one hint line, no question, nothing held.
    let (ok, screen) = on_a_terminal(&stack, "vpai secrets list </dev/null", None);
    assert!(ok, "{screen}");
    assert!(
        screen.contains("hint: `vpai unlock` keeps the vault open"),
        "{screen}"
    );
    assert!(!screen.contains("[y/N]"), "{screen}");
    let (code, _, _) = keyless(&stack, &["secrets", "list"]);
    assert_eq!(code, Some(2), "a hint holds nothing");
    // On the terminal: asked, and held after a yes.
    let (ok, screen) = on_a_terminal(&stack, "vpai secrets list", Some("y"));
    assert!(ok, "{screen}");
    assert!(screen.contains("unlocked until"), "{screen}");
    let (code, _, err) = keyless(&stack, &["secrets", "list"]);
    assert_eq!(code, Some(0), "held after the answer: {err}");
}
