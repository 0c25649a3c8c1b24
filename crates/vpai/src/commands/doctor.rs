//! `vpai doctor`: read a failing service's recent logs and health output, match the
//! failures the seeds list, and print the cause, the fix and the rule that would
//! have caught it before the deploy.
//!
//! Exit code: 0 nothing known found, 1 at least one known failure, 2 usage or I/O error.

use crate::printer::Printer;
use anyhow::{Context, bail};
use clap::Args;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use vpai_check::doctor;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Service (compose service name or container name); without it, every container
    /// that is unhealthy, restarting or exited with an error.
    #[arg(value_name = "SERVICE")]
    pub service: Option<String>,
    /// Read the logs from this file (`-` for stdin) instead of `docker logs`.
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
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read the logs from stdin")?;
                s
            } else {
                let bytes = fs_err::read(path)?;
                String::from_utf8_lossy(&bytes).into_owned()
            };
            vec![(service.clone().unwrap_or_else(|| "logs".into()), text)]
        }
        (None, Some(service)) => {
            let container = container_of(service)
                .with_context(|| format!("no container found for `{service}`"))?;
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
    for (service, logs) in &targets {
        let diagnoses = doctor::diagnose(service, logs);
        found |= !diagnoses.is_empty();
        if args.json {
            json.push(serde_json::json!({ "service": service, "diagnoses": diagnoses }));
        } else {
            printer.out(doctor::render(service, &diagnoses).trim_end());
        }
    }
    if args.json {
        printer.out(&serde_json::to_string_pretty(&json)?);
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
        _ => bail!("`docker ps -a` shows no container named or labelled `{service}`"),
    }
}

/// `docker logs --tail N` (stdout and stderr) followed by the healthcheck's output,
/// where "executable file not found" and refused connections show up.
fn container_output(container: &str, tail: usize) -> anyhow::Result<String> {
    let tail = tail.to_string();
    let logs = docker(&["logs", "--tail", &tail, container])?;
    let mut text = String::from_utf8_lossy(&logs.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&logs.stderr));
    let health = docker(&[
        "inspect",
        "--format",
        "{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}\n{{end}}{{end}}",
        container,
    ])?;
    text.push_str(&String::from_utf8_lossy(&health.stdout));
    Ok(text)
}

fn failing_containers() -> anyhow::Result<Vec<String>> {
    let out = docker(&["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"])?;
    if !out.status.success() {
        bail!(
            "`docker ps` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
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
