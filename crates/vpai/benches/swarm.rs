//! Swarm vs Compose, measured side by side (run by `bench/swarm/run.sh`, which says
//! how). On three namespace hosts of `tests/support/cluster.rs`:
//! - the first deploy of the same stack (PostgreSQL, Redis, Caddy, LiteLLM) on the
//!   three-node swarm (`vpai swarm init` + `vpai up`) and with Compose on one host;
//! - the no-op `vpai up` of both, side by side in one hyperfine run (its ratio);
//! - LiteLLM with 1 then 3 replicas behind Caddy on the swarm: requests per second of a
//!   bounded local load generator (`bench/swarm/load.py`).
//!
//! Built by `cargo test --all-targets` too; it measures only when given `--bench`.

#[allow(dead_code)]
#[path = "../tests/support/netns.rs"]
mod netns;

#[path = "../tests/support/cluster.rs"]
mod cluster;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const IMAGES: &[&str] = &[
    "vpai-test/postgres:latest",
    "vpai-test/redis:latest",
    "vpai-test/caddy:latest",
    "vpai-test/litellm:latest",
];
const PASS: &str = "bench-swarm-passphrase";

/// The stack: on the swarm (`swarm`), or with Compose on the host `s3` alone.
fn write_stack(dir: &Path, c: &cluster::Cluster, swarm: bool, replicas: u32) {
    let head = if swarm {
        format!(
            "[project]\nname = \"bsw\"\ndomain = \"bsw.localhost\"\ntls = \"internal\"\nengine = \"swarm\"\n\
             services = [\"postgresql\", \"redis\", \"caddy\", \"litellm\"]\n\n\
             [swarm]\nmanager = \"s1\"\nencrypt = false\n\n\
             [services.litellm]\nreplicas = {replicas}\ndatabase = false\n\n"
        )
    } else {
        "[project]\nname = \"bco\"\ndomain = \"bco.localhost\"\ntls = \"internal\"\nsubnet = \"10.239.0.0/16\"\n\
         services = [\"postgresql\", \"redis\", \"caddy\", \"litellm\"]\n\n\
         [services.litellm]\ndatabase = false\n\n"
            .to_string()
    };
    let mut text = head;
    text.push_str(
        "[backup]\nschedule = \"off\"\n\n[images]\npostgresql = \"vpai-test/postgres:latest\"\n\
         redis = \"vpai-test/redis:latest\"\ncaddy = \"vpai-test/caddy:latest\"\nlitellm = \"vpai-test/litellm:latest\"\n\n",
    );
    for h in &c.hosts {
        if !swarm && h.name != "s3" {
            continue;
        }
        text.push_str(&format!(
            "[hosts.{}]\naddress = \"{}\"\nuser = \"root\"\nidentity = \"{}\"\nknown_hosts = \"{}\"\n\n",
            h.name,
            h.addr,
            c.identity.display(),
            c.known_hosts.display(),
        ));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("stack.toml"), text).unwrap();
}

/// `vpai ARGS` in `dir`, which must succeed; its wall time in seconds.
fn timed(dir: &Path, args: &[&str]) -> f64 {
    let t = Instant::now();
    let out = netns::vpai(dir, args, PASS);
    assert!(out.status.success(), "vpai {args:?} failed");
    t.elapsed().as_secs_f64()
}

/// Requests per second of LiteLLM through Caddy on `addr` (8 connections, 15 s).
fn load(addr: &str, name: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/swarm/load.py");
    let out = Command::new("python3")
        .arg(script)
        .args([addr, name, "/health/liveliness", "8", "15"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", cluster::text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("measures only under `cargo bench` (bench/swarm/run.sh)");
        return;
    }
    if !cluster::require(IMAGES) {
        std::process::exit(1);
    }
    let runs = std::env::var("RUNS").unwrap_or_else(|_| "5".into());
    let c = cluster::Cluster::start(3, IMAGES);
    let sw = c.dir().join("swarm-ops");
    let co = c.dir().join("compose-ops");
    write_stack(&sw, &c, true, 1);
    write_stack(&co, &c, false, 1);

    // First deploys, once each (a fresh cluster per run would cost minutes).
    let init = timed(&sw, &["swarm", "init"]);
    let first_swarm = timed(&sw, &["up"]);
    let first_compose = timed(&co, &["up"]);

    // No-op, side by side. The vaults are unlocked first, as an operator who runs
    // several commands does: the key derivation is not what is measured.
    for dir in [&sw, &co] {
        timed(dir, &["-q", "unlock", "--for", "30m"]);
    }
    let vpai = env!("CARGO_BIN_EXE_vpai");
    let cmd = |dir: &Path| {
        format!(
            "cd {d} && XDG_STATE_HOME={d}/.state NO_COLOR=1 {vpai} -q up",
            d = dir.display()
        )
    };
    let json = c.dir().join("noop.json");
    let status = Command::new("hyperfine")
        .args(["--warmup", "1", "--runs", &runs, "--export-json"])
        .arg(&json)
        .args([
            "-n",
            "swarm-3-nodes",
            &cmd(&sw),
            "-n",
            "compose-1-host",
            &cmd(&co),
        ])
        .status()
        .expect("hyperfine");
    assert!(status.success());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let median = |i: usize| doc["results"][i]["median"].as_f64().unwrap();
    let (noop_swarm, noop_compose) = (median(0), median(1));

    // LiteLLM behind Caddy: 1 replica, then 3.
    let s1 = c.host("s1").addr.clone();
    let one = load(&s1, "llm.bsw.localhost");
    write_stack(&sw, &c, true, 3);
    timed(&sw, &["up"]);
    let three = load(&s1, "llm.bsw.localhost");

    println!("\n=== Swarm (3 nodes) vs Compose (1 host), same stack");
    println!(
        "first deploy: swarm init {init:.1} s + up {first_swarm:.1} s; compose up {first_compose:.1} s"
    );
    println!(
        "first deploy, swarm (with init) / compose: {:.2}x",
        (init + first_swarm) / first_compose
    );
    println!(
        "no-op median: swarm {noop_swarm:.3} s, compose {noop_compose:.3} s: {:.2}x",
        noop_swarm / noop_compose
    );
    println!("LiteLLM through Caddy, 1 replica: {one}");
    println!("LiteLLM through Caddy, 3 replicas: {three}");
    let rps = |v: &serde_json::Value| v["rps"].as_f64().unwrap_or(0.0);
    println!("3 replicas / 1: {:.2}x", rps(&three) / rps(&one).max(0.1));
}
