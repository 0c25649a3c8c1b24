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
        for s in &report.skipped {
            printer.info(&format!("note: left out: {s}"));
        }
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
            if report.changed {
                record_hardened(
                    &args.stack.file,
                    &def,
                    &report.deploy_user,
                    &login.target,
                    (current_port, settings.target_port),
                    printer,
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(printer, args.json, e),
    }
}

/// After a harden: stack.toml logs in as the deploy user (`[hosts.NAME] user`), and
/// the stack's own known_hosts knows the host key on the new port, so the next command
/// connects without a hand edit. Each file is changed under a lock, atomically, its
/// mode kept; what cannot be done is said with the edit to make by hand.
fn record_hardened(
    stack_file: &std::path::Path,
    def: &vpai_model::HostDef,
    deploy_user: &str,
    target: &vpai_host::SshTarget,
    (old_port, new_port): (u16, u16),
    printer: &Printer,
) {
    if def.user.as_deref() != Some(deploy_user) {
        match set_user(stack_file, &def.name, deploy_user) {
            Ok(()) => printer.info(&format!(
                "stack.toml: [hosts.{}] user = \"{deploy_user}\" (root cannot log in any more)",
                def.name
            )),
            Err(e) => printer.warn(&format!(
                "{e:#}\n  help: set `user = \"{deploy_user}\"` in [hosts.{}] yourself (root cannot log in any more)",
                def.name
            )),
        }
    }
    if old_port == new_port {
        return;
    }
    let hint = format!(
        "the host key is known for port {old_port}: record it for port {new_port} in known_hosts"
    );
    let Some(file) = &def.known_hosts else {
        // The operator's own ~/.ssh/known_hosts: not ours to edit.
        printer.info(&format!("next: {hint}"));
        return;
    };
    match copy_known_host(file, target, old_port, new_port) {
        Ok(0) => {}
        Ok(n) => printer.info(&format!(
            "{}: the host key recorded for port {new_port} too ({n} line{})",
            file.display(),
            if n == 1 { "" } else { "s" }
        )),
        Err(e) => printer.warn(&format!("{e:#}\n  help: {hint}")),
    }
}

fn set_user(path: &std::path::Path, host: &str, user: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let _lock = crate::commands::update::lock_stack_file(path)?;
    let before = StackFile::load(path)?;
    let edited = crate::commands::update::set_key(&before.source, &["hosts", host], "user", user)
        .with_context(|| format!("editing `{}`", path.display()))?;
    // The edited text must still be a valid stack file before it replaces the old one.
    StackFile::parse(path, edited.clone())?;
    let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o777);
    vpai_vault::fsutil::atomic_write(path, edited.as_bytes(), mode, None)
        .with_context(|| format!("writing `{}`", path.display()))
}

/// Append the known_hosts lines of the host on `old` under its name on `new` (none
/// when that name is already there). Returns how many lines were added.
fn copy_known_host(
    file: &std::path::Path,
    target: &vpai_host::SshTarget,
    old: u16,
    new: u16,
) -> anyhow::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let (Some(from), Some(to)) = (
        harden::known_host_name(target, old),
        harden::known_host_name(target, new),
    ) else {
        bail!("cannot tell the host's name in known_hosts (`ssh -G` failed)");
    };
    if from == to {
        return Ok(0);
    }
    let lock_name = format!(
        ".{}.lock",
        file.file_name().unwrap_or_default().to_string_lossy()
    );
    let _lock = vpai_vault::fsutil::lock(&file.with_file_name(lock_name), file)
        .map_err(|e| anyhow::anyhow!("cannot lock `{}`: {e}", file.display()))?;
    let find = |name: &str| -> anyhow::Result<Vec<String>> {
        let out = std::process::Command::new("ssh-keygen")
            .arg("-F")
            .arg(name)
            .arg("-f")
            .arg(file)
            .output()
            .context("running ssh-keygen -F")?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_string)
            .collect())
    };
    if !find(&to)?.is_empty() {
        return Ok(0);
    }
    let lines: Vec<String> = find(&from)?
        .iter()
        .filter_map(|l| {
            // `name keytype key [comment]`; a hashed or marked (@cert-authority) line
            // is left to the operator.
            let mut words = l.split_whitespace();
            let name = words.next()?;
            if name.starts_with('|') || name.starts_with('@') {
                return None;
            }
            let rest: Vec<&str> = words.take(2).collect();
            (rest.len() == 2).then(|| format!("{to} {} {}", rest[0], rest[1]))
        })
        .collect();
    if lines.is_empty() {
        bail!("no plain line for `{from}` in `{}`", file.display());
    }
    let mut text =
        std::fs::read_to_string(file).with_context(|| format!("reading `{}`", file.display()))?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    let mode = std::fs::metadata(file).map_or(0o600, |m| m.permissions().mode() & 0o777);
    vpai_vault::fsutil::atomic_write(file, text.as_bytes(), mode, None)
        .with_context(|| format!("writing `{}`", file.display()))?;
    Ok(lines.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_key_is_recorded_for_the_new_port_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        let line = "203.0.113.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhardentestkeybodyxxxxxxxxxxxxxxxxxxxxxxx";
        std::fs::write(&file, format!("# kept\n{line}\n")).unwrap();
        let target = vpai_host::SshTarget {
            address: "203.0.113.10".into(),
            ..Default::default()
        };
        assert_eq!(copy_known_host(&file, &target, 22, 804).unwrap(), 1);
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            format!(
                "# kept\n{line}\n[203.0.113.10]:804 {}\n",
                line.split_once(' ').unwrap().1
            )
        );
        // A second time: the name is there, nothing is added.
        assert_eq!(copy_known_host(&file, &target, 22, 804).unwrap(), 0);
        let other = vpai_host::SshTarget {
            address: "198.51.100.1".into(),
            ..Default::default()
        };
        assert!(copy_known_host(&file, &other, 22, 804).is_err());
    }
}
