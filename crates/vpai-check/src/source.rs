//! The files a check runs over, and what kind of file each one is.
//!
//! Files come from our renderer (with the mode and owner they will have on the host)
//! or from disk (`load_paths`). The kind is decided by name first, then by content,
//! so that a hand-written `stack/monitoring.yml` holding a Loki config is still read
//! as one.

use std::path::{Path, PathBuf};

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

/// Decide the kind from the name, then from a quick look at the content.
pub fn detect_kind(file: &SourceFile) -> FileKind {
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
    if name.starts_with("postgresql") && name.ends_with(".conf") {
        return FileKind::PostgresConf;
    }
    if name.starts_with("redis") && name.ends_with(".conf") {
        return FileKind::RedisConf;
    }
    if name.ends_with(".acl") {
        return FileKind::RedisAcl;
    }
    if name == "openclaw.json" || (name.ends_with(".json") && dir.ends_with("openclaw")) {
        return FileKind::OpenclawConfig;
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
        return yaml_kind(&name, &dir, &file.text);
    }
    FileKind::Text
}

/// Which YAML document this is, from its top-level keys.
fn yaml_kind(name: &str, dir: &str, text: &[u8]) -> FileKind {
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
    if has("schema_config") || has("ingester") || (name.contains("loki") && has("server")) {
        return FileKind::LokiConfig;
    }
    if name == "production.yaml" || dir.ends_with("qdrant") && (has("storage") || has("service")) {
        return FileKind::QdrantConfig;
    }
    FileKind::Yaml
}

/// Error reading files from disk.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` does not exist")]
    Missing(String),
}

/// Directory names never descended into.
const SKIP_DIRS: &[&str] = &[".git", "node_modules", "target", ".venv", "__pycache__"];

/// Files larger than this are not read (they are data, not configuration).
const MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// Read files and directories (recursively), keeping mode and owner.
/// Paths are shown as given for files, and relative to the directory given.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<SourceFile>, LoadError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = fs_err::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                LoadError::Missing(path.display().to_string())
            } else {
                LoadError::Io {
                    path: path.display().to_string(),
                    source: e,
                }
            }
        })?;
        if meta.is_dir() {
            walk(path, path, &mut out)?;
        } else {
            out.push(read_one(path, &path.display().to_string())?);
        }
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> Result<(), LoadError> {
    let io = |e: std::io::Error| LoadError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    let mut entries: Vec<_> = fs_err::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(root, &path, out)?;
            }
        } else if ft.is_file() {
            let meta = entry.metadata().map_err(io)?;
            if meta.len() > MAX_FILE_SIZE || !interesting(&name) {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let shown = if root == Path::new(".") {
                rel.to_path_buf()
            } else {
                root.join(rel)
            };
            out.push(read_one(&path, &shown.display().to_string())?);
        }
    }
    Ok(())
}

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

fn read_one(path: &Path, shown: &str) -> Result<SourceFile, LoadError> {
    let text = fs_err::read(path).map_err(|e| LoadError::Io {
        path: shown.to_string(),
        source: e,
    })?;
    let mut file = SourceFile::new(shown, text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(path) {
            file.mode = Some(meta.mode() & 0o7777);
            file.owner = Some((meta.uid(), meta.gid()));
        }
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
