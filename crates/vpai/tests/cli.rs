//! What an operator sees: help, errors with file:line:column, render output, init.
//! No Docker needed.

use assert_cmd::Command;
use std::path::Path;

fn vpai(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("vpai").unwrap();
    cmd.current_dir(dir)
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("VPAI_VAULT_PASSWORD", "cli-test-passphrase")
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .env_remove("VPAI_VAULT_IDENTITY_FILE")
        // No engine: these tests must not depend on the containers this machine happens
        // to run (the README's demo leaves the example's `demo` project up, and a plan
        // against it says "recreate" instead of "create").
        .env(
            "DOCKER_HOST",
            format!("unix://{}", dir.join("no-engine.sock").display()),
        );
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
    // The example's vault lives in the user's state directory, not where vpai ran.
    assert!(!dir.path().join("secrets.vault").exists());
    let state = dir.path().join(".state/vpai/example");
    let vault = std::fs::read_to_string(state.join("secrets.vault")).unwrap();
    assert!(vault.contains("BEGIN AGE ENCRYPTED FILE"));
    let mode = std::fs::metadata(&state).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
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
    // A file that holds the vault's values where `vpai check` must flag them (an
    // environment value, a healthcheck's PGPASSWORD=, a URL's user info): the sweep
    // below fails if check ever prints one.
    let leak = dir.path().join("leak");
    std::fs::create_dir(&leak).unwrap();
    std::fs::write(
        leak.join("docker-compose.yml"),
        format!(
            "services:\n  db:\n    image: postgres:18.1-bookworm\n    environment:\n      POSTGRES_PASSWORD: {pg}\n      DATABASE_URL: postgresql://app:{n8n}@db:5432/app\n    healthcheck:\n      test: [\"CMD-SHELL\", \"PGPASSWORD={n8n} pg_isready -U app\"]\n",
            pg = values[0],
            n8n = values[5],
        ),
    )
    .unwrap();
    let leak_s = leak.display().to_string();
    let out = vpai(dir.path()).args(["check", &leak_s]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .matches("VP801")
            .count()
            >= 3,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let runs: &[&[&str]] = &[
        &["check", &leak_s],
        &["check", &leak_s, "--json"],
        &["check", &leak_s, "--format", "sarif"],
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

/// A private key file as ssh wants it (only its owner reads it).
fn private_key(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn init_with_a_server_writes_a_hosts_table_that_render_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    private_key(&home.join(".ssh/id_rsa"));
    private_key(&home.join(".ssh/id_ecdsa"));
    vpai(dir.path())
        .env("HOME", home)
        .args([
            "init",
            "--domain",
            "example.org",
            "--name",
            "acme",
            "--non-interactive",
            "--host-address",
            "203.0.113.10",
            "--host-name",
            "prod",
            "--host-user",
            "deploy",
            "--host-port",
            "2222",
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains("passwordless sudo"));
    let text = std::fs::read_to_string(dir.path().join("stack.toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    let hosts = parsed["hosts"].as_table().unwrap();
    assert_eq!(hosts.len(), 1, "{text}");
    let prod = hosts["prod"].as_table().unwrap();
    assert_eq!(prod["address"].as_str(), Some("203.0.113.10"));
    assert_eq!(prod["user"].as_str(), Some("deploy"));
    assert_eq!(prod["ssh_port"].as_integer(), Some(2222));
    // The first of id_ed25519, id_ecdsa, id_rsa that exists, absolute (outside the
    // stack's directory).
    let key = home.join(".ssh/id_ecdsa");
    assert_eq!(prod["identity"].as_str(), key.to_str(), "{text}");
    assert_eq!(prod.len(), 4, "{text}");
    let out = vpai(dir.path())
        .args(["render", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A key beside stack.toml is written relative to it; `none` writes no key.
    let sub = dir.path().join("ops");
    private_key(&sub.join("keys/deploy"));
    for (key, identity) in [("ops/keys/deploy", Some("keys/deploy")), ("none", None)] {
        vpai(dir.path())
            .env("HOME", home)
            .args([
                "init",
                "--force",
                "--file",
                "ops/stack.toml",
                "--domain",
                "example.org",
                "--non-interactive",
                "--host-address",
                "vps.example.org",
                "--host-key",
                key,
            ])
            .assert()
            .success();
        let text = std::fs::read_to_string(sub.join("stack.toml")).unwrap();
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let main = parsed["hosts"]["main"].as_table().unwrap();
        assert_eq!(main["user"].as_str(), Some("root"));
        assert_eq!(main["ssh_port"].as_integer(), Some(22));
        assert_eq!(main.get("identity").and_then(|v| v.as_str()), identity);
        vpai(&sub)
            .args(["render", "--out"])
            .arg(sub.join("out"))
            .assert()
            .success();
    }
}

#[test]
fn init_refuses_a_bad_server_flag_by_its_name_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let open_key = dir.path().join("open_key");
    std::fs::write(&open_key, "key").unwrap();
    let open_key = open_key.to_str().unwrap();
    for (flag, value, says) in [
        ("--host-address", "root@vps.example.org", "holds a user"),
        ("--host-address", "vps.example.org:22", "holds a port"),
        ("--host-address", "https://vps.example.org", "URL"),
        (
            "--host-address",
            "-oProxyCommand=touch",
            "not a server address",
        ),
        ("--host-address", "300.1.2.3", "IPv4"),
        ("--host-port", "0", "not a TCP port"),
        ("--host-port", "65536", "not a TCP port"),
        ("--host-port", "ssh", "not a TCP port"),
        ("--host-user", "-oUser=x", "not a user name"),
        ("--host-name", "local", "`--host local` means this machine"),
        ("--host-name", "a b", "not a valid host name"),
        ("--host-key", "missing_key", "no file"),
        ("--host-key", open_key, "chmod 600"),
    ] {
        let mut args = vec!["init", "--domain", "example.org", "--non-interactive"];
        if flag != "--host-address" {
            args.extend(["--host-address", "203.0.113.10"]);
        }
        // `--flag=value`: a value that starts with `-` is still the flag's.
        let given = format!("{flag}={value}");
        args.push(&given);
        let out = vpai(dir.path())
            .env("HOME", dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag) && err.contains(says),
            "{flag} {value:?}: {err}"
        );
        assert!(!dir.path().join("stack.toml").exists(), "{flag} {value:?}");
    }
    // A server's detail without a server, and a check of no server.
    for flag in [
        &["--host-user", "deploy"][..],
        &["--host-port", "22"],
        &["--check-host"],
    ] {
        let out = vpai(dir.path())
            .args(["init", "--domain", "example.org", "--non-interactive"])
            .args(flag)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag[0]), "{flag:?}: {err}");
        assert!(!dir.path().join("stack.toml").exists());
    }
}

#[test]
fn init_proposes_an_email_at_the_domain() {
    let dir = tempfile::tempdir().unwrap();
    vpai(dir.path())
        .args(["init", "--domain", "ops.example.org", "--non-interactive"])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("stack.toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        parsed["project"]["acme_email"].as_str(),
        Some("admin@ops.example.org")
    );
    // No server: no [hosts], and the file shows how to add one.
    assert!(parsed.get("hosts").is_none(), "{text}");
    assert!(text.contains("# [hosts.main]"), "{text}");
}

/// `--check-host` logs in once the file is written; a server that does not answer is
/// said (exit 1) and the file stays. Port 1 of this machine: refused at once, no network.
#[test]
fn init_check_host_says_when_the_server_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .env("HOME", dir.path())
        .args([
            "init",
            "--domain",
            "example.org",
            "--non-interactive",
            "--host-address",
            "127.0.0.1",
            "--host-port",
            "1",
            "--check-host",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`main` did not let vpai in"), "{err}");
    assert!(dir.path().join("stack.toml").exists());
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

#[test]
fn day_2_commands_have_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for (command, example) in [
        ("logs", "vpai logs -f postgresql n8n"),
        ("exec", "vpai exec postgresql -- psql -U postgres"),
        ("restart", "vpai restart n8n"),
        ("backup", "vpai backup --list"),
        ("restore", "vpai restore --drill"),
        ("update", "vpai update n8n --version 2.8.0"),
    ] {
        let out = vpai(dir.path()).args([command, "--help"]).output().unwrap();
        assert!(out.status.success(), "{command} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:"), "{command}: {help}");
        assert!(help.contains(example), "{command}: {help}");
        assert!(help.contains("--host <NAME>"), "{command}: {help}");
        assert!(help.contains("--example"), "{command}: {help}");
    }
    let logs = vpai(dir.path()).args(["logs", "--help"]).output().unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("-f, --follow"), "{logs}");
    assert!(logs.contains("[default: 100]"), "{logs}");
    let restart = vpai(dir.path())
        .args(["restart", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&restart.stdout).contains("would not reload env files"));
    for command in ["rotate", "doctor"] {
        let out = vpai(dir.path()).args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--host <NAME>"), "{command}: {help}");
    }
}

#[test]
fn day_2_commands_name_an_unknown_service_and_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["logs", "--example", "postgrsql"][..],
        &["exec", "--example", "-T", "postgrsql", "--", "true"][..],
        &["restart", "--example", "n8n", "postgrsql"][..],
    ] {
        let out = vpai(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("unknown service `postgrsql`"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("did you mean `postgresql`?"),
            "{args:?}: {err}"
        );
        for known in ["redis", "caddy", "n8n"] {
            assert!(err.contains(known), "{known} not listed: {err}");
        }
    }
    // Far from every name: no guess, the list only.
    let out = vpai(dir.path())
        .args(["logs", "--example", "mysql-server"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the stack's services: "), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
    // exec needs a command after `--`.
    let out = vpai(dir.path())
        .args(["exec", "--example", "redis"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<CMD>"));
    // --since takes a duration or a time, never an option for docker.
    let out = vpai(dir.path())
        .args(["logs", "--example", "--since=10m;id", "redis"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is neither a duration nor a time"), "{err}");
}

/// The subcommands `vpai --help` lists (so a new command is covered without editing this).
fn subcommands(dir: &Path) -> Vec<String> {
    let out = vpai(dir).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let list = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a Commands: section")
        .to_string();
    list.lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_knows_every_subcommand_and_is_valid_bash() {
    let dir = tempfile::tempdir().unwrap();
    let commands = subcommands(dir.path());
    assert!(commands.len() >= 14, "{commands:?}");
    let out = vpai(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    for name in &commands {
        assert!(
            script.contains(name.as_str()),
            "`{name}` not in the bash completion"
        );
    }
    assert!(script.contains("--json") && script.contains("--color"));
    let file = dir.path().join("vpai.bash");
    std::fs::write(&file, &script).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = vpai(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("rollback") && script.contains("secrets"),
            "{shell}"
        );
    }
    let bad = vpai(dir.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_page_renders_and_one_page_per_command_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path()).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.lines().any(|l| l.starts_with(".TH VPAI 1 ")),
        "{}",
        &page[..200.min(page.len())]
    );
    assert!(
        page.contains("Exit codes"),
        "the exit codes are in the page"
    );
    let main = dir.path().join("vpai.1");
    std::fs::write(&main, &page).unwrap();
    // Rendered by man(1) when the machine has it.
    if let Ok(rendered) = std::process::Command::new("man")
        .arg("-l")
        .arg(&main)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        && rendered.status.success()
    {
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("rollback"), "{text}");
    }
    let pages = dir.path().join("man");
    vpai(dir.path())
        .args(["man", "--out"])
        .arg(&pages)
        .assert()
        .success();
    for name in ["vpai.1", "vpai-up.1", "vpai-check.1", "vpai-secrets-list.1"] {
        let text =
            std::fs::read_to_string(pages.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.lines().any(|l| l.starts_with(".TH VPAI")), "{name}");
    }
    assert!(
        std::fs::read_to_string(pages.join("vpai-check.1"))
            .unwrap()
            .contains("json")
    );
}

/// Whether `bytes` hold an ANSI escape sequence (a color).
fn has_ansi(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\x1b[")
}

#[test]
fn color_follows_the_flag_no_color_and_clicolor_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let render = |color: &str, no_color: Option<&str>, force: Option<&str>| {
        let mut cmd = vpai(dir.path());
        cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        if let Some(v) = force {
            cmd.env("CLICOLOR_FORCE", v);
        }
        let run = cmd
            .args(["--color", color, "render", "--example", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        run
    };
    // Explicit `always` wins, even over NO_COLOR (the test helper's default).
    assert!(has_ansi(&render("always", Some("1"), None).stderr));
    // `auto` on a pipe: no color; NO_COLOR wins over CLICOLOR_FORCE.
    assert!(!has_ansi(&render("auto", None, None).stderr));
    assert!(!has_ansi(&render("auto", Some("1"), Some("1")).stderr));
    // CLICOLOR_FORCE colors a pipe.
    assert!(has_ansi(&render("auto", None, Some("1")).stderr));
    assert!(!has_ansi(&render("never", None, Some("1")).stderr));
    // Spec errors (drawn by miette) follow the same setting.
    std::fs::write(dir.path().join("stack.toml"), "[project]\nname = 1\n").unwrap();
    let err = |color: &str| {
        vpai(dir.path())
            .args(["--color", color, "render"])
            .output()
            .unwrap()
    };
    let colored = err("always");
    assert_eq!(colored.status.code(), Some(2));
    assert!(has_ansi(&colored.stderr));
    assert!(!has_ansi(&err("never").stderr));
}

#[test]
fn the_plan_is_data_on_stdout_and_progress_stays_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let out = vpai(dir.path())
        .args(["plan", "--example", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.starts_with("plan: "), "{stdout}");
    assert!(stdout.contains("  create docker-compose.yml"), "{stdout}");
    assert!(stdout.contains("  + postgresql (create)"), "{stdout}");
    assert!(
        !stderr.contains("plan: "),
        "the plan leaked to stderr: {stderr}"
    );
    let json = vpai(dir.path())
        .args(["plan", "--example", "--json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(plan["files"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(!root.exists(), "plan is read-only");
}

#[test]
fn env_file_diffs_show_settings_and_mask_only_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    vpai(dir.path())
        .args(["render", "--example", "--out"])
        .arg(&root)
        .assert()
        .success();
    let env = root.join("env/n8n.env");
    let deployed = std::fs::read_to_string(&env).unwrap();
    assert!(deployed.contains("TZ='Europe/Paris'"));
    let old_password = deployed
        .lines()
        .find_map(|l| l.strip_prefix("DB_POSTGRESDB_PASSWORD='"))
        .unwrap()
        .trim_end_matches('\'')
        .to_string();
    // On the host: another time zone; in the vault: a rotated password.
    std::fs::write(&env, deployed.replace("TZ='Europe/Paris'", "TZ='UTC'")).unwrap();
    let new_password = "a-rotated-password-for-the-diff-test";
    vpai(dir.path())
        .args(["secrets", "set", "n8n_db_password", "--example"])
        .write_stdin(format!("{new_password}\n"))
        .assert()
        .success();
    let out = vpai(dir.path())
        .args(["plan", "--example", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("  update env/n8n.env"), "{plan}");
    assert!(plan.contains("\n-TZ='UTC'\n"), "{plan}");
    assert!(plan.contains("\n+TZ='Europe/Paris'\n"), "{plan}");
    assert!(
        plan.contains("\n-DB_POSTGRESDB_PASSWORD=********\n"),
        "{plan}"
    );
    assert!(
        plan.contains("\n+DB_POSTGRESDB_PASSWORD=********\n"),
        "{plan}"
    );
    for secret in [old_password.as_str(), new_password] {
        assert!(!plan.contains(secret), "a password in the plan: {plan}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
    }
}

#[test]
fn verbose_says_what_runs_where_and_vv_adds_timings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let run = |flag: &str| {
        let out = vpai(dir.path())
            .args([flag, "plan", "--example", "--root"])
            .arg(&root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let v = run("-v");
    assert!(v.contains("[local] run bash script vpai-"), "{v}");
    assert!(!v.contains(" s\n"), "timings only with -vv: {v}");
    let vv = run("-vv");
    let timed = vv
        .lines()
        .find(|l| l.starts_with("[local] run bash script vpai-") && l.ends_with(" s"))
        .unwrap_or_else(|| panic!("no timing: {vv}"));
    let secs = timed
        .rsplit(": ")
        .next()
        .and_then(|t| t.strip_suffix(" s"))
        .and_then(|t| t.parse::<f64>().ok());
    assert!(secs.is_some_and(|s| s >= 0.0), "{timed}");
    // The vault's values never appear, whatever the verbosity.
    let value = vpai(dir.path())
        .args([
            "secrets",
            "show",
            "n8n_db_password",
            "--stdout",
            "--example",
        ])
        .output()
        .unwrap();
    let value = String::from_utf8_lossy(&value.stdout).trim().to_string();
    assert!(value.len() >= 16);
    assert!(!v.contains(&value) && !vv.contains(&value));
    // -q and -v contradict each other.
    let both = vpai(dir.path())
        .args(["-q", "-v", "plan", "--example"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn check_takes_the_same_flag_names_as_the_other_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        "[project]\nname = \"flags\"\ndomain = \"example.org\"\n",
    )
    .unwrap();
    let stdout = |args: &[&str]| {
        let out = vpai(dir.path()).args(args).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let canonical = stdout(&["check", "-f", "stack.toml", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&canonical).unwrap();
    assert!(report.is_object() || report.is_array());
    assert_eq!(
        stdout(&["check", "--file", "stack.toml", "--format", "json"]),
        canonical
    );
    // The old spelling still works, and is not advertised.
    assert_eq!(
        stdout(&["check", "--stack", "stack.toml", "--format", "json"]),
        canonical
    );
    let help = stdout(&["check", "--help"]);
    assert!(
        help.contains("-f, --file <PATH>") && help.contains("--json"),
        "{help}"
    );
    assert!(!help.contains("--stack"), "{help}");
    let clash = vpai(dir.path())
        .args(["check", "-f", "stack.toml", "--json", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(clash.status.code(), Some(2));
}

#[test]
fn read_commands_take_json_and_print_data_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_s = root.display().to_string();
    for cmd in ["status", "plan", "preflight", "check", "doctor", "render"] {
        let out = vpai(dir.path()).args([cmd, "--help"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("--json"),
            "`vpai {cmd}` has no --json"
        );
    }
    for args in [
        vec!["secrets", "list", "--json", "--example"],
        vec![
            "rollback",
            "--list",
            "--json",
            "--example",
            "--root",
            &root_s,
        ],
        vec!["preflight", "--json", "--example", "--root", &root_s],
    ] {
        let out = vpai(dir.path()).args(&args).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: Result<serde_json::Value, _> = serde_json::from_slice(&out.stdout);
        assert!(
            value.is_ok(),
            "{args:?}: stdout is not JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let releases = vpai(dir.path())
        .args([
            "rollback",
            "--list",
            "--json",
            "--example",
            "--root",
            &root_s,
        ])
        .output()
        .unwrap();
    let releases: serde_json::Value = serde_json::from_slice(&releases.stdout).unwrap();
    assert_eq!(releases["host"], "local");
    assert_eq!(releases["releases"], serde_json::json!([]));
    // Preflight's checks are data; its verdict is a message on stderr.
    let preflight = vpai(dir.path())
        .args(["preflight", "--example", "--root", &root_s])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&preflight.stdout);
    assert!(stdout.contains("memory"), "{stdout}");
    assert!(
        !stdout.contains("can run") && !stdout.contains("not ready"),
        "{stdout}"
    );
}

#[test]
fn help_documents_the_exit_codes_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Exit codes:",
        "  0  success",
        "  1  the command ran and failed",
        "  2  usage error",
    ] {
        assert!(help.contains(line), "{line:?} missing: {help}");
    }
    let usage = vpai(dir.path()).arg("--no-such-flag").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let bad = vpai(dir.path())
        .args(["--color", "sometimes", "status"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn rotate_on_an_unknown_host_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let show = || {
        let out = vpai(dir.path())
            .args([
                "secrets",
                "show",
                "--example",
                "n8n_db_password",
                "--stdout",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // `render` generates the values.
    let out = vpai(dir.path())
        .args(["render", "--example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let before = show();
    let out = vpai(dir.path())
        .args(["rotate", "--example", "--host", "nope", "n8n_db_password"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no host `nope` in stack.toml"), "{err}");
    assert_eq!(show(), before, "the value must not change");
    let out = vpai(dir.path())
        .args(["secrets", "list", "--example", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "n8n_db_password")
        .unwrap();
    assert_eq!(entry["rotation_in_flight"], false);
    assert_eq!(entry["last_rotation"], serde_json::Value::Null);
}

#[test]
fn the_example_on_local_images_points_every_service_at_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["render", "--example", "--local-images", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = vpai(dir.path())
        .args(["render", "--example", "--local-images", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let infra = std::fs::read_to_string(dir.path().join("out/docker-compose-infra.yml")).unwrap();
    let apps = std::fs::read_to_string(dir.path().join("out/docker-compose.yml")).unwrap();
    let images: Vec<&str> = infra
        .lines()
        .chain(apps.lines())
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .collect();
    assert_eq!(images.len(), 6, "{images:?}");
    assert!(
        images.iter().all(|i| i.starts_with("vpai-test/")),
        "{images:?}"
    );
    assert!(apps.contains("pull_policy: never"));
    // Our own rendering checks clean at every level, on local images too.
    checks_clean(dir.path(), "local images");
    // `--local-images` means the example's images; alone it is a usage error.
    let out = vpai(dir.path())
        .args(["render", "--local-images"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The README cannot drift from the CLI: every `vpai ...` line of its command blocks
/// parses (clap checks each subcommand, flag and value before it honours `--help`),
/// and the scripts its first lines name exist and are executable.
#[test]
fn readme_command_blocks_parse() {
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    // (inside a fence, is it a shell block)
    let mut fence: Option<bool> = None;
    let mut checked = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(line == "```" || line == "```sh"),
            };
            continue;
        }
        if fence != Some(true) {
            continue;
        }
        let command = line.split("  #").next().unwrap().trim();
        if let Some(script) = command
            .split_whitespace()
            .next()
            .filter(|w| w.starts_with("scripts/"))
        {
            let mode = std::fs::metadata(root.join(script))
                .unwrap()
                .permissions()
                .mode();
            assert!(mode & 0o111 != 0, "{script} is not executable");
            continue;
        }
        let Some(args) = command.strip_prefix("vpai ") else {
            continue;
        };
        // `[--all]` in the README means an optional flag: check it too.
        let args = args.replace(['[', ']'], "");
        // The shell splits the line as a reader's shell would.
        let split = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf '%s\\0' {args}"))
            .output()
            .unwrap();
        let mut words: Vec<String> = String::from_utf8(split.stdout)
            .unwrap()
            .split('\0')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect();
        let at = words.iter().position(|w| w == "--").unwrap_or(words.len());
        words.insert(at, "--help".into());
        let dir = tempfile::tempdir().unwrap();
        let out = vpai(dir.path()).args(&words).output().unwrap();
        assert!(
            out.status.success(),
            "README line `{line}` does not parse:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} README commands found");
}

/// Every profile (`core`, `monitoring`, `full`: the seeds' production set) is data:
/// `vpai init --profile P` writes a commented stack.toml that renders as it is, and what
/// it renders checks clean at every level (our own stacks must never trip our rules).
#[test]
fn every_profile_is_initialised_rendered_and_checks_clean() {
    for profile in ["core", "monitoring", "full"] {
        let dir = tempfile::tempdir().unwrap();
        vpai(dir.path())
            .args([
                "init",
                "--domain",
                "example.org",
                "--name",
                "acme",
                "--profile",
                profile,
                "--non-interactive",
            ])
            .assert()
            .success();
        let text = std::fs::read_to_string(dir.path().join("stack.toml")).unwrap();
        assert!(text.contains(&format!("profile = \"{profile}\"")), "{text}");
        let out = vpai(dir.path())
            .args(["render", "--out"])
            .arg(dir.path().join("out"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{profile}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checks_clean(dir.path(), profile);
    }
}

/// `vpai check DIR/out` finds nothing at any level.
fn checks_clean(dir: &Path, what: &str) {
    let out = vpai(dir)
        .arg("check")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("no findings"),
        "{what}:\n{report}"
    );
}

#[test]
fn a_swarm_is_reached_through_its_manager_not_another_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        "[project]\nname = \"sw\"\ndomain = \"example.org\"\nengine = \"swarm\"\n\
         services = [\"postgresql\", \"redis\"]\n\n[swarm]\nmanager = \"a\"\n\n\
         [hosts.a]\naddress = \"192.0.2.10\"\n\n[hosts.b]\naddress = \"192.0.2.11\"\n",
    )
    .unwrap();
    for args in [
        &["up", "--host", "b"][..],
        &["plan", "--host", "b"],
        &["rollback", "--host", "b"],
        &["status", "--host", "b"],
        &["logs", "--host", "b", "redis"],
        &["exec", "--host", "b", "-T", "redis", "--", "true"],
        &["verify", "--host", "b"],
    ] {
        let out = vpai(dir.path()).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains("a swarm is reached through its manager `a`") && err.contains("help:"),
            "{args:?}: {err}"
        );
    }
}
