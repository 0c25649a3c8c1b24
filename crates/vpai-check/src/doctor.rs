//! The log doctor: match a service's recent logs against the failure messages the
//! seeds list, and say the cause and the fix (with the rule that prevents it).

use serde::Serialize;

/// One known failure found in the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// Stable id of the symptom (`volume-permission`).
    pub symptom: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
    /// The `vpai check` rule that catches it before deploy, if any.
    pub rule: Option<&'static str>,
    pub seed: &'static str,
    /// The first log line that matched, and its 1-based number.
    pub evidence: String,
    pub line: usize,
}

/// A known symptom: every `all` substring must be on one line (case-insensitive),
/// optionally only for some services.
struct Symptom {
    id: &'static str,
    all: &'static [&'static str],
    services: &'static [&'static str],
    cause: &'static str,
    fix: &'static str,
    rule: Option<&'static str>,
    seed: &'static str,
}

const SYMPTOMS: &[Symptom] = &[
    Symptom {
        id: "chmod-not-permitted",
        all: &["operation not permitted"],
        services: &[],
        cause: "the process cannot chmod/chown its mounted directory: `cap_drop: ALL` took FOWNER/DAC_OVERRIDE (or CHOWN)",
        fix: "add `cap_add: [DAC_OVERRIDE, FOWNER]` (PostgreSQL also CHOWN, SETUID, SETGID) and recreate the container",
        rule: Some("VP103"),
        seed: "seed 000 #8",
    },
    Symptom {
        id: "qdrant-snapshots-permission",
        all: &["snapshots temp directory", "permissiondenied"],
        services: &[],
        cause: "Qdrant (UID 1000) cannot write its snapshots directory: missing DAC_OVERRIDE/FOWNER or the directory is not owned by 1000",
        fix: "`chown -R 1000:1000` the data directory, add `cap_add: [DAC_OVERRIDE, FOWNER]`, remove the stale `snapshots/tmp`",
        rule: Some("VP103"),
        seed: "seed 000 #10",
    },
    Symptom {
        id: "volume-permission",
        all: &["permission denied"],
        services: &[],
        cause: "the process cannot write a mounted path (VictoriaMetrics `/storage/flock.lock`, Loki `/loki`, Caddy logs): `cap_drop: ALL` without DAC_OVERRIDE, or the directory is not owned by the container's UID",
        fix: "chown the data directory to the container's UID (VictoriaMetrics 1000, Loki 10001, Grafana 472) and add `cap_add: [DAC_OVERRIDE, FOWNER]`",
        rule: Some("VP103"),
        seed: "seed 000 #15 #17 #18",
    },
    Symptom {
        id: "volume-permission",
        all: &["permissiondenied"],
        services: &[],
        cause: "the process cannot write a mounted path: `cap_drop: ALL` without DAC_OVERRIDE, or the directory is not owned by the container's UID",
        fix: "chown the data directory to the container's UID and add `cap_add: [DAC_OVERRIDE, FOWNER]`",
        rule: Some("VP103"),
        seed: "seed 000 #10",
    },
    Symptom {
        id: "healthcheck-binary-missing",
        all: &["executable file not found in $path"],
        services: &[],
        cause: "the healthcheck (or command) runs a program the image does not contain (no wget/curl in Qdrant, LiteLLM, Alloy; no shell at all in distroless Loki)",
        fix: "use what the image has: `bash -c ':> /dev/tcp/127.0.0.1/PORT'`, `loki -health`, `python -c \"import urllib.request; ...\"`, `caddy version`, `kill -0 1`",
        rule: Some("VP102"),
        seed: "seed 000 #11 #23 #25 #26",
    },
    Symptom {
        id: "ipv6-localhost-refused",
        all: &["[::1]:", "refused"],
        services: &[],
        cause: "`localhost` resolved to IPv6 `::1` but the service listens on IPv4 only",
        fix: "use `127.0.0.1` instead of `localhost` in the healthcheck",
        rule: Some("VP101"),
        seed: "seed 000 #22",
    },
    Symptom {
        id: "invalid-locale",
        all: &["invalid locale name"],
        services: &[],
        cause: "initdb was asked for a libc locale the PostgreSQL image does not have (only en_US.UTF-8 and C)",
        fix: "`POSTGRES_INITDB_ARGS=--locale-provider=icu --icu-locale=fr-FR --locale=C`, then remove the half-initialised data directory",
        rule: Some("VP202"),
        seed: "seed 000 #9",
    },
    Symptom {
        id: "postgres-logging-collector",
        all: &["could not open log file"],
        services: &[],
        cause: "`logging_collector = on` writes to a log directory that does not exist in the container",
        fix: "`logging_collector = off` in postgresql.conf (Docker collects stderr)",
        rule: Some("VP203"),
        seed: "seed 000 #9",
    },
    Symptom {
        id: "loki-empty-ring",
        all: &["empty ring"],
        services: &[],
        cause: "single Loki whose ingester never joined the ring (memberlist initialised despite `inmemory`, Loki bug #19381)",
        fix: "add `-target=all` to the command, `ingester.lifecycler.ring.kvstore.store: inmemory`, `memberlist.join_members: []`",
        rule: Some("VP502"),
        seed: "seed 000 #24",
    },
    Symptom {
        id: "yaml-escape",
        all: &["unknown escape character"],
        services: &[],
        cause: "a double-quoted YAML string contains a backslash sequence YAML does not know (`\"^\\d+\"`)",
        fix: "single-quote the string (`'^\\d+\\.\\d+'`); `vpai check --fix` does it",
        rule: Some("VP401"),
        seed: "seed 000 #19",
    },
    Symptom {
        id: "config-permission",
        all: &["permissionerror"],
        services: &[],
        cause: "the configuration file is not readable by the container's UID (mode 0600 owned by another user)",
        fix: "give the file to the container's UID:GID with mode 0640",
        rule: Some("VP411"),
        seed: "seed 000 #20",
    },
    Symptom {
        id: "n8n-proxy-hops",
        all: &["err_erl_unexpected_x_forwarded_for"],
        services: &[],
        cause: "n8n behind Caddy trusts no proxy: Express refuses the `X-Forwarded-For` header",
        fix: "set `N8N_PROXY_HOPS=1` in n8n's env file and recreate the container",
        rule: Some("VP602"),
        seed: "seed 001 §10.6",
    },
    Symptom {
        id: "grafana-pg-user",
        all: &["no postgresql user name specified in startup packet"],
        services: &[],
        cause: "the Grafana PostgreSQL datasource has its `user` in jsonData/secureJsonData; Grafana 12 reads it only at the root",
        fix: "move `user:` to the root of the datasource; only `password` stays in `secureJsonData`",
        rule: Some("VP511"),
        seed: "seed 001 §8.5",
    },
    Symptom {
        id: "caddy-heredoc-status",
        all: &["unrecognized directive: 200"],
        services: &[],
        cause: "a heredoc `respond` has its status on the line after the closing marker",
        fix: "write `MARKER 200` on one line; `vpai check --fix` does it",
        rule: Some("VP302"),
        seed: "seed 001 §6.2.1",
    },
    Symptom {
        id: "caddy-rate-limit",
        all: &["unrecognized directive: rate_limit"],
        services: &[],
        cause: "`rate_limit` is a plugin that the stock Caddy image does not include",
        fix: "remove the directive or build Caddy with the rate-limit module",
        rule: Some("VP305"),
        seed: "seed 001 §6.1",
    },
    Symptom {
        id: "missing-env-var",
        all: &["missingenvvarerror"],
        services: &[],
        cause: "openclaw.json references `${VAR}` that is not in the container's environment",
        fix: "add the variable to the service's env file and recreate the container (a restart does not reread env files)",
        rule: Some("VP624"),
        seed: "seed 001 §11.17 §11.18",
    },
    Symptom {
        id: "docker-socket-eacces",
        all: &["spawn docker eacces"],
        services: &[],
        cause: "the sandbox cannot be created: the container's user is not in the host's docker group, or the `openclaw-sandbox:bookworm-slim` image was never built",
        fix: "`group_add: [\"<docker GID>\"]` (`getent group docker`) and build the sandbox image from `/app/Dockerfile.sandbox`",
        rule: Some("VP104"),
        seed: "seed 001 §11.13",
    },
    Symptom {
        id: "network-label-conflict",
        all: &["has incorrect label com.docker.compose.network"],
        services: &[],
        cause: "the network was created by another compose project (or an older file) with different labels",
        fix: "stop the services using it and `docker network rm` it; `vpai up` recreates it with the right labels",
        rule: None,
        seed: "seed 000 #6",
    },
    Symptom {
        id: "no-such-container",
        all: &["no such container"],
        services: &[],
        cause: "a step ran before the container was created (provisioning before phase B), or the container name differs from `<project>_<service>`",
        fix: "run provisioning after `up` has made the service healthy; check the name with `docker compose ps`",
        rule: None,
        seed: "seed 000 #7",
    },
    Symptom {
        id: "no-such-service",
        all: &["no such service"],
        services: &[],
        cause: "the command targeted the wrong compose file: infra services live in `docker-compose-infra.yml`, apps in `docker-compose.yml`",
        fix: "use the file of the service's phase (`vpai` does it by itself)",
        rule: Some("VP105"),
        seed: "seed 000 #29",
    },
    Symptom {
        id: "openclaw-invalid-config",
        all: &["invalid input"],
        services: &["openclaw"],
        cause: "openclaw.json has a value outside its accepted choices (`workspaceAccess` other than none/ro/rw) or of the wrong shape",
        fix: "fix the value named in the error; `vpai check` lists them",
        rule: Some("VP622"),
        seed: "seed 001 §11.16",
    },
    Symptom {
        id: "openclaw-unknown-key",
        all: &["unrecognized key"],
        services: &[],
        cause: "openclaw.json has a key this OpenClaw version does not know (`heartbeat`, `tools.web.fetch.readability`, `channels.telegram.token`)",
        fix: "remove the key (the Telegram key is `botToken`)",
        rule: Some("VP621"),
        seed: "seed 001 §11.3 §11.4",
    },
    Symptom {
        id: "openclaw-unknown-key",
        all: &["unknown key"],
        services: &["openclaw"],
        cause: "openclaw.json has a key this OpenClaw version does not know",
        fix: "remove the key",
        rule: Some("VP621"),
        seed: "seed 001 §11.3",
    },
    Symptom {
        id: "openclaw-cron-array",
        all: &["expected object, received array"],
        services: &[],
        cause: "`cron` (or another section) is an array where OpenClaw expects an object",
        fix: "remove `cron`; schedule with n8n instead",
        rule: Some("VP621"),
        seed: "seed 001 §11.3 §11.19",
    },
    Symptom {
        id: "sandbox-read-only",
        all: &["sandbox path is read-only"],
        services: &[],
        cause: "`workspaceAccess: \"none\"` with a read-only root: sub-agents cannot write `/workspace`",
        fix: "`\"workspaceAccess\": \"rw\"` for the agents that write files",
        rule: Some("VP622"),
        seed: "seed 001 §11.16",
    },
    Symptom {
        id: "openrouter-credits",
        all: &["no api key found for provider"],
        services: &[],
        cause: "not a missing key: OpenRouter answered 402 (credits exhausted) and OpenClaw reworded it",
        fix: "switch agents to `:free` models or top up the OpenRouter account",
        rule: None,
        seed: "seed 001 §11.12",
    },
    Symptom {
        id: "openrouter-reservation",
        all: &["not enough credits"],
        services: &[],
        cause: "OpenRouter reserves `max_tokens` up front; without it the model default (up to 16000) exceeds the balance",
        fix: "set `max_tokens: 4096` in the model's `litellm_params`",
        rule: Some("VP613"),
        seed: "seed 001 §10.5",
    },
    Symptom {
        id: "redis-rename-command",
        all: &["rename-command"],
        services: &[],
        cause: "Redis 8 no longer accepts `rename-command`",
        fix: "remove the `rename-command` lines and deny commands with ACLs",
        rule: Some("VP211"),
        seed: "seed 000 #13",
    },
    Symptom {
        id: "image-not-found",
        all: &["manifest unknown"],
        services: &[],
        cause: "the image tag does not exist (wrong format such as a `v` prefix on cAdvisor, or a patch tag never published)",
        fix: "use a published tag in the publisher's format",
        rule: Some("VP704"),
        seed: "seed 000 #5",
    },
    Symptom {
        id: "pull-access-denied",
        all: &["pull access denied"],
        services: &[],
        cause: "Compose tried to pull an image that only exists on this host",
        fix: "add `pull_policy: never` to the service",
        rule: Some("VP702"),
        seed: "seed 003 §1",
    },
    Symptom {
        id: "variable-not-set",
        all: &["variable is not set"],
        services: &[],
        cause: "the compose file uses `${VAR}` but the `.env` was not loaded: the value is empty",
        fix: "put the `.env` next to the compose file or pass `--env-file`",
        rule: Some("VP705"),
        seed: "seed 003 §2",
    },
    Symptom {
        id: "crlf-or-encoding",
        all: &["unicodedecodeerror"],
        services: &[],
        cause: "a file is not UTF-8 (Windows-1252 bytes such as 0x97)",
        fix: "re-encode as UTF-8; `vpai check --fix` does it",
        rule: Some("VP403"),
        seed: "seed 001 §1.1",
    },
    Symptom {
        id: "acme-notimp",
        all: &["could not determine zone for domain"],
        services: &[],
        cause: "the local resolver (systemd-resolved) answers NOTIMP to the NS/SOA queries of the DNS-01 challenge",
        fix: "in the site's `tls` block, add `resolvers 8.8.8.8 1.1.1.1`",
        rule: None,
        seed: "seed 001 §12.5",
    },
];

/// Match the logs of `service` against the known failures. One diagnosis per
/// symptom, with the first line that shows it.
pub fn diagnose(service: &str, logs: &str) -> Vec<Diagnosis> {
    let service = service.to_ascii_lowercase();
    let mut out: Vec<Diagnosis> = Vec::new();
    let lines: Vec<(usize, String, &str)> = logs
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.to_ascii_lowercase(), l))
        .collect();
    for s in SYMPTOMS {
        if !s.services.is_empty() && !s.services.iter().any(|x| service.contains(x)) {
            continue;
        }
        if out.iter().any(|d| d.symptom == s.id) {
            continue;
        }
        if let Some((n, _, original)) = lines
            .iter()
            .find(|(_, lower, _)| s.all.iter().all(|needle| lower.contains(needle)))
        {
            // a more specific symptom already explained this line
            if out.iter().any(|d| d.line == *n && d.rule == s.rule) {
                continue;
            }
            out.push(Diagnosis {
                symptom: s.id,
                cause: s.cause,
                fix: s.fix,
                rule: s.rule,
                seed: s.seed,
                evidence: original.trim().chars().take(300).collect(),
                line: *n,
            });
        }
    }
    out.sort_by_key(|d| d.line);
    out
}

/// Diagnoses of several services as JSON (`vpai doctor --json`): an array of
/// `{service, diagnoses}`, with no raw terminal control in its strings.
pub fn to_json(results: &[(String, Vec<Diagnosis>)]) -> String {
    let value: Vec<_> = results
        .iter()
        .map(|(service, diagnoses)| serde_json::json!({ "service": service, "diagnoses": diagnoses }))
        .collect();
    crate::text::escape_json_for_terminal(serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// How many distinct symptoms the doctor knows.
pub fn known_symptoms() -> usize {
    let mut ids: Vec<&str> = SYMPTOMS.iter().map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

/// Human text for a list of diagnoses. The service name and the log lines quoted
/// are untrusted: terminal controls in them are shown as escapes, not sent.
pub fn render(service: &str, diagnoses: &[Diagnosis]) -> String {
    use crate::text::sanitize_for_terminal;
    use std::fmt::Write as _;
    let service = sanitize_for_terminal(service);
    let mut out = String::new();
    if diagnoses.is_empty() {
        let _ = writeln!(out, "no known failure in the logs of `{service}`");
        return out;
    }
    for d in diagnoses {
        let rule = d.rule.map(|r| format!(" [{r}]")).unwrap_or_default();
        let _ = writeln!(out, "{service}: {}{rule}", d.symptom);
        let _ = writeln!(
            out,
            "  log line {}: {}",
            d.line,
            sanitize_for_terminal(&d.evidence)
        );
        let _ = writeln!(out, "  cause: {}", d.cause);
        let _ = writeln!(out, "  fix: {}", d.fix);
        let _ = writeln!(out, "  from: {}", d.seed);
        out.push('\n');
    }
    out
}
