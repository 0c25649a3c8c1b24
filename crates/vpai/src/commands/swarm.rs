//! `vpai swarm init|join|status`, and `vpai up`, `verify`, `exec` and `rollback` for a stack
//! with `engine = "swarm"`: the declared hosts become one Docker Swarm (the manager of
//! `[swarm]`, the others workers, each node labelled with its host name), and the
//! stack is deployed to it with `docker stack deploy`, phase by phase.

use crate::cli::StackArgs;
use crate::commands::target::{self, Target};
use crate::printer::{Printer, table};
use crate::project::Project;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use vpai_deploy::swarm::{self, Node};
use vpai_model::HostDef;

pub const EXAMPLES: &str = "Examples:
  vpai swarm init             # the manager initialised, every other host joined and labelled
  vpai swarm join             # after adding a [hosts.NAME]: it joins (the same idempotent steps)
  vpai swarm status           # the nodes as the manager sees them
  vpai swarm status --json
  vpai plan                   # what `vpai up` would change on the manager (read-only)
  vpai up                     # with engine = \"swarm\": docker stack deploy, phase by phase
  vpai verify                 # the smoke probes, each in its service's task on its node
  vpai exec redis -- sh       # in a task of the service, on its node
  vpai rollback               # the previous release's stack files, every phase, gated

stack.toml:
  [project]
  engine = \"swarm\"
  [swarm]
  manager = \"app\"            # the host that manages the swarm
  encrypt = true             # encrypted overlay networks (the default)
  [hosts.app]
  address = \"10.0.0.11\"      # also the node's swarm address (or vpn_address when set)
  [hosts.db]
  address = \"10.0.0.12\"
  services = [\"postgresql\"]  # stateful services run where a host lists them
  [services.litellm]
  replicas = 3               # stateless services only

Idempotent: a node already in this swarm is left as it is; a node in another swarm is
an error. The nodes must reach each other on TCP 2377 and 7946, UDP 7946 and 4789.
Exit status: 0 done, 1 a node refused, 2 usage error.";

#[derive(Debug, Args)]
pub struct SwarmArgs {
    #[command(subcommand)]
    pub command: SwarmCommand,
}

#[derive(Debug, Subcommand)]
pub enum SwarmCommand {
    /// Make the declared hosts one swarm: init the manager, join the others, label them.
    Init(SwarmInitArgs),
    /// Join hosts added to stack.toml since (the same steps as `init`: what is done
    /// already is left as it is).
    Join(SwarmInitArgs),
    /// The swarm's nodes, their host labels and states.
    Status(SwarmInitArgs),
}

#[derive(Debug, Args)]
pub struct SwarmInitArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SwarmArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    match args.command {
        SwarmCommand::Init(a) | SwarmCommand::Join(a) => init(a, printer),
        SwarmCommand::Status(a) => status(a, printer),
    }
}

/// The swarm address of a host: its VPN address when it has one (the swarm's traffic
/// then rides the VPN), else its address, which must be an IP.
fn advertise(def: &HostDef) -> anyhow::Result<String> {
    if let Some(vpn) = def.vpn_address {
        return Ok(vpn.to_string());
    }
    match def.address.parse::<std::net::IpAddr>() {
        Ok(ip) => Ok(ip.to_string()),
        Err(_) => bail!(
            "host `{}`: `{}` is not an IP address, and swarm nodes advertise one\n  help: give its IP in `address`, or its VPN address in `vpn_address`",
            def.name,
            def.address.escape_debug()
        ),
    }
}

/// Every declared host, connected: the manager first.
fn connect_all(project: &Project, printer: &Printer) -> anyhow::Result<Vec<(HostDef, Target)>> {
    let Some(settings) = &project.stack.swarm else {
        bail!(
            "the stack's engine is docker compose\n  help: set `engine = \"swarm\"` in [project] of stack.toml (and `[swarm] manager`)"
        );
    };
    let mut defs = project.stack.hosts.clone();
    defs.sort_by_key(|h| h.name != settings.manager);
    let mut out = Vec::new();
    for def in defs {
        advertise(&def)?;
        let t = target::connect_def(&def, printer)
            .with_context(|| format!("connecting to `{}`", def.name))?;
        out.push((def, t));
    }
    Ok(out)
}

fn nodes_of(hosts: &[(HostDef, Target)]) -> anyhow::Result<Vec<Node<'_>>> {
    hosts
        .iter()
        .map(|(d, t)| {
            Ok(Node {
                name: &d.name,
                host: t.host(),
                advertise: advertise(d)?,
            })
        })
        .collect()
}

fn init(args: SwarmInitArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let encrypt = project.stack.swarm.as_ref().is_some_and(|s| s.encrypt);
    let hosts = connect_all(&project, printer)?;
    let nodes = nodes_of(&hosts)?;
    let (manager, workers) = nodes.split_first().expect("a swarm stack has hosts");
    let done = match swarm::bootstrap(manager, workers, encrypt, printer) {
        Ok(d) => d,
        Err(e) => {
            printer.error_text(&e.to_string());
            return Ok(ExitCode::from(1));
        }
    };
    let states = swarm::nodes(manager.host)?;
    if args.json {
        printer.out(&serde_json::to_string_pretty(&serde_json::json!({
            "manager": manager.name,
            "changes": done,
            "nodes": states,
        }))?);
    } else {
        if done.is_empty() {
            printer.success("the swarm is as declared: nothing to do");
        } else {
            for d in &done {
                printer.success(d);
            }
        }
        printer.out(&nodes_table(&states));
    }
    Ok(ExitCode::SUCCESS)
}

fn nodes_table(states: &[swarm::NodeState]) -> String {
    table(
        &["HOST", "NODE", "ROLE", "STATE", "AVAILABILITY"],
        &states
            .iter()
            .map(|s| {
                vec![
                    if s.host.is_empty() {
                        "(unlabelled)".into()
                    } else {
                        s.host.clone()
                    },
                    s.id.chars().take(12).collect(),
                    if s.manager {
                        "manager".into()
                    } else {
                        "worker".into()
                    },
                    s.state.clone(),
                    s.availability.clone(),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

fn status(args: SwarmInitArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let Some(t) = connect_manager(&project, &crate::cli::TargetArgs { host: None }, printer)?
    else {
        bail!(
            "the stack's engine is docker compose\n  help: set `engine = \"swarm\"` in [project]"
        );
    };
    let states = swarm::nodes(t.host())?;
    if args.json {
        printer.out(&serde_json::to_string_pretty(&states)?);
    } else {
        printer.out(&nodes_table(&states));
    }
    Ok(ExitCode::SUCCESS)
}

/// A swarm is reached through its manager: `--host` may name only the manager.
pub fn refuse_other_host(project: &Project, target: &crate::cli::TargetArgs) -> anyhow::Result<()> {
    if let (Some(sw), Some(host)) = (&project.stack.swarm, &target.host)
        && host != &sw.manager
    {
        bail!(
            "`--host {}`: a swarm is reached through its manager `{}`, which answers for every node\n  help: drop `--host`; `[hosts.NAME] services` pins a stateful service to a host",
            host.escape_debug(),
            sw.manager
        );
    }
    Ok(())
}

/// The manager of a swarm stack, connected (None: the stack runs on docker compose).
pub fn connect_manager(
    project: &Project,
    target: &crate::cli::TargetArgs,
    printer: &Printer,
) -> anyhow::Result<Option<Target>> {
    let Some(sw) = &project.stack.swarm else {
        return Ok(None);
    };
    refuse_other_host(project, target)?;
    let def = project
        .stack
        .host(&sw.manager)
        .cloned()
        .expect("the model checked the manager");
    Ok(Some(target::connect_def(&def, printer)?))
}

/// Run `f` under the manager's deploy lock (it keeps two deploys of this swarm apart;
/// every command run there holds its shared half), with the manager's commands
/// guarded by it, then release it. `None`: the lock is held elsewhere (said why).
fn under_lock<T>(
    manager: &Node,
    stack: &vpai_model::Stack,
    paths: &[&str],
    dirs: &[&str],
    printer: &Printer,
    f: impl FnOnce(&Node, &vpai_deploy::state::HostState) -> T,
) -> anyhow::Result<Option<T>> {
    let Some((deploy_lock, snapshot)) = target::lock(manager.host, stack, paths, dirs, printer)?
    else {
        return Ok(None);
    };
    let guarded = vpai_deploy::lock::Guarded {
        inner: manager.host,
        active: deploy_lock.active_path(),
    };
    let locked = Node {
        name: manager.name,
        host: &guarded,
        advertise: manager.advertise.clone(),
    };
    let out = f(&locked, &snapshot);
    deploy_lock.release();
    Ok(Some(out))
}

/// The stack rendered for the swarm, its images resolved on the manager (with `pull`,
/// a registry image the manager lacks is pulled there first); what Swarm does not do
/// that Compose does is said.
fn render_for(
    project: &Project,
    store: &vpai_vault::SecretStore,
    compose: &vpai_render::Rendered,
    manager: &dyn vpai_host::Host,
    pull: bool,
    printer: &Printer,
) -> anyhow::Result<vpai_render::swarm::RenderedSwarm> {
    let images = swarm::image_configs(manager, &project.stack, pull)?;
    let sw = vpai_render::swarm::render_swarm(
        &project.stack,
        store,
        &project.templates,
        compose,
        &images,
    )?;
    for note in &sw.notes {
        printer.info(note);
    }
    Ok(sw)
}

/// Read-only: the files that would change on the manager (stack files, with their
/// diffs when `diff`) and the secrets and configs that would be created (names only).
fn show_plan(
    manager: &dyn vpai_host::Host,
    project: &Project,
    sw: &vpai_render::swarm::RenderedSwarm,
    diff: bool,
    json: bool,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let mut plan = vpai_deploy::plan(manager, &project.stack, &sw.files)?;
    plan.services.clear();
    let missing = swarm::missing_objects(manager, sw)?;
    if json {
        printer.out(&serde_json::to_string_pretty(&serde_json::json!({
            "files": plan.files,
            "create": missing.iter().map(|o| serde_json::json!({
                "name": o.name, "kind": o.kind, "holds": o.key,
            })).collect::<Vec<_>>(),
        }))?);
    } else {
        printer.out(&crate::commands::plan::plan_text(&plan, diff));
        for o in &missing {
            printer.out(&format!(
                "  create {} {} ({})",
                o.kind.as_str(),
                o.name,
                o.key
            ));
        }
        if plan.is_noop() && missing.is_empty() {
            printer.success(&format!(
                "the swarm of `{}` has these files and objects: nothing to change",
                manager.name()
            ));
        }
        printer.info("Swarm updates exactly the services whose definition changes");
    }
    Ok(ExitCode::SUCCESS)
}

/// `vpai plan` on a swarm: what `vpai up` would change on the manager (read-only).
pub fn plan(
    project: Project,
    args: &crate::cli::PlanArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let store = project.secrets(printer)?;
    let Some(manager) = connect_manager(&project, &args.target, printer)? else {
        bail!("the stack's engine is docker compose");
    };
    let compose = project.render(&store)?;
    let host = printer.traced(manager.host());
    let sw = render_for(&project, &store, &compose, &host, false, printer)?;
    show_plan(&host, &project, &sw, !args.no_diff, args.json, printer)
}

/// `vpai up` on a swarm: render against the manager's images, then deploy.
pub fn up(
    project: Project,
    args: crate::cli::UpArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let store = project.secrets(printer)?;
    project.require_external(&store)?;
    let hosts = connect_all(&project, printer)?;
    let nodes = nodes_of(&hosts)?;
    let (manager, workers) = nodes.split_first().expect("a swarm stack has hosts");
    let compose = project.render(&store)?;
    if project.lint(&compose, &args.allow, printer)? {
        return Ok(ExitCode::from(1));
    }
    // Resolved on the manager (a registry image it lacks is pulled, except in --check).
    let sw = render_for(
        &project,
        &store,
        &compose,
        manager.host,
        !args.check,
        printer,
    )?;
    if args.check {
        return show_plan(manager.host, &project, &sw, args.diff, args.json, printer);
    }
    let (paths, dirs) = vpai_deploy::managed_paths(&sw.files);
    let opts = vpai_deploy::ApplyOptions {
        timeout: std::time::Duration::from_secs(args.timeout),
        rollback: !args.no_rollback,
        probes: !args.no_probes,
    };
    let redact = |s: &str| printer.redact(s);
    let Some(result) = under_lock(manager, &project.stack, &paths, &dirs, printer, |m, _| {
        swarm::apply(m, workers, &project.stack, &sw, &opts, printer, &redact)
    })?
    else {
        return Ok(ExitCode::from(1));
    };
    match result {
        Ok(report) => {
            if args.json {
                printer.out(&serde_json::to_string_pretty(&report)?);
            } else {
                let rows: Vec<Vec<String>> = report
                    .services
                    .iter()
                    .map(|s| {
                        vec![
                            s.service.clone(),
                            sw.placement
                                .get(&s.service)
                                .cloned()
                                .flatten()
                                .unwrap_or_else(|| "any".into()),
                            s.state.clone(),
                            s.url.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                printer.out(&table(&["SERVICE", "NODE", "TASKS", "URL"], &rows));
                if report.noop {
                    printer.success(&format!(
                        "nothing to do: the swarm of `{}` runs `{}` as declared, every task on its image",
                        manager.name, project.stack.project
                    ));
                } else {
                    printer.success(&format!(
                        "`{}` is deployed on the swarm of `{}`",
                        project.stack.project, manager.name
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            printer.error_text(&printer.redact(&e.to_string()));
            if let vpai_deploy::DeployError::AfterWrite {
                rolled_back,
                rollback_error,
                ..
            } = &e
            {
                if let Some(r) = rolled_back {
                    printer.info(&format!(
                        "the previous release {r} is back on the swarm (stack files, every phase)"
                    ));
                }
                if let Some(r) = rollback_error {
                    printer.error_text(&format!("the rollback failed too: {r}"));
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// `vpai verify` on a swarm: each probe in (or beside) its service's task, on the node
/// that runs it; with no service named, the exposure of every node.
pub fn verify(
    project: &Project,
    probes: &[vpai_render::probes::RenderedProbe],
    services: &[String],
    printer: &Printer,
) -> anyhow::Result<Vec<vpai_deploy::probes::ProbeOutcome>> {
    let hosts = connect_all(project, printer)?;
    let nodes = nodes_of(&hosts)?;
    let (manager, workers) = nodes.split_first().expect("a swarm stack has hosts");
    let chosen: Vec<_> = probes
        .iter()
        .filter(|p| services.is_empty() || services.contains(&p.service))
        .cloned()
        .collect();
    let redact = |s: &str| printer.redact(s);
    let mut outcomes =
        swarm::run_probes(manager, workers, &project.stack, &chosen, printer, &redact)?;
    printer.clear_services();
    if services.is_empty() {
        for (def, t) in &hosts {
            if let Some(mut o) = crate::commands::verify::exposure_probe(project, t) {
                o.description = format!("{}: {}", def.name, o.description);
                outcomes.push(o);
            }
        }
    }
    Ok(outcomes)
}

/// `vpai rollback` on a swarm: the release's files back on the manager, then every
/// phase deployed from them, gated on convergence.
pub fn rollback(
    project: Project,
    args: crate::cli::RollbackArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let hosts = connect_all(&project, printer)?;
    let nodes = nodes_of(&hosts)?;
    let (manager, workers) = nodes.split_first().expect("a swarm stack has hosts");
    let stack = &project.stack;
    let opts = vpai_deploy::ApplyOptions {
        timeout: std::time::Duration::from_secs(args.timeout),
        rollback: false,
        probes: false,
    };
    let redact = |s: &str| printer.redact(s);
    let Some(result) = under_lock(manager, stack, &[], &[], printer, |m, snapshot| {
        let release = vpai_deploy::rollback_target(m.host, snapshot, args.release.as_deref())?;
        printer.step(&format!(
            "rolling the swarm of `{}` back from release {} to {release}",
            m.name,
            snapshot.current.as_deref().unwrap_or("(none)")
        ));
        let current = snapshot.current.as_deref();
        swarm::rollback_to(
            m, workers, stack, &release, current, false, &opts, printer, &redact,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "the rollback to {release} failed: {}",
                printer.redact(&e.to_string())
            )
        })
    })?
    else {
        return Ok(ExitCode::from(1));
    };
    match result {
        Ok(report) => {
            printer.success(&format!(
                "the swarm is back at release {}: {} files restored, every service converged",
                report.release, report.files_restored
            ));
            printer.out(&crate::commands::status::status_table(&report.services));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            printer.error_text(&format!("{e:#}"));
            Ok(ExitCode::from(1))
        }
    }
}

/// `vpai exec` on a swarm: in a running task of the service (the first the manager
/// lists), on its node, with the service's secrets in the command's environment as the
/// program has them (an exec does not pass through the image's wrapper).
pub fn exec(
    project: &Project,
    service: &str,
    command: &[String],
    tty: bool,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let svc = project.service(service)?;
    let hosts = connect_all(project, printer)?;
    let nodes = nodes_of(&hosts)?;
    let (manager, workers) = nodes.split_first().expect("a swarm stack has hosts");
    let ids = swarm::node_hosts(manager.host)?;
    let (node, container) = swarm::locate_task(manager, workers, &ids, &project.stack, svc)?;
    let argv = if svc.def.tools.iter().any(|t| t == "sh") {
        vpai_render::swarm::exec_with_secrets(command, &[])
    } else {
        command.to_vec()
    };
    let mut args = vec!["docker", "exec", "-i"];
    if tty {
        args.push("-t");
    }
    args.push(&container);
    args.extend(argv.iter().map(String::as_str));
    let traced = printer.traced(node.host);
    Ok(vpai_host::Host::run_interactive(&traced, &args, tty)?)
}
