//! `vpai up`: render, plan, then apply in phases with health gates. With nothing to
//! change it touches nothing and says so.

use crate::cli::UpArgs;
use crate::commands::plan::plan_text;
use crate::commands::status::status_table;
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vpai_deploy::preflight::Level;
use vpai_deploy::{ApplyOptions, DeployError, Plan, lock, state};

pub fn run(args: UpArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut project = Project::load(&args.stack)?;
    // A swarm is one deploy through its manager, not one per host.
    if project.stack.swarm.is_some() {
        crate::commands::swarm::refuse_other_host(&project, &args.target)?;
        return crate::commands::swarm::up(project, args, printer);
    }
    if let Some(code) = crate::commands::fanout::over_loaded_hosts(
        &project,
        &args.target,
        args.json,
        true,
        printer,
    )? {
        return Ok(code);
    }
    let store = project.secrets(printer)?;
    project.require_external(&store)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let mut rendered = project.render(&store)?;
    // The seeds' traps are caught here, before the host is touched.
    if project.lint(&rendered, &args.allow, printer)? {
        return Ok(ExitCode::from(1));
    }
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;

    if args.check {
        let (paths, dirs) = vpai_deploy::managed_paths(&rendered);
        let snapshot = state::read(host, &project.stack, &paths, &dirs)?;
        if project.adopt_host_facts(&snapshot) {
            rendered = project.render(&store)?;
        }
        let stack = &project.stack;
        // Env files' diffs show settings and mask what holds a secret.
        let is_secret = |text: &str| printer.contains_secret(text);
        let plan = Plan::from_state(host, stack, &rendered, &snapshot, args.diff, &is_secret)?;
        if args.json {
            printer.out(&serde_json::to_string_pretty(&plan)?);
        } else {
            printer.out(&plan_text(&plan, args.diff));
        }
        return Ok(ExitCode::SUCCESS);
    }

    // One round trip: take the host's deploy lock and read its state.
    let (paths, dirs) = vpai_deploy::managed_paths(&rendered);
    let Some((deploy_lock, snapshot)) = target::lock(host, &project.stack, &paths, &dirs, printer)?
    else {
        return Ok(ExitCode::from(1));
    };
    // What the files depend on in the host (the Docker socket's group): read in the same
    // round trip, so the files are rendered again only when the host differs.
    if project.adopt_host_facts(&snapshot) {
        rendered = project.render(&store)?;
    }
    let stack = &project.stack;
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
        print_plan(printer, &plan);
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
            if args.confirm_within.is_some() {
                printer.info("nothing changed: nothing to confirm");
            }
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
        print_plan(printer, &plan);
    }

    // A value a service keeps its own copy of (n8n's encryption key) must match that
    // copy, on any host: a new vault over old data would leave the service unable to start.
    if !args.no_preflight {
        let value = |name: &str| store.get(name).map(str::to_string);
        let mismatches = vpai_deploy::preflight::kept_secret_mismatches(host, stack, &value)?;
        for c in &mismatches {
            printer.error_text(&c.text(""));
        }
        if !mismatches.is_empty() {
            return Ok(ExitCode::from(1));
        }
    }

    // Preflight of a remote host before anything changes on it (read-only, one round trip).
    if host.is_remote() && !args.no_preflight {
        let report = vpai_deploy::preflight::run(host, stack)?;
        for c in report.checks.iter().filter(|c| c.level != Level::Ok) {
            let text = c.text(&format!("preflight {}: ", c.name));
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
        probes: !args.no_probes,
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
            // The backup timer's units changed (or are new): link and enable them.
            let unit = vpai_render::backup::unit_name(stack);
            if report.files_written.iter().any(|f| {
                f == vpai_render::backup::UNIT_SERVICE || f == vpai_render::backup::UNIT_TIMER
            }) {
                use vpai_deploy::backup::TimerOutcome;
                match vpai_deploy::backup::install_timer(&guarded, stack) {
                    Ok(TimerOutcome::Enabled(next)) => printer.info(&format!(
                        "backup timer {unit}.timer enabled (next run: {})",
                        if next.is_empty() { "?" } else { next.as_str() }
                    )),
                    Ok(TimerOutcome::Off) => printer.info("backup timer off (`[backup] schedule = \"off\"`)"),
                    Ok(TimerOutcome::NoSystemd) => printer.warn(&format!(
                        "`{}` does not run systemd: no daily backup is scheduled; run `vpai backup` from your own scheduler",
                        host.name()
                    )),
                    Err(e) => printer.warn(&e.to_string()),
                }
            }
            // Armed under the lock: no other deploy can come between.
            if let Some(delay) = args.confirm_within {
                crate::commands::confirm::arm_after_deploy(
                    &guarded,
                    stack,
                    delay,
                    report.release.as_deref(),
                    snapshot.current.as_deref(),
                    printer,
                )?;
            }
            deploy_lock.release();
            printer.success(&format!(
                "{} is up on `{}`: {} services healthy{}, {} files written{} ({:.1}s)",
                stack.project,
                host.name(),
                report.services.len(),
                probes_summary(&report.probes),
                report.files_written.len(),
                report
                    .release
                    .as_deref()
                    .map(|r| format!(", release {r}"))
                    .unwrap_or_default(),
                started.elapsed().as_secs_f64()
            ));
            if matches!(target, target::Target::Ssh(_))
                && let Some(note) = public_admin_note(stack, host.name())
            {
                printer.info(&note);
            }
            if let Some(exposure) = crate::commands::verify::exposure_probe(&project, &target) {
                use vpai_deploy::probes::ProbeStatus;
                match exposure.status {
                    ProbeStatus::Passed => {
                        printer.info(&format!("exposure: {}", exposure.description))
                    }
                    ProbeStatus::Failed => printer.warn(&format!(
                        "exposure: more than SSH and the web ports answer from here:\n{}",
                        exposure.output
                    )),
                    // This machine, or a name only ssh resolves: `vpai verify` says so.
                    ProbeStatus::NotRun => {}
                }
            }
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
            let diagnoses =
                vpai_check::doctor::diagnose_with(&project.catalog, &failure.service, &text);
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
        Err(DeployError::Images(problems)) => {
            deploy_lock.release();
            printer.clear_services();
            for p in &problems {
                printer.error_text(p);
            }
            printer.info("nothing was written on the host: images are resolved first");
            Ok(ExitCode::from(1))
        }
        Err(DeployError::AfterWrite {
            cause,
            rolled_back,
            rollback_error,
        }) => {
            deploy_lock.release();
            printer.clear_services();
            printer.error_text(&format!(
                "the deploy failed: {}",
                printer.redact(&cause.to_string())
            ));
            match (rolled_back, rollback_error) {
                (Some(release), _) => printer.info(&format!(
                    "rolled back to release {release}: its files are back and the services whose inputs changed were recreated"
                )),
                (None, Some(e)) => {
                    printer.error_text(&format!("the automatic rollback failed too: {e}"))
                }
                (None, None) if args.no_rollback => printer.info(
                    "kept the failed state (--no-rollback); `vpai rollback` puts the previous release back",
                ),
                (None, None) => printer.info(
                    "there was no previous release to go back to; fix the cause and run `vpai up` again",
                ),
            }
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// ", 12 smoke probes passed (1 not run: ...)" after a deploy that ran them.
fn probes_summary(outcomes: &[vpai_deploy::probes::ProbeOutcome]) -> String {
    use vpai_deploy::probes::ProbeStatus;
    let passed = outcomes
        .iter()
        .filter(|o| o.status == ProbeStatus::Passed)
        .count();
    let not_run = outcomes.len() - passed;
    match (passed, not_run) {
        (0, 0) => String::new(),
        (p, 0) => format!(", {p} smoke probes passed"),
        (p, n) => format!(", {p} smoke probes passed ({n} not run: `vpai verify` says why)"),
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

/// The plan of a deploy that goes ahead: progress, on stderr (`vpai plan` and
/// `vpai up --check` print the same text as data, on stdout).
fn print_plan(printer: &Printer, plan: &Plan) {
    printer.info(plan_text(plan, false).trim_end());
}

/// A container's output, shown line by line with its terminal escapes neutralised (a
/// log can hold `ESC]0;...` or `ESC[2J` that would act on the operator's terminal).
fn untrusted_lines(text: &str) -> String {
    text.lines()
        .map(|l| vpai_check::text::sanitize_for_terminal(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A server's admin UIs (the catalog's `[web] admin`) that anyone on the Internet
/// reaches: said after each deploy that changed something, with the way to close them.
fn public_admin_note(stack: &vpai_model::Stack, host: &str) -> Option<String> {
    let open: Vec<String> = stack
        .services
        .iter()
        .filter(|s| !s.vpn_only && s.def.web.as_ref().is_some_and(|w| w.admin))
        .filter_map(|s| s.url.as_ref().map(|u| format!("{} ({u})", s.name)))
        .collect();
    (!open.is_empty()).then(|| {
        format!(
            "note: admin UIs open to the Internet on `{host}`: {}\n  help: `vpai vpn-only on` keeps them to your VPN (public paths such as webhooks stay open)",
            open.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::commands::test_stack as stack;

    #[test]
    fn public_admin_uis_are_named_until_they_are_kept_to_the_vpn() {
        let base = "[project]\nname = \"x\"\ndomain = \"example.com\"\n";
        let note = public_admin_note(&stack(base), "box").unwrap();
        for ui in ["n8n (https://n8n.example.com)", "qdrant (", "litellm ("] {
            assert!(note.contains(ui), "{ui} missing: {note}");
        }
        assert!(
            !note.contains("postgresql") && !note.contains("caddy"),
            "{note}"
        );
        let vpn = format!("{base}[access]\nadmin = \"vpn\"\n");
        assert_eq!(public_admin_note(&stack(&vpn), "box"), None);
    }
}
