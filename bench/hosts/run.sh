#!/usr/bin/env bash
# Several hosts: a no-op `vpai up` of three hosts vs one host, next to the Ansible
# baseline's no-op on the same three hosts vs one (its default forks, 5), side by side in
# one hyperfine run. Goal: vpai's three-host no-op within 1.5x of its one-host no-op.
#
#   bench/hosts/run.sh                  # RUNS=3 (an Ansible no-op of the tree takes ~45 s)
#   RUNS=5 bench/hosts/run.sh
#
# Each host is a network and mount namespace with its own Docker engine (dockerd, its own
# data root and /run), its own /opt and its own sshd on 10.253.N.2:22, as the multi-host
# end-to-end test makes them. vpai deploys a two-service stack (vpai-test/base) to all
# three; Ansible deploys the baseline's tree (../shared/bench/ansible-baseline) to the
# same three sshd. Root only; everything it starts is stopped on exit.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
baseline="${BASELINE:-$repo/../shared/bench/ansible-baseline}"
work="${WORK:-/tmp/vpai-bench-hosts}"
runs="${RUNS:-3}"
ansible_version="${ANSIBLE_CORE_VERSION:-2.19.14}"
target="${CARGO_TARGET_DIR:-$repo/target}"
image=vpai-test/base:trixie
log() { printf '\n=== %s\n' "$*" >&2; }

command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; }
docker image inspect "$image" >/dev/null || { echo "$image is missing: scripts/test-env.sh builds it" >&2; exit 1; }

rm -rf "$work"; mkdir -p "$work/ops/catalog"
log "building vpai (release)"
cargo build --release -q -p vpai --manifest-path "$repo/Cargo.toml"
vpai="$target/release/vpai"

# ---------------------------------------------------------------- three hosts
pids=() ; holders=()
stop() {
  for n in 1 2 3; do
    pid=${pids[$n]:-}
    [ -n "$pid" ] || continue
    nsenter -t "$pid" -n -m -- sh -c 'kill $(cat /run/sshd.pid) $(cat /run/docker.pid) 2>/dev/null' || true
  done
  sleep 3
  for h in "${holders[@]}"; do kill "$h" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT TERM
ssh-keygen -q -t ed25519 -N '' -C vpai-bench-operator -f "$work/ops/id_ed25519"
: >"$work/ops/known_hosts"
start_host() {
  local n=$1 d="$work/h$n"
  mkdir -p "$d"
  unshare --net --mount -- sleep infinity &
  holders+=($!)
  local pid=$!
  for _ in $(seq 100); do [ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.05; done
  pids[$n]=$pid
  ip link add "vbh$n" type veth peer name eth0 netns "$pid"
  ip addr add "10.253.$n.1/30" dev "vbh$n"; ip link set "vbh$n" up
  nsenter -t "$pid" -n -m -- sh -c "ip addr add 10.253.$n.2/30 dev eth0 && ip link set eth0 up && ip link set lo up &&
    mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd /run/lock /run/vpai-flags && mount -t tmpfs -o mode=0755 tmpfs /opt"
  nsenter -t "$pid" -n -m -- dockerd --data-root "$d/docker" --exec-root /run/docker-exec --pidfile /run/docker.pid \
    --shutdown-timeout 2 >"$d/dockerd.log" 2>&1 &
  for _ in $(seq 300); do nsenter -t "$pid" -n -m -- docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker save "$image" | nsenter -t "$pid" -n -m -- docker load -q >/dev/null
  ssh-keygen -q -t ed25519 -N '' -C "vpai-bench-h$n" -f "$d/host_key"
  cp "$work/ops/id_ed25519.pub" "$d/authorized_keys"
  cat >"$d/sshd_config" <<EOF
Port 22
ListenAddress 10.253.$n.2
HostKey $d/host_key
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
PidFile /run/sshd.pid
StrictModes no
MaxSessions 50
MaxStartups 50
SetEnv SHLVL=1
EOF
  nsenter -t "$pid" -n -m -- /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log"
  echo "10.253.$n.2 $(cut -d' ' -f1-2 "$d/host_key.pub")" >>"$work/ops/known_hosts"
}
log "three hosts: namespaces, engines, sshd"
for n in 1 2 3; do start_host "$n"; done

# ---------------------------------------------------------------- the stack
for svc in kv:infra api:apps; do
  name=${svc%%:*} phase=${svc##*:}
  cat >"$work/ops/catalog/$name.toml" <<EOF
name = "$name"
description = "benchmark service"
phase = "$phase"
image = "vpai-test/base"
version = "trixie"
uid = 0
gid = 0
tools = ["sh", "true", "sleep"]
memory = "64M"
memory_floor = "16M"
networks = ["backend"]
init = true
command = ["sleep", "infinity"]
[healthcheck]
test = ["CMD", "true"]
interval = "1s"
start_period = "0s"
EOF
done
{
  printf '[project]\nname = "benchhosts"\ndomain = "localhost"\nservices = ["kv", "api"]\ntls = "internal"\nsubnet = "10.239.0.0/16"\n'
  printf '[images]\nkv = "%s"\napi = "%s"\n[backup]\nschedule = "off"\n' "$image" "$image"
  for n in 1 2 3; do
    printf '[hosts.h%s]\naddress = "10.253.%s.2"\nuser = "root"\nidentity = "id_ed25519"\nknown_hosts = "known_hosts"\n' "$n" "$n"
  done
} >"$work/ops/stack.toml"
(umask 077 && head -c 24 /dev/urandom | base64 >"$work/ops/vault-pass")
export VPAI_VAULT_PASSWORD_FILE="$work/ops/vault-pass" XDG_STATE_HOME="$work/ops/.state"
log "first deploy to the three hosts"
(cd "$work/ops" && "$vpai" up >"$work/first-up.log" 2>&1) || { cat "$work/first-up.log" >&2; exit 1; }
# Unlocked, as an operator who runs several commands does (`vpai unlock`).
(cd "$work/ops" && "$vpai" -q unlock --for 30m)
unset VPAI_VAULT_PASSWORD_FILE

# ---------------------------------------------------------------- Ansible on the same hosts
mkdir -p "$work/ansible"
rsync -a --exclude .venv --exclude work --exclude results --exclude .ansible "$baseline/" "$work/ansible/"
chmod -R u+w "$work/ansible"
if ! "$work/venv/bin/python" -c "import sys, ansible.release as r; sys.exit(r.__version__ != '$ansible_version')" 2>/dev/null; then
  log "venv with ansible-core==$ansible_version"
  rm -rf "$work/venv"; python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q "ansible-core==$ansible_version"
fi
{
  printf 'all:\n  children:\n    stack:\n      hosts:\n'
  for n in 1 2 3; do
    printf '        h%s:\n          ansible_host: 10.253.%s.2\n          ansible_port: 22\n          ansible_user: root\n' "$n" "$n"
    printf '          ansible_ssh_private_key_file: %s\n' "$work/ops/id_ed25519"
    printf '          ansible_ssh_common_args: "-o UserKnownHostsFile=%s"\n' "$work/ops/known_hosts"
  done
} >"$work/ansible/inventory/hosts.yml"
export ANSIBLE_CONFIG="$work/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1
AP="$work/venv/bin/ansible-playbook $work/ansible/playbook.yml -e bench_dest=/opt/ansible-bench"
log "Ansible's first deploy to the three hosts"
(cd "$work/ansible" && $AP >"$work/ansible-first.log" 2>&1) || { tail -30 "$work/ansible-first.log" >&2; exit 1; }

# ---------------------------------------------------------------- measurements, one run
log "hyperfine: no-op on three hosts and on one, vpai and Ansible"
cd "$work/ops"
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/hosts.json" \
  -n vpai-3-hosts "$vpai -q up" \
  -n vpai-1-host "$vpai -q up --host h1" \
  -n ansible-3-hosts "cd $work/ansible && $AP" \
  -n ansible-1-host "cd $work/ansible && $AP -l h1" >&2

python3 - "$work/hosts.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = lambda n: r[n]["median"]
print("\n| scenario | median s | min s | max s |\n|---|---:|---:|---:|")
for n, x in r.items():
    print(f"| {n} | {x['median']:.3f} | {x['min']:.3f} | {x['max']:.3f} |")
v = med("vpai-3-hosts") / med("vpai-1-host")
a = med("ansible-3-hosts") / med("ansible-1-host")
print(f"\nvpai no-op: 3 hosts / 1 host = {v:.2f}x (goal 1.5x{'' if v <= 1.5 else ', not met'})")
print(f"Ansible no-op (forks 5): 3 hosts / 1 host = {a:.2f}x")
print(f"3 hosts: Ansible {med('ansible-3-hosts'):.2f} s / vpai {med('vpai-3-hosts'):.2f} s = {med('ansible-3-hosts')/med('vpai-3-hosts'):.0f}x")
PY
