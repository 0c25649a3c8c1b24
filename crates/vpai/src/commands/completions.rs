//! `vpai completions SHELL`: the completion script for a shell, on stdout, generated
//! from the same clap definition as the parser (so it never lags behind a new flag).

use crate::cli::Cli;
use crate::printer::Printer;
use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(after_help = "\
Install it where your shell looks:
  bash: vpai completions bash > ~/.local/share/bash-completion/completions/vpai
  zsh:  vpai completions zsh > ~/.zfunc/_vpai   (with `fpath+=~/.zfunc` before compinit)
  fish: vpai completions fish > ~/.config/fish/completions/vpai.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    printer.out(script(args.shell)?.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// The script for `shell`.
pub fn script(shell: Shell) -> anyhow::Result<String> {
    let mut cmd = Cli::command();
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vpai", &mut bytes);
    String::from_utf8(bytes).with_context(|| format!("the {shell} completion script is not UTF-8"))
}
