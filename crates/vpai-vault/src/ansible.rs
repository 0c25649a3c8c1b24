//! Reading Ansible Vault files (format 1.1, and 1.2 which only adds a vault-id label),
//! so that an existing VPAI deployment brings its secrets along.
//!
//! The format, as Ansible writes it: a header line `$ANSIBLE_VAULT;1.1;AES256`, then
//! the hex encoding (wrapped at 80 columns) of three newline-separated hex strings:
//! a 32-byte salt, an HMAC-SHA256 tag, and the ciphertext. PBKDF2-HMAC-SHA256 with
//! 10,000 iterations turns the password and salt into 80 bytes: an AES-256 key, an
//! HMAC key, and the 16-byte initial counter of AES-256-CTR (big-endian). The tag
//! covers the ciphertext (encrypt-then-MAC); the plaintext is PKCS#7-padded to 16 bytes.
//!
//! Only decryption is part of vpai; [`encrypt`] exists for tests and the fuzz target.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = Hmac<Sha256>;

const ITERATIONS: u32 = 10_000;
const HEADER_PREFIX: &str = "$ANSIBLE_VAULT;";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnsibleVaultError {
    #[error(
        "`{path}` is not an Ansible Vault file (its first line is not `$ANSIBLE_VAULT;1.1;AES256`)\n  help: give the encrypted file, e.g. `inventory/group_vars/all/secrets.yml`"
    )]
    NotAVault { path: String },
    #[error(
        "`{path}` uses Ansible Vault format `{version}` with cipher `{cipher}`; vpai reads 1.1 and 1.2 with AES256\n  help: re-key it with a current ansible-vault: `ansible-vault rekey {path}`"
    )]
    Unsupported {
        path: String,
        version: String,
        cipher: String,
    },
    #[error("`{path}` is damaged: {detail}\n  help: check the file against your git history")]
    Malformed { path: String, detail: String },
    #[error(
        "cannot decrypt `{path}`: wrong Ansible Vault password, or the file was modified\n  help: use the password file your playbooks use (`--vault-password-file`); nothing was imported"
    )]
    WrongPassword { path: String },
}

/// The parts of an Ansible Vault file, before any cryptography.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsibleVaultFile {
    /// `1.1` or `1.2`.
    pub version: String,
    /// The vault id of a 1.2 file.
    pub label: Option<String>,
    pub salt: Vec<u8>,
    pub hmac: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Split and decode an Ansible Vault file. `path` is only used in errors.
pub fn parse(path: &str, text: &str) -> Result<AnsibleVaultFile, AnsibleVaultError> {
    let malformed = |detail: &str| AnsibleVaultError::Malformed {
        path: path.to_string(),
        detail: detail.to_string(),
    };
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    let header = header.trim();
    let Some(fields) = header.strip_prefix(HEADER_PREFIX) else {
        return Err(AnsibleVaultError::NotAVault {
            path: path.to_string(),
        });
    };
    let fields: Vec<&str> = fields.split(';').map(str::trim).collect();
    let (version, cipher, label) = match fields.as_slice() {
        [v, c] => (*v, *c, None),
        [v, c, l] => (*v, *c, Some(l.to_string())),
        _ => {
            return Err(malformed(
                "its header line has an unexpected number of fields",
            ));
        }
    };
    if !matches!(version, "1.1" | "1.2") || cipher != "AES256" {
        return Err(AnsibleVaultError::Unsupported {
            path: path.to_string(),
            version: version.to_string(),
            cipher: cipher.to_string(),
        });
    }
    let hex_body: String = body.split_whitespace().collect();
    if hex_body.is_empty() {
        return Err(malformed("there is nothing after the header line"));
    }
    let inner = hex::decode(&hex_body).map_err(|_| malformed("its body is not hexadecimal"))?;
    let inner =
        std::str::from_utf8(&inner).map_err(|_| malformed("its decoded body is not text"))?;
    let mut parts = inner.split('\n');
    let mut next = |what: &str| {
        let part = parts
            .next()
            .ok_or_else(|| malformed(&format!("its body has no {what}")))?;
        hex::decode(part.trim()).map_err(|_| malformed(&format!("its {what} is not hexadecimal")))
    };
    let salt = next("salt")?;
    let hmac = next("HMAC")?;
    let ciphertext = next("ciphertext")?;
    if salt.is_empty() || hmac.len() != 32 {
        return Err(malformed("its salt or HMAC has the wrong length"));
    }
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(malformed(
            "its ciphertext is not a whole number of AES blocks",
        ));
    }
    Ok(AnsibleVaultFile {
        version: version.to_string(),
        label,
        salt,
        hmac,
        ciphertext,
    })
}

struct Keys {
    cipher: [u8; 32],
    mac: [u8; 32],
    iv: [u8; 16],
}

impl Drop for Keys {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.cipher.zeroize();
        self.mac.zeroize();
        self.iv.zeroize();
    }
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut out = Zeroizing::new([0u8; 80]);
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, out.as_mut());
    let mut keys = Keys {
        cipher: [0; 32],
        mac: [0; 32],
        iv: [0; 16],
    };
    keys.cipher.copy_from_slice(&out[..32]);
    keys.mac.copy_from_slice(&out[32..64]);
    keys.iv.copy_from_slice(&out[64..80]);
    keys
}

/// Decrypt an Ansible Vault file with its password (as bytes, without the trailing
/// newline of a password file). The HMAC is checked, in constant time, before any
/// decryption: a wrong password and a modified file both stop there.
pub fn decrypt(
    path: &str,
    text: &str,
    password: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AnsibleVaultError> {
    let file = parse(path, text)?;
    let keys = derive(password, &file.salt);
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&keys.mac).expect("HMAC takes any key size");
    mac.update(&file.ciphertext);
    mac.verify_slice(&file.hmac)
        .map_err(|_| AnsibleVaultError::WrongPassword {
            path: path.to_string(),
        })?;
    let mut plain = Zeroizing::new(file.ciphertext);
    Aes256Ctr::new(&keys.cipher.into(), &keys.iv.into()).apply_keystream(&mut plain);
    let pad = *plain.last().expect("ciphertext is not empty") as usize;
    if pad == 0
        || pad > 16
        || pad > plain.len()
        || !plain[plain.len() - pad..]
            .iter()
            .all(|&b| b as usize == pad)
    {
        return Err(AnsibleVaultError::Malformed {
            path: path.to_string(),
            detail: "its padding is invalid after a correct HMAC".into(),
        });
    }
    let len = plain.len() - pad;
    plain.truncate(len);
    Ok(plain)
}

/// Encrypt like `ansible-vault encrypt` (format 1.1). For tests and fuzzing: vpai
/// never writes Ansible vaults.
#[doc(hidden)]
pub fn encrypt(plain: &[u8], password: &[u8], salt: &[u8; 32]) -> String {
    let keys = derive(password, salt);
    let pad = 16 - plain.len() % 16;
    let mut data = Zeroizing::new(plain.to_vec());
    data.extend(std::iter::repeat_n(pad as u8, pad));
    Aes256Ctr::new(&keys.cipher.into(), &keys.iv.into()).apply_keystream(&mut data);
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&keys.mac).expect("HMAC takes any key size");
    mac.update(&data);
    let tag = mac.finalize().into_bytes();
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(tag),
        hex::encode(&*data)
    );
    let outer = hex::encode(inner);
    let mut out = String::from("$ANSIBLE_VAULT;1.1;AES256\n");
    for chunk in outer.as_bytes().chunks(80) {
        out.push_str(std::str::from_utf8(chunk).expect("hex is ASCII"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_our_encoder() {
        let text = encrypt(b"vault_redis_password: abc\n", b"pw", &[7; 32]);
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert_eq!(
            &*decrypt("f", &text, b"pw").unwrap(),
            b"vault_redis_password: abc\n"
        );
    }

    #[test]
    fn wrong_password_is_refused() {
        let text = encrypt(b"x: y\n", b"right", &[1; 32]);
        assert_eq!(
            decrypt("f", &text, b"wrong"),
            Err(AnsibleVaultError::WrongPassword { path: "f".into() })
        );
    }

    #[test]
    fn flipped_ciphertext_byte_is_refused() {
        let text = encrypt(b"x: y\n", b"pw", &[1; 32]);
        // Change the last hex digit of the body: it is part of the ciphertext.
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let last = lines.last_mut().unwrap();
        let c = last.pop().unwrap();
        last.push(if c == '0' { '1' } else { '0' });
        let tampered = lines.join("\n");
        assert!(decrypt("f", &tampered, b"pw").is_err());
    }

    #[test]
    fn header_variants() {
        assert!(matches!(
            parse("f", "key: value\n"),
            Err(AnsibleVaultError::NotAVault { .. })
        ));
        assert!(matches!(
            parse("f", "$ANSIBLE_VAULT;1.0;AES\nabcd\n"),
            Err(AnsibleVaultError::Unsupported { .. })
        ));
        let text = encrypt(b"a: b\n", b"pw", &[3; 32]).replacen("1.1;AES256", "1.2;AES256;prod", 1);
        let file = parse("f", &text).unwrap();
        assert_eq!(file.label.as_deref(), Some("prod"));
        assert_eq!(&*decrypt("f", &text, b"pw").unwrap(), b"a: b\n");
    }
}
