//! `vpai up`: render, plan, then apply in phases with health gates. With nothing to
//! change it touches nothing and says so.

use crate::cli::UpArgs;
use crate::commands::status::status_table;
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vpai_deploy::preflight::Level;
use vpai_deploy::{ApplyOptions, DeployError, FileAction, Plan, ServiceAction, lock, state};

pub fn run(args: UpArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut project = Project::load(&args.stack)?;
    let store = project.secrets(printer)?;
    project.require_external(&store)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let rendered = project.render(&store)?;
    // The seeds' traps are caught here, before the host is touched.
    if project.lint(&rendered, &args.allow, printer)? {
        return Ok(ExitCode::from(1));
    }
    let stack = &project.stack;
    let host = target.host();
    let (paths, dirs) = vpai_deploy::managed_paths(&rendered);

    if args.check {
        let snapshot = state::read(host, stack, &paths, &dirs)?;
        let plan = vpai_deploy::plan_from_state(host, stack, &rendered, &snapshot, args.diff)?;
        if args.json {
            printer.out(&serde_json::to_string_pretty(&plan)?);
        } else {
            print_plan(printer, &plan, args.diff);
        }
        return Ok(ExitCode::SUCCESS);
    }

    // One round trip: take the host's deploy lock and read its state.
    let (deploy_lock, snapshot) = match lock::acquire(host, stack, &paths, &dirs)? {
        Ok(held) => held,
        Err(busy) => {
            printer.error_text(&format!(
                "{busy}\n  help: wait for it to finish and run `vpai up` again; if no deploy is running, the holder process on the host is stuck: stop it by its pid"
            ));
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(info) = &deploy_lock.stale {
        printer.warn(&format!(
            "the previous deploy on `{}` did not finish ({}); this run converges from where it stopped",
            host.name(),
            info.iter()
                .filter(|l| !l.trim().is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let plan = vpai_deploy::plan_from_state(host, stack, &rendered, &snapshot, false)?;
    for path in &plan.drift {
        printer.warn(&format!(
            "`{path}` was changed on the host since the last deploy: it is replaced (the previous content stays in the release)"
        ));
    }
    if plan.engine_problem.is_some() && args.install_docker {
        printer.step(&format!("installing Docker on `{}`", host.name()));
        if let Err(e) = vpai_deploy::preflight::install_docker(host)? {
            printer.error_text(&format!("installing Docker failed:\n{}", e.trim()));
            return Ok(ExitCode::from(1));
        }
    } else if let Some(problem) = &plan.engine_problem {
        print_plan(printer, &plan, false);
        printer.error_text(&format!(
            "cannot deploy `{}` on `{}`: {problem}",
            stack.project,
            host.name()
        ));
        printer.info(
            "the files above were rendered in memory only; `vpai render --out DIR` writes them",
        );
        return Ok(ExitCode::from(1));
    }

    if plan.is_noop() {
        let statuses = vpai_deploy::status_from_plan(stack, &plan);
        if statuses.iter().all(|s| s.is_ok()) {
            deploy_lock.release();
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

    // Preflight of a remote host before anything changes on it (read-only, one round trip).
    if host.is_remote() && !args.no_preflight {
        let report = vpai_deploy::preflight::run(host, stack)?;
        for c in report.checks.iter().filter(|c| c.level != Level::Ok) {
            let text = match &c.fix {
                Some(fix) => format!("preflight {}: {}\n  help: {fix}", c.name, c.message),
                None => format!("preflight {}: {}", c.name, c.message),
            };
            if c.level == Level::Error {
                printer.error_text(&text);
            } else {
                printer.warn(&text);
            }
        }
        if !report.passed() {
            printer.info("nothing was changed on the host; `--no-preflight` skips these checks");
            return Ok(ExitCode::from(1));
        }
    }

    let opts = ApplyOptions {
        timeout: Duration::from_secs(args.timeout),
        rollback: !args.no_rollback,
    };
    let redact = |s: &str| printer.redact(s);
    // Every command of this deploy holds the lock's shared half while it runs.
    let guarded = lock::Guarded {
        inner: host,
        active: deploy_lock.active_path(),
    };
    let result = vpai_deploy::apply(&guarded, stack, &rendered, &plan, &opts, printer, &redact);
    match result {
        Ok(report) => {
            printer.clear_services();
            let statuses = vpai_deploy::status(&guarded, stack)?;
            deploy_lock.release();
            printer.success(&format!(
                "{} is up on `{}`: {} services healthy, {} files written{} ({:.1}s)",
                stack.project,
                host.name(),
                report.services.len(),
                report.files_written.len(),
                report
                    .release
                    .as_deref()
                    .map(|r| format!(", release {r}"))
                    .unwrap_or_default(),
                started.elapsed().as_secs_f64()
            ));
            finish(printer, &args, &statuses)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(DeployError::Unhealthy(failure)) => {
            deploy_lock.release();
            printer.clear_services();
            printer.error_text(&format!(
                "service `{}` ({}) did not become healthy: {}",
                failure.service, failure.container, failure.reason
            ));
            if !failure.health_output.trim().is_empty() {
                printer.info(&format!(
                    "last healthcheck output:\n{}",
                    untrusted_lines(failure.health_output.trim_end())
                ));
            }
            printer.info(&format!(
                "last 50 log lines of {}:\n{}",
                failure.container,
                untrusted_lines(failure.logs.trim_end())
            ));
            // Known failure messages from the seeds: cause, fix and the rule that catches it.
            let text = format!("{}\n{}", failure.logs, failure.health_output);
            let diagnoses = vpai_check::doctor::diagnose(&failure.service, &text);
            if !diagnoses.is_empty() {
                printer.info(&vpai_check::doctor::render(&failure.service, &diagnoses));
            }
            match (&failure.rolled_back, &failure.rollback_error) {
                (Some(release), _) => printer.info(&format!(
                    "rolled back to release {release}: its files are back and the services whose inputs changed were recreated and are healthy"
                )),
                (None, Some(e)) => printer.error_text(&format!("the automatic rollback failed too: {e}")),
                (None, None) if args.no_rollback => printer.info(
                    "kept the failed state (--no-rollback); `vpai rollback` puts the previous release back",
                ),
                (None, None) => printer.info("the other services were left running; `vpai status` shows them"),
            }
            Ok(ExitCode::from(1))
        }
        Err(DeployError::Command { stderr, .. })
            if stderr.contains("Pulling") || stderr.contains("pull access denied") =>
        {
            printer.error_text(&format!(
                "an image could not be pulled:\n{}",
                stderr.trim_end()
            ));
            printer.info(
                "help: without a reachable registry, point `[images]` in stack.toml at images \
                 present on the host (they are never pulled: `pull_policy: never`), or mirror them",
            );
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

pub fn print_plan(printer: &Printer, plan: &Plan, diff: bool) {
    let changed: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.action != FileAction::Unchanged)
        .collect();
    printer.step(&format!(
        "plan: {} of {} files change{}",
        changed.len(),
        plan.files.len(),
        plan.current_release
            .as_deref()
            .map(|r| format!(" (host at release {r})"))
            .unwrap_or_default()
    ));
    if !plan.dirs.is_empty() {
        let dirs: Vec<&str> = plan
            .dirs
            .iter()
            .map(|d| if d.is_empty() { "." } else { d.as_str() })
            .collect();
        printer.info(&format!("  mkdir  {}", dirs.join(", ")));
    }
    for f in &changed {
        let verb = match f.action {
            FileAction::Create => "create",
            FileAction::Update => "update",
            FileAction::Permissions => "chmod ",
            FileAction::Unchanged => "keep  ",
            FileAction::Remove => "remove",
        };
        printer.info(&format!("  {verb} {}", f.path));
        if diff && let Some(d) = &f.diff {
            printer.info(d.trim_end());
        }
    }
    for s in &plan.services {
        let line = match s.action {
            ServiceAction::Create => format!("  + {} (create)", s.service),
            ServiceAction::Recreate => {
                format!("  ~ {} (recreate: {})", s.service, s.reasons.join(", "))
            }
            ServiceAction::Unchanged => format!("  = {} (unchanged)", s.service),
            ServiceAction::Remove => format!("  - {} (remove: no longer in the stack)", s.service),
        };
        printer.info(&line);
    }
}

/// A container's output, shown line by line with its terminal escapes neutralised (a
/// log can hold `ESC]0;...` or `ESC[2J` that would act on the operator's terminal).
fn untrusted_lines(text: &str) -> String {
    text.lines()
        .map(|l| vpai_check::text::sanitize_for_terminal(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}
