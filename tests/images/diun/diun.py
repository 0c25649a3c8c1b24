#!/usr/bin/env python3
"""DIUN STAND-IN for vpai's tests (DIUN is in no registry this project can reach, and the
registries it would ask for new tags cannot be reached either).

It keeps the outside contract of `crazymax/diun:4.31.0` that vpai relies on:
  * `diun serve [--config FILE] [--log-level L] [--log-json]`, env CONFIG, LOG_LEVEL,
    LOG_JSON; errors end it like kong's FatalIfErrorf: `diun: error: ...`, exit 1;
  * the configuration file searched like DIUN's (gonfig): --config/CONFIG, else
    /etc/diun/diun.{yaml,yml}, $XDG_CONFIG_HOME/diun.*, $HOME/.config/diun.*, ./diun.*;
    then DIUN_* environment variables on top (DIUN_DB_PATH, DIUN_WATCH_*,
    DIUN_PROVIDERS_DOCKER*, DIUN_NOTIF_TELEGRAM_*, ...);
  * YAML read strictly, as Go's yaml.v3 does: a backslash escape YAML does not know in a
    double-quoted string (a regex "^\\d+" written in double quotes, seed 000 #19) stops the
    start with `yaml: line N: found unknown escape character`; an unknown key below the
    top level is `field not found, node: KEY` (top-level unknown keys are ignored, as
    DIUN's root filter does); wrongly typed values are refused; "at least one provider
    is required";
  * the database file (db.path, /data/diun.db in the image) is created at start: a data
    directory it cannot write stops it with "permission denied";
  * the docker provider lists containers through the Docker API (endpoint, default
    unix:///var/run/docker.sock; watchByDefault, watchStopped, `diun.enable` labels);
    Telegram needs a token (or tokenFile) and chat IDs;
  * it NEVER reaches a registry or Telegram: at start (runOnStartup) and then every
    hour it logs the images it would check and the notifications it would send, and
    stays running. The cron `schedule` is validated (5 or 6 fields) but not followed.
  * no healthcheck command (4.31 has none) and no gRPC server (:42286) in the stand-in.
Python standard library + PyYAML (Debian's python3-yaml).
"""

import datetime
import http.client
import json
import os
import re
import signal
import socket
import sys
import threading
import time

import yaml

VERSION = "v4.31.0"
LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4, "fatal": 5}
ABBR = {"trace": "TRC", "debug": "DBG", "info": "INF", "warn": "WRN", "error": "ERR", "fatal": "FTL"}


class Logger:
    level = 2
    as_json = False

    def __call__(self, level, msg, **kv):
        if LEVELS[level] < self.level:
            return
        now = datetime.datetime.now().astimezone()
        if self.as_json:
            line = json.dumps(dict({"level": level, "time": now.isoformat(timespec="seconds"), "message": msg}, **kv))
        else:
            extra = " ".join(f"{k}={v}" for k, v in kv.items())
            line = f"{now:%a, %d %b %Y %H:%M:%S %Z} {ABBR[level]} {msg}" + (f" {extra}" if extra else "")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


log = Logger()


class ConfigError(Exception):
    pass


def fatal(message):
    sys.stderr.write(f"diun: error: {message}\n")
    return 1


# ---------------------------------------------------------------- configuration schema

BOOL, INT, STR, DUR, STRLIST, MAP, ANY = "bool", "int", "string", "duration", "[]string", "map", "any"
SCHEMA = {
    "db": {"path": STR},
    "watch": {"workers": INT, "schedule": STR, "jitter": DUR, "firstCheckNotif": BOOL, "runOnStartup": BOOL,
              "compareDigest": BOOL, "healthchecks": {"baseURL": STR, "uuid": STR, "uuidFile": STR}},
    "defaults": {"watchRepo": BOOL, "notifyOn": STRLIST, "maxTags": INT, "sortTags": STR, "includeTags": STRLIST,
                 "excludeTags": STRLIST, "metadata": MAP},
    "metrics": {"enable": BOOL, "address": STR},
    "notif": {"telegram": {"token": STR, "tokenFile": STR, "chatIDs": STRLIST, "chatIDsFile": STR,
                           "templateBody": STR, "disableNotification": BOOL},
              # the other notifiers are accepted as they are (never used by the stand-in)
              "amqp": ANY, "apprise": ANY, "discord": ANY, "elasticsearch": ANY, "gotify": ANY, "mail": ANY,
              "matrix": ANY, "mqtt": ANY, "ntfy": ANY, "pushover": ANY, "rocketchat": ANY, "script": ANY,
              "signalrest": ANY, "slack": ANY, "teams": ANY, "webhook": ANY},
    "regopts": ANY,
    "providers": {"docker": {"endpoint": STR, "apiVersion": STR, "tlsCertsPath": STR, "tlsVerify": BOOL,
                             "watchByDefault": BOOL, "watchStopped": BOOL},
                  "swarm": ANY, "kubernetes": ANY, "file": ANY, "dockerfile": ANY, "nomad": ANY},
}
DEFAULTS = {
    "db": {"path": "diun.db"},
    "watch": {"workers": 10, "schedule": "", "jitter": "30s", "firstCheckNotif": False, "runOnStartup": True,
              "compareDigest": True},
    "defaults": {"watchRepo": False, "notifyOn": ["new", "update"], "sortTags": "reverse"},
    "metrics": {},
}
PROVIDER_DEFAULTS = {"docker": {"tlsVerify": True, "watchByDefault": False, "watchStopped": False}}
DURATION_RE = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def find_key(schema, key):
    """gonfig matches keys without regard to case."""
    for k in schema:
        if k.lower() == str(key).lower():
            return k
    return None


def check(value, schema, path):
    if schema == ANY:
        return value
    if isinstance(schema, dict):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"field not found, node: {path} (expected a mapping)")
        out = {}
        for k, v in value.items():
            known = find_key(schema, k)
            if known is None:
                raise ConfigError(f"field not found, node: {k}")
            out[known] = check(v, schema[known], f"{path}.{known}" if path else known)
        return out
    if schema == BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f'{path}: strconv.ParseBool: parsing "{value}": invalid syntax')
    if schema == INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            return int(value)
        raise ConfigError(f'{path}: strconv.ParseInt: parsing "{value}": invalid syntax')
    if schema == DUR:
        text = str(value)
        if not DURATION_RE.match(text) and text != "0":
            raise ConfigError(f'{path}: time: invalid duration "{text}"')
        return text
    if schema == STRLIST:
        if isinstance(value, str):
            return [v for v in value.split(",") if v]
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list of strings")
        return [str(v) for v in value]
    if schema == MAP:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping")
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, (dict, list)):
        raise ConfigError(f"{path}: expected a string")
    return "" if value is None else str(value)


def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v


def find_config(explicit):
    if explicit:
        return explicit
    for base in ("/etc/diun/diun", os.path.expandvars("$XDG_CONFIG_HOME/diun"),
                 os.path.expandvars("$HOME/.config/diun"), "./diun"):
        if "$" in base:
            continue
        for ext in ("yaml", "yml"):
            if os.path.isfile(f"{base}.{ext}"):
                return f"{base}.{ext}"
    return None


def yaml_error(e):
    """PyYAML's error in the words of Go's yaml.v3."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    problem = re.sub(r"found unknown escape character .*", "found unknown escape character", problem)
    where = f"line {mark.line + 1}: " if mark else ""
    return f"yaml: {where}{problem}"


def env_config():
    """DIUN_SECTION_..._KEY variables as a tree, matched against the schema."""
    tree = {}
    count = 0
    for name, value in sorted(os.environ.items()):
        if not name.startswith("DIUN_"):
            continue
        count += 1
        parts = name[5:].lower().split("_")
        schema, node, path = SCHEMA, tree, []
        i = 0
        while i < len(parts):
            # keys such as chatIDs or watchByDefault are one part; match the longest prefix
            for j in range(len(parts), i, -1):
                key = find_key(schema, "".join(parts[i:j])) if isinstance(schema, dict) else None
                if key:
                    break
            else:
                raise ConfigError(f"failed to decode configuration from environment variables: "
                                  f"field not found, node: {parts[i]}")
            path.append(key)
            schema = schema[key]
            i = j
            if i < len(parts) and isinstance(schema, dict):
                node = node.setdefault(key, {})
            elif i < len(parts):
                raise ConfigError(f"failed to decode configuration from environment variables: "
                                  f"field not found, node: {parts[i]}")
            else:
                node[key] = {} if (isinstance(schema, dict) and value.lower() == "true") else value
    return tree, count


def load(explicit):
    cfg = json.loads(json.dumps(DEFAULTS))
    path = find_config(explicit)
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ConfigError(f"failed to decode configuration from file: open {path}: "
                              f"{os.strerror(e.errno).lower()}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"failed to decode configuration from file: {yaml_error(e)}") from None
        if not doc:
            raise ConfigError(f"failed to decode configuration from file: no configuration found in file: {path}")
        doc = {k: v for k, v in doc.items() if find_key(SCHEMA, k)}  # the root filter
        try:
            merge(cfg, check(doc, SCHEMA, ""))
        except ConfigError as e:
            raise ConfigError(f"failed to decode configuration from file: {e}") from None
        log("info", f"Configuration loaded from file: {path}")
    else:
        log("debug", "No configuration file found")
    env, count = env_config()
    if count:
        merge(cfg, check(env, SCHEMA, ""))
        log("info", f"Configuration loaded from {count} environment variable(s)")
    providers = cfg.get("providers") or {}
    if not providers:
        raise ConfigError("at least one provider is required")
    for name, defaults in PROVIDER_DEFAULTS.items():
        if name in providers:
            providers[name] = dict(defaults, **(providers[name] or {}))
    schedule = cfg["watch"].get("schedule") or ""
    if schedule and len(schedule.split()) not in (5, 6) and not schedule.startswith("@"):
        raise ConfigError(f"cannot initialize Diun: failed to parse cron schedule {schedule!r}")
    tg = (cfg.get("notif") or {}).get("telegram")
    if tg is not None:
        if not (tg.get("token") or tg.get("tokenFile")):
            raise ConfigError("Key: 'Config.Notif.Telegram.Token' Error:Field validation for 'Token' failed")
        if not (tg.get("chatIDs") or tg.get("chatIDsFile")):
            raise ConfigError("Key: 'Config.Notif.Telegram.ChatIDs' Error:Field validation for 'ChatIDs' failed")
        for f in ("tokenFile", "chatIDsFile"):
            if tg.get(f) and not os.path.isfile(tg[f]):
                raise ConfigError(f"Key: 'Config.Notif.Telegram.{f[0].upper() + f[1:]}' "
                                  f"Error:Field validation for '{f}' failed on the 'file' tag")
    return cfg


# ---------------------------------------------------------------- Docker provider

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=15)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def list_containers(endpoint, stopped):
    if endpoint.startswith("unix://"):
        conn = UnixHTTPConnection(endpoint[len("unix://"):])
    else:
        host, _, port = endpoint.split("://", 1)[-1].partition(":")
        conn = http.client.HTTPConnection(host, int(port or 2375), timeout=15)
    try:
        conn.request("GET", "/containers/json" + ("?all=1" if stopped else ""), headers={"Host": "docker"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise OSError(f"HTTP {resp.status}")
        return json.loads(body)
    finally:
        conn.close()


def run_once(cfg):
    log("info", "Cron triggered")
    docker_cfg = (cfg.get("providers") or {}).get("docker")
    images = []
    if docker_cfg is not None:
        endpoint = docker_cfg.get("endpoint") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        try:
            containers = list_containers(endpoint, docker_cfg.get("watchStopped"))
        except OSError as e:
            log("error", f"Cannot list Docker containers: {e}", provider="docker")
            containers = []
        for c in containers:
            enable = (c.get("Labels") or {}).get("diun.enable")
            if enable is not None and enable.lower() == "false":
                continue
            if enable is None and not docker_cfg.get("watchByDefault"):
                log("debug", "Watch disabled", provider="docker", container=c["Id"][:12])
                continue
            images.append((c.get("Image", ""), c["Id"][:12]))
    log("info", f"Found {len(images)} image(s) to analyze", provider="docker")
    for image, cid in images:
        log("info", "Would check the registry for this image (vpai-test stand-in: no registry is contacted)",
            provider="docker", image=image, container=cid)
    tg = (cfg.get("notif") or {}).get("telegram")
    if tg is not None:
        log("info", "Telegram notifier ready (vpai-test stand-in: nothing is sent)",
            chats=len(tg.get("chatIDs") or []))
    log("info", f"Jobs completed added=0 failed=0 skipped=0 unchanged={len(images)} updated=0")


def main(argv):
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        print("Usage: diun <command>\n\nCommands:\n  serve    Starts Diun server. (vpai-test stand-in)")
        return 0
    if args[0] == "--version":
        print(VERSION)
        return 0
    if args[0] != "serve":
        return fatal(f'unexpected argument {args[0]}')
    opts = {"config": os.environ.get("CONFIG", ""), "log-level": os.environ.get("LOG_LEVEL", "info"),
            "log-json": os.environ.get("LOG_JSON", "false")}
    rest = args[1:]
    while rest:
        a = rest.pop(0)
        name, eq, value = a.lstrip("-").partition("=")
        if not a.startswith("--") or name not in ("config", "log-level", "log-json", "log-caller", "log-nocolor",
                                                  "profiler", "profiler-path", "grpc-authority"):
            return fatal(f"unknown flag {a}")
        if not eq and name not in ("log-json", "log-caller", "log-nocolor"):
            value = rest.pop(0) if rest else ""
        opts[name] = value if eq or value else "true"
    log.level = LEVELS.get(opts["log-level"].lower(), 2)
    log.as_json = opts["log-json"].lower() == "true"
    log("info", "Starting Diun", version=VERSION)
    try:
        cfg = load(opts["config"])
    except ConfigError as e:
        return fatal(f"cannot load configuration: {e}")
    db_path = cfg["db"]["path"]
    try:
        os.makedirs(os.path.dirname(db_path) or ".", exist_ok=True)
        if not os.path.exists(db_path) or os.path.getsize(db_path) == 0:
            with open(db_path, "w", encoding="utf-8") as f:  # bbolt writes its meta pages at creation
                f.write("vpai-test diun stand-in database\n")
        with open(db_path, "a"):
            pass
    except OSError as e:
        return fatal(f"cannot initialize Diun: open {db_path}: {os.strerror(e.errno).lower()}")
    if not (cfg.get("notif") or {}):
        log("warn", "No notifier available")
    schedule = cfg["watch"].get("schedule") or "(none)"
    log("info", f"Cron initialized with schedule {schedule} (vpai-test stand-in: checked again every hour)")
    stop = threading.Event()

    def on_signal(signum, _frame):
        log("warn", "Caught signal " + signal.Signals(signum).name.lower())
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if cfg["watch"].get("runOnStartup", True):
        run_once(cfg)
    while not stop.wait(3600):
        run_once(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
