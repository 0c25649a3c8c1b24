//! `vpai doctor`: read a failing service's recent logs and health output, match the
//! failures the seeds list, and print the cause, the fix and the rule that would
//! have caught it before the deploy.
//!
//! Exit code: 0 nothing known found, 1 at least one known failure, 2 usage or I/O error.

use crate::cli::{StackArgs, TargetArgs};
use crate::printer::Printer;
use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use vpai_check::doctor;
use vpai_check::input::{self, LogText};
use vpai_check::text::sanitize_for_terminal;
use vpai_host::{Host, LocalHost};

#[derive(Debug, Args)]
#[command(
    mut_arg("host", |a| a.help(
        "Read the containers of a `[hosts.NAME]` of stack.toml, over SSH [default: this machine; \
         no stack.toml needed]"
    )),
    after_help = "Examples:
  vpai doctor                     # every unhealthy, restarting or failed container here
  vpai doctor n8n                 # one service's logs and healthcheck output
  vpai doctor --host prod n8n     # the same on a host of stack.toml, over SSH
  docker logs x 2>&1 | vpai doctor --logs - x   # logs from anywhere"
)]
pub struct DoctorArgs {
    /// Service (compose service name or container name); without it, every container
    /// that is unhealthy, restarting or exited with an error.
    #[arg(value_name = "SERVICE")]
    pub service: Option<String>,
    /// Read the logs from this file (`-` for stdin) instead of `docker logs`; of a
    /// file larger than 64 MiB, its last 64 MiB.
    #[arg(long, value_name = "FILE")]
    pub logs: Option<PathBuf>,
    /// Print the diagnoses as JSON.
    #[arg(long)]
    pub json: bool,
    /// How many log lines to read from each container.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub tail: usize,
    /// With `--host`: the stack that declares the host.
    #[command(flatten)]
    pub stack: StackArgs,
    // `--host` (its help is set above: local unless asked).
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: DoctorArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    // Remote only when asked: doctor must work where stack.toml is missing or broken.
    let mut project = None;
    let mut remote = None;
    if args.target.host.is_some() && args.logs.is_none() {
        let mut loaded = crate::project::Project::load(&args.stack)?;
        crate::commands::logs::mask_secrets(&loaded, printer)?;
        remote = Some(crate::commands::target::connect(
            &mut loaded,
            &args.target,
            printer,
        )?);
        project = Some(loaded);
    }
    let host: &dyn Host = match &remote {
        Some(t) => t.host(),
        None => &LocalHost,
    };
    let targets: Vec<(String, String)> = match (&args.logs, &args.service) {
        (Some(path), service) => {
            let (shown, log) = if path.as_os_str() == "-" {
                let log = input::read_log_stream(std::io::stdin().lock(), "stdin")?;
                ("stdin".to_string(), log)
            } else {
                let shown = path.display().to_string();
                let log = input::read_log_file(path, &shown)?;
                (shown, log)
            };
            if log.skipped > 0 {
                printer.info(&format!(
                    "note: `{}` holds more than {}: reading only its last lines, up to {} (log line numbers count from there)",
                    sanitize_for_terminal(&shown),
                    input::human_size(input::MAX_LOGS),
                    input::human_size(input::MAX_LOGS),
                ));
            }
            let text = String::from_utf8_lossy(&log.bytes).into_owned();
            vec![(service.clone().unwrap_or_else(|| "logs".into()), text)]
        }
        (None, Some(service)) => {
            // A service of the stack is its container; otherwise ask docker.
            let known = project
                .as_ref()
                .and_then(|p| p.stack.service(service))
                .map(|s| s.container_name.clone());
            let container = match known {
                Some(c) => Ok(c),
                None => container_of(host, service),
            }
            .with_context(|| {
                format!(
                    "no container found for `{}`",
                    sanitize_for_terminal(service)
                )
            })?;
            vec![(
                service.clone(),
                container_output(host, &container, args.tail)?,
            )]
        }
        (None, None) => {
            let failing = failing_containers(host)?;
            if failing.is_empty() {
                printer.success("no container is unhealthy, restarting or exited with an error");
                return Ok(ExitCode::SUCCESS);
            }
            let mut out = Vec::new();
            for name in failing {
                let logs = container_output(host, &name, args.tail)?;
                out.push((name, logs));
            }
            out
        }
    };

    // The failures the catalog knows: the stack's own entries too when there is one.
    let catalog = match &project {
        Some(p) => p.catalog.clone(),
        None => vpai_catalog::Catalog::embedded(),
    };
    let mut found = false;
    let mut json = Vec::new();
    for (service, logs) in targets {
        let diagnoses = doctor::diagnose_with(&catalog, &service, &logs);
        found |= !diagnoses.is_empty();
        if args.json {
            json.push((service, diagnoses));
        } else {
            // `render` shows terminal controls of the logs as escapes.
            printer.out(doctor::render(&service, &diagnoses).trim_end());
        }
    }
    if args.json {
        printer.out(&doctor::to_json(&json));
    }
    Ok(if found {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn docker(host: &dyn Host, args: &[&str]) -> anyhow::Result<vpai_host::CmdOutput> {
    let mut full = vec!["docker"];
    full.extend_from_slice(args);
    host.run(&full, None).with_context(|| {
        format!(
            "cannot run `docker` on `{}` (is it installed and on PATH?)",
            host.name()
        )
    })
}

/// The container for a service: the name itself, or the container whose compose
/// service label matches.
fn container_of(host: &dyn Host, service: &str) -> anyhow::Result<String> {
    let out = docker(host, &["inspect", "--format", "{{.Name}}", service])?;
    if out.success() {
        return Ok(service.to_string());
    }
    let filter = format!("label=com.docker.compose.service={service}");
    let out = docker(
        host,
        &["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
    )?;
    let names = String::from_utf8_lossy(&out.stdout);
    match names.lines().next() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => bail!(
            "`docker ps -a` shows no container named or labelled `{}`",
            sanitize_for_terminal(service)
        ),
    }
}

/// `docker logs --tail N` (stdout and stderr) followed by the healthcheck's output,
/// where "executable file not found" and refused connections show up.
fn container_output(host: &dyn Host, container: &str, tail: usize) -> anyhow::Result<String> {
    let tail = tail.to_string();
    let (stdout, stderr) = docker_logs(host, &["docker", "logs", "--tail", &tail, container])?;
    let mut text = String::from_utf8_lossy(&stdout.bytes).into_owned();
    text.push_str(&String::from_utf8_lossy(&stderr.bytes));
    let health = docker(
        host,
        &[
            "inspect",
            "--format",
            "{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}\n{{end}}{{end}}",
            container,
        ],
    )?;
    text.push_str(&String::from_utf8_lossy(&health.stdout));
    Ok(text)
}

/// A docker command whose output can be large (lines of any length): the last
/// `MAX_LOGS / 2` bytes of its stdout and of its stderr.
fn docker_logs(host: &dyn Host, args: &[&str]) -> anyhow::Result<(LogText, LogText)> {
    let mut child = host.spawn(args).with_context(|| {
        format!(
            "cannot run `docker` on `{}` (is it installed and on PATH?)",
            host.name()
        )
    })?;
    // Nothing to say to it.
    drop(child.stdin.take());
    let keep = input::MAX_LOGS / 2;
    let stderr = child
        .stderr
        .take()
        .map(|err| std::thread::spawn(move || input::tail_of_stream(err, keep)));
    let stdout = match child.stdout.take() {
        Some(out) => input::tail_of_stream(out, keep),
        None => Ok(LogText::default()),
    };
    let stderr = match stderr {
        Some(thread) => thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("reader thread panicked"))),
        None => Ok(LogText::default()),
    };
    child.wait().context("`docker logs` did not finish")?;
    let read = |r: std::io::Result<LogText>| r.context("cannot read the output of `docker logs`");
    Ok((read(stdout)?, read(stderr)?))
}

fn failing_containers(host: &dyn Host) -> anyhow::Result<Vec<String>> {
    let out = docker(host, &["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"])?;
    if !out.success() {
        bail!(
            "`docker ps` failed on `{}`: {}",
            host.name(),
            sanitize_for_terminal(out.stderr_text().trim())
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, status)| {
            status.contains("unhealthy")
                || status.starts_with("Restarting")
                || (status.starts_with("Exited") && !status.starts_with("Exited (0)"))
        })
        .map(|(name, _)| name.to_string())
        .collect())
}
