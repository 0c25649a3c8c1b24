//! Docker Swarm: bootstrap the cluster on the declared hosts (`vpai swarm init`), and
//! deploy the stack to it (`vpai up` with `engine = "swarm"`): the same phases as with
//! Compose, with `docker stack deploy` per phase and a gate on task convergence.
//!
//! Everything runs through the hosts' ordinary SSH sessions; the manager does the
//! cluster work, the other nodes are asked only for what lives on them (their node id,
//! their data directories, their images, the container that provisions databases).

use crate::{ApplyReport, DeployError, Progress, ServiceStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use vpai_catalog::Phase;
use vpai_host::Host;
use vpai_model::Stack;
use vpai_render::swarm::{
    HOST_LABEL, IMAGE_ID_LABEL, ImageConfig, PinnedImage, RenderedSwarm, stack_file,
};

/// One declared host as a swarm node.
pub struct Node<'a> {
    /// Its `[hosts]` name (the `vpai.host` node label).
    pub name: &'a str,
    pub host: &'a dyn Host,
    /// The address other nodes reach it on (`--advertise-addr`).
    pub advertise: String,
}

/// What `docker info` says of a node's swarm membership.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SwarmInfo {
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(default)]
    pub local_node_state: String,
    #[serde(default)]
    pub control_available: bool,
}

fn fail(command: &str, out: &vpai_host::CmdOutput) -> DeployError {
    DeployError::Command {
        command: command.to_string(),
        status: out.status,
        stderr: out.stderr_text(),
    }
}

fn run(host: &dyn Host, args: &[&str], stdin: Option<&[u8]>) -> Result<String, DeployError> {
    let out = host.run(args, stdin)?;
    if !out.success() {
        return Err(fail(&args.join(" "), &out));
    }
    Ok(out.stdout_text())
}

/// The node's swarm state (`inactive`, `pending`, `active`, `error`, `locked`).
pub fn info(host: &dyn Host) -> Result<SwarmInfo, DeployError> {
    let text = run(
        host,
        &["docker", "info", "--format", "{{json .Swarm}}"],
        None,
    )?;
    serde_json::from_str(text.trim()).map_err(|e| DeployError::Command {
        command: "docker info --format '{{json .Swarm}}'".into(),
        status: 0,
        stderr: format!("unexpected answer ({e})"),
    })
}

/// Can this node's kernel carry an encrypted overlay? Docker's encrypted overlays use
/// ESP with AES-GCM (`rfc4106(gcm(aes))`); a kernel without it accepts the network and
/// then silently drops every packet between nodes. Tried in a throwaway network
/// namespace, so nothing is left behind.
pub fn esp_supported(host: &dyn Host) -> Result<Result<(), String>, DeployError> {
    let probe = "ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x101 reqid 1 mode transport aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128";
    let out = host.run(&["unshare", "--net", "--", "sh", "-c", probe], None)?;
    Ok(if out.success() {
        Ok(())
    } else {
        Err(out.stderr_text().trim().to_string())
    })
}

/// `vpai swarm init`: the manager initialised, the other nodes joined, every node
/// labelled with its host name. Idempotent: a node already in this swarm is left as it
/// is; one in another swarm is an error. Returns what was done, one line each.
pub fn bootstrap(
    manager: &Node,
    workers: &[Node],
    encrypt: bool,
    progress: &dyn Progress,
) -> Result<Vec<String>, DeployError> {
    let mut done = Vec::new();
    let all: Vec<&Node> = std::iter::once(manager).chain(workers.iter()).collect();
    if encrypt {
        progress.step("checking that every node can encrypt overlay traffic (ESP, AES-GCM)");
        for n in &all {
            if let Err(why) = esp_supported(n.host)? {
                return Err(DeployError::Swarm(format!(
                    "the kernel of `{}` cannot encrypt overlay networks (IPsec ESP with AES-GCM: {why}); an encrypted overlay would drop every packet between nodes\n  help: load the `esp4` and `xfrm_user` modules there (`modprobe esp4`), or set `[swarm] encrypt = false` knowingly (traffic between nodes then crosses their network in clear)",
                    n.name
                )));
            }
        }
    }
    let m = info(manager.host)?;
    match m.local_node_state.as_str() {
        "inactive" => {
            progress.step(&format!("{}: docker swarm init", manager.name));
            run(
                manager.host,
                &[
                    "docker",
                    "swarm",
                    "init",
                    "--advertise-addr",
                    &manager.advertise,
                ],
                None,
            )?;
            done.push(format!("{}: swarm initialised (manager)", manager.name));
        }
        "active" if m.control_available => {}
        "active" => {
            return Err(DeployError::Swarm(format!(
                "`{}` is a worker of a swarm, not a manager\n  help: name a manager of that swarm in `[swarm] manager`, or `docker swarm leave` on `{}` first",
                manager.name, manager.name
            )));
        }
        other => {
            return Err(DeployError::Swarm(format!(
                "the swarm state of `{}` is `{other}`\n  help: `docker info` there says why; `docker swarm leave --force` resets it",
                manager.name
            )));
        }
    }
    let members: BTreeSet<String> = run(
        manager.host,
        &["docker", "node", "ls", "--format", "{{.ID}}"],
        None,
    )?
    .lines()
    .map(str::to_string)
    .collect();
    for w in workers {
        let wi = info(w.host)?;
        match wi.local_node_state.as_str() {
            "active" | "pending" if members.contains(&wi.node_id) => continue,
            "active" | "pending" | "locked" | "error" => {
                return Err(DeployError::Swarm(format!(
                    "`{}` belongs to another swarm (node {})\n  help: `docker swarm leave` on `{}` if that swarm is not needed, then run this again",
                    w.name, wi.node_id, w.name
                )));
            }
            _ => {}
        }
        // The token never reaches a command line: read from the manager's stdout, it
        // goes to the worker's engine API on stdin.
        let token = run(
            manager.host,
            &["docker", "swarm", "join-token", "-q", "worker"],
            None,
        )?;
        let body = serde_json::json!({
            "ListenAddr": "0.0.0.0:2377",
            "AdvertiseAddr": w.advertise,
            "RemoteAddrs": [format!("{}:2377", manager.advertise)],
            "JoinToken": token.trim(),
        });
        progress.step(&format!("{}: joining the swarm", w.name));
        let out = w.host.run(
            &[
                "curl",
                "-sS",
                "--max-time",
                "120",
                "--unix-socket",
                "/var/run/docker.sock",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
                "-w",
                "\n%{http_code}",
                "http://localhost/swarm/join",
            ],
            Some(body.to_string().as_bytes()),
        )?;
        let text = out.stdout_text();
        let code = text.lines().last().unwrap_or_default().trim().to_string();
        if !out.success() || code != "200" {
            return Err(DeployError::Swarm(format!(
                "`{}` could not join the swarm of `{}` (HTTP {code}): {}{}\n  help: the nodes must reach each other on TCP 2377 and 7946, UDP 7946 and 4789; `curl` must be installed on `{}`",
                w.name,
                manager.name,
                text.lines().next().unwrap_or_default(),
                out.stderr_text().trim(),
                w.name
            )));
        }
        done.push(format!("{}: joined the swarm as a worker", w.name));
    }
    // Labels: the placement constraints name hosts, not node ids.
    for n in &all {
        let id = info(n.host)?.node_id;
        let current = run(
            manager.host,
            &[
                "docker",
                "node",
                "inspect",
                "--format",
                &format!("{{{{index .Spec.Labels \"{HOST_LABEL}\"}}}}"),
                &id,
            ],
            None,
        )?;
        if current.trim() != n.name {
            run(
                manager.host,
                &[
                    "docker",
                    "node",
                    "update",
                    "--label-add",
                    &format!("{HOST_LABEL}={}", n.name),
                    &id,
                ],
                None,
            )?;
            done.push(format!("{}: node labelled {HOST_LABEL}={}", n.name, n.name));
        }
    }
    Ok(done)
}

/// The secrets and configs of `sw` the swarm does not have yet.
pub fn missing_objects<'a>(
    manager: &dyn Host,
    sw: &'a RenderedSwarm,
) -> Result<Vec<&'a vpai_render::swarm::SwarmObject>, DeployError> {
    let mut missing = Vec::new();
    for kind in [
        vpai_render::swarm::ObjectKind::Secret,
        vpai_render::swarm::ObjectKind::Config,
    ] {
        let have: BTreeSet<String> = run(
            manager,
            &["docker", kind.as_str(), "ls", "--format", "{{.Name}}"],
            None,
        )?
        .lines()
        .map(str::to_string)
        .collect();
        missing.extend(
            sw.objects
                .iter()
                .filter(|o| o.kind == kind && !have.contains(&o.name)),
        );
    }
    Ok(missing)
}

/// One node of `docker node ls`, with its host label.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeState {
    pub id: String,
    pub host: String,
    pub state: String,
    pub availability: String,
    pub manager: bool,
}

/// The swarm's nodes as the manager sees them.
pub fn nodes(manager: &dyn Host) -> Result<Vec<NodeState>, DeployError> {
    let ids: Vec<String> = run(
        manager,
        &["docker", "node", "ls", "--format", "{{.ID}}"],
        None,
    )?
    .lines()
    .map(str::to_string)
    .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec![
        "docker".to_string(),
        "node".into(),
        "inspect".into(),
        "--format".into(),
        format!(
            "{{{{.ID}}}}\t{{{{index .Spec.Labels \"{HOST_LABEL}\"}}}}\t{{{{.Status.State}}}}\t{{{{.Spec.Availability}}}}\t{{{{.Spec.Role}}}}"
        ),
    ];
    args.extend(ids);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(run(manager, &refs, None)?
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 5).then(|| NodeState {
                id: f[0].into(),
                host: f[1].into(),
                state: f[2].into(),
                availability: f[3].into(),
                manager: f[4] == "manager",
            })
        })
        .collect())
}

/// The entrypoint, command, ID and registry digests of each image of the stack, read
/// on the manager (the render starts the images as they would start, and pins them).
/// With `pull`, an image from a registry that the manager lacks is pulled there first;
/// an image it still does not hold is left out (the deploy's image check names it).
pub fn image_configs(
    manager: &dyn Host,
    stack: &Stack,
    pull: bool,
) -> Result<BTreeMap<String, ImageConfig>, DeployError> {
    let mut images: Vec<(&str, bool)> = Vec::new();
    for svc in &stack.services {
        if !images.iter().any(|(i, _)| *i == svc.image) {
            images.push((&svc.image, svc.local_image));
        }
    }
    let refs: Vec<&str> = images.iter().map(|(i, _)| *i).collect();
    let mut out = BTreeMap::new();
    for ((image, local), line) in images
        .iter()
        .zip(inspect_images(manager, IMAGE_CONFIG, &refs)?)
    {
        let mut line = line;
        if line.is_none()
            && pull
            && !local
            && manager
                .run(&["docker", "pull", "-q", image], None)?
                .success()
        {
            line = inspect_images(manager, IMAGE_CONFIG, &[image])?
                .pop()
                .flatten();
        }
        if let Some(config) = line.as_deref().and_then(parse_image_config) {
            out.insert(image.to_string(), config);
        }
    }
    Ok(out)
}

/// What [`image_configs`] reads of an image.
const IMAGE_CONFIG: &str =
    "{{.Id}}\t{{json .RepoDigests}}\t{{json .Config.Entrypoint}}\t{{json .Config.Cmd}}";

/// `docker image inspect --format FORMAT` of each of `refs` on `host`, in one round
/// trip (`None`: no such image). The format and references are arguments of the
/// script, never part of its text.
fn inspect_images(
    host: &dyn Host,
    format: &str,
    refs: &[&str],
) -> Result<Vec<Option<String>>, DeployError> {
    // (A missing image still prints an empty line: one line per reference from `echo`.)
    const SCRIPT: &str = r#"f=$1; shift; for r do i=$(docker image inspect --format "$f" -- "$r" 2>/dev/null) || i=-; echo "$i"; done"#;
    let mut args = vec!["sh", "-c", SCRIPT, "vpai-images", format];
    args.extend(refs);
    let out = run(host, &args, None)?;
    let lines: Vec<Option<String>> = out
        .lines()
        .map(|l| Some(l.trim().to_string()).filter(|l| l.starts_with("sha256:")))
        .collect();
    if lines.len() != refs.len() {
        return Err(DeployError::Swarm(format!(
            "`{}` answered {} lines for {} images",
            host.name(),
            lines.len(),
            refs.len()
        )));
    }
    Ok(lines)
}

/// The ID of each image in `refs` on `host` (`None`: not there), in one round trip.
fn image_ids(host: &dyn Host, refs: &[&str]) -> Result<Vec<Option<String>>, DeployError> {
    inspect_images(host, "{{.Id}}", refs)
}

/// `sha256:0123456789ab` of an image ID.
fn short_id(id: &str) -> &str {
    id.get(..19).unwrap_or(id)
}

/// One line of `docker image inspect` in the format [`image_configs`] asks for.
fn parse_image_config(text: &str) -> Option<ImageConfig> {
    let f: Vec<&str> = text.trim().splitn(4, '\t').collect();
    let [id, digests, ep, cmd] = f.as_slice() else {
        return None;
    };
    let list = |s: &str| {
        serde_json::from_str::<Option<Vec<String>>>(s)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    Some(ImageConfig {
        entrypoint: list(ep),
        cmd: list(cmd),
        id: id.to_string(),
        repo_digests: list(digests),
    })
}

/// One service of a stack as `docker service` reports it.
#[derive(Debug, Clone)]
struct ServiceRow {
    id: String,
    name: String,
    running: u32,
    desired: u32,
    /// The image and image-ID label of the service's spec (what its tasks must run).
    image: String,
    image_id: String,
    update_state: String,
    /// When the last update began: tells this deploy's update from an older one.
    update_started: String,
    update_message: String,
}

fn service_rows(manager: &dyn Host, stack_name: &str) -> Result<Vec<ServiceRow>, DeployError> {
    let ids: Vec<String> = run(
        manager,
        &[
            "docker",
            "service",
            "ls",
            "--filter",
            &format!("label=com.docker.stack.namespace={stack_name}"),
            "--format",
            "{{.Name}}\t{{.Replicas}}",
        ],
        None,
    )?
    .lines()
    .map(str::to_string)
    .collect();
    let mut replicas = BTreeMap::new();
    let mut args = vec![
        "docker".to_string(),
        "service".into(),
        "inspect".into(),
        "--format".into(),
        format!(
            "{{{{.ID}}}}\t{{{{.Spec.Name}}}}\t{{{{.Spec.TaskTemplate.ContainerSpec.Image}}}}\t\
             {{{{index .Spec.TaskTemplate.ContainerSpec.Labels \"{IMAGE_ID_LABEL}\"}}}}\t\
             {{{{if .UpdateStatus}}}}{{{{.UpdateStatus.State}}}}\t{{{{.UpdateStatus.StartedAt}}}}\t\
             {{{{.UpdateStatus.Message}}}}{{{{else}}}}\t\t{{{{end}}}}"
        ),
    ];
    for l in &ids {
        let (name, r) = l.split_once('\t').unwrap_or((l, "0/0"));
        // `2/3`, or `1/1 (max 1 per node)`.
        let r = r.split_whitespace().next().unwrap_or("0/0");
        let (a, b) = r.split_once('/').unwrap_or(("0", "0"));
        replicas.insert(
            name.to_string(),
            (a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
        );
        args.push(name.to_string());
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(run(manager, &refs, None)?
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(7, '\t').collect();
            if f.len() < 4 {
                return None;
            }
            let (running, desired) = replicas.get(f[1]).copied().unwrap_or((0, 0));
            let field = |i: usize| f.get(i).unwrap_or(&"").to_string();
            Some(ServiceRow {
                id: field(0),
                name: field(1),
                running,
                desired,
                image: field(2),
                image_id: field(3),
                update_state: field(4),
                update_started: field(5),
                update_message: field(6),
            })
        })
        .collect())
}

/// Every service of the stack as the manager sees it: `running` when all its tasks
/// run (a task with a healthcheck runs once healthy), else how many do.
pub fn status(manager: &dyn Host, stack: &Stack) -> Result<Vec<ServiceStatus>, DeployError> {
    let mut out = Vec::new();
    for phase in [Phase::Infra, Phase::Apps] {
        let name = stack.compose_project(phase);
        let rows = service_rows(manager, &name)?;
        for svc in stack.phase(phase) {
            let full = format!("{name}_{}", svc.name);
            let row = rows.iter().find(|r| r.name == full);
            let (state, health) = match row {
                None => ("absent".to_string(), "-".to_string()),
                Some(r) if r.desired > 0 && r.running == r.desired => {
                    ("running".into(), "healthy".into())
                }
                Some(r) => (
                    format!("{}/{} tasks", r.running, r.desired),
                    if r.update_state.is_empty() {
                        "starting".into()
                    } else {
                        r.update_state.clone()
                    },
                ),
            };
            out.push(ServiceStatus {
                service: svc.name.clone(),
                phase: phase.as_str().to_string(),
                container: full,
                state,
                health,
                restarts: 0,
                oom_killed: false,
                url: svc.url.clone(),
            });
        }
    }
    Ok(out)
}

/// The errors of a service's failed tasks, newest first (a few lines).
fn task_errors(manager: &dyn Host, service: &str) -> String {
    manager
        .run(
            &[
                "docker",
                "service",
                "ps",
                "--no-trunc",
                "--filter",
                "desired-state=shutdown",
                "--format",
                "{{.Name}} {{.CurrentState}}: {{.Error}}",
                service,
            ],
            None,
        )
        .map(|o| {
            o.stdout_text()
                .lines()
                .filter(|l| !l.trim_end().ends_with(':'))
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// When each service's last update began, before a deploy (see [`converge`]).
fn update_baseline(
    manager: &dyn Host,
    stack_name: &str,
) -> Result<BTreeMap<String, String>, DeployError> {
    Ok(service_rows(manager, stack_name)?
        .into_iter()
        .map(|r| (r.name, r.update_started))
        .collect())
}

/// Wait until every service of `stack_name` runs all its tasks (a task with a
/// healthcheck counts only once healthy) and no update or rollback is in progress. An
/// update begun by this deploy (its start differs from `baseline`) that Swarm rolled
/// back or paused is a failure, with the failed tasks' errors; one left from an older
/// deploy is not this deploy's doing.
fn converge(
    manager: &dyn Host,
    stack_name: &str,
    expected: &[String],
    baseline: &BTreeMap<String, String>,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Vec<ServiceRow>, DeployError> {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let rows = service_rows(manager, stack_name)?;
        for r in &rows {
            let failed = r.update_state.starts_with("rollback") || r.update_state == "paused";
            let ours = baseline.get(&r.name) != Some(&r.update_started);
            if failed && ours {
                let errors = task_errors(manager, &r.name);
                return Err(DeployError::Swarm(format!(
                    "the update of `{}` failed and Swarm rolled it back ({}: {})\n{}",
                    r.name, r.update_state, r.update_message, errors
                )));
            }
        }
        let missing: Vec<&String> = expected
            .iter()
            .filter(|e| !rows.iter().any(|r| &r.name == *e))
            .collect();
        let pending: Vec<&ServiceRow> = rows
            .iter()
            .filter(|r| {
                r.running < r.desired
                    || r.desired == 0
                    || matches!(r.update_state.as_str(), "updating" | "rollback_started")
            })
            .collect();
        let state = pending
            .iter()
            .map(|r| format!("{} {}/{}", r.name, r.running, r.desired))
            .collect::<Vec<_>>()
            .join(", ");
        if state != last && !state.is_empty() {
            progress.step(&format!("waiting for tasks: {state}"));
            last = state.clone();
        }
        if missing.is_empty() && pending.is_empty() {
            return Ok(rows);
        }
        if start.elapsed() > timeout {
            let mut text = format!(
                "the stack `{stack_name}` did not converge in {}s:",
                timeout.as_secs()
            );
            for m in missing {
                text.push_str(&format!("\n  {m}: no such service"));
            }
            for r in pending {
                text.push_str(&format!(
                    "\n  {}: {}/{} tasks running\n    {}",
                    r.name,
                    r.running,
                    r.desired,
                    task_errors(manager, &r.name).replace('\n', "\n    ")
                ));
            }
            return Err(DeployError::Swarm(text));
        }
        std::thread::sleep(Duration::from_millis(1000));
    }
}

/// After convergence: every running task of the stack runs its service's image (the
/// same reference and, for a local image, the same image ID label), and with `pins`
/// (a deploy) that is the image this deploy resolved for the service.
fn check_images(
    manager: &dyn Host,
    stack_name: &str,
    rows: &[ServiceRow],
    pins: Option<&BTreeMap<String, PinnedImage>>,
) -> Result<(), DeployError> {
    let mut wrong = Vec::new();
    if let Some(pins) = pins {
        for r in rows {
            let service = r
                .name
                .strip_prefix(&format!("{stack_name}_"))
                .unwrap_or(&r.name);
            if let Some(p) = pins.get(service) {
                let want_id = p.id.as_deref().unwrap_or("");
                if r.image != p.reference || r.image_id != want_id {
                    wrong.push(format!(
                        "  {}: the service runs `{}`{}, not `{}`{}",
                        r.name,
                        r.image,
                        id_note(&r.image_id),
                        p.reference,
                        id_note(want_id)
                    ));
                }
            }
        }
    }
    let ids = run(
        manager,
        &[
            "docker",
            "stack",
            "ps",
            "-q",
            "--filter",
            "desired-state=running",
            stack_name,
        ],
        None,
    )?;
    let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
    if !ids.is_empty() {
        let format = format!(
            "{{{{.ID}}}}\t{{{{.ServiceID}}}}\t{{{{.Status.State}}}}\t{{{{.Spec.ContainerSpec.Image}}}}\t\
             {{{{index .Spec.ContainerSpec.Labels \"{IMAGE_ID_LABEL}\"}}}}"
        );
        let mut args = vec!["docker", "inspect", "--format", &format];
        args.extend(&ids);
        for l in run(manager, &args, None)?.lines() {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            let [task, service, state, image, image_id] = f.as_slice() else {
                continue;
            };
            let Some(r) = rows.iter().find(|r| r.id == *service) else {
                continue;
            };
            if *state == "running" && (*image != r.image || *image_id != r.image_id) {
                wrong.push(format!(
                    "  {}: task {} runs `{image}`{}, its service `{}`{}",
                    r.name,
                    short_task(task),
                    id_note(image_id),
                    r.image,
                    id_note(&r.image_id)
                ));
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(DeployError::Swarm(format!(
            "the stack `{stack_name}` converged on other images than this deploy's:\n{}",
            wrong.join("\n")
        )))
    }
}

fn id_note(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!(" ({})", short_id(id))
    }
}

fn short_task(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The declared host `name` among the workers and the manager.
fn node_named<'a>(
    manager: &'a Node<'a>,
    nodes: &'a [Node<'a>],
    name: &str,
) -> Option<&'a Node<'a>> {
    nodes
        .iter()
        .chain(std::iter::once(manager))
        .find(|n| n.name == name)
}

/// The node and container that run the one task of `service` now.
fn task_container(
    manager: &dyn Host,
    service: &str,
) -> Result<Option<(String, String)>, DeployError> {
    let ids = run(
        manager,
        &[
            "docker",
            "service",
            "ps",
            "-q",
            "--filter",
            "desired-state=running",
            service,
        ],
        None,
    )?;
    for id in ids.lines() {
        let t = run(
            manager,
            &[
                "docker",
                "inspect",
                "--format",
                "{{.NodeID}}\t{{.Status.State}}\t{{.Status.ContainerStatus.ContainerID}}",
                id,
            ],
            None,
        )?;
        let f: Vec<&str> = t.trim().split('\t').collect();
        if f.len() == 3 && f[1] == "running" && !f[2].is_empty() {
            return Ok(Some((f[0].to_string(), f[2].to_string())));
        }
    }
    Ok(None)
}

/// Deploy the stack to the swarm: check the nodes, resolve the images where the
/// services may run, make the data directories, create the secrets and configs, write
/// the stack files (a release on the manager), then per phase `docker stack deploy` and
/// wait for convergence; the databases are provisioned between the phases. Old
/// secrets and configs are pruned, keeping the previous version of each.
pub fn apply(
    manager: &Node,
    nodes: &[Node],
    stack: &Stack,
    sw: &RenderedSwarm,
    opts: &crate::ApplyOptions,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<ApplyReport, DeployError> {
    let m = info(manager.host)?;
    if m.local_node_state != "active" || !m.control_available {
        return Err(DeployError::Swarm(format!(
            "`{}` is not a swarm manager (state `{}`)\n  help: `vpai swarm init` makes the declared hosts a swarm",
            manager.name, m.local_node_state
        )));
    }
    if stack.swarm.as_ref().is_some_and(|w| w.encrypt) {
        for n in nodes.iter().chain(std::iter::once(manager)) {
            if let Err(why) = esp_supported(n.host)? {
                return Err(DeployError::Swarm(format!(
                    "the kernel of `{}` cannot encrypt overlay networks ({why}); nothing was written\n  help: `modprobe esp4` there, or set `[swarm] encrypt = false` knowingly",
                    n.name
                )));
            }
        }
    }
    let by_name = |name: &str| node_named(manager, nodes, name);
    // Every node the stack pins a service to is in the swarm, labelled, and ready.
    let states = self::nodes(manager.host)?;
    let needed: BTreeSet<&str> = sw
        .placement
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    for host in &needed {
        match states.iter().find(|s| s.host == *host) {
            Some(s) if s.state == "ready" => {}
            Some(s) => {
                return Err(DeployError::Swarm(format!(
                    "the node of `{host}` is `{}`\n  help: is its Docker engine running? `docker node ls` on the manager",
                    s.state
                )));
            }
            None => {
                return Err(DeployError::Swarm(format!(
                    "no swarm node is labelled `{HOST_LABEL}={host}`\n  help: `vpai swarm init` joins and labels every declared host"
                )));
            }
        }
    }
    // Images, on every node a service may run on, before anything is written: each
    // holds the image the manager resolved (the same digest, or for a local image the
    // same ID under that name; Swarm would otherwise run whatever a node has).
    progress.step("checking the images on the nodes");
    let mut missing = Vec::new();
    let mut differs = Vec::new();
    // Per node, the images it must hold (one round trip per node).
    let mut wanted: BTreeMap<&str, Vec<(&vpai_model::Service, &PinnedImage)>> = BTreeMap::new();
    for svc in &stack.services {
        let Some(pin) = sw.images.get(&svc.name) else {
            missing.push(format!(
                "  {}: `{}` (for {}; the manager resolves every image)",
                manager.name, svc.image, svc.name
            ));
            continue;
        };
        let on: Vec<&Node> = match sw.placement.get(&svc.name).and_then(|p| p.as_deref()) {
            Some(h) => by_name(h).into_iter().collect(),
            // Anywhere: every node that can take a task now (a node that is down gets
            // none; its images are checked when it is back and a deploy runs).
            None => nodes
                .iter()
                .chain(std::iter::once(manager))
                .filter(|n| {
                    states
                        .iter()
                        .any(|s| s.host == n.name && s.state == "ready")
                })
                .collect(),
        };
        for n in on {
            wanted.entry(n.name).or_default().push((svc, pin));
        }
    }
    for (node, list) in wanted {
        let Some(n) = by_name(node) else { continue };
        let refs: Vec<&str> = list.iter().map(|(_, p)| p.reference.as_str()).collect();
        let held = image_ids(n.host, &refs)?;
        for ((svc, pin), mut held) in list.into_iter().zip(held) {
            if held.is_none()
                && !svc.local_image
                && n.host
                    .run(&["docker", "pull", "-q", &pin.reference], None)?
                    .success()
            {
                held = image_ids(n.host, &[&pin.reference])?.pop().flatten();
            }
            match (held, &pin.id) {
                (None, _) => {
                    missing.push(format!("  {}: `{}` (for {})", n.name, svc.image, svc.name));
                }
                (Some(h), Some(want)) if &h != want => differs.push(format!(
                    "  {}: `{}` is {}, the manager's is {} (for {})",
                    n.name,
                    svc.image,
                    short_id(&h),
                    short_id(want),
                    svc.name
                )),
                _ => {}
            }
        }
    }
    if !missing.is_empty() || !differs.is_empty() {
        let mut lines = Vec::new();
        if !missing.is_empty() {
            lines.push("images missing on swarm nodes (nothing was written):".to_string());
            lines.extend(missing);
        }
        if !differs.is_empty() {
            lines.push(
                "one image name, different images on the nodes (nothing was written):".to_string(),
            );
            lines.extend(differs);
            lines.push(
                "  help: load the manager's image on those nodes (`docker save NAME | ssh NODE docker load`)"
                    .to_string(),
            );
        }
        return Err(DeployError::Images(lines));
    }
    // Data directories, on the node that holds them.
    for (host, dirs) in &sw.node_dirs {
        let Some(n) = by_name(host) else { continue };
        // What is there already, in one round trip; then parents first (the list is
        // sorted), only where the mode or owner differs. The root is made by `mkdir -p`.
        let dirs: Vec<_> = dirs.iter().filter(|d| !d.path.is_empty()).collect();
        let paths: Vec<&str> = dirs.iter().map(|d| d.path.as_str()).collect();
        let seen = crate::state::read(n.host, stack, &[], &paths)?;
        for d in dirs {
            let ok = seen.dirs.get(&d.path).is_some_and(|(mode, owner)| {
                *mode == d.mode && (seen.uid != 0 || *owner == d.owner)
            });
            if !ok {
                n.host
                    .ensure_dir(&stack.root, std::path::Path::new(&d.path), d.mode, d.owner)?;
            }
        }
    }
    // Secrets and configs the stack files name (created once; names change with content).
    let mut created = 0;
    for o in missing_objects(manager.host, sw)? {
        let project = format!("io.vpai.project={}", stack.project);
        let key = format!("io.vpai.key={}", o.key);
        let kind = o.kind.as_str();
        run(
            manager.host,
            &[
                "docker", kind, "create", "--label", &project, "--label", &key, &o.name, "-",
            ],
            Some(&o.bytes),
        )
        .map_err(|e| DeployError::Swarm(redact(&e.to_string())))?;
        created += 1;
    }
    if created > 0 {
        progress.step(&format!(
            "{created} secret(s) and config(s) created on the manager"
        ));
    }
    let plan = crate::plan(manager.host, stack, &sw.files)?;
    // Nothing to write or create, and every service runs its tasks on this deploy's
    // images with no update pending: `docker stack deploy` would change nothing.
    if created == 0
        && !plan.changes_files()
        && let Some(services) = settled(manager.host, stack, sw)?
    {
        return Ok(ApplyReport {
            services,
            noop: true,
            ..ApplyReport::default()
        });
    }
    let mut report = crate::write_files_only(manager.host, stack, &sw.files, &plan, progress)?;
    let ctx = Phases {
        manager,
        nodes,
        stack,
        states: &states,
        opts,
        progress,
        redact,
    };
    match ctx.run(Some(sw)) {
        Ok((services, probes)) => {
            report.services = services;
            report.probes = probes;
            prune_objects(manager.host, stack, sw)?;
            Ok(report)
        }
        Err(err) => {
            // Whole-stack rollback, which `docker stack` does not have: the previous
            // release's stack files (their secrets and configs are kept), every phase.
            let current = report.release.clone();
            Err(crate::after_write(
                err,
                opts,
                report.release.is_some(),
                plan.current_release.clone(),
                progress,
                redact,
                |prev| {
                    let live = current.as_deref();
                    rollback_to(
                        manager, nodes, stack, prev, live, true, opts, progress, redact,
                    )
                    .map(|_| ())
                },
            ))
        }
    }
}

/// The services of `phase` as the gate left them (`rows` converged).
fn converged_statuses(
    stack_name: &str,
    phase: Phase,
    services: &[&vpai_model::Service],
    rows: &[ServiceRow],
) -> Vec<ServiceStatus> {
    services
        .iter()
        .map(|svc| {
            let full = format!("{stack_name}_{}", svc.name);
            let row = rows.iter().find(|r| r.name == full);
            ServiceStatus {
                service: svc.name.clone(),
                phase: phase.as_str().to_string(),
                container: full,
                state: row.map_or("absent".into(), |r| {
                    format!("{}/{} tasks", r.running, r.desired)
                }),
                health: if row.is_some() { "healthy" } else { "-" }.into(),
                restarts: 0,
                oom_killed: false,
                url: svc.url.clone(),
            }
        })
        .collect()
}

/// Every phase's services as this deploy would leave them: all tasks running on the
/// pinned images, no update in progress, rolled back or paused. `None`: not so (the
/// deploy goes on and converges them).
fn settled(
    manager: &dyn Host,
    stack: &Stack,
    sw: &RenderedSwarm,
) -> Result<Option<Vec<ServiceStatus>>, DeployError> {
    let mut statuses = Vec::new();
    for phase in [Phase::Infra, Phase::Apps] {
        let services: Vec<_> = stack.phase(phase).collect();
        if services.is_empty() {
            continue;
        }
        let name = stack.compose_project(phase);
        let rows = service_rows(manager, &name)?;
        let steady = services.iter().all(|svc| {
            rows.iter().any(|r| {
                r.name == format!("{name}_{}", svc.name)
                    && r.desired > 0
                    && r.running == r.desired
                    && matches!(r.update_state.as_str(), "" | "completed")
            })
        });
        if !steady || check_images(manager, &name, &rows, Some(&sw.images)).is_err() {
            return Ok(None);
        }
        statuses.extend(converged_statuses(&name, phase, &services, &rows));
    }
    Ok(Some(statuses))
}

/// `vpai rollback` on a swarm: put release `target`'s files back on the manager (its
/// stack files name the images and the secrets and configs it ran with; the pruning
/// keeps the previous version of each), then deploy every phase from them, gated on
/// convergence as a deploy is. Data directories and databases are not touched.
/// `current`: the live release; `current_failed`: a deploy rolling itself back.
#[allow(clippy::too_many_arguments)]
pub fn rollback_to(
    manager: &Node,
    nodes: &[Node],
    stack: &Stack,
    target: &str,
    current: Option<&str>,
    current_failed: bool,
    opts: &crate::ApplyOptions,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<crate::rollback::RollbackReport, DeployError> {
    let states = self::nodes(manager.host)?;
    let root = stack.root.display().to_string();
    progress.step(&format!("restoring the files of release {target}"));
    let restored = crate::release::restore(manager.host, &root, target, current, current_failed)?;
    let ctx = Phases {
        manager,
        nodes,
        stack,
        states: &states,
        opts,
        progress,
        redact,
    };
    let (services, _) = ctx.run(None)?;
    Ok(crate::rollback::RollbackReport {
        release: target.to_string(),
        files_restored: restored,
        services,
    })
}

/// What running the phases needs.
struct Phases<'a> {
    manager: &'a Node<'a>,
    nodes: &'a [Node<'a>],
    stack: &'a Stack,
    states: &'a [NodeState],
    opts: &'a crate::ApplyOptions,
    progress: &'a dyn Progress,
    redact: &'a dyn Fn(&str) -> String,
}

impl Phases<'_> {
    /// Per phase, `docker stack deploy` of the live stack file and the convergence
    /// gate; with `sw` (a deploy, not a rollback) the databases are provisioned after
    /// phase A and the smoke probes run last.
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        sw: Option<&RenderedSwarm>,
    ) -> Result<(Vec<ServiceStatus>, Vec<crate::probes::ProbeOutcome>), DeployError> {
        let (manager, stack, progress) = (self.manager, self.stack, self.progress);
        let mut statuses = Vec::new();
        for phase in [Phase::Infra, Phase::Apps] {
            let services: Vec<_> = stack.phase(phase).collect();
            if services.is_empty() {
                continue;
            }
            let name = stack.compose_project(phase);
            let file = stack.root.join(stack_file(phase)).display().to_string();
            let baseline = update_baseline(manager.host, &name)?;
            progress.step(&format!("{name}: docker stack deploy"));
            run(
                manager.host,
                &[
                    "docker",
                    "stack",
                    "deploy",
                    "--prune",
                    // The images were resolved before (pinned to a digest or an ID).
                    "--resolve-image",
                    "never",
                    "-c",
                    &file,
                    &name,
                ],
                None,
            )?;
            let expected: Vec<String> = services
                .iter()
                .map(|s| format!("{name}_{}", s.name))
                .collect();
            let rows = converge(
                manager.host,
                &name,
                &expected,
                &baseline,
                self.opts.timeout,
                progress,
            )?;
            check_images(manager.host, &name, &rows, sw.map(|s| &s.images))?;
            statuses.extend(converged_statuses(&name, phase, &services, &rows));
            if phase == Phase::Infra
                && let Some(sw) = sw
                && let Some((provider, sql)) = crate::provisioning(stack, &sw.files)
            {
                progress.step("provisioning databases and roles");
                let ids = self
                    .states
                    .iter()
                    .map(|n| (n.id.clone(), n.host.clone()))
                    .collect();
                let (holder, container) = locate_task(manager, self.nodes, &ids, stack, provider)
                    .map_err(|e| DeployError::Provision(e.to_string()))?;
                crate::DockerEngine::new(holder.host)
                    .psql_stdin(&container, &sql.bytes)
                    .map_err(|e| DeployError::Provision((self.redact)(&e)))?;
            }
        }
        let mut outcomes = Vec::new();
        if let Some(sw) = sw
            && self.opts.probes
            && !sw.files.probes.is_empty()
        {
            progress.step(&format!(
                "smoke probes ({}): the last gate",
                sw.files.probes.len()
            ));
            outcomes = run_probes(
                manager,
                self.nodes,
                stack,
                &sw.files.probes,
                progress,
                self.redact,
            )?;
            if !crate::probes::failures(&outcomes).is_empty() {
                return Err(DeployError::Probes(outcomes));
            }
        }
        Ok((statuses, outcomes))
    }
}

/// Node ID -> host name, as the manager sees the nodes.
pub fn node_hosts(manager: &dyn Host) -> Result<BTreeMap<String, String>, DeployError> {
    Ok(self::nodes(manager)?
        .into_iter()
        .map(|n| (n.id, n.host))
        .collect())
}

/// The node and container of a running task of `svc` (`ids`: [`node_hosts`]).
pub fn locate_task<'a>(
    manager: &'a Node<'a>,
    nodes: &'a [Node<'a>],
    ids: &BTreeMap<String, String>,
    stack: &Stack,
    svc: &vpai_model::Service,
) -> Result<(&'a Node<'a>, String), DeployError> {
    let service = format!("{}_{}", stack.compose_project(svc.phase()), svc.name);
    let Some((node_id, container)) = task_container(manager.host, &service)? else {
        return Err(DeployError::Swarm(format!(
            "no running task of `{service}`\n  help: `vpai status` shows its tasks; `vpai logs {}` why they stop",
            svc.name
        )));
    };
    let host = ids.get(&node_id).map(String::as_str).unwrap_or_default();
    let node = node_named(manager, nodes, host).ok_or_else(|| {
        DeployError::Swarm(format!(
            "`{service}` runs on node {node_id}, which is not a declared host"
        ))
    })?;
    Ok((node, container))
}

/// Run probes where their service's task runs: a probe in a container goes to that
/// task's container on its node (with the service's secrets exported, as the program
/// sees them), a probe on the host to that node.
pub fn run_probes(
    manager: &Node,
    nodes: &[Node],
    stack: &Stack,
    probes: &[vpai_render::probes::RenderedProbe],
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<Vec<crate::probes::ProbeOutcome>, DeployError> {
    use vpai_render::probes::ProbePlace;
    let ids = node_hosts(manager.host)?;
    let mut outcomes = Vec::new();
    for p in probes {
        // The service whose task the probe runs in or beside.
        let svc = match &p.place {
            ProbePlace::Container(c) => stack.services.iter().find(|s| &s.container_name == c),
            _ => stack.service(&p.service),
        };
        let mut probe = p.clone();
        let mut on: &Node = manager;
        if let (Some(svc), false) = (svc, matches!(p.place, ProbePlace::NotRun(_))) {
            let (node, container) = locate_task(manager, nodes, &ids, stack, svc)?;
            on = node;
            if let ProbePlace::Container(_) = p.place {
                probe.place = ProbePlace::Container(container);
                if svc.def.tools.iter().any(|t| t == "sh") {
                    let keep: Vec<&str> = p.env.iter().map(|(k, _)| k.as_str()).collect();
                    probe.argv = vpai_render::swarm::exec_with_secrets(&p.argv, &keep);
                }
            }
        }
        outcomes.extend(crate::probes::run(
            on.host,
            stack,
            std::slice::from_ref(&probe),
            &[],
            progress,
            redact,
        ));
    }
    Ok(outcomes)
}

/// Remove the project's secrets and configs that neither this deploy nor the one
/// before uses: per key, the current name and the newest other one stay (a rollback
/// needs it). One still in use is left (Docker refuses, and that is fine).
fn prune_objects(manager: &dyn Host, stack: &Stack, sw: &RenderedSwarm) -> Result<(), DeployError> {
    let current: BTreeSet<&str> = sw.objects.iter().map(|o| o.name.as_str()).collect();
    for kind in ["secret", "config"] {
        let names: Vec<String> = run(
            manager,
            &[
                "docker",
                kind,
                "ls",
                "--filter",
                &format!("label=io.vpai.project={}", stack.project),
                "--format",
                "{{.Name}}",
            ],
            None,
        )?
        .lines()
        .map(str::to_string)
        .collect();
        if names.is_empty() {
            continue;
        }
        // `ls` shows ages ("2 minutes ago"); `inspect` gives the creation time.
        let mut args = vec![
            "docker".to_string(),
            kind.to_string(),
            "inspect".into(),
            "--format".into(),
            "{{.Spec.Name}}\t{{.CreatedAt.UTC.Format \"2006-01-02T15:04:05.000000000Z\"}}\t{{index .Spec.Labels \"io.vpai.key\"}}".into(),
        ];
        args.extend(names);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let rows: Vec<(String, String, String)> = run(manager, &refs, None)?
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(3, '\t').collect();
                (f.len() == 3).then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
            })
            .collect();
        for name in stale_objects(&rows, &current) {
            // One still in use (by a service a failed rollback left behind) is refused
            // by Docker, and stays.
            let _ = manager.run(&["docker", kind, "rm", &name], None)?;
        }
    }
    Ok(())
}

/// Of `(name, created, key)`, the names to remove: per key, all but the ones in
/// `current` and the newest other one (what a rollback to the previous release needs).
fn stale_objects(rows: &[(String, String, String)], current: &BTreeSet<&str>) -> Vec<String> {
    let mut by_key: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (name, created, key) in rows {
        by_key.entry(key).or_default().push((created, name));
    }
    let mut stale = Vec::new();
    for (_, mut versions) in by_key {
        versions.sort_unstable_by(|a, b| b.cmp(a));
        let mut kept_other = false;
        for (_, name) in versions {
            if current.contains(name) {
                continue;
            }
            if kept_other {
                stale.push(name.to_string());
            } else {
                kept_other = true;
            }
        }
    }
    stale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_current_and_the_previous_version_of_each_object() {
        let row = |n: &str, t: &str, k: &str| (n.to_string(), t.to_string(), k.to_string());
        let rows = vec![
            row("p_pg_PASS_a", "2026-11-30T01:00:00.000000000Z", "pg/PASS"),
            row("p_pg_PASS_b", "2026-11-30T02:00:00.000000000Z", "pg/PASS"),
            row("p_pg_PASS_c", "2026-11-30T03:00:00.000000000Z", "pg/PASS"),
            row("p_pg_PASS_d", "2026-11-30T04:00:00.000000000Z", "pg/PASS"),
            row("p_pg_conf_x", "2026-11-30T01:00:00.000000000Z", "pg/conf"),
            row("p_pg_conf_y", "2026-11-30T02:00:00.000000000Z", "pg/conf"),
        ];
        // d is current; c is the previous one; a and b go. conf: y current, x previous.
        let current: BTreeSet<&str> = ["p_pg_PASS_d", "p_pg_conf_y"].into();
        let mut stale = stale_objects(&rows, &current);
        stale.sort();
        assert_eq!(stale, ["p_pg_PASS_a", "p_pg_PASS_b"]);
        // After a rollback the current one may be older than another: it still stays,
        // and so does the newest other.
        let current: BTreeSet<&str> = ["p_pg_PASS_b", "p_pg_conf_y"].into();
        let mut stale = stale_objects(&rows, &current);
        stale.sort();
        assert_eq!(stale, ["p_pg_PASS_a", "p_pg_PASS_c"]);
    }

    #[test]
    fn an_image_config_is_read_from_one_inspect_line() {
        let c = super::parse_image_config(
            "sha256:abc\t[\"redis@sha256:def\"]\t[\"docker-entrypoint.sh\"]\t[\"redis-server\"]\n",
        )
        .unwrap();
        assert_eq!(c.id, "sha256:abc");
        assert_eq!(c.repo_digests, ["redis@sha256:def"]);
        assert_eq!(c.entrypoint, ["docker-entrypoint.sh"]);
        assert_eq!(c.cmd, ["redis-server"]);
        // A local image: no digests, no entrypoint.
        let c = super::parse_image_config("sha256:1\t[]\tnull\t[\"sh\"]").unwrap();
        assert!(c.repo_digests.is_empty() && c.entrypoint.is_empty());
        assert!(super::parse_image_config("garbage").is_none());
    }
}
