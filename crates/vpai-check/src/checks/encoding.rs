//! Text rules for every file: CRLF, non-UTF-8 bytes, YAML syntax, invalid
//! escapes in double-quoted YAML strings (seed 000 #9 #19, seed 001 §1.1).

use super::{Parsed, edit};
use crate::report::{Edit, Finding};
use crate::rules;
use crate::source::FileKind;
use crate::text::cp1252_char;

pub fn check(f: &Parsed, out: &mut Vec<Finding>) {
    crlf(f, out);
    non_utf8(f, out);
    let yamlish = is_yamlish(f);
    let mut escape_lines = Vec::new();
    if yamlish {
        escape_lines = invalid_escapes(f, out);
    }
    if let Some(e) = &f.parse_error {
        // An invalid escape is already reported with its own rule and fix.
        let line = f.line_of(e.offset);
        if !escape_lines.contains(&line) {
            let end = f.text[e.offset.min(f.text.len())..]
                .find('\n')
                .map(|i| e.offset + i)
                .unwrap_or(f.text.len())
                .min(e.offset + 1);
            out.push(f.finding(
                rules::YAML_SYNTAX,
                e.offset,
                end,
                format!("cannot parse: {}", e.message),
            ));
        }
    }
}

fn is_yamlish(f: &Parsed) -> bool {
    let name = f.file.file_name().to_ascii_lowercase();
    let base = name.trim_end_matches(".j2");
    !matches!(f.kind, FileKind::OpenclawConfig)
        && (base.ends_with(".yml") || base.ends_with(".yaml"))
}

fn crlf(f: &Parsed, out: &mut Vec<Finding>) {
    let bytes = &f.file.text;
    let positions: Vec<usize> = bytes
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == b"\r\n")
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = positions.first() else {
        return;
    };
    let edits: Vec<Edit> = positions.iter().map(|&i| edit(i, i + 1, "")).collect();
    let n = positions.len();
    out.push(
        f.finding(
            rules::CRLF,
            first,
            first + 1,
            format!(
                "{n} line{} end{} with CRLF (`\\r\\n`)",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" }
            ),
        )
        .with_fix("converted CRLF line ends to LF", edits),
    );
}

fn non_utf8(f: &Parsed, out: &mut Vec<Finding>) {
    let bytes = &f.file.text;
    if std::str::from_utf8(bytes).is_ok() {
        return;
    }
    // Re-encode every invalid byte as its Windows-1252 character.
    let mut edits = Vec::new();
    let mut first = None;
    let mut rest = &bytes[..];
    let mut base = 0;
    while let Err(e) = std::str::from_utf8(rest) {
        let at = base + e.valid_up_to();
        let len = e.error_len().unwrap_or(rest.len() - e.valid_up_to()).max(1);
        for (i, b) in bytes.iter().enumerate().skip(at).take(len) {
            edits.push(edit(i, i + 1, cp1252_char(*b).to_string()));
        }
        first.get_or_insert(at);
        base = at + len;
        rest = &bytes[base..];
    }
    let at = first.unwrap_or(0);
    out.push(
        f.finding(
            rules::NON_UTF8,
            at,
            at + 1,
            format!(
                "byte 0x{:02X} is not UTF-8 (Windows-1252 `{}`?)",
                bytes[at],
                cp1252_char(bytes[at])
            ),
        )
        .with_fix("re-encoded Windows-1252 bytes as UTF-8", edits),
    );
}

/// YAML double-quoted escapes that exist.
const VALID_ESCAPES: &[char] = &[
    '0', 'a', 'b', 't', '\t', 'n', 'v', 'f', 'r', 'e', ' ', '"', '/', '\\', 'N', '_', 'L', 'P',
    'x', 'u', 'U', '\n',
];

/// Byte offsets of the backslashes that start an invalid escape in double-quoted
/// YAML strings (used to re-parse a file that only fails because of them).
pub fn invalid_escape_offsets(text: &str, lines: &crate::text::LineIndex) -> Vec<usize> {
    let mut found = Vec::new();
    scan_escapes(text, lines, &mut |_, _, _, _, bad| {
        found.extend_from_slice(bad)
    });
    found
}

/// Find double-quoted scalars with an invalid escape; returns their 0-based lines.
fn invalid_escapes(f: &Parsed, out: &mut Vec<Finding>) -> Vec<usize> {
    let mut lines = Vec::new();
    scan_escapes(&f.text, &f.lines, &mut |line_no, start, end, inner, bad| {
        let first_bad = f.text[bad[0] + 1..].chars().next().unwrap_or(' ');
        let mut finding = f.finding(
            rules::YAML_ESCAPE,
            bad[0],
            bad[0] + 1 + first_bad.len_utf8(),
            format!("`\\{first_bad}` is not a YAML escape in a double-quoted string"),
        );
        if let Some(inner) = inner
            && !inner.contains("\\\\")
            && !inner.contains("\\\"")
        {
            let single = format!("'{}'", inner.replace('\'', "''"));
            finding = finding
                .with_help(format!("write it single-quoted: {single}"))
                .with_fix(
                    "double-quoted string with backslashes rewritten single-quoted",
                    vec![edit(start, end, single)],
                );
        }
        out.push(finding);
        lines.push(line_no);
    });
    lines
}

/// Receives (line, scalar start, scalar end, inner text, bad backslash offsets).
type EscapeSink<'s> = dyn FnMut(usize, usize, usize, Option<&str>, &[usize]) + 's;

/// Call `found(line, scalar start, scalar end, Some(inner text) if closed on the
/// line, absolute offsets of bad backslashes)` for each double-quoted scalar with
/// an invalid escape.
fn scan_escapes(text: &str, index: &crate::text::LineIndex, found: &mut EscapeSink) {
    // Indentation of the key that opened a block scalar (`key: |`): deeper lines are
    // literal text where backslashes mean nothing.
    let mut block_indent: Option<usize> = None;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        let line_start = index.line_start(line_no);
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(b) = block_indent {
            if trimmed.trim().is_empty() || indent > b {
                continue;
            }
            block_indent = None;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        if opens_block_scalar(trimmed) {
            block_indent = Some(indent);
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'#' && (i == 0 || bytes[i - 1] == b' ') {
                break;
            }
            if c == b'\'' && starts_scalar(bytes, i) {
                // skip a single-quoted scalar (`''` is an escaped quote)
                let mut j = i + 1;
                while j < bytes.len() {
                    if bytes[j] == b'\'' {
                        if bytes.get(j + 1) == Some(&b'\'') {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            if c == b'"' && starts_scalar(bytes, i) {
                // find the end of the double-quoted scalar on this line
                let mut j = i + 1;
                let mut bad = Vec::new();
                let mut closed = false;
                while j < bytes.len() {
                    match bytes[j] {
                        b'\\' => {
                            let next = line[j + 1..].chars().next().unwrap_or('\n');
                            if !VALID_ESCAPES.contains(&next) {
                                bad.push(j);
                            }
                            j += 1 + next.len_utf8();
                        }
                        b'"' => {
                            closed = true;
                            break;
                        }
                        _ => j += 1,
                    }
                }
                if !bad.is_empty() {
                    let start = line_start + i;
                    let end = line_start + if closed { j + 1 } else { j };
                    let inner = closed.then(|| &line[i + 1..j]);
                    let abs: Vec<usize> = bad.iter().map(|b| line_start + b).collect();
                    found(line_no, start, end, inner, &abs);
                }
                i = if closed { j + 1 } else { bytes.len() };
                continue;
            }
            i += 1;
        }
    }
}

/// A quote at `i` opens a scalar (after `: `, `- `, `[`, `{`, `,` or at line start).
fn starts_scalar(bytes: &[u8], i: usize) -> bool {
    let before = bytes[..i]
        .iter()
        .rev()
        .find(|b| **b != b' ' && **b != b'\t');
    matches!(
        before,
        None | Some(b':') | Some(b'-') | Some(b'[') | Some(b'{') | Some(b',')
    )
}

/// `key: |`, `- >-`, `key: |2+` ...
fn opens_block_scalar(line: &str) -> bool {
    let body = line.split(" #").next().unwrap_or(line).trim_end();
    let Some(last) = body.rsplit([' ', '\t']).next() else {
        return false;
    };
    let indicator = last.starts_with('|') || last.starts_with('>');
    indicator
        && last[1..]
            .chars()
            .all(|c| c == '-' || c == '+' || c.is_ascii_digit())
        && (body.len() == last.len()
            || body[..body.len() - last.len()]
                .trim_end()
                .ends_with([':', '-']))
}
