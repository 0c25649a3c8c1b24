//! `vpai verify`: the smoke probes alone, against what runs now. The same probes end
//! every `vpai up` (where a failure rolls the deploy back); here nothing changes on the
//! host, and the exit status says whether the stack works end to end.

use crate::cli::{StackArgs, TargetArgs};
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use clap::Args;
use std::process::ExitCode;
use vpai_deploy::probes::{self, ProbeOutcome, ProbeStatus};

pub const EXAMPLES: &str = "Examples:
  vpai verify                      # every probe of every service, on this machine
  vpai verify --host prod          # on a host of stack.toml, over SSH
  vpai verify postgresql redis     # only these services' probes
  vpai verify --json | jq '.[] | select(.status == \"failed\")'

Each service folder of the catalog declares its probes (`[[probes]]` in service.toml):
HTTPS through the reverse proxy with certificate verification, a SQL login as each app
role, a Redis command refused by ACL, a Qdrant scratch collection, a log line that travels
from a container through Alloy to Loki, ... A probe never calls a paid model.
Exit status: 0 every probe passed, 1 one failed (named with its output), 2 usage error.";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only these services' probes [default: all].
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Print the results as JSON (one object per probe).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: VerifyArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(code) =
        crate::commands::fanout::over_hosts(&args.stack, &args.target, args.json, printer)?
    {
        return Ok(code);
    }
    let mut project = Project::load(&args.stack)?;
    for name in &args.services {
        project.service(name)?;
    }
    let store = project.secrets(printer)?;
    let rendered = project.render(&store)?;
    let outcomes = if project.stack.swarm.is_some() {
        crate::commands::swarm::refuse_other_host(&project, &args.target)?;
        // Each probe runs in (or beside) its service's task, on that task's node.
        crate::commands::swarm::verify(&project, &rendered.probes, &args.services, printer)?
    } else {
        let target = target::connect(&mut project, &args.target, printer)?;
        let traced = printer.traced(target.host());
        let redact = |s: &str| printer.redact(s);
        let mut outcomes = probes::run(
            &traced,
            &project.stack,
            &rendered.probes,
            &args.services,
            printer,
            &redact,
        );
        printer.clear_services();
        // The whole stack verified on a server: what its address shows the network.
        if args.services.is_empty()
            && let Some(exposure) = exposure_probe(&project, &target)
        {
            outcomes.push(exposure);
        }
        outcomes
    };
    report(&outcomes, args.json, printer)
}

/// The probes' results as a table (or JSON), and the exit status they make.
fn report(outcomes: &[ProbeOutcome], json: bool, printer: &Printer) -> anyhow::Result<ExitCode> {
    if json {
        printer.out(&serde_json::to_string_pretty(outcomes)?);
    } else {
        printer.out(&table(outcomes));
    }
    let failed = probes::failures(outcomes);
    if failed.is_empty() {
        let passed = outcomes
            .iter()
            .filter(|o| o.status == ProbeStatus::Passed)
            .count();
        printer.success(&format!(
            "{passed} of {} smoke probes passed",
            outcomes.len()
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        for o in &failed {
            printer.error_text(&format!(
                "{}/{} failed ({}):\n{}",
                o.service, o.probe, o.description, o.output
            ));
        }
        Ok(ExitCode::from(1))
    }
}

fn table(outcomes: &[ProbeOutcome]) -> String {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let status = match o.status {
                ProbeStatus::Passed => "passed".to_string(),
                ProbeStatus::Failed => "FAILED".to_string(),
                ProbeStatus::NotRun => format!("not run: {}", o.output),
            };
            vec![
                o.service.clone(),
                o.probe.clone(),
                status,
                format!("{:.1}s", o.seconds),
                o.description.clone(),
            ]
        })
        .collect();
    crate::printer::table(
        &["service", "probe", "result", "time", "what it proves"],
        &rows,
    )
}

/// The exposure probe of a server reached over SSH (none for this machine).
pub fn exposure_probe(project: &Project, target: &target::Target) -> Option<ProbeOutcome> {
    let target::Target::Ssh(ssh) = target else {
        return None;
    };
    let t = ssh.target();
    let stack = &project.stack;
    // Swarm nodes also listen for the cluster (TCP 2377 on managers, 7946 on all).
    let cluster: &[u16] = if stack.swarm.is_some() {
        &[2377, 7946]
    } else {
        &[]
    };
    let mut allowed = vec![t.port.unwrap_or(22), stack.http_port, stack.https_port];
    allowed.extend(cluster);
    allowed.extend(&stack.allow_ports);
    Some(vpai_deploy::exposure::probe(
        &t.address,
        &project.catalog.exposure_ports(),
        &allowed,
    ))
}
