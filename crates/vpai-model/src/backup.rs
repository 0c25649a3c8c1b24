//! `[backup]` of stack.toml, resolved: the restic repository, the timer, the retention,
//! and the vault secrets a backup needs (seed 004 §4: daily, GFS, a restore proven).

use serde::Serialize;
use std::sync::LazyLock;
use vpai_catalog::{RotationPolicy, SecretDef, SecretFormat};
use vpai_spec::values::shown;
use vpai_spec::{SpecError, StackFile};

/// The backup of a stack as it will run on the host.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSettings {
    /// restic's repository: a host directory, `sftp:`, `s3:` or `rest:`.
    pub repository: String,
    /// Daily time (hour, minute) of the timer; None: no timer.
    pub schedule: Option<(u8, u8)>,
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    /// The timer runs the restore drill after each backup.
    pub drill: bool,
}

/// The repository password: generated, never rotated by `vpai rotate` (restic keeps
/// the repository key under it; a new one needs `restic key add` first).
pub const REPOSITORY_PASSWORD: &str = "backup_repository_password";
/// Pinged (GET) after a backup that succeeded, and only then (an Uptime Kuma push URL).
pub const HEARTBEAT_URL: &str = "backup_heartbeat_url";
pub const S3_ACCESS_KEY_ID: &str = "backup_s3_access_key_id";
pub const S3_SECRET_ACCESS_KEY: &str = "backup_s3_secret_access_key";

/// The vault secrets of the backup (declared by the stack, not by a service).
pub static SECRETS: LazyLock<Vec<SecretDef>> = LazyLock::new(|| {
    let external = |name: &str, help: &str| SecretDef {
        name: name.into(),
        format: SecretFormat::Hex,
        length: 32,
        prefix: String::new(),
        rotate: RotationPolicy::Manual,
        never_reason: None,
        external: true,
        required: false,
        help: Some(help.into()),
        kept_in: None,
    };
    vec![
        SecretDef {
            name: REPOSITORY_PASSWORD.into(),
            format: SecretFormat::Hex,
            length: 32,
            prefix: String::new(),
            rotate: RotationPolicy::Never,
            never_reason: Some(
                "restic encrypts the repository's key with it: add the new password with `restic key add` on the host first".into(),
            ),
            external: false,
            required: false,
            help: None,
            kept_in: None,
        },
        external(
            HEARTBEAT_URL,
            "the push URL of a monitor (Uptime Kuma: a Push monitor), pinged after each backup that succeeded: `vpai secrets set backup_heartbeat_url`",
        ),
        external(
            S3_ACCESS_KEY_ID,
            "the access key of an S3-compatible repository: `vpai secrets set backup_s3_access_key_id`",
        ),
        external(
            S3_SECRET_ACCESS_KEY,
            "the secret key of an S3-compatible repository: `vpai secrets set backup_s3_secret_access_key`",
        ),
    ]
});

const REMOTE_PREFIXES: &[&str] = &["sftp:", "s3:", "rest:", "b2:", "azure:", "gs:"];

/// Where a stack without `[backup] repository` keeps its backups on the host:
/// `/var/backups/vpai/<project>` for a stack in its default root (`/opt/<project>`);
/// another root gets its own (`<project>-<8 hex of its path's sha256>`), so that two
/// stacks of one name on one host (a staging copy in `/srv/demo`) never share a
/// repository, whose password is each vault's own.
pub fn default_repository(project: &str, root: &std::path::Path) -> String {
    if root == std::path::Path::new("/opt").join(project) {
        return format!("/var/backups/vpai/{project}");
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("/var/backups/vpai/{project}-{tag}")
}

pub(crate) fn build(
    file: &StackFile,
    project: &str,
    root: &std::path::Path,
) -> Result<BackupSettings, SpecError> {
    let spec = file.spec.backup.clone().unwrap_or(vpai_spec::BackupSpec {
        repository: None,
        schedule: None,
        keep: Default::default(),
        drill: None,
    });
    let repository = match &spec.repository {
        None => default_repository(project, root),
        Some(r) => {
            let text = r.get_ref();
            let remote = REMOTE_PREFIXES.iter().any(|p| text.starts_with(p));
            let bad_char = text
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\');
            let bad_path = !remote
                && (!text.starts_with('/') || text.split('/').any(|c| c == ".." || c == "."));
            if text.is_empty() || bad_char || bad_path || text.len() > 1024 {
                return Err(file.error_at(
                    r.span(),
                    format!("`{}` is not a restic repository vpai can use", shown(text)),
                    "an absolute directory on the host (`/srv/backups/NAME`), `sftp:USER@HOST:/PATH`, `s3:https://ENDPOINT/BUCKET/PATH` or `rest:https://HOST/PATH`",
                ));
            }
            text.clone()
        }
    };
    let schedule = match &spec.schedule {
        None => Some((3, 0)),
        Some(s) if s.get_ref() == "off" => None,
        Some(s) => Some(parse_time(s.get_ref()).ok_or_else(|| {
            file.error_at(
                s.span(),
                format!("`{}` is not a time of day", shown(s.get_ref())),
                "`HH:MM` on the host's clock (`03:00`), or `off` for no timer",
            )
        })?),
    };
    let k = spec.keep;
    if k.last + k.daily + k.weekly + k.monthly + k.yearly == 0 {
        return Err(file.error_at(
            0..0,
            "`[backup.keep]` keeps no snapshot at all".to_string(),
            "keep at least one (the default is the last 3, 7 daily, 4 weekly, 6 monthly, 2 yearly)",
        ));
    }
    Ok(BackupSettings {
        repository,
        schedule,
        keep_last: k.last,
        keep_daily: k.daily,
        keep_weekly: k.weekly,
        keep_monthly: k.monthly,
        keep_yearly: k.yearly,
        drill: spec.drill.unwrap_or(true),
    })
}

fn parse_time(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

impl BackupSettings {
    /// What a stack without `[backup]` gets: a repository on the host, daily at 03:00.
    pub fn defaults(project: &str) -> Self {
        BackupSettings {
            repository: format!("/var/backups/vpai/{project}"),
            schedule: Some((3, 0)),
            keep_last: 3,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
            keep_yearly: 2,
            drill: true,
        }
    }

    /// The repository is a directory of the host the stack runs on: a backup that
    /// dies with the host.
    pub fn is_local(&self) -> bool {
        self.repository.starts_with('/')
    }
}
