//! The machine vpai runs on.

use crate::{CmdOutput, FileState, Host, HostError, WriteOutcome};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, Default, Clone)]
pub struct LocalHost;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HostError + '_ {
    move |source| HostError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// chown only as root: a non-root operator rendering into a scratch dir keeps their own
/// files (the modes still apply).
fn chown(path: &Path, owner: (u32, u32)) -> std::io::Result<()> {
    if !is_root() {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn owner_matches(meta: &std::fs::Metadata, owner: (u32, u32)) -> bool {
    !is_root() || (meta.uid(), meta.gid()) == owner
}

impl Host for LocalHost {
    fn name(&self) -> &str {
        "local"
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<CmdOutput, HostError> {
        let (program, rest) = args.split_first().expect("a command has a program");
        let mut cmd = Command::new(program);
        cmd.args(rest);
        crate::run_to_end(cmd, program, stdin)
    }

    fn spawn(&self, args: &[&str]) -> Result<std::process::Child, HostError> {
        let (program, rest) = args.split_first().expect("a command has a program");
        Command::new(program)
            .args(rest)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HostError::Spawn {
                program: program.to_string(),
                source,
            })
    }

    fn read_file(&self, path: &Path) -> Result<Option<FileState>, HostError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let meta = std::fs::metadata(path).map_err(io(path))?;
                Ok(Some(FileState {
                    bytes,
                    mode: meta.permissions().mode() & 0o7777,
                    owner: (meta.uid(), meta.gid()),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path)(e)),
        }
    }

    fn write_file(
        &self,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        owner: (u32, u32),
        backup: Option<&Path>,
    ) -> Result<WriteOutcome, HostError> {
        let existing = std::fs::read(path).ok();
        if let Some(old) = &existing {
            let meta = std::fs::metadata(path).map_err(io(path))?;
            let same_perms =
                meta.permissions().mode() & 0o7777 == mode && owner_matches(&meta, owner);
            if old == bytes {
                if same_perms {
                    return Ok(WriteOutcome::Unchanged);
                }
                chown(path, owner).map_err(io(path))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(io(path))?;
                return Ok(WriteOutcome::Permissions);
            }
            if let Some(b) = backup {
                if let Some(parent) = b.parent() {
                    fs_err::create_dir_all(parent).map_err(io(parent))?;
                }
                // The backup is written the same careful way, with the same mode.
                self.write_file(
                    b,
                    old,
                    meta.permissions().mode() & 0o7777,
                    (meta.uid(), meta.gid()),
                    None,
                )?;
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".vpai-")
            .tempfile_in(dir)
            .map_err(io(dir))?;
        // Mode and owner are set before the content lands, so a secret is never
        // readable by anyone else, not even for an instant.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(io(path))?;
        chown(tmp.path(), owner).map_err(io(path))?;
        tmp.write_all(bytes).map_err(io(path))?;
        tmp.as_file().sync_all().map_err(io(path))?;
        tmp.persist(path).map_err(|e| io(path)(e.error))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(if existing.is_some() {
            WriteOutcome::Updated
        } else {
            WriteOutcome::Created
        })
    }

    fn ensure_dir(
        &self,
        path: &Path,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<WriteOutcome, HostError> {
        let outcome = match std::fs::metadata(path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o7777 == mode && owner_matches(&meta, owner) {
                    return Ok(WriteOutcome::Unchanged);
                }
                WriteOutcome::Permissions
            }
            Err(_) => {
                fs_err::create_dir_all(path).map_err(io(path))?;
                WriteOutcome::Created
            }
        };
        chown(path, owner).map_err(io(path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_is_idempotent_and_keeps_previous() {
        let dir = tempfile::tempdir().unwrap();
        let host = LocalHost;
        let p = dir.path().join("a.conf");
        let b = dir.path().join("prev/a.conf");
        assert_eq!(
            host.write_file(&p, b"one", 0o640, (0, 0), Some(&b))
                .unwrap(),
            WriteOutcome::Created
        );
        assert_eq!(
            host.write_file(&p, b"one", 0o640, (0, 0), Some(&b))
                .unwrap(),
            WriteOutcome::Unchanged
        );
        assert_eq!(
            host.write_file(&p, b"two", 0o640, (0, 0), Some(&b))
                .unwrap(),
            WriteOutcome::Updated
        );
        assert_eq!(std::fs::read(&b).unwrap(), b"one");
        let st = host.read_file(&p).unwrap().unwrap();
        assert_eq!(st.bytes, b"two");
        assert_eq!(st.mode, 0o640);
        assert_eq!(
            host.write_file(&p, b"two", 0o600, (0, 0), Some(&b))
                .unwrap(),
            WriteOutcome::Permissions
        );
    }

    #[test]
    fn no_temp_file_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        LocalHost
            .write_file(&dir.path().join("x"), b"1", 0o600, (0, 0), None)
            .unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x"]);
    }

    #[test]
    fn run_feeds_stdin() {
        let out = LocalHost.run(&["cat"], Some(b"hello")).unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, b"hello");
    }
}
