//! stack.toml arrives through pull requests: no value in it may become a directive, a
//! site, a key or a line in another file's syntax. Every value that reaches a rendered
//! file is replaced by arbitrary strings; either the spec or the model refuses it with
//! an error that points into the file (never a panic), or the whole stack renders and
//! every file has the shape of the unmodified stack's rendering: the same YAML keys,
//! the same Caddy sites and global options, the same postgresql.conf settings, the
//! same env-file variables, and the value itself comes back literally.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;
use vpai_catalog::Catalog;
use vpai_model::{BuildOptions, build};
use vpai_render::{Rendered, TemplateSource, render};
use vpai_spec::{SpecError, StackFile, values::toml_str};
use vpai_vault::{SecretOrigin, SecretStore};

/// A stack in which every value that reaches a file is set, each as a placeholder.
const TEMPLATE: &str = r#"[project]
name = @NAME@
domain = @DOMAIN@
profile = "core"
tls = "acme"
acme_email = @EMAIL@
timezone = @TZ@
locale = @LOCALE@
subnet = @SUBNET@

[services.n8n]
subdomain = @SUB@
version = @VERSION@
memory = @MEMORY@

[services.n8n.env]
@ENVKEY@ = @ENVVALUE@

[images]
redis = @IMAGE@
"#;

/// (placeholder, the unmodified value, other valid values)
const FIELDS: &[(&str, &[&str])] = &[
    ("@NAME@", &["demo", "a", "stack-1", "x_y"]),
    ("@DOMAIN@", &["example.com", "localhost", "a-b.example.org"]),
    ("@EMAIL@", &["ops@example.com", "a.b+c@x.io"]),
    ("@TZ@", &["Europe/Paris", "UTC", "Etc/GMT+5"]),
    ("@LOCALE@", &["fr-FR", "en-US", "de-CH-u-co-phonebk"]),
    (
        "@SUBNET@",
        &["172.20.0.0/16", "10.9.0.0/16", "192.168.0.0/16"],
    ),
    ("@SUB@", &["n8n", "flows", "a-1"]),
    ("@VERSION@", &["2.7.3", "18.1-bookworm", "v1_2"]),
    ("@MEMORY@", &["1024M", "2G", "786432K"]),
    ("@ENVKEY@", &["MY_SETTING", "_X", "A1"]),
    ("@ENVVALUE@", &["plain", "$HOME ${X:-1} #x \"y\" a\\b", ""]),
    (
        "@IMAGE@",
        &[
            "mirror/redis:8",
            "registry.example.com:5000/r/redis:8",
            "redis",
        ],
    ),
];

/// A TOML basic string written by hand (a key cannot be a multi-line string, which
/// the serializer picks for a value with a line break).
fn basic_key(key: &str) -> String {
    let mut out = String::from("\"");
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn stack_text(field: &str, value: &str) -> String {
    let mut text = TEMPLATE.to_string();
    for (placeholder, valid) in FIELDS {
        let v = if *placeholder == field {
            value
        } else {
            valid[0]
        };
        let lit = if *placeholder == "@ENVKEY@" {
            basic_key(v)
        } else {
            toml_str(v)
        };
        text = text.replace(placeholder, &lit);
    }
    text
}

/// Fixed secrets, the same for every rendering.
fn secrets(stack: &vpai_model::Stack) -> SecretStore {
    let mut store = SecretStore::in_memory();
    for (_, def) in stack.secret_defs() {
        if !def.external {
            store.set(
                &def.name,
                format!("{}TEST-{}", def.prefix, def.name),
                SecretOrigin::Generated,
            );
        }
    }
    store
}

enum Outcome {
    /// Refused with an error that points into the file.
    Refused,
    Rendered(Box<Rendered>),
}

fn spanned(err: SpecError) -> Result<Outcome, TestCaseError> {
    match &err {
        SpecError::Invalid { location, .. } if location.starts_with("stack.toml:") => {
            Ok(Outcome::Refused)
        }
        _ => Err(TestCaseError::fail(format!(
            "refused without a location: {err}"
        ))),
    }
}

fn outcome(field: &str, value: &str) -> Result<Outcome, TestCaseError> {
    let text = stack_text(field, value);
    let file = match StackFile::parse(Path::new("stack.toml"), text) {
        Ok(f) => f,
        Err(e) => return spanned(e),
    };
    let stack = match build(&file, &Catalog::embedded(), &BuildOptions::default()) {
        Ok(s) => s,
        Err(e) => return spanned(e),
    };
    let store = secrets(&stack);
    match render(&stack, &store, &TemplateSource::embedded()) {
        Ok(r) => Ok(Outcome::Rendered(Box::new(r))),
        Err(e) => Err(TestCaseError::fail(format!(
            "accepted by the spec and the model, but rendering failed: {e}"
        ))),
    }
}

/// What a rendering looks like, values aside.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    paths: BTreeSet<String>,
    /// YAML file -> its top-level keys, and `services.*` / `networks.*` keys.
    yaml: BTreeMap<String, BTreeSet<String>>,
    caddy_sites: usize,
    caddy_globals: Vec<String>,
    postgres_keys: BTreeSet<String>,
    /// env file -> variable names.
    env_keys: BTreeMap<String, BTreeSet<String>>,
    /// Files that are neither YAML nor env files -> number of lines.
    lines: BTreeMap<String, usize>,
}

fn yaml_keys(path: &str, text: &str) -> Result<BTreeSet<String>, String> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("{path} is not YAML: {e}"))?;
    let mut keys = BTreeSet::new();
    let Some(top) = doc.as_object() else {
        return Err(format!("{path} is not a mapping"));
    };
    for (k, v) in top {
        keys.insert(k.clone());
        if k == "services" || k == "networks" {
            for (name, body) in v.as_object().into_iter().flatten() {
                keys.insert(format!("{k}.{name}"));
                for field in body.as_object().into_iter().flatten().map(|(f, _)| f) {
                    keys.insert(format!("{k}.{name}.{field}"));
                }
            }
        }
    }
    Ok(keys)
}

/// Site blocks and global option names of a Caddyfile.
fn caddy_shape(text: &str) -> (usize, Vec<String>) {
    let mut sites = 0;
    let mut globals = Vec::new();
    let mut in_globals = false;
    let mut depth = 0i32;
    for line in text.lines() {
        let trimmed = line.trim();
        if depth == 0 && !line.starts_with([' ', '\t']) && trimmed.ends_with('{') {
            if trimmed == "{" {
                in_globals = true;
            } else if !trimmed.starts_with('(') {
                sites += 1;
            }
        }
        if in_globals && depth == 1 && !trimmed.is_empty() && !trimmed.starts_with('}') {
            globals.push(trimmed.split_whitespace().next().unwrap_or("").to_string());
        }
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        if depth == 0 {
            in_globals = false;
        }
    }
    (sites, globals)
}

fn postgres_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('=').next().unwrap_or("").trim().to_string())
        .collect()
}

/// An env file read the way Compose v2 (compose-go's dotenv parser) reads it: a
/// statement may start anywhere after the previous one, a single-quoted value runs to
/// the next quote not preceded by a backslash (across lines), a backslash before the
/// quote is dropped and any other backslash kept. Unquoted or double-quoted values
/// would be interpolated: vpai never writes them, so they are errors here.
fn read_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        if b[i] == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b'\n' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("a line without `=`: {:?}", &text[start..i]));
        }
        let key = text[start..i].trim().to_string();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_alphanumeric() || "_.-[]".contains(c))
        {
            return Err(format!("compose would refuse the name {key:?}"));
        }
        i += 1;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if b.get(i) != Some(&b'\'') {
            return Err(format!(
                "{key} is not single-quoted: compose interpolates it"
            ));
        }
        i += 1;
        let mut value = Vec::new();
        let mut escaped = false;
        let mut closed = false;
        while i < b.len() {
            let c = b[i];
            i += 1;
            if c != b'\'' {
                if !escaped && c == b'\\' {
                    escaped = true;
                    continue;
                }
                if escaped {
                    escaped = false;
                    value.push(b'\\');
                }
                value.push(c);
                continue;
            }
            if escaped {
                escaped = false;
                value.push(c);
                continue;
            }
            closed = true;
            break;
        }
        if !closed {
            return Err(format!("the value of {key} is not terminated"));
        }
        out.push((key, String::from_utf8(value).map_err(|e| e.to_string())?));
    }
}

fn shape(r: &Rendered) -> Result<Shape, String> {
    let mut s = Shape {
        paths: BTreeSet::new(),
        yaml: BTreeMap::new(),
        caddy_sites: 0,
        caddy_globals: Vec::new(),
        postgres_keys: BTreeSet::new(),
        env_keys: BTreeMap::new(),
        lines: BTreeMap::new(),
    };
    for a in &r.artifacts {
        let text = a.text();
        s.paths.insert(a.path.clone());
        if a.path.ends_with(".yml") || a.path.ends_with(".yaml") {
            s.yaml.insert(a.path.clone(), yaml_keys(&a.path, &text)?);
            continue;
        }
        if a.path.ends_with(".env") {
            let entries = read_env(&text).map_err(|e| format!("{}: {e}", a.path))?;
            let keys: BTreeSet<String> = entries.iter().map(|(k, _)| k.clone()).collect();
            if keys.len() != entries.len() {
                return Err(format!("{}: a variable is set twice", a.path));
            }
            s.env_keys.insert(a.path.clone(), keys);
            continue;
        }
        if a.path.ends_with("Caddyfile") {
            (s.caddy_sites, s.caddy_globals) = caddy_shape(&text);
        }
        if a.path.ends_with("postgresql.conf") {
            s.postgres_keys = postgres_keys(&text);
        }
        if !a.path.ends_with(".json") {
            s.lines.insert(a.path.clone(), text.lines().count());
        }
    }
    Ok(s)
}

/// The operator's `MY_SETTING`, as compose reads it back.
fn operator_value(r: &Rendered) -> Option<String> {
    let text = r.get("env/n8n.env")?.text().to_string();
    read_env(&text)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == "MY_SETTING").then_some(v))
}

fn baseline() -> &'static Shape {
    static BASE: OnceLock<Shape> = OnceLock::new();
    BASE.get_or_init(|| match outcome("", "") {
        Ok(Outcome::Rendered(r)) => shape(&r).expect("the unmodified stack has a shape"),
        _ => panic!("the unmodified stack renders"),
    })
}

/// Ok(true): rendered with the right shape; Ok(false): refused with a location.
fn check(field: &str, value: &str) -> Result<bool, TestCaseError> {
    let r = match outcome(field, value)? {
        Outcome::Refused => return Ok(false),
        Outcome::Rendered(r) => r,
    };
    let got = shape(&r).map_err(TestCaseError::fail)?;
    let want = baseline();
    prop_assert_eq!(&got.paths, &want.paths);
    prop_assert_eq!(&got.yaml, &want.yaml);
    prop_assert_eq!(got.caddy_sites, want.caddy_sites);
    prop_assert_eq!(&got.caddy_globals, &want.caddy_globals);
    prop_assert_eq!(&got.postgres_keys, &want.postgres_keys);
    prop_assert_eq!(&got.lines, &want.lines);
    if field == "@ENVKEY@" {
        // The one operator variable is named as written; the others are the catalog's.
        let mut keys = want.env_keys.clone();
        let n8n = keys.get_mut("env/n8n.env").expect("n8n has an env file");
        n8n.remove("MY_SETTING");
        n8n.insert(value.to_string());
        prop_assert_eq!(&got.env_keys, &keys);
    } else {
        prop_assert_eq!(&got.env_keys, &want.env_keys);
    }
    if field == "@ENVVALUE@" {
        let v = operator_value(&r).expect("the operator's variable is there");
        prop_assert_eq!(v, value, "the value does not come back literally");
    }
    // Compose interpolates `$`: every `$` of a compose file is an escaped one.
    for file in ["docker-compose.yml", "docker-compose-infra.yml"] {
        let text = r.get(file).expect("compose file").text().replace("$$", "");
        prop_assert!(!text.contains('$'), "{} has an unescaped `$`", file);
    }
    Ok(true)
}

/// Arbitrary text, text made of the characters that mean something in the files
/// vpai writes, and valid values with such characters around them.
fn hostile(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    let meta = "[a-zA-Z0-9 ._:/@$%+{}#'\"\\\\\n\r\t\u{0}\u{1b}\u{85}\u{2028}=;()-]";
    // Pieces of syntax of the files vpai writes.
    const TOKENS: &[&str] = &[
        "\\",
        "$",
        "${X:-1}",
        "$$",
        "#",
        "\"",
        "'",
        "\n",
        "\r",
        "\0",
        "\t",
        " ",
        "{",
        "}",
        ";",
        ":",
        "/",
        "@",
        "..",
        "-",
        "=",
        "\n\tadmin :2019",
        "\nEVIL=1",
        "'\nfsync = off",
    ];
    prop_oneof![
        1 => any::<String>(),
        2 => proptest::string::string_regex(&format!("{meta}{{0,24}}")).expect("regex"),
        3 => (
            select(valid),
            proptest::collection::vec(select(TOKENS), 1..3),
            any::<bool>()
        )
            .prop_map(|(v, tokens, before)| {
                let extra = tokens.concat();
                if before {
                    format!("{extra}{v}")
                } else {
                    format!("{v}{extra}")
                }
            }),
        1 => select(valid).prop_map(str::to_string),
    ]
}

fn fuzz(field: &'static str) {
    let valid = FIELDS
        .iter()
        .find(|(p, _)| *p == field)
        .map(|(_, v)| *v)
        .expect("a known field");
    let _ = baseline();
    // 64 cases per value keeps the suite fast; PROPTEST_CASES asks for more.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&hostile(valid), |value| check(field, &value).map(drop)) {
        panic!("{field}: {e}");
    }
}

#[test]
fn baseline_renders_every_value_as_written() {
    let base = baseline();
    assert_eq!(base.caddy_sites, 4, "{base:?}");
    assert!(
        base.caddy_globals.contains(&"email".to_string()),
        "{base:?}"
    );
    assert!(base.postgres_keys.contains("timezone"));
    assert!(base.env_keys["env/n8n.env"].contains("MY_SETTING"));
    // Every valid value renders.
    for (field, valid) in FIELDS {
        for v in *valid {
            let result = check(field, v);
            assert!(matches!(result, Ok(true)), "{field} = {v:?}: {result:?}");
        }
    }
}

#[test]
fn reported_values_are_refused_with_a_location() {
    let mut missed = Vec::new();
    for (field, value) in [
        ("@EMAIL@", "ops@example.com\n\tadmin 0.0.0.0:2019"),
        ("@TZ@", "Not/A Zone; $(id)"),
        ("@IMAGE@", "postgres:${TAG:-18}"),
        ("@VERSION@", "${TAG:-18}"),
        ("@MEMORY@", "17179869185G"),
        ("@SUBNET@", "127.0.0.0/16"),
        ("@DOMAIN@", "ex..ample.com"),
        ("@ENVVALUE@", "x\nN8N_ENCRYPTION_KEY=known"),
        ("@ENVVALUE@", "x\\"),
        ("@ENVKEY@", "A=B"),
        ("@NAME@", "it's"),
        ("@LOCALE@", "fr-FR'\nfsync = off"),
        ("@SUB@", "n8n.localhost {\n}\nevil.example.com"),
        ("@NAME@", &"a".repeat(33)),
    ] {
        if !matches!(outcome(field, value), Ok(Outcome::Refused)) {
            missed.push(format!("{field} = {value:?}"));
        }
    }
    assert!(
        missed.is_empty(),
        "not refused with a location: {missed:#?}"
    );
}

#[test]
fn hostile_project_name() {
    fuzz("@NAME@");
}

#[test]
fn hostile_domain() {
    fuzz("@DOMAIN@");
}

#[test]
fn hostile_acme_email() {
    fuzz("@EMAIL@");
}

#[test]
fn hostile_timezone() {
    fuzz("@TZ@");
}

#[test]
fn hostile_locale() {
    fuzz("@LOCALE@");
}

#[test]
fn hostile_subnet() {
    fuzz("@SUBNET@");
}

#[test]
fn hostile_subdomain() {
    fuzz("@SUB@");
}

#[test]
fn hostile_version() {
    fuzz("@VERSION@");
}

#[test]
fn hostile_memory() {
    fuzz("@MEMORY@");
}

#[test]
fn hostile_env_key() {
    fuzz("@ENVKEY@");
}

#[test]
fn hostile_env_value() {
    fuzz("@ENVVALUE@");
}

#[test]
fn hostile_image() {
    fuzz("@IMAGE@");
}
