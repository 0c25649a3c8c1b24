//! What the rules know about an image, read from the catalog: its deployable
//! services and its facts-only entries (images vpai does not deploy yet). One
//! catalog for render, deploy, check and doctor.

use vpai_catalog::{ByteSize, Catalog, FactsOnlyDef, LintDef, TagStyle};

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
    pub memory_floor: Option<ByteSize>,
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
    /// The port its upstream listens on (`[lint] port`, else `[web] port`).
    pub port: Option<u16>,
    /// The entry's `[lint]` facts, read by the rules about one kind of service.
    pub lint: LintDef,
}

impl ImageFacts {
    /// How tags of `image` are spelled, and whether that is the repository's own
    /// spelling (`[lint] tag_styles`) rather than the entry's.
    pub fn tag_style_of(&self, image: &str) -> (Option<bool>, bool) {
        let repo = normalize_repo(image_repository(image));
        match self
            .lint
            .tag_styles
            .iter()
            .find(|(r, _)| normalize_repo(r) == repo)
        {
            Some((_, style)) => (Some(*style == TagStyle::V), true),
            None => (self.tag_v_prefix, false),
        }
    }
}

/// All image facts, looked up by image reference or by service name.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    images: Vec<ImageFacts>,
}

impl Knowledge {
    /// The facts of the catalog shipped with vpai.
    pub fn embedded() -> Self {
        Self::from_catalog(&Catalog::embedded())
    }

    /// The facts of every entry of `catalog`, deployable or facts-only. A stack's own
    /// catalog (shipped plus its `catalog/` folder) gives its entries precedence by name.
    pub fn from_catalog(catalog: &Catalog) -> Self {
        let mut images: Vec<ImageFacts> = catalog.services().map(from_service).collect();
        images.extend(catalog.facts_only().map(from_facts_only));
        Knowledge { images }
    }

    /// The `[lint] files` patterns of every entry, in service-name order: how a
    /// service's configuration files are recognised on disk.
    pub fn file_patterns(&self) -> Vec<vpai_catalog::FilePattern> {
        let mut named: Vec<(&str, &vpai_catalog::FilePattern)> = self
            .images
            .iter()
            .flat_map(|i| i.lint.files.iter().map(move |p| (i.service.as_str(), p)))
            .collect();
        named.sort_by_key(|(name, _)| *name);
        named.into_iter().map(|(_, p)| p.clone()).collect()
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

fn repositories(image: &str, lint: &LintDef) -> Vec<String> {
    std::iter::once(image)
        .chain(lint.repositories.iter().map(String::as_str))
        .map(normalize_repo)
        .collect()
}

fn tag_v_prefix(style: Option<TagStyle>) -> Option<bool> {
    style.map(|s| s == TagStyle::V)
}

fn from_facts_only(f: &FactsOnlyDef) -> ImageFacts {
    ImageFacts {
        service: f.name.clone(),
        repositories: repositories(&f.image, &f.lint),
        tools: (!f.tools.is_empty()).then(|| f.tools.clone()),
        distroless: f.distroless,
        uid: f.uid,
        gid: f.gid,
        memory_floor: f.memory_floor.clone(),
        cap_add: f.cap_add.clone(),
        tag_v_prefix: tag_v_prefix(f.lint.tag_style),
        tag_hint: f.tag_hint.clone(),
        pinned_version: None,
        init: f.init,
        egress: f.lint.egress.unwrap_or(false),
        websocket_ports: f.lint.websocket_ports.clone(),
        config_targets: Vec::new(),
        secret_configs: Vec::new(),
        port: f.lint.port,
        lint: f.lint.clone(),
    }
}

fn from_service(s: &vpai_catalog::ServiceDef) -> ImageFacts {
    let v = s.version.starts_with('v') && s.version[1..].starts_with(|c: char| c.is_ascii_digit());
    let plain = s.version.starts_with(|c: char| c.is_ascii_digit());
    ImageFacts {
        service: s.name.clone(),
        repositories: repositories(&s.image, &s.lint),
        tools: Some(s.tools.clone()),
        distroless: s.distroless,
        uid: s.uid,
        gid: s.gid,
        memory_floor: Some(s.memory_floor.clone()),
        cap_add: s.cap_add.clone(),
        tag_v_prefix: tag_v_prefix(s.lint.tag_style).or(if v {
            Some(true)
        } else if plain {
            Some(false)
        } else {
            None
        }),
        tag_hint: s.tag_hint.clone(),
        pinned_version: Some(s.version.clone()),
        init: s.init,
        egress: s
            .lint
            .egress
            .unwrap_or_else(|| s.networks.iter().any(|n| n == "egress")),
        websocket_ports: {
            let mut ports: Vec<u16> = s
                .web
                .iter()
                .filter(|w| w.websocket)
                .map(|w| w.port)
                .chain(s.lint.websocket_ports.iter().copied())
                .collect();
            ports.sort_unstable();
            ports.dedup();
            ports
        },
        config_targets: s.configs.iter().filter_map(|c| c.target.clone()).collect(),
        secret_configs: s
            .configs
            .iter()
            .filter(|c| c.secret)
            .map(|c| c.path.clone())
            .collect(),
        port: s.lint.port.or(s.web.as_ref().map(|w| w.port)),
        lint: s.lint.clone(),
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
    }

    /// The images vpai does not deploy yet keep their facts (from their folders).
    #[test]
    fn catalog_entries_of_the_whole_stack_feed_the_rules() {
        let k = Knowledge::embedded();
        let openclaw = k.by_image("ghcr.io/openclaw/openclaw:2026.2.22").unwrap();
        assert_eq!(openclaw.memory_floor.as_ref().unwrap().as_str(), "1536M");
        assert!(openclaw.init && openclaw.egress);
        assert_eq!(openclaw.websocket_ports, [18789]);
        assert_eq!(openclaw.tag_v_prefix, Some(false));
        let grafana = k.by_image("grafana/grafana-oss:12.0.0").unwrap();
        assert_eq!((grafana.service.as_str(), grafana.uid), ("grafana", 472));
        assert_eq!(
            k.by_image("gcr.io/cadvisor/cadvisor:v0.49.1")
                .unwrap()
                .service,
            "cadvisor"
        );
        let loki = k.by_service("loki").unwrap();
        assert!(loki.distroless && loki.tools.as_deref() == Some(&["loki".to_string()][..]));
    }
}
