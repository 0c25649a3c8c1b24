//! Masking secret values in anything vpai prints: progress, errors, container logs,
//! `--json`, diffs. Built once from the store, then applied to every line of output.
//!
//! One Aho-Corasick automaton over all values finds every occurrence in a single pass,
//! so the cost does not grow with the number of secrets and a large log tail is
//! redacted at memory speed. Besides each raw value it also looks for the forms a
//! value takes on its way into files and URLs (percent-encoded, JSON-escaped).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::borrow::Cow;

/// What a secret is replaced with.
pub const MASK: &str = "********";

/// Values shorter than this are not masked: replacing every `admin` or `5432` in the
/// output would hide more than it protects. Generated secrets are far longer;
/// `vpai secrets set` warns when an external value is this short.
pub const MIN_REDACTED_LEN: usize = 8;

#[derive(Clone, Default)]
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    patterns: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} patterns)", self.patterns)
    }
}

impl Redactor {
    /// A redactor for `values` (those of at least [`MIN_REDACTED_LEN`] bytes).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        for value in values {
            if value.len() < MIN_REDACTED_LEN {
                continue;
            }
            patterns.push(value.to_string());
            let encoded = percent_encode(value);
            if encoded != value {
                patterns.push(encoded);
            }
            let escaped = json_escape(value);
            if escaped != value {
                patterns.push(escaped);
            }
        }
        patterns.sort();
        patterns.dedup();
        if patterns.is_empty() {
            return Redactor::default();
        }
        let automaton = AhoCorasickBuilder::new()
            // The longest match wins, so a value that contains another is masked whole.
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .expect("a few thousand literal patterns always build");
        Redactor {
            automaton: Some(automaton),
            patterns: patterns.len(),
        }
    }

    /// A redactor for every value of `store`, including rotations in flight.
    pub fn from_store(store: &crate::SecretStore) -> Self {
        Redactor::new(store.values())
    }

    /// `text` with each secret replaced by [`MASK`]; borrowed when there is none.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(ac) = &self.automaton else {
            return Cow::Borrowed(text);
        };
        let mut matches = ac.find_iter(text).peekable();
        if matches.peek().is_none() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in matches {
            out.push_str(&text[last..m.start()]);
            out.push_str(MASK);
            last = m.end();
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// [`redact`](Self::redact) for bytes that may not be UTF-8 (raw container logs).
    pub fn redact_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        let Some(ac) = &self.automaton else {
            return Cow::Borrowed(bytes);
        };
        if !ac.is_match(bytes) {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        ac.replace_all_with_bytes(bytes, &mut out, |_, _, dst| {
            dst.extend_from_slice(MASK.as_bytes());
            true
        });
        Cow::Owned(out)
    }

    /// Whether `text` contains a secret.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.automaton.as_ref().is_some_and(|ac| ac.is_match(text))
    }

    /// No secret to mask.
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn json_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_and_borrows_when_clean() {
        let r = Redactor::new(["s3cr3t-value-1", "another-secret"]);
        assert_eq!(
            r.redact("a s3cr3t-value-1 b another-secret c s3cr3t-value-1"),
            "a ******** b ******** c ********"
        );
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_are_not_masked() {
        let r = Redactor::new(["admin", "postgres"]);
        assert_eq!(r.redact("admin postgres"), "admin ********");
    }

    #[test]
    fn longest_value_wins_when_one_contains_another() {
        let r = Redactor::new(["abcdefgh", "abcdefgh-ijkl"]);
        assert_eq!(r.redact("x abcdefgh-ijkl y"), "x ******** y");
    }

    #[test]
    fn encoded_forms_are_masked() {
        let r = Redactor::new(["p@ss/word\"x"]);
        assert_eq!(
            r.redact("url=postgres://u:p%40ss%2Fword%22x@h"),
            "url=postgres://u:********@h"
        );
        assert_eq!(r.redact(r#"{"v":"p@ss/word\"x"}"#), r#"{"v":"********"}"#);
    }

    #[test]
    fn bytes_that_are_not_utf8() {
        let r = Redactor::new(["0123456789abcdef"]);
        let input = b"\xff\xfe 0123456789abcdef \xff";
        assert_eq!(&*r.redact_bytes(input), b"\xff\xfe ******** \xff");
    }

    #[test]
    fn large_log_with_many_secrets() {
        let secrets: Vec<String> = (0..200)
            .map(|i| format!("secret-{i:04}-{}", "x".repeat(24)))
            .collect();
        let r = Redactor::new(secrets.iter().map(String::as_str));
        let mut log = String::new();
        for i in 0..100_000 {
            log.push_str("2026-01-01T00:00:00Z level=info msg=\"request served\" id=");
            log.push_str(&i.to_string());
            if i % 1000 == 0 {
                log.push_str(&secrets[i % 200]);
            }
            log.push('\n');
        }
        let out = r.redact(&log);
        assert_eq!(out.matches(MASK).count(), 100);
        assert!(secrets.iter().all(|s| !out.contains(s.as_str())));
    }
}
