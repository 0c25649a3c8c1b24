//! `vpai import ansible PATH` on an Ansible project shaped like VPAI's
//! (`tests/fixtures/ansible-import/`): the stack.toml it writes passes `vpai check -f`
//! and renders, the vault holds the imported secrets, what has no place in vpai is
//! reported with its file and reason, a hostile value stays a value, and nothing
//! existing is replaced without `--force`. One test uses the real `ansible-vault`
//! (`scripts/vault-test-deps.sh`); under CI or `VPAI_E2E_REQUIRED=1` it must be there.

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PASSPHRASE: &str = "a vault passphrase for import tests";
const ANSIBLE_PASSWORD: &str = "the ansible vault password";
/// Every secret value of the fixture holds this marker: it must never be printed.
const SECRET_MARK: &str = "Zq8";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible-import")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn private(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// An Ansible Vault 1.1 text of `plain`, made by vpai's own encoder.
fn encrypt(plain: &str, salt: u8) -> String {
    vpai_vault::ansible::encrypt(plain.as_bytes(), ANSIBLE_PASSWORD.as_bytes(), &[salt; 32])
}

/// A `!vault |` value of a plain YAML file.
fn inline_vault(name: &str, value: &str) -> String {
    let body: String = encrypt(value, 9)
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    format!("{name}: !vault |\n{body}")
}

struct Env {
    dir: tempfile::TempDir,
    /// The copy of the Ansible project.
    project: PathBuf,
    passphrase_file: PathBuf,
    ansible_pw: PathBuf,
}

impl Env {
    /// The fixture copied under `name`, its secrets.yml encrypted by vpai's encoder
    /// and an inline `!vault` value beside it.
    fn new(name: &str) -> Self {
        let env = Self::bare(name);
        let plain = std::fs::read_to_string(fixture_dir().join("secrets.plain.yml")).unwrap();
        std::fs::write(env.all().join("secrets.yml"), encrypt(&plain, 7)).unwrap();
        std::fs::write(
            env.all().join("inline.yml"),
            format!(
                "---\n{}",
                inline_vault("vault_openai_api_key", "sk-openai-fixture-Zq80")
            ),
        )
        .unwrap();
        env
    }

    /// The fixture copied, with no secrets file.
    fn bare(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join(name);
        copy_dir(&fixture_dir().join("vpai-like"), &project);
        let passphrase_file = dir.path().join("vault-pass");
        private(&passphrase_file, &format!("{PASSPHRASE}\n"));
        let ansible_pw = dir.path().join("ansible-pass");
        private(&ansible_pw, &format!("{ANSIBLE_PASSWORD}\n"));
        Env {
            dir,
            project,
            passphrase_file,
            ansible_pw,
        }
    }

    fn all(&self) -> PathBuf {
        self.project.join("inventory/group_vars/all")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("stack")
    }

    fn vpai(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("vpai").unwrap();
        cmd.current_dir(self.dir.path())
            .env("XDG_STATE_HOME", self.dir.path().join(".state"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("VPAI_VAULT_PASSWORD_FILE", &self.passphrase_file)
            .env_remove("VPAI_VAULT_PASSWORD")
            .env_remove("VPAI_VAULT_IDENTITY_FILE")
            .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
            .args(args)
            .timeout(std::time::Duration::from_secs(120));
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.vpai(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `vpai import ansible PROJECT --out DIR --password-file ...` plus `extra`.
    fn import(&self, extra: &[&str]) -> (i32, String, String) {
        let project = self.project.to_str().unwrap().to_string();
        let out = self.out().to_str().unwrap().to_string();
        let pw = self.ansible_pw.to_str().unwrap().to_string();
        let mut args = vec![
            "import",
            "ansible",
            project.as_str(),
            "--out",
            out.as_str(),
            "--password-file",
            pw.as_str(),
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn stack(&self) -> (String, toml::Table) {
        let text = std::fs::read_to_string(self.out().join("stack.toml")).unwrap();
        let table = toml::from_str(&text).unwrap();
        (text, table)
    }
}

fn get<'a>(t: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut v = t.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

fn s<'a>(t: &'a toml::Table, path: &str) -> &'a str {
    get(t, path)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{path} is not a string in stack.toml"))
}

fn unmapped<'a>(report: &'a serde_json::Value, variable: &str) -> &'a serde_json::Value {
    report["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["variable"] == variable)
        .unwrap_or_else(|| panic!("`{variable}` is not reported as unmapped: {report:#}"))
}

#[test]
fn a_vpai_inventory_becomes_a_stack_that_checks_renders_and_holds_the_secrets() {
    let env = Env::new("ansible");
    let (code, out, err) = env.import(&["--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains(SECRET_MARK) && !err.contains(SECRET_MARK),
        "{out}\n{err}"
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();

    let (text, t) = env.stack();
    assert!(
        !text.contains(SECRET_MARK),
        "a secret reached stack.toml:\n{text}"
    );
    // [project]: the domain and the ACME e-mail come from the Ansible Vault.
    assert_eq!(s(&t, "project.name"), "ops");
    assert_eq!(s(&t, "project.domain"), "ai.example.net");
    assert_eq!(s(&t, "project.profile"), "full");
    assert_eq!(s(&t, "project.tls"), "acme");
    assert_eq!(s(&t, "project.acme_email"), "alerts@example.net");
    assert_eq!(s(&t, "project.timezone"), "Europe/Paris");
    assert_eq!(s(&t, "project.locale"), "fr-FR");
    assert_eq!(s(&t, "project.subnet"), "172.24.0.0/16");
    // The prod group's one host, reached as Ansible reached it.
    let hosts = get(&t, "hosts").unwrap().as_table().unwrap();
    assert_eq!(hosts.keys().collect::<Vec<_>>(), ["prod-server"]);
    assert_eq!(s(&t, "hosts.prod-server.address"), "203.0.113.20");
    assert_eq!(s(&t, "hosts.prod-server.user"), "deploy");
    assert_eq!(
        get(&t, "hosts.prod-server.ssh_port").unwrap().as_integer(),
        Some(804)
    );
    // Services: the playbook's roles; OpenClaw off by its `when:`, its settings kept.
    assert_eq!(
        get(&t, "services.openclaw.enabled").unwrap().as_bool(),
        Some(false)
    );
    assert_eq!(s(&t, "services.openclaw.subdomain"), "agents");
    assert_eq!(s(&t, "services.openclaw.version"), "2026.5.27");
    assert_eq!(
        get(&t, "services.openclaw.data.telegram_allow_from"),
        Some(&toml::Value::Array(vec![toml::Value::Integer(424242)]))
    );
    assert_eq!(s(&t, "services.n8n.subdomain"), "flows");
    assert_eq!(s(&t, "services.n8n.version"), "2.30.7");
    assert_eq!(s(&t, "services.n8n.memory"), "1024M");
    assert_eq!(s(&t, "services.n8n.data.owner_email"), "owner@example.net");
    assert_eq!(s(&t, "services.postgresql.version"), "18.4-bookworm");
    assert_eq!(s(&t, "services.postgresql.memory"), "1536M");
    assert_eq!(s(&t, "services.litellm.version"), "v1.83.3-stable");
    assert_eq!(
        get(&t, "services.litellm.data.budgets")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(get(&t, "backup.keep.daily").unwrap().as_integer(), Some(7));
    // Not mapped: another image, a memory below vpai's floor.
    assert!(get(&t, "services.cadvisor.version").is_none(), "{text}");
    assert!(get(&t, "services.loki.memory").is_none(), "{text}");
    // Each value says where it came from.
    assert!(
        text.contains("vault_domain_name (inventory/group_vars/all/secrets.yml, Ansible Vault)"),
        "{text}"
    );

    // The report: each unmapped variable with its file and why.
    for u in report["unmapped"].as_array().unwrap() {
        assert!(u["file"].as_str().is_some_and(|f| !f.is_empty()), "{u}");
        assert!(u["reason"].as_str().is_some_and(|r| !r.is_empty()), "{u}");
    }
    let u = unmapped(&report, "dashboard_subdomain");
    assert_eq!(u["category"], "service vpai does not deploy");
    assert_eq!(u["file"], "inventory/group_vars/all/main.yml");
    assert!(
        unmapped(&report, "caddy_vpn_only_mode")["reason"]
            .as_str()
            .unwrap()
            .contains("VPN")
    );
    assert_eq!(
        unmapped(&report, "caddy_vpn_only_mode")["file"],
        "inventory/group_vars/prod/main.yml"
    );
    assert!(
        unmapped(&report, "cadvisor_image")["reason"]
            .as_str()
            .unwrap()
            .contains("not vpai's")
    );
    assert!(
        unmapped(&report, "loki_memory_limit")["reason"]
            .as_str()
            .unwrap()
            .contains("floor")
    );
    assert_eq!(
        unmapped(&report, "redis_maxmemory")["category"],
        "setting of a vpai service with no equivalent"
    );
    assert_eq!(
        unmapped(&report, "dashboard_basicauth_hash")["category"],
        "service vpai does not deploy"
    );
    assert!(
        report["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "dashboard")
    );
    let added: Vec<&str> = report["secrets"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for name in [
        "postgresql_password",
        "n8n_db_password",
        "n8n_encryption_key",
        "openrouter_api_key",
        // An inline `!vault` string.
        "openai_api_key",
        // A setting of the Ansible project that vpai keeps as a secret.
        "telegram_monitoring_chat_id",
    ] {
        assert!(added.contains(&name), "{name} not imported: {added:?}");
    }
    assert!(
        report["next"][0]
            .as_str()
            .unwrap()
            .starts_with("vpai check -f ")
    );

    // The stack passes `vpai check -f` and renders.
    let stack = env.out().join("stack.toml");
    let stack = stack.to_str().unwrap();
    let (code, out, err) = env.run(&["check", "-f", stack]);
    assert_eq!(code, 0, "{out}\n{err}");
    let render = env.dir.path().join("render");
    let (code, out, err) = env.run(&["render", "-f", stack, "--out", render.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains(SECRET_MARK) && !err.contains(SECRET_MARK));
    let compose = std::fs::read_to_string(render.join("docker-compose.yml")).unwrap();
    assert!(compose.contains("n8n:2.30.7"), "{compose}");

    // The vault holds the imported secrets; list never shows a value.
    let (code, out, err) = env.run(&["secrets", "list", "-f", stack, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(SECRET_MARK));
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    for name in [
        "postgresql_password",
        "telegram_monitoring_chat_id",
        "openai_api_key",
    ] {
        let e = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {out}"));
        assert_eq!(e["state"], "set", "{e}");
    }
    // VPAI's one PostgreSQL password is every role's until rotated apart.
    let (_, out, _) = env.run(&[
        "secrets",
        "show",
        "-f",
        stack,
        "n8n_db_password",
        "--stdout",
    ]);
    assert_eq!(out, "fixture-pg-Zq81\n");
}

#[test]
fn help_has_examples() {
    let env = Env::bare("ansible");
    let (code, out, _) = env.run(&["import", "ansible", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Examples:"), "{out}");
    assert!(
        out.contains("vpai import ansible ~/src/VPAI --out ~/stacks/prod"),
        "{out}"
    );
    assert!(out.contains("--password-file <FILE>"), "{out}");
    assert!(out.contains("--force"), "{out}");
}

#[test]
fn the_human_report_lists_what_was_not_mapped_and_what_to_do_next() {
    let env = Env::new("ansible");
    let (code, out, err) = env.import(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains(SECRET_MARK) && !err.contains(SECRET_MARK),
        "{out}\n{err}"
    );
    assert!(out.contains("mapped ("), "{out}");
    assert!(out.contains("not mapped ("), "{out}");
    assert!(
        out.contains("caddy_vpn_only_mode (inventory/group_vars/prod/main.yml): VPN-only"),
        "{out}"
    );
    assert!(out.contains("dashboard: dashboard_"), "{out}");
    assert!(out.contains("openclaw: off"), "{out}");
    assert!(err.contains("next: vpai check -f "), "{err}");
    assert!(err.contains("vpai plan -f "), "{err}");
    assert!(err.contains("--host prod-server"), "{err}");
    assert!(err.contains("came from the Ansible Vault"), "{err}");
}

#[test]
fn another_group_gets_its_own_overrides_and_host() {
    let env = Env::new("ansible");
    let (code, _, err) = env.import(&["--group", "preprod"]);
    assert_eq!(code, 0, "{err}");
    let (_, t) = env.stack();
    assert_eq!(s(&t, "project.name"), "ops-preprod");
    assert_eq!(s(&t, "services.postgresql.memory"), "768M");
    let hosts = get(&t, "hosts").unwrap().as_table().unwrap();
    assert_eq!(hosts.keys().collect::<Vec<_>>(), ["preprod-server"]);
    assert_eq!(s(&t, "hosts.preprod-server.user"), "root");
    assert_eq!(
        get(&t, "hosts.preprod-server.ssh_port")
            .unwrap()
            .as_integer(),
        Some(22)
    );
    // A template's default is said, not hidden.
    assert!(err.contains("198.51.100.30"), "{err}");

    let (code, _, err) = env.import(&["--group", "nope", "--force"]);
    assert_eq!(code, 2);
    assert!(err.contains("no group `nope`"), "{err}");
}

#[test]
fn hostile_values_stay_values() {
    // The project's directory name, shown in stack.toml's header comment.
    let env = Env::new("inv\n[services.evil]\nx = 1");
    let users = env.all().join("users.yml");
    // A quote, a newline and `]` in strings stack.toml receives.
    let mut text = std::fs::read_to_string(&users).unwrap().replace(
        "n8n_owner_email: \"owner@example.net\"",
        "n8n_owner_email: \"a@example.net\\\"\\n[project]\\nname = \\\"evil\\\"\"",
    );
    text.push_str("\"bad\\n[hosts.x]\": 1\n");
    std::fs::write(&users, text).unwrap();
    let main = env.all().join("main.yml");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("prod_user: \"deploy\"", "prod_user: 'de\"ploy]'");
    std::fs::write(&main, text).unwrap();
    let hosts = env.project.join("inventory/hosts.yml");
    let text = std::fs::read_to_string(&hosts).unwrap().replace(
        "    preprod:\n",
        "        \"x]\\n[project]\":\n          ansible_host: 192.0.2.9\n    preprod:\n",
    );
    std::fs::write(&hosts, text).unwrap();

    let (code, out, err) = env.import(&["--json"]);
    assert_eq!(code, 0, "{err}");
    let (text, t) = env.stack();
    let mut top: Vec<&String> = t.keys().collect();
    top.sort();
    assert_eq!(top, ["backup", "hosts", "project", "services"], "{text}");
    assert!(get(&t, "services.evil").is_none(), "{text}");
    let hosts = get(&t, "hosts").unwrap().as_table().unwrap();
    assert_eq!(hosts.keys().collect::<Vec<_>>(), ["prod-server"], "{text}");
    // Written by the serializer, read back as it was.
    assert_eq!(s(&t, "hosts.prod-server.user"), "de\"ploy]");
    assert_eq!(s(&t, "project.name"), "ops");
    // Refused by the e-mail grammar, and said.
    assert!(get(&t, "services.n8n.data.owner_email").is_none(), "{text}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        unmapped(&report, "n8n_owner_email")["reason"]
            .as_str()
            .unwrap()
            .contains("services.n8n.data.owner_email")
    );
    // Every comment is one line.
    for line in text.lines() {
        assert!(!line.contains('\r'), "{line:?}");
    }
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("# stack.toml imported")
    );
    // The stack is usable as written.
    let stack = env.out().join("stack.toml");
    let (code, out, err) = env.run(&["check", "-f", stack.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn an_invalid_value_is_refused_at_its_place_and_nothing_is_written() {
    let env = Env::new("ansible");
    let main = env.all().join("main.yml");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("project_name: \"ops\"", "project_name: \"Ops Stack!\"");
    std::fs::write(&main, text).unwrap();
    let (code, _, err) = env.import(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("project_name"), "{err}");
    assert!(!env.out().join("stack.toml").exists());
    assert!(!env.out().join("secrets.vault").exists());
}

/// What only the catalog knows (a service's default subdomain) is checked by building
/// the model: refused at its line and column of the generated stack.toml.
#[test]
fn a_value_the_model_refuses_is_shown_at_its_line_and_nothing_is_written() {
    let env = Env::new("ansible");
    let main = env.all().join("main.yml");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("qdrant_subdomain: \"vectors\"\n", "")
        .replace("grafana_subdomain: \"graphs\"", "grafana_subdomain: \"qd\"");
    std::fs::write(&main, text).unwrap();
    let (code, _, err) = env.import(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("both answer on `qd.ai.example.net`"), "{err}");
    assert!(err.contains("stack.toml:"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!env.out().exists() || std::fs::read_dir(env.out()).unwrap().next().is_none());
}

#[test]
fn existing_files_are_not_replaced_without_force_nor_through_links() {
    let env = Env::new("ansible");
    std::fs::create_dir_all(env.out()).unwrap();
    let stack = env.out().join("stack.toml");
    std::fs::write(&stack, "# mine\n").unwrap();
    let (code, _, err) = env.import(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&stack).unwrap(), "# mine\n");
    assert!(!env.out().join("secrets.vault").exists());

    let (code, _, err) = env.import(&["--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(&stack)
            .unwrap()
            .contains("[project]")
    );
    assert!(env.out().join("secrets.vault").exists());
    // Again: the existing vault is opened and its values compared, not lost.
    let (code, out, err) = env.import(&["--force", "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["secrets"]["added"].as_array().unwrap().is_empty(),
        "{out}"
    );
    assert!(
        !report["secrets"]["unchanged"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{out}"
    );
    // A vault that exists refuses too, without --force.
    std::fs::remove_file(&stack).unwrap();
    let (code, _, err) = env.import(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("secrets.vault` already exists"), "{err}");

    // A link where vpai writes is refused even with --force, its target untouched.
    let target = env.dir.path().join("elsewhere.toml");
    std::fs::write(&target, "# not yours\n").unwrap();
    std::os::unix::fs::symlink(&target, &stack).unwrap();
    let (code, _, err) = env.import(&["--force"]);
    assert_eq!(code, 2);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "# not yours\n");
}

#[test]
fn links_inside_the_inventory_are_not_followed() {
    let env = Env::new("ansible");
    let outside = env.dir.path().join("outside.yml");
    std::fs::write(&outside, "n8n_subdomain: \"from-a-link\"\n").unwrap();
    std::os::unix::fs::symlink(&outside, env.all().join("zz-linked.yml")).unwrap();
    // A directory on the way that is a link: nothing below it is read.
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("prod-server.yml"),
        "ansible_user: \"intruder\"\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.project.join("inventory/host_vars")).unwrap();
    let (code, out, err) = env.import(&["--json"]);
    assert_eq!(code, 0, "{err}");
    let (_, t) = env.stack();
    assert_eq!(s(&t, "services.n8n.subdomain"), "flows");
    assert_eq!(s(&t, "hosts.prod-server.user"), "deploy");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let not_read = report["not_read"].as_array().unwrap();
    assert!(
        not_read
            .iter()
            .any(|n| n["file"].as_str().unwrap().ends_with("zz-linked.yml")
                && n["reason"].as_str().unwrap().contains("symbolic link")),
        "{out}"
    );
    assert!(
        not_read.iter().any(|n| n["file"]
            .as_str()
            .unwrap()
            .starts_with("inventory/host_vars")),
        "{out}"
    );
}

#[test]
fn a_wrong_ansible_password_writes_nothing() {
    let env = Env::new("ansible");
    private(&env.ansible_pw, "not the password\n");
    let (code, _, err) = env.import(&[]);
    assert_eq!(code, 2);
    assert!(err.to_lowercase().contains("password"), "{err}");
    assert!(!env.out().join("stack.toml").exists());
}

/// The real `ansible-vault` encrypts the files (whole-file and `encrypt_string`).
#[test]
fn files_made_by_the_real_ansible_vault_import() {
    let bin = std::env::var_os("VPAI_ANSIBLE_VAULT")
        .map(PathBuf::from)
        .or_else(|| {
            let venv = PathBuf::from("/tmp/vpai-ansible-venv/bin/ansible-vault");
            venv.exists().then_some(venv)
        })
        .or_else(|| {
            std::process::Command::new("ansible-vault")
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| PathBuf::from("ansible-vault"))
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
    let env = Env::bare("ansible");
    let ansible = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .args(args)
            .env("ANSIBLE_HOME", env.dir.path())
            .env("ANSIBLE_LOCAL_TEMP", env.dir.path())
            .current_dir(env.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ansible-vault {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let secrets = env.all().join("secrets.yml");
    std::fs::copy(fixture_dir().join("secrets.plain.yml"), &secrets).unwrap();
    let pw = env.ansible_pw.to_str().unwrap();
    ansible(&[
        "encrypt",
        "--vault-password-file",
        pw,
        secrets.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read_to_string(&secrets)
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.1;AES256")
    );
    let inline = ansible(&[
        "encrypt_string",
        "--vault-password-file",
        pw,
        "--name",
        "vault_openai_api_key",
        "sk-openai-real-Zq80",
    ]);
    assert!(inline.contains("!vault |"), "{inline}");
    std::fs::write(env.all().join("inline.yml"), format!("---\n{inline}")).unwrap();

    let (code, out, err) = env.import(&["--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(SECRET_MARK) && !err.contains(SECRET_MARK));
    let (_, t) = env.stack();
    assert_eq!(s(&t, "project.domain"), "ai.example.net");
    let stack = env.out().join("stack.toml");
    let stack = stack.to_str().unwrap();
    for (name, value) in [
        ("openai_api_key", "sk-openai-real-Zq80"),
        ("redis_password", "fixture-redis-Zq82"),
    ] {
        let (code, out, err) = env.run(&["secrets", "show", "-f", stack, name, "--stdout"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, format!("{value}\n"));
    }
}
