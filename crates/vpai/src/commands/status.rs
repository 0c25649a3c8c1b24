//! `vpai status`: a table (or JSON) of every service's container state and health.

use crate::cli::StatusArgs;
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use vpai_deploy::ServiceStatus;

pub fn run(args: StatusArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(code) = crate::commands::fanout::over_hosts_without_vault(
        &args.stack,
        &args.target,
        args.json,
        printer,
    )? {
        return Ok(code);
    }
    let mut project = Project::load(&args.stack)?;
    let swarm = project.stack.swarm.clone();
    // On a swarm the manager answers for every node.
    let target = match crate::commands::swarm::connect_manager(&project, &args.target, printer)? {
        Some(t) => t,
        None => crate::commands::target::connect(&mut project, &args.target, printer)?,
    };
    let host = printer.traced(target.host());
    let statuses = match swarm {
        Some(_) => vpai_deploy::swarm::status(&host, &project.stack)?,
        None => vpai_deploy::status(&host, &project.stack)?,
    };
    if args.json {
        printer.out(&serde_json::to_string_pretty(&statuses)?);
    } else {
        printer.out(&status_table(&statuses));
        // The age of the last backup and of the last restore drill: a stale one shows.
        if let Ok(backup) = vpai_deploy::backup::status(&host, &project.stack) {
            printer.info(&crate::commands::backup::status_lines(&backup));
        }
    }
    Ok(if statuses.iter().all(ServiceStatus::is_ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn status_table(statuses: &[ServiceStatus]) -> String {
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|s| {
            let mut state = s.state.clone();
            if s.restarts > 0 {
                state.push_str(&format!(" ({} restarts)", s.restarts));
            }
            if s.oom_killed {
                state.push_str(" OOM-killed");
            }
            vec![
                s.service.clone(),
                s.phase.clone(),
                state,
                s.health.clone(),
                s.url.clone().unwrap_or_default(),
            ]
        })
        .collect();
    crate::printer::table(&["service", "phase", "state", "health", "url"], &rows)
}
