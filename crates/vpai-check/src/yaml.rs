//! A YAML (and JSON) tree where every node keeps its byte span in the source.
//!
//! Parsing is serde-saphyr's (anchors, aliases and `<<` merges resolved, budgets
//! against hostile input, no panics); we only collect the nodes with their
//! locations so that rules can point at the exact key or value.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// One node. For scalars `start..end` covers the scalar text (quotes included when
/// quoted); for collections it is where the collection starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Follow a path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut node = self;
        for k in keys {
            node = node.get(k)?;
        }
        Some(node)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar as text whatever its type (`5432` -> "5432"); `None` for collections.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    pub fn is_seq(&self) -> bool {
        matches!(self.value, Value::Seq(_))
    }

    /// Visit this node and every node below it (keys included).
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Node)) {
        f(self);
        match &self.value {
            Value::Seq(items) => items.iter().for_each(|n| n.walk(f)),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                k.walk(f);
                v.walk(f);
            }),
            _ => {}
        }
    }

    /// Visit every mapping entry below this node with its key path.
    pub fn walk_entries<'a>(
        &'a self,
        path: &mut Vec<String>,
        f: &mut dyn FnMut(&[String], &'a Node, &'a Node),
    ) {
        match &self.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    let key = k.scalar_text().unwrap_or_default();
                    path.push(key);
                    f(path, k, v);
                    v.walk_entries(path, f);
                    path.pop();
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    item.walk_entries(path, f);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// A parse error with its byte offset.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
}

/// Parse every document of a YAML stream (JSON is YAML too).
pub fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let docs: Result<Vec<Spanned<Raw>>, _> =
        serde_saphyr::from_str_multiple_with_options(text, options);
    match docs {
        Ok(docs) => Ok(docs.into_iter().map(|d| convert(d, text.len())).collect()),
        Err(e) => Err(parse_error(&e, text)),
    }
}

fn parse_error(e: &serde_saphyr::Error, text: &str) -> ParseError {
    let full = e.to_string();
    let first = full.lines().next().unwrap_or("").to_string();
    // "line L column C: message"
    let (offset, message) = match first
        .strip_prefix("error: ")
        .unwrap_or(&first)
        .split_once(": ")
    {
        Some((pos, msg)) if pos.starts_with("line ") => {
            let mut nums = pos
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse::<usize>().ok());
            let line = nums.next().unwrap_or(1);
            let col = nums.next().unwrap_or(1);
            (offset_of(text, line, col), msg.to_string())
        }
        _ => (0, first.trim_start_matches("error: ").to_string()),
    };
    ParseError { message, offset }
}

/// Byte offset of 1-based line and character column.
fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[start..];
    line_text
        .char_indices()
        .nth(col.saturating_sub(1))
        .map(|(i, _)| start + i)
        .unwrap_or(text.len())
}

fn convert(s: Spanned<Raw>, len: usize) -> Node {
    let loc = s.referenced;
    let span = loc.span();
    let start = (span.byte_offset().unwrap_or(0) as usize).min(len);
    let end = (start + span.byte_len().unwrap_or(0) as usize).min(len);
    let value = match s.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|n| convert(n, len)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(k, len), convert(v, len)))
                .collect(),
        ),
    };
    // Collections end where their last child ends.
    let end = match &value {
        Value::Seq(items) => items.iter().map(|n| n.end).max().unwrap_or(end).max(end),
        Value::Map(entries) => entries
            .iter()
            .map(|(_, v)| v.end)
            .max()
            .unwrap_or(end)
            .max(end),
        _ => end,
    };
    Node { value, start, end }
}

/// What serde-saphyr hands us, before spans are turned into byte offsets.
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v as i128))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v as i128))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw::Int(v.min(i128::MAX as u128) as i128))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(x) = a.next_element()? {
            items.push(x);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = a.next_key()? {
            let v = a.next_value()?;
            entries.push((k, v));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_scalars() {
        let src = "services:\n  db:\n    image: \"postgres:18\"\n    ports: [5432:5432]\n";
        let docs = parse(src).unwrap();
        let image = docs[0].path(&["services", "db", "image"]).unwrap();
        assert_eq!(image.as_str(), Some("postgres:18"));
        assert_eq!(&src[image.start..image.end], "\"postgres:18\"");
        let port = &docs[0].path(&["services", "db", "ports"]).unwrap().as_seq()[0];
        assert_eq!(&src[port.start..port.end], "5432:5432");
    }

    #[test]
    fn merges_and_multiple_documents() {
        let src = "x: &d\n  a: 1\ny:\n  <<: *d\n  b: 2\n---\nz: 3\n";
        let docs = parse(src).unwrap();
        assert_eq!(docs.len(), 2);
        assert!(docs[0].path(&["y", "a"]).is_some());
    }

    #[test]
    fn errors_have_offsets() {
        let src = "a: 1\nb: \"\\d\"\n";
        let e = parse(src).unwrap_err();
        assert!(e.message.contains("escape"), "{}", e.message);
        assert_eq!(e.offset, 8);
    }
}
