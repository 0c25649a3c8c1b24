//! One fixture pair per rule: the smallest file that triggers it, and the smallest
//! that does not (and triggers nothing at all). Human output of every `bad` side is
//! snapshot-tested; every autofix is checked to remove its finding.

mod common;

use common::{fixtures_dir, load_dir};
use vpai_check::{CheckOptions, check_files, fix, rules};

fn fixture(rule: &rules::Rule, side: &str) -> Vec<vpai_check::SourceFile> {
    let dir = fixtures_dir()
        .join(format!("{}-{}", rule.id, rule.name))
        .join(side);
    assert!(dir.is_dir(), "missing fixture {}", dir.display());
    load_dir(&dir)
}

#[test]
fn every_rule_fires_on_its_bad_fixture() {
    let mut failures = Vec::new();
    for rule in rules::ALL {
        let files = fixture(rule, "bad");
        let report = check_files(&files, &CheckOptions::default());
        if !report.findings.iter().any(|f| f.rule == rule.id) {
            failures.push(format!(
                "{} {}: not found in {:?}",
                rule.id, rule.name, report.findings
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn good_fixtures_are_clean() {
    let mut failures = Vec::new();
    for rule in rules::ALL {
        let files = fixture(rule, "good");
        let report = check_files(&files, &CheckOptions::default());
        if !report.findings.is_empty() {
            let human = report.render_human(&files, false);
            failures.push(format!("{} {}:\n{human}", rule.id, rule.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn autofixes_remove_their_finding() {
    for rule in rules::ALL.iter().filter(|r| r.autofix) {
        let mut files = fixture(rule, "bad");
        let report = check_files(&files, &CheckOptions::default());
        let applied = fix(&mut files, &report);
        assert!(
            applied.iter().any(|a| a.rule == rule.id),
            "{}: no fix applied ({:?})",
            rule.id,
            report.findings
        );
        let again = check_files(&files, &CheckOptions::default());
        assert!(
            !again.findings.iter().any(|f| f.rule == rule.id),
            "{}: still found after --fix:\n{}",
            rule.id,
            again.render_human(&files, false)
        );
    }
}

#[test]
fn human_output_of_bad_fixtures() {
    for rule in rules::ALL {
        let files = fixture(rule, "bad");
        let report = check_files(&files, &CheckOptions::default());
        let human = report.render_human(&files, false);
        insta::assert_snapshot!(format!("{}-{}", rule.id, rule.name), human);
    }
}

#[test]
fn allow_drops_a_rule() {
    let rule = rules::find("healthcheck-localhost").unwrap();
    let files = fixture(rule, "bad");
    let opts = CheckOptions {
        allow: vec!["VP101".into()],
        ..Default::default()
    };
    let report = check_files(&files, &opts);
    assert!(!report.findings.iter().any(|f| f.rule == "VP101"));
    assert_eq!(report.allowed, 1);
}

#[test]
fn ids_and_names_are_unique_and_explained() {
    let mut ids: Vec<_> = rules::ALL.iter().map(|r| r.id).collect();
    let mut names: Vec<_> = rules::ALL.iter().map(|r| r.name).collect();
    ids.sort();
    ids.dedup();
    names.sort();
    names.dedup();
    assert_eq!(ids.len(), rules::ALL.len());
    assert_eq!(names.len(), rules::ALL.len());
    for r in rules::ALL {
        assert!(
            r.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        let text = vpai_check::explain(r.name).unwrap();
        assert!(text.starts_with(r.id), "{text}");
        // Traced to our documents in the registry, never shown to operators.
        assert!(r.seed.contains("seed"), "{}: {}", r.id, r.seed);
        assert!(!text.contains("seed 0"), "{}: {text}", r.id);
    }
    assert!(vpai_check::explain("VP999").is_none());
}

#[test]
fn json_and_sarif_are_valid() {
    let rule = rules::find("VP201").unwrap();
    let files = fixture(rule, "bad");
    let report = check_files(&files, &CheckOptions::default());
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["findings"][0]["rule"], "VP201");
    assert_eq!(json["findings"][0]["line"], 5);
    let sarif: serde_json::Value = serde_json::from_str(&report.to_sarif()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "VP201");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );
    let index = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][index]["id"],
        "VP201"
    );
}

/// seed 000 #19: a file with an invalid escape is refused by YAML parsers, but the
/// rest of the file is still checked (the escape is blanked for a second parse).
#[test]
fn yaml_escape_000_19_does_not_hide_other_traps() {
    let files = vec![vpai_check::SourceFile::new(
        "docker-compose.yml",
        "services:\n  pg:\n    image: postgres:18.1-bookworm\n    labels:\n      re: \"^\\d+$\"\n    volumes:\n      - ./d:/var/lib/postgresql/data\n",
    )];
    let report = check_files(&files, &CheckOptions::default());
    let rules: Vec<_> = report.findings.iter().map(|f| f.rule).collect();
    assert_eq!(rules, vec!["VP401", "VP201"]);
}

/// seed 000 #22 and #11 together, fixed in one `--fix` run, CRLF too.
#[test]
fn fixes_compose_with_crlf_000_22() {
    let mut files = vec![vpai_check::SourceFile::new(
        "docker-compose.yml",
        "services:\r\n  vm:\r\n    image: victoriametrics/victoria-metrics:v1.118.0\r\n    healthcheck:\r\n      test: [\"CMD\", \"wget\", \"-qO-\", \"http://localhost:8428/health\"]\r\n",
    )];
    let report = check_files(&files, &CheckOptions::default());
    let applied = fix(&mut files, &report);
    assert_eq!(applied.len(), 2, "{applied:?}");
    let text = String::from_utf8(files[0].text.clone()).unwrap();
    assert!(!text.contains('\r'));
    assert!(text.contains("http://127.0.0.1:8428/health"));
    assert!(
        check_files(&files, &CheckOptions::default())
            .findings
            .is_empty()
    );
}

/// With `--inspect-images`, what the image really contains wins over the catalog.
#[test]
fn inspected_image_overrides_catalog() {
    struct Fake;
    impl vpai_check::ImageInspector for Fake {
        fn programs(&self, _image: &str) -> Option<Vec<String>> {
            Some(vec!["sh".into(), "bash".into(), "wget".into()])
        }
        fn is_local(&self, _image: &str) -> Option<bool> {
            Some(true)
        }
    }
    let rule = rules::find("VP102").unwrap();
    let files = fixture(rule, "bad");
    let knowledge = vpai_check::Knowledge::embedded();
    let report =
        vpai_check::check_files_with(&files, &CheckOptions::default(), &knowledge, Some(&Fake));
    let found: Vec<_> = report.findings.iter().map(|f| f.rule).collect();
    // wget is there after all; but the image is local and has no pull_policy.
    assert_eq!(found, vec!["VP702"]);
}
