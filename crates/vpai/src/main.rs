//! `vpai`: the command line. Thin on purpose: each command is a function in
//! `commands/` that resolves its inputs, calls the library crates (spec -> model ->
//! render -> deploy) and prints through the one [`printer::Printer`].

mod cli;
mod commands;
mod printer;
mod project;

use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints help and usage errors before `--color` is parsed: tell it first
    // (its own `auto` already honours NO_COLOR and CLICOLOR_FORCE).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let clap_color = match printer::color_flag(&args) {
        Some(cli::ColorWhen::Always) => clap::ColorChoice::Always,
        Some(cli::ColorWhen::Never) => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    };
    let matches = cli::Cli::command().color(clap_color).get_matches_from(args);
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let printer = printer::Printer::new(&cli.global);
    // Spec errors are drawn by miette: the same color decision as everything else.
    let color = printer.color();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().color(color).build())
    }));
    match commands::dispatch(cli, &printer) {
        Ok(code) => code,
        Err(err) => {
            printer.error(&err);
            ExitCode::from(2)
        }
    }
}
