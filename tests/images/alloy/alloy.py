#!/usr/bin/env python3
"""Grafana Alloy STAND-IN for vpai's tests (Alloy is in no registry this project can reach).

It keeps the outside contract of `grafana/alloy:v1.13.0` that vpai relies on:
  * `alloy run [--server.http.listen-addr=ADDR] [--storage.path=DIR] CONFIG`; an unknown
    flag stops it (cobra's "unknown flag"); HTTP /-/ready and /-/healthy (default address
    127.0.0.1:12345, like Alloy);
  * the Alloy configuration syntax (blocks, attributes, strings, raw strings, numbers, bools,
    null, arrays, objects, references to other components' exports, a few standard
    functions: sys.env/env, array.concat/concat, string.format/format, coalesce,
    constants.hostname); a syntax error or an unknown attribute of a known component stops
    the start with FILE:LINE:COL; an unknown block type is a warning and is skipped;
  * the components vpai's config uses, each with the arguments Alloy documents:
      discovery.docker      - containers from the Docker API (host = "unix://...") with the
                              __meta_docker_* labels, one target per network and port;
      discovery.relabel     - Prometheus relabelling (replace, keep, drop, labelmap,
                              labeldrop, labelkeep, lowercase, uppercase, keepequal,
                              dropequal, hashmod); exports `output` and `rules`;
      loki.source.docker    - every target's container logs through the Docker API
                              (/containers/ID/logs, polled every second with since= and
                              timestamps, de-duplicated; Alloy follows the stream), with
                              relabel_rules, static labels and positions kept under
                              --storage.path; __meta_docker_container_log_stream is set;
      loki.write            - batches sent to every endpoint url as JSON on the Loki push
                              API (Alloy sends snappy protobuf; Loki accepts both), with
                              external_labels, tenant_id and basic_auth;
      prometheus.scrape     - text exposition scraped every scrape_interval from each
                              target's __address__ (+ job, instance, up, scrape_* series);
      prometheus.remote_write - real Prometheus remote write: protobuf WriteRequest,
                              snappy-compressed (a literal-only snappy block), POSTed to
                              every endpoint url with external_labels.
    `logging` and `livedebugging` blocks are accepted.
Python standard library only.
"""

import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "v1.13.0"
_log_lock = threading.Lock()
LEVELS = {"debug": 0, "info": 1, "warn": 2, "error": 3}
_level = 1


def log(level, msg, **kv):
    if LEVELS[level] < _level:
        return
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    parts = [f"ts={ts}", f"level={level}", f'msg="{msg}"']
    for k, v in kv.items():
        v = str(v).replace('"', '\\"').replace("\n", " ")
        parts.append(f'{k}="{v}"' if (not v or " " in v or "=" in v) else f"{k}={v}")
    with _log_lock:
        sys.stderr.write(" ".join(parts) + "\n")
        sys.stderr.flush()


class ConfigError(Exception):
    pass


# ---------------------------------------------------------------- lexer and parser

TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\r]+) | (?P<nl>\n) | (?P<comment>//[^\n]*|/\*.*?\*/) |
    (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?) |
    (?P<string>"(?:[^"\\\n]|\\.)*") | (?P<raw>`[^`]*`) |
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*) |
    (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%^<>!=.,{}\[\]()])
""", re.VERBOSE | re.DOTALL)


def tokenize(text, path):
    tokens, pos, line, col = [], 0, 1, 1
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise ConfigError(f"{path}:{line}:{col}: illegal character {text[pos]!r}")
        kind, value = m.lastgroup, m.group()
        if kind not in ("ws", "nl", "comment"):
            tokens.append((kind, value, line, col))
        newlines = value.count("\n")
        if newlines:
            line += newlines
            col = len(value) - value.rfind("\n")
        else:
            col += len(value)
        pos = m.end()
    tokens.append(("eof", "", line, col))
    return tokens


class Parser:
    def __init__(self, text, path):
        self.tokens = tokenize(text, path)
        self.i = 0
        self.path = path

    def peek(self, k=0):
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def where(self, tok=None):
        tok = tok or self.peek()
        return f"{self.path}:{tok[2]}:{tok[3]}"

    def expect(self, value):
        tok = self.peek()
        if tok[1] != value or tok[0] in ("string", "raw"):
            raise ConfigError(f"{self.where(tok)}: expected {value}, got {tok[1] or 'EOF'}")
        self.i += 1
        return tok

    def body(self, end):
        """A list of ("attr", name, expr, pos) and ("block", name, label, body, pos)."""
        items = []
        while self.peek()[1] != end or self.peek()[0] in ("string", "raw"):
            tok = self.peek()
            if tok[0] == "eof":
                if end == "":
                    break
                raise ConfigError(f"{self.where(tok)}: expected }}, got EOF")
            if tok[0] != "ident":
                raise ConfigError(f"{self.where(tok)}: expected attribute assignment or block body, got {tok[1]}")
            pos = self.where(tok)
            name = [tok[1]]
            self.i += 1
            while self.peek()[1] == ".":
                self.i += 1
                nxt = self.peek()
                if nxt[0] != "ident":
                    raise ConfigError(f"{self.where(nxt)}: expected identifier, got {nxt[1]}")
                name.append(nxt[1])
                self.i += 1
            if self.peek()[1] == "=" and self.peek()[0] == "op":
                if len(name) > 1:
                    raise ConfigError(f"{pos}: attribute names may not contain dots")
                self.i += 1
                items.append(("attr", name[0], self.expr(), pos))
                continue
            label = None
            if self.peek()[0] == "string":
                label = json.loads(self.peek()[1])
                self.i += 1
            self.expect("{")
            inner = self.body("}")
            self.expect("}")
            items.append(("block", ".".join(name), label, inner, pos))
        return items

    # expressions, by precedence: || && comparison + - * / % ^ unary postfix
    BINARY = [("||",), ("&&",), ("==", "!=", "<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"), ("^",)]

    def expr(self, level=0):
        if level == len(self.BINARY):
            return self.unary()
        left = self.expr(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self.BINARY[level]:
            op = self.peek()[1]
            self.i += 1
            left = ("bin", op, left, self.expr(level + 1))
        return left

    def unary(self):
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("!", "-"):
            self.i += 1
            return ("un", tok[1], self.unary())
        return self.postfix(self.primary())

    def primary(self):
        tok = self.peek()
        self.i += 1
        kind, value = tok[0], tok[1]
        if kind == "number":
            return ("lit", float(value) if "." in value or "e" in value.lower() else int(value))
        if kind == "string":
            try:
                return ("lit", json.loads(value))
            except ValueError as e:
                raise ConfigError(f"{self.where(tok)}: invalid string literal: {e}") from None
        if kind == "raw":
            return ("lit", value[1:-1])
        if kind == "ident":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            return ("ref", [value], self.where(tok))
        if value == "[":
            items = []
            while self.peek()[1] != "]":
                items.append(self.expr())
                if self.peek()[1] == ",":
                    self.i += 1
                elif self.peek()[1] != "]":
                    raise ConfigError(f"{self.where()}: expected , or ], got {self.peek()[1] or 'EOF'}")
            self.i += 1
            return ("array", items)
        if value == "{":
            fields = []
            while self.peek()[1] != "}":
                key_tok = self.peek()
                if key_tok[0] == "ident":
                    key = key_tok[1]
                elif key_tok[0] == "string":
                    key = json.loads(key_tok[1])
                else:
                    raise ConfigError(f"{self.where(key_tok)}: expected field name, got {key_tok[1] or 'EOF'}")
                self.i += 1
                self.expect("=")
                fields.append((key, self.expr()))
                if self.peek()[1] == ",":
                    self.i += 1
                elif self.peek()[1] != "}":
                    raise ConfigError(f"{self.where()}: expected , or }}, got {self.peek()[1] or 'EOF'}")
            self.i += 1
            return ("object", fields)
        if value == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        raise ConfigError(f"{self.path}:{tok[2]}:{tok[3]}: expected expression, got {value or 'EOF'}")

    def postfix(self, node):
        while True:
            tok = self.peek()
            if tok[1] == "." and tok[0] == "op":
                self.i += 1
                name = self.peek()
                if name[0] != "ident":
                    raise ConfigError(f"{self.where(name)}: expected identifier, got {name[1]}")
                self.i += 1
                node = ("ref", node[1] + [name[1]], node[2]) if node[0] == "ref" else ("field", node, name[1])
            elif tok[1] == "[" and tok[0] == "op":
                self.i += 1
                index = self.expr()
                self.expect("]")
                node = ("index", node, index)
            elif tok[1] == "(" and tok[0] == "op":
                self.i += 1
                args = []
                while self.peek()[1] != ")":
                    args.append(self.expr())
                    if self.peek()[1] == ",":
                        self.i += 1
                    elif self.peek()[1] != ")":
                        raise ConfigError(f"{self.where()}: expected , or ), got {self.peek()[1] or 'EOF'}")
                self.i += 1
                if node[0] != "ref":
                    raise ConfigError(f"{self.where(tok)}: only named functions can be called")
                node = ("call", ".".join(node[1]), args, node[2])
            else:
                return node


# ---------------------------------------------------------------- evaluation

class EvalError(Exception):
    pass


def call_function(name, args):
    if name in ("sys.env", "env"):
        return os.environ.get(str(args[0]), "")
    if name in ("array.concat", "concat"):
        out = []
        for a in args:
            out.extend(a or [])
        return out
    if name in ("string.format", "format"):
        fmt = re.sub(r"%[-+# 0-9.]*[vdsqf]", "{}", str(args[0]))
        return fmt.format(*args[1:])
    if name == "coalesce":
        return next((a for a in args if a not in (None, "", [], {}, 0, False)), args[-1] if args else None)
    if name in ("json_decode", "encoding.from_json"):
        return json.loads(args[0])
    if name in ("string.to_lower", "to_lower"):
        return str(args[0]).lower()
    if name in ("string.to_upper", "to_upper"):
        return str(args[0]).upper()
    raise EvalError(f"function {name} is not known to the vpai-test stand-in")


def evaluate(node, resolve):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "array":
        return [evaluate(n, resolve) for n in node[1]]
    if kind == "object":
        return {k: evaluate(v, resolve) for k, v in node[1]}
    if kind == "ref":
        return resolve(node[1], node[2])
    if kind == "field":
        base = evaluate(node[1], resolve)
        if not isinstance(base, dict) or node[2] not in base:
            raise EvalError(f"field {node[2]} does not exist")
        return base[node[2]]
    if kind == "index":
        base, idx = evaluate(node[1], resolve), evaluate(node[2], resolve)
        try:
            return base[idx]
        except (KeyError, IndexError, TypeError):
            raise EvalError(f"index {idx!r} out of range") from None
    if kind == "call":
        return call_function(node[1], [evaluate(a, resolve) for a in node[2]])
    if kind == "un":
        v = evaluate(node[2], resolve)
        return (not v) if node[1] == "!" else -v
    if kind == "bin":
        op, a, b = node[1], evaluate(node[2], resolve), evaluate(node[3], resolve)
        ops = {"||": lambda: a or b, "&&": lambda: a and b, "==": lambda: a == b, "!=": lambda: a != b,
               "<": lambda: a < b, ">": lambda: a > b, "<=": lambda: a <= b, ">=": lambda: a >= b,
               "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
               "%": lambda: a % b, "^": lambda: a ** b}
        try:
            return ops[op]()
        except TypeError as e:
            raise EvalError(f"invalid operands for {op}: {e}") from None
    raise EvalError(f"cannot evaluate {kind}")


DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(text, what):
    total, pos = 0.0, 0
    for m in DURATION_RE.finditer(str(text)):
        if m.start() != pos:
            break
        total += float(m.group(1)) * UNIT_S[m.group(2)]
        pos = m.end()
    if pos != len(str(text)) or not text:
        raise EvalError(f'{what}: time: invalid duration "{text}"')
    return total


# ---------------------------------------------------------------- Docker API

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def docker_get(host, path, timeout=30):
    """(status, body bytes) of a GET on the Docker API at `host` (unix:// or tcp://)."""
    url = urllib.parse.urlsplit(host)
    if url.scheme == "unix":
        conn = UnixHTTPConnection(url.path, timeout)
    elif url.scheme in ("tcp", "http"):
        conn = http.client.HTTPConnection(url.hostname, url.port or 2375, timeout=timeout)
    else:
        raise OSError(f"unsupported Docker host {host}")
    try:
        conn.request("GET", path, headers={"Host": "docker"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def docker_json(host, path):
    status, body = docker_get(host, path)
    if status != 200:
        raise OSError(f"Docker API {path}: HTTP {status}: {body[:200]!r}")
    return json.loads(body)


def demux(body, tty):
    """(stream, text) pairs of a /logs answer: raw for a TTY, 8-byte frames otherwise."""
    if tty:
        return [("stdout", body.decode("utf-8", "replace"))]
    out, pos = [], 0
    while pos + 8 <= len(body):
        kind, size = body[pos], struct.unpack(">I", body[pos + 4:pos + 8])[0]
        out.append(("stderr" if kind == 2 else "stdout", body[pos + 8:pos + 8 + size].decode("utf-8", "replace")))
        pos += 8 + size
    return out


def sanitize(name):
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


# ---------------------------------------------------------------- relabelling

def compile_rules(blocks):
    rules = []
    for rule in blocks:
        action = rule.get("action", "replace")
        regex = rule.get("regex", "(.*)")
        try:
            compiled = re.compile(r"^(?:%s)$" % regex, re.DOTALL)
        except re.error as e:
            raise EvalError(f"invalid regex {regex!r}: {e}") from None
        known = {"replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop",
                 "labelkeep", "lowercase", "uppercase"}
        if action not in known:
            raise EvalError(f"unknown relabel action {action!r}")
        rules.append({"source_labels": list(rule.get("source_labels", [])), "separator": rule.get("separator", ";"),
                      "regex": compiled, "modulus": int(rule.get("modulus", 0)),
                      "target_label": rule.get("target_label", ""),
                      "replacement": rule.get("replacement", "$1"), "action": action})
    return rules


def expand(template, match):
    """`$1`, `${1}`, `$name` of a relabel replacement, from the regex match."""
    def repl(m):
        group = m.group(1) or m.group(2)
        try:
            value = match.group(int(group)) if group.isdigit() else match.group(group)
        except (IndexError, re.error):
            return ""
        return value or ""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, template)


def relabel(labels, rules):
    """The labels after the rules, or None when a rule drops the target."""
    labels = dict(labels)
    for r in rules:
        value = r["separator"].join(labels.get(s, "") for s in r["source_labels"])
        action = r["action"]
        if action == "replace":
            m = r["regex"].match(value)
            if not m:
                continue
            target = expand(r["target_label"], m)
            result = expand(r["replacement"], m)
            if not target:
                continue
            if result:
                labels[target] = result
            else:
                labels.pop(target, None)
        elif action == "keep":
            if not r["regex"].match(value):
                return None
        elif action == "drop":
            if r["regex"].match(value):
                return None
        elif action == "keepequal":
            if value != labels.get(r["target_label"], ""):
                return None
        elif action == "dropequal":
            if value == labels.get(r["target_label"], ""):
                return None
        elif action == "hashmod":
            if r["modulus"]:
                h = int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big")
                labels[r["target_label"]] = str(h % r["modulus"])
        elif action == "labelmap":
            for name, v in list(labels.items()):
                m = r["regex"].match(name)
                if m:
                    labels[expand(r["replacement"], m)] = v
        elif action == "labeldrop":
            labels = {k: v for k, v in labels.items() if not r["regex"].match(k)}
        elif action == "labelkeep":
            labels = {k: v for k, v in labels.items() if r["regex"].match(k)}
        elif action in ("lowercase", "uppercase"):
            labels[r["target_label"]] = value.lower() if action == "lowercase" else value.upper()
    return labels


# ---------------------------------------------------------------- components

class Component:
    """A running component: its arguments are evaluated again at every use, so the
    exports of the components it references are always the current ones."""
    ATTRS = set()
    BLOCKS = set()
    REQUIRED = set()

    def __init__(self, cid, body, runtime):
        self.id = cid
        self.runtime = runtime
        self.attrs = {}
        self.blocks = {}
        for item in body:
            if item[0] == "attr":
                if item[1] not in self.ATTRS:
                    raise ConfigError(f'{item[3]}: unrecognized attribute name "{item[1]}"')
                if item[1] in self.attrs:
                    raise ConfigError(f'{item[3]}: attribute "{item[1]}" may only be set once')
                self.attrs[item[1]] = item[2]
            else:
                if item[1] not in self.BLOCKS:
                    raise ConfigError(f'{item[4]}: unrecognized block name "{item[1]}"')
                self.blocks.setdefault(item[1], []).append(item[3])
        missing = self.REQUIRED - set(self.attrs)
        if missing:
            raise ConfigError(f'{runtime.path}: {cid}: missing required attribute "{sorted(missing)[0]}"')
        self.health = "healthy"
        self.message = "started component"

    def arg(self, name, default=None):
        node = self.attrs.get(name)
        return default if node is None else evaluate(node, self.runtime.resolve)

    def block_args(self, block_body):
        out = {}
        for item in block_body:
            if item[0] == "attr":
                out[item[1]] = evaluate(item[2], self.runtime.resolve)
            else:
                out.setdefault(item[1], []).append(self.block_args(item[3]))
        return out

    def exports(self):
        return {}

    def start(self):
        pass

    def set_health(self, ok, message):
        if ok != (self.health == "healthy") or message != self.message:
            if not ok:
                log("error", message, component_path="/", component_id=self.id)
        self.health, self.message = ("healthy" if ok else "unhealthy"), message

    def loop(self, interval, fn):
        def run():
            while not self.runtime.stopping.is_set():
                try:
                    fn()
                    self.set_health(True, "ok")
                except Exception as e:  # noqa: BLE001 - a component reports, it never dies
                    self.set_health(False, f"{type(e).__name__}: {e}")
                self.runtime.stopping.wait(interval())
        threading.Thread(target=run, name=self.id, daemon=True).start()


class DiscoveryDocker(Component):
    ATTRS = {"host", "port", "refresh_interval", "host_networking_host", "match_first_network"}
    BLOCKS = {"filter", "basic_auth", "tls_config"}
    REQUIRED = {"host"}

    def __init__(self, *a):
        super().__init__(*a)
        self.targets = []

    def exports(self):
        return {"targets": self.targets}

    def refresh(self):
        host = self.arg("host")
        port = int(self.arg("port", 80))
        filters = {}
        for f in self.blocks.get("filter", []):
            args = self.block_args(f)
            filters.setdefault(args["name"], []).extend(args.get("values", []))
        query = "/containers/json"
        if filters:
            query += "?filters=" + urllib.parse.quote(json.dumps(filters))
        targets = []
        for c in docker_json(host, query):
            base = {"__meta_docker_container_id": c["Id"],
                    "__meta_docker_container_name": (c.get("Names") or ["/"])[0],
                    "__meta_docker_container_network_mode": (c.get("HostConfig") or {}).get("NetworkMode", "")}
            for k, v in (c.get("Labels") or {}).items():
                base["__meta_docker_container_label_" + sanitize(k)] = v
            networks = ((c.get("NetworkSettings") or {}).get("Networks") or {})
            ports = [p for p in (c.get("Ports") or []) if p.get("PrivatePort")]
            for net_name, net in (networks.items() or [("", {})]):
                ip = net.get("IPAddress", "")
                net_labels = dict(base, __meta_docker_network_id=net.get("NetworkID", ""),
                                  __meta_docker_network_name=net_name, __meta_docker_network_ip=ip)
                if ports:
                    for p in ports:
                        t = dict(net_labels, __address__=f"{ip}:{p['PrivatePort']}",
                                 __meta_docker_port_private=str(p["PrivatePort"]))
                        if p.get("PublicPort"):
                            t["__meta_docker_port_public"] = str(p["PublicPort"])
                            t["__meta_docker_port_public_ip"] = p.get("IP", "")
                        targets.append(t)
                else:
                    targets.append(dict(net_labels, __address__=f"{ip}:{port}"))
        self.targets = targets

    def start(self):
        self.loop(lambda: seconds(self.arg("refresh_interval", "1m"), "refresh_interval"), self.refresh)


class DiscoveryRelabel(Component):
    ATTRS = {"targets"}
    BLOCKS = {"rule"}
    REQUIRED = {"targets"}

    def rules(self):
        return compile_rules([self.block_args(b) for b in self.blocks.get("rule", [])])

    def exports(self):
        rules = self.rules()
        out = []
        for t in self.arg("targets") or []:
            r = relabel(t, rules)
            if r is not None:
                out.append(r)
        return {"output": out, "rules": rules}


class LokiWrite(Component):
    ATTRS = {"external_labels", "max_streams"}
    BLOCKS = {"endpoint", "wal"}

    def __init__(self, *a):
        super().__init__(*a)
        if not self.blocks.get("endpoint"):
            log("warn", "no endpoint block: entries are dropped", component_id=self.id)
        self.queue = []
        self.lock = threading.Lock()
        self.receiver = {"__receiver__": "loki", "id": self.id, "send": self.enqueue}

    def exports(self):
        return {"receiver": self.receiver}

    def enqueue(self, labels, ts_ns, line):
        with self.lock:
            self.queue.append((labels, ts_ns, line))

    def flush(self):
        with self.lock:
            batch, self.queue = self.queue, []
        if not batch:
            return
        external = self.arg("external_labels", {}) or {}
        streams = {}
        for labels, ts, line in batch:
            final = dict(labels, **external)
            if not final:
                continue
            key = tuple(sorted(final.items()))
            streams.setdefault(key, []).append([str(ts), line])
        body = json.dumps({"streams": [{"stream": dict(k), "values": v} for k, v in streams.items()]}).encode()
        for ep in self.blocks.get("endpoint", []):
            args = self.block_args(ep)
            headers = {"Content-Type": "application/json", "User-Agent": f"Alloy/{VERSION}"}
            headers.update(args.get("headers", {}) or {})
            if args.get("tenant_id"):
                headers["X-Scope-OrgID"] = args["tenant_id"]
            for ba in args.get("basic_auth", []):
                pair = f"{ba.get('username', '')}:{ba.get('password', '')}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            delay = 0.5
            for attempt in range(10):
                try:
                    req = urllib.request.Request(args["url"], data=body, headers=headers, method="POST")
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        resp.read()
                    break
                except urllib.error.HTTPError as e:
                    text = e.read()[:300].decode("utf-8", "replace")
                    if e.code < 500 and e.code != 429:
                        log("error", "final error sending batch", component_id=self.id, status=e.code, error=text)
                        break
                    log("warn", "error sending batch, will retry", component_id=self.id, status=e.code, error=text)
                except OSError as e:
                    log("warn", "error sending batch, will retry", component_id=self.id, status=-1, error=str(e))
                if self.runtime.stopping.wait(delay):
                    return
                delay = min(delay * 2, 5)
            else:
                log("error", "final error sending batch: too many retries", component_id=self.id)

    def start(self):
        self.loop(lambda: 1.0, self.flush)


class LokiSourceDocker(Component):
    ATTRS = {"host", "targets", "forward_to", "labels", "relabel_rules", "refresh_interval"}
    BLOCKS = {"client"}
    REQUIRED = {"host", "targets", "forward_to"}

    def __init__(self, *a):
        super().__init__(*a)
        self.positions_file = os.path.join(self.runtime.storage, self.id, "positions.json")
        self.positions = {}
        try:
            with open(self.positions_file, encoding="utf-8") as f:
                self.positions = json.load(f)
        except (OSError, ValueError):
            pass
        self.tty = {}
        self.last_save = 0

    def poll(self):
        host = self.arg("host")
        rules = self.arg("relabel_rules") or []
        static = self.arg("labels", {}) or {}
        receivers = [r for r in self.arg("forward_to") or [] if isinstance(r, dict) and r.get("__receiver__") == "loki"]
        seen = set()
        for target in self.arg("targets") or []:
            cid = target.get("__meta_docker_container_id")
            if not cid or cid in seen:
                continue
            seen.add(cid)
            labels_by_stream = {}
            for stream in ("stdout", "stderr"):
                labels = relabel(dict(target, __meta_docker_container_log_stream=stream), rules)
                if labels is not None:
                    labels = {k: v for k, v in labels.items() if not k.startswith("__")}
                    labels_by_stream[stream] = dict(labels, **static)
            if not labels_by_stream:
                continue
            if cid not in self.tty:
                self.tty[cid] = bool(docker_json(host, f"/containers/{cid}/json").get("Config", {}).get("Tty"))
            pos = self.positions.get(cid, {"ts": 0, "seen": []})
            since = pos["ts"] // 10**9
            status, body = docker_get(host, f"/containers/{cid}/logs?stdout=1&stderr=1&timestamps=1&since={since}")
            if status != 200:
                continue
            last_ts, last_seen = pos["ts"], set(pos["seen"])
            for stream, chunk in demux(body, self.tty[cid]):
                for raw in chunk.splitlines():
                    stamp, _, line = raw.partition(" ")
                    ts = parse_rfc3339_ns(stamp)
                    if ts is None:
                        continue
                    digest = hashlib.sha1(raw.encode()).hexdigest()[:16]
                    if ts < pos["ts"] or (ts == pos["ts"] and digest in pos["seen"]):
                        continue
                    if ts > last_ts:
                        last_ts, last_seen = ts, set()
                    last_seen.add(digest)
                    if stream in labels_by_stream:
                        for r in receivers:
                            r["send"](labels_by_stream[stream], ts, line)
            self.positions[cid] = {"ts": last_ts, "seen": sorted(last_seen)}
        for gone in set(self.positions) - seen:
            self.positions.pop(gone, None)
        if time.monotonic() - self.last_save > 10:
            os.makedirs(os.path.dirname(self.positions_file), exist_ok=True)
            with open(self.positions_file + ".tmp", "w", encoding="utf-8") as f:
                json.dump(self.positions, f)
            os.replace(self.positions_file + ".tmp", self.positions_file)
            self.last_save = time.monotonic()

    def start(self):
        self.loop(lambda: 1.0, self.poll)


def parse_rfc3339_ns(stamp):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if not m:
        return None
    dt = datetime.datetime.fromisoformat(m.group(1) + (m.group(3).replace("Z", "+00:00")))
    return int(dt.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0")[:9])


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?\s*$')
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_exposition(text):
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise ValueError(f"invalid exposition line: {line[:80]!r}")
        labels = {"__name__": m.group(1)}
        body = m.group(3) or ""
        pos = 0
        while pos < len(body):
            lm = LABEL_RE.match(body, pos)
            if not lm:
                raise ValueError(f"invalid labels in: {line[:80]!r}")
            labels[lm.group(1)] = lm.group(2).encode().decode("unicode_escape")
            pos = lm.end()
        value = float(m.group(4).replace("+Inf", "inf").replace("-Inf", "-inf"))
        samples.append((labels, value, int(m.group(5)) if m.group(5) else None))
    return samples


class PrometheusScrape(Component):
    ATTRS = {"targets", "forward_to", "job_name", "scrape_interval", "scrape_timeout", "metrics_path",
             "scheme", "params", "honor_labels", "honor_timestamps", "extra_metrics", "enable_protobuf_negotiation",
             "scrape_classic_histograms", "sample_limit", "bearer_token"}
    BLOCKS = {"basic_auth", "tls_config", "clustering", "authorization"}
    REQUIRED = {"targets", "forward_to"}

    def scrape(self):
        job = self.arg("job_name", self.id)
        path = self.arg("metrics_path", "/metrics")
        scheme = self.arg("scheme", "http")
        timeout = seconds(self.arg("scrape_timeout", "10s"), "scrape_timeout")
        honor = bool(self.arg("honor_labels", False))
        receivers = [r for r in self.arg("forward_to") or [] if isinstance(r, dict) and r.get("__receiver__") == "prom"]
        out = []
        for target in self.arg("targets") or []:
            address = target.get("__address__")
            if not address:
                continue
            t_labels = {k: v for k, v in target.items() if not k.startswith("__")}
            t_labels.setdefault("job", job)
            t_labels.setdefault("instance", address)
            now_ms = int(time.time() * 1000)
            t0 = time.monotonic()
            url = f"{target.get('__scheme__', scheme)}://{address}{target.get('__metrics_path__', path)}"
            up, samples = 1, []
            try:
                headers = {"Accept": "text/plain;version=0.0.4", "User-Agent": f"Alloy/{VERSION}"}
                token = self.arg("bearer_token")
                if token:
                    headers["Authorization"] = "Bearer " + token
                req = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    samples = parse_exposition(resp.read().decode("utf-8", "replace"))
            except (OSError, ValueError) as e:
                up = 0
                log("warn", "scrape failed", component_id=self.id, target=url, err=str(e))
            for labels, value, ts in samples:
                final = dict(labels)
                for k, v in t_labels.items():
                    if k in final and not honor:
                        final["exported_" + k] = final[k]
                        final[k] = v
                    elif k not in final:
                        final[k] = v
                out.append((final, value, ts if ts is not None else now_ms))
            for name, value in (("up", up), ("scrape_duration_seconds", time.monotonic() - t0),
                                ("scrape_samples_scraped", len(samples))):
                out.append((dict(t_labels, __name__=name), float(value), now_ms))
        for r in receivers:
            r["send"](out)

    def start(self):
        self.loop(lambda: seconds(self.arg("scrape_interval", "1m"), "scrape_interval"), self.scrape)


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes(field, data):
    return varint(field << 3 | 2) + varint(len(data)) + data


def write_request(samples):
    """Prometheus remote-write WriteRequest: repeated TimeSeries{Label labels=1; Sample samples=2}."""
    series = {}
    for labels, value, ts in samples:
        series.setdefault(tuple(sorted(labels.items())), []).append((value, ts))
    out = bytearray()
    for labels, points in series.items():
        ts_msg = bytearray()
        for name, value in labels:
            ts_msg += pb_bytes(1, pb_bytes(1, name.encode()) + pb_bytes(2, str(value).encode()))
        for value, ts in sorted(points, key=lambda p: p[1]):
            sample = b"\x09" + struct.pack("<d", value) + varint(2 << 3 | 0) + varint(ts)
            ts_msg += pb_bytes(2, sample)
        out += pb_bytes(1, bytes(ts_msg))
    return bytes(out)


def snappy_literal(data):
    """A valid snappy block made of literals only (no compression, every decoder reads it)."""
    out = bytearray(varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


class PrometheusRemoteWrite(Component):
    ATTRS = {"external_labels"}
    BLOCKS = {"endpoint", "wal"}

    def __init__(self, *a):
        super().__init__(*a)
        self.queue = []
        self.lock = threading.Lock()
        self.receiver = {"__receiver__": "prom", "id": self.id, "send": self.enqueue}

    def exports(self):
        return {"receiver": self.receiver}

    def enqueue(self, samples):
        with self.lock:
            self.queue.extend(samples)

    def flush(self):
        with self.lock:
            batch, self.queue = self.queue, []
        if not batch:
            return
        external = self.arg("external_labels", {}) or {}
        batch = [(dict(labels, **{k: v for k, v in external.items() if k not in labels}), v, ts)
                 for labels, v, ts in batch]
        body = snappy_literal(write_request(batch))
        for ep in self.blocks.get("endpoint", []):
            args = self.block_args(ep)
            headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                       "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": f"Alloy/{VERSION}"}
            headers.update(args.get("headers", {}) or {})
            if args.get("bearer_token"):
                headers["Authorization"] = "Bearer " + args["bearer_token"]
            try:
                req = urllib.request.Request(args["url"], data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=30) as resp:
                    resp.read()
            except urllib.error.HTTPError as e:
                raise OSError(f"server returned HTTP status {e.code}: {e.read()[:200]!r}") from None

    def start(self):
        self.loop(lambda: 5.0, self.flush)


COMPONENTS = {
    "discovery.docker": DiscoveryDocker,
    "discovery.relabel": DiscoveryRelabel,
    "loki.source.docker": LokiSourceDocker,
    "loki.write": LokiWrite,
    "prometheus.scrape": PrometheusScrape,
    "prometheus.remote_write": PrometheusRemoteWrite,
}
CONFIG_BLOCKS = {"logging", "livedebugging", "tracing", "http"}


# ---------------------------------------------------------------- runtime

class Runtime:
    def __init__(self, path, storage):
        self.path = path
        self.storage = storage
        self.components = {}
        self.stopping = threading.Event()
        self.ready = False

    def load(self, text):
        items = Parser(text, self.path).body("")
        global _level
        for item in items:
            if item[0] == "attr":
                raise ConfigError(f"{item[3]}: unexpected attribute {item[1]!r} at the top level")
            _kind, name, label, body, pos = item
            if name in CONFIG_BLOCKS:
                if label is not None:
                    raise ConfigError(f"{pos}: block {name} does not support specifying labels")
                if name == "logging":
                    for attr in body:
                        if attr[0] == "attr" and attr[1] == "level":
                            _level = LEVELS.get(evaluate(attr[2], self.resolve), 1)
                continue
            cls = COMPONENTS.get(name)
            if cls is None:
                log("warn", "the vpai-test stand-in does not know this block: skipped", block=name,
                    label=label or "", at=pos)
                continue
            if label is None:
                raise ConfigError(f"{pos}: component {name} must have a label")
            cid = f"{name}.{label}"
            if cid in self.components:
                raise ConfigError(f"{pos}: block {cid} already declared")
            self.components[cid] = cls(cid, body, self)

    def resolve(self, parts, pos):
        for n in range(len(parts), 0, -1):
            cid = ".".join(parts[:n])
            if cid in self.components:
                value = self.components[cid].exports()
                for p in parts[n:]:
                    if not isinstance(value, dict) or p not in value:
                        raise EvalError(f"{pos}: {cid} has no export {'.'.join(parts[n:])}")
                    value = value[p]
                return value
        if parts[0] == "constants":
            consts = {"hostname": socket.gethostname(), "os": "linux", "arch": "amd64"}
            if len(parts) == 2 and parts[1] in consts:
                return consts[parts[1]]
        raise EvalError(f"{pos}: component {'.'.join(parts)} does not exist or is out of scope")

    def start(self):
        for c in self.components.values():
            c.start()
            log("info", "started component", component_path="/", component_id=c.id)
        self.ready = True

    def unhealthy(self):
        return [(c.id, c.message) for c in self.components.values() if c.health != "healthy"]


def make_handler(rt):
    class Handler(BaseHTTPRequestHandler):
        server_version = "alloy"
        sys_version = ""

        def log_message(self, fmt, *args):
            pass

        def send(self, code, text):
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/-/ready":
                return self.send(200, "Alloy is ready.\n") if rt.ready else self.send(503, "Alloy is not ready.\n")
            if path == "/-/healthy":
                bad = rt.unhealthy()
                if not bad:
                    return self.send(200, "All Alloy components are healthy.\n")
                return self.send(500, "unhealthy components: " + ", ".join(f"{i} ({m})" for i, m in bad) + "\n")
            if path == "/metrics":
                return self.send(200, f'alloy_build_info{{version="{VERSION}"}} 1\n'
                                      f"alloy_component_controller_running_components {len(rt.components)}\n")
            if path == "/api/v0/web/components":
                return self.send(200, json.dumps([{"id": c.id, "health": {"state": c.health, "message": c.message}}
                                                  for c in rt.components.values()]))
            return self.send(404, "404 page not found\n")

    return Handler


FLAGS = {"server.http.listen-addr", "storage.path", "stability.level", "disable-reporting", "config.format",
         "config.extra-args", "server.http.ui-path-prefix", "feature.community-components.enabled",
         "server.http.memory-addr", "cluster.enabled"}


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("Usage: alloy [command]\n\nAvailable Commands:\n  run   Run Grafana Alloy (vpai-test stand-in)")
        return 0
    if argv[0] in ("--version", "-v", "version"):
        print(f"alloy, version {VERSION} (branch: HEAD, revision: vpai-test-stand-in)")
        return 0
    if argv[0] != "run":
        print(f'Error: unknown command "{argv[0]}" for "alloy"', file=sys.stderr)
        return 1
    opts = {"server.http.listen-addr": "127.0.0.1:12345", "storage.path": "data-alloy/"}
    positional = []
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if name not in FLAGS:
                print(f"Error: unknown flag: --{name}", file=sys.stderr)
                return 1
            if not eq:
                value = "true" if name in ("disable-reporting", "cluster.enabled") else (args.pop(0) if args else "")
            opts[name] = value
        else:
            positional.append(a)
    if len(positional) != 1:
        print(f"Error: accepts 1 arg(s), received {len(positional)}", file=sys.stderr)
        return 1
    path = positional[0]
    log("info", "starting Alloy", version=VERSION, stand_in="vpai-test")
    storage = opts["storage.path"]
    try:
        os.makedirs(storage, exist_ok=True)
    except OSError as e:
        print(f"Error: failed to create storage path {storage}: {e.strerror.lower()}", file=sys.stderr)
        return 1
    rt = Runtime(path, storage)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        rt.load(text)
    except OSError as e:
        print(f"Error: reading config path {path!r}: open {path}: {e.strerror.lower()}", file=sys.stderr)
        return 1
    except ConfigError as e:
        log("error", "failed to evaluate config", err=str(e))
        print(f"Error: {e}\nError: could not perform the initial load successfully", file=sys.stderr)
        return 1
    host, _, port = opts["server.http.listen-addr"].rpartition(":")
    try:
        server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), make_handler(rt))
    except OSError as e:
        print(f"Error: failed to listen on {opts['server.http.listen-addr']}: {e.strerror}", file=sys.stderr)
        return 1
    server.daemon_threads = True
    rt.start()
    log("info", "now listening for http traffic", service="http", addr=opts["server.http.listen-addr"])

    def stop(signum, _frame):
        log("info", "terminating due to signal", signal=signal.Signals(signum).name)
        rt.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
