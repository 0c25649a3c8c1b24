//! The rule registry: every trap from the seeds that a file can show, as data.
//!
//! A rule's id (`VP101`) and name (`healthcheck-localhost`) are stable: operators
//! write them in `--allow` and CI configurations. The text here is what
//! `vpai check --explain RULE` prints; the checks in `checks/` only decide where.
//!
//! Severity policy: `error` only when the file is certainly broken or insecure as
//! written; what depends on the host, the image build or the intent is a warning
//! (a check may lower one finding of an error rule to a warning), and what vpai
//! knows to be fine is not reported. Every `--explain` says when the rule is a
//! false alarm and how to silence it (`--allow RULE`).

use serde::Serialize;

/// How bad a finding is. `Error` stops `vpai up`; `Warning` is printed and let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What we know about one rule.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// One line, shown in listings.
    pub summary: &'static str,
    /// Why it breaks, in a few sentences (`--explain`).
    pub explanation: &'static str,
    /// Where the seeds tell the incident (`seed 000 #22`, `seed 001 §6.2.1`): for our
    /// traceability only, never printed (operators read the rule id and `--explain`).
    #[serde(skip)]
    pub seed: &'static str,
    /// What to do instead.
    pub fix: &'static str,
    /// `vpai check --fix` can apply the fix by itself.
    pub autofix: bool,
}

macro_rules! rules {
    ($( $konst:ident = $id:literal $name:literal $sev:ident $autofix:literal
        summary: $summary:literal
        seed: $seed:literal
        explanation: $expl:literal
        fix: $fix:literal ; )*) => {
        $( pub const $konst: &Rule = &Rule {
            id: $id, name: $name, severity: Severity::$sev, summary: $summary,
            explanation: $expl, seed: $seed, fix: $fix, autofix: $autofix,
        }; )*
        /// Every rule, in id order.
        pub const ALL: &[&Rule] = &[$($konst),*];
    };
}

rules! {
    HEALTHCHECK_LOCALHOST = "VP101" "healthcheck-localhost" Error true
        summary: "healthcheck targets `localhost` with a client that may not fall back to IPv4"
        seed: "seed 000 #22, seed 001 §2.1"
        explanation: "`localhost` resolves to `::1` and `127.0.0.1`. BusyBox `wget` and `nc` (Alpine and BusyBox images) and Node before 20 try `[::1]` only; when the service listens on IPv4 only, the healthcheck fails with `connection refused [::1]:PORT` although the service is up, the container stays `unhealthy`, and everything that depends on it waits forever. Clients that try every address are not reported: `pg_isready`/libpq, `redis-cli`, `curl`, GNU `wget` (Debian/Ubuntu images), Python, `mc`, bash's `/dev/tcp`. An error only for an image of vpai's catalog whose client is BusyBox's (VictoriaMetrics: the seeds' incident); a warning elsewhere, since vpai cannot see which addresses the service listens on. False alarm when the service also listens on `::1` (dual-stack, `listen_addresses='*'`)."
        fix: "use `127.0.0.1` instead of `localhost` in every healthcheck";
    HEALTHCHECK_MISSING_BINARY = "VP102" "healthcheck-missing-binary" Error false
        summary: "healthcheck runs a program the image does not contain"
        seed: "seed 000 #11 #23 #25 #26, seed 001 §2.1 §7.1"
        explanation: "Many images ship without wget or curl (Qdrant, LiteLLM, Alloy) and distroless images (Loki) have no shell at all, so `CMD-SHELL` cannot even start. Docker reports `executable file not found in $PATH` and the container is never healthy."
        fix: "use a program the image has: `bash -c ':> /dev/tcp/127.0.0.1/PORT'` (Qdrant), `loki -health` (Loki), `python -c \"import urllib.request; ...\"` (LiteLLM), `caddy version` (Caddy), `kill -0 1` in a shell (Alloy)";
    CAP_DROP_BLOCKS_WRITES = "VP103" "cap-drop-all-blocks-writes" Error false
        summary: "`cap_drop: ALL` without the capabilities the service needs to write its mounts"
        seed: "seed 000 #8 #10 #15 #17 #18, seed 001 §2.3"
        explanation: "With `cap_drop: ALL`, even root inside the container loses DAC_OVERRIDE and FOWNER: it can no longer write a bind mount it does not own or chmod its data directory. PostgreSQL fails with `chmod: Operation not permitted`, Qdrant with `PermissionDenied` on snapshots/tmp, VictoriaMetrics on `/storage/flock.lock`, Loki on `/loki`, Caddy on its log file. An error when vpai's catalog says the image needs the capability whatever owns its mounts (PostgreSQL's entrypoint chowns its data and switches user); a warning when it needs it only for a host directory another user owns and the service bind-mounts one; nothing for named volumes (the engine creates them for root), for a process that is not root (`user:`: capabilities never reach it, the directory must belong to its UID) or for an entrypoint that manages owners itself (`cap_add: [CHOWN, SETUID, SETGID]`)."
        fix: "add back the capabilities the service needs (`cap_add: [DAC_OVERRIDE, FOWNER]` for a process that writes mounts it does not own), or run it as the UID that owns its data";
    DOCKER_SOCKET_GROUP = "VP104" "docker-socket-without-group-add" Error false
        summary: "Docker socket mounted for a non-root user without `group_add`"
        seed: "seed 001 §11.13"
        explanation: "`/var/run/docker.sock` belongs to root and the host's `docker` group (GID varies by distribution). A process running as a non-root UID inside the container cannot open it unless the container is given that group: OpenClaw sub-agents then fail with `spawn docker EACCES`."
        fix: "add `group_add: [\"<GID of the docker group on the host>\"]` (`getent group docker`)";
    DUPLICATE_SERVICE = "VP105" "service-in-two-compose-files" Error false
        summary: "the same service is defined in two compose files of one host"
        seed: "seed 000 #16, seed 001 §2.2"
        explanation: "When phase B's file also defines the infra services, `docker compose up` of phase B tries to recreate PostgreSQL, Redis, Qdrant and Caddy that phase A owns, and handlers restart them through the wrong file (`no such service`). Reported when the files run side by side: each has its own project `name:`, or one `include:`s the other. Files of one directory that share a project are alternatives of each other (a queue-mode variant) or phases of one project, which VP106 warns about."
        fix: "define each service in exactly one file: data stores and the proxy in `docker-compose-infra.yml`, applications in `docker-compose.yml`";
    SHARED_PROJECT_NAME = "VP106" "compose-files-share-project" Warning false
        summary: "two compose files of one host share a compose project name"
        seed: "seed 001 §2.2, seeds README (later facts)"
        explanation: "Compose names a project after `name:` or, without it, after the directory. Two files in one project see each other's containers as orphans: `up --remove-orphans` on one phase removes the other phase's containers. False alarm when the files are alternatives (you run one or the other)."
        fix: "give each file its own top-level `name:` (for example `<project>-infra` and `<project>`)";
    MEMORY_BELOW_FLOOR = "VP107" "memory-below-floor" Error false
        summary: "memory limit below what the service is known to need"
        seed: "seed 001 §10.2 §11.2"
        explanation: "Below its floor the service is OOM-killed or crash-loops under normal load: LiteLLM needs 1024M with its database, cache and routing; OpenClaw's gateway needs 1536M."
        fix: "raise `mem_limit` / `deploy.resources.limits.memory` to at least the floor";
    OPENCLAW_INIT = "VP108" "missing-init" Error false
        summary: "service needs `init: true`"
        seed: "seed 001 §11.2"
        explanation: "OpenClaw's Node.js gateway spawns child processes and does not reap them nor forward signals as PID 1; without an init process zombies pile up and `docker stop` waits for the kill timeout."
        fix: "add `init: true` to the service";
    PG18_DATA_PATH = "VP201" "pg18-data-mount-path" Error false
        summary: "PostgreSQL 18+ data mounted at `/var/lib/postgresql/data`"
        seed: "seed 000 #8, seed 001 §3.1"
        explanation: "From PostgreSQL 18 the official image keeps its data in `/var/lib/postgresql/<major>/docker` and declares `/var/lib/postgresql` as the volume. A mount at the old path `/var/lib/postgresql/data` is refused by the entrypoint or leaves the real data in an anonymous volume that disappears with the container."
        fix: "mount the data directory at `/var/lib/postgresql`";
    PG_LOCALE = "VP202" "pg-initdb-locale-missing" Error false
        summary: "initdb locale that the image does not have"
        seed: "seed 000 #9, seed 001 §3.1"
        explanation: "The official PostgreSQL image only generates `en_US.UTF-8` (and C). `initdb` with `--locale=fr_FR.UTF-8` or `LANG=fr_FR.UTF-8` stops with `invalid locale name` and the container crash-loops before the database exists."
        fix: "use ICU collation: `POSTGRES_INITDB_ARGS=--locale-provider=icu --icu-locale=fr-FR --locale=C`";
    PG_LOGGING_COLLECTOR = "VP203" "pg-logging-collector-on" Error false
        summary: "`logging_collector = on` in a container"
        seed: "seed 000 #9, seed 001 §3.1"
        explanation: "The logging collector writes files under a log directory that does not exist in the container, and Docker already captures stderr; PostgreSQL crash-loops at start."
        fix: "set `logging_collector = off` and let Docker collect the logs";
    REDIS_RENAME_COMMAND = "VP211" "redis-rename-command" Error true
        summary: "`rename-command` in a Redis 8 configuration"
        seed: "seed 000 #13, seed 001 §4.1"
        explanation: "`rename-command` was deprecated in Redis 7 and Redis 8 refuses to start with it. Dangerous commands are denied with ACL rules instead."
        fix: "delete the `rename-command` lines and deny the commands with ACLs (`user app ... -flushall -flushdb`)";
    REDIS_PASSWORD_EXPOSED = "VP212" "redis-password-on-command-line" Error false
        summary: "Redis password in a healthcheck or a command line"
        seed: "seed 001 §4, issue 3"
        explanation: "Arguments of the command and of the healthcheck are visible to anyone who can run `ps` on the host, and `redis-cli -a` prints a warning on every check. An error when the password is written in the file (it is also in `docker inspect`); a warning for `${VAR}`, which Compose interpolates into `docker inspect`, and for `$$VAR`, which the container's shell expands (on the process list while the command runs, nowhere else)."
        fix: "keep the password in redis.conf or an ACL file; let the healthcheck use an ACL user that may only PING, or `REDISCLI_AUTH` from the environment";
    QDRANT_CONFIG_PATH = "VP221" "qdrant-config-path" Error false
        summary: "Qdrant configuration mounted where Qdrant does not read it"
        seed: "seed 000 #12, seed 001 §5.1"
        explanation: "Qdrant reads `config/config.yaml` from the image and then `config/production.yaml` (or the file named by `--config-path`). A file mounted as `/qdrant/config/config.yaml` replaces the defaults or is ignored; the settings silently do not apply."
        fix: "mount the file at `/qdrant/config/production.yaml:ro`";
    CADDY_HEALTHCHECK = "VP301" "caddy-healthcheck-through-site" Error false
        summary: "Caddy healthcheck through a Host-matched site or the admin API"
        seed: "seed 000 #14 #21, seed 001 §6.1"
        explanation: "Inside the container the request's Host is `localhost` or `127.0.0.1`, which matches no site block, so `/health` on port 80 answers nothing useful and Caddy stays `unhealthy` while it serves traffic. A healthcheck on the admin API (`127.0.0.1:2019`) works while the API stays on its default address; it is reported when the Caddyfile turns it off (`admin off`), moves it, or `CADDY_ADMIN` does. With BusyBox `wget`, `localhost:2019` may try `::1` only: that is VP101."
        fix: "use `test: [\"CMD\", \"caddy\", \"version\"]`";
    CADDY_HEREDOC_STATUS = "VP302" "caddy-heredoc-status" Error true
        summary: "heredoc `respond` whose status code is not on the closing marker's line"
        seed: "seed 001 §6.2.1"
        explanation: "In `respond <<MARKER ... MARKER`, the status must follow the closing marker on the same line. A status on the next line is parsed as a directive: Caddy crash-loops with `unrecognized directive: 200`."
        fix: "write `MARKER 200` on one line";
    CADDY_HANDLE_RESPONSE = "VP303" "caddy-handle-response-for-down-backend" Warning false
        summary: "`handle_response` used to catch a backend that is down"
        seed: "seed 001 §12.7"
        explanation: "`handle_response` only sees responses the upstream sent. When the backend is stopped there is no response but a proxy error, which only `handle_errors` catches; the fallback page never shows."
        fix: "move the 502/503 handling to a site-level `handle_errors` block with `expression {http.error.status_code} in [502, 503]`";
    CADDY_DOUBLE_HANDLE_ERRORS = "VP304" "caddy-two-handle-errors" Error false
        summary: "two `handle_errors` blocks at one level"
        seed: "seed 001 §12.8"
        explanation: "A site may have one `handle_errors` per level; a second one, often brought in by `import` of a snippet, conflicts with the first and the site's error handling breaks."
        fix: "merge them into one `handle_errors` with named matchers and a fallback `respond`";
    CADDY_RATE_LIMIT = "VP305" "caddy-rate-limit-stock-image" Error false
        summary: "`rate_limit` on a stock Caddy image"
        seed: "seed 001 §6.1"
        explanation: "`rate_limit` comes from a plugin that the official `caddy` images do not include: Caddy refuses the Caddyfile with `unrecognized directive: rate_limit`."
        fix: "remove the directive, or build a custom image with `xcaddy build --with github.com/mholt/caddy-ratelimit`";
    CADDY_WEBSOCKET_H1 = "VP306" "caddy-websocket-without-http1" Warning false
        summary: "WebSocket upstream proxied over a transport that may use HTTP/2"
        seed: "seed 001 §11.2b"
        explanation: "Over HTTP/2 the `Upgrade: websocket` header is ignored: Caddy answers 200 instead of 101 and the client (OpenClaw's Control UI, n8n's editor push) stays offline. Caddy speaks HTTP/1.1 to a cleartext upstream by default and passes the upgrade through, so a bare `reverse_proxy n8n:5678` is not reported; it is when the transport forces HTTP/2 (`versions 2`, `h2c://`), uses TLS to the upstream, or the upstream is one the catalog lists as seen offline behind a bare proxy (OpenClaw)."
        fix: "add `transport http { versions 1.1 }` inside that `reverse_proxy`";
    CADDY_GRAFANA_STRIP = "VP307" "caddy-grafana-strip-prefix" Error false
        summary: "Grafana on a sub-path with the prefix stripped"
        seed: "seed 001 §6.4"
        explanation: "With `GF_SERVER_SERVE_FROM_SUB_PATH=true` Grafana expects to see its prefix; `handle_path` or `uri strip_prefix` removes it and Grafana redirects back to it, forever."
        fix: "use `handle /grafana*` (not `handle_path`) and no `strip_prefix`; better, give Grafana its own subdomain";
    CADDY_VPN_ACL_CIDR = "VP308" "caddy-vpn-acl-without-docker-cidr" Warning false
        summary: "VPN ACL does not allow the Docker frontend network"
        seed: "seed 001 §6.2"
        explanation: "HTTP/3 (QUIC over UDP) connections are DNATed by Docker and reach Caddy from the frontend bridge gateway (for example 172.20.1.1), not from the VPN address: a `client_ip` allow-list with only the VPN range blocks VPN users whose browser picked HTTP/3."
        fix: "add the Docker frontend CIDR (for example `172.20.1.0/24`) next to the VPN range in the matcher, knowing that any connection Docker proxies then passes the ACL; or turn HTTP/3 off (`servers { protocols h1 h2 }` in the global options), as vpai does for VPN-only sites";
    CADDY_TRUSTED_PROXIES = "VP309" "caddy-client-ip-without-trusted-proxies" Warning false
        summary: "`client_ip` matcher without `trusted_proxies`"
        seed: "seeds README (later facts), seed 001 §6.2"
        explanation: "Without `trusted_proxies` in the global `servers` options, `client_ip` is the direct peer; behind a relay or load balancer every request has the relay's address and the VPN ACL either blocks everyone or lets everyone through."
        fix: "declare the relays in `servers { trusted_proxies static <CIDR...> }`, or match on `remote_ip` if there is no relay";
    YAML_ESCAPE = "VP401" "yaml-invalid-escape" Error true
        summary: "double-quoted YAML string with an invalid escape"
        seed: "seed 000 #19"
        explanation: "In double quotes YAML interprets backslashes: `\"^\\d+\"` is a syntax error (`unknown escape character 'd'`), so the whole file is refused. Regexes and Windows paths must be single-quoted."
        fix: "use single quotes: `'^\\d+\\.\\d+'`";
    CRLF = "VP402" "crlf-line-endings" Error true
        summary: "CRLF line endings"
        seed: "seed 000 #9, seed 001 §1.1"
        explanation: "Files edited on Windows keep `\\r\\n`; linters refuse them, shells read `\\r` as part of the last word, and PostgreSQL reads it as part of the value."
        fix: "convert to LF (`sed -i 's/\\r$//'`)";
    NON_UTF8 = "VP403" "non-utf8-bytes" Error true
        summary: "bytes that are not UTF-8 (Windows-1252)"
        seed: "seed 000 #9, seed 001 §1.1"
        explanation: "An em dash saved as Windows-1252 is the single byte 0x97, which is invalid UTF-8: YAML tools crash with `UnicodeDecodeError` and PostgreSQL refuses the configuration file."
        fix: "re-encode the file as UTF-8";
    YAML_SYNTAX = "VP404" "yaml-syntax" Error false
        summary: "the YAML document cannot be parsed"
        seed: "seed 000 #19, seed 001 §1.1"
        explanation: "A file that does not parse is refused as a whole by the service or by Docker Compose, usually at the worst moment (container start)."
        fix: "fix the syntax at the position shown";
    CONFIG_UNREADABLE = "VP411" "config-unreadable-by-container" Error false
        summary: "configuration file that the container's user cannot read"
        seed: "seed 000 #20"
        explanation: "A file mounted read-only keeps its host owner and mode. With mode 0600 and an owner other than the container's UID, the process gets `PermissionError` (LiteLLM on `/app/config.yaml`). Note that `cap_drop: ALL` takes DAC_OVERRIDE from root too."
        fix: "give the file to the container's UID and GID with mode 0640 (not 0644: see VP412)";
    SECRET_WORLD_READABLE = "VP412" "secret-world-readable" Error false
        summary: "file holding secrets is readable by every user on the host"
        seed: "seed 000 #20 (its 0644 fix), seed 003 §3"
        explanation: "Env files and configs with passwords must not be world-readable: any local user or compromised process can read every credential of the stack. The seeds' quick fix for #20, mode 0644, is exactly that. vpai judges the mode it can see: an error for files it renders and files under a vpai project root (the copy the host uses); a warning elsewhere: in a git checkout (git records only 644 and 755), in a copy another tool rendered (it may write the deployed one 0600), and for files whose secrets are all placeholders (`change-me`, `your-key`); nothing for templates (`.env.example`, `*.sample`, `*.dist`, `*.template`). False alarm when the file on the host is written with mode 0600 by another tool (Ansible `mode:`)."
        fix: "mode 0600 for env files (read by the Docker daemon as root), 0640 owned by the container's UID:GID for mounted configs";
    LOKI_TARGET_ALL = "VP501" "loki-missing-target-all" Error false
        summary: "Loki monolithic without `-target=all`"
        seed: "seed 000 #24, seed 001 §7.2"
        explanation: "Loki 3.x initialises the memberlist module even with the `inmemory` kvstore (bug #19381); without an explicit `-target=all` the ingester never joins the ring and queries fail with `empty ring`."
        fix: "add `-target=all` to the command";
    LOKI_RING = "VP502" "loki-ring-not-inmemory" Error false
        summary: "Loki monolithic ring not pinned to `inmemory` with an empty memberlist"
        seed: "seed 000 #24, seed 001 §7.2"
        explanation: "A single Loki needs `kvstore.store: inmemory` in `common.ring` and in `ingester.lifecycler.ring`, `replication_factor: 1`, and `memberlist.join_members: []`; otherwise it logs `empty ring` in a loop."
        fix: "set the ring as shown and `memberlist: { join_members: [] }`";
    GRAFANA_PG_USER = "VP511" "grafana-postgres-datasource-user" Error false
        summary: "Grafana PostgreSQL datasource without a root-level `user`"
        seed: "seed 001 §8.5"
        explanation: "Grafana 12's PostgreSQL plugin reads the user only at the root of the datasource; in `jsonData` or `secureJsonData` it is ignored and every query fails with `no PostgreSQL user name specified in startup packet`."
        fix: "put `user:` at the root of the datasource; only `password` goes in `secureJsonData`";
    N8N_SUB_PATH = "VP601" "n8n-sub-path" Error false
        summary: "n8n served on a sub-path"
        seed: "seed 001 §9.1 §6.3"
        explanation: "n8n serves its editor and API at the root unless `N8N_PATH` tells it its prefix (n8n issue #19635): a proxy route that strips a prefix n8n was not told about, a prefix that `N8N_PATH` does not match, or a route that forwards `/prefix/...` unchanged leaves the editor without its assets and webhooks with wrong URLs. A `handle` on n8n's own routes (`/webhook/*`, `/form/*`, `/rest/*`, `/api/*`, `/mcp/*`) forwards n8n's own paths and is not reported. `N8N_PATH` alone is a warning: n8n's sub-folder setup works when the proxy strips exactly that prefix, which vpai checks when the Caddyfile is in the set."
        fix: "give n8n its own subdomain and leave `N8N_PATH` unset, or set `N8N_PATH` to the prefix the proxy strips";
    N8N_PROXY_HOPS = "VP602" "n8n-missing-proxy-hops" Warning false
        summary: "n8n behind a proxy without `N8N_PROXY_HOPS`"
        seed: "seed 001 §10.6"
        explanation: "Caddy adds `X-Forwarded-For` but Express trusts no proxy by default: n8n logs `ERR_ERL_UNEXPECTED_X_FORWARDED_FOR` continuously and rate limiting keys every client by the proxy's address. Reported for a process a proxy routes to: a Caddyfile of the set proxies to it, its labels configure Traefik or caddy-docker-proxy, it sets `VIRTUAL_HOST`, or its public URL (`WEBHOOK_URL`) is https; queue workers and one-shot imports see no forwarded request."
        fix: "set `N8N_PROXY_HOPS=1` (one hop: Caddy)";
    LITELLM_HEALTH_CHECKS = "VP611" "litellm-background-health-checks" Error true
        summary: "LiteLLM background model health checks are on"
        seed: "seed 001 §10.4, seeds README (later facts)"
        explanation: "With `general_settings.background_health_checks: true`, LiteLLM calls every configured model in the background (every ~38 s by default), and `health_check_interval: 0` does not disable it: it is read as an interval of 0 s. One paid model cost $11.64 in 16 h, ~2,500 calls per model per day. LiteLLM reads a missing key as `false`: the loop is opt-in, so a config without the key is not reported, and one that sets `health_check_interval` without the key is a warning (ambiguous intent)."
        fix: "remove `health_check_interval` and set `general_settings: { background_health_checks: false }`";
    LITELLM_HEALTH_ENDPOINT = "VP612" "litellm-healthcheck-calls-models" Error true
        summary: "LiteLLM container healthcheck on `/health`"
        seed: "seeds README (later facts), seed 001 §10.2"
        explanation: "`/health` calls every configured model (and needs the master key); as a container healthcheck it spends money every interval. `/health/readiness` checks the proxy and its database only."
        fix: "use `/health/readiness` (or `/health/liveliness`)";
    LITELLM_MAX_TOKENS = "VP613" "litellm-openrouter-max-tokens" Warning false
        summary: "OpenRouter model without `max_tokens`"
        seed: "seed 001 §10.5"
        explanation: "OpenRouter bills the reservation, not the consumption: without `max_tokens` LiteLLM sends the model's default (16000 for some), and requests fail with 402 `not enough credits` long before the balance is used."
        fix: "add `max_tokens: 4096` to the model's `litellm_params`";
    LITELLM_FALLBACKS = "VP614" "litellm-fallbacks-shape" Error false
        summary: "LiteLLM `fallbacks` in the wrong shape"
        seed: "seed 001 §10.1"
        explanation: "`fallbacks` is a list of one-key maps from a model name to a list of fallback names: `[{\"gpt-4o\": [\"claude-sonnet\"]}]`. Other shapes are ignored or refused at start."
        fix: "write `fallbacks: [{\"<model_name>\": [\"<fallback>\", ...]}]`";
    LITELLM_CLEAR_SECRET = "VP615" "litellm-secret-in-clear" Error false
        summary: "secret written in clear in the LiteLLM configuration"
        seed: "seed 001 §10.1"
        explanation: "Keys in `config.yaml` end up in backups, diffs and support bundles. LiteLLM reads `os.environ/NAME` references from its environment instead. Obvious stand-ins (`not-needed`, `sk-no-auth`, `dummy`, `<key>`) for a server without authentication are not reported: OpenAI-compatible clients need some key."
        fix: "write `os.environ/NAME` and put the value in the service's env file";
    OPENCLAW_UNKNOWN_KEY = "VP621" "openclaw-unknown-key" Error false
        summary: "OpenClaw configuration key that this version refuses"
        seed: "seed 001 §11.3 §11.4 §11.19"
        explanation: "OpenClaw validates `openclaw.json` strictly and crash-loops on an unknown key (`heartbeat`, `tools.web.fetch.readability`, `channels.telegram.token`) or on a shape it does not support (`cron` as an array)."
        fix: "remove the key (use n8n's cron for schedules; the Telegram key is `botToken`)";
    OPENCLAW_INVALID_VALUE = "VP622" "openclaw-invalid-value" Error false
        summary: "OpenClaw configuration value of the wrong type or outside its choices"
        seed: "seed 001 §11.3 §11.16"
        explanation: "`workspaceAccess` accepts only `none`, `ro`, `rw` (`write` or `readwrite` are `Invalid input`), and `agents.defaults.model` is an object `{\"primary\": \"provider/model\"}`, not a string. The container refuses to start."
        fix: "use one of the accepted values or shapes";
    OPENCLAW_TELEGRAM_PLUGIN = "VP623" "openclaw-telegram-plugin-disabled" Error false
        summary: "Telegram channel configured without its plugin enabled"
        seed: "seed 001 §11.10"
        explanation: "Since v2026.2.22 channel plugins are disabled by default: the bot stays silent, no `[telegram]` log line, `channels list` is empty."
        fix: "add `\"plugins\": {\"entries\": {\"telegram\": {\"enabled\": true}}}`";
    OPENCLAW_ENV_VAR = "VP624" "openclaw-env-var-missing" Error false
        summary: "`${VAR}` used in openclaw.json but absent from its env file"
        seed: "seed 001 §11.17"
        explanation: "OpenClaw resolves `${VAR}` at start and refuses to run with `MissingEnvVarError: Missing env var ... referenced at config path ...` when the variable is not in the container's environment."
        fix: "add the variable to the service's env file (and recreate the container, not restart it)";
    IMAGE_REGISTRY_DEFAULT = "VP701" "image-registry-default-doubles-prefix" Warning false
        summary: "`${REGISTRY:-...}` default that repeats the image's prefix"
        seed: "seed 003 §1"
        explanation: "`${REGISTRY:-ghcr.io/acme}/acme-website` looks right but the default and the name both carry the organisation: when the variable is unset or set differently the reference points at an image that does not exist, and Compose tries to pull it from Docker Hub."
        fix: "write the full reference (`acme/website:1.2.3`), with `pull_policy: never` for an image built on the host";
    LOCAL_IMAGE_PULL = "VP702" "local-image-without-pull-never" Warning false
        summary: "locally built image without `pull_policy: never`"
        seed: "seed 003 §1"
        explanation: "An image built on the host is not in any registry. Without `pull_policy: never`, `docker compose pull` or `up --pull` try a registry and fail, or silently fetch a different image with the same name."
        fix: "add `pull_policy: never` (or `pull_policy: build` for a service with `build:`)";
    IMAGE_UNPINNED = "VP703" "image-unpinned" Warning false
        summary: "image without a pinned tag, or `latest`"
        seed: "seed 000 #5, seed 003 §1"
        explanation: "`latest` and missing tags change under you: a redeploy picks a new major version (PostgreSQL 18's new data path, Redis 8's removed `rename-command`) without any change in your files."
        fix: "pin an exact tag (`postgres:18.1-bookworm`)";
    IMAGE_TAG_FORMAT = "VP704" "image-tag-format" Error true
        summary: "tag in a format the image's publisher does not use"
        seed: "seed 000 #5, seed 001 §8.3 §11.2"
        explanation: "Some projects tag `v1.2.3` and others `1.2.3`: cAdvisor tags have no `v` prefix (`0.55.1`), Qdrant's have one (`v1.16.3`), OpenClaw uses dates (`2026.2.22`). A wrong prefix is `manifest unknown` at pull time, in the middle of a deploy. The format is known per repository: cAdvisor's older repository kept the `v` (`v0.52.1`) its newer one dropped. A tag that comes from a variable is judged as Compose resolves it (`.env`, then the default)."
        fix: "use the publisher's tag format (shown in the message)";
    UNDEFINED_VARIABLE = "VP705" "compose-undefined-variable" Warning false
        summary: "`${VAR}` used in a compose file but defined nowhere"
        seed: "seed 003 §2"
        explanation: "Compose interpolates `${VAR}` from the shell and from the `.env` file of the project directory only (or `--env-file`). A variable defined nowhere becomes an empty string with a mere warning: services start with empty passwords. Secret-named variables are reported one by one; the others once per file, listed. Variables of an env template beside the file (`.env.example`, which the operator copies) and those a platform generates (`SERVICE_PASSWORD_*`, `SERVICE_FQDN_*`) count as defined."
        fix: "define it in the `.env` next to the compose file, give it a default (`${VAR:-value}`), or make it required (`${VAR:?message}`)";
    COMPOSE_CLEAR_SECRET = "VP801" "compose-secret-in-clear" Error false
        summary: "secret written in clear in a compose file"
        seed: "seed 003 §3, seed 001 §10.1"
        explanation: "Compose files are read by everyone who operates the host and are often committed. Secrets belong in an env file with mode 0600 (`env_file:`) or in Docker secrets. The value decides, not only the name: flags and small numbers (`SECRETS: \"0\"`, `..._REQUIRED: 'False'`), empty values and references (`${VAR}`, `/run/secrets/...`) are not secrets; obvious placeholders (`change-me`, `your-password`) are a warning. A literal default of a secret-named variable (`${DB_PASSWORD:-postgres}`) and a password in URL user info (`postgres://app:pw@db`) are secrets in clear too: the default is used silently when the variable is unset."
        fix: "move the value to the service's env file and reference it with `env_file:`";
    DB_PORT_PUBLISHED = "VP802" "database-port-published" Error false
        summary: "database or unauthenticated service port published on the host"
        seed: "seed 001 §12.1"
        explanation: "PostgreSQL, Redis and Qdrant belong on the internal `backend` network, and so do services whose API has no authentication (Ollama, Prometheus, Loki, VictoriaMetrics, cAdvisor: whoever reaches them reads, writes or shuts them down). `ports:` publishes them on every interface of the host, and Docker's iptables rules bypass the host firewall (UFW)."
        fix: "remove `ports:` (other containers reach the service by name), or bind to `127.0.0.1:` for a local tool";
    EGRESS_INTERNAL_ONLY = "VP803" "egress-service-on-internal-networks" Error false
        summary: "service that calls external APIs is attached only to internal networks"
        seed: "seed 001 §12.1"
        explanation: "A network with `internal: true` has no route out. n8n, LiteLLM and OpenClaw call LLM providers and webhooks: attached only to `backend`, every outbound call times out."
        fix: "attach the service to the `egress` network as well";
    DIG_IN_SCRIPT = "VP901" "dig-in-script" Warning false
        summary: "`dig` in a shell script"
        seed: "seed 000 #27, seed 001 §2.4"
        explanation: "`dig` comes from `dnsutils`/`bind9-dnsutils`, which minimal Debian 13 hosts and images do not install: the script fails while DNS works."
        fix: "use `getent hosts NAME | awk '{print $1}' | head -1`";
    SCRIPT_SECRET = "VP902" "script-secret-in-clear-or-argv" Error false
        summary: "secret written in clear in a shell script, or put on a command line"
        seed: "seed 001 §3.2 (provision-postgresql.sh), seed 003 §3"
        explanation: "A password written in a script (`export PGPASSWORD='...'`, `MYSQL_PWD=...`, `${DB_PASSWORD:-default}`, a URL's user info, SQL's `PASSWORD '...'`, even in a heredoc) is read by everyone who reads the script, its backups and its git history. A value on a command line leaks too, written in clear or expanded from `$VAR`: every user of the host reads it with `ps` while the command runs. `docker exec -e NAME=\"$VAR\"` keeps it on docker's command line for the whole command, where `-e NAME` alone copies it from the script's environment; so do `psql -c \"... PASSWORD '...'\"`, `psql -v NAME=...`, `redis-cli -a`, `redis-server --requirepass`, `docker login -p`, and a variable the script expands inside `sh -c \"...\"`. Not reported: references (`$VAR`, `$(cat FILE)`), names alone, SQL on stdin (a heredoc, `echo ... | psql`), password verifiers (SCRAM, md5, MySQL `*` hashes), flags and small numbers. A warning for obvious placeholders (`change-me`) and for `mysql -p\"$VAR\"` run by the shell that expands it: MySQL clients blank that argument as they start, leaving a short window. Stdin keeps SQL off command lines but not out of the server log when `log_statement` covers DDL: send a SCRAM verifier there. False alarm on a command line when no other user can list the host's processes (`/proc` mounted with `hidepid=2`), and for a value in clear when it is a throwaway test credential (a test suite's)."
        fix: "read secrets when the script runs, from a file with mode 0600 or from its environment; give names alone (`docker exec -e PGPASSWORD`, `export REDISCLI_AUTH`), send SQL on stdin, use `--password-stdin` and MySQL's `--defaults-extra-file`";
}

/// Look a rule up by id (`VP101`) or name (`healthcheck-localhost`), case-insensitive.
pub fn find(rule: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|r| r.id.eq_ignore_ascii_case(rule) || r.name.eq_ignore_ascii_case(rule))
}

/// When a finding of `rule` is a false alarm, in one or two sentences.
fn false_alarm(id: &str) -> &'static str {
    match id {
        "VP101" => {
            "the service also listens on `::1`, or the image's client falls back to 127.0.0.1"
        }
        "VP102" => {
            "the image was rebuilt with the program (check with `--inspect-images`, which asks the local Docker engine)"
        }
        "VP103" => "the service runs as root and writes only volumes it owns",
        "VP105" => "the compose files are alternatives that are never deployed together",
        "VP212" => {
            "the password is a `$$VAR` expanded by the container's shell and the host has no other users"
        }
        "VP301" => {
            "a site block matches `localhost` or `127.0.0.1` (or the admin API answers where the healthcheck asks)"
        }
        "VP412" => {
            "the deployed copy has another mode than the file checked (a checkout, or a tool that writes it 0600)"
        }
        "VP601" => "the proxy strips exactly the prefix that `N8N_PATH` names",
        "VP611" => "the config is for a LiteLLM version that reads the settings differently",
        "VP615" | "VP801" => "the value is a public placeholder that is replaced at deploy time",
        "VP704" => "the registry tags this image in another format than the one vpai knows",
        "VP802" => "the host is a workstation and the port is meant to be reached from it",
        "VP902" => {
            "no other user can list the host's processes (`/proc` mounted with `hidepid=2`), or the value in clear is a throwaway test credential"
        }
        _ => {
            "the file is right for a reason vpai cannot see from the files (the host, a tool that rewrites it)"
        }
    }
}

/// The long text printed by `vpai check --explain RULE`.
pub fn explain(rule: &str) -> Option<String> {
    let r = find(rule)?;
    let policy = match r.severity {
        Severity::Error => {
            "An error: broken or insecure as written (some findings of this rule are warnings, where it depends on the host or the intent)."
        }
        Severity::Warning => {
            "A warning: it depends on the host or the intent, which the files do not show."
        }
    };
    Some(format!(
        "{id} {name} ({severity})\n\n{summary}.\n\n{explanation}\n\nFix: {fix}.{auto}\n\n{policy}\nFalse alarm when {false_alarm}: silence it with `vpai check --allow {id}`, or on one line with a `# vpai: allow {id} -- reason` comment on it or above it.\n",
        policy = policy,
        false_alarm = false_alarm(r.id),
        id = r.id,
        name = r.name,
        severity = r.severity.as_str(),
        summary = r.summary,
        explanation = r.explanation,
        fix = r.fix,
        auto = if r.autofix {
            "\n`vpai check --fix` applies it."
        } else {
            ""
        },
    ))
}
