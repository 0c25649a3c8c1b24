//! `vpai check --fix`: apply the mechanical fixes carried by findings.

use crate::report::{Edit, Report};
use crate::source::SourceFile;
use serde::Serialize;

/// One fix that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedFix {
    pub path: String,
    pub rule: &'static str,
    pub line: usize,
    pub description: String,
}

/// Apply every fix whose edits do not overlap an earlier one; files are changed in
/// place (the caller writes them back). Run the check again for the rest.
pub fn fix(files: &mut [SourceFile], report: &Report) -> Vec<AppliedFix> {
    let mut applied = Vec::new();
    for file in files.iter_mut() {
        let mut taken: Vec<Edit> = Vec::new();
        for finding in report.findings.iter().filter(|f| f.path == file.path) {
            let Some(fix) = &finding.fix else { continue };
            let overlaps = fix.edits.iter().any(|e| {
                e.end > file.text.len()
                    || taken.iter().any(|t| {
                        (e.start < t.end && t.start < e.end)
                            || (e.start == t.start && e.end == t.end)
                    })
            });
            if overlaps || fix.edits.is_empty() {
                continue;
            }
            taken.extend(fix.edits.iter().cloned());
            applied.push(AppliedFix {
                path: file.path.clone(),
                rule: finding.rule,
                line: finding.line,
                description: fix.description.clone(),
            });
        }
        taken.sort_by_key(|e| std::cmp::Reverse((e.start, e.end)));
        for e in taken {
            file.text.splice(e.start..e.end, e.replacement);
        }
    }
    applied
}
