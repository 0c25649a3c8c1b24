#!/usr/bin/env bash
# The README's first command: the embedded example stack (PostgreSQL, Redis, Qdrant,
# Caddy, n8n, LiteLLM on *.localhost with Caddy's internal CA), deployed on this
# machine all the way to healthy, in one command. Needs root (it installs Docker and
# binds ports 80 and 443).
#
# Images: where no container registry is reachable (the default assumption here), they
# are built locally from Debian's packages, npm and PyPI by scripts/test-env.sh (about
# 15 minutes the first time, seconds after), and the example runs on them
# (`--local-images`). With VPAI_DEMO_IMAGES=official, the pinned official images are
# pulled instead. The example's vault lives in ~/.local/state/vpai/example; vpai asks
# for its passphrase on a terminal (or reads VPAI_VAULT_PASSWORD_FILE).
# Arguments go to `vpai up` (e.g. `--root /tmp/demo`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[demo] %s\n' "$*" >&2; }

case ${VPAI_DEMO_IMAGES:-local} in
  local)
    say "building the images from distribution packages (no registry needed; progress below)"
    scripts/test-env.sh >/dev/null
    images=(--local-images)
    ;;
  official)
    say "starting the Docker engine; the official images are pulled by vpai"
    VPAI_TEST_NO_BUILD=1 scripts/test-env.sh >/dev/null
    images=()
    ;;
  *) say "VPAI_DEMO_IMAGES is local or official"; exit 2 ;;
esac
say "building vpai and deploying the example"
exec cargo run --quiet --release -p vpai -- up --example "${images[@]}" "$@"
