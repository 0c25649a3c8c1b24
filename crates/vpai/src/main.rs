//! `vpai`: the command line. Thin on purpose: each command is a function in
//! `commands/` that resolves its inputs, calls the library crates (spec -> model ->
//! render -> deploy) and prints through the one [`printer::Printer`].

mod cli;
mod commands;
mod printer;
mod project;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let printer = printer::Printer::new(cli.global.quiet);
    match commands::dispatch(cli, &printer) {
        Ok(code) => code,
        Err(err) => {
            printer.error(&err);
            ExitCode::from(2)
        }
    }
}
