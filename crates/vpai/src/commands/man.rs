//! `vpai man [--out DIR]`: the manual page (roff) from the clap definition; the main
//! page on stdout, or `vpai.1` and one `vpai-COMMAND.1` per command into DIR.

use crate::cli::Cli;
use crate::printer::Printer;
use anyhow::Context;
use clap::{Args, CommandFactory};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write vpai.1 and one page per command (vpai-up.1, vpai-secrets-list.1, ...) here
    /// instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: ManArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match &args.out {
        None => {
            let mut bytes = Vec::new();
            page(cmd)
                .render(&mut bytes)
                .context("cannot render the man page")?;
            printer.out(String::from_utf8_lossy(&bytes).trim_end());
        }
        Some(dir) => {
            fs_err::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}` for the man pages", dir.display()))?;
            let mut written = Vec::new();
            write_pages(cmd, dir, &mut written)?;
            printer.success(&format!(
                "wrote {} man pages into `{}` (read one: man -l {})",
                written.len(),
                dir.display(),
                written
                    .last()
                    .map(|p: &PathBuf| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The page of one (built) command: title in capitals, as man pages have it.
fn page(cmd: clap::Command) -> clap_mangen::Man {
    let title = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_uppercase();
    clap_mangen::Man::new(cmd)
        .title(title)
        .source(concat!("vpai ", env!("CARGO_PKG_VERSION")))
        .manual("vpai manual")
}

/// `cmd`'s page and those of its visible subcommands, depth first (the main page last).
fn write_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    let man = page(cmd);
    let path = man
        .generate_to(dir)
        .with_context(|| format!("cannot write `{}`", dir.join(man.get_filename()).display()))?;
    written.push(path);
    Ok(())
}
