//! The files a check runs over, and what kind of file each one is.
//!
//! Files come from our renderer (with the mode and owner they will have on the host)
//! or from disk (`load_paths`). The kind is decided by name first, then by content,
//! so that a hand-written `stack/monitoring.yml` holding a Loki config is still read
//! as one.

use crate::input::{Links, MAX_CHECKED_FILE, Purpose, describe, read_capped};
use crate::text::sanitize_for_terminal;
use std::path::{Path, PathBuf};
use vpai_catalog::{Catalog, FileFormat, FilePattern};

/// One file: its path (as shown in findings), bytes, and, when known, mode and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub text: Vec<u8>,
    /// Permission bits (`0o640`).
    pub mode: Option<u32>,
    /// (uid, gid).
    pub owner: Option<(u32, u32)>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<Vec<u8>>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
            mode: None,
            owner: None,
        }
    }

    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn with_owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = Some((uid, gid));
        self
    }

    /// The last path component.
    pub fn file_name(&self) -> &str {
        self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path)
    }

    /// The directory part of the path (`""` for a bare name).
    pub fn dir(&self) -> &str {
        match self.path.rfind(['/', '\\']) {
            Some(i) => &self.path[..i],
            None => "",
        }
    }
}

/// What a file is, which decides the rules that run on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Compose,
    Caddyfile,
    PostgresConf,
    RedisConf,
    RedisAcl,
    QdrantConfig,
    LokiConfig,
    LitellmConfig,
    OpenclawConfig,
    GrafanaDatasources,
    /// Any other YAML document.
    Yaml,
    Env,
    Shell,
    /// A Jinja2 template: text rules only (it is not valid YAML/JSON before rendering).
    Template,
    /// Anything else: encoding rules only.
    Text,
}

/// Decide the kind from the name, then from a quick look at the content, with the
/// shipped catalog's file patterns.
pub fn detect_kind(file: &SourceFile) -> FileKind {
    detect_kind_with(file, catalog_patterns())
}

/// [`detect_kind`] with the file patterns of a given catalog (a stack's own: shipped
/// entries plus its `catalog/` folder), so a service an operator adds is recognised
/// by its own `[lint] files`.
pub fn detect_kind_with(file: &SourceFile, patterns: &[FilePattern]) -> FileKind {
    let name = file.file_name().to_ascii_lowercase();
    let dir = file.dir().to_ascii_lowercase();
    if name.ends_with(".j2") || name.ends_with(".jinja") || name.ends_with(".tmpl") {
        return FileKind::Template;
    }
    let is_yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    if name.starts_with("caddyfile") || name.ends_with(".caddyfile") || name.ends_with(".caddy") {
        return FileKind::Caddyfile;
    }
    if is_yaml && name.contains("compose") {
        return FileKind::Compose;
    }
    if let Some(kind) = catalog_kind(patterns, &name, &dir, None) {
        return kind;
    }
    if name.ends_with(".acl") {
        return FileKind::RedisAcl;
    }
    if name == ".env" || name.ends_with(".env") || name.starts_with(".env.") {
        return FileKind::Env;
    }
    if name.ends_with(".sh") || name.ends_with(".bash") {
        return FileKind::Shell;
    }
    let head = &file.text[..file.text.len().min(4096)];
    let head = String::from_utf8_lossy(head);
    if head.starts_with("#!") {
        let first = head.lines().next().unwrap_or("");
        if first.contains("sh") {
            return FileKind::Shell;
        }
    }
    if is_yaml {
        return yaml_kind(patterns, &name, &dir, &file.text);
    }
    FileKind::Text
}

/// Which YAML document this is, from its top-level keys.
fn yaml_kind(patterns: &[FilePattern], name: &str, dir: &str, text: &[u8]) -> FileKind {
    let text = String::from_utf8_lossy(text);
    let top: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with([' ', '\t', '#', '-']) && l.contains(':'))
        .filter_map(|l| l.split(':').next())
        .map(|k| k.trim().trim_matches(['"', '\'']))
        .collect();
    let has = |k: &str| top.contains(&k);
    if has("services") && !has("datasources") {
        return FileKind::Compose;
    }
    if has("model_list") || has("litellm_settings") || has("router_settings") {
        return FileKind::LitellmConfig;
    }
    if has("datasources") || (name.contains("datasource") && has("apiVersion")) {
        return FileKind::GrafanaDatasources;
    }
    catalog_kind(patterns, name, dir, Some(&has)).unwrap_or(FileKind::Yaml)
}

/// The file patterns of the catalog's `[lint] files`, by service name.
fn catalog_patterns() -> &'static [FilePattern] {
    static PATTERNS: std::sync::OnceLock<Vec<FilePattern>> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        let catalog = Catalog::embedded();
        let mut named: Vec<(&str, &FilePattern)> = catalog
            .services()
            .flat_map(|s| s.lint.files.iter().map(|p| (s.name.as_str(), p)))
            .chain(
                catalog
                    .facts_only()
                    .flat_map(|f| f.lint.files.iter().map(|p| (f.name.as_str(), p))),
            )
            .collect();
        named.sort_by_key(|(name, _)| *name);
        named.into_iter().map(|(_, p)| p.clone()).collect()
    })
}

/// A service's configuration format, recognised by the catalog's patterns: by name
/// (and directory) first; YAML documents (`top_keys` given) by their keys too.
fn catalog_kind(
    patterns: &[FilePattern],
    name: &str,
    dir: &str,
    yaml_keys: Option<&dyn Fn(&str) -> bool>,
) -> Option<FileKind> {
    patterns
        .iter()
        .filter(|p| p.yaml == yaml_keys.is_some())
        .find(|p| {
            p.name_matches(name)
                && p.dir.as_deref().is_none_or(|d| dir.ends_with(d))
                && (p.top_keys.is_empty()
                    || yaml_keys.is_some_and(|has| p.top_keys.iter().any(|k| has(k))))
        })
        .map(|p| match p.format {
            FileFormat::PostgresqlConf => FileKind::PostgresConf,
            FileFormat::RedisConf => FileKind::RedisConf,
            FileFormat::QdrantConfig => FileKind::QdrantConfig,
            FileFormat::LokiConfig => FileKind::LokiConfig,
            FileFormat::OpenclawConfig => FileKind::OpenclawConfig,
        })
}

/// Error reading files from disk. Paths in it are safe to print on a terminal.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{path}`: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("`{0}` does not exist")]
    Missing(String),
    #[error("cannot read `{path}`: it is {what}, not a regular file; {fix}")]
    NotRegular {
        path: String,
        what: &'static str,
        fix: &'static str,
    },
    #[error("cannot read `{path}`: {problem}; {fix}")]
    TooLarge {
        path: String,
        /// `it is 12.5 MiB, over the 8 MiB limit for a checked file`
        problem: String,
        fix: &'static str,
    },
    #[error(
        "cannot read `{path}`: it is a symbolic link, which a directory walk does not follow; name it on the command line to check what it points to"
    )]
    Symlink { path: String },
}

/// A path that `load` passed over in a directory, and why (for a note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// As shown in findings (not sanitized: sanitize before printing).
    pub path: String,
    pub reason: String,
}

/// What `load` read, and what it passed over.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub files: Vec<SourceFile>,
    pub skipped: Vec<Skipped>,
}

/// Directory names never descended into.
const SKIP_DIRS: &[&str] = &[".git", "node_modules", "target", ".venv", "__pycache__"];

/// Read files and directories (recursively), keeping mode and owner.
/// Paths are shown as given for files, and relative to the directory given.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<SourceFile>, LoadError> {
    load(paths).map(|l| l.files)
}

/// `load_paths`, with the files a directory walk passed over.
///
/// A path named here must be a regular file (symbolic links followed: naming it is
/// the operator's choice) or a directory; anything else (a FIFO, `/dev/zero`) or a
/// file over `MAX_CHECKED_FILE` is an error. In a directory, such files and every
/// symbolic link are skipped with a note: a walk stays in its tree.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut out = Loaded::default();
    for path in paths {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                LoadError::Missing(sanitize_for_terminal(&shown).into_owned())
            } else {
                LoadError::Io {
                    path: sanitize_for_terminal(&shown).into_owned(),
                    error: e,
                }
            }
        })?;
        if meta.is_dir() {
            walk(path, path, &mut out)?;
        } else {
            out.files.push(read_one(path, &shown, Links::Follow)?);
        }
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Loaded) -> Result<(), LoadError> {
    let io = |e: std::io::Error| LoadError::Io {
        path: sanitize_for_terminal(&dir.display().to_string()).into_owned(),
        error: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // The entry's own type: a symbolic link is not followed.
        let Ok(ft) = entry.file_type() else { continue };
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let shown = if root == Path::new(".") {
            rel.to_path_buf()
        } else {
            root.join(rel)
        };
        let shown = shown.display().to_string();
        let skipped = if ft.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(root, &path, out)?;
            }
            None
        } else if ft.is_symlink() {
            Some(format!(
                "{SYMLINK}; name it on the command line to check what it points to"
            ))
        } else if !ft.is_file() {
            Some(format!("{}, not a regular file", describe(&ft)))
        } else if interesting(&name) {
            match read_one(&path, &shown, Links::Refuse) {
                Ok(file) => {
                    out.files.push(file);
                    None
                }
                // Removed since the directory was listed.
                Err(LoadError::Missing(_)) => None,
                // Replaced since the directory was listed.
                Err(LoadError::NotRegular { what, .. }) => {
                    Some(format!("{what}, not a regular file"))
                }
                Err(LoadError::Symlink { .. }) => Some(SYMLINK.to_string()),
                Err(LoadError::TooLarge { problem, .. }) => Some(problem),
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        if let Some(reason) = skipped {
            out.skipped.push(Skipped {
                path: shown,
                reason,
            });
        }
    }
    Ok(())
}

const SYMLINK: &str = "a symbolic link, which a directory walk does not follow";

/// Files worth reading when walking a directory.
fn interesting(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const EXT: &[&str] = &[
        ".yml",
        ".yaml",
        ".json",
        ".conf",
        ".acl",
        ".env",
        ".sh",
        ".bash",
        ".j2",
        ".toml",
        ".caddy",
        ".caddyfile",
        ".ini",
        ".sql",
    ];
    lower.starts_with("caddyfile")
        || lower == ".env"
        || lower.starts_with(".env.")
        || EXT.iter().any(|e| lower.ends_with(e))
}

fn read_one(path: &Path, shown: &str, links: Links) -> Result<SourceFile, LoadError> {
    let (text, _meta) = read_capped(path, shown, links, Purpose::Check, MAX_CHECKED_FILE)?;
    let mut file = SourceFile::new(shown, text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.mode = Some(_meta.mode() & 0o7777);
        file.owner = Some((_meta.uid(), _meta.gid()));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(path: &str, text: &str) -> FileKind {
        detect_kind(&SourceFile::new(path, text))
    }

    #[test]
    fn kinds_by_name_and_content() {
        assert_eq!(kind("docker-compose-infra.yml", ""), FileKind::Compose);
        assert_eq!(kind("stack.yml", "services:\n  a: {}\n"), FileKind::Compose);
        assert_eq!(kind("configs/caddy/Caddyfile", ""), FileKind::Caddyfile);
        assert_eq!(
            kind("x/config.yaml", "model_list: []\n"),
            FileKind::LitellmConfig
        );
        assert_eq!(
            kind("loki.yml", "schema_config: {}\n"),
            FileKind::LokiConfig
        );
        assert_eq!(kind("env/n8n.env", ""), FileKind::Env);
        assert_eq!(kind("Caddyfile.j2", ""), FileKind::Template);
        assert_eq!(kind("run", "#!/bin/bash\n"), FileKind::Shell);
        assert_eq!(
            kind(
                "grafana/datasources.yaml",
                "apiVersion: 1\ndatasources: []\n"
            ),
            FileKind::GrafanaDatasources
        );
    }
}
