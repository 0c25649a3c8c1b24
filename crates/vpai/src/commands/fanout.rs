//! Several hosts, one command. On a stack that declares more than one `[hosts.NAME]`,
//! `vpai up`, `plan`, `status`, `verify` and `backup` without `--host` run once per
//! host, all at once: each run is this same binary with `--host NAME`, so each takes its
//! own host's lock, makes its own release and rolls back alone; a host that fails is
//! reported and the others finish. Their lines are prefixed with the host's name as
//! they come; `--json` gathers each host's document under its name.

use crate::cli::{StackArgs, TargetArgs};
use crate::printer::Printer;
use crate::project::Project;
use anyhow::{Context, bail};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the vault stays open in the kernel keyring for the runs at most; locked
/// again when they end.
const HOLD_FOR_RUNS: Duration = Duration::from_secs(3600);

/// Run the command once per host when the stack has several and none was chosen;
/// `None`: not the case, the caller goes on alone.
pub fn over_hosts(
    stack: &StackArgs,
    target: &TargetArgs,
    json: bool,
    printer: &Printer,
) -> anyhow::Result<Option<ExitCode>> {
    over_hosts_with(stack, target, json, true, printer)
}

/// [`over_hosts`] for a command that never opens the vault (`status`).
pub fn over_hosts_without_vault(
    stack: &StackArgs,
    target: &TargetArgs,
    json: bool,
    printer: &Printer,
) -> anyhow::Result<Option<ExitCode>> {
    over_hosts_with(stack, target, json, false, printer)
}

fn over_hosts_with(
    stack: &StackArgs,
    target: &TargetArgs,
    json: bool,
    vault: bool,
    printer: &Printer,
) -> anyhow::Result<Option<ExitCode>> {
    if target.host.is_some() || stack.example {
        return Ok(None);
    }
    over_loaded_hosts(&Project::load(stack)?, target, json, vault, printer)
}

/// [`over_hosts`] for a command that has loaded the project already.
pub fn over_loaded_hosts(
    project: &Project,
    target: &TargetArgs,
    json: bool,
    vault: bool,
    printer: &Printer,
) -> anyhow::Result<Option<ExitCode>> {
    // (The embedded example declares no host.)
    if target.host.is_some() {
        return Ok(None);
    }
    // A swarm is reached through its manager, not host by host.
    if project.stack.swarm.is_some() {
        return Ok(None);
    }
    let hosts: Vec<String> = project.stack.hosts.iter().map(|h| h.name.clone()).collect();
    if hosts.len() < 2 {
        return Ok(None);
    }
    check_placement(project)?;
    // The vault is opened here once: missing secrets are generated once, and its key is
    // held in the kernel keyring for the runs (they inherit the keyring, never the
    // passphrase), so that no run derives it again; dropped at the end.
    let mut held_here = None;
    if vault {
        let mut store = project.secrets(printer)?;
        if store.held_until().is_none() {
            match store.hold(HOLD_FOR_RUNS) {
                Ok(_) => held_here = Some(store.path().to_path_buf()),
                // Typed here: the runs have no terminal to ask on.
                Err(e) if store.key_was_typed() => {
                    return Err(anyhow::Error::new(e).context(
                        "the runs on each host need the vault: `vpai unlock` first, or set VPAI_VAULT_PASSWORD_FILE",
                    ));
                }
                // An identity file, or no keyring here: each run opens it as usual.
                Err(_) => {}
            }
        }
    }
    printer.step(&format!(
        "{} hosts at once: {}",
        hosts.len(),
        hosts.join(", ")
    ));
    let result = run_all(&hosts, json, printer);
    if let Some(path) = held_here {
        let _ = vpai_vault::keyring::forget(&path);
    }
    result.map(Some)
}

/// A service and what it needs run on the same host: an address on another host is not
/// rendered yet (the VPN addresses of the hosts will give them).
fn check_placement(project: &Project) -> anyhow::Result<()> {
    let stack = &project.stack;
    let provider = stack.database_provider().map(|p| p.name.as_str());
    let is_provider = |n: &str| {
        project
            .catalog
            .get(n)
            .is_some_and(|d| d.provides_databases.is_some())
    };
    for host in &stack.hosts {
        let here = stack.only_on(host);
        for s in &here.services {
            let needs = s.required(provider, &is_provider);
            if let Some(missing) = needs.iter().find(|n| here.service(n).is_none()) {
                bail!(
                    "`{}` runs on `{}` but `{missing}`, which it needs, does not\n  help: list `{missing}` in `[hosts.{}] services` too (services reach each other on one host's networks)",
                    s.name,
                    host.name,
                    host.name
                );
            }
        }
    }
    Ok(())
}

/// One child per host; their output prefixed as it comes; the worst exit status wins.
fn run_all(hosts: &[String], json: bool, printer: &Printer) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding vpai's own binary")?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let started = Instant::now();
    let out_lock = Mutex::new(());
    let results: Vec<(String, Option<i32>, Vec<u8>, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|host| {
                let exe = &exe;
                let args = &args;
                let out_lock = &out_lock;
                scope.spawn(move || run_one(exe, args, host, json, printer, out_lock))
            })
            .collect();
        handles
            .into_iter()
            .zip(hosts)
            .map(|(h, host)| {
                h.join()
                    .unwrap_or_else(|_| Ok((host.clone(), None, Vec::new(), 0.0)))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let mut worst = 0u8;
    let mut documents = serde_json::Map::new();
    for (host, code, stdout, secs) in &results {
        let code = code.map_or(1, |c| u8::try_from(c).unwrap_or(1));
        worst = worst.max(code);
        if code == 0 {
            printer.info(&format!("[{host}] done ({secs:.1}s)"));
        } else {
            printer.error_text(&format!("[{host}] failed (exit {code}, {secs:.1}s)"));
        }
        if json {
            let doc = serde_json::from_slice(stdout).unwrap_or(serde_json::Value::Null);
            documents.insert(host.clone(), doc);
        }
    }
    if json {
        printer.out(&serde_json::to_string_pretty(&documents)?);
    }
    let failed = results.iter().filter(|(_, c, _, _)| *c != Some(0)).count();
    let summary = format!(
        "{} of {} hosts succeeded ({:.1}s)",
        results.len() - failed,
        results.len(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        printer.success(&summary);
    } else {
        printer.error_text(&summary);
    }
    Ok(ExitCode::from(worst))
}

/// This binary with `--host NAME` (before a `--`, if any): (host, exit status, stdout
/// when gathered, seconds).
fn run_one(
    exe: &std::path::Path,
    args: &[std::ffi::OsString],
    host: &str,
    json: bool,
    printer: &Printer,
    out_lock: &Mutex<()>,
) -> anyhow::Result<(String, Option<i32>, Vec<u8>, f64)> {
    let started = Instant::now();
    let mut argv: Vec<std::ffi::OsString> = args.to_vec();
    let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    argv.splice(at..at, ["--host".into(), host.into()]);
    let mut cmd = Command::new(exe);
    cmd.args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if printer.color() {
        cmd.env("CLICOLOR_FORCE", "1");
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting the run on `{host}`"))?;
    let stderr = child.stderr.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let prefix = format!("[{host}] ");
    let gathered = std::thread::scope(|scope| {
        let err = scope.spawn(|| {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _g = out_lock.lock();
                let _ = writeln!(std::io::stderr(), "{prefix}{line}");
            }
        });
        let mut bytes = Vec::new();
        if json {
            let _ = stdout.read_to_end(&mut bytes);
        } else {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _g = out_lock.lock();
                let _ = writeln!(std::io::stdout(), "{prefix}{line}");
            }
        }
        let _ = err.join();
        bytes
    });
    let status = child.wait()?;
    Ok((
        host.to_string(),
        status.code(),
        gathered,
        started.elapsed().as_secs_f64(),
    ))
}
