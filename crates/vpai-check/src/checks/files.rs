//! File mode and owner rules (seed 000 #20): configs the container cannot read,
//! secrets everyone can read.

use super::compose::services;
use super::{Ctx, Parsed};
use crate::report::Finding;
use crate::rules::{self, Severity};
use crate::source::FileKind;

pub fn check<'a>(ctx: &'a Ctx<'a>, out: &mut Vec<Finding>) {
    let all = services(ctx);
    // Files that hold secrets: env files, ACL files, env files named by `env_file:`,
    // and the catalog's secret configs.
    let mut secret_files: Vec<usize> = Vec::new();
    for f in &ctx.files {
        let secret_by_catalog = ctx.knowledge.all().iter().any(|k| {
            k.secret_configs
                .iter()
                .any(|p| f.file.path.replace('\\', "/").ends_with(p.as_str()))
        });
        if matches!(f.kind, FileKind::Env | FileKind::RedisAcl) || secret_by_catalog {
            secret_files.push(f.index);
        }
    }
    for svc in &all {
        for (path, _) in svc.env_files() {
            if let Some(p) = ctx.resolve(svc.file.file.dir(), &path) {
                secret_files.push(p.index);
            }
        }
    }
    secret_files.sort();
    secret_files.dedup();
    for idx in secret_files {
        let f = &ctx.files[idx];
        if let Some(mode) = f.file.mode
            && mode & 0o004 != 0
            && !is_template(f.path())
        {
            let holds = holds_real_secret(f);
            if holds == Holds::Nothing {
                continue;
            }
            let mut finding = world_readable(f, mode);
            if holds == Holds::Placeholders {
                finding = finding
                    .with_severity(Severity::Warning)
                    .with_help("its secret values are placeholders; make sure the copy with the real values is `chmod 0600` on the host");
            } else {
                match copy_kind(f.path()) {
                    // What vpai renders or deploys: this is the copy the host uses.
                    Copy::Render | Copy::DeployRoot => {}
                    // git records 644 or 755 only: the mode of a checkout says
                    // nothing about the deployed copy.
                    Copy::GitCheckout => {
                        finding = finding
                            .with_severity(Severity::Warning)
                            .with_help("this copy is in a git work tree, whose modes are 644 or 755; make sure the deployed copy is `chmod 0600`");
                    }
                    // A copy elsewhere (a template rendered by another tool, a
                    // backup): whether the host reads this one is not known.
                    Copy::Elsewhere => {
                        finding = finding
                            .with_severity(Severity::Warning)
                            .with_help("if this is the copy the host uses, `chmod 0600` it; the tool that deploys it must write it 0600 too");
                    }
                }
            }
            out.push(finding);
        }
    }

    // Mounted configs the container's user cannot read.
    for svc in &all {
        let Some((uid, gid)) = svc.runs_as(ctx) else {
            continue;
        };
        let root_bypasses = uid == 0
            && (!svc.cap_drop_all()
                || svc
                    .cap_add()
                    .iter()
                    .any(|c| c == "DAC_OVERRIDE" || c == "DAC_READ_SEARCH"));
        if root_bypasses {
            continue;
        }
        for m in svc.mounts() {
            let Some(src) = &m.source else { continue };
            if !m.bind {
                continue;
            }
            let Some(file) = ctx.resolve(svc.file.file.dir(), src) else {
                continue;
            };
            let (Some(mode), Some((owner_uid, owner_gid))) = (file.file.mode, file.file.owner)
            else {
                continue;
            };
            let readable = (owner_uid == uid && mode & 0o400 != 0)
                || (gid == Some(owner_gid) && mode & 0o040 != 0)
                || mode & 0o004 != 0;
            if !readable {
                out.push(svc.file.at(
                    rules::CONFIG_UNREADABLE,
                    m.node,
                    format!(
                        "`{}` (mode {:04o}, owner {owner_uid}:{owner_gid}) cannot be read by `{}` running as UID {uid}{}",
                        file.path(),
                        mode,
                        svc.name,
                        gid.map(|g| format!(" GID {g}")).unwrap_or_default()
                    ),
                ).with_help(format!(
                    "`chown {uid}:{} {}` and `chmod 0640`",
                    gid.unwrap_or(uid),
                    file.path()
                )));
            }
        }
    }
}

fn world_readable(f: &Parsed, mode: u32) -> Finding {
    let end = f.text.find('\n').unwrap_or(f.text.len()).min(1);
    f.finding(
        rules::SECRET_WORLD_READABLE,
        0,
        end,
        format!(
            "`{}` holds secrets and has mode {mode:04o}: every user of the host can read it",
            f.path()
        ),
    )
    .with_help(if f.kind == FileKind::Env {
        "`chmod 0600` (Docker reads env files as root)".to_string()
    } else {
        "`chmod 0640` and give it to the container's UID:GID".to_string()
    })
}

/// A template meant to be copied (`.env.example`, `env.sample`, `config.yml.dist`):
/// it holds no deployed secret whatever its mode.
pub(crate) fn is_template(path: &str) -> bool {
    let name = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    const MARKS: &[&str] = &["example", "sample", "dist", "template", "tmpl", "tpl"];
    name.split(['.', '-', '_'])
        .skip(usize::from(!name.starts_with('.')))
        .any(|part| MARKS.contains(&part))
}

#[derive(Debug, PartialEq, Eq)]
enum Holds {
    Nothing,
    Placeholders,
    Secrets,
}

/// What the secret-named values of an env file are: nothing, placeholders or empty
/// and references only, or at least one value that may be real. Other kinds of
/// secret files (ACL, catalog secret configs) count as holding secrets.
fn holds_real_secret(f: &Parsed) -> Holds {
    if f.kind != FileKind::Env {
        return Holds::Secrets;
    }
    let mut holds = Holds::Nothing;
    for e in super::parse_env(&f.text) {
        if !super::is_secret_name(&e.key) {
            continue;
        }
        match super::secret_value_kind(&e.value) {
            super::ValueKind::Secret => return Holds::Secrets,
            super::ValueKind::Placeholder => holds = Holds::Placeholders,
            super::ValueKind::NotSecret => {}
        }
    }
    holds
}

/// Where a checked file lies, which says whether its mode is the deployed one.
#[derive(Debug, PartialEq, Eq)]
enum Copy {
    /// Not on disk: rendered in memory, with the mode vpai writes.
    Render,
    /// Under a vpai project root (a `.vpai` directory above it).
    DeployRoot,
    /// In a git work tree (a `.git` above it).
    GitCheckout,
    Elsewhere,
}

fn copy_kind(path: &str) -> Copy {
    let path = std::path::Path::new(path);
    if std::fs::symlink_metadata(path).is_err() {
        return Copy::Render;
    }
    let Ok(cwd) = std::env::current_dir() else {
        return Copy::Elsewhere;
    };
    let full = cwd.join(path);
    for dir in full.ancestors().skip(1) {
        let is_dir = |name: &str| {
            std::fs::symlink_metadata(dir.join(name)).is_ok_and(|m| m.file_type().is_dir())
        };
        if is_dir(".vpai") {
            return Copy::DeployRoot;
        }
        if std::fs::symlink_metadata(dir.join(".git")).is_ok() {
            return Copy::GitCheckout;
        }
    }
    Copy::Elsewhere
}
