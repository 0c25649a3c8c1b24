//! `secrets import-ansible` against files made by the real `ansible-vault`
//! (ansible-core from PyPI; `scripts/vault-test-deps.sh` installs it).
//!
//! Without ansible-vault these tests say so loudly and pass, except under CI=true,
//! where they fail: CI must never silently skip the only check that our decryption
//! matches Ansible's encryption.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vpai_vault::ansible::AnsibleVaultError;
use vpai_vault::import::read_vars;
use vpai_vault::{ImportError, SecretOrigin, SecretStore};
use zeroize::Zeroizing;

const PASSWORD: &str = "ansible vault password 42";

fn ansible_vault() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VPAI_ANSIBLE_VAULT") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from("/tmp/vpai-ansible-venv/bin/ansible-vault");
    if venv.exists() {
        return Some(venv);
    }
    let on_path = Command::new("ansible-vault")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    on_path.then(|| PathBuf::from("ansible-vault"))
}

/// The binary, or `None` after a loud skip message (a panic under CI).
fn require() -> Option<PathBuf> {
    let found = ansible_vault();
    if found.is_none() {
        let msg =
            "ansible-vault not found: run `scripts/vault-test-deps.sh` (or set VPAI_ANSIBLE_VAULT)";
        if std::env::var_os("CI").is_some()
            || std::env::var("VPAI_E2E_REQUIRED").as_deref() == Ok("1")
        {
            panic!("{msg}; CI must run the Ansible Vault compatibility tests");
        }
        eprintln!("\n!!! SKIPPED: {msg} !!!\n");
    }
    found
}

struct Ansible {
    bin: PathBuf,
    dir: tempfile::TempDir,
    password_file: PathBuf,
}

impl Ansible {
    fn new(bin: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let password_file =
            common::write_private(&dir.path().join("vault_pass"), &format!("{PASSWORD}\n"));
        Ansible {
            bin,
            dir,
            password_file,
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child = Command::new(&self.bin)
            .args(args)
            .env("ANSIBLE_LOCAL_TEMP", self.dir.path())
            .env("ANSIBLE_HOME", self.dir.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ansible-vault runs");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ansible-vault {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `ansible-vault encrypt` of `plain`; returns the encrypted text.
    fn encrypt(&self, plain: &str, vault_id: Option<&str>) -> String {
        let path = self.dir.path().join("secrets.yml");
        std::fs::write(&path, plain).unwrap();
        let pw = self.password_file.to_str().unwrap();
        let id = vault_id.map(|l| format!("{l}@{pw}"));
        let mut args = vec!["encrypt"];
        match &id {
            Some(id) => args.extend(["--vault-id", id.as_str()]),
            None => args.extend(["--vault-password-file", pw]),
        }
        args.push(path.to_str().unwrap());
        self.run(&args, None);
        std::fs::read_to_string(path).unwrap()
    }
}

fn password() -> impl FnMut() -> Result<Zeroizing<Vec<u8>>, ImportError> {
    || Ok(Zeroizing::new(PASSWORD.as_bytes().to_vec()))
}

/// The layout of VPAI's `inventory/group_vars/all/secrets.yml` (seed 002 §7 and the
/// `vault_*` names the project's main.yml reads), with awkward values.
const SECRETS_YML: &str = r#"---
# SECRETS
vault_domain_name: "ai.example.com"
vault_prod_ip: "203.0.113.42"
vault_telegram_monitoring_bot_token: "123456:ABC-DEF_ghi"
vault_telegram_monitoring_chat_id: "-100123456789"
vault_postgresql_password: "pg+/=Q9x'quote\"double"
vault_redis_password: 'single ''quoted'' : colon # not a comment'
vault_n8n_encryption_key: "0123456789abcdef0123456789abcdef"
vault_litellm_master_key: "sk-0123456789abcdef0123456789abcdef01234567"
vault_qdrant_api_key: "ünïcødé-κλειδί-鍵"
anthropic_api_key: "sk-ant-api03-xyz"
vault_openai_api_key: ""
vault_sure_db_password: 12345
vault_future_service_token: "abc"
ssh_authorized_keys:
  - "ssh-ed25519 AAAAC3 someone@example.com"
"#;

#[test]
fn whole_file_vault_1_1_from_ansible_vault() {
    let Some(bin) = require() else { return };
    let ansible = Ansible::new(bin);
    let encrypted = ansible.encrypt(SECRETS_YML, None);
    assert!(
        encrypted.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"),
        "{encrypted}"
    );

    // Our decryption gives back exactly what ansible-vault encrypted.
    let plain =
        vpai_vault::ansible::decrypt("secrets.yml", &encrypted, PASSWORD.as_bytes()).unwrap();
    assert_eq!(std::str::from_utf8(&plain).unwrap(), SECRETS_YML);

    let vars = read_vars("secrets.yml", &encrypted, &mut password()).unwrap();
    let found: Vec<(&str, &str)> = vars
        .secrets
        .iter()
        .map(|s| (s.ansible.as_str(), s.value.as_str()))
        .collect();
    assert!(
        found.contains(&("vault_postgresql_password", "pg+/=Q9x'quote\"double")),
        "{found:?}"
    );
    assert!(found.contains(&(
        "vault_redis_password",
        "single 'quoted' : colon # not a comment"
    )));
    assert!(found.contains(&("vault_qdrant_api_key", "ünïcødé-κλειδί-鍵")));
    assert!(found.contains(&("anthropic_api_key", "sk-ant-api03-xyz")));
    assert_eq!(vars.unknown, ["vault_future_service_token"]);
    let settings: Vec<&str> = vars.settings.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        settings,
        [
            "ssh_authorized_keys",
            "vault_domain_name",
            "vault_prod_ip",
            "vault_telegram_monitoring_chat_id"
        ]
    );
    let skipped: Vec<&str> = vars.skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(skipped, ["vault_openai_api_key", "vault_sure_db_password"]);
    assert!(
        vars.skipped[1].1.contains("not a string"),
        "{:?}",
        vars.skipped
    );
    // Debug output names variables only.
    assert!(!format!("{vars:?}").contains("pg+/="));

    let mut store = SecretStore::in_memory();
    let outcome = store.import(&vars, "secrets.yml", false);
    assert!(outcome.kept.is_empty() && outcome.replaced.is_empty());
    // VPAI's one PostgreSQL password seeds every role's password.
    for name in [
        "postgresql_password",
        "n8n_db_password",
        "litellm_db_password",
    ] {
        assert_eq!(store.get(name), Some("pg+/=Q9x'quote\"double"), "{name}");
    }
    assert_eq!(
        store.record("anthropic_api_key").unwrap().origin,
        SecretOrigin::External
    );
    assert_eq!(
        store.record("redis_password").unwrap().origin,
        SecretOrigin::Generated
    );
    let detail = store.record("redis_password").unwrap().history[0]
        .detail
        .clone()
        .unwrap();
    assert_eq!(detail, "from secrets.yml (vault_redis_password)");
}

#[test]
fn wrong_password_and_vault_id_labels() {
    let Some(bin) = require() else { return };
    let ansible = Ansible::new(bin);
    let encrypted = ansible.encrypt("vault_redis_password: \"r3dis-pass\"\n", Some("prod"));
    assert!(
        encrypted.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"),
        "{encrypted}"
    );
    let vars = read_vars("secrets.yml", &encrypted, &mut password()).unwrap();
    assert_eq!(vars.secrets[0].value.as_str(), "r3dis-pass");

    let err = read_vars("secrets.yml", &encrypted, &mut || {
        Ok(Zeroizing::new(b"not it".to_vec()))
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::Vault(AnsibleVaultError::WrongPassword { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("secrets.yml"), "{err}");
}

#[test]
fn encrypt_string_values_in_plain_yaml() {
    let Some(bin) = require() else { return };
    let ansible = Ansible::new(bin);
    let pw = ansible.password_file.to_str().unwrap().to_string();
    // The value goes through stdin, as vpai itself would want it.
    let snippet = ansible.run(
        &[
            "encrypt_string",
            "--vault-password-file",
            &pw,
            "--stdin-name",
            "vault_litellm_master_key",
        ],
        Some("sk-inline-0123456789"),
    );
    assert!(snippet.contains("!vault |"), "{snippet}");
    let yaml = format!("---\nvault_domain_name: example.com\n{snippet}\n");
    let vars = read_vars("vars.yml", &yaml, &mut password()).unwrap();
    assert_eq!(vars.secrets.len(), 1);
    assert_eq!(vars.secrets[0].vpai, ["litellm_master_key"]);
    assert_eq!(vars.secrets[0].value.as_str(), "sk-inline-0123456789");
}

#[test]
fn our_test_encoder_is_read_by_ansible_vault() {
    // The property tests and the fuzz target use our encoder; prove it is Ansible's format.
    let Some(bin) = require() else { return };
    let ansible = Ansible::new(bin);
    let text = vpai_vault::ansible::encrypt(
        b"vault_qdrant_api_key: \"q\"\n",
        PASSWORD.as_bytes(),
        &[9; 32],
    );
    let path: &Path = &ansible.dir.path().join("ours.yml");
    std::fs::write(path, text).unwrap();
    let shown = ansible.run(
        &[
            "view",
            "--vault-password-file",
            ansible.password_file.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(shown, "vault_qdrant_api_key: \"q\"\n");
}
