//! `vpai doctor`: read a failing service's recent logs and health output, match the
//! failures the seeds list, and print the cause, the fix and the rule that would
//! have caught it before the deploy.
//!
//! Exit code: 0 nothing known found, 1 at least one known failure, 2 usage or I/O error.

use crate::printer::Printer;
use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use vpai_check::doctor;
use vpai_check::input::{self, LogText};
use vpai_check::text::sanitize_for_terminal;

#[derive(Debug, Args)]
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
}

pub fn run(args: DoctorArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
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
            let container = container_of(service).with_context(|| {
                format!(
                    "no container found for `{}`",
                    sanitize_for_terminal(service)
                )
            })?;
            vec![(service.clone(), container_output(&container, args.tail)?)]
        }
        (None, None) => {
            let failing = failing_containers()?;
            if failing.is_empty() {
                printer.success("no container is unhealthy, restarting or exited with an error");
                return Ok(ExitCode::SUCCESS);
            }
            let mut out = Vec::new();
            for name in failing {
                let logs = container_output(&name, args.tail)?;
                out.push((name, logs));
            }
            out
        }
    };

    let mut found = false;
    let mut json = Vec::new();
    for (service, logs) in targets {
        let diagnoses = doctor::diagnose(&service, &logs);
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

fn docker(args: &[&str]) -> anyhow::Result<std::process::Output> {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `docker` (is it installed and on PATH?)")
}

/// The container for a service: the name itself, or the container whose compose
/// service label matches.
fn container_of(service: &str) -> anyhow::Result<String> {
    let out = docker(&["inspect", "--format", "{{.Name}}", service])?;
    if out.status.success() {
        return Ok(service.to_string());
    }
    let filter = format!("label=com.docker.compose.service={service}");
    let out = docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])?;
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
fn container_output(container: &str, tail: usize) -> anyhow::Result<String> {
    let tail = tail.to_string();
    let (stdout, stderr) = docker_logs(&["logs", "--tail", &tail, container])?;
    let mut text = String::from_utf8_lossy(&stdout.bytes).into_owned();
    text.push_str(&String::from_utf8_lossy(&stderr.bytes));
    let health = docker(&[
        "inspect",
        "--format",
        "{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}\n{{end}}{{end}}",
        container,
    ])?;
    text.push_str(&String::from_utf8_lossy(&health.stdout));
    Ok(text)
}

/// A docker command whose output can be large (lines of any length): the last
/// `MAX_LOGS / 2` bytes of its stdout and of its stderr.
fn docker_logs(args: &[&str]) -> anyhow::Result<(LogText, LogText)> {
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `docker` (is it installed and on PATH?)")?;
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

fn failing_containers() -> anyhow::Result<Vec<String>> {
    let out = docker(&["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"])?;
    if !out.status.success() {
        bail!(
            "`docker ps` failed: {}",
            sanitize_for_terminal(String::from_utf8_lossy(&out.stderr).trim())
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
