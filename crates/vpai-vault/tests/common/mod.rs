//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use vpai_catalog::{RotationPolicy, SecretDef, SecretFormat};
use vpai_vault::{PassphraseSource, SecretStore};

pub const PASSPHRASE: &str = "correct horse battery staple";
pub const PROJECT: &str = "demo";

pub fn pass() -> PassphraseSource {
    PassphraseSource::passphrase(PASSPHRASE)
}

/// Open the vault in `dir` with a cheap scrypt work factor for new writes.
pub fn open(dir: &Path, source: &PassphraseSource) -> Result<SecretStore, vpai_vault::VaultError> {
    let mut store = SecretStore::open_vault(dir, PROJECT, source)?;
    store.set_scrypt_work_factor(10);
    Ok(store)
}

pub fn def(name: &str) -> SecretDef {
    SecretDef {
        name: name.into(),
        format: SecretFormat::Hex,
        length: 32,
        prefix: String::new(),
        rotate: RotationPolicy::Quarterly,
        never_reason: None,
        external: false,
        required: false,
        help: None,
        kept_in: None,
    }
}

pub fn write_private(path: &Path, content: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_path_buf()
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
