//! Shell script rules: `dig` (seed 000 #27), and secrets written into a script or
//! put on a command line (VP902).
//!
//! VP902 reads the script as a shell does, roughly: words with their quotes and
//! escapes removed (each byte remembering where it came from in the file and
//! whether a shell expansion produced it), commands between operators, heredoc
//! bodies, `$(...)` bodies, and the strings given to `sh -c` read again as scripts.
//!
//! Why a lexer of our own: `shell-words` splits one command line only (no
//! operators, heredocs or nested `$(...)`), `conch-parser` has had no release since
//! 2019, and `yash-syntax` is a full POSIX parser built for an interpreter, with an
//! asynchronous API and a hard error on the first syntax it rejects, where a lint
//! must go on past what it does not understand. This one reads no more than the
//! rule needs (words, assignments, heredocs, with the byte span of each piece of a
//! word for the findings and the masks) and skips what it does not know.

use super::secrets::{secret_defaults, secret_key, url_passwords};
use super::{Ctx, Parsed, ValueKind, parse_env, secret_value_kind};
use crate::report::Finding;
use crate::rules::{self, Severity};
use crate::source::FileKind;

pub fn check(f: &Parsed, out: &mut Vec<Finding>) {
    dig(f, out);
    // A reference put on a command line is the same defect on every line that does
    // it (a provisioning script runs `docker exec -e PGPASSWORD="$PGPASSWORD"` forty
    // times): reported once, at the first, with the count. Each literal secret is
    // its own finding.
    let all = hits(&f.text);
    let mut repeats: std::collections::HashMap<&str, usize> = Default::default();
    for hit in all.iter().filter(|h| !h.literal) {
        *repeats.entry(hit.message.as_str()).or_default() += 1;
    }
    let mut reported: std::collections::HashSet<String> = Default::default();
    for hit in all.iter().cloned() {
        let mut message = hit.message;
        if !hit.literal {
            if !reported.insert(message.clone()) {
                continue;
            }
            match repeats.get(message.as_str()).copied().unwrap_or(1) {
                1 => {}
                n => message.push_str(&format!(" (here and on {} more lines)", n - 1)),
            }
        }
        let mut finding = f
            .finding(rules::SCRIPT_SECRET, hit.start, hit.end, message)
            .with_help(hit.help);
        if hit.severity == Severity::Warning {
            finding = finding.with_severity(Severity::Warning);
        }
        out.push(finding);
    }
}

fn dig(f: &Parsed, out: &mut Vec<Finding>) {
    let mut offset = 0;
    for line in f.text.split_inclusive('\n') {
        let code = line.split(" #").next().unwrap_or(line);
        if !code.trim_start().starts_with('#') {
            let bytes = code.as_bytes();
            let mut from = 0;
            while let Some(i) = code[from..].find("dig") {
                let at = from + i;
                let before_ok = at == 0
                    || matches!(
                        bytes[at - 1],
                        b' ' | b'\t' | b'(' | b'|' | b';' | b'`' | b'&' | b'='
                    );
                let after_ok = matches!(
                    bytes.get(at + 3),
                    Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') | None
                );
                if before_ok && after_ok {
                    out.push(f.finding(
                        rules::DIG_IN_SCRIPT,
                        offset + at,
                        offset + at + 3,
                        "`dig` is not installed on minimal Debian 13 hosts and images",
                    ));
                }
                from = at + 3;
            }
        }
        offset += line.len();
    }
}

/// Byte ranges of the secret values that shell scripts write in clear (file index,
/// start, end), for the masks of the report: VP902 flags them, and no output may
/// print them, whether the finding is kept, allowed or suppressed.
pub fn secret_spans(ctx: &Ctx) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for f in ctx.of_kind(FileKind::Shell) {
        for hit in raw_hits(&f.text) {
            if hit.literal {
                out.push((f.index, hit.start, hit.end));
            }
        }
    }
    out
}

/// One VP902 finding, at file offsets.
#[derive(Debug, Clone)]
struct Hit {
    start: usize,
    end: usize,
    severity: Severity,
    message: String,
    help: &'static str,
    /// The value is written in the script (a secret or a placeholder), not a reference.
    literal: bool,
}

/// Every VP902 finding of a script, one per value, in file order.
fn hits(text: &str) -> Vec<Hit> {
    let mut out = raw_hits(text);
    // One finding per value: the most severe, a literal before a reference (a value
    // read both in a string and again by the shell it is given to), then the first.
    out.sort_by_key(|h| (h.start, std::cmp::Reverse(h.severity), !h.literal));
    out.dedup_by_key(|h| h.start);
    out
}

/// Every VP902 finding, values found twice included (the masks take them all).
fn raw_hits(text: &str) -> Vec<Hit> {
    let frame = Frame {
        src: text,
        at: None,
        host: None,
        via: None,
    };
    let mut out = Vec::new();
    analyse(&frame, 0, text.len(), 0, &mut out);
    out
}

// ---------------------------------------------------------------------------------
// Words

/// The byte came from a shell expansion (`$NAME`, `${...}`, `$(...)`, backquotes).
const EXPAND: u8 = 1;
/// The byte was quoted (single, double or `$'...'` quotes, or escaped).
const QUOTED: u8 = 2;

/// One shell word, its quotes and escapes removed.
#[derive(Debug, Clone, Default)]
struct Word {
    text: String,
    /// For each byte of `text`, its offset in the source it was read from.
    at: Vec<usize>,
    /// For each byte of `text`, `EXPAND` and `QUOTED` bits.
    flags: Vec<u8>,
}

impl Word {
    fn expanded(&self, s: usize, e: usize) -> bool {
        self.flags
            .get(s..e)
            .is_some_and(|f| f.iter().any(|b| b & EXPAND != 0))
    }

    /// `*` or `?` outside quotes: a pattern (`case` arms, globs), not a value.
    fn pattern(&self, s: usize, e: usize) -> bool {
        let (Some(text), Some(flags)) = (self.text.as_bytes().get(s..e), self.flags.get(s..e))
        else {
            return false;
        };
        text.iter()
            .zip(flags)
            .any(|(c, f)| matches!(c, b'*' | b'?') && f & (QUOTED | EXPAND) == 0)
    }
}

/// A heredoc body, in source offsets.
#[derive(Debug, Clone, Copy)]
struct Heredoc {
    start: usize,
    end: usize,
}

#[derive(Debug, Default)]
struct Lexed {
    commands: Vec<Vec<Word>>,
    heredocs: Vec<Heredoc>,
    /// Bodies of `$(...)`, backquotes and `<(...)`, to read as scripts.
    substs: Vec<(usize, usize)>,
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    end: usize,
    out: Lexed,
    cmd: Vec<Word>,
    /// The next word is a redirection's target, not an argument.
    target: bool,
    /// The next word is a heredoc delimiter (`<<-`: leading tabs stripped).
    delimiter: Option<bool>,
    /// Heredocs whose bodies start at the next line: delimiter, tabs stripped.
    pending: Vec<(String, bool)>,
}

fn lex(src: &str, from: usize, to: usize) -> Lexed {
    let mut lexer = Lexer {
        s: src.as_bytes(),
        i: from,
        end: to.min(src.len()),
        out: Lexed::default(),
        cmd: Vec::new(),
        target: false,
        delimiter: None,
        pending: Vec::new(),
    };
    lexer.run();
    lexer.out
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        let j = self.i + k;
        (j < self.end).then(|| self.s[j])
    }

    fn run(&mut self) {
        while self.i < self.end {
            match self.s[self.i] {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\\' if self.peek(1) == Some(b'\n') => self.i += 2,
                b'\n' => {
                    self.i += 1;
                    self.finish();
                    self.bodies();
                }
                b'#' => {
                    while self.i < self.end && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'&' if self.peek(1) == Some(b'>') => {
                    self.i += 2;
                    if self.peek(0) == Some(b'>') {
                        self.i += 1;
                    }
                    self.target = true;
                }
                c @ (b';' | b'&' | b'|' | b'(' | b')') => {
                    self.i += 1;
                    if matches!(c, b';' | b'&' | b'|')
                        && matches!(self.peek(0), Some(b';' | b'&' | b'|'))
                    {
                        self.i += 1;
                    }
                    self.finish();
                }
                b'<' | b'>' => self.redirect(),
                _ => {
                    let w = self.word();
                    let fd = !w.text.is_empty()
                        && w.text.bytes().all(|b| b.is_ascii_digit())
                        && matches!(self.peek(0), Some(b'<' | b'>'));
                    if fd {
                        continue;
                    }
                    if std::mem::take(&mut self.target) {
                        if let Some(strip) = self.delimiter.take() {
                            self.pending.push((w.text, strip));
                        }
                        continue;
                    }
                    self.cmd.push(w);
                }
            }
        }
        self.finish();
    }

    fn finish(&mut self) {
        if !self.cmd.is_empty() {
            self.out.commands.push(std::mem::take(&mut self.cmd));
        }
        self.target = false;
        self.delimiter = None;
    }

    /// After a newline: the bodies of the heredocs opened on the line just ended.
    fn bodies(&mut self) {
        for (delim, strip) in std::mem::take(&mut self.pending) {
            let start = self.i;
            loop {
                if self.i >= self.end {
                    self.out.heredocs.push(Heredoc {
                        start,
                        end: self.end,
                    });
                    break;
                }
                let line_end = self.s[self.i..self.end]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.end, |k| self.i + k);
                let line = &self.s[self.i..line_end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let mut cmp = line;
                if strip {
                    while let [b'\t', rest @ ..] = cmp {
                        cmp = rest;
                    }
                }
                if cmp == delim.as_bytes() {
                    self.out.heredocs.push(Heredoc { start, end: self.i });
                    self.i = (line_end + 1).min(self.end);
                    break;
                }
                self.i = (line_end + 1).min(self.end);
            }
        }
    }

    fn redirect(&mut self) {
        let c = self.s[self.i];
        if self.peek(1) == Some(b'(') {
            // `<(cmd)` / `>(cmd)`: an argument naming a pipe
            let close = self.close(self.i + 1, b'(', b')');
            self.out.substs.push((self.i + 2, close.min(self.end)));
            let mut w = Word::default();
            for j in self.i..(close + 1).min(self.end) {
                w.text.push('_');
                w.at.push(j);
                w.flags.push(EXPAND);
            }
            self.cmd.push(w);
            self.i = (close + 1).min(self.end);
            return;
        }
        self.i += 1;
        if c == b'<' && self.peek(0) == Some(b'<') {
            self.i += 1;
            match self.peek(0) {
                Some(b'<') => {
                    // here-string: its word goes to stdin, keep it as an argument
                    self.i += 1;
                    return;
                }
                Some(b'-') => {
                    self.i += 1;
                    self.delimiter = Some(true);
                }
                _ => self.delimiter = Some(false),
            }
        } else if matches!(self.peek(0), Some(b'>' | b'&' | b'|')) {
            self.i += 1;
        }
        self.target = true;
    }

    /// Offset of the bracket closing the one at `open` (or the end).
    fn close(&self, open: usize, left: u8, right: u8) -> usize {
        let mut depth = 0usize;
        let mut j = open;
        while j < self.end {
            match self.s[j] {
                b'\\' => j += 1,
                b'\'' => {
                    j += 1;
                    while j < self.end && self.s[j] != b'\'' {
                        j += 1;
                    }
                }
                b'"' => {
                    j += 1;
                    while j < self.end && self.s[j] != b'"' {
                        if self.s[j] == b'\\' {
                            j += 1;
                        }
                        j += 1;
                    }
                }
                b if b == left => depth += 1,
                b if b == right => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return j;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        self.end
    }

    fn push(w: &mut Word, at: usize, byte: u8, flags: u8) {
        w.text.push(byte as char);
        w.at.push(at);
        w.flags.push(flags);
    }

    /// Copy bytes `from..to` into the word (multi-byte characters stay whole).
    fn copy(&self, w: &mut Word, from: usize, to: usize, flags: u8) {
        let to = to.min(self.end);
        if from >= to {
            return;
        }
        let chunk = String::from_utf8_lossy(&self.s[from..to]);
        if chunk.len() == to - from {
            w.text.push_str(&chunk);
            w.at.extend(from..to);
            w.flags.extend(std::iter::repeat_n(flags, to - from));
        } else {
            for j in from..to {
                Self::push(w, j, b'?', flags);
            }
        }
    }

    /// The length of the UTF-8 character starting at `i`.
    fn char_len(&self, i: usize) -> usize {
        match self.s[i] {
            b if b < 0x80 => 1,
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            _ => 2,
        }
    }

    /// Copy one (possibly multi-byte) character.
    fn copy_char(&mut self, w: &mut Word, flags: u8) {
        let n = self.char_len(self.i).min(self.end - self.i);
        self.copy(w, self.i, self.i + n, flags);
        self.i += n.max(1);
    }

    fn word(&mut self) -> Word {
        let mut w = Word::default();
        while self.i < self.end {
            match self.s[self.i] {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => {
                    break;
                }
                b'\'' => {
                    self.i += 1;
                    let start = self.i;
                    while self.i < self.end && self.s[self.i] != b'\'' {
                        self.i += 1;
                    }
                    self.copy(&mut w, start, self.i, QUOTED);
                    self.i += 1;
                }
                b'"' => {
                    self.i += 1;
                    self.double(&mut w);
                }
                b'\\' => {
                    if self.peek(1) == Some(b'\n') {
                        self.i += 2;
                    } else if self.i + 1 < self.end {
                        self.i += 1;
                        self.copy_char(&mut w, QUOTED);
                    } else {
                        self.i += 1;
                    }
                }
                b'$' => self.dollar(&mut w, 0),
                b'`' => self.backquote(&mut w, 0),
                _ => self.copy_char(&mut w, 0),
            }
        }
        w
    }

    fn double(&mut self, w: &mut Word) {
        while self.i < self.end {
            match self.s[self.i] {
                b'"' => {
                    self.i += 1;
                    return;
                }
                b'\\' => match self.peek(1) {
                    Some(b'$' | b'`' | b'"' | b'\\') => {
                        self.i += 1;
                        self.copy_char(w, QUOTED);
                    }
                    Some(b'\n') => self.i += 2,
                    _ => self.copy_char(w, QUOTED),
                },
                b'$' => self.dollar(w, QUOTED),
                b'`' => self.backquote(w, QUOTED),
                _ => self.copy_char(w, QUOTED),
            }
        }
    }

    fn dollar(&mut self, w: &mut Word, quoted: u8) {
        let start = self.i;
        match self.peek(1) {
            Some(b'(') => {
                let close = self.close(self.i + 1, b'(', b')');
                if self.peek(2) != Some(b'(') {
                    self.out.substs.push((self.i + 2, close.min(self.end)));
                }
                self.i = (close + 1).min(self.end);
            }
            Some(b'{') => {
                let close = self.close(self.i + 1, b'{', b'}');
                self.i = (close + 1).min(self.end);
            }
            Some(b'\'') if quoted == 0 => {
                // `$'...'`: quotes with C escapes, no expansion
                self.i += 2;
                while self.i < self.end && self.s[self.i] != b'\'' {
                    if self.s[self.i] == b'\\' && self.i + 1 < self.end {
                        self.i += 1;
                    }
                    self.copy_char(w, QUOTED);
                }
                self.i += 1;
                return;
            }
            Some(b'"') if quoted == 0 => {
                self.i += 1;
                return;
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                self.i += 1;
                while self
                    .peek(0)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.i += 1;
                }
            }
            Some(c) if c.is_ascii_digit() || b"@*#?$!-".contains(&c) => self.i += 2,
            _ => {
                self.copy_char(w, quoted);
                return;
            }
        }
        self.copy(w, start, self.i, EXPAND | quoted);
    }

    fn backquote(&mut self, w: &mut Word, quoted: u8) {
        let start = self.i;
        self.i += 1;
        while self.i < self.end && self.s[self.i] != b'`' {
            if self.s[self.i] == b'\\' {
                self.i += 1;
            }
            self.i += 1;
        }
        let close = self.i.min(self.end);
        self.out.substs.push((start + 1, close));
        self.i = (close + 1).min(self.end);
        self.copy(w, start, self.i, EXPAND | quoted);
    }
}

// ---------------------------------------------------------------------------------
// Frames: the file, or a string that a shell reads again (`sh -c "..."`)

struct Frame<'a> {
    src: &'a str,
    /// File offset of each byte of `src` (`None`: `src` is the file).
    at: Option<Vec<usize>>,
    /// Bytes of `src` that the outer shell expanded before handing the string over.
    host: Option<Vec<bool>>,
    /// The program whose command line holds `src` (`docker`, `bash`).
    via: Option<&'static str>,
}

impl Frame<'_> {
    fn file(&self, i: usize) -> usize {
        match &self.at {
            None => i,
            Some(at) => at
                .get(i)
                .copied()
                .unwrap_or_else(|| at.last().map_or(0, |l| l + 1)),
        }
    }

    fn host(&self, i: usize) -> bool {
        self.host
            .as_ref()
            .is_some_and(|h| h.get(i).copied().unwrap_or(false))
    }

    /// File span of source bytes `s..e`.
    fn span(&self, s: usize, e: usize) -> (usize, usize) {
        (self.file(s), self.file(e.saturating_sub(1).max(s)) + 1)
    }
}

const MAX_DEPTH: usize = 8;

fn analyse(frame: &Frame, from: usize, to: usize, depth: usize, out: &mut Vec<Hit>) {
    let lexed = lex(frame.src, from, to);
    for words in &lexed.commands {
        command(frame, words, depth, out);
    }
    for h in &lexed.heredocs {
        heredoc(frame, *h, out);
    }
    if depth < MAX_DEPTH {
        for &(s, e) in &lexed.substs {
            analyse(frame, s, e, depth + 1, out);
        }
    }
}

// ---------------------------------------------------------------------------------
// Commands

/// What a word of a command is, for VP902.
#[derive(Debug, Clone, PartialEq)]
enum Role {
    /// An argument (or the program).
    Plain,
    /// `NAME=value` before the program, or after `export`/`local`/`env`.
    Assign,
    /// `NAME=value` on docker's command line (`-e`, `--env`, or the container's command).
    Docker { from: usize },
    /// A password given as an option's value from byte `from` on.
    Password {
        from: usize,
        program: &'static str,
        flag: &'static str,
        /// MySQL clients blank the argument themselves.
        blanked: bool,
        /// The word is on docker's command line too (`docker exec C redis-cli -a X`).
        docker: bool,
    },
    /// `psql -v NAME=value`.
    PsqlVar { from: usize },
    /// SQL given to `psql -c`.
    Sql,
    /// A string a shell reads as a script (`sh -c STRING`).
    Script { via: &'static str },
}

fn command(frame: &Frame, words: &[Word], depth: usize, out: &mut Vec<Hit>) {
    let mut roles = vec![Role::Plain; words.len()];
    assign_roles(words, 0, &mut roles, false);
    for (w, role) in words.iter().zip(&roles) {
        match role {
            Role::Script { via } => {
                if depth < MAX_DEPTH {
                    script(frame, w, via, depth, out);
                }
                continue;
            }
            Role::Assign => {
                if let Some((name, eq)) = name_value(&w.text, 0) {
                    value(frame, w, eq, Slot::Assign(name), out);
                }
            }
            Role::Plain => {
                if let Some((name, eq)) = name_value(&w.text, 0)
                    && !w.text[eq..].contains(char::is_whitespace)
                {
                    value(frame, w, eq, Slot::Argument(name), out);
                } else if let Some((name, eq)) = long_option(&w.text) {
                    value(frame, w, eq, Slot::Option(name), out);
                }
            }
            Role::Docker { from } => {
                if let Some((name, eq)) = name_value(&w.text, *from) {
                    value(frame, w, eq, Slot::Docker(name), out);
                }
            }
            Role::Password {
                from,
                program,
                flag,
                blanked,
                docker,
            } => value(
                frame,
                w,
                *from,
                Slot::Password {
                    program,
                    flag,
                    blanked: *blanked,
                    docker: *docker,
                },
                out,
            ),
            Role::PsqlVar { from } => {
                if let Some((name, eq)) = name_value(&w.text, *from) {
                    value(frame, w, eq, Slot::PsqlVar(name), out);
                }
            }
            Role::Sql => {}
        }
        extras(frame, w, *role == Role::Sql, out);
    }
}

/// `NAME=` (or `NAME+=`) at byte `from` of `text` with a secret's name: the name and
/// the offset of the value.
fn name_value(text: &str, from: usize) -> Option<(String, usize)> {
    let rest = text.get(from..)?;
    let eq = rest.find('=')?;
    let name = rest[..eq].strip_suffix('+').unwrap_or(&rest[..eq]);
    let ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (ident && secret_name(name)).then(|| (name.to_string(), from + eq + 1))
}

/// `--db-password=value`, `--api-key=value`: an option named like a secret.
fn long_option(text: &str) -> Option<(String, usize)> {
    let rest = text.strip_prefix("--")?;
    let eq = rest.find('=')?;
    let name = &rest[..eq];
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let value = &rest[eq + 1..];
    (ok && !value.contains(char::is_whitespace) && secret_name(&name.replace('-', "_")))
        .then(|| (format!("--{name}"), eq + 3))
}

/// A variable or option name that holds a secret in a script.
fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper == "KEY" {
        // `for KEY in ...`, `KEY=$1`: a loop or map key far more often than a secret
        return false;
    }
    secret_key(name) || upper.ends_with("_PWD") || upper.ends_with("_PASS")
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn is_assignment(text: &str) -> bool {
    match text.find('=') {
        Some(eq) if eq > 0 => {
            let name = text[..eq].strip_suffix('+').unwrap_or(&text[..eq]);
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

/// The program of the command starting at word `from` (after assignments, reserved
/// words and wrappers such as `sudo`, `env`, `timeout`), and its assignments.
fn program_at(words: &[Word], from: usize) -> (Option<usize>, Vec<usize>) {
    let mut assigns = Vec::new();
    let mut k = from;
    let options = |k: &mut usize, with_value: &[&str]| {
        while let Some(w) = words.get(*k) {
            let t = w.text.as_str();
            if t == "--" {
                *k += 1;
                break;
            }
            if !t.starts_with('-') || t == "-" {
                break;
            }
            *k += if with_value.contains(&t) { 2 } else { 1 };
        }
    };
    while let Some(w) = words.get(k) {
        let t = w.text.as_str();
        if is_assignment(t) {
            assigns.push(k);
            k += 1;
            continue;
        }
        match basename(t) {
            "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{" | "time"
            | "exec" | "command" | "builtin" | "nohup" | "setsid" => k += 1,
            "export" | "local" | "declare" | "typeset" | "readonly" => {
                assigns.extend((k + 1..words.len()).filter(|&j| is_assignment(&words[j].text)));
                return (None, assigns);
            }
            "env" => {
                k += 1;
                options(&mut k, &["-u", "--unset", "-C", "--chdir", "-S"]);
            }
            "sudo" | "doas" => {
                k += 1;
                options(
                    &mut k,
                    &[
                        "-u", "-g", "-U", "-C", "-h", "-p", "-r", "-t", "-D", "-R", "-T",
                    ],
                );
            }
            "nice" | "ionice" | "stdbuf" | "chrt" | "taskset" => {
                k += 1;
                options(&mut k, &["-n", "-c", "-p"]);
            }
            "timeout" => {
                k += 1;
                options(&mut k, &["-s", "--signal", "-k", "--kill-after"]);
                k += 1; // the duration
            }
            "gosu" | "su-exec" | "chroot" => k += 2,
            "runuser" if words[k..].iter().any(|w| w.text == "--") => {
                k += words[k..].iter().position(|w| w.text == "--").unwrap_or(0) + 1;
            }
            _ => return (Some(k), assigns),
        }
    }
    (None, assigns)
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "su", "runuser"];
const MYSQL: &[&str] = &[
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mysqlimport",
    "mysqlcheck",
    "mysqlshow",
    "mysqlpump",
    "mariadb",
    "mariadb-dump",
    "mariadb-admin",
    "mariadb-import",
    "mariadb-check",
];

/// Give each word of the command starting at `from` its role.
fn assign_roles(words: &[Word], from: usize, roles: &mut [Role], in_docker: bool) {
    let (program, assigns) = program_at(words, from);
    for a in assigns {
        roles[a] = if in_docker {
            Role::Docker { from: 0 }
        } else {
            Role::Assign
        };
    }
    let Some(p) = program else {
        return;
    };
    let name = basename(&words[p].text);
    match name {
        "docker" | "podman" | "nerdctl" | "docker-compose" | "podman-compose" if !in_docker => {
            docker(words, p, roles);
        }
        "redis-cli" => {
            for j in p + 1..words.len() {
                match words[j].text.as_str() {
                    "-a" | "--pass" if j + 1 < words.len() => {
                        let flag = if words[j].text == "-a" {
                            "-a"
                        } else {
                            "--pass"
                        };
                        roles[j + 1] = password(0, "redis-cli", flag, in_docker);
                    }
                    t if t.starts_with("--pass=") => {
                        roles[j] = password(7, "redis-cli", "--pass", in_docker);
                    }
                    _ => {}
                }
            }
        }
        "redis-server" | "redis-sentinel" => {
            for j in p + 1..words.len().saturating_sub(1) {
                match words[j].text.as_str() {
                    "--requirepass" => {
                        roles[j + 1] = password(0, "redis-server", "--requirepass", in_docker);
                    }
                    "--masterauth" => {
                        roles[j + 1] = password(0, "redis-server", "--masterauth", in_docker);
                    }
                    _ => {}
                }
            }
        }
        n if MYSQL.contains(&n) => {
            let program = MYSQL.iter().copied().find(|m| *m == n).unwrap_or("mysql");
            for j in p + 1..words.len() {
                let t = words[j].text.as_str();
                let role = if t.starts_with("-p") && t.len() > 2 {
                    Some((2, "-p"))
                } else if t.starts_with("--password=") {
                    Some((11, "--password"))
                } else {
                    None
                };
                if let Some((from, flag)) = role {
                    roles[j] = Role::Password {
                        from,
                        program,
                        flag,
                        blanked: true,
                        docker: in_docker,
                    };
                }
            }
        }
        "psql" => {
            for j in p + 1..words.len() {
                let t = words[j].text.as_str();
                match t {
                    "-c" | "--command" if j + 1 < words.len() => roles[j + 1] = Role::Sql,
                    "-v" | "--set" | "--variable" if j + 1 < words.len() => {
                        roles[j + 1] = Role::PsqlVar { from: 0 };
                    }
                    _ if t.starts_with("--command=") || (t.starts_with("-c") && t.len() > 2) => {
                        roles[j] = Role::Sql;
                    }
                    _ if t.starts_with("--set=") => roles[j] = Role::PsqlVar { from: 6 },
                    _ if t.starts_with("--variable=") => roles[j] = Role::PsqlVar { from: 11 },
                    _ if t.starts_with("-v") && t.len() > 2 => roles[j] = Role::PsqlVar { from: 2 },
                    _ => {}
                }
            }
        }
        n if SHELLS.contains(&n) => {
            let shell = SHELLS.iter().copied().find(|s| *s == n).unwrap_or("sh");
            let mut j = p + 1;
            while let Some(w) = words.get(j) {
                let t = w.text.as_str();
                let short = t.starts_with('-') && !t.starts_with("--") && t.contains('c');
                if t == "--command" || (short && !matches!(shell, "su" | "runuser")) || t == "-c" {
                    if j + 1 < words.len() {
                        roles[j + 1] = Role::Script {
                            via: if in_docker { "docker" } else { shell },
                        };
                    }
                    break;
                }
                if !t.starts_with('-') && !matches!(shell, "su" | "runuser") {
                    break; // a script file and its arguments
                }
                j += 1;
            }
        }
        _ => {}
    }
}

fn password(from: usize, program: &'static str, flag: &'static str, docker: bool) -> Role {
    Role::Password {
        from,
        program,
        flag,
        blanked: false,
        docker,
    }
}

/// Options of docker and compose that take a value (the next word).
const DOCKER_GLOBAL_VALUE: &[&str] = &[
    "-H",
    "--host",
    "--context",
    "-c",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
    "-f",
    "--file",
    "-p",
    "--project-name",
    "--env-file",
    "--profile",
    "--project-directory",
    "--ansi",
    "--progress",
    "--parallel",
];
const DOCKER_RUN_VALUE: &[&str] = &[
    "--env-file",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "-v",
    "--volume",
    "--name",
    "--network",
    "--net",
    "-p",
    "--publish",
    "--entrypoint",
    "-l",
    "--label",
    "--label-file",
    "--mount",
    "-h",
    "--hostname",
    "--cpus",
    "-m",
    "--memory",
    "--restart",
    "--add-host",
    "--dns",
    "--device",
    "--cap-add",
    "--cap-drop",
    "--security-opt",
    "--ulimit",
    "--log-driver",
    "--log-opt",
    "--pid",
    "--ipc",
    "--platform",
    "--pull",
    "--shm-size",
    "--tmpfs",
    "--stop-signal",
    "--stop-timeout",
    "--group-add",
    "--gpus",
    "--runtime",
    "--detach-keys",
    "--index",
    "--cidfile",
    "--expose",
    "--link",
    "--volumes-from",
    "--userns",
    "--sysctl",
    "--ip",
    "--network-alias",
    "--health-cmd",
    "--pod",
    "-a",
    "--attach",
];

/// `docker [compose] exec|run|create OPTIONS TARGET COMMAND...` and `docker login`.
fn docker(words: &[Word], p: usize, roles: &mut [Role]) {
    let mut compose = basename(&words[p].text).ends_with("compose");
    let mut k = p + 1;
    while let Some(w) = words.get(k) {
        let t = w.text.as_str();
        if t.starts_with('-') {
            k += if DOCKER_GLOBAL_VALUE.contains(&t) {
                2
            } else {
                1
            };
        } else if t == "compose" && !compose {
            compose = true;
            k += 1;
        } else if t == "container" && !compose {
            k += 1;
        } else {
            break;
        }
    }
    let Some(sub) = words.get(k) else {
        return;
    };
    match sub.text.as_str() {
        "exec" | "run" | "create" => {}
        "login" => {
            for j in k + 1..words.len() {
                match words[j].text.as_str() {
                    "-p" | "--password" if j + 1 < words.len() => {
                        roles[j + 1] = password(0, "docker login", "--password", false);
                    }
                    t if t.starts_with("--password=") => {
                        roles[j] = password(11, "docker login", "--password", false);
                    }
                    _ => {}
                }
            }
            return;
        }
        _ => return,
    }
    k += 1;
    while let Some(w) = words.get(k) {
        let t = w.text.as_str();
        if t == "--" {
            k += 1;
            break;
        }
        if !t.starts_with('-') || t == "-" {
            break;
        }
        if t == "-e" || t == "--env" {
            if k + 1 < words.len() {
                roles[k + 1] = Role::Docker { from: 0 };
            }
            k += 2;
        } else if t.starts_with("--env=") {
            roles[k] = Role::Docker { from: 6 };
            k += 1;
        } else if t.starts_with("-e") && !t.starts_with("--") {
            roles[k] = Role::Docker { from: 2 };
            k += 1;
        } else if t.contains('=') {
            k += 1;
        } else {
            k += if DOCKER_RUN_VALUE.contains(&t) { 2 } else { 1 };
        }
    }
    // the container, service or image; then the command run in it
    if k + 1 < words.len() {
        assign_roles(words, k + 1, roles, true);
    }
}

/// `sh -c STRING`: the string read again as a script.
fn script(frame: &Frame, w: &Word, via: &'static str, depth: usize, out: &mut Vec<Hit>) {
    let at: Vec<usize> = w.at.iter().map(|&i| frame.file(i)).collect();
    let host: Vec<bool> =
        w.at.iter()
            .zip(&w.flags)
            .map(|(&i, f)| f & EXPAND != 0 || frame.host(i))
            .collect();
    let via = match frame.via {
        Some("docker") => "docker",
        _ => via,
    };
    let inner = Frame {
        src: &w.text,
        at: Some(at),
        host: Some(host),
        via: Some(via),
    };
    analyse(&inner, 0, w.text.len(), depth + 1, out);
}

// ---------------------------------------------------------------------------------
// Values

/// Where a secret value stands, for the verdict and the message.
#[derive(Debug, Clone)]
enum Slot {
    Assign(String),
    Argument(String),
    Option(String),
    Docker(String),
    Password {
        program: &'static str,
        flag: &'static str,
        blanked: bool,
        docker: bool,
    },
    PsqlVar(String),
    Sql {
        argv: bool,
    },
    Default(String),
    Url,
}

const HELP_FILE: &str = "read it when the script runs, from a file with mode 0600 (`NAME=$(cat /etc/<project>/name.secret)`) or from the environment the script is started with";
const HELP_DOCKER: &str = "export the variable and give docker its name alone: `-e NAME` copies the value from docker's own environment";
const HELP_SQL: &str = "send the SQL on stdin (a heredoc) and take the password from the environment: `\\getenv pw APP_PASSWORD` then `PASSWORD :'pw'` (psql 15+)";
const HELP_REDIS_CLI: &str =
    "export `REDISCLI_AUTH` instead: redis-cli reads the password from its environment";
const HELP_REDIS_SERVER: &str =
    "put `requirepass` in redis.conf or the password in an ACL file, not on the command line";
const HELP_MYSQL: &str = "give the password in an option file with mode 0600: `--defaults-extra-file=FILE` with `[client]` and `password=...`";
const HELP_LOGIN: &str = "use `--password-stdin` and pipe the token from a file";
const HELP_PSQL_VAR: &str =
    "let psql read it from its environment inside the SQL: `\\getenv pw APP_PASSWORD` (psql 15+)";
const HELP_OPTION: &str =
    "give the value through the environment or a file the program reads, not an option";
const HELP_HOST: &str = "single-quote the string so that the inner shell expands the variable from its own environment (with docker, pass it with `-e NAME`)";
const HELP_PLACEHOLDER: &str = "the value looks like a placeholder: set the real one outside the script (a file with mode 0600 or the environment)";

/// Judge the value of word `w` from byte `s` to its end.
fn value(frame: &Frame, w: &Word, s: usize, slot: Slot, out: &mut Vec<Hit>) {
    judge(frame, w, s, w.text.len(), slot, out);
}

fn judge(frame: &Frame, w: &Word, s: usize, e: usize, slot: Slot, out: &mut Vec<Hit>) {
    if s >= e || e > w.text.len() {
        return;
    }
    let Some(raw) = w.text.get(s..e) else {
        return;
    };
    let (start, end) = frame.span(w.at[s], w.at[e - 1] + 1);
    let host = (s..e).any(|k| frame.host(w.at[k]));
    let via = frame.via.unwrap_or("sh");
    if host {
        // the outer shell put the value into the string another program receives
        out.push(Hit {
            start,
            end,
            severity: Severity::Error,
            message: format!(
                "{} is expanded by the script into `{via}`'s command line, which `ps` shows to every user of the host",
                subject(&slot)
            ),
            help: HELP_HOST,
            literal: false,
        });
        return;
    }
    if w.expanded(s, e) {
        let (severity, message, help) = match &slot {
            Slot::Docker(name) => (
                Severity::Error,
                format!("the value of `{name}` is on docker's command line, which `ps` shows to every user of the host while the command runs"),
                HELP_DOCKER,
            ),
            Slot::Password { program, flag, docker: true, .. } => (
                Severity::Error,
                format!("the password given to `{program}` with `{flag}` is on docker's command line, which `ps` shows to every user of the host while the command runs"),
                password_help(program),
            ),
            Slot::Password { program, flag, blanked: true, .. } => (
                Severity::Warning,
                format!("the password given to `{program}` with `{flag}` is on its command line until the program blanks it"),
                password_help(program),
            ),
            Slot::Password { program, flag, .. } => (
                Severity::Error,
                format!("the password given to `{program}` with `{flag}` is on its command line, which `ps` shows to every user of the host"),
                password_help(program),
            ),
            Slot::PsqlVar(name) => (
                Severity::Error,
                format!("`psql -v {name}=...` puts the value on psql's command line, which `ps` shows to every user of the host"),
                HELP_PSQL_VAR,
            ),
            Slot::Sql { argv: true } => (
                Severity::Error,
                "the password in this SQL is on psql's command line (`-c`), which `ps` shows to every user of the host".to_string(),
                HELP_SQL,
            ),
            Slot::Option(name) => (
                Severity::Error,
                format!("`{name}=...` puts the value on the command line, which `ps` shows to every user of the host"),
                HELP_OPTION,
            ),
            _ => return,
        };
        out.push(Hit {
            start,
            end,
            severity,
            message,
            help,
            literal: false,
        });
        return;
    }
    if w.pattern(s, e) {
        return;
    }
    let kind = literal_kind(raw);
    // A placeholder as a default (`${PASSWORD:-<not set>}`) is what a script prints
    // when the variable is missing, not a credential it would use.
    if kind == ValueKind::Placeholder && matches!(slot, Slot::Default(_)) {
        return;
    }
    let (severity, help) = match kind {
        ValueKind::NotSecret => return,
        ValueKind::Placeholder => (Severity::Warning, HELP_PLACEHOLDER),
        ValueKind::Secret => (Severity::Error, literal_help(&slot)),
    };
    let what = if kind == ValueKind::Placeholder {
        "a placeholder secret"
    } else {
        "a secret written in clear"
    };
    let message = match &slot {
        Slot::Assign(name) => format!("`{name}` is assigned {what} in the script"),
        Slot::Argument(name) => format!("`{name}=` is given {what} in the script"),
        Slot::Option(name) => {
            format!("`{name}=` is given {what} in the script, on the command line")
        }
        Slot::Docker(name) => {
            format!("`{name}` is given {what} in the script, on docker's command line")
        }
        Slot::Password { program, flag, .. } => {
            format!("`{program} {flag}` is given {what} in the script, on its command line")
        }
        Slot::PsqlVar(name) => {
            format!("`psql -v {name}=` is given {what} in the script, on psql's command line")
        }
        Slot::Sql { argv: true } => format!(
            "SQL given to `psql -c` holds {what} as a password, in the script and on psql's command line"
        ),
        Slot::Sql { argv: false } => format!("the script's SQL holds {what} as a password"),
        Slot::Default(name) => format!(
            "`{name}` has {what} as its default in the script, used silently when `{name}` is unset"
        ),
        Slot::Url => format!("a URL in the script holds {what} as its password"),
    };
    out.push(Hit {
        start,
        end,
        severity,
        message,
        help,
        literal: true,
    });
}

fn subject(slot: &Slot) -> String {
    match slot {
        Slot::Assign(n)
        | Slot::Argument(n)
        | Slot::Option(n)
        | Slot::Docker(n)
        | Slot::PsqlVar(n)
        | Slot::Default(n) => format!("the value of `{n}`"),
        Slot::Password { program, flag, .. } => format!("the password given to `{program} {flag}`"),
        Slot::Sql { .. } => "the password in this SQL".to_string(),
        Slot::Url => "the password of this URL".to_string(),
    }
}

fn password_help(program: &str) -> &'static str {
    match program {
        "redis-cli" => HELP_REDIS_CLI,
        "redis-server" => HELP_REDIS_SERVER,
        "docker login" => HELP_LOGIN,
        _ => HELP_MYSQL,
    }
}

fn literal_help(slot: &Slot) -> &'static str {
    match slot {
        Slot::Docker(_) => HELP_DOCKER,
        Slot::Password { program, .. } => password_help(program),
        Slot::PsqlVar(_) => HELP_PSQL_VAR,
        Slot::Sql { .. } => HELP_SQL,
        Slot::Option(_) => HELP_OPTION,
        _ => HELP_FILE,
    }
}

/// What a value written in the script is: `secret_value_kind`, plus what only
/// scripts hold: home-relative paths, password verifiers (PostgreSQL's SCRAM and
/// md5, MySQL's `*` hashes), `printf`
/// formats (`DB_PASSWORD=%s`) and tokens a later `sed` replaces (`@@DB_PASSWORD@@`,
/// `__API_KEY__`), and masked stand-ins (`'********'`).
fn literal_kind(raw: &str) -> ValueKind {
    let v = raw.trim();
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    let verifier = v.starts_with("SCRAM-SHA-256$")
        || (v.len() == 35 && v.starts_with("md5") && hex(&v[3..]))
        || (v.len() == 41 && v.starts_with('*') && hex(&v[1..]));
    let path = ["~/", "./", "../"].iter().any(|p| v.starts_with(p));
    let format = v.contains("%s");
    let inner = v.trim_matches(['@', '%', '_', '#']);
    let token = inner.len() + 2 <= v.len()
        && inner.starts_with(|c: char| c.is_ascii_uppercase())
        && inner
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if verifier || path || format || token {
        return ValueKind::NotSecret;
    }
    if v.len() >= 3 && v.chars().all(|c| c == '*') {
        return ValueKind::Placeholder;
    }
    secret_value_kind(v)
}

/// Secrets inside any word: `${NAME:-default}`, URL user info, SQL passwords.
fn extras(frame: &Frame, w: &Word, sql_argv: bool, out: &mut Vec<Hit>) {
    for (s, e, name) in secret_defaults(&w.text) {
        if secret_name(&name) && !w.text[s..e].contains(char::is_whitespace) {
            // the default is literal text inside the `${...}` expansion
            literal_at(frame, w, s, e, Slot::Default(name), out);
        }
    }
    for (s, e) in url_passwords(&w.text) {
        judge(frame, w, s, e, Slot::Url, out);
    }
    for (s, e) in sql_passwords(&w.text) {
        judge(frame, w, s, e, Slot::Sql { argv: sql_argv }, out);
    }
}

/// Judge bytes `s..e` of `w` as written in the script, even if they sit inside an
/// expansion (a default value).
fn literal_at(frame: &Frame, w: &Word, s: usize, e: usize, slot: Slot, out: &mut Vec<Hit>) {
    let mut plain = w.clone();
    for f in plain.flags.get_mut(s..e).into_iter().flatten() {
        *f &= !EXPAND;
    }
    let mut found = Vec::new();
    judge(frame, &plain, s, e, slot, &mut found);
    out.extend(found.into_iter().filter(|h| h.literal));
}

/// `PASSWORD 'value'` in SQL text: the value's byte range (`''` inside is a quote).
fn sql_passwords(text: &str) -> Vec<(usize, usize)> {
    let upper = text.to_ascii_uppercase();
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = upper[from..].find("PASSWORD") {
        let at = from + i;
        from = at + 8;
        let word_start =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let mut j = at + 8;
        let gap = j;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\n' | b'\r') {
            j += 1;
        }
        if !word_start || j == gap {
            continue;
        }
        if bytes.get(j) == Some(&b'E') || bytes.get(j) == Some(&b'e') {
            j += 1;
        }
        if bytes.get(j) != Some(&b'\'') {
            continue;
        }
        let start = j + 1;
        let mut k = start;
        loop {
            match bytes.get(k) {
                None | Some(b'\n') => break,
                Some(b'\'') if bytes.get(k + 1) == Some(&b'\'') => k += 2,
                Some(b'\'') => {
                    out.push((start, k));
                    break;
                }
                Some(_) => k += 1,
            }
        }
    }
    out
}

/// A heredoc body: `NAME=value` lines (an env file the script writes), SQL
/// passwords, URL passwords and literal defaults.
fn heredoc(frame: &Frame, h: Heredoc, out: &mut Vec<Hit>) {
    let Some(body) = frame.src.get(h.start..h.end) else {
        return;
    };
    // The body as one word: every byte literal, except what looks like an expansion.
    let mut w = Word {
        text: body.to_string(),
        at: (h.start..h.end).collect(),
        flags: vec![QUOTED; body.len()],
    };
    mark_expansions(&mut w);
    for entry in parse_env(body) {
        if !secret_name(&entry.key) || entry.value.contains(char::is_whitespace) {
            continue;
        }
        let line_end = entry.value_end.min(body.len());
        let raw = &body[entry.key_start..line_end];
        if let Some(i) = raw.rfind(entry.value.as_str())
            && !entry.value.is_empty()
        {
            let s = entry.key_start + i;
            judge(
                frame,
                &w,
                s,
                s + entry.value.len(),
                Slot::Assign(entry.key.clone()),
                out,
            );
        }
    }
    extras(frame, &w, false, out);
}

/// Flag `$NAME`, `${...}`, `$(...)` and backquotes of a heredoc body as expansions.
fn mark_expansions(w: &mut Word) {
    let b = w.text.as_bytes().to_vec();
    let mut i = 0;
    while i < b.len() {
        let len = match (b[i], b.get(i + 1)) {
            (b'$', Some(c)) if c.is_ascii_alphabetic() || *c == b'_' => {
                1 + b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count()
            }
            (b'$', Some(b'{' | b'(')) => {
                let close = if b[i + 1] == b'{' { b'}' } else { b')' };
                b[i..]
                    .iter()
                    .position(|c| *c == close)
                    .map_or(b.len() - i, |k| k + 1)
            }
            (b'$', Some(c)) if c.is_ascii_digit() => 2,
            (b'`', _) => b[i + 1..]
                .iter()
                .position(|c| *c == b'`')
                .map_or(b.len() - i, |k| k + 2),
            _ => 0,
        };
        if len == 0 {
            i += 1;
            continue;
        }
        // `${NAME:-default}` keeps its default literal: `extras` reads it apart.
        for f in &mut w.flags[i..(i + len).min(b.len())] {
            *f |= EXPAND;
        }
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, &'static str, bool)> {
        hits(text)
            .into_iter()
            .map(|h| {
                (
                    text[h.start..h.end].to_string(),
                    h.severity.as_str(),
                    h.literal,
                )
            })
            .collect()
    }

    fn values(text: &str) -> Vec<String> {
        found(text).into_iter().map(|(v, _, _)| v).collect()
    }

    #[test]
    fn words_keep_offsets_and_expansions() {
        let text = "a 'b c' \"d$X\" e\\ f $(g h) `i`";
        let lexed = lex(text, 0, text.len());
        let words: Vec<&str> = lexed.commands[0].iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, ["a", "b c", "d$X", "e f", "$(g h)", "`i`"]);
        let d = &lexed.commands[0][2];
        assert_eq!(d.at[0], 9);
        assert!(d.expanded(1, 3) && !d.expanded(0, 1));
        assert_eq!(lexed.substs, [(21, 24), (27, 28)]);
        let text = "cat <<-EOF >x\n\tA=1\n\tEOF\necho done # c\n";
        let lexed = lex(text, 0, text.len());
        assert_eq!(lexed.commands.len(), 2, "{:?}", lexed.commands);
        assert_eq!(
            &text[lexed.heredocs[0].start..lexed.heredocs[0].end],
            "\tA=1\n"
        );
    }

    #[test]
    fn the_three_defects_of_the_provisioning_script() {
        let text = "export PGPASSWORD='s3cr3t-literal-value'\ndocker exec -e PGPASSWORD=\"$PGPASSWORD\" db psql -U postgres -c \"CREATE USER app WITH PASSWORD 'app-s3cr3t';\"\n";
        assert_eq!(
            found(text),
            [
                ("s3cr3t-literal-value".to_string(), "error", true),
                ("$PGPASSWORD".to_string(), "error", false),
                ("app-s3cr3t".to_string(), "error", true),
            ]
        );
    }

    #[test]
    fn references_names_and_stdin_are_fine() {
        for text in [
            "export PGPASSWORD\nPGPASSWORD=\"$(cat /etc/x/pg.pass)\" pg_dump -U app app\n",
            "docker exec -i -e PGPASSWORD -e REDISCLI_AUTH db psql -U postgres <<'SQL'\nALTER ROLE app PASSWORD :'pw';\nSQL\n",
            "psql -U postgres <<EOSQL\nCREATE ROLE $DB_USER LOGIN PASSWORD '${DB_PASS}';\nEOSQL\n",
            "echo \"ALTER ROLE app PASSWORD '$PW';\" | psql -U postgres\n",
            "docker exec db sh -c 'PGPASSWORD=$POSTGRES_PASSWORD psql -U app -c \"select 1\"'\n",
            "case \"$1\" in --password=*) DB_PASSWORD=\"${1#*=}\" ;; esac\n",
            "echo \"usage: $0 --password=PASS  (or DB_PASSWORD=... in the environment)\"\n",
            "# export PGPASSWORD=hunter2-in-a-comment\n",
            "psql -c \"CREATE ROLE app LOGIN PASSWORD 'SCRAM-SHA-256\\$4096:abc=\\$def=:ghi='\"\n",
            "docker run -e MARIADB_ROOT_PASSWORD_HASH='*61584B76F6ECE8FB9A328E7CF198094B2FAC55C7' db:11\n",
            "SSH_KEY=~/.ssh/id_ed25519\nMAX_TOKENS=4096\nDB_PASSWORD_FILE=/run/secrets/db\nKEY=name\n",
            "printf 'DB_PASSWORD=%s\\n' \"$pw\" > .env\nsed -i \"s/@@DB_PASSWORD@@/$pw/\" app.conf\n",
            "cat > app.env.tmpl <<'EOF'\nAPI_KEY=__API_KEY__\nDB_PASSWORD=@@DB_PASSWORD@@\nEOF\n",
            "names+=(-e \"${kv%%=*}\")\ndocker exec -i \"${names[@]}\" \"$c\" \"${argv[@]}\"\n",
            "redis-cli --no-auth-warning -h 127.0.0.1 ping\nmysqldump -u root -p app\n",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            found("redis-cli -a \"$REDIS_PASSWORD\" BGSAVE\n"),
            [("$REDIS_PASSWORD".to_string(), "error", false)]
        );
        assert_eq!(
            values("redis-server --requirepass ${REDIS_PASSWORD} &\n"),
            ["${REDIS_PASSWORD}"]
        );
        assert_eq!(
            found("docker exec db sh -c 'exec mysqldump -uroot -p\"$MYSQL_ROOT_PASSWORD\" app'\n"),
            [("$MYSQL_ROOT_PASSWORD".to_string(), "warning", false)]
        );
        assert_eq!(
            found("docker compose exec db bash -c \"mysqldump -u app -p$MYSQL_PASSWORD app\"\n"),
            [("$MYSQL_PASSWORD".to_string(), "error", false)]
        );
        assert_eq!(
            found(
                "docker-compose exec -e PGUSER=postgres -e PGPASSWORD=adminpg -T postgres psql -c \"CREATE USER $1 WITH PASSWORD '$1';\"\n"
            ),
            [
                ("adminpg".to_string(), "error", true),
                ("$1".to_string(), "error", false),
            ]
        );
        assert_eq!(
            values("docker login -u bot -p \"$REGISTRY_TOKEN\" registry.example\n"),
            ["$REGISTRY_TOKEN"]
        );
        assert_eq!(
            values("out=$(docker run --rm --env=API_TOKEN=tok-12345678 app:1 check)\n"),
            ["tok-12345678"]
        );
        assert_eq!(
            values("sudo -u postgres env PGPASSWORD=pw-literal-1 psql\\\n  -c 'select 1'\n"),
            ["pw-literal-1"]
        );
        assert_eq!(
            values("psql -v app_password=\"$APP_PASSWORD\" -f x.sql\n"),
            ["$APP_PASSWORD"]
        );
    }

    #[test]
    fn literals_defaults_urls_and_placeholders() {
        assert_eq!(
            found("export PGPASSWORD=change-me\nMYSQL_PWD=Lit3ral-pw mysql -u root\n"),
            [
                ("change-me".to_string(), "warning", true),
                ("Lit3ral-pw".to_string(), "error", true),
            ]
        );
        assert_eq!(
            values("PGPASSWORD=${PGPASSWORD:-postgres} pg_dump -U postgres app\n"),
            ["postgres"]
        );
        assert_eq!(
            values("pg_dump \"postgresql://app:url-pw-123@db:5432/app\" > x.sql\n"),
            ["url-pw-123"]
        );
        assert_eq!(
            values("cat > .env <<EOF\nDB_PASSWORD=env-pw-literal\nDB_USER=app\nEOF\n"),
            ["env-pw-literal"]
        );
        assert_eq!(
            values("psql <<-EOSQL\n\tcreate role app login password 'heredoc-pw';\nEOSQL\n"),
            ["heredoc-pw"]
        );
    }

    /// What VP902 flags in clear is masked in every output format, also when the rule
    /// is allowed and another finding shows the line (`dig`, VP901).
    #[test]
    fn flagged_values_never_reach_any_output() {
        let text = "#!/bin/sh\n\
            DB_PASS=Zq7-pass-1 ip=$(dig +short db)\n\
            psql -c \"ALTER ROLE app PASSWORD 'Zq7-sql-2'\"; dig +short db\n\
            mysql -pZq7-mysql-3 app; dig +short db\n\
            docker exec -e API_TOKEN=Zq7-token-4 app true; dig +short db\n\
            sh -c \"PGPASSWORD=Zq7-inner-5 psql\"; dig +short db\n";
        let files = vec![crate::SourceFile::new("provision.sh", text)];
        for allow in [vec![], vec!["VP902".to_string()]] {
            let opts = crate::CheckOptions {
                allow,
                ..Default::default()
            };
            let report = crate::check_files(&files, &opts);
            assert_eq!(
                report.findings.iter().filter(|f| f.rule == "VP901").count(),
                5
            );
            for out in [
                report.render_human(&files, false),
                report.to_json(),
                report.to_sarif(),
            ] {
                assert!(!out.contains("Zq7"), "{out}");
            }
        }
        let vp902 = crate::check_files(&files, &crate::CheckOptions::default())
            .findings
            .into_iter()
            .filter(|f| f.rule == "VP902")
            .count();
        assert_eq!(vp902, 5);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        for text in [
            "$(",
            "`",
            "\"",
            "'",
            "${",
            "<<",
            "<<EOF",
            "a=\\",
            "-e",
            "docker exec -e",
            "psql -c",
            "sh -c",
            "$((1<<2))",
            "<(",
            "é$é'é\"é",
            "PASSWORD '",
            "x=$'\\",
        ] {
            let _ = hits(text);
        }
        let deep = "sh -c \"".repeat(40);
        let _ = hits(&deep);
    }
}
