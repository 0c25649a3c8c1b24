#!/usr/bin/env python3
"""cAdvisor STAND-IN for vpai's tests (cAdvisor is in no registry this project can reach).

It keeps the outside contract of the official cAdvisor 0.55.1 image that vpai relies on:
  * `/usr/bin/cadvisor -logtostderr [flags]` with Go flag syntax (-x=v or --x=v); an
    unknown flag stops it ("flag provided but not defined"); the flags it honours:
    --port, --listen_ip, --docker_only, --housekeeping_interval, --disable_metrics (the
    names are checked like cAdvisor checks them), --store_container_labels,
    --whitelisted_container_labels / --allowlisted_container_labels, --docker;
  * like cAdvisor, it reads each container's usage from the cgroup files of the host
    under /sys/fs/cgroup (cgroup v1: memory.usage_in_bytes, cpuacct.usage; cgroup v2:
    memory.current, cpu.stat) and asks Docker (through /var/run/docker.sock) only for
    names, images and labels. So per-container series need the host's /sys and
    /var/run mounted, /rootfs present, and, on a cgroup v2 host, the host cgroup
    namespace (`cgroup: host`): in a private namespace only the root cgroup id="/" is
    seen, which is what the real cAdvisor does too;
  * HTTP on 8080: /healthz ("ok") and /metrics in the Prometheus text format with
    container_last_seen, container_memory_usage_bytes, container_memory_working_set_bytes,
    container_cpu_usage_seconds_total, container_spec_memory_limit_bytes,
    container_start_time_seconds, machine_memory_bytes, cadvisor_version_info; container
    series are labelled id, name, image and container_label_* (unless
    --store_container_labels=false).
Python standard library only.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "0.55.1"
METRIC_KINDS = {"accelerator", "advtcp", "app", "cpu", "cpuLoad", "cpu_topology", "cpuset", "disk", "diskIO",
                "hugetlb", "memory", "memory_numa", "network", "oom_event", "percpu", "perf_event", "pressure",
                "process", "referenced_memory", "resctrl", "sched", "tcp", "udp"}
FLAGS = {"port": "8080", "listen_ip": "", "docker_only": "false", "housekeeping_interval": "1s",
         "disable_metrics": "", "enable_metrics": "", "store_container_labels": "true",
         "whitelisted_container_labels": "", "allowlisted_container_labels": "",
         "docker": "unix:///var/run/docker.sock", "logtostderr": "true", "v": "0", "raw_cgroup_prefix_whitelist": "",
         "max_housekeeping_interval": "60s", "global_housekeeping_interval": "1m", "storage_duration": "2m",
         "enable_load_reader": "false", "disable_root_cgroup_stats": "false", "url_base_prefix": "",
         "prometheus_endpoint": "/metrics", "profiling": "false", "docker_env_metadata_whitelist": ""}
BOOL_FLAGS = {"docker_only", "store_container_labels", "logtostderr", "enable_load_reader",
              "disable_root_cgroup_stats", "profiling"}


def glog(level, msg):
    now = datetime.datetime.now()
    sys.stderr.write(f"{level}{now:%m%d %H:%M:%S.%f} {os.getpid():7d} cadvisor.py] {msg}\n")
    sys.stderr.flush()


def parse_flags(argv):
    opts = dict(FLAGS)
    for a in argv:
        if not a.startswith("-"):
            continue
        name, eq, value = a.lstrip("-").partition("=")
        if name not in FLAGS:
            sys.stderr.write(f"flag provided but not defined: -{name}\nUsage of /usr/bin/cadvisor:\n")
            sys.exit(2)
        opts[name] = value if eq else "true"
        if name in BOOL_FLAGS and opts[name] not in ("true", "false", "1", "0"):
            sys.stderr.write(f'invalid boolean value "{value}" for -{name}: parse error\n')
            sys.exit(2)
    for kind in filter(None, opts["disable_metrics"].split(",")):
        if kind not in METRIC_KINDS:
            sys.stderr.write(f'invalid value "{opts["disable_metrics"]}" for flag -disable_metrics: '
                             f"unsupported metric {kind!r} specified in disable_metrics\n")
            sys.exit(2)
    return opts


# ---------------------------------------------------------------- Docker and cgroups

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def docker(endpoint, path):
    conn = UnixHTTPConnection(endpoint.removeprefix("unix://"))
    try:
        conn.request("GET", path, headers={"Host": "docker"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise OSError(f"Docker API {path}: HTTP {resp.status}")
        return json.loads(body)
    finally:
        conn.close()


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(" ")
                if v.strip().isdigit():
                    out[k] = int(v)
    except OSError:
        pass
    return out


class Cgroups:
    """Where a container's cgroup is, and its usage, for cgroup v1 and v2 hosts."""
    ROOT = "/sys/fs/cgroup"

    def __init__(self):
        self.v2 = os.path.exists(os.path.join(self.ROOT, "cgroup.controllers"))

    def find(self, cid):
        candidates = ([f"system.slice/docker-{cid}.scope", f"docker/{cid}"] if self.v2 else
                      [f"docker/{cid}", f"system.slice/docker-{cid}.scope"])
        probe = self.ROOT if self.v2 else os.path.join(self.ROOT, "memory")
        for rel in candidates:
            if os.path.isdir(os.path.join(probe, rel)):
                return "/" + rel
        return None

    def usage(self, rel):
        if self.v2:
            d = self.ROOT + rel
            mem = read_int(d + "/memory.current")
            stat = read_kv(d + "/memory.stat")
            cpu = read_kv(d + "/cpu.stat").get("usage_usec")
            limit_raw = None
            try:
                with open(d + "/memory.max") as f:
                    limit_raw = f.read().strip()
            except OSError:
                pass
            limit = int(limit_raw) if limit_raw and limit_raw.isdigit() else 0
            inactive = stat.get("inactive_file", 0)
            return {"mem": mem, "ws": None if mem is None else max(mem - inactive, 0),
                    "cpu": None if cpu is None else cpu / 1e6, "limit": limit}
        mem = read_int(f"{self.ROOT}/memory{rel}/memory.usage_in_bytes")
        stat = read_kv(f"{self.ROOT}/memory{rel}/memory.stat")
        cpu = read_int(f"{self.ROOT}/cpuacct{rel}/cpuacct.usage")
        limit = read_int(f"{self.ROOT}/memory{rel}/memory.limit_in_bytes") or 0
        inactive = stat.get("total_inactive_file", 0)
        return {"mem": mem, "ws": None if mem is None else max(mem - inactive, 0),
                "cpu": None if cpu is None else cpu / 1e9, "limit": 0 if limit >= 2**62 else limit}

    def root_usage(self):
        return self.usage("" if self.v2 else "")


def machine_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- metrics

def esc(v):
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def fmt_labels(labels):
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items())) + "}"


class Collector:
    def __init__(self, opts):
        self.opts = opts
        self.cg = Cgroups()
        self.lock = threading.Lock()
        self.text = ""
        self.docker_ok = None
        self.warned = set()
        keep = opts["allowlisted_container_labels"] or opts["whitelisted_container_labels"]
        self.label_allow = set(filter(None, keep.split(",")))
        self.store_labels = opts["store_container_labels"] in ("true", "1")

    def warn_once(self, key, msg):
        if key not in self.warned:
            self.warned.add(key)
            glog("W", msg)

    def collect(self):
        now = time.time()
        lines = [
            "# HELP cadvisor_version_info A metric with a constant '1' value labeled by kernel version, OS version, docker version, cadvisor version & cadvisor revision.",
            "# TYPE cadvisor_version_info gauge",
            f'cadvisor_version_info{{cadvisorRevision="vpai-test-stand-in",cadvisorVersion="{VERSION}",'
            f'dockerVersion="",kernelVersion="{os.uname().release}",osVersion="vpai-test"}} 1',
            "# HELP machine_memory_bytes Amount of memory installed on the machine.",
            "# TYPE machine_memory_bytes gauge",
            f"machine_memory_bytes {machine_memory()}",
        ]
        series = []  # (labels, usage, start)
        if self.opts["docker_only"] not in ("true", "1"):
            series.append(({"id": "/", "name": "", "image": ""}, self.cg.root_usage(), None))
        containers = []
        try:
            containers = docker(self.opts["docker"], "/containers/json")
            if self.docker_ok is not True:
                glog("I", "Registration of the docker container factory succeeded")
            self.docker_ok = True
        except OSError as e:
            if self.docker_ok is not False:
                glog("W", f"Registration of the docker container factory failed: {e}")
            self.docker_ok = False
        if not os.path.isdir("/rootfs"):
            self.warn_once("rootfs", "/rootfs is not mounted: only the root cgroup is watched (mount / at /rootfs)")
            containers = []
        for c in containers:
            rel = self.cg.find(c["Id"])
            if rel is None:
                self.warn_once("cgns", "container cgroups are not visible under /sys/fs/cgroup (private cgroup "
                                       "namespace on a cgroup v2 host? run with `cgroup: host`): only id=\"/\" is watched")
                continue
            labels = {"id": rel, "name": (c.get("Names") or ["/"])[0].lstrip("/"), "image": c.get("Image", "")}
            if self.store_labels or self.label_allow:
                for k, v in (c.get("Labels") or {}).items():
                    if self.store_labels or k in self.label_allow:
                        labels["container_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)] = v
            series.append((labels, self.cg.usage(rel), c.get("Created")))
        disabled = set(filter(None, self.opts["disable_metrics"].split(",")))
        families = [("container_last_seen", "gauge", "Last time a container was seen by the exporter",
                     lambda u, s: now),
                    ("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds.",
                     lambda u, s: s)]
        if "cpu" not in disabled:
            families.append(("container_cpu_usage_seconds_total", "counter",
                             "Cumulative cpu time consumed in seconds.", lambda u, s: u["cpu"]))
        if "memory" not in disabled:
            families += [("container_memory_usage_bytes", "gauge",
                          "Current memory usage in bytes, including all memory regardless of when it was accessed",
                          lambda u, s: u["mem"]),
                         ("container_memory_working_set_bytes", "gauge", "Current working set in bytes.",
                          lambda u, s: u["ws"]),
                         ("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.",
                          lambda u, s: u["limit"])]
        for name, kind, help_text, value in families:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for labels, usage, start in series:
                v = value(usage, start)
                if v is None:
                    continue
                extra = {"cpu": "total"} if name == "container_cpu_usage_seconds_total" else {}
                lines.append(f"{name}{fmt_labels(dict(labels, **extra))} {v} {int(now * 1000)}"
                             if name != "container_last_seen" else f"{name}{fmt_labels(labels)} {v}")
        with self.lock:
            self.text = "\n".join(lines) + "\n"

    def run(self, stop):
        interval = parse_duration(self.opts["housekeeping_interval"])
        while not stop.is_set():
            try:
                self.collect()
            except Exception as e:  # noqa: BLE001 - housekeeping never stops
                glog("E", f"housekeeping failed: {e}")
            stop.wait(max(interval, 1.0))


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not m:
        sys.stderr.write(f'invalid value "{text}" for flag -housekeeping_interval: parse error\n')
        sys.exit(2)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def make_handler(collector):
    class Handler(BaseHTTPRequestHandler):
        server_version = "cadvisor"
        sys_version = ""

        def log_message(self, fmt, *args):
            pass

        def send(self, code, text, ctype="text/plain; charset=utf-8"):
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/healthz":
                return self.send(200, "ok")
            if path == collector.opts["prometheus_endpoint"]:
                with collector.lock:
                    return self.send(200, collector.text, "text/plain; version=0.0.4; charset=utf-8")
            if path in ("/", "/containers/"):
                return self.send(200, "<html><body>cAdvisor (vpai-test stand-in)</body></html>", "text/html")
            return self.send(404, "404 page not found\n")

        do_HEAD = do_GET

    return Handler


def main(argv):
    if any(a.lstrip("-") == "version" for a in argv):
        print(f"cAdvisor version {VERSION} (vpai-test-stand-in)")
        return 0
    opts = parse_flags(argv)
    glog("I", f"cAdvisor version {VERSION} (vpai-test stand-in)")
    collector = Collector(opts)
    stop = threading.Event()
    collector.collect()
    threading.Thread(target=collector.run, args=(stop,), daemon=True).start()
    port = int(opts["port"])
    server = ThreadingHTTPServer((opts["listen_ip"] or "0.0.0.0", port), make_handler(collector))
    server.daemon_threads = True
    glog("I", f"Starting cAdvisor version: {VERSION} on port {port}")

    def on_signal(signum, _frame):
        glog("I", "Exiting given signal: " + signal.Signals(signum).name.lower())
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
