//! One file per command; this file only dispatches.

mod down;
mod init;
mod render;
mod status;
mod up;

use crate::cli::{Cli, Command};
use crate::printer::Printer;
use std::process::ExitCode;

pub fn dispatch(cli: Cli, printer: &Printer) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args, printer),
        Command::Render(args) => render::run(args, printer),
        Command::Up(args) => up::run(args, printer),
        Command::Down(args) => down::run(args, printer),
        Command::Status(args) => status::run(args, printer),
    }
}
