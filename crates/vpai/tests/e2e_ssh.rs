//! End to end over real SSH: each test starts its own `sshd` (Debian's openssh-server)
//! on 127.0.0.1 on a free port, with a host key, a client key and a known_hosts file it
//! generates, and deploys to it with the real Docker engine of this machine (the "remote"
//! is this machine seen through sshd). The stack is made of small custom services on the
//! locally built `vpai-test/base` image (scripts/test-env.sh), so these tests exercise
//! the transport, releases, locks and rollback rather than the catalog.
//!
//! Skipped loudly when sshd or the image is missing, unless VPAI_E2E_REQUIRED=1 (set by
//! .ci/run; `scripts/ssh-test-deps.sh` installs openssh-server).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const IMAGE: &str = "vpai-test/base:trixie";

/// Docker-heavy tests run one at a time (2 cores; one engine).
static DOCKER: Mutex<()> = Mutex::new(());

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

fn skip(why: &str) -> bool {
    if std::env::var("VPAI_E2E_REQUIRED").as_deref() == Ok("1") {
        panic!("end-to-end SSH test required but cannot run: {why}");
    }
    eprintln!("\n*** SKIPPED end-to-end SSH test: {why} ***\n");
    false
}

fn require_sshd() -> bool {
    if !Path::new("/usr/sbin/sshd").exists() {
        return skip("/usr/sbin/sshd is missing (run scripts/ssh-test-deps.sh)");
    }
    for tool in ["ssh", "ssh-keygen", "ssh-keyscan", "flock"] {
        if Command::new(tool).arg("-V").output().is_err()
            && Command::new("which")
                .arg(tool)
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        {
            return skip(&format!(
                "`{tool}` is missing (run scripts/ssh-test-deps.sh)"
            ));
        }
    }
    if unsafe_geteuid() != 0 {
        return skip("not root: the test sshd logs in as root");
    }
    true
}

fn require_docker() -> bool {
    if !require_sshd() {
        return false;
    }
    if !sh(&["docker", "version"]).status.success() {
        return skip("the Docker daemon does not answer");
    }
    if !sh(&["docker", "compose", "version"]).status.success() {
        return skip("Docker Compose v2 is missing");
    }
    if !sh(&["docker", "image", "inspect", IMAGE]).status.success() {
        return skip(&format!(
            "test image {IMAGE} is missing (run scripts/test-env.sh)"
        ));
    }
    true
}

fn unsafe_geteuid() -> u32 {
    let out = sh(&["id", "-u"]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(1)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An sshd of our own, stopped on drop.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Sshd {
    fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        for (file, comment) in [
            ("host_key", "vpai-test-host"),
            ("id_ed25519", "vpai-test-client"),
        ] {
            let st = sh(&[
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                comment,
                "-f",
                d.join(file).to_str().unwrap(),
            ]);
            assert!(st.status.success());
        }
        let pubkey = std::fs::read_to_string(d.join("id_ed25519.pub")).unwrap();
        std::fs::write(
            d.join("authorized_keys"),
            format!("from=\"127.0.0.1\" {pubkey}"),
        )
        .unwrap();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", key.join(" ")),
        )
        .unwrap();
        std::fs::write(d.join("empty_known_hosts"), "").unwrap();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile none\nAuthorizedKeysFile {ak}\n\
                 PermitRootLogin prohibit-password\nAllowUsers root@127.0.0.1 vpai-deploy@127.0.0.1 vpai-nopass@127.0.0.1\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nX11Forwarding no\n\
                 PrintMotd no\nStrictModes no\nMaxSessions 50\nMaxStartups 50\nLogLevel DEBUG1\n\
                 # root's ~/.bashrc on CI machines may run slow init; a stock server has none.\nSetEnv SHLVL=1\n",
                hk = d.join("host_key").display(),
                ak = d.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        // The privilege separation directory sshd insists on.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-f"])
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start sshd");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { dir, port, child }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// How many commands sshd ran so far (each exec request on a channel).
    fn exec_count(&self) -> usize {
        std::fs::read_to_string(self.path("sshd.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("request exec"))
            .count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Its connections first (each is a child process of this sshd): the master
        // connections of vpai runs the tests killed would otherwise linger for a minute.
        let me = self.child.id().to_string();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid == Some(me.as_str()) {
                let _ = sh(&["kill", &entry.file_name().to_string_lossy()]);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A project directory with stack.toml, a custom catalog, and a root for the files.
struct Project {
    dir: tempfile::TempDir,
    name: String,
    sshd_port: u16,
    known_hosts: PathBuf,
    identity: PathBuf,
}

const STORE: &str = r#"name = "store"
description = "an infra service"
phase = "infra"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "true"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
init = true
command = ["sh", "-c", "echo store: up; exec sleep infinity"]
[healthcheck]
test = ["CMD", "true"]
interval = "1s"
start_period = "0s"
[[volumes]]
source = "data/store"
target = "/data"
[[backup]]
name = "data"
description = "the store's data directory"
volume = "data/store"
[backup.restore]
volume = "data/store"
"#;

/// Healthy unless its environment says MODE=broken; SLOW=n makes it take n seconds.
/// Prints its secret `app_token` when it has one (see [`APP_TOKEN`]).
const APP: &str = r#"name = "app"
description = "an app"
phase = "apps"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "true"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
init = true
command = ["sh", "-c", "sleep $${SLOW:-0}; touch /tmp/ready; echo app: token $${APP_TOKEN}; echo app: ready MODE=$${MODE}; exec sleep infinity"]
[healthcheck]
test = ["CMD-SHELL", "test -f /tmp/ready && test \"$$MODE\" != broken"]
interval = "1s"
retries = 8
start_period = "0s"
"#;

/// What the deploy test adds to `app`: a secret in its environment, which it prints.
/// (Only there: opening a vault costs a second in a debug build, and the kill -9 test
/// aims at moments of the deploy.)
const APP_TOKEN: &str = r#"[env]
APP_TOKEN = "{{ secrets.app_token }}"
[[secrets]]
name = "app_token"
format = "hex"
length = 32
rotate = "quarterly"
[[probes]]
name = "token"
description = "the vault's token reaches the probe through its environment and matches the app's"
command = ["sh", "-c", 'test "$PROBE_TOKEN" = "$APP_TOKEN" && echo same-token']
env = { PROBE_TOKEN = "{{ secrets.app_token }}" }
expect = "same-token"
[[probes]]
name = "root"
description = "a probe on the host runs in the project root"
in = "host"
command = ["sh", "-c", "test -f docker-compose.yml && echo in-root"]
expect = "in-root"
"#;

impl Project {
    fn new(sshd: &Sshd, name: &str, subnet: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
        std::fs::write(dir.path().join("catalog/store.toml"), STORE).unwrap();
        std::fs::write(dir.path().join("catalog/app.toml"), APP).unwrap();
        let p = Project {
            dir,
            name: name.to_string(),
            sshd_port: sshd.port,
            known_hosts: sshd.path("known_hosts"),
            identity: sshd.path("id_ed25519"),
        };
        p.write_stack(subnet, "MODE = \"ok\"", "");
        p
    }

    fn write_stack(&self, subnet: &str, app_env: &str, host_extra: &str) {
        let text = format!(
            "[project]\nname = \"{name}\"\ndomain = \"localhost\"\nservices = [\"store\", \"app\"]\ntls = \"internal\"\nsubnet = \"{subnet}\"\n\n\
             [services.app]\nenv = {{ {app_env} }}\n\n\
             [images]\nstore = \"{IMAGE}\"\napp = \"{IMAGE}\"\n\n\
             [backup]\nrepository = \"{repo}\"\nschedule = \"off\"\n\n\
             [hosts.box]\naddress = \"127.0.0.1\"\nuser = \"root\"\nssh_port = {port}\nidentity = \"{id}\"\nknown_hosts = \"{kh}\"\n{host_extra}\n",
            name = self.name,
            repo = self.dir.path().join("restic").display(),
            port = self.sshd_port,
            id = self.identity.display(),
            kh = self.known_hosts.display(),
        );
        std::fs::write(self.dir.path().join("stack.toml"), text).unwrap();
    }

    fn set_app_env(&self, subnet: &str, env: &str) {
        self.write_stack(subnet, env, "");
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpai"));
        // `--root` before a `--` (what follows it is `vpai exec`'s command).
        let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        cmd.current_dir(self.dir.path())
            .env("XDG_STATE_HOME", self.dir.path().join(".state"))
            .args(&args[..split])
            .arg("--root")
            .arg(self.root())
            .args(&args[split..])
            .env("NO_COLOR", "1")
            .env("VPAI_VAULT_PASSWORD", "e2e-ssh-test-passphrase");
        cmd
    }

    fn vpai(&self, args: &[&str]) -> Output {
        let start = Instant::now();
        let out = self.command(args).output().unwrap();
        eprintln!(
            "vpai {args:?}: exit {:?} in {:.2}s\n--- stderr ---\n{}",
            out.status.code(),
            start.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn container(&self, svc: &str) -> (String, String) {
        let name = format!("{}_{svc}", self.name);
        let out = sh(&[
            "docker",
            "inspect",
            "-f",
            "{{.Id}} {{index .Config.Labels \"io.vpai.inputs\"}}",
            &name,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (id, inputs) = text.split_once(' ').unwrap_or((&text, ""));
        (id.to_string(), inputs.to_string())
    }

    fn health(&self, svc: &str) -> String {
        let out = sh(&[
            "docker",
            "inspect",
            "-f",
            "{{.State.Health.Status}}",
            &format!("{}_{svc}", self.name),
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// sha256 of every managed file under the root (data, logs and releases excluded).
    fn files(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for f in walk(&self.root()) {
            let rel = f.strip_prefix(self.root()).unwrap().display().to_string();
            // Data, logs, releases and the backup engine's own state are not deployed files.
            if ["data/", "logs/", "releases/", ".vpai/backup/"]
                .iter()
                .any(|p| rel.starts_with(p))
            {
                continue;
            }
            let sum = sh(&["sha256sum", f.to_str().unwrap()]);
            if !sum.status.success() && !f.exists() {
                // Gone since the walk: a temporary file of a run still finishing on the
                // host (after a kill -9), not a live file.
                continue;
            }
            out.insert(rel, String::from_utf8_lossy(&sum.stdout)[..64].to_string());
        }
        out
    }

    /// The mode of every deployed file (same paths as `files`).
    fn modes(&self) -> BTreeMap<String, u32> {
        use std::os::unix::fs::PermissionsExt;
        self.files()
            .into_keys()
            .filter_map(|rel| {
                let meta = std::fs::symlink_metadata(self.root().join(&rel)).ok()?;
                Some((rel, meta.permissions().mode() & 0o7777))
            })
            .collect()
    }

    /// The host's deploy lock file of this project (the host is this machine).
    fn lock_path(&self) -> String {
        if Path::new("/run/lock").is_dir() {
            format!("/run/lock/vpai-{}.lock", self.name)
        } else {
            format!("/tmp/vpai-{}.lock", self.name)
        }
    }

    fn releases(&self) -> Vec<String> {
        let mut r: Vec<String> = std::fs::read_dir(self.root().join("releases"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| n.starts_with(|c: char| c.is_ascii_digit()))
                    .collect()
            })
            .unwrap_or_default();
        r.sort();
        r
    }

    fn teardown(&self) {
        for file in ["docker-compose.yml", "docker-compose-infra.yml"] {
            let f = self.root().join(file);
            if f.exists() {
                let _ = sh(&[
                    "docker",
                    "compose",
                    "-f",
                    f.to_str().unwrap(),
                    "down",
                    "-t",
                    "1",
                ]);
            }
        }
        let ids = sh(&[
            "docker",
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.vpai.project={}", self.name),
        ]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = sh(&["docker", "rm", "-f", id]);
        }
        for net in ["frontend", "backend", "egress", "monitoring"] {
            let _ = sh(&["docker", "network", "rm", &format!("{}_{net}", self.name)]);
        }
        let _ = std::fs::remove_dir_all(self.root());
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.teardown();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A secret's value, as the vault holds it.
fn secret(project: &Project, name: &str) -> String {
    let out = project.vpai(&["secrets", "show", name, "--stdout"]);
    assert!(out.status.success(), "secrets show {name}");
    stdout(&out).trim().to_string()
}

/// The day-2 commands over SSH on a deployed `store` + `app`: logs (both phases, and
/// followed live), exec (exit code and output), restart (a recreate, health-gated, the
/// other service untouched), doctor on the host, backup and restore.
fn day_2_operations_over_ssh(sshd: &Sshd, project: &Project) {
    // The smoke probes over SSH: one in the app's container (its env secret travels on
    // stdin and `docker exec -e NAME`, never argv), one on the host in the project root.
    let out = project.vpai(&["verify", "--host", "box", "--json"]);
    assert!(out.status.success(), "verify over SSH failed");
    let outcomes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let passed: Vec<&str> = outcomes
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "passed")
        .map(|o| o["probe"].as_str().unwrap())
        .collect();
    assert_eq!(passed, ["token", "root"], "{outcomes}");
    // Logs of a phase B service: the line the app printed, without a prefix.
    let out = project.vpai(&["logs", "--host", "box", "app"]);
    assert!(out.status.success(), "logs failed");
    assert!(
        stdout(&out).lines().any(|l| l == "app: ready MODE=ok"),
        "{}",
        stdout(&out)
    );
    // Both phases in one command (two compose files, two projects), prefixed.
    let out = project.vpai(&["logs", "--host", "box", "--tail", "5", "store", "app"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("{}_store", project.name)) && l.ends_with("store: up")),
        "{text}"
    );
    assert!(text.contains("app: ready MODE=ok"), "{text}");
    // The secret the app printed is masked.
    let token = secret(project, "app_token");
    assert!(token.len() >= 32);
    assert!(!text.contains(&token), "a secret in the logs: {text}");
    assert!(text.contains("app: token ********"), "{text}");

    // exec: the remote command's stdout and exit code, stdin not a terminal (no TTY).
    let out = project.vpai(&[
        "exec",
        "--host",
        "box",
        "-T",
        "app",
        "--",
        "sh",
        "-c",
        "echo hi; exit 3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit code of the remote command"
    );
    assert_eq!(stdout(&out), "hi\n");
    let out = project.vpai(&[
        "exec",
        "app",
        "--",
        "sh",
        "-c",
        "test ! -t 0 && echo no-tty",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "no-tty\n");

    // On a terminal (script(1) gives vpai one), the command gets a TTY on the host
    // (`ssh -t`, compose exec with a TTY), and its exit code still comes back.
    if Path::new("/usr/bin/script").exists() {
        let line = format!(
            "{} exec --root {} app -- sh -c 'test -t 0 && test -t 1 && echo tty-on-host; exit 4'",
            env!("CARGO_BIN_EXE_vpai"),
            project.root().display()
        );
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .current_dir(project.dir.path())
            .env("XDG_STATE_HOME", project.dir.path().join(".state"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", stdout(&out));
        assert!(stdout(&out).contains("tty-on-host"), "{}", stdout(&out));
    }

    // logs -f: the last line, then a line printed after it started, live.
    let mut follow = project
        .command(&["logs", "-f", "--tail", "1", "app"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = BufReader::new(follow.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("logs -f: no {what} within 30s"))
    };
    assert_eq!(next("first line"), "app: ready MODE=ok");
    let out = project.vpai(&[
        "exec",
        "-T",
        "app",
        "--",
        "sh",
        "-c",
        "echo followed-live > /proc/1/fd/1",
    ]);
    assert!(out.status.success());
    assert_eq!(next("live line"), "followed-live");
    assert!(
        follow.try_wait().unwrap().is_none(),
        "logs -f ended by itself"
    );
    let _ = sh(&["kill", &follow.id().to_string()]);
    let _ = follow.wait();

    // restart: a recreate through compose, health-gated; store is not touched.
    let (store_before, app_before) = (project.container("store"), project.container("app"));
    let out = project.vpai(&["restart", "--host", "box", "--json", "app"]);
    assert!(out.status.success(), "restart failed");
    let statuses: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(statuses[0]["service"], "app");
    assert_eq!(statuses[0]["health"], "healthy");
    assert_ne!(
        project.container("app").0,
        app_before.0,
        "app must be recreated"
    );
    assert_eq!(project.container("app").1, app_before.1, "same inputs");
    assert_eq!(project.health("app"), "healthy");
    assert_eq!(project.container("store"), store_before, "store untouched");

    // An unknown service names the known ones before any connection.
    let before = sshd.exec_count();
    let out = project.vpai(&["restart", "ap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `app`?"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sshd.exec_count(), before);

    // doctor on the host: reads the app's logs there (over sshd), nothing known wrong.
    let before = sshd.exec_count();
    let out = project.vpai(&["doctor", "--host", "box", "app", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["service"], "app");
    assert_eq!(report[0]["diagnoses"].as_array().map(Vec::len), Some(0));
    assert!(
        sshd.exec_count() > before,
        "doctor --host must read through ssh"
    );

    // A backup over SSH (restic runs on the host), then the store's data destroyed and
    // restored from it, the replaced directory kept beside it.
    let data = project.root().join("data/store");
    std::fs::write(data.join("precious.txt"), "kept by the backup\n").unwrap();
    let out = project.vpai(&["backup", "--host", "box", "--json"]);
    assert!(out.status.success(), "backup over SSH failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["captures"][0]["id"], "store-data", "{report}");
    let out = project.vpai(&["backup", "--host", "box", "--list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    std::fs::remove_file(data.join("precious.txt")).unwrap();
    let out = project.vpai(&["restore", "--host", "box", "--service", "store", "--json"]);
    assert!(out.status.success(), "restore over SSH failed");
    assert_eq!(
        std::fs::read_to_string(data.join("precious.txt")).unwrap(),
        "kept by the backup\n"
    );
    let restored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = restored["restored"][0]["kept"].as_str().unwrap();
    assert!(kept.starts_with("store.vpai-replaced-"), "{restored}");
    assert!(project.root().join("data").join(kept).is_dir());
    assert_eq!(project.health("store"), "healthy");
    let out = project.vpai(&["restore", "--host", "box", "--drill", "--json"]);
    assert!(out.status.success(), "drill over SSH failed");
    let drill: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(drill["captures"][0]["result"], "archive-ok", "{drill}");
}

/// `vpai rotate` over SSH, under the host's deploy lock: a new value, exactly its user
/// (app) recreated and healthy, store untouched; the new value is masked in the logs.
fn rotate_over_ssh(project: &Project) {
    let token = secret(project, "app_token");
    let store_before = project.container("store");
    let app_before = project.container("app");
    let out = project.vpai(&["rotate", "--host", "box", "app_token", "--timeout", "60"]);
    assert!(out.status.success(), "rotate over SSH failed");
    let rotated = secret(project, "app_token");
    assert_ne!(rotated, token);
    assert_ne!(
        project.container("app").0,
        app_before.0,
        "app must be recreated"
    );
    assert_eq!(project.health("app"), "healthy");
    assert_eq!(project.container("store"), store_before, "store untouched");
    let out = project.vpai(&["logs", "app"]);
    assert!(!stdout(&out).contains(&rotated) && !stdout(&out).contains(&token));
    assert!(
        stdout(&out).contains("app: token ********"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unknown_host_key_is_refused_with_its_fingerprint() {
    if !require_sshd() {
        return;
    }
    let sshd = Sshd::start();
    let mut project = Project::new(&sshd, "sshkey", "10.241.0.0/16");
    project.known_hosts = sshd.path("empty_known_hosts");
    project.write_stack("10.241.0.0/16", "MODE = \"ok\"", "");
    let out = project.vpai(&["plan", "--host", "box"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("is not known: refusing to connect"), "{err}");
    // The fingerprint of the server's real key, to compare out of band.
    let fp = sh(&[
        "ssh-keygen",
        "-lf",
        sshd.path("host_key.pub").to_str().unwrap(),
    ]);
    let fp = String::from_utf8_lossy(&fp.stdout);
    let sha = fp.split_whitespace().nth(1).unwrap();
    assert!(err.contains(sha), "fingerprint {sha} not shown:\n{err}");
    assert!(!project.root().exists(), "nothing may be written");

    // A key recorded for this address that is not the server's (a reinstalled server,
    // or someone in the middle): refused as changed, for a plan as for an `up`.
    let other = sshd.path("other_host_key");
    let st = sh(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        other.to_str().unwrap(),
    ]);
    assert!(st.status.success());
    let other_pub = std::fs::read_to_string(sshd.path("other_host_key.pub")).unwrap();
    let other_key: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    let changed = sshd.path("changed_known_hosts");
    std::fs::write(
        &changed,
        format!("[127.0.0.1]:{} {}\n", sshd.port, other_key.join(" ")),
    )
    .unwrap();
    project.known_hosts = changed;
    project.write_stack("10.241.0.0/16", "MODE = \"ok\"", "");
    for command in [&["plan", "--host", "box"][..], &["up", "--host", "box"][..]] {
        let before = sshd.exec_count();
        let out = project.vpai(command);
        assert_ne!(out.status.code(), Some(0), "{command:?} went on");
        let err = stderr(&out);
        assert!(
            err.contains("CHANGED since it was recorded"),
            "{command:?}: {err}"
        );
        assert!(
            err.contains(sha),
            "{command:?}: the server's fingerprint is not shown:\n{err}"
        );
        assert_eq!(
            sshd.exec_count(),
            before,
            "{command:?} ran a command on the host"
        );
        assert!(!project.root().exists(), "nothing may be written");
    }
}

/// A deploy user that is not root (as a hardened host has) deploys through `sudo -n`;
/// one whose sudo asks for a password is refused with the fix, before anything is
/// written (never a password prompt in the middle of a deploy). The users come from
/// scripts/ssh-test-deps.sh.
#[test]
fn a_deploy_user_that_is_not_root_goes_through_sudo_n() {
    if !require_docker() {
        return;
    }
    for user in ["vpai-deploy", "vpai-nopass"] {
        if !sh(&["id", "-u", user]).status.success() {
            skip(&format!(
                "user {user} is missing (run scripts/ssh-test-deps.sh)"
            ));
            return;
        }
    }
    let _serial = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    let sshd = Sshd::start();
    let project = Project::new(&sshd, "sshsudo", "10.247.0.0/16");
    let as_user = |user: &str| {
        let stack = std::fs::read_to_string(project.dir.path().join("stack.toml")).unwrap();
        let stack = stack
            .lines()
            .map(|l| {
                if l.starts_with("user = ") {
                    format!("user = \"{user}\"")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(project.dir.path().join("stack.toml"), stack + "\n").unwrap();
    };

    as_user("vpai-nopass");
    let out = project.vpai(&["up", "--timeout", "60"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`sudo -n` needs a password"),
        "{}",
        stderr(&out)
    );
    assert!(!project.root().exists(), "nothing may be written");

    as_user("vpai-deploy");
    let out = project.vpai(&["up", "--timeout", "120"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(project.health("app"), "healthy");
    let log = std::fs::read_to_string(sshd.path("sshd.log")).unwrap();
    assert!(log.contains("Accepted publickey for vpai-deploy"), "{log}");
    // The files are root's, with vpai's modes, as when it logs in as root.
    use std::os::unix::fs::MetadataExt;
    let compose = std::fs::metadata(project.root().join("docker-compose.yml")).unwrap();
    assert_eq!(compose.uid(), 0);
    let out = project.vpai(&["up"]);
    assert!(
        stderr(&out).contains("nothing to change"),
        "{}",
        stderr(&out)
    );
    let out = project.vpai(&["down", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn plan_is_read_only_and_bootstrap_port_is_used_until_hardened() {
    if !require_sshd() {
        return;
    }
    let sshd = Sshd::start();
    let project = Project::new(&sshd, "sshplan", "10.242.0.0/16");
    // The hardened port does not answer yet: the bootstrap port is used, and said.
    let closed = free_port();
    let stack = std::fs::read_to_string(project.dir.path().join("stack.toml")).unwrap();
    std::fs::write(
        project.dir.path().join("stack.toml"),
        stack.replace(
            &format!("ssh_port = {}", sshd.port),
            &format!("ssh_port = {closed}\nbootstrap_port = {}", sshd.port),
        ),
    )
    .unwrap();
    let before = sshd.exec_count();
    let out = project.vpai(&["plan"]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("using bootstrap_port {}", sshd.port)),
        "{err}"
    );
    // The plan is data: stdout; progress (the bootstrap port) stays on stderr.
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("create docker-compose.yml"), "{plan}");
    assert!(plan.contains("+ app (create)"), "{plan}");
    // One command read the whole host state; nothing was written.
    assert_eq!(sshd.exec_count() - before, 1, "remote commands of a plan");
    assert!(!project.root().exists());
    // JSON for scripts.
    let out = project.vpai(&["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["files"][0]["action"], "create");
    // Preflight: one read-only command, every check named.
    let before = sshd.exec_count();
    let out = project.vpai(&["preflight", "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for check in ["os", "memory", "disk", "docker", "clock"] {
        assert!(names.contains(&check), "{check} missing from {names:?}");
    }
    assert_eq!(
        sshd.exec_count() - before,
        1,
        "remote commands of a preflight"
    );
    assert!(!project.root().exists());
}

#[test]
fn deploy_noop_targeted_recreate_rollback_and_lock() {
    if !require_docker() {
        return;
    }
    let _serial = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    let sshd = Sshd::start();
    let subnet = "10.243.0.0/16";
    let project = Project::new(&sshd, "sshdeploy", subnet);
    // app gets a secret, and prints it (what a careless service does): vpai must mask it.
    std::fs::write(
        project.dir.path().join("catalog/app.toml"),
        format!("{APP}{APP_TOKEN}"),
    )
    .unwrap();

    // First deploy over SSH.
    let out = project.vpai(&["up", "--host", "box", "--timeout", "120"]);
    assert!(out.status.success(), "first deploy failed");
    assert_eq!(project.health("store"), "healthy");
    assert_eq!(project.health("app"), "healthy");
    let files_v1 = project.files();
    assert!(files_v1.contains_key("docker-compose.yml") && files_v1.contains_key("env/app.env"));
    let mode = std::fs::metadata(project.root().join("env/app.env")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    assert_eq!(project.releases().len(), 1);

    day_2_operations_over_ssh(&sshd, &project);

    // No-op: one command (lock + state + containers), nothing written or recreated.
    let ids = (project.container("store"), project.container("app"));
    let before = sshd.exec_count();
    let t = Instant::now();
    let out = project.vpai(&["up"]);
    let noop = t.elapsed();
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("nothing to change"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sshd.exec_count() - before, 1, "remote commands of a no-op");
    assert_eq!((project.container("store"), project.container("app")), ids);
    assert_eq!(project.files(), files_v1);
    assert_eq!(project.releases().len(), 1);
    eprintln!("SSH no-op: {:.3}s", noop.as_secs_f64());

    // One changed config: only that service is recreated; a new release is kept.
    project.set_app_env(subnet, "MODE = \"ok\", COLOR = \"blue\"");
    let out = project.vpai(&["plan"]);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("update env/app.env"), "{plan}");
    // A setting is shown in the env file's diff; secrets would be masked.
    assert!(plan.contains("+COLOR='blue'"), "{plan}");
    let out = project.vpai(&["up", "--timeout", "120"]);
    assert!(out.status.success());
    assert_eq!(
        project.container("store"),
        ids.0,
        "store must not be recreated"
    );
    assert_ne!(project.container("app").0, ids.1.0, "app must be recreated");
    let files_v2 = project.files();
    let app_v2 = project.container("app");
    assert_eq!(project.releases().len(), 2);

    // A link planted in the tree on the host (`env -> a shared directory`) is refused,
    // naming it: no secret lands in its target, nothing is recreated.
    let victim = project.dir.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let env = project.root().join("env");
    std::fs::rename(&env, project.root().join("env.real")).unwrap();
    std::os::unix::fs::symlink(&victim, &env).unwrap();
    project.set_app_env(subnet, "MODE = \"ok\", COLOR = \"green\"");
    let out = project.vpai(&["up", "--timeout", "60"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("symbolic link") && err.contains("/env"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing written through the link"
    );
    assert_eq!(project.container("app"), app_v2);
    std::fs::remove_file(&env).unwrap();
    std::fs::rename(project.root().join("env.real"), &env).unwrap();
    project.set_app_env(subnet, "MODE = \"ok\", COLOR = \"blue\"");
    assert_eq!(project.files(), files_v2);

    // A phase that does not become healthy: automatic rollback to v2.
    project.set_app_env(subnet, "MODE = \"broken\"");
    let out = project.vpai(&["up", "--timeout", "60"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("service `app`"), "{err}");
    assert!(err.contains("rolled back to release"), "{err}");
    assert_eq!(project.files(), files_v2, "files are back as before");
    let app_after = project.container("app");
    assert_eq!(app_after.1, app_v2.1, "app runs the previous inputs again");
    assert_eq!(project.health("app"), "healthy");
    assert_eq!(
        project.container("store"),
        ids.0,
        "store untouched by the failure"
    );

    // --no-rollback keeps the failed state; `vpai rollback` then puts v2 back.
    let out = project.vpai(&["up", "--timeout", "60", "--no-rollback"]);
    assert_eq!(out.status.code(), Some(1));
    assert_ne!(project.files(), files_v2);
    let out = project.vpai(&["rollback", "--list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("(current)"));
    let out = project.vpai(&["rollback", "--timeout", "60"]);
    assert!(out.status.success(), "rollback failed");
    assert_eq!(project.files(), files_v2);
    assert_eq!(project.health("app"), "healthy");
    assert_eq!(project.container("store"), ids.0);

    // An image that is neither on the host nor pullable fails the deploy before anything
    // is written: no file, no release, no container changes.
    let releases_before = project.releases();
    let files_before = project.files();
    let app_before = project.container("app");
    project.set_app_env(subnet, "MODE = \"ok\", COLOR = \"red\"");
    let stack_file = project.dir.path().join("stack.toml");
    let text = std::fs::read_to_string(&stack_file).unwrap();
    std::fs::write(
        &stack_file,
        text.replace(
            &format!("app = \"{IMAGE}\""),
            "app = \"vpai-test/not-built-here:1\"",
        ),
    )
    .unwrap();
    let out = project.vpai(&["up", "--timeout", "60"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("`vpai-test/not-built-here:1` (service `app`) is not on `box`"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(project.releases(), releases_before);
    assert_eq!(project.files(), files_before);
    assert_eq!(project.container("app"), app_before);

    // A second deploy while one runs is refused, naming the holder.
    let token = secret(&project, "app_token");
    // Slow enough for two refused commands (each opens the vault) while it runs.
    project.set_app_env(subnet, "MODE = \"ok\", SLOW = \"8\"");
    let mut first = project
        .command(&["up", "--timeout", "60"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Where the host keeps deploy locks: /run/lock, or /tmp where there is none.
    let lock = project.lock_path();
    wait_for_lock(&lock, Duration::from_secs(20), "the first deploy");
    let second = project.vpai(&["up", "--timeout", "60"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("another deploy holds the lock"),
        "{}",
        stderr(&second)
    );
    // A rotation waits for no one either: refused, and the value stays.
    let rotate = project.vpai(&["rotate", "app_token"]);
    assert_eq!(rotate.status.code(), Some(1));
    assert!(
        stderr(&rotate).contains("another deploy holds the lock"),
        "{}",
        stderr(&rotate)
    );
    let mut first_err = String::new();
    for line in BufReader::new(first.stderr.take().unwrap()).lines() {
        first_err.push_str(&line.unwrap());
        first_err.push('\n');
    }
    assert!(first.wait().unwrap().success(), "{first_err}");
    assert_eq!(
        secret(&project, "app_token"),
        token,
        "a refused rotation keeps the value"
    );

    rotate_over_ssh(&project);
    assert!(
        std::fs::read_to_string(&lock)
            .unwrap_or_default()
            .trim()
            .is_empty()
    );
}

#[test]
fn kill_9_during_apply_then_up_converges() {
    if !require_docker() {
        return;
    }
    let _serial = DOCKER.lock().unwrap_or_else(|e| e.into_inner());
    let sshd = Sshd::start();
    let subnet = "10.244.0.0/16";
    let project = Project::new(&sshd, "sshkill", subnet);
    let out = project.vpai(&["up", "--timeout", "120"]);
    assert!(out.status.success());
    let mut known: Vec<BTreeMap<String, String>> = vec![project.files()];
    // Each round changes one value in one env file: no file may vanish or change mode.
    let first_modes = project.modes();
    let mut reported = false;

    // Kill vpai at several points of an apply: during the upload/install, during
    // `compose up`, during the health gate. The points are counted from the moment
    // the run holds the host's lock, not from its start (which a loaded machine
    // stretches): every kill lands inside a deploy.
    let lock = project.lock_path();
    // (After a converged `up` the lock file is empty: `state=running` is this round's.)
    for (i, delay_ms) in [0u64, 100, 300, 700, 1500].iter().enumerate() {
        project.set_app_env(subnet, &format!("MODE = \"ok\", ROUND = \"{i}\""));
        let mut child = project
            .command(&["up", "--timeout", "60"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_lock(
            &lock,
            Duration::from_secs(60),
            &format!("round {i}: the deploy"),
        );
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = sh(&["kill", "-9", &child.id().to_string()]);
        let _ = child.wait();
        // Every live file is a whole version: the old one or the new one, never torn.
        let now = project.files();
        for (path, sum) in &now {
            if path.starts_with(".vpai-incoming/") {
                continue; // staging area, not a live file
            }
            assert!(
                !path.contains("/.vpai-") && !path.starts_with(".vpai-"),
                "temporary file left in the live tree: {path}"
            );
            let seen = known.iter().any(|k| k.get(path) == Some(sum));
            let rendered_now = render_sum(&project, path);
            assert!(
                seen || rendered_now.as_deref() == Some(sum.as_str()),
                "round {i}: {path} is neither a previous nor the new version"
            );
        }
        // Deployed files (vpai's own state under `.vpai*` comes and goes with a run).
        let deployed = |p: &String| !p.starts_with(".vpai");
        for path in known[0].keys().filter(|p| deployed(p)) {
            assert!(now.contains_key(path), "round {i}: {path} was deleted");
        }
        let modes = project.modes();
        for (path, mode) in first_modes.iter().filter(|(p, _)| deployed(p)) {
            assert_eq!(
                modes.get(path),
                Some(mode),
                "round {i}: the mode of {path} changed"
            );
        }
        // A new `vpai up` converges (it may wait for the killed run's commands), and
        // says so when the killed run held the lock.
        let out = project.vpai(&["up", "--timeout", "120"]);
        assert!(out.status.success(), "round {i}: up after kill -9 failed");
        reported |= stderr(&out).contains("did not finish");
        assert_eq!(project.health("app"), "healthy");
        let out = project.vpai(&["up"]);
        assert!(
            stderr(&out).contains("nothing to change"),
            "round {i}: not converged"
        );
        known.push(project.files());
    }
    assert!(reported, "no run reported the interrupted deploy it found");
}

/// Wait until a deploy holds the lock at `lock` (it writes `state=running` there).
fn wait_for_lock(lock: &str, limit: Duration, who: &str) {
    let t = Instant::now();
    while !std::fs::read_to_string(lock)
        .unwrap_or_default()
        .contains("state=running")
    {
        assert!(t.elapsed() < limit, "{who} never took the lock");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The sha256 of `path` as vpai renders it now (`vpai render --out`).
fn render_sum(project: &Project, path: &str) -> Option<String> {
    let out_dir = project.dir.path().join("render-check");
    let _ = std::fs::remove_dir_all(&out_dir);
    let st = project
        .command(&["render", "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(st.status.success());
    let f = out_dir.join(path);
    let sum = sh(&["sha256sum", f.to_str()?]);
    sum.status
        .success()
        .then(|| String::from_utf8_lossy(&sum.stdout)[..64].to_string())
}
