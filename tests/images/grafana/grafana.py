#!/usr/bin/env python3
"""Grafana STAND-IN for vpai's tests (Grafana is in no registry this project can reach).

It keeps the outside contract of `grafana/grafana:12.3.2` that vpai relies on:
  * `grafana server --homepath=... --config=... [cfg:default.paths.data=...]`, started by
    /run.sh like the official image; settings from grafana.ini, overridden by GF_<SECTION>_<KEY>
    (GF_SECURITY_ADMIN_USER/PASSWORD, GF_SERVER_HTTP_PORT, GF_SERVER_ROOT_URL,
    GF_SERVER_SERVE_FROM_SUB_PATH, GF_PATHS_*, GF_AUTH_ANONYMOUS_ENABLED); `__FILE` variants
    read the value from a file;
  * at start it creates its SQLite database (data/grafana.db) and the plugins directory,
    failing with "permission denied" when the data directory is not writable (UID 472);
  * provisioning read from <provisioning>/{datasources,dashboards,alerting}/*.y*ml with
    Grafana's interpolation of string values: $VAR, ${VAR}, $__env{VAR}, $__file{path}, $$
    for a literal $; an invalid file, two default datasources in one org or a datasource
    without name/type stop the start, as in Grafana;
  * HTTP on 3000: /api/health (no auth, matched by suffix like Grafana's middleware),
    basic auth for the rest; /api/datasources, /api/datasources/uid/UID,
    /api/datasources/uid/UID/health which REALLY checks the datasource:
      prometheus: POST <url>/api/v1/query query=1+1;
      loki: GET <url>/loki/api/v1/labels (Grafana itself runs `vector(1)+vector(1)`);
      postgres / grafana-postgresql-datasource: a real connection with psycopg2, the user
      read ONLY from the root `user:` (Grafana 12, seed 001 §8.5; without it the answer
      and the log say "pq: no PostgreSQL user name specified in startup packet"), the
      password from secureJsonData.password, the database from jsonData.database or the
      root `database`, sslmode from jsonData.sslmode (libpq's default when unset);
    /api/search and /api/dashboards/uid/UID for dashboards of file providers;
    /api/v1/provisioning/alert-rules and /contact-points for provisioned alerting (a rule
    whose query names an unknown datasource, or a Telegram receiver without bottoken or
    chatid, stops the start);
  * the admin user is stored in the database when it is created: a later
    GF_SECURITY_ADMIN_PASSWORD is ignored, `grafana cli admin reset-admin-password
    [--password-from-stdin]` changes it (as in Grafana).
Python standard library + PyYAML + psycopg2 (Debian's python3-yaml, python3-psycopg2).
"""

import base64
import configparser
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

VERSION = "12.3.2"
COMMIT = "vpai-test-stand-in"
_log_lock = threading.Lock()


def log(logger, level, msg, **kv):
    t = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    parts = [f"logger={logger}", f"t={t}", f"level={level}", f'msg="{msg}"']
    for k, v in kv.items():
        v = str(v).replace('"', '\\"')
        parts.append(f'{k}="{v}"' if (not v or " " in v or "=" in v) else f"{k}={v}")
    with _log_lock:
        sys.stdout.write(" ".join(parts) + "\n")
        sys.stdout.flush()


class StartError(Exception):
    pass


# ---------------------------------------------------------------- settings

DEFAULTS = {
    "paths": {"data": "/var/lib/grafana", "logs": "/var/log/grafana", "plugins": "/var/lib/grafana/plugins",
              "provisioning": "/etc/grafana/provisioning"},
    "server": {"protocol": "http", "http_addr": "", "http_port": "3000", "domain": "localhost",
               "root_url": "%(protocol)s://%(domain)s:%(http_port)s/", "serve_from_sub_path": "false"},
    "security": {"admin_user": "admin", "admin_password": "admin"},
    "auth.anonymous": {"enabled": "false"},
    "auth": {}, "users": {}, "analytics": {}, "log": {}, "database": {}, "smtp": {},
    "unified_alerting": {}, "feature_toggles": {}, "plugins": {}, "dashboards": {},
}


def load_settings(argv):
    config_path, overrides = "/etc/grafana/grafana.ini", {}
    for a in argv:
        if a.startswith("--config="):
            config_path = a.split("=", 1)[1]
        elif a.startswith("cfg:default."):
            key, value = a[len("cfg:default."):].split("=", 1)
            section, _, name = key.rpartition(".")
            overrides.setdefault(section, {})[name] = value
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_dict(DEFAULTS)
    if os.path.exists(config_path):
        try:
            with open(config_path, encoding="utf-8") as f:
                parser.read_string("[__root__]\n" + f.read(), source=config_path)
        except (OSError, configparser.Error) as e:
            raise StartError(f"failed to parse {config_path}: {e}") from None
    # command-line cfg:default.* are defaults: the ini and the environment win over them
    for section, values in overrides.items():
        for name, value in values.items():
            if not parser.has_section(section):
                parser.add_section(section)
            if parser.get(section, name, fallback=None) in (None, DEFAULTS.get(section, {}).get(name)):
                parser.set(section, name, value)
    for key, value in os.environ.items():
        if not key.startswith("GF_"):
            continue
        from_file = key.endswith("__FILE")
        rest = key[3:-6] if from_file else key[3:]
        for section in sorted(parser.sections(), key=len, reverse=True):
            prefix = section.upper().replace(".", "_").replace("-", "_") + "_"
            if rest.startswith(prefix):
                name = rest[len(prefix):].lower()
                if from_file:
                    with open(value, encoding="utf-8") as f:
                        value = f.read().strip()
                parser.set(section, name, value)
                break
    return parser


def truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


# ---------------------------------------------------------------- provisioning

INTERP_RE = re.compile(r"\$\$|\$__env\{([^}]*)\}|\$__file\{([^}]*)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value, source):
    if isinstance(value, dict):
        return {k: interpolate(v, source) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, source) for v in value]
    if not isinstance(value, str):
        return value

    def repl(m):
        if m.group(0) == "$$":
            return "$"
        if m.group(2) is not None:
            try:
                with open(m.group(2), encoding="utf-8") as f:
                    return f.read().strip()
            except OSError as e:
                raise StartError(f"{source}: $__file{{{m.group(2)}}}: {e.strerror.lower()}") from None
        name = m.group(1) or m.group(3) or m.group(4)
        return os.environ.get(name, "")

    return INTERP_RE.sub(repl, value)


def read_yaml_files(directory, logger):
    out = []
    if not os.path.isdir(directory):
        return out
    for name in sorted(os.listdir(directory)):
        if not name.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except OSError as e:
            raise StartError(f"{logger}: could not read {path}: {e.strerror.lower()}") from None
        except yaml.YAMLError as e:
            raise StartError(f"{logger}: could not parse provisioning config file: {name} error: {e}") from None
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise StartError(f"{logger}: {path}: the file must be a YAML mapping")
        out.append((path, interpolate(doc, path)))
    return out


def provision_datasources(directory):
    datasources = {}
    defaults = {}
    for path, doc in read_yaml_files(directory, "provisioning.datasources"):
        for d in doc.get("deleteDatasources") or []:
            datasources = {k: v for k, v in datasources.items() if v["name"] != d.get("name")}
        for i, ds in enumerate(doc.get("datasources") or []):
            if not isinstance(ds, dict) or not ds.get("name"):
                raise StartError(f"Datasource provisioning error: datasource at index {i} in {path} has no name")
            if not ds.get("type"):
                raise StartError(f"Datasource provisioning error: datasource {ds['name']} in {path} has no type")
            org = int(ds.get("orgId") or 1)
            if ds.get("isDefault"):
                if org in defaults and defaults[org] != ds["name"]:
                    raise StartError("Datasource provisioning error: datasource.yaml config is invalid. "
                                     "Only one datasource per organization can be marked as default")
                defaults[org] = ds["name"]
            uid = str(ds.get("uid") or re.sub(r"[^A-Za-z0-9_-]", "", ds["name"])[:40])
            ds = dict(ds, uid=uid, orgId=org)
            ds["id"] = len(datasources) + 1
            datasources[uid] = ds
            log("provisioning.datasources", "info", "inserting datasource from configuration", name=ds["name"], uid=uid)
    return datasources


def provision_dashboards(directory):
    dashboards = {}
    for path, doc in read_yaml_files(directory, "provisioning.dashboard"):
        for p in doc.get("providers") or []:
            if (p.get("type") or "file") != "file":
                log("provisioning.dashboard", "warn", "stand-in knows file providers only", provider=p.get("name"))
                continue
            root = (p.get("options") or {}).get("path")
            if not root:
                raise StartError(f"Failed to provision dashboards: provider {p.get('name')} in {path} has no options.path")
            if not os.path.isdir(root):
                log("provisioning.dashboard", "error", "Cannot read directory", type="file",
                    name=p.get("name"), path=root, error=f"stat {root}: no such file or directory")
                continue
            for dirpath, _dirs, files in os.walk(root):
                for name in sorted(files):
                    if not name.endswith(".json"):
                        continue
                    file = os.path.join(dirpath, name)
                    try:
                        with open(file, encoding="utf-8") as f:
                            dash = json.load(f)
                    except (OSError, ValueError) as e:
                        log("provisioning.dashboard", "error", "failed to load dashboard from ", file=file, error=str(e))
                        continue
                    if "dashboard" in dash and isinstance(dash["dashboard"], dict):
                        dash = dash["dashboard"]
                    if not dash.get("title"):
                        log("provisioning.dashboard", "error", "failed to save dashboard", file=file,
                            error="Dashboard title cannot be empty")
                        continue
                    uid = dash.get("uid") or base64.b32encode(os.urandom(5)).decode().lower()[:9]
                    if uid in dashboards:
                        log("provisioning.dashboard", "warn", "dashboards provisioning provider has no database write "
                            "permissions because of duplicates", provider=p.get("name"), uid=uid)
                        continue
                    folder = p.get("folder") or ""
                    if (p.get("options") or {}).get("foldersFromFilesStructure") and dirpath != root:
                        folder = os.path.relpath(dirpath, root)
                    dashboards[uid] = {"dashboard": dict(dash, uid=uid, id=len(dashboards) + 1,
                                                         version=dash.get("version") or 1),
                                       "folder": folder, "file": file}
    log("provisioning.dashboard", "info", "finished to provision dashboards", count=len(dashboards))
    return dashboards


SECURE_SETTINGS = {"bottoken", "password", "token", "apiKey", "url", "webhook_url", "integrationKey"}


def provision_alerting(directory, datasources):
    """Rules (groups[].rules[]) and contact points (contactPoints[].receivers[]), checked
    the way Grafana refuses them at start."""
    rules, points, count = [], [], 0
    known_ds = set(datasources) | {"__expr__", "-100"}
    for path, doc in read_yaml_files(directory, "provisioning.alerting"):
        if doc.get("apiVersion") not in (1, "1", None):
            raise StartError(f"failure to parse file {path}: unsupported apiVersion {doc.get('apiVersion')}")
        for key in ("groups", "contactPoints", "policies", "templates", "muteTimes", "deleteRules",
                    "deleteContactPoints", "resetPolicies", "deleteTemplates", "deleteMuteTimes"):
            value = doc.get(key)
            if value is not None and not isinstance(value, list):
                raise StartError(f"failure to parse file {path}: {key} must be a list")
            count += len(value or [])
        for g in doc.get("groups") or []:
            for field in ("name", "folder", "interval"):
                if not g.get(field):
                    raise StartError(f"failure to parse file {path}: rule group has no {field}")
            for r in g.get("rules") or []:
                for field in ("uid", "title", "condition", "data"):
                    if not r.get(field):
                        raise StartError(f"failure to parse file {path}: rule {r.get('title') or r.get('uid')!r} "
                                         f"in group {g['name']!r} has no {field}")
                refs = {q.get("refId") for q in r["data"]}
                if r["condition"] not in refs:
                    raise StartError(f"invalid alert rule {r['uid']}: condition {r['condition']} does not exist, "
                                     f"must be one of {sorted(x for x in refs if x)}")
                for q in r["data"]:
                    if q.get("datasourceUid") not in known_ds:
                        raise StartError(f"invalid alert rule {r['uid']}: failed to build query "
                                         f"'{q.get('refId')}': data source not found")
                rules.append(dict(r, ruleGroup=g["name"], folderUID=g["folder"], orgID=int(g.get("orgId") or 1),
                                  id=len(rules) + 1, provenance="file", isPaused=bool(r.get("isPaused"))))
        for cp in doc.get("contactPoints") or []:
            if not cp.get("name"):
                raise StartError(f"failure to parse file {path}: contact point has no name")
            for rcv in cp.get("receivers") or []:
                if not rcv.get("uid") or not rcv.get("type"):
                    raise StartError(f"failure to parse file {path}: a receiver of {cp['name']!r} has no uid or type")
                settings = rcv.get("settings") or {}
                if rcv["type"] == "telegram":
                    if not settings.get("bottoken"):
                        raise StartError(f'failed to validate integration "{cp["name"]}" (UID {rcv["uid"]}) of type '
                                         '"telegram": could not find Bot Token in settings')
                    if not settings.get("chatid"):
                        raise StartError(f'failed to validate integration "{cp["name"]}" (UID {rcv["uid"]}) of type '
                                         '"telegram": could not find Chat Id in settings')
                shown = {k: ("[REDACTED]" if k in SECURE_SETTINGS else v) for k, v in settings.items()}
                points.append({"uid": rcv["uid"], "name": cp["name"], "type": rcv["type"], "settings": shown,
                               "disableResolveMessage": bool(rcv.get("disableResolveMessage")),
                               "provenance": "file"})
    log("provisioning.alerting", "info", "finished to provision alerting", items=count,
        rules=len(rules), contact_points=len(points))
    return rules, points


# ---------------------------------------------------------------- users

def database(cfg):
    return os.path.join(cfg.get("paths", "data"), "grafana.db")


def hash_password(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 10000).hex()


def open_database(cfg):
    """Grafana's database; like Grafana, the admin user is created with
    GF_SECURITY_ADMIN_PASSWORD only when the database is new: a later value is ignored."""
    db = sqlite3.connect(database(cfg))
    db.execute("CREATE TABLE IF NOT EXISTS migration_log (id INTEGER PRIMARY KEY, migration_id TEXT, "
               "success INTEGER, timestamp TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS user (id INTEGER PRIMARY KEY, login TEXT UNIQUE, password TEXT, "
               "salt TEXT, is_admin INTEGER)")
    if db.execute("SELECT COUNT(*) FROM user").fetchone()[0] == 0:
        salt = os.urandom(8).hex()
        db.execute("INSERT INTO user (login, password, salt, is_admin) VALUES (?, ?, ?, 1)",
                   (cfg.get("security", "admin_user"), hash_password(cfg.get("security", "admin_password"), salt), salt))
        log("sqlstore", "info", "Created default admin", user=cfg.get("security", "admin_user"))
    db.execute("INSERT INTO migration_log (migration_id, success, timestamp) VALUES (?, 1, ?)",
               ("vpai-test stand-in start", datetime.datetime.now().isoformat()))
    db.commit()
    db.close()


def check_login(path, login, password):
    try:
        db = sqlite3.connect(path)
        row = db.execute("SELECT password, salt FROM user WHERE login = ?", (login,)).fetchone()
        db.close()
    except sqlite3.Error:
        return False
    return bool(row) and hmac.compare_digest(row[0], hash_password(password, row[1]))


def cli(argv):
    """`grafana cli admin reset-admin-password [--password-from-stdin | PASSWORD]`."""
    args = [a for a in argv if not a.startswith(("--homepath", "--config", "--configOverrides"))]
    if args[:2] != ["admin", "reset-admin-password"]:
        print("grafana cli: the vpai-test stand-in knows `admin reset-admin-password` only", file=sys.stderr)
        return 1
    rest = args[2:]
    if "--password-from-stdin" in rest:
        password = sys.stdin.readline().rstrip("\n")
    elif rest:
        password = rest[-1]
    else:
        print("Error: ✗ missing new password", file=sys.stderr)
        return 1
    cfg = load_settings([a for a in argv if a.startswith("--config=")])
    try:
        db = sqlite3.connect(database(cfg))
        salt = os.urandom(8).hex()
        n = db.execute("UPDATE user SET password = ?, salt = ? WHERE is_admin = 1 AND id = "
                       "(SELECT MIN(id) FROM user WHERE is_admin = 1)", (hash_password(password, salt), salt)).rowcount
        db.commit()
        db.close()
    except sqlite3.Error as e:
        print(f"Error: ✗ {e}", file=sys.stderr)
        return 1
    if not n:
        print("Error: ✗ could not find the admin user", file=sys.stderr)
        return 1
    print("\nAdmin password changed successfully ✔\n")
    return 0


# ---------------------------------------------------------------- datasource health

def http_json(url, data=None, timeout=10, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def check_datasource(ds):
    """(ok, message), as Grafana's CheckHealth answers."""
    kind, url = ds.get("type"), (ds.get("url") or "").rstrip("/")
    json_data = ds.get("jsonData") or {}
    secure = ds.get("secureJsonData") or {}
    headers = {}
    for n in range(1, 20):  # Grafana's custom HTTP headers: httpHeaderName<N> / httpHeaderValue<N>
        if json_data.get(f"httpHeaderName{n}"):
            headers[json_data[f"httpHeaderName{n}"]] = secure.get(f"httpHeaderValue{n}", "")
    if ds.get("basicAuth"):
        pair = f"{ds.get('basicAuthUser', '')}:{secure.get('basicAuthPassword', '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    if kind == "prometheus":
        try:
            body = urllib.parse.urlencode({"query": "1+1", "time": str(int(time.time()))}).encode()
            out = http_json(url + "/api/v1/query", body,
                            headers=dict(headers, **{"Content-Type": "application/x-www-form-urlencoded"}))
            if out.get("status") != "success":
                raise ValueError(out)
        except Exception as e:  # noqa: BLE001 - Grafana reports any failure the same way
            return False, f"{e} - There was an error returned querying the Prometheus API."
        return True, "Successfully queried the Prometheus API."
    if kind == "loki":
        try:
            out = http_json(url + "/loki/api/v1/labels", headers=headers)
            if out.get("status") != "success":
                raise ValueError(out)
        except Exception as e:  # noqa: BLE001
            log("tsdb.loki", "error", "Loki health check failed", error=str(e))
            return False, "Unable to connect with Loki. Please check the server logs for more details."
        return True, "Data source successfully connected."
    if kind in ("postgres", "grafana-postgresql-datasource"):
        user = ds.get("user")
        if not user:
            msg = "pq: no PostgreSQL user name specified in startup packet"
            log("tsdb.postgres", "error", "Health check failed", error=msg, config_user_length=0)
            return False, msg
        host, _, port = url.rpartition(":") if re.search(r":\d+$", url) else (url, "", "5432")
        try:
            import psycopg2
            conn = psycopg2.connect(host=host or url, port=int(port or 5432), user=user,
                                    password=secure.get("password", ""),
                                    dbname=json_data.get("database") or ds.get("database") or user,
                                    sslmode=json_data.get("sslmode") or "prefer", connect_timeout=10)
            with conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
            conn.close()
        except Exception as e:  # noqa: BLE001
            msg = "pq: " + str(e).strip().splitlines()[0].removeprefix("FATAL:").strip()
            log("tsdb.postgres", "error", "Health check failed", error=msg)
            return False, msg
        return True, "Database Connection OK"
    return False, f"Plugin health check failed: the vpai-test stand-in cannot check {kind} datasources"


# ---------------------------------------------------------------- HTTP

def make_handler(st):
    class Handler(BaseHTTPRequestHandler):
        server_version = "Grafana"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            if "/api/health" not in self.path:
                log("context", "info", "Request Completed", method=self.command,
                    path=self.path.split("?")[0], status=args[1] if len(args) > 1 else "")

        def send(self, code, body, ctype="application/json", headers=()):
            data = json.dumps(body, separators=(",", ":")).encode() if ctype == "application/json" else body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype + "; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def user(self):
            auth = self.headers.get("Authorization") or ""
            if auth.lower().startswith("basic "):
                try:
                    name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                except ValueError:
                    return None
                return "admin" if check_login(st["db"], name, pw) else None
            return "anonymous" if st["anonymous"] else None

        def route(self):
            url = urllib.parse.urlsplit(self.path)
            path = url.path
            query = dict(urllib.parse.parse_qsl(url.query))
            if self.command in ("GET", "HEAD") and path.endswith("/api/health"):
                return self.send(200, {"database": "ok", "version": VERSION, "commit": COMMIT})
            if self.command in ("GET", "HEAD") and path.endswith("/healthz"):
                return self.send(200, "Ok", "text/plain")
            sub = st["sub_path"]
            if sub:
                if not (path + "/").startswith(sub + "/"):
                    return self.send(404, {"message": "Not found"})
                path = path[len(sub):] or "/"
            if path in ("/login", "/login/"):
                return self.send(200, "<!doctype html><title>Grafana</title><p>Grafana (vpai-test stand-in)</p>",
                                 "text/html")
            if path == "/":
                if self.user():
                    return self.send(200, "<!doctype html><title>Grafana</title>", "text/html")
                return self.send(302, "", "text/html", [("Location", f"{sub}/login")])
            if not path.startswith("/api/"):
                return self.send(404, {"message": "Not found"})
            who = self.user()
            if who is None:
                return self.send(401, {"message": "Unauthorized", "messageId": "auth.unauthorized",
                                       "statusCode": 401, "traceID": ""})
            if path == "/api/datasources" and self.command == "GET":
                return self.send(200, [public(ds) for ds in st["datasources"].values()])
            m = re.fullmatch(r"/api/datasources/uid/([^/]+)(/health)?", path)
            if m:
                ds = st["datasources"].get(urllib.parse.unquote(m.group(1)))
                if ds is None:
                    return self.send(404, {"message": "Data source not found"})
                if not m.group(2):
                    return self.send(200, public(ds))
                if self.command not in ("GET", "POST"):
                    return self.send(405, {"message": "Method not allowed"})
                ok, message = check_datasource(ds)
                return self.send(200 if ok else 400, {"status": "OK" if ok else "ERROR", "message": message})
            if path == "/api/v1/provisioning/alert-rules":
                return self.send(200, st["rules"])
            m = re.fullmatch(r"/api/v1/provisioning/alert-rules/([^/]+)", path)
            if m:
                rule = next((r for r in st["rules"] if r["uid"] == urllib.parse.unquote(m.group(1))), None)
                return self.send(200, rule) if rule else self.send(404, {"message": "rule not found"})
            if path == "/api/v1/provisioning/contact-points":
                name = query.get("name")
                return self.send(200, [p for p in st["points"] if not name or p["name"] == name])
            if path == "/api/search":
                return self.send(200, search(st["dashboards"], query))
            m = re.fullmatch(r"/api/dashboards/uid/([^/]+)", path)
            if m:
                d = st["dashboards"].get(urllib.parse.unquote(m.group(1)))
                if d is None:
                    return self.send(404, {"message": "Dashboard not found"})
                dash = d["dashboard"]
                return self.send(200, {"dashboard": dash, "meta": {
                    "type": "db", "slug": slug(dash["title"]), "url": f"{sub}/d/{dash['uid']}/{slug(dash['title'])}",
                    "provisioned": True, "provisionedExternalId": os.path.basename(d["file"]),
                    "folderTitle": d["folder"] or "General", "canEdit": False, "canSave": False}})
            return self.send(404, {"message": "Not found"})

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = route

    return Handler


def public(ds):
    out = {k: v for k, v in ds.items() if k != "secureJsonData"}
    out["secureJsonFields"] = {k: True for k in (ds.get("secureJsonData") or {})}
    out.setdefault("access", "proxy")
    out.setdefault("isDefault", False)
    return out


def slug(title):
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def search(dashboards, query):
    text = (query.get("query") or "").lower()
    kind = query.get("type")
    tag = query.get("tag")
    if kind and kind != "dash-db":
        return []
    out = []
    for uid, d in dashboards.items():
        dash = d["dashboard"]
        if text and text not in dash["title"].lower():
            continue
        if tag and tag not in (dash.get("tags") or []):
            continue
        item = {"id": dash["id"], "uid": uid, "title": dash["title"], "uri": f"db/{slug(dash['title'])}",
                "url": f"/d/{uid}/{slug(dash['title'])}", "slug": "", "type": "dash-db",
                "tags": dash.get("tags") or [], "isStarred": False}
        if d["folder"]:
            item["folderTitle"] = d["folder"]
        out.append(item)
    return sorted(out, key=lambda i: i["title"].lower())


# ---------------------------------------------------------------- main

def main(argv):
    if argv and argv[0] in ("-v", "--version", "-version"):
        print(f"grafana version {VERSION}")
        return 0
    if os.path.basename(sys.argv[0]) == "grafana-cli":
        argv = ["cli"] + argv
    if argv and argv[0] == "cli":
        return cli(argv[1:])
    if argv and argv[0] == "server":
        argv = argv[1:]
    try:
        cfg = load_settings(argv)
        log("settings", "info", "Starting Grafana", version=VERSION, commit=COMMIT, branch="HEAD",
            compiled=datetime.date.today().isoformat())
        data = cfg.get("paths", "data")
        try:
            os.makedirs(cfg.get("paths", "plugins"), exist_ok=True)
            open_database(cfg)
        except (OSError, sqlite3.Error) as e:
            raise StartError(f"failed to open the database in {data}: {getattr(e, 'strerror', None) or e}"
                             f" (permission denied when {data} is not writable by UID {os.getuid()})") from None
        prov = cfg.get("paths", "provisioning")
        datasources = provision_datasources(os.path.join(prov, "datasources"))
        dashboards = provision_dashboards(os.path.join(prov, "dashboards"))
        rules, points = provision_alerting(os.path.join(prov, "alerting"), datasources)
    except StartError as e:
        log("server", "error", "Server shutdown", error=str(e))
        print(f"Error: ✗ {e}", file=sys.stderr)
        return 1

    port = int(cfg.get("server", "http_port"))
    sub_path = ""
    root_url = cfg.get("server", "root_url")
    if truthy(cfg.get("server", "serve_from_sub_path")):
        sub_path = urllib.parse.urlsplit(root_url.replace("%(", "x").replace(")s", "x")).path.rstrip("/")
    state = {"datasources": datasources, "dashboards": dashboards, "sub_path": sub_path,
             "rules": rules, "points": points, "db": database(cfg),
             "anonymous": truthy(cfg.get("auth.anonymous", "enabled"))}
    server = ThreadingHTTPServer((cfg.get("server", "http_addr") or "0.0.0.0", port), make_handler(state))
    server.daemon_threads = True
    log("http.server", "info", "HTTP Server Listen", address=f"[::]:{port}", protocol="http",
        subUrl=sub_path, socket="")

    def stop(signum, _frame):
        log("server", "info", "Shutdown started", reason=f"System signal: {signal.Signals(signum).name.lower()}")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
