use super::*;

fn build_text(text: &str) -> Result<Stack, SpecError> {
    let file = StackFile::parse(Path::new("stack.toml"), text.to_string())?;
    build(&file, &Catalog::embedded(), &BuildOptions::default())
}

#[test]
fn example_builds_core_in_phase_order() {
    let file = StackFile::example();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let names: Vec<_> = stack.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["postgresql", "redis", "qdrant", "caddy", "n8n", "litellm"]
    );
    assert_eq!(stack.root, Path::new("/opt/demo"));
    let n8n = stack.service("n8n").unwrap();
    assert_eq!(n8n.fqdn.as_deref(), Some("n8n.localhost"));
    assert_eq!(n8n.container_name, "demo_n8n");
    assert_eq!(stack.networks[1].subnet, "172.20.2.0/24");
}

#[test]
fn unknown_service_suggests() {
    let err = build_text("[project]\nname='x'\ndomain='a.b'\n[services.postgres]\n").unwrap_err();
    let text = format!("{:?}", miette::Report::new(err));
    assert!(text.contains("did you mean `postgresql`?"), "{text}");
}

#[test]
fn image_override_is_local_never_pulled_003_1() {
    let s = build_text("[project]\nname='x'\ndomain='a.b'\n[images]\nredis='mirror/redis:8'\n")
        .unwrap();
    let r = s.service("redis").unwrap();
    assert_eq!(r.image, "mirror/redis:8");
    assert!(r.local_image);
}

#[test]
fn litellm_memory_floor_001_10_2() {
    let err = build_text("[project]\nname='x'\ndomain='a.b'\n[services.litellm]\nmemory='768M'\n")
        .unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:8"));
}

#[test]
fn app_without_its_database_server_is_refused() {
    let err = build_text("[project]\nname='x'\ndomain='a.b'\nservices=['n8n']\n").unwrap_err();
    assert!(err.to_string().contains("needs `postgresql`"));
}

#[test]
fn optional_database_can_be_turned_off() {
    let s = build_text("[project]\nname='x'\ndomain='a.b'\n[services.litellm]\ndatabase=false\n")
        .unwrap();
    assert!(!s.service("litellm").unwrap().database);
    assert_eq!(s.databases().len(), 1);
}

#[test]
fn two_services_on_one_subdomain_are_refused() {
    // litellm's explicit subdomain takes n8n's default one.
    let err =
        build_text("[project]\nname='x'\ndomain='a.b'\n[services.litellm]\nsubdomain='n8n'\n")
            .unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:11"));
    assert!(
        err.to_string()
            .contains("`n8n` and `litellm` both answer on `n8n.a.b`"),
        "{err}"
    );
    // n8n's explicit subdomain takes litellm's default one: the explicit value is named.
    let err = build_text("[project]\nname='x'\ndomain='a.b'\n[services.n8n]\nsubdomain='LLM'\n")
        .unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:5:11"));
    // Both explicit.
    let err = build_text(
        "[project]\nname='x'\ndomain='a.b'\n[services.n8n]\nsubdomain='ai'\n[services.litellm]\nsubdomain='ai'\n",
    )
    .unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:7:11"));
    // Swapped is fine.
    let s = build_text(
        "[project]\nname='x'\ndomain='a.b'\n[services.n8n]\nsubdomain='llm'\n[services.litellm]\nsubdomain='n8n'\n",
    )
    .unwrap();
    assert_eq!(s.service("n8n").unwrap().fqdn.as_deref(), Some("llm.a.b"));
}

#[test]
fn a_default_subdomain_must_fit_the_domain() {
    // 250 characters: `n8n.` makes 254.
    let domain = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "b".repeat(58));
    assert_eq!(domain.len(), 250);
    let err = build_text(&format!("[project]\nname='x'\ndomain='{domain}'\n")).unwrap_err();
    assert_eq!(err.location(), Some("stack.toml:3:8"));
    assert!(err.to_string().contains("longer than 253"), "{err}");
}

#[test]
fn operator_env_reaches_the_model_verbatim() {
    let s = build_text(
        "[project]\nname='x'\ndomain='a.b'\n[services.n8n.env]\nMY_VAR = '$HOME #x \"y\" a\\b'\n",
    )
    .unwrap();
    let env = &s.service("n8n").unwrap().extra_env;
    assert_eq!(env["MY_VAR"], "$HOME #x \"y\" a\\b");
}

#[test]
fn an_unknown_service_name_is_shown_escaped() {
    let err =
        build_text("[project]\nname='x'\ndomain='a.b'\n[services.\"x\\u001b[2Jy\"]\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("x\\u{1b}[2Jy"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert_eq!(err.location(), Some("stack.toml:4:11"));
}

#[test]
fn a_facts_only_service_is_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("tool.toml"),
        "name = \"tool\"\ndescription = \"an image we only lint\"\ndeployable = false\nimage = \"example/tool\"\nuid = 1\ngid = 1\n",
    )
    .unwrap();
    let mut catalog = Catalog::embedded();
    catalog.load_dir(tmp.path()).unwrap();
    let file = StackFile::parse(
        Path::new("stack.toml"),
        "[project]\nname = \"x\"\ndomain = \"example.org\"\nservices = [\"caddy\", \"tool\"]\n"
            .into(),
    )
    .unwrap();
    let err = build(&file, &catalog, &BuildOptions::default()).unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("not deployable by vpai yet"), "{text}");
}

#[test]
fn a_database_needs_the_service_the_catalog_says_provides_them() {
    let err = build_text(
        "[project]\nname = \"x\"\ndomain = \"example.org\"\nservices = [\"caddy\", \"n8n\"]\n",
    )
    .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("needs `postgresql`"), "{text}");
    let stack = build_text(
        "[project]\nname = \"x\"\ndomain = \"example.org\"\nservices = [\"caddy\", \"postgresql\", \"n8n\"]\n",
    )
    .unwrap();
    assert_eq!(stack.database_provider().unwrap().name, "postgresql");
    assert_eq!(stack.reverse_proxy().unwrap().name, "caddy");
}

/// `[services.NAME.data]` replaces a key of the catalog's `[data]`: only keys the
/// catalog has, only of the same kind, and each error points at the operator's text.
#[test]
fn service_data_replaces_catalog_keys_of_the_same_kind_only() {
    let ok = build_text(
        "[project]\nname='x'\ndomain='a.b'\n[[services.litellm.data.models]]\nname='local'\nmodel='openai/qwen'\nkey='os.environ/OPENAI_API_KEY'\nsecret='openai_api_key'\n",
    )
    .unwrap();
    let models = ok.service("litellm").unwrap().def.data["models"]
        .as_array()
        .unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0]["name"].as_str(), Some("local"));

    let unknown =
        build_text("[project]\nname='x'\ndomain='a.b'\n[services.litellm.data]\nmodles=[]\n")
            .unwrap_err();
    let text = format!("{:?}", miette::Report::new(unknown));
    assert!(
        text.contains("`modles` is not a data key of litellm"),
        "{text}"
    );
    assert!(
        text.contains("its keys are: budgets, cache, fallbacks, models"),
        "{text}"
    );
    assert!(text.contains("stack.toml:5:1"), "{text}");

    let kind =
        build_text("[project]\nname='x'\ndomain='a.b'\n[services.litellm.data]\nmodels='all'\n")
            .unwrap_err();
    let text = format!("{:?}", miette::Report::new(kind));
    assert!(
        text.contains("is an array in the catalog, not a string"),
        "{text}"
    );
}

#[test]
fn the_sandbox_network_is_the_fifth_and_internal() {
    let file = StackFile::example();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let sandbox = stack.networks.iter().find(|n| n.name == "sandbox").unwrap();
    assert_eq!(sandbox.subnet, "172.20.5.0/24");
    assert!(sandbox.internal);
}

/// `[backup]`: a repository restic can use and a time of day, or an error where it is
/// written; the defaults otherwise.
#[test]
fn backup_settings_are_checked_where_they_are_written() {
    let base = "[project]\nname='x'\ndomain='a.b'\n";
    let s = build_text(base).unwrap();
    assert_eq!(s.backup.repository, "/var/backups/vpai/x");
    // Another root of the same project name gets a repository of its own.
    let file = StackFile::parse(Path::new("stack.toml"), base.to_string()).unwrap();
    let opts = BuildOptions {
        root: Some("/srv/x".into()),
    };
    let other = build(&file, &Catalog::embedded(), &opts).unwrap();
    assert!(
        other.backup.repository.starts_with("/var/backups/vpai/x-")
            && other.backup.repository.len() == "/var/backups/vpai/x-".len() + 8,
        "{}",
        other.backup.repository
    );
    assert_eq!(s.backup.schedule, Some((3, 0)));
    assert!(s.backup.is_local() && s.backup.drill);
    let s = build_text(&format!(
        "{base}[backup]\nrepository = 'sftp:backup@nas:/srv/restic'\nschedule = '23:45'\nkeep = {{ daily = 3 }}\n"
    ))
    .unwrap();
    assert_eq!(s.backup.schedule, Some((23, 45)));
    assert_eq!((s.backup.keep_daily, s.backup.keep_weekly), (3, 4));
    assert!(!s.backup.is_local());
    for (bad, location) in [
        ("repository = 'relative/dir'", "stack.toml:5:14"),
        ("repository = '/srv/../etc'", "stack.toml:5:14"),
        ("repository = \"/srv/a\\nb\"", "stack.toml:5:14"),
        ("schedule = '3am'", "stack.toml:5:12"),
        ("schedule = '24:00'", "stack.toml:5:12"),
    ] {
        let err = build_text(&format!("{base}[backup]\n{bad}\n")).unwrap_err();
        assert_eq!(err.location(), Some(location), "{bad}: {err}");
    }
    assert!(
        build_text(&format!("{base}[backup]\nschedule = 'off'\n"))
            .unwrap()
            .backup
            .schedule
            .is_none()
    );
    let err = build_text(&format!(
        "{base}[backup.keep]\nlast = 0\ndaily = 0\nweekly = 0\nmonthly = 0\nyearly = 0\n"
    ))
    .unwrap_err();
    assert!(err.to_string().contains("keeps no snapshot"), "{err}");
}

#[test]
fn access_admin_default_and_per_service_choice() {
    let base = "[project]\nname='x'\ndomain='a.b'\nprofile='core'\n";
    // Nothing said: every site public, the tailnet range ready for later.
    let s = build_text(base).unwrap();
    assert!(s.services.iter().all(|s| !s.vpn_only));
    assert_eq!(s.access.vpn, [access::DEFAULT_VPN]);
    assert!(s.access.trusted_proxies.is_empty());
    // `admin = "vpn"` covers the admin UIs the catalog marks, one service opts out.
    let s = build_text(&format!(
        "{base}[access]\nadmin='vpn'\nvpn=['10.8.0.0/24']\ntrusted_proxies=['10.8.0.1']\n[services.litellm]\naccess='public'\n"
    ))
    .unwrap();
    let vpn: Vec<_> = s
        .services
        .iter()
        .filter(|s| s.vpn_only)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(vpn, ["qdrant", "n8n"]);
    assert_eq!(s.access.vpn, ["10.8.0.0/24"]);
    assert_eq!(s.access.trusted_proxies, ["10.8.0.1"]);
}

#[test]
fn access_refuses_what_caddy_could_not_apply() {
    let base = "[project]\nname='x'\ndomain='a.b'\nprofile='core'\n";
    for (extra, want) in [
        (
            "[access]\nvpn=['100.64.0.0/10 remote_ip 0.0.0.0/0']\n",
            "is not an address range",
        ),
        (
            "[access]\nvpn=['100.64.0.0/33']\n",
            "is not an address range",
        ),
        ("[access]\nvpn=['0.0.0.0/0']\n", "is every address"),
        (
            "[access]\ntrusted_proxies=['x\\ny']\n",
            "is not an address range",
        ),
        ("[services.redis]\naccess='vpn'\n", "has no web site"),
        (
            "[access]\nvpn=[]\n[services.n8n]\naccess='vpn'\n",
            "lists no range",
        ),
        ("[services.n8n]\naccess='private'\n", "unknown variant"),
    ] {
        let err = build_text(&format!("{base}{extra}")).unwrap_err();
        let text = format!("{:?}", miette::Report::new(err));
        assert!(text.contains(want), "{extra}: {text}");
    }
}

#[test]
fn what_a_service_requires_follows_its_database_switch() {
    let is_provider = |n: &str| n == "postgresql";
    let on = build_text("[project]\nname='x'\ndomain='a.b'\n").unwrap();
    let litellm = on.service("litellm").unwrap();
    assert_eq!(
        litellm.required(Some("postgresql"), &is_provider),
        ["postgresql", "redis"]
    );
    let off = build_text("[project]\nname='x'\ndomain='a.b'\n[services.litellm]\ndatabase=false\n")
        .unwrap();
    let litellm = off.service("litellm").unwrap();
    assert_eq!(
        litellm.required(Some("postgresql"), &is_provider),
        ["redis"]
    );
    // n8n's database is not optional: the provider stays required.
    assert_eq!(
        off.service("n8n")
            .unwrap()
            .required(Some("postgresql"), &is_provider),
        ["postgresql"]
    );
}

#[test]
fn swarm_settings_are_checked_against_the_hosts_and_the_services() {
    let base = "[project]\nname='x'\ndomain='a.b'\nprofile='core'\n";
    let two = "[hosts.a]\naddress='10.0.0.1'\n[hosts.b]\naddress='10.0.0.2'\n";
    // The report wraps long lines: compare its words.
    let msg = |text: &str| {
        format!("{:?}", miette::Report::new(build_text(text).unwrap_err()))
            .split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ")
    };
    // `replicas` needs Swarm; a stateful service never takes it.
    let t = msg(&format!("{base}[services.litellm]\nreplicas=2\n"));
    assert!(t.contains("needs `engine = \"swarm\"`"), "{t}");
    let t = msg(&format!(
        "{base}engine='swarm'\n[swarm]\nmanager='a'\n{two}[services.redis]\nreplicas=2\n"
    ));
    assert!(t.contains("cannot run as 2 replicas"), "{t}");
    // The manager: named when there are several hosts, and one of them.
    let t = msg(&format!("{base}engine='swarm'\n{two}"));
    assert!(t.contains("needs its manager named"), "{t}");
    let t = msg(&format!(
        "{base}engine='swarm'\n[swarm]\nmanager='c'\n{two}"
    ));
    assert!(
        t.contains("not a declared host") && t.contains("a, b"),
        "{t}"
    );
    let t = msg(&format!("{base}engine='swarm'\n"));
    assert!(t.contains("needs the swarm's nodes"), "{t}");
    let t = msg(&format!("{base}[swarm]\nmanager='a'\n{two}"));
    assert!(t.contains("engine is docker compose"), "{t}");
    // Placement: stateful where listed, else on the manager; stateless anywhere.
    let s = build_text(&format!(
        "{base}engine='swarm'\n[swarm]\nmanager='a'\nencrypt=false\n{two}services=['redis']\n[services.litellm]\nreplicas=3\n"
    ))
    .unwrap();
    let sw = s.swarm.as_ref().unwrap();
    assert!(!sw.encrypt);
    let node = |n: &str| s.swarm_node(s.service(n).unwrap());
    assert_eq!(node("redis"), Some("b"));
    assert_eq!(node("postgresql"), Some("a"));
    assert_eq!(node("litellm"), None);
    assert_eq!(s.service("litellm").unwrap().replicas, 3);
    assert!(
        s.secret_defs()
            .iter()
            .any(|(_, d)| d.name == SWARM_NAMES_KEY)
    );
}
