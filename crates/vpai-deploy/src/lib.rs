//! Plan, then apply. [`plan`] compares the rendered artifacts and the desired services
//! with what the host has, without changing anything; [`apply`] writes what the plan
//! showed and runs the phases of the runbook: phase A up, health gate, databases
//! provisioned, phase B up, health gate. A service that does not become healthy is
//! named with its last log lines; the rest is left running.

mod docker;
mod health;
mod plan;

pub use docker::{ContainerState, DockerEngine, EngineProblem};
pub use health::{HealthFailure, Progress, ServiceStatus};
pub use plan::{FileAction, FileChange, Plan, ServiceAction, ServiceChange};

use std::path::{Path, PathBuf};
use std::time::Duration;
use vpai_catalog::Phase;
use vpai_host::{Host, HostError, WriteOutcome};
use vpai_model::Stack;
use vpai_render::Rendered;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("the Docker engine is not usable on {host}: {problem}")]
    Engine {
        host: String,
        problem: EngineProblem,
    },
    #[error("`{command}` failed (exit {status}):\n{stderr}")]
    Command {
        command: String,
        status: i32,
        stderr: String,
    },
    #[error("service `{}` did not become healthy: {}", .0.service, .0.reason)]
    Unhealthy(Box<HealthFailure>),
    #[error(
        "network `{network}` exists but belongs to compose project `{found}`, not `{expected}` (seed 000 #6)\n  help: stop what uses it, then `docker network rm {network}`; vpai recreates it"
    )]
    NetworkOwner {
        network: String,
        found: String,
        expected: String,
    },
    #[error("provisioning the databases failed:\n{0}")]
    Provision(String),
}

/// Knobs of one apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Longest wait for one phase to become healthy.
    pub timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            timeout: Duration::from_secs(600),
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ApplyReport {
    pub files_written: Vec<String>,
    pub services: Vec<ServiceStatus>,
}

/// Where a file's previous version is kept (rollback).
pub fn backup_path(root: &Path, rel: &str) -> PathBuf {
    root.join(".vpai/previous").join(rel)
}

/// Compute what `apply` would do. Read-only.
pub fn plan(host: &dyn Host, stack: &Stack, rendered: &Rendered) -> Result<Plan, DeployError> {
    plan::compute(host, stack, rendered)
}

/// Write the files and run the phases.
pub fn apply(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<ApplyReport, DeployError> {
    let engine = DockerEngine::new(host);
    engine.check().map_err(|problem| DeployError::Engine {
        host: host.name().to_string(),
        problem,
    })?;
    let mut report = ApplyReport::default();

    progress.step("writing files");
    for dir in &rendered.dirs {
        host.ensure_dir(&stack.root.join(&dir.path), dir.mode, dir.owner)?;
    }
    host.ensure_dir(&stack.root.join(".vpai"), 0o700, (0, 0))?;
    for change in &plan.files {
        if change.action == FileAction::Unchanged {
            continue;
        }
        let art = rendered
            .get(&change.path)
            .expect("the plan only names rendered files");
        let path = stack.root.join(&art.path);
        let backup = backup_path(&stack.root, &art.path);
        let outcome = host.write_file(&path, &art.bytes, art.mode, art.owner, Some(&backup))?;
        if outcome != WriteOutcome::Unchanged {
            report.files_written.push(art.path.clone());
        }
    }

    for phase in [Phase::Infra, Phase::Apps] {
        let services: Vec<_> = stack.phase(phase).collect();
        if services.is_empty() {
            continue;
        }
        engine.check_network_owners(stack, phase)?;
        let file = stack.root.join(Stack::compose_file(phase));
        let label = match phase {
            Phase::Infra => "phase A (infra)",
            Phase::Apps => "phase B (apps)",
        };
        progress.step(&format!("{label}: docker compose up"));
        engine.compose(&file, &["up", "-d", "--remove-orphans"])?;
        // Compose recreates on its own when the config hash differs (our inputs label is
        // part of it); forcing the ones the plan named guards against an env file whose
        // content compose did not see change (seed 001 §11.18: a restart is not enough).
        let recreate: Vec<&str> = plan
            .services
            .iter()
            .filter(|s| s.phase == phase && s.action == ServiceAction::Recreate)
            .map(|s| s.service.as_str())
            .collect();
        if !recreate.is_empty() && !engine.recreated_since(stack, &recreate, plan)? {
            let mut args = vec!["up", "-d", "--no-deps", "--force-recreate"];
            args.extend(recreate.iter().copied());
            engine.compose(&file, &args)?;
        }
        progress.step(&format!("{label}: waiting for health"));
        let statuses = health::wait_healthy(&engine, stack, &services, opts.timeout, progress)
            .map_err(|mut failure| {
                failure.logs = redact(&failure.logs);
                failure.health_output = redact(&failure.health_output);
                DeployError::Unhealthy(Box::new(*failure))
            })?;
        report.services.extend(statuses);
        if phase == Phase::Infra && !stack.databases().is_empty() {
            if let Some(pg) = stack.service("postgresql") {
                progress.step("provisioning databases and roles");
                let sql = rendered
                    .get("configs/postgresql/provision.sql")
                    .expect("postgresql renders its provisioning SQL");
                engine
                    .psql_stdin(&pg.container_name, &sql.bytes)
                    .map_err(|e| DeployError::Provision(redact(&e)))?;
            }
        }
    }
    Ok(report)
}

/// Current state of every service of the stack.
pub fn status(host: &dyn Host, stack: &Stack) -> Result<Vec<ServiceStatus>, DeployError> {
    let engine = DockerEngine::new(host);
    engine.check().map_err(|problem| DeployError::Engine {
        host: host.name().to_string(),
        problem,
    })?;
    let names: Vec<&str> = stack
        .services
        .iter()
        .map(|s| s.container_name.as_str())
        .collect();
    let states = engine.inspect(&names)?;
    Ok(stack
        .services
        .iter()
        .map(|s| ServiceStatus::from_state(s, states.iter().find(|c| c.name == s.container_name)))
        .collect())
}

/// Stop phase B (apps), and phase A too with `all`. Data is never removed.
pub fn down(host: &dyn Host, stack: &Stack, all: bool) -> Result<(), DeployError> {
    let engine = DockerEngine::new(host);
    engine.check().map_err(|problem| DeployError::Engine {
        host: host.name().to_string(),
        problem,
    })?;
    let mut phases = vec![Phase::Apps];
    if all {
        phases.push(Phase::Infra);
    }
    for phase in phases {
        let file = stack.root.join(Stack::compose_file(phase));
        if host.read_file(&file)?.is_some() {
            engine.compose(&file, &["down"])?;
        }
    }
    Ok(())
}

/// The last `tail` log lines of a service's container.
pub fn logs(host: &dyn Host, container: &str, tail: usize) -> Result<String, DeployError> {
    DockerEngine::new(host).logs(container, tail)
}
