//! The machine vpai runs on.

use crate::{CmdOutput, FileState, Host, HostError, WriteOutcome};
use rustix::fs::{self, Mode, OFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path};
use std::process::{Command, Stdio};

#[derive(Debug, Default, Clone)]
pub struct LocalHost;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HostError + '_ {
    move |source| HostError::Io {
        path: path.display().to_string(),
        source,
    }
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
        crate::scrub_env(&mut cmd);
        cmd.args(rest);
        crate::run_to_end(cmd, program, stdin)
    }

    fn spawn(&self, args: &[&str]) -> Result<std::process::Child, HostError> {
        let (program, rest) = args.split_first().expect("a command has a program");
        let mut cmd = Command::new(program);
        crate::scrub_env(&mut cmd);
        cmd.args(rest)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HostError::Spawn {
                program: program.to_string(),
                source,
            })
    }

    fn run_interactive(&self, args: &[&str], _tty: bool) -> Result<i32, HostError> {
        // The program (docker) gets vpai's own terminal and allocates its tty from it.
        let (program, rest) = args.split_first().expect("a command has a program");
        let mut cmd = Command::new(program);
        crate::scrub_env(&mut cmd);
        cmd.args(rest);
        crate::run_attached(cmd, program)
    }

    fn read_file(&self, path: &Path) -> Result<Option<FileState>, HostError> {
        // The file itself is never a link vpai follows (its target could be anything).
        let fd = match fs::open(
            path,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) if is_link_error(e) && is_symlink(path) => {
                return Err(HostError::Symlink {
                    path: path.display().to_string(),
                });
            }
            Err(e) => return Err(io(path)(e.into())),
        };
        let file = regular(fd, path)?;
        let meta = file.metadata().map_err(io(path))?;
        let bytes = read_capped(&file, path)?;
        Ok(Some(FileState {
            bytes,
            mode: meta.permissions().mode() & 0o7777,
            owner: (meta.uid(), meta.gid()),
        }))
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
        let full = root.join(path);
        let (parent_rel, name) = split(path)?;
        let dir = walk(root, parent_rel, true)?.fd;
        let existing = match fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Some(regular(fd, &full)?),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) if is_link_error(e) => {
                return Err(HostError::Symlink {
                    path: full.display().to_string(),
                });
            }
            Err(e) => return Err(io(&full)(e.into())),
        };
        if let Some(file) = &existing {
            let meta = file.metadata().map_err(io(&full))?;
            let old = read_capped(file, &full)?;
            let same_perms =
                meta.permissions().mode() & 0o7777 == mode && owner_matches(&meta, owner);
            if old == bytes {
                if same_perms {
                    return Ok(WriteOutcome::Unchanged);
                }
                // On the descriptor: the file checked is the file changed.
                set_mode_owner(file, mode, owner).map_err(io(&full))?;
                return Ok(WriteOutcome::Permissions);
            }
            if let Some(b) = backup {
                // The backup is written the same careful way, with the same mode.
                self.write_file(
                    root,
                    b,
                    &old,
                    meta.permissions().mode() & 0o7777,
                    (meta.uid(), meta.gid()),
                    None,
                )?;
            }
        }
        let tmp_name = temp_name();
        let tmp = File::from(
            fs::openat(
                &dir,
                tmp_name.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(|e| io(&full)(e.into()))?,
        );
        let written = (|| -> std::io::Result<()> {
            // Mode and owner are set before the content lands, so a secret is never
            // readable by anyone else, not even for an instant.
            set_mode_owner(&tmp, mode, owner)?;
            (&tmp).write_all(bytes)?;
            tmp.sync_all()?;
            fs::renameat(&dir, tmp_name.as_str(), &dir, name)?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = fs::unlinkat(&dir, tmp_name.as_str(), fs::AtFlags::empty());
            return Err(io(&full)(e));
        }
        let _ = fs::fsync(&dir);
        Ok(if existing.is_some() {
            WriteOutcome::Updated
        } else {
            WriteOutcome::Created
        })
    }

    fn ensure_dir(
        &self,
        root: &Path,
        path: &Path,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<WriteOutcome, HostError> {
        let full = root.join(path);
        let opened = walk(root, path, true)?;
        let dir = File::from(opened.fd);
        let outcome = if opened.created {
            WriteOutcome::Created
        } else {
            let meta = dir.metadata().map_err(io(&full))?;
            if meta.permissions().mode() & 0o7777 == mode && owner_matches(&meta, owner) {
                return Ok(WriteOutcome::Unchanged);
            }
            WriteOutcome::Permissions
        };
        set_mode_owner(&dir, mode, owner).map_err(io(&full))?;
        Ok(outcome)
    }
}

/// Mode and owner through the descriptor (never a path that could have changed).
fn set_mode_owner(file: &File, mode: u32, owner: (u32, u32)) -> std::io::Result<()> {
    if is_root() {
        std::os::unix::fs::fchown(file, Some(owner.0), Some(owner.1))?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// A directory opened by [`walk`].
struct Opened {
    fd: OwnedFd,
    /// The last component did not exist and was made.
    created: bool,
}

/// Open `root/rel` as a directory without following any link below `root`, making the
/// missing components (0755, like `mkdir -p`) when `create`. `root` is created if
/// missing and may be a link: the operator named it.
fn walk(root: &Path, rel: &Path, create: bool) -> Result<Opened, HostError> {
    if create {
        fs_err::create_dir_all(root).map_err(io(root))?;
    }
    let mut fd = fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(root)(e.into()))?;
    let mut here = root.to_path_buf();
    let mut created = false;
    for component in rel.components() {
        let name = match component {
            Component::Normal(n) => n,
            Component::CurDir => continue,
            _ => {
                return Err(HostError::NotManaged {
                    path: root.join(rel).display().to_string(),
                    problem: "the path leaves the deploy directory".into(),
                    help: "managed paths are relative and never contain `..`".into(),
                });
            }
        };
        here.push(name);
        created = false;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let next = match fs::openat(&fd, name, flags, Mode::empty()) {
            Err(rustix::io::Errno::NOENT) if create => {
                match fs::mkdirat(&fd, name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) => created = true,
                    Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io(&here)(e.into())),
                }
                fs::openat(&fd, name, flags, Mode::empty())
            }
            other => other,
        };
        fd = match next {
            Ok(next) => next,
            Err(e) if is_link_error(e) || e == rustix::io::Errno::NOTDIR => {
                return Err(match fs::statat(&fd, name, fs::AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if fs::FileType::from_raw_mode(st.st_mode) == fs::FileType::Symlink => {
                        HostError::Symlink {
                            path: here.display().to_string(),
                        }
                    }
                    _ => HostError::NotManaged {
                        path: here.display().to_string(),
                        problem: "is not a directory".into(),
                        help: "move it away: vpai needs a directory there".into(),
                    },
                });
            }
            Err(e) => return Err(io(&here)(e.into())),
        };
    }
    Ok(Opened { fd, created })
}

/// `O_NOFOLLOW` on a link fails with `ELOOP` (`EMLINK` on some BSDs).
fn is_link_error(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::LOOP || e == rustix::io::Errno::MLINK
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// A managed file is a regular file: a FIFO would hang the read, a device would never end.
fn regular(fd: OwnedFd, path: &Path) -> Result<File, HostError> {
    let file = File::from(fd);
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(HostError::NotManaged {
            path: path.display().to_string(),
            problem: "is not a regular file".into(),
            help: "move it away: vpai manages a regular file there".into(),
        });
    }
    Ok(file)
}

/// The largest file vpai reads as one of its own (rendered files are kilobytes).
const MAX_MANAGED_FILE: u64 = 64 << 20;

fn read_capped(file: &File, path: &Path) -> Result<Vec<u8>, HostError> {
    let mut bytes = Vec::new();
    file.take(MAX_MANAGED_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > MAX_MANAGED_FILE {
        return Err(HostError::NotManaged {
            path: path.display().to_string(),
            problem: format!("is larger than {} MiB", MAX_MANAGED_FILE >> 20),
            help: "vpai writes small config files: move this one away".into(),
        });
    }
    Ok(bytes)
}

/// `(parent, file name)` of a managed relative path.
fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr), HostError> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(HostError::NotManaged {
            path: path.display().to_string(),
            problem: "is not a file path".into(),
            help: "managed files have a name".into(),
        }),
    }
}

/// A fresh name for a temp file next to its target (created with `O_EXCL`, so a
/// collision fails rather than writes through something already there).
fn temp_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        ".vpai-{}-{nanos:x}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn an_attached_command_reports_its_exit_code_and_signal() {
        assert_eq!(
            LocalHost
                .run_interactive(&["sh", "-c", "exit 3"], false)
                .unwrap(),
            3
        );
        assert_eq!(LocalHost.run_interactive(&["true"], false).unwrap(), 0);
        // Killed by SIGTERM: 128 + 15, as a shell says.
        assert_eq!(
            LocalHost
                .run_interactive(&["sh", "-c", "kill -TERM $$"], false)
                .unwrap(),
            143
        );
        let err = LocalHost
            .run_interactive(&["/nonexistent/vpai-test"], false)
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/vpai-test"), "{err}");
    }

    fn rel(p: &str) -> &Path {
        Path::new(p)
    }

    #[test]
    fn write_is_idempotent_and_keeps_previous() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let host = LocalHost;
        let (p, b) = (rel("a.conf"), Some(rel("prev/a.conf")));
        let write = |bytes: &[u8], mode| host.write_file(root, p, bytes, mode, (0, 0), b).unwrap();
        assert_eq!(write(b"one", 0o640), WriteOutcome::Created);
        assert_eq!(write(b"one", 0o640), WriteOutcome::Unchanged);
        assert_eq!(write(b"two", 0o640), WriteOutcome::Updated);
        assert_eq!(std::fs::read(root.join("prev/a.conf")).unwrap(), b"one");
        let st = host.read_file(&root.join(p)).unwrap().unwrap();
        assert_eq!(st.bytes, b"two");
        assert_eq!(st.mode, 0o640);
        assert_eq!(write(b"two", 0o600), WriteOutcome::Permissions);
        assert_eq!(host.read_file(&root.join(p)).unwrap().unwrap().mode, 0o600);
    }

    #[test]
    fn no_temp_file_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        LocalHost
            .write_file(dir.path(), rel("x"), b"1", 0o600, (0, 0), None)
            .unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x"]);
    }

    #[test]
    fn ensure_dir_creates_parents_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let host = LocalHost;
        let r = |mode| {
            host.ensure_dir(dir.path(), rel("data/pg"), mode, (0, 0))
                .unwrap()
        };
        assert_eq!(r(0o700), WriteOutcome::Created);
        assert_eq!(r(0o700), WriteOutcome::Unchanged);
        assert_eq!(r(0o750), WriteOutcome::Permissions);
        let meta = std::fs::metadata(dir.path().join("data/pg")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o750);
    }

    /// The reproduction: `data/postgresql -> /some/dir` made the target 700 999:999.
    #[test]
    fn a_linked_directory_is_refused_and_its_target_untouched() {
        let out = tempfile::tempdir().unwrap();
        let victim = tempfile::tempdir().unwrap();
        std::fs::set_permissions(victim.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(out.path().join("data")).unwrap();
        symlink(victim.path(), out.path().join("data/postgresql")).unwrap();
        let err = LocalHost
            .ensure_dir(out.path(), rel("data/postgresql"), 0o700, (999, 999))
            .unwrap_err();
        assert!(matches!(err, HostError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains("data/postgresql"), "{err}");
        let meta = std::fs::metadata(victim.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
        // Deeper: a file under a linked directory is refused, nothing lands in the target.
        let err = LocalHost
            .write_file(
                out.path(),
                rel("data/postgresql/x.env"),
                b"S",
                0o600,
                (0, 0),
                None,
            )
            .unwrap_err();
        assert!(matches!(err, HostError::Symlink { .. }), "{err}");
        assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0);
    }

    /// `out/env -> /tmp-like dir` received every env file.
    #[test]
    fn a_linked_parent_of_a_file_is_refused() {
        let out = tempfile::tempdir().unwrap();
        let shared = tempfile::tempdir().unwrap();
        std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        symlink(shared.path(), out.path().join("env")).unwrap();
        let err = LocalHost
            .write_file(out.path(), rel("env/n8n.env"), b"PW=x", 0o600, (0, 0), None)
            .unwrap_err();
        assert!(matches!(err, HostError::Symlink { .. }), "{err}");
        assert_eq!(std::fs::read_dir(shared.path()).unwrap().count(), 0);
    }

    /// A file symlink used to get its target chmod'ed (and then replaced).
    #[test]
    fn a_linked_file_is_refused_and_its_target_untouched() {
        let out = tempfile::tempdir().unwrap();
        let victim = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(victim.path(), b"keep").unwrap();
        std::fs::set_permissions(victim.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        symlink(victim.path(), out.path().join("Caddyfile")).unwrap();
        for bytes in [&b"keep"[..], b"new"] {
            let err = LocalHost
                .write_file(out.path(), rel("Caddyfile"), bytes, 0o600, (0, 0), None)
                .unwrap_err();
            assert!(matches!(err, HostError::Symlink { .. }), "{err}");
        }
        let meta = std::fs::metadata(victim.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
        assert_eq!(std::fs::read(victim.path()).unwrap(), b"keep");
        assert!(
            std::fs::symlink_metadata(out.path().join("Caddyfile"))
                .unwrap()
                .is_symlink()
        );
        let err = LocalHost
            .read_file(&out.path().join("Caddyfile"))
            .unwrap_err();
        assert!(matches!(err, HostError::Symlink { .. }), "{err}");
    }

    #[test]
    fn a_fifo_is_not_read() {
        let out = tempfile::tempdir().unwrap();
        let fifo = out.path().join("compose.yml");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let err = LocalHost.read_file(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = LocalHost
            .write_file(out.path(), rel("compose.yml"), b"x", 0o600, (0, 0), None)
            .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn the_root_itself_may_be_a_link() {
        let real = tempfile::tempdir().unwrap();
        let holder = tempfile::tempdir().unwrap();
        let root = holder.path().join("opt-link");
        symlink(real.path(), &root).unwrap();
        LocalHost
            .write_file(&root, rel("a/b.conf"), b"1", 0o640, (0, 0), None)
            .unwrap();
        assert_eq!(std::fs::read(real.path().join("a/b.conf")).unwrap(), b"1");
    }

    #[test]
    fn dotdot_is_refused() {
        let out = tempfile::tempdir().unwrap();
        let err = LocalHost
            .write_file(out.path(), rel("../x"), b"1", 0o600, (0, 0), None)
            .unwrap_err();
        assert!(
            err.to_string().contains("leaves the deploy directory"),
            "{err}"
        );
    }

    #[test]
    fn children_do_not_inherit_the_vault_key() {
        // SAFETY: this test binary sets the variable before any child starts and only
        // reads it through the child.
        unsafe { std::env::set_var("VPAI_VAULT_PASSWORD", "hunter2-not-for-children") };
        let out = LocalHost.run(&["env"], None).unwrap();
        assert!(
            !out.stdout_text().contains("hunter2"),
            "{}",
            out.stdout_text()
        );
    }

    #[test]
    fn run_feeds_stdin() {
        let out = LocalHost.run(&["cat"], Some(b"hello")).unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, b"hello");
    }
}
