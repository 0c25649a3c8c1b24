//! Secrets: generated from the catalog's declaration with the OS CSPRNG on first
//! use, stored next to `stack.toml`, never printed. Everything else in vpai reaches
//! secret values only through [`SecretStore`], so the storage can change (an
//! encrypted vault) without touching the renderer or the deploy.

mod generate;
mod store;

pub use generate::generate;
pub use store::{SecretOrigin, SecretRecord, SecretStore, VaultError};
