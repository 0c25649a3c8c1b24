#!/usr/bin/env bash
# Deploy benchmark over real SSH: vpai vs the Ansible baseline (../shared/bench/ansible-baseline),
# same machine, same sshd, same workload, side by side in one hyperfine run.
#
#   bench/deploy/run.sh                 # RUNS=5 ansible runs, FAST_RUNS=20 vpai runs
#   RUNS=3 FAST_RUNS=10 bench/deploy/run.sh
#   SKIP_ANSIBLE=1 bench/deploy/run.sh  # reuse the last ansible figures (iterating on vpai only)
#
# Workload A (the baseline's): the 40 files + 12 directories Ansible renders for a
# 12-service stack (~280 KB), deployed to 127.0.0.1 over SSH: first deploy into an empty
# destination, then a no-op re-run. vpai ships that exact tree through its deploy path
# (crates/vpai-deploy/examples/deploy_tree.rs: SSH master, lock + host state in one
# command, plan by sha256, one tar stream installed as an atomic release); the result is
# checked byte for byte, mode and owner, against Ansible's own render.
# Workload B (vpai's real CLI): `vpai up` no-op and `vpai plan` of a running 2-service
# stack (vpai-test/base image) over the same sshd: render + vault + lock + host state +
# containers; the app has a secret in a passphrase vault, and the no-op runs twice:
# locked (the key derived from the passphrase file on every run) and unlocked (`vpai
# unlock`: the kernel keyring holds it; goal under 0.4 s). Skipped when the image is
# missing.
#
# Copies the baseline to $WORK (never writes into ../shared), starts its own sshd on a
# free loopback port (SetEnv SHLVL=1 like the baseline), stops it on exit.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
baseline="${BASELINE:-$repo/../shared/bench/ansible-baseline}"
work="${WORK:-/tmp/vpai-bench-deploy}"
runs="${RUNS:-5}"
fast="${FAST_RUNS:-20}"
ansible_version="${ANSIBLE_CORE_VERSION:-2.19.14}"
target="${CARGO_TARGET_DIR:-$repo/target}"
log() { printf '\n=== %s\n' "$*" >&2; }

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v rsync >/dev/null || need+=(rsync)
if ((${#need[@]})); then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; fi

# ---------------------------------------------------------------- the baseline, copied
mkdir -p "$work"
rsync -a --delete --exclude .venv --exclude work --exclude results --exclude .ansible "$baseline/" "$work/ansible/"
chmod -R u+w "$work/ansible"
if ! "$work/venv/bin/python" -c "import sys, ansible.release as r; sys.exit(r.__version__ != '$ansible_version')" 2>/dev/null; then
  log "venv with ansible-core==$ansible_version"
  rm -rf "$work/venv"; python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q "ansible-core==$ansible_version"
fi

log "building vpai (release)"
cargo build --release -q -p vpai --manifest-path "$repo/Cargo.toml"
cargo build --release -q -p vpai-deploy --example deploy_tree --manifest-path "$repo/Cargo.toml"
vpai="$target/release/vpai"
tree="$target/release/examples/deploy_tree"

# ---------------------------------------------------------------- sshd on a free port
W="$work/ansible/work"
rm -rf "$W"; mkdir -p "$W/ssh" "$W/remote_tmp"; chmod 700 "$W/ssh"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -C bench-hostkey -f "$W/ssh/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$W/ssh/id_ed25519"
echo "from=\"127.0.0.1\" $(cat "$W/ssh/id_ed25519.pub")" >"$W/ssh/authorized_keys"
chmod 600 "$W/ssh/authorized_keys"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$W/ssh/ssh_host_ed25519_key.pub")" >"$W/ssh/known_hosts"
cat >"$W/ssh/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $W/ssh/ssh_host_ed25519_key
PidFile $W/ssh/sshd.pid
AuthorizedKeysFile $W/ssh/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root@127.0.0.1
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
# The work tree lives under /tmp (world-writable), which StrictModes refuses.
StrictModes no
MaxSessions 50
LogLevel INFO
Subsystem sftp /usr/lib/openssh/sftp-server
SetEnv SHLVL=1
EOF
sed -i "s/ansible_port: 2222/ansible_port: $port/" "$work/ansible/inventory/hosts.yml"
mkdir -p /run/sshd
/usr/sbin/sshd -t -f "$W/ssh/sshd_config"
/usr/sbin/sshd -f "$W/ssh/sshd_config" -E "$W/ssh/sshd.log"
stop() {
  "$work/ansible/tools/ssh-close-masters.sh" || true
  if [ -f "$W/ssh/sshd.pid" ]; then kill "$(cat "$W/ssh/sshd.pid")" 2>/dev/null || true; fi
  if [ -n "${stack_dir:-}" ] && [ -f "$stack_dir/root/docker-compose.yml" ]; then
    docker compose -f "$stack_dir/root/docker-compose.yml" down -t 1 >/dev/null 2>&1 || true
    docker compose -f "$stack_dir/root/docker-compose-infra.yml" down -t 1 >/dev/null 2>&1 || true
    docker network rm benchvpai_backend benchvpai_frontend benchvpai_egress benchvpai_monitoring >/dev/null 2>&1 || true
  fi
}
trap stop EXIT
for _ in $(seq 50); do [ -s "$W/ssh/sshd.pid" ] && break; sleep 0.1; done
echo "sshd pid $(cat "$W/ssh/sshd.pid") on 127.0.0.1:$port" >&2

export ANSIBLE_CONFIG="$work/ansible/ansible.cfg" ANSIBLE_REMOTE_TEMP="$W/remote_tmp"
export ANSIBLE_SSH_CONTROL_PATH_DIR="$work/ansible/.ansible/cp" ANSIBLE_NOCOLOR=1
AP="$work/venv/bin/ansible-playbook $work/ansible/playbook.yml"
CLOSE="$work/ansible/tools/ssh-close-masters.sh"
cd "$work/ansible"

log "reference tree: ansible renders it locally once"
$AP -c local -e bench_dest="$W/dest-local" >"$W/local.log"
SRC="$W/dest-local/opt/selfhost"
TREE="$tree $SRC $W/dest-vpai/opt/selfhost --port $port --identity $W/ssh/id_ed25519 --known-hosts $W/ssh/known_hosts"

# ---------------------------------------------------------------- workload B: a running stack
stack_dir=""
if docker image inspect vpai-test/base:trixie >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  stack_dir="$work/stack"
  rm -rf "$stack_dir"; mkdir -p "$stack_dir/catalog"
  for svc in store:infra app:apps; do
    name=${svc%%:*} phase=${svc##*:}
    cat >"$stack_dir/catalog/$name.toml" <<EOF
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
  # The app reads a secret of the vault, so that every `vpai up` opens it.
  cat >>"$stack_dir/catalog/app.toml" <<'EOF'
[env]
BENCH_TOKEN = "{{ secrets.bench_token }}"
[[secrets]]
name = "bench_token"
format = "hex"
length = 32
rotate = "quarterly"
EOF
  (umask 077 && head -c 24 /dev/urandom | base64 >"$work/vault-pass")
  export VPAI_VAULT_PASSWORD_FILE="$work/vault-pass"
  cat >"$stack_dir/stack.toml" <<EOF
[project]
name = "benchvpai"
domain = "localhost"
services = ["store", "app"]
tls = "internal"
subnet = "10.249.0.0/16"
[images]
store = "vpai-test/base:trixie"
app = "vpai-test/base:trixie"
[hosts.bench]
address = "127.0.0.1"
user = "root"
ssh_port = $port
identity = "$W/ssh/id_ed25519"
known_hosts = "$W/ssh/known_hosts"
EOF
  (cd "$stack_dir" && "$vpai" up --root "$stack_dir/root" --no-preflight >"$work/stack-up.log" 2>&1) \
    || { echo "workload B: the first vpai up failed:" >&2; cat "$work/stack-up.log" >&2; exit 1; }
else
  echo "workload B skipped: vpai-test/base:trixie or compose missing (scripts/test-env.sh builds it)" >&2
fi

# ---------------------------------------------------------------- measurements, one run
log "hyperfine: ansible and vpai over the same sshd"
cmds=(
  -n ansible-ssh-first --prepare "rm -rf $W/dest-ssh; $CLOSE" "$AP -e bench_dest=$W/dest-ssh"
  -n ansible-ssh-noop --prepare "$CLOSE" "$AP -e bench_dest=$W/dest-ssh"
  -n ansible-pipe-first --prepare "rm -rf $W/dest-pipe; $CLOSE" "env ANSIBLE_CONFIG=$work/ansible/ansible-pipelining.cfg $AP -e bench_dest=$W/dest-pipe"
  -n ansible-pipe-noop --prepare "$CLOSE" "env ANSIBLE_CONFIG=$work/ansible/ansible-pipelining.cfg $AP -e bench_dest=$W/dest-pipe"
)
if [ "${SKIP_ANSIBLE:-0}" = 1 ] && [ -f "$work/ansible.json" ]; then
  echo "SKIP_ANSIBLE=1: reusing $work/ansible.json from an earlier run (not side by side)" >&2
else
  hyperfine --style basic --runs "$runs" --export-json "$work/ansible.json" "${cmds[@]}" >&2
fi
# The floor of any tool that ships this tree over the same sshd: one `tar | ssh tar x`
# (a first deploy with no plan, no atomic release, no lock) and an rsync no-op (a
# checksum-free comparison of sizes and times). Each pays its own SSH handshake, as
# vpai's runs do.
SSH="ssh -p $port -i $W/ssh/id_ed25519 -o UserKnownHostsFile=$W/ssh/known_hosts -o BatchMode=yes -o ControlMaster=no"
TARSSH="tar -C $SRC -cf - . | $SSH root@127.0.0.1 'mkdir -p $W/dest-tar && tar -C $W/dest-tar -xpf -'"
RSYNC="rsync -a --delete -e '$SSH' $SRC/ root@127.0.0.1:$W/dest-rsync/"
# hyperfine pairs a `--prepare` given more than once with each command in order (given
# once, it runs before every command): one for each, `true` where none is needed.
vcmds=(
  -n vpai-tree-first --prepare "rm -rf $W/dest-vpai" "$TREE"
  -n tar-ssh-first --prepare "rm -rf $W/dest-tar" "$TARSSH"
  -n vpai-tree-noop --prepare true "$TREE"
  -n rsync-noop --prepare true "$RSYNC"
)
if [ -n "$stack_dir" ]; then
  vcmds+=(
    -n vpai-up-noop --prepare "cd $stack_dir && $vpai -q lock" "cd $stack_dir && $vpai -q up --root $stack_dir/root"
    -n vpai-plan --prepare "cd $stack_dir && $vpai -q lock" "cd $stack_dir && $vpai -q plan --root $stack_dir/root"
    --prepare "cd $stack_dir && $vpai -q unlock --for 30m" -n vpai-up-noop-unlocked
    "cd $stack_dir && env -u VPAI_VAULT_PASSWORD_FILE $vpai -q up --root $stack_dir/root"
  )
fi
$TREE >/dev/null   # the no-op runs on a deployed tree
eval "$RSYNC"      # and so does rsync's
hyperfine --style basic --warmup 1 --runs "$fast" --export-json "$work/vpai.json" "${vcmds[@]}" >&2

# ---------------------------------------------------------------- verification
log "verification"
rm -rf "$W/dest-vpai"; $TREE >/dev/null; [ "$($TREE)" = noop ] || { echo "vpai re-run is not a no-op"; exit 1; }
listing() { (cd "$1" && find . -path ./releases -prune -o ! -name vpai-manifest.json -printf '%y %m %u:%g %s %P\n' | sort \
  && find . -path ./releases -prune -o -type f ! -name vpai-manifest.json -print0 | sort -z | xargs -0 sha256sum); }
listing "$SRC" >"$W/tree-local.txt"
listing "$W/dest-vpai/opt/selfhost" >"$W/tree-vpai.txt"
if cmp -s "$W/tree-local.txt" "$W/tree-vpai.txt"; then
  echo "vpai's tree is identical to Ansible's render (content, mode, owner): $(grep -c '^f ' "$W/tree-local.txt") files, $(grep -c '^d ' "$W/tree-local.txt") dirs"
else
  echo "vpai's tree DIFFERS from Ansible's render:"; diff "$W/tree-local.txt" "$W/tree-vpai.txt" | head; exit 1
fi

# Where vpai's time goes: one traced run of each (remote commands, ms each).
trace="$work/trace"; rm -f "$trace"*
rm -rf "$W/dest-vpai"
VPAI_SSH_TRACE="$trace.first" $TREE >/dev/null
VPAI_SSH_TRACE="$trace.noop" $TREE >/dev/null
if [ -n "$stack_dir" ]; then
  (cd "$stack_dir" && VPAI_SSH_TRACE="$trace.up-noop" "$vpai" -q up --root "$stack_dir/root" >/dev/null)
fi

python3 - "$work" <<'PY'
import json, sys, glob, os
w = sys.argv[1]
r = {}
for f in ("ansible.json", "vpai.json"):
    for x in json.load(open(os.path.join(w, f)))["results"]:
        r[x["command"]] = x
def row(name):
    x = r[name]
    return f"| {name} | {x['median']:.3f} | {x['min']:.3f} | {x['max']:.3f} | {len(x['times'])} |"
print("\n| scenario | median s | min s | max s | runs |\n|---|---:|---:|---:|---:|")
for name in r:
    print(row(name))
med = lambda n: r[n]["median"]
print()
for a, v in [("ansible-ssh-first", "vpai-tree-first"), ("ansible-pipe-first", "vpai-tree-first"),
             ("ansible-ssh-noop", "vpai-tree-noop"), ("ansible-pipe-noop", "vpai-tree-noop"),
             ("ansible-ssh-noop", "vpai-up-noop")]:
    if a in r and v in r:
        print(f"{v} vs {a}: {med(a):.2f} s / {med(v)*1000:.0f} ms = {med(a)/med(v):.0f}x faster")
# Against the floor of shipping the same tree over the same sshd (goals: a first deploy
# within 1.5x of tar|ssh, a no-op within 1.2x of rsync).
if "vpai-up-noop-unlocked" in r:
    u, l = med("vpai-up-noop-unlocked"), med("vpai-up-noop")
    print(f"vpai up no-op over SSH: locked {l*1000:.0f} ms, unlocked {u*1000:.0f} ms (goal under 400 ms{'' if u < 0.4 else ', not met'})")
for v, a, goal in [("vpai-tree-first", "tar-ssh-first", 1.5), ("vpai-tree-noop", "rsync-noop", 1.2)]:
    if a in r and v in r:
        ratio = med(v) / med(a)
        print(f"{v} vs {a}: {med(v)*1000:.0f} ms / {med(a)*1000:.0f} ms = {ratio:.2f}x (goal {goal}x{'' if ratio <= goal else ', not met'})")
print("\nremote commands of one traced run (ms, bytes on stdin, what):")
for f in sorted(glob.glob(os.path.join(w, "trace.*"))):
    lines = [l.rstrip("\n").split("\t") for l in open(f)]
    total = sum(float(l[0]) for l in lines)
    print(f"  {os.path.basename(f)[6:]}: {len(lines)} commands, {total:.0f} ms in ssh")
    for l in lines:
        print(f"    {float(l[0]):7.1f} ms  {int(l[1]):7d} B  {l[2]}")
PY
