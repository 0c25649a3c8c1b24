//! Day-2 operations on a running stack: logs, a command in a container, a restart.
//! The operator names services; which compose file holds each (phase A's
//! `docker-compose-infra.yml` or phase B's `docker-compose.yml`, each with its own
//! project name) comes from the model, so every operation goes through the right file
//! without being told. The same code serves the local machine and SSH targets.

use crate::DeployError;
use crate::docker::DockerEngine;
use crate::health::{self, Progress, ServiceStatus};
use std::io::BufRead;
use std::time::Duration;
use vpai_catalog::Phase;
use vpai_host::{Host, HostError};
use vpai_model::{Service, Stack};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("unknown service `{name}`\n  help: {help}")]
    UnknownService { name: String, help: String },
    #[error(
        "service `{service}` is not deployed on `{host}`: `{file}` is missing there\n  help: deploy it first with `vpai up{host_flag}`"
    )]
    NotDeployed {
        service: String,
        host: String,
        file: String,
        host_flag: String,
    },
    #[error("`{command}` on `{host}` failed (exit {status})")]
    Failed {
        command: String,
        host: String,
        status: i32,
    },
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Host(#[from] HostError),
}

/// Services named by the operator, grouped by the phase (compose file) that holds
/// them, phase A first. A name is a service of the stack or its container name.
#[derive(Debug, Clone)]
pub struct Selection<'s> {
    pub groups: Vec<(Phase, Vec<&'s Service>)>,
}

impl<'s> Selection<'s> {
    pub fn services(&self) -> impl Iterator<Item = &'s Service> + '_ {
        self.groups.iter().flat_map(|(_, s)| s.iter().copied())
    }

    pub fn len(&self) -> usize {
        self.groups.iter().map(|(_, s)| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Resolve service names against the stack; no name: every service. An unknown name
/// is an error that suggests the closest known one, or lists them all.
pub fn select<'s>(stack: &'s Stack, names: &[String]) -> Result<Selection<'s>, OpsError> {
    let mut chosen: Vec<&Service> = Vec::new();
    for name in names {
        let found = stack
            .services
            .iter()
            .find(|s| &s.name == name || &s.container_name == name)
            .ok_or_else(|| unknown_service(stack, name))?;
        if !chosen.iter().any(|s| s.name == found.name) {
            chosen.push(found);
        }
    }
    if names.is_empty() {
        chosen = stack.services.iter().collect();
    }
    let groups = [Phase::Infra, Phase::Apps]
        .into_iter()
        .map(|phase| {
            let of_phase: Vec<&Service> = chosen
                .iter()
                .copied()
                .filter(|s| s.phase() == phase)
                .collect();
            (phase, of_phase)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    Ok(Selection { groups })
}

fn unknown_service(stack: &Stack, name: &str) -> OpsError {
    let known: Vec<&str> = stack.services.iter().map(|s| s.name.as_str()).collect();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let list = if known.is_empty() {
        "(none)".to_string()
    } else {
        known.join(", ")
    };
    let help = match best {
        Some((_, k)) => format!("did you mean `{k}`? The stack's services: {list}"),
        None => format!("the stack's services: {list}"),
    };
    OpsError::UnknownService {
        // Shown in a terminal: the operator's text, escapes neutralised.
        name: name.escape_debug().to_string(),
        help,
    }
}

/// The compose file of a phase on the host, which must be there (deployed).
fn compose_file(
    host: &dyn Host,
    stack: &Stack,
    phase: Phase,
    first: &Service,
) -> Result<String, OpsError> {
    let file = stack.root.join(Stack::compose_file(phase));
    if host.read_file(&file)?.is_none() {
        return Err(OpsError::NotDeployed {
            service: first.name.clone(),
            host: host.name().to_string(),
            file: file.display().to_string(),
            host_flag: if host.is_remote() {
                format!(" --host {}", host.name())
            } else {
                String::new()
            },
        });
    }
    Ok(file.display().to_string())
}

/// What `vpai logs` asks for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep streaming new lines until interrupted.
    pub follow: bool,
    /// Only lines since this time (RFC 3339) or for this duration (`10m`, `2h`).
    pub since: Option<String>,
    /// Last lines of each service; None: all.
    pub tail: Option<usize>,
}

/// Which stream of the host command a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Stream the logs of the selected services, one compose command per phase (run side
/// by side, so `--follow` shows both phases live), each line handed to `sink` as it
/// arrives (the caller masks secrets and prints). Ends when every command ended.
pub fn logs(
    host: &dyn Host,
    stack: &Stack,
    selection: &Selection,
    opts: &LogOptions,
    sink: &(dyn Fn(Stream, &str) + Sync),
) -> Result<(), OpsError> {
    let several = selection.len() > 1;
    let mut commands: Vec<Vec<String>> = Vec::new();
    // Compose: one `docker compose logs` per phase. Swarm: one `docker service logs`
    // per service (it takes one), on the manager, which gathers every node's tasks.
    let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for (phase, services) in &selection.groups {
        if stack.swarm.is_some() {
            for s in services {
                let mut head: Vec<String> = ["docker", "service", "logs", "--no-trunc"]
                    .map(String::from)
                    .to_vec();
                if !several {
                    head.push("--raw".into());
                }
                let name = format!("{}_{}", stack.compose_project(*phase), s.name);
                groups.push((head, vec![name]));
            }
            continue;
        }
        let file = compose_file(host, stack, *phase, services[0])?;
        let mut head: Vec<String> = ["docker", "compose", "-f", &file, "logs", "--no-color"]
            .map(String::from)
            .to_vec();
        if !several {
            head.push("--no-log-prefix".into());
        }
        let names = services.iter().map(|s| s.name.clone()).collect();
        groups.push((head, names));
    }
    for (mut args, names) in groups {
        args.push("--tail".into());
        args.push(opts.tail.map_or("all".into(), |n| n.to_string()));
        if let Some(since) = &opts.since {
            args.push(format!("--since={since}"));
        }
        if opts.follow {
            args.push("--follow".into());
        }
        args.push("--".into());
        args.extend(names);
        if opts.follow {
            // A follower on the host must not outlive vpai: when vpai goes away (Ctrl-C,
            // a lost connection) its stdin closes, and the watchdog stops it.
            let mut wrapped: Vec<String> = ["bash", "-c", FOLLOW_WATCHDOG, "vpai-logs"]
                .map(String::from)
                .to_vec();
            wrapped.extend(args);
            args = wrapped;
        }
        commands.push(args);
    }
    let mut children = Vec::new();
    for args in &commands {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = host.spawn(&argv)?;
        let out = child.stdout.take();
        let err = child.stderr.take();
        children.push((args, child, out, err));
    }
    let mut failed = None;
    std::thread::scope(|scope| {
        let mut readers = Vec::new();
        for (_, _, out, err) in children.iter_mut() {
            if let Some(out) = out.take() {
                readers.push(scope.spawn(move || pump(out, Stream::Stdout, sink)));
            }
            if let Some(err) = err.take() {
                readers.push(scope.spawn(move || pump(err, Stream::Stderr, sink)));
            }
        }
        for r in readers {
            let _ = r.join();
        }
    });
    for (args, mut child, _, _) in children {
        // The stdin pipe (the watchdog's) closes with the child handle.
        drop(child.stdin.take());
        let status = child.wait().map_err(|source| HostError::Spawn {
            program: args[0].clone(),
            source,
        })?;
        if !status.success() && failed.is_none() {
            failed = Some(OpsError::Failed {
                command: shown_command(args),
                host: host.name().to_string(),
                status: status.code().unwrap_or(-1),
            });
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs "$@" and stops it when stdin closes (the client went away); exits with its code.
const FOLLOW_WATCHDOG: &str = r#""$@" & p=$!
{ cat >/dev/null; kill "$p" 2>/dev/null; } <&0 >/dev/null 2>&1 &
wait "$p""#;

fn pump(stream: impl std::io::Read, which: Stream, sink: &(dyn Fn(Stream, &str) + Sync)) {
    let mut reader = std::io::BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                sink(which, text.trim_end_matches(['\n', '\r']));
            }
        }
    }
}

/// A command line for messages: the watchdog wrapper left out.
fn shown_command(args: &[String]) -> String {
    let start = if args.first().map(String::as_str) == Some("bash") {
        4
    } else {
        0
    };
    args[start.min(args.len())..].join(" ")
}

/// The command line of `vpai exec` on the host: compose's `exec` in the service's own
/// compose file, with a TTY when `tty`.
pub fn exec_command(
    host: &dyn Host,
    stack: &Stack,
    service: &Service,
    command: &[String],
    tty: bool,
) -> Result<Vec<String>, OpsError> {
    let file = compose_file(host, stack, service.phase(), service)?;
    let mut args: Vec<String> = ["docker", "compose", "-f", &file, "exec"]
        .map(String::from)
        .to_vec();
    if !tty {
        args.push("-T".into());
    }
    args.push(service.name.clone());
    args.extend(command.iter().cloned());
    Ok(args)
}

/// Run a command in a service's container, attached to the operator's terminal;
/// returns the command's exit code.
pub fn exec(
    host: &dyn Host,
    stack: &Stack,
    service: &Service,
    command: &[String],
    tty: bool,
) -> Result<i32, OpsError> {
    let args = exec_command(host, stack, service, command, tty)?;
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(host.run_interactive(&argv, tty)?)
}

/// Recreate the selected services through compose (`up -d --force-recreate --no-deps`,
/// phase A first), then wait until they are healthy. A recreate, not `docker restart`:
/// a restarted container keeps the environment it was created with, so an env file
/// changed on the host would not be read; a recreated one reads it.
pub fn restart(
    host: &dyn Host,
    stack: &Stack,
    selection: &Selection,
    timeout: Duration,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<Vec<ServiceStatus>, OpsError> {
    let engine = DockerEngine::new(host);
    engine.check().map_err(|problem| DeployError::Engine {
        host: host.name().to_string(),
        problem,
    })?;
    let mut statuses = Vec::new();
    for (phase, services) in &selection.groups {
        let file = compose_file(host, stack, *phase, services[0])?;
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        progress.step(&format!("recreating {}", names.join(", ")));
        let mut args = vec!["up", "-d", "--force-recreate", "--no-deps", "--"];
        args.extend(names.iter().copied());
        engine.compose(std::path::Path::new(&file), &args)?;
        progress.step("waiting for health");
        let done = health::wait_healthy(&engine, stack, services, timeout, progress).map_err(
            |mut failure| {
                failure.logs = redact(&failure.logs);
                failure.health_output = redact(&failure.health_output);
                DeployError::Unhealthy(failure)
            },
        )?;
        statuses.extend(done);
    }
    Ok(statuses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        let file = vpai_spec::StackFile::example();
        vpai_model::build(
            &file,
            &vpai_catalog::Catalog::embedded(),
            &vpai_model::BuildOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn services_are_grouped_by_their_phase_whatever_the_order() {
        let stack = stack();
        let apps: Vec<String> = stack
            .services
            .iter()
            .filter(|s| s.phase() == Phase::Apps)
            .map(|s| s.name.clone())
            .collect();
        let infra: Vec<String> = stack
            .services
            .iter()
            .filter(|s| s.phase() == Phase::Infra)
            .map(|s| s.name.clone())
            .collect();
        assert!(!apps.is_empty() && !infra.is_empty());
        // An app first, then an infra service named by its container name, and a repeat.
        let infra_container = stack.service(&infra[0]).unwrap().container_name.clone();
        let names = vec![apps[0].clone(), infra_container, apps[0].clone()];
        let sel = select(&stack, &names).unwrap();
        assert_eq!(sel.groups.len(), 2);
        assert_eq!(sel.groups[0].0, Phase::Infra);
        assert_eq!(sel.groups[0].1[0].name, infra[0]);
        assert_eq!(sel.groups[1].0, Phase::Apps);
        assert_eq!(sel.groups[1].1.len(), 1);
        // No name: everything.
        assert_eq!(select(&stack, &[]).unwrap().len(), stack.services.len());
    }

    #[test]
    fn an_unknown_service_suggests_the_closest_and_lists_the_rest() {
        let stack = stack();
        let err = select(&stack, &["postgrsql".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown service `postgrsql`"), "{err}");
        assert!(err.contains("did you mean `postgresql`?"), "{err}");
        for s in &stack.services {
            assert!(err.contains(&s.name), "{} not listed: {err}", s.name);
        }
        let err = select(&stack, &["zz\u{1b}[2J".to_string()])
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\u{1b}'), "{err}");
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn the_watchdog_stops_a_follower_when_stdin_closes() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("bash")
            .args([
                "-c",
                FOLLOW_WATCHDOG,
                "vpai-logs",
                "sh",
                "-c",
                "echo started; exec sleep 30",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "started\n");
        let started = std::time::Instant::now();
        let mut stdin = child.stdin.take().unwrap();
        stdin.flush().unwrap();
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the follower outlived its client"
        );
        // A command that ends on its own gives its exit code.
        let mut child = Command::new("bash")
            .args(["-c", FOLLOW_WATCHDOG, "vpai-logs", "sh", "-c", "exit 4"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        assert_eq!(child.wait().unwrap().code(), Some(4));
        drop(stdin);
    }
}
