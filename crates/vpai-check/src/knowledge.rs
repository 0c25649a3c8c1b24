//! What the rules know about an image: from `vpai-catalog` first, then from
//! `knowledge/images.toml` for images the catalog does not describe yet.

use serde::Deserialize;
use vpai_catalog::Catalog;

/// The facts a rule may ask about one image.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    /// Catalog service name (`postgresql`).
    pub service: String,
    /// Repositories, normalised (`ghcr.io/berriai/litellm`, `postgres`).
    pub repositories: Vec<String>,
    /// Programs in the image; `None` when unknown.
    pub tools: Option<Vec<String>>,
    pub distroless: bool,
    pub uid: u32,
    pub gid: u32,
    pub memory_floor: Option<(u64, String)>,
    /// Capabilities the service needs after `cap_drop: ALL`.
    pub cap_add: Vec<String>,
    /// `Some(true)`: tags start with `v`; `Some(false)`: they never do.
    pub tag_v_prefix: Option<bool>,
    pub tag_hint: Option<String>,
    pub pinned_version: Option<String>,
    pub init: bool,
    /// Calls external APIs (needs a non-internal network).
    pub egress: bool,
    /// Ports whose upstream speaks WebSocket.
    pub websocket_ports: Vec<u16>,
    /// Where the service reads its configuration files.
    pub config_targets: Vec<String>,
    /// Host paths (relative to the project root) of configs that hold secrets.
    pub secret_configs: Vec<String>,
}

/// All image facts, looked up by image reference or by service name.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    images: Vec<ImageFacts>,
}

#[derive(Deserialize)]
struct ExtraFile {
    image: Vec<ExtraImage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtraImage {
    service: String,
    repositories: Vec<String>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    distroless: bool,
    uid: u32,
    gid: u32,
    #[serde(default)]
    memory_floor: Option<String>,
    #[serde(default)]
    cap_add: Vec<String>,
    #[serde(default)]
    tag_style: Option<String>,
    #[serde(default)]
    tag_hint: Option<String>,
    #[serde(default)]
    init: bool,
    #[serde(default)]
    egress: bool,
    #[serde(default)]
    websocket_ports: Vec<u16>,
}

const EXTRA: &str = include_str!("../knowledge/images.toml");

impl Knowledge {
    /// The embedded catalog plus our stopgap table.
    pub fn embedded() -> Self {
        Self::from_catalog(&Catalog::embedded())
    }

    pub fn from_catalog(catalog: &Catalog) -> Self {
        let mut images: Vec<ImageFacts> = catalog.services().map(from_service).collect();
        let extra: ExtraFile = toml::from_str(EXTRA).expect("knowledge/images.toml is valid");
        for e in extra.image {
            if images.iter().any(|i| i.service == e.service) {
                continue;
            }
            images.push(ImageFacts {
                service: e.service,
                repositories: e.repositories.iter().map(|r| normalize_repo(r)).collect(),
                tools: (!e.tools.is_empty()).then_some(e.tools),
                distroless: e.distroless,
                uid: e.uid,
                gid: e.gid,
                memory_floor: e
                    .memory_floor
                    .as_deref()
                    .and_then(|m| parse_memory(m).map(|b| (b, m.to_string()))),
                cap_add: e.cap_add,
                tag_v_prefix: match e.tag_style.as_deref() {
                    Some("v") => Some(true),
                    Some("plain") => Some(false),
                    _ => None,
                },
                tag_hint: e.tag_hint,
                pinned_version: None,
                init: e.init,
                egress: e.egress,
                websocket_ports: e.websocket_ports,
                config_targets: Vec::new(),
                secret_configs: Vec::new(),
            });
        }
        Knowledge { images }
    }

    /// Facts for an image reference (`postgres:18.1`, `docker.io/library/redis`).
    pub fn by_image(&self, image: &str) -> Option<&ImageFacts> {
        let repo = normalize_repo(image_repository(image));
        let path = strip_registry(&repo);
        self.images
            .iter()
            .find(|i| i.repositories.contains(&repo))
            .or_else(|| {
                self.images
                    .iter()
                    .find(|i| i.repositories.iter().any(|r| strip_registry(r) == path))
            })
    }

    /// Facts for a service name (`litellm`), for rules about the application itself.
    pub fn by_service(&self, name: &str) -> Option<&ImageFacts> {
        self.images.iter().find(|i| i.service == name)
    }

    pub fn all(&self) -> &[ImageFacts] {
        &self.images
    }
}

fn from_service(s: &vpai_catalog::ServiceDef) -> ImageFacts {
    let v = s.version.starts_with('v') && s.version[1..].starts_with(|c: char| c.is_ascii_digit());
    let plain = s.version.starts_with(|c: char| c.is_ascii_digit());
    ImageFacts {
        service: s.name.clone(),
        repositories: vec![normalize_repo(&s.image)],
        tools: Some(s.tools.clone()),
        distroless: s.distroless,
        uid: s.uid,
        gid: s.gid,
        memory_floor: parse_memory(&s.memory_floor).map(|b| (b, s.memory_floor.clone())),
        cap_add: s.cap_add.clone(),
        tag_v_prefix: if v {
            Some(true)
        } else if plain {
            Some(false)
        } else {
            None
        },
        tag_hint: s.tag_hint.clone(),
        pinned_version: Some(s.version.clone()),
        init: s.init,
        egress: s.networks.iter().any(|n| n == "egress"),
        websocket_ports: s
            .web
            .iter()
            .filter(|w| w.websocket)
            .map(|w| w.port)
            .collect(),
        config_targets: s.configs.iter().filter_map(|c| c.target.clone()).collect(),
        secret_configs: s
            .configs
            .iter()
            .filter(|c| c.secret)
            .map(|c| c.path.clone())
            .collect(),
    }
}

/// `ghcr.io/org/img:tag@sha256:..` -> `ghcr.io/org/img`.
pub fn image_repository(image: &str) -> &str {
    vpai_catalog::image_repository(image)
}

/// The tag of an image reference, if any (`postgres:18.1@sha256:..` -> `18.1`).
pub fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => Some(&no_digest[i + 1..]),
        _ => None,
    }
}

/// Lower-case, without `docker.io/` and `library/`.
pub fn normalize_repo(repo: &str) -> String {
    let mut r = repo.trim().to_ascii_lowercase();
    for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = r.strip_prefix(prefix) {
            r = rest.to_string();
        }
    }
    if let Some(rest) = r.strip_prefix("library/") {
        r = rest.to_string();
    }
    r
}

/// `ghcr.io/org/img` -> `org/img`; `org/img` unchanged.
fn strip_registry(repo: &str) -> &str {
    match repo.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => repo,
    }
}

/// `1536M`, `1g`, `512MiB`, `1073741824` -> bytes.
pub fn parse_memory(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let number: f64 = t[..digits_end].parse().ok()?;
    let unit = t[digits_end..]
        .trim()
        .trim_end_matches("ib")
        .trim_end_matches('b');
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let k = Knowledge::embedded();
        assert_eq!(
            k.by_image("postgres:18.1-bookworm").unwrap().service,
            "postgresql"
        );
        assert_eq!(
            k.by_image("docker.io/library/redis:8").unwrap().service,
            "redis"
        );
        assert_eq!(k.by_image("n8nio/n8n:2.7.3").unwrap().service, "n8n");
        assert_eq!(k.by_image("grafana/loki:3.6.5").unwrap().service, "loki");
        assert!(k.by_image("alpine:3").is_none());
        assert_eq!(image_tag("ghcr.io/a/b:1.2@sha256:00"), Some("1.2"));
        assert_eq!(image_tag("localhost:5000/a"), None);
        assert_eq!(parse_memory("1536M"), Some(1536 * 1024 * 1024));
        assert_eq!(parse_memory("1g"), Some(1024 * 1024 * 1024));
    }
}
