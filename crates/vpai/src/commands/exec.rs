//! `vpai exec SERVICE -- CMD...`: run a command in a service's container, on this
//! machine or a host over SSH, through the service's own compose file (on a swarm: in
//! a running task, on its node). Interactive
//! (a TTY) when stdin is a terminal; `-T` turns that off for scripts. The exit code is
//! the command's.

use crate::cli::{StackArgs, TargetArgs};
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use clap::Args;
use std::io::IsTerminal;
use std::process::ExitCode;
use vpai_deploy::ops;

pub const EXAMPLES: &str = "Examples:
  vpai exec postgresql -- psql -U postgres          # a psql prompt in the container
  vpai exec --host prod n8n -- sh                   # a shell in n8n, on a host over SSH
  vpai exec -T redis -- redis-cli --no-auth-warning PING   # in a script: no TTY
  vpai exec -T redis -- sh -c 'echo hi; exit 3'; echo $?   # prints hi, then 3

What the command prints goes straight to your terminal: it is not masked.";

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// No TTY, even when stdin is a terminal (for scripts and pipes).
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// The service (or its container name).
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The command and its arguments, after `--`.
    #[arg(value_name = "CMD", required = true, last = true)]
    pub command: Vec<String>,
}

pub fn run(args: ExecArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    let names = std::slice::from_ref(&args.service);
    ops::select(&project.stack, names)?;
    let tty = !args.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if project.stack.swarm.is_some() {
        crate::commands::swarm::refuse_other_host(&project, &args.target)?;
        let code =
            crate::commands::swarm::exec(&project, &args.service, &args.command, tty, printer)?;
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    let target = target::connect(&mut project, &args.target, printer)?;
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;
    let selection = target::select_on(&project.stack, names, host)?;
    let service = selection
        .services()
        .next()
        .expect("one service was selected");
    let code = ops::exec(host, &project.stack, service, &args.command, tty)?;
    // An exit code is 0..=255; a signal is reported as 128 + n by the transport.
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
