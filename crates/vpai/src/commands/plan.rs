//! `vpai plan`: what `up` would change on the target, read-only. The host is read in
//! one round trip (content hashes, releases, containers), plus one more for the old
//! content of changed files when diffs are shown.

use crate::cli::PlanArgs;
use crate::commands::{target, up::print_plan};
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use vpai_deploy::state::{self, LockSeen};

pub fn run(args: PlanArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    let store = project.secrets(printer)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let rendered = project.render(&store)?;
    let host = target.host();
    let (paths, dirs) = vpai_deploy::managed_paths(&rendered);
    let snapshot = state::read(host, &project.stack, &paths, &dirs)?;
    if let LockSeen::Busy(info) = &snapshot.lock {
        printer.warn(&format!(
            "a deploy is running on `{}` right now ({}): this plan may be outdated in a moment",
            host.name(),
            info.join(", ")
        ));
    }
    let plan =
        vpai_deploy::plan_from_state(host, &project.stack, &rendered, &snapshot, !args.no_diff)?;
    if args.json {
        printer.out(&serde_json::to_string_pretty(&plan)?);
    } else {
        print_plan(printer, &plan, !args.no_diff);
        if let Some(problem) = &plan.engine_problem {
            printer.warn(&format!("on `{}`: {problem}", host.name()));
        }
        if plan.is_noop() {
            printer.success(&format!(
                "`{}` is up to date: nothing to change",
                host.name()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
