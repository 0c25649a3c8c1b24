//! The log doctor: match a service's recent logs against the failure signatures of
//! the catalog (each service folder's `[[doctor]]`, plus `doctor.toml` for what any
//! container may show), and say the cause and the fix (with the rule that prevents it).

use serde::Serialize;
use vpai_catalog::{Catalog, SignatureDef};

/// One known failure found in the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// Stable id of the symptom (`volume-permission`).
    pub symptom: String,
    pub cause: String,
    pub fix: String,
    /// The `vpai check` rule that catches it before deploy, if any.
    pub rule: Option<String>,
    /// Where our own documents tell the incident: kept for traceability, never shown
    /// (operators read the rule and `vpai check --explain`).
    #[serde(skip)]
    pub seed: String,
    /// The first log line that matched, and its 1-based number.
    pub evidence: String,
    pub line: usize,
}

/// The signatures to try, in order: the service's own folder's, then the other
/// folders' (shipped order), then the ones any container may show, so that the more
/// specific explanation of a line wins. `only_this_service` signatures apply when
/// the service name contains the folder's name (`javisi_openclaw` is OpenClaw).
fn signatures<'c>(catalog: &'c Catalog, service: &str) -> Vec<&'c SignatureDef> {
    let per_service = catalog
        .services()
        .map(|s| (s.name.as_str(), &s.doctor))
        .chain(catalog.facts_only().map(|f| (f.name.as_str(), &f.doctor)));
    // The service's own folder first: a line gets one explanation, the first that
    // matches, and its own is the most specific; then the other folders' unscoped
    // ones; then the common ones.
    let (mut own, mut others) = (Vec::new(), Vec::new());
    for (name, list) in per_service {
        let mine = service.contains(name);
        let list = list.iter().filter(|sig| !sig.only_this_service || mine);
        if mine {
            own.extend(list);
        } else {
            others.extend(list);
        }
    }
    own.extend(others);
    own.extend(catalog.common_signatures());
    own
}

/// Match the logs of `service` against the failures the shipped catalog knows.
pub fn diagnose(service: &str, logs: &str) -> Vec<Diagnosis> {
    diagnose_with(&Catalog::embedded(), service, logs)
}

/// Match the logs of `service` against the failures `catalog` knows (the shipped one
/// plus a stack's own `catalog/`). One diagnosis per symptom, with the first line
/// that shows it, and at most one per line.
pub fn diagnose_with(catalog: &Catalog, service: &str, logs: &str) -> Vec<Diagnosis> {
    let service = service.to_ascii_lowercase();
    let mut out: Vec<Diagnosis> = Vec::new();
    let lines: Vec<(usize, String, &str)> = logs
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.to_ascii_lowercase(), l))
        .collect();
    for s in signatures(catalog, &service) {
        if out.iter().any(|d| d.symptom == s.id) {
            continue;
        }
        let needles: Vec<String> = s.all.iter().map(|n| n.to_ascii_lowercase()).collect();
        if let Some((n, _, original)) = lines
            .iter()
            .find(|(_, lower, _)| needles.iter().all(|needle| lower.contains(needle)))
        {
            // One explanation per line: the signature tried first (the service folders',
            // then the common ones) is the more specific, and a generic one (`permission
            // denied`) would only repeat it with a wrong cause.
            if out.iter().any(|d| d.line == *n) {
                continue;
            }
            out.push(Diagnosis {
                symptom: s.id.clone(),
                cause: s.cause.clone(),
                fix: s.fix.clone(),
                rule: s.rule.clone(),
                seed: s.seed.clone(),
                evidence: original.trim().chars().take(300).collect(),
                line: *n,
            });
        }
    }
    out.sort_by_key(|d| d.line);
    out
}

/// Diagnoses of several services as JSON (`vpai doctor --json`): an array of
/// `{service, diagnoses}`, with no raw terminal control in its strings.
pub fn to_json(results: &[(String, Vec<Diagnosis>)]) -> String {
    let value: Vec<_> = results
        .iter()
        .map(|(service, diagnoses)| serde_json::json!({ "service": service, "diagnoses": diagnoses }))
        .collect();
    crate::text::escape_json_for_terminal(serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// How many distinct symptoms the doctor knows (shipped catalog).
pub fn known_symptoms() -> usize {
    let catalog = Catalog::embedded();
    let mut ids: Vec<&str> = signatures(&catalog, "")
        .into_iter()
        .chain(
            catalog
                .services()
                .flat_map(|s| &s.doctor)
                .chain(catalog.facts_only().flat_map(|f| &f.doctor)),
        )
        .map(|s| s.id.as_str())
        .collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

/// Human text for a list of diagnoses. The service name and the log lines quoted
/// are untrusted: terminal controls in them are shown as escapes, not sent.
pub fn render(service: &str, diagnoses: &[Diagnosis]) -> String {
    use crate::text::sanitize_for_terminal;
    use std::fmt::Write as _;
    let service = sanitize_for_terminal(service);
    let mut out = String::new();
    if diagnoses.is_empty() {
        let _ = writeln!(out, "no known failure in the logs of `{service}`");
        return out;
    }
    for d in diagnoses {
        let rule = d
            .rule
            .as_ref()
            .map(|r| format!(" [{r}]"))
            .unwrap_or_default();
        let _ = writeln!(out, "{service}: {}{rule}", d.symptom);
        let _ = writeln!(
            out,
            "  log line {}: {}",
            d.line,
            sanitize_for_terminal(&d.evidence)
        );
        let _ = writeln!(out, "  cause: {}", d.cause);
        let _ = writeln!(out, "  fix: {}", d.fix);
        out.push('\n');
    }
    out
}
