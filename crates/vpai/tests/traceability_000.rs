//! Traceability of seed 000, the post-mortem of the first deploy (30 numbered critical
//! errors): one test per error, named `..._000_N`, that shows the error impossible by
//! construction or caught before a deploy. #1 (SSH lockout) and #4 (VPN) belong to
//! another issue; #8 #9 #11 #16 #19 #20 #22 are traced in the crates' own tests
//! (`grep -rn _000_ crates/`).
//!
//! Three kinds of proof, all through the `vpai` binary or its embedded catalog:
//! - the files `vpai render` writes (compose files, configs, the manifest of owners);
//! - `vpai check` on a small file that reproduces the mistake (it names the rule), and
//!   the corrected file, clean for that rule;
//! - what a deploy does, in order: a stand-in `docker` first on `PATH` logs every call
//!   and answers as an engine whose containers run once compose starts them (and a
//!   stand-in `curl` answers the smoke probes, a trap `dig` says whether it was used).
//!   No Docker engine is needed for these. The one test that asks the real engine is
//!   skipped loudly without one, and fails when `VPAI_E2E_REQUIRED=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASSPHRASE: &str = "traceability-000-passphrase";

/// `vpai` with a private state directory and vault passphrase, run in `dir`.
fn vpai(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpai"));
    cmd.current_dir(dir)
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("VPAI_VAULT_PASSWORD", PASSPHRASE)
        .env_remove("VPAI_VAULT_PASSWORD_FILE")
        .env_remove("VPAI_VAULT_IDENTITY_FILE")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ------------------------------------------------------------------ rendered files

/// The embedded example, rendered into `out/` of a temp dir.
struct Rendered {
    _dir: tempfile::TempDir,
    out: PathBuf,
}

impl Rendered {
    fn example() -> Rendered {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let run = vpai(dir.path())
            .args(["render", "--example", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", text(&run));
        Rendered { _dir: dir, out }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    /// One service's block of a rendered compose file.
    fn service(&self, compose: &str, name: &str) -> String {
        service_block(&self.read(compose), name)
    }

    /// The manifest's entry (`dirs` or `files`) for `path`.
    fn manifest_entry(&self, kind: &str, path: &str) -> serde_json::Value {
        let manifest: serde_json::Value =
            serde_json::from_str(&self.read("vpai-manifest.json")).unwrap();
        manifest[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("no {kind} entry `{path}` in the manifest"))
            .clone()
    }

    /// The rules `vpai check` reports on everything rendered.
    fn check_rules(&self) -> Vec<String> {
        check(&self.out).into_iter().map(|f| f.rule).collect()
    }
}

/// The lines of service `name` in a compose file (its header excluded), as rendered:
/// two spaces before a service name, more before its keys.
fn service_block(compose: &str, name: &str) -> String {
    let header = format!("  {name}:");
    let mut lines = compose.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "no service `{name}` in:\n{compose}");
    lines
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The list items under `key:` in a service block (`cap_add`, `volumes`, `test`).
fn block_list(block: &str, key: &str) -> Vec<String> {
    let header = format!("    {key}:");
    let mut lines = block.lines().skip_while(|l| *l != header);
    if lines.next().is_none() {
        return Vec::new();
    }
    lines
        .map_while(|l| l.trim_start().strip_prefix("- "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .collect()
}

/// The scalar `key: value` of a service block.
fn block_value(block: &str, key: &str) -> Option<String> {
    let prefix = format!("    {key}: ");
    block
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().trim_matches('"').to_string())
}

// ------------------------------------------------------------------ vpai check

#[derive(Debug)]
struct Finding {
    rule: String,
    severity: String,
    message: String,
}

/// `vpai check PATH --format json`: the findings.
fn check(path: &Path) -> Vec<Finding> {
    let dir = path.parent().unwrap();
    let out = vpai(dir)
        .arg("check")
        .arg(path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "vpai check: {}",
        text(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Finding {
            rule: f["rule"].as_str().unwrap().to_string(),
            severity: f["severity"].as_str().unwrap().to_string(),
            message: f["message"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// `vpai check` on one file `name` holding `body`, alone in a fresh directory.
fn check_file(name: &str, body: &str) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let file = project.join(name);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, body).unwrap();
    check(&project)
}

/// The mistake is reported under `rule`; returns the messages of that rule.
fn flagged(name: &str, body: &str, rule: &str) -> Vec<String> {
    let findings = check_file(name, body);
    let messages: Vec<String> = findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.message.clone())
        .collect();
    assert!(
        !messages.is_empty(),
        "{rule} does not catch this {name}:\n{body}\nfindings: {findings:?}"
    );
    messages
}

/// The corrected file is clean for `rule`.
fn clean_for(name: &str, body: &str, rule: &str) {
    let findings = check_file(name, body);
    assert!(
        findings.iter().all(|f| f.rule != rule),
        "{rule} still reported on the corrected {name}:\n{body}\nfindings: {findings:?}"
    );
}

/// The rule exists for this seed entry: the registry's traceability field cites it
/// (operators see the rule id and `--explain`, never our internal document numbers).
fn explains(rule: &str, seed_entry: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = vpai(dir.path())
        .args(["check", "--explain", rule])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let explanation = String::from_utf8_lossy(&out.stdout);
    let registered = vpai_check::rules::find(rule).expect("a rule of the registry");
    assert!(explanation.starts_with(registered.id), "{explanation}");
    assert!(
        !explanation.contains("seed 0"),
        "internal numbers shown:\n{explanation}"
    );
    let cited = registered
        .seed
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .any(|token| token == seed_entry);
    assert!(
        registered.seed.contains("seed 000") && cited,
        "rule {rule} is not traced to seed 000 {seed_entry}: {}",
        registered.seed
    );
}

// ------------------------------------------------------------------ the catalog

/// What the embedded catalog says about a service, from its deployable entry or, while
/// vpai does not deploy it yet, its facts-only entry.
#[derive(Debug)]
struct Facts {
    deployable: bool,
    uid: u32,
    tools: Vec<String>,
    cap_add: Vec<String>,
    distroless: bool,
    run_as: Option<String>,
    /// The container healthcheck's `test` (deployable entries).
    healthcheck: Option<Vec<String>>,
    /// A deployable entry without healthcheck says why in `[liveness]`.
    liveness: bool,
    command: Vec<String>,
    command_requires_one_of: Vec<String>,
}

fn catalog_facts(name: &str) -> Facts {
    let catalog = vpai_catalog::Catalog::embedded();
    if let Some(s) = catalog.get(name) {
        return Facts {
            deployable: true,
            uid: s.uid,
            tools: s.tools.clone(),
            cap_add: s.cap_add.clone(),
            distroless: s.distroless,
            run_as: s.run_as.clone(),
            healthcheck: s.healthcheck.as_ref().map(|h| h.test.clone()),
            liveness: s.liveness.is_some(),
            command: s.command.clone(),
            command_requires_one_of: s.lint.command_requires_one_of.clone(),
        };
    }
    let f = catalog
        .facts_only()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("`{name}` is not in the embedded catalog"));
    Facts {
        deployable: false,
        uid: f.uid,
        tools: f.tools.clone(),
        cap_add: f.cap_add.clone(),
        distroless: f.distroless,
        run_as: None,
        healthcheck: None,
        liveness: false,
        command: Vec::new(),
        command_requires_one_of: f.lint.command_requires_one_of.clone(),
    }
}

/// Shell builtins: a `CMD-SHELL` healthcheck may use them without the program.
const SHELL_BUILTINS: &[&str] = &[
    "kill", "exit", "echo", "printf", "test", "true", "false", ":", "read", "cd",
];

/// The programs a compose healthcheck `test` starts: the argv's first word for `CMD`,
/// the shell and the first word of each command (builtins aside) for `CMD-SHELL`.
fn healthcheck_programs(test: &[String]) -> Vec<String> {
    match test.first().map(String::as_str) {
        Some("CMD") => test.get(1).cloned().into_iter().collect(),
        Some("CMD-SHELL") => {
            let script = test.get(1).map(String::as_str).unwrap_or("");
            std::iter::once("sh".to_string())
                .chain(
                    script
                        .split(['|', ';', '&'])
                        .filter_map(|c| c.split_whitespace().next())
                        .filter(|w| !w.starts_with(['(', '!', '[']))
                        .filter(|w| !SHELL_BUILTINS.contains(w))
                        .map(str::to_string),
                )
                .collect()
        }
        _ => Vec::new(),
    }
}

/// A deployable entry's healthcheck only starts programs its image has, and never an
/// HTTP client the image lacks; a facts-only entry has none to check yet.
fn healthcheck_uses_only_its_tools(name: &str, facts: &Facts) {
    if !facts.deployable {
        return;
    }
    match &facts.healthcheck {
        Some(test) => {
            let programs = healthcheck_programs(test);
            assert!(!programs.is_empty(), "{name}: healthcheck {test:?}");
            for p in &programs {
                assert!(
                    facts.tools.contains(p),
                    "{name}'s healthcheck {test:?} starts `{p}`, not in its tools {:?}",
                    facts.tools
                );
            }
            if facts.distroless {
                assert_eq!(
                    test[0], "CMD",
                    "{name} is distroless: no shell for CMD-SHELL"
                );
            }
        }
        None => assert!(
            facts.liveness,
            "{name} has neither a healthcheck nor a [liveness] reason"
        ),
    }
}

// ------------------------------------------------------------------ a stand-in engine

/// Stand-in for the Docker CLI (engine and Compose v2). Logs every call to
/// `$FAKE_DOCKER_STATE/calls`, and answers as an engine whose containers run once
/// compose starts them: `starting` for their first `$FAKE_DOCKER_STARTING`
/// inspections, `healthy` after (each answer logged as `answer NAME HEALTH`). Images
/// listed in `$FAKE_DOCKER_MISSING` are absent and cannot be pulled. A network exists
/// when `$FAKE_DOCKER_STATE/network-NAME` holds its compose project label.
const FAKE_DOCKER: &str = r#"#!/bin/bash
set -u
s=${FAKE_DOCKER_STATE:?}
echo "docker $*" >>"$s/calls"
case "${1:-}" in
version) echo 28.0.0 ;;
ps) ;;
compose)
    [ "${2:-}" = version ] && { echo 2.40.0; exit 0; }
    [ "${2:-}" = -f ] && [ "${4:-}" = up ] || exit 0
    # Every service of the file, as compose runs it: container, image, inputs label.
    awk '$1 == "image:" {img = $2} $1 == "container_name:" {name = $2}
         $1 == "io.vpai.inputs:" {print name, img, $2}' "$3" >"$s/started"
    touch "$s/containers"
    while read -r name _; do
        grep -v "^$name " "$s/containers" >"$s/kept"; mv "$s/kept" "$s/containers"
    done <"$s/started"
    cat "$s/started" >>"$s/containers" ;;
container)
    shift 2
    out=""; rc=0
    for n in "$@"; do
        line=$(grep -m1 "^$n " "$s/containers" 2>/dev/null) || {
            rc=1; echo "Error response from daemon: No such container: $n" >&2; continue; }
        read -r _ image inputs <<<"$line"
        k=$(( $(cat "$s/seen-$n" 2>/dev/null || echo 0) + 1 )); echo "$k" >"$s/seen-$n"
        health=healthy; [ "$k" -le "${FAKE_DOCKER_STARTING:-0}" ] && health=starting
        echo "answer $n $health" >>"$s/calls"
        out+="${out:+,}{\"Id\":\"id-$n\",\"Name\":\"/$n\",\"RestartCount\":0,\"State\":{\"Status\":\"running\",\"ExitCode\":0,\"OOMKilled\":false,\"Health\":{\"Status\":\"$health\",\"Log\":[]}},\"Config\":{\"Image\":\"$image\",\"Labels\":{\"io.vpai.inputs\":\"$inputs\"}}}"
    done
    echo "[$out]"; exit $rc ;;
inspect) exit 1 ;;
image)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done; shift
    rc=0
    for i in "$@"; do
        case " ${FAKE_DOCKER_MISSING:-} " in
        *" $i "*) echo "Error response from daemon: no such image: $i: No such image: $i" >&2; rc=1 ;;
        *) echo "sha256:0000" ;;
        esac
    done
    exit $rc ;;
pull)
    echo "Error response from daemon: manifest for ${!#} not found: manifest unknown: manifest unknown" >&2
    exit 1 ;;
network)
    n=${!#}
    [ -f "$s/network-$n" ] || { echo "Error response from daemon: network $n not found" >&2; exit 1; }
    cat "$s/network-$n" ;;
exec)
    # psql reads the provisioning SQL on stdin; n8n's after-start steps (owner account,
    # workflows) print what the real ones print when there is nothing to do.
    case "$*" in
    *" psql "*) cat >>"$s/exec-stdin" ;;
    *OWNER_EMAIL*) echo "owner: already set up" ;;
    *import:workflow*) echo "workflows-ok" ;;
    esac ;;
esac
exit 0
"#;

/// Stand-in for curl (the smoke probes run it on the host): logs its arguments and
/// answers the HTTP code `$FAKE_CURL_CODES` (`host=code ...`) gives the URL's host, else 200.
const FAKE_CURL: &str = r#"#!/bin/bash
echo "curl $*" >>"${FAKE_DOCKER_STATE:?}/calls"
url=${!#}; code=200
for pair in ${FAKE_CURL_CODES:-}; do
    case "$url" in "https://${pair%%=*}:"*) code=${pair#*=} ;; esac
done
printf '%s' "$code"
"#;

/// A `dig` that is not there (minimal Debian 13), which says when something tried it.
const TRAP_DIG: &str = r#"#!/bin/sh
echo "dig $*" >>"${FAKE_DOCKER_STATE:?}/calls"
echo "dig: command not found" >&2
exit 127
"#;

/// A stack directory with the stand-in programs first on `PATH`.
struct Bench {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Bench {
    fn new(stack_toml: &str) -> Bench {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(dir.path().join("engine")).unwrap();
        for (name, body) in [
            ("docker", FAKE_DOCKER),
            ("curl", FAKE_CURL),
            ("dig", TRAP_DIG),
        ] {
            let path = bin.join(name);
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(dir.path().join("stack.toml"), stack_toml).unwrap();
        Bench {
            dir,
            env: Vec::new(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("engine")
    }

    fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_string(), value.to_string()));
    }

    /// `vpai ARGS --root ROOT` against the stand-in engine.
    fn vpai(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = vpai(self.dir.path());
        // With DOCKER_HOST set, the host state asks the `docker` CLI (the stand-in)
        // rather than the engine's socket, as it does for any engine the CLI chooses.
        cmd.env("PATH", path)
            .env("DOCKER_HOST", "unix:///var/run/docker.sock")
            .env("FAKE_DOCKER_STATE", self.state())
            .args(args)
            .arg("--root")
            .arg(self.root());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Every call the stand-ins saw, in order (`docker ...`, `answer ...`, `curl ...`).
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `docker compose -f ROOT/FILE ARGS` as the stand-in saw it.
    fn compose(&self, file: &str, args: &str) -> String {
        format!(
            "docker compose -f {} {args}",
            self.root().join(file).display()
        )
    }
}

/// A core stack named `name` (unique per test: the deploy lock is per project).
fn core_stack(name: &str, project_extra: &str, tables: &str) -> String {
    format!(
        "[project]\nname = \"{name}\"\ndomain = \"example.org\"\nprofile = \"core\"\ntls = \"internal\"\n{project_extra}\n{tables}"
    )
}

fn position(calls: &[String], what: &str) -> usize {
    calls
        .iter()
        .position(|c| c == what)
        .unwrap_or_else(|| panic!("no `{what}` in:\n{}", calls.join("\n")))
}

fn count(calls: &[String], pred: impl Fn(&str) -> bool) -> usize {
    calls.iter().filter(|c| pred(c)).count()
}

// ------------------------------------------------------------------ the errors

/// #2 "docker-stack role missing": every role wrote its configuration but none ran
/// `docker compose up`, so `docker ps -a` was empty after the deploy.
///
/// By construction: `vpai up` is the deploy; it writes the files and itself runs
/// `docker compose up` for phase A (infra) then phase B (apps), each through its own
/// file, and reports the services healthy. Observed through the stand-in engine.
#[test]
fn up_itself_starts_both_phases_with_docker_compose_000_2() {
    let bench = Bench::new(&core_stack("tr00002", "", ""));
    let out = bench.vpai(&["up", "--no-probes"]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = bench.calls();
    let infra = position(
        &calls,
        &bench.compose("docker-compose-infra.yml", "up -d --remove-orphans"),
    );
    let apps = position(
        &calls,
        &bench.compose("docker-compose.yml", "up -d --remove-orphans"),
    );
    assert!(
        infra < apps,
        "phase A must start first:\n{}",
        calls.join("\n")
    );
    for file in ["docker-compose-infra.yml", "docker-compose.yml"] {
        assert!(bench.root().join(file).is_file(), "{file} was not written");
    }
    // Every service of the stack was started by compose and gated healthy.
    for svc in ["postgresql", "redis", "qdrant", "caddy", "n8n", "litellm"] {
        let answer = format!("answer tr00002_{svc} healthy");
        assert!(
            calls.contains(&answer),
            "{svc} never ran:\n{}",
            calls.join("\n")
        );
    }
    assert!(
        stderr(&out).contains("6 services healthy"),
        "{}",
        text(&out)
    );
}

/// #3 "roles executed twice": a meta dependency on every role made Ansible run the
/// roles again, duplicating their tasks.
///
/// By construction: `vpai up` is one linear runbook, not a graph of roles with
/// dependencies: one image resolution, each phase's `compose up` once, the databases
/// provisioned once. A second `up` with nothing changed runs none of it.
#[test]
fn one_up_runs_each_step_once_and_a_second_up_runs_none_000_3() {
    let bench = Bench::new(&core_stack("tr00003", "", ""));
    let first = bench.vpai(&["up", "--no-probes"]);
    assert!(first.status.success(), "{}", text(&first));
    let calls = bench.calls();
    let infra_up = bench.compose("docker-compose-infra.yml", "up ");
    let apps_up = bench.compose("docker-compose.yml", "up ");
    assert_eq!(count(&calls, |c| c.starts_with(&infra_up)), 1, "{calls:#?}");
    assert_eq!(count(&calls, |c| c.starts_with(&apps_up)), 1, "{calls:#?}");
    assert_eq!(
        count(&calls, |c| c.starts_with("docker exec ")
            && c.contains(" psql ")),
        1,
        "{calls:#?}"
    );
    assert_eq!(
        count(&calls, |c| c.starts_with("docker image inspect")),
        1,
        "{calls:#?}"
    );

    let seen = calls.len();
    let second = bench.vpai(&["up", "--no-probes"]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        stderr(&second).contains("nothing to change"),
        "{}",
        text(&second)
    );
    let again = &bench.calls()[seen..];
    assert!(
        again
            .iter()
            .all(|c| !c.starts_with("docker compose -f") && !c.starts_with("docker exec")),
        "the second up ran steps again:\n{}",
        again.join("\n")
    );
}

/// #5 "Docker images that do not exist": `redis:8.0.10-bookworm` and
/// `openclaw:v2026.2.14` were not found, in the middle of the deploy.
///
/// Caught before a deploy: `vpai up` resolves every image on the host (present, or
/// pulled) before the first file is written; an image that is neither stops it with
/// the image, the service and the fix, and the host is left untouched. An image of
/// `[images]` (built on the host) is never pulled. The tag in the wrong format
/// (`v2026.2.14`: OpenClaw's tags have no `v`) is already caught by `vpai check` (VP704).
#[test]
fn an_image_that_does_not_exist_stops_up_before_anything_is_written_000_5() {
    let mut bench = Bench::new(&core_stack(
        "tr00005",
        "",
        "[services.redis]\nversion = \"8.0.10-bookworm\"\n",
    ));
    bench.set("FAKE_DOCKER_MISSING", "redis:8.0.10-bookworm");
    let out = bench.vpai(&["up", "--no-probes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`redis:8.0.10-bookworm` (service `redis`) cannot be pulled")
            && err.contains("manifest unknown"),
        "{err}"
    );
    assert!(err.contains("nothing was written on the host"), "{err}");
    assert!(!bench.root().exists(), "the host was written to");
    let calls = bench.calls();
    assert!(
        calls.contains(&"docker pull --quiet -- redis:8.0.10-bookworm".to_string()),
        "{calls:#?}"
    );
    assert!(
        calls.iter().all(|c| !c.starts_with("docker compose -f")),
        "compose ran: {calls:#?}"
    );

    // A locally built image (`[images]`) that is not on the host: never pulled.
    std::fs::write(
        bench.dir.path().join("stack.toml"),
        core_stack(
            "tr00005",
            "",
            "[images]\nredis = \"tr00005/redis:8.0.10-bookworm\"\n",
        ),
    )
    .unwrap();
    bench.set("FAKE_DOCKER_MISSING", "tr00005/redis:8.0.10-bookworm");
    let seen = bench.calls().len();
    let out = bench.vpai(&["up", "--no-probes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`tr00005/redis:8.0.10-bookworm` (service `redis`) is not on `local` and is never pulled"),
        "{err}"
    );
    assert!(!bench.root().exists(), "the host was written to");
    let calls = &bench.calls()[seen..];
    assert!(
        calls
            .iter()
            .all(|c| !c.starts_with("docker pull") && !c.starts_with("docker compose -f")),
        "{calls:#?}"
    );

    // The seed's other image: a `v` OpenClaw never puts in its tags.
    flagged(
        "docker-compose.yml",
        "services:\n  openclaw:\n    image: ghcr.io/openclaw/openclaw:v2026.2.14\n    init: true\n",
        "VP704",
    );
    clean_for(
        "docker-compose.yml",
        "services:\n  openclaw:\n    image: ghcr.io/openclaw/openclaw:2026.2.22\n    init: true\n",
        "VP704",
    );
}

/// Whether a real Docker engine with Compose v2 answers; otherwise why not.
fn real_engine() -> Result<(), String> {
    let ok = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok(&["version"]) {
        return Err("the Docker daemon does not answer".into());
    }
    if !ok(&["compose", "version"]) {
        return Err("Docker Compose v2 is missing".into());
    }
    Ok(())
}

/// #5 on a real engine: the stand-in's "No such image" answer is the engine's own.
/// An `[images]` entry naming an image the local engine does not have stops `vpai up`
/// before any file is written (only `docker image inspect` runs: nothing is pulled or
/// started). Skipped loudly without an engine; a failure when `VPAI_E2E_REQUIRED=1`.
#[test]
fn a_missing_image_is_found_on_the_real_engine_before_writing_000_5() {
    if let Err(why) = real_engine() {
        if std::env::var("VPAI_E2E_REQUIRED").as_deref() == Ok("1") {
            panic!("end-to-end test required but cannot run: {why}");
        }
        eprintln!("\n*** SKIPPED traceability 000 #5 on a real engine: {why} ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let image = "vpai-traceability-000/redis:8.0.10-bookworm";
    std::fs::write(
        dir.path().join("stack.toml"),
        core_stack("tr00005e", "", &format!("[images]\nredis = \"{image}\"\n")),
    )
    .unwrap();
    let out = vpai(dir.path())
        .args(["up", "--no-probes", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("`{image}` (service `redis`) is not on `local`")),
        "{err}"
    );
    assert!(err.contains("nothing was written on the host"), "{err}");
    assert!(!root.exists(), "the host was written to");
}

/// #6 "Docker networks: label conflict": `network javisi_backend has incorrect label
/// com.docker.compose.network`, networks left by an older compose with other labels.
///
/// By construction, the two phases never fight over a network: each network has an
/// explicit name, phase A's file creates the shared ones and phase B's declares them
/// `external: true`. Caught before a deploy: before `compose up` of a phase, vpai reads
/// the compose project label of each network the phase owns; one that belongs to
/// another project stops the deploy with its name and the fix, and compose never runs.
/// A network our own phase A created passes.
#[test]
fn a_network_of_another_compose_project_stops_up_before_compose_runs_000_6() {
    let bench = Bench::new(&core_stack("tr00006", "", ""));
    std::fs::write(bench.state().join("network-tr00006_backend"), "javisi\n").unwrap();
    let out = bench.vpai(&["up", "--no-probes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "network `tr00006_backend` exists but belongs to compose project `javisi`, not `tr00006-infra`"
        ),
        "{err}"
    );
    assert!(err.contains("docker network rm tr00006_backend"), "{err}");
    let calls = bench.calls();
    assert!(
        calls.iter().all(|c| !c.starts_with("docker compose -f")),
        "compose ran on a conflicting network: {calls:#?}"
    );

    // How the rendered files name and share the networks.
    let infra = std::fs::read_to_string(bench.root().join("docker-compose-infra.yml")).unwrap();
    let apps = std::fs::read_to_string(bench.root().join("docker-compose.yml")).unwrap();
    assert!(infra.contains("name: tr00006-infra\n"), "{infra}");
    assert!(apps.contains("name: tr00006\n"), "{apps}");
    let infra_nets = infra.split("\nnetworks:\n").nth(1).unwrap();
    assert!(
        infra_nets.contains("  backend:\n    name: tr00006_backend\n    driver: bridge"),
        "{infra_nets}"
    );
    let apps_nets = apps.split("\nnetworks:\n").nth(1).unwrap();
    assert!(
        apps_nets.contains("  backend:\n    name: tr00006_backend\n    external: true"),
        "{apps_nets}"
    );

    // The network labelled by our own phase A: the deploy goes through.
    std::fs::write(
        bench.state().join("network-tr00006_backend"),
        "tr00006-infra\n",
    )
    .unwrap();
    let out = bench.vpai(&["up", "--no-probes"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// #7 "n8n provisioning BEFORE its container exists": `docker exec javisi_n8n` gave
/// `No such container`, the provisioning ran before the stack was up.
///
/// By construction: the databases and roles are provisioned by vpai itself, in the
/// PostgreSQL container, after phase A's health gate and before phase B starts. The
/// stand-in engine reports PostgreSQL `starting` first: vpai waits for `healthy`, then
/// feeds the rendered SQL (n8n's role and database) to psql, then starts phase B.
#[test]
fn databases_are_provisioned_after_phase_a_is_healthy_and_before_phase_b_000_7() {
    let mut bench = Bench::new(&core_stack("tr00007", "", ""));
    bench.set("FAKE_DOCKER_STARTING", "1");
    let out = bench.vpai(&["up", "--no-probes"]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = bench.calls();
    let infra_up = position(
        &calls,
        &bench.compose("docker-compose-infra.yml", "up -d --remove-orphans"),
    );
    let starting = position(&calls, "answer tr00007_postgresql starting");
    let healthy = position(&calls, "answer tr00007_postgresql healthy");
    let psql = calls
        .iter()
        .position(|c| c.starts_with("docker exec ") && c.contains(" psql "))
        .unwrap_or_else(|| panic!("no provisioning: {calls:#?}"));
    let apps_up = position(
        &calls,
        &bench.compose("docker-compose.yml", "up -d --remove-orphans"),
    );
    assert!(
        infra_up < starting && starting < healthy && healthy < psql && psql < apps_up,
        "order: infra up {infra_up}, starting {starting}, healthy {healthy}, psql {psql}, apps up {apps_up}\n{}",
        calls.join("\n")
    );
    assert!(
        calls[psql].starts_with("docker exec -i tr00007_postgresql psql "),
        "{}",
        calls[psql]
    );
    assert!(
        calls[..apps_up]
            .iter()
            .all(|c| !c.contains("tr00007_n8n") || c.starts_with("docker container inspect")),
        "something used n8n's container before phase B: {calls:#?}"
    );
    let sql = std::fs::read_to_string(bench.state().join("exec-stdin")).unwrap();
    assert!(
        sql.contains("CREATE ROLE \"n8n\"")
            && sql.contains("CREATE DATABASE \"n8n\" OWNER \"n8n\""),
        "the SQL fed to psql does not create n8n's role and database"
    );
}

/// #10 "Qdrant PermissionDenied on snapshots/tmp": with `cap_drop: ALL` and no
/// DAC_OVERRIDE, Qdrant (UID 1000) could not write its own mounted directories.
///
/// By construction: Qdrant runs as `1000:1000` (compose `user:`), still with
/// `cap_drop: ALL`, and vpai creates its storage and snapshots directories owned by
/// 1000:1000: it writes them as their owner and needs no capability. Its config too
/// belongs to its UID. Read from the rendered compose file and the manifest of owners
/// (and from the disk when the test runs as root, where owners are applied).
#[test]
fn qdrant_runs_as_the_owner_of_its_data_directories_000_10() {
    let r = Rendered::example();
    let qdrant = r.service("docker-compose-infra.yml", "qdrant");
    assert_eq!(
        block_value(&qdrant, "user").as_deref(),
        Some("1000:1000"),
        "{qdrant}"
    );
    assert_eq!(block_list(&qdrant, "cap_drop"), ["ALL"], "{qdrant}");
    let volumes = block_list(&qdrant, "volumes");
    for (source, target) in [
        ("data/qdrant/storage", "/qdrant/storage"),
        ("data/qdrant/snapshots", "/qdrant/snapshots"),
    ] {
        assert!(
            volumes.contains(&format!("./{source}:{target}")),
            "{source} not mounted at {target}: {volumes:?}"
        );
        let dir = r.manifest_entry("dirs", source);
        assert_eq!(dir["uid"], 1000, "{source}: {dir}");
        assert_eq!(dir["gid"], 1000, "{source}: {dir}");
    }
    let config = r.manifest_entry("files", "configs/qdrant/production.yaml");
    assert_eq!(config["uid"], 1000, "{config}");
    let facts = catalog_facts("qdrant");
    assert_eq!(
        (facts.uid, facts.run_as.as_deref()),
        (1000, Some("1000:1000"))
    );
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::fs::MetadataExt;
        for source in ["data/qdrant/storage", "data/qdrant/snapshots"] {
            let meta = std::fs::metadata(r.out.join(source)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (1000, 1000), "{source} on disk");
        }
    }
}

/// #12 "Qdrant config mounted at the wrong path": mounted as
/// `/qdrant/config/config.yaml`, Qdrant ran with its defaults; it reads `production.yaml`.
///
/// By construction: the rendered compose mounts the config at
/// `/qdrant/config/production.yaml:ro`. Caught before a deploy: a compose that mounts
/// it as `config.yaml` is reported (VP221); mounted as `production.yaml`, it is clean.
#[test]
fn qdrant_config_is_mounted_where_qdrant_reads_it_000_12() {
    let r = Rendered::example();
    let volumes = block_list(&r.service("docker-compose-infra.yml", "qdrant"), "volumes");
    assert!(
        volumes.contains(
            &"./configs/qdrant/production.yaml:/qdrant/config/production.yaml:ro".to_string()
        ),
        "{volumes:?}"
    );
    assert!(
        volumes
            .iter()
            .all(|v| !v.contains("/qdrant/config/config.yaml"))
    );
    assert!(!r.check_rules().contains(&"VP221".to_string()));
    let compose = |target: &str| {
        format!(
            "services:\n  qdrant:\n    image: qdrant/qdrant:v1.16.3\n    volumes:\n      - ./configs/qdrant/production.yaml:{target}:ro\n"
        )
    };
    flagged(
        "docker-compose.yml",
        &compose("/qdrant/config/config.yaml"),
        "VP221",
    );
    clean_for(
        "docker-compose.yml",
        &compose("/qdrant/config/production.yaml"),
        "VP221",
    );
    explains("VP221", "#12");
}

/// #13 "Redis 8.0: rename-command removed": Redis crashed at start on
/// `rename-command FLUSHDB ""`; dangerous commands are denied with ACLs instead.
///
/// By construction: the rendered redis.conf has no `rename-command` and loads an ACL
/// file whose users are denied FLUSHALL/FLUSHDB. Caught before a deploy: a redis.conf
/// with `rename-command` is reported (VP211); without it, clean.
#[test]
fn redis_denies_commands_by_acl_and_rename_command_is_caught_000_13() {
    let r = Rendered::example();
    let conf = r.read("configs/redis/redis.conf");
    let directives: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        directives.iter().all(|l| !l.starts_with("rename-command")),
        "{conf}"
    );
    assert!(
        directives.contains(&"aclfile /usr/local/etc/redis/users.acl"),
        "{conf}"
    );
    let acl = r.read("configs/redis/users.acl");
    let default = acl
        .lines()
        .find(|l| l.starts_with("user default "))
        .expect("a default user in users.acl");
    assert!(
        default.contains(" -flushall") && default.contains(" -flushdb"),
        "FLUSHALL/FLUSHDB are not denied by ACL"
    );
    assert!(!r.check_rules().contains(&"VP211".to_string()));
    flagged(
        "redis.conf",
        "port 6379\nrename-command FLUSHDB \"\"\nrename-command FLUSHALL \"\"\n",
        "VP211",
    );
    clean_for(
        "redis.conf",
        "port 6379\naclfile /usr/local/etc/redis/users.acl\n",
        "VP211",
    );
    explains("VP211", "#13");
}

/// The rendered Caddy healthcheck: `caddy version`, no HTTP request.
fn rendered_caddy_healthcheck() -> Vec<String> {
    let r = Rendered::example();
    let caddy = r.service("docker-compose-infra.yml", "caddy");
    let healthcheck = caddy
        .split("    healthcheck:\n")
        .nth(1)
        .expect("caddy has a healthcheck")
        .to_string();
    let test: Vec<String> = healthcheck
        .lines()
        .skip(1)
        .map_while(|l| l.trim_start().strip_prefix("- "))
        .map(|v| v.trim_matches('"').to_string())
        .collect();
    assert!(!r.check_rules().contains(&"VP301".to_string()));
    test
}

const CADDY_COMPOSE: &str =
    "services:\n  caddy:\n    image: caddy:2.10.2-alpine\n    healthcheck:\n      test: TEST\n";

/// #14 "Caddy healthcheck fails on localhost": `wget http://localhost:80/health` went
/// through a site block matched by Host, and `localhost` matches none: `unhealthy`.
///
/// By construction: the rendered Caddy healthcheck is `caddy version`, no HTTP request
/// (the catalog marks Caddy `healthcheck_without_http`). Caught before a deploy: a
/// compose with the seed's healthcheck is reported (VP301); `caddy version` is clean.
#[test]
fn caddy_healthcheck_does_not_go_through_a_site_block_000_14() {
    let test = rendered_caddy_healthcheck();
    assert_eq!(test, ["CMD", "caddy", "version"]);
    assert!(test.iter().all(|a| !a.contains("http")));
    let caddy = vpai_catalog::Catalog::embedded()
        .get("caddy")
        .cloned()
        .unwrap();
    assert!(caddy.lint.healthcheck_without_http);
    flagged(
        "docker-compose.yml",
        &CADDY_COMPOSE.replace(
            "TEST",
            r#"["CMD", "wget", "-qO-", "http://localhost:80/health"]"#,
        ),
        "VP301",
    );
    clean_for(
        "docker-compose.yml",
        &CADDY_COMPOSE.replace("TEST", r#"["CMD", "caddy", "version"]"#),
        "VP301",
    );
    explains("VP301", "#14");
}

/// #15 "Caddy: capabilities missing for its logs": `permission denied` on
/// `/var/log/caddy/access.log`, `cap_drop: ALL` had removed DAC_OVERRIDE.
///
/// By construction: the rendered Caddy keeps NET_BIND_SERVICE and DAC_OVERRIDE after
/// `cap_drop: ALL`, with its log directory mounted where the Caddyfile writes its
/// access log. Caught before a deploy: a Caddy that drops all and adds back only
/// NET_BIND_SERVICE is reported (VP103, naming DAC_OVERRIDE); with both, clean.
#[test]
fn caddy_keeps_dac_override_for_its_log_mount_000_15() {
    let r = Rendered::example();
    let caddy = r.service("docker-compose-infra.yml", "caddy");
    assert_eq!(block_list(&caddy, "cap_drop"), ["ALL"]);
    let caps = block_list(&caddy, "cap_add");
    assert!(
        caps.contains(&"DAC_OVERRIDE".to_string())
            && caps.contains(&"NET_BIND_SERVICE".to_string()),
        "{caps:?}"
    );
    assert!(block_list(&caddy, "volumes").contains(&"./logs/caddy:/var/log/caddy".to_string()));
    assert!(
        r.read("configs/caddy/Caddyfile")
            .contains("output file /var/log/caddy/access.log")
    );
    assert!(!r.check_rules().contains(&"VP103".to_string()));
    let compose = |caps: &str| {
        format!(
            "services:\n  caddy:\n    image: caddy:2.10.2-alpine\n    cap_drop: [ALL]\n    cap_add: [{caps}]\n    volumes:\n      - ./logs/caddy:/var/log/caddy\n"
        )
    };
    let messages = flagged("docker-compose.yml", &compose("NET_BIND_SERVICE"), "VP103");
    assert!(
        messages.iter().any(|m| m.contains("DAC_OVERRIDE")),
        "{messages:?}"
    );
    clean_for(
        "docker-compose.yml",
        &compose("NET_BIND_SERVICE, DAC_OVERRIDE"),
        "VP103",
    );
    explains("VP103", "#15");
}

/// A service of `image` that drops every capability, with `cap_add` and a data mount.
fn cap_drop_compose(service: &str, image: &str, cap_add: &str, mount: &str) -> String {
    format!(
        "services:\n  {service}:\n    image: {image}\n    cap_drop: [ALL]\n    cap_add: [{cap_add}]\n    volumes:\n      - {mount}\n"
    )
}

/// The catalog keeps DAC_OVERRIDE and FOWNER for `name` after `cap_drop: ALL`, and
/// `vpai check` reports a compose that omits them (VP103), not one that has them.
fn keeps_dac_override_and_fowner(name: &str, image: &str, mount: &str) {
    let facts = catalog_facts(name);
    for cap in ["DAC_OVERRIDE", "FOWNER"] {
        assert!(
            facts.cap_add.iter().any(|c| c == cap),
            "{name} ({}) does not keep {cap}: {:?}",
            if facts.deployable {
                "deployable"
            } else {
                "facts only"
            },
            facts.cap_add
        );
    }
    let messages = flagged(
        "docker-compose.yml",
        &cap_drop_compose(name, image, "", mount),
        "VP103",
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("DAC_OVERRIDE") && m.contains("FOWNER")),
        "{messages:?}"
    );
    clean_for(
        "docker-compose.yml",
        &cap_drop_compose(name, image, "DAC_OVERRIDE, FOWNER", mount),
        "VP103",
    );
}

/// #17 "VictoriaMetrics PermissionDenied on /storage/flock.lock": `cap_drop: ALL`
/// without DAC_OVERRIDE, VictoriaMetrics could not create its lock file.
///
/// The catalog (facts-only entry today, deployable entry once it is) keeps
/// DAC_OVERRIDE + FOWNER for VictoriaMetrics; caught before a deploy: a compose that
/// drops all capabilities without them is reported (VP103); with them, clean.
#[test]
fn victoriametrics_keeps_dac_override_and_fowner_000_17() {
    keeps_dac_override_and_fowner(
        "victoriametrics",
        "victoriametrics/victoria-metrics:v1.118.0",
        "./data/victoriametrics:/storage",
    );
    explains("VP103", "#17");
}

/// #18 "Loki PermissionDenied on /loki": the same `cap_drop: ALL` without
/// DAC_OVERRIDE.
///
/// The catalog keeps DAC_OVERRIDE + FOWNER for Loki (facts-only or deployable entry);
/// caught before a deploy: a compose that omits them is reported (VP103).
#[test]
fn loki_keeps_dac_override_and_fowner_000_18() {
    keeps_dac_override_and_fowner("loki", "grafana/loki:3.6.5", "./data/loki:/loki");
    explains("VP103", "#18");
}

/// #21 "Caddy admin API does not answer": the healthcheck
/// `wget -qO- http://localhost:2019/config/` got `Connection refused` in Docker,
/// although the Caddyfile said `admin localhost:2019`.
///
/// The admin API listens on loopback IPv4; BusyBox `wget` (the Alpine image) tries
/// `localhost` as `::1` only: the seed's `Connection refused` is #22's cause.
/// By construction: the rendered healthcheck is `caddy version`, which needs neither a
/// site nor the admin API. Caught before a deploy: the seed's healthcheck is an
/// error (VP101, the catalog's Caddy has BusyBox's wget), and a healthcheck on an
/// admin API the Caddyfile turns off is VP301; `caddy version` is clean of both.
#[test]
fn caddy_healthcheck_does_not_use_the_admin_api_000_21() {
    let test = rendered_caddy_healthcheck();
    assert_eq!(test, ["CMD", "caddy", "version"]);
    assert!(test.iter().all(|a| !a.contains("2019")));
    let seed = CADDY_COMPOSE.replace(
        "TEST",
        r#"["CMD", "wget", "-qO-", "http://localhost:2019/config/"]"#,
    );
    let errors: Vec<_> = check_file("docker-compose.yml", &seed)
        .into_iter()
        .filter(|f| f.rule == "VP101" && f.severity == "error")
        .collect();
    assert!(!errors.is_empty(), "the seed's healthcheck is not an error");
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("docker-compose.yml"),
        CADDY_COMPOSE.replace(
            "TEST",
            r#"["CMD", "wget", "-qO-", "http://127.0.0.1:2019/config/"]"#,
        ),
    )
    .unwrap();
    std::fs::write(
        project.join("Caddyfile"),
        "{\n\tadmin off\n}\n\nexample.org {\n\trespond \"ok\"\n}\n",
    )
    .unwrap();
    let findings = check(&project);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "VP301" && f.message.contains("admin API")),
        "{findings:?}"
    );
    for rule in ["VP101", "VP301"] {
        clean_for(
            "docker-compose.yml",
            &CADDY_COMPOSE.replace("TEST", r#"["CMD", "caddy", "version"]"#),
            rule,
        );
    }
    explains("VP301", "#21");
}

/// #23 "Loki: distroless image without wget/curl": the healthcheck's `wget` was not
/// found; the fix is Loki's own `loki -health`.
///
/// The catalog says Loki is distroless with only the `loki` binary; a deployable Loki's
/// healthcheck starts only programs of that list, as `CMD` (no shell). Caught before a
/// deploy: a Loki healthcheck with `wget` is reported (VP102); `loki -health` is clean.
#[test]
fn loki_healthcheck_uses_its_own_binary_not_wget_000_23() {
    let facts = catalog_facts("loki");
    assert!(facts.distroless, "{facts:?}");
    assert!(facts.tools.iter().any(|t| t == "loki"), "{facts:?}");
    assert!(
        !facts
            .tools
            .iter()
            .any(|t| ["wget", "curl", "sh", "bash"].contains(&t.as_str())),
        "a distroless Loki has no shell nor HTTP client: {facts:?}"
    );
    healthcheck_uses_only_its_tools("loki", &facts);
    let compose = |test: &str| {
        format!(
            "services:\n  loki:\n    image: grafana/loki:3.6.5\n    command: [\"-config.file=/etc/loki/config.yaml\", \"-target=all\"]\n    healthcheck:\n      test: {test}\n"
        )
    };
    let messages = flagged(
        "docker-compose.yml",
        &compose(r#"["CMD", "wget", "-qO-", "http://127.0.0.1:3100/ready"]"#),
        "VP102",
    );
    assert!(messages.iter().any(|m| m.contains("wget")), "{messages:?}");
    clean_for(
        "docker-compose.yml",
        &compose(r#"["CMD", "loki", "-health"]"#),
        "VP102",
    );
    explains("VP102", "#23");
}

/// #24 "Loki: empty ring in monolithic mode": `error getting ingester clients
/// err="empty ring"` in a loop; the fix is `-target=all`, the ingester's ring in
/// memory and `memberlist.join_members: []`.
///
/// Caught before a deploy: a Loki started without `-target=all` is reported (VP501),
/// and a single-node config whose ingester ring is not `inmemory` or without an empty
/// memberlist is reported (VP502); the corrected command and config are clean. The
/// catalog requires `-target=all` in Loki's command (and a deployable Loki has it),
/// and the doctor maps the `empty ring` log line to VP502.
#[test]
fn a_single_loki_needs_target_all_and_an_inmemory_ring_000_24() {
    let facts = catalog_facts("loki");
    assert!(
        facts
            .command_requires_one_of
            .iter()
            .any(|c| c == "-target=all"),
        "{facts:?}"
    );
    if facts.deployable {
        assert!(
            facts
                .command
                .iter()
                .any(|c| facts.command_requires_one_of.contains(c)),
            "the deployable Loki runs without -target=all: {:?}",
            facts.command
        );
    }
    let compose = |command: &str| {
        format!("services:\n  loki:\n    image: grafana/loki:3.6.5\n    command: {command}\n")
    };
    flagged(
        "docker-compose.yml",
        &compose(r#"["-config.file=/etc/loki/config.yaml"]"#),
        "VP501",
    );
    clean_for(
        "docker-compose.yml",
        &compose(r#"["-config.file=/etc/loki/config.yaml", "-target=all"]"#),
        "VP501",
    );
    let seed_config = "auth_enabled: false\nserver:\n  http_listen_port: 3100\ncommon:\n  replication_factor: 1\n  ring:\n    kvstore:\n      store: inmemory\nschema_config:\n  configs: []\n";
    let messages = flagged("loki-config.yaml", seed_config, "VP502");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("ingester.lifecycler.ring"))
            && messages.iter().any(|m| m.contains("memberlist")),
        "{messages:?}"
    );
    let fixed = format!(
        "{seed_config}ingester:\n  lifecycler:\n    ring:\n      kvstore:\n        store: inmemory\n      replication_factor: 1\nmemberlist:\n  join_members: []\n"
    );
    clean_for("loki-config.yaml", &fixed, "VP502");
    explains("VP501", "#24");
    explains("VP502", "#24");

    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("loki.log");
    std::fs::write(
        &logs,
        "level=error msg=\"error getting ingester clients\" err=\"empty ring\"\n",
    )
    .unwrap();
    let out = vpai(dir.path())
        .args(["doctor", "loki", "--logs"])
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("VP502"),
        "{}",
        text(&out)
    );
}

/// #25 "LiteLLM: image without wget, Python available": the `wget` healthcheck was
/// not found in the Python-based image.
///
/// By construction: the rendered LiteLLM healthcheck runs `python` (in the image, per
/// the catalog, which has no wget) on 127.0.0.1's readiness endpoint. Caught before a
/// deploy: a LiteLLM healthcheck with `wget` is reported (VP102); Python is clean.
#[test]
fn litellm_healthcheck_uses_python_not_wget_000_25() {
    let facts = catalog_facts("litellm");
    assert!(
        !facts.tools.iter().any(|t| t == "wget" || t == "curl"),
        "{facts:?}"
    );
    healthcheck_uses_only_its_tools("litellm", &facts);
    let r = Rendered::example();
    let litellm = r.service("docker-compose.yml", "litellm");
    let test = litellm
        .split("    healthcheck:\n")
        .nth(1)
        .expect("a healthcheck");
    assert!(test.contains("- python\n"), "{test}");
    assert!(
        test.contains("http://127.0.0.1:4000/health/readiness"),
        "{test}"
    );
    assert!(!test.contains("wget") && !test.contains("curl"), "{test}");
    assert!(!r.check_rules().contains(&"VP102".to_string()));
    let compose = |test: &str| {
        format!(
            "services:\n  litellm:\n    image: ghcr.io/berriai/litellm:v1.81.3-stable\n    healthcheck:\n      test: {test}\n"
        )
    };
    flagged(
        "docker-compose.yml",
        &compose(r#"["CMD", "wget", "-qO-", "http://127.0.0.1:4000/health/readiness"]"#),
        "VP102",
    );
    clean_for(
        "docker-compose.yml",
        &compose(
            r#"["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/readiness')"]"#,
        ),
        "VP102",
    );
    explains("VP102", "#25");
}

/// #26 "Alloy: image without wget/curl": no HTTP healthcheck possible; the fix is
/// `kill -0 1` in its shell.
///
/// The catalog lists Alloy's programs without any HTTP client; a deployable Alloy's
/// healthcheck (or its `[liveness]`, which replaces one) calls only those. Caught
/// before a deploy: an Alloy healthcheck with `wget` is reported (VP102); `kill -0 1`
/// in its shell is clean.
#[test]
fn alloy_healthcheck_uses_no_http_client_000_26() {
    let facts = catalog_facts("alloy");
    assert!(
        !facts.tools.iter().any(|t| t == "wget" || t == "curl"),
        "{facts:?}"
    );
    assert!(facts.tools.iter().any(|t| t == "sh"), "{facts:?}");
    healthcheck_uses_only_its_tools("alloy", &facts);
    let compose = |test: &str| {
        format!(
            "services:\n  alloy:\n    image: grafana/alloy:v1.8.0\n    healthcheck:\n      test: {test}\n"
        )
    };
    flagged(
        "docker-compose.yml",
        &compose(r#"["CMD", "wget", "-qO-", "http://127.0.0.1:12345/-/ready"]"#),
        "VP102",
    );
    clean_for(
        "docker-compose.yml",
        &compose(r#"["CMD-SHELL", "kill -0 1"]"#),
        "VP102",
    );
    explains("VP102", "#26");
}

/// #27 "DNS: `dig` not installed on the VPS": the DNS smoke test failed although DNS
/// worked, `dig` (dnsutils) is not on minimal Debian 13.
///
/// By construction: `vpai preflight` checks the DNS of every name Caddy asks a
/// certificate for with `getent` (glibc), never `dig`: with a `dig` on `PATH` that is
/// "not installed", `localhost` still resolves to 127.0.0.1 and `dig` is never run.
/// Caught before a deploy: a script calling `dig` is reported by `vpai check` (VP901,
/// a warning); `getent hosts` is clean.
#[test]
fn preflight_resolves_names_with_getent_never_dig_000_27() {
    let bench = Bench::new(
        "[project]\nname = \"tr00027\"\ndomain = \"localhost\"\nprofile = \"core\"\ntls = \"acme\"\nacme_email = \"ops@example.org\"\n",
    );
    let out = bench.vpai(&["preflight", "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dns: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "dns")
        .collect();
    let apex = dns
        .iter()
        .find(|c| c["message"].as_str().unwrap().starts_with("`localhost` "))
        .unwrap_or_else(|| panic!("no DNS check of `localhost`: {dns:#?}"));
    assert_ne!(apex["level"], "error", "{apex}");
    assert!(
        apex["message"].as_str().unwrap().contains("127.0.0.1"),
        "{apex}"
    );
    for c in dns.iter().filter(|c| c["level"] == "error") {
        assert!(
            c["message"].as_str().unwrap().contains("getent hosts"),
            "{c}"
        );
    }
    let calls = bench.calls();
    assert!(
        calls.iter().all(|c| !c.starts_with("dig ")),
        "preflight ran dig: {calls:#?}"
    );

    let messages = flagged(
        "smoke.sh",
        "#!/bin/sh\nip=$(dig +short n8n.example.org)\n",
        "VP901",
    );
    assert!(
        messages.iter().any(|m| m.contains("Debian 13")),
        "{messages:?}"
    );
    clean_for(
        "smoke.sh",
        "#!/bin/sh\nip=$(getent hosts n8n.example.org | awk '{print $1}' | head -1)\n",
        "VP901",
    );
    explains("VP901", "#27");
}

/// #28 "Grafana: redirect 301 on /login": the smoke test wanted 200 and got the
/// redirect to `/login/`.
///
/// By construction: vpai's HTTPS smoke probe (run by `vpai verify` and at the end of
/// every `vpai up`) asks whether Caddy reached the upstream over verified TLS: any
/// HTTP answer passes, a redirect included; only 502/503/504 or no answer fail (shown
/// here with a 502: the probe is not vacuous). A deployable Grafana's healthcheck is
/// `/api/health`, not a page that redirects.
#[test]
fn a_redirect_is_an_answer_for_the_https_smoke_probe_000_28() {
    let mut bench = Bench::new(&core_stack("tr00028", "", ""));
    std::fs::create_dir_all(bench.root()).unwrap();
    bench.set("FAKE_CURL_CODES", "n8n.example.org=301");
    let out = bench.vpai(&["verify", "caddy", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let outcomes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n8n = outcomes
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["probe"] == "https[n8n]")
        .unwrap_or_else(|| panic!("no https[n8n] probe: {outcomes:#}"));
    assert_eq!(n8n["status"], "passed", "{n8n}");
    assert!(
        bench
            .calls()
            .iter()
            .any(|c| c.starts_with("curl ") && c.ends_with("https://n8n.example.org:443/")),
        "the probe did not ask n8n's site"
    );

    bench.set("FAKE_CURL_CODES", "n8n.example.org=502");
    let out = bench.vpai(&["verify", "caddy", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("HTTP 502"), "{}", text(&out));

    if let Some(grafana) = vpai_catalog::Catalog::embedded().get("grafana") {
        let test = grafana.healthcheck.as_ref().map(|h| h.test.join(" "));
        assert!(
            test.as_deref()
                .is_some_and(|t| t.contains("/api/health") && !t.contains("/login")),
            "{test:?}"
        );
    }
}

/// #29 "Infra handlers: wrong compose file": restarting Caddy/PG/Redis/Qdrant through
/// `docker-compose.yml` (phase B) gave `no such service: caddy`; they live in
/// `docker-compose-infra.yml`.
///
/// By construction: each phase has its own file and compose project (`NAME-infra`,
/// `NAME`), and vpai picks the file from the service's phase. `vpai restart caddy n8n`
/// (the handler's job) recreates Caddy through the infra file and n8n through the apps
/// file; a redeploy that changes only the Caddyfile brings Caddy up through the infra
/// file, and no compose call on phase B's file ever names Caddy.
#[test]
fn each_service_is_recreated_through_its_own_phase_file_000_29() {
    let bench = Bench::new(&core_stack("tr00029", "", ""));
    let out = bench.vpai(&["up", "--no-probes"]);
    assert!(out.status.success(), "{}", text(&out));
    let infra = std::fs::read_to_string(bench.root().join("docker-compose-infra.yml")).unwrap();
    let apps = std::fs::read_to_string(bench.root().join("docker-compose.yml")).unwrap();
    assert!(infra.contains("\nname: tr00029-infra\n") && infra.contains("\n  caddy:\n"));
    assert!(apps.contains("\nname: tr00029\n") && !apps.contains("\n  caddy:\n"));

    let seen = bench.calls().len();
    let out = bench.vpai(&["restart", "caddy", "n8n"]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = bench.calls()[seen..].to_vec();
    let compose: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("docker compose -f"))
        .collect();
    assert_eq!(
        compose,
        [
            &bench.compose(
                "docker-compose-infra.yml",
                "up -d --force-recreate --no-deps -- caddy"
            ),
            &bench.compose(
                "docker-compose.yml",
                "up -d --force-recreate --no-deps -- n8n"
            ),
        ],
        "{calls:#?}"
    );

    // A change of the Caddyfile alone: Caddy comes back through phase A's file.
    std::fs::write(
        bench.dir.path().join("stack.toml"),
        core_stack("tr00029", "health_endpoint = false", ""),
    )
    .unwrap();
    let seen = bench.calls().len();
    let out = bench.vpai(&["up", "--no-probes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("configs/caddy/Caddyfile"),
        "{}",
        text(&out)
    );
    let calls = bench.calls()[seen..].to_vec();
    let infra_file = bench.compose("docker-compose-infra.yml", "");
    let apps_file = bench.compose("docker-compose.yml", "");
    // The stand-in compose keeps the container (as one that did not see the change):
    // vpai recreates Caddy itself, through phase A's file.
    assert!(
        calls.iter().any(|c| c.starts_with(&infra_file)
            && c.contains(" up ")
            && c.contains("--force-recreate")
            && c.split_whitespace().any(|w| w == "caddy")),
        "{calls:#?}"
    );
    for c in calls.iter().filter(|c| c.starts_with("docker compose -f")) {
        let names_caddy = c.split_whitespace().any(|w| w == "caddy");
        assert!(
            !(names_caddy && c.starts_with(&apps_file)),
            "caddy through phase B's file: {c}"
        );
    }
}

/// #30 "Smoke test: hard-coded admin URL": the test looked for `admin.DOMAIN` while
/// the admin was on `javisi.ewutelo.cloud`.
///
/// By construction: the smoke probes are rendered from the stack: the HTTPS probe runs
/// once per web service, on the subdomain and port stack.toml gives it, exactly the
/// sites of the rendered Caddyfile. With n8n on `javisi.ewutelo.cloud` and HTTPS on
/// 8443, that is the URL probed; no default name (`admin.`, `n8n.`) is.
#[test]
fn smoke_probes_target_the_subdomains_the_stack_configures_000_30() {
    let stack = "[project]\nname = \"tr00030\"\ndomain = \"ewutelo.cloud\"\nprofile = \"core\"\nhttps_port = 8443\n\n[services.n8n]\nsubdomain = \"javisi\"\n";
    let bench = Bench::new(stack);
    std::fs::create_dir_all(bench.root()).unwrap();
    let out = bench.vpai(&["verify", "caddy", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut probed: Vec<String> = bench
        .calls()
        .iter()
        .filter_map(|c| c.strip_prefix("curl "))
        .filter_map(|c| c.split_whitespace().last())
        .map(str::to_string)
        .collect();
    probed.sort();
    assert!(
        probed.contains(&"https://javisi.ewutelo.cloud:8443/".to_string()),
        "{probed:?}"
    );
    assert!(
        probed
            .iter()
            .all(|u| !u.contains("admin.") && !u.contains("n8n.ewutelo.cloud")),
        "{probed:?}"
    );
    // The probed names are the Caddyfile's sites, apart from the bare domain.
    let out = vpai(bench.dir.path())
        .args(["render", "--out"])
        .arg(bench.dir.path().join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let caddyfile =
        std::fs::read_to_string(bench.dir.path().join("out/configs/caddy/Caddyfile")).unwrap();
    let mut sites: Vec<String> = caddyfile
        .lines()
        .filter_map(|l| l.strip_suffix(" {"))
        .filter(|l| l.ends_with(".ewutelo.cloud"))
        .map(|l| format!("https://{l}:8443/"))
        .collect();
    sites.sort();
    assert_eq!(probed, sites, "{caddyfile}");
}
