//! What an apply would change: each file (created, updated, unchanged, with a diff
//! whose secrets are masked) and each service (create, recreate and why, unchanged).

use crate::DeployError;
use crate::docker::{ContainerState, EngineProblem};
use crate::state::{EngineSeen, HostState};
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
    /// Deployed before, no longer rendered (a service was turned off).
    Remove,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    pub action: FileAction,
    /// Unified diff; in secret files (env files) every line whose value is, or may be,
    /// a secret is masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    Create,
    Recreate,
    Unchanged,
    /// A container of the project whose service left the stack.
    Remove,
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
    /// The release the host's files come from (`releases/<name>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_release: Option<String>,
    /// Releases kept on the host, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<String>,
    /// Directories to create, or whose mode or owner to fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<String>,
    /// Files changed on the host since the last deploy (by hand): they will be replaced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// The containers as seen while planning (the no-op's status table).
    #[serde(skip)]
    pub containers: Vec<ContainerState>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.files.iter().all(|f| f.action == FileAction::Unchanged)
            && self.dirs.is_empty()
            && self
                .services
                .iter()
                .all(|s| s.action == ServiceAction::Unchanged)
    }

    /// Some file, directory or permission changes on the host.
    pub fn changes_files(&self) -> bool {
        !self.dirs.is_empty() || self.files.iter().any(|f| f.action != FileAction::Unchanged)
    }
}

/// Read the host (one round trip) and plan, with diffs of the changed files.
pub fn compute(host: &dyn Host, stack: &Stack, rendered: &Rendered) -> Result<Plan, DeployError> {
    let paths: Vec<&str> = rendered.artifacts.iter().map(|a| a.path.as_str()).collect();
    let dirs: Vec<&str> = rendered.dirs.iter().map(|d| d.path.as_str()).collect();
    let state = crate::state::read(host, stack, &paths, &dirs)?;
    compute_from(host, stack, rendered, &state, true)
}

/// Plan from a snapshot of the host. With `diffs`, the old content of the updated
/// files is fetched (one more round trip, only when some file changed). Every value
/// of a secret file is masked in the diffs; [`Plan::from_state`] shows settings.
pub fn compute_from(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    state: &HostState,
    diffs: bool,
) -> Result<Plan, DeployError> {
    compute_masked(host, stack, rendered, state, diffs, None)
}

impl Plan {
    /// [`compute_from`] whose diffs of secret files show the lines that hold no
    /// secret (`TZ=UTC`) as they are. `is_secret` says whether a text contains a
    /// known secret value; a line is shown only when its key holds no secret in the
    /// new file and its value holds none either (an old value of a rotated secret is
    /// no longer known, but its key still holds a secret, so it stays masked).
    pub fn from_state(
        host: &dyn Host,
        stack: &Stack,
        rendered: &Rendered,
        state: &HostState,
        diffs: bool,
        is_secret: &dyn Fn(&str) -> bool,
    ) -> Result<Plan, DeployError> {
        compute_masked(host, stack, rendered, state, diffs, Some(is_secret))
    }
}

fn compute_masked(
    host: &dyn Host,
    stack: &Stack,
    rendered: &Rendered,
    state: &HostState,
    diffs: bool,
    is_secret: Option<&dyn Fn(&str) -> bool>,
) -> Result<Plan, DeployError> {
    let mut plan = Plan {
        current_release: state.current.clone(),
        releases: state.releases.clone(),
        containers: state.containers.clone(),
        ..Plan::default()
    };
    // Unprivileged on the local machine: owners cannot be set, so they are not compared.
    let owners_matter = state.uid == 0;
    let deployed = state
        .manifest
        .as_deref()
        .map(crate::state::manifest_files)
        .unwrap_or_default();
    for art in &rendered.artifacts {
        let sha = art.sha256();
        let action = match state.files.get(&art.path) {
            None => FileAction::Create,
            Some(cur) if cur.sha256 == sha => {
                if cur.mode == art.mode && (!owners_matter || cur.owner == art.owner) {
                    FileAction::Unchanged
                } else {
                    FileAction::Permissions
                }
            }
            Some(cur) => {
                if deployed.get(&art.path).is_some_and(|d| *d != cur.sha256) {
                    plan.drift.push(art.path.clone());
                }
                FileAction::Update
            }
        };
        plan.files.push(FileChange {
            path: art.path.clone(),
            action,
            diff: None,
        });
    }
    for path in deployed.keys() {
        if rendered.get(path).is_none() {
            plan.files.push(FileChange {
                path: path.clone(),
                action: FileAction::Remove,
                diff: None,
            });
        }
    }
    for dir in &rendered.dirs {
        let ok = state.dirs.get(&dir.path).is_some_and(|(mode, owner)| {
            *mode == dir.mode && (!owners_matter || *owner == dir.owner)
        });
        if !ok {
            plan.dirs.push(dir.path.clone());
        }
    }
    let updated: Vec<&str> = plan
        .files
        .iter()
        .filter(|f| f.action == FileAction::Update)
        .map(|f| f.path.as_str())
        .collect();
    if diffs && !updated.is_empty() {
        let root = stack.root.display().to_string();
        let old = crate::state::read_files(host, &root, &updated)?;
        let diffs: Vec<(String, String)> = updated
            .iter()
            .zip(old)
            .filter_map(|(path, bytes)| {
                let art = rendered.get(path)?;
                Some((
                    path.to_string(),
                    unified_diff(
                        path,
                        &bytes?,
                        &art.bytes,
                        Masking::of(art.secret, is_secret),
                    ),
                ))
            })
            .collect();
        for (path, diff) in diffs {
            if let Some(f) = plan.files.iter_mut().find(|f| f.path == path) {
                f.diff = Some(diff);
            }
        }
    }

    plan.engine_problem = match &state.engine {
        EngineSeen::Ok => None,
        EngineSeen::Missing => Some(EngineProblem::NoCli.to_string()),
        EngineSeen::Down(why) => Some(EngineProblem::NoDaemon(why.clone()).to_string()),
    };
    let states = &state.containers;
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
    // Containers of the project whose service is gone: `--remove-orphans` removes them.
    for c in states {
        let service = c.labels.get("com.docker.compose.service");
        let Some(service) = service else { continue };
        if stack.service(service).is_some() || plan.services.iter().any(|s| &s.service == service) {
            continue;
        }
        let phase = match c.labels.get("io.vpai.phase").map(String::as_str) {
            Some("infra") => Phase::Infra,
            _ => Phase::Apps,
        };
        plan.services.push(ServiceChange {
            service: service.clone(),
            phase,
            action: ServiceAction::Remove,
            reasons: vec!["no longer in the stack".into()],
            container_id: Some(c.id.clone()),
            desired_inputs: None,
        });
    }
    Ok(plan)
}

/// What a diff hides.
#[derive(Clone, Copy)]
enum Masking<'a> {
    /// Not a secret file: the diff as is.
    Nothing,
    /// A secret file, with no way to tell secrets: every line is masked.
    Everything,
    /// A secret file: lines whose key and value hold no known secret are shown.
    Secrets(&'a dyn Fn(&str) -> bool),
}

impl<'a> Masking<'a> {
    fn of(secret_file: bool, is_secret: Option<&'a dyn Fn(&str) -> bool>) -> Self {
        match (secret_file, is_secret) {
            (false, _) => Masking::Nothing,
            (true, None) => Masking::Everything,
            (true, Some(f)) => Masking::Secrets(f),
        }
    }
}

/// A unified diff, masked as `mask` says.
fn unified_diff(path: &str, old: &[u8], new: &[u8], mask: Masking<'_>) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    let is_secret = match mask {
        Masking::Nothing => return text,
        Masking::Everything => None,
        Masking::Secrets(f) => Some(f),
    };
    let settings = is_secret.map(|f| setting_keys(&new, f)).unwrap_or_default();
    text.lines()
        .map(|l| {
            if (l.starts_with('+') || l.starts_with('-') || l.starts_with(' '))
                && !l.starts_with("+++")
                && !l.starts_with("---")
            {
                let (sign, body) = l.split_at(1);
                match body.split_once('=') {
                    Some((key, value))
                        if settings.contains(key) && is_secret.is_some_and(|f| !f(value)) =>
                    {
                        l.to_string()
                    }
                    Some((key, _)) if env_key(key) => format!("{sign}{key}=********"),
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

/// The keys of `KEY=value` lines of an env file whose every value holds no secret.
fn setting_keys<'t>(
    text: &'t str,
    is_secret: &dyn Fn(&str) -> bool,
) -> std::collections::BTreeSet<&'t str> {
    let mut settings = std::collections::BTreeSet::new();
    let mut secret = std::collections::BTreeSet::new();
    for (key, value) in text.lines().filter_map(|l| l.split_once('=')) {
        if !env_key(key) {
            continue;
        }
        if is_secret(value) {
            secret.insert(key);
        } else {
            settings.insert(key);
        }
    }
    &settings - &secret
}

/// A variable name: what the left of an env line is (no space, no quote, no `#`).
fn env_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
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
            Masking::Everything,
        );
        assert!(!d.contains("old-secret") && !d.contains("new-secret"));
        assert!(d.contains("-A=********"));
        assert!(d.contains(" B=********"), "{d}");
    }

    #[test]
    fn env_diffs_show_settings_and_mask_secrets() {
        // The vault knows the new password; the old one (rotated away) is not known
        // any more, but its key holds a secret in the new file, so it stays masked.
        let known = ["new-password-4f9a2c"];
        let is_secret = |text: &str| known.iter().any(|k| text.contains(k));
        let old = b"TZ='Europe/Paris'\nDB_PASSWORD='old-password-77d1e0'\nDB_URL='postgres://n8n:old-password-77d1e0@pg/n8n'\nDROPPED_TOKEN='gone-token-123456'\nLANG='fr-FR'\n";
        let new = b"TZ='UTC'\nDB_PASSWORD='new-password-4f9a2c'\nDB_URL='postgres://n8n:new-password-4f9a2c@pg/n8n'\nLANG='fr-FR'\n";
        let d = unified_diff("env/n8n.env", old, new, Masking::Secrets(&is_secret));
        assert!(d.contains("-TZ='Europe/Paris'\n"), "{d}");
        assert!(d.contains("+TZ='UTC'\n"), "{d}");
        assert!(d.contains(" LANG='fr-FR'\n"), "{d}");
        for hidden in ["old-password", "new-password", "gone-token"] {
            assert!(!d.contains(hidden), "{hidden} in {d}");
        }
        assert!(d.contains("-DB_PASSWORD=********\n"), "{d}");
        assert!(d.contains("+DB_PASSWORD=********\n"), "{d}");
        assert!(d.contains("+DB_URL=********\n"), "{d}");
        assert!(d.contains("-DROPPED_TOKEN=********\n"), "{d}");
        // Not a secret file: shown whole.
        let plain = unified_diff("configs/a.conf", b"a=1\n", b"a=2\n", Masking::Nothing);
        assert!(plain.contains("-a=1") && plain.contains("+a=2"), "{plain}");
    }
}
