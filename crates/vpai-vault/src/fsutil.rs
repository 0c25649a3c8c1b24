//! File operations the vault needs to be crash-safe and private: atomic replacement
//! (temp file in the same directory, fsync, rename, fsync of the directory), a copy
//! of the previous version, best-effort shredding of plaintext, reading files that
//! must be regular files with a size cap, and the lock that serializes writers.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use zeroize::Zeroizing;

/// Why a file that should be a plain, regular file cannot be used.
#[derive(Debug)]
pub enum FileProblem {
    Io(std::io::Error),
    /// The path is a symbolic link (and links are not followed).
    Symlink,
    /// A directory, FIFO, device or socket: what kind.
    NotRegular(&'static str),
    /// Larger than the limit (in bytes).
    TooLarge(u64),
}

impl FileProblem {
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, FileProblem::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileProblem::Io(e) => write!(f, "{e}"),
            FileProblem::Symlink => f.write_str(
                "it is a symbolic link, and vpai does not follow links it did not create",
            ),
            FileProblem::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            FileProblem::TooLarge(limit) => write!(f, "it is larger than {}", human_size(*limit)),
        }
    }
}

impl From<std::io::Error> for FileProblem {
    fn from(e: std::io::Error) -> Self {
        FileProblem::Io(e)
    }
}

/// `8 KiB`, `16 MiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Open `path` for reading without blocking (a FIFO must not hang vpai) and make sure,
/// on the opened descriptor, that it is a regular file. With `follow == false` a
/// symbolic link is refused instead of followed (`O_NOFOLLOW`).
pub(crate) fn open_regular(
    path: &Path,
    follow: bool,
) -> Result<(std::fs::File, std::fs::Metadata), FileProblem> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if !follow && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(FileProblem::Symlink);
        }
        Err(e) => return Err(FileProblem::Io(e)),
    };
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(FileProblem::NotRegular(kind_of(meta.file_type())));
    }
    Ok((file, meta))
}

/// Read at most `max` bytes of an opened file; more is an error (the file may have
/// grown since it was checked).
pub(crate) fn read_capped(
    file: &mut std::fs::File,
    meta: &std::fs::Metadata,
    max: u64,
) -> Result<Zeroizing<Vec<u8>>, FileProblem> {
    if meta.len() > max {
        return Err(FileProblem::TooLarge(max));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(FileProblem::TooLarge(max));
    }
    Ok(bytes)
}

/// [`open_regular`] then [`read_capped`].
pub fn read_regular(
    path: &Path,
    follow: bool,
    max: u64,
) -> Result<Zeroizing<Vec<u8>>, FileProblem> {
    let (mut file, meta) = open_regular(path, follow)?;
    read_capped(&mut file, &meta, max)
}

/// Whether `path` itself (not what it points to) is a symbolic link.
pub(crate) fn is_symlink(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.file_type().is_symlink()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// An exclusive `flock` on a lock file, released when dropped (the descriptor closes).
#[derive(Debug)]
pub struct FileLock {
    _file: std::fs::File,
}

/// Take the exclusive lock on `path`, created 0600 if needed, never through a symbolic
/// link. Waits for the holder (another vpai) to finish, saying so on stderr.
pub fn lock(path: &Path, what: &Path) -> Result<FileLock, FileProblem> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(FileProblem::Symlink),
        Err(e) => return Err(FileProblem::Io(e)),
    };
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(FileProblem::NotRegular(kind_of(meta.file_type())));
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "vpai: waiting for another vpai command to finish writing `{}`",
                what.display()
            );
            file.lock()?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(FileProblem::Io(e)),
    }
    Ok(FileLock { _file: file })
}

/// Replace `path` with `bytes` atomically. The temp file is created with `mode`
/// before any byte is written, so the content is never visible with wider rights.
/// With `backup`, the file's previous content (`previous`) is first put there the
/// same way, so an interrupted save leaves either the old or the new vault, and a
/// `.bak` that decrypts.
pub fn atomic_write(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    backup: Option<(&Path, &[u8])>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(dir)?;
    if let Some((bak, previous)) = backup {
        replace(dir, bak, previous, mode)?;
    }
    replace(dir, path, bytes, mode)?;
    // The rename is durable only once the directory entry is.
    fs_err::File::open(dir)?.sync_all()
}

fn replace(dir: &Path, path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(permissions(mode))
        .tempfile_in(dir)?;
    set_mode(tmp.path(), mode)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(unix)]
fn permissions(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

#[cfg(unix)]
pub(crate) fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// The file's mode bits, if it has any group or other permission.
#[cfg(unix)]
pub(crate) fn readable_by_others(path: &Path) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs_err::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

/// Overwrite a plaintext file with zeros, flush it to disk, then unlink it.
///
/// Best effort by nature: on copy-on-write or journaling file systems and on SSDs the
/// old blocks may survive. It still beats a plain `unlink`, which leaves every byte
/// in place until the blocks are reused.
///
/// A symbolic link, FIFO or other non-regular file is only unlinked: writing zeros
/// through a link would destroy whatever it points at.
pub(crate) fn shred(path: &Path) -> std::io::Result<()> {
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match opened {
        Ok(file) if file.metadata()?.file_type().is_file() => Some(file),
        Ok(_) => None,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => None,
        // A FIFO without a reader, a socket: nothing to overwrite.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => None,
        Err(e) => return Err(e),
    };
    if let Some(mut file) = file {
        let len = file.metadata()?.len();
        let zeros = [0u8; 4096];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()?;
        file.set_len(0)?;
        file.sync_all()?;
    }
    fs_err::remove_file(path)
}
