//! Errors about `stack.toml`, rendered like rustc by miette: file, line, column,
//! the offending text underlined, and a hint.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::path::Path;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SpecError {
    #[error("cannot read `{path}`: {message}")]
    #[diagnostic(
        code(vpai::spec::io),
        help("create one with `vpai init`, or try `--example`")
    )]
    Io { path: String, message: String },

    #[error("{message}")]
    #[diagnostic(code(vpai::spec::invalid))]
    Invalid {
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
        /// `path:line:column`, for plain-text and JSON output.
        location: String,
    },
}

impl SpecError {
    pub fn invalid(
        path: &Path,
        source: &str,
        span: std::ops::Range<usize>,
        message: String,
        help: String,
    ) -> Self {
        let (line, col) = line_col(source, span.start);
        SpecError::Invalid {
            location: format!("{}:{line}:{col}", path.display()),
            message,
            src: NamedSource::new(path.display().to_string(), source.to_string()),
            span: (span.start, span.end.saturating_sub(span.start)).into(),
            help: (!help.is_empty()).then_some(help),
        }
    }

    pub fn from_toml(path: &Path, source: &str, err: &toml::de::Error) -> Self {
        let span = err.span().unwrap_or(0..0);
        let message = err.message().trim().to_string();
        let help = unknown_field_hint(&message).unwrap_or_default();
        Self::invalid(path, source, span, message, help)
    }

    /// `path:line:column` of the problem, when there is one.
    pub fn location(&self) -> Option<&str> {
        match self {
            SpecError::Invalid { location, .. } => Some(location),
            SpecError::Io { .. } => None,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|i| before[i + 1..].chars().count())
        .unwrap_or_else(|| before.chars().count())
        + 1;
    (line, col)
}

/// toml says "unknown field `nmae`, expected one of `name`, `domain`, ...": suggest the closest.
fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (typo, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let best = expected
        .iter()
        .map(|e| (strsim::jaro_winkler(typo, e), *e))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Some(match best {
        Some((_, e)) => format!("did you mean `{e}`?"),
        None => format!("valid keys here: {}", expected.join(", ")),
    })
}
