//! The schema of one catalog entry. `deny_unknown_fields` everywhere: a typo in a
//! custom service file is an error with a span, never a silently ignored key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vpai_spec::ByteSize;

/// The `group_add` value that stands for the GID owning `/var/run/docker.sock` on the
/// target host (seed 001 §11.13: it differs between distributions).
pub const DOCKER_SOCKET_GROUP: &str = "docker-socket";

/// In a volume's `target`: the project root on the host (`/opt/<project>`), so that a
/// path means the same inside the container and on the host.
pub const ROOT_TOKEN: &str = "{{ stack.root }}";

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
    /// `false` makes the file a facts-only entry ([`FactsOnlyDef`]).
    #[serde(default = "deployable_default")]
    pub deployable: bool,
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
    pub memory: ByteSize,
    /// Below this the service is known to fail (LiteLLM 1024M, OpenClaw 1536M).
    pub memory_floor: ByteSize,
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
    /// The container healthcheck; a service without one states why in `[liveness]`.
    #[serde(default)]
    pub healthcheck: Option<HealthcheckDef>,
    /// For a service with no container healthcheck: why, and the signal watched instead.
    #[serde(default)]
    pub liveness: Option<LivenessDef>,
    /// Absolute host paths mounted into the container (Docker socket, `/sys`), read-only
    /// unless said otherwise.
    #[serde(default)]
    pub host_mounts: Vec<HostMountDef>,
    /// Cgroup namespace: `host` for a service that reads every container's cgroup
    /// (cAdvisor on a cgroup v2 host, where `private` is the engine's default).
    #[serde(default)]
    pub cgroup: Option<CgroupMode>,
    /// Images built on the host from a Dockerfile shipped inside this service's image
    /// (OpenClaw's sandbox, seed 001 §11.13): built before anything is written, again
    /// when the service's image changes.
    #[serde(default)]
    pub derived_images: Vec<DerivedImageDef>,
    /// Supplementary groups: numbers, or `docker-socket` for the GID that owns
    /// `/var/run/docker.sock` on the target host (read at deploy time).
    #[serde(default)]
    pub group_add: Vec<String>,
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
    /// Files copied as they are from the service folder (dashboards), no template engine.
    #[serde(default)]
    pub files: Vec<CopyDef>,
    /// Smoke probes: run after every `vpai up` (the last gate) and by `vpai verify`.
    #[serde(default)]
    pub probes: Vec<ProbeDef>,
    /// Idempotent steps run on every `vpai up` once the service's phase is healthy (n8n's
    /// owner account, its workflows): same shape as a probe; a failure fails the deploy.
    #[serde(default)]
    pub after_start: Vec<ProbeDef>,
    /// What `vpai backup` captures from this service, how `vpai restore` puts it back,
    /// and how the restore drill proves the copy is whole.
    #[serde(default)]
    pub backup: Vec<BackupDef>,
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
    /// This service is the reverse proxy: the one with published ports, in front of
    /// every `[web]` service (Caddy).
    #[serde(default)]
    pub reverse_proxy: bool,
    /// This service creates the databases and roles that the others declare in
    /// `[database]` (PostgreSQL); a service with a `[database]` needs it.
    #[serde(default)]
    pub provides_databases: Option<DatabaseProviderDef>,
    /// Values given to this service's templates as `data` (LiteLLM's model list).
    #[serde(default)]
    pub data: BTreeMap<String, toml::Value>,
    /// What `vpai check` knows about the image beyond the fields above.
    #[serde(default)]
    pub lint: LintDef,
    /// Failures the log doctor recognises in this service's logs.
    #[serde(default)]
    pub doctor: Vec<SignatureDef>,
    /// What `vpai import ansible` knows about this service: `[import.ansible]`
    /// ([`crate::import_map`]).
    #[serde(default)]
    pub import: crate::ImportDef,
    /// The templates and files of the service folder, by path relative to it
    /// (`postgresql.conf.j2`); filled by the loader, never written in service.toml.
    #[serde(skip)]
    pub folder: BTreeMap<String, String>,
}

impl ServiceDef {
    /// The template source of a config, from the service folder.
    pub fn template_text(&self, config: &ConfigDef) -> Option<&str> {
        self.folder.get(&config.template).map(String::as_str)
    }

    /// The folder files a `[[files]]` entry copies: (path below `source`, contents).
    /// `source` names one file or a directory (every file below it).
    pub fn copied_files<'a>(&'a self, copy: &'a CopyDef) -> Vec<(String, &'a str)> {
        if copy.from == CopyFrom::Project {
            return Vec::new();
        }
        files_below(&self.folder, &copy.source)
    }
}

/// The files of `files` (paths relative to a folder) that `source` names: itself when
/// it is a file (relative path ""), or every file below it when it is a directory.
pub fn files_below<'a>(
    files: &'a BTreeMap<String, String>,
    source: &str,
) -> Vec<(String, &'a str)> {
    let source = source.trim_end_matches('/');
    let prefix = format!("{source}/");
    files
        .iter()
        .filter_map(|(path, text)| {
            if path == source {
                Some((String::new(), text.as_str()))
            } else {
                path.strip_prefix(&prefix)
                    .map(|rest| (rest.to_string(), text.as_str()))
            }
        })
        .collect()
}

/// An image vpai builds on the host from a Dockerfile inside the service's image.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedImageDef {
    /// The tag it gets (`openclaw-sandbox:bookworm-slim`), which the service uses.
    pub tag: String,
    /// The Dockerfile's path inside the service's image (`/app/Dockerfile.sandbox`).
    pub dockerfile: String,
}

/// Compose `cgroup:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    Host,
    Private,
}

impl CgroupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupMode::Host => "host",
            CgroupMode::Private => "private",
        }
    }
}

/// What stands in for a container healthcheck.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessDef {
    /// Why the container has no healthcheck (shown by `vpai explain` and `status`).
    pub reason: String,
    /// The container must run this long without a restart to pass the gate.
    #[serde(default = "default_stable_for")]
    pub stable_for: String,
}

fn default_stable_for() -> String {
    "5s".into()
}

/// An absolute host path mounted into the container.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostMountDef {
    pub source: String,
    pub target: String,
    #[serde(default = "yes")]
    pub read_only: bool,
}

fn yes() -> bool {
    true
}

/// Files copied from the service folder (or the operator's project) to the host as
/// they are.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CopyDef {
    /// A file or a directory of the service folder (`dashboards`), or of the directory
    /// of `stack.toml` with `from = "project"` (`workflows`).
    pub source: String,
    #[serde(default)]
    pub from: CopyFrom,
    /// With `from = "project"`: only the files whose name ends with this (`.json`).
    #[serde(default)]
    pub suffix: Option<String>,
    /// Host path under the project root (`configs/grafana/dashboards`).
    pub path: String,
    /// Mounted read-only there in the container, when given.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default = "default_copy_mode")]
    pub mode: String,
    #[serde(default)]
    pub owner: FileOwner,
}

/// Where `[[files]]` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyFrom {
    /// The service folder of the catalog.
    #[default]
    Service,
    /// The operator's project, next to `stack.toml` (absent: nothing is copied).
    Project,
}

fn default_copy_mode() -> String {
    "0644".into()
}

/// One smoke probe: a command whose success proves the service works end to end.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDef {
    /// `[a-z0-9-]+`, unique within the service.
    pub name: String,
    pub description: String,
    /// Where the command runs: `self` (this service's container), another service's
    /// container, or `host`.
    #[serde(default = "default_probe_in", rename = "in")]
    pub run_in: String,
    /// argv; each string a template over `stack`, `service`, `services` (and `web`
    /// with `for_each = "web"`). Never secrets: those go through `env`.
    pub command: Vec<String>,
    /// Environment given through the exec environment (never argv); may use `secrets`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Standard output must contain this.
    #[serde(default)]
    pub expect: Option<String>,
    #[serde(default = "one")]
    pub attempts: u32,
    #[serde(default = "default_probe_interval")]
    pub interval: String,
    #[serde(default = "default_probe_timeout")]
    pub timeout: String,
    /// `web` / `database`: run once per `[web]` service / provisioned database.
    #[serde(default)]
    pub for_each: Option<ProbeEach>,
    /// A minijinja expression: the probe exists only when it holds (`service.database`).
    #[serde(default)]
    pub when: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeEach {
    /// Every `[web]` service (`web`: name, fqdn, port, websocket).
    Web,
    /// Every database provisioned for an app (`database`: service, name, user,
    /// password_secret).
    Database,
}

fn default_probe_in() -> String {
    "self".into()
}
fn one() -> u32 {
    1
}
fn default_probe_interval() -> String {
    "2s".into()
}
fn default_probe_timeout() -> String {
    "20s".into()
}

/// One capture of a backup (`[[backup]]`). A capture is a tar archive: the standard
/// output of `command` run in the service's container, or the host directory of a
/// `volume`. A member named `manifest` in it holds the lines the drill compares.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupDef {
    /// `[a-z0-9-]+`, unique within the service.
    pub name: String,
    pub description: String,
    /// `database`: one capture per database provisioned for an app (`database` in the
    /// templates); its owner service is stopped while it is restored.
    #[serde(default)]
    pub for_each: Option<ProbeEach>,
    /// argv run in the service's container; its standard output is a tar archive.
    /// Templates over `stack`, `service`, `services` (and `database`); never secrets.
    #[serde(default)]
    pub command: Vec<String>,
    /// Or: a volume of this service (its `source`), archived from the host as it is.
    #[serde(default)]
    pub volume: Option<String>,
    /// Environment of `command`, `restore.command` and `drill.command`: through the
    /// exec environment, never argv; may use `secrets`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// argv in the container printing one line that changes whenever the data does
    /// (PostgreSQL: the WAL position): the same line as at the previous backup means the
    /// capture kept from it is taken again without running `command`.
    #[serde(default)]
    pub fingerprint: Vec<String>,
    /// Longest a capture (or its restore) may take.
    #[serde(default = "default_backup_timeout")]
    pub timeout: String,
    pub restore: RestoreDef,
    #[serde(default)]
    pub drill: Option<DrillDef>,
}

/// How a capture goes back.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreDef {
    /// Into the running service: argv run in its container with the capture's tar on
    /// standard input. It restores beside the live data and swaps, keeping the
    /// replaced data aside; its last output line `kept: TOKEN` names what it kept.
    #[serde(default)]
    pub command: Vec<String>,
    /// Put the kept data back (argv, in the container; `$1` is the kept token).
    #[serde(default)]
    pub undo: Vec<String>,
    /// Or: a volume of this service (its `source`) replaced while the service is
    /// stopped: a new directory is built from the capture and swapped in; the replaced
    /// one is kept beside it.
    #[serde(default)]
    pub volume: Option<String>,
    /// For `volume`: capture member -> path in the new directory (empty: every member
    /// at its own path).
    #[serde(default)]
    pub place: BTreeMap<String, String>,
    /// For `volume`: files written into the new directory with this content.
    #[serde(default)]
    pub write: BTreeMap<String, String>,
}

/// The restore drill: the capture restored into a scratch copy of the service (other
/// names, no network, empty data), then `command` run there; its output lines must be
/// the capture's `manifest`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DrillDef {
    pub command: Vec<String>,
    /// Restart the scratch copy and compare again (what was restored must survive it).
    #[serde(default)]
    pub restart: bool,
}

fn default_backup_timeout() -> String {
    "30m".into()
}

/// A service folder with only facts: an image vpai cannot deploy yet (Loki, Grafana,
/// OpenClaw, ...) whose traps `vpai check` and `vpai doctor` must still know.
/// Marked `deployable = false`; profiles and rendering never see it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FactsOnlyDef {
    pub name: String,
    pub description: String,
    /// Always `false` here (it is what makes a file facts-only).
    pub deployable: bool,
    /// Image repository without tag.
    pub image: String,
    #[serde(default)]
    pub tag_hint: Option<String>,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub distroless: bool,
    #[serde(default)]
    pub memory_floor: Option<ByteSize>,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub init: bool,
    #[serde(default)]
    pub lint: LintDef,
    #[serde(default)]
    pub doctor: Vec<SignatureDef>,
}

/// The base of an image's command-line tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Userland {
    /// Debian or Ubuntu: GNU coreutils and wget.
    Gnu,
    /// Alpine or BusyBox.
    Busybox,
}

/// How an image's tags are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TagStyle {
    /// `v1.16.3`
    V,
    /// `2.7.3`, `2026.2.22`
    Plain,
}

/// Facts for the linter that the deploy fields do not already say.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LintDef {
    /// Other repositories of the same image (mirrors, editions): `ghcr.io/crazy-max/diun`.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Tag spelling; derived from `version` when the entry is deployable.
    #[serde(default)]
    pub tag_style: Option<TagStyle>,
    /// Tag spelling of a repository of `repositories` that differs from `tag_style`
    /// (cAdvisor's older registry kept the `v` its newer one dropped; VP704).
    #[serde(default)]
    pub tag_styles: BTreeMap<String, TagStyle>,
    /// Capabilities of `cap_add` needed only to write a host directory owned by another
    /// UID (Caddy's log directory): a named volume, created by the engine for the
    /// process, needs none of them (VP103 is then a warning for bind mounts only).
    #[serde(default)]
    pub caps_for_foreign_mounts: Vec<String>,
    /// Whose `wget`/`nc` the image has: GNU ones try every address of `localhost`,
    /// BusyBox ones may stop at `::1` (VP101). Unset: guessed from the tag and tools.
    #[serde(default)]
    pub userland: Option<Userland>,
    /// Serves its API without authentication by default: its ports are never
    /// published on every interface (Ollama, Prometheus; VP802).
    #[serde(default)]
    pub unauthenticated: bool,
    /// Calls external APIs (needs a non-internal network); derived from an `egress`
    /// network when the entry is deployable.
    #[serde(default)]
    pub egress: Option<bool>,
    /// Ports whose upstream speaks WebSocket (beyond `[web] websocket`).
    #[serde(default)]
    pub websocket_ports: Vec<u16>,
    /// Its healthcheck must not be an HTTP request (Caddy: no site block answers the
    /// container's own address and the admin API does not answer in Docker; VP301).
    #[serde(default)]
    pub healthcheck_without_http: bool,
    /// A health path that is expensive, and its cheap sub-paths (LiteLLM's `/health`
    /// calls every configured model, `/health/readiness` does not; VP612).
    #[serde(default)]
    pub costly_health_path: Option<CostlyHealthPath>,
    /// Its password must never be a command-line argument (Redis `-a`; VP212).
    #[serde(default)]
    pub password_never_in_arguments: bool,
    /// The only file names it reads as configuration in a directory (Qdrant reads
    /// `/qdrant/config/production.yaml`, nothing else there; VP221).
    #[serde(default)]
    pub config_reads: Option<ConfigReads>,
    /// One of these must be in its command (a single Loki: `-target=all`; VP501).
    #[serde(default)]
    pub command_requires_one_of: Vec<String>,
    /// Env vars that put it on a sub-path, which it does not support (n8n `N8N_PATH`).
    #[serde(default)]
    pub sub_path_env: Vec<String>,
    /// Env it needs behind the reverse proxy (n8n `N8N_PROXY_HOPS`).
    #[serde(default)]
    pub proxy_env: Vec<String>,
    /// Env vars holding its public URL: an `https://` one means a proxy terminates
    /// TLS in front of it (n8n `WEBHOOK_URL`; VP602).
    #[serde(default)]
    pub public_url_env: Vec<String>,
    /// A data store: its ports are never published on every interface (VP802).
    #[serde(default)]
    pub datastore: bool,
    /// How initdb lays out data and which locales the image has (PostgreSQL).
    #[serde(default)]
    pub initdb: Option<InitdbFacts>,
    /// Its stock image has no plugins: `rate_limit` is not in it (Caddy; VP305).
    #[serde(default)]
    pub no_plugins: bool,
    /// The port its upstream listens on, to recognise it in a proxy (deployable
    /// entries: `[web] port`).
    #[serde(default)]
    pub port: Option<u16>,
    /// It cannot be served under a sub-path (n8n; VP601).
    #[serde(default)]
    pub no_sub_path: bool,
    /// Served under a sub-path, it must see the prefix: never strip it (Grafana's
    /// `serve_from_sub_path`; VP307).
    #[serde(default)]
    pub keeps_sub_path_prefix: bool,
    /// How `vpai check` recognises this service's configuration files on disk.
    #[serde(default)]
    pub files: Vec<FilePattern>,
}

/// The file formats `vpai check` has a parser and rules for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    PostgresqlConf,
    RedisConf,
    QdrantConfig,
    LokiConfig,
    OpenclawConfig,
}

/// One way to recognise a configuration file: its name (a glob where `*` is any
/// run of characters, lower-case), optionally the directory it is in, and for YAML
/// documents the top-level keys it has (any of them).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilePattern {
    pub name: String,
    /// The file's directory path ends with this (`openclaw`).
    #[serde(default)]
    pub dir: Option<String>,
    /// A YAML document, recognised after the YAML kinds known by their keys
    /// (compose, LiteLLM, Grafana datasources).
    #[serde(default)]
    pub yaml: bool,
    /// At least one of these top-level keys (YAML documents only).
    #[serde(default)]
    pub top_keys: Vec<String>,
    pub format: FileFormat,
}

impl FilePattern {
    /// Whether a file name (lower-case) matches `name`.
    pub fn name_matches(&self, name: &str) -> bool {
        glob(self.name.as_bytes(), name.as_bytes())
    }
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostlyHealthPath {
    pub path: String,
    pub cheap_suffixes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigReads {
    /// The directory it reads (`/qdrant/config/`).
    pub dir: String,
    /// The file names it reads there (`production.yaml`).
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InitdbFacts {
    /// From this major version the data lives in `data_path`, not `old_data_path`.
    pub data_path_since_major: u32,
    pub data_path: String,
    pub old_data_path: String,
    /// The env var that moves the data directory (`PGDATA`).
    pub data_env: String,
    /// Locales installed in the image, lower-case.
    pub locales: Vec<String>,
}

/// What a database provider needs to provision the others' databases.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseProviderDef {
    /// The rendered config (host path, one of this service's `configs`) that vpai
    /// runs through the provider's client after phase A.
    pub script: String,
}

/// A failure the log doctor recognises: every `all` needle on one log line
/// (case-insensitive).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureDef {
    /// Stable id of the symptom (`loki-empty-ring`).
    pub id: String,
    /// Lower-case substrings that must all be on one line.
    pub all: Vec<String>,
    pub cause: String,
    pub fix: String,
    /// The `vpai check` rule that catches it before deploy.
    #[serde(default)]
    pub rule: Option<String>,
    /// Where the seeds tell the story (`seed 000 #24`).
    pub seed: String,
    /// Match only in the logs of this service (the message is too common elsewhere);
    /// otherwise any service's logs may show it (a data dir shared, a renamed container).
    #[serde(default)]
    pub only_this_service: bool,
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

fn deployable_default() -> bool {
    true
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
    /// An admin UI (an editor, dashboards, keys): `[access] admin` decides who reaches
    /// it, and `vpai up` says so after deploying it to a server where it faces the Internet.
    #[serde(default)]
    pub admin: bool,
    /// Paths that stay public when the service is VPN-only (`/webhook/*`: the callers
    /// of a webhook are on the Internet). Caddy path patterns: `/`, letters, digits,
    /// `-_.` and a trailing `*`.
    #[serde(default)]
    pub public_paths: Vec<String>,
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
    /// Where the service keeps its own copy once it has started (n8n's
    /// `encryptionKey`): a deploy whose value differs would break it, and is refused
    /// before anything is written.
    #[serde(default)]
    pub kept_in: Option<KeptInDef>,
}

/// A JSON file the service writes under the stack root, and the key holding the value.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeptInDef {
    /// Relative to the stack root (`data/n8n/config`).
    pub file: String,
    pub json_key: String,
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
