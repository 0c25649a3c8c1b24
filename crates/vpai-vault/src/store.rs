//! [`SecretStore`]: the one way the rest of vpai reaches secret values.
//!
//! A store is backed by the encrypted `secrets.vault` next to `stack.toml`
//! ([`SecretStore::open_vault`]), by the foundation's plain `.vpai/secrets.toml`
//! ([`SecretStore::open`], kept until its callers move), or by nothing
//! ([`SecretStore::in_memory`]). The renderer and the deploy see the same API whatever
//! the backend.

use crate::error::{VaultError, display};
use crate::fsutil;
use crate::key::{KeyKind, PassphraseSource, Purpose, VaultKey};
use crate::record::{EventKind, SecretEvent, SecretOrigin, SecretRecord};
use crate::vault_file;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use vpai_catalog::SecretDef;

/// File name of the vault, next to `stack.toml`.
pub const VAULT_FILE: &str = "secrets.vault";
/// The previous version of the vault, kept by every save.
pub const VAULT_BACKUP_FILE: &str = "secrets.vault.bak";
/// The foundation's plaintext store, relative to the stack directory.
pub const LEGACY_FILE: &str = ".vpai/secrets.toml";

#[derive(Default, Serialize, Deserialize)]
struct PlainFile {
    #[serde(default)]
    secrets: BTreeMap<String, SecretRecord>,
}

enum Backend {
    Memory,
    Plain(PathBuf),
    Vault(VaultBackend),
}

struct VaultBackend {
    path: PathBuf,
    source: PassphraseSource,
    /// Resolved on open (existing vault) or on first save (new vault).
    key: Option<VaultKey>,
    /// SHA-256 of the bytes read, to refuse saving over someone else's change.
    loaded: Option<[u8; 32]>,
    scrypt_log_n: u8,
}

/// All secret values of one stack.
pub struct SecretStore {
    backend: Backend,
    pub(crate) records: BTreeMap<String, SecretRecord>,
    dirty: bool,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("path", &self.path())
            .field("records", &self.records)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl SecretStore {
    /// Open (or start) the plain store kept in `state_dir/secrets.toml`.
    ///
    /// The foundation's store; use [`SecretStore::open_vault`] instead, which also
    /// migrates this file.
    pub fn open(state_dir: &Path) -> Result<Self, VaultError> {
        let path = state_dir.join("secrets.toml");
        // Once the secrets moved to the vault, a plaintext store next to it would be
        // empty and get fresh values: new passwords that no database knows. Refuse.
        if let Some(stack_dir) = state_dir.parent() {
            let vault = stack_dir.join(VAULT_FILE);
            if vault.exists() {
                return Err(VaultError::MovedToVault {
                    plain: display(&path),
                    vault: display(&vault),
                });
            }
        }
        let records = read_plain(&path)?.unwrap_or_default();
        Ok(SecretStore {
            backend: Backend::Plain(path),
            records,
            dirty: false,
        })
    }

    /// Open (or start) the encrypted vault `stack_dir/secrets.vault`.
    ///
    /// An existing vault is decrypted now (the key is resolved from `source`, which may
    /// prompt); a wrong key or a modified file is an error and nothing is written. A
    /// new vault asks for its key on the first [`save`](Self::save).
    ///
    /// If `stack_dir/.vpai/secrets.toml` (the foundation's plaintext store) exists and
    /// there is no vault yet, its secrets move into a new vault, the vault is written,
    /// and the plaintext file is overwritten and removed; this is said on stderr.
    pub fn open_vault(stack_dir: &Path, source: &PassphraseSource) -> Result<Self, VaultError> {
        Self::open_vault_at(
            &stack_dir.join(VAULT_FILE),
            Some(&stack_dir.join(LEGACY_FILE)),
            source,
        )
    }

    /// [`open_vault`](Self::open_vault) with explicit paths; `legacy` is the plaintext
    /// store to migrate, if any.
    pub fn open_vault_at(
        path: &Path,
        legacy: Option<&Path>,
        source: &PassphraseSource,
    ) -> Result<Self, VaultError> {
        let mut store = SecretStore {
            backend: Backend::Vault(VaultBackend {
                path: path.to_path_buf(),
                source: source.clone(),
                key: None,
                loaded: None,
                scrypt_log_n: vault_file::SCRYPT_LOG_N,
            }),
            records: BTreeMap::new(),
            dirty: false,
        };
        match fs_err::read(path) {
            Ok(bytes) => store.load_vault(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(VaultError::Read {
                    path: display(path),
                    source: e,
                });
            }
        }
        if let Some(legacy) = legacy {
            crate::migrate::from_plain(&mut store, legacy)?;
        }
        Ok(store)
    }

    fn load_vault(&mut self, bytes: &[u8]) -> Result<(), VaultError> {
        let Backend::Vault(vault) = &mut self.backend else {
            unreachable!("load_vault on a vault backend only")
        };
        let kind = vault_file::key_kind(&vault.path, bytes)?;
        let key = vault
            .source
            .resolve(&vault.path, Some(kind), Purpose::Unlock)?;
        self.records = vault_file::decrypt(&vault.path, bytes, &key)?;
        vault.key = Some(key);
        vault.loaded = Some(Sha256::digest(bytes).into());
        Ok(())
    }

    /// A store that lives only in memory (render previews, tests).
    pub fn in_memory() -> Self {
        SecretStore {
            backend: Backend::Memory,
            records: BTreeMap::new(),
            dirty: false,
        }
    }

    /// The file behind the store (empty for an in-memory store).
    pub fn path(&self) -> &Path {
        match &self.backend {
            Backend::Memory => Path::new(""),
            Backend::Plain(p) => p,
            Backend::Vault(v) => &v.path,
        }
    }

    /// Whether the store is the encrypted vault.
    pub fn is_vault(&self) -> bool {
        matches!(self.backend, Backend::Vault(_))
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

    pub fn contains(&self, name: &str) -> bool {
        self.records.contains_key(name)
    }

    /// The value of a generated secret, created now if it does not exist yet.
    /// External secrets are never generated: `None` when the operator has not set one.
    pub fn ensure(&mut self, def: &SecretDef) -> Option<&str> {
        if !self.records.contains_key(&def.name) {
            if def.external {
                return None;
            }
            let at = now();
            self.records.insert(
                def.name.clone(),
                SecretRecord::new(
                    crate::generate(def),
                    SecretOrigin::Generated,
                    at,
                    event(at, EventKind::Generated, None),
                ),
            );
            self.dirty = true;
        }
        self.get(&def.name)
    }

    /// Set a value given by the operator. Setting the value it already has changes nothing.
    pub fn set(&mut self, name: &str, value: String, origin: SecretOrigin) {
        self.set_with(name, value, origin, EventKind::Set, None);
    }

    /// [`set`](Self::set), recording what kind of change it was (edit, import).
    pub fn set_with(
        &mut self,
        name: &str,
        value: String,
        origin: SecretOrigin,
        kind: EventKind,
        detail: Option<String>,
    ) {
        let at = now();
        match self.records.get_mut(name) {
            Some(record) if record.value == value && record.origin == origin => {}
            Some(record) => {
                if record.value != value {
                    record.value = value;
                    record.rotated = Some(at);
                }
                record.origin = origin;
                record.push_event(event(at, kind, detail));
                self.dirty = true;
            }
            None => {
                self.records.insert(
                    name.to_string(),
                    SecretRecord::new(value, origin, at, event(at, kind, detail)),
                );
                self.dirty = true;
            }
        }
    }

    /// Remove a secret (it will be generated again, or asked for, on next use).
    pub fn remove(&mut self, name: &str) -> bool {
        let removed = self.records.remove(name).is_some();
        self.dirty |= removed;
        removed
    }

    /// Every value, for redaction of output; includes the previous value of a
    /// rotation in flight, which a failing service may still print.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.records.values().flat_map(|r| {
            std::iter::once(r.value.as_str())
                .chain(r.rotation.as_ref().map(|f| f.previous_value.as_str()))
        })
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub(crate) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Write the store if it changed.
    ///
    /// The vault: re-encrypted, written to a 0600 temp file in the same directory,
    /// fsynced and renamed over the old one, whose previous content is kept as
    /// `secrets.vault.bak`. Refused if the file changed on disk since it was read.
    pub fn save(&mut self) -> Result<(), VaultError> {
        if !self.dirty {
            return Ok(());
        }
        match &mut self.backend {
            Backend::Memory => {}
            Backend::Plain(path) => save_plain(path, &self.records)?,
            Backend::Vault(vault) => save_vault(vault, &self.records)?,
        }
        self.dirty = false;
        Ok(())
    }

    /// The decrypted document as TOML (for `secrets edit`). Handle with care.
    pub fn to_toml(&self) -> zeroize::Zeroizing<String> {
        vault_file::render_document(&self.records)
    }

    /// Lower the scrypt work factor of new writes. Tests only: real vaults use 2^18.
    #[doc(hidden)]
    pub fn set_scrypt_work_factor(&mut self, log_n: u8) {
        if let Backend::Vault(v) = &mut self.backend {
            v.scrypt_log_n = log_n;
        }
    }
}

fn save_vault(
    vault: &mut VaultBackend,
    records: &BTreeMap<String, SecretRecord>,
) -> Result<(), VaultError> {
    let path = vault.path.clone();
    let werr = |source| VaultError::Write {
        path: display(&path),
        source,
    };
    let current = match fs_err::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(werr(e)),
    };
    let current_digest: Option<[u8; 32]> = current.as_ref().map(|b| Sha256::digest(b).into());
    if current_digest != vault.loaded {
        return Err(VaultError::ChangedOnDisk {
            path: display(&path),
        });
    }
    if vault.key.is_none() {
        let kind: Option<KeyKind> = None;
        vault.key = Some(vault.source.resolve(&path, kind, Purpose::Create)?);
    }
    let key = vault.key.as_ref().expect("resolved above");
    let bytes = vault_file::encrypt(records, key, vault.scrypt_log_n);
    let backup_path = path.with_file_name(format!(
        "{}.bak",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let backup = current.as_deref().map(|b| (backup_path.as_path(), b));
    fsutil::atomic_write(&path, &bytes, 0o600, backup).map_err(werr)?;
    vault.loaded = Some(Sha256::digest(&bytes).into());
    Ok(())
}

pub(crate) fn read_plain(
    path: &Path,
) -> Result<Option<BTreeMap<String, SecretRecord>>, VaultError> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => zeroize::Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(VaultError::Read {
                path: display(path),
                source: e,
            });
        }
    };
    check_private(path)?;
    let file: PlainFile =
        toml::from_str(&text).map_err(|e| vault_file::parse_error(path, &text, &e))?;
    Ok(Some(file.secrets))
}

fn save_plain(path: &Path, records: &BTreeMap<String, SecretRecord>) -> Result<(), VaultError> {
    let werr = |source| VaultError::Write {
        path: display(path),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(werr)?;
    fsutil::set_mode(dir, 0o700).map_err(werr)?;
    #[derive(Serialize)]
    struct PlainRef<'a> {
        secrets: &'a BTreeMap<String, SecretRecord>,
    }
    let text = zeroize::Zeroizing::new(format!(
        "# Generated by vpai. Never commit this file.\n{}",
        toml::to_string(&PlainRef { secrets: records }).expect("secret records always serialize")
    ));
    fsutil::atomic_write(path, text.as_bytes(), 0o600, None).map_err(werr)
}

pub(crate) fn check_private(path: &Path) -> Result<(), VaultError> {
    match fsutil::readable_by_others(path) {
        Ok(None) => Ok(()),
        Ok(Some(mode)) => Err(VaultError::Permissions {
            path: display(path),
            mode,
        }),
        Err(e) => Err(VaultError::Read {
            path: display(path),
            source: e,
        }),
    }
}

pub(crate) fn event(at: u64, kind: EventKind, detail: Option<String>) -> SecretEvent {
    SecretEvent { at, kind, detail }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vpai_catalog::{RotationPolicy, SecretFormat};

    pub(crate) fn def(name: &str, external: bool) -> SecretDef {
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
        fsutil::set_mode(&path, 0o644).unwrap();
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

    #[test]
    fn setting_the_same_value_changes_nothing() {
        let mut store = SecretStore::in_memory();
        store.set("k", "value-1234".into(), SecretOrigin::External);
        store.save().unwrap();
        store.set("k", "value-1234".into(), SecretOrigin::External);
        assert!(!store.is_dirty());
        assert_eq!(store.record("k").unwrap().rotated, None);
        store.set("k", "value-5678".into(), SecretOrigin::External);
        assert!(store.is_dirty());
        assert!(store.record("k").unwrap().rotated.is_some());
        let kinds: Vec<_> = store
            .record("k")
            .unwrap()
            .history
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, [EventKind::Set, EventKind::Set]);
    }

    #[test]
    fn history_is_bounded() {
        let mut store = SecretStore::in_memory();
        for i in 0..200 {
            store.set("k", format!("value-{i:04}"), SecretOrigin::External);
        }
        assert_eq!(
            store.record("k").unwrap().history.len(),
            crate::record::HISTORY_LIMIT
        );
    }

    #[test]
    fn serde_type_errors_lose_their_values() {
        assert_eq!(
            vault_file::without_values(r#"invalid type: string "hunter2-secret", expected u64"#),
            "invalid type: string, expected u64"
        );
        assert_eq!(
            vault_file::without_values("invalid type: integer `123456789`, expected a string"),
            "invalid type: integer, expected a string"
        );
    }
}
