#!/usr/bin/env python3
"""Qdrant STAND-IN for vpai's tests (the real Qdrant is in no registry we can reach).

Keeps the outside contract of the official image that vpai relies on:
  * configuration read like Qdrant reads it, from /qdrant (the working directory):
    built-in defaults < config/config.yaml < config/$RUN_MODE.yaml < config/local.yaml
    < --config-path FILE < QDRANT__SECTION__KEY environment variables; a missing
    config/config or config/$RUN_MODE file is a warning ("Config file not found: ..."),
    a file that does not parse or has a wrongly typed value stops the start;
  * at start: storage and snapshots directories created, snapshots/tmp removed and made
    again, raft_state.json written; any failure stops it with Rust's io::Error text
    (e.g. `Os { code: 13, kind: PermissionDenied, message: "Permission denied" }`);
  * HTTP API on service.http_port: GET / (version), /healthz, /livez, /readyz (never need a
    key), and the collections API (GET /collections, GET/PUT/DELETE /collections/NAME,
    POST/GET /collections/NAME/snapshots) which needs `api-key: KEY` or
    `Authorization: Bearer KEY` when service.api_key is set (401 otherwise);
    service.read_only_api_key allows GET only.
Collections are kept as JSON files under storage/collections/NAME/config.json, so they
survive a restart; snapshots are tar files under snapshots/NAME/.
Only the Python standard library is used.
"""

import datetime
import errno
import json
import os
import re
import shutil
import signal
import sys
import tarfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1.16.3"
COMMIT = "vpai-test-stand-in"

DEFAULTS = {
    "log_level": "INFO",
    "storage": {
        "storage_path": "./storage",
        "snapshots_path": "./snapshots",
        "temp_path": None,
        "on_disk_payload": True,
    },
    "service": {
        "host": "0.0.0.0",
        "http_port": 6333,
        "grpc_port": 6334,
        "max_request_size_mb": 32,
        "enable_cors": True,
        "enable_tls": False,
        "api_key": None,
        "alt_api_key": None,
        "read_only_api_key": None,
    },
    "cluster": {"enabled": False},
    "telemetry_disabled": False,
}

# Types of the keys this stand-in uses (others are accepted and ignored, as serde does).
SCHEMA = {
    "log_level": "opt_str",
    "storage.storage_path": "str",
    "storage.snapshots_path": "str",
    "storage.temp_path": "opt_str",
    "storage.on_disk_payload": "bool",
    "service.host": "nonempty_str",
    "service.http_port": "u16",
    "service.grpc_port": "opt_u16",
    "service.max_request_size_mb": "usize",
    "service.enable_cors": "bool",
    "service.enable_tls": "bool",
    "service.api_key": "opt_str",
    "service.alt_api_key": "opt_str",
    "service.read_only_api_key": "opt_str",
    "cluster.enabled": "bool",
    "telemetry_disabled": "bool",
}

LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4}
_log_level = LEVELS["INFO"]
_log_lock = threading.Lock()


def log(level, target, msg):
    if LEVELS[level] < _log_level:
        return
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with _log_lock:
        sys.stdout.write(f"{now} {level:>5} {target}: {msg}\n")
        sys.stdout.flush()


def rust_io_error(e):
    """An OSError as Rust's Debug form of std::io::Error."""
    kinds = {
        errno.EACCES: "PermissionDenied", errno.EPERM: "PermissionDenied",
        errno.ENOENT: "NotFound", errno.EEXIST: "AlreadyExists",
        errno.EROFS: "ReadOnlyFilesystem", errno.ENOSPC: "StorageFull",
        errno.ENOTDIR: "NotADirectory", errno.EISDIR: "IsADirectory",
        errno.ENOTEMPTY: "DirectoryNotEmpty", errno.EBUSY: "ResourceBusy",
    }
    code = e.errno or 0
    return 'Os {{ code: {}, kind: {}, message: "{}" }}'.format(
        code, kinds.get(code, "Uncategorized"), os.strerror(code) if code else str(e))


class ConfigError(Exception):
    pass


# ---------------------------------------------------------------- a small YAML reader
# Enough YAML for Qdrant configs: block mappings and sequences, flow sequences/mappings
# of scalars, plain/quoted scalars, comments. Anything else is an error, with its line.

def _strip_comment(line):
    out, quote = [], None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


def _scalar(text, where):
    t = text.strip()
    if t == "" or t in ("~", "null", "Null", "NULL"):
        return None
    if t[0] in "'\"":
        if len(t) < 2 or t[-1] != t[0]:
            raise ConfigError(f"unterminated quoted scalar {where}")
        body = t[1:-1]
        if t[0] == "'":
            return body.replace("''", "'")
        try:
            return json.loads('"' + body.replace("\\'", "'") + '"')
        except ValueError as e:
            raise ConfigError(f"bad escape in double-quoted scalar {where}: {e}") from None
    if t[0] == "[":
        if t[-1] != "]":
            raise ConfigError(f"did not find expected ',' or ']' {where}")
        inner = t[1:-1].strip()
        return [_scalar(x, where) for x in inner.split(",")] if inner else []
    if t[0] == "{":
        if t[-1] != "}":
            raise ConfigError(f"did not find expected ',' or '}}' {where}")
        inner = t[1:-1].strip()
        out = {}
        for item in (inner.split(",") if inner else []):
            if ":" not in item:
                raise ConfigError(f"expected ':' in flow mapping {where}")
            k, v = item.split(":", 1)
            out[k.strip()] = _scalar(v, where)
        return out
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if re.fullmatch(r"[-+]?[0-9]+", t):
        return int(t)
    if re.fullmatch(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", t):
        return float(t)
    if t[0] in "&*!|>%@`":
        raise ConfigError(f"unsupported YAML construct {t[0]!r} {where}")
    return t


def parse_yaml(text, name):
    lines = []
    for no, raw in enumerate(text.splitlines(), 1):
        if raw.strip() in ("---", "..."):
            continue
        body = raw.rstrip("\r\n")
        lead = body[: len(body) - len(body.lstrip(" \t"))]
        if "\t" in lead and body.strip():
            raise ConfigError(f"found a tab character where an indentation space is expected at line {no} in {name}")
        stripped = _strip_comment(body)
        if stripped.strip():
            lines.append((no, len(stripped) - len(stripped.lstrip(" ")), stripped.strip()))
    pos = 0

    def block(indent):
        nonlocal pos
        if pos >= len(lines):
            return None
        no, ind, content = lines[pos]
        if ind < indent:
            return None
        if content.startswith("- ") or content == "-":
            seq = []
            while pos < len(lines):
                no, ind2, content = lines[pos]
                if ind2 < ind:
                    break
                if ind2 > ind or not (content.startswith("- ") or content == "-"):
                    raise ConfigError(f"did not find expected '-' indicator at line {no} in {name}")
                pos += 1
                seq.append(_scalar(content[1:], f"at line {no} in {name}"))
            return seq
        mapping = {}
        while pos < len(lines):
            no, ind2, content = lines[pos]
            if ind2 < ind:
                break
            if ind2 > ind:
                raise ConfigError(f"mapping values are not allowed in this context at line {no} in {name}")
            m = re.match(r"""^("[^"]*"|'[^']*'|[^:]+?)\s*:(\s+(.*))?$""", content)
            if not m:
                raise ConfigError(f"could not find expected ':' at line {no} in {name}")
            key = m.group(1).strip("'\"")
            rest = (m.group(3) or "").strip()
            pos += 1
            if key in mapping:
                raise ConfigError(f"duplicate key `{key}` at line {no} in {name}")
            if rest:
                mapping[key] = _scalar(rest, f"at line {no} in {name}")
            else:
                child = None
                if pos < len(lines) and (lines[pos][1] > ind or
                                         (lines[pos][1] == ind and lines[pos][2].startswith("-"))):
                    child = block(lines[pos][1])
                mapping[key] = child
        return mapping

    doc = block(0)
    if pos != len(lines):
        no = lines[pos][0]
        raise ConfigError(f"did not find expected key at line {no} in {name}")
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"invalid type: sequence, expected a map in {name}")
    return doc


# ---------------------------------------------------------------- configuration

def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v


def find_config(path):
    """config crate's File::with_name: the path itself or with a known extension."""
    for cand in (path, path + ".yaml", path + ".yml", path + ".json"):
        if os.path.isfile(cand):
            return cand
    return None


def load_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: {rust_io_error(e)}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: stream did not contain valid UTF-8: {e}") from None
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as e:
            raise ConfigError(f"{e} in {path}") from None
    return parse_yaml(text, path)


def typed(path, value, kind, origin):
    def bad(expected):
        shown = json.dumps(value) if isinstance(value, str) else value
        kind_name = type(value).__name__
        kind_name = {"str": "string", "int": "integer", "float": "floating point",
                     "bool": "boolean", "list": "sequence", "dict": "map"}.get(kind_name, kind_name)
        raise ConfigError(f'invalid type: {kind_name} {shown}, expected {expected} for key "{path}"{origin}')

    optional = kind.startswith("opt_")
    base = kind[4:] if optional else kind
    if value is None:
        if optional:
            return None
        raise ConfigError(f'missing field `{path.split(".")[-1]}` for key "{path}"')
    if isinstance(value, str) and base in ("u16", "usize", "bool"):
        s = value.strip()
        if base == "bool" and s.lower() in ("true", "false", "1", "0"):
            return s.lower() in ("true", "1")
        if base != "bool" and re.fullmatch(r"[0-9]+", s):
            value = int(s)
    if base in ("str", "nonempty_str"):
        if isinstance(value, (dict, list)):
            bad("a string")
        value = str(value) if not isinstance(value, bool) else str(value).lower()
        if base == "nonempty_str" and not value:
            raise ConfigError(f'validation error: length of "{path}" must be at least 1')
        return value
    if base == "bool":
        if not isinstance(value, bool):
            bad("a boolean")
        return value
    if base in ("u16", "usize"):
        if isinstance(value, bool) or not isinstance(value, int):
            bad("u16" if base == "u16" else "usize")
        hi = 65535 if base == "u16" else 2 ** 64 - 1
        if not 0 <= value <= hi:
            raise ConfigError(f'invalid value: integer `{value}`, expected {base} for key "{path}"{origin}')
        return value
    return value


def get_path(d, path):
    for p in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def has_path(d, path):
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return False
        d = d[p]
    return True


def set_path(d, path, value):
    parts = path.split(".")
    for p in parts[:-1]:
        if not isinstance(d.get(p), dict):
            d[p] = {}
        d = d[p]
    d[parts[-1]] = value


def load_settings(custom_path):
    warnings, errors, loaded = [], [], []
    run_mode = os.environ.get("RUN_MODE", "development")
    env_cfg = f"config/{run_mode}"
    if custom_path and not find_config(custom_path):
        errors.append(f"Config file via --config-path is not found: {custom_path}")
    for p in ("config/config", env_cfg):
        if not find_config(p):
            warnings.append(f"Config file not found: {p}")

    settings = json.loads(json.dumps(DEFAULTS))
    origins = {}
    sources = ["config/config", env_cfg, "config/local"] + ([custom_path] if custom_path else [])
    for src in sources:
        path = find_config(src)
        if not path:
            continue
        data = load_file(path)
        merge(settings, data)
        loaded.append(path)
        for key in SCHEMA:
            if has_path(data, key):
                origins[key] = f" in {path}"
    for name, value in os.environ.items():
        if not name.startswith("QDRANT__"):
            continue
        key = ".".join(p.lower() for p in name[len("QDRANT__"):].split("__"))
        set_path(settings, key, value)
        origins[key] = ""
    for key, kind in SCHEMA.items():
        set_path(settings, key, typed(key, get_path(settings, key), kind, origins.get(key, "")))
    return settings, warnings, errors, loaded


# ---------------------------------------------------------------- storage

class Storage:
    def __init__(self, settings):
        st = settings["storage"]
        self.storage = st["storage_path"]
        self.snapshots = st["snapshots_path"]
        self.snapshots_tmp = st["temp_path"] or os.path.join(self.snapshots, "tmp")
        self.collections = os.path.join(self.storage, "collections")
        self.lock = threading.Lock()

    def init(self):
        def step(what, fn, path):
            try:
                fn(path)
            except OSError as e:
                raise RuntimeError(f"{what} {path}: {rust_io_error(e)}") from None

        step("Can't create storage directory at", lambda p: os.makedirs(p, exist_ok=True), self.storage)
        step("Can't create collections directory at", lambda p: os.makedirs(p, exist_ok=True), self.collections)
        step("Can't create snapshots directory at", lambda p: os.makedirs(p, exist_ok=True), self.snapshots)
        if os.path.exists(self.snapshots_tmp):
            try:
                shutil.rmtree(self.snapshots_tmp)
            except OSError as e:
                raise RuntimeError(
                    f"Failed to remove snapshots temp directory at {self.snapshots_tmp}: {rust_io_error(e)}") from None
        step("Can't create snapshots temp directory at", lambda p: os.makedirs(p, exist_ok=True), self.snapshots_tmp)
        raft = os.path.join(self.storage, "raft_state.json")
        if not os.path.exists(raft):
            log("INFO", "storage::content_manager::consensus::persistent",
                f"Initializing new raft state at {raft}")
        else:
            log("INFO", "storage::content_manager::consensus::persistent", f"Loading raft state from {raft}")

        def write_raft(p):
            state = {"state": {"hard_state": {"term": 0, "vote": 0, "commit": 0},
                               "conf_state": {"voters": [1], "learners": []}},
                     "latest_snapshot_meta": {"term": 0, "index": 0}, "apply_progress_queue": None,
                     "first_voter": 1, "peer_address_by_id": {}, "this_peer_id": 1}
            tmp = p + ".tmp"
            with open(tmp, "w") as f:
                json.dump(state, f)
            os.replace(tmp, p)
        step("Can't write raft state at", write_raft, raft)
        # a write in snapshots/tmp, as snapshot creation does
        probe = os.path.join(self.snapshots_tmp, f".probe-{uuid.uuid4().hex}")
        step("Can't write in snapshots temp directory", lambda p: (open(p, "w").close(), os.remove(p)), probe)

    def names(self):
        try:
            return sorted(n for n in os.listdir(self.collections)
                          if os.path.isfile(os.path.join(self.collections, n, "config.json")))
        except FileNotFoundError:
            return []

    def get(self, name):
        try:
            with open(os.path.join(self.collections, name, "config.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def put(self, name, config):
        d = os.path.join(self.collections, name)
        with self.lock:
            if os.path.exists(os.path.join(d, "config.json")):
                return False
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "config.json.tmp"), "w") as f:
                json.dump(config, f)
            os.replace(os.path.join(d, "config.json.tmp"), os.path.join(d, "config.json"))
            return True

    def delete(self, name):
        d = os.path.join(self.collections, name)
        with self.lock:
            if not os.path.isdir(d):
                return False
            shutil.rmtree(d)
            return True

    def snapshot(self, name):
        ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
        fname = f"{name}-{uuid.uuid4().int % 10**16}-{ts}.snapshot"
        out_dir = os.path.join(self.snapshots, name)
        os.makedirs(out_dir, exist_ok=True)
        tmp = os.path.join(self.snapshots_tmp, fname)
        with tarfile.open(tmp, "w") as tar:
            tar.add(os.path.join(self.collections, name), arcname=".")
        final = os.path.join(out_dir, fname)
        shutil.move(tmp, final)
        return fname, os.path.getsize(final)

    def snapshots_of(self, name):
        d = os.path.join(self.snapshots, name)
        out = []
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.endswith(".snapshot"):
                st = os.stat(os.path.join(d, f))
                out.append({"name": f, "creation_time": datetime.datetime.fromtimestamp(
                    st.st_mtime, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "size": st.st_size})
        return out


# ---------------------------------------------------------------- HTTP

NAME_RE = re.compile(r"^[^/\\\x00]{1,255}$")
OPEN_PATHS = {"/", "/healthz", "/livez", "/readyz"}


def make_handler(settings, storage):
    svc = settings["service"]
    keys = {k for k in (svc["api_key"], svc["alt_api_key"]) if k}
    ro_key = svc["read_only_api_key"]
    max_body = svc["max_request_size_mb"] * 1024 * 1024
    # Points live in memory only (the stand-in keeps collections' configs on disk, not
    # their points): enough for a create/upsert/search/delete round trip.
    points = {}

    class Handler(BaseHTTPRequestHandler):
        server_version = "qdrant"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log("INFO", "actix_web::middleware::logger",
                f'{self.client_address[0]} "{self.requestline}" {args[1] if len(args) > 1 else ""}')

        def send(self, code, body, ctype="application/json"):
            data = body if isinstance(body, bytes) else (
                json.dumps(body).encode() if ctype == "application/json" else body.encode())
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def ok(self, result, t0):
            self.send(200, {"result": result, "status": "ok", "time": round(time.monotonic() - t0, 6)})

        def err(self, code, msg, t0):
            self.send(code, {"status": {"error": msg}, "time": round(time.monotonic() - t0, 6)})

        def authorized(self, write):
            if not keys and not ro_key:
                return True
            given = self.headers.get("api-key")
            auth = self.headers.get("Authorization", "")
            if given is None and auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            if given is None:
                self.send(401, "Must provide an API key or an Authorization bearer token", "text/plain")
                return False
            if given in keys or (not write and ro_key and given == ro_key):
                return True
            self.send(401 if given not in keys and given != ro_key else 403,
                      "Invalid API key or JWT" if given != ro_key else "Forbidden: read-only API key",
                      "text/plain")
            return False

        def body_json(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n > max_body:
                raise ValueError("Payload too large")
            raw = self.rfile.read(n) if n else b""
            return json.loads(raw) if raw.strip() else {}

        def route(self):
            t0 = time.monotonic()
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            if path == "/":
                return self.send(200, {"title": "qdrant - vector search engine",
                                       "version": VERSION, "commit": COMMIT})
            if path == "/healthz":
                return self.send(200, "healthz check passed", "text/plain")
            if path == "/livez":
                return self.send(200, "livez check passed", "text/plain")
            if path == "/readyz":
                return self.send(200, "all shards are ready", "text/plain")
            if not self.authorized(self.command not in ("GET", "HEAD")):
                return
            parts = path.strip("/").split("/")
            if path == "/metrics" and self.command in ("GET", "HEAD"):
                # Prometheus text with the names Qdrant uses (no prefix by default).
                names = storage.names()
                lines = [
                    "# HELP app_info information about qdrant server",
                    "# TYPE app_info gauge",
                    f'app_info{{name="qdrant",version="{VERSION}"}} 1',
                    "# HELP collections_total number of collections",
                    "# TYPE collections_total gauge",
                    f"collections_total {len(names)}",
                    "# HELP collection_points approximate amount of points per collection",
                    "# TYPE collection_points gauge",
                ]
                lines += [f'collection_points{{id="{n}"}} {len(points.get(n, {}))}' for n in names]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(body)
                return
            if parts[0] != "collections":
                return self.err(404, f"Not found: {path}", t0)
            if len(parts) == 1 and self.command in ("GET", "HEAD"):
                return self.ok({"collections": [{"name": n} for n in storage.names()]}, t0)
            if len(parts) < 2 or not NAME_RE.match(parts[1]):
                return self.err(404, f"Not found: {path}", t0)
            name = parts[1]
            if len(parts) == 2:
                if self.command in ("GET", "HEAD"):
                    cfg = storage.get(name)
                    if cfg is None:
                        return self.err(404, f"Not found: Collection `{name}` doesn't exist!", t0)
                    return self.ok({"status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0,
                                    "points_count": 0, "segments_count": 0,
                                    "config": {"params": cfg}, "payload_schema": {}}, t0)
                if self.command == "PUT":
                    try:
                        cfg = self.body_json()
                    except ValueError as e:
                        return self.err(400, f"Json deserialize error: {e}", t0)
                    if not isinstance(cfg, dict):
                        return self.err(422, "Json deserialize error: expected an object", t0)
                    if not storage.put(name, cfg):
                        return self.err(400, f"Wrong input: Collection `{name}` already exists!", t0)
                    log("INFO", "storage::content_manager::toc::create_collection", f"Creating collection {name}")
                    return self.ok(True, t0)
                if self.command == "DELETE":
                    points.pop(name, None)
                    return self.ok(storage.delete(name), t0)
            if len(parts) >= 3 and parts[2] == "points":
                cfg = storage.get(name)
                if cfg is None:
                    return self.err(404, f"Not found: Collection `{name}` doesn't exist!", t0)
                try:
                    body = self.body_json()
                except ValueError as e:
                    return self.err(400, f"Json deserialize error: {e}", t0)
                size = ((cfg.get("vectors") or {}).get("size")) if isinstance(cfg.get("vectors"), dict) else None
                pts = points.setdefault(name, {})
                if len(parts) == 3 and self.command == "PUT":
                    for pt in body.get("points") or []:
                        vec = pt.get("vector")
                        if not isinstance(vec, list) or (size and len(vec) != size):
                            return self.err(400, f"Wrong input: Vector dimension error: expected dim: {size}, got {len(vec or [])}", t0)
                        pts[pt.get("id")] = (vec, pt.get("payload") or {})
                    return self.ok({"operation_id": len(pts), "status": "completed"}, t0)
                if len(parts) == 4 and parts[3] == "search" and self.command == "POST":
                    q = body.get("vector") or []
                    if size and len(q) != size:
                        return self.err(400, f"Wrong input: Vector dimension error: expected dim: {size}, got {len(q)}", t0)
                    def cosine(a, b):
                        na = sum(x * x for x in a) ** 0.5
                        nb = sum(x * x for x in b) ** 0.5
                        return sum(x * y for x, y in zip(a, b)) / (na * nb) if na and nb else 0.0
                    hits = sorted(({"id": i, "version": 0, "score": cosine(q, v), "payload": pl}
                                   for i, (v, pl) in pts.items()), key=lambda h: -h["score"])
                    return self.ok(hits[: int(body.get("limit") or 10)], t0)
            if len(parts) == 3 and parts[2] == "snapshots":
                if storage.get(name) is None:
                    return self.err(404, f"Not found: Collection `{name}` doesn't exist!", t0)
                if self.command == "POST":
                    try:
                        fname, size = storage.snapshot(name)
                    except OSError as e:
                        return self.err(500, f"Service internal error: {rust_io_error(e)}", t0)
                    return self.ok({"name": fname, "creation_time": None, "size": size}, t0)
                if self.command in ("GET", "HEAD"):
                    return self.ok(storage.snapshots_of(name), t0)
            return self.err(404, f"Not found: {path}", t0)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = route

    return Handler


BANNER = r"""           _                 _
  __ _  __| |_ __ __ _ _ __ | |_
 / _` |/ _` | '__/ _` | '_ \| __|
| (_| | (_| | | | (_| | | | | |_
 \__, |\__,_|_|  \__,_|_| |_|\__|
    |_|
"""


def main(argv):
    global _log_level
    custom = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--config-path" and args:
            custom = args.pop(0)
        elif a.startswith("--config-path="):
            custom = a.split("=", 1)[1]
        elif a in ("-h", "--help"):
            print("usage: qdrant [--config-path FILE]  (vpai-test stand-in)")
            return 0
        elif a in ("-V", "--version"):
            print(f"qdrant {VERSION}")
            return 0
        # other flags of the real binary (--uri, --bootstrap, ...) are accepted and ignored

    print(BANNER)
    print(f"Version: {VERSION}, build: {COMMIT}")
    try:
        settings, warnings, errors, loaded = load_settings(custom)
    except ConfigError as e:
        print(f"thread 'main' panicked at src/main.rs:\nCan't read config.: {e}", file=sys.stderr)
        return 101
    _log_level = LEVELS.get(str(settings.get("log_level") or "INFO").upper().split(",")[0], 2)
    svc = settings["service"]
    print(f"Access web UI at http://localhost:{svc['http_port']}/dashboard\n")
    for w in warnings:
        log("WARN", "qdrant::settings", w)
    for e in errors:
        log("ERROR", "qdrant::settings", e)
    # not a Qdrant log line: the stand-in says which files it merged, in order
    log("INFO", "qdrant::settings", "Loaded config files (stand-in): " + (", ".join(loaded) or "none"))

    storage = Storage(settings)
    try:
        storage.init()
    except RuntimeError as e:
        log("ERROR", "qdrant::startup", f"Panic occurred in file src/main.rs: {e}")
        return 101
    log("INFO", "qdrant", "Distributed mode disabled")
    log("INFO", "qdrant", "Telemetry reporting " + ("disabled" if settings["telemetry_disabled"] else "enabled (stand-in: nothing is sent)"))
    if svc["api_key"] or svc["read_only_api_key"]:
        log("INFO", "qdrant", "API key authentication enabled")
    if svc["enable_tls"]:
        log("ERROR", "qdrant::startup", "TLS is not supported by the vpai-test stand-in")
        return 101
    log("INFO", "qdrant::actix", "TLS disabled for REST API")
    try:
        server = ThreadingHTTPServer((svc["host"], svc["http_port"]), make_handler(settings, storage))
    except OSError as e:
        log("ERROR", "qdrant::startup", f"Panic occurred in file src/actix/mod.rs: {rust_io_error(e)}")
        return 101
    server.daemon_threads = True
    log("INFO", "qdrant::actix", f"Qdrant HTTP listening on {svc['http_port']}")
    log("INFO", "qdrant::tonic", "gRPC is not served by the vpai-test stand-in")

    def stop(signum, _frame):
        log("INFO", "qdrant", f"Received signal {signum}, stopping")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    log("INFO", "qdrant", "Stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
