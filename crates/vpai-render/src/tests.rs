use super::*;
use vpai_catalog::Catalog;
use vpai_model::{BuildOptions, build};
use vpai_spec::StackFile;

/// The example with fixed, fake secret values so snapshots are stable.
fn example() -> (Stack, SecretStore) {
    let file = StackFile::example();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let store = fake_store(&stack);
    (stack, store)
}

/// Every generated secret of `stack`, with a fixed fake value (`TEST-<name>`).
fn fake_store(stack: &Stack) -> SecretStore {
    let mut store = SecretStore::in_memory();
    for (_, def) in stack.secret_defs() {
        if !def.external {
            store.set(
                &def.name,
                format!("{}TEST-{}", def.prefix, def.name),
                vpai_vault::SecretOrigin::Generated,
            );
        }
    }
    store
}

fn render_example() -> Rendered {
    let (stack, store) = example();
    render(&stack, &store, &TemplateSource::embedded()).unwrap()
}

#[test]
fn rendering_is_deterministic() {
    let a = render_example();
    let b = render_example();
    assert_eq!(a.artifacts.len(), b.artifacts.len());
    for (x, y) in a.artifacts.iter().zip(&b.artifacts) {
        assert_eq!(x.path, y.path);
        assert_eq!(x.bytes, y.bytes, "{}", x.path);
    }
}

#[test]
fn snapshot_every_artifact() {
    let r = render_example();
    // The backup engine is the same file for every stack (its source is in the tree).
    for a in r
        .artifacts
        .iter()
        .filter(|a| a.path != crate::backup::ENGINE)
    {
        let name = a.path.replace('/', "__");
        insta::assert_snapshot!(
            name,
            format!(
                "# mode {:04o} owner {}:{}\n{}",
                a.mode,
                a.owner.0,
                a.owner.1,
                // NUL-separated lists, one item per line
                a.text().replace('\0', "\u{2400}\n")
            )
        );
    }
}

#[test]
fn no_secret_value_in_compose_files() {
    let (stack, store) = example();
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    for file in ["docker-compose.yml", "docker-compose-infra.yml"] {
        let text = r.get(file).unwrap().text().to_string();
        for v in store.values() {
            assert!(!text.contains(v), "{file} contains a secret");
        }
    }
}

#[test]
fn phase_b_repeats_no_phase_a_service_000_16() {
    let r = render_example();
    let apps = r.get("docker-compose.yml").unwrap().text().to_string();
    for infra in ["postgresql:", "redis:", "qdrant:", "caddy:"] {
        assert!(
            !apps.contains(&format!("\n  {infra}\n")),
            "{infra} in phase B"
        );
    }
    assert!(apps.contains("external: true"));
}

#[test]
fn rotation_matrix_is_derived_from_rendering() {
    let r = render_example();
    let users = r.services_using_secret("postgresql_password");
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["postgresql"]);
    let users = r.services_using_secret("redis_password");
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["litellm", "redis"]);
    let users = r.services_using_secret("n8n_db_password");
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["n8n"]);
}

#[test]
fn secret_files_are_private_and_configs_belong_to_the_container_000_20() {
    let r = render_example();
    for a in &r.artifacts {
        if a.secret {
            assert_eq!(a.mode & 0o007, 0, "{} is world-readable", a.path);
        }
    }
    let litellm = r.get("configs/litellm/config.yaml").unwrap();
    assert_eq!(litellm.mode, 0o640);
    let qdrant = r.get("configs/qdrant/production.yaml").unwrap();
    assert_eq!(qdrant.owner, (1000, 1000));
}

#[test]
fn a_changed_secret_changes_only_its_users_hashes() {
    let (stack, mut store) = example();
    let before = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    store.set(
        "qdrant_api_key",
        "changed".into(),
        vpai_vault::SecretOrigin::Generated,
    );
    let after = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    for (svc, h) in &before.input_hashes {
        let changed = after.input_hashes[svc] != *h;
        assert_eq!(changed, svc == "qdrant", "{svc}");
    }
}

#[test]
fn litellm_config_turns_background_health_checks_off() {
    let r = render_example();
    let cfg = r
        .get("configs/litellm/config.yaml")
        .unwrap()
        .text()
        .to_string();
    assert!(cfg.contains("background_health_checks: false"));
    assert!(!cfg.contains("health_check_interval"));
}

/// Reads back one `KEY='value'` line as Compose v2 does: a backslash before the quote
/// escapes it, any other backslash stays.
fn compose_reads(line: &str) -> (String, String) {
    let (key, rest) = line.trim_end_matches('\n').split_once('=').unwrap();
    let inner = rest.strip_prefix('\'').unwrap();
    let mut value = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\'') => value.push('\''),
                Some(n) => {
                    value.push('\\');
                    value.push(n);
                }
                None => panic!("unterminated"),
            },
            '\'' => {
                assert_eq!(chars.as_str(), "", "text after the closing quote");
                return (key.to_string(), value);
            }
            c => value.push(c),
        }
    }
    panic!("unterminated: {line:?}")
}

#[test]
fn env_lines_keep_dollar_quotes_hash_and_backslashes_literal() {
    for value in [
        "plain",
        "",
        "$HOME ${X:-1} $$",
        "a #comment",
        "say \"hi\"",
        "C:\\path\\to",
        "\\n is not a line break",
        "x\\ y",
        "ünïcödé ✓",
    ] {
        let line = envfile::env_line("MY_VAR", value).unwrap();
        assert_eq!(line, format!("MY_VAR='{value}'\n"));
        assert_eq!(
            compose_reads(&line),
            ("MY_VAR".to_string(), value.to_string())
        );
    }
}

#[test]
fn env_lines_refuse_what_no_compose_release_reads_back() {
    for value in [
        "a'b", "a\nB=1", "a\rb", "a\0b", "a\tb", "a\u{85}b", "ends\\",
    ] {
        assert!(envfile::env_line("K", value).is_err(), "{value:?}");
    }
    for key in ["", "1A", "A-B", "A B", "A=B", "É"] {
        assert!(envfile::env_line(key, "v").is_err(), "{key:?}");
    }
}

#[test]
fn an_operator_env_value_reaches_the_env_file_literally() {
    let text = "[project]\nname = \"demo\"\ndomain = \"localhost\"\ntls = \"internal\"\n[services.n8n.env]\nMY_VAR = '$HOME ${X:-1} #c \"q\" a\\b'\n";
    let file = StackFile::parse(std::path::Path::new("stack.toml"), text.into()).unwrap();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let (_, store) = example();
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let env = r.get("env/n8n.env").unwrap().text().to_string();
    let line = env.lines().find(|l| l.starts_with("MY_VAR=")).unwrap();
    assert_eq!(line, "MY_VAR='$HOME ${X:-1} #c \"q\" a\\b'");
    assert_eq!(compose_reads(line).1, "$HOME ${X:-1} #c \"q\" a\\b");
}

#[test]
fn a_secret_that_cannot_be_written_is_refused_without_showing_it() {
    let (stack, mut store) = example();
    store.set(
        "openrouter_api_key",
        "sk-or-abc'def".into(),
        vpai_vault::SecretOrigin::Generated,
    );
    let err = render(&stack, &store, &TemplateSource::embedded()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("OPENROUTER_API_KEY"), "{text}");
    assert!(!text.contains("sk-or-abc"), "{text}");
}

#[test]
fn compose_writes_every_dollar_escaped() {
    assert_eq!(compose::literal("a$b ${X:-1} $$"), "a$$b $${X:-1} $$$$");
    assert_eq!(compose::literal("no dollar"), "no dollar");
    for file in ["docker-compose.yml", "docker-compose-infra.yml"] {
        let r = render_example();
        let text = r.get(file).unwrap().text().replace("$$", "");
        assert!(!text.contains('$'), "{file}");
    }
}

#[test]
fn litellm_offers_the_models_of_the_keys_that_are_set() {
    let (stack, mut store) = example();
    store.set(
        "anthropic_api_key",
        "sk-ant-TEST".into(),
        vpai_vault::SecretOrigin::External,
    );
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let config = r.get("configs/litellm/config.yaml").unwrap().text();
    assert!(config.contains("model_name: \"claude-sonnet\""), "{config}");
    assert!(config.contains("api_key: \"os.environ/ANTHROPIC_API_KEY\""));
    assert!(
        !config.contains("deepseek"),
        "no OpenRouter key, no OpenRouter model"
    );
    assert!(
        !config.contains("sk-ant-TEST"),
        "a reference, never the value"
    );
    let example = render_example();
    let without = example.get("configs/litellm/config.yaml").unwrap().text();
    assert!(without.contains("model_list: []"), "{without}");
}

/// An operator's `catalog/web/` folder under `dir` (a static site whose image has `sh`
/// and `wget`; `rest` goes after `[healthcheck]`, `files` beside service.toml), and the
/// stack `site` of `services` on example.org built with it.
fn operator_web_service(
    dir: &std::path::Path,
    rest: &str,
    files: &[(&str, &str)],
    services: &str,
) -> (Catalog, vpai_model::Stack) {
    let folder = dir.join("catalog/web");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("service.toml"),
        format!(
            r#"name = "web"
description = "a static site"
phase = "apps"
image = "example/web"
version = "1.2.3"
uid = 101
gid = 101
tools = ["sh", "wget"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
[healthcheck]
{rest}"#
        ),
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(folder.join(name), text).unwrap();
    }
    let mut catalog = Catalog::embedded();
    catalog.load_dir(&dir.join("catalog")).unwrap();
    let file = StackFile::parse(
        &dir.join("stack.toml"),
        format!("[project]\nname = \"site\"\ndomain = \"example.org\"\nservices = [{services}]\n"),
    )
    .unwrap();
    let stack = build(&file, &catalog, &BuildOptions::default()).unwrap();
    (catalog, stack)
}

/// Adding a service is adding a folder: `catalog/web/service.toml` and its template
/// next to stack.toml, and the service renders like a shipped one.
#[test]
fn a_service_from_an_operator_folder_renders_with_its_template() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, stack) = operator_web_service(
        tmp.path(),
        r#"test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
[web]
subdomain = "www"
port = 8080
[[configs]]
template = "site.conf.j2"
path = "configs/web/site.conf"
target = "/etc/web/site.conf"
owner = "service"
[data]
greeting = "bonjour"
"#,
        &[(
            "site.conf.j2",
            "server_name {{ service.fqdn }};\nsay {{ data.greeting }};\n",
        )],
        "\"caddy\", \"web\"",
    );
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let site = r.get("configs/web/site.conf").unwrap();
    assert_eq!(site.text(), "server_name www.example.org;\nsay bonjour;\n");
    assert_eq!(site.owner, (101, 101));
    assert_eq!(site.services, ["web"]);
    let compose = r.get("docker-compose.yml").unwrap().text();
    assert!(compose.contains("example/web:1.2.3"), "{compose}");
    assert!(compose.contains("/etc/web/site.conf"), "{compose}");
    let caddy = r.get("configs/caddy/Caddyfile").unwrap().text();
    assert!(caddy.contains("www.example.org"), "{caddy}");
}

/// `vpai check` of what was rendered reads the facts of the stack's own entry: the
/// healthcheck calls `curl`, which the entry says its image lacks.
#[test]
fn the_lint_of_a_rendered_custom_service_uses_its_entry_facts_000_11() {
    let tmp = tempfile::tempdir().unwrap();
    let (catalog, stack) = operator_web_service(
        tmp.path(),
        "test = [\"CMD\", \"curl\", \"-f\", \"http://127.0.0.1:8080/\"]\n",
        &[],
        "\"web\"",
    );
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let files: Vec<vpai_check::SourceFile> = r
        .artifacts
        .iter()
        .map(|a| vpai_check::SourceFile::new(a.path.clone(), a.bytes.clone()))
        .collect();
    let opts = vpai_check::CheckOptions::default();
    let missing_tool = |report: &vpai_check::Report| {
        report
            .findings
            .iter()
            .any(|f| f.rule == "VP102" && f.path == "docker-compose.yml")
    };
    assert!(
        !missing_tool(&vpai_check::check_files(&files, &opts)),
        "the shipped catalog does not know example/web"
    );
    let report = vpai_check::check_files_with_catalog(&files, &opts, &catalog);
    assert!(missing_tool(&report), "{:?}", report.findings);
}

/// The keys the monitoring services and OpenClaw need, from an operator's folder:
/// read-only host mounts, the Docker socket's group read from the host, no healthcheck
/// with a stated reason, verbatim files, probes whose secrets stay off argv, data
/// replaced from stack.toml.
#[test]
fn host_mounts_socket_group_files_probes_and_data_render_as_declared() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("catalog/web");
    std::fs::create_dir_all(folder.join("boards/nested")).unwrap();
    std::fs::write(folder.join("boards/a.json"), "{\"uid\":\"a\"}\n").unwrap();
    std::fs::write(
        folder.join("boards/nested/b.json"),
        "{{ not a template }}\n",
    )
    .unwrap();
    let (_, stack) = operator_web_service(
        tmp.path(),
        r#"test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
[[host_mounts]]
source = "/var/run/docker.sock"
target = "/var/run/docker.sock"
[[host_mounts]]
source = "/srv/rw"
target = "/rw"
read_only = false
[[files]]
source = "boards"
path = "configs/web/boards"
target = "/boards"
[[secrets]]
name = "web_token"
[[probes]]
name = "answers"
description = "the site answers with the token"
command = ["sh", "-c", "wget -qO- --header \"X-Token: $TOKEN\" http://127.0.0.1:8080/{{ data.page }}"]
env = { TOKEN = "{{ secrets.web_token }}" }
expect = "ok"
attempts = 3
[data]
page = "index.html"
"#,
        &[],
        "\"web\"",
    );
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let compose = r.get("docker-compose.yml").unwrap().text().to_string();
    assert!(
        compose.contains("- /var/run/docker.sock:/var/run/docker.sock:ro"),
        "{compose}"
    );
    assert!(compose.contains("- /srv/rw:/rw\n"), "{compose}");
    assert!(
        compose.contains("- ./configs/web/boards:/boards:ro"),
        "{compose}"
    );
    // Verbatim: a file that looks like a template is copied as it is.
    assert_eq!(
        r.get("configs/web/boards/a.json").unwrap().text(),
        "{\"uid\":\"a\"}\n"
    );
    assert_eq!(
        r.get("configs/web/boards/nested/b.json").unwrap().text(),
        "{{ not a template }}\n"
    );
    assert!(r.dirs.iter().any(|d| d.path == "configs/web/boards/nested"));
    // A copied file the container reads is part of its inputs: a change recreates it.
    assert_eq!(
        r.get("configs/web/boards/a.json").unwrap().services,
        ["web"]
    );
    let p = &r.probes[0];
    assert_eq!(p.name, "answers");
    assert_eq!(p.attempts, 3);
    assert!(p.argv[2].ends_with("/index.html"), "{:?}", p.argv);
    let token = store.get("web_token").unwrap();
    assert!(p.argv.iter().all(|a| !a.contains(token)), "secret in argv");
    assert_eq!(p.env, [("TOKEN".to_string(), token.to_string())]);
    assert!(!format!("{p:?}").contains(token), "Debug shows the secret");
    assert_eq!(
        p.place,
        probes::ProbePlace::Container("site_web".to_string())
    );
}

#[test]
fn a_secret_in_a_probe_command_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, stack) = operator_web_service(
        tmp.path(),
        r#"test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
[[secrets]]
name = "web_token"
[[probes]]
name = "leaky"
description = "puts the token on the command line"
command = ["wget", "--header", "X-Token: {{ secrets.web_token }}", "http://127.0.0.1:8080/"]
"#,
        &[],
        "\"web\"",
    );
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    let err = render(&stack, &store, &TemplateSource::embedded())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("process list") && err.contains("`env`"),
        "{err}"
    );
    assert!(!err.contains(store.get("web_token").unwrap()), "{err}");
}

/// The Docker socket's group is the target host's (seed 001 §11.13: 989 on Debian,
/// other numbers elsewhere): an offline render assumes Debian's, a deploy writes the
/// GID its host snapshot read.
#[test]
fn the_docker_socket_group_is_the_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("catalog/web");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("service.toml"),
        r#"name = "web"
description = "talks to the engine"
phase = "apps"
image = "example/web"
version = "1.2.3"
uid = 1000
gid = 1000
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
group_add = ["docker-socket", "44"]
[liveness]
reason = "the image has no HTTP client"
"#,
    )
    .unwrap();
    let mut catalog = Catalog::embedded();
    catalog.load_dir(&tmp.path().join("catalog")).unwrap();
    let file = StackFile::parse(
        &tmp.path().join("stack.toml"),
        "[project]\nname = \"site\"\ndomain = \"example.org\"\nservices = [\"web\"]\n[services.web]\n".into(),
    )
    .unwrap();
    let stack = build(&file, &catalog, &BuildOptions::default()).unwrap();
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    let compose = |stack: &Stack| {
        render(stack, &store, &TemplateSource::embedded())
            .unwrap()
            .get("docker-compose.yml")
            .unwrap()
            .text()
            .to_string()
    };
    let offline = compose(&stack);
    assert!(
        offline.contains("group_add:\n    - '989'\n    - '44'")
            || offline.contains("group_add:\n    - \"989\"\n    - \"44\""),
        "{offline}"
    );
    assert!(!offline.contains("healthcheck:"), "{offline}");
    stack.host_facts.set(Some(vpai_model::HostFacts {
        docker_socket_gid: 998,
    }));
    let deployed = compose(&stack);
    assert!(deployed.contains("998"), "{deployed}");
    assert!(!deployed.contains("989"), "{deployed}");
}

/// LiteLLM's routing comes from stack.toml: the model list, fallbacks in the list-of-maps
/// shape LiteLLM reads (seed 001 §10.1), provider budgets, the Redis cache by reference.
#[test]
fn litellm_models_fallbacks_budgets_and_cache_come_from_stack_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let file = StackFile::parse(
        &tmp.path().join("stack.toml"),
        r#"[project]
name = "x"
domain = "example.org"
[services.litellm.data]
fallbacks = [{ model = "claude-sonnet", to = ["deepseek-v3"] }]
budgets = [{ provider = "openrouter", limit = 10.5, period = "1d" }]
[[services.litellm.data.models]]
name = "claude-sonnet"
model = "anthropic/claude-sonnet-4-5"
key = "os.environ/ANTHROPIC_API_KEY"
secret = "anthropic_api_key"
[[services.litellm.data.models]]
name = "deepseek-v3"
model = "openrouter/deepseek/deepseek-chat"
key = "os.environ/OPENROUTER_API_KEY"
secret = "openrouter_api_key"
max_tokens = 4096
"#
        .into(),
    )
    .unwrap();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    for key in ["anthropic_api_key", "openrouter_api_key"] {
        store.set(key, "sk-test".into(), vpai_vault::SecretOrigin::External);
    }
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let text = r
        .get("configs/litellm/config.yaml")
        .unwrap()
        .text()
        .to_string();
    let yaml: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let models = yaml["model_list"].as_array().unwrap();
    assert_eq!(models.len(), 2, "{text}");
    assert!(
        models[0]["litellm_params"].get("max_tokens").is_none(),
        "{text}"
    );
    assert_eq!(models[1]["litellm_params"]["max_tokens"], 4096, "{text}");
    assert_eq!(
        yaml["router_settings"]["fallbacks"],
        serde_json::json!([{ "claude-sonnet": ["deepseek-v3"] }]),
        "{text}"
    );
    assert_eq!(
        yaml["router_settings"]["provider_budget_config"]["openrouter"],
        serde_json::json!({ "budget_limit": 10.5, "time_period": "1d" }),
        "{text}"
    );
    assert_eq!(
        yaml["litellm_settings"]["cache_params"]["password"],
        "os.environ/REDIS_PASSWORD"
    );
    assert!(!text.contains("sk-test"), "a key value in the config");
}

/// The backup files: root-only (the engine 0700, the data 0600; only the systemd units
/// are readable, and hold no value), every secret in an env or password file and never
/// in an argv or an `info` line; the repository password is its own file.
#[test]
fn backup_files_are_root_only_and_keep_secrets_out_of_argv() {
    let (stack, store) = example();
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let backup: Vec<&Artifact> = r
        .artifacts
        .iter()
        .filter(|a| a.path.starts_with("backup/"))
        .collect();
    assert!(backup.len() > 20);
    for a in &backup {
        assert_eq!(a.owner, (0, 0), "{}", a.path);
        let unit = a.path == backup::UNIT_SERVICE || a.path == backup::UNIT_TIMER;
        if unit {
            assert_eq!(a.mode, 0o644);
        } else {
            assert_eq!(a.mode & 0o077, 0, "{} is readable by others", a.path);
        }
        let carries = a.path.ends_with("/env")
            || a.path == "backup/repository-password"
            || a.path == "backup/settings";
        for (_, def) in stack.secret_defs() {
            let Some(value) = store.get(&def.name) else {
                continue;
            };
            if a.text().contains(value) {
                assert!(carries, "{} holds the value of {}", a.path, def.name);
                assert!(a.secret && a.secrets.contains(&def.name), "{}", a.path);
            }
        }
    }
    let ids: Vec<&str> = r.backups.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "postgresql-roles",
            "postgresql-database-n8n",
            "postgresql-database-litellm",
            "redis-rdb",
            "qdrant-collections",
            "n8n-data"
        ]
    );
    let n8n_db = &r.backups[1];
    assert_eq!(
        n8n_db.stops,
        ["n8n"],
        "the database's owner stops while it is swapped"
    );
    let pw = r.get("backup/repository-password").unwrap();
    assert_eq!(pw.text(), "TEST-backup_repository_password");
    // A catalog backup command that puts a secret in argv is refused.
    let tmp = tempfile::tempdir().unwrap();
    let (_, stack) = operator_web_service(
        tmp.path(),
        "test = [\"CMD\", \"true\"]\n[[secrets]]\nname = \"web_key\"\n[[volumes]]\nsource = \"data/web\"\ntarget = \"/d\"\n[[backup]]\nname = \"dump\"\ndescription = \"d\"\ncommand = [\"dump\", \"--key={{ secrets.web_key }}\"]\n[backup.restore]\nvolume = \"data/web\"\n",
        &[],
        "\"web\"",
    );
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    let err = render(&stack, &store, &TemplateSource::embedded()).unwrap_err();
    assert!(err.to_string().contains("process list"), "{err}");
}

/// `[access]`: a VPN-only admin UI gets an allow-list of the VPN's range with its
/// catalog's public paths left out, a 403 page, and HTTP/3 off; a public site gets
/// none of it, and nothing trusts a forwarded header unless a relay is declared.
#[test]
fn vpn_only_sites_get_an_allow_list_and_keep_their_public_paths() {
    let text = "[project]\nname='acc'\ndomain='example.org'\nprofile='core'\n\
                [access]\nadmin='vpn'\nvpn=['100.64.0.0/10', 'fd7a:115c:a1e0::/48']\n\
                [services.litellm]\naccess='public'\n";
    let file = StackFile::parse(std::path::Path::new("stack.toml"), text.into()).unwrap();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let mut store = SecretStore::in_memory();
    ensure_secrets(&stack, &mut store);
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let caddy = r.get("configs/caddy/Caddyfile").unwrap().text();
    let site = |fqdn: &str| {
        let start = caddy.find(&format!("\n{fqdn} {{")).unwrap();
        let end = caddy[start + 1..].find("\n}\n").unwrap() + start + 1;
        caddy[start..end].to_string()
    };
    let n8n = site("n8n.example.org");
    assert!(
        n8n.contains("not remote_ip 100.64.0.0/10 fd7a:115c:a1e0::/48"),
        "{n8n}"
    );
    assert!(n8n.contains("not path /webhook/* /webhook-test/*"), "{n8n}");
    assert!(n8n.contains("error @outside_vpn"), "{n8n}");
    assert!(n8n.contains("handle_errors 403"), "{n8n}");
    let qdrant = site("qd.example.org");
    assert!(qdrant.contains("not remote_ip 100.64.0.0/10"), "{qdrant}");
    assert!(!qdrant.contains("not path"), "{qdrant}");
    assert!(!site("llm.example.org").contains("outside_vpn"));
    assert!(caddy.contains("protocols h1 h2"), "{caddy}");
    assert!(!caddy.contains("trusted_proxies"), "{caddy}");
    // What vpai renders passes its own check.
    let files: Vec<vpai_check::SourceFile> = r
        .artifacts
        .iter()
        .map(|a| vpai_check::SourceFile::new(a.path.clone(), a.bytes.clone()))
        .collect();
    let report = vpai_check::check_files(&files, &Default::default());
    assert!(report.findings.is_empty(), "{:?}", report.findings);

    // With a relay declared, its forwarded header is believed: `client_ip`.
    let text = format!("{text}[services.n8n]\naccess='vpn'\n")
        .replace("[access]\n", "[access]\ntrusted_proxies=['100.64.0.7']\n");
    let file = StackFile::parse(std::path::Path::new("stack.toml"), text).unwrap();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    let caddy = r.get("configs/caddy/Caddyfile").unwrap().text();
    assert!(
        caddy.contains("trusted_proxies static 100.64.0.7"),
        "{caddy}"
    );
    assert!(caddy.contains("not client_ip 100.64.0.0/10"), "{caddy}");
}

/// A two-node swarm of the `core` profile: PostgreSQL and Caddy on `a` (the manager),
/// Redis listed on `b`, LiteLLM in three replicas anywhere.
fn swarm_example() -> (Stack, SecretStore) {
    let text = r#"
[project]
name = "sw"
domain = "example.com"
profile = "core"
engine = "swarm"

[swarm]
manager = "a"

[hosts.a]
address = "10.0.0.1"

[hosts.b]
address = "10.0.0.2"
services = ["redis"]

[services.litellm]
replicas = 3
"#;
    let file = StackFile::parse(std::path::Path::new("stack.toml"), text.to_string()).unwrap();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let store = fake_store(&stack);
    (stack, store)
}

fn swarm_images(stack: &Stack) -> BTreeMap<String, swarm::ImageConfig> {
    stack
        .services
        .iter()
        .map(|s| {
            (
                s.image.clone(),
                swarm::ImageConfig {
                    entrypoint: vec![format!("{}-entrypoint", s.name)],
                    cmd: vec![format!("{}-cmd", s.name)],
                    id: format!("sha256:{:064x}", s.name.len()),
                    // Redis as if pulled from a registry; the others built locally.
                    repo_digests: if s.name == "redis" {
                        let repo = s.image.rsplit_once(':').map_or(&*s.image, |(r, _)| r);
                        vec![format!("{repo}@sha256:{}", "ab".repeat(32))]
                    } else {
                        Vec::new()
                    },
                },
            )
        })
        .collect()
}

#[test]
fn swarm_render_keeps_secrets_out_of_the_stack_files() {
    let (stack, store) = swarm_example();
    let templates = TemplateSource::embedded();
    let compose = render(&stack, &store, &templates).unwrap();
    let sw =
        swarm::render_swarm(&stack, &store, &templates, &compose, &swarm_images(&stack)).unwrap();
    let infra = sw
        .files
        .get(swarm::stack_file(Phase::Infra))
        .unwrap()
        .text()
        .to_string();
    let apps = sw
        .files
        .get(swarm::stack_file(Phase::Apps))
        .unwrap()
        .text()
        .to_string();
    // No secret value in any file that stays a file and is not itself secret, and none
    // in the stack files at all; env files are not written for Swarm.
    for a in &sw.files.artifacts {
        assert!(!a.path.starts_with("env/"), "{}", a.path);
        if a.path.starts_with("swarm/") {
            assert!(!a.text().contains("TEST-"), "a secret value in {}", a.path);
        }
    }
    // Every env entry that reads a secret is a Swarm secret mounted for the wrapper.
    let pg_pass = sw
        .objects
        .iter()
        .find(|o| o.key == "postgresql/POSTGRES_PASSWORD")
        .expect("the password is a secret object");
    assert_eq!(pg_pass.kind, swarm::ObjectKind::Secret);
    assert_eq!(pg_pass.bytes, b"TEST-postgresql_password");
    assert!(infra.contains(&pg_pass.name));
    assert!(infra.contains("target: vpai-env-POSTGRES_PASSWORD"));
    // The wrapper runs the image's own entrypoint, then the catalog's command.
    assert!(infra.contains("- postgresql-entrypoint"), "{infra}");
    assert!(infra.contains("config_file=/etc/postgresql/postgresql.conf"));
    // `$` is escaped for stack deploy's interpolation.
    assert!(infra.contains("$${f#/run/secrets/vpai-env-}"), "{infra}");
    // Placement: stateful on its host (the manager by default), Redis where listed,
    // LiteLLM anywhere, three replicas, start-first; stateful ones stop-first.
    assert_eq!(sw.placement["postgresql"].as_deref(), Some("a"));
    assert_eq!(sw.placement["redis"].as_deref(), Some("b"));
    assert_eq!(sw.placement["litellm"], None);
    assert!(infra.contains("node.labels.vpai.host == b"));
    assert!(apps.contains("replicas: 3"));
    assert!(apps.contains("order: start-first"));
    assert!(infra.contains("order: stop-first"));
    assert!(!infra.contains("order: start-first"), "{infra}");
    assert!(infra.contains("failure_action: rollback"));
    assert!(infra.contains("mode: host"));
    assert!(infra.contains("endpoint_mode: dnsrr") && apps.contains("endpoint_mode: dnsrr"));
    assert!(
        infra.contains("encrypted: 'true'") || infra.contains("encrypted: \"true\""),
        "{infra}"
    );
    assert!(apps.contains("external: true"));
    assert!(!infra.contains("depends_on") && !infra.contains("container_name"));
    // Data directories are made on the node that holds them.
    assert!(sw.node_dirs["b"].iter().any(|d| d.path == "data/redis"));
    assert!(!sw.node_dirs["a"].iter().any(|d| d.path == "data/redis"));
    // The same inputs, the same names; a changed value, a new name.
    let again =
        swarm::render_swarm(&stack, &store, &templates, &compose, &swarm_images(&stack)).unwrap();
    let names =
        |r: &swarm::RenderedSwarm| r.objects.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&sw), names(&again));
    let (_, mut store2) = swarm_example();
    store2.set(
        "postgresql_password",
        "other".into(),
        vpai_vault::SecretOrigin::Generated,
    );
    let compose2 = render(&stack, &store2, &templates).unwrap();
    let changed = swarm::render_swarm(
        &stack,
        &store2,
        &templates,
        &compose2,
        &swarm_images(&stack),
    )
    .unwrap();
    let new_pass = changed
        .objects
        .iter()
        .find(|o| o.key == "postgresql/POSTGRES_PASSWORD")
        .unwrap();
    assert_ne!(new_pass.name, pg_pass.name);
    if std::env::var("VPAI_PEEK").is_ok() {
        println!("{infra}");
    }
}

#[test]
fn swarm_render_pins_every_image_to_what_the_manager_holds() {
    let (stack, store) = swarm_example();
    let templates = TemplateSource::embedded();
    let compose = render(&stack, &store, &templates).unwrap();
    let images = swarm_images(&stack);
    let sw = swarm::render_swarm(&stack, &store, &templates, &compose, &images).unwrap();
    let infra = sw
        .files
        .get(swarm::stack_file(Phase::Infra))
        .unwrap()
        .text();
    // From a registry: the stack file names the digest, so every node runs those bytes.
    let redis = stack.service("redis").unwrap();
    let pinned = format!("{}@sha256:{}", redis.image, "ab".repeat(32));
    assert_eq!(sw.images["redis"].reference, pinned);
    assert_eq!(sw.images["redis"].id, None);
    assert!(infra.contains(&pinned), "{infra}");
    // Built locally: the name, and the ID as a container label (a rebuilt image under
    // the same name changes the spec, so Swarm rolls the service).
    let pg = stack.service("postgresql").unwrap();
    let id = &images[&pg.image].id;
    assert_eq!(sw.images["postgresql"].reference, pg.image);
    assert_eq!(sw.images["postgresql"].id.as_ref(), Some(id));
    assert!(
        infra.contains(&format!("{}: {id}", swarm::IMAGE_ID_LABEL)),
        "{infra}"
    );
    // An image the manager does not hold is named, not pinned (the deploy refuses it).
    let caddy = stack.service("caddy").unwrap();
    let mut fewer = images.clone();
    fewer.remove(&caddy.image);
    let sw = swarm::render_swarm(&stack, &store, &templates, &compose, &fewer).unwrap();
    assert!(!sw.images.contains_key("caddy") && sw.images.contains_key("postgresql"));
}

#[test]
fn pin_image_matches_the_digest_of_the_same_repository() {
    let config = |digests: &[&str]| swarm::ImageConfig {
        id: "sha256:1234".into(),
        repo_digests: digests.iter().map(|d| d.to_string()).collect(),
        ..Default::default()
    };
    let pin = |image: &str, c: &swarm::ImageConfig| swarm::pin_image(image, Some(c)).unwrap();
    // The digest of the image's own repository, even among others (one ID, many tags).
    let c = config(&["other/app@sha256:aa", "postgres@sha256:bb"]);
    assert_eq!(
        pin("postgres:16.4", &c).reference,
        "postgres:16.4@sha256:bb"
    );
    // Docker Hub names are compared in their short form.
    let c = config(&["docker.io/library/redis@sha256:cc"]);
    assert_eq!(pin("redis:7", &c).reference, "redis:7@sha256:cc");
    // A registry with a port: its colon is not a tag.
    let c = config(&["reg.test:5000/team/app@sha256:dd"]);
    assert_eq!(
        pin("reg.test:5000/team/app", &c).reference,
        "reg.test:5000/team/app@sha256:dd"
    );
    // No digest of that repository: local, pinned by ID.
    let local = pin("team/app:1", &config(&["other/app@sha256:aa"]));
    assert_eq!(local.reference, "team/app:1");
    assert_eq!(local.id.as_deref(), Some("sha256:1234"));
    // Already pinned by the operator: kept as written.
    let own = swarm::pin_image("app@sha256:ee", None).unwrap();
    assert_eq!((own.reference.as_str(), own.id), ("app@sha256:ee", None));
    assert_eq!(swarm::pin_image("app:1", None), None);
}

#[test]
fn swarm_monitor_window_outlasts_the_healthcheck() {
    let (stack, _) = swarm_example();
    for s in &stack.services {
        let Some(h) = &s.def.healthcheck else {
            continue;
        };
        let d = |t: &str| probes::parse_duration(t).unwrap();
        let fails_after = d(&h.start_period) + d(&h.interval) * h.retries;
        assert!(swarm::monitor_window(s) > fails_after, "{}", s.name);
    }
}
