//! Property tests: whatever goes into the vault comes out unchanged; the parsers of
//! untrusted files never panic; redaction leaves no secret behind.

mod common;

use proptest::prelude::*;
use std::collections::BTreeMap;
use vpai_vault::{PassphraseSource, Redactor, SecretOrigin, SecretStore};

fn origin() -> impl Strategy<Value = SecretOrigin> {
    prop_oneof![Just(SecretOrigin::Generated), Just(SecretOrigin::External)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn vault_round_trip(
        // Any one-line value: control characters are refused before a save.
        secrets in prop::collection::btree_map("[a-z][a-z0-9_]{0,24}", ("\\PC{0,80}", origin()), 0..12),
        passphrase in "\\PC{12,40}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let source = PassphraseSource::passphrase(passphrase.clone());
        let mut store = SecretStore::open_vault(dir.path(), "demo", &source).unwrap();
        store.set_scrypt_work_factor(1);
        for (name, (value, origin)) in &secrets {
            store.set(name, value.clone(), *origin);
        }
        store.save().unwrap();
        let again = SecretStore::open_vault(dir.path(), "demo", &source).unwrap();
        let got: BTreeMap<String, (String, SecretOrigin)> = again
            .names()
            .map(|n| {
                let r = again.record(n).unwrap();
                (n.to_string(), (r.value.clone(), r.origin))
            })
            .collect();
        prop_assert_eq!(got, secrets);
        for name in again.names() {
            prop_assert_eq!(
                &again.record(name).unwrap().history,
                &store.record(name).unwrap().history
            );
        }
    }

    #[test]
    fn ansible_parsers_never_panic(body in "\\PC{0,400}", header in prop::bool::ANY) {
        let text = if header { format!("$ANSIBLE_VAULT;1.1;AES256\n{body}") } else { body };
        vpai_vault::fuzzing::ansible(text.as_bytes());
    }

    #[test]
    fn vault_parsers_never_panic(data in prop::collection::vec(any::<u8>(), 0..800), armored in prop::bool::ANY) {
        vpai_vault::fuzzing::parse_vault_document(&data);
        let mut bytes = data.clone();
        if armored {
            bytes = b"-----BEGIN AGE ENCRYPTED FILE-----\n".to_vec();
            bytes.extend(&data);
        }
        vpai_vault::fuzzing::open_vault_bytes(&bytes);
    }

    #[test]
    fn redaction_leaves_no_secret(
        secrets in prop::collection::vec("[^*]{8,24}", 1..8),
        pieces in prop::collection::vec(("\\PC{0,16}", 0usize..8), 0..24),
    ) {
        let redactor = Redactor::new(secrets.iter().map(String::as_str));
        let mut text = String::new();
        for (filler, which) in &pieces {
            text.push_str(filler);
            text.push_str(&secrets[which % secrets.len()]);
        }
        let out = redactor.redact(&text);
        for s in &secrets {
            prop_assert!(!out.contains(s.as_str()), "{:?} left in {:?}", s, out);
        }
    }
}

proptest! {
    // PBKDF2's 10,000 iterations are slow in a debug build: fewer, larger cases.
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn ansible_round_trip(plain in prop::collection::vec(any::<u8>(), 0..600),
                          password in prop::collection::vec(any::<u8>(), 0..40),
                          salt in any::<[u8; 32]>()) {
        let text = vpai_vault::ansible::encrypt(&plain, &password, &salt);
        let back = vpai_vault::ansible::decrypt("p", &text, &password).unwrap();
        prop_assert_eq!(&*back, &plain[..]);
    }
}
