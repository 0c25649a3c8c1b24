//! A real multi-node Docker Swarm test bed made of Linux namespaces on this machine.
//!
//! Layout (`SUBNET` is 10.254.0):
//!
//! ```text
//!   test's (root) namespace          switch namespace            host namespaces
//!   vw<pid>r  SUBNET.1/24  ------  root ─┐                      ┌─ eth0 SUBNET.11/24  (s1)
//!                                        ├── br0 (bridge) ──────┼─ eth0 SUBNET.12/24  (s2)
//!                               s1 s2 s3 ┘                      └─ eth0 SUBNET.13/24  (s3)
//! ```
//!
//! The bridge lives in a namespace of its own, not in the root one: there the main
//! engine's iptables (FORWARD DROP, with `br_netfilter`) would drop bridged traffic.
//! Each host is a holder from [`netns::hold`] (new network and mount namespaces) with a
//! tmpfs on `/run` and `/opt`, a real `dockerd` (data root in the cluster's temporary
//! directory) and a real `sshd` (a host key of its own, root logging in with the
//! cluster's client key). The hosts reach one another over the bridge (Swarm's TCP
//! 2377, TCP/UDP 7946, UDP 4789), and the test reaches each of them from its own
//! namespace, so vpai run by the test can SSH to them as it would to real servers.
//!
//! Encrypted overlays (`--opt encrypted`) do not work on every kernel (the xfrm AEAD
//! `rfc4106(gcm(aes))` may be missing); plain overlays do.
//!
//! All the hosts share the machine's UTS name: Swarm tells them apart by node ID.
//!
//! Use: the test file includes both support modules at its root,
//!
//! ```ignore
//! #[path = "support/netns.rs"]
//! mod netns;
//! #[path = "support/cluster.rs"]
//! mod cluster;
//!
//! if !cluster::require(&[IMAGE]) { return; }
//! let mut c = cluster::Cluster::start(3, &[IMAGE]);
//! c.hosts[0].docker(&["swarm", "init", "--advertise-addr", &c.hosts[0].addr]);
//! ```
//!
//! Everything is stopped and removed when the [`Cluster`] drops, panics included.
//! One cluster at a time per machine: [`Cluster::start`] refuses to start when
//! `SUBNET` is already in use in the test's namespace.

// Not every test file uses every helper.
#![allow(dead_code)]

use crate::netns;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The cluster's /24: the test's namespace is `SUBNET.1`, host `sN` is `SUBNET.(10+N)`.
pub const SUBNET: &str = "10.254.0";

/// Run a command in the test's namespace.
fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// Run a shell command in the namespaces of `pid` (`-n`, plus `-m` when `mount`), and
/// panic with its output when it fails.
fn ns_sh(pid: &str, mount: bool, cmd: &str) {
    let mut args = vec!["nsenter", "-t", pid, "-n"];
    if mount {
        args.push("-m");
    }
    args.extend(["--", "sh", "-c", cmd]);
    let out = run(&args);
    assert!(out.status.success(), "{cmd}: {}", text(&out));
}

/// A command's stdout and stderr, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Call `f` every 200 ms until it gives `Some`, and return that; panic naming `what`
/// after `timeout`.
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether a cluster can run here: root, the tools, `/usr/sbin/sshd`, and `images` in
/// this machine's engine. When not, say so loudly and return false, or panic when
/// `VPAI_E2E_REQUIRED=1`.
pub fn require(images: &[&str]) -> bool {
    netns::require_hosts(
        "swarm",
        &[
            "dockerd",
            "docker",
            "unshare",
            "nsenter",
            "ip",
            "ssh",
            "ssh-keygen",
        ],
        images,
    )
}

/// A cluster of hosts on one switch; all stopped and removed on drop.
pub struct Cluster {
    /// The hosts, `s1` first.
    pub hosts: Vec<ClusterHost>,
    /// The client's private key (ed25519, no passphrase): root on every host accepts it.
    pub identity: PathBuf,
    /// A `known_hosts` file with each host's key for its address.
    pub known_hosts: PathBuf,
    /// The switch's holder (a bridge `br0` in a network namespace of its own).
    switch: Option<netns::Holder>,
    /// The test's end of its link to the switch, once made.
    root_if: Option<String>,
    /// The cluster's files: the keys, and one directory per host.
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Start `n` hosts `s1`..`sN` (side by side) on a new switch, each engine with
    /// `images` loaded from this machine's engine (saved once, loaded in parallel).
    /// The engines are not in a swarm yet: the caller decides who inits and who joins.
    pub fn start(n: u8, images: &[&str]) -> Cluster {
        assert!((1..=200).contains(&n), "1 to 200 hosts");
        let t0 = Instant::now();
        let addrs = String::from_utf8_lossy(&run(&["ip", "-br", "addr"]).stdout).to_string();
        if let Some(line) = addrs.lines().find(|l| l.contains(&format!("{SUBNET}."))) {
            panic!("{SUBNET}.0/24 is in use on this machine (another cluster?): {line}");
        }
        let dir = tempfile::Builder::new()
            .prefix("vpai-swarm-")
            .tempdir()
            .unwrap();
        let mut cluster = Cluster {
            hosts: Vec::new(),
            identity: dir.path().join("id_ed25519"),
            known_hosts: dir.path().join("known_hosts"),
            switch: Some(netns::hold()),
            root_if: None,
            dir,
        };
        let sw = cluster.switch_pid().to_string();
        ns_sh(
            &sw,
            false,
            "ip link set lo up && ip link add br0 type bridge && ip link set br0 up",
        );
        // The test's own link to the switch.
        let root_if = format!("vw{}r", std::process::id() % 100_000);
        let out = run(&[
            "ip", "link", "add", &root_if, "type", "veth", "peer", "name", "root", "netns", &sw,
        ]);
        assert!(out.status.success(), "veth {root_if}: {}", text(&out));
        cluster.root_if = Some(root_if.clone());
        let cmd = format!("ip addr add {SUBNET}.1/24 dev {root_if} && ip link set {root_if} up");
        let out = run(&["sh", "-c", &cmd]);
        assert!(out.status.success(), "{cmd}: {}", text(&out));
        ns_sh(
            &sw,
            false,
            "ip link set root master br0 && ip link set root up",
        );
        // The client's key pair.
        netns::keygen(&cluster.identity, "vpai-swarm-client");
        let client_key = std::fs::read_to_string(cluster.identity.with_extension("pub")).unwrap();

        // The hosts come up side by side while the images are saved once.
        let root = cluster.dir.path().to_path_buf();
        let tar = root.join("images.tar");
        let failure = std::thread::scope(|s| {
            let save = (!images.is_empty()).then(|| {
                s.spawn(|| {
                    let mut args = vec!["docker", "save", "-o", tar.to_str().unwrap()];
                    args.extend_from_slice(images);
                    let out = run(&args);
                    assert!(out.status.success(), "docker save: {}", text(&out));
                })
            });
            let mut failure = None;
            let starts: Vec<_> = (1..=n)
                .map(|i| {
                    let (root, sw, key) = (&root, &sw, &client_key);
                    s.spawn(move || ClusterHost::start(i, sw, root, key))
                })
                .collect();
            for handle in starts {
                match handle.join() {
                    Ok(host) => cluster.hosts.push(host),
                    Err(e) => failure = failure.or(Some(e)),
                }
            }
            if let Some(Err(e)) = save.map(|h| h.join()) {
                failure = failure.or(Some(e));
            }
            failure
        });
        if let Some(e) = failure {
            std::panic::resume_unwind(e);
        }
        let known: String = cluster
            .hosts
            .iter()
            .map(|h| format!("{} {}\n", h.addr, h.host_key))
            .collect();
        std::fs::write(&cluster.known_hosts, known).unwrap();
        if !images.is_empty() {
            let t = Instant::now();
            std::thread::scope(|s| {
                let loads: Vec<_> = cluster
                    .hosts
                    .iter()
                    .map(|h| s.spawn(|| h.docker(&["load", "-q", "-i", tar.to_str().unwrap()])))
                    .collect();
                for (h, load) in cluster.hosts.iter().zip(loads) {
                    let out = load.join().unwrap();
                    assert!(
                        out.status.success(),
                        "{}: docker load: {}",
                        h.name,
                        text(&out)
                    );
                }
            });
            let _ = std::fs::remove_file(&tar);
            eprintln!(
                "cluster: {images:?} loaded into {n} engines in {:.1}s",
                t.elapsed().as_secs_f64()
            );
        }
        eprintln!(
            "cluster: {n} hosts ready in {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        cluster
    }

    /// The cluster's directory (the keys, a directory per host with its engine's data
    /// root and logs): a place for the test's own files too, removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The pid of the switch's holder (for `nsenter -t PID -n`, e.g. `bridge fdb`).
    pub fn switch_pid(&self) -> &str {
        &self.switch.as_ref().expect("the switch").pid
    }

    /// The host named `name` (`s1`..).
    pub fn host(&self, name: &str) -> &ClusterHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    /// `ssh root@HOST -- command` from the test's namespace, with the cluster's
    /// identity and known_hosts (strict host key checking, batch mode). `command` is
    /// one string, run by the host's shell.
    pub fn ssh(&self, host: &ClusterHost, command: &str) -> Output {
        run(&[
            "ssh",
            "-i",
            self.identity.to_str().unwrap(),
            "-o",
            &format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            &format!("root@{}", host.addr),
            command,
        ])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Hosts first (side by side: each engine takes a moment to stop), then the
        // test's link, then the switch (its bridge and veths go with its namespace).
        let hosts = std::mem::take(&mut self.hosts);
        std::thread::scope(|s| {
            for host in hosts {
                s.spawn(move || drop(host));
            }
        });
        if let Some(root_if) = self.root_if.take() {
            // Deleted here, not left to the switch's namespace teardown (asynchronous
            // in the kernel), so the address is free again when the drop returns.
            let _ = run(&["ip", "link", "del", &root_if]);
        }
        if let Some(mut switch) = self.switch.take() {
            let _ = switch.child.kill();
            let _ = switch.child.wait();
        }
    }
}

/// One host: a namespace holder with its dockerd and sshd; all stopped on drop.
pub struct ClusterHost {
    /// `s1`, `s2`, ...
    pub name: String,
    /// Its address on the switch, `SUBNET.(10+N)`.
    pub addr: String,
    /// Its holder's pid, for `nsenter -t PID -n -m`.
    pub pid: String,
    /// Its files: `docker/` (the engine's data root), `dockerd.log`, `dockerd.err`
    /// (earlier runs of the engine as `dockerd.N.log`/`.err`), `sshd.log`.
    pub dir: PathBuf,
    /// Its SSH host key, `ssh-ed25519 AAAA...`.
    pub host_key: String,
    holder: Child,
    /// `net:[...]` of its namespace, to find what is left in it.
    netns: String,
    dockerd: Option<Child>,
    sshd: Option<Child>,
    /// How many times its engine was started.
    engine_runs: u32,
}

impl ClusterHost {
    /// Start host `sN` on the switch of `switch_pid`, its files under `root/sN`, root
    /// logging in over SSH with `client_key` (a public key line).
    fn start(n: u8, switch_pid: &str, root: &Path, client_key: &str) -> ClusterHost {
        let dir = root.join(format!("s{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let netns::Holder {
            child: holder,
            pid,
            netns,
        } = netns::hold();
        let addr = format!("{SUBNET}.{}", 10 + u32::from(n));
        let mut host = ClusterHost {
            name: format!("s{n}"),
            addr: addr.clone(),
            pid: pid.clone(),
            dir: dir.clone(),
            host_key: String::new(),
            holder,
            netns,
            dockerd: None,
            sshd: None,
            engine_runs: 0,
        };
        // Its port on the switch (names in the switch's namespace are its own).
        ns_sh(
            switch_pid,
            false,
            &format!(
                "ip link add s{n} type veth peer name eth0 netns {pid} && ip link set s{n} master br0 && ip link set s{n} up"
            ),
        );
        ns_sh(
            &pid,
            false,
            &format!("ip addr add {addr}/24 dev eth0 && ip link set eth0 up && ip link set lo up"),
        );
        // Its own /run (the engine's socket and state, sshd's pid) and /opt.
        ns_sh(
            &pid,
            true,
            "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd /run/lock && mount -t tmpfs -o mode=0755 tmpfs /opt",
        );
        host.start_engine();
        // sshd with a host key of its own, root logging in with the client's key.
        let host_key = dir.join("host_key");
        netns::keygen(&host_key, "vpai-swarm-host");
        std::fs::write(dir.join("authorized_keys"), client_key).unwrap();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port 22\nListenAddress {addr}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPidFile /run/sshd.pid\n\
                 StrictModes no\nMaxSessions 50\nMaxStartups 50\nPrintMotd no\nSetEnv SHLVL=1\n",
                hk = host_key.display(),
                ak = dir.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let sshd = Command::new("nsenter")
            .args(["-t", &pid, "-n", "-m", "--", "/usr/sbin/sshd", "-D", "-f"])
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("sshd");
        host.sshd = Some(sshd);
        poll(Duration::from_secs(10), "sshd to listen", || {
            std::net::TcpStream::connect((addr.as_str(), 22)).ok()
        });
        let key = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
        host.host_key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        host
    }

    /// Load `images` from this machine's engine into this host's only (a service
    /// pinned here needs them nowhere else).
    #[allow(dead_code)] // the swarm scenario uses it; the bench does not
    pub fn load_images(&self, images: &[&str]) {
        let mut save = Command::new("docker")
            .arg("save")
            .args(images)
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let out = Command::new("nsenter")
            .args(["-t", &self.pid, "-n", "-m", "--", "docker", "load", "-q"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .expect("docker load");
        assert!(save.wait().unwrap().success(), "docker save {images:?}");
        assert!(
            out.status.success(),
            "{}: docker load: {}",
            self.name,
            text(&out)
        );
    }

    /// Run a command in the host's network and mount namespaces.
    pub fn ns(&self, args: &[&str]) -> Output {
        let mut all = vec!["nsenter", "-t", &self.pid, "-n", "-m", "--"];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `docker ARGS` against the host's engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut all = vec!["docker"];
        all.extend_from_slice(args);
        self.ns(&all)
    }

    /// `docker ARGS` against the host's engine, which must succeed: its stdout, trimmed.
    pub fn docker_out(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "{}: docker {args:?}: {}",
            self.name,
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Whether the host's engine is running (started by the harness, not stopped).
    pub fn engine_running(&self) -> bool {
        self.dockerd.is_some()
    }

    /// Stop the host's engine: its containers are removed, then dockerd stops (its data
    /// root, and so its swarm state and images, stay for [`Self::start_engine`]).
    pub fn stop_engine(&mut self) {
        let dockerd = self.dockerd.take().expect("the engine is not running");
        netns::stop_dockerd(&self.pid, dockerd);
    }

    /// Start the host's engine (again) on its data root, and wait until it answers.
    /// An engine that was in a swarm rejoins it by itself.
    pub fn start_engine(&mut self) {
        assert!(self.dockerd.is_none(), "the engine is running");
        if self.engine_runs > 0 {
            // Keep the logs of the earlier run (start_dockerd truncates them).
            for ext in ["log", "err"] {
                let _ = std::fs::rename(
                    self.dir.join(format!("dockerd.{ext}")),
                    self.dir.join(format!("dockerd.{}.{ext}", self.engine_runs)),
                );
            }
        }
        self.engine_runs += 1;
        self.dockerd = Some(netns::start_dockerd(
            &self.pid,
            &self.dir.join("docker"),
            &self.dir,
            &[],
        ));
    }

    /// Kill, by pid, whatever is still in the host's network namespace but its holder.
    fn kill_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name == self.pid || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let ns = std::fs::read_link(entry.path().join("ns/net")).unwrap_or_default();
            if ns.to_string_lossy() == self.netns {
                let _ = run(&["kill", "-9", &name]);
            }
        }
    }
}

impl Drop for ClusterHost {
    fn drop(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        if let Some(dockerd) = self.dockerd.take() {
            netns::stop_dockerd(&self.pid, dockerd);
        }
        self.kill_leftovers();
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
