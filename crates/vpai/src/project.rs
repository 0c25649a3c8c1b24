//! Resolving a command's inputs: stack file (or the example), catalog (embedded plus
//! the operator's `catalog/`), templates (embedded plus `templates/`), the secret
//! store, and the model built from them. Validation happens here, before any host is
//! contacted.

use crate::cli::StackArgs;
use crate::printer::Printer;
use anyhow::Context;
use std::path::PathBuf;
use vpai_catalog::Catalog;
use vpai_model::{BuildOptions, Stack};
use vpai_render::{Rendered, TemplateSource};
use vpai_spec::StackFile;
use vpai_vault::{PassphraseSource, SecretStore};

pub struct Project {
    /// Where the vault (and its lock and backup) live: next to stack.toml, or for the
    /// embedded example the user's state directory (never the current directory).
    pub state_dir: PathBuf,
    pub stack: Stack,
    pub templates: TemplateSource,
    /// The shipped catalog plus the operator's `catalog/`: what render used, and the
    /// facts `vpai check` and the doctor read for this stack.
    pub catalog: Catalog,
    /// `[check] allow` of stack.toml: rules accepted for this project, added to
    /// every `--allow`.
    pub allow: Vec<String>,
}

impl Project {
    pub fn load(args: &StackArgs) -> anyhow::Result<Self> {
        let file = match (args.example, args.local_images) {
            (true, true) => StackFile::example_local_images(),
            (true, false) => StackFile::example(),
            (false, _) => StackFile::load(&args.file)?,
        };
        Self::from_file(args, file)
    }

    /// The service named, or an error that lists the stack's services.
    pub fn service(&self, name: &str) -> anyhow::Result<&vpai_model::Service> {
        self.stack.service(name).ok_or_else(|| {
            let known: Vec<&str> = self
                .stack
                .services
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            anyhow::anyhow!(
                "`{name}` is not a service of this stack\n  help: its services are: {}",
                known.join(", ")
            )
        })
    }

    /// The project of an already parsed stack file (`vpai update` checks an edited
    /// text before it writes it).
    pub fn from_file(args: &StackArgs, file: StackFile) -> anyhow::Result<Self> {
        let dir = file.dir();
        let state_dir = if args.example {
            example_state_dir()?
        } else {
            dir.clone()
        };
        let mut catalog = Catalog::embedded();
        let custom = dir.join("catalog");
        if !args.example && custom.is_dir() {
            catalog
                .load_dir(&custom)
                .with_context(|| format!("loading custom services from `{}`", custom.display()))?;
        }
        let templates_dir = dir.join("templates");
        let templates = TemplateSource {
            override_dir: (!args.example && templates_dir.is_dir()).then_some(templates_dir),
        };
        let allow = allowed_rules(&file)?;
        let mut stack = vpai_model::build(
            &file,
            &catalog,
            &BuildOptions {
                root: args.root.clone(),
            },
        )?;
        if !args.example {
            stack.project_files = project_files(&stack, &dir)?;
        }
        Ok(Project {
            state_dir,
            stack,
            templates,
            catalog,
            allow,
        })
    }

    /// Open the encrypted vault next to stack.toml (key from `vpai unlock`'s kernel
    /// keyring, `VPAI_VAULT_PASSWORD_FILE`, `VPAI_VAULT_PASSWORD`,
    /// `VPAI_VAULT_IDENTITY_FILE` or a prompt), generate what is missing, and teach the
    /// printer to mask every value.
    ///
    /// The vault must belong to this project (`[project] name`). Generated values are
    /// saved before this returns, so nothing renders or deploys a value the vault does
    /// not hold: if another vpai generated the same secret meanwhile, the save keeps
    /// the value it saved first, and this store holds that one.
    pub fn secrets(&self, printer: &Printer) -> anyhow::Result<SecretStore> {
        let mut store = SecretStore::open_vault(
            &self.state_dir,
            &self.stack.project,
            &PassphraseSource::Environment,
        )?;
        // A value that cannot be rendered (a newline, from before vpai checked) would
        // break every file it lands in: say which one, before anything is generated.
        store.check_values()?;
        let created = vpai_render::ensure_secrets(&self.stack, &mut store);
        if !created.is_empty() {
            store.save()?;
            printer.info(&format!(
                "generated {} secret(s) into the vault `{}`: {}",
                created.len(),
                store.path().display(),
                created.join(", ")
            ));
        }
        // After the save: a vault the prompt just created can be held too.
        crate::commands::unlock::offer(&mut store, printer);
        printer.add_secrets(store.values());
        Ok(store)
    }

    /// Take what a host snapshot says the files depend on (the Docker socket's GID);
    /// true when it changed the stack, so the files must be rendered again.
    pub fn adopt_host_facts(&self, snapshot: &vpai_deploy::state::HostState) -> bool {
        let Some(gid) = snapshot.docker_socket_gid else {
            return false;
        };
        let facts = vpai_model::HostFacts {
            docker_socket_gid: gid,
        };
        self.stack.host_facts.replace(Some(facts)) != Some(facts)
    }

    pub fn render(&self, store: &SecretStore) -> anyhow::Result<Rendered> {
        Ok(vpai_render::render(&self.stack, store, &self.templates)?)
    }

    /// Fail, before any host is contacted, when an external secret the stack needs
    /// (an API key, a bot token) has not been set, saying where to get it.
    pub fn require_external(&self, store: &SecretStore) -> anyhow::Result<()> {
        let missing: Vec<String> = self
            .stack
            .secret_defs()
            .into_iter()
            .filter(|(_, d)| d.external && d.required && store.get(&d.name).is_none())
            .map(|(svc, d)| {
                format!(
                    "  `{}` (for {svc}): {}",
                    d.name,
                    d.help
                        .clone()
                        .unwrap_or_else(|| format!("set it with `vpai secrets set {}`", d.name))
                )
            })
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "the stack needs secrets only you can provide; nothing was changed:\n{}",
                missing.join("\n")
            );
        }
        Ok(())
    }

    /// `vpai check` over what was rendered, before anything is written anywhere.
    /// Prints the findings (secrets masked by the printer); true when one is an error.
    pub fn lint(
        &self,
        rendered: &Rendered,
        allow: &[String],
        printer: &Printer,
    ) -> anyhow::Result<bool> {
        let unknown = vpai_check::unknown_rules(allow);
        if !unknown.is_empty() {
            anyhow::bail!(
                "unknown rule(s) for --allow: {} (`vpai check --list-rules` lists them)",
                unknown.join(", ")
            );
        }
        let allow: Vec<String> = allow.iter().chain(&self.allow).cloned().collect();
        let files: Vec<vpai_check::SourceFile> = rendered
            .artifacts
            .iter()
            .map(|a| {
                vpai_check::SourceFile::new(a.path.clone(), a.bytes.clone())
                    .with_mode(a.mode)
                    .with_owner(a.owner.0, a.owner.1)
            })
            .collect();
        let report = vpai_check::check_files_with_catalog(
            &files,
            &vpai_check::CheckOptions {
                allow,
                ..Default::default()
            },
            &self.catalog,
        );
        if !report.findings.is_empty() {
            printer.info(&report.render_human(&files, printer.color()));
        }
        if report.has_errors() {
            printer.info("fix stack.toml (or the catalog/templates), or pass `--allow RULE` to accept a finding knowingly");
        }
        Ok(report.has_errors())
    }
}

/// `[check] allow` of a stack file, each a known rule id or name (an unknown one is
/// an error at its place in the file: a typo would silently allow nothing).
pub fn allowed_rules(file: &StackFile) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for rule in &file.spec.check.allow {
        if !vpai_check::unknown_rules(std::slice::from_ref(rule.get_ref())).is_empty() {
            return Err(file
                .error_at(
                    rule.span(),
                    format!("`{}` is not a rule of `vpai check`", rule.get_ref()),
                    "write a rule id or name from `vpai check --list-rules` (`VP703` or `image-unpinned`)",
                )
                .into());
        }
        out.push(rule.get_ref().clone());
    }
    Ok(out)
}

/// The embedded example's own state directory: `$XDG_STATE_HOME/vpai/example`, else
/// `~/.local/state/vpai/example` (the XDG base directory default), made private.
fn example_state_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither XDG_STATE_HOME nor HOME is set: vpai has nowhere to keep the example's vault\n  help: set XDG_STATE_HOME to a private directory")?;
            PathBuf::from(home).join(".local/state")
        }
    };
    let dir = base.join("vpai").join("example");
    fs_err::create_dir_all(&dir)?;
    let meta = fs_err::symlink_metadata(&dir)?;
    anyhow::ensure!(
        meta.is_dir(),
        "`{}` is not a directory (a symbolic link?): vpai keeps the example's vault there\n  help: remove it, then run vpai again",
        dir.display()
    );
    if meta.permissions().mode() & 0o077 != 0 {
        fs_err::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// The operator's files that `[[files]] from = "project"` entries copy (n8n's
/// `workflows/*.json`), read from the directory of stack.toml: bounded, links not
/// followed, only the names with the entry's suffix.
fn project_files(
    stack: &vpai_model::Stack,
    dir: &std::path::Path,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for svc in &stack.services {
        for copy in svc
            .def
            .files
            .iter()
            .filter(|c| c.from == vpai_catalog::CopyFrom::Project)
        {
            let mut found = std::collections::BTreeMap::new();
            vpai_catalog::read_copied(dir, &copy.source, &mut found)
                .with_context(|| format!("reading `{}` for {}", copy.source, svc.name))?;
            out.extend(
                found
                    .into_iter()
                    .filter(|(path, _)| copy.suffix.as_deref().is_none_or(|s| path.ends_with(s))),
            );
        }
    }
    Ok(out)
}
