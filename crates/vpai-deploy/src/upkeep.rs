//! The host's security upkeep, the last step of `vpai harden`: security updates that
//! install themselves (unattended-upgrades, the distribution's own security origins)
//! and fail2ban on the SSH port. Neither takes access away from the operator's key
//! (fail2ban bans an address after failed logins; loopback and the VPN ranges are never
//! banned), so they are plain steps rather than transactions: each file is written
//! atomically, checked where it lands by the tool that reads it (`apt-config dump`,
//! `fail2ban-client -t`), and put back as it was when the check fails.
//!
//! Debian 12 and later log to the journal only: fail2ban's default `sshd` jail finds
//! no `/var/log/auth.log` there and the service does not start. The jail names its
//! backend from what the host has (the journal through python3-systemd, or the log
//! file), and installs python3-systemd where systemd runs without it.

use crate::harden::{HardenError, StepReport};
use vpai_host::Host;

/// Ours, read after the distribution's `20auto-upgrades` and `50unattended-upgrades`.
pub const UPGRADES_FILE: &str = "/etc/apt/apt.conf.d/52vpai-upgrades";
pub const JAIL_FILE: &str = "/etc/fail2ban/jail.d/vpai.local";

/// What `[hardening]` asks of the upkeep.
#[derive(Debug, Clone)]
pub struct UpkeepSettings {
    pub upgrades: bool,
    pub fail2ban: bool,
    /// The port sshd ends on.
    pub ssh_port: u16,
    /// Never banned besides loopback: the VPN ranges (validated CIDRs).
    pub never_ban: Vec<String>,
}

/// What the host has for the upkeep, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpkeepFacts {
    pub apt: bool,
    pub unattended: bool,
    pub fail2ban: bool,
    /// python3-systemd: fail2ban can read the journal.
    pub journal: bool,
    pub authlog: bool,
    pub systemd: bool,
    pub upgrades_file: Option<String>,
    pub jail_file: Option<String>,
}

const FACTS: &str = r#"set -uo pipefail
b64() { base64 -w0 <"$1"; echo; }
command -v apt-get >/dev/null && echo apt
command -v unattended-upgrade >/dev/null && echo unattended
command -v fail2ban-client >/dev/null && echo fail2ban
python3 -c 'import systemd.journal' >/dev/null 2>&1 && echo journal
[ -f /var/log/auth.log ] && echo authlog
[ -d /run/systemd/system ] && echo systemd
for f in /etc/apt/apt.conf.d/52vpai-upgrades /etc/fail2ban/jail.d/vpai.local; do
  [ -f "$f" ] && [ ! -L "$f" ] && echo "file $f $(b64 "$f")"
done
echo end
"#;

pub fn read_facts(host: &dyn Host) -> Result<UpkeepFacts, HardenError> {
    let out = host.run(&["bash", "-c", FACTS, "vpai-upkeep-facts"], None)?;
    let text = out.stdout_text();
    if !text.lines().any(|l| l == "end") {
        return Err(HardenError::Refused {
            message: format!(
                "cannot read what the host has for updates and fail2ban: {}",
                out.stderr_text().trim()
            ),
            help: "the host needs bash and coreutils".into(),
        });
    }
    let mut f = UpkeepFacts::default();
    for line in text.lines() {
        match line {
            "apt" => f.apt = true,
            "unattended" => f.unattended = true,
            "fail2ban" => f.fail2ban = true,
            "journal" => f.journal = true,
            "authlog" => f.authlog = true,
            "systemd" => f.systemd = true,
            _ => {
                if let Some((path, data)) =
                    line.strip_prefix("file ").and_then(|r| r.split_once(' '))
                {
                    let content = crate::harden::b64_decode(data);
                    match path {
                        UPGRADES_FILE => f.upgrades_file = content,
                        JAIL_FILE => f.jail_file = content,
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(f)
}

pub fn upgrades_file() -> String {
    "// Written by vpai harden: the package lists are refreshed and security updates\n\
     // installed every day (the origins are the distribution's, in 50unattended-upgrades).\n\
     APT::Periodic::Update-Package-Lists \"1\";\n\
     APT::Periodic::Unattended-Upgrade \"1\";\n"
        .to_string()
}

pub fn jail_file(port: u16, backend: &str, never_ban: &[String]) -> String {
    let mut ignore = vec!["127.0.0.1/8".to_string(), "::1".to_string()];
    ignore.extend(never_ban.iter().cloned());
    format!(
        "# Written by vpai harden: an address that fails to log in over SSH 5 times in\n\
         # 10 minutes is banned for an hour; loopback and the VPN never are.\n\
         [sshd]\n\
         enabled = true\n\
         port = {port}\n\
         backend = {backend}\n\
         maxretry = 5\n\
         findtime = 10m\n\
         bantime = 1h\n\
         ignoreip = {}\n",
        ignore.join(" ")
    )
}

/// What a run does, decided from the facts (pure).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpkeepPlan {
    /// Distribution packages to install first.
    pub install: Vec<&'static str>,
    /// The upgrades file when it differs.
    pub upgrades: Option<String>,
    /// The jail when it differs.
    pub jail: Option<String>,
    /// What is left out, and why.
    pub skipped: Vec<String>,
}

pub fn plan(facts: &UpkeepFacts, settings: &UpkeepSettings) -> UpkeepPlan {
    let mut p = UpkeepPlan::default();
    let need = |pkg: &'static str, what: &str, p: &mut UpkeepPlan| -> bool {
        if facts.apt {
            p.install.push(pkg);
            true
        } else {
            p.skipped.push(format!(
                "{what}: `{pkg}` is not installed and the host has no apt-get: install it, or turn it off in [hardening]"
            ));
            false
        }
    };
    if settings.upgrades && (facts.unattended || need("unattended-upgrades", "upgrades", &mut p)) {
        let text = upgrades_file();
        if facts.upgrades_file.as_deref() != Some(&text) {
            p.upgrades = Some(text);
        }
    }
    if settings.fail2ban {
        let backend = if facts.journal {
            Some("systemd")
        } else if facts.authlog {
            Some("auto")
        } else if facts.systemd && need("python3-systemd", "fail2ban", &mut p) {
            Some("systemd")
        } else {
            if !facts.systemd {
                p.skipped.push(
                    "fail2ban: the host has neither a journal fail2ban can read nor /var/log/auth.log".into(),
                );
            }
            None
        };
        if let Some(backend) = backend
            && (facts.fail2ban || need("fail2ban", "fail2ban", &mut p))
        {
            let text = jail_file(settings.ssh_port, backend, &settings.never_ban);
            if facts.jail_file.as_deref() != Some(&text) {
                p.jail = Some(text);
            }
        }
    }
    p
}

/// `$1` packages to install (space-separated, or empty), `$2` the upgrades file or
/// `-`, `$3` the jail or `-`. Prints what it did, one line each.
const APPLY: &str = concat!(
    vpai_host::nofollow_sh!(),
    r#"set -euo pipefail
umask 022
pkgs=$1 upgrades=$2 jail=$3
if [ -n "$pkgs" ]; then
  export DEBIAN_FRONTEND=noninteractive
  read -ra list <<<"$pkgs"
  if ! out=$(apt-get update -q 2>&1 && apt-get install -y -q --no-install-recommends -- "${list[@]}" 2>&1); then
    echo "vpai: apt-get install $pkgs failed: $(tail -3 <<<"$out")" >&2; exit 4
  fi
  echo "installed $pkgs"
fi
# Write $1 with $2, check it with the rest of the arguments; put the previous back
# when the check fails.
put() {
  local path=$1 content=$2 d tmp out; shift 2
  d=${path%/*}
  vpai_nofollow / "${path#/}"
  [ -d "$d" ] || install -d -m 0755 -- "$d"
  if [ -e "$path" ] && [ ! -f "$path" ]; then echo "vpai: \`$path\` is not a regular file" >&2; exit 5; fi
  [ -f "$path" ] && cp -p -- "$path" "$path.vpai-prev"
  tmp=$(mktemp "$d/.vpai-XXXXXXXX")
  printf '%s' "$content" >"$tmp" && chmod 0644 -- "$tmp" && chown 0:0 -- "$tmp" && mv -fT -- "$tmp" "$path"
  if ! out=$("$@" 2>&1); then
    if [ -f "$path.vpai-prev" ]; then mv -fT -- "$path.vpai-prev" "$path"; else rm -f -- "$path"; fi
    echo "vpai: \`$*\` refuses \`$path\` (put back as it was): $(tail -3 <<<"$out")" >&2; exit 4
  fi
  echo "wrote $path"
}
if [ "$upgrades" != - ]; then put /etc/apt/apt.conf.d/52vpai-upgrades "$upgrades" apt-config dump; fi
if [ "$jail" != - ]; then
  put /etc/fail2ban/jail.d/vpai.local "$jail" fail2ban-client -t
  if [ -d /run/systemd/system ]; then
    systemctl enable --quiet fail2ban 2>/dev/null || true
    if systemctl is-active --quiet fail2ban; then systemctl reload fail2ban || systemctl restart fail2ban; else systemctl start fail2ban; fi
    echo "fail2ban running"
  else
    echo "fail2ban not started: no systemd"
  fi
fi
"#
);

/// Apply the plan; the steps it reports.
pub fn apply(host: &dyn Host, plan: &UpkeepPlan) -> Result<Vec<StepReport>, HardenError> {
    let mut steps = Vec::new();
    if plan.install.is_empty() && plan.upgrades.is_none() && plan.jail.is_none() {
        return Ok(steps);
    }
    let pkgs = plan.install.join(" ");
    let out = host.run(
        &[
            "bash",
            "-c",
            APPLY,
            "vpai-harden-upkeep",
            &pkgs,
            plan.upgrades.as_deref().unwrap_or("-"),
            plan.jail.as_deref().unwrap_or("-"),
        ],
        None,
    )?;
    if !out.success() {
        return Err(HardenError::Failed {
            step: "updates and fail2ban".into(),
            message: out.stderr_text().trim().to_string(),
            revert: crate::harden::RevertState::NotNeeded,
        });
    }
    let said = out.stdout_text();
    for line in said.lines() {
        let (step, changed, detail) = if let Some(p) = line.strip_prefix("installed ") {
            ("packages", true, format!("installed {p}"))
        } else if line == format!("wrote {UPGRADES_FILE}") {
            (
                "upgrades",
                true,
                "security updates install themselves daily".to_string(),
            )
        } else if line == format!("wrote {JAIL_FILE}") {
            (
                "fail2ban",
                true,
                "sshd jail written and checked".to_string(),
            )
        } else if let Some(rest) = line.strip_prefix("fail2ban ") {
            ("fail2ban", rest == "running", rest.to_string())
        } else {
            continue;
        };
        steps.push(StepReport {
            step: step.into(),
            changed,
            detail,
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> UpkeepSettings {
        UpkeepSettings {
            upgrades: true,
            fail2ban: true,
            ssh_port: 2222,
            never_ban: vec!["100.64.0.0/10".into()],
        }
    }

    #[test]
    fn the_jail_reads_what_the_host_logs_to() {
        let debian12 = UpkeepFacts {
            apt: true,
            systemd: true,
            ..Default::default()
        };
        let p = plan(&debian12, &settings());
        assert_eq!(
            p.install,
            ["unattended-upgrades", "python3-systemd", "fail2ban"]
        );
        let jail = p.jail.unwrap();
        assert!(jail.contains("backend = systemd\n"), "{jail}");
        assert!(jail.contains("port = 2222\n"), "{jail}");
        assert!(
            jail.contains("ignoreip = 127.0.0.1/8 ::1 100.64.0.0/10\n"),
            "{jail}"
        );
        let syslog = UpkeepFacts {
            apt: true,
            unattended: true,
            fail2ban: true,
            authlog: true,
            ..Default::default()
        };
        let p = plan(&syslog, &settings());
        assert!(p.install.is_empty());
        assert!(p.jail.unwrap().contains("backend = auto\n"));
    }

    #[test]
    fn in_place_means_nothing_to_do_and_missing_tools_are_said() {
        let mut facts = UpkeepFacts {
            apt: true,
            unattended: true,
            fail2ban: true,
            journal: true,
            systemd: true,
            upgrades_file: Some(upgrades_file()),
            ..Default::default()
        };
        facts.jail_file = Some(jail_file(2222, "systemd", &settings().never_ban));
        assert_eq!(plan(&facts, &settings()), UpkeepPlan::default());
        let bare = UpkeepFacts::default();
        let p = plan(&bare, &settings());
        assert!(p.install.is_empty() && p.upgrades.is_none() && p.jail.is_none());
        assert_eq!(p.skipped.len(), 2, "{:?}", p.skipped);
        let off = UpkeepSettings {
            upgrades: false,
            fail2ban: false,
            ..settings()
        };
        assert_eq!(plan(&bare, &off), UpkeepPlan::default());
    }
}
