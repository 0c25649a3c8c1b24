use super::*;
use std::path::Path;

fn parse(text: &str) -> Result<StackFile, SpecError> {
    StackFile::parse(Path::new("stack.toml"), text.to_string())
}

#[test]
fn example_parses() {
    let f = StackFile::example();
    assert_eq!(f.spec.project.name.get_ref(), "demo");
}

#[test]
fn unknown_key_names_line_column_and_suggests() {
    let err = parse("[project]\nname = \"x\"\ndomian = \"a.b\"\n").unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:3:1"));
    let SpecError::Invalid { help, .. } = &err else {
        panic!()
    };
    assert_eq!(help.as_deref(), Some("did you mean `domain`?"));
}

#[test]
fn bad_locale_is_refused_with_icu_hint_000_9() {
    let err =
        parse("[project]\nname = \"x\"\ndomain = \"a.b\"\nlocale = \"fr_FR.UTF-8\"\n").unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:4:10"));
}

#[test]
fn latest_is_refused() {
    let err =
        parse("[project]\nname = \"x\"\ndomain = \"a.b\"\n[services.n8n]\nversion = \"latest\"\n")
            .unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:11"));
}

#[test]
fn memory_parses() {
    assert_eq!(parse_memory("512M"), Some(512 << 20));
    assert_eq!(parse_memory("2G"), Some(2 << 30));
    assert_eq!(parse_memory("2X"), None);
    assert_eq!(parse_memory("M"), None);
}

#[test]
fn subdomain_with_path_is_refused_001_6_3() {
    let err =
        parse("[project]\nname = \"x\"\ndomain = \"a.b\"\n[services.n8n]\nsubdomain = \"a/n8n\"\n")
            .unwrap_err();
    assert!(err.to_string().contains("not a subdomain"));
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(diagnostic::line_col("ab\ncé d", 6), (2, 3));
}
