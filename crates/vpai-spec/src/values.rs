//! The grammar of every `stack.toml` value that ends up in a rendered file (compose
//! YAML, Caddyfile, postgresql.conf, env files). The stack file arrives through pull
//! requests: a value is accepted only when it cannot become a directive, a site, a key
//! or a line in another file's syntax. `vpai init` uses the same checks before it
//! writes anything.

use std::fmt;
use std::time::Duration;

/// Why a value is refused: what is wrong with it, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: String,
}

impl Refusal {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.help)
    }
}

impl std::error::Error for Refusal {}

/// Longest project name: it builds container, network and compose project names.
pub const MAX_PROJECT_NAME: usize = 32;
/// Longest domain name (RFC 1035, without the trailing dot).
pub const MAX_DOMAIN: usize = 253;
/// Longest DNS label.
pub const MAX_LABEL: usize = 63;
/// Docker refuses a memory limit below 6 MiB.
pub const MIN_MEMORY: u64 = 6 << 20;
/// No host this tool deploys to has more than 1 TiB for one container.
pub const MAX_MEMORY: u64 = 1 << 40;
/// Longest image reference we accept (Docker's own limit on the name is 255).
pub const MAX_IMAGE: usize = 512;
/// Longest environment variable name.
pub const MAX_ENV_KEY: usize = 128;
/// Longest environment value written by the operator.
pub const MAX_ENV_VALUE: usize = 4096;

/// A value as shown in an error message: at most 40 characters, control characters
/// escaped, so that a hostile value can neither flood nor drive the terminal.
pub fn shown(value: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first control character of a value, if any.
fn control_char(value: &str) -> Option<char> {
    value.chars().find(|c| c.is_control())
}

fn no_control(value: &str, what: &str) -> Result<(), Refusal> {
    match control_char(value) {
        Some(c) => Err(Refusal::new(
            format!(
                "{what} `{}` contains a control character ({})",
                shown(value),
                c.escape_default()
            ),
            "remove line breaks, tabs and other control characters: the value is written into configuration files",
        )),
        None => Ok(()),
    }
}

/// A TOML string literal of `value` (quotes included), escaped by the TOML serializer:
/// what `vpai init` writes, so that no value can end the string and add a key.
pub fn toml_str(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

/// `[project] name`: `[a-z][a-z0-9_-]*`, at most 32 characters.
pub fn check_project_name(name: &str) -> Result<(), Refusal> {
    let help = format!(
        "use lowercase letters, digits, `_` or `-`, starting with a letter, at most {MAX_PROJECT_NAME} characters (it names containers and /opt/<name>)"
    );
    if name.chars().count() > MAX_PROJECT_NAME {
        return Err(Refusal::new(
            format!(
                "the project name `{}` is longer than {MAX_PROJECT_NAME} characters",
                shown(name)
            ),
            help,
        ));
    }
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(Refusal::new(
            format!("`{}` is not a valid project name", shown(name)),
            help,
        ));
    }
    Ok(())
}

/// One DNS label: 1..=63 letters, digits or `-`, not starting or ending with `-`.
pub fn label_problem(label: &str) -> Option<&'static str> {
    if label.is_empty() {
        return Some("it has an empty label");
    }
    if label.len() > MAX_LABEL {
        return Some("a label is longer than 63 characters");
    }
    if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Some("only letters, digits, `-` and `.` are allowed");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some("a label starts or ends with `-`");
    }
    None
}

/// `[project] domain`: a DNS name of valid labels, at most 253 characters.
pub fn check_domain(domain: &str) -> Result<(), Refusal> {
    let bare = "write the bare domain, e.g. `example.com` (no scheme, no path, no port)";
    no_control(domain, "the domain")?;
    if domain.contains("://") || domain.contains('/') || domain.contains(':') {
        return Err(Refusal::new(
            format!("`{}` is not a domain name", shown(domain)),
            bare,
        ));
    }
    if domain.len() > MAX_DOMAIN {
        return Err(Refusal::new(
            format!(
                "the domain `{}` is longer than {MAX_DOMAIN} characters",
                shown(domain)
            ),
            "a DNS name has at most 253 characters",
        ));
    }
    if let Some(problem) = domain.split('.').find_map(label_problem) {
        return Err(Refusal::new(
            format!("`{}` is not a domain name: {problem}", shown(domain)),
            format!(
                "{bare}; each label has 1 to {MAX_LABEL} letters, digits or `-`, not at its start or end"
            ),
        ));
    }
    Ok(())
}

/// `[hosts] NAME`: what `--host` takes: letters, digits, `-`, `_` or `.`, starting with
/// a letter or a digit.
pub fn check_host_name(name: &str) -> Result<(), Refusal> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        return Ok(());
    }
    Err(Refusal::new(
        format!("`{}` is not a valid host name", shown(name)),
        "use letters, digits, `-`, `_` or `.` (it is what `--host` takes)",
    ))
}

/// A server's address as `vpai init` asks for it: an IP address or a DNS name, and
/// nothing else (no user, no port, no scheme: those are asked apart). stack.toml
/// itself also takes an alias of `~/.ssh/config` there.
pub fn check_host_address(address: &str) -> Result<(), Refusal> {
    let help = "a DNS name such as `vps.example.com` or an IP address such as `203.0.113.10` or `2001:db8::10`, alone: the user and the port are separate answers";
    no_control(address, "the address")?;
    if address.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let bad = |why: &str| {
        Err(Refusal::new(
            format!("`{}` is not a server address: {why}", shown(address)),
            help,
        ))
    };
    if address.is_empty() {
        return bad("it is empty");
    }
    if address.contains("://") || address.contains('/') {
        return bad("it is a URL or a path");
    }
    if address.contains('@') {
        return bad("it holds a user (`user@`)");
    }
    if address.contains(':') || address.contains('[') || address.contains(']') {
        return bad("it holds a port or brackets");
    }
    if address.len() > MAX_DOMAIN {
        return bad("it is longer than 253 characters");
    }
    if address.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return bad("it is not an IPv4 address (four numbers from 0 to 255)");
    }
    if let Some(problem) = address.split('.').find_map(label_problem) {
        return bad(problem);
    }
    Ok(())
}

/// The SSH login user `vpai init` writes: a login name of letters, digits, `_`, `.`
/// and `-`, starting with a letter or `_`, at most 32 characters.
pub fn check_ssh_user(user: &str) -> Result<(), Refusal> {
    let ok = (1..=32).contains(&user.len())
        && user.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if ok {
        return Ok(());
    }
    Err(Refusal::new(
        format!("`{}` is not a user name", shown(user)),
        "a login name such as `root` or `deploy`: letters, digits, `_`, `.` or `-`, starting with a letter, at most 32 characters",
    ))
}

/// A TCP port written as text: 1 to 65535.
pub fn check_port(text: &str) -> Result<u16, Refusal> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.chars().all(|c| c.is_ascii_digit()) => Ok(port),
        _ => Err(Refusal::new(
            format!("`{}` is not a TCP port", shown(text)),
            "a number from 1 to 65535 (22 unless sshd was moved)",
        )),
    }
}

/// `[services.X] subdomain`: one DNS label.
pub fn check_subdomain(sub: &str) -> Result<(), Refusal> {
    let help = "one label such as `n8n`: 1 to 63 letters, digits or `-`, not at its start or end (each service gets its own subdomain; sub-paths break n8n, LiteLLM and Qdrant)";
    if sub.contains('.') || sub.contains('/') {
        return Err(Refusal::new(
            format!("`{}` is not a subdomain label", shown(sub)),
            help,
        ));
    }
    if let Some(problem) = label_problem(sub) {
        return Err(Refusal::new(
            format!("`{}` is not a subdomain label: {problem}", shown(sub)),
            help,
        ));
    }
    Ok(())
}

/// `<sub>.<domain>` fits in a DNS name.
pub fn check_fqdn(sub: &str, domain: &str) -> Result<(), Refusal> {
    if sub.len() + 1 + domain.len() > MAX_DOMAIN {
        return Err(Refusal::new(
            format!(
                "`{}.{}` is longer than {MAX_DOMAIN} characters",
                shown(sub),
                shown(domain)
            ),
            "shorten the subdomain or the domain: a DNS name has at most 253 characters",
        ));
    }
    Ok(())
}

/// `[project] acme_email`: a conservative e-mail grammar. The local part holds letters,
/// digits and `._%+-` (no leading, trailing or doubled dot); the domain is a valid DNS
/// name. Nothing else: the address lands in the Caddyfile's global options, where a
/// space, a brace, a quote or a `#` changes the meaning of the file.
pub fn check_email(email: &str) -> Result<(), Refusal> {
    let help = "an address such as `ops@example.com`: letters, digits and `._%+-` before the `@`, a domain name after it";
    no_control(email, "the e-mail address")?;
    let bad = |why: &str| {
        Err(Refusal::new(
            format!("`{}` is not an e-mail address: {why}", shown(email)),
            help,
        ))
    };
    if email.len() > 254 {
        return bad("it is longer than 254 characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no `@`");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("the part before `@` must have 1 to 64 characters");
    }
    if !local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
    {
        return bad("only letters, digits and `._%+-` are allowed before the `@`");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("a dot cannot start, end or repeat in the part before `@`");
    }
    if domain.contains('@') {
        return bad("it has more than one `@`");
    }
    if domain.len() > MAX_DOMAIN || domain.split('.').any(|l| label_problem(l).is_some()) {
        return bad("the part after `@` is not a domain name");
    }
    Ok(())
}

/// `[project] timezone`: a name of the IANA time zone database. The list is chrono-tz's
/// (generated from the IANA data, kept up to date by its maintainers); the containers
/// and PostgreSQL read the same database.
pub fn check_timezone(tz: &str) -> Result<(), Refusal> {
    if tz.parse::<chrono_tz::Tz>().is_ok() {
        return Ok(());
    }
    let best = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| (strsim::jaro_winkler(tz, z.name()), z.name()))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let help = match best {
        Some((_, name)) => format!("did you mean `{name}`?"),
        None => "use a name of the IANA time zone database, such as `UTC`, `Europe/Paris` or `America/New_York`".into(),
    };
    Err(Refusal::new(
        format!("`{}` is not a known time zone", shown(tz)),
        help,
    ))
}

/// `[project] locale`: a BCP 47 tag for ICU (`fr-FR`, `en-US`, `de-CH-u-co-phonebk`):
/// subtags of 1 to 8 letters or digits joined by `-`.
pub fn check_locale(locale: &str) -> Result<(), Refusal> {
    let ok = !locale.is_empty()
        && locale.len() <= 64
        && locale.split('-').all(|sub| {
            (1..=8).contains(&sub.len()) && sub.chars().all(|c| c.is_ascii_alphanumeric())
        })
        && locale.starts_with(|c: char| c.is_ascii_alphabetic());
    if ok {
        return Ok(());
    }
    Err(Refusal::new(
        format!("`{}` is not an ICU locale", shown(locale)),
        "use a BCP 47 tag such as `fr-FR` or `en-US` (not `fr_FR.UTF-8`: the image has no system locales)",
    ))
}

/// `[services.X] version`: a pinned image tag, `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn check_version(version: &str) -> Result<(), Refusal> {
    if version == "latest" || version.is_empty() {
        return Err(Refusal::new(
            "the version is not pinned",
            "pin an exact tag (e.g. `2.7.3`): `latest` changes under you",
        ));
    }
    if !is_tag(version) {
        return Err(Refusal::new(
            format!("`{}` is not an image tag", shown(version)),
            "a tag has 1 to 128 letters, digits, `_`, `.` or `-`, and does not start with `.` or `-` (e.g. `2.7.3` or `18.1-bookworm`)",
        ));
    }
    Ok(())
}

fn is_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// A domain component of an image reference's registry (`registry.example.com`).
fn is_registry_host(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// A path component: lowercase letters and digits, separated by `.`, `_`, `__` or
/// any run of `-`.
fn is_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__`, or `-`+.
        let start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if bytes.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !bytes.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

/// `[images] X`: a Docker/OCI image reference,
/// `[registry[:port]/]path[:tag][@sha256:<64 hex>]`.
pub fn check_image(image: &str) -> Result<(), Refusal> {
    let help = "write it like `registry.example.com:5000/team/postgres:18.1-bookworm` or `mirror/redis:8` (lowercase path, optional tag, optional `@sha256:` digest)";
    let bad = || {
        Err(Refusal::new(
            format!("`{}` is not an image reference", shown(image)),
            help,
        ))
    };
    if image.is_empty() || image.len() > MAX_IMAGE {
        return bad();
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let Some(hex) = d.strip_prefix("sha256:") else {
            return bad();
        };
        if hex.len() != 64 || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            return bad();
        }
    }
    // The tag follows the last `:` that comes after the last `/` (a registry port
    // also has a `:`, before the first `/`).
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return bad();
    }
    if name.len() > 255 {
        return bad();
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    let has_registry = parts.len() > 1
        && (first.contains('.') || first.contains(':') || first == "localhost" || {
            first.chars().any(|c| c.is_ascii_uppercase())
        });
    if has_registry {
        let (host, port) = match first.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (first, None),
        };
        if !is_registry_host(host) {
            return bad();
        }
        if let Some(p) = port
            && (p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()))
        {
            return bad();
        }
        parts.remove(0);
    }
    if parts.is_empty() || !parts.iter().all(|p| is_path_component(p)) {
        return bad();
    }
    Ok(())
}

/// `[services.X] memory`: `512M`, `2G`, `1536m`, `64MB`, `4096K`, between 6M and 1 TiB.
pub fn check_memory(text: &str) -> Result<u64, Refusal> {
    let help = "write it like `512M` or `2G` (K, M or G), between 6M and 1024G";
    let Some(unit_at) = text.find(|c: char| !c.is_ascii_digit()) else {
        return Err(Refusal::new(
            format!("`{}` is not a memory size: it has no unit", shown(text)),
            help,
        ));
    };
    if unit_at == 0 || memory_unit(&text[unit_at..]).is_none() {
        return Err(Refusal::new(
            format!("`{}` is not a memory size", shown(text)),
            help,
        ));
    }
    match ByteSize::parse(text).map(|size| size.bytes()) {
        None => Err(Refusal::new(
            format!("`{}` is more memory than 1 TiB", shown(text)),
            help,
        )),
        Some(n) if n > MAX_MEMORY => Err(Refusal::new(
            format!("`{}` is more memory than 1 TiB", shown(text)),
            help,
        )),
        Some(n) if n < MIN_MEMORY => Err(Refusal::new(
            format!(
                "`{}` is below 6M, the least memory Docker gives a container",
                shown(text)
            ),
            help,
        )),
        Some(n) => Ok(n),
    }
}

fn memory_unit(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_uppercase().as_str() {
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return None,
    })
}

/// A size in bytes, as Compose and the catalog write memory: `512M`, `1536m`, `1g`,
/// `1.5G`, `64MB`, `512MiB`, `4096k`, or a plain number of bytes. The one parser of
/// sizes in vpai: stack.toml, the catalog's memory and floors, and the compose files
/// `vpai check` reads all go through it. Units are binary (`1K` is 1024 bytes, as in
/// Docker). It keeps the text it was written as, so that a value is rendered and
/// quoted back exactly as the operator or the catalog wrote it.
#[derive(Debug, Clone, Eq)]
pub struct ByteSize {
    bytes: u64,
    text: String,
}

impl ByteSize {
    /// None when `text` is not a size or does not fit in a u64.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let number_end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if number.contains('.') && (fraction.is_empty() || fraction.contains('.')) {
            return None;
        }
        let unit = unit.trim_start().to_ascii_lowercase();
        let unit = unit.strip_suffix('b').unwrap_or(&unit);
        let unit = unit.strip_suffix('i').unwrap_or(unit);
        let factor: u64 = match unit {
            "" => 1,
            "k" => 1 << 10,
            "m" => 1 << 20,
            "g" => 1 << 30,
            "t" => 1 << 40,
            _ => return None,
        };
        let mut bytes = whole.parse::<u64>().ok()?.checked_mul(factor)?;
        if !fraction.is_empty() {
            // Exact for the fractions people write (`1.5G`): digits * factor / 10^len.
            let digits = &fraction[..fraction.len().min(9)];
            let scale = 10u128.pow(digits.len() as u32);
            let part = digits.parse::<u128>().ok()? * u128::from(factor) / scale;
            bytes = bytes.checked_add(u64::try_from(part).ok()?)?;
        }
        Some(ByteSize {
            bytes,
            text: text.to_string(),
        })
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whole MiB, rounded down.
    pub fn mebibytes(&self) -> u64 {
        self.bytes >> 20
    }

    /// As it was written (`1536M`).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for ByteSize {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl PartialOrd for ByteSize {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByteSize {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        ByteSize::parse(text).ok_or_else(|| {
            format!(
                "`{}` is not a size: write it like `512M` or `2G`",
                shown(text)
            )
        })
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Bytes of a size (see [`ByteSize`]); None when it is not one or does not fit in a u64.
pub fn parse_memory(text: &str) -> Option<u64> {
    ByteSize::parse(text).map(|b| b.bytes())
}

/// `172.20.0.0/16` -> the first two octets (decimal, no sign, no more than 3 digits).
pub fn parse_subnet16(text: &str) -> Option<(u8, u8)> {
    let (addr, len) = text.split_once('/')?;
    if len != "16" {
        return None;
    }
    let octets: Vec<u8> = addr
        .split('.')
        .map(|o| {
            if o.is_empty() || o.len() > 3 || !o.chars().all(|c| c.is_ascii_digit()) {
                None
            } else {
                o.parse().ok()
            }
        })
        .collect::<Option<_>>()?;
    if octets.len() != 4 || octets[2] != 0 || octets[3] != 0 {
        return None;
    }
    Some((octets[0], octets[1]))
}

/// `[project] subnet`: an IPv4 /16 that Docker can route: not loopback, "this
/// network", link-local, multicast or reserved.
pub fn check_subnet(text: &str) -> Result<(u8, u8), Refusal> {
    let help =
        "use a private /16 such as `172.20.0.0/16` or `10.20.0.0/16`; the networks take a /24 each";
    let Some((a, b)) = parse_subnet16(text) else {
        return Err(Refusal::new(
            format!("`{}` is not an IPv4 /16", shown(text)),
            "write it like `172.20.0.0/16`; the networks take 172.20.1.0/24 .. 172.20.5.0/24",
        ));
    };
    let why = match (a, b) {
        (0, _) => Some("0.0.0.0/8 means \"this network\""),
        (127, _) => Some("127.0.0.0/8 is the loopback range"),
        (169, 254) => Some("169.254.0.0/16 is link-local"),
        (224..=239, _) => Some("224.0.0.0/4 is multicast"),
        (240..=255, _) => Some("240.0.0.0/4 is reserved"),
        _ => None,
    };
    match why {
        Some(why) => Err(Refusal::new(
            format!("`{}` cannot hold the stack's networks: {why}", shown(text)),
            help,
        )),
        None => Ok((a, b)),
    }
}

/// An address range (`100.64.0.0/10`, `fd7a:115c:a1e0::/48`) or one address: what Caddy's
/// `client_ip` matcher and `trusted_proxies` take. Parsed, so that no other text
/// reaches the Caddyfile.
pub fn check_cidr(text: &str) -> Result<(), Refusal> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let bad = || {
        Refusal::new(
            format!("`{}` is not an address range", shown(text)),
            "write it like `100.64.0.0/10` (a tailnet), `10.8.0.0/24` or one address",
        )
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    if let Some(len) = len {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if len.is_empty() || !len.chars().all(|c| c.is_ascii_digit()) || len.len() > 3 {
            return Err(bad());
        }
        let n: u32 = len.parse().map_err(|_| bad())?;
        if n > max {
            return Err(bad());
        }
        if n == 0 {
            return Err(Refusal::new(
                format!("`{}` is every address", shown(text)),
                "name the VPN's own range (a tailnet gives `100.64.0.0/10`)",
            ));
        }
    }
    Ok(())
}

/// A duration as operators write it: `30s`, `5m`, `1h`, `1d`, `1m30s` (never zero).
pub fn parse_duration(text: &str) -> Result<Duration, Refusal> {
    let refuse = || Refusal {
        message: format!("`{}` is not a duration", text.escape_debug()),
        help: "a number with a unit: `30s`, `15m`, `8h`, `1d` (or `1h30m`)".into(),
    };
    let mut total = 0u64;
    let mut digits = String::new();
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(refuse()),
        };
        let n: u64 = digits.parse().map_err(|_| refuse())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(refuse)?;
        digits.clear();
        any = true;
    }
    if !digits.is_empty() || !any || total == 0 {
        return Err(refuse());
    }
    Ok(Duration::from_secs(total))
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn check_env_key(key: &str) -> Result<(), Refusal> {
    let ok = !key.is_empty()
        && key.len() <= MAX_ENV_KEY
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        return Ok(());
    }
    Err(Refusal::new(
        format!("`{}` is not an environment variable name", shown(key)),
        format!(
            "letters, digits and `_`, not starting with a digit, at most {MAX_ENV_KEY} characters (e.g. `QDRANT__LOG_LEVEL`)"
        ),
    ))
}

/// An environment value as env files can carry it. The file single-quotes it, so `$`,
/// `"`, `#`, spaces and backslashes stay literal; what no env-file reader keeps
/// literal is refused: control characters (a line break would start a new variable),
/// a single quote, and a backslash at the end (it would escape the closing quote).
pub fn check_env_value(value: &str) -> Result<(), Refusal> {
    if value.len() > MAX_ENV_VALUE {
        return Err(Refusal::new(
            format!("the value is longer than {MAX_ENV_VALUE} bytes"),
            "long or multi-line settings belong in a configuration file, not in `env`",
        ));
    }
    if let Some(c) = control_char(value) {
        return Err(Refusal::new(
            format!(
                "the value `{}` contains a control character ({})",
                shown(value),
                c.escape_default()
            ),
            "an env file holds one line per variable: remove line breaks, tabs and other control characters",
        ));
    }
    if value.contains('\'') {
        return Err(Refusal::new(
            format!("the value `{}` contains a single quote", shown(value)),
            "env files quote values with `'`, and Compose versions disagree on how to escape one: leave it out",
        ));
    }
    if value.ends_with('\\') {
        return Err(Refusal::new(
            format!("the value `{}` ends with a backslash", shown(value)),
            "in an env file a final backslash escapes the closing quote: leave it out",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod byte_size_tests {
    use super::ByteSize;

    fn bytes(text: &str) -> Option<u64> {
        ByteSize::parse(text).map(|b| b.bytes())
    }

    #[test]
    fn the_spellings_compose_and_the_catalog_use() {
        assert_eq!(bytes("1536M"), Some(1536 << 20));
        assert_eq!(bytes("1536m"), Some(1536 << 20));
        assert_eq!(bytes("1g"), Some(1 << 30));
        assert_eq!(bytes("64MB"), Some(64 << 20));
        assert_eq!(bytes("512MiB"), Some(512 << 20));
        assert_eq!(bytes("1.5G"), Some(3 << 29));
        assert_eq!(bytes("4096"), Some(4096));
        assert_eq!(bytes("2 G"), Some(2 << 30));
    }

    #[test]
    fn what_is_not_a_size() {
        for text in ["", "M", "2X", "1..5G", "1.G", ".5G", "-1G", "1GG"] {
            assert_eq!(bytes(text), None, "{text:?}");
        }
        assert_eq!(bytes("17179869185G"), None, "overflow");
    }

    #[test]
    fn compares_by_bytes_and_keeps_its_text() {
        let a = ByteSize::parse("1024M").unwrap();
        let b = ByteSize::parse("1G").unwrap();
        assert_eq!(a, b);
        assert!(ByteSize::parse("512M").unwrap() < b);
        assert_eq!(a.to_string(), "1024M");
        assert_eq!(a.mebibytes(), 1024);
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    #[test]
    fn addresses_are_names_or_ips_alone() {
        for ok in [
            "203.0.113.10",
            "2001:db8::10",
            "vps.example.com",
            "prod",
            "my-vps-1.example.net",
        ] {
            check_host_address(ok).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            ("https://vps.example.com", "URL"),
            ("root@vps.example.com", "user"),
            ("vps.example.com:22", "port"),
            ("[2001:db8::10]", "brackets"),
            ("999.1.1.1", "IPv4"),
            ("-oProxyCommand=x", "letters"),
            ("-vps.example.com", "`-`"),
            ("vps example.com", "letters"),
            ("vps\n.example.com", "control"),
        ] {
            let err = check_host_address(bad).unwrap_err();
            assert!(err.message.contains(why), "{bad:?}: {}", err.message);
        }
    }

    #[test]
    fn users_ports_and_host_names() {
        for ok in ["root", "deploy", "_svc", "first.last", "ops-1"] {
            check_ssh_user(ok).unwrap();
        }
        for bad in ["", "-l", "1user", "a b", "a@b", &"u".repeat(33)] {
            check_ssh_user(bad).unwrap_err();
        }
        assert_eq!(check_port("22"), Ok(22));
        assert_eq!(check_port("65535"), Ok(65535));
        for bad in ["0", "65536", "+22", "-1", "", "22 ", "ssh"] {
            check_port(bad).unwrap_err();
        }
        check_host_name("main").unwrap();
        check_host_name("vps-1.prod").unwrap();
        for bad in ["", "-x", "a b", "a/b", "é"] {
            check_host_name(bad).unwrap_err();
        }
    }
}
