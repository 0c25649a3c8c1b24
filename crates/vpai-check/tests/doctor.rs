//! The log doctor recognises the failure messages the seeds list, with the cause,
//! the fix and the rule that would have caught it.

use vpai_check::doctor::{diagnose, known_symptoms, render};

/// (service, a log line as the seeds quote it, expected symptom, expected rule)
const CASES: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "postgresql",
        "chmod: changing permissions of '/var/lib/postgresql/18/docker': Operation not permitted",
        "chmod-not-permitted",
        Some("VP103"),
    ),
    (
        "qdrant",
        "Failed to remove snapshots temp directory at ./snapshots/tmp: PermissionDenied",
        "qdrant-snapshots-permission",
        Some("VP103"),
    ),
    (
        "victoriametrics",
        "cannot create lock file: open /storage/flock.lock: permission denied",
        "volume-permission",
        Some("VP103"),
    ),
    (
        "qdrant",
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"wget\": executable file not found in $PATH: unknown",
        "healthcheck-binary-missing",
        Some("VP102"),
    ),
    (
        "victoriametrics",
        "wget: can't connect to remote host: dial tcp [::1]:8428: connect: connection refused",
        "ipv6-localhost-refused",
        Some("VP101"),
    ),
    (
        "postgresql",
        "initdb: error: invalid locale name \"fr_FR.UTF-8\"",
        "invalid-locale",
        Some("VP202"),
    ),
    (
        "loki",
        "level=error msg=\"error getting ingester clients\" err=\"empty ring\"",
        "loki-empty-ring",
        Some("VP502"),
    ),
    (
        "diun",
        "yaml line 12: unknown escape character 'd'",
        "yaml-escape",
        Some("VP401"),
    ),
    (
        "litellm",
        "PermissionError: [Errno 13] Permission denied: '/app/config.yaml'",
        "config-permission",
        Some("VP411"),
    ),
    (
        "n8n",
        "ValidationError: ERR_ERL_UNEXPECTED_X_FORWARDED_FOR",
        "n8n-proxy-hops",
        Some("VP602"),
    ),
    (
        "grafana",
        "pq: no PostgreSQL user name specified in startup packet",
        "grafana-pg-user",
        Some("VP511"),
    ),
    (
        "caddy",
        "Error: adapting config using caddyfile: /etc/caddy/Caddyfile:42: unrecognized directive: 200",
        "caddy-heredoc-status",
        Some("VP302"),
    ),
    (
        "openclaw",
        "MissingEnvVarError: Missing env var \"OPENAI_API_KEY\" referenced at config path: models.providers.openai.apiKey",
        "missing-env-var",
        Some("VP624"),
    ),
    (
        "openclaw",
        "[subagent] Error: spawn docker EACCES",
        "docker-socket-eacces",
        Some("VP104"),
    ),
    (
        "deploy",
        "network javisi_backend has incorrect label com.docker.compose.network",
        "network-label-conflict",
        None,
    ),
    (
        "n8n",
        "Error response from daemon: No such container: javisi_n8n",
        "no-such-container",
        None,
    ),
    (
        "openclaw",
        "Invalid config: agents.defaults.sandbox.workspaceAccess: Invalid input",
        "openclaw-invalid-config",
        Some("VP622"),
    ),
    (
        "openclaw",
        "Config validation failed: Unrecognized key(s) in object: 'heartbeat'",
        "openclaw-unknown-key",
        Some("VP621"),
    ),
    (
        "caddy",
        "unrecognized directive: rate_limit",
        "caddy-rate-limit",
        Some("VP305"),
    ),
    (
        "compose",
        "WARN[0000] The \"POSTGRES_PASSWORD\" variable is not set. Defaulting to a blank string.",
        "variable-not-set",
        Some("VP705"),
    ),
];

#[test]
fn each_seed_message_is_recognised() {
    for (service, line, symptom, rule) in CASES {
        let logs = format!("starting\n{line}\nexiting\n");
        let found = diagnose(service, &logs);
        let d = found
            .iter()
            .find(|d| d.symptom == *symptom)
            .unwrap_or_else(|| panic!("{symptom} not found in {line:?}: {found:?}"));
        assert_eq!(d.rule.as_deref(), *rule, "{symptom}");
        assert_eq!(d.line, 2);
        assert!(!d.cause.is_empty() && !d.fix.is_empty());
    }
    assert!(known_symptoms() >= 15);
}

#[test]
fn healthy_logs_give_nothing() {
    let logs = "database system is ready to accept connections\nReady to accept connections tcp\n";
    assert!(diagnose("postgresql", logs).is_empty());
    assert!(render("postgresql", &[]).contains("no known failure"));
}

#[test]
fn invalid_input_is_only_openclaw() {
    assert!(diagnose("n8n", "Invalid input").is_empty());
}

#[test]
fn rendered_diagnosis() {
    let d = diagnose("loki", "err=\"empty ring\"");
    insta::assert_snapshot!(render("loki", &d), @r#"
    loki: loki-empty-ring [VP502]
      log line 1: err="empty ring"
      cause: single Loki whose ingester never joined the ring (memberlist initialised despite `inmemory`, Loki bug #19381)
      fix: add `-target=all` to the command, `ingester.lifecycler.ring.kvstore.store: inmemory`, `memberlist.join_members: []`
    "#);
}
