//! Byte offsets to line/column, a UTF-8 view of any bytes that keeps offsets, and
//! text from files and logs made safe to print on a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Line starts of a text, to turn byte offsets into 1-based line and column.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &[u8]) -> Self {
        let mut starts = vec![0];
        for (i, b) in text.iter().enumerate() {
            if *b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// 0-based line number holding `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.starts[line.min(self.starts.len() - 1)]
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// 1-based line and 1-based column (in characters) of `offset` in `text`.
    pub fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.line_of(offset);
        let start = self.line_start(line);
        let col = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The text of 0-based `line`, without its line end.
    pub fn line_text<'a>(&self, text: &'a str, line: usize) -> &'a str {
        let start = self.line_start(line);
        let end = self
            .starts
            .get(line + 1)
            .copied()
            .unwrap_or(text.len())
            .min(text.len());
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// The bytes as UTF-8, each invalid byte replaced by `?` so that every byte offset
/// in the result is the same offset in the original file.
pub fn utf8_same_offsets(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len());
            let mut rest = bytes;
            loop {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.push_str(s);
                        break;
                    }
                    Err(e) => {
                        let (valid, after) = rest.split_at(e.valid_up_to());
                        out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                        let bad = e.error_len().unwrap_or(after.len()).max(1);
                        for _ in 0..bad.min(after.len()) {
                            out.push('?');
                        }
                        rest = &after[bad.min(after.len())..];
                    }
                }
            }
            out
        }
    }
}

/// Whether `c` must not reach a terminal as is: C0 controls but tab (ESC starts
/// escape sequences, BEL ends title changes, CR and BS overwrite what was printed),
/// DEL, C1 controls (U+009B is a one-character CSI), the bidirectional marks,
/// embeddings, overrides and isolates that reorder what is shown, and the Unicode
/// line and paragraph separators.
pub fn is_terminal_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}'
            | '\u{a}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Untrusted text (a file's line, a log line, a file name, a message quoting either)
/// as it may be printed on a terminal: every character of `is_terminal_unsafe`
/// becomes a visible escape (`\x1b`, `\n`, `\u{202e}`); tabs and everything else
/// are kept.
pub fn sanitize_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_terminal_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_terminal_unsafe(c) {
            out.push(c);
            continue;
        }
        let _ = match c {
            '\n' => write!(out, "\\n"),
            '\r' => write!(out, "\\r"),
            c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
            c => write!(out, "\\u{{{:x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

/// JSON text whose strings hold no character of `is_terminal_unsafe` as is:
/// serde_json escapes C0 controls but prints DEL, C1 controls and bidirectional
/// controls raw; they become `\uXXXX` escapes, which decode to the same value.
/// (Raw C0 characters in serde_json's output are its own layout: kept.)
pub fn escape_json_for_terminal(json: String) -> String {
    let unsafe_in_json = |c: char| c >= '\u{7f}' && is_terminal_unsafe(c);
    if !json.chars().any(unsafe_in_json) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_in_json(c) {
            // All of them are in the Basic Multilingual Plane: one \uXXXX each.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Windows-1252 decoding of one byte (for the re-encoding fix).
pub fn cp1252_char(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let text = "a: é\nb: x\n";
        let idx = LineIndex::new(text.as_bytes());
        assert_eq!(idx.position(text, 0), (1, 1));
        assert_eq!(idx.position(text, 6), (2, 1));
        assert_eq!(idx.position(text, 3), (1, 4));
        assert_eq!(idx.line_text(text, 1), "b: x");
    }

    #[test]
    fn invalid_bytes_keep_offsets() {
        let s = utf8_same_offsets(b"a\x97b\xc3");
        assert_eq!(s, "a?b?");
        assert_eq!(cp1252_char(0x97), '—');
    }

    #[test]
    fn terminal_escapes_become_visible() {
        let shown =
            sanitize_for_terminal("a\x1b]0;pwned\x07b\x1b[2J\tc\r\n\u{9b}\u{202e}d\u{2066}é");
        assert_eq!(
            shown,
            "a\\x1b]0;pwned\\x07b\\x1b[2J\tc\\r\\n\\u{9b}\\u{202e}d\\u{2066}é"
        );
        assert!(matches!(
            sanitize_for_terminal("plain\ttext é"),
            Cow::Borrowed(_)
        ));
        assert_eq!(sanitize_for_terminal("\x7f\0"), "\\x7f\\x00");
    }

    #[test]
    fn json_keeps_its_value_without_raw_controls() {
        let value = serde_json::json!({ "s": "x\u{202e}y\u{9b}z\x1b" });
        let json = escape_json_for_terminal(serde_json::to_string_pretty(&value).unwrap());
        assert!(
            !json.chars().any(|c| c != '\n' && is_terminal_unsafe(c)),
            "{json}"
        );
        assert!(!json.contains('\x1b'));
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, value);
    }
}
