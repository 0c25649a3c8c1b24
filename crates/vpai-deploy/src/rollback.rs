//! Rollback: put a kept release back on the host. Its files are restored byte for byte
//! in one command (nothing uploaded; see [`crate::release`]), then each phase is brought
//! up again: compose recreates exactly the services whose inputs label differs, and the
//! health gate waits for them. Databases and data directories are never touched.

use crate::docker::DockerEngine;
use crate::{ApplyOptions, DeployError, Progress, ServiceStatus, health, release, state};
use vpai_catalog::Phase;
use vpai_host::Host;
use vpai_model::Stack;

/// What a rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackReport {
    pub release: String,
    pub files_restored: usize,
    pub services: Vec<ServiceStatus>,
}

/// The release a plain `vpai rollback` goes back to: the one before the current.
pub fn rollback_target(
    host: &dyn Host,
    state: &state::HostState,
    wanted: Option<&str>,
) -> Result<String, DeployError> {
    let none = |detail: String| DeployError::NoRelease {
        host: host.name().to_string(),
        detail,
    };
    if let Some(w) = wanted {
        return if state.releases.iter().any(|r| r == w) {
            Ok(w.to_string())
        } else {
            Err(none(format!(": `{w}` is not kept there")))
        };
    }
    let current = state.current.as_deref();
    // The release that was live before the current one was installed; else the newest
    // older one that did not fail.
    let recorded = current
        .and_then(|c| state.previous.get(c))
        .filter(|p| state.releases.contains(p));
    recorded
        .cloned()
        .or_else(|| {
            state
                .releases
                .iter()
                .rev()
                .filter(|r| !state.failed.contains(r))
                .find(|r| current.is_some_and(|c| r.as_str() < c))
                .cloned()
        })
        .ok_or_else(|| {
            none(match current {
                Some(c) => format!(": {c} is the oldest release kept"),
                None => ": its live files match no release".into(),
            })
        })
}

/// Put release `target` back (files byte for byte), then bring the phases up again:
/// compose recreates exactly the services whose inputs differ, and each phase is
/// health-gated. Databases and data directories are not touched.
#[allow(clippy::too_many_arguments)]
pub fn rollback_to(
    host: &dyn Host,
    stack: &Stack,
    target: &str,
    current: Option<&str>,
    current_failed: bool,
    opts: &ApplyOptions,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<RollbackReport, DeployError> {
    let root = stack.root.display().to_string();
    progress.step(&format!("restoring the files of release {target}"));
    let restored = release::restore(host, &root, target, current, current_failed)?;
    let manifest = state::read_files(host, &root, &[release::MANIFEST_PATH])?
        .pop()
        .flatten()
        .unwrap_or_default();
    let services = state::manifest_services(&manifest);
    let engine = DockerEngine::new(host);
    let mut statuses = Vec::new();
    // A release may hold services this stack no longer has (their phase is unknown
    // here): then every phase is brought up; otherwise a phase without a service is
    // skipped, as the deploy skips it (compose refuses a file with no service).
    let unknown = services.keys().any(|s| stack.service(s).is_none());
    for phase in [Phase::Infra, Phase::Apps] {
        if !unknown && stack.phase(phase).next().is_none() {
            continue;
        }
        let file = stack.root.join(Stack::compose_file(phase));
        let label = match phase {
            Phase::Infra => "phase A (infra)",
            Phase::Apps => "phase B (apps)",
        };
        progress.step(&format!("{label}: docker compose up (release {target})"));
        engine.compose(&file, &["up", "-d", "--remove-orphans"])?;
        let gated: Vec<_> = stack
            .phase(phase)
            .filter(|s| services.contains_key(&s.name))
            .collect();
        if gated.is_empty() {
            continue;
        }
        let st = health::wait_healthy(&engine, stack, &gated, opts.timeout, progress).map_err(
            |mut failure| {
                failure.logs = redact(&failure.logs);
                failure.health_output = redact(&failure.health_output);
                DeployError::Unhealthy(failure)
            },
        )?;
        statuses.extend(st);
    }
    Ok(RollbackReport {
        release: target.to_string(),
        files_restored: restored,
        services: statuses,
    })
}
