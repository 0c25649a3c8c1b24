//! Reading what an operator points `vpai check` and `vpai doctor` at without being
//! made to hang or to fill the memory: regular files only (opening a FIFO waits for
//! a writer, `/dev/zero` never ends), opened so that neither can block, and a cap on
//! every read. Logs larger than their cap are read as their tail: the recent lines
//! are the ones that matter.

use crate::source::LoadError;
use crate::text::sanitize_for_terminal;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

const MIB: u64 = 1024 * 1024;

/// The largest file `vpai check` reads (configuration files are far smaller).
pub const MAX_CHECKED_FILE: u64 = 8 * MIB;
/// How much of a log `vpai doctor` keeps: the last 64 MiB.
pub const MAX_LOGS: u64 = 64 * MIB;
/// How much of a stream (`--logs -`) is read, keeping its tail, before giving up.
pub const MAX_LOG_STREAM: u64 = 4 * MAX_LOGS;

/// What a file is read for: it decides the limits and what the errors advise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A file `vpai check` lints.
    Check,
    /// Logs `vpai doctor` reads.
    Logs,
}

impl Purpose {
    fn not_regular_fix(self) -> &'static str {
        match self {
            Purpose::Check => "give `vpai check` configuration files or directories holding them",
            Purpose::Logs => {
                "to read a stream, pipe it: `docker logs NAME 2>&1 | vpai doctor --logs -`"
            }
        }
    }

    fn too_large_fix(self) -> &'static str {
        match self {
            Purpose::Check => {
                "configuration files are far smaller: check that the path names one (data files and archives are not checked)"
            }
            Purpose::Logs => {
                "pass only the recent lines: `docker logs --tail 1000 NAME 2>&1 | vpai doctor --logs -`"
            }
        }
    }
}

/// Whether a symbolic link is followed: yes for a path the operator names, no in a
/// directory walk (a link must not take the walk out of the tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Refuse,
}

/// `12.3 MiB`, `512 KiB`, `100 bytes`.
pub fn human_size(n: u64) -> String {
    if n >= MIB {
        if n.is_multiple_of(MIB) {
            format!("{} MiB", n / MIB)
        } else {
            format!("{:.1} MiB", n as f64 / MIB as f64)
        }
    } else if n >= 1024 {
        format!("{} KiB", n / 1024)
    } else if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// What a non-regular file is, for messages.
pub(crate) fn describe(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

fn shown(path: &str) -> String {
    sanitize_for_terminal(path).into_owned()
}

fn io_error(path: &str, e: io::Error) -> LoadError {
    if e.kind() == io::ErrorKind::NotFound {
        LoadError::Missing(shown(path))
    } else {
        LoadError::Io {
            path: shown(path),
            error: e,
        }
    }
}

fn not_regular(path: &str, ft: &std::fs::FileType, purpose: Purpose) -> LoadError {
    LoadError::NotRegular {
        path: shown(path),
        what: describe(ft),
        fix: purpose.not_regular_fix(),
    }
}

/// Open `path` for reading if it is a regular file; the metadata is the opened
/// file's (`fstat`), so a file swapped between the look and the open is caught.
/// `shown` is the path as messages name it.
pub fn open_regular(
    path: &Path,
    shown_as: &str,
    links: Links,
    purpose: Purpose,
) -> Result<(File, Metadata), LoadError> {
    // A look before opening: opening a device can have effects of its own (a tape
    // rewinds, a terminal becomes the controlling one).
    let before = match links {
        Links::Follow => std::fs::metadata(path),
        Links::Refuse => std::fs::symlink_metadata(path),
    }
    .map_err(|e| io_error(shown_as, e))?;
    if links == Links::Refuse && before.file_type().is_symlink() {
        return Err(LoadError::Symlink {
            path: shown(shown_as),
        });
    }
    if !before.is_file() {
        return Err(not_regular(shown_as, &before.file_type(), purpose));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO put in place since the look must not block the open.
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if links == Links::Refuse {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) {
            return LoadError::Symlink {
                path: shown(shown_as),
            };
        }
        io_error(shown_as, e)
    })?;
    let meta = file.metadata().map_err(|e| io_error(shown_as, e))?;
    if !meta.is_file() {
        return Err(not_regular(shown_as, &meta.file_type(), purpose));
    }
    Ok((file, meta))
}

/// A regular file's bytes, refused when larger than `limit`.
pub fn read_capped(
    path: &Path,
    shown_as: &str,
    links: Links,
    purpose: Purpose,
    limit: u64,
) -> Result<(Vec<u8>, Metadata), LoadError> {
    let (file, meta) = open_regular(path, shown_as, links, purpose)?;
    let what = match purpose {
        Purpose::Check => "a checked file",
        Purpose::Logs => "logs",
    };
    let too_large = |problem: String| LoadError::TooLarge {
        path: shown(shown_as),
        problem,
        fix: purpose.too_large_fix(),
    };
    if meta.len() > limit {
        // Bytes when rounding would make it look like the limit itself.
        let size = if meta.len() < limit + MIB {
            format!("{} bytes", meta.len())
        } else {
            human_size(meta.len())
        };
        return Err(too_large(format!(
            "it is {size}, over the {} limit for {what}",
            human_size(limit)
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The size can lie (files in /proc say 0) or change while reading: the cap holds.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(shown_as, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!(
            "it grew past the {} limit for {what} while being read",
            human_size(limit)
        )));
    }
    Ok((bytes, meta))
}

/// Logs as read: their last bytes, and how many came before (0: all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogText {
    pub bytes: Vec<u8>,
    /// Bytes left out at the start (the log was longer than the cap).
    pub skipped: u64,
}

impl LogText {
    /// Start at a line: drop what is left of a line cut by the tail.
    fn from_tail(mut bytes: Vec<u8>, skipped: u64) -> Self {
        let mut skipped = skipped;
        // (A tail holding one unfinished line is kept whole.)
        if skipped > 0
            && let Some(i) = bytes.iter().position(|b| *b == b'\n')
            && i + 1 < bytes.len()
        {
            bytes.drain(..=i);
            skipped += i as u64 + 1;
        }
        LogText { bytes, skipped }
    }
}

/// A log file (symbolic links followed: the operator named it), its last
/// `MAX_LOGS` bytes when it is larger.
pub fn read_log_file(path: &Path, shown_as: &str) -> Result<LogText, LoadError> {
    read_log_file_capped(path, shown_as, MAX_LOGS)
}

/// `read_log_file` with another cap (tests).
pub fn read_log_file_capped(path: &Path, shown_as: &str, cap: u64) -> Result<LogText, LoadError> {
    let (mut file, meta) = open_regular(path, shown_as, Links::Follow, Purpose::Logs)?;
    let skipped = meta.len().saturating_sub(cap);
    if skipped > 0 {
        file.seek(SeekFrom::Start(skipped))
            .map_err(|e| io_error(shown_as, e))?;
    }
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(shown_as, e))?;
    Ok(LogText::from_tail(bytes, skipped))
}

/// Logs from a stream (stdin): the last `MAX_LOGS` bytes; a stream longer than
/// `MAX_LOG_STREAM` is refused rather than read forever.
pub fn read_log_stream(reader: impl Read, shown_as: &str) -> Result<LogText, LoadError> {
    read_log_stream_capped(reader, shown_as, MAX_LOGS, MAX_LOG_STREAM)
}

/// `read_log_stream` with other caps (tests).
pub fn read_log_stream_capped(
    reader: impl Read,
    shown_as: &str,
    keep: u64,
    at_most: u64,
) -> Result<LogText, LoadError> {
    let (tail, total, complete) =
        tail_of(reader, keep, Some(at_most)).map_err(|e| io_error(shown_as, e))?;
    if !complete {
        return Err(LoadError::TooLarge {
            path: shown(shown_as),
            problem: format!(
                "it gave more than {}, the most vpai reads from a stream (of which it keeps the last {})",
                human_size(at_most),
                human_size(keep)
            ),
            fix: Purpose::Logs.too_large_fix(),
        });
    }
    let skipped = total - tail.len() as u64;
    Ok(LogText::from_tail(tail, skipped))
}

/// The last `keep` bytes of a finite stream (a command's output).
pub fn tail_of_stream(reader: impl Read, keep: u64) -> io::Result<LogText> {
    let (tail, total, _) = tail_of(reader, keep, None)?;
    let skipped = total - tail.len() as u64;
    Ok(LogText::from_tail(tail, skipped))
}

/// Read to the end (or past `at_most` bytes: then `complete` is false) keeping the
/// last `keep` bytes in a ring. Returns (tail, bytes read, complete).
fn tail_of(
    mut reader: impl Read,
    keep: u64,
    at_most: Option<u64>,
) -> io::Result<(Vec<u8>, u64, bool)> {
    let keep = usize::try_from(keep.max(1)).unwrap_or(usize::MAX);
    let mut ring: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    let mut total = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        push_ring(&mut ring, keep, &mut pos, &chunk[..n]);
        if at_most.is_some_and(|max| total > max) {
            ring.rotate_left(pos);
            return Ok((ring, total, false));
        }
    }
    ring.rotate_left(pos);
    Ok((ring, total, true))
}

/// Append to a ring of `keep` bytes whose oldest byte is at `pos` once it is full.
fn push_ring(ring: &mut Vec<u8>, keep: usize, pos: &mut usize, mut data: &[u8]) {
    if ring.len() < keep {
        let n = (keep - ring.len()).min(data.len());
        ring.extend_from_slice(&data[..n]);
        data = &data[n..];
    }
    if data.len() >= keep {
        ring.copy_from_slice(&data[data.len() - keep..]);
        *pos = 0;
        return;
    }
    while !data.is_empty() {
        let n = (keep - *pos).min(data.len());
        ring[*pos..*pos + n].copy_from_slice(&data[..n]);
        *pos = (*pos + n) % keep;
        data = &data[n..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(8 * MIB), "8 MiB");
        assert_eq!(human_size(12 * MIB + MIB / 2), "12.5 MiB");
        assert_eq!(human_size(2048), "2 KiB");
        assert_eq!(human_size(7), "7 bytes");
    }

    #[test]
    fn a_ring_keeps_the_tail() {
        for chunk in [1usize, 3, 7, 100] {
            let data: Vec<u8> = (0..250u32).map(|i| (i % 251) as u8).collect();
            let mut ring = Vec::new();
            let mut pos = 0;
            for part in data.chunks(chunk) {
                push_ring(&mut ring, 40, &mut pos, part);
            }
            ring.rotate_left(pos);
            assert_eq!(ring, data[210..], "chunks of {chunk}");
        }
    }

    #[test]
    fn a_stream_is_read_as_its_tail_from_a_line_start() {
        let text = "line one\nline two\nline three\n";
        let log = read_log_stream_capped(text.as_bytes(), "-", 15, 1000).unwrap();
        assert_eq!(String::from_utf8_lossy(&log.bytes), "line three\n");
        assert_eq!(log.skipped, 18);
        let all = read_log_stream_capped(text.as_bytes(), "-", 100, 1000).unwrap();
        assert_eq!(all.bytes, text.as_bytes());
        assert_eq!(all.skipped, 0);
    }

    #[test]
    fn an_endless_stream_is_refused() {
        let err = read_log_stream_capped(io::repeat(0), "stdin", 1024, 1 << 20).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`stdin`: it gave more than 1 MiB"), "{msg}");
    }
}
