//! `secrets.vault`: the secrets of one stack as a TOML document encrypted with age and
//! ASCII-armored.
//!
//! Armored so the file is text (a git diff shows that it changed, `git log -p` does
//! not break, a pull request can carry it). Authenticated by age: a changed byte
//! anywhere fails decryption, so a tampered or truncated file is refused as a whole
//! and nothing is ever written from a half-read vault. The plaintext is TOML rather
//! than a binary encoding so that `vpai secrets edit` can show exactly what is stored.

use crate::error::{VaultError, display};
use crate::key::{KeyKind, VaultKey};
use crate::record::SecretRecord;
use age::armor::{ArmoredReader, ArmoredWriter, Format};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// Version of the plaintext document; bumped when old readers would misread it.
pub const VAULT_FORMAT: u32 = 1;

/// scrypt work factor (N = 2^18) for new files: about a second and 256 MiB, the same
/// as age's own calibration on current machines, but fixed so that a slow or
/// unoptimized build never writes a weaker vault.
pub(crate) const SCRYPT_LOG_N: u8 = 18;
/// Refuse files that demand more than this (2^22: ~4 GiB of memory): a hostile vault
/// must not be able to exhaust the machine that opens it.
pub(crate) const SCRYPT_MAX_LOG_N: u8 = 22;

#[derive(Serialize, Deserialize)]
struct Document {
    format: u32,
    /// The project (`[project] name` of stack.toml) the vault belongs to. Vaults written
    /// before it existed have none; they get it on their next save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project: Option<String>,
    #[serde(default)]
    secrets: BTreeMap<String, SecretRecord>,
}

/// What a vault holds once decrypted (`Debug` shows no value: records redact theirs).
#[derive(Debug)]
pub(crate) struct Contents {
    pub(crate) project: Option<String>,
    pub(crate) records: BTreeMap<String, SecretRecord>,
}

/// The kind of key an existing vault needs, read from its (unencrypted) header.
pub(crate) fn key_kind(path: &Path, bytes: &[u8]) -> Result<KeyKind, VaultError> {
    let text = normalize(bytes);
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(&text[..]))
        .map_err(|e| header_error(path, bytes, e))?;
    Ok(if decryptor.is_scrypt() {
        KeyKind::Passphrase
    } else {
        KeyKind::Identity
    })
}

/// The age file key of one vault file (16 random bytes drawn for each encryption).
/// With it, and for that file only, the payload decrypts without the scrypt work: this
/// is what `vpai unlock` holds, next to the passphrase (see [`crate::keyring`]).
pub(crate) type FileKey = Zeroizing<[u8; age_core::format::FILE_KEY_BYTES]>;

/// Decrypt and parse a vault. Any failure leaves the caller with nothing.
pub(crate) fn decrypt(path: &Path, bytes: &[u8], key: &VaultKey) -> Result<Contents, VaultError> {
    decrypt_keyed(path, bytes, key).map(|(contents, _)| contents)
}

/// [`decrypt`], also returning the file key the vault was encrypted with.
pub(crate) fn decrypt_keyed(
    path: &Path,
    bytes: &[u8],
    key: &VaultKey,
) -> Result<(Contents, FileKey), VaultError> {
    let mut scrypt_identity;
    let identity: &dyn age::Identity = match key {
        VaultKey::Passphrase(p, _) => {
            scrypt_identity = age::scrypt::Identity::new(p.clone());
            scrypt_identity.set_max_work_factor(SCRYPT_MAX_LOG_N);
            &scrypt_identity
        }
        VaultKey::Identity(identity, _) => identity.as_ref(),
    };
    let capture = CaptureIdentity {
        inner: identity,
        file_key: std::cell::RefCell::new(None),
    };
    let contents = read_payload(path, bytes, &capture, |e| match e {
        age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => match key {
            VaultKey::Passphrase(..) => VaultError::WrongPassphrase {
                path: display(path),
                from: key.origin(),
            },
            VaultKey::Identity(_, identity) => VaultError::WrongIdentity {
                path: display(path),
                identity: identity.clone(),
            },
        },
        age::DecryptError::ExcessiveWork { required, .. } => VaultError::Tampered {
            path: display(path),
            detail: format!(
                "it asks for scrypt work factor {required}, above the limit of {SCRYPT_MAX_LOG_N}"
            ),
        },
        other => tampered(path, &other.to_string()),
    })?;
    let file_key = capture
        .file_key
        .into_inner()
        .expect("age decrypted the payload, so the identity gave it the file key");
    Ok((contents, file_key))
}

/// Decrypt and parse a vault with a file key held from an earlier decryption or
/// encryption of the same bytes. age still checks the header's MAC and every payload
/// chunk, so a file key that does not belong to these bytes fails like a wrong key.
pub(crate) fn decrypt_with_file_key(
    path: &Path,
    bytes: &[u8],
    file_key: &FileKey,
) -> Result<Contents, VaultError> {
    read_payload(path, bytes, &HeldFileKey(file_key), |e| {
        tampered(path, &e.to_string())
    })
}

/// Read the header, obtain the file key from `identity`, decrypt and parse the payload.
fn read_payload(
    path: &Path,
    bytes: &[u8],
    identity: &dyn age::Identity,
    key_error: impl FnOnce(age::DecryptError) -> VaultError,
) -> Result<Contents, VaultError> {
    let text = normalize(bytes);
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(&text[..]))
        .map_err(|e| header_error(path, bytes, e))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity))
        .map_err(key_error)?;
    // A vault written by vpai is far below the cap: a bigger payload is not one.
    let cap = crate::limits::MAX_FILE_LEN;
    let mut plain = Zeroizing::new(Vec::new());
    (&mut reader)
        .take(cap + 1)
        .read_to_end(&mut plain)
        .map_err(|e| tampered(path, &format!("payload: {e}")))?;
    if plain.len() as u64 > cap {
        return Err(tampered(
            path,
            &format!(
                "its decrypted content is larger than {}",
                crate::fsutil::human_size(cap)
            ),
        ));
    }
    parse_document(path, &plain)
}

/// Parse the decrypted TOML. Also the entry point of the fuzz target.
///
/// Names must be valid and values within [`MAX_VALUE_LEN`](crate::limits::MAX_VALUE_LEN):
/// a hand-made vault must not be able to make every later command crawl (the output
/// masking is built from every value). Control characters in a value are not refused
/// here, so that a vault written before they were can still be opened and fixed
/// (`vpai secrets set`, `vpai secrets edit`); nothing is written while one is there.
pub(crate) fn parse_document(path: &Path, plain: &[u8]) -> Result<Contents, VaultError> {
    let text = std::str::from_utf8(plain).map_err(|_| VaultError::Parse {
        path: display(path),
        message: "decrypted content is not UTF-8".into(),
    })?;
    // Read the format first, so that a newer vault says "upgrade" rather than failing
    // on a field this version does not know.
    #[derive(Deserialize)]
    struct Probe {
        format: Option<u32>,
    }
    let probe: Probe = toml::from_str(text).map_err(|e| parse_error(path, text, &e))?;
    match probe.format {
        Some(f) if f > VAULT_FORMAT => {
            return Err(VaultError::TooNew {
                path: display(path),
                format: f,
                supported: VAULT_FORMAT,
            });
        }
        None => {
            return Err(VaultError::Parse {
                path: display(path),
                message: "decrypted content has no `format` key".into(),
            });
        }
        Some(_) => {}
    }
    let doc: Document = toml::from_str(text).map_err(|e| parse_error(path, text, &e))?;
    for (name, record) in &doc.secrets {
        if !crate::limits::storable_name(name) {
            return Err(VaultError::InvalidName {
                path: display(path),
                name: crate::error::quoted_name(name),
                help: format!(
                    "vpai never writes such a name; restore `{}.bak` or an earlier version from git",
                    display(path)
                ),
            });
        }
        let previous = record.rotation.as_ref().map(|r| r.previous_value.as_str());
        for value in std::iter::once(record.value.as_str()).chain(previous) {
            if value.len() > crate::limits::MAX_VALUE_LEN {
                return Err(VaultError::InvalidValue {
                    path: display(path),
                    name: name.clone(),
                    problem: crate::limits::ValueProblem::TooLong { len: value.len() },
                    help: format!(
                        "vpai never writes such a value; restore `{}.bak` or an earlier version from git",
                        display(path)
                    ),
                });
            }
        }
    }
    if let Some(project) = &doc.project
        && (project.len() > 256 || project.chars().any(char::is_control))
    {
        return Err(tampered(path, "its project name is not a valid name"));
    }
    Ok(Contents {
        project: doc.project,
        records: doc.secrets,
    })
}

/// The plaintext document for `records`.
pub(crate) fn render_document(
    project: Option<&str>,
    records: &BTreeMap<String, SecretRecord>,
) -> Zeroizing<String> {
    #[derive(Serialize)]
    struct DocumentRef<'a> {
        format: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        project: Option<&'a str>,
        secrets: &'a BTreeMap<String, SecretRecord>,
    }
    Zeroizing::new(
        toml::to_string(&DocumentRef {
            format: VAULT_FORMAT,
            project,
            secrets: records,
        })
        .expect("secret records always serialize"),
    )
}

/// Encrypt `records` for `key`; armored text, and the file key age drew for it.
pub(crate) fn encrypt(
    project: Option<&str>,
    records: &BTreeMap<String, SecretRecord>,
    key: &VaultKey,
    scrypt_log_n: u8,
) -> (Vec<u8>, FileKey) {
    let plain = render_document(project, records);
    let scrypt_recipient;
    let x25519_recipient;
    let recipient: &dyn age::Recipient = match key {
        VaultKey::Passphrase(p, _) => {
            let mut r = age::scrypt::Recipient::new(p.clone());
            r.set_work_factor(scrypt_log_n);
            scrypt_recipient = r;
            &scrypt_recipient
        }
        VaultKey::Identity(identity, _) => {
            x25519_recipient = identity.to_public();
            &x25519_recipient
        }
    };
    let capture = CaptureRecipient {
        inner: recipient,
        file_key: std::cell::RefCell::new(None),
    };
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&capture as &dyn age::Recipient))
            .expect("one native recipient is always a valid set");
    // Writing to a Vec cannot fail.
    let mut out = Vec::new();
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).expect("in memory");
    let mut writer = encryptor.wrap_output(armor).expect("in memory");
    writer.write_all(plain.as_bytes()).expect("in memory");
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .expect("in memory");
    let file_key = capture
        .file_key
        .into_inner()
        .expect("age wrapped the file key for the recipient");
    (out, file_key)
}

/// An identity that unwraps like `inner` and keeps a copy of the file key it returned.
struct CaptureIdentity<'a> {
    inner: &'a dyn age::Identity,
    file_key: std::cell::RefCell<Option<FileKey>>,
}

impl age::Identity for CaptureIdentity<'_> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        self.unwrap_stanzas(std::slice::from_ref(stanza))
    }

    // `inner`'s own `unwrap_stanzas`: scrypt's checks that its stanza is alone.
    fn unwrap_stanzas(
        &self,
        stanzas: &[age_core::format::Stanza],
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        let found = self.inner.unwrap_stanzas(stanzas);
        if let Some(Ok(file_key)) = &found {
            *self.file_key.borrow_mut() = Some(copy_file_key(file_key));
        }
        found
    }
}

/// A recipient that wraps like `inner` and keeps a copy of the file key it wrapped.
struct CaptureRecipient<'a> {
    inner: &'a dyn age::Recipient,
    file_key: std::cell::RefCell<Option<FileKey>>,
}

impl age::Recipient for CaptureRecipient<'_> {
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        *self.file_key.borrow_mut() = Some(copy_file_key(file_key));
        self.inner.wrap_file_key(file_key)
    }
}

/// The identity of a held file key: it answers the one scrypt stanza of a vault
/// (nothing else: an identity vault never gets here).
struct HeldFileKey<'a>(&'a FileKey);

impl age::Identity for HeldFileKey<'_> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        (stanza.tag == "scrypt").then(|| Ok(age_core::format::FileKey::new(Box::new(**self.0))))
    }
}

fn copy_file_key(file_key: &age_core::format::FileKey) -> FileKey {
    use age::secrecy::ExposeSecret;
    Zeroizing::new(*file_key.expose_secret())
}

/// Git on Windows (autocrlf) turns `\n` into `\r\n`, which age's armor rejects; the
/// content is base64, so dropping every `\r` is lossless.
fn normalize(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().copied().filter(|&b| b != b'\r').collect()
}

fn header_error(path: &Path, bytes: &[u8], e: age::DecryptError) -> VaultError {
    let start = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return tampered(path, "the file is empty");
    }
    if !start
        .trim_start()
        .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
    {
        return tampered(
            path,
            "it does not start with `-----BEGIN AGE ENCRYPTED FILE-----`",
        );
    }
    tampered(path, &e.to_string())
}

fn tampered(path: &Path, detail: &str) -> VaultError {
    VaultError::Tampered {
        path: display(path),
        detail: detail.trim().to_string(),
    }
}

/// TOML errors without the source line: it would be a decrypted line, maybe a value.
pub(crate) fn parse_error(path: &Path, text: &str, e: &toml::de::Error) -> VaultError {
    let position = e
        .span()
        .map(|span| {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let current = before.rsplit(|&b| b == b'\n').next().unwrap_or_default();
            let column = String::from_utf8_lossy(current).chars().count() + 1;
            format!(" (line {line}, column {column})")
        })
        .unwrap_or_default();
    VaultError::Parse {
        path: display(path),
        message: format!("{}{position}", without_values(e.message())),
    }
}

/// serde quotes the unexpected value in type errors (`invalid type: string "..."`,
/// `integer `123``); in a secrets file that value may be a secret, so drop it and
/// keep the kind.
pub(crate) fn without_values(message: &str) -> String {
    let mut out = message.to_string();
    for (kind, close) in [
        ("string \"", '"'),
        ("integer `", '`'),
        ("floating point `", '`'),
        ("character `", '`'),
        ("boolean `", '`'),
        ("unknown variant `", '`'),
    ] {
        while let Some(start) = out.find(kind) {
            let value_start = start + kind.len();
            let Some(len) = out[value_start..].find(close) else {
                out.truncate(value_start - 1);
                break;
            };
            out.replace_range(start + kind.len() - 2..value_start + len + 1, "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_format_asks_for_an_upgrade() {
        let err =
            parse_document(Path::new("v"), b"format = 2\n[secrets.a]\nvalue = 3\n").unwrap_err();
        assert!(matches!(err, VaultError::TooNew { format: 2, .. }), "{err}");
    }

    #[test]
    fn project_is_read_and_optional() {
        let doc = parse_document(Path::new("v"), b"format = 1\nproject = \"demo\"\n").unwrap();
        assert_eq!(doc.project.as_deref(), Some("demo"));
        let doc = parse_document(Path::new("v"), b"format = 1\n").unwrap();
        assert_eq!(doc.project, None);
    }

    #[test]
    fn huge_values_and_bad_names_are_refused_on_load() {
        let big = format!(
            "format = 1\n[secrets.a]\nvalue = \"{}\"\norigin = \"external\"\ncreated = 1\n",
            "x".repeat(crate::limits::MAX_VALUE_LEN + 1)
        );
        let err = parse_document(Path::new("v"), big.as_bytes()).unwrap_err();
        assert!(matches!(err, VaultError::InvalidValue { .. }), "{err}");
        assert!(err.to_string().contains("8 KiB"), "{err}");
        assert!(!err.to_string().contains("xxxxxxxx"), "{err}");
        let bad = "format = 1\n[secrets.\"a\\u001b[2Jb\"]\nvalue = \"v\"\norigin = \"external\"\ncreated = 1\n";
        let err = parse_document(Path::new("v"), bad.as_bytes()).unwrap_err();
        assert!(matches!(err, VaultError::InvalidName { .. }), "{err}");
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
    }

    #[test]
    fn parse_errors_point_at_the_line_and_never_quote_it() {
        let text = "format = 1\n[secrets.a]\nvalue = \"ok\"\norigin = \"hunter2-not-an-origin\"\ncreated = 1\n";
        let err = parse_document(Path::new("v"), text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
