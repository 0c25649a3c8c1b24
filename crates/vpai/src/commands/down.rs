//! `vpai down`: stop phase B (apps), and phase A with `--all`, as the runbook does.
//! Volumes and data directories are never removed.

use crate::cli::DownArgs;
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;

pub fn run(args: DownArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    let target = crate::commands::target::connect(&mut project, &args.target, printer)?;
    printer.step(if args.all {
        "stopping apps (phase B) and infra (phase A)"
    } else {
        "stopping apps (phase B); infra keeps running (use --all to stop it too)"
    });
    vpai_deploy::down(&printer.traced(target.host()), &project.stack, args.all)?;
    printer.success("stopped; data is kept");
    Ok(ExitCode::SUCCESS)
}
