//! `vpai rollback [RELEASE]`: put a previous release back on the target, byte for
//! byte, then recreate the services whose inputs changed, health-gated. Data
//! directories and databases are not touched.

use crate::cli::RollbackArgs;
use crate::commands::{status::status_table, target};
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use std::time::Duration;
use vpai_deploy::{ApplyOptions, DeployError, lock, state};

pub fn run(args: RollbackArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    crate::commands::swarm::refuse_other_host(&project, &args.target)?;
    if project.stack.swarm.is_some() && !args.list {
        return crate::commands::swarm::rollback(project, args, printer);
    }
    // On a swarm the releases are kept on the manager.
    let target = match crate::commands::swarm::connect_manager(&project, &args.target, printer)? {
        Some(t) => t,
        None => target::connect(&mut project, &args.target, printer)?,
    };
    let stack = &project.stack;
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;
    if args.list {
        let snapshot = state::read(host, stack, &[], &[])?;
        if args.json {
            let releases: Vec<_> = snapshot
                .releases
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "release": r,
                        "current": snapshot.current.as_deref() == Some(r.as_str()),
                        "failed": snapshot.failed.contains(r),
                    })
                })
                .collect();
            printer.out(&serde_json::to_string_pretty(&serde_json::json!({
                "host": host.name(),
                "releases": releases,
            }))?);
            return Ok(ExitCode::SUCCESS);
        }
        for r in &snapshot.releases {
            let mark = if snapshot.current.as_deref() == Some(r.as_str()) {
                "  (current)"
            } else if snapshot.failed.contains(r) {
                "  (failed, rolled back)"
            } else {
                ""
            };
            printer.out(&format!("{r}{mark}"));
        }
        if snapshot.releases.is_empty() {
            printer.info(&format!("no release kept on `{}` yet", host.name()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some((deploy_lock, snapshot)) = target::lock(host, stack, &[], &[], printer)? else {
        return Ok(ExitCode::from(1));
    };
    let release = vpai_deploy::rollback_target(host, &snapshot, args.release.as_deref())?;
    printer.step(&format!(
        "rolling `{}` back from release {} to {release}",
        host.name(),
        snapshot.current.as_deref().unwrap_or("(none)")
    ));
    let opts = ApplyOptions {
        timeout: Duration::from_secs(args.timeout),
        rollback: false,
        probes: false,
    };
    let redact = |s: &str| printer.redact(s);
    let guarded = lock::Guarded {
        inner: host,
        active: deploy_lock.active_path(),
    };
    let result = vpai_deploy::rollback_to(
        &guarded,
        stack,
        &release,
        snapshot.current.as_deref(),
        false,
        &opts,
        printer,
        &redact,
    );
    deploy_lock.release();
    printer.clear_services();
    match result {
        Ok(report) => {
            printer.success(&format!(
                "`{}` is back at release {}: {} files restored, {} services healthy",
                host.name(),
                report.release,
                report.files_restored,
                report.services.len()
            ));
            printer.out(&status_table(&report.services));
            Ok(ExitCode::SUCCESS)
        }
        Err(DeployError::Unhealthy(failure)) => {
            printer.error_text(&format!(
                "after the rollback, service `{}` did not become healthy: {}\n{}",
                failure.service,
                failure.reason,
                failure.logs.trim_end()
            ));
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
