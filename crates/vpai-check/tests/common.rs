//! Helpers shared by the test binaries: load a fixture directory as `SourceFile`s
//! with paths relative to it, and the modes/owners listed in its `MODES` file.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use vpai_check::SourceFile;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every file under `dir` (except `MODES` and `EXPECT`), path relative to `dir`.
pub fn load_dir(dir: &Path) -> Vec<SourceFile> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let modes = dir.join("MODES");
    if let Ok(text) = std::fs::read_to_string(&modes) {
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let [name, mode, uid, gid] = parts[..] {
                let file = files
                    .iter_mut()
                    .find(|f| f.path == name)
                    .expect("MODES names a file");
                file.mode = Some(u32::from_str_radix(mode, 8).unwrap());
                file.owner = Some((uid.parse().unwrap(), gid.parse().unwrap()));
            }
        }
    }
    files
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.file_name().unwrap() != "MODES" && path.file_name().unwrap() != "EXPECT" {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push(SourceFile::new(rel, std::fs::read(&path).unwrap()));
        }
    }
}
