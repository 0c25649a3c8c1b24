#!/usr/bin/env bash
# Benchmark: `vpai check` against dclint (Docker Compose linter) on a generated
# corpus of >= 200 compose files carrying the seeds' traps.
#
#   bench/check/run.sh [--files N] [--runs N]
#
# Prints which traps each tool finds (against the corpus' ground truth) and the
# time each takes over the whole corpus, and their ratio. Needs cargo, python3, node/npm;
# installs dclint (npm) and hyperfine (Debian) when missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/out"
files=240
runs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "usage: $0 [--files N] [--runs N]" >&2; exit 2 ;;
  esac
done

if ! command -v dclint >/dev/null; then
  echo "==> installing dclint from npm" >&2
  npm install -g dclint >/dev/null
fi
if ! command -v hyperfine >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing hyperfine from Debian" >&2
  (apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hyperfine; }) >/dev/null 2>&1 || true
fi

echo "==> building vpai (release)" >&2
target="${CARGO_TARGET_DIR:-$root/target}"
if (cd "$root" && cargo build --release -q -p vpai); then
  check="$target/release/vpai check"
else
  # The same library call without the rest of the CLI (see crates/vpai-check/examples).
  echo "==> vpai does not build; using the vpai-check example binary" >&2
  (cd "$root" && cargo build --release -q -p vpai-check --example check)
  check="$target/release/examples/check"
fi

rm -rf "$out"
mkdir -p "$out"
python3 "$here/gen_corpus.py" "$out" --files "$files" >&2

cd "$out"
# One run each for the findings (exit 1 = findings, not a failure).
$check --format json corpus > vpai.json || [ $? -eq 1 ]
dclint -r corpus -f json --color false > dclint.json 2>/dev/null || true

echo "==> timing (whole corpus, $runs runs each)" >&2
vpai_cmd="$check --format json corpus"
dclint_cmd="dclint -r corpus -f json --color false"
if command -v hyperfine >/dev/null; then
  hyperfine --style basic --warmup 2 --runs "$runs" -i \
    --export-json hyperfine.json \
    -n "vpai check" "$vpai_cmd" -n "dclint" "$dclint_cmd" >&2
else
  # Fallback: wall-clock means with date(1), written in hyperfine's JSON shape.
  python3 - "$runs" "$vpai_cmd" "$dclint_cmd" > hyperfine.json <<'PY'
import json, subprocess, sys, time, statistics
runs = int(sys.argv[1]); res = []
for name, cmd in (("vpai check", sys.argv[2]), ("dclint", sys.argv[3])):
    times = []
    for _ in range(runs):
        t = time.perf_counter(); subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); times.append(time.perf_counter() - t)
    res.append({"command": name, "mean": statistics.mean(times), "stddev": statistics.pstdev(times), "times": times})
print(json.dumps({"results": res}))
PY
fi

python3 "$here/score.py" "$out"
