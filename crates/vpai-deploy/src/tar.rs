//! A minimal ustar writer: the changed files of a deploy travel to the host as one tar
//! stream on the stdin of one remote command (GNU tar, present on every Debian/Ubuntu,
//! unpacks it). Regular files only; modes and owners are applied by the install script
//! from the file list, not trusted from the archive.

/// Append one regular file.
pub fn append(out: &mut Vec<u8>, path: &str, bytes: &[u8], mode: u32) {
    let mut h = [0u8; 512];
    let (prefix, name) = split_path(path);
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], bytes.len() as u64);
    octal(&mut h[136..148], 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(bytes);
    let pad = (512 - bytes.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

/// Close the archive (two zero blocks).
pub fn finish(out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(0u8, 1024));
}

/// ustar keeps names in 100 bytes plus a 155-byte prefix split at a `/`.
fn split_path(path: &str) -> (&str, &str) {
    if path.len() <= 100 {
        return ("", path);
    }
    let cut = path[..path.len().min(156)]
        .rmatch_indices('/')
        .map(|(i, _)| i)
        .find(|i| path.len() - i - 1 <= 100)
        .expect("artifact paths fit in ustar (checked by the caller)");
    (&path[..cut], &path[cut + 1..])
}

/// Can this path travel in a ustar archive?
pub fn fits(path: &str) -> bool {
    path.len() <= 100
        || path[..path.len().min(156)]
            .rmatch_indices('/')
            .any(|(i, _)| path.len() - i - 1 <= 100 && i <= 155)
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn gnu_tar_reads_it_back() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let mut buf = Vec::new();
        append(&mut buf, "a.txt", b"hello\n", 0o640);
        append(&mut buf, "configs/x/y.conf", &[7u8; 1000], 0o600);
        append(&mut buf, &long, b"", 0o644);
        finish(&mut buf);
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("tar")
            .args(["-x", "-f", "-", "-C"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&buf).unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"hello\n");
        assert_eq!(
            std::fs::read(dir.path().join("configs/x/y.conf")).unwrap(),
            vec![7u8; 1000]
        );
        assert!(dir.path().join(&long).exists());
        assert!(fits(&long) && !fits(&"x".repeat(300)));
    }
}
