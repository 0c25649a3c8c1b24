#!/usr/bin/env python3
"""Score `vpai check` and dclint against the corpus' ground truth.

A tool finds a trap in a host directory when it reports, on a file of that
directory, a finding of a rule that means that trap. For vpai the trap names are
its rule names; for dclint the mapping below lists every dclint rule that points
at the same problem (the rest of dclint's rules are style: key order, quotes).

Usage: score.py OUT_DIR  (reads manifest.json, vpai.json, dclint.json, hyperfine.json)
"""

import json
import os
import sys
from collections import Counter, defaultdict

DCLINT_RULES = {
    "image-unpinned": {"service-image-require-explicit-tag"},
    "database-port-published": {"no-unbound-port-interfaces"},
    "yaml-invalid-escape": {"invalid-yaml"},
    "non-utf8-bytes": {"invalid-yaml"},
    "crlf-line-endings": set(),
    "compose-files-share-project": {"require-project-name-field"},
    "local-image-without-pull-never": {"no-build-and-image"},
    "service-in-two-compose-files": {"no-duplicate-container-names"},
}


def host_of(path, corpus):
    rel = os.path.relpath(os.path.abspath(path), corpus)
    return rel.split(os.sep)[0]


def main():
    out = sys.argv[1]
    corpus = os.path.abspath(os.path.join(out, "corpus"))
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    vpai = json.load(open(os.path.join(out, "vpai.json")))
    dclint = json.load(open(os.path.join(out, "dclint.json")))

    vpai_by_host = defaultdict(set)
    for f in vpai["findings"]:
        path = f["path"] if os.path.isabs(f["path"]) else os.path.join(out, f["path"])
        vpai_by_host[host_of(path, corpus)].add(f["name"])
    dclint_by_host = defaultdict(set)
    dclint_total = 0
    dclint_rules = Counter()
    for entry in dclint:
        path = entry["filePath"] if os.path.isabs(entry["filePath"]) else os.path.join(out, entry["filePath"])
        host = host_of(path, corpus)
        for m in entry["messages"]:
            dclint_by_host[host].add(m["rule"])
            dclint_rules[m["rule"]] += 1
            dclint_total += 1

    traps = sorted({t for ts in manifest.values() for t in ts})
    rows = []
    tot = Counter()
    for t in traps:
        hosts = [h for h, ts in manifest.items() if t in ts]
        v = sum(1 for h in hosts if t in vpai_by_host[h])
        d = sum(1 for h in hosts if vpai_rules_hit(DCLINT_RULES.get(t, set()), dclint_by_host[h]))
        rows.append((t, len(hosts), v, d))
        tot["n"] += len(hosts)
        tot["v"] += v
        tot["d"] += d

    # vpai findings that are not the injected trap of their host (false positives)
    unexpected = Counter()
    for h, names in vpai_by_host.items():
        for n in names - set(manifest.get(h, [])):
            unexpected[n] += 1
    clean_hosts = [h for h, ts in manifest.items() if not ts]
    vpai_clean_flagged = sum(1 for h in clean_hosts if vpai_by_host[h])

    n_files = sum(len(files) for _, _, files in os.walk(corpus))
    print()
    print("corpus: %d compose files in %d host directories (%d with no trap)" % (n_files, len(manifest), len(clean_hosts)))
    print()
    print("%-40s %6s %12s %12s" % ("seed trap (vpai rule name)", "hosts", "vpai check", "dclint"))
    print("-" * 74)
    for t, n, v, d in rows:
        print("%-40s %6d %12s %12s" % (t, n, "%d/%d" % (v, n), "%d/%d" % (d, n)))
    print("-" * 74)
    print("%-40s %6d %12s %12s" % ("all traps", tot["n"], "%d/%d" % (tot["v"], tot["n"]), "%d/%d" % (tot["d"], tot["n"])))
    print()
    print("vpai findings outside the injected traps: %d (%s); clean hosts flagged: %d/%d"
          % (sum(unexpected.values()), ", ".join("%s x%d" % kv for kv in unexpected.most_common()) or "none",
             vpai_clean_flagged, len(clean_hosts)))
    print("dclint findings: %d in total, by rule: %s" % (dclint_total, ", ".join("%s x%d" % kv for kv in dclint_rules.most_common())))

    hf = os.path.join(out, "hyperfine.json")
    if os.path.exists(hf):
        results = json.load(open(hf))["results"]
        by = {r["command"]: r for r in results}
        v = next((r for c, r in by.items() if "vpai" in c), None)
        d = next((r for c, r in by.items() if "dclint" in c), None)
        if v is None or d is None:
            return
        print()
        print("time for the whole corpus (mean of %d runs):" % len(v["times"]))
        print("  vpai check: %8.1f ms  (± %.1f)" % (v["mean"] * 1000, v["stddev"] * 1000 if v.get("stddev") else 0))
        print("  dclint:     %8.1f ms  (± %.1f)" % (d["mean"] * 1000, d["stddev"] * 1000 if d.get("stddev") else 0))
        print("  ratio:      dclint takes %.1fx the wall time of vpai check" % (d["mean"] / v["mean"]))
        if v.get("user") and d.get("user"):
            print("              and %.1fx its CPU time (user: %.1f ms vs %.1f ms)"
                  % (d["user"] / v["user"], v["user"] * 1000, d["user"] * 1000))


def vpai_rules_hit(wanted, got):
    return bool(wanted & got)


if __name__ == "__main__":
    main()
