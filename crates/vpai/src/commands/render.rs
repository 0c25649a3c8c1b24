//! `vpai render`: every artifact for the host, written under `--out` or listed.

use crate::cli::RenderArgs;
use crate::printer::{Printer, table};
use crate::project::Project;
use std::path::Path;
use std::process::ExitCode;
use vpai_host::{Host, LocalHost};

pub fn run(args: RenderArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let store = project.secrets(printer)?;
    let rendered = project.render(&store)?;
    if project.lint(&rendered, &args.allow, printer)? {
        return Ok(ExitCode::from(1));
    }

    if let Some(out) = &args.out {
        let host = LocalHost;
        for dir in &rendered.dirs {
            host.ensure_dir(out, Path::new(&dir.path), dir.mode, dir.owner)?;
        }
        for art in &rendered.artifacts {
            host.write_file(
                out,
                Path::new(&art.path),
                &art.bytes,
                art.mode,
                art.owner,
                None,
            )?;
        }
        printer.success(&format!(
            "rendered {} files for `{}` into `{}`",
            rendered.artifacts.len(),
            project.stack.project,
            out.display()
        ));
    }
    if args.json {
        printer.out(&serde_json::to_string_pretty(&serde_json::json!({
            "project": project.stack.project,
            "root": project.stack.root,
            "files": rendered.artifacts.iter().map(|a| serde_json::json!({
                "path": a.path,
                "mode": format!("{:04o}", a.mode),
                "uid": a.owner.0,
                "gid": a.owner.1,
                "sha256": a.sha256(),
                "services": a.services,
                "secrets": a.secrets,
            })).collect::<Vec<_>>(),
        }))?);
    } else if args.out.is_none() {
        let rows: Vec<Vec<String>> = rendered
            .artifacts
            .iter()
            .map(|a| {
                vec![
                    a.path.clone(),
                    format!("{:04o}", a.mode),
                    format!("{}:{}", a.owner.0, a.owner.1),
                    a.bytes.len().to_string(),
                    a.services.join(","),
                ]
            })
            .collect();
        printer.out(&table(
            &["file", "mode", "owner", "bytes", "read by"],
            &rows,
        ));
        printer.info(&format!(
            "{} files for {} (use --out DIR to write them)",
            rendered.artifacts.len(),
            project.stack.root.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
