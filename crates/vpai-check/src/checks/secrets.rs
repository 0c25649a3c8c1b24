//! Where the checked files hold secret values, so that no output prints them: the
//! snippets of `vpai check` show `********` in their place, and messages never
//! quote them. Findings still point at the value (their span is unchanged).
//!
//! This is wider than the rules that flag a secret in clear (VP212, VP412, VP615,
//! VP801): any finding's snippet may show a line that holds one, so every value
//! under a secret-looking name is masked, whether a rule flags it or not.

use super::{Ctx, Parsed, is_secret_name, parse_env};
use crate::source::FileKind;
use crate::yaml::{Node, Value};

/// Byte ranges of secret values in file `index`.
pub fn spans(ctx: &Ctx) -> Vec<(usize, usize, usize)> {
    // Services whose password is given to their tools as a bare argument (Redis: `-a
    // PASSWORD`): a line that names one of them treats `-a` as a password flag.
    let short_flag_services: Vec<&str> = ctx
        .knowledge
        .all()
        .iter()
        .filter(|a| a.lint.password_never_in_arguments)
        .map(|a| a.service.as_str())
        .collect();
    let mut out = Vec::new();
    for f in &ctx.files {
        let mut ranges = Vec::new();
        of_file(f, &short_flag_services, &mut ranges);
        ranges.retain(|(s, e)| s < e && *e <= f.text.len());
        ranges.sort();
        ranges.dedup();
        out.extend(ranges.into_iter().map(|(s, e)| (f.index, s, e)));
    }
    out
}

fn mentions(text: &str, services: &[&str]) -> bool {
    services.iter().any(|s| text.contains(s))
}

fn of_file(f: &Parsed, short_flag_services: &[&str], out: &mut Vec<(usize, usize)>) {
    let text = f.text.as_str();
    url_credentials(text, out);
    out.extend(secret_defaults(text).into_iter().map(|(s, e, _)| (s, e)));
    out.extend(
        command_values(text)
            .into_iter()
            .filter_map(|(s, e, _)| (!is_reference(&text[s..e])).then_some((s, e))),
    );
    match f.kind {
        FileKind::PostgresConf | FileKind::Caddyfile => {}
        FileKind::RedisConf | FileKind::RedisAcl => redis_lines(text, out),
        FileKind::Env | FileKind::Shell | FileKind::Text | FileKind::Template => {
            for entry in parse_env(text) {
                if secret_key(&entry.key) {
                    let raw_start = entry.key_start;
                    mask_in(text, raw_start, entry.value_end, &entry.value, out);
                }
            }
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                words(line, offset, mentions(line, short_flag_services), out);
                offset += line.len();
            }
            key_value_lines(text, out);
        }
        _ => key_value_lines(text, out),
    }
    for doc in &f.docs {
        structured(f, doc, short_flag_services, out);
    }
}

/// A name whose value is a secret (`POSTGRES_PASSWORD`, `botToken`), not a count
/// or a setting about secrets (`max_tokens`, `password_encryption`).
pub(crate) fn secret_key(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    is_secret_name(key) && !upper.ends_with("TOKENS") && !upper.ends_with("_ENCRYPTION")
}

/// A value that names where the secret is rather than being it.
fn is_reference(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || v.starts_with('$')
        || v.contains("${")
        || v.contains("{{")
        || v.starts_with("os.environ/")
        || v.starts_with("/run/secrets/")
}

/// Mask `value` where it appears in `start..end`, or the whole range.
fn mask_in(text: &str, start: usize, end: usize, value: &str, out: &mut Vec<(usize, usize)>) {
    if is_reference(value) {
        return;
    }
    let end = end.min(text.len());
    match text.get(start..end) {
        Some(raw) if !value.is_empty() => match raw.rfind(value) {
            Some(i) => out.push((start + i, start + i + value.len())),
            None => out.push((start, end)),
        },
        _ => {}
    }
}

fn mask_node(f: &Parsed, node: &Node, out: &mut Vec<(usize, usize)>) {
    let value = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => x.to_string(),
        _ => return,
    };
    if node.end > node.start {
        mask_in(&f.text, node.start, node.end, &value, out);
    }
}

/// YAML and JSON: values under secret names, `KEY=VALUE` items, and passwords
/// given to redis-cli or redis-server in commands and healthchecks.
fn structured(f: &Parsed, doc: &Node, short_flag_services: &[&str], out: &mut Vec<(usize, usize)>) {
    let mut path = Vec::new();
    doc.walk_entries(&mut path, &mut |_, k, v| {
        if k.as_str().is_some_and(secret_key) {
            mask_node(f, v, out);
        }
    });
    doc.walk(&mut |node| match &node.value {
        Value::Str(s) => {
            if let Some((key, value)) = s.split_once('=')
                && secret_key(key.trim())
                && key
                    .trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                // `NAME='value' cmd ...`: the quoted value, not the whole command
                let value = match value.chars().next() {
                    Some(q @ ('\'' | '"')) => value[1..]
                        .find(q)
                        .map(|k| &value[1..1 + k])
                        .unwrap_or(value),
                    _ => value,
                };
                mask_in(&f.text, node.start, node.end, value, out);
            }
            if let Some(raw) = f.text.get(node.start..node.end) {
                words(raw, node.start, mentions(raw, short_flag_services), out);
            }
        }
        Value::Seq(items) => {
            let redis = items
                .iter()
                .any(|i| i.as_str().is_some_and(|s| mentions(s, short_flag_services)));
            for pair in items.windows(2) {
                if pair[0].as_str().is_some_and(|w| auth_flag(w, redis)) {
                    mask_node(f, &pair[1], out);
                }
            }
        }
        _ => {}
    });
}

/// A command-line option whose next word is a password.
fn auth_flag(word: &str, redis: bool) -> bool {
    matches!(word, "--pass" | "--requirepass" | "--masterauth") || (redis && word == "-a")
}

/// Words of a command line at `base`: the word after an auth flag, the value of
/// `--requirepass=...` and of `SECRET_NAME=...`.
fn words(text: &str, base: usize, redis: bool, out: &mut Vec<(usize, usize)>) {
    let mut tokens: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let sep = c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '[' | ']' | '`' | ';');
        match (sep, start) {
            (true, Some(s)) => {
                tokens.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    tokens.retain(|(_, t)| *t != "-");
    for (i, (at, tok)) in tokens.iter().enumerate() {
        if auth_flag(tok, redis)
            && let Some((next_at, next)) = tokens.get(i + 1)
            && !is_reference(next)
        {
            out.push((base + next_at, base + next_at + next.len()));
        }
        if let Some((key, value)) = tok.split_once('=') {
            let flag = matches!(key, "--pass" | "--requirepass" | "--masterauth");
            let env = secret_key(key) && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if (flag || env) && !is_reference(value) {
                let s = base + at + key.len() + 1;
                out.push((s, s + value.len()));
            }
        }
    }
}

/// `scheme://user:password@host`: the password.
fn url_credentials(text: &str, out: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let auth_start = from + i + 3;
        let rest = &text[auth_start..];
        let auth_len = rest
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '/' | '"' | '\'' | '`' | ')' | '>' | ',')
            })
            .unwrap_or(rest.len());
        let authority = &rest[..auth_len];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let password = &authority[colon + 1..at];
            if !is_reference(password) {
                out.push((auth_start + colon + 1, auth_start + at));
            }
        }
        from = auth_start;
    }
}

/// redis.conf and ACL files: `requirepass`/`masterauth` arguments, `>password`
/// and `<password` rules of `user` lines.
fn redis_lines(text: &str, out: &mut Vec<(usize, usize)>) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        let indent = body.len() - trimmed.len();
        let mut parts = trimmed.splitn(2, char::is_whitespace);
        let directive = parts.next().unwrap_or("").to_ascii_lowercase();
        if matches!(directive.as_str(), "requirepass" | "masterauth") {
            let rest = parts.next().unwrap_or("");
            let value = rest.trim().trim_matches(['"', '\'']);
            let start = offset + indent + directive.len();
            mask_in(text, start, offset + body.len(), value, out);
        } else if directive == "user" || trimmed.starts_with("user ") {
            let mut pos = 0;
            for word in trimmed.split(' ') {
                if (word.starts_with('>') || word.starts_with('<')) && word.len() > 1 {
                    let s = offset + indent + pos + 1;
                    out.push((s, s + word.len() - 1));
                }
                pos += word.len() + 1;
            }
        }
        offset += line.len();
    }
}

/// Any `name: value`, `"name": "value",` or `name = value` line whose name is a
/// secret's: the value. Works on files that do not parse too.
fn key_value_lines(text: &str, out: &mut Vec<(usize, usize)>) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let lead = body.len() - body.trim_start_matches([' ', '\t', '-']).len();
        let rest = &body[lead..];
        if let Some(sep) = rest.find([':', '='])
            && rest
                .as_bytes()
                .get(sep + 1)
                .is_none_or(|b| b.is_ascii_whitespace() || rest.as_bytes()[sep] == b'=')
        {
            let key = rest[..sep].trim().trim_matches(['"', '\'']);
            if !key.is_empty() && !key.contains(char::is_whitespace) && secret_key(key) {
                let value_start = offset + lead + sep + 1;
                let mut value = rest[sep + 1..].trim();
                if let Some(anchor) = value.strip_prefix('&') {
                    value = anchor.split_once(' ').map(|(_, v)| v.trim()).unwrap_or("");
                }
                if let Some(i) = value.find(" #") {
                    value = value[..i].trim_end();
                }
                let mut value = value.trim_end_matches(',').trim();
                if rest.starts_with(['"', '\'']) {
                    // `"KEY=value"`: the quote closing the item is not the value's.
                    value = value.trim_end_matches(['"', '\'']);
                }
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(value);
                let structure = value.starts_with(['|', '>', '{', '[', '*', '!']);
                if !structure {
                    mask_in(text, value_start, offset + body.len(), value, out);
                }
            }
        }
        offset += line.len();
    }
}

/// Literal secret values of a command line or healthcheck (raw file text):
/// `NAME=value` with a secret `NAME`, and the value of `--pass`/`--password`.
/// Byte ranges relative to `text`, with what holds the value (for messages).
pub fn command_values(text: &str) -> Vec<(usize, usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !ident(bytes[i - 1]) && bytes[i - 1] != b'-';
        if starts_word && (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') {
            let mut j = i;
            while j < bytes.len() && ident(bytes[j]) {
                j += 1;
            }
            let name = &text[i..j];
            if bytes.get(j) == Some(&b'=')
                && secret_key(name)
                && let Some((s, e)) = value_after(text, j + 1)
            {
                out.push((s, e, format!("`{name}`")));
            }
            i = j.max(i + 1);
            continue;
        }
        for flag in ["--password", "--pass"] {
            if bytes[i..].starts_with(flag.as_bytes())
                && (i == 0 || !ident(bytes[i - 1]) && bytes[i - 1] != b'-')
            {
                let after = i + flag.len();
                let next = bytes.get(after).copied();
                let start = match next {
                    Some(b'=') => Some(after + 1),
                    Some(b' ') => {
                        // the next word, in the same string or the next argv item
                        let rest = &text[after..];
                        let skip = rest
                            .find(|c: char| !matches!(c, ' ' | '"' | '\'' | ',' | '\\'))
                            .unwrap_or(rest.len());
                        let before = &rest[..skip];
                        // `"--pass", "x"`: step back onto the opening quote
                        let at = after + skip;
                        if before.ends_with('"') || before.ends_with('\'') {
                            Some(at - 1)
                        } else {
                            Some(at)
                        }
                    }
                    Some(b'"') | Some(b'\'') => {
                        // `"--pass", "x"` in a flow list: the next quoted item
                        let rest = &text[after + 1..];
                        rest.find(['"', '\''])
                            .filter(|k| rest[..*k].trim_matches([' ', ',']).is_empty())
                            .map(|k| after + 1 + k)
                    }
                    _ => None,
                };
                if let Some(start) = start
                    && let Some((s, e)) = value_after(text, start)
                {
                    out.push((s, e, format!("`{flag}`")));
                }
                i += flag.len();
                break;
            }
        }
        i += 1;
    }
    out
}

/// The value that starts at `at`: quoted (`'v'`, `"v"`, `\"v\"`) or bare.
fn value_after(text: &str, at: usize) -> Option<(usize, usize)> {
    let rest = text.get(at..)?;
    let (skip, quote) = if rest.starts_with("\\\"") {
        (2, Some("\\\""))
    } else if rest.starts_with('"') {
        (1, Some("\""))
    } else if rest.starts_with('\'') {
        (1, Some("'"))
    } else {
        (0, None)
    };
    let body = &rest[skip..];
    let len = match quote {
        Some(q) => body.find(q)?,
        None => body
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ']' | ';' | '`' | '\\')
            })
            .unwrap_or(body.len()),
    };
    (len > 0).then_some((at + skip, at + skip + len))
}

/// Passwords of `scheme://user:password@host` in `text` that are literals.
pub fn url_passwords(text: &str) -> Vec<(usize, usize)> {
    let mut all = Vec::new();
    url_credentials(text, &mut all);
    all
}

/// `${NAME:-default}` and `${NAME-default}` with a secret `NAME` and a literal
/// default: the default's range and the name.
pub fn secret_defaults(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("${") {
        let start = from + i + 2;
        let rest = &text[start..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        let op = &rest[name_len..];
        let skip = if op.starts_with(":-") {
            2
        } else if op.starts_with('-') {
            1
        } else {
            0
        };
        if skip > 0
            && secret_key(name)
            && let Some(close) = op[skip..].find('}')
        {
            let default = &op[skip..skip + close];
            let s = start + name_len + skip;
            if !default.is_empty() && !default.contains('$') {
                out.push((s, s + default.len(), name.to_string()));
            }
        }
        from = start;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Knowledge;
    use crate::source::SourceFile;

    fn masked(path: &str, text: &str) -> Vec<String> {
        let file = SourceFile::new(path, text);
        let parsed = vec![Parsed::new(0, &file)];
        let knowledge = Knowledge::embedded();
        let ctx = Ctx::new(parsed, &knowledge, None);
        spans(&ctx)
            .into_iter()
            .map(|(_, s, e)| text[s..e].to_string())
            .collect()
    }

    #[test]
    fn compose_values_and_commands() {
        let text = "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: \"hunter2\"\n      - N8N_ENCRYPTION_KEY=abcd\n";
        // not valid YAML (map then seq): the line scan still finds both
        let m = masked("docker-compose.yml", text);
        assert!(m.contains(&"hunter2".to_string()), "{m:?}");
        assert!(m.contains(&"abcd".to_string()), "{m:?}");

        let text = "services:\n  redis:\n    command: redis-server --requirepass s3cret --port 6379\n    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"-a\", \"p4ss\", \"ping\"]\n    environment:\n      - REDIS_PASSWORD=xyz1\n      - OTHER=${REDIS_PASSWORD}\n      - DATABASE_URL=postgres://app:dbpw@db/app\n";
        let m = masked("docker-compose.yml", text);
        for want in ["s3cret", "p4ss", "xyz1", "dbpw"] {
            assert!(m.contains(&want.to_string()), "{want}: {m:?}");
        }
        assert!(!m.iter().any(|v| v.contains("REDIS_PASSWORD}")), "{m:?}");
    }

    #[test]
    fn redis_env_and_json() {
        let m = masked(
            "redis.conf",
            "port 6379\nrequirepass \"topsecret\"\nuser app on >apppass ~* +@all\n",
        );
        assert_eq!(m, ["topsecret", "apppass"]);
        let m = masked("app.env", "A=1\nexport API_KEY='k-123'\nMAX_TOKENS=4096\n");
        assert_eq!(m, ["k-123"]);
        let m = masked(
            "openclaw.json",
            "{\n  \"channels\": {\"telegram\": {\"botToken\": \"123:abc\"}},\n  \"x\": {\"apiKey\": \"${KEY}\"}\n}\n",
        );
        assert_eq!(m, ["123:abc"]);
        let m = masked("smoke.sh", "redis-cli -a hunter3 ping\nls -a x\n");
        assert_eq!(m, ["hunter3"]);
        let m = masked(
            "docker-compose.yml",
            "services:\n  a:\n    environment:\n      - \"API_TOKEN=t0ken\"\n",
        );
        assert_eq!(m, ["t0ken"]);
    }

    #[test]
    fn command_values_defaults_and_value_kinds() {
        let text = "REDISCLI_AUTH='lit-1' redis-cli ping; PGPASSWORD=$$PW psql --password=lit-2 x";
        let found: Vec<&str> = command_values(text)
            .into_iter()
            .map(|(s, e, _)| &text[s..e])
            .collect();
        assert_eq!(found, ["lit-1", "$$PW", "lit-2"]);
        let text = "A: ${DB_PASSWORD:-pw1} ${DB_PASSWORD:?x} ${LOG_LEVEL:-info} ${API_TOKEN-tok}";
        let found: Vec<&str> = secret_defaults(text)
            .into_iter()
            .map(|(s, e, _)| &text[s..e])
            .collect();
        assert_eq!(found, ["pw1", "tok"]);
        use crate::checks::{ValueKind, secret_value_kind};
        for v in [
            "0",
            "'False'",
            "true",
            "",
            "${X}",
            "/run/secrets/x",
            "/certs/redis.key",
        ] {
            assert_eq!(secret_value_kind(v), ValueKind::NotSecret, "{v}");
        }
        for v in [
            "change-me",
            "changePassword",
            "<token>",
            "not-needed",
            "sk-no-auth-needed",
            "your-api-key",
        ] {
            assert_eq!(secret_value_kind(v), ValueKind::Placeholder, "{v}");
        }
        for v in [
            "postgres",
            "admin123",
            "0000000000000000",
            "hunter2",
            "password",
        ] {
            assert_eq!(secret_value_kind(v), ValueKind::Secret, "{v}");
        }
    }
}
