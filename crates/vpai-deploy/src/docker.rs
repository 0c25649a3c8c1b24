//! The Docker engine of a host, driven through the `docker` CLI (compose v2 with JSON
//! output), so what vpai does is what an operator would type.

use crate::{DeployError, Plan};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use vpai_catalog::Phase;
use vpai_host::Host;
use vpai_model::Stack;

/// Why the engine cannot be used, precisely enough to fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineProblem {
    #[error(
        "the `docker` command is not installed\n  help: install Docker Engine (Debian: `apt-get install docker.io`), or run `vpai render` to only write the files"
    )]
    NoCli,
    #[error(
        "the Docker daemon does not answer: {0}\n  help: start it (`systemctl start docker`, or `dockerd &`) and check that you may use /var/run/docker.sock"
    )]
    NoDaemon(String),
    #[error(
        "Docker Compose v2 is missing (`docker compose version` failed)\n  help: install the compose plugin (Debian: `apt-get install docker-compose-plugin` or `docker-compose-v2`)"
    )]
    NoCompose,
}

/// A container as `docker inspect` sees it.
#[derive(Debug, Clone)]
pub struct ContainerState {
    pub name: String,
    pub id: String,
    pub image: String,
    /// created, running, restarting, exited, dead, ...
    pub status: String,
    /// starting, healthy, unhealthy; None without a healthcheck.
    pub health: Option<String>,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub restart_count: u64,
    pub labels: BTreeMap<String, String>,
    /// Output of the last healthcheck run.
    pub last_health_output: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectRaw {
    id: String,
    name: String,
    restart_count: Option<u64>,
    state: InspectState,
    config: InspectConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectState {
    status: String,
    exit_code: Option<i64>,
    #[serde(rename = "OOMKilled")]
    oom_killed: Option<bool>,
    health: Option<InspectHealth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectHealth {
    status: String,
    log: Option<Vec<HealthLog>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthLog {
    output: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    image: String,
    labels: Option<BTreeMap<String, String>>,
}

pub struct DockerEngine<'a> {
    host: &'a dyn Host,
}

impl<'a> DockerEngine<'a> {
    pub fn new(host: &'a dyn Host) -> Self {
        DockerEngine { host }
    }

    /// Is `docker` there, does the daemon answer, is Compose v2 installed?
    pub fn check(&self) -> Result<(), EngineProblem> {
        let out = self
            .host
            .run(
                &["docker", "version", "--format", "{{.Server.Version}}"],
                None,
            )
            .map_err(|_| EngineProblem::NoCli)?;
        if !out.success() {
            let err = out.stderr_text();
            let first = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no answer");
            return Err(EngineProblem::NoDaemon(first.trim().to_string()));
        }
        let out = self
            .host
            .run(&["docker", "compose", "version", "--short"], None)
            .map_err(|_| EngineProblem::NoCompose)?;
        if !out.success() {
            return Err(EngineProblem::NoCompose);
        }
        Ok(())
    }

    pub fn compose(&self, file: &Path, args: &[&str]) -> Result<String, DeployError> {
        let file_s = file.display().to_string();
        let mut full = vec!["docker", "compose", "-f", file_s.as_str()];
        full.extend_from_slice(args);
        let out = self.host.run(&full, None)?;
        if !out.success() {
            return Err(DeployError::Command {
                command: full.join(" "),
                status: out.status,
                stderr: out.stderr_text(),
            });
        }
        Ok(out.stdout_text())
    }

    /// State of the named containers; absent ones are left out.
    pub fn inspect(&self, names: &[&str]) -> Result<Vec<ContainerState>, DeployError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["docker", "container", "inspect"];
        args.extend_from_slice(names);
        let out = self.host.run(&args, None)?;
        // Exit 1 when some are missing; the JSON still lists the ones that exist.
        Ok(parse_inspect(&out.stdout))
    }

    pub fn logs(&self, container: &str, tail: usize) -> Result<String, DeployError> {
        let tail = tail.to_string();
        let out = self
            .host
            .run(&["docker", "logs", "--tail", &tail, container], None)?;
        // Services log to both streams; show them together.
        let mut text = out.stdout_text();
        text.push_str(&out.stderr_text());
        Ok(text)
    }

    /// Feed SQL to psql inside the PostgreSQL container, as the superuser, on stdin
    /// (passwords never reach a command line).
    pub fn psql_stdin(&self, container: &str, sql: &[u8]) -> Result<String, String> {
        let out = self
            .host
            .run(
                &[
                    "docker",
                    "exec",
                    "-i",
                    container,
                    "psql",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-X",
                    "-q",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-f",
                    "-",
                ],
                Some(sql),
            )
            .map_err(|e| e.to_string())?;
        if out.success() {
            Ok(out.stdout_text())
        } else {
            Err(out.stderr_text())
        }
    }

    /// Networks that phase `phase` owns must not belong to another compose project.
    pub fn check_network_owners(&self, stack: &Stack, phase: Phase) -> Result<(), DeployError> {
        let project = stack.compose_project(phase);
        for net in &stack.networks {
            if crate::plan::network_owner(stack, &net.name) != Some(phase) {
                continue;
            }
            let out = self.host.run(
                &[
                    "docker",
                    "network",
                    "inspect",
                    "--format",
                    "{{index .Labels \"com.docker.compose.project\"}}",
                    &net.docker_name,
                ],
                None,
            )?;
            if !out.success() {
                continue; // does not exist yet: compose creates it
            }
            let found = out.stdout_text().trim().to_string();
            if found != project {
                return Err(DeployError::NetworkOwner {
                    network: net.docker_name.clone(),
                    found: if found.is_empty() {
                        "(none: created by hand)".into()
                    } else {
                        found
                    },
                    expected: project,
                });
            }
        }
        Ok(())
    }

    /// Did compose already recreate these services with their new inputs?
    pub fn recreated_since(
        &self,
        stack: &Stack,
        services: &[&str],
        plan: &Plan,
    ) -> Result<bool, DeployError> {
        let names: Vec<&str> = services
            .iter()
            .filter_map(|s| stack.service(s).map(|x| x.container_name.as_str()))
            .collect();
        let states = self.inspect(&names)?;
        Ok(services.iter().all(|svc| {
            let change = plan.services.iter().find(|c| c.service == *svc);
            let container = stack.service(svc).map(|s| s.container_name.as_str());
            let state = states.iter().find(|c| Some(c.name.as_str()) == container);
            match (change, state) {
                (Some(ch), Some(st)) => {
                    ch.container_id.as_deref() != Some(st.id.as_str())
                        && st.labels.get("io.vpai.inputs") == ch.desired_inputs.as_ref()
                }
                _ => false,
            }
        }))
    }
}

/// Parse `docker container inspect` output (a JSON array; empty or invalid: none).
pub(crate) fn parse_inspect(json: &[u8]) -> Vec<ContainerState> {
    let raw: Vec<InspectRaw> = serde_json::from_slice(json).unwrap_or_default();
    raw.into_iter()
        .map(|r| ContainerState {
            name: r.name.trim_start_matches('/').to_string(),
            id: r.id,
            image: r.config.image,
            status: r.state.status,
            exit_code: r.state.exit_code.unwrap_or(0),
            oom_killed: r.state.oom_killed.unwrap_or(false),
            restart_count: r.restart_count.unwrap_or(0),
            last_health_output: r
                .state
                .health
                .as_ref()
                .and_then(|h| h.log.as_ref())
                .and_then(|l| l.last())
                .and_then(|l| l.output.clone())
                .unwrap_or_default(),
            health: r.state.health.map(|h| h.status),
            labels: r.config.labels.unwrap_or_default(),
        })
        .collect()
}
