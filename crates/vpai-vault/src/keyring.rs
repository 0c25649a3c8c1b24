//! `vpai unlock`: a passphrase vault kept open for a while in the Linux kernel keyring,
//! so that the next commands skip the scrypt key derivation (about a second each).
//!
//! What is held, per vault, in one key of type `user` in the user keyring (`@u`: every
//! process of the same uid reaches it, like ssh-agent's socket):
//! - the passphrase, so that a command that writes the vault re-encrypts it, and so
//!   that a vault changed elsewhere (a `git pull`, another machine) still opens;
//! - the age *file key* of the vault's current bytes, with the SHA-256 of those bytes.
//!   Opening a vault whose bytes have that hash takes the file key directly: no scrypt,
//!   a few milliseconds. Bytes with another hash are decrypted with the held passphrase
//!   (one scrypt run) and the entry is refreshed; a command that saves the vault
//!   refreshes it with the file key of what it wrote.
//!
//! Why the file key and not the decrypted contents: the contents never leave vpai's
//! memory; the entry stays a few dozen bytes, far below the 32 KiB a `user` key may
//! hold and the 20,000 bytes a non-root uid may keep in the kernel by default
//! (`/proc/sys/kernel/keys/maxbytes`), where a vault (up to 16 MiB, with its history)
//! would not fit; and every open still goes through age's authentication (header MAC,
//! every payload chunk) and the same parser, so a held entry can never make vpai accept
//! a file a fresh decryption would refuse.
//!
//! Nothing of it is written to disk. The key's description is `vpai:` and the SHA-256
//! of the vault's canonical path (the path itself is not shown to `keyctl show`); its
//! permissions are all for the possessor and for the owning uid, nothing for its group
//! or anyone else; the kernel removes it after the timeout given to `vpai unlock`
//! (`--for`, 15 minutes by default like sudo's credential cache). `vpai lock` removes
//! it at once, and nothing of it survives a reboot.
//!
//! The same uid can read the entry, as it can read ssh-agent's keys: unlocking is for
//! a machine where that uid is yours. Where the kernel refuses the keyring system calls
//! (a container's seccomp profile), `vpai unlock` says so and names the fallback; the
//! other commands just skip the keyring.

use crate::error::{VaultError, display};
use crate::vault_file::FileKey;
use age::secrecy::{ExposeSecret, SecretString};
use linux_keyutils::{
    Key, KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, KeySerialId, KeyType,
    Permission,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long `vpai unlock` keeps a vault open when `--for` is not given: sudo's default
/// credential cache.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(15 * 60);
/// The longest `--for`: a week. Longer is what a password file is for.
pub const MAX_HOLD: Duration = Duration::from_secs(7 * 24 * 3600);

/// Every description vpai gives its keys starts with this.
const PREFIX: &str = "vpai:";
/// The version of the payload layout below.
const MAGIC: &[u8; 5] = b"VPAI1";
const FILE_KEY_LEN: usize = age_core::format::FILE_KEY_BYTES;
const HEADER_LEN: usize = MAGIC.len() + 8 + 32 + FILE_KEY_LEN;
/// What the kernel accepts in one `user` key.
const MAX_PAYLOAD: usize = 32_767;
/// Where the passphrase came from, in messages (a wrong held passphrase is never
/// reported: the entry is dropped and the key asked for as usual).
pub(crate) const HELD_ORIGIN: &str = "the kernel keyring (`vpai unlock`)";

/// One vault's entry, as read from the keyring.
pub(crate) struct Held {
    key: Key,
    /// Seconds since the epoch when the kernel drops the entry.
    pub(crate) expires_at: u64,
    /// SHA-256 of the vault bytes `file_key` opens.
    pub(crate) digest: [u8; 32],
    pub(crate) file_key: FileKey,
    pub(crate) passphrase: SecretString,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Held {
    /// Point the entry at new bytes of the vault (read after a change made elsewhere,
    /// or just written). Best effort: a failure only costs the next command a scrypt run.
    /// An entry that expired meanwhile is not brought back (an update never creates a
    /// key, and keeps the timeout the key has).
    pub(crate) fn refresh(&mut self, digest: [u8; 32], file_key: &FileKey) {
        if self.digest == digest && *self.file_key == **file_key {
            return;
        }
        let payload = encode(self.expires_at, &digest, file_key, &self.passphrase);
        if self.key.update(&*payload).is_ok() {
            self.digest = digest;
            self.file_key = file_key.clone();
        }
    }

    /// Drop the entry (its passphrase no longer opens the vault).
    pub(crate) fn forget(self) {
        let _ = self.key.invalidate();
    }
}

/// The user keyring, created if the uid has none yet.
fn user_keyring() -> Result<KeyRing, KeyError> {
    KeyRing::from_special_id(KeyRingIdentifier::User, true)
}

/// The vault's canonical path: its directory resolved, its own name kept (a vault is
/// never a symbolic link: vpai refuses one), so that it also works once the file is gone.
fn canonical(vault: &Path) -> std::io::Result<PathBuf> {
    let name = vault
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let dir = match vault.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(std::fs::canonicalize(dir)?.join(name))
}

/// The key description for `vault`: `vpai:` and the SHA-256 of its canonical path.
pub fn description(vault: &Path) -> std::io::Result<String> {
    use std::os::unix::ffi::OsStrExt;
    let path = canonical(vault)?;
    Ok(format!(
        "{PREFIX}{}",
        hex::encode(Sha256::digest(path.as_os_str().as_bytes()))
    ))
}

fn encode(
    expires_at: u64,
    digest: &[u8; 32],
    file_key: &FileKey,
    passphrase: &SecretString,
) -> Zeroizing<Vec<u8>> {
    let pass = passphrase.expose_secret().as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + pass.len()));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(digest);
    out.extend_from_slice(&file_key[..]);
    out.extend_from_slice(pass);
    out
}

fn decode(key: Key, payload: &[u8]) -> Option<Held> {
    if payload.len() <= HEADER_LEN || &payload[..MAGIC.len()] != MAGIC {
        return None;
    }
    let mut at = MAGIC.len();
    let mut take = |n: usize| {
        let part = &payload[at..at + n];
        at += n;
        part
    };
    let expires_at = u64::from_be_bytes(take(8).try_into().ok()?);
    let digest: [u8; 32] = take(32).try_into().ok()?;
    let file_key = Zeroizing::new(<[u8; FILE_KEY_LEN]>::try_from(take(FILE_KEY_LEN)).ok()?);
    let passphrase = std::str::from_utf8(&payload[HEADER_LEN..]).ok()?;
    Some(Held {
        key,
        expires_at,
        digest,
        file_key,
        passphrase: SecretString::from(passphrase.to_string()),
    })
}

/// The entry of `vault`, if it is unlocked. Anything else (no entry, an expired one,
/// a kernel without keyrings, one that vpai cannot read) is "not held": the commands
/// then ask for the key as they always did.
pub(crate) fn find(vault: &Path) -> Option<Held> {
    let description = description(vault).ok()?;
    let key = user_keyring().ok()?.search(&description).ok()?;
    let mut buffer = Zeroizing::new(vec![0u8; MAX_PAYLOAD]);
    let len = key.read(&mut *buffer).ok()?;
    if len > buffer.len() {
        return None;
    }
    decode(key, &buffer[..len])
}

/// Hold `vault` open for `ttl`: store the passphrase and the file key of the bytes
/// whose SHA-256 is `digest`. Replaces an entry the vault already has (and its
/// timeout). Returns when the kernel drops it (seconds since the epoch).
pub(crate) fn hold(
    vault: &Path,
    passphrase: &SecretString,
    digest: [u8; 32],
    file_key: &FileKey,
    ttl: Duration,
) -> Result<u64, VaultError> {
    let secs = ttl.as_secs().clamp(1, MAX_HOLD.as_secs());
    let expires_at = crate::store::now() + secs;
    let payload = encode(expires_at, &digest, file_key, passphrase);
    if payload.len() > MAX_PAYLOAD {
        return Err(VaultError::BadPassphrase {
            from: "the kernel keyring".into(),
            reason: format!(
                "a passphrase this long does not fit in a kernel key ({} bytes at most): use VPAI_VAULT_PASSWORD_FILE",
                MAX_PAYLOAD - HEADER_LEN
            ),
        });
    }
    let description = description(vault).map_err(|source| VaultError::Read {
        path: display(vault),
        source,
    })?;
    let ring = user_keyring().map_err(unavailable)?;
    // The key is made in this thread's own keyring, given its permissions and its
    // timeout there, and only then linked into the user keyring (displacing the
    // vault's previous entry): a vpai killed halfway never leaves a passphrase behind
    // that the kernel would keep past the timeout.
    let staging = KeyRing::from_special_id(KeyRingIdentifier::Thread, true).map_err(unavailable)?;
    let key = staging
        .add_key(&description, &*payload)
        .map_err(unavailable)?;
    let perms = KeyPermissionsBuilder::builder()
        .posessor(Permission::ALL)
        .user(Permission::ALL)
        .build();
    let linked = key
        .set_perms(perms)
        .and_then(|()| key.set_timeout(secs as usize))
        .and_then(|()| ring.link_key(key));
    let _ = staging.unlink_key(key);
    if let Err(e) = linked {
        let _ = key.invalidate();
        return Err(unavailable(e));
    }
    Ok(expires_at)
}

/// What [`unlock`] did.
#[derive(Debug)]
pub struct Unlocked {
    /// The vault held open.
    pub path: PathBuf,
    /// When the kernel drops the entry (seconds since the epoch).
    pub expires_at: u64,
    /// Whether it was unlocked already (then only its timeout changed).
    pub was_held: bool,
}

/// `vpai unlock`: open the vault next to stack.toml in `stack_dir` (the passphrase
/// from `source`, checked by decrypting the vault) and hold it in the kernel keyring
/// for `ttl`. Refused, with nothing held, for a vault that does not exist, one made
/// for an age identity (it opens in milliseconds already), a wrong passphrase, or a
/// kernel that refuses the keyring (checked before the passphrase is asked for).
pub fn unlock(
    stack_dir: &Path,
    project: &str,
    source: &crate::PassphraseSource,
    ttl: Duration,
) -> Result<Unlocked, VaultError> {
    let path = stack_dir.join(crate::VAULT_FILE);
    let Some(bytes) = crate::store::read_vault(&path)? else {
        return Err(VaultError::NoVault {
            path: display(&path),
        });
    };
    if crate::vault_file::key_kind(&path, &bytes)? == crate::key::KeyKind::Identity {
        return Err(VaultError::NothingToHold {
            path: display(&path),
        });
    }
    check_available()?;
    let mut store = crate::SecretStore::open_vault(stack_dir, project, source)?;
    let was_held = store.held_until().is_some();
    let expires_at = store.hold(ttl)?;
    Ok(Unlocked {
        path,
        expires_at,
        was_held,
    })
}

/// When the entry of `vault` expires, if it is unlocked.
pub fn held_until(vault: &Path) -> Option<u64> {
    find(vault).map(|held| held.expires_at)
}

/// `vpai lock`: remove the entry of `vault`. `Ok(false)` when it had none (or the
/// kernel has no keyring here: then nothing can be held either).
pub fn forget(vault: &Path) -> Result<bool, VaultError> {
    let description = description(vault).map_err(|source| VaultError::Read {
        path: display(vault),
        source,
    })?;
    let Ok(ring) = user_keyring() else {
        return Ok(false);
    };
    match ring.search(&description) {
        Ok(key) => key.invalidate().map(|()| true).map_err(unavailable),
        Err(_) => Ok(false),
    }
}

/// `vpai lock --all`: remove every entry vpai holds for this uid. Returns how many.
pub fn forget_all() -> Result<usize, VaultError> {
    if user_keyring().is_err() {
        return Ok(0);
    }
    forget_all_in(KeyRingIdentifier::User)
}

fn forget_all_in(ring: KeyRingIdentifier) -> Result<usize, VaultError> {
    let mut removed = 0;
    for id in linked(ring).map_err(unavailable)? {
        let key = Key::from_id(KeySerialId(id));
        // Keyrings, other programs' keys, keys gone meanwhile: not ours to touch.
        let Ok(meta) = key.metadata() else { continue };
        if is_ours(meta.get_type(), meta.get_description()) && key.invalidate().is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// A key vpai made: a `user` key whose description is `vpai:` and 64 hex digits.
fn is_ours(kind: KeyType, description: &str) -> bool {
    kind == KeyType::User
        && description
            .strip_prefix(PREFIX)
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The ids linked in the keyring `ring`. Read here rather than with
/// `KeyRing::get_links`, which trusts the length the kernel reports even when it is
/// larger than the buffer it passed.
fn linked(ring: KeyRingIdentifier) -> Result<Vec<i32>, KeyError> {
    const KEYCTL_READ: libc::c_long = 11;
    const ID: usize = std::mem::size_of::<i32>();
    let mut ids: Vec<i32> = vec![0; 256];
    loop {
        let bytes = ids.len() * ID;
        // SAFETY: KEYCTL_READ writes at most `bytes` bytes into `ids`, which holds that
        // many; it returns the size of the whole list (a special id such as
        // KEY_SPEC_USER_KEYRING names the caller's keyring).
        let len = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_READ,
                ring as i32 as libc::c_long,
                ids.as_mut_ptr(),
                bytes,
            )
        };
        let Ok(len) = usize::try_from(len) else {
            return Err(KeyError::from_errno());
        };
        if len <= bytes {
            ids.truncate(len / ID);
            return Ok(ids);
        }
        ids = vec![0; len.div_ceil(ID) + 64];
    }
}

/// Whether `vpai unlock` can work here: the kernel has keyrings and lets this process
/// use them. The error names the cause and the fallback.
pub fn check_available() -> Result<(), VaultError> {
    let ring = user_keyring().map_err(unavailable)?;
    match ring.search("vpai:availability-probe") {
        Ok(_) | Err(KeyError::KeyDoesNotExist) | Err(KeyError::KeyExpired) => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

fn unavailable(e: KeyError) -> VaultError {
    let reason = match e {
        KeyError::PermissionDenied | KeyError::AccessDenied => {
            "the kernel refused the keyring system calls (EPERM/EACCES): a seccomp filter, as in a container's default profile, or a security module".to_string()
        }
        KeyError::Unknown(libc::ENOSYS) | KeyError::OperationNotSupported => {
            "this kernel has no keyring support (ENOSYS), or a seccomp filter hides it".to_string()
        }
        KeyError::QuotaExceeded => {
            "this user's kernel key quota is full (EDQUOT; see /proc/sys/kernel/keys/maxkeys and maxbytes, `keyctl show @u`)".to_string()
        }
        other => format!("keyctl failed: {other}"),
    };
    VaultError::KeyringUnavailable { reason }
}

#[cfg(test)]
mod tests {
    //! These use the real user keyring of the uid running them, each on its own vault
    //! path (so its own entry), and remove what they hold. A kernel that refuses the
    //! keyring makes them fail, not skip.
    use super::*;
    use crate::{PassphraseSource, SecretOrigin, SecretStore};

    const PASS: &str = "a held passphrase for tests";
    const PROJECT: &str = "demo";

    /// Removes the vault's entry however the test ends.
    struct Cleanup(PathBuf);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = forget(&self.0);
        }
    }

    fn open_with(
        path: &Path,
        source: &PassphraseSource,
        use_keyring: bool,
    ) -> Result<SecretStore, VaultError> {
        let mut store =
            SecretStore::open_vault_with(path, None, Some(PROJECT), source, use_keyring)?;
        store.set_scrypt_work_factor(10);
        Ok(store)
    }

    /// A source that fails if it is ever consulted: only the keyring can open.
    fn no_key() -> PassphraseSource {
        PassphraseSource::File("/nonexistent/vpai-test/no-key-here".into())
    }

    fn write(path: &Path, pass: &str, value: &str) {
        let mut store = open_with(path, &PassphraseSource::passphrase(pass), false).unwrap();
        store.set("k", value.into(), SecretOrigin::External);
        store.save().unwrap();
    }

    /// A vault holding `k = value`, with its entry removed at the end of the test.
    fn vault(dir: &Path, value: &str) -> (PathBuf, Cleanup) {
        let path = dir.join(crate::VAULT_FILE);
        write(&path, PASS, value);
        (path.clone(), Cleanup(path))
    }

    fn hold_it(path: &Path, ttl: Duration) -> u64 {
        let mut store = open_with(path, &PassphraseSource::passphrase(PASS), true).unwrap();
        assert!(!store.key_was_typed());
        store.hold(ttl).expect("the kernel keyring works here")
    }

    fn file_digest(path: &Path) -> [u8; 32] {
        Sha256::digest(std::fs::read(path).unwrap()).into()
    }

    #[test]
    fn a_held_vault_opens_without_any_key_until_it_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _cleanup) = vault(dir.path(), "value-one-1234");
        // Nothing held yet: the source is asked, and fails.
        assert!(matches!(
            open_with(&path, &no_key(), true),
            Err(VaultError::PassphraseFile { .. })
        ));
        let expires_at = hold_it(&path, Duration::from_secs(60));
        let now = crate::store::now();
        assert!((now + 58..=now + 61).contains(&expires_at), "{expires_at}");

        let held = find(&path).expect("held");
        assert_eq!(held.digest, file_digest(&path));
        assert_eq!(held.expires_at, expires_at);
        let store = open_with(&path, &no_key(), true).unwrap();
        assert_eq!(store.get("k"), Some("value-one-1234"));
        assert_eq!(store.held_until(), Some(expires_at));
        // Only the CLI's source consults the keyring.
        assert!(open_with(&path, &no_key(), false).is_err());

        // Unlocking again replaces the entry and its timeout: one key, the new time.
        let again = hold_it(&path, Duration::from_secs(120));
        assert!(again >= expires_at + 59, "{again} vs {expires_at}");
        assert_eq!(find(&path).unwrap().expires_at, again);
        let wanted = description(&path).unwrap();
        let same: Vec<_> = linked(KeyRingIdentifier::User)
            .unwrap()
            .into_iter()
            .filter(|&id| {
                Key::from_id(KeySerialId(id))
                    .metadata()
                    .is_ok_and(|m| m.get_description() == wanted)
            })
            .collect();
        assert_eq!(same.len(), 1, "{same:?}");

        assert!(forget(&path).unwrap());
        assert!(find(&path).is_none());
        assert!(matches!(
            open_with(&path, &no_key(), true),
            Err(VaultError::PassphraseFile { .. })
        ));
        assert!(!forget(&path).unwrap(), "nothing left to remove");
    }

    #[test]
    fn a_vault_changed_elsewhere_opens_with_the_held_passphrase_and_the_entry_follows() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _cleanup) = vault(dir.path(), "value-one-1234");
        hold_it(&path, Duration::from_secs(60));
        let before = find(&path).unwrap();
        // Another machine (a git pull) writes new bytes, knowing nothing of the keyring.
        write(&path, PASS, "value-two-5678");
        assert_ne!(before.digest, file_digest(&path));

        let store = open_with(&path, &no_key(), true).unwrap();
        assert_eq!(store.get("k"), Some("value-two-5678"));
        let after = find(&path).unwrap();
        assert_eq!(
            after.digest,
            file_digest(&path),
            "the entry names the new bytes"
        );
        assert_ne!(*after.file_key, *before.file_key);
        assert_eq!(after.expires_at, before.expires_at, "the timeout is kept");
        // And the file key held is the one of these bytes.
        let bytes = std::fs::read(&path).unwrap();
        let contents = crate::vault_file::decrypt_with_file_key(&path, &bytes, &after.file_key)
            .expect("the held file key opens the current bytes");
        assert_eq!(contents.records["k"].value, "value-two-5678");
    }

    #[test]
    fn a_save_through_a_held_vault_keeps_it_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _cleanup) = vault(dir.path(), "value-one-1234");
        hold_it(&path, Duration::from_secs(60));
        let mut store = open_with(&path, &no_key(), true).unwrap();
        store.set("k", "value-three-9012".into(), SecretOrigin::External);
        store.save().expect("re-encrypted with the held passphrase");
        let held = find(&path).unwrap();
        assert_eq!(held.digest, file_digest(&path));
        let again = open_with(&path, &no_key(), true).unwrap();
        assert_eq!(again.get("k"), Some("value-three-9012"));
        // The held passphrase is the one the new bytes need.
        let reopened = open_with(&path, &PassphraseSource::passphrase(PASS), false).unwrap();
        assert_eq!(reopened.get("k"), Some("value-three-9012"));
    }

    #[test]
    fn a_wrong_passphrase_is_refused_and_nothing_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _cleanup) = vault(dir.path(), "value-one-1234");
        let wrong = PassphraseSource::passphrase("not the passphrase");
        let err = unlock(dir.path(), PROJECT, &wrong, DEFAULT_HOLD).unwrap_err();
        assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
        assert!(find(&path).is_none());

        let right = PassphraseSource::passphrase(PASS);
        let done = unlock(dir.path(), PROJECT, &right, Duration::from_secs(30)).unwrap();
        assert_eq!(done.path, path);
        assert!(find(&path).is_some());
        // Another project's stack does not get this vault unlocked.
        let err = unlock(dir.path(), "other", &right, DEFAULT_HOLD).unwrap_err();
        assert!(matches!(err, VaultError::OtherProject { .. }), "{err}");
    }

    #[test]
    fn a_held_passphrase_that_no_longer_opens_the_vault_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _cleanup) = vault(dir.path(), "value-one-1234");
        hold_it(&path, Duration::from_secs(60));
        // The vault made again with another passphrase.
        std::fs::remove_file(&path).unwrap();
        write(&path, "the new passphrase 42", "value-four-3456");
        let store = open_with(
            &path,
            &PassphraseSource::passphrase("the new passphrase 42"),
            true,
        )
        .unwrap();
        assert_eq!(store.get("k"), Some("value-four-3456"));
        assert!(find(&path).is_none(), "the stale entry is gone");
    }

    #[test]
    fn no_vault_and_identity_vaults_are_not_held() {
        let dir = tempfile::tempdir().unwrap();
        let pass = PassphraseSource::passphrase(PASS);
        let err = unlock(dir.path(), PROJECT, &pass, DEFAULT_HOLD).unwrap_err();
        assert!(matches!(err, VaultError::NoVault { .. }), "{err}");

        let identity = dir.path().join("key.txt");
        let secret = age::x25519::Identity::generate().to_string();
        std::fs::write(&identity, format!("{}\n", secret.expose_secret())).unwrap();
        crate::fsutil::set_mode(&identity, 0o600).unwrap();
        let path = dir.path().join(crate::VAULT_FILE);
        let _cleanup = Cleanup(path.clone());
        let source = PassphraseSource::IdentityFile(identity);
        let mut store = open_with(&path, &source, true).unwrap();
        store.set("k", "value-five-7890".into(), SecretOrigin::External);
        store.save().unwrap();
        let err = unlock(dir.path(), PROJECT, &source, DEFAULT_HOLD).unwrap_err();
        assert!(matches!(err, VaultError::NothingToHold { .. }), "{err}");
        let mut store = open_with(&path, &source, true).unwrap();
        assert!(matches!(
            store.hold(DEFAULT_HOLD),
            Err(VaultError::NothingToHold { .. })
        ));
        assert!(find(&path).is_none());
    }

    #[test]
    fn the_entry_is_private_names_no_path_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _cleanup) = vault(dir.path(), "value-one-1234");
        hold_it(&path, Duration::from_secs(1));
        let held = find(&path).unwrap();
        let meta = held.key.metadata().unwrap();
        // Possessor and owner: everything; group and others: nothing.
        assert_eq!(meta.get_perms().bits(), 0x3f3f_0000);
        let described = meta.get_description();
        assert!(is_ours(meta.get_type(), described), "{described}");
        let dir_name = dir.path().file_name().unwrap().to_str().unwrap();
        assert!(!described.contains(dir_name), "{described}");
        assert_eq!(described, description(&path).unwrap());
        std::thread::sleep(Duration::from_millis(2100));
        assert!(
            find(&path).is_none(),
            "the kernel dropped it after its timeout"
        );
        assert!(matches!(
            open_with(&path, &no_key(), true),
            Err(VaultError::PassphraseFile { .. })
        ));
    }

    #[test]
    fn lock_all_removes_vpai_entries_only() {
        // In this test thread's own keyring, so that entries held by other tests (or
        // by the person running them) stay.
        let ring = KeyRing::from_special_id(KeyRingIdentifier::Thread, true).unwrap();
        let ours = format!("{PREFIX}{}", "ab".repeat(32));
        ring.add_key(&ours, b"x").unwrap();
        ring.add_key("vpai:not-a-digest", b"x").unwrap();
        ring.add_key("someone-else", b"x").unwrap();
        assert_eq!(forget_all_in(KeyRingIdentifier::Thread).unwrap(), 1);
        assert!(ring.search(&ours).is_err());
        assert!(ring.search("vpai:not-a-digest").is_ok());
        assert!(ring.search("someone-else").is_ok());
    }

    #[test]
    fn the_payload_round_trips_and_anything_else_is_not_an_entry() {
        let file_key: FileKey = Zeroizing::new([7; FILE_KEY_LEN]);
        let pass = SecretString::from("pässphrase".to_string());
        let payload = encode(42, &[9; 32], &file_key, &pass);
        let held = decode(Key::from_id(KeySerialId(0)), &payload).unwrap();
        assert_eq!(held.expires_at, 42);
        assert_eq!(held.digest, [9; 32]);
        assert_eq!(*held.file_key, [7; FILE_KEY_LEN]);
        assert_eq!(held.passphrase.expose_secret(), "pässphrase");
        assert!(!format!("{held:?}").contains("pässphrase"));
        for bad in [
            &b""[..],
            b"VPAI1",
            &payload[..HEADER_LEN],
            b"XXXX1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(decode(Key::from_id(KeySerialId(0)), bad).is_none());
        }
    }
}
