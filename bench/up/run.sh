#!/usr/bin/env bash
# `vpai up` from nothing to healthy and verified, next to the critical path measured in
# the same run on the same files, for the `core` and `full` profiles on the local test
# images (scripts/test-env.sh builds them).
#
#   bench/up/run.sh            # core and full
#   PROFILES=core bench/up/run.sh
#
# Critical path = slowest phase A service started alone until healthy + provisioning
# (vpai's own step, read from its -vv timings) + slowest phase B service started alone
# (phase A running) until healthy: what no orchestrator can beat without changing the
# services themselves. Goal: vpai within 1.5x of it. Needs root (it binds 80/443 of a
# private root and talks to the engine); stops and removes what it started.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
profiles=${PROFILES:-core full}
work=$(mktemp -d /tmp/vpai-bench-up.XXXXXX)
# vpai: allow VP902 -- throwaway passphrase of a bench run
export XDG_STATE_HOME="$work/state" VPAI_VAULT_PASSWORD=bench-up-passphrase NO_COLOR=1
cargo build --release -q -p vpai --manifest-path "$repo/Cargo.toml"
vpai="${CARGO_TARGET_DIR:-$repo/target}/release/vpai"
root=""
cleanup() {
  if [ -n "$root" ] && [ -d "$root" ]; then
    docker compose -f "$root/docker-compose.yml" down >/dev/null 2>&1 || true
    docker compose -f "$root/docker-compose-infra.yml" down >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

printf '%-8s %10s %10s %10s %14s %8s\n' profile "vpai up" "infra max" "apps max" "critical path" ratio
for profile in $profiles; do
  dir="$work/$profile"; mkdir -p "$dir"
  # What `vpai init` writes for this profile, on the local images.
  cd "$dir"
  "$vpai" init --name "bench$profile" --domain localhost --profile "$profile" --non-interactive 2>/dev/null
  cat "$repo/crates/vpai-spec/src/example-local-images.toml" >>"$dir/stack.toml"
  root="$dir/root"
  t0=$(now)
  "$vpai" up --root "$root" --timeout 900 -vv 2>"$dir/up.log" >/dev/null || { tail -30 "$dir/up.log"; exit 1; }
  t1=$(now)
  up=$(secs "$t0" "$t1")
  # -vv times every command: the provisioning is the `docker exec` right after its step.
  provision=$(sed -n '/^==> provisioning/,$p' "$dir/up.log" | grep -m1 -o 'docker exec .*: [0-9.]* s$' | grep -o '[0-9.]* s$' | tr -d ' s' || true)
  provision=${provision:-0}
  # Each service alone, on the files vpai wrote: phase A from nothing, then phase B
  # from nothing with phase A running.
  "$vpai" down --all --root "$root" >/dev/null 2>&1
  infra_max=0
  for svc in $(docker compose -f "$root/docker-compose-infra.yml" config --services); do
    a=$(now); docker compose -f "$root/docker-compose-infra.yml" up -d --wait --no-deps "$svc" >/dev/null 2>&1; b=$(now)
    s=$(secs "$a" "$b"); infra_max=$(awk -v x="$s" -v m="$infra_max" 'BEGIN { print (x > m ? x : m) }')
    docker compose -f "$root/docker-compose-infra.yml" stop "$svc" >/dev/null 2>&1
  done
  docker compose -f "$root/docker-compose-infra.yml" up -d --wait >/dev/null 2>&1
  apps_max=0
  for svc in $(docker compose -f "$root/docker-compose.yml" config --services); do
    a=$(now); docker compose -f "$root/docker-compose.yml" up -d --wait --no-deps "$svc" >/dev/null 2>&1; b=$(now)
    s=$(secs "$a" "$b"); apps_max=$(awk -v x="$s" -v m="$apps_max" 'BEGIN { print (x > m ? x : m) }')
    docker compose -f "$root/docker-compose.yml" stop "$svc" >/dev/null 2>&1
  done
  critical=$(awk -v a="$infra_max" -v p="$provision" -v b="$apps_max" 'BEGIN { printf "%.1f", a + p + b }')
  ratio=$(awk -v u="$up" -v c="$critical" 'BEGIN { printf "%.2fx", u / c }')
  printf '%-8s %9ss %9ss %9ss %13ss %8s\n' "$profile" "$up" "$infra_max" "$apps_max" "$critical" "$ratio"
  "$vpai" down --all --root "$root" >/dev/null 2>&1 || true
  docker compose -f "$root/docker-compose.yml" down >/dev/null 2>&1 || true
  docker compose -f "$root/docker-compose-infra.yml" down >/dev/null 2>&1 || true
  rm -rf "$root"
  cd "$repo"
done
