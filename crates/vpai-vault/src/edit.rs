//! `vpai secrets edit`: the values as a small TOML file (`name = "value"`), opened in
//! the operator's editor, validated as a whole, then applied all at once.
//!
//! The plaintext lives only in a 0600 file inside a 0700 directory, on tmpfs when the
//! machine has one (`/dev/shm`: never written to a disk), and is overwritten before
//! it is unlinked, whatever happens: the session's `Drop` on any return or error, and
//! a signal handler when vpai is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT) while
//! the file exists. The handler passes the signal on to the editor, waits for it to
//! exit (so that it cannot write the file back), shreds the directory, and exits with
//! 128 + the signal's number; the vault is left as it was.

use crate::error::{display, quoted_name};
use crate::limits::{ValueProblem, check_value};
use crate::record::{EventKind, SecretOrigin};
use crate::store::SecretStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vpai_catalog::{RotationPolicy, SecretDef};
use zeroize::Zeroizing;

const HEADER: &str = "\
# vpai secrets: change a value, add `name = \"value\"` for an external secret,
# or delete a line to have a generated secret made anew on the next deploy.
# Saved only if the whole file is valid; the plaintext file is shredded on exit.
# Values of never-rotate secrets cannot change here (vpai explains why).
";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("the edited file is not valid TOML: {0}")]
    Syntax(String),
    #[error("`{0}` is not a string: write it as `{0} = \"value\"`")]
    NotAString(String),
    #[error("{0} is not a valid secret name (lowercase letters, digits and `_`, at most 64)")]
    BadName(String),
    #[error("the value of `{name}` {problem}")]
    Invalid { name: String, problem: ValueProblem },
    #[error("`{name}` must never change: {reason}")]
    NeverRotate { name: String, reason: String },
    #[error("`{0}` cannot be empty; delete the line to remove it")]
    Empty(String),
}

/// What applying an edit changed (names only).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EditChanges {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl EditChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

impl SecretStore {
    /// The values as the file `secrets edit` opens.
    pub fn edit_text(&self) -> Zeroizing<String> {
        let values: BTreeMap<&str, &str> = self
            .records
            .iter()
            .map(|(n, r)| (n.as_str(), r.value.as_str()))
            .collect();
        let body = Zeroizing::new(toml::to_string(&values).expect("strings always serialize"));
        Zeroizing::new(format!("{HEADER}\n{}", body.as_str()))
    }

    /// Validate `text` (from [`edit_text`](Self::edit_text), edited) against the
    /// stack's declared secrets `defs`, then apply it. Nothing changes on error.
    pub fn apply_edit(&mut self, text: &str, defs: &[SecretDef]) -> Result<EditChanges, EditError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            EditError::Syntax(format!(
                "{}{}",
                crate::vault_file::without_values(e.message()),
                line.map(|l| format!(" (line {l})")).unwrap_or_default()
            ))
        })?;
        let mut wanted: BTreeMap<String, Zeroizing<String>> = BTreeMap::new();
        for (name, value) in table {
            if !valid_name(&name) {
                return Err(EditError::BadName(quoted_name(&name)));
            }
            let toml::Value::String(value) = value else {
                return Err(EditError::NotAString(name));
            };
            if value.is_empty() {
                return Err(EditError::Empty(name));
            }
            if let Err(problem) = check_value(&value) {
                return Err(EditError::Invalid { name, problem });
            }
            wanted.insert(name, Zeroizing::new(value));
        }
        let never = |name: &str| {
            defs.iter()
                .find(|d| d.name == name && d.rotate == RotationPolicy::Never)
                .map(|d| {
                    d.never_reason
                        .clone()
                        .unwrap_or_else(|| "the catalog marks it never-rotate".into())
                })
        };
        let mut changes = EditChanges::default();
        for (name, value) in &wanted {
            match self.get(name) {
                Some(current) if current == value.as_str() => {}
                Some(_) => {
                    if let Some(reason) = never(name) {
                        return Err(EditError::NeverRotate {
                            name: name.clone(),
                            reason,
                        });
                    }
                    changes.changed.push(name.clone());
                }
                None => changes.added.push(name.clone()),
            }
        }
        for name in self.names() {
            if !wanted.contains_key(name) {
                if let Some(reason) = never(name) {
                    return Err(EditError::NeverRotate {
                        name: name.to_string(),
                        reason,
                    });
                }
                changes.removed.push(name.to_string());
            }
        }
        // Validated: apply.
        for name in changes.added.iter().chain(&changes.changed) {
            let origin = match (self.record(name), defs.iter().find(|d| &d.name == name)) {
                (Some(r), _) => r.origin,
                (None, Some(d)) if !d.external => SecretOrigin::Generated,
                _ => SecretOrigin::External,
            };
            self.set_with(
                name,
                wanted[name].to_string(),
                origin,
                EventKind::Edited,
                None,
            );
        }
        for name in &changes.removed {
            self.remove(name);
        }
        Ok(changes)
    }
}

pub use crate::limits::valid_name;

/// The plaintext file of one edit, removed (overwritten first) when dropped, or when
/// vpai is interrupted by a signal while it exists.
pub struct EditSession {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl EditSession {
    /// Write `text` to a fresh private file.
    pub fn create(text: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        interrupt::install()?;
        let mut builder = tempfile::Builder::new();
        builder
            .prefix("vpai-secrets-")
            .permissions(std::fs::Permissions::from_mode(0o700));
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            builder.tempdir_in(shm).or_else(|_| builder.tempdir())?
        } else {
            builder.tempdir()?
        };
        // From here a signal shreds the directory.
        interrupt::watch(dir.path());
        let session = EditSession {
            path: dir.path().join("secrets.toml"),
            dir: Some(dir),
        };
        let dir = session.dir().to_path_buf();
        // Empty until this returns, so a moment at the umask's mode exposes nothing.
        crate::fsutil::set_mode(&dir, 0o700)?;
        crate::fsutil::atomic_write(&session.path, text.as_bytes(), 0o600, None)?;
        Ok(session)
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("present until dropped").path()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `editor` on the file and wait for it. Through `sh` so that
    /// `EDITOR="code --wait"` works (the path is passed as `$1`, not spliced in); the
    /// editor replaces that shell, so a signal passed on reaches it.
    pub fn run_editor(&self, editor: &str) -> std::io::Result<std::process::ExitStatus> {
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(format!("exec {editor} \"$1\""))
            .arg("vpai-edit")
            .arg(&self.path);
        interrupt::run(&mut command)
    }

    /// The file's current content: a regular file (not a link), at most 16 MiB.
    pub fn read(&self) -> std::io::Result<Zeroizing<String>> {
        let bytes = crate::fsutil::read_regular(&self.path, false, crate::limits::MAX_FILE_LEN)
            .map_err(|problem| match problem {
                crate::fsutil::FileProblem::Io(e) => e,
                other => std::io::Error::other(other.to_string()),
            })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| std::io::Error::other("the edited file is not UTF-8 text"))?;
        Ok(Zeroizing::new(text.to_string()))
    }
}

/// Editors may have replaced the file (write to new + rename) or left backups
/// (`secrets.toml~`, `.swp`): shred everything in the private directory.
fn shred_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if crate::fsutil::shred(&path).is_err() {
                eprintln!(
                    "warning: could not shred `{}`; delete it by hand",
                    display(&path)
                );
            }
        }
    }
}

impl Drop for EditSession {
    fn drop(&mut self) {
        let dir = self.dir.take().expect("present until dropped");
        // Under the handler's lock: a signal arriving now waits until the directory is
        // gone, instead of ending vpai half-way through.
        let path = dir.path().to_path_buf();
        interrupt::finish(&path, || {
            shred_dir(&path);
            let _ = dir.close();
        });
    }
}

/// The signal handling of edit sessions: one thread per process, installed by the
/// first session, acting only while a session's plaintext exists.
mod interrupt {
    use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM};
    use std::path::{Path, PathBuf};
    use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
    use std::time::Duration;

    const SIGNALS: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

    struct State {
        /// Private directories of the sessions alive.
        dirs: Vec<PathBuf>,
        /// Editors running.
        children: Vec<u32>,
        /// The signal being handled.
        signal: Option<i32>,
    }

    static STATE: Mutex<State> = Mutex::new(State {
        dirs: Vec::new(),
        children: Vec::new(),
        signal: None,
    });
    static EDITOR_DONE: Condvar = Condvar::new();
    static INSTALLED: Mutex<bool> = Mutex::new(false);

    fn state() -> MutexGuard<'static, State> {
        STATE.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn install() -> std::io::Result<()> {
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        if *installed {
            return Ok(());
        }
        let mut signals = signal_hook::iterator::Signals::new(SIGNALS)?;
        std::thread::Builder::new()
            .name("vpai-edit-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    handle(signal);
                }
            })?;
        *installed = true;
        Ok(())
    }

    pub(super) fn watch(dir: &Path) {
        state().dirs.push(dir.to_path_buf());
    }

    pub(super) fn finish(dir: &Path, cleanup: impl FnOnce()) {
        let mut state = state();
        cleanup();
        state.dirs.retain(|d| d != dir);
    }

    /// Spawn and wait for `command`, known to the handler while it runs.
    pub(super) fn run(
        command: &mut std::process::Command,
    ) -> std::io::Result<std::process::ExitStatus> {
        let mut guard = state();
        if guard.signal.is_some() {
            drop(guard);
            wait_for_exit();
        }
        let mut child = command.spawn()?;
        let pid = child.id();
        guard.children.push(pid);
        drop(guard);
        let status = child.wait();
        let mut guard = state();
        guard.children.retain(|&c| c != pid);
        EDITOR_DONE.notify_all();
        if guard.signal.is_some() {
            // The handler is shredding the file and ends the process: apply nothing.
            drop(guard);
            wait_for_exit();
        }
        status
    }

    fn wait_for_exit() -> ! {
        loop {
            std::thread::park();
        }
    }

    fn send(pid: u32, signal: i32) {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    fn handle(signal: i32) {
        let mut guard = state();
        if guard.dirs.is_empty() {
            // No plaintext on disk: what the signal would do without vpai's handler.
            drop(guard);
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            return;
        }
        guard.signal = Some(signal);
        // The editor gets the signal as it would without vpai in between; wait for it
        // to exit (asking harder if it does not), so that it cannot write the file
        // back once it is gone.
        for pid in &guard.children {
            send(*pid, signal);
        }
        for (patience, then) in [
            (Duration::from_secs(3), SIGTERM),
            (Duration::from_secs(2), SIGKILL),
            (Duration::from_secs(1), 0),
        ] {
            guard = EDITOR_DONE
                .wait_timeout_while(guard, patience, |s| !s.children.is_empty())
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if guard.children.is_empty() {
                break;
            }
            if then != 0 {
                for pid in &guard.children {
                    send(*pid, then);
                }
            }
        }
        for dir in std::mem::take(&mut guard.dirs) {
            super::shred_dir(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let name = match signal {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP",
            SIGQUIT => "SIGQUIT",
            _ => "a signal",
        };
        eprintln!(
            "\nvpai: interrupted by {name}: the plaintext copy of the secrets was removed and the vault was not changed"
        );
        std::process::exit(128 + signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::def;

    fn store() -> SecretStore {
        let mut s = SecretStore::in_memory();
        s.ensure(&def("redis_password", false));
        s.set(
            "openai_api_key",
            "sk-proj-1234567890".into(),
            SecretOrigin::External,
        );
        let mut key = def("n8n_encryption_key", false);
        key.rotate = RotationPolicy::Never;
        s.ensure(&key);
        s
    }

    fn defs() -> Vec<SecretDef> {
        let mut key = def("n8n_encryption_key", false);
        key.rotate = RotationPolicy::Never;
        key.never_reason = Some("credentials become unreadable".into());
        vec![
            def("redis_password", false),
            key,
            def("openai_api_key", true),
        ]
    }

    #[test]
    fn unchanged_text_changes_nothing() {
        let mut s = store();
        let text = s.edit_text();
        assert!(text.starts_with("# vpai secrets"));
        assert!(s.apply_edit(&text, &defs()).unwrap().is_empty());
    }

    #[test]
    fn change_add_and_remove() {
        let mut s = store();
        let key = s.get("n8n_encryption_key").unwrap().to_string();
        let text = format!(
            "n8n_encryption_key = \"{key}\"\nopenai_api_key = \"sk-proj-new-value\"\nanthropic_api_key = \"sk-ant-value\"\n"
        );
        let changes = s.apply_edit(&text, &defs()).unwrap();
        assert_eq!(changes.added, ["anthropic_api_key"]);
        assert_eq!(changes.changed, ["openai_api_key"]);
        assert_eq!(changes.removed, ["redis_password"]);
        assert_eq!(s.get("openai_api_key"), Some("sk-proj-new-value"));
        assert_eq!(
            s.record("anthropic_api_key").unwrap().origin,
            SecretOrigin::External
        );
        assert_eq!(
            s.record("openai_api_key")
                .unwrap()
                .history
                .last()
                .unwrap()
                .kind,
            EventKind::Edited
        );
    }

    #[test]
    fn invalid_edits_change_nothing_and_quote_no_value() {
        let mut s = store();
        let before = s.edit_text();
        let cases = [
            ("redis_password = \"unterminated-secret-value\n", "line 1"),
            ("redis_password = 12345678\n", "not a string"),
            ("Bad-Name = \"x\"\n", "not a valid secret name"),
            (
                "n8n_encryption_key = \"another-value-here\"\n",
                "credentials become unreadable",
            ),
            ("redis_password = \"\"\n", "cannot be empty"),
            (
                "redis_password = \"unterminated-secret\\nsecond line\"\n",
                "contains a newline",
            ),
            ("redis_password = \"unterminated-secret\\u0000\"\n", "NUL"),
            (
                "\"bad\\u001bname\" = \"x\"\n",
                "\"bad\\u{1b}name\" is not a valid",
            ),
        ];
        for (text, expected) in cases {
            let err = s.apply_edit(text, &defs()).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(
                !err.contains("unterminated-secret") && !err.contains("12345678"),
                "{err}"
            );
            assert_eq!(*s.edit_text(), *before);
        }
        let huge = format!(
            "redis_password = \"{}\"\n",
            "x".repeat(crate::limits::MAX_VALUE_LEN + 1)
        );
        let err = s.apply_edit(&huge, &defs()).unwrap_err().to_string();
        assert!(err.contains("8 KiB") && !err.contains("xxxxxxxx"), "{err}");
        assert_eq!(*s.edit_text(), *before);
    }

    #[test]
    fn session_file_is_private_and_gone_after_drop() {
        use std::os::unix::fs::PermissionsExt;
        let session = EditSession::create("a = \"b\"\n").unwrap();
        let path = session.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        std::fs::write(path.with_extension("toml~"), "backup").unwrap();
        drop(session);
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }
}
