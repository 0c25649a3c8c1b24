#!/usr/bin/env bash
# Like the official image's entrypoint: run the server from /qdrant with the given args.
set -e
cd /qdrant
exec python3 ./qdrant.py "$@"
