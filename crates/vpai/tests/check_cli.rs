//! `vpai check` and `vpai doctor` as an operator runs them: exit codes 0/1/2,
//! rustc-like output, `--fix`, `--explain`, and our own example stack checked clean.

use assert_cmd::Command;
use std::path::Path;

fn vpai(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("vpai").unwrap();
    cmd.current_dir(dir)
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    cmd
}

const BAD: &str = "services:\n  vm:\n    image: victoriametrics/victoria-metrics:v1.118.0\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-qO-\", \"http://localhost:8428/health\"]\n";

#[test]
fn our_example_stack_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["check", "--example"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok: no findings"), "{stdout}");
}

#[test]
fn findings_exit_1_and_fix_repairs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), BAD).unwrap();
    let out = vpai(dir.path()).args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    insta::assert_snapshot!("check_localhost", stdout);

    let out = vpai(dir.path()).args(["check", "--fix"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fixed docker-compose.yml:5 [VP101]"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(dir.path().join("docker-compose.yml")).unwrap();
    assert!(text.contains("127.0.0.1:8428"));
}

#[test]
fn allow_json_sarif_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), BAD).unwrap();
    let out = vpai(dir.path())
        .args(["check", "--allow", "healthcheck-localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = vpai(dir.path())
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["findings"][0]["rule"], "VP101");
    let out = vpai(dir.path())
        .args(["check", "--format", "sarif"])
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "VP101");
    let out = vpai(dir.path())
        .args(["check", "--allow", "VP999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = vpai(dir.path())
        .args(["check", "missing.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = vpai(dir.path())
        .args(["check", "--explain", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_prints_the_seed_incident() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["check", "--explain", "pg18-data-mount-path"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("VP201 pg18-data-mount-path (error)"),
        "{stdout}"
    );
    // Operators read rule ids, never our internal document numbers.
    assert!(!stdout.contains("seed 0"), "{stdout}");
}

#[test]
fn doctor_reads_a_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("loki.log");
    std::fs::write(&logs, "level=info msg=starting\nlevel=error msg=\"error getting ingester clients\" err=\"empty ring\"\n").unwrap();
    let out = vpai(dir.path())
        .args(["doctor", "loki", "--logs", logs.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("loki-empty-ring [VP502]"), "{stdout}");
    assert!(stdout.contains("-target=all"), "{stdout}");

    std::fs::write(&logs, "all good\n").unwrap();
    let out = vpai(dir.path())
        .args(["doctor", "loki", "--logs", logs.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// `vpai ARGS` that must fail fast (not hang, not read forever) with exit code 2.
fn fails_fast(dir: &Path, args: &[&str]) -> String {
    let started = std::time::Instant::now();
    let out = vpai(dir)
        .args(args)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{args:?} took {:?}",
        started.elapsed()
    );
    stderr
}

#[test]
fn check_and_doctor_refuse_devices_fifos_and_huge_files() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = fails_fast(dir.path(), &["check", "/dev/zero"]);
    assert!(
        stderr.contains("`/dev/zero`: it is a character device, not a regular file"),
        "{stderr}"
    );
    let stderr = fails_fast(dir.path(), &["doctor", "--logs", "/dev/zero"]);
    assert!(stderr.contains("character device"), "{stderr}");
    assert!(stderr.contains("vpai doctor --logs -"), "{stderr}");

    mkfifo(&dir.path().join("fifo.yml"));
    let stderr = fails_fast(dir.path(), &["check", "fifo.yml"]);
    assert!(
        stderr.contains("`fifo.yml`: it is a FIFO (named pipe), not a regular file"),
        "{stderr}"
    );
    let stderr = fails_fast(dir.path(), &["doctor", "--logs", "fifo.yml"]);
    assert!(stderr.contains("FIFO"), "{stderr}");

    let big = std::fs::File::create(dir.path().join("docker-compose.yml")).unwrap();
    big.set_len(20 * 1024 * 1024).unwrap();
    let stderr = fails_fast(dir.path(), &["check", "docker-compose.yml"]);
    assert!(
        stderr.contains(
            "`docker-compose.yml`: it is 20 MiB, over the 8 MiB limit for a checked file"
        ),
        "{stderr}"
    );
}

#[test]
fn check_of_a_directory_skips_a_fifo_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), BAD).unwrap();
    mkfifo(&dir.path().join("pipe.yml"));
    let out = vpai(dir.path())
        .args(["check"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: skipped `pipe.yml`: a FIFO (named pipe), not a regular file"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("[VP101]"));
}

#[test]
fn doctor_reads_stdin_with_a_cap() {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["doctor", "loki", "--logs", "-"])
        .write_stdin("level=error msg=\"error getting ingester clients\" err=\"empty ring\"\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[VP502]"));
}

const SECRET: &str = "Zq7-Distinctive-Pa55word";

#[test]
fn check_never_prints_the_secrets_it_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        format!(
            "services:\n  postgresql:\n    image: postgres:18.1-bookworm\n    environment:\n      POSTGRES_PASSWORD: {SECRET}\n  redis:\n    image: redis:8.0-bookworm\n    command: redis-server --requirepass {SECRET}-redis\n"
        ),
    )
    .unwrap();
    for format in ["human", "json", "sarif"] {
        let out = vpai(dir.path())
            .args(["check", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains("VP801") && stdout.contains("VP212"),
            "{stdout}"
        );
        assert!(!stdout.contains("Zq7"), "{format}: {stdout}");
        assert!(!stderr.contains("Zq7"), "{format}: {stderr}");
    }
    let out = vpai(dir.path()).args(["check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("POSTGRES_PASSWORD: ********"), "{stdout}");
}

const ESCAPES: &str = "\x1b]0;pwned\x07\x1b[2J";

#[test]
fn check_and_doctor_print_no_terminal_escapes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("redis.conf"),
        format!("rename-command FLUSHALL \"\" # {ESCAPES}\n"),
    )
    .unwrap();
    let out = vpai(dir.path()).args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !stream.contains(&0x1b) && !stream.contains(&0x07),
            "{stream:?}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("# \\x1b]0;pwned\\x07\\x1b[2J"), "{stdout}");

    let logs = dir.path().join("loki.log");
    std::fs::write(
        &logs,
        format!("level=error err=\"empty ring\" {ESCAPES}\n{ESCAPES}\n"),
    )
    .unwrap();
    for json in [false, true] {
        let mut args = vec!["doctor", "loki", "--logs", logs.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let out = vpai(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.contains(&0x1b) && !stream.contains(&0x07),
                "{stream:?}"
            );
        }
    }
}

/// Files vpai did not write: what is fine as written stays silent (a `localhost`
/// healthcheck with a client that falls back, a flag under a secret-looking name,
/// a committed `.env.example`), and a secret hidden in a default or a URL is an
/// error whose value appears in no output format.
#[test]
fn check_trusts_what_is_fine_and_masks_what_it_flags() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  db:\n    image: postgres:18.1-bookworm\n    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready -h localhost -U app\"]\n  proxy:\n    image: tecnativa/docker-socket-proxy:0.3.0\n    environment:\n      SECRETS: \"0\"\n",
    )
    .unwrap();
    let example = dir.path().join(".env.example");
    std::fs::write(&example, "POSTGRES_PASSWORD=change-me\n").unwrap();
    std::fs::set_permissions(&example, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = vpai(dir.path()).args(["check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok: no findings"), "{stdout}");

    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  web:\n    image: example/web:1.0.0\n    environment:\n      NEXTAUTH_SECRET: ${NEXTAUTH_SECRET:-Wq5-default-Secret}\n      DATABASE_URL: postgresql://web:Wq5-url-Secret@postgres:5432/web\n",
    )
    .unwrap();
    for format in ["human", "json", "sarif"] {
        let out = vpai(dir.path())
            .args(["check", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("VP801"), "{stdout}");
        assert!(!stdout.contains("Wq5"), "{format}: {stdout}");
        assert!(stdout.contains("docker-compose.yml"), "{stdout}");
    }
}

/// A service an operator adds in `catalog/` next to the checked files is recognised by
/// its own `[lint] files` patterns: its configuration gets the rules of its format.
#[test]
fn an_operator_catalog_entry_makes_its_config_files_known() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("logstore.yaml"),
        "server:\n  http_listen_port: 3100\ncommon:\n  path_prefix: /loki\n  replication_factor: 1\n  ring:\n    kvstore:\n      store: inmemory\nmemberlist:\n  join_members: [\"logstore-1:7946\"]\n",
    )
    .unwrap();
    let check = || {
        let out = vpai(dir.path())
            .args(["check", "--format", "json", "."])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(
        !check().contains("VP502"),
        "shipped patterns do not know logstore.yaml"
    );
    std::fs::create_dir_all(dir.path().join("catalog/logstore")).unwrap();
    std::fs::write(
        dir.path().join("catalog/logstore/service.toml"),
        r#"name = "logstore"
description = "our Loki build, under another name"
deployable = false
image = "example/logstore"
uid = 10001
gid = 10001
[lint]
files = [{ name = "logstore.yaml", yaml = true, top_keys = ["server"], format = "loki-config" }]
"#,
    )
    .unwrap();
    let report = check();
    assert!(report.contains("VP502"), "{report}");
    assert!(report.contains("logstore.yaml"), "{report}");
}

/// `[check] allow` in stack.toml: the project's accepted rules, for `vpai check` of
/// its directory as for `-f`; an unknown rule there is an error at its place.
#[test]
fn stack_toml_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), BAD).unwrap();
    let stack = |allow: &str| {
        format!(
            "[project]\nname = \"x\"\ndomain = \"example.org\"\n\n[check]\n# the service listens on ::1 too\nallow = [{allow}]\n"
        )
    };
    let out = vpai(dir.path()).args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(
        dir.path().join("stack.toml"),
        stack("\"healthcheck-localhost\""),
    )
    .unwrap();
    let out = vpai(dir.path()).args(["check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok: no findings"), "{stdout}");
    std::fs::write(
        dir.path().join("stack.toml"),
        stack("\"VP101\", \"VP9999\""),
    )
    .unwrap();
    for args in [&["check"][..], &["check", "-f", "stack.toml"][..]] {
        let out = vpai(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("stack.toml:7:19"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("`VP9999` is not a rule"),
            "{args:?}: {stderr}"
        );
    }
}
