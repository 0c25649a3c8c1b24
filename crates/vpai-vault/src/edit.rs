//! `vpai secrets edit`: the values as a small TOML file (`name = "value"`), opened in
//! the operator's editor, validated as a whole, then applied all at once.
//!
//! The plaintext lives only in a 0600 file inside a 0700 directory, on tmpfs when the
//! machine has one (`/dev/shm`: never written to a disk), and is overwritten before
//! it is unlinked, whatever happens (the session's `Drop`).

use crate::error::display;
use crate::record::{EventKind, SecretOrigin};
use crate::store::SecretStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vpai_catalog::{RotationPolicy, SecretDef};
use zeroize::Zeroizing;

const HEADER: &str = "\
# vpai secrets: change a value, add `name = \"value\"` for an external secret,
# or delete a line to have a generated secret made anew on the next deploy.
# Saved only if the whole file is valid; the plaintext file is shredded on exit.
# Values of never-rotate secrets cannot change here (vpai explains why).
";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("the edited file is not valid TOML: {0}")]
    Syntax(String),
    #[error("`{0}` is not a string: write it as `{0} = \"value\"`")]
    NotAString(String),
    #[error("`{0}` is not a valid secret name (lowercase letters, digits and `_`)")]
    BadName(String),
    #[error("`{name}` must never change: {reason}")]
    NeverRotate { name: String, reason: String },
    #[error("`{0}` cannot be empty; delete the line to remove it")]
    Empty(String),
}

/// What applying an edit changed (names only).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EditChanges {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl EditChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

impl SecretStore {
    /// The values as the file `secrets edit` opens.
    pub fn edit_text(&self) -> Zeroizing<String> {
        let values: BTreeMap<&str, &str> = self
            .records
            .iter()
            .map(|(n, r)| (n.as_str(), r.value.as_str()))
            .collect();
        let body = Zeroizing::new(toml::to_string(&values).expect("strings always serialize"));
        Zeroizing::new(format!("{HEADER}\n{}", body.as_str()))
    }

    /// Validate `text` (from [`edit_text`](Self::edit_text), edited) against the
    /// stack's declared secrets `defs`, then apply it. Nothing changes on error.
    pub fn apply_edit(&mut self, text: &str, defs: &[SecretDef]) -> Result<EditChanges, EditError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            EditError::Syntax(format!(
                "{}{}",
                crate::vault_file::without_values(e.message()),
                line.map(|l| format!(" (line {l})")).unwrap_or_default()
            ))
        })?;
        let mut wanted: BTreeMap<String, Zeroizing<String>> = BTreeMap::new();
        for (name, value) in table {
            if !valid_name(&name) {
                return Err(EditError::BadName(name));
            }
            let toml::Value::String(value) = value else {
                return Err(EditError::NotAString(name));
            };
            if value.is_empty() {
                return Err(EditError::Empty(name));
            }
            wanted.insert(name, Zeroizing::new(value));
        }
        let never = |name: &str| {
            defs.iter()
                .find(|d| d.name == name && d.rotate == RotationPolicy::Never)
                .map(|d| {
                    d.never_reason
                        .clone()
                        .unwrap_or_else(|| "the catalog marks it never-rotate".into())
                })
        };
        let mut changes = EditChanges::default();
        for (name, value) in &wanted {
            match self.get(name) {
                Some(current) if current == value.as_str() => {}
                Some(_) => {
                    if let Some(reason) = never(name) {
                        return Err(EditError::NeverRotate {
                            name: name.clone(),
                            reason,
                        });
                    }
                    changes.changed.push(name.clone());
                }
                None => changes.added.push(name.clone()),
            }
        }
        for name in self.names() {
            if !wanted.contains_key(name) {
                if let Some(reason) = never(name) {
                    return Err(EditError::NeverRotate {
                        name: name.to_string(),
                        reason,
                    });
                }
                changes.removed.push(name.to_string());
            }
        }
        // Validated: apply.
        for name in changes.added.iter().chain(&changes.changed) {
            let origin = match (self.record(name), defs.iter().find(|d| &d.name == name)) {
                (Some(r), _) => r.origin,
                (None, Some(d)) if !d.external => SecretOrigin::Generated,
                _ => SecretOrigin::External,
            };
            self.set_with(
                name,
                wanted[name].to_string(),
                origin,
                EventKind::Edited,
                None,
            );
        }
        for name in &changes.removed {
            self.remove(name);
        }
        Ok(changes)
    }
}

/// Names as the catalog writes them, so they can be used in templates.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The plaintext file of one edit, removed (overwritten first) when dropped.
pub struct EditSession {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl EditSession {
    /// Write `text` to a fresh private file.
    pub fn create(text: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mut builder = tempfile::Builder::new();
        builder
            .prefix("vpai-secrets-")
            .permissions(std::fs::Permissions::from_mode(0o700));
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            builder.tempdir_in(shm).or_else(|_| builder.tempdir())?
        } else {
            builder.tempdir()?
        };
        // Empty until this returns, so a moment at the umask's mode exposes nothing.
        crate::fsutil::set_mode(dir.path(), 0o700)?;
        let path = dir.path().join("secrets.toml");
        crate::fsutil::atomic_write(&path, text.as_bytes(), 0o600, None)?;
        Ok(EditSession { _dir: dir, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's current content.
    pub fn read(&self) -> std::io::Result<Zeroizing<String>> {
        fs_err::read_to_string(&self.path).map(Zeroizing::new)
    }
}

impl Drop for EditSession {
    fn drop(&mut self) {
        // Editors may have replaced the file (write to new + rename) or left backups
        // (`secrets.toml~`, `.swp`): shred everything in the private directory.
        if let Ok(entries) = std::fs::read_dir(self._dir.path()) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() && crate::fsutil::shred(&path).is_err() {
                    eprintln!(
                        "warning: could not shred `{}`; delete it by hand",
                        display(&path)
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::def;

    fn store() -> SecretStore {
        let mut s = SecretStore::in_memory();
        s.ensure(&def("redis_password", false));
        s.set(
            "openai_api_key",
            "sk-proj-1234567890".into(),
            SecretOrigin::External,
        );
        let mut key = def("n8n_encryption_key", false);
        key.rotate = RotationPolicy::Never;
        s.ensure(&key);
        s
    }

    fn defs() -> Vec<SecretDef> {
        let mut key = def("n8n_encryption_key", false);
        key.rotate = RotationPolicy::Never;
        key.never_reason = Some("credentials become unreadable".into());
        vec![
            def("redis_password", false),
            key,
            def("openai_api_key", true),
        ]
    }

    #[test]
    fn unchanged_text_changes_nothing() {
        let mut s = store();
        let text = s.edit_text();
        assert!(text.starts_with("# vpai secrets"));
        assert!(s.apply_edit(&text, &defs()).unwrap().is_empty());
    }

    #[test]
    fn change_add_and_remove() {
        let mut s = store();
        let key = s.get("n8n_encryption_key").unwrap().to_string();
        let text = format!(
            "n8n_encryption_key = \"{key}\"\nopenai_api_key = \"sk-proj-new-value\"\nanthropic_api_key = \"sk-ant-value\"\n"
        );
        let changes = s.apply_edit(&text, &defs()).unwrap();
        assert_eq!(changes.added, ["anthropic_api_key"]);
        assert_eq!(changes.changed, ["openai_api_key"]);
        assert_eq!(changes.removed, ["redis_password"]);
        assert_eq!(s.get("openai_api_key"), Some("sk-proj-new-value"));
        assert_eq!(
            s.record("anthropic_api_key").unwrap().origin,
            SecretOrigin::External
        );
        assert_eq!(
            s.record("openai_api_key")
                .unwrap()
                .history
                .last()
                .unwrap()
                .kind,
            EventKind::Edited
        );
    }

    #[test]
    fn invalid_edits_change_nothing_and_quote_no_value() {
        let mut s = store();
        let before = s.edit_text();
        let cases = [
            ("redis_password = \"unterminated-secret-value\n", "line 1"),
            ("redis_password = 12345678\n", "not a string"),
            ("Bad-Name = \"x\"\n", "not a valid secret name"),
            (
                "n8n_encryption_key = \"another-value-here\"\n",
                "credentials become unreadable",
            ),
            ("redis_password = \"\"\n", "cannot be empty"),
        ];
        for (text, expected) in cases {
            let err = s.apply_edit(text, &defs()).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(
                !err.contains("unterminated-secret") && !err.contains("12345678"),
                "{err}"
            );
            assert_eq!(*s.edit_text(), *before);
        }
    }

    #[test]
    fn session_file_is_private_and_gone_after_drop() {
        use std::os::unix::fs::PermissionsExt;
        let session = EditSession::create("a = \"b\"\n").unwrap();
        let path = session.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        std::fs::write(path.with_extension("toml~"), "backup").unwrap();
        drop(session);
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }
}
