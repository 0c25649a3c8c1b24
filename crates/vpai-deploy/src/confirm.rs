//! A deploy that must be confirmed, like Junos' `commit confirmed` or `netplan try`:
//! after `vpai up --confirm-within 15m` (and `vpai vpn-only on`), the host itself puts
//! the previous release back when the delay ends, unless `vpai confirm` cancels it. The
//! switch lives on the host (a systemd timer, or a detached sleeper where systemd does
//! not run), so a deploy that cuts the operator off (an admin UI kept to a VPN whose
//! split DNS does not work yet) undoes itself without them (seed 004 §11: 15 minutes).
//!
//! The revert takes the deploy lock, and does nothing when another release has been
//! deployed since: a later deploy supersedes the switch.

use crate::release;
use crate::state::LOCK_DIR_SCRIPT;
use vpai_host::{Host, HostError};
use vpai_model::Stack;

/// Arm the switch: `$1` root, `$2` project, `$3` delay in seconds, `$4` the release just
/// deployed, `$5` the one to put back, `$6` the revert script, `$7` the restore script,
/// then the compose files to bring up, in phase order.
const ARM: &str = concat!(
    vpai_host::nofollow_sh!(),
    r#"set -euo pipefail
umask 077
root=$1 project=$2 delay=$3 current=$4 target=$5 revert=$6 restore=$7; shift 7
rel=$root/releases unit=vpai-confirm-$project
vpai_nofollow "$root" releases releases/.confirm
[ -d "$rel/$current" ] && [ -d "$rel/$target" ] || { echo "vpai: release $current or $target is not kept" >&2; exit 4; }
CANCEL
cancel >/dev/null
at=$(( $(date +%s) + delay ))
cmd=(bash -c "$revert" vpai-confirm-revert "$root" "$project" "$current" "$target" "$restore" "$@")
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then
  systemctl reset-failed "$unit.timer" "$unit.service" >/dev/null 2>&1 || true
  systemd-run --quiet --unit="$unit" --on-active="${delay}s" --timer-property=AccuracySec=1s -- "${cmd[@]}"
  armer=systemd pid=""
else
  # No systemd: a sleeper in a session of its own, holding nothing of this connection.
  setsid bash -c 'sleep "$1"; shift; exec "$@"' vpai-confirm-sleep "$delay" "${cmd[@]}" \
    </dev/null >>"$rel/.confirm.log" 2>&1 &
  armer=detached pid=$!
fi
printf 'at=%s\nrelease=%s\ntarget=%s\narmer=%s\npid=%s\n' "$at" "$current" "$target" "$armer" "$pid" >"$rel/.confirm.new"
mv -f -- "$rel/.confirm.new" "$rel/.confirm"
echo "armed $at"
"#
);

/// Cancel the switch: `$1` root, `$2` project. Prints `cancelled <release>` or `none`.
const CANCEL_SCRIPT: &str = concat!(
    vpai_host::nofollow_sh!(),
    r#"set -euo pipefail
root=$1 project=$2
rel=$root/releases unit=vpai-confirm-$project
vpai_nofollow "$root" releases releases/.confirm
CANCEL
cancel
"#
);

/// The shell function both scripts share (`$rel` and `$unit` set).
/// The revert marks `.confirm` with `firing=` under a lock on the releases directory
/// before it touches anything: a cancel that comes later leaves it alone (killing a
/// revert half-way would leave a half-restored release) and prints `firing <release>`.
const CANCEL_FN: &str = r#"cancel() {
  local rc=0
  exec 7<"$rel"
  if flock -w 30 7; then cancel_locked || rc=$?; else echo "vpai: the confirmation switch is busy" >&2; rc=1; fi
  exec 7<&-
  return $rc
}
cancel_locked() {
  local armer="" pid="" release="" firing="" k v
  [ -f "$rel/.confirm" ] || { echo none; return 0; }
  while IFS== read -r k v; do
    case $k in armer) armer=$v;; pid) pid=$v;; release) release=$v;; firing) firing=$v;; esac
  done <"$rel/.confirm"
  if [ -n "$firing" ]; then echo "firing $release"; return 0; fi
  if [ "$armer" = systemd ]; then
    systemctl stop "$unit.timer" >/dev/null 2>&1 || true
  elif [[ $pid =~ ^[0-9]+$ ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
  fi
  rm -f -- "$rel/.confirm"
  echo "cancelled $release"
}"#;

/// What the timer runs: under the deploy lock, and only if the release it was armed
/// for is still current, put the previous release's files back and bring the phases up.
const REVERT: &str = r#"set -uo pipefail
umask 077
root=$1 project=$2 current=$3 target=$4 restore=$5; shift 5
rel=$root/releases
LOCKDIR
lock=$lockdir/vpai-$project.lock
exec 9>>"$lock"
flock -w 900 9 || { echo "vpai: a deploy held the lock for 15 minutes: nothing reverted" >&2; exit 1; }
now=$(date +%s)
# Cancelled while this waited for the lock: nothing to do. Otherwise say it fires, so
# a late `vpai confirm` cannot stop it half-way.
exec 7<"$rel"
flock -w 30 7 || { echo "vpai: the confirmation switch is busy: nothing reverted" >&2; exit 1; }
[ -f "$rel/.confirm" ] || { echo "the switch was cancelled: nothing to revert"; exit 0; }
cp -- "$rel/.confirm" "$rel/.confirm.new" && echo "firing=$now" >>"$rel/.confirm.new" && mv -f -- "$rel/.confirm.new" "$rel/.confirm"
exec 7<&-
live=$(readlink -- "$rel/current" 2>/dev/null || true)
if [ "$live" != "$current" ]; then
  echo "release $live replaced $current since: nothing to revert"
  rm -f -- "$rel/.confirm"
  exit 0
fi
printf 'state=running\npid=%s\nby=vpai-confirm-revert\n' "$$" >"$lock"
ok=yes
bash -c "$restore" vpai-restore "$root" "$target" "$current" 1 || ok=no
if [ $ok = yes ]; then
  for f in "$@"; do
    [ -f "$root/$f" ] || continue
    docker compose -f "$root/$f" up -d --remove-orphans || ok=no
  done
fi
printf 'at=%s\nrelease=%s\nreverted_to=%s\nok=%s\n' "$now" "$current" "$target" "$ok" >"$rel/.confirm-reverted"
rm -f -- "$rel/.confirm"
: >"$lock"
"#;

/// The switch as the host reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConfirmState {
    /// Armed: the release it would undo, the one it puts back, when (Unix seconds).
    pub armed: Option<(String, String, u64)>,
    /// The last revert it did: the release undone, the one put back, when, success.
    pub reverted: Option<(String, String, u64, bool)>,
    /// The revert is running now (Unix seconds it started).
    pub firing: Option<u64>,
}

fn fail(host: &dyn Host, what: &str, out: &vpai_host::CmdOutput) -> HostError {
    HostError::Io {
        path: format!("{}: {what}", host.name()),
        source: std::io::Error::other(format!("exit {}: {}", out.status, out.stderr_text().trim())),
    }
}

/// Arm the switch on the host: after `delay`, release `target` comes back unless
/// [`cancel`] runs first. Returns when it fires (Unix seconds).
pub fn arm(
    host: &dyn Host,
    stack: &Stack,
    delay: std::time::Duration,
    current: &str,
    target: &str,
) -> Result<u64, HostError> {
    let root = stack.root.display().to_string();
    let script = ARM.replace("CANCEL", CANCEL_FN);
    let revert = REVERT.replace("LOCKDIR", LOCK_DIR_SCRIPT);
    let secs = delay.as_secs().max(1).to_string();
    let mut args = vec![
        "bash",
        "-c",
        &script,
        "vpai-confirm-arm",
        &root,
        &stack.project,
        &secs,
        current,
        target,
        &revert,
        release::RESTORE,
    ];
    for phase in [vpai_catalog::Phase::Infra, vpai_catalog::Phase::Apps] {
        args.push(Stack::compose_file(phase));
    }
    let out = host.run(&args, None)?;
    let text = out.stdout_text();
    match text.trim().strip_prefix("armed ").map(str::parse::<u64>) {
        Some(Ok(at)) if out.success() => Ok(at),
        _ => Err(fail(host, "arming the confirmation switch", &out)),
    }
}

/// What a cancel found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// Nothing was armed.
    None,
    /// The switch for this release is off.
    Cancelled(String),
    /// Too late: the revert of this release is running and was left alone.
    Firing(String),
}

/// Cancel an armed switch, unless its revert already runs.
pub fn cancel(host: &dyn Host, stack: &Stack) -> Result<Cancelled, HostError> {
    let root = stack.root.display().to_string();
    let script = CANCEL_SCRIPT.replace("CANCEL", CANCEL_FN);
    let out = host.run(
        &[
            "bash",
            "-c",
            &script,
            "vpai-confirm-cancel",
            &root,
            &stack.project,
        ],
        None,
    )?;
    if !out.success() {
        return Err(fail(host, "cancelling the confirmation switch", &out));
    }
    let text = out.stdout_text();
    let text = text.trim();
    Ok(if let Some(r) = text.strip_prefix("cancelled ") {
        Cancelled::Cancelled(r.to_string())
    } else if let Some(r) = text.strip_prefix("firing ") {
        Cancelled::Firing(r.to_string())
    } else {
        Cancelled::None
    })
}

/// Read the switch's state (armed, last revert).
pub fn read(host: &dyn Host, stack: &Stack) -> Result<ConfirmState, HostError> {
    let rel = stack.root.join("releases");
    let files = crate::state::read_files(
        host,
        &rel.display().to_string(),
        &[".confirm", ".confirm-reverted"],
    )?;
    let fields = |bytes: &Option<Vec<u8>>| -> std::collections::BTreeMap<String, String> {
        bytes
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let armed = fields(&files[0]);
    let reverted = fields(&files[1]);
    let at = |m: &std::collections::BTreeMap<String, String>| {
        m.get("at").and_then(|a| a.parse::<u64>().ok())
    };
    Ok(ConfirmState {
        armed: match (armed.get("release"), armed.get("target"), at(&armed)) {
            (Some(r), Some(t), Some(a)) => Some((r.clone(), t.clone(), a)),
            _ => None,
        },
        firing: armed.get("firing").and_then(|a| a.parse::<u64>().ok()),
        reverted: match (
            reverted.get("release"),
            reverted.get("reverted_to"),
            at(&reverted),
        ) {
            (Some(r), Some(t), Some(a)) => Some((
                r.clone(),
                t.clone(),
                a,
                reverted.get("ok").is_some_and(|o| o == "yes"),
            )),
            _ => None,
        },
    })
}
