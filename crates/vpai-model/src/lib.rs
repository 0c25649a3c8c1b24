//! The model: `stack.toml` resolved against the catalog into the typed stack that
//! rendering, checking and deploying work on. Everything that can be known without a
//! host is decided here (images, names, subdomains, memory, networks, databases), and
//! every mistake is reported against the operator's file with a span.

// SpecError keeps the source text for rustc-style output (see vpai-spec).
#![allow(clippy::result_large_err)]

pub mod access;
pub mod backup;
mod hosts;
pub use access::AccessSettings;
pub use backup::BackupSettings;
pub use hosts::DnsRecord;
pub use hosts::HostDef;

use serde::Serialize;
use std::path::{Path, PathBuf};
use vpai_catalog::{Catalog, Phase, SecretDef, ServiceDef};
use vpai_spec::values::{check_fqdn, check_subdomain, shown};
use vpai_spec::{ByteSize, EngineKind, SpecError, StackFile, TlsMode, parse_subnet16};

/// One Docker network of the stack.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    /// Short name used in compose (`backend`).
    pub name: String,
    /// Docker name (`<project>_backend`): phase B refers to it as external.
    pub docker_name: String,
    pub subnet: String,
    /// No route to the outside (data stores, monitoring).
    pub internal: bool,
}

/// The five networks of seed 001 §12.1, in a fixed order, and their /24 index
/// (`sandbox`: OpenClaw's tool containers, which reach only LiteLLM).
pub const NETWORKS: &[(&str, u8, bool)] = &[
    ("frontend", 1, false),
    ("backend", 2, true),
    ("monitoring", 3, true),
    ("egress", 4, false),
    ("sandbox", 5, true),
];

/// A service as it will run.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    pub def: ServiceDef,
    /// Full image reference.
    pub image: String,
    /// Overridden in `[images]`: a local or mirrored image, never pulled.
    pub local_image: bool,
    pub container_name: String,
    /// `n8n.example.com` when the service is reached through Caddy.
    pub fqdn: Option<String>,
    pub url: Option<String>,
    pub memory: String,
    /// The optional database is in use.
    pub database: bool,
    /// Operator's extra environment.
    pub extra_env: std::collections::BTreeMap<String, String>,
    /// Caddy lets only the VPN's clients reach it (but its catalog's public paths).
    pub vpn_only: bool,
    /// Swarm: tasks of a stateless service (`[services.X] replicas`); 1 otherwise.
    pub replicas: u32,
}

impl Service {
    /// The services this one cannot run without, in the same stack (and on the same
    /// host): the catalog's `needs`, plus the database `provider` when its database is
    /// on. A provider it names in `needs` is not needed while its optional database
    /// is off.
    pub fn required<'a>(
        &'a self,
        provider: Option<&'a str>,
        is_provider: &dyn Fn(&str) -> bool,
    ) -> Vec<&'a str> {
        let mut needs: Vec<&str> = self.def.needs.iter().map(String::as_str).collect();
        if self.database
            && let Some(p) = provider
            && !needs.contains(&p)
        {
            needs.push(p);
        }
        let optional_off = !self.database && self.def.database.is_some();
        needs.retain(|n| !(optional_off && is_provider(n)));
        needs
    }

    pub fn phase(&self) -> Phase {
        self.def.phase
    }

    /// Whether the service keeps state on the machine it runs on (a data directory, a
    /// published port, a mount of the host): on Swarm it is pinned to one node, never
    /// replicated, and updated stop-first.
    pub fn stateful(&self) -> bool {
        !self.def.volumes.is_empty()
            || !self.def.publish.is_empty()
            || !self.def.host_mounts.is_empty()
    }
}

/// The vault entry that keys the names of a swarm's secrets and configs: a name
/// carries a keyed hash of the content (a change rolls the service), never a plain
/// hash that would let anyone who lists the secrets test a guess of a password.
pub const SWARM_NAMES_KEY: &str = "swarm_names_key";

static SWARM_SECRETS: std::sync::LazyLock<Vec<SecretDef>> = std::sync::LazyLock::new(|| {
    vec![SecretDef {
        name: SWARM_NAMES_KEY.into(),
        format: vpai_catalog::SecretFormat::Hex,
        length: 32,
        prefix: String::new(),
        rotate: vpai_catalog::RotationPolicy::Manual,
        never_reason: None,
        external: false,
        required: false,
        help: Some("keys the names of the swarm's secrets and configs; a new one renames them all (every service rolls once)".into()),
        kept_in: None,
    }]
});

/// `[swarm]` of an `engine = "swarm"` stack.
#[derive(Debug, Clone, Serialize)]
pub struct SwarmSettings {
    /// The `[hosts]` name of the manager.
    pub manager: String,
    /// Encrypted overlay networks.
    pub encrypt: bool,
}

/// The whole stack.
#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    pub project: String,
    pub domain: String,
    pub tls: &'static str,
    pub acme_email: Option<String>,
    pub timezone: String,
    pub locale: String,
    pub http_port: u16,
    pub https_port: u16,
    pub health_endpoint: bool,
    /// Where everything lives on the host (`/opt/<project>`).
    pub root: PathBuf,
    pub networks: Vec<Network>,
    pub services: Vec<Service>,
    /// `[hosts.NAME]`; empty: the stack runs on this machine.
    pub hosts: Vec<HostDef>,
    /// What was read from the target host that the files depend on; `None` until a
    /// deploy has read it (an offline render assumes the defaults).
    /// A cell: a deploy learns them from the snapshot it reads under the lock, while
    /// the stack is borrowed everywhere.
    pub host_facts: std::cell::Cell<Option<HostFacts>>,
    /// Files of the operator's project that `[[files]] from = "project"` copies (n8n's
    /// `workflows/`), by path relative to the directory of stack.toml; read by the
    /// caller that knows that directory (empty for an offline model).
    pub project_files: std::collections::BTreeMap<String, String>,
    /// `[backup]`: where and when `vpai backup` stores the data.
    pub backup: BackupSettings,
    /// `[access]`: the VPN's range, the proxies Caddy trusts.
    pub access: AccessSettings,
    /// `[hardening] allow_ports`: TCP ports the operator opens besides SSH and the web
    /// ports (the firewall, and the exposure probe, accept them).
    pub allow_ports: Vec<u16>,
    /// `engine = "swarm"`: the cluster; `None`: docker compose on each host.
    pub swarm: Option<SwarmSettings>,
}

/// Facts of the target host the rendered files depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// GID owning `/var/run/docker.sock` (989 on Debian, 999 or 998 elsewhere).
    pub docker_socket_gid: u32,
}

/// The docker socket's GID an offline render assumes (Debian's, seed 001 §11.13);
/// `vpai up` writes the target host's own.
pub const ASSUMED_DOCKER_SOCKET_GID: u32 = 989;

impl Stack {
    /// The GID of the host's Docker socket, as read by the deploy, or the assumed one.
    pub fn docker_socket_gid(&self) -> u32 {
        self.host_facts
            .get()
            .map_or(ASSUMED_DOCKER_SOCKET_GID, |f| f.docker_socket_gid)
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn phase(&self, phase: Phase) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(move |s| s.phase() == phase)
    }

    /// Compose project name of a phase: distinct, so `--remove-orphans` on one never
    /// removes the other's containers.
    pub fn compose_project(&self, phase: Phase) -> String {
        match phase {
            Phase::Infra => format!("{}-infra", self.project),
            Phase::Apps => self.project.clone(),
        }
    }

    /// Swarm: the host a service is pinned to. A stateful service runs where its data
    /// is: the first host that lists it in `services`, else the manager. A stateless
    /// one is pinned only when exactly one host lists it; else it may run anywhere.
    pub fn swarm_node(&self, svc: &Service) -> Option<&str> {
        let swarm = self.swarm.as_ref()?;
        let listing: Vec<&HostDef> = self
            .hosts
            .iter()
            .filter(|h| h.services.iter().any(|n| n == &svc.name))
            .collect();
        match (svc.stateful(), listing.as_slice()) {
            (true, [first, ..]) => Some(first.name.as_str()),
            (true, []) => Some(swarm.manager.as_str()),
            (false, [only]) => Some(only.name.as_str()),
            (false, _) => None,
        }
    }

    /// Compose file of a phase, relative to the root.
    pub fn compose_file(phase: Phase) -> &'static str {
        match phase {
            Phase::Infra => "docker-compose-infra.yml",
            Phase::Apps => "docker-compose.yml",
        }
    }

    /// Every secret a service of the stack declares, with the declaring service.
    pub fn secret_defs(&self) -> Vec<(&str, &SecretDef)> {
        self.services
            .iter()
            .flat_map(|s| s.def.secrets.iter().map(move |d| (s.name.as_str(), d)))
            .chain(backup::SECRETS.iter().map(|d| ("backup", d)))
            .chain(
                self.swarm
                    .iter()
                    .flat_map(|_| SWARM_SECRETS.iter().map(|d| ("swarm", d))),
            )
            .collect()
    }

    /// Databases to provision: (service, db name, role, password secret).
    /// The reverse proxy (the catalog's `reverse_proxy = true`), when the stack has one.
    pub fn reverse_proxy(&self) -> Option<&Service> {
        self.services.iter().find(|s| s.def.reverse_proxy)
    }

    /// The host port a catalog `[[publish]]` entry binds (its `host_port_setting`).
    pub fn host_port(&self, p: &vpai_catalog::PublishDef) -> u16 {
        match p.host_port_setting.as_str() {
            "http_port" => self.http_port,
            _ => self.https_port,
        }
    }

    /// The TCP ports the stack's services publish on the host, once each.
    pub fn published_tcp_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .services
            .iter()
            .flat_map(|s| &s.def.publish)
            .filter(|p| p.protocol != "udp")
            .map(|p| self.host_port(p))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The service that creates the others' databases and roles (the catalog's
    /// `[provides_databases]`), when the stack has one.
    pub fn database_provider(&self) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.def.provides_databases.is_some())
    }

    pub fn databases(&self) -> Vec<(&str, &vpai_catalog::DatabaseDef)> {
        self.services
            .iter()
            .filter(|s| s.database)
            .filter_map(|s| s.def.database.as_ref().map(|d| (s.name.as_str(), d)))
            .collect()
    }
}

/// Options that do not come from stack.toml.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--root`; defaults to `/opt/<project>`.
    pub root: Option<PathBuf>,
}

/// Resolve a parsed stack.toml against the catalog.
pub fn build(file: &StackFile, catalog: &Catalog, opts: &BuildOptions) -> Result<Stack, SpecError> {
    let spec = &file.spec;
    let p = &spec.project;
    let project = p.name.get_ref().clone();

    // Which services, in which order.
    let mut names: Vec<(String, std::ops::Range<usize>)> = match (&p.profile, &p.services) {
        (_, Some(list)) => list
            .iter()
            .map(|s| (s.get_ref().clone(), s.span()))
            .collect(),
        (Some(profile), None) => {
            let members = Catalog::profile(profile.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = Catalog::profile_names();
                file.error_at(
                    profile.span(),
                    format!("unknown profile `{}`", shown(profile.get_ref())),
                    format!("known profiles: {}", known.join(", ")),
                )
            })?;
            members
                .iter()
                .map(|s| (s.to_string(), profile.span()))
                .collect()
        }
        (None, None) => Catalog::profile("core")
            .unwrap_or_default()
            .iter()
            .map(|s| (s.to_string(), 0..0))
            .collect(),
    };
    for (name, span) in &names {
        if catalog.get(name).is_none() {
            return Err(unknown_service(file, catalog, name, span.clone()));
        }
    }
    // `[services.x] enabled = true/false` adds or removes from the selection.
    for (key, svc) in &spec.services {
        let name = key.get_ref();
        if catalog.get(name).is_none() {
            return Err(unknown_service(file, catalog, name, key.span()));
        }
        match svc.enabled {
            Some(false) => names.retain(|(n, _)| n != name),
            Some(true) if !names.iter().any(|(n, _)| n == name) => {
                names.push((name.clone(), key.span()))
            }
            _ => {}
        }
    }
    for key in spec.images.keys() {
        if catalog.get(key.get_ref()).is_none() {
            return Err(unknown_service(file, catalog, key.get_ref(), key.span()));
        }
    }
    // Infra before apps, otherwise the operator's order.
    names.sort_by_key(|(n, _)| catalog.get(n).map(|d| d.phase));

    let (a, b) = parse_subnet16(p.subnet.get_ref()).expect("validated by the spec");
    let networks = NETWORKS
        .iter()
        .map(|(name, idx, internal)| Network {
            name: name.to_string(),
            docker_name: format!("{project}_{name}"),
            subnet: format!("{a}.{b}.{idx}.0/24"),
            internal: *internal,
        })
        .collect();

    let scheme = "https";
    let access = access::build(file)?;
    let mut services = Vec::new();
    // Who answers on which name: two services on one subdomain would be two Caddy
    // sites with the same address. (fqdn, service, span of an explicit `subdomain`)
    let mut sites: Vec<(String, String, Option<std::ops::Range<usize>>)> = Vec::new();
    for (name, _) in &names {
        let mut def = catalog.get(name).expect("checked above").clone();
        let svc_spec = spec
            .services
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        for (key, value) in &svc_spec.data {
            let Some(default) = def.data.get(key.get_ref()) else {
                let known: Vec<&str> = def.data.keys().map(String::as_str).collect();
                return Err(file.error_at(
                    key.span(),
                    format!("`{}` is not a data key of {name}", key.get_ref()),
                    if known.is_empty() {
                        format!("{name} takes no `data`; remove the table")
                    } else {
                        format!("its keys are: {}", known.join(", "))
                    },
                ));
            };
            if default.type_str() != value.get_ref().type_str() {
                return Err(file.error_at(
                    value.span(),
                    format!(
                        "`{}` of {name} is {} in the catalog, not {}",
                        key.get_ref(),
                        an(default.type_str()),
                        an(value.get_ref().type_str())
                    ),
                    format!(
                        "write it as {}, in the shape of the catalog's default",
                        an(default.type_str())
                    ),
                ));
            }
            def.data
                .insert(key.get_ref().clone(), value.get_ref().clone());
        }
        let version = svc_spec
            .version
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_else(|| def.version.clone());
        let (image, local_image) = match spec.images.iter().find(|(k, _)| k.get_ref() == name) {
            Some((_, img)) => (img.get_ref().clone(), true),
            None => (format!("{}:{}", def.image, version), false),
        };
        let memory = svc_spec
            .memory
            .as_ref()
            .map(|m| m.get_ref().clone())
            .unwrap_or_else(|| def.memory.to_string());
        if let Some(m) = &svc_spec.memory
            && ByteSize::parse(m.get_ref()).is_none_or(|size| size < def.memory_floor)
        {
            return Err(file.error_at(
                m.span(),
                format!(
                    "{name} needs at least {} of memory, `{}` is below",
                    def.memory_floor,
                    m.get_ref()
                ),
                format!("set `memory = \"{}\"` or more", def.memory_floor),
            ));
        }
        let (fqdn, url) = match &def.web {
            Some(web) => {
                let explicit = svc_spec.subdomain.as_ref().map(|s| s.span());
                let sub = svc_spec
                    .subdomain
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_else(|| web.subdomain.clone());
                let span = explicit.clone().unwrap_or_else(|| p.domain.span());
                // An explicit subdomain passed the spec; the catalog's default is checked
                // the same way (a catalog can come from the operator's directory).
                check_subdomain(&sub)
                    .and_then(|()| check_fqdn(&sub, p.domain.get_ref()))
                    .map_err(|r| file.error_at(span.clone(), r.message, r.help))?;
                let fqdn = format!("{sub}.{}", p.domain.get_ref());
                if let Some((_, other, other_span)) =
                    sites.iter().find(|(f, _, _)| f.eq_ignore_ascii_case(&fqdn))
                {
                    let span = explicit
                        .clone()
                        .or_else(|| other_span.clone())
                        .unwrap_or(0..0);
                    return Err(file.error_at(
                        span,
                        format!("`{other}` and `{name}` both answer on `{fqdn}`"),
                        format!(
                            "give each service its own subdomain: `[services.{name}] subdomain = \"...\"`"
                        ),
                    ));
                }
                sites.push((fqdn.clone(), name.clone(), explicit));
                let https_port = *p.https_port.get_ref();
                let port = if https_port == 443 {
                    String::new()
                } else {
                    format!(":{https_port}")
                };
                (Some(fqdn.clone()), Some(format!("{scheme}://{fqdn}{port}")))
            }
            None => (None, None),
        };
        let database = match (&def.database, svc_spec.database) {
            (None, Some(true)) => {
                return Err(file.error_at(
                    0..0,
                    format!("service `{name}` has no database to turn on"),
                    "remove `database = true`",
                ));
            }
            (None, _) => false,
            (Some(db), Some(false)) if !db.optional => {
                return Err(file.error_at(
                    0..0,
                    format!("service `{name}` cannot run without its database"),
                    "remove `database = false`",
                ));
            }
            (Some(_), Some(v)) => v,
            (Some(_), None) => true,
        };
        let vpn_only = access::vpn_only(file, &access, name, &def, &svc_spec)?;
        let replicas = match &svc_spec.replicas {
            None => 1,
            Some(r) if *r.get_ref() == 0 => {
                return Err(file.error_at(
                    r.span(),
                    format!("`replicas = 0` would never run `{name}`"),
                    format!("give 1 or more, or `enabled = false` to leave `{name}` out"),
                ));
            }
            Some(r) if p.engine != EngineKind::Swarm && *r.get_ref() != 1 => {
                return Err(file.error_at(
                    r.span(),
                    "`replicas` needs `engine = \"swarm\"` in [project]".to_string(),
                    "docker compose runs one container per service; remove `replicas` or deploy on Swarm",
                ));
            }
            Some(r) => *r.get_ref(),
        };
        services.push(Service {
            replicas,
            vpn_only,
            name: name.clone(),
            container_name: format!("{project}_{name}"),
            image,
            local_image,
            fqdn,
            url,
            memory,
            database,
            extra_env: svc_spec
                .env
                .iter()
                .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
                .collect(),
            def,
        });
    }
    // A service whose database is on needs the service that provides databases (the
    // catalog says which: PostgreSQL); `needs` must be in the stack. A provider named
    // in `needs` is not needed when the service's optional database is off.
    let providers: Vec<&str> = catalog
        .services()
        .filter(|d| d.provides_databases.is_some())
        .map(|d| d.name.as_str())
        .collect();
    let provider = providers
        .iter()
        .find(|p| services.iter().any(|s| s.name == **p))
        .or(providers.first())
        .copied();
    for s in &services {
        for need in s.required(provider, &|n| providers.contains(&n)) {
            if !services.iter().any(|o| o.name == need) {
                return Err(file.error_at(
                    0..0,
                    format!(
                        "service `{}` needs `{need}`, which is not in the stack",
                        s.name
                    ),
                    format!("add `{need}` to the services, or disable `{}`", s.name),
                ));
            }
        }
    }

    let service_names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    let hosts = hosts::build(file, &service_names)?;
    let root = opts
        .root
        .clone()
        .unwrap_or_else(|| Path::new("/opt").join(&project));
    // The root reaches compose volume specs (`SRC:DST:ro`) and scripts: it must be an
    // absolute path whose text cannot change their meaning.
    let shown_root = root.to_string_lossy();
    if !root.is_absolute()
        || root.to_str().is_none()
        || shown_root
            .chars()
            .any(|c| c == ':' || c == ',' || c.is_control())
    {
        return Err(file.error_at(
            0..0,
            format!("the deploy root `{}` cannot be used", shown(&shown_root)),
            "give an absolute path without `:`, `,` or control characters (`--root /opt/NAME`)",
        ));
    }
    let backup = backup::build(file, &project, &root)?;
    let swarm = swarm_settings(file, &hosts)?;
    if swarm.is_some()
        && let Some(s) = services.iter().find(|s| s.replicas > 1 && s.stateful())
    {
        let span = spec
            .services
            .iter()
            .find(|(k, _)| k.get_ref() == &s.name)
            .and_then(|(_, v)| v.replicas.as_ref().map(|r| r.span()))
            .unwrap_or(0..0);
        return Err(file.error_at(
            span,
            format!(
                "`{}` keeps data or a published port on its node: it cannot run as {} replicas",
                s.name, s.replicas
            ),
            "only stateless services (no data directory, no published port) take `replicas`",
        ));
    }
    Ok(Stack {
        swarm,
        backup,
        access,
        allow_ports: file
            .spec
            .hardening
            .as_ref()
            .map(|h| h.allow_ports.iter().map(|p| *p.get_ref()).collect())
            .unwrap_or_default(),
        hosts,
        host_facts: Default::default(),
        project_files: Default::default(),
        root,
        project,
        domain: p.domain.get_ref().clone(),
        tls: match p.tls {
            TlsMode::Acme => "acme",
            TlsMode::Internal => "internal",
        },
        acme_email: p.acme_email.as_ref().map(|e| e.get_ref().clone()),
        timezone: p.timezone.get_ref().clone(),
        locale: p.locale.get_ref().clone(),
        http_port: *p.http_port.get_ref(),
        https_port: *p.https_port.get_ref(),
        health_endpoint: p.health_endpoint,
        networks,
        services,
    })
}

/// `[swarm]` resolved: the manager is a declared host (the only one by default).
fn swarm_settings(file: &StackFile, hosts: &[HostDef]) -> Result<Option<SwarmSettings>, SpecError> {
    let spec = &file.spec;
    let table = spec.swarm.as_ref();
    if spec.project.engine != EngineKind::Swarm {
        return match table {
            Some(_) => Err(file.error_at(
                0..0,
                "`[swarm]` is set but the engine is docker compose".to_string(),
                "add `engine = \"swarm\"` to [project], or remove [swarm]",
            )),
            None => Ok(None),
        };
    }
    if hosts.is_empty() {
        return Err(file.error_at(
            0..0,
            "`engine = \"swarm\"` needs the swarm's nodes as [hosts]".to_string(),
            "declare each server as `[hosts.NAME] address = ...`, and `[swarm] manager = \"NAME\"`",
        ));
    }
    let manager = match table.and_then(|t| t.manager.as_ref()) {
        Some(m) => {
            if !hosts.iter().any(|h| &h.name == m.get_ref()) {
                let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                return Err(file.error_at(
                    m.span(),
                    format!(
                        "the manager `{}` is not a declared host",
                        shown(m.get_ref())
                    ),
                    format!("one of: {}", names.join(", ")),
                ));
            }
            m.get_ref().clone()
        }
        None if hosts.len() == 1 => hosts[0].name.clone(),
        None => {
            return Err(file.error_at(
                0..0,
                "a swarm of several hosts needs its manager named".to_string(),
                "add `[swarm] manager = \"NAME\"` (the host `vpai swarm init` makes the manager)",
            ));
        }
    };
    Ok(Some(SwarmSettings {
        manager,
        encrypt: table.is_none_or(|t| t.encrypt),
    }))
}

fn unknown_service(
    file: &StackFile,
    catalog: &Catalog,
    name: &str,
    span: std::ops::Range<usize>,
) -> SpecError {
    if let Some(facts) = catalog.facts_only().find(|f| f.name == name) {
        return file.error_at(
            span,
            format!(
                "`{}` ({}) is not deployable by vpai yet: its catalog folder holds only facts for `vpai check` and `vpai doctor`",
                shown(name),
                facts.description
            ),
            format!(
                "remove it from the services, or describe how to run it in catalog/{}/service.toml",
                shown(name)
            ),
        );
    }
    let best = catalog
        .names()
        .map(|n| (strsim::jaro_winkler(name, n), n))
        .filter(|(s, _)| *s > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let help = match best {
        Some((_, n)) => format!("did you mean `{n}`?"),
        None => format!(
            "known services: {} (or add catalog/{}/service.toml)",
            catalog.names().collect::<Vec<_>>().join(", "),
            shown(name)
        ),
    };
    file.error_at(span, format!("unknown service `{}`", shown(name)), help)
}

#[cfg(test)]
mod tests;

/// "an array", "a table": the kind of a TOML value in a sentence.
fn an(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}
