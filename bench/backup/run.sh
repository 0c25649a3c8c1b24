#!/usr/bin/env bash
# `vpai backup` next to the bare pipeline it wraps, in one run, on the same data: the
# core stack on the local test images (scripts/test-env.sh builds them), a table of
# about SIZE_MB megabytes in n8n's database, one local restic repository each.
#
#   bench/backup/run.sh                # SIZE_MB=1024
#   SIZE_MB=200 bench/backup/run.sh
#
# Rows: (1) `vpai backup` with the data in place vs `pg_dump -Fc | restic backup --stdin`
# of the same database (goal: within 1.2x; vpai also takes the roles, Redis, Qdrant, n8n's
# directory, the rendered files, a per-table checksum manifest in the dump's snapshot);
# (2) a second `vpai backup` with nothing changed, at once and after 90 s idle (goal:
# under 3 s); (3) the drill's wall time, which is the measured time to restore. Needs
# root; removes what it started.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
size_mb=${SIZE_MB:-1024}
work=$(mktemp -d /tmp/vpai-bench-backup.XXXXXX)
# vpai: allow VP902 -- throwaway passphrase of a bench run
export XDG_STATE_HOME="$work/state" VPAI_VAULT_PASSWORD=bench-backup-passphrase NO_COLOR=1
cargo build --release -q -p vpai --manifest-path "$repo/Cargo.toml"
vpai="${CARGO_TARGET_DIR:-$repo/target}/release/vpai"
root="$work/root"
cleanup() {
  "$vpai" down --all --root "$root" -f "$work/stack.toml" >/dev/null 2>&1 || true
  for net in frontend backend egress monitoring sandbox; do docker network rm "benchbk_$net" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

cd "$work"
"$vpai" init --name benchbk --domain localhost --profile core --non-interactive 2>/dev/null
cat "$repo/crates/vpai-spec/src/example-local-images.toml" >>stack.toml
printf '\n[backup]\nrepository = "%s"\nschedule = "off"\n' "$work/repo-vpai" >>stack.toml
"$vpai" up --root "$root" --timeout 900 >/dev/null 2>"$work/up.log" || { tail -30 "$work/up.log"; exit 1; }
pg=benchbk_postgresql
echo "seeding about ${size_mb} MB into n8n's database" >&2
docker exec "$pg" psql -X -q -U postgres -d n8n -c \
  "CREATE TABLE bench_rows (id bigint PRIMARY KEY, body text); INSERT INTO bench_rows SELECT g, repeat(md5(g::text), 16) || md5(random()::text) FROM generate_series(1, ${size_mb} * 1900) g; ALTER TABLE bench_rows OWNER TO n8n"
docker exec "$pg" psql -X -q -U postgres -d n8n -c "VACUUM ANALYZE bench_rows"
# An idle database's steady state: the checkpoint that follows a load is behind it.
docker exec "$pg" psql -X -q -U postgres -d n8n -c "CHECKPOINT"
db_size=$(docker exec "$pg" psql -X -At -U postgres -d n8n -c "SELECT pg_size_pretty(pg_database_size('n8n'))")

# The bare pipeline: the same dump format into a restic repository of its own.
# vpai: allow VP902 -- throwaway passphrase of a bench run
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$work/repo-bare"
restic init -q
t0=$(now)
docker exec "$pg" pg_dump -U postgres -d n8n -Fc | restic backup -q --stdin --stdin-filename n8n.dump >/dev/null
t1=$(now)
bare=$(secs "$t0" "$t1")
unset RESTIC_PASSWORD RESTIC_REPOSITORY

t0=$(now); "$vpai" backup --root "$root" >/dev/null 2>"$work/b1.log" || { cat "$work/b1.log"; exit 1; }; t1=$(now)
first=$(secs "$t0" "$t1")
t0=$(now); "$vpai" backup --root "$root" >/dev/null 2>"$work/b2.log" || { cat "$work/b2.log"; exit 1; }; t1=$(now)
second=$(secs "$t0" "$t1")
# Whether the second run took the dump again by its fingerprint (the cluster's snapshot
# and sequences). Right after a load, autovacuum's workers still assign transaction ids
# (ANALYZE of the catalogs): a third run after its nap time (60 s) is the idle steady state.
reused=$(grep -c 'unchanged: kept from the last backup' "$work/b2.log" || true)
sleep 90
t0=$(now); "$vpai" backup --root "$root" >/dev/null 2>"$work/b3.log" || { cat "$work/b3.log"; exit 1; }; t1=$(now)
third=$(secs "$t0" "$t1")
reused3=$(grep -c 'unchanged: kept from the last backup' "$work/b3.log" || true)
t0=$(now); "$vpai" restore --drill --root "$root" >/dev/null 2>"$work/d.log" || { cat "$work/d.log"; exit 1; }; t1=$(now)
drill=$(secs "$t0" "$t1")

echo "database n8n: $db_size"
printf '%-34s %10s %10s %8s\n' case vpai anchor ratio
printf '%-34s %9ss %9ss %8s\n' "backup (first)" "$first" "$bare" "$(awk -v a="$first" -v b="$bare" 'BEGIN { printf "%.2fx", a / b }')"
printf '%-34s %9ss %10s %8s\n' "backup again at once" "$second" "-" "-"
printf '%-34s %9ss %10s %8s\n' "backup again, idle 90 s" "$third" "-" "goal <3s"
echo "dumps reused by their fingerprint: $reused at once, $reused3 after 90 s idle"
printf '%-34s %9ss %10s %8s\n' "restore drill (RTO)" "$drill" "-" "-"
