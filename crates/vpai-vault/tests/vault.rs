//! The encrypted vault on disk: round trip, refusals that change nothing, backups,
//! migration from the plaintext store.

mod common;

use common::*;
use vpai_vault::{EventKind, PassphraseSource, SecretOrigin, SecretStore, VaultError};

#[test]
fn round_trip_keeps_values_and_records_and_hides_them_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    let generated = store
        .ensure(&def("postgresql_password"))
        .unwrap()
        .to_string();
    store.set(
        "anthropic_api_key",
        "sk-ant-api03-example-value".into(),
        SecretOrigin::External,
    );
    store.save().unwrap();

    let vault = dir.path().join("secrets.vault");
    let text = std::fs::read_to_string(&vault).unwrap();
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("-----END AGE ENCRYPTED FILE-----")
    );
    assert!(!text.contains(&generated) && !text.contains("sk-ant") && !text.contains("postgresql"));
    assert_eq!(mode(&vault), 0o600);
    assert!(
        !dir.path().join("secrets.vault.bak").exists(),
        "no backup of nothing"
    );

    let again = open(dir.path(), &pass()).unwrap();
    assert_eq!(again.get("postgresql_password"), Some(generated.as_str()));
    let record = again.record("anthropic_api_key").unwrap();
    assert_eq!(record.value, "sk-ant-api03-example-value");
    assert_eq!(record.origin, SecretOrigin::External);
    assert_eq!(record.history[0].kind, EventKind::Set);
    assert_eq!(
        again.record("postgresql_password").unwrap().origin,
        SecretOrigin::Generated
    );
}

#[test]
fn wrong_passphrase_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    store.ensure(&def("a"));
    store.save().unwrap();
    let before = std::fs::read(dir.path().join("secrets.vault")).unwrap();

    let err = open(
        dir.path(),
        &PassphraseSource::passphrase("not the passphrase"),
    )
    .unwrap_err();
    assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("secrets.vault") && message.contains("wrong passphrase"),
        "{message}"
    );
    assert!(message.contains("help:"), "{message}");
    assert_eq!(
        std::fs::read(dir.path().join("secrets.vault")).unwrap(),
        before
    );
}

#[test]
fn any_modified_character_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    store.ensure(&def("a"));
    store.save().unwrap();
    let path = dir.path().join("secrets.vault");
    let original = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    // Every base64 line between the markers: header, stanza, MAC, payload.
    for line_no in 1..lines.len() - 1 {
        for col in [0, lines[line_no].len() / 2, lines[line_no].len() - 1] {
            let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let mut chars: Vec<char> = changed[line_no].chars().collect();
            chars[col] = if chars[col] == 'A' { 'B' } else { 'A' };
            changed[line_no] = chars.into_iter().collect();
            std::fs::write(&path, changed.join("\n") + "\n").unwrap();
            match open(dir.path(), &pass()) {
                Ok(_) => panic!("line {line_no} col {col}: a modified vault opened"),
                Err(VaultError::Tampered { .. } | VaultError::WrongPassphrase { .. }) => {}
                Err(other) => panic!("line {line_no} col {col}: unexpected {other}"),
            }
        }
    }
    // Truncated.
    std::fs::write(&path, &original[..original.len() / 2]).unwrap();
    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(matches!(err, VaultError::Tampered { .. }), "{err}");
    assert!(err.to_string().contains("secrets.vault.bak"), "{err}");
    // Not an age file at all.
    std::fs::write(&path, "postgresql_password = \"x\"\n").unwrap();
    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(
        err.to_string().contains("BEGIN AGE ENCRYPTED FILE"),
        "{err}"
    );
}

#[test]
fn crlf_line_endings_from_git_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    let v = store.ensure(&def("a")).unwrap().to_string();
    store.save().unwrap();
    let path = dir.path().join("secrets.vault");
    let crlf = std::fs::read_to_string(&path)
        .unwrap()
        .replace('\n', "\r\n");
    std::fs::write(&path, crlf).unwrap();
    assert_eq!(
        open(dir.path(), &pass()).unwrap().get("a"),
        Some(v.as_str())
    );
}

#[test]
fn each_save_keeps_the_previous_vault_as_bak() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    let first = store.ensure(&def("a")).unwrap().to_string();
    store.save().unwrap();
    let first_bytes = std::fs::read(dir.path().join("secrets.vault")).unwrap();
    store.ensure(&def("b"));
    store.save().unwrap();
    let bak = dir.path().join("secrets.vault.bak");
    assert_eq!(std::fs::read(&bak).unwrap(), first_bytes);
    assert_eq!(mode(&bak), 0o600);
    // The backup is a vault of its own.
    let old = SecretStore::open_vault_at(&bak, None, None, &pass()).unwrap();
    assert_eq!(old.get("a"), Some(first.as_str()));
    assert_eq!(old.get("b"), None);
    // No temp files left behind: the vault, its backup and its (private) lock.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".secrets.vault.lock", "secrets.vault", "secrets.vault.bak"]
    );
    assert_eq!(mode(&dir.path().join(".secrets.vault.lock")), 0o600);
}

#[test]
fn a_change_made_elsewhere_is_merged_and_a_conflict_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut one = open(dir.path(), &pass()).unwrap();
    one.ensure(&def("a"));
    one.set("k", "value-from-one-0001".into(), SecretOrigin::External);
    one.save().unwrap();
    let mut two = open(dir.path(), &pass()).unwrap();
    let mut three = open(dir.path(), &pass()).unwrap();
    two.ensure(&def("b"));
    two.save().unwrap();
    // Different secrets: both changes are kept.
    three.ensure(&def("c"));
    three.save().unwrap();
    let now = open(dir.path(), &pass()).unwrap();
    assert!(now.get("a").is_some() && now.get("b").is_some() && now.get("c").is_some());
    assert_eq!(
        three.get("b"),
        now.get("b"),
        "the merged records are the store's"
    );

    // The same secret changed on both sides: refused, nothing written.
    let mut four = open(dir.path(), &pass()).unwrap();
    let mut five = open(dir.path(), &pass()).unwrap();
    four.set("k", "value-from-four-0004".into(), SecretOrigin::External);
    four.save().unwrap();
    let before = std::fs::read(dir.path().join("secrets.vault")).unwrap();
    five.set("k", "value-from-five-0005".into(), SecretOrigin::External);
    let err = five.save().unwrap_err();
    assert!(matches!(err, VaultError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("`k`"), "{err}");
    assert!(!err.to_string().contains("value-from"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("secrets.vault")).unwrap(),
        before
    );

    // A vault removed since it was read is not silently written again.
    std::fs::remove_file(dir.path().join("secrets.vault")).unwrap();
    four.set("k", "value-from-four-0006".into(), SecretOrigin::External);
    let err = four.save().unwrap_err();
    assert!(matches!(err, VaultError::ChangedOnDisk { .. }), "{err}");
}

#[test]
fn new_vaults_refuse_short_passphrases_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &PassphraseSource::passphrase("short")).unwrap();
    store.ensure(&def("a"));
    let err = store.save().unwrap_err();
    assert!(matches!(err, VaultError::BadPassphrase { .. }), "{err}");
    assert!(!dir.path().join("secrets.vault").exists());
}

#[test]
fn passphrase_file_must_be_private_and_loses_one_newline() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_private(&dir.path().join("pw"), &format!("{PASSPHRASE}\n"));
    let mut store = open(dir.path(), &PassphraseSource::File(file.clone())).unwrap();
    store.ensure(&def("a"));
    store.save().unwrap();
    // The same passphrase given directly opens it: the newline was not part of it.
    assert!(open(dir.path(), &pass()).is_ok());

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = open(dir.path(), &PassphraseSource::File(file)).unwrap_err();
    assert!(
        matches!(err, VaultError::Permissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn x25519_identity_instead_of_a_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let identity = write_private(
        &dir.path().join("key.txt"),
        // A fixed test key (age-keygen format); never used outside this test.
        "# created: 2026-01-01\n# public key: (test)\nAGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n",
    );
    let source = PassphraseSource::IdentityFile(identity);
    let mut store = open(dir.path(), &source).unwrap();
    let v = store.ensure(&def("a")).unwrap().to_string();
    store.save().unwrap();
    assert_eq!(
        open(dir.path(), &source).unwrap().get("a"),
        Some(v.as_str())
    );

    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(matches!(err, VaultError::KeyKindMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("VPAI_VAULT_IDENTITY_FILE"),
        "{err}"
    );
}

#[test]
fn plaintext_store_is_migrated_once_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".vpai");
    let mut legacy = SecretStore::open(&state).unwrap();
    let value = legacy.ensure(&def("redis_password")).unwrap().to_string();
    legacy.save().unwrap();
    let legacy_path = state.join("secrets.toml");
    assert!(legacy_path.exists());

    // Without a usable key the migration fails and the plaintext stays.
    let missing = PassphraseSource::File(dir.path().join("no-such-file"));
    let err = SecretStore::open_vault(dir.path(), PROJECT, &missing).unwrap_err();
    assert!(matches!(err, VaultError::PassphraseFile { .. }), "{err}");
    assert!(legacy_path.exists());
    assert!(!dir.path().join("secrets.vault").exists());

    let store = SecretStore::open_vault(dir.path(), PROJECT, &pass()).unwrap();
    assert_eq!(store.get("redis_password"), Some(value.as_str()));
    assert!(!legacy_path.exists(), "plaintext file removed");
    assert!(dir.path().join("secrets.vault").exists());
    let kinds: Vec<_> = store
        .record("redis_password")
        .unwrap()
        .history
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventKind::Generated, EventKind::Migrated]);

    let again = SecretStore::open_vault(dir.path(), PROJECT, &pass()).unwrap();
    assert_eq!(again.get("redis_password"), Some(value.as_str()));
}

#[test]
fn debug_output_of_sources_and_stores_has_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let source = pass();
    let mut store = open(dir.path(), &source).unwrap();
    let v = store.ensure(&def("a")).unwrap().to_string();
    store.save().unwrap();
    let debug = format!("{source:?} {store:?}");
    assert!(
        !debug.contains(PASSPHRASE) && !debug.contains(&v),
        "{debug}"
    );
}

#[test]
fn plaintext_store_next_to_a_vault_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    store.ensure(&def("a"));
    store.save().unwrap();
    let err = SecretStore::open(&dir.path().join(".vpai")).unwrap_err();
    assert!(matches!(err, VaultError::MovedToVault { .. }), "{err}");
    assert!(!dir.path().join(".vpai").exists());
}

#[test]
fn foundation_plaintext_format_without_history_migrates() {
    // Exactly what the foundation's `SecretStore::save` wrote.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".vpai")).unwrap();
    write_private(
        &dir.path().join(".vpai/secrets.toml"),
        "# Generated by vpai. Never commit this file.\n[secrets.qdrant_api_key]\nvalue = \"0123456789abcdef0123456789abcdef\"\norigin = \"generated\"\ncreated = 1763000000\n\n[secrets.openai_api_key]\nvalue = \"sk-proj-abcdefgh\"\norigin = \"external\"\ncreated = 1763000000\nrotated = 1763100000\n",
    );
    let store = SecretStore::open_vault(dir.path(), PROJECT, &pass()).unwrap();
    assert_eq!(
        store.get("qdrant_api_key"),
        Some("0123456789abcdef0123456789abcdef")
    );
    let openai = store.record("openai_api_key").unwrap();
    assert_eq!(
        (openai.created, openai.rotated),
        (1763000000, Some(1763100000))
    );
    assert_eq!(openai.history.len(), 1);
    assert_eq!(openai.history[0].kind, EventKind::Migrated);
}
