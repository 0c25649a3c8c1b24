//! `vpai rotate NAME... | --all-due`: new values for secrets, then one deploy that
//! recreates exactly the services whose files carry them (derived from rendering, not
//! a hand-written matrix), in phase order, health-gated. Database roles get their new
//! password from the provisioning step between phase A and phase B, before the apps
//! that log in with it are recreated. Never-rotate secrets are refused with the reason.
//! If the deploy fails, the old values come back and are deployed again.

use crate::cli::RotateArgs;
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use anyhow::{Context, bail};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vpai_catalog::SecretDef;
use vpai_deploy::lock::Guarded;
use vpai_deploy::{ApplyOptions, DeployError, ServiceAction};
use vpai_vault::NewValue;
use vpai_vault::rotate;

pub fn run(args: RotateArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.names.is_empty() && !args.all_due {
        bail!("name the secrets to rotate (see `vpai secrets list`), or pass --all-due");
    }
    let mut project = Project::load(&args.stack)?;
    let mut store = project.secrets(printer)?;
    let defs: Vec<SecretDef> = project
        .stack
        .secret_defs()
        .into_iter()
        .map(|(_, d)| d.clone())
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let selection = rotate::select(&defs, &store, &args.names, args.all_due, now)?;
    for (name, help) in &selection.due_external {
        printer.warn(&format!(
            "`{name}` is due for rotation but is provided by you: {}",
            help.unwrap_or("get a new value from its provider, then `vpai secrets set`")
        ));
    }
    if selection.rotate.is_empty() {
        printer.success("nothing to rotate");
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = selection.rotate.iter().map(|d| d.name.clone()).collect();
    // Connected (and the stack narrowed to what runs there) before the vault changes:
    // a host that cannot be reached leaves every value as it was.
    let target = target::connect(&mut project, &args.target, printer)?;
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;
    let stack = &project.stack;
    for def in &selection.rotate {
        let new = if def.external {
            if selection.rotate.len() != 1 {
                bail!(
                    "`{}` is provided by you: rotate it alone, with the new value on stdin",
                    def.name
                );
            }
            // At most 8 KiB, one line, checked before anything changes.
            let value = crate::commands::secrets::read_stdin_value(&def.name)?;
            if value.is_empty() {
                bail!("no new value for `{}` on stdin", def.name);
            }
            NewValue::Given(value.to_string())
        } else {
            NewValue::Generate
        };
        store.begin_rotation(def, new)?;
    }
    // The vault holds old and new values before the host is touched: a crash from here
    // on can be finished or rolled back.
    store.save()?;
    printer.add_secrets(store.values());
    for name in &names {
        if let Some(old) = store.previous_value(name) {
            printer.add_secrets([old]);
        }
    }

    let mut rendered = project.render(&store)?;
    // One deploy at a time on the host, as `vpai up` (lock and host state in one trip).
    let (paths, dirs) = vpai_deploy::managed_paths(&rendered);
    let locked = target::lock(host, stack, &paths, &dirs, printer)?;
    if let Some((_, snapshot)) = &locked
        && project.adopt_host_facts(snapshot)
    {
        rendered = project.render(&store)?;
    }
    let Some((deploy_lock, snapshot)) = locked else {
        for name in &names {
            store.roll_back_rotation(name);
        }
        store.save()?;
        printer.info("nothing was rotated: the old values stay");
        return Ok(ExitCode::from(1));
    };
    let plan = vpai_deploy::plan_from_state(host, stack, &rendered, &snapshot, false)?;
    if let Some(problem) = &plan.engine_problem {
        for name in &names {
            store.roll_back_rotation(name);
        }
        store.save()?;
        bail!("cannot rotate on `{}`: {problem}", host.name());
    }
    // Every command of the rotation holds the lock's shared half while it runs.
    let guarded = Guarded {
        inner: host,
        active: deploy_lock.active_path(),
    };
    let host = &guarded;
    let recreate: Vec<&str> = plan
        .services
        .iter()
        .filter(|s| s.action != ServiceAction::Unchanged)
        .map(|s| s.service.as_str())
        .collect();
    printer.step(&format!(
        "rotating {}: recreating {}",
        names.join(", "),
        if recreate.is_empty() {
            "nothing".to_string()
        } else {
            recreate.join(", ")
        }
    ));
    // vpai's own rollback of files would bring back the old secrets while the vault
    // still says new; the vault decides here, and the old values are deployed below.
    let opts = ApplyOptions {
        timeout: Duration::from_secs(args.timeout),
        rollback: false,
        probes: true,
    };
    let redact = |s: &str| printer.redact(s);
    match vpai_deploy::apply(host, stack, &rendered, &plan, &opts, printer, &redact) {
        Ok(_) => {
            deploy_lock.release();
            printer.clear_services();
            for name in &names {
                store.finish_rotation(name);
            }
            store.save()?;
            printer.success(&format!(
                "rotated {}; all services healthy",
                names.join(", ")
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            printer.clear_services();
            let reason = match &err {
                DeployError::Unhealthy(f) => format!(
                    "service `{}` did not become healthy: {}\n{}",
                    f.service,
                    f.reason,
                    f.logs.trim_end()
                ),
                other => other.to_string(),
            };
            printer.error_text(&format!(
                "the rotation failed, putting the old values back: {reason}"
            ));
            for name in &names {
                store.roll_back_rotation(name);
            }
            store.save()?;
            let rendered = project.render(&store)?;
            let plan = vpai_deploy::plan(host, stack, &rendered)?;
            vpai_deploy::apply(host, stack, &rendered, &plan, &opts, printer, &redact)
                .context("deploying the old values again")?;
            deploy_lock.release();
            printer.clear_services();
            printer.info("old values restored and deployed");
            Ok(ExitCode::from(1))
        }
    }
}
