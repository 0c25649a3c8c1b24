//! File operations the vault needs to be crash-safe and private: atomic replacement
//! (temp file in the same directory, fsync, rename, fsync of the directory), a copy
//! of the previous version, and best-effort shredding of plaintext.

use std::io::Write;
use std::path::Path;

/// Replace `path` with `bytes` atomically. The temp file is created with `mode`
/// before any byte is written, so the content is never visible with wider rights.
/// With `backup`, the file's previous content (`previous`) is first put there the
/// same way, so an interrupted save leaves either the old or the new vault, and a
/// `.bak` that decrypts.
pub(crate) fn atomic_write(
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
pub(crate) fn shred(path: &Path) -> std::io::Result<()> {
    let len = fs_err::metadata(path)?.len();
    {
        let mut file = fs_err::OpenOptions::new().write(true).open(path)?;
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
