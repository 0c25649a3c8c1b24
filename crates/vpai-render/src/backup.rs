//! The backup of a stack, rendered: the engine (`backup/vpai-backup`, the same script
//! for every stack) and the data it reads, one directory per capture the service
//! folders declare in `[[backup]]`, plus the restic settings, the drill's scratch
//! compose file and the systemd timer. Every value reaches the engine as a NUL-separated
//! list or a checked `key=value` line: nothing from stack.toml or the vault is ever
//! read as shell.

use crate::RenderError;
use crate::artifact::{Artifact, DirSpec};
use crate::compose;
use crate::context::{self, SecretsView};
use crate::probes::{EnvList, parse_duration, render_command};
use minijinja::{Environment, Value};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use vpai_catalog::{BackupDef, ProbeEach};
use vpai_model::{Service, Stack, backup as settings};
use vpai_vault::SecretStore;

/// The engine, relative to the root.
pub const ENGINE: &str = "backup/vpai-backup";
const ENGINE_TEXT: &str = include_str!("backup/vpai-backup.sh");

/// One capture, as the commands list and report it.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedBackup {
    /// `<service>-<name>` or `<service>-<name>-<database>`: its directory and file name.
    pub id: String,
    pub service: String,
    pub name: String,
    pub description: String,
    /// The service stopped while it is restored (a database's owner), or none.
    pub stops: Vec<String>,
    /// A restore drill compares it with its manifest (else: the archive is read back).
    pub drilled: bool,
}

/// The timer's units as vpai writes them (the same names for every stack); installed
/// under /etc/systemd/system as [`unit_name`].
pub const UNIT_SERVICE: &str = "backup/vpai-backup.service";
pub const UNIT_TIMER: &str = "backup/vpai-backup.timer";

/// The systemd units' name on the host (one timer per stack).
pub fn unit_name(stack: &Stack) -> String {
    format!("vpai-backup-{}", stack.project)
}

struct Out<'a> {
    artifacts: &'a mut Vec<Artifact>,
    dirs: &'a mut Vec<DirSpec>,
}

impl Out<'_> {
    fn file(&mut self, path: String, bytes: Vec<u8>, mode: u32, secrets: BTreeSet<String>) {
        let secret = !secrets.is_empty();
        self.artifacts.push(Artifact {
            path,
            bytes,
            mode,
            owner: (0, 0),
            services: Vec::new(),
            secrets,
            secret,
        });
    }
    fn dir(&mut self, path: &str) {
        self.dirs.push(DirSpec::new(path, 0o700, (0, 0)));
    }
}

fn nul_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in items {
        out.extend_from_slice(i.as_bytes());
        out.push(0);
    }
    out
}

/// A value for an `info` line: the engine splits on the first `=` and never evaluates.
fn info_value(origin: &str, key: &str, value: &str) -> Result<String, RenderError> {
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" ._/:-".contains(&b))
    {
        Ok(value.to_string())
    } else {
        Err(RenderError::Template {
            template: origin.to_string(),
            line: 0,
            message: format!("`{key}` `{value}` holds a character the backup engine does not take"),
        })
    }
}

/// Render the backup files into `artifacts`/`dirs`; returns the captures.
pub(crate) fn render_backup(
    env: &Environment<'static>,
    stack: &Stack,
    secrets: &SecretStore,
    base: &BTreeMap<String, Value>,
    view: &Arc<SecretsView>,
    artifacts: &mut Vec<Artifact>,
    dirs: &mut Vec<DirSpec>,
) -> Result<Vec<RenderedBackup>, RenderError> {
    let mut out = Out { artifacts, dirs };
    out.dir("backup");
    out.dir("backup/captures");
    out.file(
        ENGINE.into(),
        ENGINE_TEXT.as_bytes().to_vec(),
        0o700,
        BTreeSet::new(),
    );

    let b = &stack.backup;
    let mut vars = vec![
        format!("VPAI_PROJECT={}", stack.project),
        format!("RESTIC_REPOSITORY={}", b.repository),
        format!("VPAI_KEEP_LAST={}", b.keep_last),
        format!("VPAI_KEEP_DAILY={}", b.keep_daily),
        format!("VPAI_KEEP_WEEKLY={}", b.keep_weekly),
        format!("VPAI_KEEP_MONTHLY={}", b.keep_monthly),
        format!("VPAI_KEEP_YEARLY={}", b.keep_yearly),
        format!("VPAI_DRILL={}", u8::from(b.drill)),
    ];
    let mut used = BTreeSet::new();
    for (name, var) in [
        (settings::S3_ACCESS_KEY_ID, "AWS_ACCESS_KEY_ID"),
        (settings::S3_SECRET_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY"),
    ] {
        if let Some(v) = secrets.get(name) {
            vars.push(format!("{var}={v}"));
            used.insert(name.to_string());
        }
    }
    if vars.iter().any(|v| v.contains('\0')) {
        return Err(RenderError::Template {
            template: "[backup]".into(),
            line: 0,
            message: "a backup setting holds a NUL byte".into(),
        });
    }
    out.file(
        "backup/settings".into(),
        nul_list(vars.iter().map(String::as_str)),
        0o600,
        used,
    );
    let password = secrets
        .get(settings::REPOSITORY_PASSWORD)
        .ok_or_else(|| RenderError::MissingSecret(settings::REPOSITORY_PASSWORD.into()))?;
    out.file(
        "backup/repository-password".into(),
        password.as_bytes().to_vec(),
        0o600,
        [settings::REPOSITORY_PASSWORD.to_string()].into(),
    );
    if let Some(url) = secrets.get(settings::HEARTBEAT_URL) {
        // It reaches curl as `url = "..."` in a config read from stdin.
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && !url.chars().any(|c| c.is_control() || c == '"' || c == '\\');
        if !ok {
            return Err(RenderError::Template {
                template: format!("secret `{}`", settings::HEARTBEAT_URL),
                line: 0,
                message: "the heartbeat URL must be an http(s) URL without quotes, backslashes or line breaks".into(),
            });
        }
        out.file(
            "backup/heartbeat-url".into(),
            url.as_bytes().to_vec(),
            0o600,
            [settings::HEARTBEAT_URL.to_string()].into(),
        );
    }
    if let Some((h, m)) = b.schedule {
        render_units(stack, h, m, &mut out)?;
    }

    let mut captures = Vec::new();
    let mut drilled: Vec<&Service> = Vec::new();
    for svc in &stack.services {
        let ctx = context::service_context(base, stack, svc);
        for def in &svc.def.backup {
            let each: Vec<Option<(&str, &vpai_catalog::DatabaseDef)>> = match def.for_each {
                Some(ProbeEach::Database) => stack.databases().into_iter().map(Some).collect(),
                _ => vec![None],
            };
            for db in each {
                let mut ctx = ctx.clone();
                if let Some((owner, d)) = db {
                    ctx.insert("database".into(), context::database_value(owner, d));
                }
                captures.push(render_capture(
                    env, stack, svc, def, db, &ctx, view, &mut out,
                )?);
            }
            if def.drill.is_some() && !drilled.iter().any(|s| s.name == svc.name) {
                drilled.push(svc);
            }
        }
    }
    out.file(
        "backup/drill.yml".into(),
        compose::render_drill(stack, &drilled).into_bytes(),
        0o600,
        BTreeSet::new(),
    );
    Ok(captures)
}

#[allow(clippy::too_many_arguments)]
fn render_capture(
    env: &Environment<'static>,
    stack: &Stack,
    svc: &Service,
    def: &BackupDef,
    db: Option<(&str, &vpai_catalog::DatabaseDef)>,
    ctx: &BTreeMap<String, Value>,
    view: &Arc<SecretsView>,
    out: &mut Out<'_>,
) -> Result<RenderedBackup, RenderError> {
    let id = match db {
        Some((_, d)) => format!("{}-{}-{}", svc.name, def.name, d.name),
        None => format!("{}-{}", svc.name, def.name),
    };
    let origin = format!("{}/service.toml backup `{}`", svc.name, def.name);
    let id = info_value(&origin, "id", &id)?;
    let dir = format!("backup/captures/{id}");
    out.dir(&dir);

    let mut secrets_used = BTreeSet::new();
    let mut command = |cmd: &[String]| -> Result<(Vec<String>, EnvList), RenderError> {
        let r = render_command(env, &origin, cmd, &def.env, ctx, view)?;
        secrets_used.extend(view.used());
        Ok(r)
    };
    let mut env_vars = Vec::new();
    let mut argv_files = Vec::new();
    for (file, cmd) in [
        ("capture", &def.command),
        ("fingerprint", &def.fingerprint),
        ("restore", &def.restore.command),
        ("undo", &def.restore.undo),
    ] {
        if !cmd.is_empty() {
            let (argv, vars) = command(cmd)?;
            env_vars = vars;
            argv_files.push((file, argv));
        }
    }
    if let Some(drill) = &def.drill {
        let (argv, vars) = command(&drill.command)?;
        env_vars = vars;
        argv_files.push(("drill", argv));
    }
    for (file, argv) in argv_files {
        out.file(
            format!("{dir}/{file}"),
            nul_list(argv.iter().map(String::as_str)),
            0o600,
            BTreeSet::new(),
        );
    }
    if !env_vars.is_empty() {
        let pairs: Vec<String> = env_vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.file(
            format!("{dir}/env"),
            nul_list(pairs.iter().map(String::as_str)),
            0o600,
            secrets_used,
        );
    }
    if !def.restore.place.is_empty() {
        out.file(
            format!("{dir}/place"),
            nul_list(
                def.restore
                    .place
                    .iter()
                    .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            ),
            0o600,
            BTreeSet::new(),
        );
    }
    if !def.restore.write.is_empty() {
        out.file(
            format!("{dir}/write"),
            nul_list(
                def.restore
                    .write
                    .iter()
                    .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            ),
            0o600,
            BTreeSet::new(),
        );
    }

    let seconds = |field: &str, text: &str| {
        parse_duration(text)
            .map(|d| d.as_secs().max(1).to_string())
            .ok_or_else(|| RenderError::Template {
                template: origin.clone(),
                line: 0,
                message: format!("`{field}` `{text}` is not a duration like `30m`"),
            })
    };
    // The owner of a database is stopped while its database is swapped.
    let stops: Vec<&Service> = db
        .and_then(|(owner, _)| stack.service(owner))
        .into_iter()
        .collect();
    let volume_of = |source: &str| svc.def.volumes.iter().find(|v| v.source == source);
    let mut info = vec![
        ("service", svc.name.clone()),
        ("container", svc.container_name.clone()),
        ("drill_container", compose::drill_container(svc)),
        (
            "kind",
            if def.volume.is_some() {
                "volume"
            } else {
                "command"
            }
            .into(),
        ),
        ("volume", def.volume.clone().unwrap_or_default()),
        (
            "restore",
            if def.restore.volume.is_some() {
                "volume"
            } else {
                "command"
            }
            .into(),
        ),
        (
            "restore_volume",
            def.restore.volume.clone().unwrap_or_default(),
        ),
        (
            "volume_mode",
            def.restore
                .volume
                .as_deref()
                .and_then(volume_of)
                .map_or("0700".into(), |v| v.mode.clone()),
        ),
        (
            "volumes",
            svc.def
                .volumes
                .iter()
                .map(|v| format!("{}:{}", v.source, v.mode))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("uid", svc.def.uid.to_string()),
        ("gid", svc.def.gid.to_string()),
        (
            "stops",
            stops
                .iter()
                .map(|s| s.container_name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("timeout", seconds("timeout", &def.timeout)?),
        (
            "drill_restart",
            u8::from(def.drill.as_ref().is_some_and(|d| d.restart)).to_string(),
        ),
        ("health_timeout", health_timeout(svc).to_string()),
    ];
    info.sort_by_key(|(k, _)| *k);
    let mut text = String::new();
    for (k, v) in info {
        text.push_str(&format!("{k}={}\n", info_value(&origin, k, &v)?));
    }
    out.file(
        format!("{dir}/info"),
        text.into_bytes(),
        0o600,
        BTreeSet::new(),
    );
    Ok(RenderedBackup {
        id,
        service: svc.name.clone(),
        name: def.name.clone(),
        description: def.description.clone(),
        stops: stops.iter().map(|s| s.name.clone()).collect(),
        drilled: def.drill.is_some(),
    })
}

/// Seconds a restored service may take to become healthy: its start period and every
/// retry, at least two minutes.
fn health_timeout(svc: &Service) -> u64 {
    let Some(h) = &svc.def.healthcheck else {
        return 120;
    };
    let secs = |t: &str| parse_duration(t).map_or(0, |d| d.as_secs());
    let worst =
        secs(&h.start_period) + (secs(&h.interval) + secs(&h.timeout)) * u64::from(h.retries);
    worst.max(120)
}

fn render_units(stack: &Stack, hour: u8, minute: u8, out: &mut Out<'_>) -> Result<(), RenderError> {
    let root = stack.root.display().to_string();
    // systemd reads `%` and `$` in ExecStart; a quote or backslash would end the path.
    if root.contains(['"', '\\', '%', '$']) {
        return Err(RenderError::Template {
            template: "[backup] schedule".into(),
            line: 0,
            message: format!(
                "the root `{}` holds a character systemd's ExecStart does not take as it is",
                root.escape_debug()
            ),
        });
    }
    let service = format!(
        "# Rendered by vpai: the daily backup of {project}, then its restore drill.\n\
         # Installed as /etc/systemd/system/{name}.service; `vpai backup` runs the same\n\
         # engine by hand.\n\
         [Unit]\n\
         Description=vpai backup of {project} (restic)\n\
         Wants=network-online.target\n\
         After=network-online.target docker.service\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart=\"{root}/{ENGINE}\" run --scheduled\n\
         Nice=10\n\
         IOSchedulingClass=idle\n",
        project = stack.project,
        name = unit_name(stack),
    );
    let timer = format!(
        "# Rendered by vpai: when the backup of {project} runs.\n\
         [Unit]\n\
         Description=daily vpai backup of {project}\n\
         \n\
         [Timer]\n\
         OnCalendar=*-*-* {hour:02}:{minute:02}:00\n\
         RandomizedDelaySec=10min\n\
         Persistent=true\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        project = stack.project,
    );
    out.file(
        UNIT_SERVICE.into(),
        service.into_bytes(),
        0o644,
        BTreeSet::new(),
    );
    out.file(
        UNIT_TIMER.into(),
        timer.into_bytes(),
        0o644,
        BTreeSet::new(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_engine_is_valid_bash_and_prints_its_usage() {
        let out = std::process::Command::new("bash")
            .args(["-n", "-c", super::ENGINE_TEXT])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Run from a scratch tree with an empty settings file: a wrong subcommand is a
        // usage error (2) that prints the header's list of subcommands.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("backup")).unwrap();
        std::fs::write(dir.path().join("backup/settings"), "").unwrap();
        let engine = dir.path().join("backup/vpai-backup");
        std::fs::write(&engine, super::ENGINE_TEXT).unwrap();
        let out = std::process::Command::new("bash")
            .arg(&engine)
            .arg("nope")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let usage = String::from_utf8_lossy(&out.stderr);
        for sub in [
            "run", "list", "fetch", "restore", "undo", "clean", "drill", "status",
        ] {
            assert!(usage.contains(&format!("vpai-backup {sub}")), "{usage}");
        }
    }
}
