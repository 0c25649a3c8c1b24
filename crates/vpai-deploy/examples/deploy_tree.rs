//! Deploy an already rendered directory tree to a host over SSH with vpai's deploy path
//! (lock + host state in one round trip, plan by content hash, one tar stream installed
//! as an atomic release): the benchmark's way to run vpai on exactly the workload of the
//! Ansible baseline (its 40 rendered files and 12 directories).
//!
//! deploy_tree SRC_DIR DEST_ROOT --address A --port P --identity KEY --known-hosts FILE
//!
//! Prints `noop` or `release <name> <files written>`.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use vpai_deploy::{Progress, lock};
use vpai_host::{SshHost, SshTarget};
use vpai_model::Stack;
use vpai_render::{Artifact, DirSpec, Rendered};

struct Quiet;
impl Progress for Quiet {
    fn step(&self, _: &str) {}
    fn service(&self, _: &str, _: &str) {}
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>, dirs: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            dirs.push(p.strip_prefix(root).unwrap().to_path_buf());
            walk(root, &p, files, dirs);
        } else {
            files.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (src, dest) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));

    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    walk(&src, &src, &mut files, &mut dirs);
    let meta = |p: &Path| std::fs::metadata(src.join(p)).unwrap();
    let mut artifacts: Vec<Artifact> = files
        .iter()
        .map(|f| {
            let m = meta(f);
            Artifact {
                path: f.display().to_string(),
                bytes: std::fs::read(src.join(f)).unwrap(),
                mode: m.permissions().mode() & 0o7777,
                owner: (m.uid(), m.gid()),
                services: Vec::new(),
                secrets: BTreeSet::new(),
                secret: false,
            }
        })
        .collect();
    // The manifest vpai writes last (the release's commit point).
    let manifest = serde_json::json!({
        "format": 1,
        "files": artifacts.iter().map(|a| serde_json::json!({"path": a.path, "sha256": a.sha256()})).collect::<Vec<_>>(),
        "services": {},
    });
    artifacts.push(Artifact {
        path: "vpai-manifest.json".into(),
        bytes: serde_json::to_vec_pretty(&manifest).unwrap(),
        mode: 0o644,
        owner: (0, 0),
        services: Vec::new(),
        secrets: BTreeSet::new(),
        secret: false,
    });
    let root_meta = std::fs::metadata(&src).unwrap();
    let mut dir_specs = vec![DirSpec::new(
        "",
        root_meta.permissions().mode() & 0o7777,
        (root_meta.uid(), root_meta.gid()),
    )];
    dir_specs.extend(dirs.iter().map(|d| {
        let m = meta(d);
        DirSpec::new(
            &d.display().to_string(),
            m.permissions().mode() & 0o7777,
            (m.uid(), m.gid()),
        )
    }));
    let rendered = Rendered {
        artifacts,
        dirs: dir_specs,
        input_hashes: BTreeMap::new(),
        probes: Vec::new(),
        after_start: Vec::new(),
        backups: Vec::new(),
    };
    let stack = Stack {
        project: "selfhost".into(),
        domain: "example.com".into(),
        tls: "internal",
        acme_email: None,
        timezone: "UTC".into(),
        locale: "en-US".into(),
        http_port: 80,
        https_port: 443,
        health_endpoint: true,
        root: dest,
        networks: Vec::new(),
        services: Vec::new(),
        hosts: Vec::new(),
        host_facts: Default::default(),
        project_files: Default::default(),
        access: Default::default(),
        allow_ports: Vec::new(),
        swarm: None,
        backup: vpai_model::BackupSettings::defaults("selfhost"),
    };

    let host = SshHost::connect(SshTarget {
        name: "bench".into(),
        address: opt("--address").unwrap_or_else(|| "127.0.0.1".into()),
        user: Some("root".into()),
        port: opt("--port").and_then(|p| p.parse().ok()),
        identity: opt("--identity").map(PathBuf::from),
        known_hosts: opt("--known-hosts").map(PathBuf::from),
        ..SshTarget::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let (paths, dir_paths) = vpai_deploy::managed_paths(&rendered);
    let (held, state) = lock::acquire(&host, &stack, &paths, &dir_paths)
        .unwrap()
        .unwrap_or_else(|busy| panic!("{busy}"));
    let plan = vpai_deploy::plan_from_state(&host, &stack, &rendered, &state, false).unwrap();
    if !plan.changes_files() {
        held.release();
        println!("noop");
        return;
    }
    let guarded = lock::Guarded {
        inner: &host,
        active: held.active_path(),
    };
    let report = vpai_deploy::write_files_only(&guarded, &stack, &rendered, &plan, &Quiet).unwrap();
    held.release();
    println!(
        "release {} {}",
        report.release.unwrap_or_default(),
        report.files_written.len()
    );
}
