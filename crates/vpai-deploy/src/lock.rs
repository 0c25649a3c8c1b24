//! One deploy at a time per host. The lock is an `flock` held on the host by a small
//! bash process that vpai keeps running for the whole deploy (a channel of the same
//! SSH connection); the kernel releases it when that process ends, so a lock can never
//! outlive its holder. The same process reads the host state right after taking the
//! lock, so taking it costs no extra round trip.
//!
//! If vpai dies (`kill -9`, a lost laptop), the holder sees its stdin close without the
//! final `done`: it marks the run interrupted, waits for the commands that run was
//! still executing (each holds a shared lock on `<lock>.active`, see [`Guarded`]), then
//! lets go. The next run reports what it found and converges.

use crate::state::{self, HostState, LockSeen};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Child;
use vpai_host::{CmdOutput, FileState, Host, HostError, WriteOutcome};
use vpai_model::Stack;

/// Another run holds the lock.
#[derive(Debug, Clone)]
pub struct LockBusy {
    pub host: String,
    /// `key=value` lines the holder wrote: pid, since, by, state.
    pub info: Vec<String>,
}

impl std::fmt::Display for LockBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let get = |k: &str| {
            self.info
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or("?")
        };
        write!(
            f,
            "another deploy holds the lock on `{}` (pid {} on the host, started {} by {})",
            self.host,
            get("pid"),
            get("since"),
            get("by")
        )
    }
}

/// The deploy lock of one host, held until [`DeployLock::release`] or drop.
pub struct DeployLock {
    child: Option<Child>,
    /// The lock file on the host (`/run/lock/vpai-<project>.lock`).
    pub path: String,
    /// What the previous holder left, when it did not finish.
    pub stale: Option<Vec<String>>,
}

/// Who runs this deploy, for the lock's holder line (`user@machine`).
pub fn who() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!("{user}@{host}")
}

/// Take the lock and read the host state, in one round trip.
pub fn acquire(
    host: &dyn Host,
    stack: &Stack,
    paths: &[&str],
    dirs: &[&str],
) -> Result<Result<(DeployLock, HostState), LockBusy>, HostError> {
    let started = std::time::Instant::now();
    let args = state::state_args(stack, "lock", &who(), paths, dirs);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = host.spawn(&argv)?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let parsed = loop {
        let n = stdout.read(&mut chunk).map_err(|source| HostError::Io {
            path: format!("{}: deploy lock", host.name()),
            source,
        })?;
        if n > 0 {
            buf.extend_from_slice(&chunk[..n]);
            // Complete once the `end` line is in (blocks are length-prefixed).
            if let Ok(st) = state::parse(&buf) {
                break Ok(st);
            }
            continue;
        }
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = child.wait();
        if buf.is_empty()
            && let Some(failure) = host.transport_failure(&err)
        {
            return Err(failure);
        }
        break state::parse(&buf).map_err(|m| format!("{m}\n{}", err.trim()));
    };
    vpai_host::trace_event("(lock taken, host state read)", started);
    let st = parsed.map_err(|message| HostError::Io {
        path: format!("{}: host state", host.name()),
        source: std::io::Error::other(message),
    })?;
    let path = format!(
        "{}/vpai-{}.lock",
        st.lock_dir.as_deref().unwrap_or("/run/lock"),
        stack.project
    );
    match &st.lock {
        LockSeen::Busy(info) => {
            let _ = child.wait();
            Ok(Err(LockBusy {
                host: host.name().to_string(),
                info: info.clone(),
            }))
        }
        LockSeen::AcquiredAfterStale(info) => Ok(Ok((
            DeployLock {
                child: Some(child),
                path,
                stale: Some(info.clone()),
            },
            st,
        ))),
        _ => Ok(Ok((
            DeployLock {
                child: Some(child),
                path,
                stale: None,
            },
            st,
        ))),
    }
}

impl DeployLock {
    /// Let go cleanly: the next run will find no trace.
    pub fn release(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(mut child) = self.child.take() {
            let started = std::time::Instant::now();
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = child.wait();
            vpai_host::trace_event("(lock released)", started);
        }
    }

    /// The shared lock every command of this deploy holds (see [`Guarded`]).
    pub fn active_path(&self) -> String {
        format!("{}.active", self.path)
    }
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A host whose commands each hold a shared lock on `<lock>.active` while they run,
/// so that the lock holder of a vanished run can wait for them before letting a new
/// deploy in (a `docker compose up` keeps running on the host after its ssh client
/// dies).
pub struct Guarded<'h> {
    pub inner: &'h dyn Host,
    pub active: String,
}

impl Host for Guarded<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<CmdOutput, HostError> {
        let mut full = vec!["flock", "-s", self.active.as_str()];
        full.extend_from_slice(args);
        self.inner.run(&full, stdin)
    }

    fn read_file(&self, path: &Path) -> Result<Option<FileState>, HostError> {
        self.inner.read_file(path)
    }

    fn write_file(
        &self,
        root: &Path,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        owner: (u32, u32),
        backup: Option<&Path>,
    ) -> Result<WriteOutcome, HostError> {
        self.inner
            .write_file(root, path, bytes, mode, owner, backup)
    }

    fn ensure_dir(
        &self,
        root: &Path,
        path: &Path,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<WriteOutcome, HostError> {
        self.inner.ensure_dir(root, path, mode, owner)
    }

    fn spawn(&self, args: &[&str]) -> Result<Child, HostError> {
        self.inner.spawn(args)
    }

    fn transport_failure(&self, stderr: &str) -> Option<HostError> {
        self.inner.transport_failure(stderr)
    }

    fn run_interactive(&self, args: &[&str], tty: bool) -> Result<i32, HostError> {
        self.inner.run_interactive(args, tty)
    }

    fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }
}
