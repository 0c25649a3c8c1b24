//! `vpai logs SERVICE...`: the logs of services, wherever they run (phase A or B, this
//! machine or a host over SSH), one line at a time through the printer, so that a
//! secret value a service prints is masked.

use crate::cli::{StackArgs, TargetArgs};
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use clap::Args;
use std::io::IsTerminal;
use std::process::ExitCode;
use vpai_deploy::ops::{self, Stream};

pub const EXAMPLES: &str = "Examples:
  vpai logs n8n                        # the last 100 lines of n8n
  vpai logs -f postgresql n8n          # both, live (phase A and B), until Ctrl-C
  vpai logs --since 10m --tail all n8n # everything n8n printed in the last 10 minutes
  vpai logs --host prod caddy          # on a host of stack.toml, over SSH
  vpai logs                            # every service

Lines go to stdout with every secret of the vault masked.";

/// `-f` is `--follow` here, as in `docker logs -f` and `tail -f`; the stack file is
/// `--file`.
#[derive(Debug, Args)]
#[command(mut_arg("file", |a| a.short(None)))]
pub struct LogsArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Services (or container names) [default: every service of the stack].
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Keep printing new lines until interrupted (Ctrl-C).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only lines since a duration ago (`10m`, `2h`) or a time (`2026-01-31T09:00:00Z`).
    #[arg(long, value_name = "DURATION|TIME")]
    pub since: Option<String>,
    /// Last lines of each service, or `all` (0 with --follow: only new ones).
    #[arg(long, default_value = "100", value_name = "N|all", value_parser = parse_tail)]
    pub tail: Tail,
}

pub fn run(args: LogsArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    // Names are checked before any connection is opened.
    ops::select(&project.stack, &args.services)?;
    if let Some(since) = &args.since {
        check_since(since)?;
    }
    mask_secrets(&project, printer)?;
    // On a swarm the manager gathers every node's logs.
    let target = match crate::commands::swarm::connect_manager(&project, &args.target, printer)? {
        Some(t) => t,
        None => target::connect(&mut project, &args.target, printer)?,
    };
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;
    let selection = target::select_on(&project.stack, &args.services, host)?;
    let opts = ops::LogOptions {
        follow: args.follow,
        since: args.since.clone(),
        tail: args.tail.0,
    };
    let terminal = std::io::stdout().is_terminal();
    let sink = |stream: Stream, line: &str| {
        // Escapes in a log act on a terminal: neutralised there, kept in a file.
        let line = if terminal {
            vpai_check::text::sanitize_for_terminal(line).into_owned()
        } else {
            line.to_string()
        };
        match stream {
            Stream::Stdout => printer.out(&line),
            // docker's own messages (a service not running, ...), as docker says them.
            Stream::Stderr => eprintln!("{}", printer.redact(&line)),
        }
    };
    ops::logs(host, &project.stack, &selection, &opts, &sink)?;
    Ok(ExitCode::SUCCESS)
}

/// `--tail`: a number of lines, or all of them (None).
#[derive(Debug, Clone, Copy)]
pub struct Tail(Option<usize>);

fn parse_tail(text: &str) -> Result<Tail, String> {
    if text == "all" {
        return Ok(Tail(None));
    }
    text.parse()
        .map(|n| Tail(Some(n)))
        .map_err(|_| "a number of lines, or `all`".to_string())
}

/// Teach the printer the vault's values, so that what a service prints is masked. The
/// vault is only read (nothing generated); a stack without secrets needs no key.
pub fn mask_secrets(project: &Project, printer: &Printer) -> anyhow::Result<()> {
    let mut store = vpai_vault::SecretStore::open_vault(
        &project.state_dir,
        &project.stack.project,
        &vpai_vault::PassphraseSource::Environment,
    )?;
    crate::commands::unlock::offer(&mut store, printer);
    printer.add_secrets(store.values());
    Ok(())
}

/// `--since` goes to docker on the host: a duration (`90s`, `10m`, `1h30m`) or a
/// timestamp, nothing else (and never an option).
fn check_since(since: &str) -> anyhow::Result<()> {
    let duration = {
        let mut digits = false;
        let mut ok = !since.is_empty();
        for c in since.chars() {
            if c.is_ascii_digit() || c == '.' {
                digits = true;
            } else if "hms".contains(c) && digits {
                digits = false;
            } else {
                ok = false;
            }
        }
        ok && !digits
    };
    let timestamp = since.starts_with(|c: char| c.is_ascii_digit())
        && since
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-:.+".contains(c));
    if duration || timestamp {
        Ok(())
    } else {
        anyhow::bail!(
            "`--since {}` is neither a duration nor a time\n  help: a duration like `10m`, `2h`, `1h30m`, or a time like `2026-01-31T09:00:00Z`",
            since.escape_debug()
        )
    }
}
