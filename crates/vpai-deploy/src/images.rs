//! Images are resolved on the host before anything is written to it: an image that is
//! neither there nor pullable fails the deploy with the host untouched (a deploy that
//! wrote its files and a release, then failed at `docker compose up`, left a half-made
//! host behind).

use crate::{DeployError, Progress};
use vpai_host::Host;
use vpai_model::Stack;

/// Every image of the stack present on the host, pulling what is missing and may be
/// pulled. Images named in `[images]` are never pulled (`pull_policy: never`).
pub fn resolve(host: &dyn Host, stack: &Stack, progress: &dyn Progress) -> Result<(), DeployError> {
    let mut wanted: Vec<(&str, &str, bool)> = Vec::new();
    for svc in &stack.services {
        if !wanted.iter().any(|(image, _, _)| *image == svc.image) {
            wanted.push((svc.image.as_str(), svc.name.as_str(), svc.local_image));
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let missing = missing(host, wanted.iter().map(|(image, _, _)| *image))?;
    let mut failures = Vec::new();
    for (image, service, local) in wanted.iter().filter(|(i, _, _)| missing.contains(i)) {
        if *local {
            failures.push(format!(
                "`{image}` (service `{service}`) is not on `{}` and is never pulled (it is set in `[images]`)\n  help: build or load it on the host (`docker load`, `docker build -t {image} ...`), or fix the name",
                host.name()
            ));
            continue;
        }
        progress.step(&format!("pulling {image} (service `{service}`)"));
        let out = host.run(&["docker", "pull", "--quiet", "--", image], None)?;
        if !out.success() {
            let why = out
                .stderr_text()
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("docker pull failed")
                .to_string();
            failures.push(format!(
                "`{image}` (service `{service}`) cannot be pulled on `{}`: {why}\n  help: check the name and tag; without a reachable registry, point `[images]` in stack.toml at an image present on the host",
                host.name()
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(DeployError::Images(failures))
    }
}

/// The images of `images` the host does not have, in one command.
fn missing<'a>(
    host: &dyn Host,
    images: impl Iterator<Item = &'a str>,
) -> Result<Vec<&'a str>, DeployError> {
    let images: Vec<&str> = images.collect();
    let mut args = vec!["docker", "image", "inspect", "--format", "{{.Id}}", "--"];
    args.extend(images.iter().copied());
    let out = host.run(&args, None)?;
    if out.success() {
        return Ok(Vec::new());
    }
    let stderr = out.stderr_text();
    let missing: Vec<&str> = images
        .iter()
        .copied()
        .filter(|image| {
            stderr.lines().any(|l| {
                l.contains("No such image") && l.trim_end().ends_with(&format!(": {image}"))
            })
        })
        .collect();
    if missing.is_empty() {
        return Err(DeployError::Command {
            command: "docker image inspect".into(),
            status: out.status,
            stderr,
        });
    }
    Ok(missing)
}
