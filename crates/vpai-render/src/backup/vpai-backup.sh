#!/bin/bash
# The backup engine of a stack deployed by vpai: capture, list, restore, drill.
# Written by `vpai up` into <root>/backup/; run by `vpai backup`, `vpai restore` and the
# systemd timer. This file is the same for every stack: what it captures and how it puts
# it back is read from the files beside it (captures/<id>/), whose values are
# NUL-separated argv and environment lists, never evaluated as shell.
#
#   vpai-backup run [--scheduled]     capture every service, then one restic snapshot
#   vpai-backup list                  the stack's snapshots (restic's JSON)
#   vpai-backup fetch SNAPSHOT        restore a snapshot into the state directory
#   vpai-backup restore ID DIR        put capture ID of a fetched snapshot back (live)
#   vpai-backup undo ID TOKEN         put back what a restore kept aside
#   vpai-backup clean                 remove fetched snapshots
#   vpai-backup drill [SNAPSHOT]      restore into scratch containers and compare
#   vpai-backup status                the last backup and drill (JSON lines)
#
# Progress for the caller: lines `vpai-event<TAB>...` on stdout. Everything else a step
# prints goes to stderr. Exit status: 0 done, 1 failed (the cause on stderr), 2 usage.
set -euo pipefail
umask 077
export LC_ALL=C

HERE=$(cd -P -- "$(dirname -- "$0")" && pwd)
ROOT=${HERE%/backup}
STATE=$ROOT/.vpai/backup
STAGING=$STATE/staging
# The captures of the last backup that succeeded, kept with their fingerprints: one
# whose data has not changed since is taken again as it was.
LAST=$STATE/last
DRILL_DIR=$STATE/drill
mkdir -p "$STATE"
chmod 0700 "$STATE"

fail() {
    printf 'vpai-backup: %s\n' "$*" >&2
    exit 1
}
event() {
    local IFS=$'\t'
    printf 'vpai-event\t%s\n' "$*"
}
now() { date +%s; }

# restic and the repository: settings holds VPAI_PROJECT, RESTIC_REPOSITORY, the
# retention and optional S3 keys (NUL-separated NAME=value), the password is a file.
while IFS= read -r -d '' kv; do
    case ${kv%%=*} in
    VPAI_* | RESTIC_REPOSITORY | AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY) export "$kv" ;;
    esac
done <"$HERE/settings"
export RESTIC_PASSWORD_FILE=$HERE/repository-password
export RESTIC_CACHE_DIR=$STATE/cache

need_restic() {
    command -v restic >/dev/null 2>&1 ||
        fail "restic is not installed on this host: \`apt-get install restic\` (Debian/Ubuntu), then run it again"
}

lock() {
    exec 8>"$STATE/lock"
    flock -w "${1:-5}" 8 || fail "another backup, restore or drill of this stack is running (lock $STATE/lock)"
}

# captures/<id>/info: one `key=value` per line, values checked by vpai when rendering.
declare -A C
read_info() {
    C=()
    local k v
    while IFS='=' read -r k v; do
        [[ $k =~ ^[a-z_]+$ ]] && C[$k]=$v
    done <"$1/info"
}

# Run argv file $2 of capture dir $1 in container $3 (stdin and stdout passed through),
# its environment from the capture's env file through `docker exec -e NAME`.
exec_in() {
    local dir=$1 which=$2 c=$3
    shift 3
    local argv=()
    mapfile -d '' argv <"$dir/$which"
    (
        names=()
        if [ -s "$dir/env" ]; then
            while IFS= read -r -d '' kv; do
                export "$kv"
                names+=(-e "${kv%%=*}")
            done <"$dir/env"
        fi
        exec timeout -k 10 "${C[timeout]}" docker exec -i "${names[@]}" "$c" "${argv[@]}" "$@"
    )
}

running() {
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}

# Wait until container $1 is healthy (or running, without a healthcheck).
wait_healthy() {
    local c=$1 deadline=$(($(now) + ${2:-300})) s
    while :; do
        s=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c" 2>/dev/null || echo missing)
        case $s in
        healthy | running) return 0 ;;
        exited | dead | missing) return 1 ;;
        esac
        [ "$(now)" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# The end of a step's output on one line, for an event.
brief() { tail -c 400 "$1" 2>/dev/null | tr '\n\t' '  '; }
tail_of() { tail -c 2000 "$1" 2>/dev/null | sed 's/^/    /'; }

# ---------------------------------------------------------------- capture
capture_one() {
    local dir=$1 id
    id=$(basename "$dir")
    read_info "$dir"
    local out=$STAGING/$id.tar err=$STAGING/.err t0
    t0=$(now)
    case ${C[kind]} in
    command)
        running "${C[container]}" || fail "$id: container ${C[container]} is not running: start the stack (\`vpai up\`) before a backup"
        if [ -s "$dir/fingerprint" ]; then
            local token=""
            token=$(exec_in "$dir" fingerprint "${C[container]}" </dev/null 2>/dev/null | head -1 | tr -d '\r') || token=""
            if [ -n "$token" ]; then
                printf '%s\n' "$token" >"$STAGING/.tokens/$id"
                if [ -f "$LAST/$id.tar" ] && [ "$(cat "$LAST/$id.token" 2>/dev/null)" = "$token" ] &&
                    tar -tf "$LAST/$id.tar" >/dev/null 2>&1; then
                    ln -f "$LAST/$id.tar" "$out"
                    event captured "$id" "$(stat -c %s "$out")" "$(($(now) - t0))" unchanged
                    return 0
                fi
            fi
        fi
        local rc=0
        exec_in "$dir" capture "${C[container]}" </dev/null >"$out.part" 2>"$err" || rc=$?
        if [ $rc -ne 0 ]; then
            fail "$id: the capture command failed (exit $rc) in ${C[container]}:
$(tail_of "$err")"
        fi
        ;;
    volume)
        [ -d "$ROOT/${C[volume]}" ] || fail "$id: $ROOT/${C[volume]} does not exist"
        # GNU tar exits 1 when a file changed while it was read: kept, said.
        local rc=0
        tar --numeric-owner -C "$ROOT/${C[volume]}" -cf "$out.part" . 2>"$err" || rc=$?
        if [ $rc -eq 1 ]; then
            event warning "$id" "a file changed while it was archived"
        elif [ $rc -ne 0 ]; then
            fail "$id: archiving $ROOT/${C[volume]} failed (exit $rc):
$(tail_of "$err")"
        fi
        ;;
    *) fail "$id: unknown capture kind in $dir/info" ;;
    esac
    [ -s "$out.part" ] || fail "$id: the capture is empty"
    tar -tf "$out.part" >/dev/null 2>"$err" || fail "$id: the capture is not a whole tar archive:
$(tail_of "$err")"
    mv "$out.part" "$out"
    event captured "$id" "$(stat -c %s "$out")" "$(($(now) - t0))"
}

# Open the repository; create it only when there is none (never over a wrong password).
open_repository() {
    local err=$STATE/restic.err
    if restic cat config >/dev/null 2>"$err"; then
        return 0
    fi
    if grep -q -e 'Is there a repository at the following location' -e 'repository does not exist' "$err"; then
        restic init >/dev/null 2>"$err" || fail "creating the repository failed:
$(tail_of "$err")"
        event repository-created
        return 0
    fi
    fail "the repository cannot be opened:
$(tail_of "$err")"
}

write_status() { # file status [json fields...]
    local file=$1 status=$2
    shift 2
    local body
    body=$(printf '"time":%s,"status":"%s"' "$(now)" "$status")
    local f
    for f in "$@"; do body="$body,$f"; done
    printf '{%s}\n' "$body" >"$file.tmp" && mv "$file.tmp" "$file"
}

cmd_run() {
    local scheduled=0
    [ "${1:-}" = --scheduled ] && scheduled=1
    need_restic
    lock 600
    local t0
    t0=$(now)
    FAILED=1
    # A failure anywhere: nothing in the repository, the cause recorded, no heartbeat.
    trap 'rc=$?; rm -rf "$STAGING"; if [ "${FAILED:-0}" -eq 1 ]; then write_status "$STATE/last-backup.json" failed "\"exit\":$rc"; fi' EXIT
    rm -rf "$STAGING"
    mkdir -p "$STAGING/.tokens"
    local dir
    for dir in "$HERE"/captures/*/; do
        [ -f "$dir/info" ] && capture_one "${dir%/}"
    done
    # The rendered files (compose, env, configs, the manifest, this engine), not the data.
    tar --numeric-owner -C "$ROOT" --exclude=./data --exclude=./.vpai --exclude=./releases \
        -cf "$STAGING/files.tar" . 2>"$STAGING/.err" || fail "archiving the rendered files failed:
$(tail_of "$STAGING/.err")"
    rm -f "$STAGING/.err"
    event captured files "$(stat -c %s "$STAGING/files.tar")" 0
    local tokens=$STATE/tokens.new
    rm -rf "$tokens"
    mv "$STAGING/.tokens" "$tokens"
    open_repository
    local size rc=0 out=$STATE/restic.out err=$STATE/restic.err snapshot
    size=$(du -sb "$STAGING" | cut -f1)
    (cd "$STAGING" && restic backup --json --host "$VPAI_PROJECT" --tag vpai --tag "vpai-size=$size" .) >"$out" 2>"$err" || rc=$?
    snapshot=$(grep -o '"snapshot_id":"[0-9a-f]*"' "$out" | tail -1 | cut -d'"' -f4 || true)
    if [ $rc -ne 0 ]; then
        # exit 3: a snapshot was written without every file: it must not look complete.
        if [ -n "$snapshot" ]; then restic forget "$snapshot" >/dev/null 2>&1 || true; fi
        fail "restic backup failed (exit $rc):
$(tail_of "$err")"
    fi
    [ -n "$snapshot" ] || fail "restic backup printed no snapshot id:
$(tail_of "$out")"
    event snapshot "$snapshot" "$size"
    # The retention on every run; the space of forgotten snapshots is freed (prune, which
    # rewrites packs and takes long) on the timer's runs only.
    local prune=()
    [ $scheduled -eq 1 ] && prune=(--prune)
    restic forget --host "$VPAI_PROJECT" --tag vpai --keep-last "$VPAI_KEEP_LAST" --keep-daily "$VPAI_KEEP_DAILY" --keep-weekly "$VPAI_KEEP_WEEKLY" \
        --keep-monthly "$VPAI_KEEP_MONTHLY" --keep-yearly "$VPAI_KEEP_YEARLY" "${prune[@]}" >/dev/null 2>"$err" ||
        fail "snapshot $snapshot is complete, but applying the retention failed:
$(tail_of "$err")"
    event retention done
    if [ $scheduled -eq 1 ]; then
        # One seventh of the data is read back every day: the whole repository every week.
        local slice=$(($(date +%u)))
        restic check --read-data-subset="$slice/7" >/dev/null 2>"$err" || fail "snapshot $snapshot is complete, but \`restic check\` found a problem in the repository:
$(tail_of "$err")"
        event checked "$slice/7"
    fi
    # Keep this backup's fingerprinted captures (hard links: no copy) for the next one.
    rm -rf "$LAST.new"
    mkdir -p "$LAST.new"
    local f
    for f in "$tokens"/*; do
        [ -f "$f" ] || continue
        ln -f "$STAGING/$(basename "$f").tar" "$LAST.new/$(basename "$f").tar"
        cp "$f" "$LAST.new/$(basename "$f").token"
    done
    rm -rf "$LAST" "$tokens"
    mv "$LAST.new" "$LAST"
    FAILED=0
    write_status "$STATE/last-backup.json" ok "\"snapshot\":\"$snapshot\"" "\"bytes\":$size" "\"seconds\":$(($(now) - t0))"
    if [ -s "$HERE/heartbeat-url" ]; then
        # The URL holds a token: it reaches curl on stdin, never argv.
        if command -v curl >/dev/null 2>&1 &&
            { printf 'url = "'; cat "$HERE/heartbeat-url"; printf '"\n'; } | curl -fsS -m 20 --retry 2 -o /dev/null -K - 2>"$err"; then
            event heartbeat sent
        else
            event warning heartbeat "the heartbeat URL did not answer: $(head -c 300 "$err" 2>/dev/null)"
        fi
    fi
    event done "$snapshot" "$(($(now) - t0))"
    rm -rf "$STAGING"
    trap - EXIT
    if [ $scheduled -eq 1 ] && [ "${VPAI_DRILL:-1}" = 1 ]; then
        flock -u 8
        cmd_drill "$snapshot"
    fi
}

cmd_list() {
    need_restic
    restic snapshots --json --host "$VPAI_PROJECT" --tag vpai 2>"$STATE/restic.err" ||
        fail "listing the snapshots failed:
$(tail_of "$STATE/restic.err")"
}

# ---------------------------------------------------------------- fetch
# Restore snapshot $1 into $STATE/restore/<id>; prints the directory of the captures.
cmd_fetch() {
    need_restic
    local want=${1:-latest} id err=$STATE/restic.err
    if [ "$want" = latest ]; then
        id=$(restic snapshots --json --host "$VPAI_PROJECT" --tag vpai --latest 1 2>"$err" | grep -o '"id":"[0-9a-f]*"' | tail -1 | cut -d'"' -f4 || true)
        [ -n "$id" ] || fail "the repository has no snapshot of this stack yet: run \`vpai backup\` first
$(tail_of "$err")"
    else
        [[ $want =~ ^[0-9a-f]{8,64}$ ]] || fail "\`$want\` is not a snapshot id (8 to 64 hex digits; \`vpai backup --list\` shows them)"
        id=$want
    fi
    local listing
    listing=$(restic snapshots --json "$id" 2>"$err") || fail "no snapshot \`$id\` in the repository:
$(tail_of "$err")"
    printf '%s' "$listing" | grep -q "\"hostname\":\"$VPAI_PROJECT\"" || fail "snapshot \`$id\` is not one of this stack's (\`vpai backup --list\` shows them)"
    id=$(printf '%s' "$listing" | grep -o '"id":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)
    local target=$STATE/restore/$id
    rm -rf "$target"
    mkdir -p "$target"
    restic restore "$id" --target "$target" >/dev/null 2>"$err" || fail "restic restore of $id failed:
$(tail_of "$err")"
    # restic keeps a backup of `.` at the top of the snapshot (0.14) or below its path.
    local found
    found=$(find "$target" -maxdepth 16 -name files.tar -type f -print -quit)
    [ -n "$found" ] || fail "snapshot $id does not hold a vpai backup (no files.tar)"
    event fetched "$id" "$(dirname "$found")"
}

# ---------------------------------------------------------------- restore
# Build directory $2 from capture tar $1 as capture dir $3 says (place, write), owned by
# the service's user.
build_dir() {
    local tarball=$1 new=$2 dir=$3 tmp
    rm -rf "$new"
    mkdir -p "$new"
    if [ -s "$dir/place" ]; then
        tmp=$(mktemp -d "$STATE/place.XXXXXX")
        tar --no-same-owner -C "$tmp" -xf "$tarball"
        local pairs=() i
        mapfile -d '' pairs <"$dir/place"
        for ((i = 0; i + 1 < ${#pairs[@]}; i += 2)); do
            local src=$tmp/${pairs[i]} dst=$new/${pairs[i + 1]}
            [ -f "$src" ] || [ -f "$tmp/./${pairs[i]}" ] || { rm -rf "$tmp"; fail "the capture has no \`${pairs[i]}\`"; }
            mkdir -p "$(dirname "$dst")"
            mv "$src" "$dst"
        done
        rm -rf "$tmp"
    else
        tar --no-same-owner -C "$new" -xf "$tarball"
    fi
    if [ -s "$dir/write" ]; then
        local pairs=() i
        mapfile -d '' pairs <"$dir/write"
        for ((i = 0; i + 1 < ${#pairs[@]}; i += 2)); do
            mkdir -p "$(dirname "$new/${pairs[i]}")"
            printf '%s' "${pairs[i + 1]}" >"$new/${pairs[i]}"
        done
    fi
    chown -R "${C[uid]}:${C[gid]}" "$new"
    chmod "${C[volume_mode]}" "$new"
}

capture_tar() { # fetched dir, id
    local f=$1/$2.tar
    [ -f "$f" ] || fail "the snapshot has no capture \`$2\` (taken before this service was in the stack?)"
    printf '%s' "$f"
}

cmd_restore() {
    local id=$1 fetched=$2 dir=$HERE/captures/$1
    [ -f "$dir/info" ] || fail "no capture \`$id\` in this stack"
    read_info "$dir"
    lock 60
    local tarball stamp
    tarball=$(capture_tar "$fetched" "$id")
    stamp=$(date +%Y%m%d-%H%M%S)
    if [ "${C[restore]}" = volume ]; then
        local vol=$ROOT/${C[restore_volume]}
        local new=$vol.vpai-new kept=$vol.vpai-replaced-$stamp
        build_dir "$tarball" "$new" "$dir"
        docker stop -t 60 "${C[container]}" >/dev/null
        [ -e "$vol" ] && mv "$vol" "$kept"
        mv "$new" "$vol"
        docker start "${C[container]}" >/dev/null
        if ! wait_healthy "${C[container]}" "${C[health_timeout]}"; then
            docker stop -t 30 "${C[container]}" >/dev/null 2>&1 || true
            mv "$vol" "$vol.vpai-failed-$stamp"
            [ -e "$kept" ] && mv "$kept" "$vol"
            docker start "${C[container]}" >/dev/null 2>&1 || true
            fail "$id: ${C[container]} did not become healthy on the restored data; the previous data is back (the restored copy is in $vol.vpai-failed-$stamp)"
        fi
        event restored "$id" "$(basename "$kept")"
        return 0
    fi
    # Into the running service: the owners of the data are stopped meanwhile.
    running "${C[container]}" || fail "$id: ${C[container]} is not running"
    local stops=() c out=$STATE/restore.out
    read -r -a stops <<<"${C[stops]:-}"
    for c in "${stops[@]}"; do docker stop -t 60 "$c" >/dev/null 2>&1 || true; done
    local rc=0
    exec_in "$dir" restore "${C[container]}" <"$tarball" >"$out" 2>&1 || rc=$?
    for c in "${stops[@]}"; do docker start "$c" >/dev/null 2>&1 || true; done
    [ $rc -eq 0 ] || fail "$id: the restore command failed (exit $rc):
$(tail_of "$out")"
    local token
    token=$(grep -o '^kept: [A-Za-z0-9_.-]*$' "$out" | tail -1 | cut -d' ' -f2 || true)
    for c in "${stops[@]}"; do
        wait_healthy "$c" "${C[health_timeout]}" || {
            [ -n "$token" ] && exec_in "$dir" undo "${C[container]}" "$token" </dev/null >/dev/null 2>&1
            fail "$id: $c did not become healthy on the restored data; the previous data is back"
        }
    done
    event restored "$id" "${token:-}"
}

cmd_undo() {
    local id=$1 token=$2 dir=$HERE/captures/$1
    [ -f "$dir/info" ] || fail "no capture \`$id\` in this stack"
    [[ $token =~ ^[A-Za-z0-9_.-]+$ ]] || fail "\`$token\` is not a kept name"
    read_info "$dir"
    lock 60
    if [ "${C[restore]}" = volume ]; then
        local vol=$ROOT/${C[restore_volume]}
        [ -d "$(dirname "$vol")/$token" ] || fail "nothing kept as $token"
        docker stop -t 60 "${C[container]}" >/dev/null
        mv "$vol" "$vol.vpai-undone-$(date +%Y%m%d-%H%M%S)"
        mv "$(dirname "$vol")/$token" "$vol"
        docker start "${C[container]}" >/dev/null
        wait_healthy "${C[container]}" "${C[health_timeout]}" || fail "$id: ${C[container]} is not healthy after the undo"
    else
        [ -s "$dir/undo" ] || fail "$id: this capture has no undo"
        local stops=() c rc=0
        read -r -a stops <<<"${C[stops]:-}"
        for c in "${stops[@]}"; do docker stop -t 60 "$c" >/dev/null 2>&1 || true; done
        exec_in "$dir" undo "${C[container]}" "$token" </dev/null >"$STATE/undo.out" 2>&1 || rc=$?
        for c in "${stops[@]}"; do docker start "$c" >/dev/null 2>&1 || true; done
        [ $rc -eq 0 ] || fail "$id: undo failed (exit $rc):
$(tail_of "$STATE/undo.out")"
    fi
    event undone "$id" "$token"
}

# ---------------------------------------------------------------- drill
drill_compose() {
    docker compose -p "$VPAI_PROJECT-drill" --project-directory "$ROOT" -f "$HERE/drill.yml" "$@"
}

# Restart the scratch copy, wait for it, run the drill command again: the same lines?
drill_again() {
    local dir=$1 scratch=$2 want=$3 got=$4
    docker restart -t 30 "$scratch" >/dev/null 2>&1 || return 1
    wait_healthy "$scratch" "${C[health_timeout]}" || return 1
    exec_in "$dir" drill "$scratch" </dev/null >"$got" 2>"$STATE/drill.out" || return 1
    sort -o "$got" "$got"
    cmp -s "$want" "$got"
}

cmd_drill() {
    need_restic
    lock 60
    local t0 fetched snapshot line
    t0=$(now)
    line=$(cmd_fetch "${1:-latest}" | grep '^vpai-event	fetched	')
    snapshot=$(printf '%s' "$line" | cut -f3)
    fetched=$(printf '%s' "$line" | cut -f4)
    local diffs=0 checked=0 dir
    trap 'drill_compose down -v --remove-orphans >/dev/null 2>&1 || true; rm -rf "$DRILL_DIR" "$STATE/restore"' EXIT
    for dir in "$HERE"/captures/*/; do
        dir=${dir%/}
        local id
        id=$(basename "$dir")
        read_info "$dir"
        local tarball
        tarball=$(capture_tar "$fetched" "$id")
        tar -tf "$tarball" >/dev/null 2>&1 || {
            event drill "$id" failed "the archive is damaged"
            diffs=$((diffs + 1))
            continue
        }
        if [ ! -s "$dir/drill" ]; then
            event drill "$id" archive-ok "no drill command: the archive reads back whole"
            continue
        fi
        rm -rf "$DRILL_DIR"
        mkdir -p "$DRILL_DIR"
        # The scratch copy's data directories, empty, owned as the live ones.
        local vols=() v
        read -r -a vols <<<"${C[volumes]:-}"
        for v in "${vols[@]}"; do
            mkdir -p "$DRILL_DIR/${v%:*}"
            chown "${C[uid]}:${C[gid]}" "$DRILL_DIR/${v%:*}"
            chmod "${v##*:}" "$DRILL_DIR/${v%:*}"
        done
        if [ "${C[restore]}" = volume ]; then
            build_dir "$tarball" "$DRILL_DIR/${C[restore_volume]}" "$dir"
        fi
        if ! drill_compose up -d --wait --wait-timeout "${C[health_timeout]}" "${C[service]}" >"$STATE/drill.out" 2>&1; then
            event drill "$id" failed "the scratch container did not become healthy: $(brief "$STATE/drill.out")"
            diffs=$((diffs + 1))
            drill_compose down -v >/dev/null 2>&1 || true
            continue
        fi
        local scratch=${C[drill_container]} ok=1
        if [ "${C[restore]}" = command ]; then
            exec_in "$dir" restore "$scratch" <"$tarball" >"$STATE/drill.out" 2>&1 || {
                event drill "$id" failed "the restore command failed in the scratch copy: $(brief "$STATE/drill.out")"
                ok=0
            }
        fi
        if [ $ok -eq 1 ]; then
            local want=$STATE/drill.want got=$STATE/drill.got
            local has_manifest=1
            tar -xOf "$tarball" ./manifest >"$want" 2>/dev/null || tar -xOf "$tarball" manifest >"$want" 2>/dev/null || has_manifest=0
            if exec_in "$dir" drill "$scratch" </dev/null >"$got" 2>"$STATE/drill.out"; then
                sort -o "$want" "$want"
                sort -o "$got" "$got"
                # An empty manifest is one: a database without tables, no collection.
                if [ $has_manifest -eq 0 ]; then
                    event drill "$id" failed "the capture has no manifest to compare with"
                    ok=0
                elif ! cmp -s "$want" "$got"; then
                    event drill "$id" different "$(diff "$want" "$got" | grep '^[<>]' | head -5 | tr '\n\t' '  ')"
                    ok=0
                elif [ "${C[drill_restart]:-0}" = 1 ] && ! drill_again "$dir" "$scratch" "$want" "$got"; then
                    event drill "$id" different "after a restart of the scratch copy: $(diff "$want" "$got" | grep '^[<>]' | head -5 | tr '\n\t' '  ')"
                    ok=0
                else
                    event drill "$id" identical "$(wc -l <"$want") manifest lines"
                    checked=$((checked + 1))
                fi
            else
                event drill "$id" failed "the drill command failed: $(brief "$STATE/drill.out")"
                ok=0
            fi
        fi
        [ $ok -eq 1 ] || diffs=$((diffs + 1))
        drill_compose down -v >/dev/null 2>&1 || true
    done
    local secs=$(($(now) - t0))
    if [ $diffs -ne 0 ]; then
        write_status "$STATE/last-drill.json" failed "\"snapshot\":\"${snapshot:0:8}\"" "\"seconds\":$secs" "\"differences\":$diffs"
        fail "the drill of snapshot $snapshot found $diffs capture(s) that do not restore as they were taken"
    fi
    write_status "$STATE/last-drill.json" ok "\"snapshot\":\"${snapshot:0:8}\"" "\"seconds\":$secs" "\"verified\":$checked"
    event drilled "$snapshot" "$secs" "$checked"
}

cmd_status() {
    local f
    for f in last-backup last-drill; do
        if [ -f "$STATE/$f.json" ]; then
            printf '%s\t%s\n' "$f" "$(cat "$STATE/$f.json")"
        fi
    done
}

case ${1:-} in
run) shift; cmd_run "$@" ;;
list) cmd_list ;;
fetch) [ $# -eq 2 ] || exit 2; cmd_fetch "$2" ;;
restore) [ $# -eq 3 ] || exit 2; cmd_restore "$2" "$3" ;;
undo) [ $# -eq 3 ] || exit 2; cmd_undo "$2" "$3" ;;
drill) shift; cmd_drill "$@" ;;
status) cmd_status ;;
clean) lock 60; rm -rf "$STATE/restore" ;;
*)
    sed -n '2,20p' "$0" >&2
    exit 2
    ;;
esac
