//! One-time move from the foundation's plaintext `.vpai/secrets.toml` into the vault.
//!
//! The plaintext file goes only after the vault that replaces it is on disk, so a
//! failure at any point (no passphrase in CI, a full disk) leaves the secrets where
//! they were. This is said on stderr, not through the caller: an operator must learn
//! that a file they may have backed up is gone, even from a caller that forgets.

use crate::error::{VaultError, display};
use crate::record::EventKind;
use crate::store::{SecretStore, event, now, read_plain};
use std::path::Path;

pub(crate) fn from_plain(store: &mut SecretStore, legacy: &Path) -> Result<(), VaultError> {
    let Some(records) = read_plain(legacy)? else {
        return Ok(());
    };
    let vault = store.path().to_path_buf();
    let werr = |source| VaultError::Write {
        path: display(legacy),
        source,
    };
    if vault.exists() {
        let same = records
            .iter()
            .all(|(name, r)| store.get(name) == Some(r.value.as_str()));
        if same {
            crate::fsutil::shred(legacy).map_err(werr)?;
            eprintln!(
                "vpai: removed `{}`: every secret in it is already in `{}`",
                legacy.display(),
                vault.display()
            );
        } else {
            eprintln!(
                "warning: `{}` (plaintext) is still there and holds values that differ from `{}`; vpai uses the vault\n  help: compare with `vpai secrets list`, set what you need with `vpai secrets set NAME`, then delete the plaintext file",
                legacy.display(),
                vault.display()
            );
        }
        return Ok(());
    }
    // Checked here, with a fix that works: `vpai secrets set` would try this same
    // migration first.
    for (name, record) in &records {
        if let Err(problem) = crate::limits::check_value(&record.value) {
            return Err(VaultError::InvalidValue {
                path: display(legacy),
                name: name.clone(),
                problem,
                help: format!(
                    "nothing was moved; correct that value in `{}` (plaintext, mode 0600), then run the command again",
                    legacy.display()
                ),
            });
        }
    }
    let count = records.len();
    let at = now();
    for (name, mut record) in records {
        record.push_event(event(
            at,
            EventKind::Migrated,
            Some(format!("from {}", legacy.display())),
        ));
        store.records.insert(name, record);
    }
    store.mark_dirty();
    store.save()?;
    match crate::fsutil::shred(legacy) {
        // Another vpai migrating at the same moment removed it first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => other.map_err(werr)?,
    }
    eprintln!(
        "vpai: moved {count} secret(s) from the plaintext `{}` into the encrypted `{}`; the plaintext file was overwritten and removed",
        legacy.display(),
        vault.display()
    );
    Ok(())
}
