#!/usr/bin/env bash
# Render benchmark: vpai renders the full core stack vs the Ansible baseline rendering
# its 40 templates (tools/probe-render.yml, render only, nothing written), side by side
# in one hyperfine run on this machine, process start included. Prints the ratio.
#
#   bench/render/run.sh            # RUNS=10 by default
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
baseline="${BASELINE:-$repo/../shared/bench/ansible-baseline}"
work="${WORK:-/tmp/vpai-bench-render}"
runs="${RUNS:-10}"
ansible_version="${ANSIBLE_CORE_VERSION:-2.19.14}"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v age-keygen >/dev/null || need+=(age)
command -v rsync >/dev/null || need+=(rsync)
if ((${#need[@]})); then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; fi

# The baseline is read-only: work on a copy (without its venv and work tree).
mkdir -p "$work"
rsync -a --delete --exclude .venv --exclude work --exclude results --exclude .ansible "$baseline/" "$work/ansible/"
chmod -R u+w "$work/ansible"
if ! "$work/venv/bin/python" -c "import sys, ansible.release as r; sys.exit(r.__version__ != '$ansible_version')" 2>/dev/null; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q "ansible-core==$ansible_version"
fi

cargo build --release -q -p vpai --manifest-path "$repo/Cargo.toml"
vpai="$repo/target/release/vpai"
mkdir -p "$work/vpai-state"
cd "$work/vpai-state"
# The vault is opened with an age identity, as automation does (a passphrase would add
# scrypt's deliberate ~0.5 s key stretching to every run; that is not rendering).
[ -f key.txt ] || { age-keygen -o key.txt 2>/dev/null; chmod 600 key.txt; }
export VPAI_VAULT_IDENTITY_FILE="$work/vpai-state/key.txt"
"$vpai" render --example --json >/dev/null   # secrets generated once, outside the timing

export ANSIBLE_CONFIG="$work/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1
cd "$work/ansible"
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/render.json" \
  -n ansible-render-only "$work/venv/bin/ansible-playbook $work/ansible/tools/probe-render.yml -c local" \
  -n vpai-render "cd $work/vpai-state && $vpai render --example --json" \
  -n vpai-render-write "cd $work/vpai-state && $vpai render --example --out $work/out"

python3 - "$work/render.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
a = r["ansible-render-only"]["mean"]
for name in ("vpai-render", "vpai-render-write"):
    v = r[name]["mean"]
    print(f"{name}: {v*1000:.1f} ms (±{r[name]['stddev']*1000:.1f}) vs ansible render-only {a*1000:.0f} ms -> {a/v:.0f}x faster")
PY
