//! One file per command; this file only dispatches.

pub mod backup;
pub mod check;
pub mod completions;
pub mod confirm;
pub mod dns;
pub mod doctor;
mod down;
pub mod exec;
mod fanout;
pub mod harden;
pub mod import;
pub mod init;
pub mod logs;
pub mod man;
mod plan;
mod preflight;
mod render;
pub mod restart;
mod rollback;
mod rotate;
mod secrets;
mod status;
pub mod swarm;
mod target;
pub mod unlock;
mod up;
pub mod update;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::printer::Printer;
use std::process::ExitCode;

pub fn dispatch(cli: Cli, printer: &Printer) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args, printer),
        Command::Render(args) => render::run(args, printer),
        Command::Up(args) => up::run(args, printer),
        Command::Down(args) => down::run(args, printer),
        Command::Harden(args) => harden::run(args, printer),
        Command::Confirm(args) => confirm::run_confirm(args, printer),
        Command::VpnOnly(args) => confirm::run_vpn_only(args, printer),
        Command::Dns(args) => dns::run(args, printer),
        Command::Swarm(args) => swarm::run(args, printer),
        Command::Status(args) => status::run(args, printer),
        Command::Verify(args) => verify::run(args, printer),
        Command::Plan(args) => plan::run(args, printer),
        Command::Preflight(args) => preflight::run(args, printer),
        Command::Rollback(args) => rollback::run(args, printer),
        Command::Check(args) => check::run(args, printer),
        Command::Doctor(args) => doctor::run(args, printer),
        Command::Secrets(command) => secrets::run(command, printer),
        Command::Rotate(args) => rotate::run(args, printer),
        Command::Unlock(args) => unlock::run_unlock(args, printer),
        Command::Lock(args) => unlock::run_lock(args, printer),
        Command::Logs(args) => logs::run(args, printer),
        Command::Exec(args) => exec::run(args, printer),
        Command::Restart(args) => restart::run(args, printer),
        Command::Update(args) => update::run(args, printer),
        Command::Backup(args) => backup::run_backup(args, printer),
        Command::Restore(args) => backup::run_restore(args, printer),
        Command::Import(command) => import::run(command, printer),
        Command::Completions(args) => completions::run(args, printer),
        Command::Man(args) => man::run(args, printer),
    }
}

/// A stack built from stack.toml text with the shipped catalog (unit tests).
#[cfg(test)]
pub(crate) fn test_stack(text: &str) -> vpai_model::Stack {
    let file = vpai_spec::StackFile::parse(std::path::Path::new("stack.toml"), text.into())
        .expect("test stack.toml parses");
    vpai_model::build(
        &file,
        &vpai_catalog::Catalog::embedded(),
        &vpai_model::BuildOptions::default(),
    )
    .expect("test stack builds")
}
