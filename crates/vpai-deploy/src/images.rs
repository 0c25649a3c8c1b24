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
        failures.extend(missing_host_paths(host, stack)?);
    }
    if failures.is_empty() {
        failures.extend(build_derived(host, stack, progress)?);
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(DeployError::Images(failures))
    }
}

/// Host paths the services mount (the Docker socket, `/sys`, ...) that the host lacks:
/// Docker would create an empty directory in their place, owned by root, and the
/// service would fail later and far from the cause.
fn missing_host_paths(host: &dyn Host, stack: &Stack) -> Result<Vec<String>, DeployError> {
    let mounts: Vec<(&str, &str)> = stack
        .services
        .iter()
        .flat_map(|s| {
            s.def
                .host_mounts
                .iter()
                .map(move |m| (m.source.as_str(), s.name.as_str()))
        })
        .collect();
    if mounts.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec![
        "bash",
        "-c",
        r#"for p in "$@"; do [ -e "$p" ] || printf '%s
' "$p"; done"#,
        "vpai-host-paths",
    ];
    args.extend(mounts.iter().map(|(p, _)| *p));
    let out = host.run(&args, None)?;
    let absent = out.stdout_text();
    Ok(mounts
        .iter()
        .filter(|(p, _)| absent.lines().any(|l| l == *p))
        .map(|(p, svc)| {
            format!(
                "`{p}` (mounted by service `{svc}`) does not exist on `{}`
  help: install what provides it (the Docker CLI for `/usr/bin/docker`), or turn `{svc}` off",
                host.name()
            )
        })
        .collect())
}

/// Builds a derived image when it is missing or was built from another image of its
/// service: the Dockerfile is read from the service's image, the build is labelled
/// with that image's id. $1 image, $2 Dockerfile path in it, $3 tag.
const BUILD_DERIVED: &str = r#"set -o pipefail
id=$(docker image inspect --format '{{.Id}}' -- "$1") || exit 1
have=$(docker image inspect --format '{{index .Config.Labels "io.vpai.from"}}' -- "$3" 2>/dev/null)
[ "$have" = "$id" ] && { echo unchanged; exit 0; }
docker run --rm --entrypoint cat "$1" "$2" | docker build --quiet --label "io.vpai.from=$id" --tag "$3" - >/dev/null || exit 1
echo built
"#;

fn build_derived(
    host: &dyn Host,
    stack: &Stack,
    progress: &dyn Progress,
) -> Result<Vec<String>, DeployError> {
    let mut failures = Vec::new();
    for svc in &stack.services {
        for d in &svc.def.derived_images {
            let args = [
                "bash",
                "-c",
                BUILD_DERIVED,
                "vpai-derived",
                &svc.image,
                &d.dockerfile,
                &d.tag,
            ];
            let out = host.run(&args, None)?;
            if out.success() {
                if out.stdout_text().trim() == "built" {
                    progress.step(&format!(
                        "built {} from {} of `{}`",
                        d.tag, d.dockerfile, svc.name
                    ));
                }
            } else {
                failures.push(format!(
                    "`{}` (for service `{}`) cannot be built from `{}` in its image on `{}`: {}",
                    d.tag,
                    svc.name,
                    d.dockerfile,
                    host.name(),
                    out.stderr_text().trim()
                ));
            }
        }
    }
    Ok(failures)
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
