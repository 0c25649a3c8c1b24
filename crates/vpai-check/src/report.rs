//! Findings and the three ways to print them: rustc-like text, JSON, SARIF 2.1.0.

use crate::rules::{self, Severity};
use crate::source::SourceFile;
use crate::text::{LineIndex, utf8_same_offsets};
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
            render_finding(&mut out, f, files, &style);
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
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
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
                    "help": { "text": format!("{} (from {})", r.fix, r.seed) },
                    "defaultConfiguration": { "level": sarif_level(r.severity) },
                })
            })
            .collect();
        let results: Vec<_> = self
            .findings
            .iter()
            .map(|f| {
                let index = rules::ALL.iter().position(|r| r.id == f.rule).unwrap_or(0);
                let mut message = f.message.clone();
                if let Some(help) = &f.help {
                    message.push_str(". Help: ");
                    message.push_str(help);
                }
                serde_json::json!({
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
                })
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
        serde_json::to_string_pretty(&value).unwrap_or_default()
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

fn render_finding(out: &mut String, f: &Finding, files: &[SourceFile], style: &Style) {
    let (word, code) = match f.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let _ = writeln!(
        out,
        "{}{}",
        style.paint(code, &format!("{word}[{}]", f.rule)),
        style.paint("1", &format!(": {}", f.message))
    );
    let gutter = f.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {}:{}:{}",
        style.paint("1;34", "-->"),
        f.path,
        f.line,
        f.column
    );
    if let Some(file) = files.iter().find(|s| s.path == f.path) {
        let text = utf8_same_offsets(&file.text);
        let index = LineIndex::new(text.as_bytes());
        let line_no = f.line - 1;
        if line_no < index.line_count() {
            let line = index.line_text(&text, line_no);
            let shown = line.replace('\t', "    ");
            let bar = style.paint("1;34", "|");
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(
                out,
                "{} {bar} {shown}",
                style.paint("1;34", &format!("{:>gutter$}", f.line))
            );
            let prefix: String = line
                .chars()
                .take(f.column - 1)
                .map(|c| if c == '\t' { "    " } else { " " })
                .collect();
            let width = if f.end_line == f.line && f.end_column > f.column {
                f.end_column - f.column
            } else if f.end_line > f.line {
                line.chars().count().saturating_sub(f.column - 1).max(1)
            } else {
                1
            };
            let _ = writeln!(
                out,
                "{pad} {bar} {prefix}{}",
                style.paint(code, &"^".repeat(width))
            );
        }
    }
    let rule = rules::find(f.rule);
    if let Some(help) = f.help.as_deref().or(rule.map(|r| r.fix)) {
        let _ = writeln!(out, "{pad} = {}: {help}", style.paint("1", "help"));
    }
    if let Some(r) = rule {
        let mut note = format!("{} ({}); `vpai check --explain {}`", r.name, r.seed, r.id);
        if f.fix.is_some() {
            note.push_str("; `--fix` applies it");
        }
        let _ = writeln!(out, "{pad} = {}: {note}", style.paint("1", "note"));
    }
    out.push('\n');
}
