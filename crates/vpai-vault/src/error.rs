//! The vault's error type. Every variant names the file involved and, where there is
//! one, the fix (`help:` line). None ever carries a secret value: messages from parsers
//! of decrypted text are reduced to their position and kind, never the offending line.

use std::path::Path;

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
    #[error(
        "cannot decrypt `{path}`: wrong passphrase{from}\n  help: the vault was not changed; check the passphrase (VPAI_VAULT_PASSWORD_FILE, VPAI_VAULT_PASSWORD or the prompt)"
    )]
    WrongPassphrase { path: String, from: String },
    #[error(
        "cannot decrypt `{path}`: the identity in `{identity}` is not one of its recipients\n  help: the vault was not changed; point VPAI_VAULT_IDENTITY_FILE at the identity the vault was encrypted to"
    )]
    WrongIdentity { path: String, identity: String },
    #[error(
        "`{path}` is damaged or was modified outside vpai ({detail})\n  help: nothing was changed; restore it with `git checkout -- {path}` or from `{path}.bak`"
    )]
    Tampered { path: String, detail: String },
    #[error("`{path}` is encrypted with {found}, but {given} was given\n  help: {help}")]
    KeyKindMismatch {
        path: String,
        found: &'static str,
        given: &'static str,
        help: &'static str,
    },
    #[error(
        "no passphrase for `{path}`: VPAI_VAULT_PASSWORD_FILE, VPAI_VAULT_PASSWORD and VPAI_VAULT_IDENTITY_FILE are unset and there is no terminal to ask on\n  help: set VPAI_VAULT_PASSWORD_FILE to a file (mode 0600) that holds the passphrase"
    )]
    NoPassphrase { path: String },
    #[error("cannot read the vault passphrase from `{path}`: {source}")]
    PassphraseFile {
        path: String,
        source: std::io::Error,
    },
    #[error("unusable vault passphrase from {from}: {reason}")]
    BadPassphrase { from: String, reason: String },
    #[error(
        "`{path}` is not an age identity file: {reason}\n  help: create one with `age-keygen -o {path}` (and keep it out of git)"
    )]
    Identity { path: String, reason: String },
    #[error(
        "`{path}` changed on disk since vpai read it (another vpai, an editor, or a git checkout)\n  help: nothing was written; run the command again"
    )]
    ChangedOnDisk { path: String },
    #[error(
        "`{path}` changed on disk since vpai read it, and {names} changed both there and in this command\n  help: nothing was written; check the values (`vpai secrets list`), then run the command again"
    )]
    Conflict { path: String, names: String },
    #[error("cannot use `{path}`: {reason}\n  help: {help}")]
    Unusable {
        path: String,
        reason: String,
        help: String,
    },
    #[error("`{path}`: the value of `{name}` {problem}\n  help: {help}")]
    InvalidValue {
        path: String,
        name: String,
        problem: crate::limits::ValueProblem,
        help: String,
    },
    #[error(
        "`{path}`: the secret name {name} is not usable (ASCII letters, digits, `_`, `-` and `.`, at most 128)\n  help: {help}"
    )]
    InvalidName {
        path: String,
        name: String,
        help: String,
    },
    #[error(
        "`{path}` belongs to the project `{vault_project}`, but this stack is the project `{project}`\n  help: each project keeps its own vault, so that one project's passphrase never unlocks another's secrets; to copy a secret on purpose: `vpai secrets show NAME --stdout -f OTHER/stack.toml | vpai secrets set NAME`"
    )]
    OtherProject {
        path: String,
        vault_project: String,
        project: String,
    },
    #[error(
        "the secrets of this stack are in the encrypted `{vault}`, but this command still reads the plaintext `{plain}`\n  help: this vpai build is half-migrated; use a build whose commands open the vault (nothing was generated or written)"
    )]
    MovedToVault { plain: String, vault: String },
    #[error(
        "`{path}` was written by a newer vpai (vault format {format}, this one reads up to {supported})\n  help: upgrade vpai"
    )]
    TooNew {
        path: String,
        format: u32,
        supported: u32,
    },
    #[error(
        "the kernel keyring is not usable here: {reason}\n  help: `vpai unlock` needs it to hold the vault open; instead, keep the passphrase in a file of your own (mode 0600) and point VPAI_VAULT_PASSWORD_FILE at it (in a container, a seccomp profile that allows `add_key` and `keyctl` also works)"
    )]
    KeyringUnavailable { reason: String },
    #[error(
        "`{path}` opens with an age identity (VPAI_VAULT_IDENTITY_FILE), which takes milliseconds already: there is nothing to hold\n  help: `vpai unlock` is for passphrase vaults; with an identity, keep VPAI_VAULT_IDENTITY_FILE set"
    )]
    NothingToHold { path: String },
    #[error(
        "there is no vault at `{path}` yet, so nothing to unlock\n  help: the first command that needs a secret creates it (`vpai up`, `vpai secrets set NAME`)"
    )]
    NoVault { path: String },
}

pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

/// A name from a file, for a message: quoted and escaped, and cut short.
pub(crate) fn quoted_name(name: &str) -> String {
    let short: String = name.chars().take(64).collect();
    let mut out = format!("{short:?}");
    if short.len() < name.len() {
        out.push_str("...");
    }
    out
}
