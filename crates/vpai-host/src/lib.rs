//! Transports: how vpai runs a command or writes a file on a host. The deploy works
//! against the [`Host`] trait only, so the local engine and SSH targets share one code
//! path. Every file write is atomic (temp file, fsync, rename) with an explicit mode
//! and owner, and keeps the previous version for rollback.

mod local;
mod ssh;

pub use local::{LocalHost, is_root};
pub use ssh::{SshError, SshHost, SshTarget, shell_quote, trace_event};

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the connection to `{host}` failed: {message}")]
    Transport { host: String, message: String },
    #[error("`{0}` is not supported by this transport")]
    Unsupported(&'static str),
    #[error(
        "`{path}` is a symbolic link: vpai never writes through a link it did not create\n  help: remove the link (and find out who made it), then run vpai again"
    )]
    Symlink { path: String },
    #[error("`{path}`: {problem}\n  help: {help}")]
    NotManaged {
        path: String,
        problem: String,
        help: String,
    },
}

/// The bash functions the remote scripts use to refuse a path that goes through a
/// symbolic link (a hostile link in the deploy tree would make a root chown/chmod or a
/// secret file land in its target). `vpai_nofollow ROOT REL...` exits 5 naming the
/// link when a component of `ROOT/REL` below `ROOT` is one; `vpai_linked ROOT REL`
/// only tests it. `ROOT` itself is the operator's choice and may be a link.
#[macro_export]
macro_rules! nofollow_sh {
    () => {
        r#"vpai_linked() {
  local p=$1 rest=$2 c
  while [ -n "$rest" ]; do
    c=${rest%%/*}
    if [ "$c" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
    [ -n "$c" ] || continue
    p=$p/$c
    if [ -L "$p" ]; then vpai_link=$p; return 0; fi
    [ -e "$p" ] || return 1
  done
  return 1
}
vpai_nofollow() {
  local r=$1 rel; shift
  for rel; do
    if vpai_linked "$r" "$rel"; then
      echo "vpai: \`$vpai_link\` is a symbolic link: vpai never writes through a link it did not create; remove it (and find out who made it), then run vpai again" >&2
      exit 5
    fi
  done
}
"#
    };
}

/// Keep the vault's key out of every program vpai starts (ssh, docker, scripts): none
/// of them needs it, and a child that is not what it seems must not find it.
pub fn scrub_env(cmd: &mut std::process::Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VPAI_VAULT") {
            cmd.env_remove(name);
        }
    }
}

/// Run a prepared command to completion, feeding `stdin` if given; both transports
/// (a local program, or `ssh` itself) go through here.
pub(crate) fn run_to_end(
    mut cmd: std::process::Command,
    program: &str,
    stdin: Option<&[u8]>,
) -> Result<CmdOutput, HostError> {
    use std::io::Write;
    use std::process::Stdio;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let spawn_error = |source| HostError::Spawn {
        program: program.to_string(),
        source,
    };
    let mut child = cmd.spawn().map_err(spawn_error)?;
    let feeder = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let data = input.to_vec();
        // From a thread, so a large input cannot deadlock against the output.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let out = child.wait_with_output().map_err(spawn_error)?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Ok(CmdOutput {
        status: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// What a finished command said.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status == 0
    }
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A file's state on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub owner: (u32, u32),
}

/// What changed when a file was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Created,
    Updated,
    /// Only mode or owner differed.
    Permissions,
    Unchanged,
}

/// A machine vpai deploys to.
pub trait Host {
    /// A short name for messages (`local`, `prod`).
    fn name(&self) -> &str;

    /// Run a program with arguments (no shell), optionally feeding stdin.
    /// Secrets go through stdin or files, never through `args`.
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<CmdOutput, HostError>;

    fn read_file(&self, path: &Path) -> Result<Option<FileState>, HostError>;

    /// Write `bytes` at `root/path` atomically with `mode` and `owner`, unless it
    /// already has exactly that content, mode and owner. The previous content is copied
    /// to `root/backup`. `root` is the operator's (it may be a link); below it nothing
    /// is followed: a symbolic link on the way is refused ([`HostError::Symlink`]).
    fn write_file(
        &self,
        root: &Path,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        owner: (u32, u32),
        backup: Option<&Path>,
    ) -> Result<WriteOutcome, HostError>;

    /// Create `root/path` (and parents) and set its mode and owner; no symbolic link
    /// below `root` is followed.
    fn ensure_dir(
        &self,
        root: &Path,
        path: &Path,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<WriteOutcome, HostError>;

    /// Start a program and leave it running, stdin and stdout piped (a deploy lock's
    /// holder: it lives as long as its stdin stays open).
    fn spawn(&self, _args: &[&str]) -> Result<std::process::Child, HostError> {
        Err(HostError::Unsupported("spawn"))
    }

    /// Run a program attached to vpai's own stdin, stdout and stderr (`vpai exec`),
    /// with a pseudo-terminal on the host when `tty` (an interactive shell), and return
    /// its exit code. Nothing is captured: what the program prints is not redacted, so
    /// this is for commands the operator types, never for vpai's own secrets.
    fn run_interactive(&self, _args: &[&str], _tty: bool) -> Result<i32, HostError> {
        Err(HostError::Unsupported("run_interactive"))
    }

    /// Reached over a network (each command costs a round trip).
    fn is_remote(&self) -> bool {
        false
    }

    /// What the standard error of a failed command says about the transport itself
    /// (a `sudo -n` that wants a password), as the error to report instead of the
    /// command's; `None` when it is the command's own failure.
    fn transport_failure(&self, _stderr: &str) -> Option<HostError> {
        None
    }
}

/// Start `cmd` with vpai's stdio and wait for it. Ctrl-C reaches the program (it is in
/// the same process group) while vpai ignores it, so vpai lives on to report the exit
/// code and close what it opened (the SSH master). A program killed by a signal gives
/// 128 + the signal, as a shell reports it.
pub(crate) fn run_attached(
    mut cmd: std::process::Command,
    program: &str,
) -> Result<i32, HostError> {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    scrub_env(&mut cmd);
    cmd.stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let spawn_error = |source| HostError::Spawn {
        program: program.to_string(),
        source,
    };
    // Ignored only after the spawn: an ignored signal would be inherited by the child.
    let mut child = cmd.spawn().map_err(spawn_error)?;
    // SAFETY: signal() swaps a process-wide disposition; the previous one is restored
    // below, and SIG_IGN needs no handler code.
    let previous = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let status = child.wait();
    // SAFETY: as above, putting back what was there.
    unsafe { libc::signal(libc::SIGINT, previous) };
    let status = status.map_err(spawn_error)?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}
