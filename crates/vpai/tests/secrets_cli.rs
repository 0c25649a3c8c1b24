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
