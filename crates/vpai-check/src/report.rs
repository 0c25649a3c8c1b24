//! Findings and the three ways to print them: rustc-like text, JSON, SARIF 2.1.0.

use crate::rules::{self, Severity};
use crate::source::SourceFile;
use crate::text::{
    LineIndex, escape_json_for_terminal, is_terminal_unsafe, sanitize_for_terminal,
    utf8_same_offsets,
};
use serde::Serialize;
use std::fmt::Write as _;

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Rule id (`VP101`).
    pub rule: &'static str,
    /// Rule name (`healthcheck-localhost`).
    pub name: &'static str,
    pub severity: Severity,
    pub path: String,
    /// 1-based line and column (in characters) where the span starts.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// Byte offsets of the span in the file.
    pub start: usize,
    pub end: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// A mechanical fix `vpai check --fix` can apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

/// A set of edits to one file that fixes one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub description: String,
    #[serde(skip)]
    pub edits: Vec<Edit>,
}

/// Replace bytes `start..end` of the file with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub replacement: Vec<u8>,
}

/// Everything a check found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub files_checked: usize,
    /// Findings dropped by `--allow`.
    pub allowed: usize,
    /// Findings silenced by a `# vpai: allow RULE -- reason` comment on their line or
    /// the line above: not counted, but listed in JSON and SARIF.
    pub suppressed: Vec<Suppressed>,
    /// Where the files hold secret values: never printed.
    #[serde(skip)]
    pub(crate) masks: Vec<Mask>,
    /// Those values (the longer ones), scrubbed from any text that quotes them.
    #[serde(skip)]
    pub(crate) secrets: Vec<String>,
}

/// A finding silenced in the file itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    /// The text after `--` in the comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The `# vpai: allow RULE[, RULE] [-- reason]` comment of `line` that names `rule`
/// (by id or name): `Some(reason)`.
pub(crate) fn inline_allow(line: &str, rule: &rules::Rule) -> Option<Option<String>> {
    let hash = line.find('#')?;
    let comment = line[hash + 1..].trim_start();
    let rest = comment.strip_prefix("vpai:")?.trim_start();
    let rest = rest.strip_prefix("allow")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let (names, reason) = match rest.split_once(" -- ") {
        Some((n, r)) => (n, Some(r.trim().to_string()).filter(|r| !r.is_empty())),
        None => (rest, None),
    };
    names
        .split([',', ' ', '\t'])
        .filter(|n| !n.is_empty())
        .any(|n| n.eq_ignore_ascii_case(rule.id) || n.eq_ignore_ascii_case(rule.name))
        .then_some(reason)
}

/// What a secret value is printed as.
pub const MASK: &str = "********";

/// Bytes `start..end` of the file at `path` hold a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mask {
    pub path: String,
    pub start: usize,
    pub end: usize,
}

/// Shorter values are masked where they stand but not searched for in other text
/// (a short password would mask every word holding those letters).
const MIN_SCRUBBED_LEN: usize = 8;

/// Whether a secret value is also searched for and masked outside its own span
/// (in messages, help, other lines): long enough, and not a plain word such as
/// `postgres` or `password`, which would garble paths, image names and rule text
/// and tell which common word is someone's password. Shorter or plainer values
/// are masked only where they stand; no rule quotes a secret value in its text.
fn scrubbed_everywhere(value: &str) -> bool {
    let len = value.chars().count();
    if len < MIN_SCRUBBED_LEN {
        return false;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    len >= 16 || classes >= 2
}

/// The secret values under `masks`, longest first.
pub(crate) fn secret_values(files: &[SourceFile], masks: &[Mask]) -> Vec<String> {
    let mut out: Vec<String> = masks
        .iter()
        .filter_map(|m| {
            let file = files.iter().find(|f| f.path == m.path)?;
            let bytes = file.text.get(m.start..m.end)?;
            let value = String::from_utf8_lossy(bytes).trim().to_string();
            scrubbed_everywhere(&value).then_some(value)
        })
        .collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    out.dedup();
    out
}

/// `text` with every secret value replaced by `MASK`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

/// A finding whose texts quote no secret value.
pub(crate) fn scrub_finding(f: &mut Finding, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    f.message = scrub(&f.message, secrets);
    if let Some(help) = &mut f.help {
        *help = scrub(help, secrets);
    }
    if let Some(fix) = &mut f.fix {
        fix.description = scrub(&fix.description, secrets);
    }
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// rustc-style text: header, location, source line, caret under the span, help.
    pub fn render_human(&self, files: &[SourceFile], color: bool) -> String {
        let style = Style { on: color };
        let mut out = String::new();
        for f in &self.findings {
            render_finding(&mut out, f, files, &self.masks, &self.secrets, &style);
        }
        let errors = self.count(Severity::Error);
        let warnings = self.count(Severity::Warning);
        let files_word = plural(self.files_checked, "file", "files");
        if errors + warnings == 0 {
            let _ = writeln!(
                out,
                "{}: no findings in {files_word}",
                style.paint("1;32", "ok")
            );
        } else {
            let (word, code) = if errors > 0 {
                ("error", "1;31")
            } else {
                ("warning", "1;33")
            };
            let _ = writeln!(
                out,
                "{}: {} and {} in {files_word}",
                style.paint(code, word),
                plural(errors, "error", "errors"),
                plural(warnings, "warning", "warnings"),
            );
        }
        if self.allowed > 0 {
            let _ = writeln!(
                out,
                "note: {} allowed by `--allow`",
                plural(self.allowed, "finding", "findings")
            );
        }
        if !self.suppressed.is_empty() {
            let _ = writeln!(
                out,
                "note: {} suppressed by `# vpai: allow` comments",
                plural(self.suppressed.len(), "finding", "findings")
            );
        }
        out
    }

    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "version": 1,
            "files_checked": self.files_checked,
            "allowed": self.allowed,
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
            "findings": self.findings,
            "suppressed": self.suppressed,
        });
        escape_json_for_terminal(serde_json::to_string_pretty(&value).unwrap_or_default())
    }

    /// SARIF 2.1.0, one run, for code-scanning upload.
    pub fn to_sarif(&self) -> String {
        let rules: Vec<_> = rules::ALL
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "name": r.name,
                    "shortDescription": { "text": r.summary },
                    "fullDescription": { "text": r.explanation },
                    "help": { "text": format!("{}; `vpai check --explain {}`", r.fix, r.id) },
                    "defaultConfiguration": { "level": sarif_level(r.severity) },
                })
            })
            .collect();
        let suppressed = self
            .suppressed
            .iter()
            .map(|s| (&s.finding, Some(&s.reason)));
        let results: Vec<_> = self
            .findings
            .iter()
            .map(|f| (f, None))
            .chain(suppressed)
            .map(|(f, suppression): (&Finding, Option<&Option<String>>)| {
                let index = rules::ALL.iter().position(|r| r.id == f.rule).unwrap_or(0);
                let mut message = f.message.clone();
                if let Some(help) = &f.help {
                    message.push_str(". Help: ");
                    message.push_str(help);
                }
                let mut result = serde_json::json!({
                    "ruleId": f.rule,
                    "ruleIndex": index,
                    "level": sarif_level(f.severity),
                    "message": { "text": message },
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": { "uri": f.path.replace('\\', "/") },
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.column,
                                "endLine": f.end_line,
                                "endColumn": f.end_column,
                            }
                        }
                    }],
                });
                if let Some(reason) = suppression {
                    let mut entry = serde_json::json!({ "kind": "inSource" });
                    if let Some(reason) = reason {
                        entry["justification"] = serde_json::Value::from(reason.as_str());
                    }
                    result["suppressions"] = serde_json::json!([entry]);
                }
                result
            })
            .collect();
        let value = serde_json::json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": { "driver": {
                    "name": "vpai-check",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "results": results,
            }],
        });
        escape_json_for_terminal(serde_json::to_string_pretty(&value).unwrap_or_default())
    }
}

/// Byte ranges (relative to the line) of `line` that must not be shown: the masks
/// of this file that touch it, and every appearance of a secret value.
fn hidden_ranges(
    line: &str,
    line_start: usize,
    path: &str,
    masks: &[Mask],
    secrets: &[String],
) -> Vec<(usize, usize)> {
    let line_end = line_start + line.len();
    let mut ranges: Vec<(usize, usize)> = masks
        .iter()
        .filter(|m| m.path == path && m.start < line_end && m.end > line_start)
        .map(|m| {
            (
                m.start.max(line_start) - line_start,
                m.end.min(line_end) - line_start,
            )
        })
        .collect();
    for s in secrets {
        ranges.extend(
            line.match_indices(s.as_str())
                .map(|(i, v)| (i, i + v.len())),
        );
    }
    ranges.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// A source line as printed: tabs as four spaces, hidden ranges as `MASK`, terminal
/// controls as visible escapes; and where each byte of the line lands in it.
struct Snippet {
    shown: String,
    /// (byte offset in the line, column in `shown` where that character starts)
    columns: Vec<(usize, usize)>,
    width: usize,
}

impl Snippet {
    fn new(line: &str, hidden: &[(usize, usize)]) -> Self {
        let mut shown = String::with_capacity(line.len());
        let mut columns = Vec::with_capacity(line.len());
        let mut width = 0usize;
        let mut masked: Option<usize> = None;
        for (i, c) in line.char_indices() {
            columns.push((i, width));
            let piece: std::borrow::Cow<str> = match hidden
                .iter()
                .position(|(s, e)| i >= *s && i < *e)
            {
                Some(k) if masked != Some(k) => {
                    masked = Some(k);
                    MASK.into()
                }
                Some(_) => "".into(),
                None if c == '\t' => "    ".into(),
                None if is_terminal_unsafe(c) => sanitize_for_terminal(c.encode_utf8(&mut [0; 4]))
                    .into_owned()
                    .into(),
                None => c.to_string().into(),
            };
            width += piece.chars().count();
            shown.push_str(&piece);
        }
        Snippet {
            shown,
            columns,
            width,
        }
    }

    /// Column in `shown` of byte offset `at` of the line.
    fn column(&self, at: usize) -> usize {
        self.columns
            .iter()
            .find(|(i, _)| *i >= at)
            .map(|(_, c)| *c)
            .unwrap_or(self.width)
    }
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn render_finding(
    out: &mut String,
    f: &Finding,
    files: &[SourceFile],
    masks: &[Mask],
    secrets: &[String],
    style: &Style,
) {
    let (word, code) = match f.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    // Messages and help quote file content: no secret, no terminal control.
    let message = sanitize_for_terminal(&scrub(&f.message, secrets)).into_owned();
    let _ = writeln!(
        out,
        "{}{}",
        style.paint(code, &format!("{word}[{}]", f.rule)),
        style.paint("1", &format!(": {message}"))
    );
    let gutter = f.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {}:{}:{}",
        style.paint("1;34", "-->"),
        sanitize_for_terminal(&f.path),
        f.line,
        f.column
    );
    if let Some(file) = files.iter().find(|s| s.path == f.path) {
        let text = utf8_same_offsets(&file.text);
        let index = LineIndex::new(text.as_bytes());
        let line_no = f.line.saturating_sub(1);
        if line_no < index.line_count() {
            let line = index.line_text(&text, line_no);
            let line_start = index.line_start(line_no);
            let hidden = hidden_ranges(line, line_start, &f.path, masks, secrets);
            let snippet = Snippet::new(line, &hidden);
            // The span in characters of the line, as columns say.
            let char_byte = |col: usize| {
                line.char_indices()
                    .nth(col.saturating_sub(1))
                    .map(|(i, _)| i)
                    .unwrap_or(line.len())
            };
            let from = char_byte(f.column);
            let to = if f.end_line == f.line && f.end_column > f.column {
                char_byte(f.end_column)
            } else if f.end_line > f.line {
                line.len()
            } else {
                from
            };
            let caret_from = snippet.column(from);
            let width = snippet.column(to).saturating_sub(caret_from).max(1);
            let bar = style.paint("1;34", "|");
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(
                out,
                "{} {bar} {}",
                style.paint("1;34", &format!("{:>gutter$}", f.line)),
                snippet.shown
            );
            let _ = writeln!(
                out,
                "{pad} {bar} {}{}",
                " ".repeat(caret_from),
                style.paint(code, &"^".repeat(width))
            );
        }
    }
    let rule = rules::find(f.rule);
    if let Some(help) = f.help.as_deref().or(rule.map(|r| r.fix)) {
        let help = sanitize_for_terminal(&scrub(help, secrets)).into_owned();
        let _ = writeln!(out, "{pad} = {}: {help}", style.paint("1", "help"));
    }
    if let Some(r) = rule {
        let mut note = format!("{}; `vpai check --explain {}`", r.name, r.id);
        if f.fix.is_some() {
            note.push_str("; `--fix` applies it");
        }
        let _ = writeln!(out, "{pad} = {}: {note}", style.paint("1", "note"));
    }
    out.push('\n');
}
