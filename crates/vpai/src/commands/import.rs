//! `vpai import ansible PATH`: an existing VPAI-style Ansible project (inventory,
//! group_vars, Ansible Vault) becomes `stack.toml` and `secrets.vault`, with a report
//! of what was mapped, what was not (variable, file, why) and what to check next.
//!
//! The settings come from the inventory group the stack runs on (`--group`, `prod` by
//! default): `group_vars/all`, the group's parents and the group, the hosts file and
//! `host_vars`, with Ansible's precedence and the part of Jinja inventories use
//! ([`jinja`]). Secrets never pass through here: their values are skipped unread
//! ([`inventory`]) and the vault import of `vpai secrets import-ansible` brings them
//! into the vault. stack.toml is built with toml_edit (values written by the
//! serializer, comments made of variable and file names only), read back, checked to
//! say exactly what was meant, then parsed and resolved against the catalog like any
//! stack file before anything is written.

mod inventory;
mod jinja;

use crate::cli::StackArgs;
use crate::printer::Printer;
use crate::project::Project;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use inventory::{Hidden, Reader, Val, VarDef, VarFile, safe_text};
use jinja::{Eval, Out, Scope};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vpai_catalog::{AnsibleBudgetsDef, AnsibleDataDef, AnsibleDataKind, Catalog, ServiceDef};
use vpai_spec::values;
use vpai_vault::import::{AnsibleVars, FoundSecret, ansible_password, read_vars};
use vpai_vault::{EventKind, PassphraseSource, SecretOrigin, SecretStore, Zeroizing};

pub const ANSIBLE_EXAMPLES: &str = "Examples:
  vpai import ansible ~/src/VPAI --out ~/stacks/prod        # the Ansible project's root
  vpai import ansible inventory --group preprod --out preprod
  vpai import ansible . --password-file ~/.vault_pass --json > import.json

Reads the group's group_vars (all, parents, the group), the hosts file and host_vars, and
the site playbook's roles when PATH is the project's root. Secrets go into DIR/secrets.vault
(VPAI_VAULT_PASSWORD_FILE, VPAI_VAULT_PASSWORD or a prompt; the Ansible Vault password from
--password-file, ANSIBLE_VAULT_PASSWORD_FILE or a prompt). Nothing is written unless the
generated stack.toml is valid. Then: `vpai check -f DIR/stack.toml` and `vpai plan`.";

/// `vpai import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A VPAI-style Ansible project (inventory, group_vars, Ansible Vault) becomes
    /// stack.toml and secrets.vault; says what it could not map.
    #[command(after_help = ANSIBLE_EXAMPLES)]
    Ansible(ImportAnsibleArgs),
}

#[derive(Debug, Args)]
pub struct ImportAnsibleArgs {
    /// The Ansible project's root (holding `inventory/`) or its inventory directory.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Where to write stack.toml and secrets.vault.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// The inventory group the stack runs on [default: `prod`, else the only group with hosts].
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// File holding the Ansible Vault password [default: $ANSIBLE_VAULT_PASSWORD_FILE,
    /// else asked on the terminal].
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Replace an existing stack.toml, and import into an existing secrets.vault
    /// (replacing its values of the imported names; the previous vault is kept as .bak).
    #[arg(long)]
    pub force: bool,
    /// Print the report as JSON (names, files and reasons; never a value).
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: ImportCommand, printer: &Printer) -> anyhow::Result<ExitCode> {
    match command {
        ImportCommand::Ansible(args) => ansible(args, printer),
    }
}

/// A key of stack.toml that received a value, and where the value came from.
struct Mapped {
    key: String,
    /// The variables read, the mapped one first.
    from: Vec<String>,
    /// `from` are several variables gathered into one key (not a chain).
    joined: bool,
    file: String,
    /// A variable on the way was defined in an Ansible Vault file.
    from_vault: bool,
    /// A `default(...)` of a template gave the value.
    defaulted: bool,
    note: Option<String>,
}

/// A variable that did not make it into stack.toml.
struct Unmapped {
    variable: String,
    file: String,
    /// Which kind of reason (groups the human report).
    category: &'static str,
    reason: String,
    /// The role or service it belongs to, if any.
    group: Option<String>,
}

const C_SETTING: &str = "setting";
const C_SECRET: &str = "secret";
const C_SERVICE: &str = "service vpai does not deploy";
const C_VPAI_SERVICE: &str = "setting of a vpai service with no equivalent";
const C_ANSIBLE: &str = "Ansible's own";
const C_HOST: &str = "host setup outside vpai";
const C_NONE: &str = "no equivalent";

/// Roles whose work vpai does itself.
const ROLES_VPAI_DOES: &[(&str, &str)] = &[
    (
        "docker",
        "vpai installs Docker itself (`vpai up --install-docker`)",
    ),
    (
        "docker-stack",
        "vpai writes the compose files and starts them in phases itself",
    ),
    (
        "n8n-provision",
        "vpai creates n8n's owner and imports `workflows/` next to stack.toml",
    ),
    ("smoke-tests", "vpai's smoke probes (`vpai verify`)"),
    (
        "backup-config",
        "vpai's `[backup]` and `vpai backup` (restic from the host)",
    ),
];

/// Roles that set up the host itself.
const HOST_ROLES: &[&str] = &[
    "common",
    "hardening",
    "headscale-node",
    "vpn-dns",
    "disk-guard",
    "uptime-config",
];

/// Variables whose reason deserves its own words (facts of VPAI's inventory that
/// belong to no service: a service's own are its catalog entry's
/// `[import.ansible] unmapped`).
const KNOWN_REASONS: &[(&str, &str)] = &[
    (
        "target_env",
        "vpai has no environments: one stack.toml per environment (`--group` picks one)",
    ),
    (
        "s3_bucket_backups",
        "the Ansible deployment's backups went to this bucket from another server, with their own restic password; vpai backs up from the host into a repository of its own: set `[backup] repository` (`s3:https://ENDPOINT/BUCKET/PATH`, a new PATH) and `vpai secrets set backup_s3_access_key_id`",
    ),
    ("s3_endpoint", "see `s3_bucket_backups`"),
    ("s3_region", "see `s3_bucket_backups`"),
    ("s3_provider", "see `s3_bucket_backups`"),
    (
        "docker_default_address_pool_base",
        "Docker's daemon setting; vpai sets the stack's networks (`[project] subnet`), not the daemon",
    ),
    (
        "docker_default_address_pool_size",
        "Docker's daemon setting; vpai sets the stack's networks (`[project] subnet`), not the daemon",
    ),
];

const VPAI_SERVICE_REASON: &str = "a setting of a service vpai deploys, with no equivalent in stack.toml (vpai's catalog decides it)";

/// Variables of the inventory, and the ones read so far.
struct Ctx {
    defs: BTreeMap<String, VarDef>,
    used: BTreeSet<String>,
    in_progress: Vec<String>,
}

impl Scope for Ctx {
    fn lookup(&mut self, name: &str) -> Result<Eval, String> {
        self.used.insert(name.to_string());
        let Some(def) = self.defs.get(name).cloned() else {
            return Ok(Eval {
                out: Out::Undefined(name.to_string()),
                defaulted: false,
                vars: Vec::new(),
            });
        };
        if self.in_progress.iter().any(|n| n == name) || self.in_progress.len() > 32 {
            return Err("its variables refer to each other in a loop".into());
        }
        self.in_progress.push(name.to_string());
        let r = self.value(&def.val);
        self.in_progress.pop();
        let mut e = r?;
        e.vars.insert(0, name.to_string());
        Ok(e)
    }
}

impl Ctx {
    fn new(defs: BTreeMap<String, VarDef>) -> Self {
        Ctx {
            defs,
            used: BTreeSet::new(),
            in_progress: Vec::new(),
        }
    }

    fn value(&mut self, v: &Val) -> Result<Eval, String> {
        match v {
            Val::Str(s) => jinja::template(s, self),
            Val::Hidden(h) => Ok(Eval {
                out: Out::Hidden(*h),
                defaulted: false,
                vars: Vec::new(),
            }),
            Val::List(items) => {
                let mut acc = Eval::val(Val::Null);
                let mut out = Vec::new();
                for item in items {
                    let e = self.value(item)?;
                    acc.defaulted |= e.defaulted;
                    acc.vars.extend(e.vars);
                    out.push(match e.out {
                        Out::Val(v) => v,
                        Out::Hidden(h) => Val::Hidden(h),
                        Out::Undefined(n) => {
                            acc.out = Out::Undefined(n);
                            return Ok(acc);
                        }
                    });
                }
                acc.out = Out::Val(Val::List(out));
                Ok(acc)
            }
            Val::Map(entries) => {
                let mut acc = Eval::val(Val::Null);
                let mut out = Vec::new();
                for (k, item) in entries {
                    let e = self.value(item)?;
                    acc.defaulted |= e.defaulted;
                    acc.vars.extend(e.vars);
                    out.push((
                        k.clone(),
                        match e.out {
                            Out::Val(v) => v,
                            Out::Hidden(h) => Val::Hidden(h),
                            Out::Undefined(_) => continue,
                        },
                    ));
                }
                acc.out = Out::Val(Val::Map(out));
                Ok(acc)
            }
            other => Ok(Eval::val(other.clone())),
        }
    }

    /// A variable's value, `None` when it is not defined.
    fn get(&mut self, name: &str) -> Option<Result<Eval, String>> {
        if !self.defs.contains_key(name) {
            return None;
        }
        Some(self.lookup(name))
    }

    fn file(&self, name: &str) -> String {
        self.defs
            .get(name)
            .map(|d| d.file.clone())
            .unwrap_or_default()
    }

    fn reads_vault(&self, e: &Eval) -> bool {
        e.vars
            .iter()
            .any(|v| self.defs.get(v).is_some_and(|d| d.from_vault))
    }
}

/// stack.toml being built: the document (with comments) and, beside it, the plain
/// table it must read back as.
struct StackOut {
    doc: toml_edit::DocumentMut,
    expected: toml::Table,
}

impl StackOut {
    fn new() -> Self {
        StackOut {
            doc: toml_edit::DocumentMut::new(),
            expected: toml::Table::new(),
        }
    }

    /// The table at `path`, created (as a `[header]` table) if needed.
    fn table(&mut self, path: &[&str]) -> &mut toml_edit::Table {
        let mut t = self.doc.as_table_mut();
        for (i, key) in path.iter().enumerate() {
            let entry = t.entry(key).or_insert_with(|| {
                let mut new = toml_edit::Table::new();
                // `[hosts]` and `[services]` only hold tables: no header of their own.
                new.set_implicit(i + 1 < path.len() || matches!(*key, "hosts" | "services"));
                toml_edit::Item::Table(new)
            });
            t = entry
                .as_table_mut()
                .expect("stack.toml's tables are tables");
        }
        t
    }

    /// Set `path` (tables, then the key) to `value`, written by the TOML serializer,
    /// with an optional comment after it.
    fn set(&mut self, path: &[&str], value: toml::Value, comment: Option<&str>) {
        let (key, tables) = path.split_last().expect("a key");
        let mut parsed: toml_edit::Value = value
            .to_string()
            .parse()
            .expect("a serialized TOML value parses");
        // A list of tables reads better one per line.
        if let toml_edit::Value::Array(a) = &mut parsed
            && a.len() > 1
            && a.iter().all(toml_edit::Value::is_inline_table)
        {
            for v in a.iter_mut() {
                v.decor_mut().set_prefix("\n    ");
            }
            a.set_trailing("\n");
            a.set_trailing_comma(true);
        }
        if let Some(c) = comment {
            parsed
                .decor_mut()
                .set_suffix(format!("  # {}", comment_text(c)));
        }
        self.table(tables)
            .insert(key, toml_edit::Item::Value(parsed));
        let mut t = &mut self.expected;
        for k in tables {
            t = t
                .entry(k.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("a table");
        }
        t.insert(key.to_string(), value);
    }

    /// A comment line above the table at `path`.
    fn comment_table(&mut self, path: &[&str], text: &str) {
        let t = self.table(path);
        t.set_implicit(false);
        t.decor_mut()
            .set_prefix(format!("\n# {}\n", comment_text(text)));
    }
}

/// Text for a TOML comment: one line, no control characters (so it can never end
/// the comment and start TOML), at most 300 characters.
fn comment_text(text: &str) -> String {
    safe_text(text, 300)
}

/// The operator-facing form of a value from the inventory (escaped, short).
fn shown(v: &str) -> String {
    values::shown(v)
}

/// Everything the import found, for the report.
#[derive(Default)]
struct Report {
    mapped: Vec<Mapped>,
    unmapped: Vec<Unmapped>,
    warnings: Vec<String>,
    services: Vec<String>,
    disabled: Vec<(String, String)>,
    /// Variables read to decide something (which services run) rather than mapped.
    consumed: BTreeSet<String>,
    roles: Vec<(String, String)>,
    secrets_from: Vec<(String, String, Vec<String>)>,
    secrets_skipped: Vec<(String, String, String)>,
    outcome: vpai_vault::ImportOutcome,
}

impl Report {
    fn unmapped(&mut self, variable: &str, file: &str, category: &'static str, reason: String) {
        if self.unmapped.iter().any(|u| u.variable == variable) {
            return;
        }
        self.unmapped.push(Unmapped {
            variable: variable.to_string(),
            file: file.to_string(),
            category,
            reason,
            group: None,
        });
    }
}

/// Where the Ansible project and its inventory are.
struct Layout {
    root: PathBuf,
    inventory: PathBuf,
}

fn locate(path: &Path) -> anyhow::Result<Layout> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if !meta.is_dir() {
        bail!(
            "`{}` is not a directory\n  help: give the Ansible project's root (holding `inventory/`) or its inventory directory",
            path.display()
        );
    }
    let has_inventory = |d: &Path| {
        d.join("group_vars").is_dir()
            || ["hosts.yml", "hosts.yaml", "hosts.ini", "hosts"]
                .iter()
                .any(|f| d.join(f).is_file())
    };
    let inv = path.join("inventory");
    if std::fs::symlink_metadata(&inv).is_ok_and(|m| m.is_dir()) && has_inventory(&inv) {
        return Ok(Layout {
            root: path.to_path_buf(),
            inventory: inv,
        });
    }
    if has_inventory(path) {
        // An inventory inside a project: its playbooks and roles are one level up.
        let parent = path.parent().filter(|p| {
            !p.as_os_str().is_empty() && (p.join("roles").is_dir() || p.join("playbooks").is_dir())
        });
        return Ok(Layout {
            root: parent
                .map(Path::to_path_buf)
                .unwrap_or_else(|| path.to_path_buf()),
            inventory: path.to_path_buf(),
        });
    }
    bail!(
        "`{}` is neither an Ansible project nor an inventory: it has no `inventory/`, `group_vars/` or hosts file\n  help: give the project's root (VPAI: the directory holding `inventory/` and `roles/`)",
        path.display()
    )
}

fn ansible(args: ImportAnsibleArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let out_dir = args.out.clone();
    let stack_path = out_dir.join("stack.toml");
    let vault_path = out_dir.join(vpai_vault::VAULT_FILE);
    refuse_existing(&stack_path, &vault_path, args.force)?;

    let layout = locate(&args.path)?;
    let mut reader = Reader::new(&layout.root);
    let mut report = Report::default();

    // The hosts file.
    let mut inventory = inventory::Inventory::default();
    for name in ["hosts.yml", "hosts.yaml", "hosts.ini", "hosts"] {
        let p = layout.inventory.join(name);
        if std::fs::symlink_metadata(&p).is_err() {
            continue;
        }
        let Some(text) = reader.read(&p)? else {
            break;
        };
        let shown_file = reader.shown(&p);
        // INI: `[group]` headers; YAML otherwise.
        let ini = name == "hosts.ini"
            || text.lines().any(|l| {
                let l = l.trim();
                l.starts_with('[') && l.ends_with(']')
            });
        let yaml = !ini;
        if yaml {
            match inventory::parse_yaml_inventory(&text) {
                Ok(inv) => inventory = inv,
                Err(e) => reader.not_read.push((shown_file.clone(), e)),
            }
        } else {
            let mut ranges = Vec::new();
            inventory = inventory::parse_ini_inventory(&text, &mut ranges);
            for r in ranges {
                reader.not_read.push((
                    shown_file.clone(),
                    format!(
                        "the host pattern `{}` is a range, which vpai does not expand",
                        shown(&r)
                    ),
                ));
            }
        }
        inventory.file = Some(shown_file);
        break;
    }

    // The group.
    let group = match &args.group {
        Some(g) => {
            if inventory.chain(g).is_none() && !layout.inventory.join("group_vars").join(g).exists()
            {
                let known = inventory.groups_with_hosts();
                bail!(
                    "the inventory has no group `{}`{}",
                    shown(g),
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!("\n  help: its groups with hosts: {}", known.join(", "))
                    }
                );
            }
            g.clone()
        }
        None => {
            let with_hosts = inventory.groups_with_hosts();
            if inventory.groups.contains_key("prod") {
                "prod".to_string()
            } else if with_hosts.len() == 1 {
                with_hosts[0].clone()
            } else if with_hosts.is_empty() {
                "all".to_string()
            } else {
                bail!(
                    "the inventory has several groups with hosts and none is `prod`: {}\n  help: name the one the stack runs on with `--group NAME`",
                    with_hosts.join(", ")
                );
            }
        }
    };
    if !group_name_ok(&group) {
        bail!(
            "`{}` is not an inventory group name vpai reads (letters, digits, `_`, `-`)",
            shown(&group)
        );
    }
    let chain = inventory
        .chain(&group)
        .unwrap_or_else(|| vec!["all".into(), group.clone()]);
    // A group's name becomes a path below group_vars/: only plain names are read.
    for g in chain.iter().filter(|g| !group_name_ok(g)) {
        reader.not_read.push((
            format!("group_vars/{}", safe_text(g, 60)),
            "the group's name is not a plain name (letters, digits, `_`, `-`): its variables were not read".into(),
        ));
    }
    let chain: Vec<String> = chain.into_iter().filter(|g| group_name_ok(g)).collect();
    let hosts = inventory.hosts_of(&group);

    // Variables, lowest precedence first: the hosts file's group vars, group_vars of
    // `all`, the parents and the group; then each host's own.
    let password_file = args
        .password_file
        .clone()
        .or_else(|| std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE").map(Into::into));
    let mut cached_pw: Option<Zeroizing<Vec<u8>>> = None;
    let mut defs: BTreeMap<String, VarDef> = BTreeMap::new();
    let inv_file = inventory.file.clone().unwrap_or_default();
    for g in &chain {
        if let Some(group) = inventory.groups.get(g) {
            for (k, v) in &group.vars {
                insert_var(&mut defs, &mut report, k, v.clone(), &inv_file, false);
            }
        }
    }
    let mut var_files: Vec<VarFile> = Vec::new();
    for g in &chain {
        let files = reader.var_files(&layout.inventory.join("group_vars").join(g))?;
        load_var_files(
            &files,
            &mut defs,
            &mut report,
            &mut reader,
            &mut cached_pw,
            password_file.as_deref(),
        )?;
        var_files.extend(files);
    }
    let mut host_defs: Vec<(String, BTreeMap<String, VarDef>)> = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let mut own = defs.clone();
        for (k, v) in inventory.hosts.get(host).into_iter().flatten() {
            insert_var(&mut own, &mut report, k, v.clone(), &inv_file, false);
        }
        if inventory::is_var_name(host.replace(['-', '.'], "_").as_str()) {
            let files = reader.var_files(&layout.inventory.join("host_vars").join(host))?;
            load_var_files(
                &files,
                &mut own,
                &mut report,
                &mut reader,
                &mut cached_pw,
                password_file.as_deref(),
            )?;
            // The first host's files are the ones whose secrets are imported.
            if i == 0 {
                var_files.extend(files);
            }
        }
        host_defs.push((host.clone(), own));
    }

    // Settings are read in the context of the first host, as Ansible would.
    let project_defs = host_defs
        .first()
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| defs.clone());
    let mut ctx = Ctx::new(project_defs);
    let catalog = Catalog::embedded();
    let mut out = StackOut::new();

    let (name, domain) = map_project(&mut ctx, &mut out, &mut report, &layout, &group)?;
    let mut host_used = BTreeSet::new();
    for (host, own) in host_defs {
        let mut hctx = Ctx::new(own);
        map_host(&mut hctx, &host, &mut out, &mut report);
        host_used.extend(hctx.used);
    }
    ctx.used.extend(host_used);
    let (selected, off, profile, profile_origin) = select_services(
        &mut ctx,
        &mut reader,
        &layout,
        &group,
        &hosts,
        &catalog,
        &mut report,
    )?;
    out.set(
        &["project", "profile"],
        toml::Value::String(profile.clone()),
        Some(&profile_origin),
    );
    for (svc, why, vars) in &off {
        out.set(
            &["services", svc, "enabled"],
            toml::Value::Boolean(false),
            Some(why),
        );
        report.mapped.push(Mapped {
            key: format!("services.{svc}.enabled"),
            joined: false,
            from: vars.clone(),
            file: vars.first().map(|v| ctx.file(v)).unwrap_or_default(),
            from_vault: false,
            defaulted: false,
            note: Some(why.clone()),
        });
    }
    report.services = selected.clone();
    report.disabled = off.iter().map(|(s, w, _)| (s.clone(), w.clone())).collect();
    let mut considered: Vec<String> = selected.clone();
    considered.extend(off.iter().map(|(s, _, _)| s.clone()));
    map_services(
        &mut ctx,
        &mut out,
        &mut report,
        &catalog,
        &considered,
        &selected,
        &domain,
    );
    map_data(&mut ctx, &mut out, &mut report, &catalog, &considered);
    map_backup(&mut ctx, &mut out, &mut report);

    // stack.toml, read back: it must say exactly what was built, then be a valid stack.
    let header = format!(
        "stack.toml imported by `vpai import ansible` from `{}` (inventory group `{}`). Review it: each value names the Ansible variable it came from.",
        safe_text(&args.path.display().to_string(), 120),
        safe_text(&group, 40)
    );
    out.comment_table(&["project"], &header);
    const ORDER: &[&str] = &[
        "name",
        "domain",
        "profile",
        "tls",
        "acme_email",
        "timezone",
        "locale",
        "subnet",
    ];
    let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
    out.table(&["project"])
        .sort_values_by(|a, _, b, _| rank(a.get()).cmp(&rank(b.get())));
    let text = out.doc.to_string();
    let text = format!("{}\n", text.trim_matches('\n'));
    let reread: toml::Table = toml::from_str(&text)
        .context("internal error: the generated stack.toml is not TOML; nothing written")?;
    if reread != out.expected {
        bail!(
            "internal error: the generated stack.toml does not say what was imported; nothing written"
        );
    }
    let file = vpai_spec::StackFile::parse(&stack_path, text.clone())?;
    let stack_args = StackArgs {
        file: stack_path.clone(),
        example: false,
        local_images: false,
        root: None,
    };
    let project = match Project::from_file(&stack_args, file) {
        Ok(p) => p,
        Err(e) => {
            printer.error_text(
                "the stack.toml made from the inventory is not a valid stack (below); nothing was written: fix the variable in the Ansible project",
            );
            return Err(e);
        }
    };
    if project.stack.project != name {
        bail!("internal error: the generated stack.toml names another project; nothing written");
    }

    // Secrets: every file of variables, in precedence order (a later file's value wins).
    let secrets = collect_secrets(
        &var_files,
        &mut report,
        &mut cached_pw,
        password_file.as_deref(),
    )?;
    let extras = extra_secrets(&mut ctx, &project, &secrets, &mut report);

    // Everything is known and valid: write. One writer of this stack.toml at a time.
    fs_err::create_dir_all(&out_dir)?;
    let _lock = vpai_vault::fsutil::lock(&out_dir.join(".stack.toml.lock"), &stack_path)
        .map_err(|e| anyhow::anyhow!("cannot lock `{}`: {e}", stack_path.display()))?;
    refuse_existing(&stack_path, &vault_path, args.force)?;
    if !secrets.is_empty() || !extras.is_empty() {
        let mut store = SecretStore::open_vault(&out_dir, &name, &PassphraseSource::Environment)?;
        printer.add_secrets(store.values());
        for (file, found) in &secrets {
            let source = Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.clone());
            let part = AnsibleVars {
                secrets: vec![FoundSecret {
                    ansible: found.ansible.clone(),
                    vpai: found.vpai,
                    origin: found.origin,
                    value: found.value.clone(),
                }],
                ..Default::default()
            };
            let o = store.import(&part, &source, args.force);
            merge_outcome(&mut report.outcome, o);
        }
        for (secret, var, file, value) in &extras {
            let detail = Some(format!("from {file} ({var})"));
            match store.get(secret) {
                Some(v) if v == value.as_str() => report.outcome.unchanged.push(secret.clone()),
                Some(_) if !args.force => report.outcome.kept.push(secret.clone()),
                existing => {
                    let had = existing.is_some();
                    store.set_with(
                        secret,
                        value.to_string(),
                        SecretOrigin::External,
                        EventKind::Imported,
                        detail,
                    );
                    if had {
                        report.outcome.replaced.push(secret.clone());
                    } else {
                        report.outcome.added.push(secret.clone());
                    }
                }
            }
        }
        store.save()?;
        printer.add_secrets(store.values());
    }
    let mode = if stack_path.exists() {
        use std::os::unix::fs::PermissionsExt;
        fs_err::metadata(&stack_path)?.permissions().mode() & 0o777
    } else {
        0o644
    };
    vpai_vault::fsutil::atomic_write(&stack_path, text.as_bytes(), mode, None)
        .with_context(|| format!("writing `{}`", stack_path.display()))?;

    // What is left: every variable not read by a mapping.
    classify_rest(&ctx, &mut report, &layout, &catalog);
    next_steps(&mut report, &project, &catalog);
    print_report(
        printer,
        &report,
        &reader,
        &args,
        &group,
        &stack_path,
        &vault_path,
        &project,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// An inventory group name that can be a directory name below `group_vars/`.
fn group_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// stack.toml and secrets.vault are not replaced without `--force`, and never through
/// a link (vpai replaces files it writes; a link would point elsewhere).
fn refuse_existing(stack: &Path, vault: &Path, force: bool) -> anyhow::Result<()> {
    for path in [stack, vault] {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => bail!(
                "`{}` is a symbolic link, and vpai does not follow links it did not create\n  help: remove it, or import into another directory with `--out DIR`",
                path.display()
            ),
            Ok(m) if !m.is_file() => bail!(
                "`{}` exists and is not a regular file\n  help: import into another directory with `--out DIR`",
                path.display()
            ),
            Ok(_) if !force => bail!(
                "`{}` already exists; nothing written\n  help: pass --force to replace stack.toml and import into the existing vault, or use another `--out DIR`",
                path.display()
            ),
            _ => {}
        }
    }
    Ok(())
}

fn insert_var(
    defs: &mut BTreeMap<String, VarDef>,
    report: &mut Report,
    name: &str,
    val: Val,
    file: &str,
    from_vault: bool,
) {
    if !inventory::is_var_name(name) {
        report.unmapped(
            &safe_text(name, 60),
            file,
            C_NONE,
            "not an Ansible variable name: not read".into(),
        );
        return;
    }
    defs.insert(
        name.to_string(),
        VarDef {
            val,
            file: file.to_string(),
            from_vault,
        },
    );
}

/// The Ansible Vault password, asked for (or read) once.
fn password(
    cached: &mut Option<Zeroizing<Vec<u8>>>,
    file: Option<&Path>,
    shown_file: &str,
) -> Result<Zeroizing<Vec<u8>>, vpai_vault::ImportError> {
    if let Some(pw) = cached {
        return Ok(pw.clone());
    }
    let pw = ansible_password(file, shown_file)?;
    *cached = Some(pw.clone());
    Ok(pw)
}

/// Read one file of variables into `defs` (a whole-file vault decrypted first).
/// [`load_var_file`] for each of `files`, in order (a later file wins, as in Ansible).
fn load_var_files(
    files: &[VarFile],
    defs: &mut BTreeMap<String, VarDef>,
    report: &mut Report,
    reader: &mut Reader,
    cached_pw: &mut Option<Zeroizing<Vec<u8>>>,
    password_file: Option<&Path>,
) -> anyhow::Result<()> {
    for f in files {
        load_var_file(f, defs, report, reader, cached_pw, password_file)?;
    }
    Ok(())
}

fn load_var_file(
    f: &VarFile,
    defs: &mut BTreeMap<String, VarDef>,
    report: &mut Report,
    reader: &mut Reader,
    cached_pw: &mut Option<Zeroizing<Vec<u8>>>,
    password_file: Option<&Path>,
) -> anyhow::Result<()> {
    let yaml: Zeroizing<String> = if f.encrypted {
        let pw = password(cached_pw, password_file, &f.shown)?;
        let plain = vpai_vault::ansible::decrypt(&f.shown, &f.text, &pw)?;
        match String::from_utf8(plain.to_vec()) {
            Ok(s) => Zeroizing::new(s),
            Err(_) => {
                reader.not_read.push((
                    f.shown.clone(),
                    "its decrypted content is not UTF-8 text".into(),
                ));
                return Ok(());
            }
        }
    } else {
        f.text.clone()
    };
    match inventory::parse_yaml(&yaml) {
        Ok(Val::Map(entries)) => {
            for (k, v) in entries {
                insert_var(defs, report, &k, v, &f.shown, f.encrypted);
            }
        }
        Ok(Val::Null) => {}
        Ok(_) => reader
            .not_read
            .push((f.shown.clone(), "it is not a mapping of variables".into())),
        Err(e) => reader.not_read.push((f.shown.clone(), e)),
    }
    Ok(())
}

/// Record a mapped key.
fn mapped(ctx: &Ctx, report: &mut Report, key: &str, e: &Eval, note: Option<String>) {
    let first = e.vars.first().cloned().unwrap_or_default();
    report.mapped.push(Mapped {
        key: key.to_string(),
        joined: false,
        from: e.vars.clone(),
        file: ctx.file(&first),
        from_vault: ctx.reads_vault(e),
        defaulted: e.defaulted,
        note,
    });
}

/// The comment written after a mapped value: the variable, its file, and the
/// variable the value finally came from.
fn origin_comment(ctx: &Ctx, e: &Eval) -> String {
    let Some(first) = e.vars.first() else {
        return String::new();
    };
    let mut c = format!("{first} ({})", ctx.file(first));
    if let Some(last) = e
        .vars
        .iter()
        .rev()
        .find(|v| *v != first && ctx.defs.contains_key(*v))
    {
        let vault = ctx.defs.get(last).is_some_and(|d| d.from_vault);
        c.push_str(&format!(
            " <- {last} ({}{})",
            ctx.file(last),
            if vault { ", Ansible Vault" } else { "" }
        ));
    }
    if e.defaulted {
        c.push_str(", a template's default");
    }
    c
}

/// A variable as a string setting: its value, or why not.
fn string_var(ctx: &mut Ctx, name: &str) -> Option<Result<(String, Eval), String>> {
    let e = match ctx.get(name)? {
        Ok(e) => e,
        Err(why) => return Some(Err(why)),
    };
    Some(match &e.out {
        Out::Val(Val::Str(s)) => Ok((s.clone(), e.clone())),
        Out::Val(Val::Int(i)) => Ok((i.to_string(), e.clone())),
        Out::Val(Val::Float(f)) => Ok((f.to_string(), e.clone())),
        Out::Val(v) => Err(format!("it is {}, not a string", v.kind())),
        Out::Undefined(n) => Err(format!("it reads `{n}`, which is not defined")),
        Out::Hidden(Hidden::Secret) => {
            Err("its value comes from a secret, which never goes into stack.toml".into())
        }
        Out::Hidden(Hidden::Encrypted) => Err(
            "it is an encrypted (`!vault`) string: left to the vault import, never put in stack.toml"
                .into(),
        ),
    })
}

/// Map one string variable onto a key, checked with `check`; anything wrong is
/// reported against the variable. Returns the value written.
#[allow(clippy::too_many_arguments)]
fn map_str(
    ctx: &mut Ctx,
    out: &mut StackOut,
    report: &mut Report,
    var: &str,
    path: &[&str],
    check: impl FnOnce(&str) -> Result<String, String>,
    note: Option<String>,
) -> Option<String> {
    let file = ctx.file(var);
    let checked = match string_var(ctx, var)? {
        Err(why) => Err(why),
        Ok((v, _)) if v.is_empty() => Err("it is empty".to_string()),
        Ok((v, e)) => check(&v).map(|v| (v, e)),
    };
    match checked {
        Err(why) => {
            report.unmapped(
                var,
                &file,
                C_SETTING,
                format!("not mapped to `{}`: {why}", path.join(".")),
            );
            None
        }
        Ok((v, e)) => {
            let comment = origin_comment(ctx, &e);
            out.set(path, toml::Value::String(v.clone()), Some(&comment));
            mapped(ctx, report, &path.join("."), &e, note);
            Some(v)
        }
    }
}

fn refusal(r: values::Refusal) -> String {
    format!("{} ({})", r.message, r.help)
}

/// `[project]`: name, domain, TLS, ACME e-mail, time zone, locale, subnet.
fn map_project(
    ctx: &mut Ctx,
    out: &mut StackOut,
    report: &mut Report,
    layout: &Layout,
    group: &str,
) -> anyhow::Result<(String, String)> {
    let required = |ctx: &mut Ctx,
                    var: &str,
                    what: &str,
                    check: fn(&str) -> Result<(), values::Refusal>|
     -> anyhow::Result<(String, Eval)> {
        match string_var(ctx, var) {
            None => bail!(
                "`{var}` is not defined in the inventory (group `{}`): vpai needs it for {what}\n  help: define it in `{}/group_vars/all/`",
                safe_text(group, 40),
                layout.inventory.display()
            ),
            Some(Err(why)) => bail!("`{var}` ({}) cannot be read: {why}", ctx.file(var)),
            Some(Ok((v, e))) => {
                check(&v).map_err(|r| {
                    anyhow::anyhow!(
                        "`{var}` ({}) is not usable as {what}: {}\n  help: {}",
                        ctx.file(var),
                        r.message,
                        r.help
                    )
                })?;
                Ok((v, e))
            }
        }
    };
    let (name, e) = required(
        ctx,
        "project_name",
        "`[project] name`",
        values::check_project_name,
    )?;
    out.set(
        &["project", "name"],
        toml::Value::String(name.clone()),
        Some(&origin_comment(ctx, &e)),
    );
    mapped(ctx, report, "project.name", &e, None);
    let (domain, e) = required(
        ctx,
        "domain_name",
        "`[project] domain`",
        values::check_domain,
    )?;
    out.set(
        &["project", "domain"],
        toml::Value::String(domain.clone()),
        Some(&origin_comment(ctx, &e)),
    );
    if e.defaulted {
        report.warnings.push(format!(
            "the domain `{domain}` is the default of `domain_name`'s template: the variable it reads was not found (is the vault file in the group's group_vars?)"
        ));
    }
    mapped(ctx, report, "project.domain", &e, None);
    let local = domain == "localhost" || domain.ends_with(".localhost");
    out.set(
        &["project", "tls"],
        toml::Value::String(if local { "internal" } else { "acme" }.into()),
        Some(if local {
            "a *.localhost domain: Caddy's internal CA"
        } else {
            "public ACME certificates (ports 80 and 443 must be reachable)"
        }),
    );
    if !local {
        // Caddy's ACME e-mail: the caddy role's own variable, else the alert e-mail it defaults to.
        let var = if ctx.defs.contains_key("caddy_notification_email") {
            "caddy_notification_email"
        } else {
            "notification_email"
        };
        map_str(
            ctx,
            out,
            report,
            var,
            &["project", "acme_email"],
            |v| {
                values::check_email(v)
                    .map(|()| v.to_string())
                    .map_err(refusal)
            },
            None,
        );
    }
    for var in ["timezone", "tz", "system_timezone"] {
        if ctx.defs.contains_key(var) {
            map_str(
                ctx,
                out,
                report,
                var,
                &["project", "timezone"],
                |v| {
                    values::check_timezone(v)
                        .map(|()| v.to_string())
                        .map_err(refusal)
                },
                None,
            );
            break;
        }
    }
    for var in ["locale", "system_locale"] {
        if ctx.defs.contains_key(var) {
            map_str(
                ctx,
                out,
                report,
                var,
                &["project", "locale"],
                |v| {
                    let icu = icu_locale(v);
                    if matches!(icu.as_str(), "C" | "POSIX") {
                        return Err(format!(
                            "`{}` has no ICU equivalent; vpai keeps its default `en-US`",
                            shown(v)
                        ));
                    }
                    values::check_locale(&icu).map(|()| icu).map_err(refusal)
                },
                Some("a POSIX locale written as an ICU one (`fr_FR.UTF-8` is `fr-FR`)".into()),
            );
            break;
        }
    }
    map_subnet(ctx, out, report);
    Ok((name, domain))
}

/// `fr_FR.UTF-8` -> `fr-FR`; `C`/`POSIX` have no ICU equivalent (left as they are,
/// which the check refuses).
fn icu_locale(posix: &str) -> String {
    let base = posix.split(['.', '@']).next().unwrap_or(posix);
    base.replace('_', "-")
}

/// The five Docker networks: `A.B.1-5.0/24` of one /16, as vpai lays them out.
fn map_subnet(ctx: &mut Ctx, out: &mut StackOut, report: &mut Report) {
    let mut base: Option<(String, Eval)> = None;
    let mut vars = Vec::new();
    for (net, idx, _) in vpai_model::NETWORKS {
        let var = format!("docker_network_{net}_subnet");
        let Some(r) = string_var(ctx, &var) else {
            continue;
        };
        vars.push(var.clone());
        let fits = r.as_ref().ok().and_then(|(v, e)| {
            let (ip, len) = v.split_once('/')?;
            let parts: Vec<&str> = ip.split('.').collect();
            (len == "24" && parts.len() == 4 && parts[2] == idx.to_string() && parts[3] == "0")
                .then(|| (format!("{}.{}.0.0/16", parts[0], parts[1]), e.clone()))
        });
        match (fits, &base) {
            (Some((b, _)), Some((have, _))) if &b == have => {}
            (Some(found), None) => base = Some(found),
            _ => {
                for v in &vars {
                    let file = ctx.file(v);
                    report.unmapped(
                        v,
                        &file,
                        C_SETTING,
                        format!("not mapped to `project.subnet`: vpai gives its networks (frontend, backend, monitoring, egress, sandbox) the /24s 1 to 5 of one /16, and `{var}` does not fit that"),
                    );
                }
                return;
            }
        }
    }
    let Some((subnet, e)) = base else { return };
    if values::check_subnet(&subnet).is_err() {
        let file = ctx.file(&vars[0]);
        report.unmapped(
            &vars[0],
            &file,
            C_SETTING,
            "not mapped to `project.subnet`: not a private /16 vpai can use".into(),
        );
        return;
    }
    let mut e = e;
    e.vars = vars.clone();
    out.set(
        &["project", "subnet"],
        toml::Value::String(subnet),
        Some("docker_network_*_subnet: the five networks' /24s"),
    );
    mapped(ctx, report, "project.subnet", &e, None);
    if let Some(m) = report.mapped.last_mut() {
        m.joined = true;
    }
}

/// `[hosts.NAME]` of one inventory host.
fn map_host(ctx: &mut Ctx, host: &str, out: &mut StackOut, report: &mut Report) {
    let ok_name = host.starts_with(|c: char| c.is_ascii_alphanumeric())
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && host.len() <= 64;
    if !ok_name {
        report.unmapped(
            &safe_text(host, 60),
            ctx.defs.values().next().map(|d| d.file.as_str()).unwrap_or(""),
            C_SETTING,
            "an inventory host whose name vpai cannot use for `[hosts.NAME]` (letters, digits, `-`, `_`, `.`): not mapped".into(),
        );
        return;
    }
    // A word ssh takes as it is: never an option, no user part, no space.
    let word_ok = |w: &str| {
        !w.is_empty()
            && !w.starts_with('-')
            && !w
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
    };
    let pick = |ctx: &Ctx, names: &[&'static str]| {
        names.iter().copied().find(|n| ctx.defs.contains_key(*n))
    };
    let address = match pick(ctx, &["ansible_host", "ansible_ssh_host"]) {
        Some(var) => match string_var(ctx, var) {
            Some(Ok((a, e))) if word_ok(&a) => {
                if e.defaulted {
                    report.warnings.push(format!(
                        "host `{host}`: its address `{}` is the default of `{var}`'s template (the variable it reads was not found)",
                        shown(&a)
                    ));
                }
                Some((a, e))
            }
            Some(Ok((a, _))) => {
                let file = ctx.file(var);
                report.unmapped(
                    var,
                    &file,
                    C_SETTING,
                    format!("host `{host}`: `{}` is not a host address (an IP, a DNS name or an ~/.ssh/config alias); the host is not mapped", shown(&a)),
                );
                return;
            }
            Some(Err(why)) => {
                let file = ctx.file(var);
                report.unmapped(
                    var,
                    &file,
                    C_SETTING,
                    format!("host `{host}`: {why}; the host is not mapped"),
                );
                return;
            }
            None => None,
        },
        None => None,
    };
    let (address, e) = address.unwrap_or_else(|| {
        (
            host.to_string(),
            Eval {
                out: Out::Val(Val::Str(host.to_string())),
                defaulted: false,
                vars: Vec::new(),
            },
        )
    });
    let comment = if e.vars.is_empty() {
        "the inventory host's name".to_string()
    } else {
        origin_comment(ctx, &e)
    };
    out.set(
        &["hosts", host, "address"],
        toml::Value::String(address),
        Some(&comment),
    );
    mapped(ctx, report, &format!("hosts.{host}.address"), &e, None);
    if let Some(var) = pick(ctx, &["ansible_user", "ansible_ssh_user"]) {
        let file = ctx.file(var);
        match string_var(ctx, var) {
            Some(Ok((u, e))) if word_ok(&u) && u.len() <= 64 => {
                let comment = origin_comment(ctx, &e);
                out.set(
                    &["hosts", host, "user"],
                    toml::Value::String(u),
                    Some(&comment),
                );
                mapped(ctx, report, &format!("hosts.{host}.user"), &e, None);
            }
            Some(Ok((u, _))) => report.unmapped(
                var,
                &file,
                C_SETTING,
                format!("host `{host}`: `{}` is not a login name", shown(&u)),
            ),
            Some(Err(why)) => {
                report.unmapped(var, &file, C_SETTING, format!("host `{host}`: {why}"))
            }
            None => {}
        }
    }
    if let Some(var) = pick(ctx, &["ansible_port", "ansible_ssh_port"]) {
        let file = ctx.file(var);
        let port = match ctx.get(var) {
            Some(Ok(e)) => match &e.out {
                Out::Val(Val::Int(p)) => u16::try_from(*p)
                    .ok()
                    .filter(|p| *p > 0)
                    .map(|p| (p, e.clone())),
                Out::Val(Val::Str(s)) => s
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .map(|p| (p, e.clone())),
                _ => None,
            },
            _ => None,
        };
        match port {
            Some((p, e)) => {
                let comment = origin_comment(ctx, &e);
                out.set(
                    &["hosts", host, "ssh_port"],
                    toml::Value::Integer(p.into()),
                    Some(&comment),
                );
                mapped(ctx, report, &format!("hosts.{host}.ssh_port"), &e, None);
            }
            None => report.unmapped(
                var,
                &file,
                C_SETTING,
                format!("host `{host}`: not a TCP port vpai can read"),
            ),
        }
    }
    for var in ["ansible_ssh_private_key_file", "ansible_private_key_file"] {
        if ctx.defs.contains_key(var) {
            ctx.used.insert(var.to_string());
            let file = ctx.file(var);
            report.unmapped(
                var,
                &file,
                C_SETTING,
                "vpai's ssh uses your agent and ~/.ssh/config: add an `IdentityFile` line for the host there, or set `identity` (relative to stack.toml) in its `[hosts.NAME]`".into(),
            );
        }
    }
}

/// A profile member turned off: the service, why, and the variables that said so.
type Off = (String, String, Vec<String>);

/// Which vpai services the Ansible project ran: from the site playbook's roles when
/// there is one, else from the services' image variables. Returns (selected,
/// profile members turned off, profile, where the choice came from).
fn select_services(
    ctx: &mut Ctx,
    reader: &mut Reader,
    layout: &Layout,
    group: &str,
    hosts: &[String],
    catalog: &Catalog,
    report: &mut Report,
) -> anyhow::Result<(Vec<String>, Vec<Off>, String, String)> {
    let used_before = ctx.used.clone();
    let mut selected: Vec<String> = Vec::new();
    let mut off: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let playbook = [
        "site.yml",
        "playbooks/site.yml",
        "playbooks/stacks/site.yml",
        "playbook.yml",
    ]
    .iter()
    .map(|p| layout.root.join(p))
    .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()));
    let origin;
    if let Some(path) = playbook {
        let shown_pb = reader.shown(&path);
        origin = format!("the roles of {shown_pb}");
        let mut roles = Vec::new();
        inventory::playbook_roles(reader, &path, 0, &mut roles)?;
        for role in roles {
            // Plays for other groups (the VPN server, a workstation) are not this stack.
            if let Some(h) = &role.hosts {
                let target = match h {
                    Val::Str(s) => match jinja::template(s, ctx) {
                        Ok(Eval {
                            out: Out::Val(Val::Str(t)),
                            ..
                        }) => Some(t),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(t) = target {
                    let names: Vec<&str> = t.split([',', ':']).map(str::trim).collect();
                    if !names
                        .iter()
                        .any(|n| *n == "all" || *n == group || hosts.iter().any(|h| h == n))
                    {
                        continue;
                    }
                }
            }
            let (on, when_vars) = match &role.when {
                None => (Some(true), Vec::new()),
                Some(w) => {
                    let mut vars = Vec::new();
                    (when(ctx, w, &mut vars), vars)
                }
            };
            // The services whose catalog entry names the role (`[import.ansible] roles`).
            let services = catalog.ansible_role_services(&role.name);
            let services = (!services.is_empty()).then_some(services);
            match (services, on) {
                (Some(svcs), Some(false)) => {
                    for s in svcs {
                        off.insert(
                            s.to_string(),
                            (
                                format!(
                                    "the role `{}` does not run: its `when:` is false ({})",
                                    role.name,
                                    when_vars.join(", ")
                                ),
                                when_vars.clone(),
                            ),
                        );
                    }
                }
                (Some(svcs), _) => {
                    for s in svcs {
                        if !selected.iter().any(|x| x == s) {
                            selected.push(s.to_string());
                        }
                    }
                    if on.is_none() {
                        report.warnings.push(format!(
                            "the role `{}` has a `when:` vpai cannot evaluate: taken as on",
                            role.name
                        ));
                    }
                }
                (None, _) => {
                    let name = safe_text(&role.name, 60);
                    let why = if let Some((_, w)) =
                        ROLES_VPAI_DOES.iter().find(|(r, _)| *r == role.name)
                    {
                        w.to_string()
                    } else if HOST_ROLES.contains(&role.name.as_str()) {
                        "host setup (system, SSH hardening, VPN, monitors) that vpai does not do"
                            .into()
                    } else if on == Some(false) {
                        "a service vpai does not deploy (off here anyway: its `when:` is false)"
                            .into()
                    } else {
                        "a service vpai does not deploy: a `catalog/<name>/service.toml` next to stack.toml can add it".into()
                    };
                    if !report.roles.iter().any(|(r, _)| *r == name) {
                        report.roles.push((name, why));
                    }
                }
            }
        }
    } else {
        origin = "the services' `*_image` variables (no site playbook found)".into();
        for def in catalog.services() {
            if ctx.defs.contains_key(&format!("{}_image", def.name)) {
                selected.push(def.name.clone());
            }
        }
        if selected.is_empty() {
            report.warnings.push(
                "no site playbook and no `*_image` variable of a vpai service: the import assumed the `core` profile".into(),
            );
            selected = Catalog::profile("core")
                .unwrap_or_default()
                .iter()
                .map(|s| s.to_string())
                .collect();
        }
    }
    // `<service>_enabled: false` turns a service off (VPAI: `openclaw_enabled`).
    for s in selected.clone() {
        let var = format!("{s}_enabled");
        if let Some(Ok(e)) = ctx.get(&var)
            && let Out::Val(v) = &e.out
            && jinja::to_bool(v) == Some(false)
        {
            let why = format!("{var}: false ({})", ctx.file(&var));
            off.insert(s.clone(), (why, e.vars.clone()));
        }
    }
    selected.retain(|s| !off.contains_key(s));
    // What the selected services need comes along; a service with a database needs
    // the one that provides databases (`provides_databases`), the selected one if any.
    let providers: Vec<String> = catalog
        .services()
        .filter(|d| d.provides_databases.is_some())
        .map(|d| d.name.clone())
        .collect();
    let mut i = 0;
    while i < selected.len() {
        let needs: Vec<String> = catalog
            .get(&selected[i])
            .map(|d| {
                let mut n = d.needs.clone();
                if d.database.as_ref().is_some_and(|db| !db.optional)
                    && let Some(p) = providers
                        .iter()
                        .find(|p| selected.contains(*p))
                        .or(providers.first())
                {
                    n.push(p.clone());
                }
                n
            })
            .unwrap_or_default();
        for n in needs {
            if catalog.get(&n).is_some() && !selected.contains(&n) {
                report.warnings.push(format!(
                    "`{n}` added: `{}` needs it (the Ansible project did not run it here)",
                    selected[i]
                ));
                off.remove(&n);
                selected.push(n);
            }
        }
        i += 1;
    }
    // The smallest profile holding them; its other members are turned off.
    let mut profiles: Vec<(&str, &[&str])> = Catalog::profile_names()
        .into_iter()
        .filter_map(|p| Catalog::profile(p).map(|m| (p, m)))
        .collect();
    profiles.sort_by_key(|(_, m)| m.len());
    let (profile, members) = profiles
        .iter()
        .find(|(_, m)| selected.iter().all(|s| m.contains(&s.as_str())))
        .copied()
        .or_else(|| profiles.last().copied())
        .context("the catalog has no profile")?;
    let mut turned_off = Vec::new();
    for m in members {
        if selected.iter().any(|s| s == m) {
            continue;
        }
        let (why, vars) = off
            .remove(*m)
            .unwrap_or_else(|| ("the Ansible project does not run it".into(), Vec::new()));
        turned_off.push((m.to_string(), why, vars));
    }
    // Turned-off services outside the profile need no line: they are not in it.
    selected.sort_by_key(|s| members.iter().position(|m| *m == s.as_str()));
    // What was read to decide this is accounted for by the decision.
    let read: Vec<String> = ctx.used.difference(&used_before).cloned().collect();
    report.consumed.extend(read);
    Ok((selected, turned_off, profile.to_string(), origin))
}

/// A role's `when:` (a string, a boolean, or a list that must all hold); the
/// variables it read are added to `vars`.
fn when(ctx: &mut Ctx, w: &Val, vars: &mut Vec<String>) -> Option<bool> {
    match w {
        Val::Bool(b) => Some(*b),
        Val::Str(s) => match jinja::expression(s, ctx) {
            Ok(e) => {
                vars.extend(e.vars.iter().cloned());
                match &e.out {
                    Out::Val(v) => jinja::truthy(v),
                    _ => None,
                }
            }
            Err(_) => None,
        },
        Val::List(items) => {
            let mut all = Some(true);
            for i in items {
                match when(ctx, i, vars) {
                    Some(false) => return Some(false),
                    None => all = None,
                    Some(true) => {}
                }
            }
            all
        }
        _ => None,
    }
}

/// Image reference -> (path without registry host or `library/`, tag, digest).
fn image_parts(image: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(rest[last_slash + i + 1..].to_string()),
        ),
        None => (rest, None),
    };
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        parts.remove(0);
    }
    if parts.len() > 1 && parts[0] == "library" {
        parts.remove(0);
    }
    (parts.join("/"), tag, digest)
}

/// `[services.NAME]`: subdomain, version (from the image), memory.
fn map_services(
    ctx: &mut Ctx,
    out: &mut StackOut,
    report: &mut Report,
    catalog: &Catalog,
    services: &[String],
    enabled: &[String],
    domain: &str,
) {
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for svc in services {
        let Some(def) = catalog.get(svc) else {
            continue;
        };
        let def = def.clone();
        // Subdomain: the first variable defined of the catalog's `subdomain_vars`
        // (`<svc>_subdomain` by default).
        if def.web.is_some() {
            let var = def
                .import
                .ansible
                .subdomain_vars(svc)
                .into_iter()
                .find(|v| ctx.defs.contains_key(v));
            if let Some(var) = var {
                let is_on = enabled.contains(svc);
                let taken_now = taken.clone();
                let v = map_str(
                    ctx,
                    out,
                    report,
                    &var,
                    &["services", svc, "subdomain"],
                    |v| {
                        values::check_subdomain(v)
                            .and_then(|()| values::check_fqdn(v, domain))
                            .map_err(refusal)?;
                        if is_on && let Some(other) = taken_now.get(&v.to_ascii_lowercase()) {
                            return Err(format!("`{other}` already answers on `{v}`"));
                        }
                        Ok(v.to_string())
                    },
                    None,
                );
                if let Some(v) = v
                    && is_on
                {
                    taken.insert(v.to_ascii_lowercase(), svc.clone());
                }
            }
        }
        // Version: the tag of the same image vpai runs.
        let var = format!("{svc}_image");
        if ctx.defs.contains_key(&var) {
            let file = ctx.file(&var);
            match string_var(ctx, &var) {
                Some(Ok((image, e))) => {
                    let (path, tag, digest) = image_parts(&image);
                    let (ours, _, _) = image_parts(&def.image);
                    match tag {
                        _ if path != ours => report.unmapped(
                            &var,
                            &file,
                            C_SETTING,
                            format!(
                                "not mapped to `services.{svc}.version`: the image `{}` is not vpai's `{ours}`; vpai runs its catalog's image (another one goes in `[images]`, and is then never pulled: build or load it on the host)",
                                shown(&path)
                            ),
                        ),
                        None => report.unmapped(
                            &var,
                            &file,
                            C_SETTING,
                            format!("not mapped to `services.{svc}.version`: the image has no tag (unpinned)"),
                        ),
                        Some(t) => match values::check_version(&t) {
                            Err(r) => report.unmapped(
                                &var,
                                &file,
                                C_SETTING,
                                format!("not mapped to `services.{svc}.version`: {}", refusal(r)),
                            ),
                            Ok(()) => {
                                let note = digest.map(|_| {
                                    "the image's digest is not kept: vpai pins the tag".to_string()
                                });
                                let comment = origin_comment(ctx, &e);
                                out.set(
                                    &["services", svc, "version"],
                                    toml::Value::String(t.clone()),
                                    Some(&comment),
                                );
                                mapped(ctx, report, &format!("services.{svc}.version"), &e, note);
                                // A `<svc>_..._version` variable saying the same tag goes with it.
                                let same: Vec<String> = ctx
                                    .defs
                                    .keys()
                                    .filter(|k| k.starts_with(&format!("{svc}_")) && k.ends_with("_version"))
                                    .cloned()
                                    .collect();
                                for k in same {
                                    if let Some(Ok((v, _))) = string_var(ctx, &k)
                                        && v == t
                                        && let Some(m) = report.mapped.last_mut()
                                    {
                                        m.from.push(k);
                                    }
                                }
                            }
                        },
                    }
                }
                Some(Err(why)) => report.unmapped(
                    &var,
                    &file,
                    C_SETTING,
                    format!("not mapped to `services.{svc}.version`: {why}"),
                ),
                None => {}
            }
        }
        // Memory limit, at least the catalog's floor.
        let var = format!("{svc}_memory_limit");
        if ctx.defs.contains_key(&var) {
            let floor = def.memory_floor.clone();
            let default = def.memory.clone();
            map_str(
                ctx,
                out,
                report,
                &var,
                &["services", svc, "memory"],
                |v| {
                    values::check_memory(v).map_err(refusal)?;
                    match vpai_spec::ByteSize::parse(v) {
                        Some(size) if size >= floor => Ok(v.to_string()),
                        _ => Err(format!(
                            "`{}` is below {svc}'s floor of {floor} in vpai, which keeps its default {default}",
                            shown(v)
                        )),
                    }
                },
                None,
            );
        }
    }
}

/// What the operator chooses about a service (`[services.NAME.data]`), as its catalog
/// entry's `[import.ansible]` says: every service's one-variable keys (`data`) first,
/// then the gathered budget lists (`budgets`), each in the catalog's order.
fn map_data(
    ctx: &mut Ctx,
    out: &mut StackOut,
    report: &mut Report,
    catalog: &Catalog,
    services: &[String],
) {
    let defs: Vec<&ServiceDef> = catalog
        .services()
        .filter(|d| services.contains(&d.name))
        .collect();
    for def in &defs {
        for entry in &def.import.ansible.data {
            if ctx.defs.contains_key(&entry.var) {
                map_data_var(ctx, out, report, &def.name, entry);
            }
        }
    }
    for def in &defs {
        if let Some(budgets) = &def.import.ansible.budgets {
            map_budgets(ctx, out, report, &def.name, budgets);
        }
    }
}

/// One variable onto `services.<svc>.data.<key>`, read as its `kind` says.
fn map_data_var(
    ctx: &mut Ctx,
    out: &mut StackOut,
    report: &mut Report,
    svc: &str,
    entry: &AnsibleDataDef,
) {
    let path = ["services", svc, "data", entry.key.as_str()];
    let key = path.join(".");
    let var = entry.var.as_str();
    match entry.kind {
        AnsibleDataKind::Email => {
            map_str(
                ctx,
                out,
                report,
                var,
                &path,
                |v| {
                    values::check_email(v)
                        .map(|()| v.to_string())
                        .map_err(refusal)
                },
                None,
            );
        }
        AnsibleDataKind::TelegramUserIds => {
            let file = ctx.file(var);
            match string_var(ctx, var) {
                Some(Ok((v, _))) if v.trim().is_empty() => {}
                Some(Ok((v, e))) => match v.trim().parse::<i64>() {
                    Ok(id) if id > 0 => {
                        let comment = origin_comment(ctx, &e);
                        out.set(
                            &path,
                            toml::Value::Array(vec![toml::Value::Integer(id)]),
                            Some(&comment),
                        );
                        mapped(
                            ctx,
                            report,
                            &key,
                            &e,
                            Some("a private chat's id is its user's id: that user may talk to the bot".into()),
                        );
                    }
                    Ok(_) => report.unmapped(
                        var,
                        &file,
                        C_SETTING,
                        format!("not mapped to `{key}`: a group's chat id (negative); the allowlist takes the ids of users"),
                    ),
                    Err(_) => report.unmapped(
                        var,
                        &file,
                        C_SETTING,
                        format!("not mapped to `{key}`: not a Telegram id (a number)"),
                    ),
                },
                Some(Err(why)) => {
                    report.unmapped(var, &file, C_SETTING, format!("not mapped: {why}"))
                }
                None => {}
            }
        }
    }
}

/// Provider budget variables gathered into the list `services.<svc>.data.<key>`, one
/// `{ provider, limit, period }` each.
fn map_budgets(
    ctx: &mut Ctx,
    out: &mut StackOut,
    report: &mut Report,
    svc: &str,
    budgets: &AnsibleBudgetsDef,
) {
    let path = ["services", svc, "data", budgets.key.as_str()];
    let key = path.join(".");
    let mut items = Vec::new();
    let mut first: Option<Eval> = None;
    let mut vars = Vec::new();
    for b in &budgets.from {
        let var = b.var.as_str();
        let Some(r) = ctx.get(var) else { continue };
        let file = ctx.file(var);
        let limit = match r {
            Ok(e) => match &e.out {
                Out::Val(Val::Float(f)) => Some((*f, e.clone())),
                Out::Val(Val::Int(i)) => Some((*i as f64, e.clone())),
                Out::Val(Val::Str(s)) => s.trim().parse::<f64>().ok().map(|f| (f, e.clone())),
                _ => None,
            },
            Err(_) => None,
        };
        match limit {
            Some((l, e)) if l.is_finite() && l >= 0.0 => {
                let mut t = toml::Table::new();
                t.insert("provider".into(), toml::Value::String(b.provider.clone()));
                t.insert("limit".into(), toml::Value::Float(l));
                t.insert("period".into(), toml::Value::String(b.period.clone()));
                items.push(toml::Value::Table(t));
                vars.push(var.to_string());
                first.get_or_insert(e);
            }
            _ => report.unmapped(
                var,
                &file,
                C_SETTING,
                format!("not mapped to `{key}`: not an amount in dollars"),
            ),
        }
    }
    if let Some(mut e) = first {
        e.vars = vars;
        out.set(&path, toml::Value::Array(items), Some(&budgets.comment));
        mapped(ctx, report, &key, &e, None);
        if let Some(m) = report.mapped.last_mut() {
            m.joined = true;
        }
    }
}

/// `[backup]`: the GFS retention.
fn map_backup(ctx: &mut Ctx, out: &mut StackOut, report: &mut Report) {
    let mut keep = toml::Table::new();
    let mut vars = Vec::new();
    let mut first = None;
    for which in ["daily", "weekly", "monthly", "yearly"] {
        let var = format!("backup_gfs_keep_{which}");
        let Some(r) = ctx.get(&var) else { continue };
        let file = ctx.file(&var);
        let n = r.ok().and_then(|e| match &e.out {
            Out::Val(Val::Int(i)) => u32::try_from(*i).ok().map(|n| (n, e.clone())),
            Out::Val(Val::Str(s)) => s.trim().parse::<u32>().ok().map(|n| (n, e.clone())),
            _ => None,
        });
        match n {
            Some((n, e)) => {
                keep.insert(which.into(), toml::Value::Integer(n.into()));
                vars.push(var);
                first.get_or_insert(e);
            }
            None => report.unmapped(
                &var,
                &file,
                C_SETTING,
                "not mapped to `backup.keep`: not a count of snapshots".into(),
            ),
        }
    }
    if let Some(mut e) = first {
        e.vars = vars;
        out.set(
            &["backup", "keep"],
            toml::Value::Table(keep),
            Some("backup_gfs_keep_*: the GFS retention"),
        );
        mapped(
            ctx,
            report,
            "backup.keep",
            &e,
            Some("vpai also keeps the last 3 snapshots whatever their day".into()),
        );
        if let Some(m) = report.mapped.last_mut() {
            m.joined = true;
        }
    }
}

/// Every found secret, in precedence order (a later definition of the same variable
/// wins), with the file it comes from. Template values (`"{{ vault_x }}"`) are the
/// plain alias of a vault variable: not a value.
fn collect_secrets(
    files: &[VarFile],
    report: &mut Report,
    cached_pw: &mut Option<Zeroizing<Vec<u8>>>,
    password_file: Option<&Path>,
) -> anyhow::Result<Vec<(String, FoundSecret)>> {
    let mut found: Vec<(String, FoundSecret)> = Vec::new();
    for f in files {
        let shown_file = f.shown.clone();
        let mut pw = || password(cached_pw, password_file, &shown_file);
        let vars = match read_vars(&f.shown, &f.text, &mut pw) {
            Ok(v) => v,
            // A plain file the settings were read from, but which the vault import's
            // stricter reading refuses (a key given twice): said, not fatal.
            Err(vpai_vault::ImportError::Yaml { position, .. }) if !f.encrypted => {
                report.secrets_skipped.push((
                    "(the whole file)".into(),
                    f.shown.clone(),
                    format!(
                        "the vault import cannot read it{position} (a variable defined twice?): no secret was taken from it"
                    ),
                ));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for s in vars.secrets {
            if s.value.contains("{{") || s.value.contains("{%") {
                continue;
            }
            if let Err(problem) = vpai_render::check_env_value(&s.value) {
                report.secrets_skipped.push((
                    s.ansible.clone(),
                    f.shown.clone(),
                    format!("its value cannot be written into an env file: {problem}; set one without it with `vpai secrets set`"),
                ));
                continue;
            }
            let bare = s
                .ansible
                .strip_prefix("vault_")
                .unwrap_or(&s.ansible)
                .to_string();
            found.retain(|(_, x)| x.ansible.strip_prefix("vault_").unwrap_or(&x.ansible) != bare);
            found.push((f.shown.clone(), s));
        }
        for (name, why) in vars.skipped {
            report.secrets_skipped.push((name, f.shown.clone(), why));
        }
    }
    for (file, s) in &found {
        report.secrets_from.push((
            s.ansible.clone(),
            file.clone(),
            s.vpai.iter().map(|n| n.to_string()).collect(),
        ));
    }
    Ok(found)
}

/// Secrets the stack declares that the inventory holds under the same name as a
/// setting (VPAI: `telegram_monitoring_chat_id`): (secret, variable, file, value).
fn extra_secrets(
    ctx: &mut Ctx,
    project: &Project,
    found: &[(String, FoundSecret)],
    report: &mut Report,
) -> Vec<(String, String, String, Zeroizing<String>)> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, def) in project.stack.secret_defs() {
        if !seen.insert(def.name.clone())
            || found
                .iter()
                .any(|(_, f)| f.vpai.contains(&def.name.as_str()))
        {
            continue;
        }
        let Some(Ok((value, e))) = string_var(ctx, &def.name) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let file = e
            .vars
            .iter()
            .rev()
            .find(|v| ctx.defs.contains_key(*v))
            .map(|v| ctx.file(v))
            .unwrap_or_default();
        if vpai_vault::check_value(&value).is_err() || vpai_render::check_env_value(&value).is_err()
        {
            report.secrets_skipped.push((
                def.name.clone(),
                file,
                "its value is not one line an env file can carry".into(),
            ));
            continue;
        }
        let var = e.vars.last().cloned().unwrap_or_else(|| def.name.clone());
        report
            .secrets_from
            .push((var.clone(), file.clone(), vec![def.name.clone()]));
        out.push((def.name.clone(), var, file, Zeroizing::new(value)));
    }
    out
}

fn merge_outcome(into: &mut vpai_vault::ImportOutcome, o: vpai_vault::ImportOutcome) {
    for (to, from) in [
        (&mut into.added, o.added),
        (&mut into.replaced, o.replaced),
        (&mut into.unchanged, o.unchanged),
        (&mut into.kept, o.kept),
    ] {
        for n in from {
            if !to.contains(&n) {
                to.push(n);
            }
        }
    }
}

/// Every variable no mapping read, with the reason it has no place in stack.toml.
fn classify_rest(ctx: &Ctx, report: &mut Report, layout: &Layout, catalog: &Catalog) {
    // Role names: the project's roles/ directory and the playbook's roles.
    let mut roles: BTreeSet<String> = report.roles.iter().map(|(r, _)| r.clone()).collect();
    if let Ok(rd) = std::fs::read_dir(layout.root.join("roles")) {
        for e in rd.flatten().take(1000) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                roles.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    let vpai_services: Vec<String> = catalog.services().map(|d| d.name.clone()).collect();
    // The services' own variables with no place in stack.toml (`[import.ansible] unmapped`).
    let service_reasons: BTreeMap<&str, &str> = catalog
        .services()
        .flat_map(|d| &d.import.ansible.unmapped)
        .flat_map(|u| u.vars.iter().map(|v| (v.as_str(), u.reason.as_str())))
        .collect();
    for (name, def) in &ctx.defs {
        // Read by a mapping or a decision, or already reported with its own reason.
        if report.mapped.iter().any(|m| m.from.contains(name))
            || report.consumed.contains(name)
            || report.unmapped.iter().any(|u| &u.variable == name)
        {
            continue;
        }
        let bare = name.strip_prefix("vault_").unwrap_or(name);
        let hidden = matches!(def.val, Val::Hidden(_));
        let imported = report
            .secrets_from
            .iter()
            .any(|(a, _, _)| a.strip_prefix("vault_").unwrap_or(a) == bare);
        let role = longest_prefix(bare, roles.iter().map(String::as_str));
        let (category, reason, group): (&'static str, &str, Option<String>) = if imported {
            (
                C_SECRET,
                "a secret, imported into the vault (see secrets above)",
                None,
            )
        } else if hidden && vpai_vault::import::lookup(name).is_some() {
            (
                C_SECRET,
                "a secret vpai knows, with no value in the files read (`vpai secrets set NAME` if a service needs it)",
                None,
            )
        } else if let Some(why) = KNOWN_REASONS
            .iter()
            .find(|(n, _)| *n == bare)
            .map(|(_, why)| *why)
            .or_else(|| service_reasons.get(bare).copied())
        {
            (C_SETTING, why, None)
        } else if name.starts_with("ansible_") {
            (C_ANSIBLE, "a setting of Ansible itself", None)
        } else if let Some(role) = role {
            let svcs = catalog.ansible_role_services(role);
            if !svcs.is_empty() {
                (C_VPAI_SERVICE, VPAI_SERVICE_REASON, Some(svcs.join("/")))
            } else if HOST_ROLES.contains(&role) || ROLES_VPAI_DOES.iter().any(|(r, _)| *r == role)
            {
                (
                    C_HOST,
                    "belongs to a role whose work vpai does itself or does not do",
                    Some(role.to_string()),
                )
            } else {
                (
                    C_SERVICE,
                    "belongs to a service vpai does not deploy",
                    Some(role.to_string()),
                )
            }
        } else if let Some(svc) = longest_prefix(bare, vpai_services.iter().map(String::as_str)) {
            (C_VPAI_SERVICE, VPAI_SERVICE_REASON, Some(svc.to_string()))
        } else if hidden {
            (
                C_SECRET,
                "named like a secret, so its value was not read; vpai does not use it (`vpai secrets set NAME --unused` keeps one)",
                None,
            )
        } else if [
            "hardening_",
            "ssh_",
            "docker_",
            "ufw_",
            "fail2ban_",
            "vpn_",
            "headscale_",
        ]
        .iter()
        .any(|p| bare.starts_with(p))
        {
            (
                C_HOST,
                "host setup (Docker daemon, SSH, firewall, VPN) that vpai does not do",
                None,
            )
        } else if bare.ends_with("_cpu_limit") || bare.ends_with("_memory_reservation") {
            (
                C_NONE,
                "vpai sets memory limits only (no CPU limits, no reservations)",
                None,
            )
        } else {
            (C_NONE, "no equivalent in vpai", None)
        };
        report.unmapped.push(Unmapped {
            variable: name.clone(),
            file: def.file.clone(),
            category,
            reason: reason.to_string(),
            group,
        });
    }
}

/// The longest name `n` with `var` starting with `n_` (`-` in a role name is `_`).
fn longest_prefix<'a>(var: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .filter(|n| {
            let p = format!("{}_", n.replace('-', "_"));
            var.starts_with(&p)
        })
        .max_by_key(|n| n.len())
}

/// What the operator should check, from what the import saw.
fn next_steps(report: &mut Report, project: &Project, catalog: &Catalog) {
    // The notes of the services the stack runs (`[import.ansible] notes`).
    for service in &project.stack.services {
        if let Some(def) = catalog.get(&service.name) {
            report
                .warnings
                .extend(def.import.ansible.notes.iter().cloned());
        }
    }
    let vault_keys: Vec<String> = report
        .mapped
        .iter()
        .filter(|m| m.from_vault)
        .map(|m| m.key.clone())
        .collect();
    if !vault_keys.is_empty() {
        report.warnings.push(format!(
            "these values came from the Ansible Vault and are now in plain stack.toml (meant to be committed): {}; keep them out of a public repository if they were private",
            vault_keys.join(", ")
        ));
    }
    // A service's variables reported with their catalog reason may call for a word
    // after the import (`[import.ansible] unmapped` with a `warning`).
    for u in catalog.services().flat_map(|d| &d.import.ansible.unmapped) {
        let Some(warning) = &u.warning else { continue };
        let seen = report.unmapped.iter().any(|r| {
            r.reason == u.reason
                && u.vars
                    .iter()
                    .any(|v| r.variable.strip_prefix("vault_").unwrap_or(&r.variable) == v)
        });
        if seen && !report.warnings.contains(warning) {
            report.warnings.push(warning.clone());
        }
    }
    report.warnings.push(format!(
        "the Ansible deployment's containers (`{0}_<service>`) and files under /opt/{0} may still be running on the host: read `vpai plan` before `vpai up`",
        project.stack.project
    ));
}

#[allow(clippy::too_many_arguments)]
fn print_report(
    printer: &Printer,
    report: &Report,
    reader: &Reader,
    args: &ImportAnsibleArgs,
    group: &str,
    stack_path: &Path,
    vault_path: &Path,
    project: &Project,
) -> anyhow::Result<()> {
    let file_arg = stack_path.display().to_string();
    let host_flag = match project.stack.hosts.as_slice() {
        [] => String::new(),
        [h] => format!(" --host {}", h.name),
        _ => " --host NAME".into(),
    };
    let next = vec![
        format!("vpai check -f {file_arg}"),
        format!("vpai secrets list -f {file_arg}"),
        format!("vpai plan -f {file_arg}{host_flag}"),
    ];
    let vault_written = vault_path.exists();
    if args.json {
        let data = json!({
            "source": args.path.display().to_string(),
            "group": group,
            "stack_file": file_arg,
            "vault": vault_written.then(|| vault_path.display().to_string()),
            "mapped": report.mapped.iter().map(|m| json!({
                "key": m.key,
                "from": m.from,
                "file": m.file,
                "from_vault": m.from_vault,
                "defaulted": m.defaulted,
                "note": m.note,
            })).collect::<Vec<_>>(),
            "services": {
                "enabled": report.services,
                "disabled": report.disabled.iter().map(|(s, w)| json!({"service": s, "reason": w})).collect::<Vec<_>>(),
            },
            "roles": report.roles.iter().map(|(r, w)| json!({"role": r, "reason": w})).collect::<Vec<_>>(),
            "secrets": {
                "imported_from": report.secrets_from.iter().map(|(v, f, to)| json!({"variable": v, "file": f, "secrets": to})).collect::<Vec<_>>(),
                "added": report.outcome.added,
                "replaced": report.outcome.replaced,
                "unchanged": report.outcome.unchanged,
                "kept": report.outcome.kept,
                "skipped": report.secrets_skipped.iter().map(|(v, f, w)| json!({"variable": v, "file": f, "reason": w})).collect::<Vec<_>>(),
            },
            "unmapped": report.unmapped.iter().map(|u| json!({
                "variable": u.variable,
                "file": u.file,
                "category": u.category,
                "reason": u.reason,
            })).collect::<Vec<_>>(),
            "not_read": reader.not_read.iter().map(|(f, w)| json!({"file": f, "reason": w})).collect::<Vec<_>>(),
            "warnings": report.warnings,
            "next": next,
        });
        printer.out(&serde_json::to_string_pretty(&data)?);
        return Ok(());
    }
    let mut o = String::new();
    o.push_str(&format!("mapped ({}):\n", report.mapped.len()));
    let width = report.mapped.iter().map(|m| m.key.len()).max().unwrap_or(0);
    for m in &report.mapped {
        let from = match m.from.as_slice() {
            [] => m.note.clone().unwrap_or_default(),
            [one] => format!("{one} ({})", m.file),
            all if m.joined => format!("{} ({})", all.join(", "), m.file),
            [first, .., last] => format!("{first} ({}) <- {last}", m.file),
        };
        o.push_str(&format!(
            "  {:width$}  {from}{}{}\n",
            m.key,
            if m.from_vault {
                " [from the Ansible Vault]"
            } else {
                ""
            },
            if m.defaulted {
                " [a template's default]"
            } else {
                ""
            },
        ));
    }
    o.push_str(&format!(
        "\nservices: {}\n",
        if report.services.is_empty() {
            "none".to_string()
        } else {
            report.services.join(", ")
        }
    ));
    for (s, why) in &report.disabled {
        o.push_str(&format!("  {s}: off ({why})\n"));
    }
    if !report.roles.is_empty() {
        let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (r, w) in &report.roles {
            by.entry(w.as_str()).or_default().push(r);
        }
        o.push_str("roles vpai does not map:\n");
        for (why, roles) in by {
            o.push_str(&format!("  {}: {why}\n", roles.join(", ")));
        }
    }
    let out = &report.outcome;
    o.push_str(&format!(
        "\nsecrets: {} added, {} replaced, {} unchanged, {} kept{}\n",
        out.added.len(),
        out.replaced.len(),
        out.unchanged.len(),
        out.kept.len(),
        if vault_written {
            format!(" in `{}`", vault_path.display())
        } else {
            " (no vault written)".into()
        }
    ));
    if !out.added.is_empty() {
        o.push_str(&format!("  added: {}\n", out.added.join(", ")));
    }
    if !out.replaced.is_empty() {
        o.push_str(&format!("  replaced: {}\n", out.replaced.join(", ")));
    }
    if !out.kept.is_empty() {
        o.push_str(&format!(
            "  kept the vault's value of: {} (pass --force to take the Ansible one)\n",
            out.kept.join(", ")
        ));
    }
    for (v, f, why) in &report.secrets_skipped {
        o.push_str(&format!("  not imported: {v} ({f}): {why}\n"));
    }
    o.push_str(&format!("\nnot mapped ({}):\n", report.unmapped.len()));
    // Settings one per line (each has its own reason); the rest grouped by reason.
    for u in report.unmapped.iter().filter(|u| u.category == C_SETTING) {
        o.push_str(&format!("  {} ({}): {}\n", u.variable, u.file, u.reason));
    }
    for category in [
        C_VPAI_SERVICE,
        C_SERVICE,
        C_SECRET,
        C_HOST,
        C_ANSIBLE,
        C_NONE,
    ] {
        let mut by: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
        for u in report.unmapped.iter().filter(|u| u.category == category) {
            by.entry(u.reason.as_str())
                .or_default()
                .entry(u.group.as_deref().unwrap_or(""))
                .or_default()
                .push(u.variable.as_str());
        }
        for (why, groups) in by {
            o.push_str(&format!("  {why}:\n"));
            for (group, vars) in groups {
                if group.is_empty() {
                    o.push_str(&format!("    {}\n", wrap(&vars, 92, 4)));
                } else {
                    o.push_str(&format!("    {group}: {}\n", wrap(&vars, 92, 6)));
                }
            }
        }
    }
    if !reader.not_read.is_empty() {
        o.push_str("\nnot read:\n");
        for (f, why) in &reader.not_read {
            o.push_str(&format!("  {f}: {why}\n"));
        }
    }
    printer.out(o.trim_end());
    for w in &report.warnings {
        printer.warn(w);
    }
    printer.success(&format!(
        "wrote `{}`{}",
        stack_path.display(),
        if vault_written {
            format!(" and `{}`", vault_path.display())
        } else {
            String::new()
        }
    ));
    printer.info(&format!("next: {}", next.join(", then ")));
    Ok(())
}

/// Names joined by `, `, wrapped at `width` columns, continued lines indented.
fn wrap(names: &[&str], width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for (i, n) in names.iter().enumerate() {
        let piece = if i + 1 < names.len() {
            format!("{n}, ")
        } else {
            n.to_string()
        };
        if line + piece.len() > width && line > 0 {
            out.truncate(out.trim_end().len());
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            line = 0;
        }
        line += piece.len();
        out.push_str(&piece);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_ignore_the_registry_host() {
        assert_eq!(
            image_parts("postgres:18.4-bookworm"),
            ("postgres".into(), Some("18.4-bookworm".into()), None)
        );
        assert_eq!(
            image_parts("mirror.example.internal:5000/library/redis:8.4.0"),
            ("redis".into(), Some("8.4.0".into()), None)
        );
        assert_eq!(image_parts("n8nio/n8n").0, "n8nio/n8n");
        let (p, t, d) = image_parts("haproxy:3.2@sha256:abc");
        assert_eq!(
            (p.as_str(), t.as_deref(), d.is_some()),
            ("haproxy", Some("3.2"), true)
        );
    }

    #[test]
    fn posix_locales_become_icu_ones() {
        assert_eq!(icu_locale("fr_FR.UTF-8"), "fr-FR");
        assert_eq!(icu_locale("de_CH@euro"), "de-CH");
        assert_eq!(icu_locale("en-US"), "en-US");
    }

    #[test]
    fn comments_are_one_line() {
        let c = comment_text("a\nb]\r\n[project]\u{2028}x");
        assert!(!c.contains('\n') && !c.contains('\r') && !c.contains('\u{2028}'));
    }

    #[test]
    fn role_prefixes() {
        let roles = ["n8n", "n8n-mcp", "flash-suite"];
        assert_eq!(
            longest_prefix("n8n_mcp_auth_token", roles.into_iter()),
            Some("n8n-mcp")
        );
        assert_eq!(
            longest_prefix("n8n_subdomain", roles.into_iter()),
            Some("n8n")
        );
        assert_eq!(
            longest_prefix("flash_suite_domain", roles.into_iter()),
            Some("flash-suite")
        );
        assert_eq!(longest_prefix("litellm_x", roles.into_iter()), None);
    }
}
