//! `vpai check`: the seeds' traps as lint rules over compose files, Caddyfiles and
//! service configs, ours (`--example`, `-f stack.toml`) or anyone's (`PATH...`).
//!
//! Exit code: 0 clean (warnings allowed), 1 at least one error-level finding,
//! 2 usage or I/O error (a path that is missing, unreadable, not a regular file or
//! over the size limit).

use crate::cli::StackArgs;
use crate::printer::Printer;
use crate::project::Project;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use vpai_check::text::sanitize_for_terminal;
use vpai_check::{CheckOptions, Report, Severity, SourceFile};

/// Notes about skipped files printed before "... and N more".
const MAX_SKIP_NOTES: usize = 20;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories to check (directories are walked) [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Check what `vpai render` would write for this stack file, with its modes and owners.
    #[arg(
        long = "file",
        short = 'f',
        alias = "stack",
        value_name = "PATH",
        conflicts_with_all = ["paths", "example"]
    )]
    pub stack: Option<PathBuf>,
    /// Check what `vpai render --example` writes.
    #[arg(long, conflicts_with = "paths")]
    pub example: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Print the findings as JSON: `--format json`, named like the other commands' flag.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Print the long explanation of a rule (id like `VP101` or name) and exit.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// List every rule and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// Apply the mechanical fixes in place, then report what is left.
    #[arg(long)]
    pub fix: bool,
    /// Do not report this rule (id or name); repeatable.
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
    /// Ask the local Docker engine which programs the images really contain.
    #[arg(long)]
    pub inspect_images: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
}

pub fn run(args: CheckArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(rule) = &args.explain {
        let Some(text) = vpai_check::explain(rule) else {
            bail!(
                "unknown rule `{}` (see `vpai check --list-rules`)",
                sanitize_for_terminal(rule)
            );
        };
        printer.out(text.trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    if args.list_rules {
        let rows: Vec<Vec<String>> = vpai_check::rules::ALL
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.name.to_string(),
                    r.severity.as_str().to_string(),
                    if r.autofix { "yes" } else { "" }.to_string(),
                    r.summary.to_string(),
                ]
            })
            .collect();
        printer.out(&crate::printer::table(
            &["id", "name", "severity", "fix", "summary"],
            &rows,
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let unknown = vpai_check::unknown_rules(&args.allow);
    if !unknown.is_empty() {
        bail!(
            "unknown rule{} in `--allow`: {} (see `vpai check --list-rules`)",
            if unknown.len() == 1 { "" } else { "s" },
            sanitize_for_terminal(&unknown.join(", "))
        );
    }
    let rendered = args.example || args.stack.is_some();
    if rendered && args.fix {
        bail!(
            "`--fix` edits files on disk; render them with `vpai render --out DIR` and check DIR"
        );
    }
    // The facts the rules use: the shipped catalog plus the stack's own `catalog/`
    // entries (next to stack.toml, or next to the checked files), which win by name.
    let catalog;
    // `[check] allow` of the stack file: of the one rendered, or of a `stack.toml`
    // in the directory checked.
    let mut allow = args.allow.clone();
    let mut files = if rendered {
        let stack = StackArgs {
            file: args.stack.clone().unwrap_or_else(|| "stack.toml".into()),
            example: args.example,
            local_images: false,
            root: None,
        };
        let project = Project::load(&stack)?;
        catalog = project.catalog.clone();
        allow.extend(project.allow.iter().cloned());
        // Throwaway secrets: the rules look at shapes, not values, and a check must
        // not need (or touch) the vault.
        let mut store = vpai_vault::SecretStore::in_memory();
        vpai_render::ensure_secrets(&project.stack, &mut store);
        project
            .render(&store)?
            .artifacts
            .into_iter()
            .map(|a| SourceFile {
                path: a.path,
                text: a.bytes,
                mode: Some(a.mode),
                owner: Some(a.owner),
            })
            .collect()
    } else {
        let paths = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        catalog = vpai_check::catalog_for_paths(&paths)?;
        if let [dir] = paths.as_slice()
            && dir.join("stack.toml").is_file()
        {
            let file = vpai_spec::StackFile::load(&dir.join("stack.toml"))?;
            allow.extend(crate::project::allowed_rules(&file)?);
        }
        let loaded = vpai_check::load(&paths)?;
        for s in loaded.skipped.iter().take(MAX_SKIP_NOTES) {
            printer.info(&format!(
                "note: skipped `{}`: {}",
                sanitize_for_terminal(&s.path),
                s.reason
            ));
        }
        if loaded.skipped.len() > MAX_SKIP_NOTES {
            printer.info(&format!(
                "note: ... and {} more skipped",
                loaded.skipped.len() - MAX_SKIP_NOTES
            ));
        }
        loaded.files
    };
    let opts = CheckOptions {
        allow,
        inspect_images: args.inspect_images,
    };
    let mut report = vpai_check::check_files_with_catalog(&files, &opts, &catalog);

    if args.fix {
        let before: Vec<Vec<u8>> = files.iter().map(|f| f.text.clone()).collect();
        let applied = vpai_check::fix(&mut files, &report);
        for (file, old) in files.iter().zip(before) {
            if file.text != old {
                fs_err::write(&file.path, &file.text).with_context(|| {
                    format!(
                        "cannot write the fixed `{}`",
                        sanitize_for_terminal(&file.path)
                    )
                })?;
            }
        }
        for a in &applied {
            printer.info(&format!(
                "fixed {}:{} [{}] {}",
                sanitize_for_terminal(&a.path),
                a.line,
                a.rule,
                sanitize_for_terminal(&a.description)
            ));
        }
        if !applied.is_empty() {
            report = vpai_check::check_files_with_catalog(&files, &opts, &catalog);
        }
    }

    let format = if args.json { Format::Json } else { args.format };
    print_report(&report, &files, format, printer);
    Ok(if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(report: &Report, files: &[SourceFile], format: Format, printer: &Printer) {
    match format {
        Format::Json => printer.out(&report.to_json()),
        Format::Sarif => printer.out(&report.to_sarif()),
        Format::Human => {
            let text = report.render_human(files, printer.color_stdout());
            // Findings are the data of this command: stdout. The summary line too,
            // so that `vpai check | less` shows everything in order.
            printer.out(text.trim_end());
            if report.count(Severity::Error) > 0 {
                printer.info("fix the errors above, or `--allow RULE` one knowingly");
            }
        }
    }
}
