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

const BASE: &str = "[project]\nname = \"x\"\ndomain = \"example.com\"\n";

/// Parse BASE with `line` added to `[project]` (or after it, when it opens a table).
fn with(line: &str) -> Result<StackFile, SpecError> {
    parse(&format!("{BASE}{line}\n"))
}

/// The error's `path:line:column` and message, asserting it points into the file.
fn refused(line: &str) -> (String, String) {
    let err = with(line).expect_err(line);
    let location = err.location().expect("a spanned error").to_string();
    (location, err.to_string())
}

fn lit(s: &str) -> String {
    values::toml_str(s)
}

#[test]
fn acme_email_cannot_add_a_caddy_global_option() {
    // Reported: this opened Caddy's admin API on every interface.
    let (loc, msg) = refused(&format!(
        "acme_email = {}",
        lit("ops@example.com\n\tadmin 0.0.0.0:2019")
    ));
    assert_eq!(loc, "stack.toml:4:14");
    assert!(msg.contains("control character"), "{msg}");
    for bad in [
        "ops@example.com admin",
        "ops@example.com}",
        "{ops}@example.com",
        "ops\"@example.com",
        "ops#@example.com",
        "ops@example.com#x",
        "ops@@example.com",
        "ops@",
        "@example.com",
        "ops.@example.com",
        "o..ps@example.com",
        "ops@-example.com",
        "ops@exa_mple.com",
        "ops@{$HOST}",
        "ops",
    ] {
        let (loc, msg) = refused(&format!("acme_email = {}", lit(bad)));
        assert_eq!(loc, "stack.toml:4:14", "{bad}");
        assert!(msg.contains("not an e-mail address"), "{bad}: {msg}");
    }
    for good in [
        "ops@example.com",
        "first.last+vpai@mail.example.co.uk",
        "a_b-c%d@x.io",
    ] {
        let f = with(&format!("acme_email = {}", lit(good))).expect(good);
        assert_eq!(f.spec.project.acme_email.unwrap().get_ref(), good);
    }
}

#[test]
fn timezone_must_be_a_tz_database_name() {
    // Reported: this landed in postgresql.conf.
    let (loc, msg) = refused(&format!("timezone = {}", lit("Not/A Zone; $(id)")));
    assert_eq!(loc, "stack.toml:4:12");
    assert!(msg.contains("not a known time zone"), "{msg}");
    let err = with("timezone = \"Europe/Pari\"").unwrap_err();
    let SpecError::Invalid { help, .. } = &err else {
        panic!()
    };
    assert_eq!(help.as_deref(), Some("did you mean `Europe/Paris`?"));
    for good in [
        "UTC",
        "Europe/Paris",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+5",
    ] {
        with(&format!("timezone = {}", lit(good))).expect(good);
    }
    for bad in ["", "Europe/Paris\n", "'UTC'", "Europe/../Paris", "utc'; x"] {
        refused(&format!("timezone = {}", lit(bad)));
    }
}

#[test]
fn image_references_follow_the_reference_grammar() {
    let good = [
        "postgres",
        "mirror/redis:8",
        "vpai-test/caddy:latest",
        "registry.example.com:5000/team/postgres:18.1-bookworm",
        "localhost/a__b/c-d.e:v1_2",
        "ghcr.io/berriai/litellm@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "docker.n8n.io/n8nio/n8n:2.7.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ];
    for image in good {
        values::check_image(image).expect(image);
        with(&format!("[images]\nredis = {}", lit(image))).expect(image);
    }
    let bad = [
        "postgres:${TAG:-18}",
        "postgres:$TAG",
        "$REGISTRY/postgres",
        "Postgres",
        "team/Postgres:1",
        "a//b",
        "/a",
        "a/",
        "x:",
        ":1",
        "x:-1",
        "x@sha256:abc",
        "x@md5:0123456789abcdef0123456789abcdef",
        " x",
        "x y",
        "-x",
        "x-",
        "a..b",
        "a___b",
        "reg.io:port/x",
        "x\n",
        "x:1\nimage: evil",
        "",
    ];
    for image in bad {
        assert!(values::check_image(image).is_err(), "{image:?} accepted");
        let (loc, msg) = refused(&format!("[images]\nredis = {}", lit(image)));
        assert_eq!(loc, "stack.toml:5:9", "{image:?}");
        assert!(msg.contains("not an image reference"), "{msg}");
    }
}

#[test]
fn version_follows_the_tag_grammar() {
    let (loc, msg) = refused(&format!(
        "[services.postgresql]\nversion = {}",
        lit("${TAG:-18}")
    ));
    assert_eq!(loc, "stack.toml:5:11");
    assert!(msg.contains("not an image tag"), "{msg}");
    for bad in [".1", "-1", "1 2", "1:2", "a/b", "1\n", &"1".repeat(129)] {
        refused(&format!("[services.postgresql]\nversion = {}", lit(bad)));
    }
    for good in ["18.1-bookworm", "v2_7.3", "_x", &"1".repeat(128)] {
        with(&format!("[services.postgresql]\nversion = {}", lit(good))).expect(good);
    }
}

#[test]
fn env_keys_and_values_are_checked_with_a_span() {
    let env = |k: &str, v: &str| format!("[services.n8n.env]\n{} = {}", lit(k), lit(v));
    for key in ["A-B", "1A", "", "A B", "A=B", "É", "A\u{1b}"] {
        let (loc, msg) = refused(&env(key, "v"));
        assert_eq!(loc, "stack.toml:5:1", "{key:?}");
        assert!(msg.contains("not an environment variable name"), "{msg}");
    }
    let (loc, msg) = refused("[services.n8n.env]\n\"A\\nB\" = \"v\"");
    assert_eq!(loc, "stack.toml:5:1");
    assert!(msg.contains("not an environment variable name"), "{msg}");
    for value in ["a\nB=evil", "a\rb", "a\0b", "a\tb", "it's", "ends with\\"] {
        let (loc, _) = refused(&env("KEY", value));
        assert!(loc.starts_with("stack.toml:5:"), "{value:?}: {loc}");
    }
    let f = with(&env("_MY_VAR1", "$HOME ${X:-1} \"q\" #c x\\y")).unwrap();
    let (_, n8n) = f.spec.services.iter().next().unwrap();
    let (k, v) = n8n.env.iter().next().unwrap();
    assert_eq!(k.get_ref(), "_MY_VAR1");
    assert_eq!(v.get_ref(), "$HOME ${X:-1} \"q\" #c x\\y");
}

#[test]
fn memory_is_bounded_and_never_overflows() {
    // Reported: shared_buffers = 4398046511360MB.
    let mem = |m: &str| format!("[services.postgresql]\nmemory = {}", lit(m));
    let (loc, msg) = refused(&mem("17179869185G"));
    assert_eq!(loc, "stack.toml:5:10");
    assert!(msg.contains("more memory than 1 TiB"), "{msg}");
    assert_eq!(parse_memory("17179869185G"), None);
    assert_eq!(parse_memory("99999999999999999999999M"), None);
    let (_, msg) = refused(&mem("1025G"));
    assert!(msg.contains("1 TiB"), "{msg}");
    let (_, msg) = refused(&mem("5M"));
    assert!(msg.contains("below 6M"), "{msg}");
    for bad in [
        "512", "M", " 512M", "512M ", "512 M", "-1G", "1.5G", "512MiB", "0x10M",
    ] {
        let (_, msg) = refused(&mem(bad));
        assert!(msg.contains("not a memory size"), "{bad:?}: {msg}");
    }
    for good in ["6M", "6144K", "1024G", "1536m", "64MB", "2g"] {
        with(&mem(good)).expect(good);
    }
}

#[test]
fn project_name_is_short() {
    let err = parse(&format!(
        "[project]\nname = \"{}\"\ndomain = \"a.b\"\n",
        "a".repeat(33)
    ))
    .unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:2:8"));
    assert!(err.to_string().contains("longer than 32"), "{err}");
    parse(&format!(
        "[project]\nname = \"{}\"\ndomain = \"a.b\"\n",
        "a".repeat(32)
    ))
    .unwrap();
}

#[test]
fn a_huge_value_is_refused_at_once() {
    // Reported: a 50-million-character name took 31 s and 5 GB before failing.
    let text = format!(
        "[project]\nname = \"{}\"\ndomain = \"a.b\"\n",
        "a".repeat(50_000_000)
    );
    let start = std::time::Instant::now();
    let err = parse(&text).unwrap_err();
    assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn load_reads_at_most_a_mebibyte_of_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    let mut text = String::from(BASE);
    text.push_str(&"#".repeat(MAX_STACK_FILE as usize));
    std::fs::write(&big, text).unwrap();
    let err = StackFile::load(&big).unwrap_err();
    assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");

    let ok = dir.path().join("stack.toml");
    std::fs::write(&ok, BASE).unwrap();
    StackFile::load(&ok).unwrap();

    let err = StackFile::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = StackFile::load(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");

    let fifo = dir.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        // Would block forever if it were opened.
        let err = StackFile::load(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"[project]\nname = \"\xe9\"\n").unwrap();
    let err = StackFile::load(&latin1).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

#[test]
fn domain_labels_are_checked() {
    let dom = |d: &str| format!("[project]\nname = \"x\"\ndomain = {}\n", lit(d));
    for bad in [
        "ex..ample.com",
        "-example.com",
        "example-.com",
        "example.com.",
        ".example.com",
        "exa mple.com",
        "example.com:8443",
        "https://example.com",
        "example.com/path",
        "exa_mple.com",
        "example.com\n\tadmin :2019",
        "example.com {",
        "",
    ] {
        let err = parse(&dom(bad)).expect_err(bad);
        assert_eq!(err.location(), Some("stack.toml:3:10"), "{bad:?}");
    }
    let long_label = format!("{}.com", "a".repeat(64));
    let err = parse(&dom(&long_label)).unwrap_err();
    assert!(err.to_string().contains("longer than 63"), "{err}");
    let long = vec!["a".repeat(63); 4].join("."); // 255 characters
    let err = parse(&dom(&long)).unwrap_err();
    assert!(err.to_string().contains("longer than 253"), "{err}");
    for good in [
        "localhost",
        "a-b.example.com",
        "x.io",
        &format!("{}.com", "a".repeat(63)),
    ] {
        parse(&dom(good)).expect(good);
    }
}

#[test]
fn subdomain_labels_are_checked() {
    let sub = |s: &str| format!("[services.n8n]\nsubdomain = {}", lit(s));
    for bad in ["-n8n", "n8n-", "a.b", "", "n 8n", "n8n\n", &"a".repeat(64)] {
        let (loc, msg) = refused(&sub(bad));
        assert_eq!(loc, "stack.toml:5:13", "{bad:?}");
        assert!(msg.contains("not a subdomain"), "{msg}");
    }
    with(&sub(&"a".repeat(63))).unwrap();
    // The whole name counts too.
    let domain = vec!["b".repeat(63); 3].join(".");
    let text = format!(
        "[project]\nname = \"x\"\ndomain = \"{domain}\"\n[services.n8n]\nsubdomain = \"{}\"\n",
        "a".repeat(62)
    );
    let err = parse(&text).unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:13"));
    assert!(err.to_string().contains("longer than 253"), "{err}");
}

#[test]
fn ports_cannot_be_zero() {
    let (loc, msg) = refused("http_port = 0");
    assert_eq!(loc, "stack.toml:4:13");
    assert!(msg.contains("port 0"), "{msg}");
    let (loc, _) = refused("https_port = 0");
    assert_eq!(loc, "stack.toml:4:14");
    let (loc, msg) = refused("http_port = 8443\nhttps_port = 8443");
    assert_eq!(loc, "stack.toml:5:14");
    assert!(msg.contains("the same"), "{msg}");
    with("http_port = 8080\nhttps_port = 8443").unwrap();
}

#[test]
fn subnet_must_be_a_routable_private_or_public_16() {
    for bad in [
        "127.0.0.0/16",
        "0.0.0.0/16",
        "169.254.0.0/16",
        "224.1.0.0/16",
        "239.0.0.0/16",
        "240.0.0.0/16",
        "255.255.0.0/16",
        "+10.0.0.0/16",
        "10.0.0.0/24",
        "10.0.1.0/16",
        "010.0000.0.0/16",
        "10.0.0.0/16\n",
        "256.0.0.0/16",
    ] {
        let (loc, _) = refused(&format!("subnet = {}", lit(bad)));
        assert_eq!(loc, "stack.toml:4:10", "{bad:?}");
    }
    let (_, msg) = refused("subnet = \"127.0.0.0/16\"");
    assert!(msg.contains("loopback"), "{msg}");
    for good in [
        "10.20.0.0/16",
        "172.16.0.0/16",
        "172.31.0.0/16",
        "192.168.0.0/16",
        "100.64.0.0/16",
        "8.8.0.0/16",
    ] {
        with(&format!("subnet = {}", lit(good))).expect(good);
    }
}

#[test]
fn locale_is_a_bcp47_tag() {
    for bad in [
        "fr_FR.UTF-8",
        "fr--FR",
        "-fr",
        "fr-",
        "",
        "fr-FR\n",
        "fr FR",
        "1fr",
        "fr-abcdefghi",
    ] {
        let (loc, _) = refused(&format!("locale = {}", lit(bad)));
        assert_eq!(loc, "stack.toml:4:10", "{bad:?}");
    }
    for good in ["fr-FR", "en-US", "de-CH-u-co-phonebk", "und"] {
        with(&format!("locale = {}", lit(good))).expect(good);
    }
}

#[test]
fn no_string_value_carries_a_control_character() {
    // Every string of stack.toml that is written into a rendered file.
    let fields: &[(&str, &str)] = &[
        ("[project]\nname = ", "x"),
        ("[project]\nname = \"x\"\ndomain = ", "example.com"),
        ("acme_email = ", "ops@example.com"),
        ("timezone = ", "UTC"),
        ("locale = ", "en-US"),
        ("subnet = ", "172.20.0.0/16"),
        ("[services.n8n]\nsubdomain = ", "n8n"),
        ("[services.n8n]\nversion = ", "2.7.3"),
        ("[services.n8n]\nmemory = ", "1024M"),
        ("[services.n8n.env]\nKEY = ", "value"),
        ("[images]\nn8n = ", "n8n:1"),
    ];
    for (prefix, good) in fields {
        for c in ['\n', '\r', '\0', '\t', '\u{1b}', '\u{7f}', '\u{85}'] {
            for value in [
                format!("{good}{c}"),
                format!("{c}{good}"),
                format!("{good}{c}x"),
            ] {
                let text = if prefix.starts_with("[project]") {
                    let mut t = format!("{prefix}{}\n", lit(&value));
                    if !prefix.contains("domain") {
                        t.push_str("domain = \"example.com\"\n");
                    }
                    t
                } else {
                    format!("{BASE}{prefix}{}\n", lit(&value))
                };
                let err = parse(&text).expect_err(&text);
                assert!(err.location().is_some(), "{text:?}");
            }
        }
    }
}

#[test]
fn refused_values_are_shown_short_and_escaped() {
    assert_eq!(values::shown("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
    let long = values::shown(&"x".repeat(1000));
    assert_eq!(long.chars().count(), 41);
    assert!(long.ends_with('…'));
}

#[test]
fn toml_str_escapes_every_value() {
    for value in [
        "a\"b",
        "a\nb",
        "a\\b",
        "\u{7f}",
        "x\"\n[hosts.evil]\naddress = \"h\"",
    ] {
        let text = format!("key = {}\n", values::toml_str(value));
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["key"].as_str(), Some(value), "{text}");
        assert_eq!(parsed.len(), 1);
    }
}

#[test]
fn hardening_defaults_and_errors_at_their_value() {
    let base = "[project]\nname = \"x\"\ndomain = \"a.b\"\n";
    let f = parse(&format!("{base}[hardening]\n")).unwrap();
    let h = f.spec.hardening.unwrap();
    assert_eq!(h.deploy_user.get_ref(), "vpai");
    assert_eq!(h.revert_delay(), std::time::Duration::from_secs(300));
    assert!(h.firewall && h.allow_ports.is_empty() && h.deploy_key.is_none());
    let err = parse(&format!(
        "{base}[hardening]\ndeploy_user = \"x\\nAllowUsers *\"\n"
    ))
    .unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:15"));
    let err = parse(&format!("{base}[hardening]\nrevert_after = \"2d\"\n")).unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:16"));
    let err = parse(&format!("{base}[hardening]\nrevert_after = \"1s\"\n")).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let err = parse(&format!("{base}[hardening]\nallow_ports = [8080, 0]\n")).unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:22"));
    let err = parse(&format!("{base}[hardening]\nallow_ports = [70000]\n")).unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:16"));
    let err = parse(&format!("{base}[hardening]\nfirewal = true\n")).unwrap_err();
    let SpecError::Invalid { help, .. } = &err else {
        panic!()
    };
    assert_eq!(help.as_deref(), Some("did you mean `firewall`?"));
}
