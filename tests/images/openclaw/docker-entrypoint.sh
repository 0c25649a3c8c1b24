#!/bin/sh
# The node image's entrypoint contract: a first argument that is an option (`--help`),
# not a command on PATH, or a file that is not executable runs under node; anything
# else is executed as it is (`node openclaw.mjs gateway`, `sh`, `curl`).
set -e
first=${1-}
if [ -n "$first" ]; then
  case $first in
    -*) set -- node "$@" ;;
    *)
      if ! command -v "$first" >/dev/null 2>&1 || { [ -f "$first" ] && [ ! -x "$first" ]; }; then
        set -- node "$@"
      fi
      ;;
  esac
fi
exec "$@"
