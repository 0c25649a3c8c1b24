//! `vpai up`: render, plan, then apply in phases with health gates. With nothing to
//! change it touches nothing and says so.

use crate::cli::UpArgs;
use crate::commands::status::status_table;
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vpai_deploy::{ApplyOptions, DeployError, FileAction, Plan, ServiceAction};
use vpai_host::LocalHost;

pub fn run(args: UpArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let project = Project::load(&args.stack)?;
    let store = project.secrets(printer)?;
    let rendered = project.render(&store)?;
    let stack = &project.stack;
    let host = LocalHost;

    let plan = vpai_deploy::plan(&host, stack, &rendered)?;
    if args.check {
        if args.json {
            printer.out(&serde_json::to_string_pretty(&plan)?);
        } else {
            print_plan(printer, &plan, args.diff);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(problem) = &plan.engine_problem {
        print_plan(printer, &plan, false);
        printer.error_text(&format!(
            "cannot deploy `{}` on this machine: {problem}",
            stack.project
        ));
        printer.info(
            "the files above were rendered in memory only; `vpai render --out DIR` writes them",
        );
        return Ok(ExitCode::from(1));
    }

    if plan.is_noop() {
        let statuses = vpai_deploy::status(&host, stack)?;
        if statuses.iter().all(|s| s.is_ok()) {
            printer.success(&format!(
                "nothing to change: {} services up to date ({:.1}s)",
                statuses.len(),
                started.elapsed().as_secs_f64()
            ));
            finish(printer, &args, &statuses)?;
            return Ok(ExitCode::SUCCESS);
        }
        printer.info("files are up to date but some services are not healthy: applying");
    } else {
        print_plan(printer, &plan, false);
    }

    let opts = ApplyOptions {
        timeout: Duration::from_secs(args.timeout),
    };
    let redact = |s: &str| printer.redact(s);
    match vpai_deploy::apply(&host, stack, &rendered, &plan, &opts, printer, &redact) {
        Ok(report) => {
            printer.clear_services();
            printer.success(&format!(
                "{} is up: {} services healthy, {} files written ({:.1}s)",
                stack.project,
                report.services.len(),
                report.files_written.len(),
                started.elapsed().as_secs_f64()
            ));
            let statuses = vpai_deploy::status(&host, stack)?;
            finish(printer, &args, &statuses)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(DeployError::Unhealthy(failure)) => {
            printer.clear_services();
            printer.error_text(&format!(
                "service `{}` ({}) did not become healthy: {}",
                failure.service, failure.container, failure.reason
            ));
            if !failure.health_output.trim().is_empty() {
                printer.info(&format!(
                    "last healthcheck output:\n{}",
                    failure.health_output.trim_end()
                ));
            }
            printer.info(&format!(
                "last 50 log lines of {}:\n{}",
                failure.container,
                failure.logs.trim_end()
            ));
            printer.info("the other services were left running; `vpai status` shows them");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn finish(
    printer: &Printer,
    args: &UpArgs,
    statuses: &[vpai_deploy::ServiceStatus],
) -> anyhow::Result<()> {
    if args.json {
        printer.out(&serde_json::to_string_pretty(statuses)?);
    } else {
        printer.out(&status_table(statuses));
    }
    Ok(())
}

fn print_plan(printer: &Printer, plan: &Plan, diff: bool) {
    let changed: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.action != FileAction::Unchanged)
        .collect();
    printer.step(&format!(
        "plan: {} of {} files change",
        changed.len(),
        plan.files.len()
    ));
    for f in &changed {
        let verb = match f.action {
            FileAction::Create => "create",
            FileAction::Update => "update",
            FileAction::Permissions => "chmod ",
            FileAction::Unchanged => "keep  ",
        };
        printer.info(&format!("  {verb} {}", f.path));
        if diff {
            if let Some(d) = &f.diff {
                printer.info(d.trim_end());
            }
        }
    }
    for s in &plan.services {
        let line = match s.action {
            ServiceAction::Create => format!("  + {} (create)", s.service),
            ServiceAction::Recreate => {
                format!("  ~ {} (recreate: {})", s.service, s.reasons.join(", "))
            }
            ServiceAction::Unchanged => format!("  = {} (unchanged)", s.service),
        };
        printer.info(&line);
    }
}
