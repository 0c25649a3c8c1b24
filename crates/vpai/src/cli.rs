//! The clap types, kept apart from what the commands do.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Deploy and operate a self-hosted AI and automation stack (PostgreSQL, Redis, Qdrant,
/// Caddy, n8n, LiteLLM, ...) with Docker Compose, without the traps that cost a first
/// deploy 14 hours.
///
/// Start with `vpai init` (writes stack.toml), or try everything on the embedded example:
/// `vpai render --example --out /tmp/demo`, then `vpai up --example`.
#[derive(Debug, Parser)]
#[command(name = "vpai", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and data (no progress).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// Where the stack comes from; shared by every command that reads stack.toml.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// The stack file.
    #[arg(
        long = "file",
        short = 'f',
        default_value = "stack.toml",
        value_name = "PATH"
    )]
    pub file: PathBuf,
    /// Use the embedded example stack (core services on *.localhost) instead of a file.
    #[arg(long, conflicts_with = "file")]
    pub example: bool,
    /// Project root on the host [default: /opt/<project>].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented stack.toml (asks on a terminal; flags otherwise).
    Init(InitArgs),
    /// Render every file for the host (compose files, Caddyfile, configs, env files).
    Render(RenderArgs),
    /// Deploy: write the files, phase A up, health gate, databases, phase B up, health gate.
    Up(UpArgs),
    /// Stop the apps (phase B); with --all, the infra (phase A) too. Data is kept.
    Down(DownArgs),
    /// Show each service's container state and health.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(
        long = "file",
        short = 'f',
        default_value = "stack.toml",
        value_name = "PATH"
    )]
    pub file: PathBuf,
    /// Project name (container names, /opt/<name>).
    #[arg(long)]
    pub name: Option<String>,
    /// Main domain; each service gets a subdomain of it.
    #[arg(long)]
    pub domain: Option<String>,
    /// Service set.
    #[arg(long, value_parser = ["core"])]
    pub profile: Option<String>,
    /// E-mail for ACME (Let's Encrypt) certificates.
    #[arg(long)]
    pub email: Option<String>,
    /// Never prompt; take flags and defaults.
    #[arg(long)]
    pub non_interactive: bool,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Write the files under this directory (mode applied; owner too when run as root).
    /// Without it, list what would be written.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// List the artifacts as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Longest wait for one phase to become healthy, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub timeout: u64,
    /// Print the plan as JSON (with --check) or the final status as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show what would change and stop (read-only).
    #[arg(long)]
    pub check: bool,
    /// With --check, show file diffs (secrets masked).
    #[arg(long)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Stop the infra (phase A) too.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[arg(long)]
    pub json: bool,
}
