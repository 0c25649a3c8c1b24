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
        "victoriametrics-flock-permission",
        Some("VP103"),
    ),
    (
        "loki",
        "level=error msg=\"error running loki\" err=\"mkdir /loki/rules: permission denied\"",
        "loki-data-permission",
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
        "diun-yaml-escape",
        Some("VP401"),
    ),
    (
        "loki",
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
    (
        "caddy",
        "could not determine zone for domain \"_acme-challenge.studio.example.com\": unexpected response code 'NOTIMP' for example.com.",
        "acme-notimp",
        None,
    ),
    (
        "redis",
        ">>> 'rename-command FLUSHALL \"\"'",
        "redis-rename-command",
        Some("VP211"),
    ),
    (
        "litellm",
        "litellm.APIError: OpenrouterException - {\"error\":{\"code\":402,\"message\":\"not enough credits for this request\"}}",
        "openrouter-reservation",
        Some("VP613"),
    ),
    (
        "openclaw",
        "Config validation failed: agents.defaults: unknown key 'heartbeat'",
        "openclaw-unknown-key",
        Some("VP621"),
    ),
    (
        "openclaw",
        "Config validation failed: cron: Expected object, received array",
        "openclaw-cron-array",
        Some("VP621"),
    ),
    (
        "openclaw",
        "[tools] write failed: Sandbox path is read-only; cannot create directories: /workspace",
        "sandbox-read-only",
        Some("VP622"),
    ),
    (
        "openclaw",
        "[diagnostic] lane task error: No API key found for provider \"openrouter\"",
        "openrouter-credits",
        None,
    ),
    (
        "postgresql",
        "FATAL:  could not open log file \"/var/log/postgresql/postgresql-2026-02-16.log\": No such file or directory",
        "postgres-logging-collector",
        Some("VP203"),
    ),
    (
        "deploy",
        "no such service: caddy",
        "no-such-service",
        Some("VP105"),
    ),
    (
        "deploy",
        "Error response from daemon: manifest for cadvisor:v0.55.1 not found: manifest unknown: manifest unknown",
        "image-not-found",
        Some("VP704"),
    ),
    (
        "deploy",
        "Error response from daemon: pull access denied for vpai-local/n8n, repository does not exist or may require 'docker login'",
        "pull-access-denied",
        Some("VP702"),
    ),
    (
        "litellm",
        "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x97 in position 1234: invalid start byte",
        "crlf-or-encoding",
        Some("VP403"),
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

/// A few lines of each service's normal start, as its container prints them: none of
/// them is a known failure.
fn healthy(service: &str) -> &'static str {
    match service {
        "postgresql" => {
            r#"The files belonging to this database system will be owned by user "postgres".
fixing permissions on existing directory /var/lib/postgresql/18/docker ... ok
initdb: warning: enabling "trust" authentication for local connections
PostgreSQL init process complete; ready for start up.
2026-02-16 09:12:01.412 UTC [1] LOG:  starting PostgreSQL 18.1 (Debian 18.1-1.pgdg13+2) on x86_64-pc-linux-gnu, compiled by gcc (Debian 14.2.0-19) 14.2.0, 64-bit
2026-02-16 09:12:01.413 UTC [1] LOG:  listening on IPv4 address "0.0.0.0", port 5432
2026-02-16 09:12:01.418 UTC [1] LOG:  listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"
2026-02-16 09:12:01.426 UTC [29] LOG:  database system was shut down at 2026-02-16 09:11:55 UTC
2026-02-16 09:12:01.433 UTC [1] LOG:  database system is ready to accept connections
2026-02-16 09:17:04.130 UTC [27] LOG:  checkpoint complete: wrote 26 buffers (0.2%), wrote 3 SLRU buffers; 0 WAL file(s) added, 0 removed, 0 recycled"#
        }
        "redis" => {
            r#"1:C 16 Feb 2026 09:12:02.101 * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo
1:C 16 Feb 2026 09:12:02.101 * Redis version=8.0.2, bits=64, commit=00000000, modified=1, pid=1, just started
1:C 16 Feb 2026 09:12:02.101 * Configuration loaded
1:M 16 Feb 2026 09:12:02.103 * Running mode=standalone, port=6379.
1:M 16 Feb 2026 09:12:02.103 # WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition.
1:M 16 Feb 2026 09:12:02.104 * Server initialized
1:M 16 Feb 2026 09:12:02.104 * Creating AOF base file appendonly.aof.1.base.rdb on server start
1:M 16 Feb 2026 09:12:02.105 * Creating AOF incr file appendonly.aof.1.incr.aof on server start
1:M 16 Feb 2026 09:12:02.105 * Ready to accept connections tcp"#
        }
        "qdrant" => {
            r#"Version: 1.16.3, build: bd49f45a
Access web UI at http://localhost:6333/dashboard
2026-02-16T09:12:03.201Z  INFO storage::content_manager::consensus::persistent: Loading raft state from ./storage/raft_state.json
2026-02-16T09:12:03.209Z  INFO qdrant: Distributed mode disabled
2026-02-16T09:12:03.214Z  INFO qdrant::actix: TLS disabled for REST API
2026-02-16T09:12:03.214Z  INFO qdrant::actix: Qdrant HTTP listening on 6333
2026-02-16T09:12:03.215Z  INFO qdrant::tonic: Qdrant gRPC listening on 6334
2026-02-16T09:12:09.002Z  INFO actix_web::middleware::logger: 172.20.2.9 "GET /collections HTTP/1.1" 200 63 "-" "python-urllib/3.12" 0.000312"#
        }
        "caddy" => {
            r#"{"level":"info","ts":1771233123.101,"msg":"using config from file","file":"/etc/caddy/Caddyfile"}
{"level":"info","ts":1771233123.104,"msg":"adapted config to JSON","adapter":"caddyfile"}
{"level":"warn","ts":1771233123.104,"msg":"Caddyfile input is not formatted; run 'caddy fmt --overwrite' to fix inconsistencies","adapter":"caddyfile","file":"/etc/caddy/Caddyfile","line":3}
{"level":"info","ts":1771233123.106,"logger":"admin","msg":"admin endpoint started","address":"localhost:2019","enforce_origin":false,"origins":["//localhost:2019","//[::1]:2019","//127.0.0.1:2019"]}
{"level":"info","ts":1771233123.107,"logger":"http.auto_https","msg":"enabling automatic HTTP->HTTPS redirects","server_name":"srv0"}
{"level":"info","ts":1771233123.108,"logger":"tls.cache.maintenance","msg":"started background certificate maintenance","cache":"0xc0004a2e00"}
{"level":"info","ts":1771233123.110,"msg":"failed to sufficiently increase receive buffer size (was: 208 kiB, wanted: 7168 kiB, got: 416 kiB)."}
{"level":"info","ts":1771233123.111,"logger":"http.log","msg":"server running","name":"srv0","protocols":["h1","h2","h3"]}
{"level":"info","ts":1771233123.112,"msg":"serving initial configuration"}
{"level":"info","ts":1771233124.530,"logger":"tls.obtain","msg":"certificate obtained successfully","identifier":"n8n.example.com","issuer":"local"}"#
        }
        "n8n" => {
            r#"Permissions 0644 for n8n settings file /home/node/.n8n/config are too wide. This is ignored for now, but in the future n8n will attempt to change the permissions automatically.
User settings loaded from: /home/node/.n8n/config
Initializing n8n process
Migrations in progress, please do NOT stop the process.
Finished migration CreateWorkflowHistoryTable1692967111175
Migrations finished.
n8n ready on ::, port 5678
Registered runner "JS Task Runner" (Fs0vJ3kq2)
Version: 2.7.3
Editor is now accessible via:
https://n8n.example.com"#
        }
        "litellm" => {
            r#"INFO:     Started server process [1]
INFO:     Waiting for application startup.
Prisma schema loaded from schema.prisma
Datasource "client": PostgreSQL database "litellm", schema "public" at "postgresql:5432"
The database is already in sync with the Prisma schema.
LiteLLM: Proxy initialized with Config, Set models:
    deepseek-v3
    claude-sonnet
INFO:     Application startup complete.
INFO:     Uvicorn running on http://0.0.0.0:4000 (Press CTRL+C to quit)
INFO:     127.0.0.1:51234 - "GET /health/readiness HTTP/1.1" 200 OK"#
        }
        "grafana" => {
            r#"logger=settings t=2026-02-16T09:14:01.203Z level=info msg="Starting Grafana" version=12.4.3 branch=HEAD
logger=settings t=2026-02-16T09:14:01.204Z level=info msg="Path Data" path=/var/lib/grafana
logger=sqlstore t=2026-02-16T09:14:01.210Z level=info msg="Connecting to DB" dbtype=sqlite3
logger=migrator t=2026-02-16T09:14:01.221Z level=info msg="Starting DB migrations"
logger=migrator t=2026-02-16T09:14:01.222Z level=info msg="Executing migration" id="create migration_log table"
logger=migrator t=2026-02-16T09:14:02.903Z level=info msg="migrations completed" performed=650 skipped=0 duration=1.68s
logger=provisioning.datasources t=2026-02-16T09:14:03.101Z level=info msg="inserting datasource from configuration" name=VictoriaMetrics uid=victoriametrics
logger=provisioning.dashboard t=2026-02-16T09:14:03.220Z level=info msg="finished to provision dashboards"
logger=http.server t=2026-02-16T09:14:03.301Z level=info msg="HTTP Server Listen" address=[::]:3000 protocol=http subUrl= socket=
logger=context userId=1 orgId=1 uname=admin t=2026-02-16T09:15:00.012Z level=info msg="Request Completed" method=GET path=/api/health status=200"#
        }
        "loki" => {
            r#"level=info ts=2026-02-16T09:14:02.101Z caller=main.go:126 msg="Starting Loki" version="(version=3.6.5, branch=HEAD)"
level=info ts=2026-02-16T09:14:02.103Z caller=server.go:352 msg="server listening on addresses" http=[::]:3100 grpc=[::]:9095
level=info ts=2026-02-16T09:14:02.120Z caller=module_service.go:82 msg=starting module=ring
level=info ts=2026-02-16T09:14:02.131Z caller=lifecycler.go:656 msg="instance not found in ring, adding with no tokens" ring=ingester
level=info ts=2026-02-16T09:14:02.140Z caller=lifecycler.go:483 msg="auto-joining cluster after timeout" ring=ingester
level=info ts=2026-02-16T09:14:02.150Z caller=loki.go:573 msg="Loki started" startup_time=1.02s"#
        }
        "victoriametrics" => {
            r#"2026-02-16T09:14:01.100Z	info	VictoriaMetrics/lib/logger/flag.go:12	build version: victoria-metrics-20260201-v1.135.0
2026-02-16T09:14:01.100Z	info	VictoriaMetrics/lib/logger/flag.go:20	flag "retentionPeriod"="30d"
2026-02-16T09:14:01.101Z	info	VictoriaMetrics/app/vmstorage/main.go:111	opening storage at -storageDataPath=/storage
2026-02-16T09:14:01.140Z	info	VictoriaMetrics/app/vmstorage/main.go:183	successfully opened storage "/storage" in 0.039 seconds
2026-02-16T09:14:01.150Z	info	VictoriaMetrics/lib/httpserver/httpserver.go:145	started server at http://0.0.0.0:8428/"#
        }
        "alloy" => {
            r#"ts=2026-02-16T09:14:05.101Z level=info msg="running usage stats reporter"
ts=2026-02-16T09:14:05.102Z level=info msg="starting complete graph evaluation" controller_path=/ controller_id=""
ts=2026-02-16T09:14:05.110Z level=info msg="finished node evaluation" controller_path=/ node_id=loki.write.default duration=1.2ms
ts=2026-02-16T09:14:05.121Z level=info msg="finished complete graph evaluation" controller_path=/ duration=19ms
ts=2026-02-16T09:14:05.122Z level=info msg="scheduling loaded components and services"
ts=2026-02-16T09:14:05.130Z level=info msg="now listening for http traffic" service=http addr=0.0.0.0:12345
ts=2026-02-16T09:14:06.002Z level=info msg="opened log stream" target=docker/3f2a9c component_id=loki.source.docker.containers"#
        }
        "cadvisor" => {
            r#"I0216 09:14:03.101234       1 storagedriver.go:55] Caching stats in memory for 2m0s
I0216 09:14:03.102100       1 manager.go:164] cAdvisor running in container: "/"
W0216 09:14:03.140112       1 manager.go:311] Could not configure a source for OOM detection, disabling OOM events: open /dev/kmsg: no such file or directory
I0216 09:14:03.150001       1 factory.go:221] Registration of the docker container factory successfully
I0216 09:14:03.160221       1 manager.go:1223] Started watching for new ooms in manager
I0216 09:14:03.170345       1 manager.go:385] Recovery completed
I0216 09:14:03.190012       1 cadvisor.go:170] Starting cAdvisor version: 0.55.1 on port 8080"#
        }
        "diun" => {
            r#"Mon, 16 Feb 2026 09:14:06 CET INF Starting Diun version=v4.31.0
Mon, 16 Feb 2026 09:14:06 CET INF Configuration loaded from file: /etc/diun/diun.yml
Mon, 16 Feb 2026 09:14:06 CET INF Cron triggered
Mon, 16 Feb 2026 09:14:07 CET INF Found 12 image(s) to analyze provider=docker
Mon, 16 Feb 2026 09:14:09 CET INF Jobs completed added=0 failed=0 skipped=0 unchanged=12 updated=0
Mon, 16 Feb 2026 09:14:09 CET INF Next run in 2 hours 45 minutes (2026-02-16 12:00:00 +0100 CET)"#
        }
        "openclaw" => {
            r#"09:14:10 [canvas] host mounted at http://0.0.0.0:18789/__openclaw__/canvas/ (root /home/node/.openclaw/canvas)
09:14:11 [gateway] agent model: custom-litellm/deepseek-v3
09:14:11 [gateway] listening on ws://0.0.0.0:18789 (PID 7)
09:14:11 [reload] config change detected; evaluating reload (changedPaths=1)
09:14:12 [telegram] [default] starting provider
09:14:12 [health-monitor] started (interval: 300s, startup-grace: 60s, channel-connect-grace: 120s)"#
        }
        _ => "starting",
    }
}

/// The 13 services of the `full` profile.
const SERVICES: &[&str] = &[
    "postgresql",
    "redis",
    "qdrant",
    "caddy",
    "n8n",
    "litellm",
    "openclaw",
    "grafana",
    "loki",
    "victoriametrics",
    "alloy",
    "cadvisor",
    "diun",
];

#[test]
fn healthy_startup_logs_of_every_service_match_nothing() {
    for service in SERVICES {
        let found = diagnose(service, healthy(service));
        assert!(found.is_empty(), "{service}: {found:?}");
    }
}

/// (service, log excerpt written after the real message text, 1-based line of the
/// excerpt that shows the failure, expected symptom, expected rule)
const FAILURES: &[(&str, &str, usize, &str, Option<&str>)] = &[
    // PostgreSQL
    (
        "postgresql",
        "Error: in 18+, these Docker images are configured to store database data in a\n       format which is compatible with \"pg_ctlcluster\" (specifically, using\n       major-version-specific directory names).\n       Counter to that, there appears to be PostgreSQL data in:\n         /var/lib/postgresql/data (unused mount/volume)\n       This is usually the result of upgrading the Docker image without\n       upgrading the underlying database using \"pg_upgrade\" (which requires both\n       versions).",
        5,
        "pg18-old-data-path",
        Some("VP201"),
    ),
    (
        "postgresql",
        "2026-02-16 09:20:01.101 UTC [1] FATAL:  database files are incompatible with server\n2026-02-16 09:20:01.101 UTC [1] DETAIL:  The data directory was initialized by PostgreSQL version 17, which is not compatible with this version 18.1 (Debian 18.1-1.pgdg13+2).",
        1,
        "pg-data-from-other-major",
        None,
    ),
    (
        "postgresql",
        "initdb: error: directory \"/var/lib/postgresql/18/docker\" exists but is not empty\ninitdb: hint: If you want to create a new database system, either remove or empty the directory \"/var/lib/postgresql/18/docker\" or run initdb with an argument other than \"/var/lib/postgresql/18/docker\".",
        1,
        "pg-initdb-not-empty",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 09:20:02.220 UTC [1] FATAL:  data directory \"/var/lib/postgresql/18/docker\" has invalid permissions\n2026-02-16 09:20:02.220 UTC [1] DETAIL:  Permissions should be u=rwx (0700) or u=rwx,g=rx (0750).",
        1,
        "pg-data-dir-permissions",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 09:20:02.220 UTC [1] FATAL:  data directory \"/var/lib/postgresql/18/docker\" has wrong ownership\n2026-02-16 09:20:02.220 UTC [1] HINT:  The server must be started by the user that owns the data directory.",
        1,
        "pg-data-dir-permissions",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 10:02:11.514 UTC [812] FATAL:  password authentication failed for user \"litellm\"\n2026-02-16 10:02:11.514 UTC [812] DETAIL:  Connection matched file \"/var/lib/postgresql/18/docker/pg_hba.conf\" line 128: \"host all all all scram-sha-256\"",
        1,
        "pg-password-mismatch",
        None,
    ),
    (
        "n8n",
        "There was an error initializing DB\npassword authentication failed for user \"n8n\"",
        2,
        "pg-password-mismatch",
        None,
    ),
    (
        "grafana",
        "logger=tsdb.postgres t=2026-02-16T10:03:00.101Z level=error msg=\"Query error\" error=\"pq: database \\\"grafana\\\" does not exist\"",
        1,
        "pg-database-missing",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 10:03:30.001 UTC [887] FATAL:  database \"n8n\" does not exist",
        1,
        "pg-database-missing",
        None,
    ),
    (
        "grafana",
        "logger=tsdb.postgres t=2026-02-16T10:04:30.101Z level=error msg=\"Query error\" error=\"pq: role \\\"grafana\\\" does not exist\"",
        1,
        "pg-role-missing",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 10:04:00.001 UTC [901] FATAL:  role \"root\" does not exist",
        1,
        "pg-role-missing",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 10:05:00.001 UTC [977] FATAL:  sorry, too many clients already",
        1,
        "pg-too-many-clients",
        None,
    ),
    (
        "litellm",
        "prisma.engine.errors: FATAL: remaining connection slots are reserved for roles with the SUPERUSER attribute",
        1,
        "pg-too-many-clients",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 10:06:00.001 UTC [1021] ERROR:  could not resize shared memory segment \"/PostgreSQL.2431118384\" to 8388608 bytes: No space left on device",
        1,
        "pg-shm-too-small",
        None,
    ),
    (
        "postgresql",
        "2026-02-16 10:07:00.001 UTC [1] LOG:  server process (PID 1077) was terminated by signal 9: Killed\n2026-02-16 10:07:00.001 UTC [1] LOG:  terminating any other active server processes",
        1,
        "pg-backend-oom-killed",
        Some("VP107"),
    ),
    // Redis
    (
        "litellm",
        "redis.exceptions.AuthenticationError: invalid username-password pair or user is disabled.",
        1,
        "redis-wrong-password",
        None,
    ),
    (
        "redis",
        "(error) NOAUTH Authentication required.",
        1,
        "redis-no-password",
        None,
    ),
    (
        "litellm",
        "LiteLLM Redis Caching: async set() - Got exception from REDIS redis.exceptions.AuthenticationError: Authentication required.",
        1,
        "redis-no-password",
        None,
    ),
    (
        "redis",
        "1:M 16 Feb 2026 10:08:00.001 # Aborting Redis startup because of ACL errors: /usr/local/etc/redis/users.acl:1: should start with user keyword. ",
        1,
        "redis-acl-file",
        None,
    ),
    (
        "redis",
        "*** FATAL CONFIG FILE ERROR (Redis 8.0.2) ***\nReading the configuration file, at line 9\n>>> 'maxmemory 384mbb'\nargument must be a memory value",
        1,
        "redis-config-error",
        None,
    ),
    (
        "redis",
        "1:M 16 Feb 2026 10:09:00.001 # Can't open or create append-only dir appendonlydir: Permission denied",
        1,
        "redis-data-permission",
        Some("VP103"),
    ),
    (
        "redis",
        "1:M 16 Feb 2026 10:09:00.001 # Can't open the append-only file appendonly.aof.1.incr.aof: Permission denied",
        1,
        "redis-data-permission",
        Some("VP103"),
    ),
    (
        "redis",
        "31:C 16 Feb 2026 10:10:00.001 # Failed opening the temp RDB file temp-31.rdb (in server root dir /data) for saving: Permission denied",
        1,
        "redis-data-permission",
        Some("VP103"),
    ),
    (
        "litellm",
        "redis.exceptions.OutOfMemoryError: command not allowed when used memory > 'maxmemory'.",
        1,
        "redis-maxmemory",
        None,
    ),
    (
        "litellm",
        "redis.exceptions.ResponseError: MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
        1,
        "redis-cannot-persist",
        None,
    ),
    // Qdrant
    (
        "qdrant",
        "Error: Service internal error: Failed to write file: Permission denied (os error 13) at path \"/qdrant/./storage/.atomicwriteZEuaWn\"",
        1,
        "qdrant-storage-permission",
        Some("VP103"),
    ),
    (
        "qdrant",
        "2026-02-16T10:11:00.001Z  WARN qdrant::startup: Failed to create init file indicator: Permission denied (os error 13)",
        1,
        "qdrant-storage-permission",
        Some("VP103"),
    ),
    (
        "n8n",
        "NodeApiError: Unauthorized - Must provide an API key or an Authorization bearer token",
        1,
        "qdrant-api-key",
        None,
    ),
    (
        "litellm",
        "urllib.error.HTTPError: HTTP Error 401: Unauthorized (body: Invalid API key or JWT)",
        1,
        "qdrant-api-key",
        None,
    ),
    (
        "qdrant",
        "memory allocation of 2147483648 bytes failed",
        1,
        "qdrant-out-of-memory",
        Some("VP107"),
    ),
    // Caddy
    (
        "caddy",
        "Error: adapting config using caddyfile: ambiguous site definition: n8n.example.com",
        1,
        "caddy-ambiguous-site",
        None,
    ),
    (
        "caddy",
        "{\"level\":\"error\",\"ts\":1771233200.1,\"logger\":\"tls.obtain\",\"msg\":\"could not get certificate from issuer\",\"identifier\":\"n8n.example.com\",\"error\":\"HTTP 400 urn:ietf:params:acme:error:dns - DNS problem: NXDOMAIN looking up A for n8n.example.com\"}",
        1,
        "caddy-acme-dns",
        None,
    ),
    (
        "caddy",
        "{\"level\":\"error\",\"ts\":1771233200.2,\"logger\":\"tls.issuance.acme.acme_client\",\"msg\":\"challenge failed\",\"identifier\":\"n8n.example.com\",\"problem\":{\"type\":\"urn:ietf:params:acme:error:connection\",\"detail\":\"203.0.113.7: Fetching http://n8n.example.com/.well-known/acme-challenge/x: Timeout during connect (likely firewall problem)\"}}",
        1,
        "caddy-acme-unreachable",
        None,
    ),
    (
        "caddy",
        "{\"level\":\"error\",\"ts\":1771233200.3,\"logger\":\"tls.issuance.acme.acme_client\",\"msg\":\"challenge failed\",\"problem\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"198.51.100.4: Invalid response from http://n8n.example.com/.well-known/acme-challenge/x: 404\"}}",
        1,
        "caddy-acme-unauthorized",
        None,
    ),
    (
        "caddy",
        "{\"level\":\"error\",\"ts\":1771233200.4,\"logger\":\"tls.obtain\",\"msg\":\"could not get certificate from issuer\",\"error\":\"HTTP 429 urn:ietf:params:acme:error:rateLimited - too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s\"}",
        1,
        "caddy-acme-rate-limited",
        None,
    ),
    (
        "caddy",
        "{\"level\":\"error\",\"ts\":1771233300.1,\"logger\":\"http.log.error\",\"msg\":\"dial tcp 172.20.2.7:5678: connect: connection refused\",\"request\":{\"host\":\"n8n.example.com\",\"uri\":\"/\"},\"status\":502}",
        1,
        "caddy-upstream-down",
        None,
    ),
    (
        "caddy",
        "{\"level\":\"error\",\"ts\":1771233300.2,\"logger\":\"http.log.error\",\"msg\":\"dial tcp: lookup n8n on 127.0.0.11:53: no such host\",\"status\":502}",
        1,
        "caddy-upstream-down",
        None,
    ),
    (
        "caddy",
        "Error: adapting config using caddyfile: /etc/caddy/Caddyfile:18: unrecognized directive: reverse_prox",
        1,
        "caddy-caddyfile-invalid",
        None,
    ),
    // n8n
    (
        "n8n",
        "User settings loaded from: /home/node/.n8n/config\nError: Mismatching encryption keys. The encryption key in the settings file /home/node/.n8n/config does not match the N8N_ENCRYPTION_KEY env var. Please make sure both keys match.",
        2,
        "n8n-encryption-key-mismatch",
        None,
    ),
    (
        "n8n",
        "Credentials could not be decrypted. The likely reason is that a different \"encryptionKey\" was used to encrypt the data.",
        1,
        "n8n-credentials-undecryptable",
        None,
    ),
    (
        "n8n",
        "Error: EACCES: permission denied, open '/home/node/.n8n/config'",
        1,
        "n8n-data-permission",
        Some("VP103"),
    ),
    (
        "n8n",
        "Origin header does NOT match the expected origin. (Origin: \"https://n8n.example.com\" -> \"n8n.example.com\", Expected: \"n8n:5678\" -> \"n8n:5678\", Protocol: \"https\")",
        1,
        "n8n-origin-mismatch",
        None,
    ),
    (
        "n8n",
        "n8n Task Broker's port 5679 is already in use. Do you have another instance of n8n running already?",
        1,
        "n8n-port-in-use",
        None,
    ),
    (
        "n8n",
        "Task request timed out\nError: Task request timed out after 60 seconds",
        1,
        "n8n-task-runner-timeout",
        None,
    ),
    (
        "n8n",
        "Last session crashed\nInitializing n8n process\nThere was an error initializing DB\nconnect ECONNREFUSED 172.20.2.5:5432",
        3,
        "n8n-database-init",
        None,
    ),
    // LiteLLM
    (
        "litellm",
        "Error: P1000: Authentication failed against database server at `postgresql`, the provided database credentials for `litellm` are not valid.",
        1,
        "litellm-database-password",
        None,
    ),
    (
        "litellm",
        "Error: P1001: Can't reach database server at `postgresql`:`5432`\n\nPlease make sure your database server is running at `postgresql`:`5432`.",
        1,
        "litellm-database-unreachable",
        None,
    ),
    (
        "litellm",
        "Error: P1003: Database `litellm` does not exist on the database server at `postgresql:5432`.",
        1,
        "litellm-database-missing",
        None,
    ),
    (
        "litellm",
        "LiteLLM Proxy: Database migration failed but continuing startup. Set --enforce_prisma_migration_check or ENFORCE_PRISMA_MIGRATION_CHECK=true to exit on failure.",
        1,
        "litellm-migration-failed",
        None,
    ),
    (
        "litellm",
        "prisma.errors.DataError: The column `requester_ip_address` does not exist in the current database.",
        1,
        "litellm-schema-out-of-date",
        None,
    ),
    (
        "litellm",
        "litellm.proxy.proxy_server.user_api_key_auth(): Exception occured - Authentication Error, Invalid proxy server token passed. Received API Key = sk-...a1b2",
        1,
        "litellm-invalid-key",
        None,
    ),
    (
        "litellm",
        "litellm.AuthenticationError: AnthropicException - {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}",
        1,
        "litellm-provider-key",
        None,
    ),
    (
        "litellm",
        "litellm.BadRequestError: Invalid model name passed in model=kimi-k2. Call `/v1/models` to view available models for your key.",
        1,
        "litellm-unknown-model",
        None,
    ),
    (
        "litellm",
        "litellm.BadRequestError: LLM Provider NOT provided. Pass in the LLM provider you are trying to call. You passed model=deepseek-chat",
        1,
        "litellm-provider-missing",
        None,
    ),
    (
        "litellm",
        "    from proxy_server import (\nModuleNotFoundError: No module named 'proxy_server'",
        2,
        "python-module-missing",
        None,
    ),
    // Grafana
    (
        "grafana",
        "GF_PATHS_DATA='/var/lib/grafana' is not writable.\nYou may have issues with file permissions, more information here: http://docs.grafana.org/installation/docker/#migrate-to-v51-or-later\nmkdir: can't create directory '/var/lib/grafana/plugins': Permission denied",
        1,
        "grafana-data-permission",
        Some("VP103"),
    ),
    (
        "grafana",
        "Error: ✗ service init failed: failed to check table existence: unable to open database file: permission denied",
        1,
        "grafana-data-permission",
        Some("VP103"),
    ),
    (
        "grafana",
        "Error: ✗ migration failed (id = add unique index alert_rule_version.rule_org_id_rule_uid_version): UNIQUE constraint failed: alert_rule_version.rule_org_id",
        1,
        "grafana-migration-failed",
        None,
    ),
    (
        "grafana",
        "logger=sqlstore t=2026-02-16T10:20:00.001Z level=error msg=\"failed to save session\" error=\"database is locked\"",
        1,
        "grafana-database-locked",
        None,
    ),
    (
        "grafana",
        "logger=provisioning t=2026-02-16T10:21:00.001Z level=error msg=\"Failed to provision data sources\" error=\"Datasource provisioning error: datasource.yaml config is invalid. Only one datasource per organization can be marked as default\"",
        1,
        "grafana-two-default-datasources",
        None,
    ),
    (
        "grafana",
        "Error: ✗ Datasource provisioning error: read /etc/grafana/provisioning/datasources/vpai.yaml: is a directory",
        1,
        "grafana-provisioning-error",
        None,
    ),
    (
        "grafana",
        "logger=authn.service t=2026-02-16T10:22:00.001Z level=info msg=\"Failed to authenticate request\" client=auth.client.form error=\"[password-auth.failed] failed to authenticate identity: [password.invalid] invalid password\"",
        1,
        "grafana-login-refused",
        None,
    ),
    (
        "grafana",
        "t=2026-02-16T10:22:00+0000 lvl=eror msg=\"Invalid username or password\" logger=context userId=0 orgId=0 uname= error=\"Invalid Username or Password\"",
        1,
        "grafana-login-refused",
        None,
    ),
    // Loki
    (
        "loki",
        "level=error ts=2026-02-16T10:23:00.001Z caller=log.go:223 msg=\"error running loki\" err=\"open /loki/tsdb-shipper-active/uploader/name: permission denied\"",
        1,
        "loki-data-permission",
        Some("VP103"),
    ),
    (
        "loki",
        "failed parsing config: /etc/loki/local-config.yaml: yaml: unmarshal errors:\n  line 38: field enforce_metric_name not found in type validation.plain",
        2,
        "loki-config-invalid",
        None,
    ),
    (
        "loki",
        "failed parsing config: /etc/loki/local-config.yaml: yaml: line 3: did not find expected key",
        1,
        "loki-config-invalid",
        None,
    ),
    (
        "loki",
        "level=error ts=2026-02-16T10:24:00.001Z caller=main.go:74 msg=\"validating config\" err=\"MULTIPLE CONFIG ERRORS FOUND, PLEASE READ CAREFULLY\\nCONFIG ERROR: schema v13 is required to store Structured Metadata and use native OTLP ingestion, your schema version is v11.\"",
        1,
        "loki-schema-too-old",
        None,
    ),
    (
        "loki",
        "CONFIG ERROR: `tsdb` index type is required to store Structured Metadata and use native OTLP ingestion, your index type is `boltdb-shipper` (defined in the `store` parameter of the schema_config).",
        1,
        "loki-schema-too-old",
        None,
    ),
    (
        "alloy",
        "ts=2026-02-16T10:25:00.001Z level=warn msg=\"error sending batch, will retry\" component_id=loki.write.default status=429 error=\"server returned HTTP status 429 Too Many Requests (429): Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '1203' lines totaling '1048576' bytes\"",
        1,
        "loki-ingestion-rate-limited",
        None,
    ),
    // VictoriaMetrics
    (
        "victoriametrics",
        "2026-02-16T10:26:00.001Z\tpanic\tVictoriaMetrics/lib/fs/fs.go:362\tFATAL: cannot create lock file: cannot acquire lock on file \"/storage/flock.lock\": resource temporarily unavailable; make sure a single process has exclusive access to \"/storage\"",
        1,
        "victoriametrics-lock-busy",
        None,
    ),
    (
        "alloy",
        "ts=2026-02-16T10:27:00.001Z level=error msg=\"non-recoverable error\" component_id=prometheus.remote_write.default err=\"server returned HTTP status 503 Service Unavailable: the storage is in read-only mode; check -storage.minFreeDiskSpaceBytes command-line flag value\"",
        1,
        "victoriametrics-read-only",
        None,
    ),
    // Alloy
    (
        "alloy",
        "Error: /etc/alloy/config.alloy:42:14: expected TERMINATOR, got =\n\nError: could not perform the initial load successfully",
        1,
        "alloy-config-invalid",
        None,
    ),
    (
        "alloy",
        "ts=2026-02-16T10:28:00.001Z level=error msg=\"failed to evaluate config\" node=loki.write.default\nError: could not perform the initial load successfully",
        2,
        "alloy-config-invalid",
        None,
    ),
    // cAdvisor
    (
        "cadvisor",
        "F0216 10:29:00.001001       1 cadvisor.go:146] Failed to create a Container Manager: mountpoint for cpu not found",
        1,
        "cadvisor-cgroups",
        None,
    ),
    (
        "cadvisor",
        "F0216 10:29:00.001001       1 cadvisor.go:156] Failed to start container manager: inotify_add_watch /sys/fs/cgroup/cpuacct,cpu: no such file or directory",
        1,
        "cadvisor-cgroups",
        None,
    ),
    // DIUN
    (
        "diun",
        "Mon, 16 Feb 2026 10:30:00 CET FTL Cannot load configuration error=\"At least one provider is required\"",
        1,
        "diun-config-invalid",
        None,
    ),
    (
        "diun",
        "Mon, 16 Feb 2026 12:00:05 CET ERR telegram notification failed error=\"Bad Request: chat not found\" image=n8nio/n8n:2.8.0",
        1,
        "diun-telegram-failed",
        None,
    ),
    // OpenClaw
    (
        "openclaw",
        "Gateway failed to start: Error: Invalid config: hooks.token must not match gateway auth token. Set a distinct hooks.token for hook ingress.",
        1,
        "openclaw-invalid-config",
        Some("VP622"),
    ),
    (
        "openclaw",
        "Gateway start blocked: set gateway.mode=local (current: unset) or pass --allow-unconfigured",
        1,
        "openclaw-gateway-not-configured",
        None,
    ),
    (
        "openclaw",
        "10:31:00 [ws] unauthorized conn=7f3c reason=gateway token mismatch (open the dashboard URL and paste the token in Control UI settings)",
        1,
        "openclaw-gateway-token",
        None,
    ),
    (
        "openclaw",
        "10:31:01 [ws] unauthorized conn=7f3d reason=gateway token missing",
        1,
        "openclaw-gateway-token",
        None,
    ),
    (
        "openclaw",
        "10:31:02 [ws] closed before connect conn=7f3e code=1008 reason=pairing required",
        1,
        "openclaw-pairing-required",
        None,
    ),
    (
        "openclaw",
        "10:31:03 [telegram] [default] channel exited: Call to 'getMe' failed! (401: Unauthorized)",
        1,
        "telegram-bot-token-refused",
        None,
    ),
    (
        "openclaw",
        "10:31:04 [telegram] polling error: Call to 'getUpdates' failed! (409: Conflict: terminated by other getUpdates request; make sure that only one bot instance is running)",
        1,
        "telegram-polling-conflict",
        None,
    ),
    (
        "openclaw",
        "Error: EACCES: permission denied, mkdir '/home/node/.openclaw/agents/concierge/sessions'",
        1,
        "openclaw-state-permission",
        Some("VP103"),
    ),
    // Any container
    (
        "alloy",
        "ts=2026-02-16T10:32:00.001Z level=error component_id=discovery.docker.containers msg=\"Unable to refresh target groups\" err=\"permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \\\"http://%2Fvar%2Frun%2Fdocker.sock/v1.47/containers/json\\\": dial unix /var/run/docker.sock: connect: permission denied\"",
        1,
        "docker-socket-permission",
        Some("VP104"),
    ),
    (
        "loki",
        "failed parsing config: open /etc/loki/local-config.yaml: permission denied",
        1,
        "config-permission",
        Some("VP411"),
    ),
    (
        "redis",
        "Fatal error, can't open config file '/usr/local/etc/redis/redis.conf': Permission denied",
        1,
        "config-permission",
        Some("VP411"),
    ),
    (
        "caddy",
        "Error: loading initial config: loading new config: http app module: start: listening on :443: listen tcp :443: bind: permission denied",
        1,
        "bind-port-denied",
        Some("VP103"),
    ),
    (
        "diun",
        "Mon, 16 Feb 2026 10:33:00 CET ERR Cannot create Docker client error=\"Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\" provider=docker",
        1,
        "docker-daemon-unreachable",
        None,
    ),
    (
        "deploy",
        "Error response from daemon: driver failed programming external connectivity on endpoint javisi_caddy (5d1c): Bind for 0.0.0.0:443 failed: port is already allocated",
        1,
        "port-in-use",
        None,
    ),
    (
        "caddy",
        "Error: loading initial config: loading new config: http app module: start: listening on :80: listen tcp :80: bind: address already in use",
        1,
        "port-in-use",
        None,
    ),
    (
        "n8n",
        "exec /sbin/tini: exec format error",
        1,
        "exec-format-error",
        None,
    ),
    (
        "deploy",
        "Error response from daemon: failed to create task for container: OCI runtime create failed: error mounting \"/opt/javisi/configs/caddy/Caddyfile\" to rootfs at \"/etc/caddy/Caddyfile\": not a directory: unknown: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type",
        1,
        "mount-type-mismatch",
        None,
    ),
    (
        "caddy",
        "Error: reading config from file: read /etc/caddy/Caddyfile: is a directory",
        1,
        "mount-type-mismatch",
        None,
    ),
    (
        "litellm",
        "IsADirectoryError: [Errno 21] Is a directory: '/app/config.yaml'",
        1,
        "mount-type-mismatch",
        None,
    ),
    (
        "openclaw",
        "Error: EISDIR: illegal operation on a directory, read",
        1,
        "mount-type-mismatch",
        None,
    ),
    (
        "loki",
        "level=error ts=2026-02-16T10:34:00.001Z caller=flush.go:143 msg=\"failed to flush\" err=\"write /loki/chunks/ZmFrZS8x: no space left on device\"",
        1,
        "disk-full",
        None,
    ),
    (
        "alloy",
        "ts=2026-02-16T10:35:00.001Z level=warn msg=\"error sending batch, will retry\" component_id=loki.write.default status=-1 error=\"Post \\\"http://loki:3100/loki/api/v1/push\\\": dial tcp: lookup loki on 127.0.0.11:53: no such host\"",
        1,
        "container-name-unresolved",
        None,
    ),
    (
        "grafana",
        "logger=tsdb.prometheus t=2026-02-16T10:35:01.001Z level=error msg=\"Query error\" error=\"dial tcp: lookup victoriametrics on 127.0.0.11:53: server misbehaving\"",
        1,
        "container-name-unresolved",
        None,
    ),
    (
        "n8n",
        "Error: getaddrinfo ENOTFOUND postgresql",
        1,
        "container-name-unresolved",
        None,
    ),
    (
        "litellm",
        "httpx.ConnectError: [Errno -3] Temporary failure in name resolution",
        1,
        "container-name-unresolved",
        None,
    ),
    (
        "deploy",
        "psql: error: could not translate host name \"postgresql\" to address: Name or service not known",
        1,
        "container-name-unresolved",
        None,
    ),
    (
        "qdrant",
        "2026-02-16T10:36:00.001Z ERROR qdrant::startup: Panic occurred in file lib/segment/src/segment_constructor/segment_constructor_base.rs at line 512: Too many open files (os error 24)",
        1,
        "too-many-open-files",
        None,
    ),
    (
        "victoriametrics",
        "flag provided but not defined: -retentionPeriodd",
        1,
        "unknown-flag",
        None,
    ),
    (
        "alloy",
        "Error: unknown flag: --server.http.listen-adress",
        1,
        "unknown-flag",
        None,
    ),
    (
        "diun",
        "Mon, 16 Feb 2026 12:00:03 CET ERR Cannot get remote manifest error=\"toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading\" image=n8nio/n8n:2.7.3",
        1,
        "registry-rate-limited",
        None,
    ),
    (
        "compose",
        "yaml: line 12: did not find expected key",
        1,
        "yaml-syntax",
        Some("VP404"),
    ),
    (
        "grafana",
        "logger=provisioning.alerting t=2026-02-16T10:37:00.001Z level=error msg=\"can't read alerting provisioning files\" error=\"failure to parse file vpai.yaml: yaml: line 3: mapping values are not allowed in this context\"",
        1,
        "yaml-syntax",
        Some("VP404"),
    ),
    (
        "litellm",
        "yaml.scanner.ScannerError: mapping values are not allowed here\n  in \"/app/config.yaml\", line 7, column 12",
        1,
        "yaml-syntax",
        Some("VP404"),
    ),
    (
        "litellm",
        "yaml.parser.ParserError: while parsing a block mapping\n  in \"/app/config.yaml\", line 3, column 1",
        1,
        "yaml-syntax",
        Some("VP404"),
    ),
    (
        "openclaw",
        "<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        2,
        "node-heap-exhausted",
        None,
    ),
    (
        "litellm",
        "[2026-02-16 10:38:00 +0000] [1] [ERROR] Worker (pid:12) was sent SIGKILL! Perhaps out of memory?",
        1,
        "worker-oom-killed",
        Some("VP107"),
    ),
];

/// Each failure message is recognised in the middle of the service's normal lines, on
/// its own line, with one explanation for that line only.
#[test]
fn each_service_failure_is_recognised_among_healthy_lines() {
    for (service, excerpt, at, symptom, rule) in FAILURES {
        let before = healthy(service);
        let logs = format!("{before}\n{excerpt}\n{}\n", healthy(service));
        let line = before.lines().count() + at;
        let found = diagnose(service, &logs);
        let d = found
            .iter()
            .find(|d| d.symptom == *symptom)
            .unwrap_or_else(|| {
                panic!("{symptom} not found for {service} in {excerpt:?}: {found:?}")
            });
        assert_eq!(d.line, line, "{symptom}: {found:?}");
        assert_eq!(d.rule.as_deref(), *rule, "{symptom}");
        assert!(!d.cause.is_empty() && !d.fix.is_empty(), "{symptom}");
        assert_eq!(
            found.iter().filter(|d| d.line == line).count(),
            1,
            "{symptom}: one explanation per line: {found:?}"
        );
    }
}

/// A generic signature does not repeat, with a wrong cause, a line a specific one
/// explained: the Docker socket is not a data directory.
#[test]
fn a_line_gets_the_most_specific_explanation_only() {
    let logs = "err=\"permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock\"";
    let found = diagnose("alloy", logs);
    let symptoms: Vec<&str> = found.iter().map(|d| d.symptom.as_str()).collect();
    assert_eq!(symptoms, ["docker-socket-permission"]);
    // The Caddyfile's heredoc trap keeps its own explanation, not the generic one.
    let found = diagnose(
        "caddy",
        "Error: adapting config using caddyfile: /etc/caddy/Caddyfile:42: unrecognized directive: 200",
    );
    let symptoms: Vec<&str> = found.iter().map(|d| d.symptom.as_str()).collect();
    assert_eq!(symptoms, ["caddy-heredoc-status"]);
}

/// Service-scoped signatures stay in their service: a YAML escape in another service's
/// logs is not blamed on diun.yml, nor an SQLite lock elsewhere on Grafana.
#[test]
fn service_scoped_signatures_stay_in_their_service() {
    let found = diagnose("loki", "yaml line 12: unknown escape character 'd'");
    assert_eq!(found[0].symptom, "yaml-escape");
    assert!(diagnose("n8n", "SQLITE_BUSY: database is locked").is_empty());
    assert!(diagnose("n8n", "pairing required").is_empty());
}
