//! Deploys that must be confirmed (`vpai up --confirm-within`, `vpai confirm`) and the
//! VPN-only toggle built on them (`vpai vpn-only on|off|status`, seed 004 §11): the host
//! puts the previous release back by itself unless the operator proves, from where they
//! work, that they still reach what they changed.

use crate::cli::{StackArgs, TargetArgs, UpArgs};
use crate::commands::target;
use crate::commands::unlock::{clock, parse_duration, span};
use crate::printer::Printer;
use crate::project::Project;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::process::ExitCode;
use std::time::Duration;
use vpai_spec::StackFile;

pub const CONFIRM_EXAMPLES: &str = "Examples:
  vpai up --confirm-within 15m   # deploy; the host reverts at the end unless confirmed
  vpai confirm                   # you still reach every VPN-only site: cancel the revert
  vpai confirm --force           # cancel it without checking the sites from here

Before cancelling, `vpai confirm` fetches each VPN-only site from this machine: a 403
means you reach it from outside the VPN (check split DNS), and the switch stays armed.
Exit status: 0 cancelled (or nothing armed), 1 a site refused or unreachable, 2 usage.";

pub const VPN_EXAMPLES: &str = "Examples:
  vpai vpn-only on               # [access] admin = \"vpn\" in stack.toml, deploy, and a
                                 # 15 min switch that reverts unless `vpai confirm`
  vpai vpn-only on --confirm-within 5m
  vpai vpn-only off              # admin UIs public again (no switch: nothing to lose)
  vpai vpn-only status           # the setting, and the switch on the host

Needs the VPN's range in `[access] vpn` (default 100.64.0.0/10, a tailnet's) and split
DNS: VPN clients must resolve the admin names to the server's VPN address.
Exit status: 0 done, 1 the deploy failed (stack.toml is put back), 2 usage.";

/// The longest a deploy may wait for its confirmation.
const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

/// `--confirm-within`: at least 5 s (time to log in again), at most a day.
pub fn parse_delay(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_secs(5) || d > MAX_DELAY {
        return Err(format!(
            "between 5s and 1d (the time to check from where you work, then `vpai confirm`), not {}",
            span(d)
        ));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Cancel the revert without fetching the VPN-only sites from here.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VpnMode {
    On,
    Off,
    Status,
}

#[derive(Debug, Args)]
pub struct VpnOnlyArgs {
    /// `on`, `off` or `status`.
    #[arg(value_enum)]
    pub mode: VpnMode,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// With `on`: how long the host waits for `vpai confirm` before it reverts.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_delay)]
    pub confirm_within: Duration,
    /// Longest wait for one phase to become healthy, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub timeout: u64,
}

/// After a deploy that made release `new` over `previous`: arm the host's switch.
pub fn arm_after_deploy(
    host: &dyn vpai_host::Host,
    stack: &vpai_model::Stack,
    delay: Duration,
    new: Option<&str>,
    previous: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<()> {
    let (Some(new), Some(previous)) = (new, previous) else {
        printer.warn(
            "nothing to confirm: no release was replaced (a first deploy, or nothing changed)",
        );
        return Ok(());
    };
    let at = vpai_deploy::confirm::arm(host, stack, delay, new, previous)?;
    printer.warn(&format!(
        "release {new} reverts to {previous} at {} ({} from now) unless you run `vpai confirm`",
        clock(at),
        span(delay)
    ));
    Ok(())
}

pub fn run_confirm(args: ConfirmArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let host = target.host();
    let stack = &project.stack;
    let state = vpai_deploy::confirm::read(host, stack)?;
    let Some((release, previous, at)) = state.armed else {
        printer.info(&match state.reverted {
            Some((r, t, when, ok)) => format!(
                "nothing to confirm on `{}`: release {r} was reverted to {t} at {}{}",
                host.name(),
                clock(when),
                if ok {
                    ""
                } else {
                    " (with errors: see releases/.confirm.log)"
                }
            ),
            None => format!("nothing to confirm on `{}`", host.name()),
        });
        return Ok(ExitCode::SUCCESS);
    };
    if state.firing.is_some() {
        printer.error_text(&format!(
            "too late: the switch is reverting release {release} to {previous} on `{}` right now\n  help: wait for it (`vpai vpn-only status`), then deploy again",
            host.name()
        ));
        return Ok(ExitCode::from(1));
    }
    if !args.force {
        let mut refused = false;
        for s in stack.services.iter().filter(|s| s.vpn_only) {
            let Some(url) = &s.url else { continue };
            match fetch_status(url) {
                Ok(code) if code != "403" && !code.starts_with('5') && code != "000" => {
                    printer.info(&format!("{url}: HTTP {code} from here"));
                }
                Ok(code) => {
                    refused = true;
                    printer.error_text(&format!(
                        "{url}: HTTP {code} from here: you do not reach it over the VPN\n  help: connect to the VPN and check that `{}` resolves to the server's VPN address (split DNS: `vpai dns` prints the records); `--force` confirms anyway",
                        s.fqdn.as_deref().unwrap_or_default()
                    ));
                }
                Err(why) => {
                    refused = true;
                    printer.error_text(&format!("{url}: {why}"));
                }
            }
        }
        if refused {
            printer.info(&format!(
                "not confirmed: release {release} still reverts to {previous} at {}",
                clock(at)
            ));
            return Ok(ExitCode::from(1));
        }
    }
    use vpai_deploy::confirm::Cancelled;
    match vpai_deploy::confirm::cancel(host, stack)? {
        Cancelled::Cancelled(r) => printer.success(&format!(
            "confirmed: release {r} stays on `{}` (the revert is cancelled)",
            host.name()
        )),
        Cancelled::None => printer.info("the switch fired meanwhile: nothing to cancel"),
        Cancelled::Firing(r) => {
            printer.error_text(&format!(
                "too late: the switch is reverting release {r} to {previous} on `{}` right now
  help: wait for it (`vpai vpn-only status`), then deploy again",
                host.name()
            ));
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The HTTP status of a GET from this machine (`curl`: the certificate is not the
/// question here, reaching the site is).
fn fetch_status(url: &str) -> Result<String, String> {
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run curl here ({e}): use `--force` to confirm without it"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn run_vpn_only(args: VpnOnlyArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.stack.example {
        bail!("the embedded example has no stack.toml to change\n  help: `vpai init` writes one");
    }
    if args.mode == VpnMode::Status {
        let mut project = Project::load(&args.stack)?;
        let vpn: Vec<&str> = project
            .stack
            .services
            .iter()
            .filter(|s| s.vpn_only)
            .map(|s| s.name.as_str())
            .collect();
        printer.out(&if vpn.is_empty() {
            "VPN-only: none (every site is public)".to_string()
        } else {
            format!(
                "VPN-only: {} (VPN: {})",
                vpn.join(", "),
                project.stack.access.vpn.join(", ")
            )
        });
        let target = target::connect(&mut project, &args.target, printer)?;
        let state = vpai_deploy::confirm::read(target.host(), &project.stack)?;
        if let (Some((release, previous, _)), Some(since)) = (&state.armed, state.firing) {
            printer.out(&format!(
                "switch: firing since {}, release {release} is being reverted to {previous}",
                clock(since)
            ));
        } else if let Some((release, previous, at)) = state.armed {
            printer.out(&format!(
                "switch: armed, release {release} reverts to {previous} at {} unless `vpai confirm`",
                clock(at)
            ));
        } else if let Some((release, previous, at, _)) = state.reverted {
            printer.out(&format!(
                "switch: fired at {}, release {release} was reverted to {previous}",
                clock(at)
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let on = args.mode == VpnMode::On;
    let path = args.stack.file.clone();
    let _lock = crate::commands::update::lock_stack_file(&path)?;
    let before = StackFile::load(&path)?;
    let edited = set_admin(&before.source, if on { "vpn" } else { "public" })
        .with_context(|| format!("editing `{}`", path.display()))?;
    // The edited text must make a valid stack before anything is written.
    let project = Project::from_file(&args.stack, StackFile::parse(&path, edited.clone())?)?;
    let vpn: Vec<String> = project
        .stack
        .services
        .iter()
        .filter(|s| s.vpn_only)
        .map(|s| s.name.clone())
        .collect();
    printer.info(&format!(
        "stack.toml: [access] admin = \"{}\"; VPN-only: {}",
        if on { "vpn" } else { "public" },
        if vpn.is_empty() {
            "none".to_string()
        } else {
            vpn.join(", ")
        }
    ));
    let up = UpArgs {
        stack: args.stack.clone(),
        target: args.target.clone(),
        timeout: args.timeout,
        json: false,
        check: false,
        diff: false,
        no_rollback: false,
        no_probes: false,
        install_docker: false,
        no_preflight: false,
        allow: Vec::new(),
        confirm_within: on.then_some(args.confirm_within),
    };
    crate::commands::update::deploy_edited(
        &path,
        &before.source,
        &edited,
        up,
        printer,
        "stack.toml is as it was (the change did not deploy)",
    )
}

/// stack.toml with `[access] admin` set, everything else as it was.
fn set_admin(text: &str, value: &str) -> anyhow::Result<String> {
    crate::commands::update::set_key(text, &["access"], "admin", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toggle_edits_one_key_and_keeps_the_rest() {
        let text = "# mine\n[project]\nname = \"x\" # the name\ndomain = \"a.b\"\n";
        let on = set_admin(text, "vpn").unwrap();
        assert!(on.starts_with(text), "{on}");
        assert!(on.contains("[access]\nadmin = \"vpn\"\n"), "{on}");
        let with = "[project]\nname = \"x\"\ndomain = \"a.b\"\n[access]\nvpn = [\"10.8.0.0/24\"]\nadmin = \"vpn\" # since May\n";
        let off = set_admin(with, "public").unwrap();
        assert!(off.contains("admin = \"public\" # since May"), "{off}");
        assert!(off.contains("vpn = [\"10.8.0.0/24\"]"), "{off}");
    }

    #[test]
    fn delays_are_bounded() {
        assert_eq!(parse_delay("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_delay("2s").is_err());
        assert!(parse_delay("2d").is_err());
        assert!(parse_delay("soon").is_err());
    }
}
