//! Secrets: generated from the catalog's declaration with the OS CSPRNG on first
//! use, kept encrypted in `secrets.vault` next to `stack.toml`, never printed.
//! Everything else in vpai reaches secret values only through [`SecretStore`], and
//! everything vpai prints goes through a [`Redactor`] built from it.
//!
//! - [`SecretStore`]: the API the renderer and the deploy use; `open_vault` opens
//!   `secrets.vault` (and migrates the foundation's plaintext `.vpai/secrets.toml`).
//! - `vault_file`: the age-encrypted, armored file; [`PassphraseSource`]: its key.
//! - [`keyring`]: `vpai unlock`, a passphrase vault held open in the kernel keyring.
//! - [`edit`]: `vpai secrets edit`, all-or-nothing, through a shredded temp file.
//! - [`rotate`]: rotation policy, the old value held until the deploy confirms, and
//!   the [`RotationPlan`] the deploy executes.
//! - [`ansible`] and [`import`]: bringing secrets over from VPAI's Ansible Vault.
//! - [`limits`]: what a secret value may be, and how much vpai reads from a file.

pub mod ansible;
pub mod edit;
mod error;
pub mod fsutil;
mod generate;
pub mod import;
mod key;
pub mod keyring;
pub mod limits;
mod migrate;
mod record;
mod redact;
pub mod rotate;
mod store;
mod vault_file;

pub use edit::{EditChanges, EditError, EditSession};
pub use error::VaultError;
pub use generate::generate;
pub use import::{AnsibleVars, ImportError, ImportOutcome};
pub use key::{
    ENV_IDENTITY_FILE, ENV_PASSWORD, ENV_PASSWORD_FILE, MIN_PASSPHRASE_LEN, PassphraseSource,
    read_hidden,
};
pub use limits::{MAX_VALUE_LEN, ValueProblem, check_value, valid_name};
pub use record::{EventKind, RotationInFlight, SecretEvent, SecretOrigin, SecretRecord};
pub use redact::{MASK, MIN_REDACTED_LEN, Redactor};
pub use rotate::{NewValue, RotateError, RotationPlan};
pub use store::{LEGACY_FILE, SecretStore, VAULT_BACKUP_FILE, VAULT_FILE, VAULT_LOCK_FILE};
pub use vault_file::VAULT_FORMAT;
/// Values held by vpai's APIs are wiped from memory when dropped.
pub use zeroize::Zeroizing;

/// Entry points for the fuzz targets (`crates/vpai-vault/fuzz`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parse a decrypted vault document.
    pub fn parse_vault_document(data: &[u8]) {
        let _ = crate::vault_file::parse_document(std::path::Path::new("fuzz"), data);
    }

    /// Read an armored vault's header, then try to decrypt it with an X25519 identity
    /// (a passphrase would make each input cost a scrypt run).
    pub fn open_vault_bytes(data: &[u8]) {
        let path = std::path::Path::new("fuzz");
        if crate::vault_file::key_kind(path, data).is_err() {
            return;
        }
        let key = crate::key::VaultKey::Identity(
            Box::new(age::x25519::Identity::generate()),
            "fuzz".into(),
        );
        let _ = crate::vault_file::decrypt(path, data, &key).map(|c| c.records);
    }

    /// Parse and decrypt an Ansible Vault file, then read its YAML variables.
    pub fn ansible(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let _ = crate::ansible::parse("fuzz", text);
        let _ = crate::import::read_vars("fuzz", text, &mut || {
            Ok(zeroize::Zeroizing::new(b"fuzz".to_vec()))
        });
    }
}
