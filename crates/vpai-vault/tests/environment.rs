//! `PassphraseSource::Environment`: the variables the CLI reads. One test in its own
//! binary, because it changes the process environment.

mod common;

use common::*;
use vpai_vault::{
    ENV_IDENTITY_FILE, ENV_PASSWORD, ENV_PASSWORD_FILE, PassphraseSource, SecretStore, VaultError,
};

fn set(name: &str, value: Option<&std::path::Path>) {
    // SAFETY: this test binary has a single test, so no other thread reads the
    // environment while it changes.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

fn set_str(name: &str, value: &str) {
    set(name, Some(std::path::Path::new(value)));
}

#[test]
fn environment_variables_in_order() {
    for v in [ENV_PASSWORD_FILE, ENV_PASSWORD, ENV_IDENTITY_FILE] {
        set(v, None);
    }
    let env = PassphraseSource::Environment;
    let dir = tempfile::tempdir().unwrap();
    let file = write_private(&dir.path().join("pw"), PASSPHRASE);

    set(ENV_PASSWORD_FILE, Some(&file));
    let mut store = open(dir.path(), &env).unwrap();
    store.ensure(&def("a"));
    store.save().unwrap();
    set(ENV_PASSWORD_FILE, None);

    set_str(ENV_PASSWORD, PASSPHRASE);
    assert!(open(dir.path(), &env).is_ok());
    set_str(ENV_PASSWORD, "wrong passphrase here");
    let err = open(dir.path(), &env).unwrap_err();
    assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
    assert!(
        err.to_string().contains("from VPAI_VAULT_PASSWORD"),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong passphrase here"), "{err}");
    set_str(ENV_PASSWORD, "");
    assert!(matches!(
        open(dir.path(), &env).unwrap_err(),
        VaultError::BadPassphrase { .. }
    ));
    // The file wins over the variable.
    set(ENV_PASSWORD_FILE, Some(&file));
    assert!(open(dir.path(), &env).is_ok());
    set(ENV_PASSWORD_FILE, None);
    set(ENV_PASSWORD, None);

    // An identity is used for a new vault when configured, and for vaults made with one.
    let id_dir = tempfile::tempdir().unwrap();
    let identity = write_private(
        &id_dir.path().join("key.txt"),
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n",
    );
    set(ENV_IDENTITY_FILE, Some(&identity));
    let mut store = SecretStore::open_vault(id_dir.path(), PROJECT, &env).unwrap();
    store.ensure(&def("b"));
    store.save().unwrap();
    // With a passphrase set as well, each vault still gets the key it needs.
    set_str(ENV_PASSWORD, PASSPHRASE);
    assert!(SecretStore::open_vault(id_dir.path(), PROJECT, &env).is_ok());
    assert!(open(dir.path(), &env).is_ok());
    set(ENV_PASSWORD, None);
    set(ENV_IDENTITY_FILE, None);

    // Nothing set and no terminal: say what to set (skipped when run from a terminal,
    // where vpai would rightly prompt).
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_err()
    {
        let err = open(dir.path(), &env).unwrap_err();
        assert!(matches!(err, VaultError::NoPassphrase { .. }), "{err}");
        assert!(
            err.to_string().contains("VPAI_VAULT_PASSWORD_FILE"),
            "{err}"
        );
    }
}
