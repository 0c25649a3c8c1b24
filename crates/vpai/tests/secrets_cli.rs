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
        Stack { dir, password_file }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn vpai(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("vpai").unwrap();
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("VPAI_VAULT_PASSWORD_FILE", &self.password_file)
            .env_remove("VPAI_VAULT_PASSWORD")
            .env_remove("VPAI_VAULT_IDENTITY_FILE")
            .args(args)
            .arg("--example");
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
            std::env::var_os("CI").is_none(),
            "{msg}; CI must run this test"
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
