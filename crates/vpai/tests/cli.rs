//! What an operator sees: help, errors with file:line:column, render output, init.
//! No Docker needed.

use assert_cmd::Command;
use std::path::Path;

fn vpai(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("vpai").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("VPAI_VAULT_PASSWORD", "cli-test-passphrase")
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .env_remove("VPAI_VAULT_IDENTITY_FILE");
    cmd
}

#[test]
fn help_teaches_the_first_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("help", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn up_help_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path()).args(["up", "--help"]).output().unwrap();
    insta::assert_snapshot!("up_help", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn unknown_key_points_at_line_and_column_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        "[project]\nname = \"x\"\ndomian = \"example.com\"\n",
    )
    .unwrap();
    let out = vpai(dir.path()).args(["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stack.toml:3:1"), "{err}");
    assert!(err.contains("did you mean `domain`?"), "{err}");
    insta::assert_snapshot!("unknown_key", err);
}

#[test]
fn missing_file_says_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path()).args(["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vpai init") && err.contains("--example"),
        "{err}"
    );
}

#[test]
fn render_example_writes_deterministic_files_with_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    vpai(dir.path())
        .args(["render", "--example", "--out"])
        .arg(&a)
        .assert()
        .success();
    vpai(dir.path())
        .args(["render", "--example", "--out"])
        .arg(&b)
        .assert()
        .success();
    for file in [
        "docker-compose.yml",
        "docker-compose-infra.yml",
        "env/n8n.env",
        "configs/caddy/Caddyfile",
    ] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
    let mode = std::fs::metadata(a.join("env/n8n.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Secrets live only in the encrypted vault, never in clear next to stack.toml.
    let vault = std::fs::read_to_string(dir.path().join("secrets.vault")).unwrap();
    assert!(vault.contains("BEGIN AGE ENCRYPTED FILE"));
    assert!(!dir.path().join(".vpai/secrets.toml").exists());
}

#[test]
fn render_never_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["render", "--example", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in [
        "postgresql_password",
        "n8n_encryption_key",
        "litellm_master_key",
    ] {
        let shown = vpai(dir.path())
            .args(["secrets", "show", name, "--stdout", "--example"])
            .output()
            .unwrap();
        assert!(
            shown.status.success(),
            "{}",
            String::from_utf8_lossy(&shown.stderr)
        );
        let v = String::from_utf8_lossy(&shown.stdout).trim().to_string();
        assert!(v.len() >= 32, "{name}");
        assert!(!stdout.contains(&v) && !stderr.contains(&v));
    }
}

#[test]
fn init_non_interactive_writes_a_valid_stack() {
    let dir = tempfile::tempdir().unwrap();
    vpai(dir.path())
        .args([
            "init",
            "--domain",
            "example.org",
            "--name",
            "acme",
            "--non-interactive",
        ])
        .assert()
        .success();
    vpai(dir.path()).args(["render"]).assert().success();
    // A second init does not overwrite.
    vpai(dir.path())
        .args(["init", "--domain", "example.org", "--non-interactive"])
        .assert()
        .code(2);
}

#[test]
fn init_without_domain_and_without_terminal_says_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["init", "--non-interactive"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--domain"));
}

#[test]
fn up_check_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    vpai(dir.path())
        .args(["up", "--example", "--check", "--json", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(!root.exists());
}

#[test]
fn render_stops_on_a_check_error_unless_allowed_000_22() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        "[project]\nname = \"x\"\ndomain = \"example.org\"\nservices = [\"caddy\", \"web\"]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("catalog")).unwrap();
    std::fs::write(
        dir.path().join("catalog/web.toml"),
        r#"name = "web"
description = "a custom service whose healthcheck uses localhost"
phase = "apps"
image = "example/web"
version = "1.0.0"
uid = 1000
gid = 1000
tools = ["sh", "wget"]
memory = "128M"
memory_floor = "64M"
networks = ["backend"]
[healthcheck]
test = ["CMD", "wget", "-qO-", "http://localhost:8080/health"]
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = vpai(dir.path())
        .args(["render", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("VP101"), "{err}");
    assert!(!out.exists(), "nothing may be written when the check fails");
    vpai(dir.path())
        .args(["render", "--allow", "VP101", "--out"])
        .arg(&out)
        .assert()
        .success();
}

/// Every output path a script or a person reads masks the stack's secret values.
#[test]
fn no_output_path_shows_a_secret_value() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_s = root.display().to_string();
    std::fs::write(
        dir.path().join("stack.toml"),
        "[project]\nname = \"red\"\ndomain = \"example.org\"\n",
    )
    .unwrap();
    // Files on the "host" with other secret values, so that plans show diffs of env files.
    vpai(dir.path())
        .args(["render", "--out", &root_s])
        .assert()
        .success();
    for name in ["n8n_db_password", "redis_password"] {
        vpai(dir.path())
            .args(["secrets", "set", name])
            .write_stdin("a-new-value-for-the-redaction-test\n")
            .assert()
            .success();
    }
    let names = [
        "postgresql_password",
        "redis_password",
        "redis_healthcheck_password",
        "qdrant_api_key",
        "n8n_encryption_key",
        "n8n_db_password",
        "litellm_master_key",
        "litellm_salt_key",
        "litellm_db_password",
    ];
    let values: Vec<String> = names
        .iter()
        .map(|n| {
            let out = vpai(dir.path())
                .args(["secrets", "show", n, "--stdout"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect();
    // The old values are on the host's files; they are secrets too.
    let old_env = std::fs::read_to_string(root.join("env/n8n.env")).unwrap();
    let old_db = old_env
        .lines()
        .find_map(|l| l.strip_prefix("DB_POSTGRESDB_PASSWORD='"))
        .unwrap()
        .trim_end_matches('\'')
        .to_string();
    let runs: &[&[&str]] = &[
        &["render"],
        &["render", "--json"],
        &["up", "--check", "--diff", "--root", &root_s],
        &["up", "--check", "--json", "--root", &root_s],
        &["plan", "--root", &root_s],
        &["check", "--stack", "stack.toml", "--format", "json"],
        &["check", &root_s],
        &["secrets", "list"],
        &["secrets", "list", "--json"],
    ];
    for args in runs {
        let out = vpai(dir.path()).args(*args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for (name, v) in names.iter().zip(&values) {
            assert!(
                !text.contains(v.as_str()),
                "`vpai {}` shows {name}",
                args.join(" ")
            );
        }
        if args[0] != "check" {
            assert!(
                !text.contains(&old_db),
                "`vpai {}` shows the old value",
                args.join(" ")
            );
        }
    }
}

#[test]
fn up_without_a_required_external_secret_fails_before_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::write(
        dir.path().join("stack.toml"),
        "[project]\nname = \"x\"\ndomain = \"example.org\"\nservices = [\"bot\"]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("catalog")).unwrap();
    std::fs::write(
        dir.path().join("catalog/bot.toml"),
        r#"name = "bot"
description = "needs a bot token"
phase = "apps"
image = "example/bot"
version = "1.0.0"
uid = 1000
gid = 1000
tools = ["sh"]
memory = "128M"
memory_floor = "64M"
networks = ["egress"]
[healthcheck]
test = ["CMD", "sh", "-c", "kill -0 1"]
[env]
TELEGRAM_BOT_TOKEN = "{{ secrets.telegram_bot_token }}"
[[secrets]]
name = "telegram_bot_token"
external = true
required = true
help = "ask @BotFather on Telegram (/newbot), then `vpai secrets set telegram_bot_token`"
"#,
    )
    .unwrap();
    let out = vpai(dir.path())
        .args(["up", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("telegram_bot_token") && err.contains("BotFather"),
        "{err}"
    );
    assert!(!root.exists(), "the host was touched");
}

#[test]
fn init_refuses_a_crafted_email_and_writes_nothing() {
    // Reported: an e-mail that closes the string and adds a host with a ProxyCommand.
    let dir = tempfile::tempdir().unwrap();
    let email = "ops@example.com\"\n[hosts.evil]\naddress = \"h\"\nssh_options = { ProxyCommand = \"touch /tmp/pwned\" }\n#";
    let out = vpai(dir.path())
        .args([
            "init",
            "--domain",
            "example.org",
            "--non-interactive",
            "--email",
            email,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--email"), "{err}");
    assert!(!dir.path().join("stack.toml").exists());
    for (flag, value) in [
        ("--name", "x\"\n[hosts.evil]"),
        ("--name", &"a".repeat(33)),
        ("--domain", "ex..ample.com"),
        ("--domain", "example.org\n\tadmin :2019"),
        ("--email", "ops@example.org admin"),
    ] {
        let mut args = vec!["init", "--non-interactive", flag, value];
        if flag != "--domain" {
            args.extend(["--domain", "example.org"]);
        }
        let out = vpai(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag}: {err}");
        assert!(!dir.path().join("stack.toml").exists(), "{flag} {value:?}");
    }
}

#[test]
fn init_writes_values_through_toml_and_keeps_the_comments() {
    let dir = tempfile::tempdir().unwrap();
    vpai(dir.path())
        .args([
            "init",
            "--domain",
            "example.org",
            "--name",
            "acme-1",
            "--email",
            "ops+vpai@example.org",
            "--non-interactive",
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("stack.toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    let project = parsed["project"].as_table().unwrap();
    assert_eq!(project["name"].as_str(), Some("acme-1"));
    assert_eq!(project["domain"].as_str(), Some("example.org"));
    assert_eq!(project["acme_email"].as_str(), Some("ops+vpai@example.org"));
    assert_eq!(parsed.len(), 1, "only [project]: {text}");
    assert!(
        text.contains("# required: containers `acme-1_<service>`"),
        "{text}"
    );
    assert!(text.contains("# [services.n8n]"), "{text}");
}

#[test]
fn a_hostile_value_stops_render_before_the_vault_is_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        "[project]\nname = \"x\"\ndomain = \"example.com\"\nacme_email = \"ops@example.com\\n\\tadmin 0.0.0.0:2019\"\n",
    )
    .unwrap();
    let out = vpai(dir.path())
        .args(["render", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stack.toml:4:14"), "{err}");
    assert!(err.contains("control character"), "{err}");
    assert!(!dir.path().join("secrets.vault").exists());
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_stack_file_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["render", "-f", "/dev/zero"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a regular file"), "{err}");
}
