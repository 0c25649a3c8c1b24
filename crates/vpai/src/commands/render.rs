//! `vpai render`: every artifact for the host, written under `--out` or listed.

use crate::cli::RenderArgs;
use crate::printer::{Printer, table};
use crate::project::Project;
use std::path::Path;
use std::process::ExitCode;
use vpai_host::{Host, LocalHost};

pub fn run(args: RenderArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(&args.stack)?;
    let swarm = match args.engine {
        Some(crate::cli::RenderEngine::Swarm) => true,
        Some(crate::cli::RenderEngine::Compose) => {
            project.stack.swarm = None;
            false
        }
        None => project.stack.swarm.is_some(),
    };
    if swarm && project.stack.swarm.is_none() {
        // A compose stack seen as a swarm: its first host (or this machine) manages it.
        project.stack.swarm = Some(vpai_model::SwarmSettings {
            manager: project
                .stack
                .hosts
                .first()
                .map_or("local".to_string(), |h| h.name.clone()),
            encrypt: true,
        });
    }
    let store = project.secrets(printer)?;
    let mut rendered = project.render(&store)?;
    if project.lint(&rendered, &args.allow, printer)? {
        return Ok(ExitCode::from(1));
    }
    let mut objects = Vec::new();
    if swarm {
        // The images (entrypoints, digests) are read from this machine's engine.
        let images = vpai_deploy::swarm::image_configs(&LocalHost, &project.stack, false)?;
        let sw = vpai_render::swarm::render_swarm(
            &project.stack,
            &store,
            &project.templates,
            &rendered,
            &images,
        )?;
        for note in &sw.notes {
            printer.info(note);
        }
        for svc in &project.stack.services {
            if !sw.images.contains_key(&svc.name) {
                printer.info(&format!(
                    "{}: `{}` is not on this machine, so it is named, not pinned; `vpai up` pins every image to what the manager holds",
                    svc.name, svc.image
                ));
            }
        }
        objects = sw.objects;
        rendered = sw.files;
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
            "swarm_objects": objects.iter().map(|o| serde_json::json!({
                "name": o.name,
                "kind": o.kind,
                "holds": o.key,
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
        if !objects.is_empty() {
            let rows: Vec<Vec<String>> = objects
                .iter()
                .map(|o| vec![o.name.clone(), o.kind.as_str().to_string(), o.key.clone()])
                .collect();
            printer.out(&table(&["swarm object", "kind", "holds"], &rows));
        }
        printer.info(&format!(
            "{} files for {} (use --out DIR to write them)",
            rendered.artifacts.len(),
            project.stack.root.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
