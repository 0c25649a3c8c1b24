#!/usr/bin/env python3
"""Generate a corpus of compose files for the `vpai check` vs dclint benchmark.

Each directory of the corpus is one host: one compose file, or two (infra + apps).
Most files carry one or two of the seeds' traps, injected into otherwise clean,
varied stacks (random services, order, syntax, anchors, comments, limits); some
are clean. `manifest.json` records which traps each directory holds: it is the
ground truth the scorer compares both tools against.

Usage: gen_corpus.py OUT_DIR [--files N] [--seed S]
"""

import json
import os
import random
import sys

# ---------------------------------------------------------------- clean services
# Each returns a dict of service keys -> YAML text lines (already indented by 4).


def svc_postgres(r):
    return {
        "image": "postgres:18.1-bookworm",
        "env_file": ["./env/postgresql.env"],
        "volumes": ["./data/postgresql:/var/lib/postgresql"],
        "cap_drop": ["ALL"],
        "cap_add": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"],
        "healthcheck": ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"],
        "mem": r.choice(["512M", "1024M", "2G"]),
        "networks": ["backend"],
    }


def svc_redis(r):
    return {
        "image": "redis:8.0-bookworm",
        "command": ["redis-server", "/usr/local/etc/redis/redis.conf"],
        "volumes": ["./data/redis:/data", "./configs/redis/redis.conf:/usr/local/etc/redis/redis.conf:ro"],
        "cap_drop": ["ALL"],
        "cap_add": ["SETGID", "SETUID"],
        "healthcheck": ["CMD", "redis-cli", "-h", "127.0.0.1", "ping"],
        "mem": r.choice(["256M", "512M"]),
        "networks": ["backend"],
    }


def svc_qdrant(r):
    return {
        "image": "qdrant/qdrant:v1.16.3",
        "user": "1000:1000",
        "volumes": ["./data/qdrant:/qdrant/storage", "./configs/qdrant/production.yaml:/qdrant/config/production.yaml:ro"],
        "cap_drop": ["ALL"],
        "cap_add": ["DAC_OVERRIDE", "FOWNER"],
        "healthcheck": ["CMD", "bash", "-c", ":> /dev/tcp/127.0.0.1/6333"],
        "mem": "1024M",
        "networks": ["backend"],
    }


def svc_caddy(r):
    return {
        "image": "caddy:2.10.2-alpine",
        "ports": ["80:80", "443:443", "443:443/udp"],
        "volumes": ["./configs/caddy/Caddyfile:/etc/caddy/Caddyfile:ro", "./data/caddy:/data", "./logs/caddy:/var/log/caddy"],
        "cap_drop": ["ALL"],
        "cap_add": ["NET_BIND_SERVICE", "DAC_OVERRIDE"],
        "healthcheck": ["CMD", "caddy", "version"],
        "mem": "256M",
        "networks": ["frontend", "backend"],
    }


def svc_n8n(r):
    return {
        "image": r.choice(["docker.n8n.io/n8nio/n8n:2.7.3", "n8nio/n8n:2.7.3"]),
        "environment": {"N8N_HOST": "n8n.example.com", "N8N_PROXY_HOPS": "1", "N8N_PORT": "5678"},
        "volumes": ["./data/n8n:/home/node/.n8n"],
        "cap_drop": ["ALL"],
        "healthcheck": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5678/healthz"],
        "mem": r.choice(["1024M", "2G"]),
        "networks": ["backend", "egress"],
    }


def svc_litellm(r):
    return {
        "image": "ghcr.io/berriai/litellm:v1.81.3-stable",
        "env_file": ["./env/litellm.env"],
        "volumes": ["./configs/litellm/config.yaml:/app/config.yaml:ro"],
        "healthcheck": ["CMD", "python", "-c",
                        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/readiness')"],
        "mem": r.choice(["1536M", "2G"]),
        "networks": ["backend", "egress"],
    }


def svc_grafana(r):
    return {
        "image": "grafana/grafana:12.3.1",
        "volumes": ["./data/grafana:/var/lib/grafana"],
        "healthcheck": ["CMD", "wget", "-qO-", "http://127.0.0.1:3000/api/health"],
        "mem": "512M",
        "networks": ["frontend", "monitoring"],
    }


def svc_loki(r):
    return {
        "image": "grafana/loki:3.6.5",
        "command": ["-config.file=/etc/loki/config.yaml", "-target=all"],
        "volumes": ["./data/loki:/loki"],
        "healthcheck": ["CMD", "loki", "-health"],
        "mem": "512M",
        "networks": ["monitoring"],
    }


def svc_vm(r):
    return {
        "image": "victoriametrics/victoria-metrics:v1.118.0",
        "volumes": ["./data/vm:/storage"],
        "healthcheck": ["CMD", "wget", "-qO-", "http://127.0.0.1:8428/health"],
        "mem": "512M",
        "networks": ["monitoring"],
    }


def svc_alloy(r):
    return {
        "image": "grafana/alloy:v1.12.0",
        "healthcheck": ["CMD-SHELL", "kill -0 1"],
        "mem": "256M",
        "networks": ["monitoring", "backend"],
    }


def svc_cadvisor(r):
    return {
        "image": "ghcr.io/google/cadvisor:0.55.1",
        "volumes": ["/sys:/sys:ro", "/var/lib/docker:/var/lib/docker:ro"],
        "healthcheck": ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/healthz"],
        "mem": "256M",
        "networks": ["monitoring"],
    }


def svc_diun(r):
    return {
        "image": "crazymax/diun:4.29",
        "volumes": ["./data/diun:/data"],
        "environment": {"DIUN_WATCH_SCHEDULE": "0 */6 * * *", "DIUN_PROVIDERS_DOCKER": "true"},
        "mem": "128M",
        "networks": ["egress"],
    }


def svc_openclaw(r):
    return {
        "image": "ghcr.io/openclaw/openclaw:2026.2.22",
        "init": True,
        "env_file": ["./env/openclaw.env"],
        "volumes": ["./data/openclaw:/home/node/.openclaw"],
        "healthcheck": ["CMD-SHELL", "kill -0 1"],
        "mem": r.choice(["1536M", "2G"]),
        "networks": ["backend", "egress"],
    }


INFRA = {"postgresql": svc_postgres, "redis": svc_redis, "qdrant": svc_qdrant, "caddy": svc_caddy}
APPS = {"n8n": svc_n8n, "litellm": svc_litellm, "grafana": svc_grafana, "loki": svc_loki,
        "victoriametrics": svc_vm, "alloy": svc_alloy, "cadvisor": svc_cadvisor, "diun": svc_diun,
        "openclaw": svc_openclaw}
ALL = {**INFRA, **APPS}

# ---------------------------------------------------------------- traps
# Each trap mutates the chosen services (dict name -> spec) and may add a service.
# `kind` is the seeds' trap id, the same key the scorer uses.


def ensure(stack, name, r):
    if name not in stack:
        stack[name] = ALL[name](r)
    return stack[name]


def t_localhost(stack, r):
    name = r.choice(["victoriametrics", "n8n", "grafana", "cadvisor"])
    s = ensure(stack, name, r)
    s["healthcheck"] = [w.replace("127.0.0.1", "localhost") for w in s["healthcheck"]]


def t_missing_binary(stack, r):
    name, hc = r.choice([
        ("qdrant", ["CMD-SHELL", "wget -qO- http://127.0.0.1:6333/healthz || exit 1"]),
        ("loki", ["CMD-SHELL", "wget -q --spider http://127.0.0.1:3100/ready || exit 1"]),
        ("litellm", ["CMD", "curl", "-f", "http://127.0.0.1:4000/health/readiness"]),
        ("alloy", ["CMD", "wget", "-qO-", "http://127.0.0.1:12345/-/ready"]),
    ])
    ensure(stack, name, r)["healthcheck"] = hc


def t_cap_drop(stack, r):
    name = r.choice(["postgresql", "qdrant", "caddy"])
    s = ensure(stack, name, r)
    s["cap_add"] = [c for c in s["cap_add"] if c not in ("DAC_OVERRIDE", "FOWNER")]


def t_docker_socket(stack, r):
    s = ensure(stack, "openclaw", r)
    s["volumes"] = s["volumes"] + ["/var/run/docker.sock:/var/run/docker.sock:ro"]


def t_memory(stack, r):
    name, mem = r.choice([("litellm", "768M"), ("openclaw", "1024M"), ("litellm", "512M")])
    ensure(stack, name, r)["mem"] = mem


def t_init(stack, r):
    ensure(stack, "openclaw", r)["init"] = False


def t_pg18(stack, r):
    ensure(stack, "postgresql", r)["volumes"] = ["./data/postgresql:/var/lib/postgresql/data"]


def t_locale(stack, r):
    s = ensure(stack, "postgresql", r)
    s["environment"] = {"POSTGRES_INITDB_ARGS": r.choice(["--locale=fr_FR.UTF-8", "--lc-collate=de_DE.UTF-8"])}


def t_redis_password(stack, r):
    s = ensure(stack, "redis", r)
    s["healthcheck"] = ["CMD", "redis-cli", "-h", "127.0.0.1", "-a", "${REDIS_PASSWORD:-changeme}", "ping"]


def t_qdrant_config(stack, r):
    s = ensure(stack, "qdrant", r)
    s["volumes"] = ["./data/qdrant:/qdrant/storage", "./configs/qdrant/config.yaml:/qdrant/config/config.yaml:ro"]


def t_caddy_health(stack, r):
    ensure(stack, "caddy", r)["healthcheck"] = r.choice([
        ["CMD", "wget", "-qO-", "http://127.0.0.1:2019/config/"],
        ["CMD-SHELL", "wget -qO- http://127.0.0.1:80/health || exit 1"],
    ])


def t_escape(stack, r):
    s = ensure(stack, "diun", r)
    s["raw"] = '    labels:\n      diun.include_tags: "^\\d+\\.\\d+\\.\\d+$"\n'


def t_loki_target(stack, r):
    ensure(stack, "loki", r)["command"] = ["-config.file=/etc/loki/config.yaml"]


def t_proxy_hops(stack, r):
    s = ensure(stack, "n8n", r)
    s["environment"] = {k: v for k, v in s["environment"].items() if k != "N8N_PROXY_HOPS"}


def t_litellm_health(stack, r):
    ensure(stack, "litellm", r)["healthcheck"] = ["CMD", "python", "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health')"]


def t_registry(stack, r):
    org = r.choice(["alecia", "acme", "javisi"])
    stack["website"] = {"image": "${REGISTRY:-ghcr.io/%s}/%s-website:1.4.0" % (org, org), "mem": "256M",
                        "networks": ["frontend"]}


def t_local_image(stack, r):
    stack["website"] = {"build": "./website", "image": "acme/website:1.4.0", "mem": "256M", "networks": ["frontend"]}


def t_unpinned(stack, r):
    name = r.choice(["diun", "grafana", "cadvisor"])
    s = ensure(stack, name, r)
    repo = s["image"].rsplit(":", 1)[0]
    s["image"] = r.choice([repo + ":latest", repo])


def t_tag_format(stack, r):
    name, image = r.choice([("cadvisor", "ghcr.io/google/cadvisor:v0.55.1"),
                            ("qdrant", "qdrant/qdrant:1.16.3"),
                            ("openclaw", "ghcr.io/openclaw/openclaw:v2026.2.22")])
    ensure(stack, name, r)["image"] = image


def t_undefined_var(stack, r):
    s = ensure(stack, "postgresql", r)
    s["environment"] = {"POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}"}


def t_clear_secret(stack, r):
    name, key = r.choice([("postgresql", "POSTGRES_PASSWORD"), ("litellm", "LITELLM_MASTER_KEY"),
                          ("n8n", "N8N_ENCRYPTION_KEY")])
    s = ensure(stack, name, r)
    env = dict(s.get("environment", {}))
    env[key] = "%032x" % r.getrandbits(128)
    s["environment"] = env


def t_db_port(stack, r):
    name, port = r.choice([("postgresql", "5432:5432"), ("redis", "6379:6379"), ("qdrant", "6333:6333")])
    ensure(stack, name, r)["ports"] = [port]


def t_egress(stack, r):
    name = r.choice(["n8n", "litellm", "openclaw"])
    ensure(stack, name, r)["networks"] = ["backend"]


def t_crlf(stack, r):
    stack["__crlf__"] = True


def t_non_utf8(stack, r):
    stack["__cp1252__"] = True


TRAPS = {
    "healthcheck-localhost": t_localhost,
    "healthcheck-missing-binary": t_missing_binary,
    "cap-drop-all-blocks-writes": t_cap_drop,
    "docker-socket-without-group-add": t_docker_socket,
    "memory-below-floor": t_memory,
    "missing-init": t_init,
    "pg18-data-mount-path": t_pg18,
    "pg-initdb-locale-missing": t_locale,
    "redis-password-on-command-line": t_redis_password,
    "qdrant-config-path": t_qdrant_config,
    "caddy-healthcheck-through-site": t_caddy_health,
    "yaml-invalid-escape": t_escape,
    "crlf-line-endings": t_crlf,
    "non-utf8-bytes": t_non_utf8,
    "loki-missing-target-all": t_loki_target,
    "n8n-missing-proxy-hops": t_proxy_hops,
    "litellm-healthcheck-calls-models": t_litellm_health,
    "image-registry-default-doubles-prefix": t_registry,
    "local-image-without-pull-never": t_local_image,
    "image-unpinned": t_unpinned,
    "image-tag-format": t_tag_format,
    "compose-undefined-variable": t_undefined_var,
    "compose-secret-in-clear": t_clear_secret,
    "database-port-published": t_db_port,
    "egress-service-on-internal-networks": t_egress,
}
# Traps that need two compose files in one directory.
PAIR_TRAPS = ["service-in-two-compose-files", "compose-files-share-project"]

NETWORKS = {"frontend": False, "backend": True, "egress": False, "monitoring": True}

# ---------------------------------------------------------------- YAML writing


def q(s, r):
    """Quote a scalar one of several valid ways."""
    if any(c in s for c in ":{}[],&*#?|<>=!%@`'\"") or s.strip() != s or s == "":
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')
    return r.choice([s, '"%s"' % s, "'%s'" % s])


def render_service(name, s, r, anchor):
    out = ["  %s:" % name]
    if anchor:
        out.append("    <<: *defaults")
    keys = ["image", "build", "user", "init", "command", "env_file", "environment", "ports", "volumes",
            "cap_drop", "cap_add", "healthcheck", "mem", "networks"]
    order = keys[:]
    # vary the order of a few keys
    mid = order[3:12]
    r.shuffle(mid)
    order = order[:3] + mid + order[12:]
    for k in order:
        if k not in s:
            continue
        v = s[k]
        if k == "init":
            if v:
                out.append("    init: true")
        elif k == "mem":
            if r.random() < 0.5:
                out.append("    mem_limit: %s" % v)
            else:
                out += ["    deploy:", "      resources:", "        limits:", "          memory: %s" % v]
        elif k == "healthcheck":
            out.append("    healthcheck:")
            if r.random() < 0.5:
                out.append("      test: [%s]" % ", ".join('"%s"' % w.replace('"', '\\"') for w in v))
            else:
                out.append("      test:")
                out += ["        - %s" % q(w, r) for w in v]
            out.append("      interval: %ds" % r.choice([5, 10, 15, 30]))
            out.append("      retries: %d" % r.choice([3, 5, 10]))
        elif k == "environment":
            if r.random() < 0.5:
                out.append("    environment:")
                out += ["      %s: %s" % (ek, q(ev, r)) for ek, ev in v.items()]
            else:
                out.append("    environment:")
                out += ["      - %s" % q("%s=%s" % (ek, ev), r) for ek, ev in v.items()]
        elif k == "networks":
            if r.random() < 0.5:
                out.append("    networks: [%s]" % ", ".join(v))
            else:
                out.append("    networks:")
                out += ["      - %s" % n for n in v]
        elif isinstance(v, list):
            out.append("    %s:" % k)
            out += ["      - %s" % q(w, r) for w in v]
        else:
            out.append("    %s: %s" % (k, q(v, r)))
    if "raw" in s:
        out.append(s["raw"].rstrip("\n"))
    return out


def render_file(stack, r, name_field, networks_external):
    lines = []
    if r.random() < 0.5:
        lines.append("# generated for the vpai check benchmark")
    if stack.get("__cp1252__"):
        lines.append("# stack \x97 production")
    if name_field:
        lines.append("name: %s" % name_field)
    anchor = r.random() < 0.3
    if anchor:
        lines += ["x-defaults: &defaults", "  restart: %s" % r.choice(["unless-stopped", "always"]),
                  "  logging:", "    driver: json-file"]
    lines.append("services:")
    used_nets = set()
    for name, s in stack.items():
        if name.startswith("__"):
            continue
        lines += render_service(name, s, r, anchor)
        used_nets.update(s.get("networks", []))
    if used_nets:
        lines.append("networks:")
        for n in sorted(used_nets):
            if networks_external:
                lines += ["  %s:" % n, "    external: true", "    name: demo_%s" % n]
            else:
                lines.append("  %s:" % n)
                lines.append("    name: demo_%s" % n)
                if NETWORKS.get(n):
                    lines.append("    internal: true")
    text = "\n".join(lines) + "\n"
    data = text.encode("utf-8") if not stack.get("__cp1252__") else text.encode("latin-1", "replace")
    if stack.get("__cp1252__"):
        data = data.replace(b"\xc2\x97", b"\x97")
    if stack.get("__crlf__"):
        data = data.replace(b"\n", b"\r\n")
    return data


def base_stack(r, pool):
    names = r.sample(sorted(pool), r.randint(2, min(5, len(pool))))
    return {n: pool[n](r) for n in names}


def main():
    out = sys.argv[1]
    files = 240
    seed = 20260216
    args = sys.argv[2:]
    if "--files" in args:
        files = int(args[args.index("--files") + 1])
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    r = random.Random(seed)
    corpus = os.path.join(out, "corpus")
    os.makedirs(corpus, exist_ok=True)
    manifest = {}
    trap_names = sorted(TRAPS)
    n_files = 0
    i = 0
    cycle = 0
    while n_files < files:
        i += 1
        d = os.path.join(corpus, "host-%03d" % i)
        os.makedirs(d, exist_ok=True)
        kind = i % 10
        if kind in (0, 5):  # two files: infra + apps
            trap = r.choice(PAIR_TRAPS + ["clean", "clean"])
            infra = base_stack(r, INFRA)
            apps = base_stack(r, APPS)
            if trap == "service-in-two-compose-files":
                dup = r.choice(sorted(infra))
                apps[dup] = INFRA[dup](r)
            names = ("demo-infra", "demo") if trap != "compose-files-share-project" else (None, None)
            with open(os.path.join(d, "docker-compose-infra.yml"), "wb") as fh:
                fh.write(render_file(infra, r, names[0], False))
            with open(os.path.join(d, "docker-compose.yml"), "wb") as fh:
                fh.write(render_file(apps, r, names[1], True))
            manifest["host-%03d" % i] = [] if trap == "clean" else [trap]
            n_files += 2
        else:
            stack = base_stack(r, ALL)
            if kind == 9:
                traps = []  # clean
            else:
                k = 1 if kind < 7 else 2
                traps = r.sample(trap_names, k)
                # cycle so that every trap appears often
                traps[0] = trap_names[cycle % len(trap_names)]
                cycle += 1
                traps = sorted(set(traps))
            for t in traps:
                TRAPS[t](stack, r)
            with open(os.path.join(d, "docker-compose.yml"), "wb") as fh:
                fh.write(render_file(stack, r, "demo-%03d" % i, False))
            manifest["host-%03d" % i] = traps
            n_files += 1
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
    print("%d compose files in %d directories under %s" % (n_files, len(manifest), corpus))


if __name__ == "__main__":
    main()
