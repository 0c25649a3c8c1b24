//! `vpai down`: stop phase B (apps), and phase A with `--all`, as the runbook does.
//! Volumes and data directories are never removed.

use crate::cli::DownArgs;
use crate::printer::Printer;
use crate::project::Project;
use std::process::ExitCode;
use vpai_host::LocalHost;

pub fn run(args: DownArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    printer.step(if args.all {
        "stopping apps (phase B) and infra (phase A)"
    } else {
        "stopping apps (phase B); infra keeps running (use --all to stop it too)"
    });
    vpai_deploy::down(&LocalHost, &project.stack, args.all)?;
    printer.success("stopped; data is kept");
    Ok(ExitCode::SUCCESS)
}
