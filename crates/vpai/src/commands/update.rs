//! `vpai update SERVICE --version X`: move one service to another image tag. The tag is
//! pulled on the host first (nothing is written before it exists there); then the pin
//! goes into stack.toml (its comments and layout kept) and `vpai up` recreates the
//! service behind its health gate and smoke probes. A deploy that fails puts the
//! previous release back (image and files, as `up` does) and the previous pin back in
//! stack.toml. `vpai update --all --check` compares the stack's pins with the catalog's.

use crate::cli::{StackArgs, TargetArgs, UpArgs};
use crate::commands::target;
use crate::printer::Printer;
use crate::project::Project;
use anyhow::{Context, bail};
use clap::Args;
use std::process::ExitCode;
use vpai_spec::StackFile;

pub const EXAMPLES: &str = "Examples:
  vpai update n8n --version 2.8.0          # pull, pin in stack.toml, recreate, health + smoke gate
  vpai update --host prod litellm --version v1.82.0
  vpai update --all --check                # pins older (or newer) than the catalog's
  vpai update --all --check --json

The pin is `[services.NAME] version` in stack.toml, written with its comments kept. A tag
that cannot be pulled changes nothing; a deploy that fails is rolled back (the previous
image and files) and the previous pin is written back.";

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The service to move to another version.
    #[arg(value_name = "SERVICE", required_unless_present = "all")]
    pub service: Option<String>,
    /// The image tag to pin (as the image's registry spells it: `2.8.0`, `v1.82.0`).
    #[arg(long, value_name = "TAG", required_unless_present = "all")]
    pub version: Option<String>,
    /// Every service (with --check).
    #[arg(long, requires = "check", conflicts_with_all = ["service", "version"])]
    pub all: bool,
    /// Compare the stack's pins with the catalog's, change nothing.
    #[arg(long)]
    pub check: bool,
    /// Longest wait for the service to become healthy, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub timeout: u64,
    /// Skip the smoke probes after the health gate.
    #[arg(long)]
    pub no_probes: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: UpdateArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.check {
        return check(&args, printer);
    }
    let (Some(service), Some(version)) = (args.service.clone(), args.version.clone()) else {
        bail!("name a service and `--version TAG` (or `--all --check`)");
    };
    if args.stack.example {
        bail!(
            "the embedded example has no stack.toml to pin a version in\n  help: `vpai init` writes one"
        );
    }
    check_tag(&version)?;
    let project = Project::load(&args.stack)?;
    let svc = project.service(&service)?;
    if svc.local_image {
        bail!(
            "`{service}` runs `{}`, set in `[images]` of stack.toml: its version is that image's\n  help: change the image there",
            svc.image
        );
    }
    let current = tag_of(&svc.image).to_string();
    if current == version {
        printer.success(&format!(
            "`{service}` is already pinned at {version}: nothing to do"
        ));
        return Ok(ExitCode::SUCCESS);
    }

    // One writer of stack.toml at a time, from the read to the write back.
    let path = args.stack.file.clone();
    let _lock = lock_stack_file(&path)?;
    let before = StackFile::load(&path)?;
    let edited = pin(&before.source, &service, &version)
        .with_context(|| format!("editing `{}`", path.display()))?;
    // The edited text must make a valid stack before anything else happens.
    let mut project = Project::from_file(&args.stack, StackFile::parse(&path, edited.clone())?)?;

    // The tag must exist: pulled on the target before a byte is written anywhere.
    let target = target::connect(&mut project, &args.target, printer)?;
    let traced = printer.traced(target.host());
    let image = project
        .stack
        .service(&service)
        .map(|s| s.image.clone())
        .unwrap_or_default();
    printer.step(&format!("pulling {image} on `{}`", target.host().name()));
    if let Err(e) = vpai_deploy::resolve_images(&traced, &project.stack, printer) {
        printer.clear_services();
        printer.error_text(&printer.redact(&e.to_string()));
        printer.info(&format!(
            "nothing was changed: stack.toml keeps `{service}` at {current}"
        ));
        return Ok(ExitCode::from(1));
    }
    drop(target);
    printer.info(&format!(
        "stack.toml pins `{service}` at {version} (was {current})"
    ));
    let up = UpArgs {
        stack: args.stack.clone(),
        target: args.target.clone(),
        timeout: args.timeout,
        json: args.json,
        check: false,
        diff: false,
        no_rollback: false,
        no_probes: args.no_probes,
        install_docker: false,
        no_preflight: false,
        allow: Vec::new(),
        confirm_within: None,
    };
    deploy_edited(
        &path,
        &before.source,
        &edited,
        up,
        printer,
        &format!(
            "stack.toml pins `{service}` at {current} again (the update to {version} did not deploy)"
        ),
    )
}

/// One writer of stack.toml at a time, from the read to the write back: held until
/// the guard drops.
pub(crate) fn lock_stack_file(
    path: &std::path::Path,
) -> anyhow::Result<vpai_vault::fsutil::FileLock> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    vpai_vault::fsutil::lock(&dir.join(".stack.toml.lock"), path)
        .map_err(|e| anyhow::anyhow!("cannot lock `{}`: {e}", path.display()))
}

/// Write the edited stack.toml (atomically, its mode kept) and deploy it; when the
/// deploy does not succeed, the previous text goes back and `restored` says so. The
/// caller holds the stack.toml lock and has validated `edited`.
pub(crate) fn deploy_edited(
    path: &std::path::Path,
    before: &str,
    edited: &str,
    up: UpArgs,
    printer: &Printer,
    restored: &str,
) -> anyhow::Result<ExitCode> {
    let mode = file_mode(path);
    vpai_vault::fsutil::atomic_write(path, edited.as_bytes(), mode, None)
        .with_context(|| format!("writing `{}`", path.display()))?;
    let result = crate::commands::up::run(up, printer);
    let failed = !matches!(&result, Ok(code) if *code == ExitCode::SUCCESS);
    if failed {
        vpai_vault::fsutil::atomic_write(path, before.as_bytes(), mode, None)
            .with_context(|| format!("writing the previous text back into `{}`", path.display()))?;
        printer.info(restored);
    }
    result
}

/// The tag of an image reference (`postgres:18.1` -> `18.1`).
fn tag_of(image: &str) -> &str {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.rsplit_once(':').map_or("latest", |(_, t)| t)
}

/// A tag Docker accepts, pinned: never `latest` (it moves under the stack).
fn check_tag(tag: &str) -> anyhow::Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        bail!(
            "`{}` is not an image tag\n  help: letters, digits, `.`, `_` and `-`, at most 128, as the registry lists it (`2.8.0`, `v1.82.0`)",
            tag.escape_debug()
        );
    }
    if tag == "latest" {
        bail!(
            "`latest` is not a version: it moves under the stack and a rollback cannot find the old one\n  help: pin the tag `latest` stands for today"
        );
    }
    Ok(())
}

/// stack.toml with `[services.NAME] version = TAG` set, everything else as it was.
fn pin(text: &str, service: &str, tag: &str) -> anyhow::Result<String> {
    set_key(text, &["services", service], "version", tag)
}

/// stack.toml with `key = VALUE` set in the table at `path` (created when missing, the
/// intermediate ones implicit), everything else as it was: an existing value is
/// replaced in place, so the key's comments and the value's own stay.
pub(crate) fn set_key(text: &str, path: &[&str], key: &str, value: &str) -> anyhow::Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let mut table = doc.as_table_mut() as &mut dyn toml_edit::TableLike;
    for (i, name) in path.iter().enumerate() {
        let implicit = i + 1 < path.len();
        table = table
            .entry(name)
            .or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(implicit);
                toml_edit::Item::Table(t)
            })
            .as_table_like_mut()
            .ok_or_else(|| anyhow::anyhow!("`{}` is not a table", path[..=i].join(".")))?;
    }
    match table.get_mut(key).and_then(toml_edit::Item::as_value_mut) {
        Some(v) => {
            let decor = v.decor().clone();
            *v = toml_edit::Value::from(value);
            *v.decor_mut() = decor;
        }
        None => {
            table.insert(key, toml_edit::value(value));
        }
    }
    Ok(doc.to_string())
}

fn file_mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o777)
}

#[derive(serde::Serialize)]
struct Pin {
    service: String,
    pinned: String,
    catalog: String,
    state: &'static str,
}

fn check(args: &UpdateArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let pins: Vec<Pin> = project
        .stack
        .services
        .iter()
        .filter(|s| args.service.as_ref().is_none_or(|n| n == &s.name))
        .map(|s| {
            let catalog = s.def.version.clone();
            let (pinned, state) = if s.local_image {
                (s.image.clone(), "local image")
            } else {
                let pinned = tag_of(&s.image).to_string();
                let state = match compare_versions(&pinned, &catalog) {
                    std::cmp::Ordering::Equal => "the catalog's",
                    std::cmp::Ordering::Less => "older than the catalog's",
                    std::cmp::Ordering::Greater => "newer than the catalog's",
                };
                (pinned, state)
            };
            Pin {
                service: s.name.clone(),
                pinned,
                catalog,
                state,
            }
        })
        .collect();
    if args.json {
        printer.out(&serde_json::to_string_pretty(&pins)?);
    } else {
        let rows: Vec<Vec<String>> = pins
            .iter()
            .map(|p| {
                vec![
                    p.service.clone(),
                    p.pinned.clone(),
                    p.catalog.clone(),
                    p.state.to_string(),
                ]
            })
            .collect();
        printer.out(&crate::printer::table(
            &["service", "pinned", "catalog", "state"],
            &rows,
        ));
        let older: Vec<&str> = pins
            .iter()
            .filter(|p| p.state.starts_with("older"))
            .map(|p| p.service.as_str())
            .collect();
        if !older.is_empty() {
            printer.info(&format!(
                "older than the catalog: {} (`vpai update NAME --version TAG`)",
                older.join(", ")
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Tags compared by their numbers (`v1.81.3` < `1.82.0`, `18.1-bookworm` = `18.1-bookworm`);
/// what has no number is compared as text.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let numbers = |t: &str| -> Vec<u64> {
        t.trim_start_matches('v')
            .split(|c: char| !c.is_ascii_digit())
            .take_while(|p| !p.is_empty())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let (na, nb) = (numbers(a), numbers(b));
    if na.is_empty() || nb.is_empty() {
        return a.cmp(b);
    }
    na.cmp(&nb).then_with(|| {
        if a == b {
            std::cmp::Ordering::Equal
        } else {
            a.cmp(b)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_keeps_the_comments_and_the_rest_of_the_file() {
        let text = "# my stack\n[project]\nname = \"x\" # the name\ndomain = \"a.b\"\n\n[services.n8n]\n# why 2.7\nversion = \"2.7.3\"\nmemory = \"1G\"\n";
        let out = pin(text, "n8n", "2.8.0").unwrap();
        assert_eq!(out, text.replace("\"2.7.3\"", "\"2.8.0\""));
        let out = pin("[project]\nname = \"x\"\n", "redis", "8.2").unwrap();
        assert!(out.contains("[services.redis]\nversion = \"8.2\""), "{out}");
        let out = pin(
            "services.qdrant.memory = \"2G\"\n[project]\nname = \"x\"\n",
            "qdrant",
            "v1.17.0",
        )
        .unwrap();
        let doc: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(
            doc["services"]["qdrant"]["version"].as_str(),
            Some("v1.17.0")
        );
        assert_eq!(doc["services"]["qdrant"]["memory"].as_str(), Some("2G"));
    }

    #[test]
    fn tags_are_checked_and_latest_is_refused() {
        assert!(check_tag("2.8.0").is_ok());
        assert!(check_tag("18.1-bookworm").is_ok());
        for bad in ["", "latest", "-x", "a b", "1.0\n", "x:y", &"9".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_compare_by_their_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("v1.81.3", "v1.82.0"), Less);
        assert_eq!(compare_versions("2.10.0", "2.9.1"), Greater);
        assert_eq!(compare_versions("18.1-bookworm", "18.1-bookworm"), Equal);
        assert_eq!(tag_of("registry.example:443/org/img:1.2"), "1.2");
        assert_eq!(tag_of("postgres"), "latest");
    }
}
