//! `vpai harden` end to end, with faults injected. Each test host is a network and
//! mount namespace made by the test (`unshare --net --mount`), joined to this one by a
//! veth pair on a private /30 (10.251.N.0/30). In its mount namespace `/etc` (a copy),
//! `/home`, `/run`, `/var/lib` and `/var/log` are bind-mounted from a temp dir, so
//! nothing harden writes (sshd_config, sudoers, passwd, the transactions under
//! /var/lib/vpai) lands in this machine's files — each test asserts it at its end. The
//! real `/usr/sbin/sshd -D` runs inside with its own host key, the real `nft` applies
//! the rule sets in the namespace's network stack, the real `useradd`, `visudo` and
//! `sudo` do the rest.
//!
//! There is no systemd in these namespaces (their `/run` has no `/run/systemd/system`),
//! so the revert armed on the host is the detached `setsid` sleeper, the path these
//! tests exercise; the `systemd-run` timer path is not exercised here.
//!
//! Faults, one per test, each ending with the host reachable again on its original
//! port with its original credentials (root and the test key) within the revert delay
//! plus a margin, the time it took printed: the new port unreachable (a drop rule), an
//! `AllowUsers` without the deploy user, a firewall that denies the SSH port (the port
//! the operator connects to is redirected to another one by NAT), the new sshd killed
//! at the reload. `net.ipv4.ip_forward=0` is not a case: harden changes no sysctl
//! (Docker turns forwarding on; the firewall filters published ports in a forward
//! chain of its own without touching it). The happy path runs a real dockerd in its
//! namespace: a database published on a port harden does not open is unreachable from
//! outside afterwards, 443 still reaches its container, and a container still reaches
//! the database through the host.
//!
//! Skipped loudly when something is missing, unless VPAI_E2E_REQUIRED=1 (then failed).

#[path = "support/netns.rs"]
mod netns;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The revert delay of the tests' stack.toml.
const REVERT_SECS: u64 = 6;
/// What the host may take beyond it: the check's timeouts and the reload.
const MARGIN_SECS: u64 = 8;
const NEW_PORT: u16 = 2222;
/// A database the happy-path host publishes, from this machine's test images.
const DB_IMAGE: &str = "vpai-test/redis:latest";
/// Published by that host and not opened by harden.
const DB_PORT: u16 = 15432;

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

fn skip(why: &str) -> bool {
    if std::env::var("VPAI_E2E_REQUIRED").as_deref() == Ok("1") {
        panic!("end-to-end harden test required but cannot run: {why}");
    }
    eprintln!("\n*** SKIPPED end-to-end harden test: {why} ***\n");
    false
}

fn require() -> bool {
    let uid = String::from_utf8_lossy(&sh(&["id", "-u"]).stdout)
        .trim()
        .to_string();
    if uid != "0" {
        return skip("not root: the test makes network and mount namespaces");
    }
    for path in [
        "/usr/sbin/sshd",
        "/usr/sbin/nft",
        "/usr/sbin/useradd",
        "/usr/sbin/visudo",
    ] {
        if !Path::new(path).exists() {
            return skip(&format!("{path} is missing (run scripts/ssh-test-deps.sh)"));
        }
    }
    if let Some(tool) = netns::missing_tool(&[
        "ssh",
        "ssh-keygen",
        "unshare",
        "nsenter",
        "ip",
        "setsid",
        "ss",
    ]) {
        return skip(&format!(
            "`{tool}` is missing (run scripts/ssh-test-deps.sh)"
        ));
    }
    if !sh(&["unshare", "--net", "--mount", "true"])
        .status
        .success()
    {
        return skip("cannot create network and mount namespaces here");
    }
    true
}

/// This machine's files harden must never touch.
fn machine_state() -> (Option<Vec<u8>>, bool, bool) {
    (
        std::fs::read("/etc/ssh/sshd_config").ok(),
        Path::new("/etc/sudoers.d/vpai-vpai").exists(),
        sh(&["nft", "list", "table", "inet", "vpai"])
            .status
            .success(),
    )
}

struct TestHost {
    n: u8,
    dir: tempfile::TempDir,
    holder: Child,
    sshd: Option<Child>,
    dockerd: Option<Child>,
    veth: String,
    addr: String,
    netns: String,
    machine: (Option<Vec<u8>>, bool, bool),
}

struct Setup<'a> {
    /// Lines added to the host's sshd_config (before the port).
    extra_config: &'a str,
    sshd_port: u16,
    /// An nft rule set loaded in the namespace before harden runs.
    nft: &'a str,
    /// Replace sshd by a wrapper that kills every sshd of the namespace when it is
    /// started on a configuration that listens on the new port.
    kill_new_sshd: bool,
    /// A real dockerd in the namespace (its data under the host's `/var/lib`).
    docker: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            extra_config: "",
            sshd_port: 22,
            nft: "",
            kill_new_sshd: false,
            docker: false,
        }
    }
}

impl TestHost {
    fn start(n: u8, setup: Setup) -> TestHost {
        let machine = machine_state();
        let dir = tempfile::Builder::new()
            .prefix("vpai-harden-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("root");
        let ops = dir.path().join("ops");
        std::fs::create_dir_all(&ops).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        // A copy of /etc (passwd, sudoers, pam, ...), with sshd's files made here.
        assert!(
            sh(&["cp", "-a", "/etc", root.join("etc").to_str().unwrap()])
                .status
                .success()
        );
        let etc_ssh = root.join("etc/ssh");
        for entry in std::fs::read_dir(&etc_ssh).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("ssh_host_") || name == "sshd_config" {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        let dropins = etc_ssh.join("sshd_config.d");
        let _ = std::fs::remove_dir_all(&dropins);
        std::fs::create_dir_all(&dropins).unwrap();
        for d in ["home", "run/sshd", "varlib", "varlog"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        // A host that logs to files (syslog): fail2ban's jail reads auth.log.
        std::fs::write(root.join("varlog/auth.log"), "").unwrap();
        sh(&["chmod", "0755", root.to_str().unwrap()]);
        for d in ["home", "run", "run/sshd", "varlib", "varlog"] {
            sh(&["chmod", "0755", root.join(d).to_str().unwrap()]);
        }
        let keygen = netns::keygen;
        keygen(&etc_ssh.join("ssh_host_ed25519_key"), "vpai-harden-host");
        keygen(&ops.join("id_ed25519"), "vpai-harden-operator");
        let keys = etc_ssh.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::copy(ops.join("id_ed25519.pub"), keys.join("root")).unwrap();
        sh(&["chmod", "0600", keys.join("root").to_str().unwrap()]);
        // Like a cloud image: drop-ins included first, a port set in the main file,
        // cloud-init's drop-in turning passwords on.
        std::fs::write(
            etc_ssh.join("sshd_config"),
            format!(
                "# test host\nInclude /etc/ssh/sshd_config.d/*.conf\n{extra}Port {port}\nHostKey /etc/ssh/ssh_host_ed25519_key\n\
                 AuthorizedKeysFile /etc/ssh/keys/%u .ssh/authorized_keys\nPermitRootLogin prohibit-password\n\
                 UsePAM no\nPidFile /run/sshd.pid\nPrintMotd no\nMaxStartups 50\n",
                extra = setup.extra_config,
                port = setup.sshd_port
            ),
        )
        .unwrap();
        std::fs::write(
            dropins.join("50-cloud-init.conf"),
            "PasswordAuthentication yes\n",
        )
        .unwrap();

        let netns::Holder {
            child: holder,
            pid,
            netns,
        } = netns::hold();
        let veth = format!("vh{}x{n}", std::process::id() % 100_000);
        let peer = format!("vn{}x{n}", std::process::id() % 100_000);
        let addr = netns::link(&pid, &veth, &peer, &format!("10.251.{n}"));
        let mut host = TestHost {
            n,
            dir,
            holder,
            sshd: None,
            dockerd: None,
            veth: veth.clone(),
            addr: addr.clone(),
            netns,
            machine,
        };
        let r = root.display().to_string();
        let mut mounts = format!(
            "mount --bind {r}/etc /etc && mount --bind {r}/home /home && mount --bind {r}/run /run && \
             mount --bind {r}/varlib /var/lib && mount --bind {r}/varlog /var/log"
        );
        if setup.kill_new_sshd {
            std::fs::copy("/usr/sbin/sshd", root.join("sshd.real")).unwrap();
            let wrapper = root.join("sshd-wrapper");
            std::fs::write(
                &wrapper,
                format!(
                    r#"#!/bin/bash
real={r}/sshd.real
listener=yes
for a in "$@"; do case $a in -t|-T|-V|-R|-G) listener=no;; esac; done
if [ $listener = yes ] && "$real" -T 2>/dev/null | grep -qx 'port {NEW_PORT}'; then
  me=$(readlink /proc/self/ns/net)
  for p in /proc/[0-9]*; do
    pid=${{p#/proc/}}
    [ "$pid" = $$ ] && continue
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] || continue
    case $(cat "$p/comm" 2>/dev/null) in sshd*) kill -9 "$pid" 2>/dev/null;; esac
  done
  echo "vpai-test: the new sshd was killed" >&2
  exit 1
fi
exec -a /usr/sbin/sshd "$real" "$@"
"#
                ),
            )
            .unwrap();
            sh(&["chmod", "0755", wrapper.to_str().unwrap()]);
            mounts.push_str(&format!(" && mount --bind {r}/sshd-wrapper /usr/sbin/sshd"));
        }
        let out = host.ns(&["sh", "-c", &mounts]);
        assert!(out.status.success(), "mounts: {}", stderr(&out));
        if !setup.nft.is_empty() {
            let rules = host.dir.path().join("fault.nft");
            std::fs::write(&rules, setup.nft).unwrap();
            let out = host.ns(&["nft", "-f", rules.to_str().unwrap()]);
            assert!(out.status.success(), "fault rules: {}", stderr(&out));
        }
        if setup.docker {
            host.start_docker();
        }
        let sshd = Command::new("nsenter")
            .args(["-t", &pid, "-n", "-m", "--", "/usr/sbin/sshd", "-D", "-E"])
            .arg(host.dir.path().join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("sshd");
        host.sshd = Some(sshd);
        let host_pub = std::fs::read_to_string(etc_ssh.join("ssh_host_ed25519_key.pub")).unwrap();
        let key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let key = key.join(" ");
        std::fs::write(
            ops.join("known_hosts"),
            format!("{addr} {key}\n[{addr}]:{NEW_PORT} {key}\n"),
        )
        .unwrap();
        host.write_stack("root");
        let start = Instant::now();
        while !host.login("root", 22, "true") {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the test host's sshd does not answer: {}",
                std::fs::read_to_string(host.dir.path().join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        host
    }

    /// dockerd in the namespace (its data under the namespace's `/var/lib`), with the
    /// test image loaded.
    fn start_docker(&mut self) {
        let pid = self.holder.id().to_string();
        let data = self.dir.path().join("root/varlib/docker");
        self.dockerd = Some(netns::start_dockerd(
            &pid,
            &data,
            self.dir.path(),
            &[DB_IMAGE],
        ));
    }

    /// Whether a Redis published on `port` of the host answers a PING from here.
    fn redis_answers(&self, port: u16) -> bool {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = format!("{}:{port}", self.addr).parse().unwrap();
        let Ok(mut conn) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(3)));
        let mut buf = [0u8; 7];
        conn.write_all(b"PING\r\n").is_ok()
            && conn.read_exact(&mut buf).is_ok()
            && &buf == b"+PONG\r\n"
    }

    fn ops(&self) -> PathBuf {
        self.dir.path().join("ops")
    }

    fn write_stack(&self, user: &str) {
        std::fs::write(
            self.ops().join("stack.toml"),
            format!(
                "[project]\nname = \"hardentest\"\ndomain = \"example.com\"\n\n\
                 [hosts.box]\naddress = \"{}\"\nuser = \"{user}\"\nssh_port = {NEW_PORT}\nbootstrap_port = 22\n\
                 identity = \"id_ed25519\"\nknown_hosts = \"known_hosts\"\n\n\
                 [hardening]\nrevert_after = \"{REVERT_SECS}s\"\n",
                self.addr
            ),
        )
        .unwrap();
    }

    /// A command in the host's namespaces.
    fn ns(&self, args: &[&str]) -> Output {
        let pid = self.holder.id().to_string();
        let mut all = vec!["nsenter", "-t", &pid, "-n", "-m", "--"];
        all.extend(args);
        sh(&all)
    }

    fn vpai(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let stack = self.ops().join("stack.toml");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpai"));
        cmd.args(args)
            .arg("-f")
            .arg(&stack)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        eprintln!(
            "--- vpai {args:?} (host {}): exit {:?}\n{}{}",
            self.n,
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        out
    }

    /// A fresh login (never multiplexed) that runs `command`.
    fn login(&self, user: &str, port: u16, command: &str) -> bool {
        let ops = self.ops();
        Command::new("ssh")
            .args([
                "-o",
                "ControlMaster=no",
                "-o",
                "ControlPath=none",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "ConnectTimeout=2",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                ops.join("known_hosts").display()
            ))
            .arg("-i")
            .arg(ops.join("id_ed25519"))
            .arg("-p")
            .arg(port.to_string())
            .arg(format!("{user}@{}", self.addr))
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Seconds until root logs in again on port 22 with the test key; panics after
    /// the revert delay plus the margin.
    fn wait_reachable(&self, what: &str, since: Instant) -> f64 {
        let limit = Duration::from_secs(REVERT_SECS + MARGIN_SECS);
        loop {
            if self.login("root", 22, "true") {
                let secs = since.elapsed().as_secs_f64();
                eprintln!(
                    "REVERT-TIME {what}: reachable again on port 22 as root after {secs:.1} s (revert_after {REVERT_SECS} s)"
                );
                return secs;
            }
            assert!(
                since.elapsed() < limit,
                "{what}: the host is not reachable on port 22 as root {} s after the failure\n{}",
                limit.as_secs(),
                self.host_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn host_log(&self) -> String {
        let out = self.ns(&[
            "sh",
            "-c",
            "for f in /var/lib/vpai/harden/*/log /var/lib/vpai/harden/*/revert.log; do [ -f \"$f\" ] && echo \"== $f\" && cat \"$f\"; done",
        ]);
        format!(
            "{}\nsshd.log:\n{}",
            stdout(&out),
            std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
        )
    }

    fn effective(&self) -> String {
        stdout(&self.ns(&["/usr/sbin/sshd", "-T"]))
    }

    /// This machine's sshd_config, sudoers and firewall are as they were.
    fn assert_machine_untouched(&self) {
        assert!(
            self.machine == machine_state(),
            "this machine's /etc/ssh/sshd_config, /etc/sudoers.d or nft ruleset changed"
        );
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        // The containers live in namespaces of their own: removed through the engine,
        // which then stops by itself.
        if let Some(d) = self.dockerd.take() {
            netns::stop_dockerd(&self.holder.id().to_string(), d);
        }
        // Every process of the namespace is one this test started (sshd, its sessions,
        // the revert sleepers): killed by pid.
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if std::fs::read_link(entry.path().join("ns/net"))
                .is_ok_and(|ns| ns.to_string_lossy() == self.netns)
            {
                let _ = sh(&["kill", "-9", &name]);
            }
        }
        if let Some(mut c) = self.sshd.take() {
            let _ = c.wait();
        }
        let _ = self.holder.wait();
        let _ = sh(&["ip", "link", "del", &self.veth]);
    }
}

/// sshd -T prints `prohibit-password` as `without-password` in older versions.
fn root_login_back(effective: &str) -> bool {
    effective.lines().any(|l| {
        l == "permitrootlogin prohibit-password" || l == "permitrootlogin without-password"
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_move_succeeds_and_a_second_run_is_a_no_op() {
    if !require() {
        return;
    }
    if let Some(tool) = netns::missing_tool(&[
        "dockerd",
        "docker",
        "systemd-analyze",
        "fail2ban-client",
        "unattended-upgrade",
        "apt-config",
    ]) {
        skip(&format!(
            "`{tool}` is missing (scripts/test-env.sh, scripts/ssh-test-deps.sh)"
        ));
        return;
    }
    if !sh(&["docker", "image", "inspect", DB_IMAGE])
        .status
        .success()
    {
        skip(&format!(
            "{DB_IMAGE} is missing (scripts/test-env.sh builds it)"
        ));
        return;
    }
    let h = TestHost::start(
        1,
        Setup {
            docker: true,
            ..Setup::default()
        },
    );
    // A database published the way Docker does it (DNAT), on a port harden does not
    // open, and the same server on 443, which it does.
    let run = h.ns(&[
        "docker",
        "run",
        "-d",
        "--name",
        "db",
        "-p",
        &format!("{DB_PORT}:6379"),
        "-p",
        "443:6379",
        DB_IMAGE,
        "redis-server",
        "--protected-mode",
        "no",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let up = Instant::now();
    while !(h.redis_answers(DB_PORT) && h.redis_answers(443)) {
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "the published database does not answer before harden"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // --check: diffs, read-only.
    let out = h.vpai(&["harden", "--check"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("+Port 2222") && text.contains("create the user `vpai`"),
        "{text}"
    );
    assert!(text.contains("+PermitRootLogin no"), "{text}");
    assert!(
        !h.ns(&["id", "vpai"]).status.success(),
        "--check created the user"
    );

    // The operator knows the host on port 22 only: harden records the key for the
    // new port itself, and points stack.toml at the deploy user.
    let known = h.ops().join("known_hosts");
    let first = std::fs::read_to_string(&known).unwrap();
    let first = first.lines().next().unwrap().to_string();
    std::fs::write(&known, format!("{first}\n")).unwrap();
    let out = h.vpai(&["harden", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", h.host_log());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changed"], true);
    assert_eq!(report["ssh_port"], NEW_PORT);
    let key = first
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        format!("{first}\n[{}]:{NEW_PORT} {key}\n", h.addr)
    );
    let stack = std::fs::read_to_string(h.ops().join("stack.toml")).unwrap();
    assert!(stack.contains("user = \"vpai\""), "{stack}");

    let eff = h.effective();
    for want in [
        "permitrootlogin no",
        "passwordauthentication no",
        "port 2222",
    ] {
        assert!(eff.lines().any(|l| l == want), "{want} not in:\n{eff}");
    }
    assert!(!eff.lines().any(|l| l == "port 22"), "{eff}");
    assert!(
        h.login("vpai", NEW_PORT, "sudo -n true"),
        "deploy user on the new port"
    );
    assert!(!h.login("root", NEW_PORT, "true"), "root login is still on");
    assert!(!h.login("vpai", 22, "true"), "the old port is still open");
    let table = stdout(&h.ns(&["nft", "list", "table", "inet", "vpai"]));
    assert!(
        table.contains("policy drop") && table.contains("2222"),
        "{table}"
    );
    assert!(
        !table.contains(" 22,") && !table.contains("{ 22"),
        "{table}"
    );
    // Loaded again at boot: the unit is enabled the way `systemctl enable` does it,
    // and systemd accepts it.
    let etc = h.dir.path().join("root/etc/systemd/system");
    let unit = etc.join("vpai-firewall.service");
    assert!(unit.is_file(), "no boot unit for the firewall");
    assert_eq!(
        std::fs::read_link(etc.join("sysinit.target.wants/vpai-firewall.service")).ok(),
        Some(PathBuf::from("../vpai-firewall.service"))
    );
    let verify = sh(&["systemd-analyze", "verify", unit.to_str().unwrap()]);
    assert!(
        verify.status.success() && stderr(&verify).trim().is_empty(),
        "systemd-analyze verify: {}",
        stderr(&verify)
    );
    // Security updates on, fail2ban's jail on the new port, both checked by their
    // own tools on the host (fail2ban is not started: no systemd here).
    let apt = stdout(&h.ns(&["apt-config", "dump", "APT::Periodic"]));
    assert!(
        apt.contains("APT::Periodic::Unattended-Upgrade \"1\";"),
        "{apt}"
    );
    let jail =
        std::fs::read_to_string(h.dir.path().join("root/etc/fail2ban/jail.d/vpai.local")).unwrap();
    assert!(
        jail.contains("port = 2222\n") && jail.contains("backend = auto\n"),
        "{jail}"
    );
    let f2b = h.ns(&["fail2ban-client", "-t"]);
    assert!(f2b.status.success(), "fail2ban-client -t: {}", stderr(&f2b));
    let steps = report["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "fail2ban" && s["detail"] == "not started: no systemd"),
        "{steps:?}"
    );
    // Docker's published ports obey the firewall too.
    assert!(
        !h.redis_answers(DB_PORT),
        "the published database port is still reachable from outside:\n{table}"
    );
    assert!(
        h.redis_answers(443),
        "the open port 443 no longer reaches its container"
    );
    let inside = h.ns(&[
        "docker",
        "run",
        "--rm",
        DB_IMAGE,
        "redis-cli",
        "-h",
        "172.17.0.1",
        "-p",
        &DB_PORT.to_string(),
        "ping",
    ]);
    assert!(
        stdout(&inside).contains("PONG"),
        "a container no longer reaches a published port through the host: {}",
        stderr(&inside)
    );
    let ak = h.dir.path().join("root/home/vpai/.ssh/authorized_keys");
    let meta = std::fs::metadata(&ak).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.mode() & 0o777, 0o600);

    // As the operator would: the deploy user in stack.toml, then the same command.
    h.write_stack("vpai");
    let out = h.vpai(&["harden"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("nothing changed"), "{}", stderr(&out));
    let out = h.vpai(&["harden", "--check"], &[]);
    assert!(
        stdout(&out).contains("nothing would change"),
        "{}",
        stdout(&out)
    );
    h.assert_machine_untouched();
}

#[test]
fn the_new_port_unreachable_is_reverted_by_the_host_timer() {
    if !require() {
        return;
    }
    // A drop rule for the new port, ahead of everything (a provider's firewall).
    let h = TestHost::start(
        2,
        Setup {
            nft: "table inet fault {\n chain input {\n  type filter hook input priority -10;\n  tcp dport 2222 drop\n }\n}\n",
            ..Setup::default()
        },
    );
    // The controller dies while it checks the new port (a laptop that loses its
    // network): nothing can trigger the revert from here, the host's own timer must.
    let stack = h.ops().join("stack.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpai"))
        .args(["harden", "-f"])
        .arg(&stack)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    for line in lines {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("checking a fresh login") && line.contains("port 2222") {
            break;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let failed = Instant::now();
    eprintln!("--- vpai harden (killed while checking port 2222):\n{seen}");
    assert!(
        seen.contains("revert armed") && status.code().is_none(),
        "vpai was not stopped mid-check: {status:?}\n{seen}"
    );
    assert!(
        !h.login("root", 22, "true"),
        "root login came back before the revert"
    );
    let secs = h.wait_reachable("new port unreachable (host timer)", failed);
    assert!(secs > 1.0, "the timer fired too early");
    assert!(root_login_back(&h.effective()));
    h.assert_machine_untouched();
}

#[test]
fn allow_users_without_the_deploy_user_is_refused_before_any_change() {
    if !require() {
        return;
    }
    let h = TestHost::start(
        3,
        Setup {
            extra_config: "AllowUsers root\n",
            ..Setup::default()
        },
    );
    let out = h.vpai(&["harden"], &[]);
    let failed = Instant::now();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("AllowUsers") && err.contains("/etc/ssh/sshd_config:3"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(
        !h.ns(&["id", "vpai"]).status.success(),
        "the user was created"
    );
    assert!(
        !h.ns(&["nft", "list", "table", "inet", "vpai"])
            .status
            .success()
    );
    h.wait_reachable("AllowUsers without the deploy user (refused)", failed);
    h.assert_machine_untouched();
}

#[test]
fn a_firewall_that_denies_the_ssh_port_is_reverted() {
    if !require() {
        return;
    }
    // sshd really listens on 2200; port 22 reaches it through a NAT redirect, so a
    // rule set that opens "22" denies the connection that arrives on 2200.
    let h = TestHost::start(
        4,
        Setup {
            sshd_port: 2200,
            nft: "table ip fault {\n chain prerouting {\n  type nat hook prerouting priority dstnat;\n  tcp dport 22 redirect to :2200\n }\n}\n",
            ..Setup::default()
        },
    );
    let out = h.vpai(&["harden"], &[]);
    let failed = Instant::now();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("firewall") && err.contains("port 22 failed"),
        "{err}"
    );
    h.wait_reachable("firewall denies the SSH port", failed);
    assert!(
        !h.ns(&["nft", "list", "table", "inet", "vpai"])
            .status
            .success(),
        "the firewall was not reverted"
    );
    h.assert_machine_untouched();
}

#[test]
fn the_new_sshd_killed_mid_move_is_reverted() {
    if !require() {
        return;
    }
    // The wrapper kills every sshd of the namespace (the old connection too) when sshd
    // starts again on the configuration with the new port.
    let h = TestHost::start(
        5,
        Setup {
            kill_new_sshd: true,
            ..Setup::default()
        },
    );
    let out = h.vpai(&["harden"], &[]);
    let failed = Instant::now();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("sshd"), "{err}");
    h.wait_reachable("new sshd killed mid-move", failed);
    assert!(root_login_back(&h.effective()));
    h.assert_machine_untouched();
}
