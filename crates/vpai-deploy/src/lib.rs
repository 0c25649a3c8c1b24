//! Plan, then apply. [`plan`] compares the rendered artifacts and the desired services
//! with what the host has, without changing anything; [`apply`] writes what the plan
//! showed and runs the phases of the runbook: phase A up, health gate, databases
//! provisioned, phase B up, health gate. A service that does not become healthy is
//! named with its last log lines, and the previous release is put back (files and the
//! containers whose inputs changed), unless the operator asked to keep the failed state.
//!
//! The same code serves the local machine and SSH targets: the host is read in one
//! round trip ([`state`]), files travel in one stream and land as a release
//! ([`release`]), and a per-host lock ([`lock`]) keeps two deploys apart.

pub mod backup;
pub mod confirm;
mod docker;
pub mod exposure;
pub mod harden;
mod health;
mod images;
pub mod lock;
pub mod ops;
mod plan;
pub mod preflight;
pub mod probes;
pub mod release;
mod rollback;
pub mod state;
pub mod swarm;
mod tar;
pub mod upkeep;

pub use docker::{ContainerState, DockerEngine, EngineProblem};
pub use health::{HealthFailure, Progress, ServiceStatus};
pub use images::resolve as resolve_images;
pub use ops::{LogOptions, OpsError, Selection};
pub use plan::{FileAction, FileChange, Plan, ServiceAction, ServiceChange};
pub use rollback::{RollbackReport, rollback_target, rollback_to};

use std::path::{Path, PathBuf};
use std::time::Duration;
use vpai_catalog::Phase;
use vpai_host::{Host, HostError};
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
        "network `{network}` exists but belongs to compose project `{found}`, not `{expected}`\n  help: stop what uses it, then `docker network rm {network}`; vpai recreates it"
    )]
    NetworkOwner {
        network: String,
        found: String,
        expected: String,
    },
    #[error("{}", probe_failures(.0))]
    Probes(Vec<probes::ProbeOutcome>),
    #[error("provisioning the databases failed:\n{0}")]
    Provision(String),
    #[error("{}", .0.join("\n"))]
    Images(Vec<String>),
    /// A step after the files were written failed (compose, provisioning, a network);
    /// the previous release was put back when there was one.
    #[error("{cause}")]
    AfterWrite {
        cause: Box<DeployError>,
        rolled_back: Option<String>,
        rollback_error: Option<String>,
    },
    #[error("{0}")]
    Swarm(String),
    #[error(
        "no release to roll back to on `{host}`{detail}\n  help: `vpai rollback --list` shows the releases kept under <root>/releases"
    )]
    NoRelease { host: String, detail: String },
}

fn probe_failures(outcomes: &[probes::ProbeOutcome]) -> String {
    let failed = probes::failures(outcomes);
    let mut text = format!(
        "{} of {} smoke probes or after-start steps failed:",
        failed.len(),
        outcomes.len()
    );
    for o in failed {
        text.push_str(&format!(
            "\n  {}/{} ({}), {} attempt(s):\n    {}",
            o.service,
            o.probe,
            o.description,
            o.attempts,
            o.output.replace('\n', "\n    ")
        ));
    }
    text
}

/// Knobs of one apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Longest wait for one phase to become healthy.
    pub timeout: Duration,
    /// Put the previous release back when a phase does not become healthy (files,
    /// then the services whose inputs changed, health-gated).
    pub rollback: bool,
    /// Run the smoke probes after the health gates (the last gate).
    pub probes: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            timeout: Duration::from_secs(600),
            rollback: true,
            probes: true,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ApplyReport {
    pub files_written: Vec<String>,
    pub services: Vec<ServiceStatus>,
    /// The smoke probes run after the health gates.
    pub probes: Vec<probes::ProbeOutcome>,
    /// The release this deploy wrote (none when no file changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Nothing was written and no service was touched: the target runs this deploy
    /// already.
    pub noop: bool,
}

/// Where a file's previous version is kept (rollback).
pub fn backup_path(root: &Path, rel: &str) -> PathBuf {
    root.join(".vpai/previous").join(rel)
}

/// Compute what `apply` would do. Read-only.
pub fn plan(host: &dyn Host, stack: &Stack, rendered: &Rendered) -> Result<Plan, DeployError> {
    plan::compute(host, stack, rendered)
}

/// Plan from a host snapshot already read (by [`lock::acquire`] or [`state::read`]).
pub fn plan_from_state(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    state: &state::HostState,
    diffs: bool,
) -> Result<Plan, DeployError> {
    plan::compute_from(host, stack, rendered, state, diffs)
}

/// The paths and directories the host state is asked about.
pub fn managed_paths(rendered: &Rendered) -> (Vec<&str>, Vec<&str>) {
    (
        rendered.artifacts.iter().map(|a| a.path.as_str()).collect(),
        rendered.dirs.iter().map(|d| d.path.as_str()).collect(),
    )
}

/// The status table from what the plan saw (no further command).
pub fn status_from_plan(stack: &Stack, plan: &Plan) -> Vec<ServiceStatus> {
    stack
        .services
        .iter()
        .map(|s| {
            ServiceStatus::from_state(
                s,
                plan.containers.iter().find(|c| c.name == s.container_name),
            )
        })
        .collect()
}

/// A name for a new release, later than every release the host keeps.
fn next_release_name(plan: &Plan) -> String {
    let mut name = release::release_name(std::time::SystemTime::now());
    if let Some(last) = plan.releases.last()
        && name.as_str() <= last.as_str()
    {
        // The controller's clock is behind the host's history: keep the order.
        name = format!("{last}-1");
    }
    name
}

/// Upload the changed files and install them as a new release.
fn write_release(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    plan: &Plan,
) -> Result<(String, Vec<String>), DeployError> {
    let name = next_release_name(plan);
    let mut files = Vec::new();
    let mut written = Vec::new();
    for art in &rendered.artifacts {
        let action = plan
            .files
            .iter()
            .find(|f| f.path == art.path)
            .map(|f| f.action)
            .unwrap_or(FileAction::Create);
        let upload = matches!(action, FileAction::Create | FileAction::Update);
        let install = action != FileAction::Unchanged;
        if install {
            written.push(art.path.clone());
        }
        files.push(release::ReleaseFile {
            path: &art.path,
            mode: art.mode,
            owner: art.owner,
            sha256: art.sha256(),
            upload: upload.then_some(art.bytes.as_slice()),
            install,
        });
    }
    let dirs = rendered
        .dirs
        .iter()
        .filter(|d| plan.dirs.contains(&d.path))
        .map(|d| (d.path.as_str(), d.mode, d.owner))
        .collect();
    let remove = plan
        .files
        .iter()
        .filter(|f| f.action == FileAction::Remove)
        .map(|f| f.path.clone())
        .collect();
    let rp = release::ReleasePlan {
        name: name.clone(),
        files,
        dirs,
        remove,
        previous: plan.current_release.clone(),
    };
    release::install(host, &stack.root.display().to_string(), &rp)?;
    Ok((name, written))
}

/// The file step of [`apply`] alone: the changed files, uploaded in one stream and
/// installed as a new release. A release is written when a file changes, and once on a
/// host that has none yet (so that the next deploy has something to roll back to).
pub fn write_files_only(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<ApplyReport, DeployError> {
    let mut report = ApplyReport::default();
    if plan.changes_files() || (plan.current_release.is_none() && !plan.is_noop()) {
        progress.step("writing files (one stream, kept as a release)");
        let (name, written) = write_release(host, stack, rendered, plan)?;
        report.files_written = written;
        report.release = Some(name);
    }
    Ok(report)
}

/// Write the files (as a release) and run the phases; see [`ApplyOptions::rollback`].
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
    // Every image is there (or pulled) before the first byte lands on the host.
    images::resolve(host, stack, progress)?;
    let mut report = write_files_only(host, stack, rendered, plan, progress)?;

    let gated =
        run_phases(host, stack, rendered, plan, opts, progress, redact).and_then(|statuses| {
            if !opts.probes || rendered.probes.is_empty() {
                return Ok((statuses, Vec::new()));
            }
            progress.step(&format!(
                "smoke probes ({}): the last gate",
                rendered.probes.len()
            ));
            let outcomes = probes::run(host, stack, &rendered.probes, &[], progress, redact);
            if probes::failures(&outcomes).is_empty() {
                Ok((statuses, outcomes))
            } else {
                Err(DeployError::Probes(outcomes))
            }
        });
    match gated {
        Ok((statuses, outcomes)) => {
            report.services = statuses;
            report.probes = outcomes;
            Ok(report)
        }
        Err(err) => {
            // Whatever failed after the files were written (a service not healthy, a
            // compose error, a port taken, provisioning), the previous release goes back.
            let current = report.release.clone();
            Err(after_write(
                err,
                opts,
                report.release.is_some(),
                plan.current_release.clone(),
                progress,
                redact,
                |prev| {
                    rollback_to(
                        host,
                        stack,
                        prev,
                        current.as_deref(),
                        true,
                        opts,
                        progress,
                        redact,
                    )
                    .map(|_| ())
                },
            ))
        }
    }
}

/// A deploy failed after its first write: with rollback on and a previous release
/// (`prev`) to go back to, `restore` puts it back (the engine's way); the error says
/// what failed, and whether the rollback worked.
pub(crate) fn after_write(
    err: DeployError,
    opts: &ApplyOptions,
    written: bool,
    prev: Option<String>,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
    restore: impl FnOnce(&str) -> Result<(), DeployError>,
) -> DeployError {
    let mut rolled_back = None;
    let mut rollback_error = None;
    if opts.rollback
        && written
        && let Some(prev) = prev
    {
        let why = match &err {
            DeployError::Unhealthy(f) => format!("service `{}` is not healthy", f.service),
            DeployError::Probes(o) => {
                format!("{} smoke probe(s) failed", probes::failures(o).len())
            }
            _ => "the deploy failed".to_string(),
        };
        progress.step(&format!("{why}: rolling back to release {prev}"));
        match restore(&prev) {
            Ok(()) => rolled_back = Some(prev),
            Err(e) => rollback_error = Some(redact(&e.to_string())),
        }
    }
    match err {
        DeployError::Unhealthy(mut failure) => {
            failure.rolled_back = rolled_back;
            failure.rollback_error = rollback_error;
            DeployError::Unhealthy(failure)
        }
        other => DeployError::AfterWrite {
            cause: Box::new(other),
            rolled_back,
            rollback_error,
        },
    }
}

/// The phases: A up, health gate, databases, B up, health gate.
fn run_phases(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<Vec<ServiceStatus>, DeployError> {
    let engine = DockerEngine::new(host);
    let mut statuses_all = Vec::new();
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
        statuses_all.extend(statuses);
        if phase == Phase::Infra
            && let Some((provider, sql)) = provisioning(stack, rendered)
        {
            progress.step("provisioning databases and roles");
            engine
                .psql_stdin(&provider.container_name, &sql.bytes)
                .map_err(|e| DeployError::Provision(redact(&e)))?;
        }
        // The phase's `[[after_start]]` steps (idempotent: every deploy runs them).
        let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        let steps: Vec<_> = rendered
            .after_start
            .iter()
            .filter(|p| names.contains(&p.service))
            .cloned()
            .collect();
        if !steps.is_empty() {
            progress.step(&format!("{label}: after-start steps ({})", steps.len()));
            let outcomes = probes::run(host, stack, &steps, &[], progress, redact);
            if !probes::failures(&outcomes).is_empty() {
                return Err(DeployError::Probes(outcomes));
            }
        }
    }
    Ok(statuses_all)
}

/// After phase A: the service that provides databases and the script that provisions
/// them, when the stack has databases to provision.
fn provisioning<'a>(
    stack: &'a Stack,
    rendered: &'a Rendered,
) -> Option<(&'a vpai_model::Service, &'a vpai_render::Artifact)> {
    if stack.databases().is_empty() {
        return None;
    }
    let provider = stack.database_provider()?;
    let script = provider.def.provides_databases.as_ref()?;
    let sql = rendered
        .get(&script.script)
        .expect("the catalog names a config of the provider as its script");
    Some((provider, sql))
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
