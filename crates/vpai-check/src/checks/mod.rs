//! The checks: each module looks at one kind of file (or at the compose files of a
//! host together) and reports findings against the rules in `rules.rs`.

pub mod caddy;
pub mod compose;
pub mod configs;
pub mod encoding;
pub mod files;
pub mod openclaw;
pub mod scripts;
pub mod secrets;

use crate::inspect::ImageInspector;
use crate::knowledge::Knowledge;
use crate::report::{Edit, Finding, Fix};
use crate::rules::{Rule, Severity};
use crate::source::{FileKind, SourceFile, detect_kind, detect_kind_with};
use crate::text::{LineIndex, utf8_same_offsets};
use crate::yaml::{self, Node, ParseError};

/// One file, decoded and parsed once for all rules.
pub struct Parsed<'a> {
    pub index: usize,
    pub file: &'a SourceFile,
    pub kind: FileKind,
    /// UTF-8 view with the same byte offsets as the file.
    pub text: String,
    pub lines: LineIndex,
    /// YAML/JSON documents (empty for other kinds or when parsing failed).
    pub docs: Vec<Node>,
    pub parse_error: Option<ParseError>,
}

impl<'a> Parsed<'a> {
    #[cfg(test)]
    pub fn new(index: usize, file: &'a SourceFile) -> Self {
        Self::with_patterns(index, file, None)
    }

    /// With the file patterns of the stack's own catalog (`None`: the shipped one's).
    pub fn with_patterns(
        index: usize,
        file: &'a SourceFile,
        patterns: Option<&[vpai_catalog::FilePattern]>,
    ) -> Self {
        let kind = match patterns {
            Some(p) => detect_kind_with(file, p),
            None => detect_kind(file),
        };
        let text = utf8_same_offsets(&file.text);
        let lines = LineIndex::new(text.as_bytes());
        let structured = matches!(
            kind,
            FileKind::Compose
                | FileKind::QdrantConfig
                | FileKind::LokiConfig
                | FileKind::LitellmConfig
                | FileKind::OpenclawConfig
                | FileKind::GrafanaDatasources
                | FileKind::Yaml
        );
        let (docs, parse_error) = if structured {
            match yaml::parse(&text) {
                Ok(docs) => (docs, None),
                Err(e) => {
                    // A file that only fails on invalid escapes (VP401, reported on its
                    // own) is still checked: blank those backslashes, same length.
                    let bad = encoding::invalid_escape_offsets(&text, &lines);
                    let mut patched = text.clone().into_bytes();
                    for b in &bad {
                        patched[*b] = b' ';
                    }
                    let patched = String::from_utf8(patched).unwrap_or_default();
                    match (bad.is_empty(), yaml::parse(&patched)) {
                        (false, Ok(docs)) => (docs, Some(e)),
                        _ => (Vec::new(), Some(e)),
                    }
                }
            }
        } else {
            (Vec::new(), None)
        };
        Parsed {
            index,
            file,
            kind,
            text,
            lines,
            docs,
            parse_error,
        }
    }

    pub fn path(&self) -> &str {
        &self.file.path
    }

    /// The first document, if it parsed.
    pub fn root(&self) -> Option<&Node> {
        self.docs.first()
    }

    /// A finding over bytes `start..end` of this file.
    pub fn finding(
        &self,
        rule: &'static Rule,
        start: usize,
        end: usize,
        message: impl Into<String>,
    ) -> Finding {
        let start = start.min(self.text.len());
        let end = end.clamp(start, self.text.len());
        let (line, column) = self.lines.position(&self.text, start);
        let (end_line, end_column) = self.lines.position(&self.text, end);
        Finding {
            rule: rule.id,
            name: rule.name,
            severity: rule.severity,
            path: self.file.path.clone(),
            line,
            column,
            end_line,
            end_column,
            start,
            end,
            message: message.into(),
            help: None,
            fix: None,
        }
    }

    /// A finding over a YAML node.
    pub fn at(&self, rule: &'static Rule, node: &Node, message: impl Into<String>) -> Finding {
        self.finding(rule, node.start, node.end, message)
    }

    /// Byte offset of `needle` inside the source text of `node` (for edits in scalars).
    pub fn find_in(&self, node: &Node, needle: &str) -> Option<usize> {
        let end = node.end.max(node.start).min(self.text.len());
        self.text
            .get(node.start..end)?
            .find(needle)
            .map(|i| node.start + i)
    }

    /// 0-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.lines.line_of(offset)
    }
}

/// What every check sees.
pub struct Ctx<'a> {
    pub files: Vec<Parsed<'a>>,
    /// Normalised path -> index in `files`.
    pub paths: std::collections::HashMap<String, usize>,
    pub knowledge: &'a Knowledge,
    pub inspector: Option<&'a dyn ImageInspector>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        files: Vec<Parsed<'a>>,
        knowledge: &'a Knowledge,
        inspector: Option<&'a dyn ImageInspector>,
    ) -> Self {
        let paths = files
            .iter()
            .map(|f| (normalize_path(&f.file.path), f.index))
            .collect();
        Ctx {
            files,
            paths,
            knowledge,
            inspector,
        }
    }

    pub fn of_kind(&self, kind: FileKind) -> impl Iterator<Item = &Parsed<'a>> {
        self.files.iter().filter(move |f| f.kind == kind)
    }

    /// The file a compose path refers to (`./configs/x.yaml` relative to the compose
    /// file, or an absolute host path matched by its trailing components).
    pub fn resolve(&self, base_dir: &str, path: &str) -> Option<&Parsed<'a>> {
        let path = strip_leading_variable(path);
        let absolute = path.starts_with('/');
        let wanted = if absolute || base_dir.is_empty() {
            normalize_path(path)
        } else {
            normalize_path(&format!("{base_dir}/{path}"))
        };
        if let Some(&i) = self.paths.get(&wanted) {
            return Some(&self.files[i]);
        }
        if !absolute {
            return None;
        }
        // Absolute host paths (`/opt/app/configs/redis/redis.conf`): match the longest
        // tail of at least two components.
        let parts: Vec<&str> = wanted.split('/').filter(|s| !s.is_empty()).collect();
        for take in (2..=parts.len().min(4)).rev() {
            let tail = parts[parts.len() - take..].join("/");
            let slash_tail = format!("/{tail}");
            let mut hits = self
                .paths
                .iter()
                .filter(|(p, _)| **p == tail || p.ends_with(&slash_tail));
            if let (Some((_, &i)), None) = (hits.next(), hits.next()) {
                return Some(&self.files[i]);
            }
        }
        None
    }
}

fn strip_leading_variable(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("${")
        && let Some(i) = rest.find('}')
    {
        return rest[i + 1..].trim_start_matches('/');
    }
    path
}

/// `a/./b/../c` -> `a/c`, backslashes to slashes.
pub fn normalize_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// One `KEY=VALUE` line of an env file.
#[derive(Debug, Clone)]
pub struct EnvEntry {
    pub key: String,
    pub value: String,
    pub key_start: usize,
    pub value_end: usize,
}

/// Parse an env file (`KEY=VALUE`, `export KEY=VALUE`, comments, quotes).
pub fn parse_env(text: &str) -> Vec<EnvEntry> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start().len();
        let mut rest = body.trim_start();
        let mut key_start = offset + indent;
        if let Some(r) = rest.strip_prefix("export ") {
            key_start += rest.len() - r.len();
            rest = r;
        }
        if !rest.starts_with('#')
            && let Some(eq) = rest.find('=')
        {
            let key = rest[..eq].trim();
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                let raw = &rest[eq + 1..];
                let value_start = key_start + eq + 1;
                let value = raw.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(value);
                out.push(EnvEntry {
                    key: key.to_string(),
                    value: value.to_string(),
                    key_start,
                    value_end: value_start + raw.len(),
                });
            }
        }
        offset += line.len();
    }
    out
}

/// Names that hold secrets (`POSTGRES_PASSWORD`, `api_key`, `LITELLM_MASTER_KEY`).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const NOT: &[&str] = &[
        "_FILE",
        "_PATH",
        "_DIR",
        "_ENABLED",
        "_HOST",
        "_PORT",
        "_USER",
        "_USERNAME",
        "_URL_FILE",
        "_LENGTH",
        "_TTL",
        "_EXPIRY",
        "_EXPIRES",
        "_TIMEOUT",
        "_HEADER",
        "_NAME",
        "_TYPE",
        "_ID",
    ];
    if NOT.iter().any(|s| n.ends_with(s)) {
        return false;
    }
    const YES: &[&str] = &[
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "MASTER_KEY",
        "PRIVATE_KEY",
        "ENCRYPTION_KEY",
        "SALT_KEY",
        "ACCESS_KEY",
        "AUTH_KEY",
        "REDISCLI_AUTH",
    ];
    YES.iter().any(|s| n.contains(s)) || n == "KEY" || n.ends_with("_KEY")
}

impl Finding {
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_fix(mut self, description: impl Into<String>, edits: Vec<Edit>) -> Self {
        self.fix = Some(Fix {
            description: description.into(),
            edits,
        });
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// An edit replacing `start..end` with text.
pub fn edit(start: usize, end: usize, replacement: impl Into<String>) -> Edit {
    Edit {
        start,
        end,
        replacement: replacement.into().into_bytes(),
    }
}

/// Run every check.
pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    for f in &ctx.files {
        encoding::check(f, out);
        match f.kind {
            FileKind::Caddyfile => caddy::check_file(ctx, f, out),
            FileKind::PostgresConf => configs::postgres_conf(f, out),
            FileKind::RedisConf => configs::redis_conf(ctx, f, out),
            FileKind::LitellmConfig => configs::litellm(f, out),
            FileKind::LokiConfig => configs::loki(f, out),
            FileKind::GrafanaDatasources => configs::grafana_datasources(f, out),
            FileKind::OpenclawConfig => openclaw::check(ctx, f, out),
            FileKind::Shell => scripts::check(f, out),
            _ => {}
        }
    }
    compose::check(ctx, out);
    files::check(ctx, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_parsing_and_paths() {
        let env = parse_env("# c\nA=1\nexport B=\"two\"\n\nC\n");
        assert_eq!(env.len(), 2);
        assert_eq!(env[1].key, "B");
        assert_eq!(env[1].value, "two");
        assert_eq!(normalize_path("./a/../b/./c"), "b/c");
        assert_eq!(normalize_path("/opt/x/../y"), "/opt/y");
        assert!(is_secret_name("POSTGRES_PASSWORD"));
        assert!(is_secret_name("LITELLM_MASTER_KEY"));
        assert!(!is_secret_name("POSTGRES_PASSWORD_FILE"));
        assert!(!is_secret_name("N8N_PORT"));
    }
}

/// What the value under a secret-looking name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Empty, a reference (`${VAR}`, `/run/secrets/...`), a flag or a small number
    /// (`SECRETS: "0"`, `..._PASSWORD_REQUIRED: 'False'`).
    NotSecret,
    /// An obvious stand-in that nobody uses as the real value (`change-me`,
    /// `your-api-key`, `<token>`, `not-needed`).
    Placeholder,
    /// Anything else: it may be the real secret.
    Secret,
}

/// Classify a secret-named value as written (quotes are stripped).
pub fn secret_value_kind(value: &str) -> ValueKind {
    let v = value.trim().trim_matches(['"', '\'']).trim();
    let lower = v.to_ascii_lowercase();
    if v.is_empty()
        || v.starts_with('$')
        || v.contains("${")
        || v.contains("{{")
        || v.starts_with("/run/secrets/")
        || v.starts_with("os.environ/")
    {
        return ValueKind::NotSecret;
    }
    // A file path (`REDIS_TLS_KEY=/certs/redis.key`) names where the secret is.
    let path_like = v.starts_with('/')
        && v.rsplit('/').next().is_some_and(|name| name.contains('.'))
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
    if path_like {
        return ValueKind::NotSecret;
    }
    const FLAGS: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "~"];
    if FLAGS.contains(&lower.as_str()) || (v.len() <= 5 && v.chars().all(|c| c.is_ascii_digit())) {
        return ValueKind::NotSecret;
    }
    const STAND_INS: &[&str] = &[
        "changeme",
        "change-me",
        "change_me",
        "change-this",
        "change_this",
        "changethis",
        "replace-me",
        "replace_me",
        "replaceme",
        "placeholder",
        "dummy",
        "not-needed",
        "not_needed",
        "notneeded",
        "no-auth",
        "noauth",
        "no_auth",
        "your-",
        "your_",
        "yourpassword",
        "yoursecret",
        "example",
        "xxxx",
        "todo",
        "fixme",
        "generate",
        "insert",
    ];
    let bracketed =
        (v.starts_with('<') && v.ends_with('>')) || (v.starts_with('[') && v.ends_with(']'));
    if bracketed
        || lower.starts_with("change")
        || matches!(lower.as_str(), "none" | "empty")
        || STAND_INS.iter().any(|s| lower.contains(s))
    {
        return ValueKind::Placeholder;
    }
    ValueKind::Secret
}
