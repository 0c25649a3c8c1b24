#!/bin/bash
# Entrypoint with the behaviour of the official redis 8 image:
#  - `-opt ...` or `x.conf ...` arguments mean `redis-server ...`
#  - redis-server started as root with SETUID and SETGID in the bounding set: make /data
#    (only *.rdb and appendonlydir in it) and the config readable/writable by redis, with
#    warnings, not errors, when that fails; then re-run itself as redis (setpriv --nnp,
#    no inheritable/ambient caps; also no bounding set when CAP_SETPCAP allows dropping it)
#  - SKIP_FIX_PERMS=1 and SKIP_DROP_PRIVS=1 as in the official image
#  - umask 0077 when it is 0022; modules in /usr/local/lib/redis/modules are loaded
set -e

REDIS_SERVER=$(readlink -f /usr/local/bin/redis-server)
NOTICE="Use SKIP_FIX_PERMS=1 to skip permission changes."

in_bounding_set() { setpriv -d | grep -q "Capability bounding set:.*\b$1\b"; }
as_redis() { setpriv --reuid redis --regid redis --clear-groups "$@"; }

# fix_owner_and_mode MODE: for each NUL-separated path on stdin that redis cannot use
# (MODE r or rw), chown it to redis and add u+MODE (u+MODEx for directories)
fix_owner_and_mode() {
    local mode=$1 path m out
    while IFS= read -r -d '' path; do
        if [ "$mode" = rw ] && as_redis test -r "$path" -a -w "$path"; then continue; fi
        if [ "$mode" = r ] && as_redis test -r "$path"; then continue; fi
        m=$mode
        [ -d "$path" ] && m=${mode}x
        out=$(chown redis "$path" 2>&1) || echo "Warning: cannot change owner to 'redis' for '$path': $out. $NOTICE"
        out=$(chmod "u+$m" "$path" 2>&1) || echo "Warning: cannot change mode to 'u+$m' for '$path': $out. $NOTICE"
    done
}

fix_data_dir() {
    # only the files redis itself makes; anything else: leave the directory alone
    local other
    other=$(find . -mindepth 1 -maxdepth 1 ! \( -name '*.rdb' -o \( -type d -name appendonlydir \) \) -print -quit)
    if [ -n "$other" ]; then
        echo "Notice: Unknown file '$other' found in data dir. Permissions will not be modified. $NOTICE"
        return 0
    fi
    find . -print0 | fix_owner_and_mode rw
}

fix_config() { # $1 = config file
    local conf=$1 dir other
    [ -n "$conf" ] && [ -f "$conf" ] || return 0
    dir=$(dirname "$conf")
    other=$(find "$dir" -mindepth 1 -maxdepth 1 ! -name "$(basename "$conf" | sed 's/[][?*]/\\&/g')" -print -quit)
    if [ -n "$other" ]; then
        echo "Notice: Unknown file '$other' found in '$dir'. Permissions will not be modified. $NOTICE"
        return 0
    fi
    printf '%s\0%s\0' "$dir" "$conf" | fix_owner_and_mode r
}

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

is_server=""
cmd=$(command -v "$1" 2>/dev/null || :)
if [ -n "$cmd" ] && [ "$(readlink -f "$cmd")" = "$REDIS_SERVER" ]; then
    is_server=1
fi
is_sentinel=""
if [ "$is_server" ]; then
    for a in "$@"; do [ "$a" = --sentinel ] && is_sentinel=1; done
    case "$1" in *redis-sentinel) is_sentinel=1 ;; esac
fi
config=""
if [ "$is_server" ] && [ -n "${2:-}" ] && [ "${2#-}" = "$2" ]; then
    config=$2
fi

if [ "$is_server" ] && [ -z "${SKIP_DROP_PRIVS:-}" ] && [ "$(id -u)" = 0 ] \
        && in_bounding_set setuid && in_bounding_set setgid; then
    if [ -z "${SKIP_FIX_PERMS:-}" ]; then
        if [ "$is_sentinel" ]; then
            fix_config "$config"
        else
            fix_data_dir
            fix_config "$config"
        fi
    fi
    keep=""
    in_bounding_set sys_resource && keep=",+sys_resource"
    bounding=()
    # Dropping the bounding set needs CAP_SETPCAP with trixie's libcap-ng (bookworm's,
    # under the official image, skips it): without it, the uid change alone drops the caps.
    in_bounding_set setpcap && bounding=(--bounding-set="-all$keep")
    exec setpriv --reuid redis --regid redis --clear-groups --nnp \
        --inh-caps="-all$keep" --ambient-caps="-all$keep" "${bounding[@]}" "$0" "$@"
fi

if [ "$(umask)" = 0022 ]; then
    umask 0077
fi

if [ "$is_server" ] && [ -z "$is_sentinel" ]; then
    echo "Starting Redis Server"
    mods=/usr/local/lib/redis/modules
    if [ ! -d "$mods" ]; then
        echo "Warning: Default Redis modules directory $mods/ does not exist."
    else
        for m in "$mods"/*.so; do
            [ -e "$m" ] || continue
            if [ ! -s "$m" ] || [ -d "$m" ] || [ ! -r "$m" ]; then echo "Skipping module $m."; continue; fi
            if [ ! -x "$m" ]; then echo "Warning: Module $m is not executable."; continue; fi
            set -- "$@" --loadmodule "$m"
        done
    fi
fi

exec "$@"
