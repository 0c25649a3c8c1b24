//! `vpai check` and `vpai doctor` as an operator runs them: exit codes 0/1/2,
//! rustc-like output, `--fix`, `--explain`, and our own example stack checked clean.

use assert_cmd::Command;
use std::path::Path;

fn vpai(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("vpai").unwrap();
    cmd.current_dir(dir)
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
    assert!(stdout.contains("seed 000 #8"), "{stdout}");
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
