//! `--inspect-images`: ask the local Docker engine what an image really contains,
//! instead of trusting the catalog.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// What the checks may ask about an image. The Docker implementation shells out;
/// tests use a fake.
pub trait ImageInspector: Sync {
    /// Programs in the image's `PATH` directories; `None` if the image is not available.
    fn programs(&self, image: &str) -> Option<Vec<String>>;
    /// The image exists locally and has no registry digest (built or imported here).
    fn is_local(&self, image: &str) -> Option<bool>;
}

/// Lists the files of an image through `docker create` + `docker export`.
#[derive(Default)]
pub struct DockerInspector {
    programs: Mutex<HashMap<String, Option<Vec<String>>>>,
}

impl DockerInspector {
    pub fn new() -> Self {
        Self::default()
    }
}

fn docker(args: &[&str]) -> Option<String> {
    let out = Command::new("docker")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl ImageInspector for DockerInspector {
    fn programs(&self, image: &str) -> Option<Vec<String>> {
        if let Some(cached) = self.programs.lock().ok()?.get(image) {
            return cached.clone();
        }
        let result = list_programs(image);
        if let Ok(mut cache) = self.programs.lock() {
            cache.insert(image.to_string(), result.clone());
        }
        result
    }

    fn is_local(&self, image: &str) -> Option<bool> {
        let digests = docker(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            image,
        ])?;
        Some(digests == "[]" || digests == "null")
    }
}

fn list_programs(image: &str) -> Option<Vec<String>> {
    let env = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        image,
    ])?;
    let env: Vec<String> = serde_json::from_str(&env).unwrap_or_default();
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string();
    let dirs: Vec<String> = path
        .split(':')
        .map(|d| d.trim_matches('/').to_string())
        .collect();
    let id = docker(&["create", "--entrypoint", "/vpai-inspect", image])?;
    let listing = (|| {
        let mut export = Command::new("docker")
            .args(["export", &id])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let stdout = export.stdout.take()?;
        let tar = Command::new("tar")
            .args(["-tf", "-"])
            .stdin(stdout)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let _ = export.wait();
        Some(String::from_utf8_lossy(&tar.stdout).into_owned())
    })();
    let _ = docker(&["rm", "-f", &id]);
    let listing = listing?;
    let mut programs: Vec<String> = listing
        .lines()
        .filter_map(|entry| {
            let entry = entry.trim_start_matches("./").trim_end_matches('/');
            let (dir, name) = entry.rsplit_once('/')?;
            dirs.iter().any(|d| d == dir).then(|| name.to_string())
        })
        .filter(|n| !n.is_empty())
        .collect();
    programs.sort();
    programs.dedup();
    Some(programs)
}
