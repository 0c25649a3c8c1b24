//! Which machine a command acts on: `--host NAME` (a `[hosts.NAME]` of stack.toml),
//! the only host declared, or this machine when none is. Resolved after the stack is
//! validated (no connection is opened for an invalid stack), then connected once: one
//! SSH master connection for the whole command.

use crate::cli::TargetArgs;
use crate::printer::Printer;
use crate::project::Project;
use anyhow::bail;
use vpai_host::{Host, LocalHost, SshError, SshHost, SshTarget};
use vpai_model::HostDef;

pub enum Target {
    Local(LocalHost),
    Ssh(Box<SshHost>),
}

impl Target {
    pub fn host(&self) -> &dyn Host {
        match self {
            Target::Local(h) => h,
            Target::Ssh(h) => h.as_ref(),
        }
    }
}

/// The host definition the command targets (None: this machine).
pub fn choose(project: &Project, args: &TargetArgs) -> anyhow::Result<Option<HostDef>> {
    let hosts = &project.stack.hosts;
    match args.host.as_deref() {
        Some("local") => Ok(None),
        Some(name) => match project.stack.host(name) {
            Some(h) => Ok(Some(h.clone())),
            None if hosts.is_empty() => bail!(
                "no host `{name}` in stack.toml\n  help: declare it: [hosts.{name}] address = \"203.0.113.10\""
            ),
            None => bail!(
                "no host `{name}` in stack.toml\n  help: declared hosts: {}",
                hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        None if hosts.len() == 1 => Ok(Some(hosts[0].clone())),
        None if hosts.is_empty() => Ok(None),
        None => bail!(
            "stack.toml declares several hosts\n  help: pick one with `--host NAME` ({})",
            hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Narrow the stack to what runs on the target and connect to it.
pub fn connect(
    project: &mut Project,
    args: &TargetArgs,
    printer: &Printer,
) -> anyhow::Result<Target> {
    let Some(def) = choose(project, args)? else {
        return Ok(Target::Local(LocalHost));
    };
    project.stack = project.stack.only_on(&def);
    connect_def(&def, printer)
}

/// Connect to one declared host (its bootstrap port when it is not hardened yet).
pub fn connect_def(def: &HostDef, printer: &Printer) -> anyhow::Result<Target> {
    let base = SshTarget {
        name: def.name.clone(),
        address: def.address.clone(),
        user: def.user.clone(),
        port: def.ssh_port,
        identity: def.identity.clone(),
        known_hosts: def.known_hosts.clone(),
        options: def.ssh_options.clone().into_iter().collect(),
        become_root: def.become_root,
        connect_timeout: 10,
    };
    match SshHost::connect(base.clone()) {
        Ok(h) => Ok(Target::Ssh(Box::new(h))),
        // Not hardened yet (a fresh VPS still on 22): the bootstrap port, said out loud.
        Err(SshError::Connect { message, .. })
            if def.bootstrap_port.is_some()
                && def.bootstrap_port != def.ssh_port
                && !message.contains("Permission denied") =>
        {
            let port = def.bootstrap_port.expect("checked");
            printer.info(&format!(
                "`{}` does not answer on port {} ({message}); using bootstrap_port {port}",
                def.name,
                def.ssh_port.unwrap_or(22)
            ));
            let h = SshHost::connect(SshTarget {
                port: Some(port),
                ..base
            })?;
            Ok(Target::Ssh(Box::new(h)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The services named, on the target: after [`connect`] narrowed the stack to what runs
/// there. A service of the stack that another host runs is said so.
pub fn select_on<'s>(
    stack: &'s vpai_model::Stack,
    names: &[String],
    host: &dyn Host,
) -> anyhow::Result<vpai_deploy::Selection<'s>> {
    if let Some(name) = names.iter().find(|n| {
        !stack
            .services
            .iter()
            .any(|s| &&s.name == n || &&s.container_name == n)
    }) {
        bail!(
            "service `{}` does not run on `{}` (its `services` in stack.toml leave it out)\n  help: pick the host that runs it with `--host NAME`",
            name.escape_debug(),
            host.name()
        );
    }
    Ok(vpai_deploy::ops::select(stack, names)?)
}

/// Take the host's deploy lock (and read its state in the same round trip), as `vpai
/// up` does; when another run holds it, say who and return None (exit 1).
pub fn lock(
    host: &dyn Host,
    stack: &vpai_model::Stack,
    paths: &[&str],
    dirs: &[&str],
    printer: &Printer,
) -> anyhow::Result<Option<(vpai_deploy::lock::DeployLock, vpai_deploy::state::HostState)>> {
    match vpai_deploy::lock::acquire(host, stack, paths, dirs)? {
        Ok((held, snapshot)) => {
            if let Some(info) = &held.stale {
                printer.warn(&format!(
                    "the previous deploy on `{}` did not finish ({}); this run converges from where it stopped",
                    host.name(),
                    info.iter()
                        .filter(|l| !l.trim().is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Ok(Some((held, snapshot)))
        }
        Err(busy) => {
            printer.error_text(&format!(
                "{busy}\n  help: wait for it to finish and run the command again; if no deploy is running, the holder process on the host is stuck: stop it by its pid"
            ));
            Ok(None)
        }
    }
}
