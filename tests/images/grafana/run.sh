#!/bin/bash -e
# Entrypoint of the vpai-test Grafana stand-in, with the official image's contract: the
# GF_PATHS_* variables give the paths, a data directory it cannot write is reported, then
# `grafana server` runs with the image's defaults on its command line.
if [ ! -r "$GF_PATHS_CONFIG" ]; then
    echo "GF_PATHS_CONFIG='$GF_PATHS_CONFIG' is not readable."
    exit 1
fi
if [ ! -w "$GF_PATHS_DATA" ]; then
    echo "GF_PATHS_DATA='$GF_PATHS_DATA' is not writable."
    echo "You may have issues with file permissions: the container runs as UID $(id -u)."
fi
if [ ! -d "$GF_PATHS_HOME" ]; then
    echo "GF_PATHS_HOME='$GF_PATHS_HOME' is not readable."
    exit 1
fi
if [ -n "${GF_INSTALL_PLUGINS:-}" ]; then
    echo "GF_INSTALL_PLUGINS is ignored by the vpai-test stand-in (no plugin can be downloaded)"
fi
exec grafana server \
    --homepath="$GF_PATHS_HOME" \
    --config="$GF_PATHS_CONFIG" \
    --packaging=docker \
    "$@" \
    cfg:default.log.mode="console" \
    cfg:default.paths.data="$GF_PATHS_DATA" \
    cfg:default.paths.logs="$GF_PATHS_LOGS" \
    cfg:default.paths.plugins="$GF_PATHS_PLUGINS" \
    cfg:default.paths.provisioning="$GF_PATHS_PROVISIONING"
