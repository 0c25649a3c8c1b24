//! The shape of `stack.toml`. Every table denies unknown keys, so a typo is an error
//! with a "did you mean" instead of a setting silently ignored.

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
    /// Extra `ssh -o Key=Value` options.
    #[serde(default)]
    pub ssh_options: BTreeMap<String, String>,
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
    #[serde(default)]
    pub acme_email: Option<String>,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// ICU locale for PostgreSQL collation (`fr-FR`, `en-US`).
    #[serde(default = "default_locale")]
    pub locale: Spanned<String>,
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    #[serde(default = "default_https_port")]
    pub https_port: u16,
    /// A /16 from which the four networks take a /24 each.
    #[serde(default = "default_subnet")]
    pub subnet: Spanned<String>,
    /// The main-domain site answers `/health` (for uptime monitors and tests).
    #[serde(default = "default_true")]
    pub health_endpoint: bool,
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
    /// Extra non-secret environment entries.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn default_timezone() -> String {
    "UTC".into()
}
fn default_locale() -> Spanned<String> {
    Spanned::new(0..0, "en-US".into())
}
fn default_http_port() -> u16 {
    80
}
fn default_https_port() -> u16 {
    443
}
fn default_subnet() -> Spanned<String> {
    Spanned::new(0..0, "172.20.0.0/16".into())
}
fn default_true() -> bool {
    true
}

/// `(span, message, help)` of the first invalid value.
pub type Invalid = (Range<usize>, String, String);

impl StackSpec {
    /// Checks that need no catalog: names, domain, sizes, subnet.
    pub fn validate(&self) -> Result<(), Invalid> {
        let p = &self.project;
        let name = p.name.get_ref();
        if name.is_empty()
            || !name.starts_with(|c: char| c.is_ascii_lowercase())
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return Err((
                p.name.span(),
                format!("`{name}` is not a valid project name"),
                "use lowercase letters, digits, `_` or `-`, starting with a letter (it names containers and /opt/<name>)".into(),
            ));
        }
        let domain = p.domain.get_ref();
        if domain.is_empty()
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("://")
            || domain.contains('/')
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err((
                p.domain.span(),
                format!("`{domain}` is not a domain name"),
                "write the bare domain, e.g. `example.com` (no scheme, no path)".into(),
            ));
        }
        if p.profile.is_some() && p.services.is_some() {
            let span = p.profile.as_ref().map(Spanned::span).unwrap_or(0..0);
            return Err((
                span,
                "`profile` and `services` are both set".into(),
                "keep one: a profile, or an explicit list of services".into(),
            ));
        }
        let locale = p.locale.get_ref();
        if !locale
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
            || locale.is_empty()
        {
            return Err((
                p.locale.span(),
                format!("`{locale}` is not an ICU locale"),
                "use a BCP 47 tag such as `fr-FR` or `en-US` (not `fr_FR.UTF-8`: the image has no system locales)".into(),
            ));
        }
        parse_subnet16(p.subnet.get_ref()).ok_or_else(|| {
            (
                p.subnet.span(),
                format!("`{}` is not an IPv4 /16", p.subnet.get_ref()),
                "write it like `172.20.0.0/16`; the networks take 172.20.1.0/24 .. 172.20.4.0/24"
                    .into(),
            )
        })?;
        if p.http_port == p.https_port {
            return Err((
                0..0,
                "`http_port` and `https_port` are the same".into(),
                "use two ports (80 and 443 by default)".into(),
            ));
        }
        for (name, host) in &self.hosts {
            let n = name.get_ref();
            if n.is_empty()
                || !n.starts_with(|c: char| c.is_ascii_alphanumeric())
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err((
                    name.span(),
                    format!("`{n}` is not a valid host name"),
                    "use letters, digits, `-`, `_` or `.` (it is what `--host` takes)".into(),
                ));
            }
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
                parse_memory(mem.get_ref()).ok_or_else(|| {
                    (
                        mem.span(),
                        format!("`{}` is not a memory size", mem.get_ref()),
                        "write it like `512M` or `2G`".into(),
                    )
                })?;
            }
            if let Some(v) = &svc.version
                && (v.get_ref() == "latest" || v.get_ref().is_empty())
            {
                return Err((
                    v.span(),
                    format!("service `{}` uses an unpinned version", key.get_ref()),
                    "pin an exact tag (e.g. `2.7.3`): `latest` changes under you".into(),
                ));
            }
            if let Some(sub) = &svc.subdomain {
                let s = sub.get_ref();
                if s.is_empty()
                    || s.contains('/')
                    || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return Err((
                        sub.span(),
                        format!("`{s}` is not a subdomain label"),
                        "one label such as `n8n` (each service gets its own subdomain; sub-paths break n8n, LiteLLM and Qdrant)".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `512M`, `1G`, `1536m` -> bytes.
pub fn parse_memory(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return None,
    };
    Some(n * mult)
}

/// `172.20.0.0/16` -> the first two octets.
pub fn parse_subnet16(text: &str) -> Option<(u8, u8)> {
    let (addr, len) = text.split_once('/')?;
    if len != "16" {
        return None;
    }
    let octets: Vec<u8> = addr
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    if octets.len() != 4 || octets[2] != 0 || octets[3] != 0 {
        return None;
    }
    Some((octets[0], octets[1]))
}
