//! End to end on a real Docker engine with Compose v2 and locally built images of the
//! real software (see tests/images and scripts/test-env.sh). Skipped with a loud
//! message when no engine or no test images are present, unless VPAI_E2E_REQUIRED=1
//! (set by .ci/run), in which case their absence is a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The two deploys of whole stacks run one after the other: on two cores, both at once
/// would measure the machine's load rather than vpai (a 13-service start beside a
/// 6-service one stretches every health and probe timeout).
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

const IMAGES: &[(&str, &str)] = &[
    ("postgresql", "vpai-test/postgres:latest"),
    ("redis", "vpai-test/redis:latest"),
    ("qdrant", "vpai-test/qdrant:latest"),
    ("caddy", "vpai-test/caddy:latest"),
    ("n8n", "vpai-test/n8n:latest"),
    ("litellm", "vpai-test/litellm:latest"),
];

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

fn engine_ready() -> Result<(), String> {
    if !sh(&["docker", "version"]).status.success() {
        return Err("the Docker daemon does not answer".into());
    }
    if !sh(&["docker", "compose", "version"]).status.success() {
        return Err("Docker Compose v2 is missing".into());
    }
    for (_, image) in IMAGES {
        if !sh(&["docker", "image", "inspect", image]).status.success() {
            return Err(format!(
                "test image {image} is missing (run scripts/test-env.sh)"
            ));
        }
    }
    Ok(())
}

/// Returns false (and says why) when the test must be skipped.
fn require_engine() -> bool {
    match engine_ready() {
        Ok(()) => true,
        Err(why) => {
            if std::env::var("VPAI_E2E_REQUIRED").as_deref() == Ok("1") {
                panic!("end-to-end test required but cannot run: {why}");
            }
            eprintln!("\n*** SKIPPED end-to-end Docker test: {why} ***\n");
            false
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Stack {
    dir: tempfile::TempDir,
    project: String,
    https_port: u16,
}

impl Stack {
    fn new(project: &str, subnet: &str, extra: &str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let https_port = free_port();
        let mut images = String::new();
        for (svc, img) in IMAGES {
            images.push_str(&format!("{svc} = \"{img}\"\n"));
        }
        let s = Stack {
            dir,
            project: project.to_string(),
            https_port,
        };
        s.write(&format!(
            "[project]\nname = \"{project}\"\ndomain = \"localhost\"\nprofile = \"core\"\ntls = \"internal\"\nhttp_port = {}\nhttps_port = {https_port}\nsubnet = \"{subnet}\"\nlocale = \"fr-FR\"\n{extra}\n[images]\n{images}",
            free_port()
        ));
        s
    }

    fn write(&self, text: &str) {
        std::fs::write(self.dir.path().join("stack.toml"), text).unwrap();
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn vpai(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpai"));
        cmd.current_dir(self.dir.path())
            .env("XDG_STATE_HOME", self.dir.path().join(".state"))
            .args(args)
            .arg("--root")
            .arg(self.root())
            .env("NO_COLOR", "1")
            .env("VPAI_VAULT_PASSWORD", "e2e-test-passphrase");
        let start = Instant::now();
        let out = cmd.output().unwrap();
        eprintln!(
            "vpai {args:?}: exit {:?} in {:.1}s\n--- stderr ---\n{}",
            out.status.code(),
            start.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `vpai verify --json`, which must succeed: the outcomes, and `service/probe` of
    /// those that passed.
    fn verify(&self) -> (serde_json::Value, Vec<String>) {
        let out = self.vpai(&["verify", "--json"]);
        assert!(out.status.success(), "verify failed");
        let outcomes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let passed = outcomes
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "passed")
            .map(|o| {
                format!(
                    "{}/{}",
                    o["service"].as_str().unwrap(),
                    o["probe"].as_str().unwrap()
                )
            })
            .collect();
        (outcomes, passed)
    }

    fn secret(&self, name: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_vpai"))
            .current_dir(self.dir.path())
            .env("XDG_STATE_HOME", self.dir.path().join(".state"))
            .args(["secrets", "show", name, "--stdout"])
            .env("VPAI_VAULT_PASSWORD", "e2e-test-passphrase")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn container_ids(&self) -> BTreeMap<String, String> {
        IMAGES
            .iter()
            .map(|(svc, _)| {
                let name = format!("{}_{svc}", self.project);
                let out = sh(&["docker", "inspect", "-f", "{{.Id}}", &name]);
                let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                // A missing container must not compare equal to another missing one.
                assert!(
                    out.status.success() && !id.is_empty(),
                    "container {name} is missing"
                );
                (svc.to_string(), id)
            })
            .collect()
    }

    fn teardown(&self) {
        let _ = self.vpai(&["down", "--all"]);
        for net in ["frontend", "backend", "egress", "monitoring", "sandbox"] {
            let _ = sh(&[
                "docker",
                "network",
                "rm",
                &format!("{}_{net}", self.project),
            ]);
        }
        // Data dirs belong to container UIDs; remove them as root.
        let _ = std::fs::remove_dir_all(self.root());
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.teardown();
    }
}

fn mtimes(root: &Path) -> BTreeMap<String, std::time::SystemTime> {
    let mut out = BTreeMap::new();
    for entry in walk(root) {
        if entry.starts_with(root.join("data")) || entry.starts_with(root.join("logs")) {
            continue;
        }
        if let Ok(meta) = std::fs::metadata(&entry)
            && meta.is_file()
        {
            out.insert(entry.display().to_string(), meta.modified().unwrap());
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn core_stack_up_noop_and_targeted_recreate() {
    if !require_engine() {
        return;
    }
    let _serial = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    // The LiteLLM test image cannot run Prisma (its engines download from a host this
    // machine cannot reach), so LiteLLM runs without its optional database here.
    let stack = Stack::new(
        "vpaie2e",
        "10.231.0.0/16",
        "[services.litellm]\ndatabase = false\n",
    );

    // A workflow kept next to stack.toml, as n8n exports it (with its id).
    let workflows = stack.dir.path().join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let workflow = |name: &str| {
        serde_json::json!({
            "id": "vpaiE2eWorkflow1",
            "name": name,
            "nodes": [{
                "parameters": {},
                "id": "5b7e0f2a-6d1e-4c53-9d0b-3f3a7c1e9a01",
                "name": "When clicking Test workflow",
                "type": "n8n-nodes-base.manualTrigger",
                "typeVersion": 1,
                "position": [0, 0]
            }],
            "connections": {},
            "settings": {},
            "active": false
        })
        .to_string()
    };
    std::fs::write(workflows.join("hello.json"), workflow("vpai e2e hello")).unwrap();
    let n8n_workflows = || {
        let out = sh(&[
            "docker",
            "exec",
            &format!("{}_n8n", stack.project),
            "n8n",
            "list:workflow",
        ]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };

    // First deploy: everything healthy, the owner account set up from the vault, the
    // workflow imported, and the smoke probes (the last gate) passed.
    let out = stack.vpai(&["up", "--timeout", "600"]);
    assert!(out.status.success(), "first up failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("7 smoke probes passed"), "{err}");
    assert!(
        n8n_workflows().contains("vpaiE2eWorkflow1|vpai e2e hello"),
        "{}",
        n8n_workflows()
    );
    // The owner logs in through Caddy with the vault's password.
    let login = sh(&[
        "curl",
        "-sk",
        "--max-time",
        "15",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--resolve",
        &format!("n8n.localhost:{}:127.0.0.1", stack.https_port),
        "-H",
        "content-type: application/json",
        "-d",
        &serde_json::json!({
            "emailOrLdapLoginId": "owner@localhost.local",
            "password": stack.secret("n8n_owner_password"),
        })
        .to_string(),
        &format!("https://n8n.localhost:{}/rest/login", stack.https_port),
    ]);
    assert_eq!(String::from_utf8_lossy(&login.stdout), "200", "{login:?}");
    // `vpai verify` runs them alone: the SQL login of the app role, Redis ACL, a Qdrant
    // scratch collection, HTTPS through Caddy with the internal CA for each subdomain,
    // LiteLLM's model list with the master key.
    let (outcomes, passed) = stack.verify();
    for o in outcomes.as_array().unwrap() {
        assert_eq!(o["status"], "passed", "{o}");
    }
    for want in [
        "postgresql/login[n8n]",
        "redis/acl",
        "qdrant/collection",
        "caddy/https[n8n]",
        "caddy/https[litellm]",
        "caddy/https[qdrant]",
        "litellm/models",
    ] {
        assert!(passed.iter().any(|p| p == want), "{want} not in {passed:?}");
    }
    let status = stack.vpai(&["status", "--json"]);
    assert!(status.status.success());
    let statuses: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    for s in statuses.as_array().unwrap() {
        assert_eq!(s["state"], "running", "{s}");
        assert!(s["health"] == "healthy", "{s}");
    }
    // No secret reached a compose file or the output.
    let pg_password = stack.secret("n8n_db_password");
    for file in ["docker-compose.yml", "docker-compose-infra.yml"] {
        let text = std::fs::read_to_string(stack.root().join(file)).unwrap();
        assert!(!text.contains(&pg_password));
    }
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&pg_password));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&pg_password));

    // PostgreSQL accepts the app role's generated password over the backend network,
    // and refuses a wrong one.
    let backend = format!("{}_backend", stack.project);
    let psql = |password: &str| {
        sh(&[
            "docker",
            "run",
            "--rm",
            "--network",
            &backend,
            "-e",
            &format!("PGPASSWORD={password}"),
            "--entrypoint",
            "psql",
            "vpai-test/postgres:latest",
            "-h",
            "postgresql",
            "-U",
            "n8n",
            "-d",
            "n8n",
            "-tAc",
            "select current_user",
        ])
    };
    let ok = psql(&pg_password);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "n8n");
    assert!(!psql("wrong-password").status.success());

    // Redis answers PING for the ACL user; the healthcheck user may do nothing else.
    let redis = format!("{}_redis", stack.project);
    let redis_ping = |password: String| {
        let auth = format!("REDISCLI_AUTH={password}");
        let ping = sh(&[
            "docker",
            "exec",
            "-e",
            &auth,
            &redis,
            "redis-cli",
            "-h",
            "127.0.0.1",
            "--no-auth-warning",
            "ping",
        ]);
        String::from_utf8_lossy(&ping.stdout).trim().to_string()
    };
    assert_eq!(redis_ping(stack.secret("redis_password")), "PONG");
    let denied = sh(&[
        "docker",
        "exec",
        &redis,
        "redis-cli",
        "-h",
        "127.0.0.1",
        "--user",
        "healthcheck",
        "--no-auth-warning",
        "get",
        "x",
    ]);
    assert!(
        String::from_utf8_lossy(&denied.stdout).contains("NOPERM"),
        "{denied:?}"
    );

    // Caddy answers /health on the main domain.
    let url = format!("https://localhost:{}/health", stack.https_port);
    let health = sh(&["curl", "-sk", "--max-time", "10", &url]);
    assert_eq!(
        String::from_utf8_lossy(&health.stdout).trim(),
        "OK",
        "{health:?}"
    );

    // A second `up` with nothing changed recreates nothing and rewrites no file.
    let ids = stack.container_ids();
    let files = mtimes(&stack.root());
    let t_noop = Instant::now();
    let out = stack.vpai(&["up"]);
    let noop_secs = t_noop.elapsed().as_secs_f64();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));
    assert_eq!(
        stack.container_ids(),
        ids,
        "a no-op up recreated containers"
    );
    assert_eq!(mtimes(&stack.root()), files, "a no-op up rewrote files");

    // The vault lost, a new one over this data: n8n keeps the key it first started
    // with in its data directory, so the deploy is refused before anything is written.
    let vault = stack.dir.path().join("secrets.vault");
    let kept = stack.dir.path().join("secrets.vault.kept");
    std::fs::rename(&vault, &kept).unwrap();
    let out = stack.vpai(&["up"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    std::fs::rename(&kept, &vault).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`n8n_encryption_key` in the vault is not the `encryptionKey` n8n keeps"),
        "{err}"
    );
    assert_eq!(mtimes(&stack.root()), files, "a refused up wrote files");
    assert_eq!(
        stack.container_ids(),
        ids,
        "a refused up touched containers"
    );

    // Changing one service's environment recreates that service only.
    let text = std::fs::read_to_string(stack.dir.path().join("stack.toml")).unwrap();
    stack.write(&text.replace(
        "[images]",
        "[services.qdrant]\nenv = { QDRANT__LOG_LEVEL = \"DEBUG\" }\n\n[images]",
    ));
    let out = stack.vpai(&["up"]);
    assert!(out.status.success());
    let after = stack.container_ids();
    for (svc, id) in &ids {
        assert_eq!(
            after[svc] != *id,
            svc == "qdrant",
            "{svc} recreated: {}",
            after[svc] != *id
        );
    }

    // A changed workflow file is imported again (the same workflow, by its id) without
    // recreating n8n: the folder is a live mount read by the import step.
    std::fs::write(workflows.join("hello.json"), workflow("vpai e2e hello v2")).unwrap();
    let out = stack.vpai(&["up"]);
    assert!(out.status.success());
    let listed = n8n_workflows();
    assert!(
        listed.contains("vpaiE2eWorkflow1|vpai e2e hello v2"),
        "{listed}"
    );
    assert_eq!(listed.matches("vpaiE2eWorkflow1").count(), 1, "{listed}");
    assert_eq!(
        stack.container_ids(),
        after,
        "a workflow change recreated a container"
    );

    // Rotating the app's database password: the role gets the new one, the old one is
    // refused, and only the app that logs in with it is recreated.
    let old_password = stack.secret("n8n_db_password");
    let out = stack.vpai(&["rotate", "n8n_db_password", "--timeout", "600"]);
    assert!(out.status.success(), "rotation failed");
    let new_password = stack.secret("n8n_db_password");
    assert_ne!(old_password, new_password);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&new_password));
    assert!(psql(&new_password).status.success());
    assert!(!psql(&old_password).status.success());
    let rotated = stack.container_ids();
    for (svc, id) in &after {
        assert_eq!(
            rotated[svc] != *id,
            svc == "n8n",
            "{svc} recreated by the rotation"
        );
    }
    // Redis: the ACL file and LiteLLM's env carry it; both are recreated, nothing else.
    let out = stack.vpai(&["rotate", "redis_password"]);
    assert!(out.status.success(), "redis rotation failed");
    assert_eq!(redis_ping(stack.secret("redis_password")), "PONG");
    let rotated_redis = stack.container_ids();
    for (svc, id) in &rotated {
        let expect = svc == "redis" || svc == "litellm";
        assert_eq!(
            rotated_redis[svc] != *id,
            expect,
            "{svc} recreated by the redis rotation"
        );
    }
    // A never-rotate secret is refused with the reason, and nothing changes.
    let out = stack.vpai(&["rotate", "n8n_encryption_key"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must never be rotated"));
    assert_eq!(stack.container_ids(), rotated_redis);

    // Rollbacks and `down` never touch data: a row written now must survive the
    // failed deploys below, their rollbacks, and a `down` then `up`.
    let pg = format!("{}_postgresql", stack.project);
    let marker = |sql: &str| {
        let out = sh(&[
            "docker", "exec", &pg, "psql", "-X", "-At", "-U", "postgres", "-d", "n8n", "-c", sql,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    marker("CREATE TABLE vpai_marker AS SELECT 'kept-through-rollback'::text AS v");
    let marker_present = || {
        let out = sh(&[
            "docker",
            "exec",
            &format!("{}_postgresql", stack.project),
            "psql",
            "-X",
            "-At",
            "-U",
            "postgres",
            "-d",
            "n8n",
            "-c",
            "SELECT v FROM vpai_marker",
        ]);
        String::from_utf8_lossy(&out.stdout).trim() == "kept-through-rollback"
    };

    // A failure after the files were written that is not a health gate (here the new
    // HTTPS port is taken, so `docker compose up` fails) rolls back like one: exit 1,
    // the previous release's files, Caddy back on its port and healthy.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let text = std::fs::read_to_string(stack.dir.path().join("stack.toml")).unwrap();
    let compose_before = std::fs::read(stack.root().join("docker-compose-infra.yml")).unwrap();
    stack.write(&text.replace(
        &format!("https_port = {}", stack.https_port),
        &format!("https_port = {taken_port}"),
    ));
    let out = stack.vpai(&["up", "--timeout", "120"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the deploy failed"), "{err}");
    assert!(err.contains("rolled back to release"), "{err}");
    assert_eq!(
        std::fs::read(stack.root().join("docker-compose-infra.yml")).unwrap(),
        compose_before,
        "the previous compose file is back"
    );
    let health = sh(&[
        "curl",
        "-sk",
        "--max-time",
        "10",
        &format!("https://localhost:{}/health", stack.https_port),
    ]);
    assert!(
        health.status.success(),
        "caddy answers on its old port again"
    );
    assert!(marker_present(), "the rollback touched the database");
    drop(taken);
    stack.write(&text);
    let out = stack.vpai(&["up", "--timeout", "120"]);
    assert!(out.status.success());

    // A change that keeps every container healthy but breaks what a probe proves is
    // rolled back like an unhealthy one: the probe is named with its output, the
    // previous release comes back, and `vpai verify` passes again.
    std::fs::create_dir_all(stack.dir.path().join("catalog")).unwrap();
    std::fs::write(
        stack.dir.path().join("catalog/probed.toml"),
        r#"name = "probed"
description = "healthy whatever its answer"
phase = "apps"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "true", "sleep"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
command = ["sleep", "infinity"]
[healthcheck]
test = ["CMD", "true"]
interval = "1s"
start_period = "1s"
[env]
ANSWER = "42"
[[probes]]
name = "answer"
description = "the service gives the right answer"
command = ["sh", "-c", 'echo "answer is $ANSWER"; test "$ANSWER" = 42']
expect = "answer is 42"
"#,
    )
    .unwrap();
    let good = text.replace(
        "[images]\n",
        "[services.probed]\nenabled = true\n\n[images]\nprobed = \"vpai-test/base:trixie\"\n",
    );
    stack.write(&good);
    let out = stack.vpai(&["up", "--timeout", "120"]);
    assert!(out.status.success(), "up with the probed service");
    stack.write(&good.replace(
        "[services.probed]\nenabled = true\n",
        "[services.probed]\nenabled = true\nenv = { ANSWER = \"41\" }\n",
    ));
    let out = stack.vpai(&["up", "--timeout", "120"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("smoke probes or after-start steps failed"),
        "{err}"
    );
    assert!(
        err.contains("probed/answer") && err.contains("answer is 41"),
        "{err}"
    );
    assert!(err.contains("rolled back to release"), "{err}");
    assert!(marker_present(), "the rollback touched the database");
    let verify = stack.vpai(&["verify", "probed"]);
    assert!(
        verify.status.success(),
        "the previous release answers again"
    );
    stack.write(&text);
    let out = stack.vpai(&["up", "--timeout", "120"]);
    assert!(out.status.success());
    let after = stack.container_ids();

    // A service that never becomes healthy is named with its logs; the rest keeps running.
    // (A custom service from the operator's catalog/ dir, which this also exercises.)
    std::fs::create_dir_all(stack.dir.path().join("catalog")).unwrap();
    std::fs::write(
        stack.dir.path().join("catalog/broken.toml"),
        r#"name = "broken"
description = "exits at once"
phase = "apps"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "true"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
command = ["sh", "-c", "echo boom-from-broken; exit 3"]
[healthcheck]
test = ["CMD", "true"]
"#,
    )
    .unwrap();
    let text = std::fs::read_to_string(stack.dir.path().join("stack.toml")).unwrap();
    stack.write(&text.replace(
        "[images]\n",
        "[services.broken]\nenabled = true\n\n[images]\nbroken = \"vpai-test/base:trixie\"\n",
    ));
    let out = stack.vpai(&["up", "--timeout", "120"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("service `broken`"), "{err}");
    assert!(err.contains("boom-from-broken"), "{err}");
    let after_fail = stack.container_ids();
    for (svc, id) in &after {
        assert_eq!(
            &after_fail[svc], id,
            "{svc} was touched by the failed deploy"
        );
    }
    assert!(marker_present(), "the failed deploy touched the database");

    // A rotation that leaves a service unhealthy puts the old values back: its data
    // was made with the old token (written on first start), the new one is refused.
    std::fs::write(
        stack.dir.path().join("catalog/keyed.toml"),
        r#"name = "keyed"
description = "healthy only with the token its data was made with"
phase = "apps"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "test", "cat", "sleep"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
command = ["sh", "-c", "f=/data/token; [ -f $$f ] || printf %s \"$$TOKEN\" > $$f; [ \"$$(cat $$f)\" = \"$$TOKEN\" ] && touch /tmp/ok; exec sleep infinity"]
[healthcheck]
test = ["CMD", "test", "-f", "/tmp/ok"]
interval = "1s"
start_period = "1s"
[[volumes]]
source = "data/keyed"
target = "/data"
mode = "0700"
[env]
TOKEN = "{{ secrets.keyed_token }}"
[[secrets]]
name = "keyed_token"
format = "hex"
length = 16
rotate = "quarterly"
"#,
    )
    .unwrap();
    stack.write(&text.replace(
        "[images]\n",
        "[services.keyed]\nenabled = true\n\n[images]\nkeyed = \"vpai-test/base:trixie\"\n",
    ));
    let out = stack.vpai(&["up", "--timeout", "120"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keyed = format!("{}_keyed", stack.project);
    let health = |name: &str| {
        let out = sh(&["docker", "inspect", "-f", "{{.State.Health.Status}}", name]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(health(&keyed), "healthy");
    let token = stack.secret("keyed_token");
    let out = stack.vpai(&["rotate", "keyed_token", "--timeout", "20"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("putting the old values back"), "{err}");
    assert!(err.contains("old values restored and deployed"), "{err}");
    assert!(!err.contains(&token), "the token was printed");
    assert_eq!(
        stack.secret("keyed_token"),
        token,
        "the vault kept the new value"
    );
    assert_eq!(
        health(&keyed),
        "healthy",
        "the old value was not deployed again"
    );
    assert!(marker_present(), "the failed rotation touched the database");

    // `down --all` stops every container and keeps the data: after `up`, the row is there.
    stack.write(&text);
    let out = stack.vpai(&["down", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = sh(&[
        "docker",
        "ps",
        "-aq",
        "--filter",
        &format!("name=^{}_", stack.project),
    ]);
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "containers left after down --all"
    );
    assert!(stack.root().join("data").is_dir(), "down removed the data");
    let out = stack.vpai(&["up", "--timeout", "180"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker_present(), "down then up lost the database's rows");

    // VPN-only admin UIs. Two clients outside Docker (network namespaces joined to this
    // one by veth pairs: Docker's DNAT keeps their address, where a client container
    // would reach Caddy through the userland proxy, from the bridge gateway): the one
    // in `[access] vpn` gets n8n's editor, the other a 403 page; both reach webhooks.
    let vpn_client = ClientNs::new("vpaie2e-vpn", "10.236.1");
    let outsider = ClientNs::new("vpaie2e-out", "10.236.2");
    // `vpai vpn-only on` sets `[access] admin = "vpn"` and arms the host's switch.
    stack.write(&format!("{text}\n[access]\nvpn = [\"10.236.1.0/24\"]\n"));
    let armed = Instant::now();
    let out = stack.vpai(&[
        "vpn-only",
        "on",
        "--confirm-within",
        "30s",
        "--timeout",
        "180",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("unless you run `vpai confirm`"), "{err}");
    assert!(
        std::fs::read_to_string(stack.dir.path().join("stack.toml"))
            .unwrap()
            .contains("admin = \"vpn\""),
        "stack.toml was not edited"
    );
    let editor = vpn_client.get(stack.https_port, "n8n.localhost", "/");
    assert_eq!(editor.0, "200", "VPN client, editor: {editor:?}");
    let refused = outsider.get(stack.https_port, "n8n.localhost", "/");
    assert_eq!(refused.0, "403", "outside client, editor: {refused:?}");
    assert!(
        refused.1.contains("reachable over the VPN only"),
        "{refused:?}"
    );
    for client in [&vpn_client, &outsider] {
        // n8n itself answers: the webhook is not registered (404, its own message).
        let hook = client.get(stack.https_port, "n8n.localhost", "/webhook/vpai-e2e-none");
        assert_eq!(hook.0, "404", "{} webhook: {hook:?}", client.name);
        assert!(hook.1.contains("is not registered"), "{hook:?}");
    }
    // An admin UI without public paths is closed to the outsider entirely.
    let qdrant = outsider.get(stack.https_port, "qd.localhost", "/collections");
    assert_eq!(qdrant.0, "403", "{qdrant:?}");

    // From this machine the editor answers 403 (outside the VPN): `vpai confirm`
    // refuses, and the host itself puts the public release back when the delay ends.
    let out = stack.vpai(&["confirm"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 403 from here"), "{err}");
    let reverted = wait_for(Duration::from_secs(90), || {
        outsider.get(stack.https_port, "n8n.localhost", "/").0 == "200"
    });
    assert!(reverted, "the switch did not put the public release back");
    eprintln!(
        "VPN-ONLY SWITCH: reverted {:.0}s after the deploy was armed (delay 30s)",
        armed.elapsed().as_secs_f64()
    );
    // Caddy serves the public release before the revert has brought every phase
    // back up: until then the switch says it is firing, and a confirm is too late.
    let mut said = String::new();
    let fired = wait_for(Duration::from_secs(120), || {
        let status = stack.vpai(&["vpn-only", "status"]);
        said = String::from_utf8_lossy(&status.stdout).to_string();
        if said.contains("switch: firing") {
            let late = stack.vpai(&["confirm", "--force"]);
            let err = String::from_utf8_lossy(&late.stderr);
            assert!(
                late.status.code() == Some(1) && err.contains("too late")
                    || late.status.success() && err.contains("fired meanwhile"),
                "a confirm while the switch fires: {err}"
            );
        }
        said.contains("switch: fired")
    });
    assert!(fired, "the switch did not finish its revert: {said}");
    assert!(marker_present(), "the revert touched the database");

    // Confirmed (here with --force: this machine is not on the VPN), it stays.
    let out = stack.vpai(&[
        "vpn-only",
        "on",
        "--confirm-within",
        "10s",
        "--timeout",
        "180",
    ]);
    assert!(out.status.success());
    assert_eq!(
        outsider.get(stack.https_port, "n8n.localhost", "/").0,
        "403"
    );
    let out = stack.vpai(&["confirm", "--force"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("confirmed: release"));
    std::thread::sleep(Duration::from_secs(15));
    assert_eq!(
        outsider.get(stack.https_port, "n8n.localhost", "/").0,
        "403",
        "a confirmed deploy was reverted"
    );
    assert_eq!(
        vpn_client.get(stack.https_port, "n8n.localhost", "/").0,
        "200"
    );
    drop((vpn_client, outsider));

    eprintln!(
        "E2E TIMING: whole test {:.1}s, no-op up {noop_secs:.2}s",
        t0.elapsed().as_secs_f64()
    );
}

/// Poll `ok` every second until it holds or `limit` passes.
fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    false
}

/// A client host outside Docker: a network namespace with a veth pair to this one
/// (`PREFIX.1` here, `PREFIX.2` there). Removed on drop.
struct ClientNs {
    name: &'static str,
    host_ip: String,
}

impl ClientNs {
    fn new(name: &'static str, prefix: &str) -> ClientNs {
        // Left over from an interrupted run.
        let _ = sh(&["ip", "netns", "del", name]);
        let here = format!("{}h", &name[..name.len().min(12)]);
        let _ = sh(&["ip", "link", "del", &here]);
        let host_ip = format!("{prefix}.1");
        let steps: Vec<Vec<String>> = vec![
            vec!["ip", "netns", "add", name],
            vec![
                "ip", "link", "add", &here, "type", "veth", "peer", "name", "eth0", "netns", name,
            ],
            vec!["ip", "addr", "add", &format!("{host_ip}/24"), "dev", &here],
            vec!["ip", "link", "set", &here, "up"],
            vec![
                "ip",
                "-n",
                name,
                "addr",
                "add",
                &format!("{prefix}.2/24"),
                "dev",
                "eth0",
            ],
            vec!["ip", "-n", name, "link", "set", "eth0", "up"],
            vec!["ip", "-n", name, "link", "set", "lo", "up"],
        ]
        .into_iter()
        .map(|v| v.into_iter().map(String::from).collect())
        .collect();
        for step in steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            let out = sh(&args);
            assert!(
                out.status.success(),
                "{}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        ClientNs { name, host_ip }
    }

    /// GET over HTTPS from inside the namespace: (status, body).
    fn get(&self, port: u16, fqdn: &str, path: &str) -> (String, String) {
        let out = sh(&[
            "ip",
            "netns",
            "exec",
            self.name,
            "curl",
            "-sk",
            "--max-time",
            "15",
            "-w",
            "\n%{http_code}",
            "--resolve",
            &format!("{fqdn}:{port}:{}", self.host_ip),
            &format!("https://{fqdn}:{port}{path}"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.to_string(), body.to_string())
    }
}

impl Drop for ClientNs {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and so the pair.
        let _ = sh(&["ip", "netns", "del", self.name]);
    }
}

/// The images of the services beyond `core`, for the `full` profile.
const FULL_IMAGES: &[(&str, &str)] = &[
    ("victoriametrics", "vpai-test/victoriametrics:latest"),
    ("loki", "vpai-test/loki:latest"),
    ("alloy", "vpai-test/alloy:latest"),
    ("cadvisor", "vpai-test/cadvisor:latest"),
    ("grafana", "vpai-test/grafana:latest"),
    ("openclaw", "vpai-test/openclaw:latest"),
    ("diun", "vpai-test/diun:latest"),
];

/// The seeds' production set (`profile = "full"`: 13 services) comes up on the real
/// engine and the smoke gate is green: every datasource of Grafana answers, a line
/// pushed to Loki is read back, a container's log travels through Alloy to Loki,
/// cAdvisor's series reach VictoriaMetrics, OpenClaw loads its rendered config and
/// reaches LiteLLM, each subdomain answers over HTTPS through Caddy. A second `up`
/// changes nothing.
#[test]
fn full_profile_up_with_the_smoke_gate() {
    if !require_engine() {
        return;
    }
    let _serial = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let stack = Stack::new(
        "vpaifull",
        "10.232.0.0/16",
        "[services.litellm]\ndatabase = false\n",
    );
    let path = stack.dir.path().join("stack.toml");
    let mut text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("profile = \"core\"", "profile = \"full\"");
    for (svc, img) in FULL_IMAGES {
        text.push_str(&format!("{svc} = \"{img}\"\n"));
    }
    stack.write(&text);

    let out = stack.vpai(&["up", "--timeout", "900"]);
    assert!(out.status.success(), "up of the full profile failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("13 services healthy"), "{err}");
    let status = stack.vpai(&["status", "--json"]);
    let statuses: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(statuses.as_array().unwrap().len(), 13);
    for s in statuses.as_array().unwrap() {
        assert_eq!(s["state"], "running", "{s}");
    }

    let (outcomes, passed) = stack.verify();
    for want in [
        "grafana/datasource-victoriametrics",
        "grafana/datasource-loki",
        "grafana/datasource-postgresql",
        "grafana/dashboards-loaded",
        "loki/push-and-query",
        "alloy/logs-reach-loki",
        "alloy/metrics-reach-victoriametrics",
        "victoriametrics/write-and-read",
        "cadvisor/container-series",
        "openclaw/config-loads",
        "openclaw/litellm-reachable",
        "caddy/https[grafana]",
        "caddy/https[openclaw]",
        "postgresql/login[grafana]",
    ] {
        assert!(
            passed.iter().any(|p| p == want),
            "{want} did not pass: {outcomes}"
        );
    }

    // Nothing to change: one look at the host, nothing recreated.
    let out = stack.vpai(&["up"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));
    eprintln!(
        "E2E TIMING: full profile {:.1}s",
        t0.elapsed().as_secs_f64()
    );
}

/// What `vpai render` writes is valid for Compose itself (needs only the CLI and plugin).
#[test]
fn rendered_example_is_valid_for_docker_compose_config() {
    let compose_ok = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !compose_ok {
        if std::env::var("VPAI_E2E_REQUIRED").as_deref() == Ok("1") {
            panic!("Docker Compose v2 is required for this test");
        }
        eprintln!("\n*** SKIPPED compose validation: `docker compose` is not installed ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_vpai"))
        .current_dir(dir.path())
        .env("XDG_STATE_HOME", dir.path().join(".state"))
        .env("VPAI_VAULT_PASSWORD", "e2e-test-passphrase")
        .args(["render", "--example", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for file in ["docker-compose-infra.yml", "docker-compose.yml"] {
        let o = Command::new("docker")
            .args(["compose", "-f"])
            .arg(out.join(file))
            .args(["config", "--format", "json"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let cfg: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for (name, svc) in cfg["services"].as_object().unwrap() {
            // What compose understood is what we meant.
            assert_eq!(svc["cap_drop"], serde_json::json!(["ALL"]), "{name}");
            assert_eq!(
                svc["security_opt"],
                serde_json::json!(["no-new-privileges:true"]),
                "{name}"
            );
            let test = svc["healthcheck"]["test"].to_string();
            assert!(!test.contains("localhost"), "{name}: {test}");
            if name == "qdrant" {
                assert_eq!(svc["user"], "1000:1000");
            }
            if name == "litellm" {
                assert!(test.contains("/health/readiness"), "{test}");
            }
        }
    }
}

/// A push monitor on loopback (an Uptime Kuma stand-in): counts the GETs it answers.
fn heartbeat_monitor() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/api/push/e2eToken?status=up",
        listener.local_addr().unwrap().port()
    );
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            if String::from_utf8_lossy(&buf[..n]).starts_with("GET /api/push/e2eToken") {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}");
        }
    });
    (url, hits)
}

/// Backups with a verified restore, on the real engine and restic: data seeded in
/// PostgreSQL (a table of the n8n database, n8n's own workflows), Redis and Qdrant;
/// `vpai backup` pings the heartbeat; the drill restores into scratch containers and
/// finds every capture identical to its manifest; the data is destroyed, `vpai restore`
/// brings it back identical (checksums) and keeps the replaced data aside; a damaged
/// repository fails the drill; an unreachable repository fails the backup loudly,
/// without a snapshot or a heartbeat.
#[test]
fn backup_drill_restore_and_failures() {
    if !require_engine() {
        return;
    }
    assert!(
        sh(&["sh", "-c", "command -v restic"]).status.success(),
        "restic is not installed (scripts/test.sh installs it)"
    );
    let _serial = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let repo = tempfile::tempdir().unwrap();
    let stack = Stack::new(
        "vpaibk",
        "10.233.0.0/16",
        &format!(
            "[services.litellm]\ndatabase = false\n\n[backup]\nrepository = \"{}\"\n",
            repo.path().join("restic").display()
        ),
    );
    let (url, hits) = heartbeat_monitor();
    let mut set = Command::new(env!("CARGO_BIN_EXE_vpai"))
        .current_dir(stack.dir.path())
        .env("VPAI_VAULT_PASSWORD", "e2e-test-passphrase")
        .args(["secrets", "set", "backup_heartbeat_url"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    set.stdin.take().unwrap().write_all(url.as_bytes()).unwrap();
    assert!(set.wait().unwrap().success());
    let out = stack.vpai(&["up", "--timeout", "600"]);
    assert!(out.status.success(), "up failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not run systemd") || err.contains("backup timer"),
        "{err}"
    );
    let root = stack.root();
    let mode = |p: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(root.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("backup"), 0o700);
    assert_eq!(mode("backup/repository-password"), 0o600);
    assert_eq!(mode("backup/vpai-backup"), 0o700);

    // Seed data: rows owned by the app role, Redis keys, Qdrant points.
    let pg = format!("{}_postgresql", stack.project);
    let psql = |sql: &str| {
        let out = sh(&[
            "docker", "exec", &pg, "psql", "-X", "-At", "-U", "postgres", "-d", "n8n", "-c", sql,
        ]);
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    psql(
        "CREATE TABLE vpai_rows (id int PRIMARY KEY, v text); INSERT INTO vpai_rows SELECT g, md5(g::text) FROM generate_series(1, 5000) g; ALTER TABLE vpai_rows OWNER TO n8n",
    );
    let checksum = "SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM vpai_rows";
    let rows_before = psql(checksum);
    let workflows_before = psql("SELECT count(*) FROM workflow_entity");
    let redis = format!("{}_redis", stack.project);
    let redis_password = stack.secret("redis_password");
    let redis_cli = |script: &str| {
        let out = sh(&[
            "docker",
            "exec",
            "-e",
            &format!("REDISCLI_AUTH={redis_password}"),
            &redis,
            "sh",
            "-c",
            script,
        ]);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let rcli = "redis-cli -h 127.0.0.1 --no-auth-warning";
    redis_cli(&format!(
        "for i in $(seq 1 200); do echo \"SET key:$i value-$i\"; done | {rcli} >/dev/null"
    ));
    let ours = format!("{rcli} --scan --pattern 'key:*' | wc -l");
    assert_eq!(redis_cli(&ours), "200");
    let litellm = format!("{}_litellm", stack.project);
    let qdrant_key = stack.secret("qdrant_api_key");
    let qdrant = |code: &str| {
        let program = format!(
            "import json, urllib.request as u\n\
             def call(m, p, b=None):\n\
             \x20   r = u.Request('http://qdrant:6333' + p, method=m, data=None if b is None else json.dumps(b).encode(), headers={{'api-key': '{qdrant_key}', 'content-type': 'application/json'}})\n\
             \x20   return json.load(u.urlopen(r))['result']\n{code}"
        );
        let out = sh(&["docker", "exec", &litellm, "python3", "-c", &program]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // A first backup while Qdrant holds no collection: an empty manifest is still one,
    // and the drill passes on it.
    assert!(
        stack.vpai(&["backup"]).status.success(),
        "first backup failed"
    );
    let out = stack.vpai(&["restore", "--drill", "--json"]);
    assert!(out.status.success(), "the drill of an empty Qdrant failed");
    qdrant(
        "call('PUT', '/collections/docs', {'vectors': {'size': 4, 'distance': 'Cosine'}})\ncall('PUT', '/collections/docs/points?wait=true', {'points': [{'id': i, 'vector': [1, i, 2, 3], 'payload': {'n': i}} for i in range(1, 81)]})",
    );
    let scroll = "print(json.dumps(call('POST', '/collections/docs/points/scroll', {'limit': 1000, 'with_vector': True})['points'], sort_keys=True))";
    let points_before = qdrant(scroll);
    assert!(points_before.contains("\"id\": 80"), "{points_before}");

    // Backup: every capture, one snapshot, the heartbeat.
    let out = stack.vpai(&["backup", "--json"]);
    assert!(out.status.success(), "backup failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = report["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "postgresql-roles",
        "postgresql-database-n8n",
        "redis-rdb",
        "qdrant-collections",
        "n8n-data",
        "files",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(report["heartbeat"], true);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains(&redis_password) && !err.contains("e2eToken"),
        "a secret in the output: {err}"
    );
    let out = stack.vpai(&["backup", "--list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[1]["bytes"].as_u64().unwrap() > 10_000, "{list}");
    // A write to the database after a backup: the next one dumps it anew (its
    // fingerprint moved), never the kept capture.
    psql("CREATE TABLE vpai_touch AS SELECT 1 AS x; ALTER TABLE vpai_touch OWNER TO n8n");
    let out = stack.vpai(&["backup", "--json"]);
    assert!(out.status.success(), "third backup failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let db = report["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "postgresql-database-n8n")
        .unwrap();
    assert_eq!(db["unchanged"], false, "{report}");

    // The drill: restored in scratch containers, compared with the manifests.
    let out = stack.vpai(&["restore", "--drill", "--json"]);
    assert!(out.status.success(), "drill failed");
    let drill: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = |id: &str| {
        drill["captures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["result"].as_str().unwrap().to_string())
    };
    for id in ["postgresql-database-n8n", "redis-rdb", "qdrant-collections"] {
        assert_eq!(result(id).as_deref(), Some("identical"), "{drill}");
    }
    let scratch = sh(&[
        "docker",
        "ps",
        "-a",
        "--filter",
        "label=io.vpai.drill",
        "--format",
        "{{.Names}}",
    ]);
    assert!(
        String::from_utf8_lossy(&scratch.stdout).trim().is_empty(),
        "scratch containers left"
    );
    let out = stack.vpai(&["backup", "--status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["last_drill"]["status"], "ok", "{status}");
    assert_eq!(status["last_backup"]["status"], "ok", "{status}");

    // Destroy, then restore: everything as it was backed up.
    psql("DROP TABLE vpai_rows");
    redis_cli(&format!(
        "{rcli} --scan --pattern 'key:*' | head -150 | xargs {rcli} DEL >/dev/null"
    ));
    qdrant("call('DELETE', '/collections/docs')");
    let out = stack.vpai(&["restore"]);
    assert!(
        !out.status.success(),
        "a restore of everything ran without --yes"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let out = stack.vpai(&["restore", "--yes", "--json"]);
    assert!(out.status.success(), "restore failed");
    let restored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(psql(checksum), rows_before);
    assert_eq!(
        psql("SELECT count(*) FROM workflow_entity"),
        workflows_before
    );
    assert_eq!(redis_cli(&ours), "200");
    assert_eq!(redis_cli(&format!("{rcli} GET key:42")), "value-42");
    assert_eq!(qdrant(scroll), points_before);
    // The replaced data is kept aside.
    let kept: Vec<String> = restored["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kept"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kept.iter().any(|k| k.starts_with("n8n__vpai_kept_")),
        "{kept:?}"
    );
    assert!(psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'n8n__vpai_kept_%'") == "1");
    assert!(
        kept.iter().any(|k| k.starts_with("redis.vpai-replaced-")),
        "{kept:?}"
    );
    assert!(root.join("data").read_dir().unwrap().flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with("redis.vpai-replaced-")
    }));
    stack.verify();

    // A damaged repository (bit rot in every data pack): the drill says so and exits 1.
    for pack in walk(&repo.path().join("restic/data")) {
        let mut bytes = std::fs::read(&pack).unwrap();
        let (mid, end) = (bytes.len() / 2, (bytes.len() / 2 + 64).min(bytes.len()));
        for b in &mut bytes[mid..end] {
            *b ^= 0xff;
        }
        std::fs::write(&pack, bytes).unwrap();
    }
    let out = stack.vpai(&["restore", "--drill"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the drill passed on a damaged repository"
    );

    // An unreachable repository: the backup fails, names the cause, pings nothing.
    let text = std::fs::read_to_string(stack.dir.path().join("stack.toml")).unwrap();
    let closed = free_port();
    stack.write(&text.replace(
        &format!("repository = \"{}\"", repo.path().join("restic").display()),
        &format!("repository = \"sftp://root@127.0.0.1:{closed}//srv/restic\""),
    ));
    assert!(stack.vpai(&["up", "--timeout", "300"]).status.success());
    let out = stack.vpai(&["backup"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a backup to an unreachable repository succeeded"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repository"), "{err}");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "a failed backup pinged the heartbeat"
    );
    let out = stack.vpai(&["backup", "--status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["last_backup"]["status"], "failed", "{status}");
}

/// `vpai update` on the real engine, with a service whose image is not overridden in
/// `[images]` (a catalog entry of the operator's on the local base image): a tag that
/// cannot be pulled changes nothing; a tag whose image does not start is rolled back
/// (the previous container healthy again, the previous pin back in stack.toml); a good
/// tag is pinned with the file's comments kept and the service recreated on it.
#[test]
fn update_pulls_first_pins_and_rolls_back() {
    if !require_engine() {
        return;
    }
    // The service's repository names a registry on loopback where nothing listens: a
    // pull fails there without leaving the machine; the tags the test uses are local.
    const REPO: &str = "127.0.0.1:9/vpai-e2e/base";
    for (from, tag) in [
        ("vpai-test/base:trixie", "trixie"),
        ("vpai-test/base:trixie", "vpai-e2e-next"),
        // An image whose entrypoint is not a shell: the service's command cannot start.
        ("vpai-test/loki:latest", "vpai-e2e-broken"),
    ] {
        assert!(
            sh(&["docker", "tag", from, &format!("{REPO}:{tag}")])
                .status
                .success()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::write(
        dir.path().join("catalog/ticker.toml"),
        r#"name = "ticker"
description = "a small service on the base image"
phase = "apps"
image = "127.0.0.1:9/vpai-e2e/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "true"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
init = true
command = ["sh", "-c", "touch /tmp/ready; exec sleep infinity"]
[healthcheck]
test = ["CMD", "sh", "-c", "test -f /tmp/ready"]
interval = "1s"
retries = 5
start_period = "0s"
"#,
    )
    .unwrap();
    let stack_text = "# the operator's stack\n[project]\nname = \"vpaiupd\"\ndomain = \"localhost\"\nservices = [\"ticker\"]\nsubnet = \"10.234.0.0/16\"\n\n[backup]\nschedule = \"off\"\n\n[services.ticker]\n# pinned on purpose\nversion = \"trixie\" # the base\n";
    std::fs::write(dir.path().join("stack.toml"), stack_text).unwrap();
    let root = dir.path().join("root");
    let vpai = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vpai"))
            .current_dir(dir.path())
            .args(args)
            .arg("--root")
            .arg(&root)
            .env("NO_COLOR", "1")
            .env("VPAI_VAULT_PASSWORD", "e2e-test-passphrase")
            .output()
            .unwrap();
        eprintln!(
            "vpai {args:?}: {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let image = || {
        let out = sh(&[
            "docker",
            "inspect",
            "-f",
            "{{.Config.Image}}",
            "vpaiupd_ticker",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let read_stack = || std::fs::read_to_string(dir.path().join("stack.toml")).unwrap();
    assert!(vpai(&["up", "--timeout", "120"]).status.success());
    assert_eq!(image(), format!("{REPO}:trixie"));

    // A tag that does not exist anywhere: the pull fails, nothing changes.
    let out = vpai(&["update", "ticker", "--version", "vpai-e2e-missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was changed"));
    assert_eq!(read_stack(), stack_text);
    assert_eq!(image(), format!("{REPO}:trixie"));

    // A tag whose container never becomes healthy: rolled back, the pin put back.
    let out = vpai(&[
        "update",
        "ticker",
        "--version",
        "vpai-e2e-broken",
        "--timeout",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rolled back"), "{err}");
    assert!(err.contains("pins `ticker` at trixie again"), "{err}");
    assert_eq!(read_stack(), stack_text);
    assert_eq!(image(), format!("{REPO}:trixie"));
    let out = sh(&[
        "docker",
        "inspect",
        "-f",
        "{{.State.Health.Status}}",
        "vpaiupd_ticker",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "healthy");

    // A good tag: pinned (comments kept), recreated on it, healthy.
    let out = vpai(&["update", "ticker", "--version", "vpai-e2e-next"]);
    assert!(out.status.success());
    assert_eq!(
        read_stack(),
        stack_text.replace("\"trixie\" # the base", "\"vpai-e2e-next\" # the base")
    );
    assert_eq!(image(), format!("{REPO}:vpai-e2e-next"));
    let out = vpai(&["update", "--all", "--check", "--json"]);
    let pins: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pins[0]["pinned"], "vpai-e2e-next");
    assert_eq!(pins[0]["catalog"], "trixie");
    let _ = vpai(&["down", "--all"]);
    let _ = sh(&["docker", "network", "rm", "vpaiupd_backend"]);
    for tag in ["trixie", "vpai-e2e-next", "vpai-e2e-broken"] {
        let _ = sh(&["docker", "image", "rm", &format!("{REPO}:{tag}")]);
    }
    let _ = std::fs::remove_dir_all(&root);
}
