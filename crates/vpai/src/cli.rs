//! The clap types, kept apart from what the commands do.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Deploy and operate a self-hosted AI and automation stack (PostgreSQL, Redis, Qdrant,
/// Caddy, n8n, LiteLLM, ...) with Docker Compose, without the traps that cost a first
/// deploy 14 hours.
///
/// Start with `vpai init` (writes stack.toml), or try everything on the embedded example:
/// `vpai render --example --out /tmp/demo`, then `vpai up --example`.
#[derive(Debug, Parser)]
#[command(
    name = "vpai",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// What `vpai --help` says about exit codes (and what main.rs returns).
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the command ran and failed: check errors, failed preflight, unhealthy service
  2  usage error or bad input: unknown flag, invalid stack.toml, missing file, a vault
     that does not open, a host that cannot be reached

Data goes to stdout, progress and errors to stderr: `vpai plan > plan.txt` keeps the plan.";

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and data (no progress).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Say what runs on which host (-v); with timings (-vv). Never a secret value.
    #[arg(long, short, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// When to color: `auto` on a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces).
    #[arg(long, value_enum, global = true, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
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
    /// Its vault lives in your state directory ($XDG_STATE_HOME/vpai/example, or
    /// ~/.local/state/vpai/example), not in the current directory.
    #[arg(long, conflicts_with = "file")]
    pub example: bool,
    /// With --example: run it on the images `scripts/test-env.sh` builds from distribution
    /// packages, npm and PyPI (for machines that reach no container registry).
    #[arg(long, requires = "example")]
    pub local_images: bool,
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
    /// Cancel the switch of `up --confirm-within` / `vpn-only on`: the deploy stays.
    #[command(after_help = crate::commands::confirm::CONFIRM_EXAMPLES)]
    Confirm(crate::commands::confirm::ConfirmArgs),
    /// Keep the admin UIs to the VPN (`on`), open them again (`off`), or show the state.
    #[command(name = "vpn-only", after_help = crate::commands::confirm::VPN_EXAMPLES)]
    VpnOnly(crate::commands::confirm::VpnOnlyArgs),
    /// Print the split-DNS records: each service's name at its host's VPN address.
    #[command(after_help = crate::commands::dns::EXAMPLES)]
    Dns(crate::commands::dns::DnsArgs),
    /// Make the declared hosts one Docker Swarm, and show its nodes (`engine = "swarm"`).
    #[command(after_help = crate::commands::swarm::EXAMPLES)]
    Swarm(crate::commands::swarm::SwarmArgs),
    /// Harden SSH and the firewall, lockout-proof: deploy user, nftables, SSH port move.
    #[command(after_help = crate::commands::harden::EXAMPLES)]
    Harden(crate::commands::harden::HardenArgs),
    /// Show each service's container state and health.
    Status(StatusArgs),
    /// Run the smoke probes: prove the stack works end to end (the last gate of `up`).
    #[command(after_help = crate::commands::verify::EXAMPLES)]
    Verify(crate::commands::verify::VerifyArgs),
    /// Show what `up` would change on the host: files (diffs, secrets masked), services. Read-only.
    Plan(PlanArgs),
    /// Check that the host can run the stack: OS, memory, disk, Docker, ports, DNS, clock.
    Preflight(PreflightArgs),
    /// Put back a previous release: its files byte for byte, then recreate what changed.
    Rollback(RollbackArgs),
    /// Lint compose files, Caddyfiles and service configs against every known production trap.
    Check(crate::commands::check::CheckArgs),
    /// Explain a failing service from its logs: cause, fix, and the rule that catches it.
    Doctor(crate::commands::doctor::DoctorArgs),
    /// Secrets in the encrypted vault: list, show, set, edit, import from Ansible Vault.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Give secrets new values and recreate exactly the services that use them.
    Rotate(RotateArgs),
    /// Keep the vault open (15 min by default): the next commands skip its key derivation.
    #[command(after_help = crate::commands::unlock::UNLOCK_EXAMPLES)]
    Unlock(crate::commands::unlock::UnlockArgs),
    /// Close the vault `vpai unlock` kept open (--all: every one).
    #[command(after_help = crate::commands::unlock::LOCK_EXAMPLES)]
    Lock(crate::commands::unlock::LockArgs),
    /// Show services' logs (phase A or B, here or over SSH); -f follows them live.
    #[command(after_help = crate::commands::logs::EXAMPLES)]
    Logs(crate::commands::logs::LogsArgs),
    /// Run a command in a service's container (interactive on a terminal); its exit code.
    #[command(after_help = crate::commands::exec::EXAMPLES)]
    Exec(crate::commands::exec::ExecArgs),
    /// Recreate services (so env files are read again), then wait until they are healthy.
    #[command(after_help = crate::commands::restart::EXAMPLES)]
    Restart(crate::commands::restart::RestartArgs),
    /// Move a service to another image tag: pulled first, pinned in stack.toml, gated, rolled back on failure.
    #[command(after_help = crate::commands::update::EXAMPLES, disable_version_flag = true)]
    Update(crate::commands::update::UpdateArgs),
    /// Back up the stack's data into its restic repository (or list the snapshots).
    #[command(after_help = crate::commands::backup::BACKUP_EXAMPLES)]
    Backup(crate::commands::backup::BackupArgs),
    /// Put data back from a snapshot (health- and smoke-gated), or --drill: prove it restores.
    #[command(after_help = crate::commands::backup::RESTORE_EXAMPLES)]
    Restore(crate::commands::backup::RestoreArgs),
    /// Turn a VPAI-style Ansible project into stack.toml and secrets.vault.
    #[command(subcommand)]
    Import(crate::commands::import::ImportCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(crate::commands::completions::CompletionsArgs),
    /// Print the man page (or write one page per command with --out DIR).
    Man(crate::commands::man::ManArgs),
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
    /// Service set: core (data stores, Caddy, n8n, LiteLLM), monitoring (core plus
    /// metrics, logs and Grafana), full (monitoring plus OpenClaw and DIUN).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(vpai_catalog::Catalog::profile_names()))]
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
    #[command(flatten)]
    pub host: crate::commands::init::HostArgs,
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
    /// Accept a `vpai check` finding knowingly (repeatable); errors otherwise stop here.
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
    /// Render for this engine instead of the stack's own: `swarm` shows the stack
    /// files and the Swarm secrets and configs (names only) without a cluster.
    #[arg(long, value_enum)]
    pub engine: Option<RenderEngine>,
}

/// `vpai render --engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderEngine {
    Compose,
    Swarm,
}

/// Which machine: a `[hosts.NAME]` of stack.toml, reached over SSH.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Target host: a `[hosts.NAME]` of stack.toml, or `local` [default: the only host
    /// declared; several: all at once for up, plan, status, verify and backup; none: this
    /// machine].
    #[arg(long = "host", short = 'H', value_name = "NAME")]
    pub host: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Leave out the file diffs.
    #[arg(long)]
    pub no_diff: bool,
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The release to go back to [default: the one before the current].
    #[arg(value_name = "RELEASE")]
    pub release: Option<String>,
    /// List the releases kept on the host and stop.
    #[arg(long)]
    pub list: bool,
    /// With --list, print the releases as JSON.
    #[arg(long, requires = "list")]
    pub json: bool,
    /// Longest wait for one phase to become healthy, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
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
    /// Keep the failed state when a phase does not become healthy (no automatic rollback).
    #[arg(long)]
    pub no_rollback: bool,
    /// Skip the smoke probes after the health gates (`vpai verify` runs them alone).
    #[arg(long)]
    pub no_probes: bool,
    /// Install Docker Engine and Compose v2 from the distribution's repository if missing.
    #[arg(long)]
    pub install_docker: bool,
    /// Skip the preflight checks of the host.
    #[arg(long)]
    pub no_preflight: bool,
    /// Accept a `vpai check` finding knowingly (repeatable); errors otherwise stop the deploy.
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
    /// The host puts the previous release back after DURATION (`15m`) unless
    /// `vpai confirm` runs first: for a change that could cut you off.
    #[arg(long, value_name = "DURATION", value_parser = crate::commands::confirm::parse_delay)]
    pub confirm_within: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Stop the infra (phase A) too.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the services as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `vpai secrets ...`. The vault (`secrets.vault` next to stack.toml) opens with
/// VPAI_VAULT_PASSWORD_FILE, VPAI_VAULT_PASSWORD, VPAI_VAULT_IDENTITY_FILE, or a prompt.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Names, origin, age, last rotation, policy and the services using each; never values.
    List(SecretsListArgs),
    /// Print one value: to a terminal, or anywhere with --stdout.
    Show(SecretsShowArgs),
    /// Set a value read from stdin (or asked on the terminal); never from the command line.
    Set(SecretsSetArgs),
    /// Edit the values in $EDITOR (a private temp file, shredded afterwards).
    Edit(SecretsEditArgs),
    /// Import an Ansible Vault file (VPAI's inventory/group_vars/all/secrets.yml).
    ImportAnsible(SecretsImportArgs),
}

#[derive(Debug, Args)]
pub struct SecretsListArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print the list as JSON (never values).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SecretsShowArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The secret's name.
    pub name: String,
    /// Print even when stdout is not a terminal (a pipe, a file).
    #[arg(long)]
    pub stdout: bool,
}

#[derive(Debug, Args)]
pub struct SecretsSetArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The secret's name; the value comes from stdin.
    pub name: String,
    /// Store it even if no service of the stack uses it.
    #[arg(long)]
    pub unused: bool,
}

#[derive(Debug, Args)]
pub struct SecretsEditArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Args)]
pub struct SecretsImportArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The Ansible Vault file.
    #[arg(value_name = "FILE")]
    pub ansible_file: PathBuf,
    /// File holding the Ansible Vault password [default: $ANSIBLE_VAULT_PASSWORD_FILE,
    /// else asked on the terminal].
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Replace values the vault already has (otherwise they are kept and listed).
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Secrets to rotate (`vpai secrets list` names them). An external one reads its new
    /// value from stdin.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Rotate every generated secret whose policy (quarterly, yearly) has expired.
    #[arg(long)]
    pub all_due: bool,
    /// Longest wait for one phase to become healthy, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub timeout: u64,
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks, on every subcommand (a clash shows here, not in
    /// an operator's terminal).
    #[test]
    fn the_command_tree_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
