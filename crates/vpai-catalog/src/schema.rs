//! The schema of one catalog entry. `deny_unknown_fields` everywhere: a typo in a
//! custom service file is an error with a span, never a silently ignored key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which compose file (and compose project) a service belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Phase A: `docker-compose-infra.yml` (data stores, reverse proxy, the networks).
    Infra,
    /// Phase B: `docker-compose.yml` (applications; networks are `external: true`).
    Apps,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Infra => "infra",
            Phase::Apps => "apps",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    pub name: String,
    pub description: String,
    pub phase: Phase,
    /// Image repository without tag (`postgres`, `ghcr.io/berriai/litellm`).
    pub image: String,
    /// Pinned tag. Never `latest`.
    pub version: String,
    /// Regular shape of valid tags, said in words for errors (e.g. "no `v` prefix: 0.55.1").
    #[serde(default)]
    pub tag_hint: Option<String>,
    /// UID and GID the main process runs as; owns the service's data and config files.
    pub uid: u32,
    pub gid: u32,
    /// Explicit `user:` for compose, when the image does not switch user by itself.
    #[serde(default)]
    pub run_as: Option<String>,
    /// Binaries present in the image (what a healthcheck may call).
    #[serde(default)]
    pub tools: Vec<String>,
    /// The image has no shell or coreutils at all.
    #[serde(default)]
    pub distroless: bool,
    /// Default memory limit (`512M`, `1G`).
    pub memory: String,
    /// Below this the service is known to fail (LiteLLM 1024M, OpenClaw 1536M).
    pub memory_floor: String,
    pub networks: Vec<String>,
    /// Capabilities added back after `cap_drop: [ALL]`; the minimum that works.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Why each capability is needed (capability -> reason), shown by `vpai explain`.
    #[serde(default)]
    pub cap_reasons: BTreeMap<String, String>,
    #[serde(default)]
    pub init: bool,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub stop_grace_period: Option<String>,
    pub healthcheck: HealthcheckDef,
    /// Reached through Caddy on its own subdomain.
    #[serde(default)]
    pub web: Option<WebDef>,
    /// Ports published on the host (only the reverse proxy should have any).
    #[serde(default)]
    pub publish: Vec<PublishDef>,
    #[serde(default)]
    pub volumes: Vec<VolumeDef>,
    #[serde(default)]
    pub configs: Vec<ConfigDef>,
    /// Environment, written to the service's env file. Values are minijinja
    /// expressions over `stack`, `service`, `services` and `secrets`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Env entries that only apply when a condition holds (`when` is a minijinja expression).
    #[serde(default)]
    pub env_when: Vec<ConditionalEnv>,
    #[serde(default)]
    pub secrets: Vec<SecretDef>,
    /// A database (and its owner role) this service needs in PostgreSQL.
    #[serde(default)]
    pub database: Option<DatabaseDef>,
    /// Services that must be healthy before this one starts (derived order for rotation).
    #[serde(default)]
    pub needs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckDef {
    /// Compose `test` (`["CMD", ...]` or `["CMD-SHELL", "..."]`). Always 127.0.0.1, never localhost.
    pub test: Vec<String>,
    #[serde(default = "default_interval")]
    pub interval: String,
    #[serde(default = "default_timeout")]
    pub timeout: String,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_start_period")]
    pub start_period: String,
}

fn default_interval() -> String {
    "10s".into()
}
fn default_timeout() -> String {
    "5s".into()
}
fn default_retries() -> u32 {
    5
}
fn default_start_period() -> String {
    "30s".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebDef {
    /// Default subdomain (one service = one subdomain; sub-paths break n8n, LiteLLM, Qdrant).
    pub subdomain: String,
    pub port: u16,
    /// Upstream speaks WebSocket: Caddy must use an HTTP/1.1 transport.
    #[serde(default)]
    pub websocket: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PublishDef {
    /// Which project setting gives the host port (`http_port`, `https_port`).
    pub host_port_setting: String,
    pub container: u16,
    #[serde(default = "default_protocol")]
    pub protocol: String,
}

fn default_protocol() -> String {
    "tcp".into()
}

/// A bind-mounted directory under the project root.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {
    /// Host path relative to the project root (`data/postgresql`).
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Directory mode on the host.
    #[serde(default = "default_dir_mode")]
    pub mode: String,
    #[serde(default)]
    pub read_only: bool,
}

fn default_dir_mode() -> String {
    "0750".into()
}

/// Who owns a rendered file on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FileOwner {
    /// root:root, read by the Docker daemon or by vpai (env files, compose files, SQL).
    #[default]
    Root,
    /// The service's UID:GID, read by the process inside the container.
    Service,
}

/// A file rendered from a template and mounted read-only into the container.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDef {
    /// Template name (`postgresql/postgresql.conf.j2`).
    pub template: String,
    /// Host path relative to the project root (`configs/postgresql/postgresql.conf`).
    pub path: String,
    /// Path in the container; `None` for files vpai uses itself.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default = "default_config_mode")]
    pub mode: String,
    #[serde(default)]
    pub owner: FileOwner,
    /// Holds secret values: never world-readable, masked in diffs.
    #[serde(default)]
    pub secret: bool,
}

fn default_config_mode() -> String {
    "0640".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionalEnv {
    pub when: String,
    pub env: BTreeMap<String, String>,
}

/// The shape of a generated secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretFormat {
    /// `length` random bytes, hex-encoded (2 x length characters).
    Hex,
    /// `length` random bytes, URL-safe base64 without padding.
    Base64,
    /// `length` characters from [A-Za-z0-9].
    Alnum,
}

/// How often a secret should be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RotationPolicy {
    /// Rotating it destroys data (encryption keys): refused.
    Never,
    Manual,
    Quarterly,
    Yearly,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDef {
    pub name: String,
    #[serde(default = "default_format")]
    pub format: SecretFormat,
    /// Bytes for hex/base64, characters for alnum.
    #[serde(default = "default_length")]
    pub length: usize,
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "default_rotation")]
    pub rotate: RotationPolicy,
    /// Why it must never rotate (shown when `vpai rotate` refuses).
    #[serde(default)]
    pub never_reason: Option<String>,
    /// Provided by the operator (API keys, bot tokens), never generated.
    #[serde(default)]
    pub external: bool,
    /// Required for the service to work (external secrets only).
    #[serde(default)]
    pub required: bool,
    /// Where an operator gets it (external secrets).
    #[serde(default)]
    pub help: Option<String>,
}

fn default_format() -> SecretFormat {
    SecretFormat::Hex
}
fn default_length() -> usize {
    32
}
fn default_rotation() -> RotationPolicy {
    RotationPolicy::Quarterly
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseDef {
    pub name: String,
    pub user: String,
    /// Name of the secret holding the role's password.
    pub password_secret: String,
    /// The service works without it (operator may set `database = false`).
    #[serde(default)]
    pub optional: bool,
}
