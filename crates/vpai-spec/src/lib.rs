//! `stack.toml`, the operator's one file: its schema, parsing with source spans, and
//! errors that point at file, line and column with a hint. No I/O beyond reading the
//! file; no knowledge of services (that is the catalog's and the model's job).

// A spec error carries the whole source text so it can be shown like rustc; it is
// built once, on the way out, so its size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

mod diagnostic;
mod example;
mod schema;

pub use diagnostic::SpecError;
pub use example::EXAMPLE;
pub use schema::*;

use std::path::{Path, PathBuf};

/// A parsed `stack.toml` with the source kept for later diagnostics.
#[derive(Debug, Clone)]
pub struct StackFile {
    /// Where it came from (`<embedded example>` for `--example`).
    pub path: PathBuf,
    pub source: String,
    pub spec: StackSpec,
}

impl StackFile {
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let source = fs_err::read_to_string(path).map_err(|e| SpecError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(path, source)
    }

    pub fn example() -> Self {
        Self::parse(Path::new("<embedded example>"), EXAMPLE.to_string())
            .expect("the embedded example is valid")
    }

    pub fn parse(path: &Path, source: String) -> Result<Self, SpecError> {
        let spec: StackSpec =
            toml::from_str(&source).map_err(|e| SpecError::from_toml(path, &source, &e))?;
        spec.validate().map_err(|(span, message, help)| {
            SpecError::invalid(path, &source, span, message, help)
        })?;
        Ok(StackFile {
            path: path.to_path_buf(),
            source,
            spec,
        })
    }

    /// An error about a value of this file (used by the model for catalog-level checks).
    pub fn error_at(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> SpecError {
        SpecError::invalid(&self.path, &self.source, span, message.into(), help.into())
    }

    /// Directory holding stack.toml (state lives in `<dir>/.vpai`).
    pub fn dir(&self) -> PathBuf {
        if self.path.starts_with("<") {
            PathBuf::from(".")
        } else {
            self.path
                .parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        p.to_path_buf()
                    }
                })
                .unwrap_or_else(|| PathBuf::from("."))
        }
    }
}

#[cfg(test)]
mod tests;
