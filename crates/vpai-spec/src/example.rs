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
