//! Reading an Ansible project the way `ansible-playbook` sees it, for one inventory
//! group: the hosts file (YAML or INI), the `group_vars` and `host_vars` files of that
//! group and its parents (decrypting whole-file Ansible Vaults), and the site playbook's
//! roles. Every read is capped, links are never followed, and the value of any variable
//! that is a secret (by vpai's table of Ansible names, or by its name) is never kept:
//! only the fact that it exists. Secrets are the vault import's job.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use vpai_vault::Zeroizing;

/// The largest file read from the Ansible project (a real group_vars file is a few KiB).
pub const MAX_FILE: u64 = 4 << 20;
/// The most bytes read from the project altogether.
pub const MAX_TOTAL: u64 = 32 << 20;
/// The most files read.
pub const MAX_FILES: usize = 512;
/// How deep `group_vars/<group>/` directories are walked.
const MAX_DEPTH: usize = 6;

/// A YAML value of a variable, with what the import must not look at left opaque.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<Val>),
    Map(Vec<(String, Val)>),
    /// A value the import does not read: a secret or an encrypted string.
    Hidden(Hidden),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// The variable is a secret: its value is for the vault import only.
    Secret,
    /// An inline `!vault` string: for the vault import only.
    Encrypted,
}

impl Val {
    pub fn kind(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) | Val::Float(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::Null => "empty",
            Val::List(_) => "a list",
            Val::Map(_) => "a mapping",
            Val::Hidden(_) => "a secret",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Whether a variable's value must not be read by the settings import: a secret vpai
/// knows by name (`vault_postgresql_password`), or a name that says it is one.
pub fn is_secret_name(name: &str) -> bool {
    if vpai_vault::import::ANSIBLE_SETTINGS
        .iter()
        .any(|(n, _)| *n == name.strip_prefix("vault_").unwrap_or(name))
    {
        return false;
    }
    if vpai_vault::import::lookup(name).is_some() {
        return true;
    }
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pass",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "key",
        "apikey",
        "hash",
        "pat",
        "salt",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "private",
        "dsn",
    ];
    name.to_ascii_lowercase()
        .split(['_', '-', '.'])
        .any(|w| WORDS.contains(&w))
}

/// An Ansible variable name (`[A-Za-z_][A-Za-z0-9_]*`): anything else is not read.
pub fn is_var_name(name: &str) -> bool {
    name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'de> de::Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ValSeed { hide: true }.deserialize(deserializer)
    }
}

/// Reads a YAML value; with `hide`, the value of every key named like a secret is
/// skipped unread (only its existence is kept).
#[derive(Clone, Copy)]
struct ValSeed {
    hide: bool,
}

impl<'de> DeserializeSeed<'de> for ValSeed {
    type Value = Val;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Val, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValSeed {
    type Value = Val;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Val, E> {
        Ok(text(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Val, E> {
        Ok(text(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val, E> {
        Ok(Val::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val, E> {
        Ok(i64::try_from(v).map_or(Val::Float(v as f64), Val::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val, E> {
        Ok(Val::Float(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Val::List(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut out = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            if self.hide && is_secret_name(&key) {
                map.next_value::<IgnoredAny>()?;
                out.push((key, Val::Hidden(Hidden::Secret)));
            } else {
                out.push((key, map.next_value_seed(self)?));
            }
        }
        Ok(Val::Map(out))
    }
}

/// A mapping of variables with the secrets' values dropped (for a structure read
/// without hiding, such as an inventory, whose group and host names are not variables).
fn hide_secrets(entries: &[(String, Val)]) -> Vec<(String, Val)> {
    entries
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_name(k) {
                Val::Hidden(Hidden::Secret)
            } else if let Val::Map(inner) = v {
                Val::Map(hide_secrets(inner))
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

fn text(v: String) -> Val {
    if v.trim_start().starts_with("$ANSIBLE_VAULT;") {
        Val::Hidden(Hidden::Encrypted)
    } else {
        Val::Str(v)
    }
}

/// A mapping key as text (YAML allows numbers and booleans as keys).
struct Key(String);

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct K;
        impl<'a> Visitor<'a> for K {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key(String::new()))
            }
        }
        deserializer.deserialize_any(K)
    }
}

/// Parse YAML text into a value. The parser's message may quote a line (of a
/// decrypted vault): only the position is kept.
pub fn parse_yaml(text: &str) -> Result<Val, String> {
    parse_yaml_with(text, true)
}

fn parse_yaml_with(text: &str, hide: bool) -> Result<Val, String> {
    if text.trim().trim_start_matches("---").trim().is_empty() {
        return Ok(Val::Null);
    }
    let parsed = if hide {
        serde_saphyr::from_str::<Option<Val>>(text)
    } else {
        serde_saphyr::from_str::<Option<Plain>>(text).map(|p| p.map(|Plain(v)| v))
    };
    let v = parsed.map_err(|e| {
        e.location()
            .map(|l| {
                format!(
                    "it is not valid YAML (line {}, column {})",
                    l.line(),
                    l.column()
                )
            })
            .unwrap_or_else(|| "it is not valid YAML".into())
    })?;
    Ok(v.unwrap_or(Val::Null))
}

/// A YAML value read whole (no key is taken for a variable).
struct Plain(Val);

impl<'de> de::Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ValSeed { hide: false }.deserialize(deserializer).map(Plain)
    }
}

/// A file of variables, as read.
pub struct VarFile {
    /// The path shown to the operator (relative to the Ansible project).
    pub shown: String,
    pub text: Zeroizing<String>,
    /// A whole-file Ansible Vault.
    pub encrypted: bool,
}

/// A variable's winning definition.
#[derive(Debug, Clone)]
pub struct VarDef {
    pub val: Val,
    /// Where it was defined (shown path).
    pub file: String,
    /// Defined in an encrypted file (a whole-file Ansible Vault).
    pub from_vault: bool,
}

/// What was not read, and why (shown path, reason).
pub type NotRead = Vec<(String, String)>;

/// Reads files below the Ansible project with the caps above, links never followed.
pub struct Reader {
    pub root: PathBuf,
    files: usize,
    bytes: u64,
    pub not_read: NotRead,
}

impl Reader {
    pub fn new(root: &Path) -> Self {
        Reader {
            root: root.to_path_buf(),
            files: 0,
            bytes: 0,
            not_read: Vec::new(),
        }
    }

    /// How a path is shown: relative to the project, control characters replaced.
    pub fn shown(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        safe_text(&rel.display().to_string(), 200)
    }

    /// Whether a directory between the project's root and `path` is a symbolic link
    /// (opening `path` would follow it).
    pub fn through_link(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return false;
        };
        let mut at = self.root.clone();
        let parts: Vec<_> = rel.components().collect();
        for c in parts.iter().take(parts.len().saturating_sub(1)) {
            at.push(c);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return true;
            }
        }
        false
    }

    fn link_refused(&mut self, path: &Path) {
        let shown = self.shown(path);
        self.not_read.push((
            shown,
            "it is a symbolic link (or below one), and vpai does not follow links it did not create"
                .into(),
        ));
    }

    /// The text of a regular file, or `None` (and a note in `not_read`).
    pub fn read(&mut self, path: &Path) -> anyhow::Result<Option<Zeroizing<String>>> {
        if self.through_link(path) {
            self.link_refused(path);
            return Ok(None);
        }
        let shown = self.shown(path);
        if self.files >= MAX_FILES {
            anyhow::bail!(
                "the Ansible project has more than {MAX_FILES} files of variables; stopped at `{shown}`\n  help: point PATH at the inventory directory itself"
            );
        }
        let bytes = match vpai_vault::fsutil::read_regular(path, false, MAX_FILE) {
            Ok(b) => b,
            Err(problem) => {
                self.not_read.push((shown, problem.to_string()));
                return Ok(None);
            }
        };
        self.files += 1;
        self.bytes += bytes.len() as u64;
        if self.bytes > MAX_TOTAL {
            anyhow::bail!(
                "the Ansible project's files of variables add up to more than {} MiB; stopped at `{shown}`",
                MAX_TOTAL >> 20
            );
        }
        match std::str::from_utf8(&bytes) {
            Ok(t) => Ok(Some(Zeroizing::new(t.to_string()))),
            Err(_) => {
                self.not_read.push((shown, "it is not UTF-8 text".into()));
                Ok(None)
            }
        }
    }

    /// Files of variables at `base` (`base.yml`, `base.yaml`, `base.json`, `base` as a
    /// file, or every such file below the directory `base`), in Ansible's order.
    pub fn var_files(&mut self, base: &Path) -> anyhow::Result<Vec<VarFile>> {
        let mut paths = Vec::new();
        if self.through_link(base) {
            self.link_refused(base);
            return Ok(Vec::new());
        }
        for ext in ["", ".yml", ".yaml", ".json"] {
            let mut p = base.as_os_str().to_owned();
            p.push(ext);
            let p = PathBuf::from(p);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => self.not_read.push((
                    self.shown(&p),
                    "it is a symbolic link, and vpai does not follow links it did not create"
                        .into(),
                )),
                Ok(m) if m.is_dir() && ext.is_empty() => self.walk(&p, 0, &mut paths)?,
                Ok(m) if m.is_file() => paths.push(p),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for path in paths {
            if let Some(text) = self.read(&path)? {
                let encrypted = text
                    .trim_start_matches('\u{feff}')
                    .trim_start()
                    .starts_with("$ANSIBLE_VAULT;");
                out.push(VarFile {
                    shown: self.shown(&path),
                    text,
                    encrypted,
                });
            }
        }
        Ok(out)
    }

    fn walk(&mut self, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        if depth > MAX_DEPTH {
            self.not_read.push((
                self.shown(dir),
                format!("it is deeper than {MAX_DEPTH} levels"),
            ));
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .take(MAX_FILES + 1)
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect(),
            Err(e) => {
                self.not_read.push((self.shown(dir), e.to_string()));
                return Ok(());
            }
        };
        if entries.len() > MAX_FILES {
            anyhow::bail!(
                "`{}` holds more than {MAX_FILES} entries; is PATH the Ansible project?",
                self.shown(dir)
            );
        }
        // Ansible reads a directory's files in sorted order; later ones win.
        entries.sort();
        for p in entries {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            if name.starts_with('.') || name.ends_with('~') {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                self.not_read.push((
                    self.shown(&p),
                    "it is a symbolic link, and vpai does not follow links it did not create"
                        .into(),
                ));
            } else if meta.is_dir() {
                self.walk(&p, depth + 1, out)?;
            } else if meta.is_file() {
                let ext = Path::new(&name).extension().and_then(|e| e.to_str());
                if matches!(ext, None | Some("yml" | "yaml" | "json")) {
                    out.push(p);
                }
            }
        }
        Ok(())
    }
}

/// Text from the Ansible project made safe to print and to put in a TOML comment:
/// control and line-separator characters replaced, at most `max` characters.
pub fn safe_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') {
                '?'
            } else {
                c
            },
        );
    }
    out
}

/// The inventory: groups, their hosts and the variables the hosts file gives.
#[derive(Debug, Default)]
pub struct Inventory {
    /// The hosts file read (shown path), if any.
    pub file: Option<String>,
    pub groups: BTreeMap<String, Group>,
    /// Host -> its variables from the hosts file (in order, later wins).
    pub hosts: BTreeMap<String, Vec<(String, Val)>>,
}

#[derive(Debug, Default)]
pub struct Group {
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub vars: Vec<(String, Val)>,
}

impl Inventory {
    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }

    /// `all`, then each parent group, then `group`: the order in which their variables
    /// apply. None when the group is not in the inventory.
    pub fn chain(&self, group: &str) -> Option<Vec<String>> {
        if group == "all" {
            return Some(vec!["all".into()]);
        }
        if !self.groups.contains_key(group) {
            return None;
        }
        // Depth-first from `all` through `children`; a group not reached is a child of `all`.
        fn find(inv: &Inventory, at: &str, goal: &str, path: &mut Vec<String>) -> bool {
            if path.len() > 16 || path.iter().any(|p| p == at) {
                return false;
            }
            path.push(at.to_string());
            if at == goal {
                return true;
            }
            if let Some(g) = inv.groups.get(at) {
                for child in &g.children {
                    if find(inv, child, goal, path) {
                        return true;
                    }
                }
            }
            path.pop();
            false
        }
        let mut path = Vec::new();
        if find(self, "all", group, &mut path) {
            return Some(path);
        }
        // Groups nobody lists as a child are children of `all`.
        let children: BTreeSet<&String> = self.groups.values().flat_map(|g| &g.children).collect();
        for top in self
            .groups
            .keys()
            .filter(|g| *g != "all" && !children.contains(g))
        {
            let mut path = vec!["all".to_string()];
            if find(self, top, group, &mut path) {
                return Some(path);
            }
        }
        Some(vec!["all".into(), group.to_string()])
    }

    /// The hosts of a group and of its children, in inventory order.
    pub fn hosts_of(&self, group: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        fn collect(
            inv: &Inventory,
            g: &str,
            out: &mut Vec<String>,
            seen: &mut BTreeSet<String>,
            depth: usize,
        ) {
            if depth > 16 || !seen.insert(format!("group:{g}")) {
                return;
            }
            if let Some(group) = inv.groups.get(g) {
                for h in &group.hosts {
                    if seen.insert(format!("host:{h}")) {
                        out.push(h.clone());
                    }
                }
                for c in &group.children {
                    collect(inv, c, out, seen, depth + 1);
                }
            }
        }
        collect(self, group, &mut out, &mut seen, 0);
        out
    }

    /// Groups that have hosts (directly or through children), `all` excepted.
    pub fn groups_with_hosts(&self) -> Vec<String> {
        self.groups
            .keys()
            .filter(|g| *g != "all" && !self.hosts_of(g).is_empty())
            .cloned()
            .collect()
    }
}

/// Read the YAML form of an inventory (`all: children: prod: hosts: ...`).
pub fn parse_yaml_inventory(text: &str) -> Result<Inventory, String> {
    // Group and host names are keys too: read whole, then hide the variables' secrets.
    let root = parse_yaml_with(text, false)?;
    let mut inv = Inventory::default();
    let Val::Map(top) = root else {
        return if root == Val::Null {
            Ok(inv)
        } else {
            Err("it is not a mapping of groups".into())
        };
    };
    for (name, body) in top {
        yaml_group(&mut inv, &name, &body, 0)?;
    }
    Ok(inv)
}

fn yaml_group(inv: &mut Inventory, name: &str, body: &Val, depth: usize) -> Result<(), String> {
    if depth > 16 {
        return Err("its groups are nested more than 16 deep".into());
    }
    inv.group(name);
    let Val::Map(entries) = body else {
        return Ok(());
    };
    for (key, value) in entries {
        match (key.as_str(), value) {
            ("hosts", Val::Map(hosts)) => {
                for (host, vars) in hosts {
                    inv.group(name).hosts.push(host.clone());
                    let list = inv.hosts.entry(host.clone()).or_default();
                    if let Val::Map(vars) = vars {
                        list.extend(hide_secrets(vars));
                    }
                }
            }
            ("vars", Val::Map(vars)) => inv.group(name).vars.extend(hide_secrets(vars)),
            ("children", Val::Map(children)) => {
                for (child, child_body) in children {
                    if !inv.group(name).children.contains(child) {
                        inv.group(name).children.push(child.clone());
                    }
                    yaml_group(inv, child, child_body, depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Read the INI form of an inventory (`[prod]`, `host key=value`, `[prod:vars]`,
/// `[all:children]`). Host ranges (`web[01:10]`) are listed in `skipped`.
pub fn parse_ini_inventory(text: &str, skipped: &mut Vec<String>) -> Inventory {
    let mut inv = Inventory::default();
    inv.group("all");
    let mut section = ("ungrouped".to_string(), "hosts");
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (group, kind) = match head.split_once(':') {
                Some((g, "vars")) => (g, "vars"),
                Some((g, "children")) => (g, "children"),
                Some((g, _)) => (g, "other"),
                None => (head, "hosts"),
            };
            section = (group.trim().to_string(), kind);
            inv.group(&section.0);
            continue;
        }
        let words = ini_words(line);
        let Some(first) = words.first() else { continue };
        match section.1 {
            "hosts" => {
                if first.contains('[') {
                    skipped.push(first.clone());
                    continue;
                }
                let host = first.clone();
                inv.group(&section.0).hosts.push(host.clone());
                let vars = inv.hosts.entry(host).or_default();
                for w in &words[1..] {
                    if let Some((k, v)) = w.split_once('=') {
                        vars.push((k.to_string(), ini_value(k, v)));
                    }
                }
            }
            "vars" => {
                if let Some((k, v)) = line.split_once('=') {
                    let k = k.trim();
                    let v = ini_words(v.trim()).into_iter().next().unwrap_or_default();
                    let val = ini_value(k, &v);
                    inv.group(&section.0).vars.push((k.to_string(), val));
                }
            }
            "children" => {
                let child = first.clone();
                inv.group(&child);
                let g = inv.group(&section.0);
                if !g.children.contains(&child) {
                    g.children.push(child);
                }
            }
            _ => {}
        }
    }
    inv
}

/// Split an INI inventory line into words, honouring quotes (`key="a b"`).
fn ini_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                any = true;
            }
            None if c == '#' && cur.is_empty() && !any => break,
            None if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            None => {
                cur.push(c);
                any = true;
            }
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

/// An INI value as Ansible reads it: a number is a number, anything else a string.
fn ini_value(key: &str, v: &str) -> Val {
    if is_secret_name(key) {
        return Val::Hidden(Hidden::Secret);
    }
    if let Ok(i) = v.parse::<i64>() {
        return Val::Int(i);
    }
    match v {
        "True" | "true" => Val::Bool(true),
        "False" | "false" => Val::Bool(false),
        _ => text(v.to_string()),
    }
}

/// A role of the site playbook, with its `when` condition if any.
#[derive(Debug, Clone)]
pub struct PlayRole {
    pub name: String,
    pub when: Option<Val>,
    /// The `hosts:` of its play.
    pub hosts: Option<Val>,
}

/// The roles of a playbook and of the playbooks it imports (`import_playbook`),
/// links not followed, at most 4 levels.
pub fn playbook_roles(
    reader: &mut Reader,
    path: &Path,
    depth: usize,
    out: &mut Vec<PlayRole>,
) -> anyhow::Result<()> {
    if depth > 4 {
        return Ok(());
    }
    let Some(text) = reader.read(path)? else {
        return Ok(());
    };
    let plays = match parse_yaml(&text) {
        Ok(Val::List(plays)) => plays,
        Ok(_) => {
            let shown = reader.shown(path);
            reader
                .not_read
                .push((shown, "it is not a list of plays".into()));
            return Ok(());
        }
        Err(e) => {
            let shown = reader.shown(path);
            reader.not_read.push((shown, e));
            return Ok(());
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    for play in &plays {
        if let Some(Val::Str(imported)) = play
            .get("import_playbook")
            .or_else(|| play.get("ansible.builtin.import_playbook"))
        {
            // Only plain relative paths inside the project.
            let rel = Path::new(imported);
            if !imported.contains("{{")
                && rel.is_relative()
                && !rel
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
            {
                playbook_roles(reader, &dir.join(rel), depth + 1, out)?;
            }
            continue;
        }
        let hosts = play.get("hosts").cloned();
        let Some(Val::List(roles)) = play.get("roles") else {
            continue;
        };
        for role in roles {
            let (name, when) = match role {
                Val::Str(n) => (n.clone(), None),
                Val::Map(_) => {
                    let name = match role.get("role").or_else(|| role.get("name")) {
                        Some(Val::Str(n)) => n.clone(),
                        _ => continue,
                    };
                    (name, role.get("when").cloned())
                }
                _ => continue,
            };
            out.push(PlayRole {
                name,
                when,
                hosts: hosts.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_read_and_vault_strings_stay_opaque() {
        let v = parse_yaml(
            "domain_name: example.com\nvault_redis_password: hunter2-zq9\nnested:\n  api_token: zq9\n  port: 804\ninline: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
        )
        .unwrap();
        assert_eq!(v.get("domain_name"), Some(&Val::Str("example.com".into())));
        assert_eq!(
            v.get("vault_redis_password"),
            Some(&Val::Hidden(Hidden::Secret))
        );
        assert_eq!(
            v.get("nested").unwrap().get("api_token"),
            Some(&Val::Hidden(Hidden::Secret))
        );
        assert_eq!(v.get("nested").unwrap().get("port"), Some(&Val::Int(804)));
        assert_eq!(v.get("inline"), Some(&Val::Hidden(Hidden::Encrypted)));
        assert!(!format!("{v:?}").contains("zq9"));
    }

    #[test]
    fn settings_kept_in_the_vault_are_not_secrets() {
        assert!(!is_secret_name("vault_domain_name"));
        assert!(!is_secret_name("telegram_openclaw_chat_id"));
        assert!(is_secret_name("vault_n8n_encryption_key"));
        assert!(is_secret_name("dufs_basicauth_hash"));
        assert!(is_secret_name("ansible_become_pass"));
        assert!(!is_secret_name("prod_ssh_port"));
        assert!(!is_secret_name("ssh_authorized_keys"));
    }

    #[test]
    fn yaml_inventory_groups_hosts_and_chain() {
        let inv = parse_yaml_inventory(
            "all:\n  children:\n    prod:\n      hosts:\n        prod-server:\n          ansible_host: \"{{ prod_ip }}\"\n          ansible_port: 804\n      vars:\n        tier: gold\n    vpn:\n      hosts:\n        vpn-server:\n  vars:\n    ansible_python_interpreter: /usr/bin/python3\n",
        )
        .unwrap();
        assert_eq!(inv.hosts_of("prod"), vec!["prod-server"]);
        assert_eq!(inv.chain("prod").unwrap(), vec!["all", "prod"]);
        assert_eq!(inv.groups_with_hosts(), vec!["prod", "vpn"]);
        assert_eq!(inv.groups["prod"].vars[0].0, "tier");
        assert_eq!(
            inv.hosts["prod-server"][1],
            ("ansible_port".into(), Val::Int(804))
        );
    }

    #[test]
    fn group_and_host_names_are_not_variables() {
        // Named like secrets, yet structure: their hosts and variables are read.
        let inv = parse_yaml_inventory(
            "all:\n  children:\n    tokens:\n      hosts:\n        key-server:\n          ansible_host: 192.0.2.1\n          ansible_become_pass: zq9\n",
        )
        .unwrap();
        assert_eq!(inv.hosts_of("tokens"), vec!["key-server"]);
        let vars = &inv.hosts["key-server"];
        assert!(vars.contains(&("ansible_host".into(), Val::Str("192.0.2.1".into()))));
        assert!(vars.contains(&("ansible_become_pass".into(), Val::Hidden(Hidden::Secret))));
        assert!(!format!("{inv:?}").contains("zq9"));
    }

    #[test]
    fn ini_inventory() {
        let mut skipped = Vec::new();
        let inv = parse_ini_inventory(
            "# comment\n[prod]\nprod-server ansible_host=203.0.113.10 ansible_port=804 ansible_user=\"deploy\"\nweb[01:03]\n\n[prod:vars]\ntarget_env=prod\n\n[stack:children]\nprod\n",
            &mut skipped,
        );
        assert_eq!(skipped, vec!["web[01:03]"]);
        assert_eq!(inv.hosts_of("stack"), vec!["prod-server"]);
        assert_eq!(inv.chain("prod").unwrap(), vec!["all", "stack", "prod"]);
        let vars = &inv.hosts["prod-server"];
        assert!(vars.contains(&("ansible_port".into(), Val::Int(804))));
        assert!(vars.contains(&("ansible_user".into(), Val::Str("deploy".into()))));
    }
}
