//! `vpai secrets`: list, show, set, edit, and import from Ansible Vault.
//!
//! Values travel only where the operator explicitly asks: `show` prints one to a
//! terminal (or with `--stdout`), `set` reads one from stdin or the terminal, `edit`
//! uses a private temp file. Everything else names secrets and never shows them; all
//! of it goes through the printer, which masks every known value anyway.

use crate::cli::{
    SecretsCommand, SecretsEditArgs, SecretsImportArgs, SecretsListArgs, SecretsSetArgs,
    SecretsShowArgs,
};
use crate::printer::{Printer, table};
use crate::project::Project;
use anyhow::{Context, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use vpai_catalog::{RotationPolicy, SecretDef};
use vpai_vault::import::{ansible_password, read_ansible_file, read_vars};
use vpai_vault::rotate::{catalog_users, due_at};
use vpai_vault::{EditSession, PassphraseSource, SecretOrigin, SecretStore, Zeroizing};

pub fn run(command: SecretsCommand, printer: &Printer) -> anyhow::Result<ExitCode> {
    match command {
        SecretsCommand::List(args) => list(args, printer),
        SecretsCommand::Show(args) => show(args, printer),
        SecretsCommand::Set(args) => set(args, printer),
        SecretsCommand::Edit(args) => edit(args, printer),
        SecretsCommand::ImportAnsible(args) => import_ansible(args, printer),
    }
}

/// Open the stack's vault (migrating the plaintext store once) and teach the printer
/// every value. The vault must belong to this project.
fn open_store(project: &Project, printer: &Printer) -> anyhow::Result<SecretStore> {
    let mut store = SecretStore::open_vault(
        &project.state_dir,
        &project.stack.project,
        &PassphraseSource::Environment,
    )?;
    crate::commands::unlock::offer(&mut store, printer);
    printer.add_secrets(store.values());
    Ok(store)
}

/// Save the store (merging with what another vpai saved meanwhile) and teach the
/// printer the values that merge brought in.
fn save_store(store: &mut SecretStore, printer: &Printer) -> anyhow::Result<()> {
    store.save()?;
    printer.add_secrets(store.values());
    Ok(())
}

/// The stack's declared secrets, once each, with the service that declares them.
fn declared(project: &Project) -> Vec<(String, SecretDef)> {
    let mut seen = BTreeSet::new();
    project
        .stack
        .secret_defs()
        .into_iter()
        .filter(|(_, d)| seen.insert(d.name.clone()))
        .map(|(s, d)| (s.to_string(), d.clone()))
        .collect()
}

/// Secret -> services whose containers read it: the renderer's record when every
/// generated secret exists (it sees config templates too), plus the catalog's.
fn users(project: &Project, store: &SecretStore) -> BTreeMap<String, BTreeSet<String>> {
    // The catalog also knows the services that would read an external secret once it
    // is set (a `when` condition leaves it out of today's files).
    let services: Vec<_> = project.stack.services.iter().map(|s| &s.def).collect();
    let mut map: BTreeMap<String, BTreeSet<String>> = declared(project)
        .into_iter()
        .map(|(_, def)| (def.name.clone(), catalog_users(&services, &def.name)))
        .collect();
    if let Ok(rendered) = project.render(store) {
        for art in &rendered.artifacts {
            for secret in &art.secrets {
                map.entry(secret.clone())
                    .or_default()
                    .extend(art.services.iter().cloned());
            }
        }
    }
    map
}

fn list(args: SecretsListArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let store = open_store(&project, printer)?;
    let declared = declared(&project);
    let users = users(&project, &store);
    let now = now();

    let mut names: BTreeSet<&str> = store.names().collect();
    names.extend(declared.iter().map(|(_, d)| d.name.as_str()));
    let mut entries = Vec::new();
    for name in names {
        let def = declared
            .iter()
            .find(|(_, d)| d.name == name)
            .map(|(_, d)| d);
        let record = store.record(name);
        let state = match (record, def) {
            (Some(_), Some(_)) => "set",
            (Some(_), None) => "unused",
            (None, Some(d)) if d.external && d.required => "missing",
            (None, Some(d)) if d.external => "not set",
            (None, _) => "not generated yet",
        };
        let due = def.and_then(|d| due_at(d, &store));
        entries.push(serde_json::json!({
            "name": name,
            "state": state,
            "origin": record.map(|r| r.origin.as_str())
                .or(def.map(|d| if d.external { "external" } else { "generated" })),
            "created": record.map(|r| r.created),
            "last_change": record.map(|r| r.last_change()),
            "last_rotation": record.and_then(|r| r.last_rotation()),
            "rotation_in_flight": record.is_some_and(|r| r.rotation.is_some()),
            "policy": def.map(|d| policy_name(d.rotate)),
            "never_reason": def.and_then(|d| d.never_reason.clone()),
            "due_at": due,
            "due": due.is_some_and(|d| d <= now),
            "used_by": users.get(name).cloned().unwrap_or_default(),
            "help": def.filter(|_| record.is_none()).and_then(|d| d.help.clone()),
        }));
    }
    if args.json {
        printer.out(&serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let secs = |k: &str| e[k].as_u64();
            let policy = match (e["policy"].as_str(), e["due"].as_bool(), secs("due_at")) {
                (Some(p), Some(true), _) => format!("{p}, DUE"),
                (Some(p), _, Some(at)) => format!("{p}, due in {}", span(at.saturating_sub(now))),
                (Some(p), _, None) => p.to_string(),
                (None, ..) => "-".into(),
            };
            let state = e["state"].as_str().unwrap_or_default();
            vec![
                e["name"].as_str().unwrap_or_default().to_string(),
                if state == "set" {
                    e["origin"].as_str().unwrap_or_default().to_string()
                } else {
                    state.to_string()
                },
                secs("created").map_or("-".into(), |c| span(now.saturating_sub(c))),
                match (e["rotation_in_flight"].as_bool(), secs("last_rotation")) {
                    (Some(true), _) => "in progress".into(),
                    (_, Some(r)) => format!("{} ago", span(now.saturating_sub(r))),
                    _ => "never".into(),
                },
                policy,
                e["used_by"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default(),
            ]
        })
        .collect();
    printer.out(&table(
        &[
            "name",
            "origin",
            "age",
            "last rotation",
            "policy",
            "used by",
        ],
        &rows,
    ));
    for e in &entries {
        if e["state"] == "missing" {
            printer.warn(&format!(
                "`{}` is required and not set: {}",
                e["name"].as_str().unwrap_or_default(),
                e["help"]
                    .as_str()
                    .unwrap_or("set it with `vpai secrets set NAME`")
            ));
        }
    }
    printer.info(&format!(
        "vault: `{}`{}",
        store.path().display(),
        crate::commands::unlock::held_note(&store)
    ));
    Ok(ExitCode::SUCCESS)
}

fn show(args: SecretsShowArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let store = open_store(&project, printer)?;
    let Some(value) = store.get(&args.name) else {
        let declared = declared(&project);
        if let Some((_, def)) = declared.iter().find(|(_, d)| d.name == args.name) {
            bail!(
                "`{}` has no value yet{}",
                args.name,
                if def.external {
                    format!(
                        "\n  help: {}",
                        def.help
                            .as_deref()
                            .unwrap_or("set it with `vpai secrets set NAME`")
                    )
                } else {
                    "\n  help: it is generated by `vpai up` or `vpai render`".into()
                }
            );
        }
        bail!(
            "no secret named `{}`{}",
            args.name,
            did_you_mean(
                &args.name,
                store
                    .names()
                    .chain(declared.iter().map(|(_, d)| d.name.as_str()))
            )
        );
    };
    let stdout = std::io::stdout();
    if !args.stdout && !stdout.is_terminal() {
        bail!(
            "refusing to write the value of `{}` to a pipe or a file\n  help: add `--stdout` if that is what you want",
            args.name
        );
    }
    // The one place a value is printed, on purpose: past the printer, which would mask it.
    let mut out = stdout.lock();
    writeln!(out, "{value}").context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn set(args: SecretsSetArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    if !vpai_vault::edit::valid_name(&args.name) {
        bail!(
            "`{}` is not a valid secret name (lowercase letters, digits and `_`)",
            args.name
        );
    }
    let declared = declared(&project);
    let def = declared
        .iter()
        .find(|(_, d)| d.name == args.name)
        .map(|(_, d)| d);
    if def.is_none() && !args.unused {
        bail!(
            "no service of this stack uses a secret named `{}`{}\n  help: pass `--unused` to store it anyway",
            args.name,
            did_you_mean(&args.name, declared.iter().map(|(_, d)| d.name.as_str()))
        );
    }
    let mut store = open_store(&project, printer)?;
    if let Some(d) = def
        && d.rotate == RotationPolicy::Never
        && store.contains(&d.name)
    {
        bail!(
            "`{}` must never change once used: {}\n  help: there is no override; the value in the vault is the one the data needs",
            d.name,
            d.never_reason
                .as_deref()
                .unwrap_or("the catalog marks it never-rotate")
        );
    }
    let value = read_value(&args.name)?;
    if value.chars().count() < vpai_vault::MIN_REDACTED_LEN {
        printer.warn(&format!(
            "the value of `{}` is shorter than {} characters: vpai cannot mask it in its output",
            args.name,
            vpai_vault::MIN_REDACTED_LEN
        ));
    }
    let existed = store.contains(&args.name);
    store.set(&args.name, value.to_string(), SecretOrigin::External);
    if !store.is_dirty() {
        printer.info(&format!(
            "`{}` already has this value; nothing changed",
            args.name
        ));
        return Ok(ExitCode::SUCCESS);
    }
    save_store(&mut store, printer)?;
    let used_by = users(&project, &store)
        .remove(&args.name)
        .unwrap_or_default();
    printer.success(&format!(
        "{} `{}` in `{}`",
        if existed { "changed" } else { "set" },
        args.name,
        store.path().display()
    ));
    if !used_by.is_empty() {
        printer.info(&format!(
            "run `vpai up` to apply it: it recreates {}",
            used_by.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// A value from stdin (one trailing newline dropped), or asked on the terminal
/// without echo. Never from argv, where `ps` and shell history would see it. Refused,
/// before anything is saved, when it is not one line of at most 8 KiB.
fn read_value(name: &str) -> anyhow::Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    let value = if stdin.is_terminal() {
        let value = vpai_vault::read_hidden(&format!("Value for {name} (not echoed): "))
            .context("reading the value from the terminal")?;
        check_value(name, &value)?;
        value
    } else {
        read_stdin_value(name)?
    };
    if value.is_empty() {
        bail!(
            "no value for `{name}`: pipe it on stdin (`vpai secrets set {name} < file`) or run on a terminal"
        );
    }
    Ok(value)
}

/// The value of `name` from stdin, one trailing newline dropped. At most 8 KiB are
/// read (and a line ending): a bigger input is refused without reading the rest.
pub(crate) fn read_stdin_value(name: &str) -> anyhow::Result<Zeroizing<String>> {
    let limit = vpai_vault::MAX_VALUE_LEN + 2;
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .context("reading the value from stdin")?;
    if bytes.len() > limit {
        bail!(
            "the value of `{name}` on stdin is longer than {} bytes (8 KiB), the limit for a secret\n  help: nothing was changed; a secret is a key, a password or a token, not a file",
            vpai_vault::MAX_VALUE_LEN
        );
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        bail!("the value of `{name}` on stdin is not UTF-8 text; nothing was changed");
    };
    let text = text
        .strip_suffix('\n')
        .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
    check_value(name, text)?;
    Ok(Zeroizing::new(text.to_string()))
}

/// Refuse a value that is not one line of at most 8 KiB, naming the problem, never
/// the value.
pub(crate) fn check_value(name: &str, value: &str) -> anyhow::Result<()> {
    if let Err(problem) = vpai_vault::check_value(value) {
        bail!(
            "the value of `{name}` {problem}\n  help: nothing was changed; give the value on one line (for a multi-line key, store it base64-encoded)"
        );
    }
    // Secrets reach the services through env files: refuse what no env file can carry
    // literally now, rather than a render that fails later.
    if let Err(problem) = vpai_render::check_env_value(value) {
        bail!(
            "the value of `{name}` cannot be written into an env file: {problem}\n  help: nothing was changed; if the provider lets you, generate a value without it"
        );
    }
    Ok(())
}

fn edit(args: SecretsEditArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let mut store = open_store(&project, printer)?;
    let defs: Vec<SecretDef> = declared(&project).into_iter().map(|(_, d)| d).collect();
    let session = EditSession::create(&store.edit_text()).context("creating the temp file")?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let changes = loop {
        // An interrupted edit (SIGINT, SIGTERM, SIGHUP) ends here: the session removes
        // the plaintext and exits, the vault unchanged.
        let status = session
            .run_editor(&editor)
            .with_context(|| format!("starting the editor `{editor}`"))?;
        if !status.success() {
            bail!("the editor `{editor}` failed ({status}); nothing was changed");
        }
        let text = session.read().context("reading the edited file back")?;
        match store.apply_edit(&text, &defs) {
            Ok(changes) => break changes,
            Err(e) => {
                printer.error_text(&e.to_string());
                if !ask_yes_no("Edit again? [Y/n] ")? {
                    bail!("nothing was changed");
                }
            }
        }
    };
    drop(session);
    if changes.is_empty() {
        printer.info("no change");
        return Ok(ExitCode::SUCCESS);
    }
    // Another vpai may have saved the vault while the editor was open: its changes are
    // kept, and a secret changed on both sides is refused.
    save_store(&mut store, printer)?;
    for (what, names) in [
        ("added", &changes.added),
        ("changed", &changes.changed),
        ("removed", &changes.removed),
    ] {
        if !names.is_empty() {
            printer.success(&format!("{what}: {}", names.join(", ")));
        }
    }
    printer.info("run `vpai up` to apply the changes");
    Ok(ExitCode::SUCCESS)
}

/// A yes/no question on the terminal; `false` when there is none.
fn ask_yes_no(question: &str) -> anyhow::Result<bool> {
    let Ok(mut tty) = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return Ok(false);
    };
    write!(tty, "{question}")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(tty), &mut line)?;
    Ok(!line.trim().to_ascii_lowercase().starts_with('n'))
}

fn import_ansible(args: SecretsImportArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let text = read_ansible_file(&args.ansible_file)?;
    let shown = args.ansible_file.display().to_string();
    let password_file = args
        .password_file
        .clone()
        .or_else(|| std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE").map(Into::into));
    let mut password = || ansible_password(password_file.as_deref(), &shown);
    let vars = read_vars(&shown, &text, &mut password)?;

    let mut store = open_store(&project, printer)?;
    let source = args
        .ansible_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let outcome = store.import(&vars, &source, args.overwrite);
    save_store(&mut store, printer)?;

    let join = |v: &[String]| v.join(", ");
    if !outcome.added.is_empty() {
        printer.success(&format!(
            "imported {}: {}",
            outcome.added.len(),
            join(&outcome.added)
        ));
    }
    if !outcome.replaced.is_empty() {
        printer.success(&format!(
            "replaced {}: {}",
            outcome.replaced.len(),
            join(&outcome.replaced)
        ));
        let declared = declared(&project);
        for name in &outcome.replaced {
            if let Some((_, d)) = declared
                .iter()
                .find(|(_, d)| &d.name == name && d.rotate == RotationPolicy::Never)
            {
                printer.warn(&format!(
                    "`{name}` never rotates and was replaced: if its service already ran with the previous value, {}; the previous vault is `{}.bak`",
                    d.never_reason.as_deref().unwrap_or("its data needs that value"),
                    store.path().display()
                ));
            }
        }
    }
    if !outcome.unchanged.is_empty() {
        printer.info(&format!("already identical: {}", join(&outcome.unchanged)));
    }
    if !outcome.kept.is_empty() {
        printer.warn(&format!(
            "kept the vault's value of {} (the file has another one; `--overwrite` takes the file's)",
            join(&outcome.kept)
        ));
        let declared = declared(&project);
        for name in &outcome.kept {
            if declared
                .iter()
                .any(|(_, d)| &d.name == name && d.rotate == RotationPolicy::Never)
            {
                printer.warn(&format!(
                    "`{name}` never rotates: data made by the Ansible deployment needs the file's value; import again with `--overwrite` unless this vault already served a deploy"
                ));
            }
        }
    }
    if !vars.settings.is_empty() {
        printer.info("settings, not secrets (put them in stack.toml):");
        for (name, what) in &vars.settings {
            printer.info(&format!("  {name}: {what}"));
        }
    }
    if !vars.skipped.is_empty() {
        printer.warn("not imported:");
        for (name, why) in &vars.skipped {
            printer.info(&format!("  {name}: {why}"));
        }
    }
    if !vars.unknown.is_empty() {
        printer.warn(&format!(
            "unknown to vpai, not imported: {}\n  help: if one is a secret a service needs, `vpai secrets set NAME --unused < value`",
            vars.unknown.join(", ")
        ));
    }
    printer.info(&format!("vault: `{}`", store.path().display()));
    Ok(ExitCode::SUCCESS)
}

fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    vpai_vault::rotate::suggest(name, candidates)
        .map(|c| format!("\n  help: did you mean `{c}`?"))
        .unwrap_or_default()
}

fn policy_name(policy: RotationPolicy) -> &'static str {
    match policy {
        RotationPolicy::Never => "never",
        RotationPolicy::Manual => "manual",
        RotationPolicy::Quarterly => "quarterly",
        RotationPolicy::Yearly => "yearly",
    }
}

/// `3d`, `5h`, `12m`, `now`.
fn span(secs: u64) -> String {
    match secs {
        0..60 => "now".into(),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
