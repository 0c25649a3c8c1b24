//! `vpai harden`: a deploy user, an nftables firewall, root login and passwords off and
//! the SSH port moved, then security updates and fail2ban; each change of sshd or the firewall a transaction the host
//! reverts by itself unless a fresh login proves it (vpai_deploy::harden).

use crate::cli::{StackArgs, TargetArgs};
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use anyhow::{Context, bail};
use clap::Args;
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;
use vpai_deploy::harden::{self, HardenError, Hooks, Login, RevertState, Settings};
use vpai_spec::{HardeningSpec, StackFile};

pub const EXAMPLES: &str = "Examples:
  vpai harden --check              # what would change on the host, as diffs (read-only)
  vpai harden                      # the only host of stack.toml
  vpai harden --host prod --json   # the result as JSON on stdout

stack.toml:
  [hosts.prod]
  address = \"203.0.113.10\"
  user = \"root\"                    # then `vpai` (deploy_user) once hardened
  ssh_port = 804                   # where sshd ends up
  bootstrap_port = 22              # where it is now
  identity = \"keys/prod\"           # its .pub is the key the deploy user gets

  [hardening]                      # every key optional
  deploy_user = \"vpai\"
  revert_after = \"5m\"              # an unconfirmed change reverts by itself after this
  firewall = true                  # nftables, table inet vpai: SSH, 80, 443, allow_ports
  allow_ports = [8443]             # (published container ports obey it too)
  upgrades = true                  # security updates install themselves
  fail2ban = true                  # bans after 5 failed SSH logins (never the VPN)

Order, one risky change at a time, each proven by a fresh SSH login (`sudo -n true`)
before the host's revert is cancelled: the deploy user, the firewall with both SSH
ports, sshd on both ports with root login and passwords off, then the old port closed
in sshd and in the firewall; last, automatic security updates and fail2ban, installed
when missing. A second run on a hardened host changes nothing.
Exit status: 0 hardened (or nothing to do; --check: read-only, whatever it shows),
1 refused or reverted (said why, and when the host reverts), 2 usage error.";

#[derive(Debug, Args)]
pub struct HardenArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Show what would change (files as unified diffs) and stop (read-only).
    #[arg(long)]
    pub check: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The longest public key file read: one line.
const MAX_KEY: u64 = 16 << 10;

pub fn run(args: HardenArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let file = match (args.stack.example, args.stack.local_images) {
        (true, true) => StackFile::example_local_images(),
        (true, false) => StackFile::example(),
        (false, _) => StackFile::load(&args.stack.file)?,
    };
    let spec: HardeningSpec = file.spec.hardening.clone().unwrap_or_default();
    let mut project = Project::from_file(&args.stack, file.clone())?;
    let Some(def) = target::choose(&project, &args.target)? else {
        bail!(
            "`vpai harden` acts on a host of stack.toml, over SSH\n  help: declare it in [hosts.NAME] (with `ssh_port` where sshd should end up), or pick one with `--host NAME`"
        );
    };
    let public_key = read_key(&file, &spec, def.identity.as_deref())?;
    let web = [project.stack.http_port, project.stack.https_port];

    let connected = target::connect(&mut project, &args.target, printer);
    let target = match connected {
        Ok(t) => t,
        // Hardened already: root (or the declared user) is refused, the deploy user is not.
        Err(e)
            if def.user.as_deref() != Some(spec.deploy_user.get_ref())
                && format!("{e:#}").contains("Permission denied") =>
        {
            printer.info(&format!(
                "`{}` is refused on `{}`; trying the deploy user `{}` (set `user = \"{}\"` in [hosts.{}])",
                def.user.as_deref().unwrap_or("(default user)"),
                def.name,
                spec.deploy_user.get_ref(),
                spec.deploy_user.get_ref(),
                def.name
            ));
            if let Some(h) = project.stack.hosts.iter_mut().find(|h| h.name == def.name) {
                h.user = Some(spec.deploy_user.get_ref().clone());
                h.become_root = None;
            }
            target::connect(&mut project, &args.target, printer).map_err(|_| e)?
        }
        Err(e) => return Err(e),
    };
    let target::Target::Ssh(ssh) = &target else {
        bail!("`vpai harden` acts on a host reached over SSH");
    };
    let ssh_target = ssh.target().clone();
    let current_port = ssh_target.port.unwrap_or(22);
    let revert_after = spec.revert_delay();
    let settings = Settings {
        deploy_user: spec.deploy_user.get_ref().clone(),
        public_key,
        revert_after,
        firewall: spec.firewall,
        open_ports: web
            .into_iter()
            .chain(spec.allow_ports.iter().map(|p| *p.get_ref()))
            .collect(),
        current_port,
        target_port: def.ssh_port.unwrap_or(current_port),
        upgrades: spec.upgrades,
        fail2ban: spec.fail2ban,
        never_ban: project.stack.access.vpn.clone(),
    };
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;

    if args.check {
        let report = match harden::check(host, &settings) {
            Ok(r) => r,
            Err(e) => return fail(printer, args.json, e),
        };
        if args.json {
            printer.out(&serde_json::to_string_pretty(&report)?);
        } else if report.is_empty() {
            printer.out(&format!("{}: hardened, nothing would change", report.host));
        } else {
            let mut text = String::new();
            for c in &report.changes {
                text.push_str(&format!("~ {c}\n"));
            }
            for d in &report.diffs {
                text.push_str(&d.diff);
            }
            printer.out(text.trim_end());
        }
        return Ok(ExitCode::SUCCESS);
    }

    let login = Login {
        host_key_alias: harden::known_host_name(&ssh_target, current_port),
        target: ssh_target,
        // The check must finish well inside the revert delay.
        timeout: (revert_after / 4).clamp(Duration::from_secs(2), Duration::from_secs(10)),
    };
    let progress = |line: &str| printer.step(line);
    let hooks = Hooks {
        progress: &progress,
    };
    match harden::run(host, &settings, &login, &hooks) {
        Ok(report) => {
            if args.json {
                printer.out(&serde_json::to_string_pretty(&report)?);
            } else if !report.changed {
                printer.success(&format!(
                    "{}: already hardened, nothing changed",
                    report.host
                ));
            } else {
                for s in report.steps.iter().filter(|s| s.changed) {
                    printer.info(&format!("{}: {}", s.step, s.detail));
                }
                printer.success(&format!(
                    "{}: hardened: `{}` on port {}, root login and passwords off",
                    report.host, report.deploy_user, report.ssh_port
                ));
            }
            if report.changed && def.user.as_deref() != Some(report.deploy_user.as_str()) {
                printer.info(&format!(
                    "next: set `user = \"{}\"` in [hosts.{}] (root cannot log in any more){}",
                    report.deploy_user,
                    def.name,
                    if settings.target_port != current_port {
                        format!(
                            "; the host key is known for port {current_port}: record it for port {} in known_hosts too",
                            settings.target_port
                        )
                    } else {
                        String::new()
                    }
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(printer, args.json, e),
    }
}

fn fail(printer: &Printer, json: bool, err: HardenError) -> anyhow::Result<ExitCode> {
    match err {
        HardenError::Host(e) => Err(e.into()),
        err => {
            if json {
                let (step, revert) = match &err {
                    HardenError::Failed { step, revert, .. } => {
                        (Some(step.clone()), revert.clone())
                    }
                    _ => (None, RevertState::NotNeeded),
                };
                printer.out(&serde_json::to_string_pretty(&serde_json::json!({
                    "error": err.to_string(),
                    "step": step,
                    "revert": revert,
                }))?);
            }
            printer.error_text(&err.to_string());
            Ok(ExitCode::from(1))
        }
    }
}

/// The public key to authorize: `deploy_key`, else the host's identity + `.pub`;
/// one well-formed line, said at its place in stack.toml when it is not.
fn read_key(
    file: &StackFile,
    spec: &HardeningSpec,
    identity: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    let path = match (&spec.deploy_key, identity) {
        (Some(k), _) => {
            let p = std::path::PathBuf::from(k.get_ref());
            if p.is_absolute() {
                p
            } else {
                file.dir().join(p)
            }
        }
        (None, Some(id)) => {
            let mut s = id.as_os_str().to_owned();
            s.push(".pub");
            s.into()
        }
        (None, None) => bail!(
            "no public key to authorize for the deploy user\n  help: set `deploy_key = \"keys/deploy.pub\"` in [hardening], or `identity` in the host's table (its .pub is used)"
        ),
    };
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_KEY).read_to_string(&mut text))
        .with_context(|| format!("cannot read the public key `{}`", path.display()))?;
    if let Err(r) = vpai_spec::hardening::check_public_key(&text) {
        if let Some(k) = &spec.deploy_key {
            return Err(file
                .error_at(
                    k.span(),
                    format!("`{}`: {}", path.display(), r.message),
                    r.help,
                )
                .into());
        }
        bail!("`{}`: {}\n  help: {}", path.display(), r.message, r.help);
    }
    Ok(text.trim_end().to_string())
}
