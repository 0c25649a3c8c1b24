#!/usr/bin/env bash
# Swarm vs Compose on the same stack (PostgreSQL, Redis, Caddy, LiteLLM), side by side:
# first deploy on a three-node swarm (`vpai swarm init` + `vpai up`) and with Compose on
# one host, the no-op of both in one hyperfine run (its ratio), and LiteLLM with 1 then 3
# replicas behind Caddy under a bounded local load (bench/swarm/load.py).
#
#   bench/swarm/run.sh            # RUNS=5 no-op runs each
#   RUNS=10 bench/swarm/run.sh
#
# The hosts are network namespaces with their own dockerd and sshd on one bridge, as
# crates/vpai/tests/e2e_swarm.rs makes them (crates/vpai/tests/support/cluster.rs).
# Root only; everything it starts is stopped on exit. Images: scripts/test-env.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; }
cd "$repo"
exec cargo bench -q -p vpai --bench swarm -- --bench
