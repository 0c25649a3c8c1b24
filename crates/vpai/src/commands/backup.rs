//! `vpai backup` and `vpai restore`: the stack's data into a restic repository, and
//! back. The engine that does the work lives on the host (`<root>/backup/vpai-backup`,
//! written by `vpai up`; the daily timer runs it too); these commands check that the
//! host has the engine of this stack.toml, hold the deploy lock, show progress and
//! report.

use crate::cli::{StackArgs, TargetArgs};
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use clap::Args;
use std::process::ExitCode;
use vpai_deploy::backup::{self, BackupError, human_bytes};

pub const BACKUP_EXAMPLES: &str = "Examples:
  vpai backup                         # every service's data, one snapshot, the retention
  vpai backup --host prod             # on a host of stack.toml, over SSH
  vpai backup --list                  # the snapshots, with size and age
  vpai backup --list --json | jq -r '.[-1].id'
  vpai backup --status                # the last backup and the last drill, as recorded

What a backup takes is declared by each service's catalog folder: a pg_dump -Fc per
database (with row counts and checksums from the same snapshot), the roles, Redis's RDB
after a completed BGSAVE, data directories; plus the rendered files. It goes into the
restic repository of `[backup]` in stack.toml (default: /var/backups/vpai/<project> on the
host, `<project>-<hash>` for a root other than /opt/<project>; `sftp:`, `s3:` and `rest:` work too), encrypted with the vault's
`backup_repository_password`. restic must be installed on the host (`apt-get install
restic`). `vpai up` installs a daily systemd timer (`[backup] schedule`, default 03:00)
that backs up, then runs the restore drill.
A backup that fails anywhere writes no snapshot, pings no heartbeat and exits 1.";

pub const RESTORE_EXAMPLES: &str = "Examples:
  vpai restore --list                      # what the latest snapshot holds
  vpai restore --service postgresql        # the latest snapshot's PostgreSQL databases
  vpai restore 8f6bc927 --service redis    # one service from one snapshot
  vpai restore --yes                       # every capture of the latest snapshot
  vpai restore --drill                     # prove the latest snapshot restores; changes nothing

A restore stops what depends on the data (a database's app), restores beside the live data
and swaps it in; the replaced data is kept (a database renamed `NAME__vpai_kept_<time>`, a
directory `data/NAME.vpai-replaced-<time>`), and put back if a restored service does not
become healthy or its smoke probes fail. Services not named are never touched.
The drill restores into scratch containers (other names, no network), compares with what
was recorded at backup time (row counts and checksums, key counts) and exits 1 on any
difference.";

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// List the snapshots instead (newest last).
    #[arg(long, conflicts_with = "status")]
    pub list: bool,
    /// Show the last backup and drill the host recorded.
    #[arg(long)]
    pub status: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The snapshot (`vpai backup --list`) [default: the latest].
    #[arg(value_name = "SNAPSHOT", default_value = "latest")]
    pub snapshot: String,
    /// Only this service's captures (repeat for several).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Restore into scratch containers and compare; nothing live is touched.
    #[arg(long, conflicts_with_all = ["services", "yes", "list"])]
    pub drill: bool,
    /// List the captures a restore would put back, and stop.
    #[arg(long)]
    pub list: bool,
    /// Restore every capture without naming services (required then).
    #[arg(long)]
    pub yes: bool,
    /// Skip the smoke probes after the restore.
    #[arg(long)]
    pub no_probes: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn fail(printer: &Printer, e: BackupError) -> anyhow::Result<ExitCode> {
    match e {
        BackupError::Host(h) => Err(h.into()),
        other => {
            printer.error_text(&other.to_string());
            Ok(ExitCode::from(1))
        }
    }
}

pub fn run_backup(args: BackupArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(code) =
        crate::commands::fanout::over_hosts(&args.stack, &args.target, args.json, printer)?
    {
        return Ok(code);
    }
    let mut project = Project::load(&args.stack)?;
    let store = project.secrets(printer)?;
    let rendered = project.render(&store)?;
    let target = target::connect(&mut project, &args.target, printer)?;
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;
    let stack = &project.stack;
    let redact = |s: &str| printer.redact(s);
    if args.status {
        let status = backup::status(host, stack)?;
        if args.json {
            printer.out(&serde_json::to_string_pretty(&status)?);
        } else {
            printer.out(&status_lines(&status));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.list {
        let snapshots = match backup::list(host, stack, &redact) {
            Ok(s) => s,
            Err(e) => return fail(printer, e),
        };
        if args.json {
            printer.out(&serde_json::to_string_pretty(&snapshots)?);
        } else if snapshots.is_empty() {
            printer.info("no snapshot of this stack yet: `vpai backup` takes one");
        } else {
            let now = std::time::SystemTime::now();
            let rows: Vec<Vec<String>> = snapshots
                .iter()
                .map(|s| {
                    vec![
                        s.short_id.clone(),
                        s.time
                            .chars()
                            .take(19)
                            .collect::<String>()
                            .replace('T', " "),
                        age(&s.time, now),
                        s.bytes.map(human_bytes).unwrap_or_else(|| "?".into()),
                    ]
                })
                .collect();
            printer.out(&crate::printer::table(
                &["snapshot", "time (UTC)", "age", "size"],
                &rows,
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if stack.backup.is_local() {
        printer.warn(&format!(
            "the repository `{}` is on the same host as the data: it does not survive the loss of the host (set `[backup] repository` to sftp:, s3: or rest:)",
            stack.backup.repository
        ));
    }
    let Some((deploy_lock, _)) = target::lock(host, stack, &[], &[], printer)? else {
        return Ok(ExitCode::from(1));
    };
    let result = backup::run(host, stack, &rendered, printer, &redact);
    deploy_lock.release();
    printer.clear_services();
    match result {
        Ok(report) => {
            for w in &report.warnings {
                printer.warn(w);
            }
            let rows = report
                .captures
                .iter()
                .map(|c| {
                    vec![
                        c.id.clone(),
                        human_bytes(c.bytes),
                        format!("{}s", c.seconds),
                    ]
                })
                .collect();
            emit(
                printer,
                args.json,
                &report,
                &["capture", "size", "time"],
                rows,
            )?;
            printer.success(&format!(
                "snapshot {} of `{}`: {} in {} captures, {}s{}",
                report.snapshot,
                host.name(),
                human_bytes(report.bytes),
                report.captures.len(),
                report.seconds,
                if report.heartbeat {
                    "; heartbeat sent"
                } else {
                    ""
                }
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(printer, e),
    }
}

/// The report as JSON on stdout, or as a table.
fn emit<T: serde::Serialize>(
    printer: &Printer,
    json: bool,
    report: &T,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> anyhow::Result<()> {
    if json {
        printer.out(&serde_json::to_string_pretty(report)?);
    } else {
        printer.out(&crate::printer::table(headers, &rows));
    }
    Ok(())
}

pub(crate) fn status_lines(status: &backup::BackupStatus) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = |what: &str, v: &Option<serde_json::Value>| match v {
        None => format!("{what}: never"),
        Some(v) => {
            let t = v["time"].as_u64().unwrap_or(0);
            format!(
                "{what}: {} {} ago{}{}",
                v["status"].as_str().unwrap_or("?"),
                ago(now.saturating_sub(t)),
                v["snapshot"]
                    .as_str()
                    .map(|s| format!(", snapshot {s}"))
                    .unwrap_or_default(),
                v["seconds"]
                    .as_u64()
                    .map(|s| format!(", took {s}s"))
                    .unwrap_or_default()
            )
        }
    };
    format!(
        "{}\n{}",
        line("last backup", &status.last_backup),
        line("last restore drill", &status.last_drill)
    )
}

fn ago(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs}s"),
        120..7200 => format!("{}min", secs / 60),
        7200..172_800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// How long ago an RFC 3339 time was (`3h`); `?` when it does not parse.
fn age(time: &str, now: std::time::SystemTime) -> String {
    let Some(t) = parse_rfc3339(time) else {
        return "?".into();
    };
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    ago(now.saturating_sub(t).max(0) as u64)
}

/// Seconds since the epoch of `2026-11-29T14:08:26.17Z` or `...+01:00`.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut secs = days * 86_400 + h * 3600 + mi * 60 + s;
    let rest = &text[19..];
    let zone = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(off) = zone.strip_prefix(['+', '-']) {
        let sign = if zone.starts_with('+') { 1 } else { -1 };
        let oh: i64 = off.get(0..2)?.parse().ok()?;
        let om: i64 = off.get(3..5)?.parse().ok()?;
        secs -= sign * (oh * 3600 + om * 60);
    }
    Some(secs)
}

pub fn run_restore(args: RestoreArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    for name in &args.services {
        project.service(name)?;
    }
    let store = project.secrets(printer)?;
    let rendered = project.render(&store)?;
    let captures: Vec<&vpai_render::backup::RenderedBackup> = rendered
        .backups
        .iter()
        .filter(|c| args.services.is_empty() || args.services.contains(&c.service))
        .collect();
    if let Some(name) = args
        .services
        .iter()
        .find(|n| !captures.iter().any(|c| &&c.service == n))
    {
        anyhow::bail!(
            "`{name}` has nothing to restore: its catalog folder declares no `[[backup]]`"
        );
    }
    if args.list {
        let rows: Vec<Vec<String>> = captures
            .iter()
            .map(|c| {
                vec![
                    c.id.clone(),
                    c.description.clone(),
                    c.stops.join(", "),
                    if c.drilled {
                        "compared"
                    } else {
                        "archive read"
                    }
                    .into(),
                ]
            })
            .collect();
        printer.out(&crate::printer::table(
            &["capture", "what", "stops while restored", "drill"],
            &rows,
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if !args.drill && args.services.is_empty() && !args.yes {
        anyhow::bail!(
            "a restore of every service replaces all the stack's data\n  help: name what to restore with `--service NAME`, or confirm with `--yes` (`vpai restore --list` shows the captures)"
        );
    }
    let target = target::connect(&mut project, &args.target, printer)?;
    let traced = printer.traced(target.host());
    let host: &dyn vpai_host::Host = &traced;
    let stack = &project.stack;
    let redact = |s: &str| printer.redact(s);
    let Some((deploy_lock, _)) = target::lock(host, stack, &[], &[], printer)? else {
        return Ok(ExitCode::from(1));
    };
    if args.drill {
        let result = backup::drill(host, stack, &rendered, &args.snapshot, printer, &redact);
        deploy_lock.release();
        printer.clear_services();
        let report = match result {
            Ok(r) => r,
            Err(e) => return fail(printer, e),
        };
        let rows = report
            .captures
            .iter()
            .map(|c| vec![c.id.clone(), c.result.clone(), c.detail.clone()])
            .collect();
        emit(
            printer,
            args.json,
            &report,
            &["capture", "result", "detail"],
            rows,
        )?;
        if report.passed {
            printer.success(&format!(
                "snapshot {} restores as it was taken ({} captures; restored and compared in {}s)",
                report.snapshot,
                report.captures.len(),
                report.seconds
            ));
            return Ok(ExitCode::SUCCESS);
        }
        printer.error_text(&report.error);
        return Ok(ExitCode::from(1));
    }
    let result = backup::restore(
        host,
        stack,
        &rendered,
        &args.snapshot,
        &captures,
        !args.no_probes,
        printer,
        &redact,
    );
    deploy_lock.release();
    printer.clear_services();
    match result {
        Ok(report) => {
            let rows = report
                .restored
                .iter()
                .map(|r| {
                    let kept = if r.kept.is_empty() { "-" } else { &r.kept };
                    vec![r.id.clone(), kept.to_string()]
                })
                .collect();
            emit(
                printer,
                args.json,
                &report,
                &["restored", "previous data kept as"],
                rows,
            )?;
            printer.success(&format!(
                "restored {} capture(s) of snapshot {} on `{}`; healthy{}",
                report.restored.len(),
                report.snapshot,
                host.name(),
                if report.probes.is_empty() {
                    String::new()
                } else {
                    format!(", {} smoke probes passed", report.probes.len())
                }
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(printer, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_times_parse_to_epoch_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-29T14:08:26.170313665Z"),
            Some(1_795_961_306)
        );
        assert_eq!(
            parse_rfc3339("2026-11-29T15:08:26+01:00"),
            Some(1_795_961_306)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(ago(59), "59s");
        assert_eq!(ago(3 * 3600), "3h");
        assert_eq!(ago(3 * 86_400), "3d");
    }
}
