//! Where the key that opens `secrets.vault` comes from.
//!
//! A passphrase (age's scrypt recipient) is the default: it is what an operator can
//! keep in a password manager and type. An age X25519 identity file is the choice for
//! machines (CI, a deploy box): nothing to type, and the file can be revoked by
//! re-encrypting. The passphrase never travels through argv: it comes from a file,
//! an environment variable, or a prompt on the terminal (`/dev/tty`, not stdin, so
//! `vpai secrets set NAME < value` still reads the value from stdin).

use crate::error::{VaultError, display};
use age::secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

/// `VPAI_VAULT_PASSWORD_FILE`: path of a file (mode 0600) holding the passphrase.
pub const ENV_PASSWORD_FILE: &str = "VPAI_VAULT_PASSWORD_FILE";
/// `VPAI_VAULT_PASSWORD`: the passphrase itself (CI secrets).
pub const ENV_PASSWORD: &str = "VPAI_VAULT_PASSWORD";
/// `VPAI_VAULT_IDENTITY_FILE`: an age X25519 identity (`AGE-SECRET-KEY-1...`).
pub const ENV_IDENTITY_FILE: &str = "VPAI_VAULT_IDENTITY_FILE";

/// New vaults get a passphrase at least this long (existing ones open with any).
pub const MIN_PASSPHRASE_LEN: usize = 12;

/// Where the vault key comes from. [`PassphraseSource::Environment`] is what the CLI
/// uses; the other variants let callers and tests be explicit.
#[derive(Clone)]
pub enum PassphraseSource {
    /// For an existing passphrase vault unlocked by `vpai unlock`, what the kernel
    /// keyring holds for it (see [`crate::keyring`]); otherwise
    /// `VPAI_VAULT_PASSWORD_FILE`, then `VPAI_VAULT_PASSWORD`, then
    /// `VPAI_VAULT_IDENTITY_FILE`, then a prompt on the terminal. For an existing vault
    /// the kind of key it was encrypted with decides between passphrase and identity.
    Environment,
    /// A file holding the passphrase (one trailing newline is ignored).
    File(PathBuf),
    /// The passphrase itself.
    Passphrase(Zeroizing<String>),
    /// An age identity file (X25519).
    IdentityFile(PathBuf),
    /// Only ask on the terminal.
    Prompt,
}

impl std::fmt::Debug for PassphraseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassphraseSource::Environment => f.write_str("Environment"),
            PassphraseSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PassphraseSource::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
            PassphraseSource::IdentityFile(p) => f.debug_tuple("IdentityFile").field(p).finish(),
            PassphraseSource::Prompt => f.write_str("Prompt"),
        }
    }
}

impl PassphraseSource {
    pub fn passphrase(value: impl Into<String>) -> Self {
        PassphraseSource::Passphrase(Zeroizing::new(value.into()))
    }
}

/// What the vault on disk needs, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Passphrase,
    Identity,
}

/// A resolved key, kept in memory while the store is open so that `save` does not ask twice.
pub(crate) enum VaultKey {
    /// The passphrase and where it came from (for the wrong-passphrase message).
    Passphrase(SecretString, String),
    /// The identity and its file.
    Identity(Box<age::x25519::Identity>, String),
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultKey::Passphrase(_, from) => write!(f, "Passphrase(<redacted>, {from})"),
            VaultKey::Identity(_, path) => write!(f, "Identity({path})"),
        }
    }
}

/// Why a key is asked for: unlocking checks nothing; creating asks twice on a
/// terminal and refuses short passphrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Unlock,
    Create,
}

impl PassphraseSource {
    /// Resolve to a key. `kind` is the kind of the existing vault (`None` for a new one).
    pub(crate) fn resolve(
        &self,
        vault: &Path,
        kind: Option<KeyKind>,
        purpose: Purpose,
    ) -> Result<VaultKey, VaultError> {
        let key = match self {
            PassphraseSource::Environment => resolve_environment(vault, kind, purpose)?,
            PassphraseSource::File(path) => passphrase_from_file(path)?,
            PassphraseSource::Passphrase(p) => {
                passphrase_key(p.to_string(), "the given passphrase")?
            }
            PassphraseSource::IdentityFile(path) => identity_from_file(path)?,
            PassphraseSource::Prompt => prompt(vault, purpose)?,
        };
        let given = match key {
            VaultKey::Passphrase(..) => KeyKind::Passphrase,
            VaultKey::Identity(..) => KeyKind::Identity,
        };
        if let Some(found) = kind
            && found != given
        {
            return Err(mismatch(vault, found));
        }
        if purpose == Purpose::Create
            && let VaultKey::Passphrase(p, _) = &key
        {
            use age::secrecy::ExposeSecret;
            let len = p.expose_secret().chars().count();
            if len < MIN_PASSPHRASE_LEN {
                return Err(VaultError::BadPassphrase {
                    from: "the passphrase for a new vault".into(),
                    reason: format!(
                        "{len} characters; use at least {MIN_PASSPHRASE_LEN} (a password manager can make one)"
                    ),
                });
            }
        }
        Ok(key)
    }
}

fn mismatch(vault: &Path, found: KeyKind) -> VaultError {
    match found {
        KeyKind::Passphrase => VaultError::KeyKindMismatch {
            path: display(vault),
            found: "a passphrase",
            given: "an identity",
            help: "unset VPAI_VAULT_IDENTITY_FILE and give the passphrase (VPAI_VAULT_PASSWORD_FILE)",
        },
        KeyKind::Identity => VaultError::KeyKindMismatch {
            path: display(vault),
            found: "an age identity",
            given: "a passphrase",
            help: "set VPAI_VAULT_IDENTITY_FILE to the identity file the vault was encrypted to",
        },
    }
}

fn env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

fn resolve_environment(
    vault: &Path,
    kind: Option<KeyKind>,
    purpose: Purpose,
) -> Result<VaultKey, VaultError> {
    let identity = env(ENV_IDENTITY_FILE);
    let wants_identity = match kind {
        Some(k) => k == KeyKind::Identity,
        // A new vault: an identity when one is configured, a passphrase otherwise.
        None => identity.is_some(),
    };
    if wants_identity {
        return match identity {
            Some(path) => identity_from_file(Path::new(&path)),
            None => Err(mismatch(vault, KeyKind::Identity)),
        };
    }
    if let Some(path) = env(ENV_PASSWORD_FILE) {
        return passphrase_from_file(Path::new(&path)).map(|k| k.via_env(ENV_PASSWORD_FILE));
    }
    if let Some(value) = env(ENV_PASSWORD) {
        let value = value.into_string().map_err(|_| VaultError::BadPassphrase {
            from: ENV_PASSWORD.into(),
            reason: "not valid UTF-8".into(),
        })?;
        return passphrase_key(value, ENV_PASSWORD);
    }
    prompt(vault, purpose)
}

impl VaultKey {
    /// The kind of vault this key opens.
    pub(crate) fn kind(&self) -> KeyKind {
        match self {
            VaultKey::Passphrase(..) => KeyKind::Passphrase,
            VaultKey::Identity(..) => KeyKind::Identity,
        }
    }

    /// Whether the passphrase was typed at the prompt (not from a variable, a file or
    /// the kernel keyring).
    pub(crate) fn was_typed(&self) -> bool {
        matches!(self, VaultKey::Passphrase(_, from) if from == PROMPT_ORIGIN)
    }

    fn via_env(self, var: &str) -> Self {
        match self {
            VaultKey::Passphrase(p, from) => VaultKey::Passphrase(p, format!("{var} ({from})")),
            other => other,
        }
    }

    /// For messages: ` (from X)`.
    pub(crate) fn origin(&self) -> String {
        match self {
            VaultKey::Passphrase(_, from) => format!(" (from {from})"),
            VaultKey::Identity(_, path) => format!(" (identity `{path}`)"),
        }
    }
}

fn passphrase_key(value: String, from: &str) -> Result<VaultKey, VaultError> {
    if value.is_empty() {
        return Err(VaultError::BadPassphrase {
            from: from.into(),
            reason: "it is empty".into(),
        });
    }
    Ok(VaultKey::Passphrase(
        SecretString::from(value),
        from.to_string(),
    ))
}

/// Open a key file (passphrase or identity): never through a symbolic link, never a
/// FIFO or a device, its mode checked on the opened file before a byte is read, and
/// read with a cap. `var` names the variable that usually points at it, for the help.
fn read_key_file(path: &Path, var: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    use crate::fsutil::FileProblem;
    use crate::limits::MAX_KEY_FILE_LEN;
    use std::os::unix::fs::PermissionsExt;
    let unusable = |problem: FileProblem| {
        let help = match problem {
            FileProblem::Symlink => format!(
                "point {var} at the file itself, not at a link: `{var}=\"$(readlink -f {p})\"`",
                p = path.display()
            ),
            FileProblem::TooLarge(_) => {
                "the file holds the key only (one line); check that the path is right".to_string()
            }
            _ => format!("{var} must name a regular file (mode 0600) that holds the key"),
        };
        VaultError::Unusable {
            path: display(path),
            reason: problem.to_string(),
            help,
        }
    };
    let (mut file, meta) = match crate::fsutil::open_regular(path, false) {
        Ok(opened) => opened,
        Err(FileProblem::Io(e)) => {
            return Err(VaultError::PassphraseFile {
                path: display(path),
                source: e,
            });
        }
        Err(problem) => return Err(unusable(problem)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::Permissions {
            path: display(path),
            mode,
        });
    }
    crate::fsutil::read_capped(&mut file, &meta, MAX_KEY_FILE_LEN).map_err(
        |problem| match problem {
            FileProblem::Io(e) => VaultError::PassphraseFile {
                path: display(path),
                source: e,
            },
            other => unusable(other),
        },
    )
}

fn passphrase_from_file(path: &Path) -> Result<VaultKey, VaultError> {
    let bytes = read_key_file(path, ENV_PASSWORD_FILE)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| VaultError::BadPassphrase {
        from: format!("`{}`", path.display()),
        reason: "not valid UTF-8".into(),
    })?;
    // `echo pass > file` adds one newline; anything else is part of the passphrase.
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    passphrase_key(text.to_string(), &format!("`{}`", path.display()))
}

fn identity_from_file(path: &Path) -> Result<VaultKey, VaultError> {
    let bad = |reason: String| VaultError::Identity {
        path: display(path),
        reason,
    };
    let bytes = read_key_file(path, ENV_IDENTITY_FILE).map_err(|e| match e {
        VaultError::PassphraseFile { source, .. } => bad(source.to_string()),
        other => other,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines
        .next()
        .ok_or_else(|| bad("it holds no `AGE-SECRET-KEY-1...` line".into()))?;
    if lines.next().is_some() {
        return Err(bad(
            "it holds more than one identity; keep one per file".into()
        ));
    }
    let identity = age::x25519::Identity::from_str(line)
        .map_err(|_| bad("its key line is not an X25519 `AGE-SECRET-KEY-1...`".into()))?;
    Ok(VaultKey::Identity(Box::new(identity), display(path)))
}

/// Ask on the terminal (`/dev/tty`, whatever stdin is) without echo. Fails when the
/// process has no terminal (CI), instead of reading stdin.
pub fn read_hidden(prompt: &str) -> std::io::Result<Zeroizing<String>> {
    fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    rpassword::prompt_password(prompt).map(Zeroizing::new)
}

/// Where a typed passphrase came from, in messages.
const PROMPT_ORIGIN: &str = "the prompt";

fn prompt(vault: &Path, purpose: Purpose) -> Result<VaultKey, VaultError> {
    let no_tty = || VaultError::NoPassphrase {
        path: display(vault),
    };
    // Without a controlling terminal (CI) say which variables to set, instead of
    // hanging or reading stdin.
    let ask = |text: &str| read_hidden(text).map_err(|_| no_tty());
    match purpose {
        Purpose::Unlock => {
            let p = ask(&format!("Passphrase for {}: ", vault.display()))?;
            passphrase_key(p.to_string(), PROMPT_ORIGIN)
        }
        Purpose::Create => {
            let first = ask(&format!("New passphrase for {}: ", vault.display()))?;
            let again = ask("Same passphrase again: ")?;
            if *first != *again {
                return Err(VaultError::BadPassphrase {
                    from: "the prompt".into(),
                    reason: "the two entries differ; nothing was written".into(),
                });
            }
            passphrase_key(first.to_string(), PROMPT_ORIGIN)
        }
    }
}
