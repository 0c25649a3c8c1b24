//! Turning a [`SecretDef`] into a fresh random value.

use base64::Engine;
use vpai_catalog::{SecretDef, SecretFormat};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new value for `def`, from the operating system's CSPRNG.
pub fn generate(def: &SecretDef) -> String {
    let body = match def.format {
        SecretFormat::Hex => hex::encode(random_bytes(def.length)),
        SecretFormat::Base64 => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(def.length))
        }
        SecretFormat::Alnum => {
            // Rejection sampling keeps the distribution uniform over 62 symbols.
            let mut out = String::with_capacity(def.length);
            while out.len() < def.length {
                for b in random_bytes(def.length * 2) {
                    if (b as usize) < 248 && out.len() < def.length {
                        out.push(ALNUM[b as usize % ALNUM.len()] as char);
                    }
                }
            }
            out
        }
    };
    format!("{}{}", def.prefix, body)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The OS RNG failing is not recoverable: there is no safe fallback for key material.
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpai_catalog::RotationPolicy;

    fn def(format: SecretFormat, length: usize, prefix: &str) -> SecretDef {
        SecretDef {
            name: "x".into(),
            format,
            length,
            prefix: prefix.into(),
            rotate: RotationPolicy::Quarterly,
            never_reason: None,
            external: false,
            required: false,
            help: None,
            kept_in: None,
        }
    }

    #[test]
    fn formats_have_the_declared_shape() {
        let h = generate(&def(SecretFormat::Hex, 32, ""));
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        let k = generate(&def(SecretFormat::Hex, 24, "sk-"));
        assert!(k.starts_with("sk-") && k.len() == 51);
        let a = generate(&def(SecretFormat::Alnum, 40, ""));
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        let b = generate(&def(SecretFormat::Base64, 24, ""));
        assert_eq!(b.len(), 32);
    }

    #[test]
    fn two_values_differ() {
        let d = def(SecretFormat::Hex, 32, "");
        assert_ne!(generate(&d), generate(&d));
    }
}
