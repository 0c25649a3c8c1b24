//! `vpai preflight`: can the target run this stack? Read-only; every failure names its
//! fix. Exit 1 when a check fails.

use crate::cli::PreflightArgs;
use crate::commands::target;
use crate::printer::{Printer, table};
use crate::project::Project;
use std::process::ExitCode;
use vpai_deploy::preflight::{self, Level};

pub fn run(args: PreflightArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let report = preflight::run(&printer.traced(target.host()), &project.stack)?;
    if args.json {
        printer.out(&serde_json::to_string_pretty(&report)?);
    } else {
        let rows: Vec<Vec<String>> = report
            .checks
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    match c.level {
                        Level::Ok => "ok",
                        Level::Warning => "warning",
                        Level::Error => "FAIL",
                    }
                    .to_string(),
                    match &c.fix {
                        Some(fix) if c.level != Level::Ok => format!("{} (fix: {fix})", c.message),
                        _ => c.message.clone(),
                    },
                ]
            })
            .collect();
        printer.out(&table(&["check", "result", "detail"], &rows));
    }
    if report.passed() {
        printer.success(&format!(
            "`{}` can run `{}`",
            report.host, project.stack.project
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        printer.error_text(&format!(
            "`{}` is not ready for `{}`: fix the failed checks above",
            report.host, project.stack.project
        ));
        Ok(ExitCode::from(1))
    }
}
