//! vpai's vault under attack and abuse: concurrent writers, links planted where the
//! vault lives, files that never end, values that break what they are rendered into,
//! and a vault taken from another project.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use vpai_vault::{MAX_VALUE_LEN, PassphraseSource, SecretOrigin, SecretStore, VaultError};

/// Encrypt `plain` as a vault the way vpai does, without vpai's checks: a hand-made
/// vault.
fn craft_vault(path: &Path, plain: &str) {
    use age::secrecy::SecretString;
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(PASSPHRASE.to_string()));
    recipient.set_work_factor(10);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut out = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut writer = encryptor.wrap_output(armor).unwrap();
    writer.write_all(plain.as_bytes()).unwrap();
    writer.finish().and_then(|a| a.finish()).unwrap();
    std::fs::write(path, out).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn record(name: &str, value: &str) -> String {
    format!("[secrets.{name}]\nvalue = {value:?}\norigin = \"external\"\ncreated = 1\n")
}

#[test]
fn concurrent_sets_of_different_names_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = open(dir.path(), &pass()).unwrap();
    first.ensure(&def("a"));
    first.save().unwrap();
    let writers = 6;
    let barrier = Arc::new(Barrier::new(writers));
    let handles: Vec<_> = (0..writers)
        .map(|i| {
            let path = dir.path().to_path_buf();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut store = open(&path, &pass()).unwrap();
                // Every writer has read the same vault before any of them saves.
                barrier.wait();
                store.set(
                    &format!("key_{i}"),
                    format!("value-of-key-{i}-0123456789"),
                    SecretOrigin::External,
                );
                store.save()
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
    let store = open(dir.path(), &pass()).unwrap();
    assert!(store.get("a").is_some());
    for i in 0..writers {
        assert_eq!(
            store.get(&format!("key_{i}")),
            Some(format!("value-of-key-{i}-0123456789").as_str()),
            "key_{i} lost"
        );
    }
}

#[test]
fn concurrent_first_renders_end_with_the_same_generated_value() {
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let path = dir.path().to_path_buf();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    // What `vpai render` does: open, generate what is missing, save,
                    // and only then use the values.
                    let mut store = open(&path, &pass()).unwrap();
                    barrier.wait();
                    store.ensure(&def("n8n_encryption_key"));
                    store.ensure(&def("redis_password"));
                    store.save().unwrap();
                    (
                        store.get("n8n_encryption_key").unwrap().to_string(),
                        store.get("redis_password").unwrap().to_string(),
                    )
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results[0], results[1], "round {round}: two values in use");
        let vault = open(dir.path(), &pass()).unwrap();
        assert_eq!(
            vault.get("n8n_encryption_key"),
            Some(results[0].0.as_str()),
            "round {round}: the value in use is not the vault's"
        );
    }
}

#[test]
fn a_symlinked_vault_backup_or_lock_is_refused_and_its_target_untouched() {
    let elsewhere = tempfile::tempdir().unwrap();
    let mut real = open(elsewhere.path(), &pass()).unwrap();
    real.ensure(&def("a"));
    real.save().unwrap();
    let target = elsewhere.path().join("secrets.vault");
    let before = std::fs::read(&target).unwrap();

    // The vault itself is a link: refused on open, naming it and the fix.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("secrets.vault");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(matches!(err, VaultError::Unusable { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("symbolic link") && message.contains(&link.display().to_string()),
        "{message}"
    );
    assert!(message.contains("readlink"), "{message}");
    // A link planted after the vault was read: refused on save.
    std::fs::remove_file(&link).unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    store.ensure(&def("b"));
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = store.save().unwrap_err();
    assert!(matches!(err, VaultError::Unusable { .. }), "{err}");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), before);
    std::fs::remove_file(&link).unwrap();

    // The backup is a link: refused, the file it points at is not overwritten.
    let mut store = open(dir.path(), &pass()).unwrap();
    store.ensure(&def("b"));
    store.save().unwrap();
    let bak = dir.path().join("secrets.vault.bak");
    std::os::unix::fs::symlink(&target, &bak).unwrap();
    store.ensure(&def("c"));
    let err = store.save().unwrap_err();
    assert!(
        err.to_string().contains("secrets.vault.bak") && err.to_string().contains("symbolic"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), before);
    std::fs::remove_file(&bak).unwrap();

    // The lock is a link: refused, nothing created where it points.
    let lock = dir.path().join(".secrets.vault.lock");
    std::fs::remove_file(&lock).unwrap();
    let planted = elsewhere.path().join("planted");
    std::os::unix::fs::symlink(&planted, &lock).unwrap();
    let err = store.save().unwrap_err();
    assert!(
        err.to_string().contains(".secrets.vault.lock") && err.to_string().contains("rm "),
        "{err}"
    );
    assert!(!planted.exists());
}

#[test]
fn key_files_that_are_not_small_private_regular_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    store.ensure(&def("a"));
    store.save().unwrap();

    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let big = write_private(&dir.path().join("big"), &"p".repeat(70 * 1024));
    let real = write_private(&dir.path().join("pw"), PASSPHRASE);
    let link = dir.path().join("pw-link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let cases = [
        (fifo.clone(), "FIFO"),
        ("/dev/zero".into(), "character device"),
        (dir.path().to_path_buf(), "directory"),
        (big, "larger than 64 KiB"),
        (link, "symbolic link"),
    ];
    for (path, expected) in cases {
        for source in [
            PassphraseSource::File(path.clone()),
            PassphraseSource::IdentityFile(path.clone()),
        ] {
            let started = Instant::now();
            let err = open(dir.path(), &source).unwrap_err();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{path:?} took {:?}",
                started.elapsed()
            );
            assert!(err.to_string().contains(expected), "{path:?}: {err}");
        }
    }
    // The mode is checked on the opened file, before anything is read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = open(dir.path(), &PassphraseSource::File(real)).unwrap_err();
    assert!(matches!(err, VaultError::Permissions { .. }), "{err}");
}

#[test]
fn a_vault_that_is_not_a_small_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.vault");
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(err.to_string().contains("FIFO"), "{err}");
    std::fs::remove_file(&path).unwrap();

    let file = std::fs::File::create(&path).unwrap();
    file.set_len(17 * 1024 * 1024).unwrap();
    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(err.to_string().contains("larger than 16 MiB"), "{err}");
}

#[test]
fn a_hand_made_vault_with_a_huge_value_fails_fast_and_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.vault");
    let huge = "x".repeat(5 * 1024 * 1024);
    craft_vault(
        &path,
        &format!("format = 1\n{}", record("big_token", &huge)),
    );
    let started = Instant::now();
    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(matches!(err, VaultError::InvalidValue { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("big_token") && message.contains("8 KiB") && !message.contains("xxxx"),
        "{message}"
    );

    // Exactly at the limit is fine.
    craft_vault(
        &path,
        &format!(
            "format = 1\n{}",
            record("big_token", &"x".repeat(MAX_VALUE_LEN))
        ),
    );
    assert!(open(dir.path(), &pass()).is_ok());
}

#[test]
fn values_with_control_characters_are_never_saved_and_an_old_one_can_be_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), &pass()).unwrap();
    store.set("good", "value-good-0001".into(), SecretOrigin::External);
    store.set("bad", "line one\nline two".into(), SecretOrigin::External);
    let err = store.save().unwrap_err();
    assert!(matches!(err, VaultError::InvalidValue { .. }), "{err}");
    assert!(
        err.to_string().contains("`bad`") && err.to_string().contains("newline"),
        "{err}"
    );
    assert!(!err.to_string().contains("line one"), "{err}");
    assert!(!dir.path().join("secrets.vault").exists());

    // A vault written before values were checked still opens, says what to fix,
    // and is fixed by setting a valid value.
    craft_vault(
        &dir.path().join("secrets.vault"),
        &format!(
            "format = 1\n{}{}",
            record("bad", "it's\nbroken"),
            record("other", "value-other-0002")
        ),
    );
    let mut store = open(dir.path(), &pass()).unwrap();
    let err = store.check_values().unwrap_err();
    assert!(err.to_string().contains("vpai secrets set bad"), "{err}");
    store.set("new", "value-new-0003".into(), SecretOrigin::External);
    assert!(matches!(
        store.save().unwrap_err(),
        VaultError::InvalidValue { .. }
    ));
    store.set("bad", "it's fixed".into(), SecretOrigin::External);
    store.save().unwrap();
    let store = open(dir.path(), &pass()).unwrap();
    assert!(store.check_values().is_ok());
    assert_eq!(store.get("new"), Some("value-new-0003"));
}

#[test]
fn a_vault_is_bound_to_its_project() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.vault");
    // A vault written before vaults named their project.
    let mut old = SecretStore::open_vault_at(&path, None, None, &pass()).unwrap();
    old.set_scrypt_work_factor(10);
    old.set("token", "value-token-0001".into(), SecretOrigin::External);
    old.save().unwrap();

    // Accepted by any project until its next save, which names the project.
    let mut alpha = SecretStore::open_vault(dir.path(), "alpha", &pass()).unwrap();
    assert!(SecretStore::open_vault(dir.path(), "beta", &pass()).is_ok());
    alpha.set("token", "value-token-0002".into(), SecretOrigin::External);
    alpha.save().unwrap();
    assert!(SecretStore::open_vault(dir.path(), "alpha", &pass()).is_ok());

    let err = SecretStore::open_vault(dir.path(), "beta", &pass()).unwrap_err();
    assert!(matches!(err, VaultError::OtherProject { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("`alpha`")
            && message.contains("`beta`")
            && message.contains("secrets.vault"),
        "{message}"
    );
    assert!(
        message.contains("vpai secrets show") && message.contains("vpai secrets set"),
        "{message}"
    );
    assert!(!message.contains("value-token"), "{message}");
    // Opening it without naming a project (a backup inspected by hand) still works.
    assert!(SecretStore::open_vault_at(&path, None, None, &pass()).is_ok());
}

#[test]
fn a_plaintext_store_with_a_broken_value_is_not_migrated_and_says_where_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".vpai")).unwrap();
    let legacy = write_private(
        &dir.path().join(".vpai/secrets.toml"),
        "[secrets.openai_api_key]\nvalue = \"sk-proj-one\\nsk-proj-two\"\norigin = \"external\"\ncreated = 1763000000\n",
    );
    let err = open(dir.path(), &pass()).unwrap_err();
    assert!(matches!(err, VaultError::InvalidValue { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("openai_api_key") && message.contains(".vpai/secrets.toml"),
        "{message}"
    );
    assert!(!message.contains("sk-proj"), "{message}");
    assert!(legacy.exists());
    assert!(!dir.path().join("secrets.vault").exists());
}
