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
fn unknown_key_in_custom_entry_is_an_error_with_span() {
    let err = parse_entry("x.toml", "name = \"x\"\nnmae = 1\n").unwrap_err();
    match err {
        CatalogError::Invalid { span, .. } => assert!(span.is_some()),
        other => panic!("{other}"),
    }
}
