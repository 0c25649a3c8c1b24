//! `vpai restart SERVICE...`: recreate services through compose (`up -d
//! --force-recreate --no-deps`), each through its own compose file, then wait until
//! they are healthy. A recreate and not `docker restart`: a restarted container keeps
//! the environment it was created with and would not read a changed env file. Holds
//! the host's deploy lock, so it never runs in the middle of a deploy.

use crate::cli::{StackArgs, TargetArgs};
use crate::commands::{status::status_table, target};
use crate::printer::Printer;
use crate::project::Project;
use clap::Args;
use std::process::ExitCode;
use std::time::Duration;
use vpai_deploy::{DeployError, OpsError, ops};

pub const EXAMPLES: &str = "Examples:
  vpai restart n8n                   # recreate n8n, wait until it is healthy
  vpai restart --host prod redis n8n # on a host over SSH; redis (phase A) first
  vpai restart --json app            # the final states as JSON

A restart recreates the container (`docker compose up -d --force-recreate --no-deps`):
`docker restart` would not reload env files. Other services are not touched.";

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Services (or container names) to recreate.
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,
    /// Longest wait for the services to become healthy, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub timeout: u64,
    /// Print the services' final states as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RestartArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    ops::select(&project.stack, &args.services)?;
    crate::commands::logs::mask_secrets(&project, printer)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;
    let stack = &project.stack;
    let selection = target::select_on(stack, &args.services, host)?;
    let Some((deploy_lock, _)) = target::lock(host, stack, &[], &[], printer)? else {
        return Ok(ExitCode::from(1));
    };
    let guarded = vpai_deploy::lock::Guarded {
        inner: host,
        active: deploy_lock.active_path(),
    };
    let redact = |s: &str| printer.redact(s);
    let result = ops::restart(
        &guarded,
        stack,
        &selection,
        Duration::from_secs(args.timeout),
        printer,
        &redact,
    );
    deploy_lock.release();
    printer.clear_services();
    match result {
        Ok(statuses) => {
            printer.success(&format!(
                "recreated {} on `{}`; healthy",
                selection
                    .services()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                host.name()
            ));
            if args.json {
                printer.out(&serde_json::to_string_pretty(&statuses)?);
            } else {
                printer.out(&status_table(&statuses));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(OpsError::Deploy(DeployError::Unhealthy(failure))) => {
            printer.error_text(&format!(
                "service `{}` ({}) did not become healthy after the recreate: {}",
                failure.service, failure.container, failure.reason
            ));
            printer.info(&format!(
                "last 50 log lines of {}:\n{}",
                failure.container,
                failure
                    .logs
                    .trim_end()
                    .lines()
                    .map(|l| vpai_check::text::sanitize_for_terminal(l).into_owned())
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
            printer.info(&format!(
                "help: `vpai doctor{} {}` explains known failures",
                if host.is_remote() {
                    format!(" --host {}", host.name())
                } else {
                    String::new()
                },
                failure.service
            ));
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
