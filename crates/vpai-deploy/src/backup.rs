//! Backups on the host: the engine `vpai up` writes (`<root>/backup/vpai-backup`) run
//! over the same transport as everything else, its progress read line by line. The
//! engine does the work on the host (the timer runs it too); this side checks that the
//! host has the engine and captures of this stack.toml, shows progress, puts several
//! captures back as one restore (each one undone if a later step fails) and reads the
//! results.

use crate::health::Progress;
use crate::probes::{self, ProbeOutcome};
use crate::state;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use vpai_host::{Host, HostError};
use vpai_model::Stack;
use vpai_render::Rendered;
use vpai_render::backup::{ENGINE, RenderedBackup, unit_name};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(
        "the backup files on `{host}` are not those of this stack.toml ({detail})\n  help: run `vpai up` first: it writes them (`vpai plan` shows the difference)"
    )]
    Outdated { host: String, detail: String },
    /// The engine failed: its message (the cause), already said on the host's terms.
    #[error("{message}")]
    Engine { message: String, status: i32 },
    #[error("{0}")]
    Invalid(String),
}

/// One `vpai-event` line of the engine: its fields after the marker.
pub type Event = Vec<String>;

/// What one engine run printed.
#[derive(Debug, Clone)]
pub struct EngineRun {
    pub events: Vec<Event>,
    pub status: i32,
    pub stderr: String,
}

impl EngineRun {
    fn find(&self, kind: &str) -> Option<&Event> {
        self.events.iter().rev().find(|e| e[0] == kind)
    }
}

/// Fail unless the host's `backup/` files are the rendered ones (one round trip).
pub fn ensure_current(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
) -> Result<(), BackupError> {
    let ours: Vec<&vpai_render::Artifact> = rendered
        .artifacts
        .iter()
        .filter(|a| a.path.starts_with("backup/"))
        .collect();
    let paths: Vec<&str> = ours.iter().map(|a| a.path.as_str()).collect();
    let seen = state::read(host, stack, &paths, &[])?;
    let differ: Vec<&str> = ours
        .iter()
        .filter(|a| {
            seen.files
                .get(&a.path)
                .is_none_or(|f| f.sha256 != a.sha256())
        })
        .map(|a| a.path.as_str())
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    let detail = if differ.contains(&ENGINE) && !seen.files.contains_key(ENGINE) {
        "no backup engine there yet".to_string()
    } else {
        let mut shown: Vec<&str> = differ.iter().take(3).copied().collect();
        if differ.len() > 3 {
            shown.push("...");
        }
        format!("differ: {}", shown.join(", "))
    };
    Err(BackupError::Outdated {
        host: host.name().to_string(),
        detail,
    })
}

/// Where the engine is on the host.
fn engine_path(stack: &Stack) -> String {
    format!("{}/{ENGINE}", stack.root.display())
}

/// Run the engine with `args`, calling `on_event` for each progress line.
pub fn engine(
    host: &dyn Host,
    stack: &Stack,
    args: &[&str],
    on_event: &dyn Fn(&Event),
) -> Result<EngineRun, HostError> {
    let path = engine_path(stack);
    let mut argv = vec![path.as_str()];
    argv.extend_from_slice(args);
    let mut child = host.spawn(&argv)?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let mut events = Vec::new();
    let mut stderr = String::new();
    std::thread::scope(|scope| {
        let err_reader = scope.spawn(move || {
            let mut text = String::new();
            if let Some(mut e) = err {
                let mut buf = Vec::new();
                // Capped: an engine message is a few lines.
                let _ = (&mut e).take(256 * 1024).read_to_end(&mut buf);
                let _ = std::io::copy(&mut e, &mut std::io::sink());
                text = String::from_utf8_lossy(&buf).into_owned();
            }
            text
        });
        if let Some(out) = out {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("vpai-event\t") {
                    let event: Event = rest.split('\t').map(str::to_string).collect();
                    on_event(&event);
                    events.push(event);
                }
            }
        }
        stderr = err_reader.join().unwrap_or_default();
    });
    drop(child.stdin.take());
    let status = child.wait().map_err(|source| HostError::Spawn {
        program: ENGINE.to_string(),
        source,
    })?;
    Ok(EngineRun {
        events,
        status: status.code().unwrap_or(1),
        stderr,
    })
}

/// The engine's message when it failed.
fn engine_error(run: &EngineRun, redact: &dyn Fn(&str) -> String) -> BackupError {
    let text = run
        .stderr
        .lines()
        .map(|l| l.strip_prefix("vpai-backup: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    BackupError::Engine {
        message: redact(text.trim()),
        status: run.status,
    }
}

/// What a backup did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub snapshot: String,
    pub bytes: u64,
    pub seconds: u64,
    pub captures: Vec<CaptureReport>,
    pub warnings: Vec<String>,
    pub heartbeat: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureReport {
    pub id: String,
    pub bytes: u64,
    pub seconds: u64,
    /// Its data had not changed since the last backup (its fingerprint): the capture
    /// kept from then was taken again.
    pub unchanged: bool,
}

/// Take a backup now: every capture, one snapshot, the retention.
pub fn run(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<BackupReport, BackupError> {
    ensure_current(host, stack, rendered)?;
    let show = |e: &Event| match e[0].as_str() {
        "captured" if e.len() > 2 => {
            let unchanged = if e.get(4).is_some_and(|u| u == "unchanged") {
                ", unchanged: kept from the last backup"
            } else {
                ""
            };
            progress.service(
                &e[1],
                &format!("captured ({}{unchanged})", human_bytes(num(&e[2]))),
            )
        }
        "snapshot" if e.len() > 1 => progress.step(&format!("snapshot {} written", e[1])),
        "repository-created" => progress.step("the repository did not exist: created"),
        "warning" => progress.step(&format!("warning: {}", e[1..].join(": "))),
        _ => {}
    };
    let run = engine(host, stack, &["run"], &show)?;
    if run.status != 0 {
        return Err(engine_error(&run, redact));
    }
    let done = run
        .find("done")
        .ok_or_else(|| BackupError::Invalid("the backup engine did not say it was done".into()))?;
    let size = run
        .find("snapshot")
        .map_or(0, |e| num(e.get(2).map_or("", String::as_str)));
    Ok(BackupReport {
        snapshot: done.get(1).cloned().unwrap_or_default(),
        bytes: size,
        seconds: num(done.get(2).map_or("", String::as_str)),
        captures: run
            .events
            .iter()
            .filter(|e| e[0] == "captured" && e.len() > 3)
            .map(|e| CaptureReport {
                id: e[1].clone(),
                bytes: num(&e[2]),
                seconds: num(&e[3]),
                unchanged: e.get(4).is_some_and(|u| u == "unchanged"),
            })
            .collect(),
        warnings: run
            .events
            .iter()
            .filter(|e| e[0] == "warning")
            .map(|e| redact(&e[1..].join(": ")))
            .collect(),
        heartbeat: run.find("heartbeat").is_some(),
    })
}

fn num(s: &str) -> u64 {
    s.trim().parse().unwrap_or(0)
}

/// `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// One snapshot of the stack in the repository.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub short_id: String,
    pub time: String,
    /// Bytes captured (the size before deduplication), when recorded.
    pub bytes: Option<u64>,
}

/// The stack's snapshots, oldest first.
pub fn list(
    host: &dyn Host,
    stack: &Stack,
    redact: &dyn Fn(&str) -> String,
) -> Result<Vec<Snapshot>, BackupError> {
    let path = engine_path(stack);
    let out = host.run(&[path.as_str(), "list"], None)?;
    if !out.success() {
        return Err(BackupError::Engine {
            message: redact(out.stderr_text().trim().trim_start_matches("vpai-backup: ")),
            status: out.status,
        });
    }
    parse_snapshots(&out.stdout)
}

fn parse_snapshots(json: &[u8]) -> Result<Vec<Snapshot>, BackupError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        id: String,
        #[serde(default)]
        short_id: String,
        time: String,
        #[serde(default)]
        tags: Vec<String>,
    }
    let raw: Vec<Raw> = serde_json::from_slice(json)
        .map_err(|e| BackupError::Invalid(format!("restic's snapshot list does not parse: {e}")))?;
    let mut out: Vec<Snapshot> = raw
        .into_iter()
        .map(|r| Snapshot {
            short_id: if r.short_id.is_empty() {
                r.id.chars().take(8).collect()
            } else {
                r.short_id
            },
            bytes: r
                .tags
                .iter()
                .find_map(|t| t.strip_prefix("vpai-size=").and_then(|n| n.parse().ok())),
            id: r.id,
            time: r.time,
        })
        .collect();
    out.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(out)
}

/// What one capture's restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub id: String,
    pub service: String,
    /// The replaced data, kept aside (a renamed database, a directory beside the
    /// volume); empty when there was none.
    pub kept: String,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub snapshot: String,
    pub restored: Vec<Restored>,
    pub probes: Vec<ProbeOutcome>,
}

/// Put `captures` of `snapshot` back into the running stack, in order; then the smoke
/// probes of the services concerned. A capture that fails, or probes that fail, undo
/// every capture restored so far (newest first): the stack is as it was.
#[allow(clippy::too_many_arguments)]
pub fn restore(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    snapshot: &str,
    captures: &[&RenderedBackup],
    run_probes: bool,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<RestoreReport, BackupError> {
    ensure_current(host, stack, rendered)?;
    progress.step(&format!("fetching snapshot {snapshot} from the repository"));
    let fetch = engine(host, stack, &["fetch", snapshot], &|_| {})?;
    if fetch.status != 0 {
        return Err(engine_error(&fetch, redact));
    }
    let fetched = fetch
        .find("fetched")
        .filter(|e| e.len() > 2)
        .cloned()
        .ok_or_else(|| {
            BackupError::Invalid("the engine did not say where it fetched the snapshot".into())
        })?;
    let (id, dir) = (fetched[1].clone(), fetched[2].clone());
    let mut done: Vec<Restored> = Vec::new();
    let result = (|| {
        for c in captures {
            progress.service(&c.id, "restoring");
            let run = engine(host, stack, &["restore", &c.id, &dir], &|_| {})?;
            if run.status != 0 {
                progress.service(&c.id, "FAILED");
                return Err(engine_error(&run, redact));
            }
            let kept = run
                .find("restored")
                .and_then(|e| e.get(2).cloned())
                .unwrap_or_default();
            progress.service(&c.id, "restored");
            done.push(Restored {
                id: c.id.clone(),
                service: c.service.clone(),
                kept,
            });
        }
        Ok(())
    })();
    let mut outcomes = Vec::new();
    let result = result.and_then(|()| {
        if !run_probes {
            return Ok(());
        }
        let mut services: Vec<String> = captures
            .iter()
            .flat_map(|c| std::iter::once(c.service.clone()).chain(c.stops.iter().cloned()))
            .collect();
        services.sort();
        services.dedup();
        progress.step("smoke probes of the restored services");
        outcomes = probes::run(host, stack, &rendered.probes, &services, progress, redact);
        let failed = probes::failures(&outcomes);
        if failed.is_empty() {
            Ok(())
        } else {
            Err(BackupError::Engine {
                message: failed
                    .iter()
                    .map(|o| format!("probe {}/{} failed: {}", o.service, o.probe, o.output))
                    .collect::<Vec<_>>()
                    .join("\n"),
                status: 1,
            })
        }
    });
    let cleanup = engine(host, stack, &["clean"], &|_| {});
    if let Err(e) = result {
        let mut undo_errors = Vec::new();
        for r in done.iter().rev().filter(|r| !r.kept.is_empty()) {
            progress.service(&r.id, "putting the previous data back");
            match engine(host, stack, &["undo", &r.id, &r.kept], &|_| {}) {
                Ok(run) if run.status == 0 => progress.service(&r.id, "previous data back"),
                Ok(run) => undo_errors.push(format!("{}: {}", r.id, engine_error(&run, redact))),
                Err(err) => undo_errors.push(format!("{}: {err}", r.id)),
            }
        }
        let mut message = format!("the restore of snapshot {id} failed: {e}");
        if done.is_empty() {
            message.push_str("\nnothing was changed");
        } else if undo_errors.is_empty() {
            message.push_str("\nwhat had been restored was put back as it was");
        } else {
            message.push_str(&format!(
                "\nputting the previous data back failed too:\n  {}",
                undo_errors.join("\n  ")
            ));
        }
        return Err(BackupError::Engine { message, status: 1 });
    }
    cleanup?;
    Ok(RestoreReport {
        snapshot: id,
        restored: done,
        probes: outcomes,
    })
}

/// One capture's result in a drill.
#[derive(Debug, Clone, Serialize)]
pub struct DrillResult {
    pub id: String,
    /// `identical`, `archive-ok` (no drill command: the archive reads back whole),
    /// `different` or `failed`.
    pub result: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub snapshot: String,
    pub passed: bool,
    /// Wall time of the whole drill: the measured time to restore (RTO).
    pub seconds: u64,
    pub captures: Vec<DrillResult>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// Restore `snapshot` into scratch containers and compare with its manifests.
pub fn drill(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    snapshot: &str,
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Result<DrillReport, BackupError> {
    ensure_current(host, stack, rendered)?;
    let show = |e: &Event| {
        if e[0] == "drill" && e.len() > 2 {
            progress.service(&e[1], &e[2]);
        }
    };
    let started = std::time::Instant::now();
    let run = engine(host, stack, &["drill", snapshot], &show)?;
    let captures: Vec<DrillResult> = run
        .events
        .iter()
        .filter(|e| e[0] == "drill" && e.len() > 2)
        .map(|e| DrillResult {
            id: e[1].clone(),
            result: e[2].clone(),
            detail: redact(&e[3..].join(" ")),
        })
        .collect();
    let drilled = run.find("drilled");
    let passed = run.status == 0 && drilled.is_some();
    Ok(DrillReport {
        snapshot: drilled
            .and_then(|e| e.get(1).cloned())
            .unwrap_or_else(|| snapshot.to_string()),
        passed,
        seconds: drilled
            .and_then(|e| e.get(2))
            .map_or(started.elapsed().as_secs(), |s| num(s)),
        captures,
        error: if passed {
            String::new()
        } else {
            match engine_error(&run, redact) {
                BackupError::Engine { message, .. } => message,
                other => other.to_string(),
            }
        },
    })
}

/// The last backup and drill the host recorded (`None`: never ran).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackupStatus {
    pub last_backup: Option<serde_json::Value>,
    pub last_drill: Option<serde_json::Value>,
}

pub fn status(host: &dyn Host, stack: &Stack) -> Result<BackupStatus, HostError> {
    let path = engine_path(stack);
    let out = host.run(
        &[
            "bash",
            "-c",
            "[ -x \"$1\" ] || exit 0; exec \"$1\" status",
            "vpai-status",
            &path,
        ],
        None,
    )?;
    let mut status = BackupStatus::default();
    for line in out.stdout_text().lines() {
        let Some((what, json)) = line.split_once('\t') else {
            continue;
        };
        let value = serde_json::from_str(json).ok();
        match what {
            "last-backup" => status.last_backup = value,
            "last-drill" => status.last_drill = value,
            _ => {}
        }
    }
    Ok(status)
}

/// How the timer was left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum TimerOutcome {
    /// Linked and enabled (the next run time).
    Enabled(String),
    /// `[backup] schedule = "off"`: removed if it was there.
    Off,
    /// The host does not run systemd: nothing scheduled.
    NoSystemd,
}

/// Install and enable the stack's backup timer (after a deploy wrote its units): the
/// units are copied (atomically, root-owned, 0644) to /etc/systemd/system under the
/// stack's own name, so that two stacks on a host have two timers.
pub fn install_timer(host: &dyn Host, stack: &Stack) -> Result<TimerOutcome, BackupError> {
    let name = unit_name(stack);
    let root = stack.root.display().to_string();
    let want = if stack.backup.schedule.is_some() {
        "on"
    } else {
        "off"
    };
    const SCRIPT: &str = r#"set -eu
name=$1 root=$2 want=$3
[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 || { echo no-systemd; exit 0; }
if [ "$want" = off ]; then
    systemctl disable --now "$name.timer" >/dev/null 2>&1 || true
    echo off; exit 0
fi
for kind in service timer; do
    tmp=$(mktemp /etc/systemd/system/.vpai-unit.XXXXXX)
    cat -- "$root/backup/vpai-backup.$kind" >"$tmp"
    chown root:root "$tmp"; chmod 0644 "$tmp"
    mv -f -- "$tmp" "/etc/systemd/system/$name.$kind"
done
systemctl daemon-reload
systemctl enable --now "$name.timer" >/dev/null 2>&1
echo "enabled $(systemctl show -p NextElapseUSecRealtime --value "$name.timer" 2>/dev/null)"
"#;
    let out = host.run(
        &["bash", "-c", SCRIPT, "vpai-timer", &name, &root, want],
        None,
    )?;
    if !out.success() {
        return Err(BackupError::Engine {
            message: format!(
                "installing the backup timer {name}.timer failed: {}",
                out.stderr_text().trim()
            ),
            status: out.status,
        });
    }
    let text = out.stdout_text();
    let text = text.trim();
    Ok(match text {
        "no-systemd" => TimerOutcome::NoSystemd,
        "off" => TimerOutcome::Off,
        t => TimerOutcome::Enabled(t.trim_start_matches("enabled").trim().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_parse_from_restic_json_with_the_recorded_size() {
        let json = br#"[{"time":"2026-11-29T14:08:26.1Z","tree":"f8","paths":["/opt/x/.vpai/backup/staging"],"hostname":"demo","username":"root","tags":["vpai","vpai-size=3072"],"id":"8f6bc927ba88","short_id":"8f6bc927"},
                      {"time":"2026-11-28T03:00:00Z","paths":["/p"],"hostname":"demo","tags":["vpai"],"id":"aa11bb22cc33"}]"#;
        let s = parse_snapshots(json).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].short_id, "aa11bb22", "oldest first, short id derived");
        assert_eq!(s[0].bytes, None);
        assert_eq!(s[1].bytes, Some(3072));
        assert!(parse_snapshots(b"not json").is_err());
    }

    #[test]
    fn sizes_read_as_an_operator_reads_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
