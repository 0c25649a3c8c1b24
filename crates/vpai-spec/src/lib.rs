//! `stack.toml`, the operator's one file: its schema, parsing with source spans, and
//! errors that point at file, line and column with a hint. No I/O beyond reading the
//! file; no knowledge of services (that is the catalog's and the model's job).

// A spec error carries the whole source text so it can be shown like rustc; it is
// built once, on the way out, so its size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

mod diagnostic;
mod example;
pub mod hardening;
mod schema;
mod ssh;
pub mod values;

pub use diagnostic::SpecError;
pub use example::{EXAMPLE, EXAMPLE_LOCAL_IMAGES};
pub use hardening::HardeningSpec;
pub use schema::*;
pub use ssh::{SSH_OPTIONS, check_ssh_option};
pub use values::{ByteSize, parse_memory, parse_subnet16};

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest stack.toml read: a real one is a few kilobytes. Reading stops there,
/// so a huge file (or `/dev/zero`) costs neither time nor memory.
pub const MAX_STACK_FILE: u64 = 1 << 20;

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
        let io = |message: String| SpecError::Io {
            path: path.display().to_string(),
            message,
        };
        let not_regular = || {
            io(
                "it is not a regular file (a stack file cannot be a directory, a FIFO or a device)"
                    .into(),
            )
        };
        // Checked before opening: opening a FIFO would wait for a writer.
        let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
        if !meta.is_file() {
            return Err(not_regular());
        }
        let file = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
        // The path may have been swapped between the two calls: check what was opened.
        if !file.metadata().map_err(|e| io(e.to_string()))?.is_file() {
            return Err(not_regular());
        }
        let mut bytes = Vec::new();
        file.take(MAX_STACK_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io(e.to_string()))?;
        if bytes.len() as u64 > MAX_STACK_FILE {
            return Err(io(format!(
                "it is larger than {} KiB; a stack file is a few kilobytes",
                MAX_STACK_FILE >> 10
            )));
        }
        let source =
            String::from_utf8(bytes).map_err(|e| io(format!("it is not UTF-8 text ({e})")))?;
        Self::parse(path, source)
    }

    pub fn example() -> Self {
        Self::parse(Path::new("<embedded example>"), EXAMPLE.to_string())
            .expect("the embedded example is valid")
    }

    /// The example on the images `scripts/test-env.sh` builds locally (no registry
    /// needed): [`EXAMPLE_LOCAL_IMAGES`] laid over [`EXAMPLE`].
    pub fn example_local_images() -> Self {
        let mut table: toml::Table = toml::from_str(EXAMPLE).expect("the example is TOML");
        let extra: toml::Table =
            toml::from_str(example::EXAMPLE_LOCAL_IMAGES).expect("the overlay is TOML");
        example::overlay(&mut table, extra);
        let text = format!(
            "# vpai example stack on locally built images\n{}",
            toml::to_string(&table).expect("a table serializes")
        );
        Self::parse(Path::new("<embedded example, local images>"), text)
            .expect("the example on local images is valid")
    }

    pub fn parse(path: &Path, source: String) -> Result<Self, SpecError> {
        if source.len() as u64 > MAX_STACK_FILE {
            return Err(SpecError::Io {
                path: path.display().to_string(),
                message: format!(
                    "it is larger than {} KiB; a stack file is a few kilobytes",
                    MAX_STACK_FILE >> 10
                ),
            });
        }
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
