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
    GET reporting the real points_count, and the points and snapshots routes below) which
    needs `api-key: KEY` or `Authorization: Bearer KEY` when service.api_key is set (401
    otherwise);
    service.read_only_api_key allows GET and the POST reads of points only;
  * points (same URLs, JSON shapes and status codes as Qdrant 1.16, answers in the
    `{"result": ..., "status": "ok", "time": ...}` envelope, errors as
    `{"status": {"error": "..."}, "time": ...}`):
      PUT  /collections/NAME/points[?wait=true]  {"points": [{"id", "vector", "payload"}]} or
           {"batch": {"ids", "vectors", "payloads"}} -> {"operation_id": N, "status":
           "completed" (wait=true) | "acknowledged"}; ids are unsigned integers or UUIDs,
           vector dimensions are checked, Cosine vectors are normalised and every value is
           kept as an f32, as Qdrant stores them (so a vector read back is not the one sent);
      POST /collections/NAME/points  {"ids": [...], "with_payload"?, "with_vector"?} -> [Record]
      GET  /collections/NAME/points/ID -> Record (404 "No point with id ID found")
      POST /collections/NAME/points/count  {"exact"?} -> {"count": N}
      POST /collections/NAME/points/scroll  {"limit"? (10), "offset"?, "with_payload"? (true),
           "with_vector"? (false)} -> {"points": [Record], "next_page_offset": ID | null},
           ordered by id, every integer id before every UUID (Qdrant's order);
      POST /collections/NAME/points/search  (cosine score over all points)
      POST /collections/NAME/points/delete  {"points": [ids]}
    where Record is {"id", "payload"?, "vector"?} (keys left out when not asked for); a
    "filter" or "order_by" is answered 400 (not modelled);
  * snapshots:
      POST   /collections/NAME/snapshots -> {"name", "creation_time", "size", "checksum"}: a tar
             of config.json and points.json in snapshots/NAME/, its sha256 beside it in
             NAME.snapshot.checksum; GET /collections/NAME/snapshots lists them;
      GET    /collections/NAME/snapshots/SNAP -> the file (application/octet-stream,
             Content-Length); a missing file, or a name with `/` or `..`, is 404 in text/plain
             "Not found: Snapshot SNAP not found" (Qdrant answers this route's errors as
             actix's default text, not JSON);
      DELETE /collections/NAME/snapshots/SNAP -> true (and its .checksum);
      PUT    /collections/NAME/snapshots/recover[?wait=false]  {"location": "file:///...",
             "priority"?: "snapshot"|"replica"|"no_sync", "checksum"?} -> true: unpacks in
             storage/tmp, then swaps it in place of the collection (created when missing;
             an existing one must have the same vectors config, 400 otherwise). Only a file
             whose real path is inside the snapshots directory is accepted: 403 "Forbidden:
             Snapshot file path must be inside the snapshots directory ..." as Qdrant >= 1.17.1
             answers (1.16.3 itself would read any path); a missing file is 400 "Snapshot file
             ... does not exist"; http(s) locations are 400 (not supported by the stand-in).
Collections are kept under storage/collections/NAME/ (config.json and points.json, each
written to a temp file then renamed, under one lock), so points survive a restart.
Not modelled: segments, the WAL, HNSW/indexes (indexed_vectors_count stays 0), payload
indexes, filters, gRPC, snapshot upload, full snapshots, and Qdrant's snapshot format (a
stand-in snapshot holds JSON files, not segments: it cannot be recovered by a real Qdrant,
nor can a real snapshot be recovered here).
Only the Python standard library is used.
"""

import datetime
import email.utils
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import sys
import tarfile
import threading
import time
import urllib.parse
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

class ApiError(Exception):
    """An error answered as Qdrant answers it: HTTP status and the `status.error` text."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


def format_error(msg):
    return ApiError(400, f"Format error in JSON body: {msg}")


def parse_point_id(value):
    """An ExtendedPointId: an unsigned 64-bit integer or a UUID (normalised as Qdrant prints it)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 64:
        return value
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    shown = json.dumps(value) if not isinstance(value, str) else value
    raise format_error(f"value {shown} is not a valid point ID, valid values are either an unsigned integer or a UUID")


def id_key(pid):
    """Qdrant's order of point ids: every integer id before every UUID (enum order), then by value."""
    return (0, pid, "") if isinstance(pid, int) else (1, 0, pid)


def f32(x):
    """x stored as an f32 and printed the way Qdrant (serde) prints an f32: shortest form."""
    packed = struct.pack("<f", x)
    v = struct.unpack("<f", packed)[0]
    if v != v or v in (float("inf"), float("-inf")):
        raise format_error(f"invalid vector value {x}")
    for p in range(6, 10):
        s = float(f"{v:.{p}g}")
        if struct.pack("<f", s) == packed:
            return s
    return v


def vector_params(cfg):
    """{name: params}; the unnamed (default) vector is ''."""
    v = (cfg or {}).get("vectors")
    if isinstance(v, dict) and "size" in v:
        return {"": v}
    if isinstance(v, dict):
        return {k: p for k, p in v.items() if isinstance(p, dict)}
    return {}


def prepare_vector(cfg, vec):
    """Validate a point's vector(s) against the collection config; Cosine vectors are
    normalised and every value rounded to f32, as Qdrant stores them."""
    params = vector_params(cfg)
    if isinstance(vec, list):
        items, named = {"": vec}, False
    elif isinstance(vec, dict):
        items, named = vec, True
    else:
        raise format_error("data did not match any variant of untagged enum VectorStruct")
    out = {}
    for name, arr in items.items():
        if params and name not in params:
            raise ApiError(400, f"Wrong input: Not existing vector name error: {name}")
        if not isinstance(arr, list) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in arr):
            raise format_error("data did not match any variant of untagged enum VectorStruct")
        p = params.get(name) or {}
        size = p.get("size")
        if size and len(arr) != size:
            raise ApiError(400, f"Wrong input: Vector dimension error: expected dim: {size}, got {len(arr)}")
        arr = [float(x) for x in arr]
        if str(p.get("distance", "")).lower() == "cosine":
            norm = sum(x * x for x in arr) ** 0.5
            if norm > 1.1920929e-07:  # f32::EPSILON, below which Qdrant leaves the vector as is
                arr = [x / norm for x in arr]
        out[name] = [f32(x) for x in arr]
    return out[""] if not named else out


def select_payload(payload, spec):
    """WithPayloadInterface: bool, list of keys, {"include": [...]} or {"exclude": [...]}."""
    if spec is None or spec is True:
        return payload
    if spec is False:
        return None
    if isinstance(spec, list):
        return {k: v for k, v in payload.items() if k in spec}
    if isinstance(spec, dict) and isinstance(spec.get("include"), list):
        return {k: v for k, v in payload.items() if k in spec["include"]}
    if isinstance(spec, dict) and isinstance(spec.get("exclude"), list):
        return {k: v for k, v in payload.items() if k not in spec["exclude"]}
    raise format_error("data did not match any variant of untagged enum WithPayloadInterface")


def select_vector(vector, spec):
    """WithVector: bool or a list of vector names."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return vector
    if isinstance(spec, list):
        if isinstance(vector, dict):
            return {k: v for k, v in vector.items() if k in spec}
        return vector if "" in spec else None
    raise format_error("data did not match any variant of untagged enum WithVector")


def record(pid, vector, payload, with_payload, with_vector):
    """api::rest::Record: `payload` and `vector` are left out (not null) when not asked for."""
    out = {"id": pid}
    pl = select_payload(payload, with_payload)
    if pl is not None:
        out["payload"] = pl
    vec = select_vector(vector, with_vector)
    if vec is not None:
        out["vector"] = vec
    return out


def load_points_file(path):
    """points.json -> (operation_id, {id: (vector, payload)}); a missing file is an empty collection."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return 0, {}
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise ValueError(f"{path}: not a points file")
    pts = {}
    for p in data["points"]:
        if not isinstance(p, dict) or not isinstance(p.get("vector"), (list, dict)):
            raise ValueError(f"{path}: bad point {p!r:.80}")
        pts[parse_point_id(p.get("id"))] = (p["vector"], p.get("payload") or {})
    return int(data.get("operation_id") or 0), pts


class Storage:
    """Collections under storage/collections/NAME/: config.json (the creation body) and
    points.json ({"operation_id": N, "points": [{"id", "vector", "payload"}, ...]} ordered by
    id). Both are written atomically (temp file + os.replace) under `lock`; points are also
    kept in memory (`points`), loaded at start."""

    def __init__(self, settings):
        st = settings["storage"]
        self.storage = st["storage_path"]
        self.snapshots = st["snapshots_path"]
        self.snapshots_tmp = st["temp_path"] or os.path.join(self.snapshots, "tmp")
        self.collections = os.path.join(self.storage, "collections")
        # Qdrant's storage temp directory (storage/tmp): snapshot recovery unpacks there
        self.storage_tmp = os.path.join(self.storage, "tmp")
        self.lock = threading.RLock()
        self.points = {}  # name -> {"op": operation id, "pts": {id: (vector, payload)}}

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
        self._finish_interrupted_recoveries()
        for name in self.names():
            log("INFO", "collection::collection", f"Loading collection {name}")
            try:
                op, pts = load_points_file(os.path.join(self.collections, name, "points.json"))
            except (OSError, ValueError, ApiError) as e:
                raise RuntimeError(f"Can't load collection {name}: {e}") from None
            self.points[name] = {"op": op, "pts": pts}

    def _finish_interrupted_recoveries(self):
        """A recovery stopped between its two renames leaves the old collection in
        storage/tmp/col-NAME-replaced-*: put it back; drop unfinished unpackings."""
        if not os.path.isdir(self.storage_tmp):
            return
        for entry in sorted(os.listdir(self.storage_tmp)):
            path = os.path.join(self.storage_tmp, entry)
            m = re.fullmatch(r"col-(.+)-replaced-[0-9a-f]{32}", entry)
            if m and not os.path.exists(os.path.join(self.collections, m.group(1))):
                log("WARN", "storage::content_manager::snapshots::recover",
                    f"Restoring collection {m.group(1)} left by an interrupted recovery")
                os.rename(path, os.path.join(self.collections, m.group(1)))
            elif entry.startswith("col-"):
                shutil.rmtree(path, ignore_errors=True)

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
            self.points[name] = {"op": 0, "pts": {}}
            self._save_points(name)
            with open(os.path.join(d, "config.json.tmp"), "w") as f:
                json.dump(config, f)
            os.replace(os.path.join(d, "config.json.tmp"), os.path.join(d, "config.json"))
            return True

    def delete(self, name):
        d = os.path.join(self.collections, name)
        with self.lock:
            self.points.pop(name, None)
            if not os.path.isdir(d):
                return False
            shutil.rmtree(d)
            return True

    # -- points (callers hold no lock; every method takes it)

    def _entry(self, name):
        """The in-memory points of an existing collection (loaded from disk if needed)."""
        if name not in self.points:
            op, pts = load_points_file(os.path.join(self.collections, name, "points.json"))
            self.points[name] = {"op": op, "pts": pts}
        return self.points[name]

    def _save_points(self, name):
        e = self.points[name]
        d = os.path.join(self.collections, name)
        data = {"operation_id": e["op"],
                "points": [{"id": i, "vector": v, "payload": p}
                           for i, (v, p) in sorted(e["pts"].items(), key=lambda kv: id_key(kv[0]))]}
        tmp = os.path.join(d, "points.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(d, "points.json"))

    def _missing(self, name):
        return ApiError(404, f"Not found: Collection `{name}` doesn't exist!")

    def count(self, name):
        with self.lock:
            if self.get(name) is None:
                return 0
            return len(self._entry(name)["pts"])

    def upsert(self, name, points):
        """points: [(id, vector, payload)], already validated. Returns the operation id."""
        with self.lock:
            if self.get(name) is None:
                raise self._missing(name)
            e = self._entry(name)
            for pid, vec, payload in points:
                e["pts"][pid] = (vec, payload)
            e["op"] += 1
            self._save_points(name)
            return e["op"]

    def delete_points(self, name, ids):
        with self.lock:
            if self.get(name) is None:
                raise self._missing(name)
            e = self._entry(name)
            for pid in ids:
                e["pts"].pop(pid, None)
            e["op"] += 1
            self._save_points(name)
            return e["op"]

    def sorted_points(self, name):
        """[(id, vector, payload)] ordered by id (a copy)."""
        with self.lock:
            if self.get(name) is None:
                raise self._missing(name)
            return [(i, v, p) for i, (v, p) in sorted(self._entry(name)["pts"].items(),
                                                      key=lambda kv: id_key(kv[0]))]

    def retrieve(self, name, ids):
        with self.lock:
            if self.get(name) is None:
                raise self._missing(name)
            pts = self._entry(name)["pts"]
            return [(i, pts[i][0], pts[i][1]) for i in ids if i in pts]

    # -- snapshots

    def snapshot_dir(self, name):
        return os.path.join(self.snapshots, name)

    def describe(self, path):
        """SnapshotDescription, as Qdrant builds it from the file and its .checksum file."""
        st = os.stat(path)
        ctime = getattr(st, "st_birthtime", None) or st.st_mtime
        out = {"name": os.path.basename(path),
               "creation_time": datetime.datetime.fromtimestamp(
                   int(ctime), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
               "size": st.st_size}
        try:
            with open(path + ".checksum") as f:
                out["checksum"] = f.read().strip()
        except OSError:
            pass
        return out

    def snapshot(self, name):
        """A tar of config.json and points.json, written in snapshots/tmp, its sha256 put in
        NAME.snapshot.checksum, then moved to snapshots/COLLECTION/NAME.snapshot."""
        ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
        fname = f"{name}-{uuid.uuid4().int % 10**16}-{ts}.snapshot"
        out_dir = self.snapshot_dir(name)
        os.makedirs(out_dir, exist_ok=True)
        tmp = os.path.join(self.snapshots_tmp, fname)
        d = os.path.join(self.collections, name)
        with self.lock:
            if self.get(name) is None:
                raise self._missing(name)
            if not os.path.exists(os.path.join(d, "points.json")):
                self._entry(name)
                self._save_points(name)
            with tarfile.open(tmp, "w") as tar:
                for member in ("config.json", "points.json"):
                    tar.add(os.path.join(d, member), arcname=member)
        digest = sha256_file(tmp)
        final = os.path.join(out_dir, fname)
        with open(final + ".checksum.tmp", "w") as f:
            f.write(digest)
        os.replace(final + ".checksum.tmp", final + ".checksum")
        shutil.move(tmp, final + ".tmp")
        os.replace(final + ".tmp", final)
        return self.describe(final)

    def snapshots_of(self, name):
        d = self.snapshot_dir(name)
        return [self.describe(os.path.join(d, f))
                for f in (sorted(os.listdir(d)) if os.path.isdir(d) else [])
                if f.endswith(".snapshot") and os.path.isfile(os.path.join(d, f))]

    def snapshot_path(self, name, snapshot_name):
        """Like Qdrant's get_snapshot_path: the real path must be a file inside
        snapshots/COLLECTION; anything else (a `/`, `..`, a link out) is not found."""
        missing = ApiError(404, f"Not found: Snapshot {snapshot_name} not found")
        if (not snapshot_name or "/" in snapshot_name or "\\" in snapshot_name
                or "\x00" in snapshot_name or ".." in snapshot_name):
            raise missing
        base = os.path.realpath(self.snapshot_dir(name))
        path = os.path.realpath(os.path.join(base, snapshot_name))
        if os.path.dirname(path) != base or not os.path.isfile(path):
            raise missing
        return path

    def delete_snapshot(self, name, snapshot_name):
        path = self.snapshot_path(name, snapshot_name)
        log("INFO", "storage::content_manager::snapshots", f"Deleting collection snapshot {path!r}")
        try:
            os.remove(path)
        except FileNotFoundError:
            raise ApiError(404, f'Not found: Snapshot "{path}" not found') from None
        try:
            os.remove(path + ".checksum")
        except OSError as e:
            log("WARN", "collection::common::snapshots_manager",
                f"Failed to delete checksum file for snapshot, ignoring: {e}")
        return True

    def recover(self, name, snapshot_file):
        """Unpack snapshot_file in storage/tmp/col-NAME-recovery-*, check it, then swap it in
        place of collections/NAME (created when missing) under the lock."""
        os.makedirs(self.storage_tmp, exist_ok=True)
        work = os.path.join(self.storage_tmp, f"col-{name}-recovery-{uuid.uuid4().hex}")
        os.makedirs(work)
        try:
            found = {}
            try:
                with tarfile.open(snapshot_file, "r:*") as tar:
                    for m in tar.getmembers():
                        member = os.path.normpath(m.name).lstrip("/")
                        if member in ("config.json", "points.json") and m.isfile():
                            found[member] = tar.extractfile(m).read()
            except (tarfile.TarError, EOFError) as e:
                raise ApiError(400, f"Wrong input: Snapshot is not a valid tar archive: {e}") from None
            if "config.json" not in found:
                raise ApiError(400, "Wrong input: Snapshot does not contain a collection config")
            try:
                config = json.loads(found["config.json"])
                if not isinstance(config, dict):
                    raise ValueError("config.json is not an object")
            except ValueError as e:
                raise ApiError(400, f"Wrong input: Snapshot collection config is invalid: {e}") from None
            for member, data in found.items():
                with open(os.path.join(work, member), "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            try:
                op, pts = load_points_file(os.path.join(work, "points.json"))
            except (ValueError, ApiError) as e:
                raise ApiError(400, f"Wrong input: Snapshot points are invalid: {e}") from None
            dst = os.path.join(self.collections, name)
            old = None
            with self.lock:
                existing = self.get(name)
                if existing is not None and vector_params(existing) != vector_params(config):
                    raise ApiError(400, "Wrong input: Snapshot is not compatible with existing collection: "
                                   f"Collection vectors: {json.dumps(existing.get('vectors'))} "
                                   f"Snapshot Vectors: {json.dumps(config.get('vectors'))}")
                if not os.path.exists(os.path.join(work, "points.json")):
                    with open(os.path.join(work, "points.json"), "w") as f:
                        json.dump({"operation_id": 0, "points": []}, f)
                if os.path.exists(dst):
                    old = os.path.join(self.storage_tmp, f"col-{name}-replaced-{uuid.uuid4().hex}")
                    os.rename(dst, old)
                os.rename(work, dst)
                work = None
                self.points[name] = {"op": op, "pts": pts}
            if old:
                shutil.rmtree(old, ignore_errors=True)
            return True
        finally:
            if work:
                shutil.rmtree(work, ignore_errors=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- HTTP

NAME_RE = re.compile(r"^[^/\\\x00]{1,255}$")
OPEN_PATHS = {"/", "/healthz", "/livez", "/readyz"}
PRIORITIES = ("no_sync", "snapshot", "replica")


def is_read(method, parts):
    """Requests a read-only API key may make: GET/HEAD, and the POST reads of points."""
    if method in ("GET", "HEAD"):
        return True
    return (method == "POST" and len(parts) >= 3 and parts[0] == "collections" and parts[2] == "points"
            and (len(parts) == 3 or (len(parts) == 4 and parts[3] in ("search", "scroll", "count"))))


def make_handler(settings, storage):
    svc = settings["service"]
    keys = {k for k in (svc["api_key"], svc["alt_api_key"]) if k}
    ro_key = svc["read_only_api_key"]
    max_body = svc["max_request_size_mb"] * 1024 * 1024

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

        def read_body(self):
            """Read the whole body first, so an early answer leaves the connection usable."""
            n = int(self.headers.get("Content-Length") or 0)
            self._too_large = n > max_body
            if self._too_large:
                self.close_connection = True
                self._raw = b""
            else:
                self._raw = self.rfile.read(n) if n else b""

        def body_json(self):
            if self._too_large:
                raise ValueError("Payload too large")
            return json.loads(self._raw) if self._raw.strip() else {}

        def body_object(self):
            try:
                body = self.body_json()
            except ValueError as e:
                raise ApiError(400, f"Format error in JSON body: {e}") from None
            if not isinstance(body, dict):
                raise format_error("invalid type: expected a map")
            return body

        def query(self):
            return urllib.parse.parse_qs(self.path.split("?", 1)[1]) if "?" in self.path else {}

        def send_file(self, path):
            """actix NamedFile: the bytes with Content-Length, octet-stream, attachment."""
            st = os.stat(path)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(st.st_size))
            self.send_header("Content-Disposition", f'attachment; filename="{os.path.basename(path)}"')
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if self.command != "HEAD":
                with open(path, "rb") as f:
                    shutil.copyfileobj(f, self.wfile, 1 << 20)

        def route(self):
            t0 = time.monotonic()
            self.read_body()
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
            parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
            if not self.authorized(not is_read(self.command, parts)):
                return
            try:
                return self.route_api(path, parts, t0)
            except ApiError as e:
                return self.err(e.code, e.msg, t0)
            except OSError as e:
                return self.err(500, f"Service internal error: {rust_io_error(e)}", t0)

        def route_api(self, path, parts, t0):
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
                lines += [f'collection_points{{id="{n}"}} {storage.count(n)}' for n in names]
                return self.send(200, ("\n".join(lines) + "\n").encode(), "text/plain; version=0.0.4")
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
                    # indexed_vectors_count stays 0: below the indexing threshold (10000 KB) Qdrant
                    # builds no HNSW index, and the stand-in never builds one.
                    return self.ok({"status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0,
                                    "points_count": storage.count(name), "segments_count": 0,
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
                    return self.ok(storage.delete(name), t0)
            if len(parts) >= 3 and parts[2] == "points":
                return self.route_points(name, parts[3:], t0)
            if len(parts) >= 3 and parts[2] == "snapshots":
                return self.route_snapshots(name, parts[3:], t0)
            return self.err(404, f"Not found: {path}", t0)

        # ---- /collections/NAME/points[/...]

        def route_points(self, name, rest, t0):
            cfg = storage.get(name)
            if cfg is None:
                return self.err(404, f"Not found: Collection `{name}` doesn't exist!", t0)
            wait = (self.query().get("wait") or ["false"])[-1].lower() == "true"
            if self.command == "GET" and len(rest) == 1:
                # GET /collections/NAME/points/ID: payload and vector
                try:
                    pid = parse_point_id(int(rest[0]) if rest[0].isdigit() else rest[0])
                except ApiError:
                    raise ApiError(400, f"Deserialize error in path parameters: value {rest[0]} is not a valid point ID") from None
                found = storage.retrieve(name, [pid])
                if not found:
                    return self.err(404, f"Not found: No point with id {pid} found", t0)
                return self.ok(record(*found[0], True, True), t0)
            body = self.body_object()
            if self.command == "PUT" and not rest:
                return self.upsert(name, cfg, body, wait, t0)
            if self.command != "POST" or len(rest) > 1:
                return self.err(404, f"Not found: {self.path.split('?', 1)[0]}", t0)
            op = rest[0] if rest else ""
            if op in ("scroll", "count", "delete") and body.get("filter") is not None:
                raise ApiError(400, "Bad request: filters are not supported by the vpai-test stand-in")
            if op == "":
                # retrieve: POST /collections/NAME/points {"ids": [...]}
                if not isinstance(body.get("ids"), list):
                    raise format_error("missing field `ids`")
                ids, seen = [], set()
                for raw in body["ids"]:
                    pid = parse_point_id(raw)
                    if pid not in seen:
                        seen.add(pid)
                        ids.append(pid)
                return self.ok([record(i, v, p, body.get("with_payload", True), body.get("with_vector",
                                body.get("with_vectors", False))) for i, v, p in storage.retrieve(name, ids)], t0)
            if op == "count":
                return self.ok({"count": storage.count(name)}, t0)
            if op == "scroll":
                if body.get("order_by") is not None:
                    raise ApiError(400, "Bad request: order_by is not supported by the vpai-test stand-in")
                limit = body.get("limit", 10) if body.get("limit") is not None else 10
                if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                    raise format_error(f"invalid value: {json.dumps(limit)}, expected usize")
                if limit < 1:
                    raise ApiError(422, "Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]")
                items = storage.sorted_points(name)
                start = 0
                if body.get("offset") is not None:
                    key = id_key(parse_point_id(body["offset"]))
                    while start < len(items) and id_key(items[start][0]) < key:
                        start += 1
                page = items[start:start + limit]
                nxt = items[start + limit][0] if len(items) > start + limit else None
                with_payload = body.get("with_payload", True)
                with_vector = body.get("with_vector", body.get("with_vectors", False))
                return self.ok({"points": [record(i, v, p, with_payload, with_vector) for i, v, p in page],
                                "next_page_offset": nxt}, t0)
            if op == "delete":
                if not isinstance(body.get("points"), list):
                    raise format_error("data did not match any variant of untagged enum PointsSelector")
                opid = storage.delete_points(name, [parse_point_id(x) for x in body["points"]])
                return self.ok({"operation_id": opid, "status": "completed" if wait else "acknowledged"}, t0)
            if op == "search":
                q = body.get("vector") or []
                vname = ""
                if isinstance(q, dict):
                    vname, q = q.get("name") or "", q.get("vector") or []
                size = (vector_params(cfg).get(vname) or {}).get("size")
                if size and len(q) != size:
                    return self.err(400, f"Wrong input: Vector dimension error: expected dim: {size}, got {len(q)}", t0)

                def cosine(a, b):
                    na = sum(x * x for x in a) ** 0.5
                    nb = sum(x * x for x in b) ** 0.5
                    return sum(x * y for x, y in zip(a, b)) / (na * nb) if na and nb else 0.0
                hits = []
                for i, v, pl in storage.sorted_points(name):
                    v = v.get(vname) if isinstance(v, dict) else v
                    if isinstance(v, list):
                        hit = {"id": i, "version": 0, "score": cosine(q, v)}
                        if body.get("with_payload", True) is not False:
                            hit["payload"] = select_payload(pl, body.get("with_payload", True))
                        if body.get("with_vector"):
                            hit["vector"] = v
                        hits.append(hit)
                hits.sort(key=lambda h: -h["score"])
                return self.ok(hits[: int(body.get("limit") or 10)], t0)
            return self.err(404, f"Not found: {self.path.split('?', 1)[0]}", t0)

        def upsert(self, name, cfg, body, wait, t0):
            """PUT /collections/NAME/points: {"points": [{"id", "vector", "payload"}]} or
            {"batch": {"ids", "vectors", "payloads"}}."""
            prepared = []
            if isinstance(body.get("points"), list):
                for pt in body["points"]:
                    if not isinstance(pt, dict):
                        raise format_error("invalid type: expected struct PointStruct")
                    if "vector" not in pt:
                        raise format_error("missing field `vector`")
                    payload = pt.get("payload") or {}
                    if not isinstance(payload, dict):
                        raise format_error("invalid type: expected a map for `payload`")
                    prepared.append((parse_point_id(pt.get("id")), prepare_vector(cfg, pt["vector"]), payload))
            elif isinstance(body.get("batch"), dict):
                b = body["batch"]
                ids, vecs, pls = b.get("ids") or [], b.get("vectors"), b.get("payloads")
                if isinstance(vecs, dict):
                    per = [{n: vs[k] for n, vs in vecs.items()} for k in range(len(ids))] \
                        if all(isinstance(vs, list) and len(vs) == len(ids) for vs in vecs.values()) else None
                else:
                    per = vecs if isinstance(vecs, list) and len(vecs) == len(ids) else None
                if per is None:
                    raise ApiError(422, "Validation error in JSON body: [batch: number of ids and vectors must be equal]")
                for k, raw in enumerate(ids):
                    payload = (pls[k] if isinstance(pls, list) and k < len(pls) else None) or {}
                    prepared.append((parse_point_id(raw), prepare_vector(cfg, per[k]), payload))
            else:
                raise format_error("data did not match any variant of untagged enum PointInsertOperations")
            opid = storage.upsert(name, prepared)
            return self.ok({"operation_id": opid, "status": "completed" if wait else "acknowledged"}, t0)

        # ---- /collections/NAME/snapshots[/...]

        def route_snapshots(self, name, rest, t0):
            if not rest:
                if storage.get(name) is None:
                    return self.err(404, f"Not found: Collection `{name}` doesn't exist!", t0)
                if self.command == "POST":
                    desc = storage.snapshot(name)
                    log("INFO", "collection::collection::snapshots",
                        f"Creating snapshot of collection {name}: {desc['name']}")
                    return self.ok(desc, t0)
                if self.command in ("GET", "HEAD"):
                    return self.ok(storage.snapshots_of(name), t0)
            elif len(rest) == 1 and rest[0] == "recover" and self.command == "PUT":
                return self.recover(name, t0)
            elif len(rest) == 1 and self.command in ("GET", "HEAD"):
                # Qdrant answers this one's errors as actix's default: text/plain, no JSON.
                if storage.get(name) is None:
                    return self.send(404, f"Not found: Collection `{name}` doesn't exist!", "text/plain; charset=utf-8")
                try:
                    return self.send_file(storage.snapshot_path(name, rest[0]))
                except ApiError as e:
                    return self.send(e.code, e.msg, "text/plain; charset=utf-8")
            elif len(rest) == 1 and self.command == "DELETE":
                if storage.get(name) is None:
                    return self.err(404, f"Not found: Collection `{name}` doesn't exist!", t0)
                return self.ok(storage.delete_snapshot(name, rest[0]), t0)
            return self.err(404, f"Not found: {self.path.split('?', 1)[0]}", t0)

        def recover(self, name, t0):
            """PUT /collections/NAME/snapshots/recover {"location", "priority"?, "checksum"?}."""
            body = self.body_object()
            location = body.get("location")
            if not isinstance(location, str):
                raise format_error("missing field `location`")
            priority = body.get("priority")
            if priority is not None and priority not in PRIORITIES:
                raise format_error(f"unknown variant `{priority}`, expected one of `no_sync`, `snapshot`, `replica`")
            url = urllib.parse.urlsplit(location)
            scheme = url.scheme.lower()
            if not scheme:
                raise format_error("relative URL without a base")
            if scheme == "file":
                local = urllib.parse.unquote(url.path)
                if url.netloc not in ("", "localhost") or not local.startswith("/"):
                    raise ApiError(400, "Bad request: Invalid snapshot URI, file path must be absolute or on localhost")
                if not os.path.exists(local):
                    raise ApiError(400, f'Bad request: Snapshot file "{local}" does not exist')
                # Qdrant >= 1.17.1 (c6f7550): file:// only inside the snapshots directory.
                allowed = os.path.realpath(storage.snapshots)
                real = os.path.realpath(local)
                if os.path.commonpath([real, allowed]) != allowed:
                    raise ApiError(403, "Forbidden: Snapshot file path must be inside the snapshots "
                                   f'directory "{allowed}"')
                if not os.path.isfile(real):
                    raise ApiError(400, f'Bad request: Snapshot file "{local}" is not a file')
            elif scheme in ("http", "https"):
                raise ApiError(400, f"Bad request: recovering from an {scheme}:// location is not supported "
                               "by the vpai-test stand-in (use a file:// location in the snapshots directory)")
            else:
                raise ApiError(400, f"Bad request: URL {location} with schema {scheme} is not supported")
            checksum = body.get("checksum")
            if checksum is not None:
                got = sha256_file(real)
                if not isinstance(checksum, str) or checksum.lower() != got:
                    raise ApiError(400, f"Wrong input: Snapshot checksum mismatch: expected {checksum}, got {got}")
            log("INFO", "storage::content_manager::snapshots::recover",
                f"Recovering collection {name} from snapshot {real}")
            storage.recover(name, real)
            if (self.query().get("wait") or ["true"])[-1].lower() == "false":
                return self.send(202, {"status": "accepted", "time": round(time.monotonic() - t0, 6)})
            return self.ok(True, t0)

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
