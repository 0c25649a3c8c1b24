#!/usr/bin/env python3
"""Precision of `vpai check` on real public stacks, next to its recall.

    bench/check/real-stacks.py CORPUS_DIR [--vpai PATH] [--json OUT]

CORPUS_DIR holds the public files listed in real-stacks.md, laid out as
`<owner>__<repo>/<path>` (they are other projects' files: not in this repository).
Every set of `real-stacks-sets.txt` is checked with `vpai check --format json SET`;
each finding is matched to its verdict in `real-stacks-judgments.tsv` by rule, path
and line:

- true: broken or insecure as written;
- context: depends on the host or the intent (a warning is right, an error is not);
- false: the file is fine as written.

A finding without a verdict is printed as `unjudged`: judge it and add a line to the
TSV, or the precision below is not a measure. Recall: of the findings judged true,
how many vpai still reports, plus the defects vpai once missed (`MISSED` below),
each a self-written repro under `tests/fixtures` that must fire.
"""

import argparse
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load_judgments(path):
    verdicts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 6:
                continue
            rule, _severity, file, line_no, _message, verdict = parts[:6]
            verdicts.setdefault((rule, file, int(line_no)), verdict)
    return verdicts


def run_set(vpai, corpus, set_path):
    proc = subprocess.run(
        [vpai, "check", "--format", "json", set_path],
        cwd=corpus,
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):
        sys.exit(f"vpai check {set_path} exited {proc.returncode}: {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    files = report.get("files_checked") or report.get("files") or 0
    return report.get("findings", []), files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--vpai", default=os.path.join(ROOT, "target", "release", "vpai"))
    ap.add_argument("--json", help="write the per-finding table here")
    args = ap.parse_args()
    args.vpai = os.path.abspath(args.vpai)

    corpus = os.path.abspath(args.corpus)
    sets = [
        s.strip()
        for s in open(os.path.join(HERE, "real-stacks-sets.txt"), encoding="utf-8")
        if s.strip() and not s.startswith("#")
    ]
    verdicts = load_judgments(os.path.join(HERE, "real-stacks-judgments.tsv"))

    counts = collections.Counter()
    per_rule = collections.defaultdict(collections.Counter)
    unjudged = []
    seen = set()
    rows = []
    files_checked = 0
    for s in sets:
        if not os.path.exists(os.path.join(corpus, s)):
            sys.exit(f"missing set `{s}` in {corpus}: assemble the corpus first (real-stacks.md)")
        findings, n = run_set(args.vpai, corpus, s)
        files_checked += n
        for f in findings:
            key = (f["rule"], f["path"], f["line"])
            verdict = verdicts.get(key, "unjudged")
            seen.add(key)
            counts[(f["severity"], verdict)] += 1
            per_rule[f["rule"]][(f["severity"], verdict)] += 1
            rows.append({"rule": f["rule"], "severity": f["severity"], "path": f["path"],
                         "line": f["line"], "verdict": verdict, "message": f["message"]})
            if verdict == "unjudged":
                unjudged.append(f"{f['rule']}\t{f['severity']}\t{f['path']}\t{f['line']}\t{f['message']}")

    true_known = {k for k, v in verdicts.items() if v == "true"}
    still_found = true_known & seen
    lost = sorted(true_known - seen)

    def row(sev):
        total = sum(v for (s, _), v in counts.items() if s == sev)
        parts = [f"{counts[(sev, v)]} {v}" for v in ("true", "context", "false", "unjudged")]
        return total, ", ".join(parts)

    print(f"sets: {len(sets)}, files checked: {files_checked}")
    for sev in ("error", "warning"):
        total, parts = row(sev)
        print(f"{sev}s: {total} ({parts})")
    errors = sum(v for (s, _), v in counts.items() if s == "error")
    false_errors = counts[("error", "false")]
    if files_checked:
        print(f"errors per file: {errors / files_checked:.2f}; false errors per file: "
              f"{false_errors / files_checked:.3f}")
    if errors:
        print(f"errors that are true: {counts[('error', 'true')] / errors:.0%}; "
              f"true or context: {(counts[('error', 'true')] + counts[('error', 'context')]) / errors:.0%}")
    print(f"recall on the judged true findings: {len(still_found)}/{len(true_known)}")
    for key in lost:
        print(f"  no longer reported: {key[0]} {key[1]}:{key[2]}")
    print("errors by rule (true/context/false/unjudged):")
    for rule in sorted(per_rule):
        c = per_rule[rule]
        if any(s == "error" for (s, _) in c):
            print(f"  {rule}: " + "/".join(str(c[("error", v)]) for v in ("true", "context", "false", "unjudged")))
    if unjudged:
        print(f"unjudged findings ({len(unjudged)}): add a verdict to real-stacks-judgments.tsv")
        for u in unjudged:
            print("  " + u)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
