//! The service catalog: everything vpai knows about a service, kept as data.
//!
//! Each service is one TOML file under `catalog/` (embedded in the binary with
//! `include_str!`). An operator adds a custom service by dropping a file with the
//! same schema into a `catalog/` directory next to `stack.toml`. The seeds'
//! production knowledge (PG18 mount path, images without wget, `127.0.0.1` in
//! healthchecks, minimal capabilities, ...) lives in these files, not in `if`s.

mod schema;

pub use schema::*;

use std::collections::BTreeMap;
use std::path::Path;

/// The services shipped with vpai, one TOML document each.
const EMBEDDED: &[(&str, &str)] = &[
    ("postgresql", include_str!("../catalog/postgresql.toml")),
    ("redis", include_str!("../catalog/redis.toml")),
    ("qdrant", include_str!("../catalog/qdrant.toml")),
    ("caddy", include_str!("../catalog/caddy.toml")),
    ("n8n", include_str!("../catalog/n8n.toml")),
    ("litellm", include_str!("../catalog/litellm.toml")),
];

/// Named sets of services an operator can pick with `profile = "..."`.
pub const PROFILES: &[(&str, &[&str])] = &[(
    "core",
    &["postgresql", "redis", "qdrant", "caddy", "n8n", "litellm"],
)];

/// Error loading a catalog entry; carries the file and the TOML error (which has the span).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog entry `{file}` is invalid: {message}")]
    Invalid {
        file: String,
        source_text: String,
        message: String,
        span: Option<std::ops::Range<usize>>,
    },
    #[error(
        "catalog entry `{file}` declares service `{found}`, but its file name says `{expected}`"
    )]
    NameMismatch {
        file: String,
        expected: String,
        found: String,
    },
    #[error("cannot read catalog directory `{0}`: {1}")]
    Io(String, std::io::Error),
}

/// All known services, by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    services: BTreeMap<String, ServiceDef>,
}

impl Catalog {
    /// The catalog compiled into the binary. Panics only if a shipped file is invalid,
    /// which the unit tests rule out.
    pub fn embedded() -> Self {
        let mut catalog = Catalog::default();
        for (name, text) in EMBEDDED {
            let def = parse_entry(&format!("catalog/{name}.toml"), text)
                .unwrap_or_else(|e| panic!("embedded catalog entry {name} is invalid: {e}"));
            catalog.services.insert(def.name.clone(), def);
        }
        catalog
    }

    /// Add or replace entries from an operator's `catalog/` directory (`*.toml`).
    pub fn load_dir(&mut self, dir: &Path) -> Result<Vec<String>, CatalogError> {
        let mut added = Vec::new();
        let entries =
            fs_err::read_dir(dir).map_err(|e| CatalogError::Io(dir.display().to_string(), e))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = fs_err::read_to_string(&path)
                .map_err(|e| CatalogError::Io(path.display().to_string(), e))?;
            let def = parse_entry(&path.display().to_string(), &text)?;
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            if stem != def.name {
                return Err(CatalogError::NameMismatch {
                    file: path.display().to_string(),
                    expected: stem.into_owned(),
                    found: def.name,
                });
            }
            added.push(def.name.clone());
            self.services.insert(def.name.clone(), def);
        }
        Ok(added)
    }

    pub fn get(&self, name: &str) -> Option<&ServiceDef> {
        self.services.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    pub fn services(&self) -> impl Iterator<Item = &ServiceDef> {
        self.services.values()
    }

    /// The catalog entry whose image repository matches `image` (`postgres:18.1` -> postgresql).
    pub fn by_image(&self, image: &str) -> Option<&ServiceDef> {
        let repo = image_repository(image);
        self.services
            .values()
            .find(|s| image_repository(&s.image) == repo)
    }

    pub fn profile(name: &str) -> Option<&'static [&'static str]> {
        PROFILES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// `ghcr.io/org/img:tag@sha256:..` -> `ghcr.io/org/img`; `postgres` -> `postgres`.
pub fn image_repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// Parse one catalog document.
pub fn parse_entry(file: &str, text: &str) -> Result<ServiceDef, CatalogError> {
    toml::from_str::<ServiceDef>(text).map_err(|e| CatalogError::Invalid {
        file: file.to_string(),
        source_text: text.to_string(),
        message: e.message().to_string(),
        span: e.span(),
    })
}

#[cfg(test)]
mod tests;
