//! The embedded example stack: every command that reads stack.toml accepts
//! `--example` instead, so a new operator can render and deploy before writing anything.

/// A core stack on `*.localhost` with Caddy's internal CA: runs on any machine with Docker.
pub const EXAMPLE: &str = r#"# vpai example stack: the core services on *.localhost, Caddy's internal CA.
[project]
name = "demo"
domain = "localhost"
profile = "core"
tls = "internal"
timezone = "Europe/Paris"
locale = "fr-FR"

[services.n8n]
subdomain = "n8n"

[services.litellm]
subdomain = "llm"
memory = "1536M"
"#;

/// What `--local-images` lays over the example: images built locally from
/// distribution packages, and what those images cannot do.
pub const EXAMPLE_LOCAL_IMAGES: &str = include_str!("example-local-images.toml");

/// `overlay`'s tables merged into `base` (tables recursively, other values replaced).
pub(crate) fn overlay(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => self::overlay(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}
