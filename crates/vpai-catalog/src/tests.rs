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
        let Some(h) = &s.healthcheck else { continue };
        let joined = h.test.join(" ");
        assert!(!joined.contains("localhost"), "{}: {joined}", s.name);
    }
}

#[test]
fn healthchecks_only_call_tools_the_image_has_000_11() {
    for s in Catalog::embedded().services() {
        let Some(h) = &s.healthcheck else {
            assert!(
                s.liveness.is_some(),
                "{}: no healthcheck, no liveness",
                s.name
            );
            continue;
        };
        let test = &h.test;
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
    assert!(catalog.get("postgresql").unwrap().folder["provision.sql.j2"].contains("CREATE ROLE"));
}

#[test]
fn every_service_of_the_seeds_stack_is_deployable_and_facts_only_entries_still_load() {
    let catalog = Catalog::embedded();
    for name in [
        "postgresql",
        "redis",
        "qdrant",
        "caddy",
        "n8n",
        "litellm",
        "openclaw",
        "victoriametrics",
        "loki",
        "alloy",
        "cadvisor",
        "grafana",
        "diun",
    ] {
        assert!(catalog.get(name).is_some(), "{name} is not deployable");
    }
    // seed 001 §8.1 and seed 000 #17: VictoriaMetrics runs as 1000.
    let vm = catalog.get("victoriametrics").unwrap();
    assert_eq!((vm.uid, vm.gid), (1000, 1000));
    // An operator can still describe an image vpai does not deploy, for check and doctor.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("tool.toml"),
        "name = \"tool\"\ndescription = \"an image we only lint\"\ndeployable = false\nimage = \"example/tool\"\nuid = 1\ngid = 1\n",
    )
    .unwrap();
    let mut catalog = catalog;
    catalog.load_dir(tmp.path()).unwrap();
    assert!(catalog.facts_only().any(|f| f.name == "tool"));
    assert!(catalog.get("tool").is_none());
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
        over.folder, redis.folder,
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

/// The fields every deployable entry has, for the tests' own entries.
const X_HEAD: &str = r#"name = "x"
description = "x"
phase = "apps"
image = "example/x"
version = "1.0.0"
uid = 1
gid = 1
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
"#;

/// What the schema alone cannot say about the new keys is refused with the file named.
#[test]
fn new_keys_are_checked_for_what_the_schema_cannot_say() {
    let head = X_HEAD;
    let hc = "[healthcheck]\ntest = [\"CMD\", \"true\"]\n";
    let cases = [
        ("", "give one, or say why"),
        (
            "[liveness]\nreason = \" \"\n",
            "`[liveness] reason` is empty",
        ),
        (&format!("{hc}[liveness]\nreason = \"r\"\n")[..], "keep one"),
        (
            &format!("group_add = [\"docker\"]\n{hc}")[..],
            "neither a GID nor `docker-socket`",
        ),
        (
            &format!("{hc}[[host_mounts]]\nsource = \"var/run\"\ntarget = \"/x\"\n")[..],
            "absolute path",
        ),
        (
            &format!("{hc}[[host_mounts]]\nsource = \"/a/../etc\"\ntarget = \"/x\"\n")[..],
            "without `..`",
        ),
        (
            &format!("{hc}[[files]]\nsource = \"../etc\"\npath = \"configs/x\"\n")[..],
            "relative path inside",
        ),
        (
            &format!(
                "{hc}[[probes]]\nname = \"Bad Name\"\ndescription = \"d\"\ncommand = [\"true\"]\n"
            )[..],
            "[a-z0-9-]+",
        ),
        (
            &format!(
                "{hc}[[probes]]\nname = \"p\"\ndescription = \"d\"\ncommand = [\"true\"]\n[[probes]]\nname = \"p\"\ndescription = \"d\"\ncommand = [\"true\"]\n"
            )[..],
            "two probes are named `p`",
        ),
        (
            &format!("{hc}[[probes]]\nname = \"p\"\ndescription = \"d\"\ncommand = []\n")[..],
            "empty command",
        ),
    ];
    for (tail, want) in cases {
        let text = format!("{head}{tail}");
        let err = parse_entry("catalog/x/service.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("catalog/x/service.toml") && err.contains(want),
            "{tail}\n=> {err}"
        );
    }
    let ok = format!(
        "{head}group_add = [\"docker-socket\", \"44\"]\n[liveness]\nreason = \"no HTTP client\"\n"
    );
    assert!(parse_entry("x", &ok).is_ok());
}

/// An operator's folder brings the files its `[[files]]` names, without following a
/// link out of the folder.
#[test]
fn an_operator_folder_copies_its_files_and_refuses_links() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("catalog/x");
    std::fs::create_dir_all(folder.join("boards")).unwrap();
    std::fs::write(folder.join("boards/a.json"), "{}").unwrap();
    std::fs::write(tmp.path().join("outside.json"), "secret").unwrap();
    std::os::unix::fs::symlink(
        tmp.path().join("outside.json"),
        folder.join("boards/link.json"),
    )
    .unwrap();
    std::fs::write(
        folder.join("service.toml"),
        X_HEAD.to_string()
            + r#"[liveness]
reason = "none"
[[files]]
source = "boards"
path = "configs/x/boards"
"#,
    )
    .unwrap();
    let mut catalog = Catalog::embedded();
    catalog.load_dir(&tmp.path().join("catalog")).unwrap();
    let x = catalog.get("x").unwrap();
    let copied = x.copied_files(&x.files[0]);
    assert_eq!(copied, [("a.json".to_string(), "{}")]);
}

/// Operators read rule ids and `vpai check --explain`, never our internal document
/// numbers: no text of the catalog that vpai prints cites a seed (the `seed` fields and
/// comments are for us).
#[test]
fn printed_catalog_text_cites_no_internal_document() {
    let catalog = Catalog::embedded();
    let cites = |t: &str| t.contains("seed 0") || t.contains("(seed");
    for s in catalog.services() {
        let mut texts: Vec<&str> = vec![&s.description];
        texts.extend(s.cap_reasons.values().map(String::as_str));
        texts.extend(s.secrets.iter().filter_map(|d| d.help.as_deref()));
        texts.extend(s.secrets.iter().filter_map(|d| d.never_reason.as_deref()));
        texts.extend(s.probes.iter().map(|p| p.description.as_str()));
        texts.extend(s.liveness.iter().map(|l| l.reason.as_str()));
        texts.extend(
            s.doctor
                .iter()
                .flat_map(|d| [d.cause.as_str(), d.fix.as_str()]),
        );
        let import = &s.import.ansible;
        texts.extend(import.notes.iter().map(String::as_str));
        for u in &import.unmapped {
            texts.push(&u.reason);
            texts.extend(u.warning.as_deref());
        }
        texts.extend(import.budgets.iter().map(|b| b.comment.as_str()));
        for t in texts {
            assert!(!cites(t), "{}: {t}", s.name);
        }
    }
    for d in catalog.common_signatures() {
        assert!(!cites(&d.cause) && !cites(&d.fix), "{}", d.id);
    }
}

/// `[[backup]]` entries that could not be captured or put back are refused when the
/// folder loads, each with what is wrong.
#[test]
fn a_backup_that_cannot_be_captured_or_restored_is_refused() {
    let with = |backup: &str| {
        format!(
            "{WEB}[[volumes]]\nsource = \"data/web\"\ntarget = \"/data\"\nmode = \"0750\"\n{backup}"
        )
    };
    let ok = with(
        "[[backup]]\nname = \"data\"\ndescription = \"d\"\nvolume = \"data/web\"\n[backup.restore]\nvolume = \"data/web\"\nplace = { \"a.db\" = \"db/a.db\" }\n",
    );
    parse_entry("web/service.toml", &ok).unwrap();
    for (backup, expected) in [
        (
            "[[backup]]\nname = \"d\"\ndescription = \"d\"\n[backup.restore]\nvolume = \"data/web\"\n",
            "give a `command` or a `volume`",
        ),
        (
            "[[backup]]\nname = \"d\"\ndescription = \"d\"\nvolume = \"data/other\"\n[backup.restore]\nvolume = \"data/web\"\n",
            "not a volume source",
        ),
        (
            "[[backup]]\nname = \"d\"\ndescription = \"d\"\nvolume = \"data/web\"\n[backup.restore]\ncommand = [\"sh\"]\nvolume = \"data/web\"\n",
            "needs a `command` or a `volume`",
        ),
        (
            "[[backup]]\nname = \"d\"\ndescription = \"d\"\nvolume = \"data/web\"\n[backup.restore]\nvolume = \"data/web\"\nplace = { \"a\" = \"../../etc/passwd\" }\n",
            "relative path",
        ),
        (
            "[[backup]]\nname = \"d\"\ndescription = \"d\"\ncommand = [\"sh\"]\n[backup.restore]\ncommand = [\"sh\"]\nplace = { \"a\" = \"b\" }\n",
            "only go with a restore `volume`",
        ),
        (
            "[[backup]]\nname = \"D\"\ndescription = \"d\"\ncommand = [\"sh\"]\n[backup.restore]\ncommand = [\"sh\"]\n",
            "[a-z0-9-]+",
        ),
        (
            "[[backup]]\nname = \"d\"\ndescription = \"d\"\ncommand = [\"sh\"]\nfor_each = \"web\"\n[backup.restore]\ncommand = [\"sh\"]\n",
            "may only be `database`",
        ),
    ] {
        let err = parse_entry("web/service.toml", &with(backup)).unwrap_err();
        assert!(err.to_string().contains(expected), "{backup}: {err}");
    }
}

/// Every shipped data store says how it is backed up and proved: a drill compares what
/// the databases, Redis and Qdrant hold after a restore with what the backup recorded.
#[test]
fn every_data_store_is_backed_up_with_a_drill() {
    let catalog = Catalog::embedded();
    for name in ["postgresql", "redis", "qdrant"] {
        let def = catalog.get(name).unwrap();
        assert!(
            def.backup.iter().any(|b| b.drill.is_some()),
            "{name} has no drilled backup"
        );
    }
    for name in ["n8n", "grafana"] {
        assert!(!catalog.get(name).unwrap().backup.is_empty(), "{name}");
    }
}

/// `[import.ansible]`: every role names deployable services (VPAI's `monitoring` role
/// the whole monitoring set, in the stack's order), every key a `[data]` key of its
/// service, and no Ansible variable is claimed by two services (a service's default
/// `<name>_subdomain` included).
#[test]
fn ansible_import_entries_name_known_services_and_claim_each_variable_once() {
    let catalog = Catalog::embedded();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    let mut roles = std::collections::BTreeSet::new();
    for s in catalog.services() {
        let a = &s.import.ansible;
        let mut vars = a.claimed_vars();
        if s.web.is_some() && a.subdomain_vars.is_empty() {
            vars.extend(a.subdomain_vars(&s.name));
        }
        for v in vars {
            if let Some(other) = claimed.insert(v.clone(), s.name.clone()) {
                panic!("`{v}` is claimed by both `{other}` and `{}`", s.name);
            }
        }
        for d in &a.data {
            assert!(s.data.contains_key(&d.key), "{}: {}", s.name, d.key);
        }
        if let Some(b) = &a.budgets {
            assert!(s.data.contains_key(&b.key), "{}: {}", s.name, b.key);
        }
        roles.extend(a.roles.iter().cloned());
    }
    for role in &roles {
        let services = catalog.ansible_role_services(role);
        assert!(!services.is_empty(), "{role}");
        for s in services {
            assert!(catalog.get(s).is_some(), "{role}: {s} is not deployable");
        }
    }
    // Every service of the seeds' stack is deployed by a role of VPAI's playbook.
    for s in Catalog::profile("full").unwrap() {
        assert!(
            !catalog.get(s).unwrap().import.ansible.roles.is_empty(),
            "{s}: no role"
        );
    }
    assert_eq!(
        catalog.ansible_role_services("monitoring"),
        ["victoriametrics", "loki", "alloy", "cadvisor", "grafana"]
    );
    assert_eq!(catalog.ansible_role_services("n8n"), ["n8n"]);
    assert!(catalog.ansible_role_services("dashboard").is_empty());
    // The one service whose subdomain has another variable: VPAI's `admin_subdomain`.
    assert_eq!(
        catalog
            .get("openclaw")
            .unwrap()
            .import
            .ansible
            .subdomain_vars("openclaw"),
        ["openclaw_subdomain", "admin_subdomain"]
    );
    assert_eq!(
        catalog
            .get("n8n")
            .unwrap()
            .import
            .ansible
            .subdomain_vars("n8n"),
        ["n8n_subdomain"]
    );
}

/// A typo or a key the service does not have in `[import.ansible]` is refused where it
/// is written or with what is wrong.
#[test]
fn a_wrong_ansible_import_section_is_refused() {
    let head = format!("{X_HEAD}[healthcheck]\ntest = [\"CMD\", \"true\"]\n");
    let with_data = format!("{head}[data]\nemail = \"\"\n");
    for (tail, want) in [
        ("[import.ansible]\nrole = [\"x\"]\n", "unknown field `role`"),
        (
            "[[import.ansible.data]]\nvar = \"x_email\"\nkey = \"email\"\nkind = \"mail\"\n",
            "unknown variant `mail`",
        ),
        ("[import.nope]\n", "unknown field `nope`"),
    ] {
        let text = format!("{with_data}{tail}");
        let err = parse_entry("catalog/x/service.toml", &text)
            .unwrap_err()
            .to_string();
        let line = text.lines().count() - tail.lines().count() + 1;
        assert!(
            err.contains(want) && err.starts_with("catalog/x/service.toml:"),
            "{tail}\n=> {err}"
        );
        assert!(
            err.split(':').nth(1).and_then(|l| l.parse::<usize>().ok()) >= Some(line),
            "{tail}\n=> {err}"
        );
    }
    for (tail, want) in [
        (
            "[[import.ansible.data]]\nvar = \"x_owner\"\nkey = \"owner\"\nkind = \"email\"\n",
            "`owner`, which the service's `[data]` does not have",
        ),
        (
            "[import.ansible]\nsubdomain_vars = [\"x_host\"]\n",
            "a service with `[web]`",
        ),
        (
            "[import.ansible]\nunmapped = [{ vars = [\"x_a\"], reason = \"r\" }]\n[[import.ansible.data]]\nvar = \"x_a\"\nkey = \"email\"\nkind = \"email\"\n",
            "names the variable `x_a` twice",
        ),
        (
            "[import.ansible]\nunmapped = [{ vars = [\"x-a\"], reason = \"r\" }]\n",
            "`x-a` is not an Ansible variable name",
        ),
        (
            "[import.ansible]\nroles = [\"x\", \"x\"]\n",
            "names the role `x` twice",
        ),
        (
            "[import.ansible.budgets]\nkey = \"email\"\ncomment = \"c\"\nfrom = []\n",
            "budgets] from` is empty",
        ),
    ] {
        let text = format!("{with_data}{tail}");
        let err = parse_entry("catalog/x/service.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("catalog/x/service.toml") && err.contains(want),
            "{tail}\n=> {err}"
        );
    }
    let ok = format!(
        "{with_data}[import.ansible]\nroles = [\"x\"]\nnotes = [\"n\"]\n[[import.ansible.data]]\nvar = \"x_email\"\nkey = \"email\"\nkind = \"email\"\n"
    );
    let Entry::Deployable(def) = parse_entry("x", &ok).unwrap() else {
        panic!("not deployable")
    };
    assert_eq!(def.import.ansible.data[0].kind, AnsibleDataKind::Email);
    assert_eq!(def.import.ansible.claimed_vars(), ["x_email"]);
}

#[test]
fn exposure_ports_are_the_services_own_then_the_well_known_ones() {
    let ports = Catalog::embedded().exposure_ports();
    let find = |p: u16| ports.iter().find(|(q, _)| *q == p).map(|(_, w)| w.as_str());
    assert_eq!(find(5678), Some("n8n"));
    assert_eq!(find(11434), Some("ollama"), "facts-only entries count");
    assert!(find(2375).unwrap().contains("Docker Engine API"));
    assert_eq!(find(5432), Some("PostgreSQL"));
    let mut seen: Vec<u16> = ports.iter().map(|(p, _)| *p).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), ports.len(), "a port listed twice");
}
