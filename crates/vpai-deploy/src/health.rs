//! The health gate: wait until every service of a phase is healthy, watching them all
//! at once (one `docker inspect` a second), and stop at the first that fails.

use crate::docker::{ContainerState, DockerEngine};
use serde::Serialize;
use std::time::{Duration, Instant};
use vpai_model::{Service, Stack};

/// Receives what happens, for a progress display.
pub trait Progress {
    fn step(&self, message: &str);
    fn service(&self, service: &str, state: &str);
}

/// One service's state, for `status` and the summary table.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub phase: String,
    pub container: String,
    pub state: String,
    pub health: String,
    pub restarts: u64,
    pub oom_killed: bool,
    pub url: Option<String>,
}

impl ServiceStatus {
    pub fn from_state(svc: &Service, state: Option<&ContainerState>) -> Self {
        ServiceStatus {
            service: svc.name.clone(),
            phase: svc.def.phase.as_str().to_string(),
            container: svc.container_name.clone(),
            state: state
                .map(|s| s.status.clone())
                .unwrap_or_else(|| "absent".into()),
            health: state
                .map(|s| s.health.clone().unwrap_or_else(|| "none".into()))
                .unwrap_or_else(|| "-".into()),
            restarts: state.map(|s| s.restart_count).unwrap_or(0),
            oom_killed: state.map(|s| s.oom_killed).unwrap_or(false),
            url: svc.url.clone(),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.state == "running" && (self.health == "healthy" || self.health == "none")
    }
}

/// A service that did not become healthy, with what is needed to understand why.
#[derive(Debug, Clone)]
pub struct HealthFailure {
    pub service: String,
    pub container: String,
    pub reason: String,
    /// Last 50 log lines (redacted by the caller).
    pub logs: String,
    pub health_output: String,
    /// The release put back after the failure (automatic rollback).
    pub rolled_back: Option<String>,
    /// Why the automatic rollback failed, if it did.
    pub rollback_error: Option<String>,
}

pub fn wait_healthy(
    engine: &DockerEngine,
    _stack: &Stack,
    services: &[&Service],
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Vec<ServiceStatus>, Box<HealthFailure>> {
    let start = Instant::now();
    let names: Vec<&str> = services.iter().map(|s| s.container_name.as_str()).collect();
    let mut last_shown: Vec<String> = vec![String::new(); services.len()];
    // Services without a healthcheck (`[liveness]`): since when, and after how many
    // restarts, each was seen running; it passes once it kept running `stable_for`.
    let mut running_since: Vec<Option<(Instant, u64)>> = vec![None; services.len()];
    let stable_for: Vec<Option<Duration>> = services
        .iter()
        .map(|s| {
            s.def.liveness.as_ref().map(|l| {
                crate::probes::parse_duration(&l.stable_for).unwrap_or(Duration::from_secs(5))
            })
        })
        .collect();
    let fail = |svc: &Service, reason: String, state: Option<&ContainerState>| {
        Box::new(HealthFailure {
            service: svc.name.clone(),
            container: svc.container_name.clone(),
            reason,
            logs: engine.logs(&svc.container_name, 50).unwrap_or_default(),
            health_output: state
                .map(|s| s.last_health_output.clone())
                .unwrap_or_default(),
            rolled_back: None,
            rollback_error: None,
        })
    };
    loop {
        let states = engine.inspect(&names).unwrap_or_default();
        let mut all_ok = true;
        for (i, svc) in services.iter().enumerate() {
            let state = states.iter().find(|c| c.name == svc.container_name);
            let shown = match state {
                None => "absent".to_string(),
                Some(s) => match &s.health {
                    Some(h) => format!("{} ({h})", s.status),
                    None => s.status.clone(),
                },
            };
            if shown != last_shown[i] {
                progress.service(&svc.name, &shown);
                last_shown[i] = shown;
            }
            let Some(s) = state else {
                all_ok = false;
                continue;
            };
            if s.oom_killed {
                return Err(fail(
                    svc,
                    format!(
                        "killed for lack of memory (limit {}); raise `memory` in stack.toml",
                        svc.memory
                    ),
                    Some(s),
                ));
            }
            match (s.status.as_str(), s.health.as_deref()) {
                ("running", None) if stable_for[i].is_some() => {
                    let seen = match running_since[i] {
                        Some((at, restarts)) if restarts == s.restart_count => at,
                        _ => {
                            running_since[i] = Some((Instant::now(), s.restart_count));
                            Instant::now()
                        }
                    };
                    if seen.elapsed() < stable_for[i].unwrap_or_default() {
                        all_ok = false;
                    }
                }
                ("running", Some("healthy")) | ("running", None) => {}
                ("running", Some("unhealthy")) => {
                    return Err(fail(svc, "its healthcheck fails".into(), Some(s)));
                }
                ("exited", _) | ("dead", _) => {
                    return Err(fail(
                        svc,
                        format!("the container exited with code {}", s.exit_code),
                        Some(s),
                    ));
                }
                ("restarting", _) if s.restart_count >= 3 => {
                    return Err(fail(
                        svc,
                        format!("crash loop: restarted {} times", s.restart_count),
                        Some(s),
                    ));
                }
                _ => all_ok = false,
            }
        }
        if all_ok {
            return Ok(services
                .iter()
                .map(|svc| {
                    ServiceStatus::from_state(
                        svc,
                        states.iter().find(|c| c.name == svc.container_name),
                    )
                })
                .collect());
        }
        if start.elapsed() > timeout {
            let pending = services
                .iter()
                .find(|svc| {
                    !states
                        .iter()
                        .find(|c| c.name == svc.container_name)
                        .is_some_and(|s| {
                            s.status == "running"
                                && matches!(s.health.as_deref(), Some("healthy") | None)
                        })
                })
                .copied()
                .unwrap_or(services[0]);
            let state = states.iter().find(|c| c.name == pending.container_name);
            return Err(fail(
                pending,
                format!("still not healthy after {}s", timeout.as_secs()),
                state,
            ));
        }
        std::thread::sleep(Duration::from_millis(1000));
    }
}
