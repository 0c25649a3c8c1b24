//! `vpai swarm init|status`, and `vpai up` for a stack with `engine = "swarm"`: the
//! declared hosts become one Docker Swarm (the manager of `[swarm]`, the others
//! workers, each node labelled with its host name), and the stack is deployed to it
//! with `docker stack deploy`, phase by phase.

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
  vpai up                     # with engine = \"swarm\": docker stack deploy, phase by phase

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
    let Some(t) = connect_manager(&project, printer)? else {
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

/// The manager of a swarm stack, connected (None: the stack runs on docker compose).
pub fn connect_manager(project: &Project, printer: &Printer) -> anyhow::Result<Option<Target>> {
    let Some(sw) = &project.stack.swarm else {
        return Ok(None);
    };
    let def = project
        .stack
        .host(&sw.manager)
        .cloned()
        .expect("the model checked the manager");
    Ok(Some(target::connect_def(&def, printer)?))
}

/// `vpai up` on a swarm: render against the manager's images, then deploy.
pub fn up(args: crate::cli::UpArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let store = project.secrets(printer)?;
    project.require_external(&store)?;
    let hosts = connect_all(&project, printer)?;
    let nodes = nodes_of(&hosts)?;
    let (manager, workers) = nodes.split_first().expect("a swarm stack has hosts");
    let compose = project.render(&store)?;
    if project.lint(&compose, &args.allow, printer)? {
        return Ok(ExitCode::from(1));
    }
    let images = swarm::image_configs(manager.host, &project.stack)?;
    let sw = vpai_render::swarm::render_swarm(
        &project.stack,
        &store,
        &project.templates,
        &compose,
        &images,
    )?;
    for note in &sw.notes {
        printer.info(note);
    }
    if args.check {
        // Read-only: the files that would change on the manager (stack files with
        // `--diff`) and the secrets and configs that would be created (names only).
        let mut plan = vpai_deploy::plan(manager.host, &project.stack, &sw.files)?;
        plan.services.clear();
        let missing = swarm::missing_objects(manager.host, &sw)?;
        if args.json {
            printer.out(&serde_json::to_string_pretty(&serde_json::json!({
                "files": plan.files,
                "create": missing.iter().map(|o| serde_json::json!({
                    "name": o.name, "kind": o.kind, "holds": o.key,
                })).collect::<Vec<_>>(),
            }))?);
        } else {
            printer.out(&crate::commands::plan::plan_text(&plan, args.diff));
            for o in &missing {
                printer.out(&format!(
                    "  create {} {} ({})",
                    o.kind.as_str(),
                    o.name,
                    o.key
                ));
            }
            printer.info("Swarm updates exactly the services whose definition changes");
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The manager's deploy lock keeps two deploys of this swarm apart; every command
    // run there holds its shared half.
    let (paths, dirs) = vpai_deploy::managed_paths(&sw.files);
    let Some((deploy_lock, _)) =
        target::lock(manager.host, &project.stack, &paths, &dirs, printer)?
    else {
        return Ok(ExitCode::from(1));
    };
    let guarded = vpai_deploy::lock::Guarded {
        inner: manager.host,
        active: deploy_lock.active_path(),
    };
    let manager = Node {
        name: manager.name,
        host: &guarded,
        advertise: manager.advertise.clone(),
    };
    let opts = vpai_deploy::ApplyOptions {
        timeout: std::time::Duration::from_secs(args.timeout),
        rollback: !args.no_rollback,
        probes: !args.no_probes,
    };
    let redact = |s: &str| printer.redact(s);
    let result = swarm::apply(
        &manager,
        workers,
        &project.stack,
        &sw,
        &opts,
        printer,
        &redact,
    );
    deploy_lock.release();
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
                printer.success(&format!(
                    "`{}` is deployed on the swarm of `{}`",
                    project.stack.project, manager.name
                ));
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
