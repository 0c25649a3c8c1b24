//! The two compose files. Phase A (`docker-compose-infra.yml`) owns the data stores,
//! Caddy and the networks they use; phase B (`docker-compose.yml`) holds only the apps
//! and refers to phase A's networks as external (seed 000 #16, seed 001 §2.2). Each
//! phase has its own compose project name, so neither can remove the other's
//! containers as orphans.

use indexmap::IndexMap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use vpai_catalog::Phase;
use vpai_model::{Service, Stack};

#[derive(Serialize)]
struct ComposeFile {
    name: String,
    services: IndexMap<String, ComposeService>,
    networks: IndexMap<String, ComposeNetwork>,
}

#[derive(Serialize)]
struct ComposeService {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_policy: Option<&'static str>,
    container_name: String,
    restart: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    init: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    command: Vec<String>,
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    networks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_add: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup: Option<&'static str>,
    cap_drop: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    security_opt: Vec<&'static str>,
    deploy: Deploy,
    logging: Logging,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_grace_period: Option<String>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Deploy {
    resources: Resources,
}

#[derive(Serialize)]
pub(crate) struct Resources {
    pub(crate) limits: Limits,
}

#[derive(Serialize)]
pub(crate) struct Limits {
    pub(crate) memory: String,
}

#[derive(Serialize)]
pub(crate) struct Logging {
    pub(crate) driver: &'static str,
    pub(crate) options: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
pub(crate) struct Healthcheck {
    pub(crate) test: Vec<String>,
    pub(crate) interval: String,
    pub(crate) timeout: String,
    pub(crate) retries: u32,
    pub(crate) start_period: String,
}

#[derive(Serialize, Default)]
struct ComposeNetwork {
    name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    external: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    internal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipam: Option<Ipam>,
}

#[derive(Serialize)]
pub(crate) struct Ipam {
    pub(crate) config: Vec<IpamConfig>,
}

#[derive(Serialize)]
pub(crate) struct IpamConfig {
    pub(crate) subnet: String,
}

/// A value as Compose reads it back: Compose interpolates `$VAR` and `${VAR}` in every
/// value of the file, and `$$` is its escape for a literal `$`. vpai never relies on
/// interpolation (it writes concrete values), so every `$` it writes is meant literally.
pub(crate) fn literal(value: &str) -> String {
    value.replace('$', "$$")
}

fn literals(values: &[String]) -> Vec<String> {
    values.iter().map(|v| literal(v)).collect()
}

/// Text for a `#` comment line: control characters (a line break would end the
/// comment) are escaped.
pub(crate) fn comment_text(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Which phase owns each network: phase A for any network a phase A service uses,
/// otherwise the first phase that uses it.
pub fn network_owner(stack: &Stack, network: &str) -> Option<Phase> {
    let uses = |phase: Phase| {
        stack
            .phase(phase)
            .any(|s| s.def.networks.iter().any(|n| n == network))
    };
    if uses(Phase::Infra) {
        Some(Phase::Infra)
    } else if uses(Phase::Apps) {
        Some(Phase::Apps)
    } else {
        None
    }
}

pub fn render_compose(
    stack: &Stack,
    phase: Phase,
    input_hashes: &BTreeMap<String, String>,
) -> String {
    let mut services = IndexMap::new();
    let mut used_networks = BTreeSet::new();
    for svc in stack.phase(phase) {
        used_networks.extend(svc.def.networks.iter().cloned());
        services.insert(
            svc.name.clone(),
            compose_service(stack, svc, input_hashes.get(&svc.name)),
        );
    }
    let mut networks = IndexMap::new();
    for net in &stack.networks {
        if !used_networks.contains(&net.name) {
            continue;
        }
        let owned = network_owner(stack, &net.name) == Some(phase);
        networks.insert(
            net.name.clone(),
            if owned {
                ComposeNetwork {
                    name: literal(&net.docker_name),
                    driver: Some("bridge"),
                    internal: net.internal,
                    ipam: Some(Ipam {
                        config: vec![IpamConfig {
                            subnet: literal(&net.subnet),
                        }],
                    }),
                    ..Default::default()
                }
            } else {
                ComposeNetwork {
                    name: literal(&net.docker_name),
                    external: true,
                    ..Default::default()
                }
            },
        );
    }
    let file = ComposeFile {
        name: literal(&stack.compose_project(phase)),
        services,
        networks,
    };
    let header = match phase {
        Phase::Infra => format!(
            "# Phase A (infra) of {}: rendered by vpai, do not edit on the host.\n# By hand: cd {} && docker compose -f docker-compose-infra.yml up -d\n",
            comment_text(&stack.project),
            comment_text(&stack.root.display().to_string())
        ),
        Phase::Apps => format!(
            "# Phase B (apps) of {}: rendered by vpai, do not edit on the host.\n# Start phase A first. By hand: cd {} && docker compose up -d\n",
            comment_text(&stack.project),
            comment_text(&stack.root.display().to_string())
        ),
    };
    let body = serde_saphyr::to_string(&file).expect("compose model serializes");
    format!("{header}{body}")
}

/// Where the restore drill keeps a scratch copy's data, relative to the root.
pub const DRILL_DATA: &str = ".vpai/backup/drill";

/// The restore drill's scratch copies of `services` (`backup/drill.yml`): the same
/// image, command, configs and health check as the live service, under other container
/// names, with no network and no published port, on empty data directories below
/// [`DRILL_DATA`]. Compose runs it with the root as project directory.
pub fn render_drill(stack: &Stack, services: &[&Service]) -> String {
    let mut out = IndexMap::new();
    for svc in services {
        let mut c = compose_service(stack, svc, None);
        let data: Vec<String> = svc
            .def
            .volumes
            .iter()
            .map(|v| literal(&format!("./{}:", v.source)))
            .collect();
        c.volumes = c
            .volumes
            .into_iter()
            .map(|v| match data.iter().find(|d| v.starts_with(d.as_str())) {
                Some(d) => format!("./{DRILL_DATA}/{}", &v[2..d.len() - 1]) + &v[d.len() - 1..],
                None => v,
            })
            .collect();
        c.container_name = literal(&drill_container(svc));
        c.restart = "no";
        c.ports.clear();
        c.networks.clear();
        c.network_mode = Some("none");
        c.labels.retain(|k, _| k == "io.vpai.project");
        c.labels.insert("io.vpai.drill".into(), "true".into());
        out.insert(svc.name.clone(), c);
    }
    let file = ComposeFile {
        name: literal(&format!("{}-drill", stack.project)),
        services: out,
        networks: IndexMap::new(),
    };
    let body = serde_saphyr::to_string(&file).expect("compose model serializes");
    format!(
        "# Scratch copies for the restore drill of {}: rendered by vpai; started and removed\n# by `{}/backup/vpai-backup drill`, never beside the live containers' names or ports.\n{body}",
        comment_text(&stack.project),
        comment_text(&stack.root.display().to_string())
    )
}

/// The container name of a service's scratch copy in the drill.
pub fn drill_container(svc: &Service) -> String {
    format!("{}-drill", svc.container_name)
}

fn compose_service(stack: &Stack, svc: &Service, input_hash: Option<&String>) -> ComposeService {
    let def = &svc.def;
    let mut volumes: Vec<String> = def
        .volumes
        .iter()
        .map(|v| {
            let ro = if v.read_only { ":ro" } else { "" };
            // `{{ stack.root }}` in a target: the same path inside as on the host, for
            // a service that hands paths to the engine (OpenClaw's sandboxes, seed 001
            // §11.23). The root was validated when the stack was built.
            let target = v
                .target
                .replace(vpai_catalog::ROOT_TOKEN, &stack.root.display().to_string());
            literal(&format!("./{}:{target}{ro}", v.source))
        })
        .collect();
    for cfg in &def.configs {
        if let Some(target) = &cfg.target {
            volumes.push(literal(&format!("./{}:{}:ro", cfg.path, target)));
        }
    }
    for copy in &def.files {
        if let Some(target) = &copy.target {
            volumes.push(literal(&format!("./{}:{}:ro", copy.path, target)));
        }
    }
    for m in &def.host_mounts {
        let ro = if m.read_only { ":ro" } else { "" };
        volumes.push(literal(&format!("{}:{}{ro}", m.source, m.target)));
    }
    let group_add = def
        .group_add
        .iter()
        .map(|g| {
            if g == vpai_catalog::DOCKER_SOCKET_GROUP {
                stack.docker_socket_gid().to_string()
            } else {
                literal(g)
            }
        })
        .collect();
    let ports = def
        .publish
        .iter()
        .map(|p| {
            let host = stack.host_port(p);
            let proto = if p.protocol == "udp" { "/udp" } else { "" };
            format!("{host}:{}{proto}", p.container)
        })
        .collect();
    let mut labels = BTreeMap::new();
    labels.insert("io.vpai.project".to_string(), literal(&stack.project));
    labels.insert("io.vpai.phase".to_string(), def.phase.as_str().to_string());
    if let Some(h) = input_hash {
        labels.insert("io.vpai.inputs".to_string(), literal(h));
    }
    ComposeService {
        image: literal(&svc.image),
        // A locally built or mirrored image is never pulled from a registry (seed 003 §1).
        pull_policy: svc.local_image.then_some("never"),
        container_name: literal(&svc.container_name),
        restart: "unless-stopped",
        user: def.run_as.as_deref().map(literal),
        init: def.init,
        // The catalog's command and healthcheck are written in Compose's own syntax (a
        // catalog author writes `$$VAR` for the container's shell): they pass as they are.
        // What comes from stack.toml is escaped (and validated before that).
        command: def.command.clone(),
        env_file: vec![literal(&format!("./env/{}.env", svc.name))],
        ports,
        volumes,
        networks: literals(&def.networks),
        network_mode: None,
        group_add,
        cgroup: def.cgroup.map(|c| c.as_str()),
        cap_drop: vec!["ALL"],
        cap_add: literals(&def.cap_add),
        security_opt: vec!["no-new-privileges:true"],
        deploy: Deploy {
            resources: Resources {
                limits: Limits {
                    memory: literal(&svc.memory),
                },
            },
        },
        logging: Logging {
            driver: "json-file",
            options: [("max-size", "10m"), ("max-file", "3")]
                .into_iter()
                .collect(),
        },
        healthcheck: def.healthcheck.as_ref().map(|h| Healthcheck {
            test: h.test.clone(),
            interval: literal(&h.interval),
            timeout: literal(&h.timeout),
            retries: h.retries,
            start_period: literal(&h.start_period),
        }),
        stop_grace_period: def.stop_grace_period.as_deref().map(literal),
        labels,
    }
}
