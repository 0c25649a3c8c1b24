//! `vpai harden`: a deploy user with the operator's key and sudo, an nftables firewall,
//! root login and passwords off, the SSH port moved — without ever locking the operator
//! out. Every change of sshd or the firewall is a transaction, like `iptables-apply` or
//! Junos `commit confirmed`: the host snapshots what it has, arms a revert of its own
//! (a systemd timer, or a detached process where systemd does not run), writes and
//! validates the new files, applies them; then the deploying machine logs in again over
//! a fresh, non-multiplexed connection and runs `sudo -n true`, and only then is the
//! revert cancelled. A failed check leaves the revert armed (and triggers it at once
//! while the old connection still works).
//!
//! Order, never two risky changes together: (a) deploy user, key, sudo; (b) firewall
//! with the current and the new SSH port; (c) sshd on both ports, root login and
//! passwords off; (d) the old port closed in sshd, then in the firewall; (e) security
//! updates and fail2ban, which take no access away (`crate::upkeep`).
//!
//! Host side: bash scripts, one round trip per step, values as argv (never in the
//! script text). The files vpai writes are written atomically with explicit mode and
//! owner; the previous version is kept next to them (`.vpai-prev`) and in the
//! transaction's directory under `/var/lib/vpai/harden`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vpai_host::{Host, HostError, SshTarget};

pub const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
pub const SSHD_DROPIN: &str = "/etc/ssh/sshd_config.d/00-vpai.conf";
pub const SOCKET_DROPIN: &str = "/etc/systemd/system/ssh.socket.d/00-vpai.conf";
pub const FIREWALL_FILE: &str = "/etc/vpai/firewall.nft";
/// Loads [`FIREWALL_FILE`] at boot: `nft -f` alone lasts until the next reboot.
pub const FIREWALL_UNIT: &str = "/etc/systemd/system/vpai-firewall.service";
/// What `systemctl enable` would make (written by hand: it works without a running
/// systemd, in an image, a chroot, a container).
pub const FIREWALL_UNIT_LINK: &str =
    "/etc/systemd/system/sysinit.target.wants/vpai-firewall.service";
const INCLUDE: &str = "Include /etc/ssh/sshd_config.d/*.conf";

/// What `[hardening]` and `[hosts]` ask for.
#[derive(Debug, Clone)]
pub struct Settings {
    pub deploy_user: String,
    /// One validated OpenSSH public key line (no newline).
    pub public_key: String,
    pub revert_after: Duration,
    pub firewall: bool,
    /// Ports opened besides SSH: the web ports and `allow_ports`.
    pub open_ports: Vec<u16>,
    /// The port the current connection uses.
    pub current_port: u16,
    /// The port sshd ends on (`ssh_port`).
    pub target_port: u16,
    /// Security updates that install themselves (unattended-upgrades).
    pub upgrades: bool,
    /// fail2ban on the SSH port.
    pub fail2ban: bool,
    /// Addresses fail2ban never bans besides loopback (the VPN ranges).
    pub never_ban: Vec<String>,
}

impl Settings {
    fn upkeep(&self) -> crate::upkeep::UpkeepSettings {
        crate::upkeep::UpkeepSettings {
            upgrades: self.upgrades,
            fail2ban: self.fail2ban,
            ssh_port: self.target_port,
            never_ban: self.never_ban.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    #[error(transparent)]
    Host(#[from] HostError),
    /// Refused before anything changed.
    #[error("{message}\n  help: {help}")]
    Refused { message: String, help: String },
    /// A step failed; what the host does about it is in `revert`.
    #[error("{step}: {message}\n  {revert}")]
    Failed {
        step: String,
        message: String,
        revert: RevertState,
    },
}

/// Where a failed transaction leaves the host.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RevertState {
    /// Nothing to revert (the step changes no access, or failed before changing).
    NotNeeded,
    /// The previous configuration is back.
    Reverted,
    /// The host puts it back by itself at `at` (seconds since the epoch).
    Armed { at: u64 },
}

impl std::fmt::Display for RevertState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevertState::NotNeeded => write!(f, "nothing was left half-changed"),
            RevertState::Reverted => write!(f, "the host is back on its previous configuration"),
            RevertState::Armed { at } => write!(
                f,
                "the host reverts to its previous configuration by itself at {} UTC (in {} s)",
                clock(*at),
                at.saturating_sub(now())
            ),
        }
    }
}

/// One step's result, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: String,
    pub changed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub host: String,
    pub changed: bool,
    pub steps: Vec<StepReport>,
    pub ssh_port: u16,
    pub deploy_user: String,
}

/// What `--check` shows: files as unified diffs and the other changes in words.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub host: String,
    pub changes: Vec<String>,
    pub diffs: Vec<FileDiff>,
    /// What a run would leave out, and why (no apt-get for a missing package, ...).
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    pub path: String,
    pub diff: String,
}

impl CheckReport {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.diffs.is_empty()
    }
}

// ---------------------------------------------------------------------------------
// Facts
// ---------------------------------------------------------------------------------

/// What the host has, read in one round trip.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub sshd_version: String,
    pub systemd: bool,
    /// sshd is started by `ssh.socket` (its ListenStream decides the port).
    pub socket: bool,
    pub nft: bool,
    pub nft_table: bool,
    /// The boot unit of the firewall is enabled ([`FIREWALL_UNIT_LINK`]).
    pub fw_unit_enabled: bool,
    pub sudo: bool,
    pub sudoers_includedir: bool,
    pub user_exists: bool,
    pub user_groups: Vec<String>,
    pub key_authorized: bool,
    pub sudoers: Option<String>,
    /// Files by path: sshd_config, the drop-ins, the firewall file, the socket drop-in.
    pub files: BTreeMap<String, String>,
    /// `sshd -T` for the deploy user: `key value` lines.
    pub effective: Vec<(String, String)>,
}

const FACTS: &str = r#"set -uo pipefail
export LC_ALL=C
user=$1 keybody=$2
b64() { base64 -w0 <"$1"; echo; }
echo "sshd_version $( (sshd -V 2>&1 || /usr/sbin/sshd -V 2>&1) | head -1)"
systemd=no; [ -d /run/systemd/system ] && systemd=yes; echo "systemd $systemd"
socket=no
if [ $systemd = yes ] && { systemctl is-active --quiet ssh.socket || systemctl is-enabled --quiet ssh.socket; } 2>/dev/null; then socket=yes; fi
echo "socket $socket"
if command -v nft >/dev/null; then
  echo "nft yes"
  if nft list table inet vpai >/dev/null 2>&1; then echo "nft_table yes"; fi
fi
command -v sudo >/dev/null && command -v visudo >/dev/null && echo "sudo yes"
grep -Eq '^[[:space:]]*[@#]includedir[[:space:]]+/etc/sudoers.d[[:space:]]*$' /etc/sudoers 2>/dev/null && echo "sudoers_includedir yes"
if id -u -- "$user" >/dev/null 2>&1; then
  echo "user yes"
  echo "groups $(id -Gn -- "$user")"
  home=$(getent passwd -- "$user" | cut -d: -f6)
  if [ -n "$home" ] && [ -f "$home/.ssh/authorized_keys" ] && grep -qF -- "$keybody" "$home/.ssh/authorized_keys"; then echo "key yes"; fi
fi
f=/etc/sudoers.d/vpai-$user
[ -f "$f" ] && [ ! -L "$f" ] && echo "sudoers $(b64 "$f")"
for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf /etc/vpai/firewall.nft /etc/systemd/system/ssh.socket.d/00-vpai.conf /etc/systemd/system/vpai-firewall.service; do
  [ -f "$f" ] && [ ! -L "$f" ] && echo "file $f $(b64 "$f")"
done
[ "$(readlink /etc/systemd/system/sysinit.target.wants/vpai-firewall.service 2>/dev/null)" = ../vpai-firewall.service ] && echo "fw_unit_enabled yes"
addr=${SSH_CONNECTION:-}; addr=${addr%% *}; [ -n "$addr" ] || addr=127.0.0.1
if eff=$(sshd -T -C "user=$user,host=vpai-check,addr=$addr" 2>&1 || /usr/sbin/sshd -T -C "user=$user,host=vpai-check,addr=$addr" 2>&1); then
  while IFS= read -r l; do echo "effective $l"; done <<<"$eff"
else
  echo "sshd_error $(printf '%s' "$eff" | head -3 | base64 -w0)"
fi
echo end
"#;

pub(crate) fn b64_decode(text: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for b in text.trim().bytes() {
        if b == b'=' {
            break;
        }
        let v = ALPHABET.iter().position(|&a| a == b)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn read_facts(host: &dyn Host, settings: &Settings) -> Result<Facts, HardenError> {
    let key_body = settings
        .public_key
        .split_ascii_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let out = host.run(
        &[
            "bash",
            "-c",
            FACTS,
            "vpai-harden-facts",
            &settings.deploy_user,
            &key_body,
        ],
        None,
    )?;
    let text = out.stdout_text();
    if !text.lines().any(|l| l == "end") {
        return Err(HardenError::Refused {
            message: format!(
                "cannot read the host's SSH facts: {}",
                out.stderr_text().trim()
            ),
            help: "the host needs bash and coreutils; run with -v to see the command".into(),
        });
    }
    let mut f = Facts::default();
    for line in text.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "sshd_version" => f.sshd_version = rest.to_string(),
            "systemd" => f.systemd = rest == "yes",
            "socket" => f.socket = rest == "yes",
            "nft" => f.nft = true,
            "nft_table" => f.nft_table = true,
            "fw_unit_enabled" => f.fw_unit_enabled = true,
            "sudo" => f.sudo = true,
            "sudoers_includedir" => f.sudoers_includedir = true,
            "user" => f.user_exists = true,
            "groups" => f.user_groups = rest.split_whitespace().map(String::from).collect(),
            "key" => f.key_authorized = true,
            "sudoers" => f.sudoers = b64_decode(rest),
            "file" => {
                if let Some((path, data)) = rest.split_once(' ') {
                    f.files
                        .insert(path.to_string(), b64_decode(data).unwrap_or_default());
                } else {
                    f.files.insert(rest.to_string(), String::new());
                }
            }
            "effective" => {
                let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
                f.effective.push((k.to_ascii_lowercase(), v.to_string()));
            }
            "sshd_error" => {
                return Err(HardenError::Refused {
                    message: format!(
                        "`sshd -T` fails on the host: {}",
                        b64_decode(rest).unwrap_or_default().trim()
                    ),
                    help: "fix sshd's configuration first (`sshd -t` on the host says where)"
                        .into(),
                });
            }
            _ => {}
        }
    }
    Ok(f)
}

// ---------------------------------------------------------------------------------
// Desired files (pure)
// ---------------------------------------------------------------------------------

pub fn sudoers_file(user: &str) -> String {
    format!(
        "# Written by vpai harden: the deploy user runs commands as root without a password.\n{user} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    )
}

fn sorted(ports: impl IntoIterator<Item = u16>) -> Vec<u16> {
    let mut v: Vec<u16> = ports.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}

pub fn sshd_dropin(ports: &[u16]) -> String {
    let mut s = String::from(
        "# Written by vpai harden. sshd keeps the FIRST value it reads for a setting, and\n\
         # this file is included first (00-): it wins over cloud-init's 50-cloud-init.conf.\n",
    );
    for p in sorted(ports.iter().copied()) {
        s.push_str(&format!("Port {p}\n"));
    }
    s.push_str(
        "PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n",
    );
    s
}

pub fn socket_dropin(ports: &[u16]) -> String {
    let mut s = String::from(
        "# Written by vpai harden: with ssh.socket, its ListenStream decides sshd's ports\n\
         # (Port in sshd_config is ignored).\n[Socket]\nListenStream=\n",
    );
    for p in sorted(ports.iter().copied()) {
        s.push_str(&format!("ListenStream={p}\n"));
    }
    s
}

/// The rule set: `ssh` and `open` ports reach this host; `open` also reaches the
/// containers that publish it. Docker publishes a port by DNAT in prerouting, so the
/// connection is forwarded to the container and never meets the `input` chain: the
/// `forward` chain runs before Docker's own rules (lower priority number) and drops a
/// new DNAT'd connection whose original port is not open, unless it comes from a
/// Docker bridge (a container reaching another through the host's address). A ban in
/// `input` would do nothing for those ports either; this is where it bites.
pub fn firewall_file(ssh: &[u16], open: &[u16]) -> String {
    let list = sorted(ssh.iter().chain(open).copied())
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let open = sorted(open.iter().copied());
    // Caddy answers HTTP/3 on UDP 443.
    let quic = open.contains(&443);
    let mut published = String::new();
    for p in &open {
        published.push_str(&format!(
            "\t\tct status dnat meta l4proto tcp ct original proto-dst {p} accept\n"
        ));
    }
    if quic {
        published
            .push_str("\t\tct status dnat meta l4proto udp ct original proto-dst 443 accept\n");
    }
    format!(
        "# Written by vpai harden: only SSH, the web ports and `allow_ports` are open,\n\
         # to this host and to the ports its containers publish.\n\
         # Loaded with `nft -f` (atomic: the table is replaced as a whole).\n\
         table inet vpai\n\
         delete table inet vpai\n\
         table inet vpai {{\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority filter; policy drop;\n\
         \t\tct state established,related accept\n\
         \t\tct state invalid drop\n\
         \t\tiif \"lo\" accept\n\
         \t\t# Containers reaching the host (host-gateway, ports the engine proxies).\n\
         \t\tiifname \"docker0\" accept\n\
         \t\tiifname \"br-*\" accept\n\
         \t\tmeta l4proto {{ icmp, ipv6-icmp }} accept\n\
         \t\tudp dport 68 accept\n\
         \t\tmeta nfproto ipv6 udp dport 546 accept\n\
         \t\ttcp dport {{ {list} }} accept\n\
         {quic}\
         \t}}\n\
         \t# Published container ports (Docker's DNAT): before Docker's rules.\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority filter - 10; policy accept;\n\
         \t\tct state established,related accept\n\
         \t\tiifname \"docker0\" accept\n\
         \t\tiifname \"br-*\" accept\n\
         {published}\
         \t\tct status dnat drop\n\
         \t}}\n\
         }}\n",
        quic = if quic {
            "\t\tudp dport 443 accept\n"
        } else {
            ""
        },
    )
}

/// The first word of a directive line (lowercased) and the rest, or None for a
/// comment or a blank line.
fn directive(line: &str) -> Option<(String, &str)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let (k, v) = t
        .split_once(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or((t, ""));
    Some((
        k.to_ascii_lowercase(),
        v.trim_start_matches(['=', ' ', '\t']),
    ))
}

fn is_dropin_include(value: &str) -> bool {
    value
        .split_whitespace()
        .any(|w| w == "/etc/ssh/sshd_config.d/*.conf" || w == "sshd_config.d/*.conf")
}

/// sshd_config with the drop-ins included before any other directive (the first value
/// wins) and its own `Port` lines commented out (ports add up across files: the port
/// list lives in 00-vpai.conf only).
pub fn main_config(text: &str) -> Result<String, HardenError> {
    let mut out = String::new();
    let mut first = true;
    for (n, line) in text.lines().enumerate() {
        match directive(line) {
            None => out.push_str(line),
            Some((key, value)) => {
                if first {
                    first = false;
                    if !(key == "include" && is_dropin_include(value)) {
                        out.push_str(
                            "# vpai: drop-ins first: sshd keeps the first value it reads\n",
                        );
                        out.push_str(INCLUDE);
                        out.push('\n');
                    } else {
                        out.push_str(line);
                        out.push('\n');
                        continue;
                    }
                }
                if (key == "include" && is_dropin_include(value)) || key == "port" {
                    out.push_str("# vpai: ");
                    out.push_str(line.trim_start());
                } else if key == "listenaddress"
                    && value.rsplit_once(':').is_some_and(|(h, p)| {
                        !h.is_empty() && !h.ends_with(':') && p.parse::<u16>().is_ok()
                    })
                {
                    return Err(HardenError::Refused {
                        message: format!(
                            "{SSHD_CONFIG}:{}: `{}` names a port: vpai cannot move it",
                            n + 1,
                            line.trim()
                        ),
                        help: "write the address alone (`ListenAddress 203.0.113.10`): the ports come from `ssh_port`".into(),
                    });
                } else {
                    out.push_str(line);
                }
            }
        }
        out.push('\n');
    }
    if first {
        out.push_str(INCLUDE);
        out.push('\n');
    }
    Ok(out)
}

/// `*` and `?` glob, as sshd matches user patterns.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The file (and line) that sets `directive`, for an error that says where to look.
fn where_set(files: &BTreeMap<String, String>, directive_name: &str) -> String {
    let mut paths: Vec<&String> = files
        .keys()
        .filter(|p| p.starts_with("/etc/ssh/"))
        .collect();
    // sshd_config first, then the drop-ins in the order sshd reads them.
    paths.sort_by_key(|p| (p.as_str() != SSHD_CONFIG, p.as_str()));
    for path in paths {
        for (n, line) in files[path].lines().enumerate() {
            if directive(line).is_some_and(|(k, _)| k == directive_name) {
                return format!("{path}:{}", n + 1);
            }
        }
    }
    "sshd's configuration".into()
}

/// Refusals that need no change to find: the deploy user would not be let in, a
/// drop-in read before ours decides root login or passwords, a port set elsewhere.
pub fn preflight(facts: &Facts, settings: &Settings) -> Result<(), HardenError> {
    let user = &settings.deploy_user;
    let groups: Vec<String> = if facts.user_exists {
        facts.user_groups.clone()
    } else {
        vec![user.clone()]
    };
    let values = |k: &str| -> Vec<String> {
        facts
            .effective
            .iter()
            .filter(|(key, _)| key == k)
            .flat_map(|(_, v)| v.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect()
    };
    let user_part = |p: &str| p.split('@').next().unwrap_or(p).to_string();
    let refuse = |name: &str, why: String| HardenError::Refused {
        message: format!(
            "`{name}` in {} {why}: after hardening nobody could log in",
            where_set(&facts.files, &name.to_ascii_lowercase())
        ),
        help: format!(
            "add `{user}` to it (or remove the directive), or set `deploy_user` in [hardening] to a user it allows; nothing was changed"
        ),
    };
    let allow = values("allowusers");
    if !allow.is_empty() && !allow.iter().any(|p| glob(&user_part(p), user)) {
        return Err(refuse(
            "AllowUsers",
            format!("does not allow the deploy user `{user}`"),
        ));
    }
    if let Some(p) = values("denyusers")
        .iter()
        .find(|p| glob(&user_part(p), user))
    {
        return Err(refuse(
            "DenyUsers",
            format!("denies the deploy user `{user}` (`{p}`)"),
        ));
    }
    let allow_groups = values("allowgroups");
    if !allow_groups.is_empty()
        && !allow_groups
            .iter()
            .any(|p| groups.iter().any(|g| glob(p, g)))
    {
        return Err(refuse(
            "AllowGroups",
            format!(
                "allows none of the deploy user's groups ({})",
                groups.join(", ")
            ),
        ));
    }
    if let Some(p) = values("denygroups")
        .iter()
        .find(|p| groups.iter().any(|g| glob(p, g)))
    {
        return Err(refuse(
            "DenyGroups",
            format!("denies a group of the deploy user (`{p}`)"),
        ));
    }
    let dropin_name = SSHD_DROPIN.rsplit('/').next().unwrap_or_default();
    for (path, text) in &facts.files {
        let Some(name) = path.strip_prefix("/etc/ssh/sshd_config.d/") else {
            continue;
        };
        if path == SSHD_DROPIN {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let Some((key, _)) = directive(line) else {
                continue;
            };
            let early = name < dropin_name;
            if key == "port"
                || (early
                    && matches!(
                        key.as_str(),
                        "permitrootlogin"
                            | "passwordauthentication"
                            | "kbdinteractiveauthentication"
                    ))
            {
                return Err(HardenError::Refused {
                    message: format!(
                        "{path}:{}: `{}` would decide over vpai's {SSHD_DROPIN}",
                        n + 1,
                        line.trim()
                    ),
                    help: "remove that line (ports come from `ssh_port`; sshd keeps the first value it reads); nothing was changed".into(),
                });
            }
        }
    }
    if !facts.sudo {
        return Err(HardenError::Refused {
            message: "sudo is not installed on the host".into(),
            help: "install it (`apt-get install sudo`): the deploy user runs vpai's commands through `sudo -n`; nothing was changed".into(),
        });
    }
    if !facts.sudoers_includedir {
        return Err(HardenError::Refused {
            message: "/etc/sudoers does not include /etc/sudoers.d".into(),
            help: "add `@includedir /etc/sudoers.d` with `visudo`; nothing was changed".into(),
        });
    }
    if settings.firewall && !facts.nft {
        return Err(HardenError::Refused {
            message: "nftables is not installed on the host".into(),
            help: "install it (`apt-get install nftables`), or set `firewall = false` in [hardening]; nothing was changed".into(),
        });
    }
    Ok(())
}

/// A file change of a transaction: path, mode, owner, content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub path: String,
    pub mode: &'static str,
    pub content: String,
}

fn sshd_writes(facts: &Facts, ports: &[u16]) -> Result<Vec<FileWrite>, HardenError> {
    let mut writes = Vec::new();
    let main = facts.files.get(SSHD_CONFIG).cloned().unwrap_or_default();
    let new_main = main_config(&main)?;
    if new_main != main {
        writes.push(FileWrite {
            path: SSHD_CONFIG.into(),
            mode: "0644",
            content: new_main,
        });
    }
    let dropin = sshd_dropin(ports);
    if facts.files.get(SSHD_DROPIN) != Some(&dropin) {
        writes.push(FileWrite {
            path: SSHD_DROPIN.into(),
            mode: "0644",
            content: dropin,
        });
    }
    if facts.socket {
        let socket = socket_dropin(ports);
        if facts.files.get(SOCKET_DROPIN) != Some(&socket) {
            writes.push(FileWrite {
                path: SOCKET_DROPIN.into(),
                mode: "0644",
                content: socket,
            });
        }
    }
    Ok(writes)
}

/// The unit that loads the firewall at boot, before the network comes up. Docker's
/// rules live in tables of their own: the order between the two does not matter.
pub fn firewall_unit() -> String {
    format!(
        "# Written by vpai harden: loads the firewall at boot, before the network is up.\n\
         [Unit]\n\
         Description=vpai firewall (nftables table inet vpai)\n\
         DefaultDependencies=no\n\
         After=local-fs.target\n\
         Before=network-pre.target shutdown.target\n\
         Wants=network-pre.target\n\
         Conflicts=shutdown.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         ExecStart=/usr/sbin/nft -f {FIREWALL_FILE}\n\
         \n\
         [Install]\n\
         WantedBy=sysinit.target\n"
    )
}

/// The firewall's files that differ from the host's; the rule set alone when they
/// are all in place but the table is not loaded (the transaction loads it).
fn firewall_writes(facts: &Facts, settings: &Settings, ssh: &[u16]) -> Vec<FileWrite> {
    let text = firewall_file(ssh, &settings.open_ports);
    let unit = firewall_unit();
    let mut writes = Vec::new();
    if facts.files.get(FIREWALL_FILE) != Some(&text) || !facts.nft_table {
        writes.push(FileWrite {
            path: FIREWALL_FILE.into(),
            mode: "0644",
            content: text,
        });
    }
    if facts.files.get(FIREWALL_UNIT) != Some(&unit) || !facts.fw_unit_enabled {
        writes.push(FileWrite {
            path: FIREWALL_UNIT.into(),
            mode: "0644",
            content: unit,
        });
    }
    writes
}

fn unified(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a{path}"), &format!("b{path}"))
        .to_string()
}

/// `--check`: what a run would change, read-only (the end state: the old port closed).
pub fn check(host: &dyn Host, settings: &Settings) -> Result<CheckReport, HardenError> {
    let facts = read_facts(host, settings)?;
    preflight(&facts, settings)?;
    let mut changes = Vec::new();
    let user = &settings.deploy_user;
    if !facts.user_exists {
        changes.push(format!("create the user `{user}`"));
    }
    if !facts.key_authorized {
        changes.push(format!(
            "authorize the key `{}` for `{user}` (~{user}/.ssh/authorized_keys)",
            short_key(&settings.public_key)
        ));
    }
    let mut diffs = Vec::new();
    let sudoers_path = format!("/etc/sudoers.d/vpai-{user}");
    let sudoers = sudoers_file(user);
    if facts.sudoers.as_deref() != Some(sudoers.as_str()) {
        diffs.push(FileDiff {
            diff: unified(
                &sudoers_path,
                facts.sudoers.as_deref().unwrap_or(""),
                &sudoers,
            ),
            path: sudoers_path,
        });
    }
    let mut writes = Vec::new();
    if settings.firewall {
        writes.extend(firewall_writes(&facts, settings, &[settings.target_port]));
    }
    writes.extend(sshd_writes(&facts, &[settings.target_port])?);
    for w in writes {
        let old = facts.files.get(&w.path).map(String::as_str).unwrap_or("");
        if old == w.content {
            changes.push(if w.path == FIREWALL_UNIT {
                format!("enable {FIREWALL_UNIT} (the firewall is not loaded at boot)")
            } else {
                format!("load {} (the nftables table is not loaded)", w.path)
            });
            continue;
        }
        diffs.push(FileDiff {
            diff: unified(&w.path, old, &w.content),
            path: w.path,
        });
    }
    let up = crate::upkeep::read_facts(host)?;
    let plan = crate::upkeep::plan(&up, &settings.upkeep());
    if !plan.install.is_empty() {
        changes.push(format!("install {}", plan.install.join(" ")));
    }
    let skipped = plan.skipped.clone();
    for (path, new, old) in [
        (
            crate::upkeep::UPGRADES_FILE,
            &plan.upgrades,
            &up.upgrades_file,
        ),
        (crate::upkeep::JAIL_FILE, &plan.jail, &up.jail_file),
    ] {
        if let Some(new) = new {
            diffs.push(FileDiff {
                diff: unified(path, old.as_deref().unwrap_or(""), new),
                path: path.into(),
            });
        }
    }
    Ok(CheckReport {
        host: host.name().to_string(),
        changes,
        diffs,
        skipped,
    })
}

fn short_key(key: &str) -> String {
    let mut w = key.split_ascii_whitespace();
    let kind = w.next().unwrap_or_default();
    let body = w.next().unwrap_or_default();
    let tail: String = body
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{kind} ...{tail}")
}

// ---------------------------------------------------------------------------------
// Host scripts
// ---------------------------------------------------------------------------------

/// The deploy user, its key and its sudo rule. `$1` user, `$2` key line, `$3` sudoers
/// text. Prints what it changed.
const USER: &str = concat!(
    vpai_host::nofollow_sh!(),
    r#"set -euo pipefail
umask 077
user=$1 key=$2 sudoers=$3
keybody=$(printf '%s' "$key" | awk '{print $2}')
if ! id -u -- "$user" >/dev/null 2>&1; then
  # `*`: no password login, and not a locked account (sshd without PAM refuses those).
  useradd --create-home --shell /bin/bash --no-log-init --password '*' -- "$user"
  echo "user created"
fi
entry=$(getent passwd -- "$user")
home=$(printf '%s' "$entry" | cut -d: -f6)
uid=$(id -u -- "$user"); gid=$(id -g -- "$user")
case $home in /|''|*[!A-Za-z0-9/._-]*) echo "vpai: the home of \`$user\` is \`$home\`: refusing to write its authorized_keys there" >&2; exit 5;; esac
if [ -L "$home" ]; then echo "vpai: \`$home\` is a symbolic link: vpai never writes through a link it did not create" >&2; exit 5; fi
[ -d "$home" ] || install -d -m 0750 -o "$uid" -g "$gid" -- "$home"
vpai_nofollow "$home" .ssh/authorized_keys
install -d -m 0700 -o "$uid" -g "$gid" -- "$home/.ssh"
vpai_nofollow "$home" .ssh/authorized_keys
ak=$home/.ssh/authorized_keys
if [ -e "$ak" ] && [ ! -f "$ak" ]; then echo "vpai: \`$ak\` is not a regular file" >&2; exit 5; fi
if [ -f "$ak" ] && grep -qF -- "$keybody" "$ak"; then
  echo "key present"
else
  tmp=$(mktemp "$home/.ssh/.vpai-XXXXXXXX")
  trap 'rm -f -- "$tmp"' EXIT
  { if [ -s "$ak" ]; then cat -- "$ak"; [ -z "$(tail -c1 -- "$ak")" ] || echo; fi; printf '%s\n' "$key"; } >"$tmp"
  chmod 0600 -- "$tmp"; chown "$uid:$gid" -- "$tmp"
  [ -f "$tmp" ] && [ ! -L "$tmp" ] || { echo "vpai: \`$tmp\` was replaced while vpai wrote it" >&2; exit 5; }
  [ -f "$ak" ] && cp -p -- "$ak" "$ak.vpai-prev"
  mv -fT -- "$tmp" "$ak"
  trap - EXIT
  echo "key added"
fi
chmod 0600 -- "$ak"; chown "$uid:$gid" -- "$ak"
f=/etc/sudoers.d/vpai-$user
vpai_nofollow / etc/sudoers.d/vpai-$user
# A name with a dot: sudo ignores it while it is checked.
tmp=$(mktemp /etc/sudoers.d/.vpai-XXXXXXXX)
trap 'rm -f -- "$tmp"' EXIT
printf '%s' "$sudoers" >"$tmp"
chmod 0440 -- "$tmp"; chown 0:0 -- "$tmp"
if ! out=$(visudo -cqf "$tmp" 2>&1); then echo "vpai: the sudoers rule does not validate: $out" >&2; exit 4; fi
if [ -f "$f" ] && cmp -s -- "$tmp" "$f" && [ "$(stat -c '%a %u %g' -- "$f")" = "440 0 0" ]; then
  echo "sudo present"
else
  [ -f "$f" ] && cp -p -- "$f" "$f.vpai-prev"
  mv -fT -- "$tmp" "$f"
  echo "sudo written"
fi
"#
);

/// Shell functions shared by the transaction and its revert script: put sshd or the
/// firewall in line with the files.
macro_rules! reapply_sh {
    () => {
        r#"vpai_sshd_pid() {
  local f=/run/sshd.pid p
  p=$(sshd -T 2>/dev/null | awk '$1=="pidfile"{print $2}') && [ -n "$p" ] && [ "$p" != none ] && f=$p
  cat -- "$f" 2>/dev/null
}
vpai_sshd_reload() {
  if [ -d /run/systemd/system ]; then
    if [ -e /etc/systemd/system/ssh.socket.d ] && systemctl is-enabled --quiet ssh.socket 2>/dev/null; then
      systemctl daemon-reload && systemctl restart ssh.socket || return 1
    fi
    systemctl reload-or-restart ssh.service 2>/dev/null || systemctl reload-or-restart sshd.service || return 1
  else
    # No systemd: SIGHUP makes the listening sshd exec itself again with the new
    # configuration; a dead one is started.
    local pid; pid=$(vpai_sshd_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -HUP "$pid"; else /usr/sbin/sshd 3>&- || return 1; fi
  fi
}
vpai_fw_restore() {
  nft delete table inet vpai 2>/dev/null || true
  if [ -f "$dir/table.before" ]; then nft -f "$dir/table.before"; fi
  vpai_fw_boot
}
# The boot unit enabled exactly when it exists (what `systemctl enable` makes).
vpai_fw_boot() {
  local unit=/etc/systemd/system/vpai-firewall.service
  local link=/etc/systemd/system/sysinit.target.wants/vpai-firewall.service
  if [ -f "$unit" ]; then
    [ -d "${link%/*}" ] || install -d -m 0755 -- "${link%/*}"
    ln -sfn ../vpai-firewall.service "$link"
  else
    rm -f -- "$link"
  fi
  if [ -d /run/systemd/system ]; then systemctl daemon-reload 2>/dev/null || true; fi
}
"#
    };
}

/// The revert, written into the transaction's directory and run by the timer (or
/// at once): restore every file from the snapshot, then reload what reads them.
/// Serialized with the commit by a lock: whichever comes first wins.
const REVERT: &str = concat!(
    "#!/bin/bash\n# vpai harden: put back what this transaction changed.\nset -u\ntrap '' HUP PIPE\ndir=$(cd -- \"${0%/*}\" && pwd)\n",
    reapply_sh!(),
    r#"exec 9>>"$dir/lock"
flock 9
[ "$(cat -- "$dir/state" 2>/dev/null)" = armed ] || exit 0
echo "reverting at $(date -u +%FT%TZ)" >>"$dir/log"
for m in "$dir"/*.path; do
  [ -e "$m" ] || continue
  n=${m%.path}; path=$(cat -- "$m")
  if [ -f "$n.prev" ]; then
    cp -p -- "$n.prev" "$path.vpai-revert" && mv -fT -- "$path.vpai-revert" "$path"
  else
    rm -f -- "$path"
  fi
done
case $(cat -- "$dir/kind") in
  sshd) vpai_sshd_reload ;;
  firewall) vpai_fw_restore ;;
esac
echo reverted >"$dir/state"
echo "reverted at $(date -u +%FT%TZ)" >>"$dir/log"
"#
);

/// One transaction: `$1` id, `$2` kind (sshd|firewall), `$3` revert delay in seconds,
/// `$4` the ports sshd must listen on after the change (sshd), then groups of
/// path, mode, content. Prints `armed <epoch>` then `applied`, or `vpai:` errors (and
/// `reverted` when it put the previous files back itself).
const TXN: &str = concat!(
    vpai_host::nofollow_sh!(),
    reapply_sh!(),
    r#"set -uo pipefail
# The connection that runs this may die mid-way (that is what the revert is for):
# finish regardless, and say everything at the end.
trap '' HUP PIPE
umask 022
txn=$1 kind=$2 delay=$3 ports=$4; shift 4
case $txn in ''|*[!a-z0-9-]*) echo "vpai: bad transaction id" >&2; exit 2;; esac
base=/var/lib/vpai/harden
vpai_nofollow / var/lib/vpai/harden
mkdir -p -m 0700 -- "$base"
dir=$base/$txn
mkdir -m 0700 -- "$dir" || exit 2
exec 3>&1 >>"$dir/log" 2>&1
trap 'cat -- "$dir/log" >&3 2>/dev/null || true' EXIT
fail() { echo "vpai: $*"; exit 4; }
socket=no
[ -d /run/systemd/system ] && systemctl is-enabled --quiet ssh.socket 2>/dev/null && socket=yes
if command -v ss >/dev/null; then
  listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
else
  listening() { return 0; }
fi
revert_now() { bash "$dir/revert.sh"; cancel; echo "$(cat -- "$dir/state")"; }
cancel() {
  if [ "$(cat -- "$dir/armer" 2>/dev/null)" = systemd ]; then
    systemctl stop "vpai-revert-$txn.timer" 2>/dev/null || true
  else
    local pid; pid=$(cat -- "/run/vpai-revert-$txn.pid" 2>/dev/null) || true
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "vpai-revert-$txn"; then kill -TERM "$pid"; fi
    rm -f -- "/run/vpai-revert-$txn.pid"
  fi
}
echo "$kind" >"$dir/kind"
n=0
while [ $# -ge 3 ]; do
  path=$1 mode=$2 content=$3; shift 3
  vpai_nofollow / "${path#/}"
  if [ -e "$path" ] && [ ! -f "$path" ]; then fail "\`$path\` is not a regular file"; fi
  printf '%s\n' "$path" >"$dir/$n.path"
  [ -f "$path" ] && cp -p -- "$path" "$dir/$n.prev"
  printf '%s' "$content" >"$dir/$n.new"
  echo "$mode" >"$dir/$n.mode"
  n=$((n+1))
done
if [ "$kind" = firewall ]; then
  nft list ruleset >"$dir/ruleset.before" 2>/dev/null || true
  nft list table inet vpai >"$dir/table.before" 2>/dev/null || rm -f -- "$dir/table.before"
fi
cat >"$dir/revert.sh" <<'VPAI_REVERT'
REVERT_SCRIPT
VPAI_REVERT
chmod 0700 "$dir/revert.sh"
# Armed BEFORE anything changes: from here on, whatever happens to this connection,
# the host comes back to the snapshot by itself.
echo armed >"$dir/state"
at=$(( $(date +%s) + delay ))
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then
  systemd-run --quiet --unit="vpai-revert-$txn" --on-active="${delay}s" --timer-property=AccuracySec=1s /bin/bash "$dir/revert.sh" || fail "systemd-run could not arm the revert"
  echo systemd >"$dir/armer"
else
  # No systemd (a container, a minimal VM): a detached sleeper in its own session,
  # holding nothing of this connection (fd 3 would keep it open). TERM cancels it;
  # USR1 reverts now.
  setsid bash -c 'trap "kill \$s 2>/dev/null; exit 0" TERM; trap "kill \$s 2>/dev/null" USR1; sleep "$1" & s=$!; wait $s; exec bash "$2"' "vpai-revert-$txn" "$delay" "$dir/revert.sh" </dev/null >>"$dir/revert.log" 2>&1 3>&- &
  echo $! >"/run/vpai-revert-$txn.pid"
  echo detached >"$dir/armer"
fi
echo "armed $at"
for m in "$dir"/*.path; do
  [ -e "$m" ] || continue
  i=${m%.path}; path=$(cat -- "$m"); mode=$(cat -- "$i.mode")
  d=${path%/*}
  [ -d "$d" ] || install -d -m 0755 -- "$d"
  [ -f "$path" ] && cp -p -- "$path" "$path.vpai-prev"
  tmp=$(mktemp "$d/.vpai-XXXXXXXX")
  cat -- "$i.new" >"$tmp" && chmod "$mode" -- "$tmp" && chown 0:0 -- "$tmp" && mv -fT -- "$tmp" "$path" || { rm -f -- "$tmp"; revert_now; fail "cannot write \`$path\`"; }
done
case $kind in
  sshd)
    if ! out=$(sshd -t 2>&1 || /usr/sbin/sshd -t 2>&1); then revert_now; fail "sshd -t refuses the new configuration: $out"; fi
    eff=$(sshd -T 2>/dev/null || /usr/sbin/sshd -T 2>/dev/null)
    for want in "permitrootlogin no" "passwordauthentication no"; do
      grep -qx -- "$want" <<<"$eff" || { revert_now; fail "sshd's effective configuration does not say \`$want\` (another file decides it)"; }
    done
    if [ $socket = no ] && [ -n "$ports" ]; then
      got=$(awk '$1=="port"{print $2}' <<<"$eff" | sort -n | paste -sd, -)
      [ "$got" = "$ports" ] || { revert_now; fail "sshd would listen on ports $got, not $ports (a Port line elsewhere adds up)"; }
    fi
    vpai_sshd_reload || { revert_now; fail "reloading sshd failed"; }
    # The reload is asynchronous: wait until sshd listens on every port.
    ok=no dead=0
    for _ in $(seq 1 50); do
      sleep 0.1
      pid=$(vpai_sshd_pid)
      if [ -d /run/systemd/system ] || { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }; then
        dead=0
        all=yes
        for p in ${ports//,/ }; do
          listening "$p" || all=no
        done
        [ $all = yes ] && { ok=yes; break; }
      else
        # Gone for a second: it died at the reload, no need to wait any longer.
        dead=$((dead+1)); [ $dead -ge 10 ] && break
      fi
    done
    [ $ok = yes ] || { revert_now; fail "sshd did not come back listening on ports $ports after the reload"; }
    ;;
  firewall)
    if ! out=$(nft -c -f /etc/vpai/firewall.nft 2>&1); then revert_now; fail "nft -c refuses the rule set: $out"; fi
    nft -f /etc/vpai/firewall.nft || { revert_now; fail "nft -f failed"; }
    # The directories only: the link itself is ours (replaced, never followed).
    vpai_nofollow / etc/systemd/system/sysinit.target.wants
    vpai_fw_boot
    ;;
esac
echo applied
"#
);

/// Cancel the revert of a verified transaction (`$1`). Prints `committed`, or the
/// state the revert left (`reverted`: too late).
const COMMIT: &str = r#"set -uo pipefail
txn=$1
case $txn in ''|*[!a-z0-9-]*) exit 2;; esac
dir=/var/lib/vpai/harden/$txn
exec 9>>"$dir/lock"
flock 9
state=$(cat -- "$dir/state" 2>/dev/null)
if [ "$state" != armed ]; then echo "$state"; exit 3; fi
echo committed >"$dir/state"
if [ "$(cat -- "$dir/armer" 2>/dev/null)" = systemd ]; then
  systemctl stop "vpai-revert-$txn.timer" 2>/dev/null || true
else
  pid=$(cat -- "/run/vpai-revert-$txn.pid" 2>/dev/null) || true
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "vpai-revert-$txn"; then kill -TERM "$pid"; fi
  rm -f -- "/run/vpai-revert-$txn.pid"
fi
echo "committed at $(date -u +%FT%TZ)" >>"$dir/log"
echo committed
"#;

/// Revert `$1` now (its check failed and the old connection still works).
const TRIGGER: &str = r#"set -uo pipefail
txn=$1
case $txn in ''|*[!a-z0-9-]*) exit 2;; esac
dir=/var/lib/vpai/harden/$txn
bash "$dir/revert.sh"
if [ "$(cat -- "$dir/armer" 2>/dev/null)" = systemd ]; then
  systemctl stop "vpai-revert-$txn.timer" 2>/dev/null || true
else
  pid=$(cat -- "/run/vpai-revert-$txn.pid" 2>/dev/null) || true
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "vpai-revert-$txn"; then kill -TERM "$pid"; fi
  rm -f -- "/run/vpai-revert-$txn.pid"
fi
cat -- "$dir/state"
"#;

fn txn_script() -> String {
    TXN.replace("REVERT_SCRIPT\n", REVERT)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `HH:MM:SS` (UTC) of an epoch second.
pub fn clock(epoch: u64) -> String {
    let s = epoch % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

// ---------------------------------------------------------------------------------
// The fresh login that proves a change
// ---------------------------------------------------------------------------------

/// Logs in over a fresh, non-multiplexed connection (never the master: it would prove
/// nothing about a new login) and runs `sudo -n true`.
#[derive(Debug, Clone)]
pub struct Login {
    /// Address, identity, known_hosts and options of the host (user and port are set
    /// per check).
    pub target: SshTarget,
    /// The name the host's key is known under for the current connection: the key
    /// does not change with the port, and a new port has no known_hosts entry yet.
    pub host_key_alias: Option<String>,
    pub timeout: Duration,
}

impl Login {
    pub fn check(&self, user: &str, port: u16) -> Result<(), String> {
        let mut cmd = Command::new("ssh");
        vpai_host::scrub_env(&mut cmd);
        let secs = self.timeout.as_secs().max(1);
        cmd.args([
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectionAttempts=1",
            "-o",
            "LogLevel=ERROR",
            "-o",
        ])
        .arg(format!("ConnectTimeout={secs}"))
        .arg("-p")
        .arg(port.to_string())
        .arg("-l")
        .arg(user);
        if let Some(id) = &self.target.identity {
            cmd.arg("-i").arg(id).args(["-o", "IdentitiesOnly=yes"]);
        }
        if let Some(kh) = &self.target.known_hosts {
            cmd.arg("-o")
                .arg(format!("UserKnownHostsFile={}", kh.display()));
        }
        if let Some(alias) = &self.host_key_alias {
            cmd.arg("-o").arg(format!("HostKeyAlias={alias}"));
        }
        for (k, v) in &self.target.options {
            cmd.arg("-o").arg(format!("{k}={v}"));
        }
        cmd.args(["-T", "--"])
            .arg(&self.target.address)
            .args(["sudo", "-n", "true"]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot start ssh: {e}"))?;
        // A connection that hangs after the TCP handshake: cut it, the revert is ticking.
        let deadline = Instant::now() + self.timeout * 2 + Duration::from_secs(1);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    if status.success() {
                        return Ok(());
                    }
                    let first = err
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .unwrap_or("ssh failed")
                        .to_string();
                    return Err(first);
                }
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("the login did not finish in time".into());
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// The name ssh looks the host's key up under for `address` on `port` (what `ssh -G`
/// resolves: HostKeyAlias, else HostName, with `[..]:port` off port 22).
pub fn known_host_name(target: &SshTarget, port: u16) -> Option<String> {
    let mut cmd = Command::new("ssh");
    vpai_host::scrub_env(&mut cmd);
    cmd.arg("-G").arg("-p").arg(port.to_string());
    for (k, v) in &target.options {
        cmd.arg("-o").arg(format!("{k}={v}"));
    }
    let out = cmd.arg("--").arg(&target.address).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
    };
    if let Some(alias) = get("hostkeyalias ") {
        return Some(alias);
    }
    let name = get("hostname ").unwrap_or_else(|| target.address.clone());
    Some(if port == 22 {
        name
    } else {
        format!("[{name}]:{port}")
    })
}

// ---------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------

/// Hooks of a run: progress lines.
pub struct Hooks<'a> {
    pub progress: &'a dyn Fn(&str),
}

struct Run<'a> {
    host: &'a dyn Host,
    settings: &'a Settings,
    login: &'a Login,
    hooks: &'a Hooks<'a>,
    steps: Vec<StepReport>,
    seq: u32,
}

impl Run<'_> {
    fn txn_id(&mut self, kind: &str) -> String {
        self.seq += 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "{kind}-{}-{}-{}-{nanos}",
            now(),
            std::process::id(),
            self.seq
        )
    }

    /// Apply `writes` as one transaction, then prove it with a fresh login.
    fn transaction(
        &mut self,
        step: &str,
        kind: &str,
        writes: &[FileWrite],
        listen: &[u16],
        verify_port: u16,
    ) -> Result<(), HardenError> {
        (self.hooks.progress)(&format!(
            "{step}: applying (revert armed for {} s)",
            self.settings.revert_after.as_secs()
        ));
        let txn = self.txn_id(kind);
        let delay = self.settings.revert_after.as_secs().to_string();
        let ports = sorted(listen.iter().copied())
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let script = txn_script();
        let mut args: Vec<&str> = vec![
            "bash",
            "-c",
            &script,
            "vpai-harden-txn",
            &txn,
            kind,
            &delay,
            &ports,
        ];
        for w in writes {
            args.extend([w.path.as_str(), w.mode, w.content.as_str()]);
        }
        let started = now();
        let armed_guess = RevertState::Armed {
            at: started + self.settings.revert_after.as_secs(),
        };
        let out = match self.host.run(&args, None) {
            Ok(out) => out,
            Err(e) => {
                // The connection died mid-way: the revert may be armed.
                return Err(HardenError::Failed {
                    step: step.into(),
                    message: format!("the connection was lost during the change: {e}"),
                    revert: armed_guess,
                });
            }
        };
        let text = out.stdout_text();
        let armed_at = text
            .lines()
            .find_map(|l| l.strip_prefix("armed "))
            .and_then(|s| s.trim().parse::<u64>().ok());
        if !out.success() || !text.lines().any(|l| l == "applied") {
            let message = text
                .lines()
                .filter_map(|l| l.strip_prefix("vpai: "))
                .collect::<Vec<_>>()
                .join("; ");
            let message = if message.is_empty() {
                format!("{}{}", text.trim(), out.stderr_text().trim())
            } else {
                message
            };
            let revert = if text.lines().any(|l| l == "reverted") {
                RevertState::Reverted
            } else if let Some(at) = armed_at {
                RevertState::Armed { at }
            } else {
                RevertState::NotNeeded
            };
            return Err(HardenError::Failed {
                step: step.into(),
                message,
                revert,
            });
        }
        let at = armed_at.unwrap_or(started + self.settings.revert_after.as_secs());
        (self.hooks.progress)(&format!(
            "{step}: checking a fresh login as `{}` on port {verify_port} with `sudo -n true`",
            self.settings.deploy_user
        ));
        if let Err(why) = self.login.check(&self.settings.deploy_user, verify_port) {
            let message = format!(
                "a fresh login as `{}` on port {verify_port} failed: {why}",
                self.settings.deploy_user
            );
            // The old connection still works: revert now rather than at the timer
            // (which stays armed if this fails too).
            let revert = match self
                .host
                .run(&["bash", "-c", TRIGGER, "vpai-harden-revert", &txn], None)
            {
                Ok(o) if o.stdout_text().trim().ends_with("reverted") => RevertState::Reverted,
                _ => RevertState::Armed { at },
            };
            return Err(HardenError::Failed {
                step: step.into(),
                message,
                revert,
            });
        }
        let out = self
            .host
            .run(&["bash", "-c", COMMIT, "vpai-harden-commit", &txn], None);
        match out {
            Ok(o) if o.success() => {}
            Ok(o) => {
                return Err(HardenError::Failed {
                    step: step.into(),
                    message: format!(
                        "the change was proven too late: the host already reverted it ({})",
                        o.stdout_text().trim()
                    ),
                    revert: RevertState::Reverted,
                });
            }
            Err(e) => {
                return Err(HardenError::Failed {
                    step: step.into(),
                    message: format!("the revert could not be cancelled: {e}"),
                    revert: RevertState::Armed { at },
                });
            }
        }
        self.steps.push(StepReport {
            step: step.into(),
            changed: true,
            detail: writes
                .iter()
                .map(|w| w.path.clone())
                .collect::<Vec<_>>()
                .join(", "),
        });
        (self.hooks.progress)(&format!("{step}: done, revert cancelled"));
        Ok(())
    }

    fn unchanged(&mut self, step: &str, detail: &str) {
        self.steps.push(StepReport {
            step: step.into(),
            changed: false,
            detail: detail.into(),
        });
    }
}

/// Harden the host the way the module comment says.
pub fn run(
    host: &dyn Host,
    settings: &Settings,
    login: &Login,
    hooks: &Hooks,
) -> Result<Report, HardenError> {
    let mut facts = read_facts(host, settings)?;
    (hooks.progress)(&format!(
        "{}: {}{}{}",
        host.name(),
        facts.sshd_version,
        if facts.socket {
            ", started by ssh.socket"
        } else {
            ""
        },
        if facts.systemd { "" } else { ", no systemd" }
    ));
    preflight(&facts, settings)?;
    let mut run = Run {
        host,
        settings,
        login,
        hooks,
        steps: Vec::new(),
        seq: 0,
    };
    let user = &settings.deploy_user;
    let (cur, new) = (settings.current_port, settings.target_port);

    // (a) The deploy user, its key, its sudo rule: nothing here takes access away.
    let sudoers = sudoers_file(user);
    if !facts.user_exists || !facts.key_authorized || facts.sudoers.as_deref() != Some(&sudoers) {
        (hooks.progress)(&format!(
            "deploy user: `{user}` with the key and passwordless sudo"
        ));
        let out = host.run(
            &[
                "bash",
                "-c",
                USER,
                "vpai-harden-user",
                user,
                &settings.public_key,
                &sudoers,
            ],
            None,
        )?;
        if !out.success() {
            return Err(HardenError::Failed {
                step: "deploy user".into(),
                message: out
                    .stderr_text()
                    .trim()
                    .trim_start_matches("vpai: ")
                    .to_string(),
                revert: RevertState::NotNeeded,
            });
        }
        run.steps.push(StepReport {
            step: "deploy user".into(),
            changed: true,
            detail: out.stdout_text().trim().replace('\n', ", "),
        });
    } else {
        run.unchanged("deploy user", "user, key and sudo rule present");
    }
    (hooks.progress)(&format!(
        "deploy user: checking a fresh login as `{user}` on port {cur} with `sudo -n true`"
    ));
    if let Err(why) = login.check(user, cur) {
        return Err(HardenError::Failed {
            step: "deploy user".into(),
            message: format!("a fresh login as `{user}` on port {cur} failed: {why}"),
            revert: RevertState::NotNeeded,
        });
    }

    // (b) The firewall, with both SSH ports open.
    if settings.firewall {
        let writes = firewall_writes(&facts, settings, &[cur, new]);
        if writes.is_empty() {
            run.unchanged("firewall", "table inet vpai loaded, file unchanged");
        } else {
            run.transaction("firewall", "firewall", &writes, &[], cur)?;
            for w in &writes {
                facts.files.insert(w.path.clone(), w.content.clone());
            }
            facts.nft_table = true;
            facts.fw_unit_enabled = true;
        }
    }

    // (c) sshd on both ports, root login and passwords off.
    let both = sorted([cur, new]);
    let writes = sshd_writes(&facts, &both)?;
    if writes.is_empty() {
        run.unchanged("sshd", "root login and passwords off, ports unchanged");
    } else {
        run.transaction("sshd", "sshd", &writes, &both, new)?;
        for w in &writes {
            facts.files.insert(w.path.clone(), w.content.clone());
        }
    }

    // (d) The old port closed: in sshd, then in the firewall.
    if cur != new {
        let writes = sshd_writes(&facts, &[new])?;
        if !writes.is_empty() {
            run.transaction("sshd: close the old port", "sshd", &writes, &[new], new)?;
            for w in &writes {
                facts.files.insert(w.path.clone(), w.content.clone());
            }
        }
        if settings.firewall {
            let writes = firewall_writes(&facts, settings, &[new]);
            if !writes.is_empty() {
                run.transaction(
                    "firewall: close the old port",
                    "firewall",
                    &writes,
                    &[],
                    new,
                )?;
            }
        }
    }
    // (e) Security updates and fail2ban: neither takes access away.
    let facts = crate::upkeep::read_facts(host)?;
    let plan = crate::upkeep::plan(&facts, &settings.upkeep());
    if plan != crate::upkeep::UpkeepPlan::default() {
        (hooks.progress)("updates and fail2ban");
    }
    for why in &plan.skipped {
        run.steps.push(StepReport {
            step: "skipped".into(),
            changed: false,
            detail: why.clone(),
        });
    }
    let done = crate::upkeep::apply(host, &plan)?;
    if done.is_empty() && (settings.upgrades || settings.fail2ban) && plan.skipped.is_empty() {
        run.unchanged("updates and fail2ban", "in place");
    }
    run.steps.extend(done);
    let changed = run.steps.iter().any(|s| s.changed);
    Ok(Report {
        host: host.name().to_string(),
        changed,
        steps: run.steps,
        ssh_port: new,
        deploy_user: user.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_goes_first_and_ports_are_commented() {
        let text = "# comment\nPort 22\nPermitRootLogin yes\nInclude /etc/ssh/sshd_config.d/*.conf\nMatch User x\n  X11Forwarding no\n";
        let out = main_config(text).unwrap();
        let directives: Vec<&str> = out
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect();
        assert_eq!(directives[0], INCLUDE);
        assert!(out.contains("# vpai: Port 22\n"));
        assert!(out.contains("# vpai: Include /etc/ssh/sshd_config.d/*.conf\n"));
        assert_eq!(main_config(&out).unwrap(), out, "idempotent");
        // Debian's stock file is left alone.
        let debian = "# header\n\nInclude /etc/ssh/sshd_config.d/*.conf\n\n#Port 22\nKbdInteractiveAuthentication no\n";
        assert_eq!(main_config(debian).unwrap(), debian);
        assert!(main_config("ListenAddress 0.0.0.0:22\n").is_err());
        main_config("ListenAddress ::\nListenAddress 10.0.0.1\n").unwrap();
    }

    fn facts_with(effective: &[(&str, &str)]) -> Facts {
        Facts {
            sudo: true,
            sudoers_includedir: true,
            nft: true,
            effective: effective
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            files: BTreeMap::from([(
                SSHD_CONFIG.to_string(),
                "Include /etc/ssh/sshd_config.d/*.conf\nAllowUsers root admin@10.0.0.*\n"
                    .to_string(),
            )]),
            ..Facts::default()
        }
    }

    fn settings() -> Settings {
        Settings {
            deploy_user: "vpai".into(),
            public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA k".into(),
            revert_after: Duration::from_secs(60),
            firewall: true,
            open_ports: vec![80, 443],
            current_port: 22,
            target_port: 2222,
            upgrades: true,
            fail2ban: true,
            never_ban: Vec::new(),
        }
    }

    #[test]
    fn allow_users_without_the_deploy_user_is_refused_naming_the_file() {
        let err = preflight(
            &facts_with(&[("allowusers", "root"), ("allowusers", "admin@10.0.0.*")]),
            &settings(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("AllowUsers"), "{err}");
        assert!(err.contains("/etc/ssh/sshd_config:2"), "{err}");
        preflight(
            &facts_with(&[("allowusers", "root"), ("allowusers", "vp*")]),
            &settings(),
        )
        .unwrap();
        assert!(preflight(&facts_with(&[("denygroups", "vpai")]), &settings()).is_err());
    }

    #[test]
    fn an_earlier_dropin_that_decides_is_refused() {
        let mut f = facts_with(&[]);
        f.files.insert(
            "/etc/ssh/sshd_config.d/00-aaa.conf".into(),
            "PasswordAuthentication yes\n".into(),
        );
        assert!(preflight(&f, &settings()).is_err());
        let mut f = facts_with(&[]);
        f.files.insert(
            "/etc/ssh/sshd_config.d/50-cloud-init.conf".into(),
            "PasswordAuthentication yes\n".into(),
        );
        preflight(&f, &settings()).unwrap();
    }

    #[test]
    fn files() {
        let fw = firewall_file(&[2222, 22], &[443, 80, 22]);
        assert!(
            fw.contains("tcp dport { 22, 80, 443, 2222 } accept"),
            "{fw}"
        );
        assert!(fw.contains("policy drop"));
        assert!(fw.contains("\tudp dport 443 accept\n"), "{fw}");
        // Published ports: the open ones only, SSH is not a container's.
        assert!(fw.contains("ct original proto-dst 443 accept"), "{fw}");
        assert!(!fw.contains("ct original proto-dst 2222"), "{fw}");
        assert!(fw.ends_with("\t\tct status dnat drop\n\t}\n}\n"), "{fw}");
        let no_web = firewall_file(&[22], &[]);
        assert!(!no_web.contains("udp dport 443"), "{no_web}");
        let d = sshd_dropin(&[2222, 22]);
        assert!(d.contains("Port 22\nPort 2222\nPermitRootLogin no\n"));
        assert!(socket_dropin(&[22]).contains("ListenStream=\nListenStream=22\n"));
        assert!(sudoers_file("vpai").contains("vpai ALL=(ALL:ALL) NOPASSWD: ALL\n"));
    }

    #[test]
    fn the_revert_script_is_embedded_whole() {
        let s = txn_script();
        assert!(!s.contains("REVERT_SCRIPT"));
        assert!(s.contains("vpai_fw_restore ;;"));
        assert_eq!(b64_decode("aGVsbG8K").as_deref(), Some("hello\n"));
        assert!(glob("vp*", "vpai") && glob("v?ai", "vpai") && !glob("root", "vpai"));
    }
}
