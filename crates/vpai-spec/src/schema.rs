//! The shape of `stack.toml`. Every table denies unknown keys, so a typo is an error
//! with a "did you mean" instead of a setting silently ignored.

use crate::values::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSpec {
    pub project: ProjectSpec,
    /// Per-service settings, keyed by catalog name.
    #[serde(default)]
    pub services: BTreeMap<Spanned<String>, ServiceSpec>,
    /// Image overrides (private mirror, air-gapped host, locally built image).
    #[serde(default)]
    pub images: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Where the stack runs, reached over SSH. None declared: this machine.
    #[serde(default)]
    pub hosts: BTreeMap<Spanned<String>, HostSpec>,
    /// Where and when `vpai backup` stores the stack's data (restic on the host).
    #[serde(default)]
    pub backup: Option<BackupSpec>,
    /// What `vpai check` leaves out for this stack (before `up`, `render`, `check -f`).
    #[serde(default)]
    pub check: CheckSpec,
    /// `[hardening]`: what `vpai harden` does to a host's SSH and firewall.
    #[serde(default)]
    pub hardening: Option<crate::hardening::HardeningSpec>,
    /// Who may reach the web services through Caddy (the VPN's range, admin UIs).
    #[serde(default)]
    pub access: Option<AccessSpec>,
    /// `[swarm]`: the cluster of `engine = "swarm"` (its manager, overlay encryption).
    #[serde(default)]
    pub swarm: Option<SwarmSpec>,
}

/// What runs the containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// `docker compose` on each host (two compose projects per host).
    #[default]
    Compose,
    /// `docker stack deploy` on a Swarm whose nodes are the `[hosts]`.
    Swarm,
}

/// `[swarm]`: the cluster a `engine = "swarm"` stack is deployed to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpec {
    /// The host (a `[hosts]` name) that manages the swarm: `vpai swarm init` makes it
    /// the manager, and deploys talk to it. Default: the only host.
    #[serde(default)]
    pub manager: Option<Spanned<String>>,
    /// Encrypt the overlay networks (IPsec between nodes; the kernel needs ESP with
    /// AES-GCM, which `vpai swarm init` checks). Default true.
    #[serde(default = "default_true")]
    pub encrypt: bool,
}

/// Who may reach a web service through Caddy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone on the Internet.
    Public,
    /// Clients with an address of `[access] vpn` only (the catalog's public paths,
    /// such as n8n's webhooks, stay public).
    Vpn,
}

/// `[access]`: the VPN's client addresses and the default for admin UIs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSpec {
    /// Address ranges of the VPN's clients (a tailnet: `100.64.0.0/10`).
    #[serde(default)]
    pub vpn: Option<Vec<Spanned<String>>>,
    /// Who reaches the admin UIs (services whose catalog entry says `admin`) when a
    /// service does not say: `public` (default) or `vpn`.
    #[serde(default)]
    pub admin: Option<Spanned<Access>>,
    /// Proxies in front of Caddy whose `X-Forwarded-For` is believed (a webhook relay
    /// on the VPN server). None by default: Caddy is the edge, and a trusted header
    /// could be forged to pass the VPN check.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
}

/// `[check]`: rules this project accepts knowingly, like `--allow` on every command.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Rule ids or names (`VP703`, `image-unpinned`); say why in a comment beside.
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
}

/// `[backup]`: a restic repository on the host's side, a daily timer, a retention.
/// The repository password is generated in the vault (`backup_repository_password`);
/// S3 keys and the heartbeat URL are vault secrets too, set by the operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// A directory on the host (`/srv/backups/NAME`), `sftp:USER@HOST:/PATH`,
    /// `s3:https://ENDPOINT/BUCKET/PATH` or `rest:https://...`.
    #[serde(default)]
    pub repository: Option<Spanned<String>>,
    /// Time of the daily backup on the host (`HH:MM`, host time zone); `"off"`: no timer.
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
    /// Snapshots kept: grandfather-father-son.
    #[serde(default)]
    pub keep: KeepSpec,
    /// Run the restore drill after every scheduled backup (default true).
    #[serde(default)]
    pub drill: Option<bool>,
}

/// `[backup.keep]`: restic's `--keep-last/daily/weekly/monthly/yearly` (the last ones
/// whatever their day: a backup taken by hand before a change survives the night's).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepSpec {
    #[serde(default = "keep_last")]
    pub last: u32,
    #[serde(default = "keep_daily")]
    pub daily: u32,
    #[serde(default = "keep_weekly")]
    pub weekly: u32,
    #[serde(default = "keep_monthly")]
    pub monthly: u32,
    #[serde(default = "keep_yearly")]
    pub yearly: u32,
}

impl Default for KeepSpec {
    fn default() -> Self {
        KeepSpec {
            last: keep_last(),
            daily: keep_daily(),
            weekly: keep_weekly(),
            monthly: keep_monthly(),
            yearly: keep_yearly(),
        }
    }
}

fn keep_last() -> u32 {
    3
}
fn keep_daily() -> u32 {
    7
}
fn keep_weekly() -> u32 {
    4
}
fn keep_monthly() -> u32 {
    6
}
fn keep_yearly() -> u32 {
    2
}

/// `[hosts.NAME]`: a server reached with the system `ssh` (so `~/.ssh/config`, the
/// agent, ProxyJump and known_hosts apply).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// IP address, DNS name, or an alias of `~/.ssh/config`.
    pub address: Spanned<String>,
    /// Login user; not root: commands run through `sudo -n`.
    #[serde(default)]
    pub user: Option<Spanned<String>>,
    /// The SSH port of a hardened host (seed 000: 804 after hardening).
    #[serde(default)]
    pub ssh_port: Option<u16>,
    /// The port to fall back to while the host is not hardened yet (22 on a fresh VPS):
    /// the first deploy needs no override (seed 000, the `EXTRA_VARS` trick).
    #[serde(default)]
    pub bootstrap_port: Option<u16>,
    /// Private key file, relative to stack.toml.
    #[serde(default)]
    pub identity: Option<String>,
    /// A known_hosts file instead of `~/.ssh/known_hosts`, relative to stack.toml.
    #[serde(default)]
    pub known_hosts: Option<String>,
    /// Force `sudo -n` on or off (default: on unless the user is root).
    #[serde(default, rename = "become")]
    pub become_root: Option<bool>,
    /// The services that run there (default: all).
    #[serde(default)]
    pub services: Option<Vec<Spanned<String>>>,
    /// Extra `ssh -o Key=Value` options: connection tuning only (see
    /// [`SSH_OPTIONS`]); anything else belongs in `~/.ssh/config`.
    #[serde(default)]
    pub ssh_options: BTreeMap<Spanned<String>, Spanned<String>>,
    /// The host's address on the VPN (its tailnet IP, `100.64.0.14`): the split-DNS
    /// records of `vpai dns` point the names of the services it runs there.
    #[serde(default)]
    pub vpn_address: Option<Spanned<String>>,
}

/// How Caddy gets certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Public ACME (Let's Encrypt / ZeroSSL); needs DNS pointing at the host.
    #[default]
    Acme,
    /// Caddy's internal CA: for `*.localhost`, test hosts and private networks.
    Internal,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    /// Container names are `<name>_<service>`, the root is `/opt/<name>`.
    pub name: Spanned<String>,
    pub domain: Spanned<String>,
    /// A named set of services (`core`); `services` lists them explicitly instead.
    #[serde(default)]
    pub profile: Option<Spanned<String>>,
    #[serde(default)]
    pub services: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub tls: TlsMode,
    /// Contact address for the ACME account (Caddy's global `email` option).
    #[serde(default)]
    pub acme_email: Option<Spanned<String>>,
    /// A name of the IANA time zone database (`Europe/Paris`).
    #[serde(default = "default_timezone")]
    pub timezone: Spanned<String>,
    /// ICU locale for PostgreSQL collation (`fr-FR`, `en-US`).
    #[serde(default = "default_locale")]
    pub locale: Spanned<String>,
    #[serde(default = "default_http_port")]
    pub http_port: Spanned<u16>,
    #[serde(default = "default_https_port")]
    pub https_port: Spanned<u16>,
    /// A /16 from which the five networks take a /24 each.
    #[serde(default = "default_subnet")]
    pub subnet: Spanned<String>,
    /// The main-domain site answers `/health` (for uptime monitors and tests).
    #[serde(default = "default_true")]
    pub health_endpoint: bool,
    /// `compose` (default: one compose project per phase on each host) or `swarm`
    /// (`docker stack deploy` on the cluster of `[swarm]`).
    #[serde(default)]
    pub engine: EngineKind,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Turn a service of the profile off (or on).
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub subdomain: Option<Spanned<String>>,
    /// Pinned image tag; replaces the catalog's.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    #[serde(default)]
    pub memory: Option<Spanned<String>>,
    /// Use (or not) the optional database the catalog declares.
    #[serde(default)]
    pub database: Option<bool>,
    /// Who may reach it through Caddy: `public` or `vpn` (default: `[access] admin`
    /// for admin UIs, else `public`).
    #[serde(default)]
    pub access: Option<Spanned<Access>>,
    /// Extra non-secret environment entries.
    #[serde(default)]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Swarm only: how many tasks of a stateless service run (no data directory, no
    /// published port). Default 1.
    #[serde(default)]
    pub replicas: Option<Spanned<u32>>,
    /// Replaces top-level keys of the catalog's `[data]` (LiteLLM's models, OpenClaw's
    /// agents): same key names and kinds only.
    #[serde(default)]
    pub data: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

fn default_timezone() -> Spanned<String> {
    Spanned::new(0..0, "UTC".into())
}
fn default_locale() -> Spanned<String> {
    Spanned::new(0..0, "en-US".into())
}
fn default_http_port() -> Spanned<u16> {
    Spanned::new(0..0, 80)
}
fn default_https_port() -> Spanned<u16> {
    Spanned::new(0..0, 443)
}
fn default_subnet() -> Spanned<String> {
    Spanned::new(0..0, "172.20.0.0/16".into())
}
fn default_true() -> bool {
    true
}

/// `(span, message, help)` of the first invalid value.
pub type Invalid = (Range<usize>, String, String);

/// A refusal of the value at `span`.
fn at(span: Range<usize>) -> impl FnOnce(Refusal) -> Invalid {
    move |r| (span, r.message, r.help)
}

/// Check a spanned string value with one of the grammars of [`crate::values`].
fn check<T>(
    value: &Spanned<String>,
    f: impl FnOnce(&str) -> Result<T, Refusal>,
) -> Result<T, Invalid> {
    f(value.get_ref()).map_err(at(value.span()))
}

impl StackSpec {
    /// Checks that need no catalog: names, domain, sizes, subnet, and the grammar of
    /// every value that is written into a rendered file.
    pub fn validate(&self) -> Result<(), Invalid> {
        let p = &self.project;
        check(&p.name, check_project_name)?;
        check(&p.domain, check_domain)?;
        if p.profile.is_some() && p.services.is_some() {
            let span = p.profile.as_ref().map(Spanned::span).unwrap_or(0..0);
            return Err((
                span,
                "`profile` and `services` are both set".into(),
                "keep one: a profile, or an explicit list of services".into(),
            ));
        }
        if let Some(email) = &p.acme_email {
            check(email, check_email)?;
        }
        check(&p.timezone, check_timezone)?;
        check(&p.locale, check_locale)?;
        check(&p.subnet, check_subnet)?;
        for port in [&p.http_port, &p.https_port] {
            if *port.get_ref() == 0 {
                return Err((
                    port.span(),
                    "port 0 is not a port".into(),
                    "`http_port` and `https_port` are TCP ports Caddy listens on (80 and 443 by default)".into(),
                ));
            }
        }
        if p.http_port.get_ref() == p.https_port.get_ref() {
            return Err((
                p.https_port.span(),
                "`http_port` and `https_port` are the same".into(),
                "use two ports (80 and 443 by default)".into(),
            ));
        }
        for (name, host) in &self.hosts {
            check(name, check_host_name)?;
            // Never let a value reach ssh as an option (`-oProxyCommand=...`).
            let word_ok = |w: &str| {
                !w.is_empty()
                    && !w.starts_with('-')
                    && !w
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '@')
            };
            if !word_ok(host.address.get_ref()) {
                return Err((
                    host.address.span(),
                    format!("`{}` is not a host address", host.address.get_ref()),
                    "an IP, a DNS name or a ~/.ssh/config alias; put the user in `user`".into(),
                ));
            }
            if let Some(user) = host.user.as_ref().filter(|u| !word_ok(u.get_ref())) {
                return Err((
                    user.span(),
                    format!("`{}` is not a user name", user.get_ref()),
                    "a login name such as `deploy` or `root`".into(),
                ));
            }
            for (key, value) in &host.ssh_options {
                crate::check_ssh_option(key.get_ref(), value.get_ref()).map_err(
                    |(on_key, m, h)| (if on_key { key.span() } else { value.span() }, m, h),
                )?;
            }
            if let Some(vpn) = &host.vpn_address
                && vpn.get_ref().parse::<std::net::IpAddr>().is_err()
            {
                return Err((
                    vpn.span(),
                    format!("`{}` is not an IP address", vpn.get_ref().escape_debug()),
                    "the host's address on the VPN, as `tailscale ip` shows it (`100.64.0.14`)"
                        .into(),
                ));
            }
            if host.ssh_port == Some(0) || host.bootstrap_port == Some(0) {
                return Err((
                    host.address.span(),
                    "port 0 is not a port".into(),
                    "`ssh_port` and `bootstrap_port` are TCP ports (22, 804, ...)".into(),
                ));
            }
        }
        for (key, svc) in &self.services {
            if let Some(mem) = &svc.memory {
                check(mem, check_memory)?;
            }
            if let Some(v) = &svc.version {
                if v.get_ref() == "latest" || v.get_ref().is_empty() {
                    return Err((
                        v.span(),
                        format!(
                            "service `{}` uses an unpinned version",
                            shown(key.get_ref())
                        ),
                        "pin an exact tag (e.g. `2.7.3`): `latest` changes under you".into(),
                    ));
                }
                check(v, check_version)?;
            }
            if let Some(sub) = &svc.subdomain {
                check(sub, check_subdomain)?;
                check_fqdn(sub.get_ref(), p.domain.get_ref()).map_err(at(sub.span()))?;
            }
            for (k, v) in &svc.env {
                check(k, check_env_key)?;
                check(v, check_env_value)?;
            }
        }
        for image in self.images.values() {
            check(image, check_image)?;
        }
        if let Some(h) = &self.hardening {
            h.validate()?;
        }
        Ok(())
    }
}
