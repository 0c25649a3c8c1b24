#!/usr/bin/env bash
# The tests, all of them, on this machine: installs and starts what they need (Docker
# engine with Compose v2 and the vpai-test images, the real ansible-vault, OpenSSH and
# flock for the SSH end-to-end tests, curl, restic), then runs every test. Nothing skips here:
# a test that cannot run fails and says what is missing. Must run as root (it installs
# packages and starts dockerd). `.ci/run` is this script. Extra arguments go to
# `cargo test` (e.g. `scripts/test.sh -p vpai-host`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$(date +%s)
# Docker engine, Compose v2 and the vpai-test/* images (idempotent; fast when present).
scripts/test-env.sh
# The real ansible-vault, for the import tests.
VPAI_ANSIBLE_VAULT="$(scripts/vault-test-deps.sh)"
export VPAI_ANSIBLE_VAULT
# OpenSSH server and client, flock, iproute2: the SSH end-to-end tests start their own sshd.
scripts/ssh-test-deps.sh
# curl, and restic (Debian's) for the backup tests: the backup engine runs it on the host.
missing=()
for tool in curl restic; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
echo "test: setup took $(( $(date +%s) - start ))s" >&2

# Every test that needs something above fails, instead of skipping, when it is missing.
export VPAI_E2E_REQUIRED=1
cargo test --workspace --all-targets "$@"
echo "test: total $(( $(date +%s) - start ))s" >&2
