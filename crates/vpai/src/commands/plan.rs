//! `vpai plan`: what `up` would change on the target, read-only. The host is read in
//! one round trip (content hashes, releases, containers), plus one more for the old
//! content of changed files when diffs are shown.
//!
//! The plan is this command's data: stdout (`vpai plan > plan.txt` keeps it); warnings
//! and the "up to date" line are progress: stderr.

use crate::cli::PlanArgs;
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use vpai_deploy::state::{self, LockSeen};
use vpai_deploy::{FileAction, Plan, ServiceAction};

pub fn run(args: PlanArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(code) =
        crate::commands::fanout::over_hosts(&args.stack, &args.target, args.json, printer)?
    {
        return Ok(code);
    }
    let mut project = Project::load(&args.stack)?;
    if project.stack.swarm.is_some() {
        return crate::commands::swarm::plan(project, &args, printer);
    }
    let store = project.secrets(printer)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let mut rendered = project.render(&store)?;
    let host = printer.traced(target.host());
    let (paths, dirs) = vpai_deploy::managed_paths(&rendered);
    let snapshot = state::read(&host, &project.stack, &paths, &dirs)?;
    if project.adopt_host_facts(&snapshot) {
        rendered = project.render(&store)?;
    }
    if let LockSeen::Busy(info) = &snapshot.lock {
        printer.warn(&format!(
            "a deploy is running on `{}` right now ({}): this plan may be outdated in a moment",
            target.host().name(),
            info.join(", ")
        ));
    }
    // Env files' diffs show settings (`TZ=UTC`) and mask what holds a secret.
    let is_secret = |text: &str| printer.contains_secret(text);
    let plan = Plan::from_state(
        &host,
        &project.stack,
        &rendered,
        &snapshot,
        !args.no_diff,
        &is_secret,
    )?;
    let name = target.host().name();
    if args.json {
        printer.out(&serde_json::to_string_pretty(&plan)?);
    } else {
        printer.out(&plan_text(&plan, !args.no_diff));
    }
    if let Some(problem) = &plan.engine_problem {
        printer.warn(&format!("on `{name}`: {problem}"));
    }
    if plan.is_noop() {
        printer.success(&format!("`{name}` is up to date: nothing to change"));
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan as people read it: the files that change (with their diffs), the
/// directories to create, and each service's fate.
pub fn plan_text(plan: &Plan, diff: bool) -> String {
    let changed: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.action != FileAction::Unchanged)
        .collect();
    let mut lines = vec![format!(
        "plan: {} of {} files change{}",
        changed.len(),
        plan.files.len(),
        plan.current_release
            .as_deref()
            .map(|r| format!(" (host at release {r})"))
            .unwrap_or_default()
    )];
    if !plan.dirs.is_empty() {
        let dirs: Vec<&str> = plan
            .dirs
            .iter()
            .map(|d| if d.is_empty() { "." } else { d.as_str() })
            .collect();
        lines.push(format!("  mkdir  {}", dirs.join(", ")));
    }
    for f in &changed {
        let verb = match f.action {
            FileAction::Create => "create",
            FileAction::Update => "update",
            FileAction::Permissions => "chmod ",
            FileAction::Unchanged => "keep  ",
            FileAction::Remove => "remove",
        };
        lines.push(format!("  {verb} {}", f.path));
        if diff && let Some(d) = &f.diff {
            lines.push(d.trim_end().to_string());
        }
    }
    for path in &plan.drift {
        lines.push(format!(
            "  note: `{path}` was changed on the host since the last deploy: it will be replaced"
        ));
    }
    for s in &plan.services {
        lines.push(match s.action {
            ServiceAction::Create => format!("  + {} (create)", s.service),
            ServiceAction::Recreate => {
                format!("  ~ {} (recreate: {})", s.service, s.reasons.join(", "))
            }
            ServiceAction::Unchanged => format!("  = {} (unchanged)", s.service),
            ServiceAction::Remove => format!("  - {} (remove: no longer in the stack)", s.service),
        });
    }
    lines.join("\n")
}
