//! A remote host reached with the system OpenSSH client, multiplexed: one master
//! connection per host per run (`ControlMaster`), every command a cheap channel over
//! it. Using the operator's own `ssh` means `~/.ssh/config`, the agent, `ProxyJump` and
//! `known_hosts` work unchanged. Host keys are checked strictly: an unknown key is an
//! error that shows the key's fingerprint, never a silent trust-on-first-use.
//!
//! Why `std::process` and not the `openssh` crate: that crate drives the same system
//! client with the same `ControlMaster` socket, but through tokio. Every call vpai makes
//! is blocking and sequential (a deploy is a short script of remote commands), so an
//! async runtime would add weight and no speed; spawning `ssh -S <socket>` directly is
//! the whole of what we need, and keeps the exact command visible for debugging.
//!
//! Commands run as root: directly when the login user is root, otherwise through
//! `sudo -n` (never a password prompt in the middle of a deploy). Secrets never appear
//! in a remote command line: they travel on stdin.

use crate::{CmdOutput, FileState, Host, HostError, WriteOutcome};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where and how to connect; what `[hosts.NAME]` in stack.toml says.
#[derive(Debug, Clone, Default)]
pub struct SshTarget {
    /// Name of the host in stack.toml, for messages.
    pub name: String,
    /// Address or an alias of `~/.ssh/config`.
    pub address: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Private key file (`-i`, with `IdentitiesOnly`).
    pub identity: Option<PathBuf>,
    /// A known_hosts file instead of the user's (`UserKnownHostsFile`).
    pub known_hosts: Option<PathBuf>,
    /// Extra `-o Key=Value` options.
    pub options: Vec<(String, String)>,
    /// Run commands through `sudo -n`; `None`: when the login user is not root.
    pub become_root: Option<bool>,
    /// Seconds to wait for the TCP connection.
    pub connect_timeout: u32,
}

/// Why a connection could not be made, precisely enough to fix it.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error(
        "the host key of `{host}` ({address}) is not known: refusing to connect\n{fingerprints}  help: check that fingerprint against the server (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console), then add the key: `ssh-keyscan {keyscan_args} >> {known_hosts}`"
    )]
    UnknownHostKey {
        host: String,
        address: String,
        fingerprints: String,
        keyscan_args: String,
        /// The known_hosts file ssh reads (`known_hosts` of `[hosts]`, else the
        /// user's), ready to paste into a shell.
        known_hosts: String,
    },
    #[error(
        "the host key of `{host}` ({address}) CHANGED since it was recorded: refusing to connect (a reinstalled server, or someone in the middle)\n{fingerprints}  help: if the server was reinstalled, remove the old key with `ssh-keygen -R {known_name}` and add the new one after checking it"
    )]
    ChangedHostKey {
        host: String,
        address: String,
        known_name: String,
        fingerprints: String,
    },
    #[error("cannot connect to `{host}` ({address}): {message}\n  help: {hint}")]
    Connect {
        host: String,
        address: String,
        message: String,
        hint: String,
    },
    #[error(
        "cannot start `ssh`: {0}\n  help: install the OpenSSH client (Debian: `apt-get install openssh-client`)"
    )]
    NoClient(std::io::Error),
    #[error("cannot create the ssh control directory: {0}")]
    ControlDir(std::io::Error),
}

/// A connected remote host. Dropping it closes the master connection.
pub struct SshHost {
    target: SshTarget,
    /// Private directory holding the master's socket (short path: sockets are limited
    /// to ~100 bytes).
    control_dir: tempfile::TempDir,
    sudo: bool,
    user: String,
}

impl std::fmt::Debug for SshHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshHost")
            .field("name", &self.target.name)
            .field("address", &self.target.address)
            .field("user", &self.user)
            .field("sudo", &self.sudo)
            .finish()
    }
}

/// Quote one word for a POSIX shell (the remote login shell parses what ssh sends).
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl SshHost {
    /// Open the master connection (one TCP connection and one authentication for the
    /// whole run) and check the host key strictly.
    pub fn connect(target: SshTarget) -> Result<SshHost, SshError> {
        // Checked again here, whoever built the target: an option that runs a command
        // (ProxyCommand, LocalCommand, ...) would run it with vpai's environment.
        for (key, value) in &target.options {
            if let Err((_, message, hint)) = vpai_spec::check_ssh_option(key, value) {
                return Err(SshError::Connect {
                    host: target.name.clone(),
                    address: target.address.clone(),
                    message,
                    hint,
                });
            }
        }
        if target.address.is_empty() || target.address.starts_with('-') {
            return Err(SshError::Connect {
                host: target.name.clone(),
                address: target.address.clone(),
                message: "not a host address".into(),
                hint: "an IP, a DNS name or a ~/.ssh/config alias".into(),
            });
        }
        let control_dir = tempfile::Builder::new()
            .prefix("vpai-ssh-")
            .tempdir_in("/tmp")
            .map_err(SshError::ControlDir)?;
        let mut host = SshHost {
            user: target.user.clone().unwrap_or_default(),
            sudo: false,
            target,
            control_dir,
        };
        if host.user.is_empty() {
            host.user = host.resolved_user();
        }
        host.sudo = host
            .target
            .become_root
            .unwrap_or(host.user != "root" && !host.user.is_empty());
        let log = host.control_dir.path().join("master.log");
        let log_file = std::fs::File::create(&log).map_err(SshError::ControlDir)?;
        // The master forks into the background once authenticated (-f) and keeps its
        // stderr: give it a file, not a pipe we would wait on forever. It is closed on
        // drop; if vpai is killed, it still goes away 60 s after its last channel.
        let started = std::time::Instant::now();
        let status = host
            .ssh_command()
            .args([
                "-o",
                "ControlMaster=yes",
                "-o",
                "ControlPersist=60",
                "-f",
                "-N",
            ])
            .arg(host.destination())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .status()
            .map_err(SshError::NoClient)?;
        trace(&["(master connection)"], started, 0);
        if !status.success() {
            let message = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(host.connect_error(&message));
        }
        Ok(host)
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The login user as ssh resolves it (`-G` reads ~/.ssh/config; no network).
    fn resolved_user(&self) -> String {
        let out = self
            .ssh_command()
            .arg("-G")
            .arg(self.destination())
            .output();
        out.ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("user ").map(str::to_string))
            })
            .unwrap_or_default()
    }

    fn control_path(&self) -> PathBuf {
        self.control_dir.path().join("cm")
    }

    fn destination(&self) -> String {
        match &self.target.user {
            Some(u) => format!("{u}@{}", self.target.address),
            None => self.target.address.clone(),
        }
    }

    /// `ssh` with every option of the target; the caller adds the destination.
    fn ssh_command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        crate::scrub_env(&mut cmd);
        cmd.arg("-o")
            .arg(format!("ControlPath={}", self.control_path().display()));
        cmd.args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
            "-o",
            "LogLevel=ERROR",
        ]);
        cmd.arg("-o").arg(format!(
            "ConnectTimeout={}",
            if self.target.connect_timeout == 0 {
                15
            } else {
                self.target.connect_timeout
            }
        ));
        if let Some(port) = self.target.port {
            cmd.arg("-p").arg(port.to_string());
        }
        if let Some(id) = &self.target.identity {
            cmd.arg("-i").arg(id).args(["-o", "IdentitiesOnly=yes"]);
        }
        if let Some(kh) = &self.target.known_hosts {
            cmd.arg("-o")
                .arg(format!("UserKnownHostsFile={}", kh.display()));
        }
        for (k, v) in &self.target.options {
            cmd.arg("-o").arg(format!("{k}={v}"));
        }
        cmd
    }

    /// The remote command line for `args`, as root.
    fn remote_command(&self, args: &[&str]) -> String {
        let mut words: Vec<String> = Vec::with_capacity(args.len() + 3);
        if self.sudo {
            words.extend(["sudo", "-n", "--"].map(String::from));
        }
        words.extend(args.iter().map(|a| shell_quote(a)));
        words.join(" ")
    }

    /// A command over the master connection (a channel, no new handshake).
    fn channel(&self, args: &[&str]) -> Command {
        let mut cmd = self.ssh_command();
        cmd.args(["-o", "ControlMaster=no", "-T"])
            .arg(self.destination())
            .arg("--")
            .arg(self.remote_command(args));
        cmd
    }

    fn connect_error(&self, message: &str) -> SshError {
        let host = self.target.name.clone();
        let address = match self.target.port {
            Some(p) => format!("{}:{p}", self.target.address),
            None => self.target.address.clone(),
        };
        let fingerprints = || self.fingerprints();
        if message.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            // Quoted: the operator pastes this into a shell.
            let known_name = shell_quote(&match self.target.port {
                Some(p) if p != 22 => format!("[{}]:{p}", self.target.address),
                _ => self.target.address.clone(),
            });
            return SshError::ChangedHostKey {
                host,
                address,
                known_name,
                fingerprints: fingerprints(),
            };
        }
        if message.contains("Host key verification failed")
            || message.contains("No ED25519 host key is known")
            || message.contains("host key is known for")
        {
            let keyscan_args = keyscan_args(&self.target.address, self.target.port);
            return SshError::UnknownHostKey {
                host,
                address,
                fingerprints: fingerprints(),
                keyscan_args,
                known_hosts: known_hosts_hint(self.target.known_hosts.as_deref()),
            };
        }
        let first = message
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("ssh exited with an error")
            .to_string();
        let hint = if first.contains("Permission denied") {
            "the key was refused: check `identity` (or your agent) and the user in `[hosts]`"
        } else if first.contains("Connection refused") || first.contains("timed out") {
            "is sshd listening on that port? After hardening the port moves: set `ssh_port` (and `bootstrap_port` for the first deploy) in `[hosts]`"
        } else if first.contains("Could not resolve") {
            "the address does not resolve: check `address` in `[hosts]` or your ~/.ssh/config"
        } else {
            "run `ssh -v` with the same options to see more"
        };
        SshError::Connect {
            host,
            address,
            message: first,
            hint: hint.to_string(),
        }
    }

    /// The server's key fingerprints, to show when its key is unknown or changed.
    fn fingerprints(&self) -> String {
        let mut scan = Command::new("ssh-keyscan");
        crate::scrub_env(&mut scan);
        scan.args(["-T", "5"]);
        if let Some(p) = self.target.port {
            scan.arg("-p").arg(p.to_string());
        }
        // An alias of ~/.ssh/config is not an address ssh-keyscan can use; ask ssh.
        let hostname = self
            .ssh_command()
            .arg("-G")
            .arg(self.destination())
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("hostname ").map(str::to_string))
            })
            .unwrap_or_else(|| self.target.address.clone());
        scan.arg(hostname);
        let keys = match scan.stderr(Stdio::null()).output() {
            Ok(o) if !o.stdout.is_empty() => o.stdout,
            _ => return "  (the server's key could not be read with ssh-keyscan)\n".into(),
        };
        let mut keygen = match Command::new("ssh-keygen")
            .args(["-l", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(_) => return String::new(),
        };
        if let Some(mut stdin) = keygen.stdin.take() {
            let _ = stdin.write_all(&keys);
        }
        let out = keygen
            .wait_with_output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        String::from_utf8_lossy(&out)
            .lines()
            .map(|l| format!("  server key: {l}\n"))
            .collect()
    }

    fn exec(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<CmdOutput, HostError> {
        let started = std::time::Instant::now();
        let result = self.exec_inner(args, stdin);
        trace(args, started, stdin.map_or(0, <[u8]>::len));
        result
    }

    fn exec_inner(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<CmdOutput, HostError> {
        let out = crate::run_to_end(self.channel(args), "ssh", stdin)?;
        let status = out.status;
        if status == 255 {
            // ssh's own failure (the connection), not the remote command's.
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !self.master_alive() || stderr.contains("Connection") || stderr.contains("mux") {
                return Err(HostError::Transport {
                    host: self.target.name.clone(),
                    message: stderr.trim().to_string(),
                });
            }
        }
        if status != 0
            && out.stdout.is_empty()
            && let Some(err) = self.sudo_refused(&String::from_utf8_lossy(&out.stderr))
        {
            return Err(err);
        }
        Ok(out)
    }

    /// `sudo -n` refused to run without a password: the deploy user's sudo rule is
    /// missing (every command fails the same way, so say it once, with the fix).
    fn sudo_refused(&self, stderr: &str) -> Option<HostError> {
        (self.sudo && stderr.contains("sudo:") && stderr.contains("password")).then(|| {
            HostError::Transport {
                host: self.target.name.clone(),
                message: format!(
                    "`sudo -n` needs a password for `{}`: {}\n  help: allow it without a password for the deploy user (a sudoers.d rule), or connect as root",
                    self.user,
                    stderr.trim()
                ),
            }
        })
    }

    fn master_alive(&self) -> bool {
        self.ssh_command()
            .args(["-O", "check"])
            .arg(self.destination())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Close the master connection now (also done on drop).
    pub fn close(&self) {
        let started = std::time::Instant::now();
        let _ = self
            .ssh_command()
            .args(["-O", "exit"])
            .arg(self.destination())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        trace(&["(master closed)"], started, 0);
    }
}

/// With `VPAI_SSH_TRACE=<file>`, a line for an event of a deploy (for the benchmark's
/// "where the time goes"): milliseconds since `started`, and what.
pub fn trace_event(what: &str, started: std::time::Instant) {
    trace(&[what], started, 0);
}

/// With `VPAI_SSH_TRACE=<file>`, one line per remote command: milliseconds, bytes sent
/// on stdin, and what ran (scripts by their `$0` name, never their arguments' values).
fn trace(args: &[&str], started: std::time::Instant, stdin_len: usize) {
    let Some(path) = std::env::var_os("VPAI_SSH_TRACE") else {
        return;
    };
    let what = match args {
        ["bash", "-c", _, name, ..] => format!("bash script {name}"),
        ["flock", "-s", _, "bash", "-c", _, name, ..] => format!("bash script {name} (guarded)"),
        ["flock", "-s", _, rest @ ..] => format!(
            "{} (guarded)",
            rest.iter().take(4).copied().collect::<Vec<_>>().join(" ")
        ),
        _ => args.iter().take(4).copied().collect::<Vec<_>>().join(" "),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(
            f,
            "{:.1}\t{stdin_len}\t{what}",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        self.close();
    }
}

/// Reads one file with its mode and owner: `<mode> <uid> <gid>\n` then the bytes. A
/// link is refused (exit 5), a missing file is exit 3.
const READ_FILE: &str = r#"f=$1
if [ -L "$f" ]; then echo "vpai: \`$f\` is a symbolic link: vpai never reads through a link it did not create" >&2; exit 5; fi
[ -e "$f" ] || exit 3
[ -f "$f" ] || { echo "vpai: \`$f\` is not a regular file" >&2; exit 5; }
stat -c '%a %u %g' -- "$f" && exec cat -- "$f""#;

/// Writes stdin atomically at $1/$2: temp file in the same directory, mode and owner
/// set before any byte lands, fsync, rename; no link below $1 is followed. Prints
/// created/updated/permissions/unchanged.
const WRITE_FILE: &str = concat!(
    crate::nofollow_sh!(),
    r#"set -euo pipefail
umask 077
root=$1 rel=$2 mode=$3 uid=$4 gid=$5
f=$root/$rel
d=${f%/*}
vpai_nofollow "$root" "$rel"
mkdir -p -- "$d"
vpai_nofollow "$root" "$rel"
if [ -e "$f" ] && [ ! -f "$f" ]; then echo "vpai: \`$f\` is not a regular file" >&2; exit 5; fi
tmp=$(mktemp "$d/.vpai-XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat >"$tmp"
if [ -e "$f" ]; then
  if cmp -s -- "$tmp" "$f"; then
    if [ "$(stat -c '%04a %u %g' -- "$f")" = "$mode $uid $gid" ]; then
      echo unchanged; exit 0
    fi
    chown -h "$uid:$gid" -- "$tmp"; chmod "$mode" -- "$tmp"
    mv -fT -- "$tmp" "$f"; trap - EXIT; echo permissions; exit 0
  fi
  outcome=updated
else
  outcome=created
fi
chown -h "$uid:$gid" -- "$tmp"; chmod "$mode" -- "$tmp"
sync -- "$tmp"
mv -fT -- "$tmp" "$f"
sync -- "$d" 2>/dev/null || true
trap - EXIT
echo "$outcome""#
);

/// Creates $1/$2 with its parents and sets its mode and owner; no link below $1 is
/// followed (checked before and after the mkdir, and chown never dereferences).
const ENSURE_DIR: &str = concat!(
    crate::nofollow_sh!(),
    r#"set -eu
root=$1 rel=$2 mode=$3 uid=$4 gid=$5
d=$root/$rel
vpai_nofollow "$root" "$rel"
if [ -d "$d" ]; then
  [ "$(stat -c '%04a %u %g' -- "$d")" = "$mode $uid $gid" ] && { echo unchanged; exit 0; }
  outcome=permissions
else
  mkdir -p -- "$d"; outcome=created
fi
vpai_nofollow "$root" "$rel"
chown -h "$uid:$gid" -- "$d"; chmod "$mode" -- "$d"
echo "$outcome""#
);

fn outcome(text: &str) -> WriteOutcome {
    match text.trim() {
        "created" => WriteOutcome::Created,
        "updated" => WriteOutcome::Updated,
        "permissions" => WriteOutcome::Permissions,
        _ => WriteOutcome::Unchanged,
    }
}

impl SshHost {
    fn script(
        &self,
        script: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
        path: &Path,
    ) -> Result<CmdOutput, HostError> {
        // bash, never the login shell or dash (seed 001 §13.1).
        let mut full = vec!["bash", "-c", script, "vpai"];
        full.extend_from_slice(args);
        let out = self.exec(&full, stdin)?;
        if out.status != 0 && out.status != 3 {
            return Err(HostError::Io {
                path: format!("{}:{}", self.target.name, path.display()),
                source: std::io::Error::other(out.stderr_text().trim().to_string()),
            });
        }
        Ok(out)
    }
}

/// The arguments of the `ssh-keyscan` the unknown-key hint shows, quoted: the
/// operator pastes them into a shell, and `address` comes from the stack file.
fn keyscan_args(address: &str, port: Option<u16>) -> String {
    let address = shell_quote(address);
    match port {
        Some(p) => format!("-p {p} -- {address}"),
        None => format!("-- {address}"),
    }
}

/// The file the unknown-key hint appends to: the configured `known_hosts`, quoted (it
/// comes from the stack file), or the user's own, left unquoted so `~` expands.
fn known_hosts_hint(configured: Option<&Path>) -> String {
    match configured {
        Some(file) => shell_quote(&file.display().to_string()),
        None => "~/.ssh/known_hosts".to_string(),
    }
}

/// `(root, relative path)` as script arguments; a path that leaves the root is refused.
fn managed(root: &Path, path: &Path) -> Result<(String, String), HostError> {
    let rel = path.display().to_string();
    if path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(HostError::NotManaged {
            path: root.join(path).display().to_string(),
            problem: "the path leaves the deploy directory".into(),
            help: "managed paths are relative and never contain `..`".into(),
        });
    }
    Ok((root.display().to_string(), rel))
}

impl Host for SshHost {
    fn name(&self) -> &str {
        &self.target.name
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<CmdOutput, HostError> {
        self.exec(args, stdin)
    }

    fn read_file(&self, path: &Path) -> Result<Option<FileState>, HostError> {
        let p = path.display().to_string();
        let out = self.script(READ_FILE, &[&p], None, path)?;
        if out.status == 3 {
            return Ok(None);
        }
        let nl = out
            .stdout
            .iter()
            .position(|b| *b == b'\n')
            .unwrap_or(out.stdout.len());
        let head = String::from_utf8_lossy(&out.stdout[..nl]).to_string();
        let mut it = head.split_whitespace();
        let mode = it
            .next()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .unwrap_or(0);
        let uid = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        let gid = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(Some(FileState {
            bytes: out.stdout.get(nl + 1..).unwrap_or_default().to_vec(),
            mode,
            owner: (uid, gid),
        }))
    }

    fn write_file(
        &self,
        root: &Path,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        owner: (u32, u32),
        _backup: Option<&Path>,
    ) -> Result<WriteOutcome, HostError> {
        // Previous versions are kept as whole releases by the deploy, not file by file.
        let (r, p) = managed(root, path)?;
        let m = format!("{mode:04o}");
        let (u, g) = (owner.0.to_string(), owner.1.to_string());
        let out = self.script(WRITE_FILE, &[&r, &p, &m, &u, &g], Some(bytes), path)?;
        Ok(outcome(&out.stdout_text()))
    }

    fn ensure_dir(
        &self,
        root: &Path,
        path: &Path,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<WriteOutcome, HostError> {
        let (r, p) = managed(root, path)?;
        let m = format!("{mode:04o}");
        let (u, g) = (owner.0.to_string(), owner.1.to_string());
        let out = self.script(ENSURE_DIR, &[&r, &p, &m, &u, &g], None, path)?;
        Ok(outcome(&out.stdout_text()))
    }

    fn spawn(&self, args: &[&str]) -> Result<Child, HostError> {
        trace(args, std::time::Instant::now(), 0);
        self.channel(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HostError::Spawn {
                program: "ssh".into(),
                source,
            })
    }

    fn run_interactive(&self, args: &[&str], tty: bool) -> Result<i32, HostError> {
        trace(args, std::time::Instant::now(), 0);
        // A channel of the master connection like `channel`, with a pseudo-terminal on
        // the host when asked (`-t`): keys, Ctrl-C and the window size reach the program.
        let mut cmd = self.ssh_command();
        cmd.args(["-o", "ControlMaster=no", if tty { "-t" } else { "-T" }])
            .arg(self.destination())
            .arg("--")
            .arg(self.remote_command(args));
        let status = crate::run_attached(cmd, "ssh")?;
        if status == 255 && !self.master_alive() {
            return Err(HostError::Transport {
                host: self.target.name.clone(),
                message: "the connection closed while the command ran".into(),
            });
        }
        Ok(status)
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn transport_failure(&self, stderr: &str) -> Option<HostError> {
        self.sudo_refused(stderr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_shell() {
        for word in [
            "plain",
            "with space",
            "it's",
            "$HOME",
            "a\"b",
            "",
            "x;rm -rf /",
        ] {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(word)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), word);
        }
    }

    /// The remote write scripts, run with bash here: links below the root are refused
    /// and their targets untouched; the root itself may be a link.
    #[test]
    fn remote_scripts_never_follow_a_link() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir(&victim).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
        symlink(&victim, root.join("data/pg")).unwrap();
        symlink(&victim, root.join("env")).unwrap();
        let (uid, gid) = (unsafe { libc::geteuid() }, unsafe { libc::getegid() });
        let run = |script: &str, rel: &str, stdin: &[u8]| {
            let r = root.display().to_string();
            let (u, g) = (uid.to_string(), gid.to_string());
            let mut cmd = Command::new("bash");
            cmd.args(["-c", script, "vpai", &r, rel, "0700", &u, &g]);
            crate::run_to_end(cmd, "bash", Some(stdin)).unwrap()
        };
        for (script, rel) in [
            (ENSURE_DIR, "data/pg"),
            (ENSURE_DIR, "data/pg/sub"),
            (WRITE_FILE, "env/n8n.env"),
            (WRITE_FILE, "data/pg/x"),
        ] {
            let out = run(script, rel, b"SECRET=1\n");
            assert_eq!(out.status, 5, "{rel}: {}", out.stderr_text());
            assert!(
                out.stderr_text().contains("symbolic link"),
                "{}",
                out.stderr_text()
            );
        }
        let meta = std::fs::metadata(&victim).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
        let out = run(WRITE_FILE, "configs/a.conf", b"x");
        assert_eq!(out.stdout_text().trim(), "created", "{}", out.stderr_text());
        let out = run(ENSURE_DIR, "data/ok", b"");
        assert_eq!(out.stdout_text().trim(), "created", "{}", out.stderr_text());
        let out = Command::new("bash")
            .args(["-c", READ_FILE, "vpai"])
            .arg(root.join("env"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5));
    }

    #[test]
    fn options_that_run_commands_never_reach_ssh() {
        let target = SshTarget {
            name: "prod".into(),
            address: "127.0.0.1".into(),
            options: vec![(
                "ProxyCommand".into(),
                "sh -c 'printenv VPAI_VAULT_PASSWORD > /tmp/x'".into(),
            )],
            ..Default::default()
        };
        let err = SshHost::connect(target).unwrap_err().to_string();
        assert!(err.contains("not an ssh option"), "{err}");
    }

    #[test]
    fn the_keyscan_hint_is_quoted_for_a_shell() {
        let hostile = "x;touch${IFS}/tmp/pwned";
        let args = keyscan_args(hostile, Some(804));
        assert_eq!(args, "-p 804 -- 'x;touch${IFS}/tmp/pwned'");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {args}"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("-p\n804\n--\n{hostile}\n")
        );
    }

    #[test]
    fn the_keyscan_hint_names_the_configured_known_hosts_file() {
        let err = |known_hosts: Option<&Path>| {
            SshError::UnknownHostKey {
                host: "prod".into(),
                address: "203.0.113.10:804".into(),
                fingerprints: String::new(),
                keyscan_args: keyscan_args("203.0.113.10", Some(804)),
                known_hosts: known_hosts_hint(known_hosts),
            }
            .to_string()
        };
        let default = err(None);
        assert!(
            default.contains("ssh-keyscan -p 804 -- 203.0.113.10 >> ~/.ssh/known_hosts`"),
            "{default}"
        );
        let own = err(Some(Path::new("/srv/ops/known hosts;rm")));
        assert!(
            own.contains("ssh-keyscan -p 804 -- 203.0.113.10 >> '/srv/ops/known hosts;rm'`"),
            "{own}"
        );
        assert!(!own.contains("~/.ssh/known_hosts"), "{own}");
        // The quoted file is one word for a shell.
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf '%s\\n' {}",
                known_hosts_hint(Some(Path::new("/srv/ops/known hosts;rm")))
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "/srv/ops/known hosts;rm\n"
        );
    }

    #[test]
    fn remote_command_uses_sudo_only_when_needed() {
        let mut host = SshHost {
            target: SshTarget::default(),
            control_dir: tempfile::tempdir().unwrap(),
            sudo: false,
            user: "root".into(),
        };
        assert_eq!(host.remote_command(&["docker", "ps"]), "docker ps");
        host.sudo = true;
        assert_eq!(
            host.remote_command(&["bash", "-c", "echo $1"]),
            "sudo -n -- bash -c 'echo $1'"
        );
    }
}
