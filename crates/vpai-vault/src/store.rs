//! The plain secret store of the foundation: `.vpai/secrets.toml`, mode 0600, written
//! atomically. The encrypted vault replaces this file behind the same API.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use vpai_catalog::SecretDef;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot read secrets file `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("secrets file `{path}` is not valid TOML: {message}")]
    Parse { path: String, message: String },
    #[error("cannot write secrets file `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "secrets file `{path}` has mode {mode:o}, readable by other users\n  help: run `chmod 600 {path}`"
    )]
    Permissions { path: String, mode: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretOrigin {
    Generated,
    External,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SecretRecord {
    pub value: String,
    pub origin: SecretOrigin,
    /// Unix seconds.
    pub created: u64,
    #[serde(default)]
    pub rotated: Option<u64>,
}

impl std::fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRecord")
            .field("value", &"<redacted>")
            .field("origin", &self.origin)
            .field("created", &self.created)
            .field("rotated", &self.rotated)
            .finish()
    }
}

#[derive(Default, Serialize, Deserialize)]
struct SecretsFile {
    #[serde(default)]
    secrets: BTreeMap<String, SecretRecord>,
}

/// All secret values of one stack.
#[derive(Debug)]
pub struct SecretStore {
    path: PathBuf,
    records: BTreeMap<String, SecretRecord>,
    dirty: bool,
}

impl SecretStore {
    /// Open (or start) the store kept in `state_dir/secrets.toml`.
    pub fn open(state_dir: &Path) -> Result<Self, VaultError> {
        let path = state_dir.join("secrets.toml");
        let records = match fs_err::read_to_string(&path) {
            Ok(text) => {
                check_private(&path)?;
                toml::from_str::<SecretsFile>(&text)
                    .map_err(|e| VaultError::Parse {
                        path: path.display().to_string(),
                        message: e.message().to_string(),
                    })?
                    .secrets
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(VaultError::Read {
                    path: path.display().to_string(),
                    source: e,
                });
            }
        };
        Ok(SecretStore {
            path,
            records,
            dirty: false,
        })
    }

    /// A store that lives only in memory (render previews, tests).
    pub fn in_memory() -> Self {
        SecretStore {
            path: PathBuf::new(),
            records: BTreeMap::new(),
            dirty: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.records.get(name).map(|r| r.value.as_str())
    }

    pub fn record(&self, name: &str) -> Option<&SecretRecord> {
        self.records.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.records.keys().map(String::as_str)
    }

    /// The value of a generated secret, created now if it does not exist yet.
    /// External secrets are never generated: `None` when the operator has not set one.
    pub fn ensure(&mut self, def: &SecretDef) -> Option<&str> {
        if !self.records.contains_key(&def.name) {
            if def.external {
                return None;
            }
            self.records.insert(
                def.name.clone(),
                SecretRecord {
                    value: crate::generate(def),
                    origin: SecretOrigin::Generated,
                    created: now(),
                    rotated: None,
                },
            );
            self.dirty = true;
        }
        self.get(&def.name)
    }

    /// Set a value given by the operator.
    pub fn set(&mut self, name: &str, value: String, origin: SecretOrigin) {
        let created = self.records.get(name).map(|r| r.created).unwrap_or_else(now);
        let rotated = self.records.contains_key(name).then(now);
        self.records.insert(
            name.to_string(),
            SecretRecord {
                value,
                origin,
                created,
                rotated,
            },
        );
        self.dirty = true;
    }

    /// Every value, for redaction of output.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.records.values().map(|r| r.value.as_str())
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Write the store if it changed: temp file (0600) in the same directory, fsync, rename.
    pub fn save(&mut self) -> Result<(), VaultError> {
        if !self.dirty || self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let werr = |source| VaultError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs_err::create_dir_all(dir).map_err(werr)?;
        set_mode(dir, 0o700).map_err(werr)?;
        let text = toml::to_string(&SecretsFile {
            secrets: self.records.clone(),
        })
        .expect("secret records always serialize");
        let mut tmp = tempfile::Builder::new()
            .prefix(".secrets.")
            .tempfile_in(dir)
            .map_err(werr)?;
        set_mode(tmp.path(), 0o600).map_err(werr)?;
        tmp.write_all(b"# Generated by vpai. Never commit this file.\n")
            .and_then(|_| tmp.write_all(text.as_bytes()))
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(werr)?;
        tmp.persist(&self.path).map_err(|e| werr(e.error))?;
        self.dirty = false;
        Ok(())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| VaultError::Read {
            path: path.display().to_string(),
            source: e,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::Permissions {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpai_catalog::{RotationPolicy, SecretFormat};

    fn def(name: &str, external: bool) -> SecretDef {
        SecretDef {
            name: name.into(),
            format: SecretFormat::Hex,
            length: 16,
            prefix: String::new(),
            rotate: RotationPolicy::Quarterly,
            never_reason: None,
            external,
            required: false,
            help: None,
        }
    }

    #[test]
    fn generated_once_then_kept_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SecretStore::open(dir.path()).unwrap();
        let first = store.ensure(&def("a", false)).unwrap().to_string();
        store.save().unwrap();
        let mut again = SecretStore::open(dir.path()).unwrap();
        assert_eq!(again.ensure(&def("a", false)).unwrap(), first);
        assert!(!again.is_dirty());
    }

    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut store = SecretStore::open(dir.path()).unwrap();
        store.ensure(&def("a", false));
        store.save().unwrap();
        let mode = std::fs::metadata(dir.path().join("secrets.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn world_readable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        std::fs::write(&path, "").unwrap();
        set_mode(&path, 0o644).unwrap();
        assert!(matches!(
            SecretStore::open(dir.path()),
            Err(VaultError::Permissions { .. })
        ));
    }

    #[test]
    fn external_secrets_are_never_generated() {
        let mut store = SecretStore::in_memory();
        assert!(store.ensure(&def("api", true)).is_none());
    }

    #[test]
    fn debug_never_shows_values() {
        let mut store = SecretStore::in_memory();
        let v = store.ensure(&def("a", false)).unwrap().to_string();
        assert!(!format!("{store:?}").contains(&v));
    }
}
