//! The stack on Docker Swarm (`engine = "swarm"`): the same model and the same rendered
//! files, turned into two stack files for `docker stack deploy` (one per phase, like the
//! two compose projects) and the Swarm objects they name.
//!
//! What changes from Compose, and why:
//! - Secrets never travel in an env file or in the service's definition: every env
//!   entry that reads a secret becomes a Swarm secret, mounted in `/run/secrets`, and a
//!   small `sh` wrapper in front of the image's own entrypoint exports it before the
//!   program starts (the healthcheck's shell reads it the same way). The image's
//!   entrypoint and command are facts read from the image itself ([`ImageConfig`]).
//! - Config files become Swarm configs (or secrets, when a secret went into them),
//!   named by a keyed hash of their content: a change is a new name, which rolls the
//!   service; the old object stays for a rollback until vpai prunes it.
//! - Stateful services (a data directory, a published port, a host mount) are pinned
//!   to the node of their host with a `node.labels.vpai.host` constraint, run one task
//!   and update stop-first; stateless ones may take `replicas` and update start-first.
//! - `update_config` rolls back on failure, and its `monitor` window is longer than the
//!   healthcheck needs to call a task unhealthy (start period + interval x retries):
//!   a shorter one lets a bad rollout "complete".
//! - No `depends_on`, no `.env` interpolation, no `build`: the phases order the
//!   services, every value is concrete, and `$` is written `$$`.
//! - Services are found by DNS round robin (`endpoint_mode: dnsrr`), not through the
//!   IPVS virtual IP, which drops idle connections silently after 900 s.
//! - Compose options Swarm does not have are not written (`container_name`,
//!   `security_opt`, `group_add`, `cgroup`, `pull_policy`); [`RenderedSwarm::notes`]
//!   says what that leaves out for this stack.

use crate::compose::{Healthcheck, Ipam, IpamConfig, Limits, Logging, Resources, literal};
use crate::{RenderError, Rendered};
use indexmap::IndexMap;
use serde::Serialize;
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use vpai_catalog::Phase;
use vpai_model::{Service, Stack};

/// What `docker image inspect` on the manager says of an image: its own `ENTRYPOINT`
/// and `CMD` (the wrapper that exports secrets must start them as the image would),
/// its ID, and its registry digests (`repo@sha256:...`; none for an image built or
/// loaded locally).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub id: String,
    pub repo_digests: Vec<String>,
}

/// The image a service's tasks must run, as this deploy resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinnedImage {
    /// What the stack file names: `name:tag@sha256:...` for an image from a registry
    /// (every node pulls exactly that), the name alone for a local image.
    pub reference: String,
    /// For a local image (no registry digest), the image ID every node must hold under
    /// that name; it is also a container label, so a rebuilt image rolls the service.
    pub id: Option<String>,
}

/// The container label that carries a local image's ID.
pub const IMAGE_ID_LABEL: &str = "io.vpai.image-id";

/// Pin `image` to what the manager holds: a registry digest of the same repository
/// when there is one, else the image ID (a local image). `None`: the image is not on
/// the manager (the deploy's image check reports it).
pub fn pin_image(image: &str, config: Option<&ImageConfig>) -> Option<PinnedImage> {
    if image.contains('@') {
        return Some(PinnedImage {
            reference: image.to_string(),
            id: None,
        });
    }
    let config = config?;
    // `repo:tag` -> `repo` (a colon after the last slash is the tag's; one before it is
    // a registry port).
    let repo = match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    };
    let familiar = |r: &str| {
        r.strip_prefix("docker.io/library/")
            .or_else(|| r.strip_prefix("docker.io/"))
            .unwrap_or(r)
            .to_string()
    };
    let digest = config.repo_digests.iter().find_map(|d| {
        let (name, digest) = d.split_once('@')?;
        (familiar(name) == familiar(repo)).then(|| digest.to_string())
    });
    Some(match digest {
        Some(d) => PinnedImage {
            reference: format!("{image}@{d}"),
            id: None,
        },
        None => PinnedImage {
            reference: image.to_string(),
            id: Some(config.id.clone()).filter(|i| !i.is_empty()),
        },
    })
}

/// A Swarm secret or config vpai creates before `docker stack deploy` (the stack files
/// refer to them as external, by name).
#[derive(Clone)]
pub struct SwarmObject {
    pub kind: ObjectKind,
    /// `<project>_<service>_<what>_<keyed hash>`.
    pub name: String,
    /// `<service>/<what>`: the same key across versions (for pruning old ones).
    pub key: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for SwarmObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmObject")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Secret,
    Config,
}

impl ObjectKind {
    /// The `docker` subcommand (`docker secret`, `docker config`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Secret => "secret",
            ObjectKind::Config => "config",
        }
    }
}

/// Everything a Swarm deploy needs.
#[derive(Debug, Clone)]
pub struct RenderedSwarm {
    /// `swarm/stack-infra.yml`, `swarm/stack-apps.yml`, and the files that stay files
    /// (the provisioning script, backup scripts): installed as a release on the manager.
    pub files: Rendered,
    /// Secrets and configs, by name.
    pub objects: Vec<SwarmObject>,
    /// Data directories per host name (created on the node before the deploy).
    pub node_dirs: BTreeMap<String, Vec<crate::DirSpec>>,
    /// Where each service runs: its host, or `None` (anywhere in the swarm).
    pub placement: BTreeMap<String, Option<String>>,
    /// The image each service runs, resolved on the manager (a service whose image is
    /// not there is rendered by name, and the deploy refuses it).
    pub images: BTreeMap<String, PinnedImage>,
    /// What Compose does that Swarm does not, for this stack, in operator's words.
    pub notes: Vec<String>,
}

/// Where the stack file of a phase lives, relative to the root.
pub fn stack_file(phase: Phase) -> &'static str {
    match phase {
        Phase::Infra => "swarm/stack-infra.yml",
        Phase::Apps => "swarm/stack-apps.yml",
    }
}

/// The label that pins a service to the node of a host (`vpai swarm init` sets it).
pub const HOST_LABEL: &str = "vpai.host";

/// Where the wrapper finds the secrets it exports (`/run/secrets/<prefix><KEY>`).
const ENV_SECRET_PREFIX: &str = "vpai-env-";

/// Exports every `/run/secrets/vpai-env-KEY` as `KEY` (trailing newlines kept), then
/// runs its arguments. Nothing from a value is ever parsed by the shell.
const ENV_WRAPPER: &str = r#"for f in /run/secrets/vpai-env-*; do [ -e "$f" ] || continue; k=${f#/run/secrets/vpai-env-}; v=$(cat "$f"; printf x); export "$k=${v%x}"; done; exec "$@""#;

#[derive(Serialize)]
struct StackFile {
    version: &'static str,
    services: IndexMap<String, SwarmService>,
    networks: IndexMap<String, SwarmNetwork>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    secrets: IndexMap<String, External>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    configs: IndexMap<String, External>,
}

#[derive(Serialize)]
struct External {
    name: String,
    external: bool,
}

#[derive(Serialize)]
struct SwarmService {
    image: String,
    /// Container labels (the image ID of a local image).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    init: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    command: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<Port>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    networks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<Mounted>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    configs: Vec<Mounted>,
    cap_drop: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    deploy: Deploy,
    logging: Logging,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_grace_period: Option<String>,
}

#[derive(Serialize)]
struct Port {
    target: u16,
    published: u16,
    protocol: String,
    /// On the node itself, not through the routing mesh: Caddy sees the client's
    /// address (the VPN-only ACL depends on it).
    mode: &'static str,
}

#[derive(Serialize)]
struct Mounted {
    source: String,
    target: String,
    uid: String,
    gid: String,
    mode: u32,
}

#[derive(Serialize)]
struct Deploy {
    mode: &'static str,
    /// `dnsrr`: a service's name resolves to its tasks' addresses, not to a virtual IP.
    /// The VIP goes through IPVS, which forgets a TCP connection idle for 900 s without
    /// telling either end (moby#31208): the pooled PostgreSQL and Redis connections of
    /// n8n and LiteLLM would hang after a quiet quarter of an hour. Published ports are
    /// in host mode, which dnsrr allows. Kernels without IPVS get a working stack too.
    endpoint_mode: &'static str,
    replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    placement: Option<Placement>,
    resources: Resources,
    restart_policy: RestartPolicy,
    update_config: UpdateConfig,
    rollback_config: UpdateConfig,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Placement {
    constraints: Vec<String>,
}

#[derive(Serialize)]
struct RestartPolicy {
    condition: &'static str,
    delay: &'static str,
}

#[derive(Serialize)]
struct UpdateConfig {
    parallelism: u32,
    delay: &'static str,
    failure_action: &'static str,
    monitor: String,
    order: &'static str,
}

#[derive(Serialize, Default)]
struct SwarmNetwork {
    name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    external: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    driver_opts: BTreeMap<&'static str, &'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    internal: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    attachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipam: Option<Ipam>,
}

/// How long Swarm watches a new task before it calls the update done: longer than
/// the healthcheck needs to declare it unhealthy, plus a margin.
pub fn monitor_window(svc: &Service) -> std::time::Duration {
    let margin = std::time::Duration::from_secs(10);
    match &svc.def.healthcheck {
        Some(h) => {
            let d = |t: &str| crate::probes::parse_duration(t).unwrap_or_default();
            d(&h.start_period) + d(&h.interval) * h.retries + d(&h.timeout) + margin
        }
        None => std::time::Duration::from_secs(30),
    }
}

/// HMAC-SHA256 of the length-prefixed parts, first 6 bytes in hex.
fn keyed_hash(key: &[u8], parts: &[&[u8]]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(&(p.len() as u64).to_le_bytes());
        mac.update(p);
    }
    hex::encode(&mac.finalize().into_bytes()[..6])
}

/// A Swarm object name: at most 64 characters of `[A-Za-z0-9_.-]`.
fn object_name(project: &str, service: &str, what: &str, hash: &str) -> String {
    let what: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let head = format!("{project}_{service}_");
    let room = 64usize.saturating_sub(head.len() + 1 + hash.len());
    let what: String = what.chars().take(room).collect();
    format!("{head}{what}_{hash}")
}

struct Objects<'a> {
    stack: &'a Stack,
    key: &'a [u8],
    list: Vec<SwarmObject>,
}

impl Objects<'_> {
    fn add(&mut self, kind: ObjectKind, service: &str, what: &str, bytes: &[u8]) -> String {
        let kind_tag: &[u8] = kind.as_str().as_bytes();
        let hash = keyed_hash(
            self.key,
            &[kind_tag, service.as_bytes(), what.as_bytes(), bytes],
        );
        let name = object_name(&self.stack.project, service, what, &hash);
        if !self.list.iter().any(|o| o.name == name) {
            self.list.push(SwarmObject {
                kind,
                name: name.clone(),
                key: format!("{service}/{what}"),
                bytes: bytes.to_vec(),
            });
        }
        name
    }
}

/// Render the stack for Swarm. `compose` is the stack's ordinary render (its configs,
/// files and scripts are reused as they are); `images` holds the entrypoint and command
/// of every image whose service needs the secret wrapper.
pub fn render_swarm(
    stack: &Stack,
    secrets: &vpai_vault::SecretStore,
    templates: &crate::TemplateSource,
    compose: &Rendered,
    images: &BTreeMap<String, ImageConfig>,
) -> Result<RenderedSwarm, RenderError> {
    let Some(settings) = &stack.swarm else {
        return Err(RenderError::Swarm(
            "the stack's engine is docker compose; set `engine = \"swarm\"` in [project]".into(),
        ));
    };
    let key = secrets
        .get(vpai_model::SWARM_NAMES_KEY)
        .ok_or_else(|| RenderError::MissingSecret(vpai_model::SWARM_NAMES_KEY.into()))?
        .to_string();
    let env = templates.environment(stack)?;
    let view = crate::context::SecretsView::new(stack, secrets);
    let base = crate::context::base_context(stack, &view);
    let mut objects = Objects {
        stack,
        key: key.as_bytes(),
        list: Vec::new(),
    };
    let mut notes = Vec::new();
    let mut placement = BTreeMap::new();
    let mut pinned = BTreeMap::new();
    let mut node_dirs: BTreeMap<String, Vec<crate::DirSpec>> = BTreeMap::new();
    let mut stack_files = Vec::new();

    for phase in [Phase::Infra, Phase::Apps] {
        let mut services = IndexMap::new();
        let mut secret_refs = IndexMap::new();
        let mut config_refs = IndexMap::new();
        let mut used_networks = BTreeSet::new();
        for svc in stack.phase(phase) {
            let node = stack.swarm_node(svc).map(str::to_string);
            placement.insert(svc.name.clone(), node.clone());
            if let Some(host) = &node {
                let dirs = node_dirs.entry(host.clone()).or_default();
                for d in &compose.dirs {
                    let is_data = svc.def.volumes.iter().any(|v| {
                        v.source == d.path || v.source.starts_with(&format!("{}/", d.path))
                    });
                    if (is_data || d.path.is_empty()) && !dirs.contains(d) {
                        dirs.push(d.clone());
                    }
                }
            }
            used_networks.extend(svc.def.networks.iter().cloned());
            let ctx = crate::context::service_context(&base, stack, svc);
            let (entries, _) = crate::envfile::env_values(&env, &ctx, svc, &view)?;
            let owner = (svc.def.uid, svc.def.gid);
            let mut mounted_secrets = Vec::new();
            let mut mounted_configs = Vec::new();
            let mut environment = BTreeMap::new();
            let mut wrapped = false;
            for e in entries {
                crate::envfile::check_env_value(&e.value).map_err(|reason| {
                    RenderError::EnvValue {
                        service: svc.name.clone(),
                        key: e.key.clone(),
                        reason: reason.into(),
                    }
                })?;
                if e.secret {
                    let name =
                        objects.add(ObjectKind::Secret, &svc.name, &e.key, e.value.as_bytes());
                    mounted_secrets.push(Mounted {
                        source: name.clone(),
                        target: format!("{ENV_SECRET_PREFIX}{}", e.key),
                        uid: owner.0.to_string(),
                        gid: owner.1.to_string(),
                        mode: 0o400,
                    });
                    secret_refs.insert(
                        name.clone(),
                        External {
                            name,
                            external: true,
                        },
                    );
                    wrapped = true;
                } else {
                    environment.insert(e.key, literal(&e.value));
                }
            }
            // Config files the container reads: Swarm configs (secrets when a secret
            // went into them), mounted where Compose bind-mounts them.
            let mut mount_file = |path: &str, target: &str| -> Result<(), RenderError> {
                let art = compose.get(path).ok_or_else(|| {
                    RenderError::Swarm(format!("`{path}` of `{}` was not rendered", svc.name))
                })?;
                let what = path.rsplit('/').next().unwrap_or(path);
                let what = if path.matches('/').count() > 2 {
                    // A file of a copied folder (dashboards): its path keeps it unique.
                    path.splitn(3, '/').nth(2).unwrap_or(what)
                } else {
                    what
                };
                let kind = if art.secret {
                    ObjectKind::Secret
                } else {
                    ObjectKind::Config
                };
                let name = objects.add(kind, &svc.name, what, &art.bytes);
                let m = Mounted {
                    source: name.clone(),
                    target: target.to_string(),
                    uid: art.owner.0.to_string(),
                    gid: art.owner.1.to_string(),
                    mode: art.mode,
                };
                let ext = External {
                    name: name.clone(),
                    external: true,
                };
                match kind {
                    ObjectKind::Secret => {
                        mounted_secrets.push(m);
                        secret_refs.insert(name, ext);
                    }
                    ObjectKind::Config => {
                        mounted_configs.push(m);
                        config_refs.insert(name, ext);
                    }
                }
                Ok(())
            };
            for cfg in &svc.def.configs {
                if let Some(target) = &cfg.target {
                    mount_file(&cfg.path, target)?;
                }
            }
            for copy in &svc.def.files {
                let Some(target) = &copy.target else { continue };
                let prefix = format!("{}/", copy.path);
                for art in compose.artifacts.iter() {
                    if art.path == copy.path {
                        mount_file(&art.path, target)?;
                    } else if let Some(rel) = art.path.strip_prefix(&prefix) {
                        mount_file(&art.path, &format!("{target}/{rel}"))?;
                    }
                }
            }
            let root = stack.root.display().to_string();
            let mut volumes: Vec<String> = svc
                .def
                .volumes
                .iter()
                .map(|v| {
                    let ro = if v.read_only { ":ro" } else { "" };
                    let target = v.target.replace(vpai_catalog::ROOT_TOKEN, &root);
                    literal(&format!("{root}/{}:{target}{ro}", v.source))
                })
                .collect();
            for m in &svc.def.host_mounts {
                let ro = if m.read_only { ":ro" } else { "" };
                volumes.push(literal(&format!("{}:{}{ro}", m.source, m.target)));
            }
            if !svc.def.group_add.is_empty() {
                notes.push(format!(
                    "{}: Swarm services have no `group_add`; it reaches the Docker socket only if the image's user is in the socket's group",
                    svc.name
                ));
            }
            let (entrypoint, command) = if wrapped {
                if !svc.def.tools.iter().any(|t| t == "sh") {
                    return Err(RenderError::Swarm(format!(
                        "`{}` reads secrets from its environment, and its image has no `sh` to take them from Swarm secret files",
                        svc.name
                    )));
                }
                let image = images.get(&svc.image).ok_or_else(|| {
                    RenderError::Swarm(format!(
                        "the entrypoint of `{}` ({}) is unknown: the image must be on this machine or the manager (`docker pull` it)",
                        svc.name, svc.image
                    ))
                })?;
                let mut ep = vec![
                    "/bin/sh".to_string(),
                    "-c".to_string(),
                    literal(ENV_WRAPPER),
                    "vpai-env".to_string(),
                ];
                ep.extend(image.entrypoint.iter().map(|a| literal(a)));
                // A new entrypoint drops the image's command: give it back.
                let cmd = if svc.def.command.is_empty() {
                    image.cmd.iter().map(|a| literal(a)).collect()
                } else {
                    svc.def.command.clone()
                };
                (ep, cmd)
            } else {
                (Vec::new(), svc.def.command.clone())
            };
            let stateful = svc.stateful();
            let order = if stateful {
                "stop-first"
            } else {
                "start-first"
            };
            let monitor = format!("{}s", monitor_window(svc).as_secs());
            let mut labels = BTreeMap::new();
            labels.insert("io.vpai.project".to_string(), literal(&stack.project));
            labels.insert("io.vpai.phase".to_string(), phase.as_str().to_string());
            let pin = pin_image(&svc.image, images.get(&svc.image));
            let mut container_labels = BTreeMap::new();
            if let Some(id) = pin.as_ref().and_then(|p| p.id.as_ref()) {
                container_labels.insert(IMAGE_ID_LABEL.to_string(), literal(id));
            }
            let image = pin
                .as_ref()
                .map_or_else(|| svc.image.clone(), |p| p.reference.clone());
            if let Some(p) = pin {
                pinned.insert(svc.name.clone(), p);
            }
            services.insert(
                svc.name.clone(),
                SwarmService {
                    image: literal(&image),
                    labels: container_labels,
                    user: svc.def.run_as.as_deref().map(literal),
                    init: svc.def.init,
                    entrypoint,
                    command,
                    environment,
                    ports: svc
                        .def
                        .publish
                        .iter()
                        .map(|p| Port {
                            target: p.container,
                            published: stack.host_port(p),
                            protocol: p.protocol.clone(),
                            mode: "host",
                        })
                        .collect(),
                    volumes,
                    networks: svc.def.networks.iter().map(|n| literal(n)).collect(),
                    secrets: mounted_secrets,
                    configs: mounted_configs,
                    cap_drop: vec!["ALL"],
                    cap_add: svc.def.cap_add.iter().map(|c| literal(c)).collect(),
                    deploy: Deploy {
                        mode: "replicated",
                        endpoint_mode: "dnsrr",
                        replicas: if stateful { 1 } else { svc.replicas },
                        placement: node.as_ref().map(|h| Placement {
                            constraints: vec![literal(&format!("node.labels.{HOST_LABEL} == {h}"))],
                        }),
                        resources: Resources {
                            limits: Limits {
                                memory: literal(&svc.memory),
                            },
                        },
                        restart_policy: RestartPolicy {
                            condition: "any",
                            delay: "5s",
                        },
                        update_config: UpdateConfig {
                            parallelism: 1,
                            delay: "0s",
                            failure_action: "rollback",
                            monitor: monitor.clone(),
                            order,
                        },
                        rollback_config: UpdateConfig {
                            parallelism: 1,
                            delay: "0s",
                            failure_action: "pause",
                            monitor,
                            order,
                        },
                        labels,
                    },
                    logging: Logging {
                        driver: "json-file",
                        options: [("max-size", "10m"), ("max-file", "3")]
                            .into_iter()
                            .collect(),
                    },
                    healthcheck: svc.def.healthcheck.as_ref().map(|h| Healthcheck {
                        test: if wrapped {
                            wrap_check(&h.test)
                        } else {
                            h.test.clone()
                        },
                        interval: literal(&h.interval),
                        timeout: literal(&h.timeout),
                        retries: h.retries,
                        start_period: literal(&h.start_period),
                    }),
                    stop_grace_period: svc.def.stop_grace_period.as_deref().map(literal),
                },
            );
        }
        if services.is_empty() {
            continue;
        }
        let mut networks = IndexMap::new();
        for net in &stack.networks {
            if !used_networks.contains(&net.name) {
                continue;
            }
            let owned = crate::compose::network_owner(stack, &net.name) == Some(phase);
            let n = if owned {
                SwarmNetwork {
                    name: literal(&net.docker_name),
                    driver: Some("overlay"),
                    driver_opts: if settings.encrypt {
                        [("encrypted", "true")].into_iter().collect()
                    } else {
                        BTreeMap::new()
                    },
                    internal: net.internal,
                    // Phase B's services join them from another stack.
                    attachable: true,
                    ipam: Some(Ipam {
                        config: vec![IpamConfig {
                            subnet: literal(&net.subnet),
                        }],
                    }),
                    ..Default::default()
                }
            } else {
                SwarmNetwork {
                    name: literal(&net.docker_name),
                    external: true,
                    ..Default::default()
                }
            };
            networks.insert(net.name.clone(), n);
        }
        let file = StackFile {
            version: "3.9",
            services,
            networks,
            secrets: secret_refs,
            configs: config_refs,
        };
        let body = serde_saphyr::to_string(&file).expect("stack model serializes");
        let header = format!(
            "# {} of {} on Docker Swarm: rendered by vpai, do not edit on the host.\n# By hand: docker stack deploy --prune -c {} {}\n",
            match phase {
                Phase::Infra => "Phase A (infra)",
                Phase::Apps => "Phase B (apps)",
            },
            crate::compose::comment_text(&stack.project),
            crate::compose::comment_text(&stack.root.join(stack_file(phase)).display().to_string()),
            crate::compose::comment_text(&stack.compose_project(phase)),
        );
        stack_files.push(crate::Artifact {
            path: stack_file(phase).to_string(),
            bytes: format!("{header}{body}").into_bytes(),
            mode: 0o644,
            owner: (0, 0),
            services: Vec::new(),
            secrets: BTreeSet::new(),
            secret: false,
        });
    }
    if settings.encrypt {
        notes.push("overlay networks are encrypted (IPsec between nodes)".into());
    } else {
        notes.push(
            "overlay networks are NOT encrypted (`[swarm] encrypt = false`): traffic between nodes crosses their network in clear".into(),
        );
    }
    notes.push("Swarm services have no `no-new-privileges`; capabilities are still dropped".into());
    // Files that stay files on the manager: the provisioning script and what the
    // backup runs; the env files and the mounted configs become Swarm objects.
    let mounted: BTreeSet<&str> = stack
        .services
        .iter()
        .flat_map(|s| {
            s.def
                .configs
                .iter()
                .filter(|c| c.target.is_some())
                .map(|c| c.path.as_str())
        })
        .collect();
    let mut artifacts: Vec<crate::Artifact> =
        compose
            .artifacts
            .iter()
            .filter(|a| {
                !a.path.starts_with("env/")
                    && a.path != crate::artifact::MANIFEST
                    && !mounted.contains(a.path.as_str())
                    && !a.path.starts_with("docker-compose")
                    && !stack.services.iter().any(|s| {
                        s.def.files.iter().filter(|f| f.target.is_some()).any(|f| {
                            a.path == f.path || a.path.starts_with(&format!("{}/", f.path))
                        })
                    })
            })
            .cloned()
            .collect();
    artifacts.extend(stack_files);
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    let mut dirs: Vec<crate::DirSpec> = compose
        .dirs
        .iter()
        .filter(|d| {
            artifacts
                .iter()
                .any(|a| a.path.starts_with(&format!("{}/", d.path)))
                || d.path.is_empty()
        })
        .cloned()
        .collect();
    crate::add_dirs(&mut dirs, "swarm", 0o755, (0, 0));
    dirs.sort_by(|a, b| a.path.cmp(&b.path));
    let mut files = Rendered {
        artifacts,
        dirs,
        input_hashes: BTreeMap::new(),
        probes: compose.probes.clone(),
        after_start: compose.after_start.clone(),
        backups: compose.backups.clone(),
    };
    files.add_manifest();
    Ok(RenderedSwarm {
        files,
        objects: objects.list,
        node_dirs,
        placement,
        images: pinned,
        notes,
    })
}

/// Like [`ENV_WRAPPER`], but a name listed in the first argument keeps the value the
/// exec was given (a probe's own `env` wins over the service's).
const EXEC_WRAPPER: &str = r#"keep=" $1 "; shift; for f in /run/secrets/vpai-env-*; do [ -e "$f" ] || continue; k=${f#/run/secrets/vpai-env-}; case $keep in *" $k "*) continue;; esac; v=$(cat "$f"; printf x); export "$k=${v%x}"; done; exec "$@""#;

/// A command for `docker exec` in a service's task that sees the service's secrets
/// in its environment, as the program does (an exec does not inherit the wrapper's
/// exports). Smoke probes read them there (`LITELLM_MASTER_KEY`); the names in `keep`
/// (the probe's own environment) are left as the exec sets them.
pub fn exec_with_secrets(argv: &[String], keep: &[&str]) -> Vec<String> {
    let mut out = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        EXEC_WRAPPER.to_string(),
        "vpai-env".to_string(),
        keep.join(" "),
    ];
    out.extend(argv.iter().cloned());
    out
}

/// A healthcheck that first exports the service's secrets, as the wrapper does for
/// the program (a `docker exec` does not inherit the wrapper's environment).
fn wrap_check(test: &[String]) -> Vec<String> {
    match test.first().map(String::as_str) {
        Some("CMD") => {
            let mut t = vec![
                "CMD".to_string(),
                "/bin/sh".to_string(),
                "-c".to_string(),
                literal(ENV_WRAPPER),
                "vpai-env".to_string(),
            ];
            t.extend(test[1..].iter().cloned());
            t
        }
        Some("CMD-SHELL") if test.len() == 2 => vec![
            "CMD".to_string(),
            "/bin/sh".to_string(),
            "-c".to_string(),
            literal(ENV_WRAPPER),
            "vpai-env".to_string(),
            "/bin/sh".to_string(),
            "-c".to_string(),
            test[1].clone(),
        ],
        _ => test.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_wrapper_exports_secrets_but_keeps_the_probes_own_values() {
        let dir = tempfile::tempdir().unwrap();
        let argv = exec_with_secrets(
            &[
                "sh".into(),
                "-c".into(),
                "printf '%s|%s' \"$A\" \"$B\"".into(),
            ],
            &["B"],
        );
        // The same script, reading a directory of this test instead of /run/secrets.
        let script = argv[2].replace("/run/secrets/", &format!("{}/", dir.path().display()));
        std::fs::write(dir.path().join("vpai-env-A"), "from-secret\n").unwrap();
        std::fs::write(dir.path().join("vpai-env-B"), "not-this").unwrap();
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .args(&argv[3..])
            .env("B", "the-probe's")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "from-secret\n|the-probe's"
        );
    }

    #[test]
    fn object_names_fit_swarm_limits() {
        let n = object_name("p", "svc", &"X/Y".repeat(40), "0123456789ab");
        assert!(n.len() <= 64, "{n}");
        assert!(
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        );
        assert!(n.ends_with("_0123456789ab"));
    }

    #[test]
    fn keyed_hash_depends_on_key_and_parts() {
        assert_ne!(keyed_hash(b"a", &[b"x"]), keyed_hash(b"b", &[b"x"]));
        // The parts are length-prefixed: a boundary cannot move unnoticed.
        assert_ne!(
            keyed_hash(b"a", &[b"ab", b"c"]),
            keyed_hash(b"a", &[b"a", b"bc"])
        );
        assert_eq!(keyed_hash(b"a", &[b"x"]).len(), 12);
    }
}
