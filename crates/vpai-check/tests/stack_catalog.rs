//! A stack's own `catalog/` folder feeds the rules: its entries' facts (tools in the
//! image, UID, memory floor) are what `vpai check` compares the files with.

use vpai_check::{
    CheckOptions, SourceFile, catalog_for_paths, check_files, check_files_with_catalog,
};

const COMPOSE: &str = r#"services:
  web:
    image: example/web:1.0.0
    healthcheck:
      test: ["CMD", "curl", "-f", "http://127.0.0.1:8080/"]
    mem_limit: 64M
"#;

const WEB: &str = r#"name = "web"
description = "a custom service"
phase = "apps"
image = "example/web"
version = "1.0.0"
uid = 101
gid = 101
tools = ["sh", "wget"]
memory = "256M"
memory_floor = "128M"
networks = ["backend"]
[healthcheck]
test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
"#;

fn rules_of(report: &vpai_check::Report) -> Vec<&str> {
    report.findings.iter().map(|f| f.rule).collect()
}

#[test]
fn a_catalog_folder_next_to_the_checked_files_gives_the_facts() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("docker-compose.yml"), COMPOSE).unwrap();
    let folder = tmp.path().join("catalog/web");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("service.toml"), WEB).unwrap();

    let paths = vec![tmp.path().to_path_buf()];
    let files = vpai_check::load_paths(&paths).unwrap();
    let opts = CheckOptions::default();

    // Without the stack's catalog the image is unknown: nothing to compare with.
    let shipped = check_files(&files, &opts);
    assert!(
        !rules_of(&shipped).contains(&"VP102"),
        "{:?}",
        shipped.findings
    );
    assert!(
        !rules_of(&shipped).contains(&"VP107"),
        "{:?}",
        shipped.findings
    );

    let catalog = catalog_for_paths(&paths).unwrap();
    let report = check_files_with_catalog(&files, &opts, &catalog);
    let rules = rules_of(&report);
    assert!(
        rules.contains(&"VP102"),
        "curl is not in the image: {rules:?}"
    );
    assert!(
        rules.contains(&"VP107"),
        "64M is below the 128M floor: {rules:?}"
    );
}

#[test]
fn the_stack_entry_overrides_a_shipped_one_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("catalog/loki");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("service.toml"),
        "name = \"loki\"\ndescription = \"a Loki with a shell\"\ndeployable = false\nimage = \"grafana/loki\"\nuid = 10001\ngid = 10001\ntools = [\"sh\", \"loki\", \"wget\"]\n",
    )
    .unwrap();
    let compose = "services:\n  loki:\n    image: grafana/loki:3.6.5\n    command: [\"-config.file=/etc/loki/config.yaml\", \"-target=all\"]\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:3100/ready\"]\n";
    let files = vec![SourceFile::new(
        "docker-compose.yml".to_string(),
        compose.as_bytes().to_vec(),
    )];
    let opts = CheckOptions::default();
    let shipped = check_files(&files, &opts);
    assert!(
        rules_of(&shipped).contains(&"VP102"),
        "the shipped Loki is distroless"
    );
    let catalog = catalog_for_paths(&[tmp.path().join("docker-compose.yml")]).unwrap();
    let report = check_files_with_catalog(&files, &opts, &catalog);
    assert!(
        !rules_of(&report).contains(&"VP102"),
        "{:?}",
        report.findings
    );
}

#[test]
fn the_doctor_reads_the_signatures_of_a_stack_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("catalog/web");
    std::fs::create_dir_all(&folder).unwrap();
    let signature = "\n[[doctor]]\nid = \"web-port-taken\"\nall = [\"eaddrinuse\", \"8080\"]\ncause = \"another process holds 8080\"\nfix = \"stop it\"\nrule = \"VP802\"\nseed = \"operator notes\"\nonly_this_service = true\n";
    std::fs::write(folder.join("service.toml"), format!("{WEB}{signature}")).unwrap();
    let catalog = catalog_for_paths(&[tmp.path().to_path_buf()]).unwrap();
    let logs = "starting\nError: listen EADDRINUSE: address already in use :::8080\n";
    let found = vpai_check::doctor::diagnose_with(&catalog, "site_web", logs);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].symptom, "web-port-taken");
    assert_eq!(
        (found[0].line, found[0].rule.as_deref()),
        (2, Some("VP802"))
    );
    // Only for its own service, and unknown to the shipped catalog.
    assert!(vpai_check::doctor::diagnose_with(&catalog, "other", logs).is_empty());
    assert!(vpai_check::doctor::diagnose("site_web", logs).is_empty());
}
