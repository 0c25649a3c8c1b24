//! Labelled cases beside each rule's `bad`/`good` pair, from stacks vpai did not
//! write: `bad-true-alarm-*` must raise the rule (at the severity in its `EXPECT`
//! file, if any), `good-false-alarm-*` must raise nothing at all.

mod common;

use common::{fixtures_dir, load_dir};
use vpai_check::{CheckOptions, check_files, rules};

fn variants(prefix: &str) -> Vec<(&'static rules::Rule, std::path::PathBuf)> {
    let mut out = Vec::new();
    for rule in rules::ALL {
        let dir = fixtures_dir().join(format!("{}-{}", rule.id, rule.name));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<_> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
            })
            .collect();
        found.sort();
        out.extend(found.into_iter().map(|p| (*rule, p)));
    }
    out
}

#[test]
fn true_alarms_fire_at_their_severity() {
    let cases = variants("bad-");
    assert!(cases.len() >= 10, "{cases:?}");
    let mut failures = Vec::new();
    for (rule, dir) in cases {
        let files = load_dir(&dir);
        let report = check_files(&files, &CheckOptions::default());
        let expect = std::fs::read_to_string(dir.join("EXPECT")).ok();
        let hit = report.findings.iter().find(|f| f.rule == rule.id);
        match (hit, expect.as_deref().map(str::trim)) {
            (None, _) => failures.push(format!(
                "{}: no {} in {:?}",
                dir.display(),
                rule.id,
                report.findings
            )),
            (Some(f), Some(sev)) if f.severity.as_str() != sev => failures.push(format!(
                "{}: {} is {}, expected {sev}",
                dir.display(),
                rule.id,
                f.severity.as_str()
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn false_alarms_are_silent() {
    let cases = variants("good-");
    assert!(cases.len() >= 10, "{cases:?}");
    let mut failures = Vec::new();
    for (_, dir) in cases {
        let files = load_dir(&dir);
        let report = check_files(&files, &CheckOptions::default());
        if !report.findings.is_empty() {
            failures.push(format!(
                "{}:\n{}",
                dir.display(),
                report.render_human(&files, false)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Secrets that the new VP801 detections flag never reach any output format, and
/// plain words near them (paths, image names) are not garbled.
#[test]
fn inline_secrets_are_masked_and_words_are_not() {
    let compose = "services:
  postgres:
    image: postgres:18.1-bookworm
    environment:
      POSTGRES_PASSWORD: postgres
      DATABASE_URL: postgresql://app:Qx9-url-Secret@postgres:5432/app
      ENCRYPTION_KEY: ${ENCRYPTION_KEY:-Qx9-default-Secret}
    healthcheck:
      test: [\"CMD-SHELL\", \"PGPASSWORD='Qx9-pg-Secret' pg_isready -U postgres\"]
";
    let files = vec![vpai_check::SourceFile::new(
        "postgres/docker-compose.yml",
        compose,
    )];
    let report = check_files(&files, &CheckOptions::default());
    let vp801: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "VP801")
        .collect();
    assert_eq!(vp801.len(), 4, "{:?}", report.findings);
    for out in [
        report.render_human(&files, false),
        report.to_json(),
        report.to_sarif(),
    ] {
        assert!(!out.contains("Qx9"), "{out}");
        // the path and the image name stay readable
        assert!(out.contains("postgres/docker-compose.yml"), "{out}");
    }
    let human = report.render_human(&files, false);
    assert!(human.contains("POSTGRES_PASSWORD: ********"), "{human}");
    assert!(human.contains("pg_isready -U postgres"), "{human}");
}

/// A world-readable env file in a git work tree: git keeps only 644/755, so the
/// mode says nothing about the deployed copy (warning); outside one, an error.
#[test]
fn world_readable_env_in_a_checkout_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("vpai-check-vp412-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let plain = root.join("plain");
    let repo = root.join("repo");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    for dir in [&plain, &repo] {
        let env = dir.join("app.env");
        std::fs::write(&env, "DB_PASSWORD=Kq2-real-looking-9\n").unwrap();
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let severity = |dir: &std::path::Path| {
        let loaded = vpai_check::load(&[dir.to_path_buf()]).unwrap();
        let report = check_files(&loaded.files, &CheckOptions::default());
        report
            .findings
            .iter()
            .find(|f| f.rule == "VP412")
            .map(|f| f.severity.as_str())
    };
    assert_eq!(severity(&plain), Some("error"));
    assert_eq!(severity(&repo), Some("warning"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn every_explain_says_how_to_silence_a_false_alarm() {
    for r in rules::ALL {
        let text = vpai_check::explain(r.id).unwrap();
        assert!(text.contains("False alarm when"), "{}", r.id);
        assert!(text.contains(&format!("--allow {}", r.id)), "{}", r.id);
    }
}

/// `# vpai: allow RULE -- reason` on the line or the line above silences that rule
/// there only; JSON lists it under `suppressed`, SARIF marks it `inSource`.
#[test]
fn inline_allow_comments_suppress_and_are_reported() {
    let compose = "services:
  db:
    image: postgres:18.1-bookworm
    environment:
      # vpai: allow VP801 -- throwaway demo database
      POSTGRES_PASSWORD: Vx4-demo-Secret
    ports:
      - \"5432:5432\" # vpai: allow database-port-published
  cache:
    image: redis:8.0-bookworm
    ports:
      - \"6379:6379\" # vpai: allow VP801 -- names another rule
";
    let files = vec![vpai_check::SourceFile::new("docker-compose.yml", compose)];
    let report = check_files(&files, &CheckOptions::default());
    let rules_left: Vec<_> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(rules_left, vec![("VP802", 12)], "{:?}", report.findings);
    assert_eq!(report.suppressed.len(), 2, "{:?}", report.suppressed);
    assert_eq!(
        report.suppressed[0].reason.as_deref(),
        Some("throwaway demo database")
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["suppressed"].as_array().unwrap().len(), 2);
    assert_eq!(json["suppressed"][0]["rule"], "VP801");
    assert_eq!(json["errors"], 1);
    let sarif: serde_json::Value = serde_json::from_str(&report.to_sarif()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let marked: Vec<_> = results
        .iter()
        .filter(|r| r["suppressions"][0]["kind"] == "inSource")
        .collect();
    assert_eq!(marked.len(), 2);
    assert_eq!(
        marked[0]["suppressions"][0]["justification"],
        "throwaway demo database"
    );
    for out in [
        report.to_json(),
        report.to_sarif(),
        report.render_human(&files, false),
    ] {
        assert!(!out.contains("Vx4"), "{out}");
    }
    assert!(
        report
            .render_human(&files, false)
            .contains("2 findings suppressed by `# vpai: allow` comments")
    );
}
