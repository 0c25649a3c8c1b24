//! Preflight: can this host run this stack? One read-only command gathers the facts
//! (OS, memory, disk, Docker and Compose, ports 80/443, DNS of every subdomain with
//! `getent hosts` — never `dig`, which a minimal host lacks —, clock sync); the checks
//! are made here, and every failure says how to fix it.

use serde::Serialize;
use std::collections::BTreeMap;
use vpai_host::{Host, HostError};
use vpai_model::Stack;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub level: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub host: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.level != Level::Error)
    }
}

/// `$1` root, `$2` caddy container, then `--ports p...`, then fqdns. Prints `key value`.
const FACTS: &str = r#"root=$1 caddy=$2; shift 2
ports=(); while [ $# -gt 0 ] && [ "$1" != -- ]; do ports+=("$1"); shift; done; shift || true
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os ${ID:-?} ${VERSION_ID:-?} ${PRETTY_NAME:-}"; fi
awk '/^MemTotal:/ {print "mem_total_kb " $2} /^MemAvailable:/ {print "mem_avail_kb " $2}' /proc/meminfo
d=$root; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "disk_avail_kb $(df -Pk "$d" | awk 'NR==2 {print $4}') $d"
if command -v docker >/dev/null 2>&1; then
  v=$(docker version --format '{{.Server.Version}}' 2>&1) && echo "docker ok $v" || echo "docker down $(printf '%s' "$v" | head -1)"
  c=$(docker compose version --short 2>/dev/null) && echo "compose ok $c" || echo "compose missing"
  [ "$(docker inspect -f '{{.State.Running}}' "$caddy" 2>/dev/null)" = true ] && echo "caddy running"
else
  echo "docker missing"
fi
if command -v ss >/dev/null 2>&1; then
  for p in "${ports[@]}"; do
    if ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "port $p busy"; else echo "port $p free"; fi
  done
fi
echo "addrs $(hostname -I 2>/dev/null)"
for f in "$@"; do echo "dns $f $(getent ahostsv4 "$f" 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ')"; done
if command -v timedatectl >/dev/null 2>&1; then
  echo "ntp $(timedatectl show -p NTPSynchronized --value 2>/dev/null || echo unknown)"
else
  echo "ntp unknown"
fi
echo "time $(date -u +%s)"
"#;

/// Gather the facts and check them. Read-only.
pub fn run(host: &dyn Host, stack: &Stack) -> Result<Report, HostError> {
    let root = stack.root.display().to_string();
    let caddy = stack
        .service("caddy")
        .map(|s| s.container_name.clone())
        .unwrap_or_default();
    let ports = [stack.http_port.to_string(), stack.https_port.to_string()];
    let mut fqdns: Vec<String> = Vec::new();
    if stack.tls == "acme" {
        fqdns.push(stack.domain.clone());
        fqdns.extend(stack.services.iter().filter_map(|s| s.fqdn.clone()));
    }
    let mut args = vec!["bash", "-c", FACTS, "vpai-preflight", &root, &caddy];
    args.extend(ports.iter().map(String::as_str));
    args.push("--");
    args.extend(fqdns.iter().map(String::as_str));
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let out = host.run(&args, None)?;
    let facts = parse(&out.stdout_text());
    Ok(Report {
        host: host.name().to_string(),
        checks: evaluate(stack, &facts, sent_at),
    })
}

/// `key` -> the rest of each line (keys may repeat: `port`, `dns`).
fn parse(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut facts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        facts.entry(k.to_string()).or_default().push(v.to_string());
    }
    facts
}

fn evaluate(stack: &Stack, facts: &BTreeMap<String, Vec<String>>, sent_at: u64) -> Vec<Check> {
    let mut checks = Vec::new();
    let first = |k: &str| facts.get(k).and_then(|v| v.first()).cloned();
    let mut add = |name: &str, level: Level, message: String, fix: Option<&str>| {
        checks.push(Check {
            name: name.to_string(),
            level,
            message,
            fix: fix.map(str::to_string),
        })
    };

    // OS
    match first("os") {
        Some(os) => {
            let mut it = os.splitn(3, ' ');
            let (id, ver) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            let pretty = it.next().unwrap_or("").to_string();
            let supported = matches!(
                (id, ver),
                ("debian", "12") | ("debian", "13") | ("ubuntu", "22.04") | ("ubuntu", "24.04")
            );
            if supported {
                add("os", Level::Ok, pretty, None);
            } else {
                add(
                    "os",
                    Level::Warning,
                    format!("{pretty}: not a tested system"),
                    Some("vpai is tested on Debian 12/13 and Ubuntu 22.04/24.04"),
                );
            }
        }
        None => add(
            "os",
            Level::Warning,
            "no /etc/os-release".into(),
            Some("vpai is tested on Debian 12/13 and Ubuntu 22.04/24.04"),
        ),
    }

    // Memory against the sum of the stack's limits.
    let need: u64 = stack
        .services
        .iter()
        .filter_map(|s| vpai_spec::parse_memory(&s.memory))
        .sum();
    let kb = |k: &str| {
        first(k)
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|n| n * 1024)
    };
    if let Some(total) = kb("mem_total_kb") {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        if need > total {
            add(
                "memory",
                Level::Error,
                format!(
                    "the services' limits add up to {:.1} GiB, the host has {:.1} GiB",
                    gib(need),
                    gib(total)
                ),
                Some(
                    "lower `memory` of some services in stack.toml, disable some, or use a larger host",
                ),
            );
        } else {
            add(
                "memory",
                Level::Ok,
                format!(
                    "{:.1} GiB for limits adding up to {:.1} GiB",
                    gib(total),
                    gib(need)
                ),
                None,
            );
        }
    }

    // Disk where the root lives (images and data come on top of the files).
    if let Some(disk) = first("disk_avail_kb") {
        let mut it = disk.split_whitespace();
        let avail = it.next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) * 1024;
        let on = it.next().unwrap_or("/").to_string();
        let gib = avail as f64 / (1u64 << 30) as f64;
        if avail < 2 << 30 {
            add(
                "disk",
                Level::Error,
                format!("{gib:.1} GiB free on {on}"),
                Some(
                    "free at least 2 GiB (`docker system prune` removes unused images), or grow the disk",
                ),
            );
        } else {
            add(
                "disk",
                Level::Ok,
                format!("{gib:.1} GiB free on {on}"),
                None,
            );
        }
    }

    // Docker and Compose v2.
    match first("docker") {
        Some(d) if d.starts_with("ok") => add(
            "docker",
            Level::Ok,
            format!("Docker Engine {}", d[2..].trim()),
            None,
        ),
        Some(d) if d.starts_with("down") => add(
            "docker",
            Level::Error,
            format!("the Docker daemon does not answer: {}", d[4..].trim()),
            Some("start it: `systemctl enable --now docker`"),
        ),
        _ => add(
            "docker",
            Level::Error,
            "Docker Engine is not installed".into(),
            Some("`vpai up --install-docker` installs it from the distribution's repository"),
        ),
    }
    if first("docker").is_some_and(|d| d.starts_with("ok")) {
        match first("compose") {
            Some(c) if c.starts_with("ok") => add(
                "compose",
                Level::Ok,
                format!("Compose {}", c[2..].trim()),
                None,
            ),
            _ => add(
                "compose",
                Level::Error,
                "Docker Compose v2 is missing (`docker compose version` fails)".into(),
                Some(
                    "`vpai up --install-docker` installs it (Debian 13: docker-compose; Ubuntu: docker-compose-v2)",
                ),
            ),
        }
    }

    // Ports: free, or already ours (our Caddy runs).
    let caddy_running = facts.contains_key("caddy");
    for line in facts.get("port").into_iter().flatten() {
        let (port, state) = line.split_once(' ').unwrap_or((line, ""));
        if state == "busy" && !caddy_running {
            add(
                "ports",
                Level::Error,
                format!("port {port} is already in use"),
                Some(
                    "stop what listens there (`ss -ltnp` names it), or set `http_port`/`https_port` in stack.toml",
                ),
            );
        } else {
            add(
                "ports",
                Level::Ok,
                format!(
                    "port {port} {}",
                    if state == "busy" {
                        "held by our Caddy"
                    } else {
                        "free"
                    }
                ),
                None,
            );
        }
    }

    // DNS: every name Caddy asks a certificate for must point at this host.
    let addrs_line = first("addrs").unwrap_or_default();
    let addrs: Vec<&str> = addrs_line.split_whitespace().collect();
    if stack.tls != "acme" {
        add(
            "dns",
            Level::Ok,
            "skipped: tls = internal (no public certificate)".into(),
            None,
        );
    }
    for line in facts.get("dns").into_iter().flatten() {
        let mut it = line.split_whitespace();
        let name = it.next().unwrap_or("");
        let found: Vec<&str> = it.collect();
        if found.is_empty() {
            add(
                "dns",
                Level::Error,
                format!("`{name}` does not resolve (`getent hosts {name}` on the host)"),
                Some("add an A record for it pointing at this host: the ACME certificate needs it"),
            );
        } else if !found.iter().any(|a| addrs.contains(a)) {
            add(
                "dns",
                Level::Warning,
                format!(
                    "`{name}` resolves to {} but the host has {}",
                    found.join(", "),
                    addrs.join(", ")
                ),
                Some(
                    "point the record at this host (fine behind NAT or a proxy that forwards 80/443)",
                ),
            );
        } else {
            add(
                "dns",
                Level::Ok,
                format!("`{name}` -> {}", found.join(", ")),
                None,
            );
        }
    }

    // Clock: certificates and TOTP need it right.
    let host_time = first("time").and_then(|t| t.trim().parse::<u64>().ok());
    if let Some(t) = host_time {
        let skew = t.abs_diff(sent_at);
        if skew > 120 {
            add(
                "clock",
                Level::Error,
                format!("the host's clock is {skew} s away from this machine's"),
                Some("enable time sync: `timedatectl set-ntp true` (systemd-timesyncd or chrony)"),
            );
        }
    }
    match first("ntp").as_deref() {
        Some("yes") => add("clock", Level::Ok, "synchronized (NTP)".into(), None),
        Some("no") => add(
            "clock",
            Level::Warning,
            "not synchronized".into(),
            Some("`timedatectl set-ntp true` (install systemd-timesyncd or chrony if missing)"),
        ),
        _ => add(
            "clock",
            Level::Warning,
            "sync state unknown (no timedatectl)".into(),
            Some("install systemd-timesyncd or chrony"),
        ),
    }
    checks
}

/// Installs Docker Engine and Compose v2 from the distribution's own repository. Run
/// under bash, never dash (seed 001 §13.1); no `apt-key`, no `apt-transport-https`.
pub const INSTALL_DOCKER: &str = r#"set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
case "$ID:$VERSION_ID" in
  debian:13) pkgs=(docker.io docker-compose) ;;
  ubuntu:22.04|ubuntu:24.04) pkgs=(docker.io docker-compose-v2) ;;
  debian:12)
    echo "Debian 12 ships Compose v1 only. Install Docker's own packages (docker-ce, docker-compose-plugin) from Docker's apt repository, with its key in /etc/apt/keyrings (gpg --dearmor) referenced by signed-by= in the source; or upgrade to Debian 13." >&2
    exit 3 ;;
  *) echo "unsupported system $ID $VERSION_ID" >&2; exit 3 ;;
esac
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}"
systemctl enable --now docker 2>/dev/null || true
docker compose version
"#;

/// Install Docker and Compose on the host.
pub fn install_docker(host: &dyn Host) -> Result<Result<String, String>, HostError> {
    let out = host.run(&["bash", "-c", INSTALL_DOCKER], None)?;
    Ok(if out.success() {
        Ok(out.stdout_text())
    } else {
        Err(out.stderr_text())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_script_is_valid_bash() {
        for script in [FACTS, INSTALL_DOCKER] {
            let st = std::process::Command::new("bash")
                .args(["-n", "-c", script])
                .status()
                .unwrap();
            assert!(st.success());
        }
    }
}
