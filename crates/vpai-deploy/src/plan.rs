//! What an apply would change: each file (created, updated, unchanged, with a diff
//! whose secrets are masked) and each service (create, recreate and why, unchanged).

use crate::DeployError;
use crate::docker::DockerEngine;
use serde::Serialize;
use vpai_catalog::Phase;
use vpai_host::Host;
use vpai_model::Stack;
use vpai_render::Rendered;

pub use vpai_render::network_owner;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileAction {
    Create,
    Update,
    /// Same content, other mode or owner.
    Permissions,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    pub action: FileAction,
    /// Unified diff; secret files show only which lines changed, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    Create,
    Recreate,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceChange {
    pub service: String,
    pub phase: Phase,
    pub action: ServiceAction,
    /// Why it is recreated: `image`, `env/x.env`, `configs/...`.
    pub reasons: Vec<String>,
    #[serde(skip)]
    pub container_id: Option<String>,
    #[serde(skip)]
    pub desired_inputs: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Plan {
    pub files: Vec<FileChange>,
    pub services: Vec<ServiceChange>,
    /// The engine could not be asked (no Docker): services are shown as to create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_problem: Option<String>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.files.iter().all(|f| f.action == FileAction::Unchanged)
            && self
                .services
                .iter()
                .all(|s| s.action == ServiceAction::Unchanged)
    }
}

pub fn compute(host: &dyn Host, stack: &Stack, rendered: &Rendered) -> Result<Plan, DeployError> {
    let mut plan = Plan::default();
    for art in &rendered.artifacts {
        let path = stack.root.join(&art.path);
        let current = host.read_file(&path)?;
        let (action, diff) = match current {
            None => (FileAction::Create, None),
            Some(cur) if cur.bytes == art.bytes => {
                let same =
                    cur.mode == art.mode && (!vpai_host::is_root() || cur.owner == art.owner);
                if same {
                    (FileAction::Unchanged, None)
                } else {
                    (FileAction::Permissions, None)
                }
            }
            Some(cur) => (
                FileAction::Update,
                Some(unified_diff(&art.path, &cur.bytes, &art.bytes, art.secret)),
            ),
        };
        plan.files.push(FileChange {
            path: art.path.clone(),
            action,
            diff,
        });
    }

    let engine = DockerEngine::new(host);
    let states = match engine.check() {
        Ok(()) => {
            let names: Vec<&str> = stack
                .services
                .iter()
                .map(|s| s.container_name.as_str())
                .collect();
            engine.inspect(&names)?
        }
        Err(problem) => {
            plan.engine_problem = Some(problem.to_string());
            Vec::new()
        }
    };
    for svc in &stack.services {
        let desired = rendered.input_hashes.get(&svc.name).cloned();
        let state = states.iter().find(|c| c.name == svc.container_name);
        let (action, reasons) = match state {
            None => (ServiceAction::Create, vec!["no container".to_string()]),
            Some(st) => {
                let mut reasons = Vec::new();
                if st.image != svc.image {
                    reasons.push(format!("image {} -> {}", st.image, svc.image));
                }
                if st.labels.get("io.vpai.inputs") != desired.as_ref() {
                    let files: Vec<String> = plan
                        .files
                        .iter()
                        .filter(|f| {
                            f.action == FileAction::Update || f.action == FileAction::Create
                        })
                        .filter(|f| {
                            rendered
                                .get(&f.path)
                                .is_some_and(|a| a.services.contains(&svc.name))
                        })
                        .map(|f| f.path.clone())
                        .collect();
                    if files.is_empty() {
                        reasons.push("inputs changed".into());
                    } else {
                        reasons.extend(files);
                    }
                }
                if st.status != "running" {
                    reasons.push(format!("container is {}", st.status));
                }
                if reasons.is_empty() {
                    (ServiceAction::Unchanged, reasons)
                } else {
                    (ServiceAction::Recreate, reasons)
                }
            }
        };
        plan.services.push(ServiceChange {
            service: svc.name.clone(),
            phase: svc.def.phase,
            action,
            reasons,
            container_id: state.map(|s| s.id.clone()),
            desired_inputs: desired,
        });
    }
    Ok(plan)
}

/// A unified diff; in secret files every changed line is masked.
fn unified_diff(path: &str, old: &[u8], new: &[u8], secret: bool) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    if !secret {
        return text;
    }
    text.lines()
        .map(|l| {
            if (l.starts_with('+') || l.starts_with('-') || l.starts_with(' '))
                && !l.starts_with("+++")
                && !l.starts_with("---")
            {
                let (sign, body) = l.split_at(1);
                match body.split_once('=') {
                    Some((key, _)) if !key.contains(' ') => format!("{sign}{key}=********"),
                    _ => format!("{sign}********"),
                }
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_diffs_are_masked() {
        let d = unified_diff(
            "env/a.env",
            b"A='old-secret'\nB=1\n",
            b"A='new-secret'\nB=1\n",
            true,
        );
        assert!(!d.contains("old-secret") && !d.contains("new-secret"));
        assert!(d.contains("-A=********"));
    }
}
