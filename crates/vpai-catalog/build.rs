//! Embeds every folder of `services/` in the binary.
//!
//! Why a build script rather than a hand-written `include_str!` table or the
//! `include_dir` crate: adding a service must be adding a folder, with no Rust to
//! edit, and a table kept by hand is exactly such an edit; `include_dir` would be a
//! dependency for what twenty lines do here. The generated code is still plain
//! `include_str!`, so the compiler tracks each file, and `rerun-if-changed` on the
//! directory makes Cargo rebuild when a file is added, removed or edited.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("services");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut services: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("crates/vpai-catalog/services exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    services.sort();
    let mut code = String::from("&[\n");
    for dir in services {
        let name = dir
            .file_name()
            .unwrap()
            .to_str()
            .expect("UTF-8 folder name");
        let mut files = Vec::new();
        collect(&dir, &dir, &mut files);
        files.sort();
        writeln!(code, "    EmbeddedService {{ name: {name:?}, files: &[").unwrap();
        for (relative, absolute) in files {
            writeln!(
                code,
                "        ({relative:?}, include_str!({:?})),",
                absolute.display().to_string()
            )
            .unwrap();
        }
        code.push_str("    ] },\n");
    }
    code.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_services.rs");
    std::fs::write(out, code).unwrap();
}

/// Every file below `dir`, with its path relative to the service folder (`/`-separated).
fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(base, &path, out);
        } else {
            let relative = path.strip_prefix(base).unwrap();
            let parts: Vec<&str> = relative
                .components()
                .map(|c| c.as_os_str().to_str().expect("UTF-8 file name"))
                .collect();
            out.push((parts.join("/"), path));
        }
    }
}
