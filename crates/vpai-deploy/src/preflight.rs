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

impl Check {
    /// The check in an operator's words: its message, then the fix as a `help:` line.
    pub fn text(&self, prefix: &str) -> String {
        match &self.fix {
            Some(fix) => format!("{prefix}{}\n  help: {fix}", self.message),
            None => format!("{prefix}{}", self.message),
        }
    }
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

/// `$1` root, `$2` the reverse proxy's container, then `--ports p...`, then fqdns.
/// Prints `key value`.
const FACTS: &str = r#"root=$1 proxy=$2; shift 2
ports=(); while [ $# -gt 0 ] && [ "$1" != -- ]; do ports+=("$1"); shift; done; shift || true
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os ${ID:-?} ${VERSION_ID:-?} ${PRETTY_NAME:-}"; fi
awk '/^MemTotal:/ {print "mem_total_kb " $2} /^MemAvailable:/ {print "mem_avail_kb " $2}' /proc/meminfo
d=$root; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "disk_avail_kb $(df -Pk "$d" | awk 'NR==2 {print $4}') $d"
if command -v docker >/dev/null 2>&1; then
  v=$(docker version --format '{{.Server.Version}}' 2>&1) && echo "docker ok $v" || echo "docker down $(printf '%s' "$v" | head -1)"
  c=$(docker compose version --short 2>/dev/null) && echo "compose ok $c" || echo "compose missing"
  [ "$(docker inspect -f '{{.State.Running}}' "$proxy" 2>/dev/null)" = true ] && echo "proxy running"
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
    // The catalog's reverse proxy holds 80/443 once deployed: busy ports are then ours.
    let proxy = stack
        .reverse_proxy()
        .map(|s| s.container_name.clone())
        .unwrap_or_default();
    // Only the ports a service publishes (a stack without the proxy binds none).
    let ports: Vec<String> = stack
        .published_tcp_ports()
        .iter()
        .map(u16::to_string)
        .collect();
    let mut fqdns: Vec<String> = Vec::new();
    if stack.tls == "acme" {
        fqdns.push(stack.domain.clone());
        fqdns.extend(stack.services.iter().filter_map(|s| s.fqdn.clone()));
    }
    let mut args = vec!["bash", "-c", FACTS, "vpai-preflight", &root, &proxy];
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

    // Memory. The sum of the catalog's `memory_floor` is what the services need to run
    // at all: below it, refuse. The sum of the limits is only a ceiling (a container
    // rarely sits at its limit), so limits above the host's memory are a warning.
    let sum = |f: &dyn Fn(&vpai_model::Service) -> &str| -> u64 {
        stack
            .services
            .iter()
            .filter_map(|s| vpai_spec::parse_memory(f(s)))
            .sum()
    };
    let floor = sum(&|s| s.def.memory_floor.as_str());
    let limits = sum(&|s| s.memory.as_str());
    let kb = |k: &str| {
        first(k)
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|n| n * 1024)
    };
    if let Some(total) = kb("mem_total_kb") {
        if total < floor {
            add(
                "memory",
                Level::Error,
                format!(
                    "the services need at least {} GiB (the sum of their memory floors), the host has {} GiB",
                    gib(floor),
                    gib(total)
                ),
                Some("use a larger host, or turn some services off in stack.toml"),
            );
        } else if limits > total {
            add(
                "memory",
                Level::Warning,
                format!(
                    "{} GiB: enough for the services' floors ({} GiB), but their limits add up to {} GiB; limits are ceilings, not use, so this runs until the services together grow past the host's memory",
                    gib(total),
                    gib(floor),
                    gib(limits)
                ),
                Some(
                    "watch `vpai status` for OOM-killed services; lower `memory` of some services in stack.toml (not below their floor) or use a larger host if it happens",
                ),
            );
        } else {
            add(
                "memory",
                Level::Ok,
                format!(
                    "{} GiB for limits adding up to {} GiB",
                    gib(total),
                    gib(limits)
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
    let proxy_running = facts.contains_key("proxy");
    for line in facts.get("port").into_iter().flatten() {
        let (port, state) = line.split_once(' ').unwrap_or((line, ""));
        if state == "busy" && !proxy_running {
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

/// Bytes as GiB with at most two decimals: `5.25`, `3.72`, `8`.
fn gib(bytes: u64) -> String {
    let text = format!("{:.2}", bytes as f64 / (1u64 << 30) as f64);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
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

/// Secrets a service keeps a copy of under the stack root (the catalog's `kept_in`)
/// whose copy on the host differs from the value about to be deployed: n8n's
/// `encryptionKey` after a new vault over old data. One message per secret, naming
/// the file, never a value. `value` gives the value to deploy.
pub fn kept_secret_mismatches(
    host: &dyn Host,
    stack: &Stack,
    value: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Check>, HostError> {
    let kept: Vec<(&str, &vpai_catalog::SecretDef, &vpai_catalog::KeptInDef)> = stack
        .secret_defs()
        .into_iter()
        .filter_map(|(svc, d)| d.kept_in.as_ref().map(|k| (svc, d, k)))
        .collect();
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<&str> = kept.iter().map(|(_, _, k)| k.file.as_str()).collect();
    let files = crate::state::read_files(host, &stack.root.display().to_string(), &paths)?;
    let mut checks = Vec::new();
    for ((svc, def, k), bytes) in kept.iter().zip(files) {
        // A file the service did not write yet, or one it cannot read either: no verdict.
        let Some(bytes) = bytes.filter(|b| b.len() <= 1 << 20) else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let (Some(there), Some(here)) = (json[&k.json_key].as_str(), value(&def.name)) else {
            continue;
        };
        if there != here {
            checks.push(Check {
                name: format!("{svc}-{}", def.name),
                level: Level::Error,
                message: format!(
                    "`{}` in the vault is not the `{}` {svc} keeps in `{}`: {svc} would refuse to start with it",
                    def.name,
                    k.json_key,
                    stack.root.join(&k.file).display()
                ),
                fix: Some(format!(
                    "this vault is not the one the data was created with: put the data's `{}` in the vault (`vpai secrets edit`), or move `{}` aside to start {svc} afresh; nothing was written",
                    k.json_key,
                    stack.root.join(&k.file).display()
                )),
            });
        }
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded example: the `core` profile, limits 5.25 GiB, floors 2.125 GiB.
    fn core_stack() -> Stack {
        let file = vpai_spec::StackFile::parse(
            std::path::Path::new("stack.toml"),
            vpai_spec::EXAMPLE.to_string(),
        )
        .unwrap();
        vpai_model::build(
            &file,
            &vpai_catalog::Catalog::embedded(),
            &vpai_model::BuildOptions::default(),
        )
        .unwrap()
    }

    fn memory_check(stack: &Stack, mem_total_kb: u64) -> Check {
        let facts = parse(&format!("mem_total_kb {mem_total_kb}\n"));
        evaluate(stack, &facts, 0)
            .into_iter()
            .find(|c| c.name == "memory")
            .expect("a memory check")
    }

    #[test]
    fn memory_limits_are_ceilings_and_floors_are_the_minimum() {
        let stack = core_stack();
        let limits: u64 = stack
            .services
            .iter()
            .map(|s| vpai_spec::parse_memory(&s.memory).unwrap())
            .sum();
        assert_eq!(limits, 5376 << 20, "core limits are 5.25 GiB");
        // A "4 GB" VPS: the kernel reports a little less than 4 GiB.
        let four_gb = memory_check(&stack, 3_900_000);
        assert_eq!(four_gb.level, Level::Warning, "{four_gb:?}");
        assert!(four_gb.message.contains("ceilings"), "{four_gb:?}");
        assert!(
            four_gb.message.contains("add up to 5.25 GiB"),
            "{four_gb:?}"
        );
        // 1 GiB is below the floors (2.1 GiB): refused, with the floor named.
        let small = memory_check(&stack, 1 << 20);
        assert_eq!(small.level, Level::Error, "{small:?}");
        assert!(small.message.contains("at least 2.12 GiB"), "{small:?}");
        assert!(small.fix.is_some());
        // 8 GiB holds every limit.
        assert_eq!(memory_check(&stack, 8 << 20).level, Level::Ok);
    }

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

    #[test]
    fn a_kept_key_that_differs_from_the_vault_is_refused_without_saying_either() {
        let dir = tempfile::tempdir().unwrap();
        let mut stack = core_stack();
        stack.root = dir.path().to_path_buf();
        let host = vpai_host::LocalHost;
        let vault = |v: &'static str| {
            move |name: &str| (name == "n8n_encryption_key").then(|| v.to_string())
        };
        // No data yet: nothing to compare.
        assert!(
            kept_secret_mismatches(&host, &stack, &vault("k1"))
                .unwrap()
                .is_empty()
        );
        let config = dir.path().join("data/n8n/config");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, r#"{"encryptionKey": "k1-in-the-data"}"#).unwrap();
        let found = kept_secret_mismatches(&host, &stack, &vault("k2-in-the-vault")).unwrap();
        assert_eq!(found.len(), 1);
        let said = format!("{} {}", found[0].message, found[0].fix.as_deref().unwrap());
        assert!(
            said.contains("`n8n_encryption_key`") && said.contains("data/n8n/config"),
            "{said}"
        );
        assert!(
            !said.contains("k1-in-the-data") && !said.contains("k2-in-the-vault"),
            "{said}"
        );
        assert!(
            kept_secret_mismatches(&host, &stack, &vault("k1-in-the-data"))
                .unwrap()
                .is_empty()
        );
        // Not JSON, or a link vpai did not make: no verdict.
        std::fs::write(&config, "not json").unwrap();
        assert!(
            kept_secret_mismatches(&host, &stack, &vault("x"))
                .unwrap()
                .is_empty()
        );
        std::fs::remove_file(&config).unwrap();
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::write(&elsewhere, r#"{"encryptionKey": "other"}"#).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &config).unwrap();
        assert!(
            kept_secret_mismatches(&host, &stack, &vault("x"))
                .unwrap()
                .is_empty()
        );
    }
}
