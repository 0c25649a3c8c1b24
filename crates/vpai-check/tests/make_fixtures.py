# Writes tests/fixtures/<ID>-<name>/{bad,good}/...: the smallest file that triggers
# each rule and the smallest that does not. Re-run after editing; the files are
# committed, this script is only how they were written.
import os, shutil

F = {}
def fx(rule, bad, good, modes=None):
    F[rule] = (bad, good, modes or {})

C = "docker-compose.yml"

fx("VP101-healthcheck-localhost",
   {C: """services:
  vm:
    image: victoriametrics/victoria-metrics:v1.118.0
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:8428/health"]
"""},
   {C: """services:
  vm:
    image: victoriametrics/victoria-metrics:v1.118.0
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8428/health"]
"""})
fx("VP102-healthcheck-missing-binary",
   {C: """services:
  qdrant:
    image: qdrant/qdrant:v1.16.3
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- http://127.0.0.1:6333/healthz || exit 1"]
"""},
   {C: """services:
  qdrant:
    image: qdrant/qdrant:v1.16.3
    healthcheck:
      test: ["CMD", "bash", "-c", ":> /dev/tcp/127.0.0.1/6333"]
"""})
fx("VP103-cap-drop-all-blocks-writes",
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    cap_drop: [ALL]
    cap_add: [CHOWN, SETGID, SETUID]
    volumes:
      - ./data/postgresql:/var/lib/postgresql
"""},
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    cap_drop: [ALL]
    cap_add: [CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID]
    volumes:
      - ./data/postgresql:/var/lib/postgresql
"""})
fx("VP104-docker-socket-without-group-add",
   {C: """services:
  openclaw:
    image: ghcr.io/openclaw/openclaw:2026.2.22
    init: true
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
"""},
   {C: """services:
  openclaw:
    image: ghcr.io/openclaw/openclaw:2026.2.22
    init: true
    group_add: ["989"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
"""})
fx("VP105-service-in-two-compose-files",
   {"docker-compose-infra.yml": """name: app-infra
services:
  redis:
    image: redis:8.0-bookworm
""", C: """name: app
services:
  redis:
    image: redis:8.0-bookworm
"""},
   {"docker-compose-infra.yml": """name: app-infra
services:
  redis:
    image: redis:8.0-bookworm
""", C: """name: app
services:
  n8n:
    image: n8nio/n8n:2.7.3
    environment:
      N8N_PROXY_HOPS: "1"
"""})
fx("VP106-compose-files-share-project",
   {"docker-compose-infra.yml": """services:
  redis:
    image: redis:8.0-bookworm
""", C: """services:
  diun:
    image: crazymax/diun:4.29
"""},
   {"docker-compose-infra.yml": """name: app-infra
services:
  redis:
    image: redis:8.0-bookworm
""", C: """name: app
services:
  diun:
    image: crazymax/diun:4.29
"""})
fx("VP107-memory-below-floor",
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    mem_limit: 768M
"""},
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    mem_limit: 1536M
"""})
fx("VP108-missing-init",
   {C: """services:
  openclaw:
    image: ghcr.io/openclaw/openclaw:2026.2.22
"""},
   {C: """services:
  openclaw:
    image: ghcr.io/openclaw/openclaw:2026.2.22
    init: true
"""})
fx("VP201-pg18-data-mount-path",
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    volumes:
      - ./data/postgresql:/var/lib/postgresql/data
"""},
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    volumes:
      - ./data/postgresql:/var/lib/postgresql
"""})
fx("VP202-pg-initdb-locale-missing",
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    env_file: postgresql.env
""", "postgresql.env": "POSTGRES_INITDB_ARGS=--locale=fr_FR.UTF-8\n"},
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    env_file: postgresql.env
""", "postgresql.env": "POSTGRES_INITDB_ARGS=--locale-provider=icu --icu-locale=fr-FR --locale=C\n"})
fx("VP203-pg-logging-collector-on",
   {"postgresql.conf": "listen_addresses = '*'\nlogging_collector = on\n"},
   {"postgresql.conf": "listen_addresses = '*'\nlogging_collector = off\n"})
fx("VP211-redis-rename-command",
   {"redis.conf": "protected-mode yes\nrename-command FLUSHALL \"\"\n"},
   {"redis.conf": "protected-mode yes\naclfile /usr/local/etc/redis/users.acl\n"})
fx("VP212-redis-password-on-command-line",
   {C: """services:
  redis:
    image: redis:8.0-bookworm
    healthcheck:
      test: ["CMD", "redis-cli", "-h", "127.0.0.1", "-a", "s3cret", "ping"]
"""},
   {C: """services:
  redis:
    image: redis:8.0-bookworm
    healthcheck:
      test: ["CMD", "redis-cli", "-h", "127.0.0.1", "ping"]
"""})
fx("VP221-qdrant-config-path",
   {C: """services:
  qdrant:
    image: qdrant/qdrant:v1.16.3
    volumes:
      - ./configs/qdrant/config.yaml:/qdrant/config/config.yaml:ro
"""},
   {C: """services:
  qdrant:
    image: qdrant/qdrant:v1.16.3
    volumes:
      - ./configs/qdrant/production.yaml:/qdrant/config/production.yaml:ro
"""})
fx("VP301-caddy-healthcheck-through-site",
   {C: """services:
  caddy:
    image: caddy:2.10.2-alpine
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:2019/config/"]
"""},
   {C: """services:
  caddy:
    image: caddy:2.10.2-alpine
    healthcheck:
      test: ["CMD", "caddy", "version"]
"""})
fx("VP302-caddy-heredoc-status",
   {"Caddyfile": """example.com {
\trespond /__bootstrap__ <<HTML
\t\t<html>ok</html>
\t\tHTML
\t\t200
}
"""},
   {"Caddyfile": """example.com {
\trespond /__bootstrap__ <<HTML
\t\t<html>ok</html>
\t\tHTML 200
}
"""})
fx("VP303-caddy-handle-response-for-down-backend",
   {"Caddyfile": """cut.example.com {
\treverse_proxy 127.0.0.1:3100 {
\t\t@down status 502 503
\t\thandle_response @down {
\t\t\trespond "Service stopped" 502
\t\t}
\t}
}
"""},
   {"Caddyfile": """cut.example.com {
\treverse_proxy 127.0.0.1:3100
\thandle_errors {
\t\t@stopped expression `{http.error.status_code} in [502, 503]`
\t\trespond @stopped "Service stopped" 502
\t}
}
"""})
fx("VP304-caddy-two-handle-errors",
   {"Caddyfile": """(vpn_error_page) {
\thandle_errors {
\t\trespond "Forbidden" 403
\t}
}
cut.example.com {
\timport vpn_error_page
\treverse_proxy 127.0.0.1:3100
\thandle_errors {
\t\trespond "Service stopped" 502
\t}
}
"""},
   {"Caddyfile": """cut.example.com {
\treverse_proxy 127.0.0.1:3100
\thandle_errors {
\t\t@stopped expression `{http.error.status_code} in [502, 503]`
\t\trespond @stopped "Service stopped" 502
\t\trespond "Forbidden" {http.error.status_code}
\t}
}
"""})
fx("VP305-caddy-rate-limit-stock-image",
   {C: """services:
  caddy:
    image: caddy:2.10.2-alpine
    volumes:
      - ./Caddyfile:/etc/caddy/Caddyfile:ro
""", "Caddyfile": """example.com {
\trate_limit {
\t\tzone api {
\t\t\tkey {remote_host}
\t\t\tevents 100
\t\t\twindow 1m
\t\t}
\t}
\trespond "ok"
}
"""},
   {C: """services:
  caddy:
    image: caddy:2.10.2-alpine
    volumes:
      - ./Caddyfile:/etc/caddy/Caddyfile:ro
""", "Caddyfile": """example.com {
\trespond "ok"
}
"""})
fx("VP306-caddy-websocket-without-http1",
   {"Caddyfile": """admin.example.com {
\treverse_proxy openclaw:18789
}
"""},
   {"Caddyfile": """admin.example.com {
\treverse_proxy openclaw:18789 {
\t\ttransport http {
\t\t\tversions 1.1
\t\t}
\t}
}
"""})
fx("VP307-caddy-grafana-strip-prefix",
   {"Caddyfile": """example.com {
\thandle_path /grafana* {
\t\treverse_proxy grafana:3000
\t}
}
"""},
   {"Caddyfile": """example.com {
\thandle /grafana* {
\t\treverse_proxy grafana:3000
\t}
}
"""})
fx("VP308-caddy-vpn-acl-without-docker-cidr",
   {"Caddyfile": """{
\tservers {
\t\ttrusted_proxies static 10.0.0.0/8
\t}
}
admin.example.com {
\t@blocked not client_ip 100.64.0.0/10
\terror @blocked 403
\trespond "ok"
}
"""},
   {"Caddyfile": """{
\tservers {
\t\ttrusted_proxies static 10.0.0.0/8
\t}
}
admin.example.com {
\t@blocked not client_ip 100.64.0.0/10 172.20.1.0/24
\terror @blocked 403
\trespond "ok"
}
"""})
fx("VP309-caddy-client-ip-without-trusted-proxies",
   {"Caddyfile": """admin.example.com {
\t@blocked not client_ip 100.64.0.0/10 172.20.1.0/24
\terror @blocked 403
\trespond "ok"
}
"""},
   {"Caddyfile": """{
\tservers {
\t\ttrusted_proxies static 10.0.0.0/8
\t}
}
admin.example.com {
\t@blocked not client_ip 100.64.0.0/10 172.20.1.0/24
\terror @blocked 403
\trespond "ok"
}
"""})
fx("VP401-yaml-invalid-escape",
   {"diun.yml": """watch:
  schedule: "0 */6 * * *"
regopts:
  - name: docker.io
providers:
  docker:
    watchByDefault: true
defaults:
  includeTags:
    - "^\\d+\\.\\d+\\.\\d+$"
"""},
   {"diun.yml": """watch:
  schedule: "0 */6 * * *"
regopts:
  - name: docker.io
providers:
  docker:
    watchByDefault: true
defaults:
  includeTags:
    - '^\\d+\\.\\d+\\.\\d+$'
"""})
fx("VP402-crlf-line-endings",
   {"postgresql.conf": "listen_addresses = '*'\r\nlogging_collector = off\r\n"},
   {"postgresql.conf": "listen_addresses = '*'\nlogging_collector = off\n"})
fx("VP403-non-utf8-bytes",
   {"postgresql.conf": b"# PostgreSQL \x97 tuned for 4 GB\nlogging_collector = off\n"},
   {"postgresql.conf": "# PostgreSQL \u2014 tuned for 4 GB\nlogging_collector = off\n"})
fx("VP404-yaml-syntax",
   {"settings.yml": "a: [1, 2\nb: 3\n"},
   {"settings.yml": "a: [1, 2]\nb: 3\n"})
fx("VP411-config-unreadable-by-container",
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    cap_drop: [ALL]
    volumes:
      - ./config.yaml:/app/config.yaml:ro
""", "config.yaml": """model_list: []
general_settings:
  background_health_checks: false
"""},
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    cap_drop: [ALL]
    volumes:
      - ./config.yaml:/app/config.yaml:ro
""", "config.yaml": """model_list: []
general_settings:
  background_health_checks: false
"""},
   modes={"bad": {"config.yaml": (0o600, 1000, 1000)}, "good": {"config.yaml": (0o640, 0, 0)}})
fx("VP412-secret-world-readable",
   {"env/litellm.env": "LITELLM_MASTER_KEY=sk-0123\n"},
   {"env/litellm.env": "LITELLM_MASTER_KEY=sk-0123\n"},
   modes={"bad": {"env/litellm.env": (0o644, 0, 0)}, "good": {"env/litellm.env": (0o600, 0, 0)}})
fx("VP501-loki-missing-target-all",
   {C: """services:
  loki:
    image: grafana/loki:3.6.5
    command: ["-config.file=/etc/loki/config.yaml"]
"""},
   {C: """services:
  loki:
    image: grafana/loki:3.6.5
    command: ["-config.file=/etc/loki/config.yaml", "-target=all"]
"""})
LOKI_GOOD = """auth_enabled: false
common:
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
ingester:
  lifecycler:
    ring:
      kvstore:
        store: inmemory
      replication_factor: 1
memberlist:
  join_members: []
"""
fx("VP502-loki-ring-not-inmemory",
   {"loki-config.yaml": """auth_enabled: false
common:
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
ingester:
  chunk_idle_period: 5m
memberlist:
  join_members: []
"""},
   {"loki-config.yaml": LOKI_GOOD})
fx("VP511-grafana-postgres-datasource-user",
   {"datasources.yaml": """apiVersion: 1
datasources:
  - name: PostgreSQL-n8n
    type: postgres
    url: postgresql:5432
    jsonData:
      user: n8n
      database: n8n
    secureJsonData:
      password: ${N8N_DB_PASSWORD}
"""},
   {"datasources.yaml": """apiVersion: 1
datasources:
  - name: PostgreSQL-n8n
    type: postgres
    url: postgresql:5432
    user: n8n
    jsonData:
      database: n8n
    secureJsonData:
      password: ${N8N_DB_PASSWORD}
"""})
fx("VP601-n8n-sub-path",
   {"Caddyfile": """example.com {
\thandle_path /n8n* {
\t\treverse_proxy n8n:5678 {
\t\t\ttransport http {
\t\t\t\tversions 1.1
\t\t\t}
\t\t}
\t}
}
"""},
   {"Caddyfile": """n8n.example.com {
\treverse_proxy n8n:5678 {
\t\ttransport http {
\t\t\tversions 1.1
\t\t}
\t}
}
"""})
fx("VP602-n8n-missing-proxy-hops",
   {C: """services:
  n8n:
    image: n8nio/n8n:2.7.3
    environment:
      N8N_HOST: n8n.example.com
"""},
   {C: """services:
  n8n:
    image: n8nio/n8n:2.7.3
    environment:
      N8N_HOST: n8n.example.com
      N8N_PROXY_HOPS: "1"
"""})
fx("VP611-litellm-background-health-checks",
   {"config.yaml": """model_list: []
router_settings:
  health_check_interval: 0
"""},
   {"config.yaml": """model_list: []
general_settings:
  background_health_checks: false
"""})
fx("VP612-litellm-healthcheck-calls-models",
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health')"]
"""},
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/readiness')"]
"""})
fx("VP613-litellm-openrouter-max-tokens",
   {"config.yaml": """model_list:
  - model_name: deepseek-v3
    litellm_params:
      model: openrouter/deepseek/deepseek-chat
      api_key: os.environ/OPENROUTER_API_KEY
general_settings:
  background_health_checks: false
"""},
   {"config.yaml": """model_list:
  - model_name: deepseek-v3
    litellm_params:
      model: openrouter/deepseek/deepseek-chat
      api_key: os.environ/OPENROUTER_API_KEY
      max_tokens: 4096
general_settings:
  background_health_checks: false
"""})
fx("VP614-litellm-fallbacks-shape",
   {"config.yaml": """model_list: []
router_settings:
  fallbacks:
    - model: gpt-4o
      fallback: [claude-sonnet]
general_settings:
  background_health_checks: false
"""},
   {"config.yaml": """model_list: []
router_settings:
  fallbacks:
    - gpt-4o: [claude-sonnet]
general_settings:
  background_health_checks: false
"""})
fx("VP615-litellm-secret-in-clear",
   {"config.yaml": """model_list: []
general_settings:
  master_key: sk-1234567890abcdef
  background_health_checks: false
"""},
   {"config.yaml": """model_list: []
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  background_health_checks: false
"""})
fx("VP621-openclaw-unknown-key",
   {"openclaw.json": """{
  "gateway": { "port": 18789 },
  "heartbeat": { "every": "30m" }
}
"""},
   {"openclaw.json": """{
  "gateway": { "port": 18789 }
}
"""})
fx("VP622-openclaw-invalid-value",
   {"openclaw.json": """{
  "agents": {
    "defaults": {
      "model": "custom-litellm/claude-sonnet",
      "sandbox": { "workspaceAccess": "write" }
    }
  }
}
"""},
   {"openclaw.json": """{
  "agents": {
    "defaults": {
      "model": { "primary": "custom-litellm/claude-sonnet" },
      "sandbox": { "workspaceAccess": "rw" }
    }
  }
}
"""})
fx("VP623-openclaw-telegram-plugin-disabled",
   {"openclaw.json": """{
  "channels": { "telegram": { "botToken": "${TELEGRAM_BOT_TOKEN}" } }
}
""", "openclaw.env": "TELEGRAM_BOT_TOKEN=123:abc\n"},
   {"openclaw.json": """{
  "channels": { "telegram": { "botToken": "${TELEGRAM_BOT_TOKEN}" } },
  "plugins": { "entries": { "telegram": { "enabled": true } } }
}
""", "openclaw.env": "TELEGRAM_BOT_TOKEN=123:abc\n"})
fx("VP624-openclaw-env-var-missing",
   {"openclaw.json": """{
  "models": { "providers": { "openai": { "apiKey": "${OPENAI_API_KEY}" } } }
}
""", "openclaw.env": "LITELLM_API_KEY=sk-1\n"},
   {"openclaw.json": """{
  "models": { "providers": { "openai": { "apiKey": "${OPENAI_API_KEY}" } } }
}
""", "openclaw.env": "LITELLM_API_KEY=sk-1\nOPENAI_API_KEY=sk-2\n"})
fx("VP701-image-registry-default-doubles-prefix",
   {C: """services:
  website:
    image: ${REGISTRY:-ghcr.io/alecia}/alecia-website:1.4.0
"""},
   {C: """services:
  website:
    image: alecia/website:1.4.0
    pull_policy: never
"""})
fx("VP702-local-image-without-pull-never",
   {C: """services:
  website:
    build: ./website
    image: alecia/website:1.4.0
"""},
   {C: """services:
  website:
    build: ./website
    image: alecia/website:1.4.0
    pull_policy: build
"""})
fx("VP703-image-unpinned",
   {C: """services:
  diun:
    image: crazymax/diun:latest
"""},
   {C: """services:
  diun:
    image: crazymax/diun:4.29
"""})
fx("VP704-image-tag-format",
   {C: """services:
  cadvisor:
    image: ghcr.io/google/cadvisor:v0.55.1
"""},
   {C: """services:
  cadvisor:
    image: ghcr.io/google/cadvisor:0.55.1
"""})
fx("VP705-compose-undefined-variable",
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
"""},
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
""", ".env": "POSTGRES_PASSWORD=0123456789abcdef\n"})
fx("VP801-compose-secret-in-clear",
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    environment:
      POSTGRES_PASSWORD: hunter2hunter2
"""},
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    env_file: postgresql.env
""", "postgresql.env": "POSTGRES_PASSWORD=hunter2hunter2\n"})
fx("VP802-database-port-published",
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    ports:
      - "5432:5432"
"""},
   {C: """services:
  postgresql:
    image: postgres:18.1-bookworm
    ports:
      - "127.0.0.1:5432:5432"
"""})
fx("VP803-egress-service-on-internal-networks",
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    networks: [backend]
networks:
  backend:
    internal: true
"""},
   {C: """services:
  litellm:
    image: ghcr.io/berriai/litellm:v1.81.3-stable
    networks: [backend, egress]
networks:
  backend:
    internal: true
  egress: {}
"""})
fx("VP901-dig-in-script",
   {"smoke.sh": "#!/bin/bash\nip=$(dig +short n8n.example.com)\n"},
   {"smoke.sh": "#!/bin/bash\nip=$(getent hosts n8n.example.com | awk '{print $1}' | head -1)\n"})

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
shutil.rmtree(root, ignore_errors=True)
for rule, (bad, good, modes) in F.items():
    for side, files in (("bad", bad), ("good", good)):
        for name, content in files.items():
            p = os.path.join(root, rule, side, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(content if isinstance(content, bytes) else content.encode())
        m = modes.get(side)
        if m:
            with open(os.path.join(root, rule, side, "MODES"), "w") as fh:
                for name, (mode, uid, gid) in m.items():
                    fh.write(f"{name} {mode:o} {uid} {gid}\n")
print(len(F), "fixtures")
