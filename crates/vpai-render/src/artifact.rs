//! What rendering produces: files and directories with content, mode and owner.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// One file for the host, relative to the project root.
#[derive(Clone, Serialize)]
pub struct Artifact {
    pub path: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub mode: u32,
    /// (uid, gid)
    pub owner: (u32, u32),
    /// Services whose containers read this file: a change recreates them.
    pub services: Vec<String>,
    /// Names of the secrets whose values went into it.
    pub secrets: BTreeSet<String>,
    /// Holds secret values: masked in diffs, never world-readable.
    pub secret: bool,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("path", &self.path)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("owner", &self.owner)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Artifact {
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

/// A directory to create with its mode and owner (data dirs belong to the container UID).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DirSpec {
    pub path: String,
    pub mode: u32,
    pub owner: (u32, u32),
}

impl DirSpec {
    pub fn new(path: &str, mode: u32, owner: (u32, u32)) -> Self {
        DirSpec {
            path: path.to_string(),
            mode,
            owner,
        }
    }
}

/// Everything rendered for one host.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub artifacts: Vec<Artifact>,
    pub dirs: Vec<DirSpec>,
    /// Service -> hash of the files its container reads.
    pub input_hashes: BTreeMap<String, String>,
    /// The smoke probes of the stack's services, ready to run.
    pub probes: Vec<crate::probes::RenderedProbe>,
    /// The services' `[[after_start]]` steps, ready to run.
    pub after_start: Vec<crate::probes::RenderedProbe>,
    /// The captures a backup takes (their files are among the artifacts).
    pub backups: Vec<crate::backup::RenderedBackup>,
}

/// Name of the manifest that lists every artifact with mode, owner and hash.
pub const MANIFEST: &str = "vpai-manifest.json";

#[derive(Serialize)]
struct ManifestEntry<'a> {
    path: &'a str,
    mode: String,
    uid: u32,
    gid: u32,
    sha256: String,
    services: &'a [String],
    secrets: &'a BTreeSet<String>,
}

#[derive(Serialize)]
struct ManifestDir<'a> {
    path: &'a str,
    mode: String,
    uid: u32,
    gid: u32,
}

impl Rendered {
    pub fn get(&self, path: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.path == path)
    }

    /// The services that read a file in which secret `name` appears.
    pub fn services_using_secret(&self, name: &str) -> BTreeSet<String> {
        self.artifacts
            .iter()
            .filter(|a| a.secrets.contains(name))
            .flat_map(|a| a.services.iter().cloned())
            .collect()
    }

    pub(crate) fn add_manifest(&mut self) {
        let files: Vec<ManifestEntry> = self
            .artifacts
            .iter()
            .map(|a| ManifestEntry {
                path: &a.path,
                mode: format!("{:04o}", a.mode),
                uid: a.owner.0,
                gid: a.owner.1,
                sha256: a.sha256(),
                services: &a.services,
                secrets: &a.secrets,
            })
            .collect();
        let dirs: Vec<ManifestDir> = self
            .dirs
            .iter()
            .map(|d| ManifestDir {
                path: &d.path,
                mode: format!("{:04o}", d.mode),
                uid: d.owner.0,
                gid: d.owner.1,
            })
            .collect();
        let json = serde_json::json!({
            "format": 1,
            "files": files,
            "dirs": dirs,
            "services": self.input_hashes,
        });
        let mut text = serde_json::to_string_pretty(&json).expect("manifest serializes");
        text.push('\n');
        self.artifacts.push(Artifact {
            path: MANIFEST.to_string(),
            bytes: text.into_bytes(),
            mode: 0o644,
            owner: (0, 0),
            services: Vec::new(),
            secrets: BTreeSet::new(),
            secret: false,
        });
    }
}

/// Hash of a service's input files, order-independent of how they were collected.
pub fn hash_inputs(parts: &[(&str, &[u8])]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (path, bytes) in sorted {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(&h.finalize()[..16])
}
