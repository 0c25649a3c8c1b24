use super::*;

#[test]
fn embedded_catalog_parses() {
    let catalog = Catalog::embedded();
    for name in Catalog::profile("core").unwrap() {
        assert!(catalog.get(name).is_some(), "{name} missing from catalog");
    }
}

#[test]
fn healthchecks_never_target_localhost_000_22() {
    for s in Catalog::embedded().services() {
        let joined = s.healthcheck.test.join(" ");
        assert!(!joined.contains("localhost"), "{}: {joined}", s.name);
    }
}

#[test]
fn healthchecks_only_call_tools_the_image_has_000_11() {
    for s in Catalog::embedded().services() {
        let test = &s.healthcheck.test;
        let binary = match test[0].as_str() {
            "CMD" => test[1].clone(),
            "CMD-SHELL" => test[1].split_whitespace().next().unwrap().to_string(),
            other => panic!("{}: unexpected healthcheck kind {other}", s.name),
        };
        assert!(
            s.tools.contains(&binary),
            "{}: {binary} not in image",
            s.name
        );
    }
}

#[test]
fn pg18_volume_path_000_8() {
    let pg = Catalog::embedded().get("postgresql").cloned().unwrap();
    assert!(pg.volumes.iter().any(|v| v.target == "/var/lib/postgresql"));
    for cap in ["CHOWN", "SETGID", "SETUID", "DAC_OVERRIDE", "FOWNER"] {
        assert!(pg.cap_add.iter().any(|c| c == cap), "missing {cap}");
    }
}

#[test]
fn no_latest_tags() {
    for s in Catalog::embedded().services() {
        assert_ne!(s.version, "latest", "{}", s.name);
    }
}

#[test]
fn image_repository_strips_tag_and_digest() {
    assert_eq!(image_repository("postgres:18.1"), "postgres");
    assert_eq!(
        image_repository("localhost:5000/x/y:1"),
        "localhost:5000/x/y"
    );
    assert_eq!(image_repository("localhost:5000/x/y"), "localhost:5000/x/y");
    assert_eq!(image_repository("a/b@sha256:00"), "a/b");
}

#[test]
fn unknown_key_in_custom_entry_is_an_error_at_file_line_column() {
    let err = parse_entry("x.toml", "name = \"x\"\nnmae = 1\n").unwrap_err();
    assert!(err.to_string().starts_with("x.toml:2:1: "), "{err}");
    assert!(err.to_string().contains("nmae"), "{err}");
    match err {
        CatalogError::Invalid { span, line, .. } => {
            assert!(span.is_some());
            assert_eq!(line, 2);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn unknown_key_in_a_facts_only_section_is_an_error_too() {
    let text = "name = \"x\"\ndescription = \"d\"\ndeployable = false\nimage = \"x/x\"\nuid = 1\ngid = 1\n[lint]\ntag_stlye = \"v\"\n";
    let err = parse_entry("catalog/x/service.toml", text).unwrap_err();
    assert!(
        err.to_string().starts_with("catalog/x/service.toml:8:1: "),
        "{err}"
    );
}

#[test]
fn a_bad_memory_size_is_an_error_where_it_is_written() {
    let shipped = EMBEDDED.iter().find(|s| s.name == "redis").unwrap().files;
    let text = shipped.iter().find(|(p, _)| *p == SERVICE_FILE).unwrap().1;
    let broken = text.replace("memory = \"512M\"", "memory = \"512Q\"");
    let err = parse_entry("redis.toml", &broken).unwrap_err();
    let line = broken
        .lines()
        .position(|l| l.starts_with("memory ="))
        .unwrap()
        + 1;
    assert!(
        err.to_string().starts_with(&format!("redis.toml:{line}:")),
        "{err}"
    );
    assert!(err.to_string().contains("512Q"), "{err}");
}

#[test]
fn every_config_template_is_in_its_folder() {
    let catalog = Catalog::embedded();
    for s in catalog.services() {
        for c in &s.configs {
            assert!(s.template_text(c).is_some(), "{}: {}", s.name, c.template);
        }
    }
    assert!(catalog.get("postgresql").unwrap().files["provision.sql.j2"].contains("CREATE ROLE"));
}

#[test]
fn facts_only_services_are_known_but_not_deployable() {
    let catalog = Catalog::embedded();
    let facts: Vec<&str> = catalog.facts_only().map(|f| f.name.as_str()).collect();
    for name in [
        "loki",
        "alloy",
        "victoriametrics",
        "grafana",
        "cadvisor",
        "openclaw",
        "diun",
    ] {
        assert!(facts.contains(&name), "{name} has no facts");
        assert!(catalog.get(name).is_none(), "{name} must not be deployable");
    }
    // seed 001 §8.1 and seed 000 #17: VictoriaMetrics runs as 1000.
    let vm = catalog
        .facts_only()
        .find(|f| f.name == "victoriametrics")
        .unwrap();
    assert_eq!((vm.uid, vm.gid), (1000, 1000));
}

#[test]
fn a_folder_adds_a_service_with_its_template() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let folder = dir.join("catalog/web");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(SERVICE_FILE), WEB).unwrap();
    std::fs::write(folder.join("web.conf.j2"), "listen {{ service.name }}\n").unwrap();
    let mut catalog = Catalog::embedded();
    let added = catalog.load_dir(&dir.join("catalog")).unwrap();
    assert_eq!(added, ["web"]);
    let web = catalog.get("web").unwrap();
    assert_eq!(
        web.template_text(&web.configs[0]),
        Some("listen {{ service.name }}\n")
    );
    assert_eq!(web.doctor[0].id, "web-crash");
}

#[test]
fn a_flat_file_still_adds_a_service_and_an_override_keeps_shipped_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let catalog_dir = dir.join("catalog");
    std::fs::create_dir_all(catalog_dir.join("redis")).unwrap();
    std::fs::write(catalog_dir.join("web.toml"), WEB).unwrap();
    std::fs::write(catalog_dir.join("web.conf.j2"), "flat\n").unwrap();
    let shipped = Catalog::embedded();
    let redis = shipped.get("redis").unwrap();
    let text = EMBEDDED.iter().find(|s| s.name == "redis").unwrap().files;
    let text = text.iter().find(|(p, _)| *p == SERVICE_FILE).unwrap().1;
    std::fs::write(
        catalog_dir.join("redis").join(SERVICE_FILE),
        text.replace("memory = \"512M\"", "memory = \"768M\""),
    )
    .unwrap();
    let mut catalog = shipped.clone();
    catalog.load_dir(&catalog_dir).unwrap();
    let web = catalog.get("web").unwrap();
    assert_eq!(web.template_text(&web.configs[0]), Some("flat\n"));
    let over = catalog.get("redis").unwrap();
    assert_eq!(over.memory.as_str(), "768M");
    assert_eq!(
        over.files, redis.files,
        "templates come from the shipped folder"
    );
}

#[test]
fn a_folder_whose_name_differs_from_the_entry_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("catalog/other")).unwrap();
    std::fs::write(dir.join("catalog/other").join(SERVICE_FILE), WEB).unwrap();
    let err = Catalog::embedded()
        .load_dir(&dir.join("catalog"))
        .unwrap_err();
    assert!(matches!(err, CatalogError::NameMismatch { .. }), "{err}");
}

#[test]
fn a_template_nobody_has_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("catalog/web")).unwrap();
    std::fs::write(dir.join("catalog/web").join(SERVICE_FILE), WEB).unwrap();
    let err = Catalog::embedded()
        .load_dir(&dir.join("catalog"))
        .unwrap_err();
    assert!(err.to_string().contains("web.conf.j2"), "{err}");
}

#[test]
fn one_service_provides_databases() {
    let catalog = Catalog::embedded();
    let providers: Vec<&str> = catalog
        .services()
        .filter(|s| s.provides_databases.is_some())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(providers, ["postgresql"]);
}

#[test]
fn profiles_are_data() {
    assert_eq!(Catalog::profile("core").unwrap().len(), 6);
    assert!(Catalog::profile("nope").is_none());
}

const WEB: &str = r#"name = "web"
description = "a custom service"
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
test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
[[configs]]
template = "web.conf.j2"
path = "configs/web/web.conf"
target = "/etc/web.conf"
[[doctor]]
id = "web-crash"
all = ["web crashed"]
cause = "it crashed"
fix = "restart it"
seed = "none"
"#;

#[test]
fn a_signature_that_matches_every_line_is_refused() {
    let text = WEB.replace("all = [\"web crashed\"]", "all = []");
    let err = parse_entry("web/service.toml", &text).unwrap_err();
    assert!(err.to_string().contains("web-crash"), "{err}");
}

#[test]
fn a_database_script_must_be_one_of_the_configs() {
    let text = format!("{WEB}[provides_databases]\nscript = \"configs/web/nope.sql\"\n");
    let err = parse_entry("web/service.toml", &text).unwrap_err();
    assert!(err.to_string().contains("configs/web/nope.sql"), "{err}");
}

#[test]
fn file_patterns_match_names_with_stars() {
    let pattern = |name: &str| FilePattern {
        name: name.into(),
        dir: None,
        yaml: false,
        top_keys: Vec::new(),
        format: FileFormat::RedisConf,
    };
    assert!(pattern("redis*.conf").name_matches("redis.conf"));
    assert!(pattern("redis*.conf").name_matches("redis-8.conf"));
    assert!(!pattern("redis*.conf").name_matches("myredis.conf"));
    assert!(pattern("*loki*").name_matches("loki-config.yaml"));
    assert!(pattern("*").name_matches(""));
    assert!(!pattern("openclaw.json").name_matches("openclaw.json5"));
}
