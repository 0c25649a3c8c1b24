//! Several hosts in one `vpai up`, end to end. Each test host is a network and mount
//! namespace made by the test (`unshare --net --mount`) with its own Docker engine (a
//! real `dockerd`: its own data root, its own `/run`, so its own socket and deploy
//! lock), its own `/opt` (the stack's root), and its own sshd, joined to this namespace
//! by a veth pair on 10.252.N.0/30. vpai reaches them over SSH as it would three VPS.
//!
//! One scenario: the first deploy to three hosts at once (one of them runs only part of
//! the stack), a no-op on all three timed against a no-op on one, `status --json`
//! gathering each host's document, then a change that one host cannot take: that host
//! rolls back and is reported, the other two keep the new version.
//!
//! Skipped loudly when something is missing, unless VPAI_E2E_REQUIRED=1 (then failed).

#[path = "support/netns.rs"]
mod netns;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "vpai-test/base:trixie";

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn require() -> bool {
    netns::require_hosts(
        "multi-host",
        &[
            "dockerd",
            "docker",
            "unshare",
            "nsenter",
            "ip",
            "ssh-keygen",
            "python3",
        ],
        &[IMAGE],
    )
}

/// A test host: a namespace holder, its dockerd and its sshd; all stopped on drop.
struct NsHost {
    name: String,
    dir: tempfile::TempDir,
    pid: String,
    holder: Child,
    dockerd: Option<Child>,
    sshd: Option<Child>,
    addr: String,
    host_key: String,
}

impl NsHost {
    fn start(n: u8, client_key: &str) -> NsHost {
        let dir = tempfile::Builder::new()
            .prefix("vpai-hosts-")
            .tempdir()
            .unwrap();
        let netns::Holder {
            child: holder, pid, ..
        } = netns::hold();
        let veth = format!("vh{}m{n}", std::process::id() % 100_000);
        let peer = format!("vn{}m{n}", std::process::id() % 100_000);
        let addr = netns::link(&pid, &veth, &peer, &format!("10.252.{n}"));
        let mut host = NsHost {
            name: format!("h{n}"),
            dir,
            pid: pid.clone(),
            holder,
            dockerd: None,
            sshd: None,
            addr: addr.clone(),
            host_key: String::new(),
        };
        // Its own /run (the engine's socket, the deploy lock, sshd's pid) and /opt (the
        // stack's root); a flag directory the test uses to break one host's app.
        let cmd = "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd /run/lock /run/vpai-flags && mount -t tmpfs -o mode=0755 tmpfs /opt";
        let out = host.ns(&["sh", "-c", cmd]);
        assert!(out.status.success(), "{cmd}: {}", text(&out));
        let d = host.dir.path().to_path_buf();
        host.dockerd = Some(netns::start_dockerd(&pid, &d.join("docker"), &d, &[IMAGE]));
        // sshd with a host key of its own, root logging in with the test's key.
        netns::keygen(&d.join("host_key"), "vpai-hosts-host");
        std::fs::write(d.join("authorized_keys"), client_key).unwrap();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port 22\nListenAddress {addr}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPidFile /run/sshd.pid\n\
                 StrictModes no\nMaxSessions 50\nMaxStartups 50\nPrintMotd no\nSetEnv SHLVL=1\n",
                hk = d.join("host_key").display(),
                ak = d.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let sshd = Command::new("nsenter")
            .args(["-t", &pid, "-n", "-m", "--", "/usr/sbin/sshd", "-D", "-f"])
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("sshd");
        host.sshd = Some(sshd);
        let start = Instant::now();
        while std::net::TcpStream::connect((addr.as_str(), 22)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        host.host_key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        host
    }

    /// A command in the host's namespaces.
    fn ns(&self, args: &[&str]) -> Output {
        let mut all = vec!["nsenter", "-t", &self.pid, "-n", "-m", "--"];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// `docker inspect` of the project's container for `svc` on this host: (health, MODE).
    fn app(&self, svc: &str) -> Option<(String, String)> {
        let out = self.ns(&[
            "docker",
            "inspect",
            "--format",
            "{{println .State.Health.Status}}{{range .Config.Env}}{{println .}}{{end}}",
            &format!("vpaihosts_{svc}"),
        ]);
        if !out.status.success() {
            return None;
        }
        let t = String::from_utf8_lossy(&out.stdout).to_string();
        let health = t.split_whitespace().next().unwrap_or_default().to_string();
        let mode = t
            .lines()
            .find_map(|l| l.trim().strip_prefix("MODE="))
            .unwrap_or_default()
            .to_string();
        Some((health, mode))
    }
}

impl Drop for NsHost {
    fn drop(&mut self) {
        if let Some(mut s) = self.sshd.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        if let Some(d) = self.dockerd.take() {
            netns::stop_dockerd(&self.pid, d);
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

const KV: &str = r#"name = "kv"
description = "a store"
phase = "infra"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "true", "sleep"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
init = true
command = ["sleep", "infinity"]
[healthcheck]
test = ["CMD", "true"]
interval = "1s"
start_period = "0s"
"#;

/// Unhealthy when the host has the flag `/run/vpai-flags/broken-<MODE>`.
const API: &str = r#"name = "api"
description = "an app"
phase = "apps"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "test", "sleep"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
needs = ["kv"]
init = true
command = ["sleep", "infinity"]
[healthcheck]
test = ["CMD-SHELL", "test ! -e /flags/broken-$$MODE"]
interval = "1s"
retries = 5
start_period = "0s"
[[host_mounts]]
source = "/run/vpai-flags"
target = "/flags"
"#;

fn write_stack(dir: &Path, hosts: &[NsHost], mode: &str) {
    let mut text = format!(
        "[project]\nname = \"vpaihosts\"\ndomain = \"localhost\"\nservices = [\"kv\", \"api\"]\ntls = \"internal\"\nsubnet = \"10.238.0.0/16\"\n\n\
         [services.api]\nenv = {{ MODE = \"{mode}\" }}\n\n\
         [images]\nkv = \"{IMAGE}\"\napi = \"{IMAGE}\"\n\n[backup]\nschedule = \"off\"\n\n"
    );
    for (i, h) in hosts.iter().enumerate() {
        // The third host runs the store only.
        let services = if i == 2 {
            "[\"kv\"]"
        } else {
            "[\"kv\", \"api\"]"
        };
        text.push_str(&format!(
            "[hosts.{name}]\naddress = \"{addr}\"\nuser = \"root\"\nidentity = \"id_ed25519\"\nknown_hosts = \"known_hosts\"\nservices = {services}\n\n",
            name = h.name,
            addr = h.addr,
        ));
    }
    std::fs::write(dir.join("stack.toml"), text).unwrap();
}

fn vpai(dir: &Path, args: &[&str]) -> Output {
    netns::vpai(dir, args, "e2e-hosts-test-passphrase")
}

#[test]
fn three_hosts_in_one_up_each_with_its_lock_release_and_rollback() {
    if !require() {
        return;
    }
    let ops = tempfile::tempdir().unwrap();
    let dir = ops.path();
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/kv.toml"), KV).unwrap();
    std::fs::write(dir.join("catalog/api.toml"), API).unwrap();
    netns::keygen(&dir.join("id_ed25519"), "vpai-hosts-operator");
    let client_key = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
    let t0 = Instant::now();
    // The three hosts come up side by side (each engine loads the image).
    let hosts: Vec<NsHost> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=3u8)
            .map(|n| {
                let key = client_key.clone();
                s.spawn(move || NsHost::start(n, &key))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "three test hosts ready in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    let known: String = hosts
        .iter()
        .map(|h| format!("{} {}\n", h.addr, h.host_key))
        .collect();
    std::fs::write(dir.join("known_hosts"), known).unwrap();
    write_stack(dir, &hosts, "v1");

    // One command, three hosts: each gets its own release under its own /opt.
    let out = vpai(dir, &["up", "--timeout", "120"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for h in &hosts {
        assert!(all.contains(&format!("[{}] ", h.name)), "{all}");
        assert_eq!(
            h.app("kv").map(|a| a.0).as_deref(),
            Some("healthy"),
            "{}",
            h.name
        );
        assert!(
            h.ns(&["test", "-L", "/opt/vpaihosts/releases/current"])
                .status
                .success(),
            "{} has no release",
            h.name
        );
    }
    assert!(all.contains("3 of 3 hosts succeeded"), "{all}");
    // After the deploy, each host's address was tried from here: only SSH answers.
    for h in &hosts {
        assert!(
            all.lines().any(|l| l.starts_with(&format!("[{}] ", h.name))
                && l.contains("exposure: from here, no port but 22, 80, 443 answers")),
            "{all}"
        );
    }
    assert_eq!(hosts[0].app("api"), Some(("healthy".into(), "v1".into())));
    assert_eq!(hosts[1].app("api"), Some(("healthy".into(), "v1".into())));
    assert_eq!(hosts[2].app("api"), None, "h3 runs the store only");

    // A no-op on all three, then on one: the parallel runs cost little more.
    let t = Instant::now();
    let out = vpai(dir, &["up"]);
    let three = t.elapsed().as_secs_f64();
    assert!(out.status.success());
    assert_eq!(text(&out).matches("nothing to change").count(), 3);
    let t = Instant::now();
    let out = vpai(dir, &["up", "--host", "h1"]);
    let one = t.elapsed().as_secs_f64();
    assert!(out.status.success());
    eprintln!(
        "E2E TIMING: no-op up, 3 hosts {three:.2}s, 1 host {one:.2}s: {:.2}x",
        three / one
    );

    // `--json` gathers each host's document under its name.
    let out = vpai(dir, &["status", "--json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for h in &hosts {
        let services = doc[&h.name].as_array().unwrap_or_else(|| panic!("{doc}"));
        let want = if h.name == "h3" { 1 } else { 2 };
        assert_eq!(services.len(), want, "{}: {doc}", h.name);
    }

    // Something on h3 listens on PostgreSQL's port on every interface (as a database
    // published with `ports: ["5432:5432"]` by another project would): `vpai verify`
    // names it, and fails.
    let mut listener = Command::new("nsenter")
        .args([
            "-t",
            &hosts[2].pid,
            "-n",
            "--",
            "python3",
            "-m",
            "http.server",
        ])
        .args(["--bind", "0.0.0.0", "5432"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("{}:5432", hosts[2].addr).parse().unwrap();
    let up = Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(
            up.elapsed() < Duration::from_secs(10),
            "the listener did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = vpai(dir, &["verify", "--host", "h3", "--json"]);
    let _ = listener.kill();
    let _ = listener.wait();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let exposure = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["service"] == "host" && o["probe"] == "exposure")
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(exposure["status"], "failed", "{doc}");
    let said = exposure["output"].as_str().unwrap();
    assert!(
        said.contains(&format!(
            "{}:5432 answers from here (PostgreSQL)",
            hosts[2].addr
        )),
        "{said}"
    );
    let out = vpai(dir, &["verify", "--host", "h3"]);
    assert!(out.status.success(), "{}", text(&out));

    // h2 cannot run v2: it rolls back alone and is reported; the others keep v2.
    assert!(
        hosts[1]
            .ns(&["touch", "/run/vpai-flags/broken-v2"])
            .status
            .success()
    );
    write_stack(dir, &hosts, "v2");
    let out = vpai(dir, &["up", "--timeout", "60"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("2 of 3 hosts succeeded"), "{all}");
    assert!(all.contains("[h2] failed"), "{all}");
    assert!(
        all.lines()
            .any(|l| l.starts_with("[h2] ") && l.contains("rolled back to release")),
        "{all}"
    );
    assert_eq!(hosts[0].app("api"), Some(("healthy".into(), "v2".into())));
    assert_eq!(hosts[1].app("api"), Some(("healthy".into(), "v1".into())));
    eprintln!(
        "E2E TIMING: multi-host test {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    drop(hosts);
}
