#!/usr/bin/python3 -I
"""Grafana Loki STAND-IN for vpai's tests (Loki is in no registry this project can reach).

It keeps the outside contract of `grafana/loki:3.6.5` that vpai relies on:
  * the CLI: `loki -config.file=FILE [-target=all] [-config.expand-env=true]` (Go `flag`
    syntax, an unknown flag stops it), and `loki -health`, the distroless image's
    healthcheck (GET http://localhost:3100/ready, exit 0 on 200);
  * the YAML config, read strictly at the top level (an unknown top-level key stops the
    start, as Loki's `field X not found` does); the keys it uses: auth_enabled,
    server.http_listen_port / http_listen_address, common.path_prefix,
    common.storage.filesystem.*, storage_config.filesystem.directory,
    storage_config.tsdb_shipper.*, compactor.working_directory, common.ring.kvstore.store,
    ingester.lifecycler.ring.kvstore.store, memberlist.join_members,
    limits_config.allow_structured_metadata, schema_config.configs;
  * the single-node trap of seed 000 #24 (Loki bug #19381): unless the command line says
    `-target=all`, the ingester ring kvstore is `inmemory` and memberlist has no
    join_members, the ingester never joins the ring: "empty ring" errors in the log,
    /ready answers 503 and pushes fail;
  * the start fails like Loki's when a storage directory cannot be created or written by
    the process (UID 10001 in the image): `mkdir /loki/chunks: permission denied`;
  * HTTP: /ready, /loki/api/v1/push (JSON body only: snappy-compressed protobuf is
    answered 415), /loki/api/v1/query_range, /loki/api/v1/query (which, like Loki 3,
    refuses log queries: only range queries return streams), /loki/api/v1/labels,
    /loki/api/v1/label/NAME/values, /loki/api/v1/status/buildinfo, /metrics;
    `X-Scope-OrgID` is required when auth_enabled is true (Loki's default);
  * LogQL subset: a stream selector `{a="b", c=~"re", d!="x", e!~"re"}` followed by any
    line filters `|= "text"`, `!= "text"`, `|~ "re"`, `!~ "re"`; metric queries are refused.
Entries are kept in memory and appended to `<chunks_directory>/standin-entries.jsonl`,
read back at start, so they survive a restart.
Python standard library + PyYAML (Debian's python3-yaml).
"""

import datetime
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

VERSION = "3.6.5"
REVISION = "vpai-test-stand-in"

TOP_LEVEL_KEYS = {
    "target", "auth_enabled", "server", "distributor", "querier", "query_scheduler",
    "frontend", "query_range", "ruler", "ruler_storage", "ingester_client", "ingester",
    "block_builder", "block_scheduler", "pattern_ingester", "index_gateway", "bloom_build",
    "bloom_gateway", "storage_config", "chunk_store_config", "schema_config", "compactor",
    "limits_config", "frontend_worker", "table_manager", "memberlist", "kafka_config",
    "dataobj", "runtime_config", "operational_config", "tracing", "analytics", "common",
    "shutdown_delay", "metrics_namespace", "profiling_config", "ui",
}
# Go `flag` flags this stand-in knows; any other stops the start like Go's flag package.
FLAGS = {
    "config.file": str, "config.expand-env": bool, "target": str, "health": bool,
    "health.url": str, "log.level": str, "log.format": str, "version": bool,
    "print-config-stderr": bool, "log-config-reverse-order": bool,
    "server.http-listen-port": int, "validation.allow-structured-metadata": bool,
    "querier.multi-tenant-queries-enabled": bool,
}

_log_lock = threading.Lock()


def log(level, msg, **kv):
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    parts = [f"level={level}", f"ts={ts}", f'msg="{msg}"' if " " in msg else f"msg={msg}"]
    for k, v in kv.items():
        v = str(v)
        parts.append(f'{k}="{v}"' if (" " in v or "=" in v or not v) else f"{k}={v}")
    with _log_lock:
        sys.stderr.write(" ".join(parts) + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------- command line

def parse_flags(argv):
    """Go's flag package: -name=value, -name value, --name=value; bools take no value."""
    out = {}
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--":
            break
        if not a.startswith("-") or a == "-":
            break  # first non-flag ends the flags, as in Go
        name = a.lstrip("-")
        value = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in ("h", "help"):
            print("Usage of loki (vpai-test stand-in): " + ", ".join("-" + f for f in sorted(FLAGS)))
            sys.exit(0)
        kind = FLAGS.get(name)
        if kind is None:
            sys.stderr.write(f"flag provided but not defined: -{name}\n")
            sys.exit(1)
        if kind is bool:
            if value is None:
                value = True
            elif value.lower() in ("1", "t", "true"):
                value = True
            elif value.lower() in ("0", "f", "false"):
                value = False
            else:
                sys.stderr.write(f'invalid boolean value "{value}" for -{name}\n')
                sys.exit(1)
        else:
            if value is None:
                if not args:
                    sys.stderr.write(f"flag needs an argument: -{name}\n")
                    sys.exit(1)
                value = args.pop(0)
            if kind is int:
                try:
                    value = int(value)
                except ValueError:
                    sys.stderr.write(f'invalid value "{value}" for flag -{name}: parse error\n')
                    sys.exit(1)
        out[name] = value
    return out


def health(url):
    """`loki -health`: what the distroless image's healthcheck runs."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            code = resp.status
    except urllib.error.HTTPError as e:
        code = e.code
    except Exception as e:  # noqa: BLE001 - any failure is "unhealthy"
        sys.stderr.write(f"Health check failed: {e}\n")
        return 1
    if code == 200:
        print("Loki is healthy")
        return 0
    sys.stderr.write(f"Loki is unhealthy: status code {code}\n")
    return 1


# ---------------------------------------------------------------- configuration

ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def get(cfg, path, default=None):
    cur = cfg
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return default if cur is None else cur


def load_config(path, expand_env):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SystemExit(fail(f"failed parsing config: {path}: open {path}: {os.strerror(e.errno).lower()}"))
    if expand_env:
        text = ENV_RE.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), text)
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise SystemExit(fail(f"failed parsing config: {path}: yaml: {where}{getattr(e, 'problem', e)}"))
    if not isinstance(cfg, dict):
        raise SystemExit(fail(f"failed parsing config: {path}: yaml: unmarshal errors: cannot unmarshal into loki.ConfigWrapper"))
    unknown = [k for k in cfg if k not in TOP_LEVEL_KEYS]
    if unknown:
        lines = "\n".join(f"  field {k} not found in type loki.ConfigWrapper" for k in unknown)
        raise SystemExit(fail(f"failed parsing config: {path}: yaml: unmarshal errors:\n{lines}"))
    return cfg


def fail(message):
    sys.stderr.write(message + "\n")
    return 1


def config_errors(cfg, flags):
    """Loki 3's start-up CONFIG ERRORs that a hand-written config meets first."""
    errors = []
    configs = get(cfg, "schema_config.configs", [])
    if not configs:
        errors.append("invalid schema config: schema_config.configs is empty")
        return errors
    last = configs[-1] or {}
    allow_sm = flags.get("validation.allow-structured-metadata",
                         get(cfg, "limits_config.allow_structured_metadata", True))
    if allow_sm:
        if str(last.get("schema", "")) < "v13":
            errors.append(
                "CONFIG ERROR: schema v13 is required to store Structured Metadata and use native OTLP "
                f"ingestion, your schema version is {last.get('schema')}. Set `allow_structured_metadata: false` "
                "in the `limits_config` section or set the command line argument "
                "`-validation.allow-structured-metadata=false` and restart Loki.")
        if last.get("store") != "tsdb":
            errors.append(
                "CONFIG ERROR: `tsdb` index type is required to store Structured Metadata and use native "
                f"OTLP ingestion, your index type is `{last.get('store')}` (defined in the `store` parameter "
                "of the schema_config). Set `allow_structured_metadata: false` in the `limits_config` "
                "section or set the command line argument `-validation.allow-structured-metadata=false` "
                "and restart Loki.")
    return errors


def ring_problems(cfg, flags):
    """Why the single node's ingester would not join its ring (seed 000 #24)."""
    problems = []
    if flags.get("target") != "all":
        problems.append("the command line has no -target=all (memberlist-kv initialised, Loki bug #19381)")
    store = get(cfg, "ingester.lifecycler.ring.kvstore.store")
    if store != "inmemory":
        problems.append(f"ingester.lifecycler.ring.kvstore.store is {store or 'not set'}, not inmemory")
    if get(cfg, "memberlist.join_members", []):
        problems.append("memberlist.join_members is not empty")
    return problems


def storage_dirs(cfg):
    prefix = get(cfg, "common.path_prefix")
    dirs = []

    def add(path, default_leaf=None):
        if path:
            dirs.append(path)
        elif prefix and default_leaf:
            dirs.append(os.path.join(prefix, default_leaf))

    add(get(cfg, "common.storage.filesystem.chunks_directory")
        or get(cfg, "storage_config.filesystem.directory"), "chunks")
    add(get(cfg, "common.storage.filesystem.rules_directory"), "rules")
    add(get(cfg, "storage_config.tsdb_shipper.active_index_directory"), "tsdb-index")
    add(get(cfg, "storage_config.tsdb_shipper.cache_location"), "tsdb-cache")
    add(get(cfg, "compactor.working_directory"), "compactor")
    add(get(cfg, "ingester.wal.dir"), "wal")
    return dirs


# ---------------------------------------------------------------- storage and LogQL

class Store:
    def __init__(self, chunks_dir):
        self.lock = threading.Lock()
        self.streams = {}  # frozenset(labels) -> list[(ns, line)]
        self.path = os.path.join(chunks_dir, "standin-entries.jsonl")
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                for raw in f:
                    try:
                        rec = json.loads(raw)
                        self.streams.setdefault(frozenset(rec["s"].items()), []).append((int(rec["t"]), rec["l"]))
                    except (ValueError, KeyError):
                        continue
        self.file = open(self.path, "a", encoding="utf-8")

    def push(self, streams):
        n = 0
        with self.lock:
            for s in streams:
                labels = {str(k): str(v) for k, v in s["stream"].items()}
                key = frozenset(labels.items())
                for value in s.get("values", []):
                    ts, line = int(value[0]), str(value[1])
                    self.streams.setdefault(key, []).append((ts, line))
                    self.file.write(json.dumps({"s": labels, "t": ts, "l": line}) + "\n")
                    n += 1
            self.file.flush()
        return n

    def labels(self):
        with self.lock:
            return sorted({k for key in self.streams for k, _ in key})

    def values(self, name):
        with self.lock:
            return sorted({v for key in self.streams for k, v in key if k == name})

    def select(self, matchers, filters, start, end, limit, direction):
        result = []
        with self.lock:
            for key, entries in self.streams.items():
                labels = dict(key)
                if not all(m(labels) for m in matchers):
                    continue
                picked = [(t, l) for t, l in entries
                          if start <= t < end and all(f(l) for f in filters)]
                if picked:
                    result.append((labels, picked))
        # Loki's limit applies to the entries of the whole answer, newest first by default.
        every = sorted(((t, l, i) for i, (_, p) in enumerate(result) for t, l in p),
                       key=lambda e: e[0], reverse=(direction == "backward"))[:limit]
        out = {}
        for t, l, i in every:
            out.setdefault(i, []).append([str(t), l])
        return [{"stream": result[i][0], "values": v} for i, v in out.items()]


class QueryError(Exception):
    pass


SELECTOR_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*')
FILTER_RE = re.compile(r'\s*(\|=|!=|\|~|!~)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)')


def unquote(s):
    return s[1:-1] if s.startswith("`") else json.loads(s)


def parse_logql(query):
    q = query.strip()
    if not q.startswith("{"):
        raise QueryError(f"parse error at line 1, col 1: syntax error: unexpected IDENTIFIER "
                         f"(the vpai-test stand-in answers log queries only: {q[:40]!r})")
    end = q.find("}")
    if end < 0:
        raise QueryError("parse error : syntax error: unexpected $end, expecting } or ,")
    body, rest = q[1:end], q[end + 1:]
    matchers, pos, empty_ok = [], 0, True
    while pos < len(body):
        m = SELECTOR_RE.match(body, pos)
        if not m:
            raise QueryError(f"parse error at line 1, col {pos + 2}: syntax error: unexpected character")
        name, op, raw = m.group(1), m.group(2), unquote(m.group(3))
        if op in ("=~", "!~"):
            try:
                rx = re.compile(r"(?:%s)\Z" % raw)
            except re.error as e:
                raise QueryError(f"parse error : error parsing regexp: {e}") from None
            matches_empty = bool(rx.match(""))
            if op == "=~":
                matchers.append(lambda ls, n=name, r=rx: bool(r.match(ls.get(n, ""))))
            else:
                matchers.append(lambda ls, n=name, r=rx: not r.match(ls.get(n, "")))
                matches_empty = not matches_empty
        elif op == "=":
            matchers.append(lambda ls, n=name, v=raw: ls.get(n, "") == v)
            matches_empty = raw == ""
        else:
            matchers.append(lambda ls, n=name, v=raw: ls.get(n, "") != v)
            matches_empty = raw != ""
        if not matches_empty:
            empty_ok = False
        pos = m.end()
        if pos < len(body):
            if body[pos] != ",":
                raise QueryError("parse error : syntax error: unexpected character, expecting , or }")
            pos += 1
    if not matchers or empty_ok:
        raise QueryError("parse error : queries require at least one regexp or equality matcher that "
                         "does not have an empty-compatible value. For instance, app=~\".*\" does not "
                         "meet this requirement, but app=~\".+\" will")
    filters, pos = [], 0
    while rest[pos:].strip():
        m = FILTER_RE.match(rest, pos)
        if not m:
            raise QueryError(f"parse error : syntax error near {rest[pos:].strip()[:30]!r} "
                             "(the vpai-test stand-in knows line filters only)")
        op, text = m.group(1), unquote(m.group(2))
        if op == "|=":
            filters.append(lambda line, t=text: t in line)
        elif op == "!=":
            filters.append(lambda line, t=text: t not in line)
        else:
            try:
                rx = re.compile(text)
            except re.error as e:
                raise QueryError(f"parse error : error parsing regexp: {e}") from None
            if op == "|~":
                filters.append(lambda line, r=rx: bool(r.search(line)))
            else:
                filters.append(lambda line, r=rx: not r.search(line))
        pos = m.end()
    return matchers, filters


def parse_time(value, default_ns):
    if value is None or value == "":
        return default_ns
    try:
        if re.fullmatch(r"\d+", value):
            n = int(value)
            return n if n > 10**14 else n * 10**9  # nanoseconds, or Unix seconds
        if re.fullmatch(r"\d+\.\d*", value):
            return int(float(value) * 10**9)
        dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return int(dt.timestamp() * 10**9)
    except ValueError:
        raise QueryError(f'invalid parameter "start/end": cannot parse "{value}" to a valid timestamp') from None


DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")
UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
           "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}


def parse_duration_ns(text):
    total, pos = 0, 0
    for m in DURATION_RE.finditer(text):
        if m.start() != pos:
            raise ValueError(text)
        total += int(float(m.group(1)) * UNIT_NS[m.group(2)])
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(text)
    return total


# ---------------------------------------------------------------- HTTP

class State:
    def __init__(self, cfg, flags, store):
        self.cfg = cfg
        self.store = store
        self.auth = bool(get(cfg, "auth_enabled", True))
        self.problems = ring_problems(cfg, flags)
        try:
            self.min_ready_ns = parse_duration_ns(str(get(cfg, "ingester.lifecycler.min_ready_duration", "15s")))
        except ValueError:
            self.min_ready_ns = 15 * 10**9
        self.started = time.monotonic_ns()
        self.pushed = 0

    def ready_message(self):
        if self.problems:
            return "Ingester not ready: this instance owns no tokens (empty ring)"
        waited = time.monotonic_ns() - self.started
        if waited < self.min_ready_ns:
            return f"Ingester not ready: waiting for {self.min_ready_ns // 10**9}s after being ready"
        return None


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        server_version = "loki"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            if self.path.startswith(("/ready", "/metrics")):
                return
            log("debug", "request", method=self.command, path=self.path.split("?")[0],
                status=args[1] if len(args) > 1 else "")

        def send(self, code, body, ctype="text/plain; charset=utf-8"):
            data = json.dumps(body, separators=(",", ":")).encode() if isinstance(body, (dict, list)) else body.encode()
            if isinstance(body, (dict, list)):
                ctype = "application/json; charset=UTF-8"
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def params(self):
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            if self.command == "POST" and "form-urlencoded" in (self.headers.get("Content-Type") or ""):
                n = int(self.headers.get("Content-Length") or 0)
                q.update(urllib.parse.parse_qsl(self.rfile.read(n).decode(), keep_blank_values=True))
            return url.path, q

        def route(self):
            path, q = self.params()
            if path == "/ready":
                msg = state.ready_message()
                return self.send(503, msg + "\n") if msg else self.send(200, "ready\n")
            if path == "/metrics":
                return self.send(200, "# HELP loki_build_info Loki build (vpai-test stand-in)\n"
                                      "# TYPE loki_build_info gauge\n"
                                      f'loki_build_info{{version="{VERSION}",revision="{REVISION}"}} 1\n'
                                      f"loki_distributor_lines_received_total {state.pushed}\n",
                                 "text/plain; version=0.0.4")
            if path in ("/loki/api/v1/status/buildinfo",):
                return self.send(200, {"version": VERSION, "revision": REVISION, "branch": "HEAD",
                                       "goVersion": "stand-in"})
            if not path.startswith("/loki/api/v1/"):
                return self.send(404, "404 page not found\n")
            if state.auth and not self.headers.get("X-Scope-OrgID"):
                return self.send(401, "no org id\n")
            try:
                if path == "/loki/api/v1/push" and self.command == "POST":
                    return self.push()
                if path in ("/loki/api/v1/query_range", "/loki/api/v1/query"):
                    return self.query(path.endswith("range"), q)
                if path in ("/loki/api/v1/labels", "/loki/api/v1/label"):
                    return self.send(200, {"status": "success", "data": state.store.labels()})
                m = re.fullmatch(r"/loki/api/v1/label/([^/]+)/values", path)
                if m:
                    return self.send(200, {"status": "success",
                                           "data": state.store.values(urllib.parse.unquote(m.group(1)))})
            except QueryError as e:
                return self.send(400, str(e) + "\n")
            return self.send(404, "404 page not found\n")

        def push(self):
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            if ctype != "application/json":
                return self.send(415, f"unsupported Content-Type {ctype!r}: the vpai-test stand-in "
                                      "accepts JSON pushes only (application/json)\n")
            if state.problems:
                log("error", "error getting ingester clients", err="empty ring")
                return self.send(500, "empty ring\n")
            try:
                body = json.loads(raw)
                streams = body["streams"]
                for s in streams:
                    if not s.get("stream"):
                        raise ValueError("error at least one label pair is required per stream")
                    for v in s.get("values", []):
                        int(v[0])
                        str(v[1])
            except (ValueError, KeyError, TypeError, IndexError) as e:
                return self.send(400, f"loghttp.PushRequest: {e}\n")
            state.pushed += state.store.push(streams)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def query(self, ranged, q):
            query = q.get("query")
            if not query:
                raise QueryError('parse error : syntax error: unexpected $end')
            matchers, filters = parse_logql(query)
            if not ranged:
                # Loki 3 answers a log query on the instant endpoint with this error
                raise QueryError("log queries are not supported as an instant query type, please "
                                 "change your query to a range query type")
            now = time.time_ns()
            try:
                limit = int(q.get("limit") or 100)
            except ValueError:
                raise QueryError(f'invalid parameter "limit": {q.get("limit")}') from None
            direction = (q.get("direction") or "backward").lower()
            end = parse_time(q.get("end"), now)
            start = parse_time(q.get("start"), end - 3600 * 10**9)
            if "since" in q and "start" not in q:
                try:
                    start = end - parse_duration_ns(q["since"])
                except ValueError:
                    raise QueryError(f'invalid parameter "since": {q["since"]}') from None
            result = state.store.select(matchers, filters, start, end, limit, direction)
            self.send(200, {"status": "success", "data": {"resultType": "streams", "result": result,
                                                          "stats": {"summary": {"totalEntriesReturned":
                                                                    sum(len(s["values"]) for s in result)}}}})

        do_GET = do_POST = do_HEAD = route

    return Handler


# ---------------------------------------------------------------- main

def main(argv):
    flags = parse_flags(argv)
    if flags.get("version"):
        print(f"loki, version {VERSION} (branch: HEAD, revision: {REVISION})")
        return 0
    if flags.get("health"):
        return health(flags.get("health.url", "http://localhost:3100/ready"))
    path = flags.get("config.file")
    if not path:
        return fail("failed parsing config: config.file is required (-config.file=FILE)")
    cfg = load_config(path, flags.get("config.expand-env", False))
    target = flags.get("target") or cfg.get("target") or "all"
    if target != "all":
        log("warn", f"the vpai-test stand-in runs every module whatever the target ({target})")
    log("info", "Starting Loki", version=f"(version={VERSION}, branch=HEAD, revision={REVISION})")
    errors = config_errors(cfg, flags)
    if errors:
        for e in errors:
            sys.stderr.write(e + "\n")
        log("error", "validating config", err="invalid config")
        return 1
    dirs = storage_dirs(cfg)
    if not dirs:
        log("error", "error running loki", err="no storage directory configured (common.path_prefix or "
                                                  "common.storage.filesystem.*): the vpai-test stand-in "
                                                  "only stores on the filesystem")
        return 1
    for d in dirs:
        try:
            os.makedirs(d, exist_ok=True)
            probe = os.path.join(d, ".write-test")
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as e:
            what = "mkdir" if not os.path.isdir(d) else "open"
            log("error", "error running loki",
                err=f"error initialising module: store: {what} {e.filename or d}: {os.strerror(e.errno).lower()}")
            return 1
    store = Store(dirs[0])
    state = State(cfg, flags, store)
    for p in state.problems:
        log("warn", "single-node ring will stay empty", reason=p)

    port = flags.get("server.http-listen-port") or get(cfg, "server.http_listen_port", 3100)
    host = get(cfg, "server.http_listen_address", "") or "0.0.0.0"
    try:
        server = ThreadingHTTPServer((host, int(port)), make_handler(state))
    except OSError as e:
        log("error", "error running loki", err=f"listen tcp {host}:{port}: {os.strerror(e.errno).lower()}")
        return 1
    server.daemon_threads = True
    log("info", "server listening on addresses", http=f"[::]:{port}", grpc="[::]:9095 (not served by the stand-in)")
    log("info", "Loki started", startup_time="1s")

    stop = threading.Event()

    def empty_ring_errors():
        while not stop.wait(10):
            if state.problems:
                log("error", "error getting ingester clients", err="empty ring")

    threading.Thread(target=empty_ring_errors, daemon=True).start()

    def on_signal(signum, _frame):
        log("info", "=== received SIGINT/SIGTERM ===\n*** exiting")
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
