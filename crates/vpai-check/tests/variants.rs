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

/// A world-readable env file is an error where vpai knows it is the deployed copy
/// (under a project root, with its `.vpai`); in a git work tree (git keeps only
/// 644/755) or anywhere else (a copy another tool rendered) it is a warning.
#[test]
fn world_readable_env_is_an_error_only_in_a_deploy_root() {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("vpai-check-vp412-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let plain = root.join("plain");
    let repo = root.join("repo");
    let deployed = root.join("deployed");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(deployed.join(".vpai")).unwrap();
    for dir in [&plain, &repo, &deployed] {
        let env = dir.join("configs").join("app.env");
        std::fs::create_dir_all(env.parent().unwrap()).unwrap();
        std::fs::write(&env, "DB_PASSWORD=Kq2-real-looking-9\n").unwrap();
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let severity = |dir: &std::path::Path| {
        let loaded = vpai_check::load(&[dir.join("configs")]).unwrap();
        let report = check_files(&loaded.files, &CheckOptions::default());
        report
            .findings
            .iter()
            .find(|f| f.rule == "VP412")
            .map(|f| f.severity.as_str())
    };
    assert_eq!(severity(&deployed), Some("error"));
    assert_eq!(severity(&plain), Some("warning"));
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

/// Optional knobs defined nowhere are one finding per file, listing them; a secret
/// defined nowhere is its own finding.
#[test]
fn undefined_variables_are_listed_once_per_file_and_secrets_one_by_one() {
    let compose = "services:
  flow:
    image: example/flow:3.0.1
    environment:
      PORT: ${PORT}
      LOG_LEVEL: ${LOG_LEVEL}
      DEBUG: ${DEBUG}
      STORAGE_TYPE: ${STORAGE_TYPE}
      LANGCHAIN_PROJECT: ${LANGCHAIN_PROJECT}
      DISABLE_TELEMETRY: ${DISABLE_TELEMETRY}
      DB_PASSWORD: ${DB_PASSWORD}
";
    let files = vec![vpai_check::SourceFile::new(
        "docker-compose.yml",
        compose.as_bytes().to_vec(),
    )];
    let report = check_files(&files, &CheckOptions::default());
    let found: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule == "VP705")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("`DB_PASSWORD`") && m.contains("empty secret")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("6 variables") && m.contains("`PORT`") && m.contains("1 more")),
        "{found:?}"
    );
}

/// Two compose files of one directory that define the same service: an error only
/// when they run side by side (each its own project name, or one includes the
/// other); files of one project are alternatives or phases, which VP106 warns about.
#[test]
fn a_service_in_two_files_is_an_error_only_when_they_run_side_by_side() {
    let file = |name: &str, project: Option<&str>| {
        let text = format!(
            "{}services:\n  app:\n    image: example/app:1.2.3\n",
            project.map(|p| format!("name: {p}\n")).unwrap_or_default()
        );
        vpai_check::SourceFile::new(name, text.into_bytes())
    };
    let rules_of = |files: Vec<vpai_check::SourceFile>| {
        let report = check_files(&files, &CheckOptions::default());
        let mut found: Vec<(String, String)> = report
            .findings
            .iter()
            .map(|f| (f.rule.to_string(), f.severity.as_str().to_string()))
            .collect();
        found.sort();
        found
    };
    let alternatives = rules_of(vec![
        file("docker-compose.yml", None),
        file("docker-compose-queue.yml", None),
    ]);
    assert_eq!(alternatives, [("VP106".to_string(), "warning".to_string())]);
    let side_by_side = rules_of(vec![
        file("docker-compose.yml", Some("app")),
        file("docker-compose-infra.yml", Some("app-infra")),
    ]);
    assert_eq!(side_by_side, [("VP105".to_string(), "error".to_string())]);
    let included = rules_of(vec![
        vpai_check::SourceFile::new(
            "docker-compose.yml",
            b"include:\n  - docker-compose-infra.yml\nservices:\n  app:\n    image: example/app:1.2.3\n".to_vec(),
        ),
        file("docker-compose-infra.yml", None),
    ]);
    assert!(
        included.contains(&("VP105".to_string(), "error".to_string())),
        "{included:?}"
    );
}

/// Two entries of a stack's catalog on one base image: each service is judged by its
/// own entry's facts (the tools of one are not the other's).
#[test]
fn services_on_one_image_are_judged_by_their_own_entry() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    for (name, tools) in [
        ("alpha", "[\"sh\", \"true\"]"),
        ("beta", "[\"sh\", \"test\"]"),
    ] {
        std::fs::write(
            catalog.join(format!("{name}.toml")),
            format!(
                "name = \"{name}\"\ndescription = \"d\"\nphase = \"apps\"\nimage = \"example/base\"\nversion = \"1.0\"\nuid = 0\ngid = 0\ntools = {tools}\nmemory = \"64M\"\nmemory_floor = \"16M\"\nnetworks = [\"backend\"]\ncommand = [\"sleep\", \"infinity\"]\n[healthcheck]\ntest = [\"CMD\", \"true\"]\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  beta:\n    image: example/base:1.0\n    healthcheck:\n      test: [\"CMD\", \"test\", \"-f\", \"/tmp/ok\"]\n",
    )
    .unwrap();
    let paths = [dir.path().to_path_buf()];
    let catalog = vpai_check::catalog_for_paths(&paths).unwrap();
    let loaded = vpai_check::load(&paths).unwrap();
    let report =
        vpai_check::check_files_with_catalog(&loaded.files, &CheckOptions::default(), &catalog);
    assert!(
        !report.findings.iter().any(|f| f.rule == "VP102"),
        "{:?}",
        report.findings
    );
}
