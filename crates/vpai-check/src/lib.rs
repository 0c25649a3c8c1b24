//! `vpai check`: the seeds' production knowledge as rules over stack files.
//!
//! Every trap that the VPAI operators hit in production and that a file can show
//! (a healthcheck on `localhost`, a PG 18 volume at the old path, `rename-command`
//! in Redis 8, a heredoc status on the wrong line, ...) is a rule with an id, a
//! span, an explanation and, where it is mechanical, a fix. The checks run on the
//! files our renderer produces (with the mode and owner they will have) and on any
//! hand-written compose file, Caddyfile or service config.
//!
//! The log doctor (`doctor`) is the same knowledge read from the other side: from
//! a failing container's logs back to the cause.

mod checks;
pub mod doctor;
mod fix;
pub mod input;
pub mod inspect;
pub mod knowledge;
mod report;
pub mod rules;
mod source;
pub mod text;
pub mod yaml;

pub use fix::{AppliedFix, fix};
pub use inspect::{DockerInspector, ImageInspector};
pub use knowledge::Knowledge;
pub use report::{Edit, Finding, Fix, Report};
pub use rules::{Rule, Severity, explain};
pub use source::{FileKind, LoadError, Loaded, Skipped, SourceFile, detect_kind, load, load_paths};

/// How to run a check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Rule ids or names whose findings are dropped (`--allow VP101`).
    pub allow: Vec<String>,
    /// Ask the local Docker engine what images contain (`--inspect-images`).
    pub inspect_images: bool,
}

/// Check a set of files (one host's files: rules compare compose files together).
pub fn check_files(files: &[SourceFile], opts: &CheckOptions) -> Report {
    static KNOWLEDGE: std::sync::OnceLock<Knowledge> = std::sync::OnceLock::new();
    let knowledge = KNOWLEDGE.get_or_init(Knowledge::embedded);
    if opts.inspect_images {
        let inspector = DockerInspector::new();
        check_files_with(files, opts, knowledge, Some(&inspector))
    } else {
        check_files_with(files, opts, knowledge, None)
    }
}

/// Check with the facts of `catalog`: a stack's own (the shipped catalog plus its
/// `catalog/` folder), whose entries take precedence by name.
pub fn check_files_with_catalog(
    files: &[SourceFile],
    opts: &CheckOptions,
    catalog: &vpai_catalog::Catalog,
) -> Report {
    let knowledge = Knowledge::from_catalog(catalog);
    if opts.inspect_images {
        let inspector = DockerInspector::new();
        check_files_with(files, opts, &knowledge, Some(&inspector))
    } else {
        check_files_with(files, opts, &knowledge, None)
    }
}

/// The catalog for files checked on disk: the shipped one, plus the services of a
/// `catalog/` folder next to the checked files (in a directory given, or next to a
/// file given), which add or override entries by name.
pub fn catalog_for_paths(
    paths: &[std::path::PathBuf],
) -> Result<vpai_catalog::Catalog, vpai_catalog::CatalogError> {
    let mut catalog = vpai_catalog::Catalog::embedded();
    let mut seen = Vec::new();
    for path in paths {
        let dir = if path.is_dir() {
            path.as_path()
        } else {
            path.parent().unwrap_or(std::path::Path::new("."))
        };
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        let candidate = dir.join("catalog");
        if candidate.is_dir() && !seen.contains(&candidate) {
            catalog.load_dir(&candidate)?;
            seen.push(candidate);
        }
    }
    Ok(catalog)
}

/// `check_files` with explicit knowledge and image inspector (tests, custom catalogs).
pub fn check_files_with(
    files: &[SourceFile],
    opts: &CheckOptions,
    knowledge: &Knowledge,
    inspector: Option<&dyn ImageInspector>,
) -> Report {
    let patterns = knowledge.file_patterns();
    let parsed = files
        .iter()
        .enumerate()
        .map(|(i, f)| checks::Parsed::with_patterns(i, f, Some(&patterns)))
        .collect();
    let ctx = checks::Ctx::new(parsed, knowledge, inspector);
    let mut findings = Vec::new();
    checks::run(&ctx, &mut findings);
    // Secret values are never printed: masked in snippets, scrubbed from messages.
    let masks: Vec<report::Mask> = checks::secrets::spans(&ctx)
        .into_iter()
        .chain(checks::scripts::secret_spans(&ctx))
        .map(|(i, start, end)| report::Mask {
            path: files[i].path.clone(),
            start,
            end,
        })
        .collect();
    let secrets = report::secret_values(files, &masks);
    for f in &mut findings {
        report::scrub_finding(f, &secrets);
    }
    // `# vpai: allow RULE -- reason` on the finding's line or the line above.
    let mut suppressed = Vec::new();
    findings.retain(|f| match inline_allow_for(files, f) {
        Some(reason) => {
            suppressed.push(report::Suppressed {
                finding: f.clone(),
                reason: reason.map(|r| report::scrub(&r, &secrets)),
            });
            false
        }
        None => true,
    });
    let allowed: Vec<&'static Rule> = opts.allow.iter().filter_map(|a| rules::find(a)).collect();
    let before = findings.len();
    findings.retain(|f| !allowed.iter().any(|r| r.id == f.rule));
    let dropped = before - findings.len();
    let order: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    findings.sort_by(|a, b| {
        let pa = order.iter().position(|p| *p == a.path);
        let pb = order.iter().position(|p| *p == b.path);
        (pa, a.start, a.rule).cmp(&(pb, b.start, b.rule))
    });
    findings.dedup_by(|a, b| {
        a.rule == b.rule && a.path == b.path && a.start == b.start && a.message == b.message
    });
    Report {
        findings,
        files_checked: files.len(),
        allowed: dropped,
        suppressed,
        masks,
        secrets,
    }
}

/// The reason of an inline `# vpai: allow` comment that silences `f`, if one does.
fn inline_allow_for(files: &[SourceFile], f: &Finding) -> Option<Option<String>> {
    let rule = rules::find(f.rule)?;
    let file = files.iter().find(|s| s.path == f.path)?;
    let text = String::from_utf8_lossy(&file.text);
    let line = f.line.checked_sub(1)?;
    let mut lines = text.lines().skip(line.saturating_sub(1));
    let above = if line > 0 { lines.next() } else { None };
    let own = lines.next();
    own.and_then(|l| report::inline_allow(l, rule))
        .or_else(|| above.and_then(|l| report::inline_allow(l, rule)))
}

/// Rules named in `--allow` that do not exist (for a usage error).
pub fn unknown_rules(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| rules::find(n).is_none())
        .cloned()
        .collect()
}
