//! `vpai init`: a commented stack.toml, asked for on a terminal, from flags otherwise.

use crate::cli::InitArgs;
use crate::printer::Printer;
use anyhow::bail;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use vpai_spec::values::{self, toml_str};

pub fn run(args: InitArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.file.exists() && !args.force {
        bail!(
            "`{}` already exists; pass --force to replace it",
            args.file.display()
        );
    }
    let interactive = !args.non_interactive && std::io::stdin().is_terminal();
    let ask = |question: &str, default: &str| -> anyhow::Result<String> {
        if !interactive {
            return Ok(default.to_string());
        }
        eprint!("{question} [{default}]: ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let line = line.trim();
        Ok(if line.is_empty() {
            default.to_string()
        } else {
            line.to_string()
        })
    };
    // Every value is checked with the grammar `vpai render` applies to stack.toml,
    // before anything is written: a value `init` writes must never be able to add a
    // key, a table or a line to the file.
    let name = match args.name {
        Some(n) => n,
        None => ask("Project name (containers are <name>_<service>)", "stack")?,
    };
    checked("--name", &name, values::check_project_name)?;
    let domain = match args.domain {
        Some(d) => d,
        None if interactive => ask("Main domain (each service gets a subdomain)", "example.com")?,
        None => bail!(
            "--domain is required without a terminal (e.g. `vpai init --domain example.com --non-interactive`)"
        ),
    };
    checked("--domain", &domain, values::check_domain)?;
    let profile = match args.profile {
        Some(p) => p,
        None => ask(
            "Profile (core = postgresql redis qdrant caddy n8n litellm)",
            "core",
        )?,
    };
    if vpai_catalog::Catalog::profile(&profile).is_none() {
        let known: Vec<&str> = vpai_catalog::PROFILES.iter().map(|(n, _)| *n).collect();
        bail!(
            "--profile: unknown profile `{}` (known profiles: {})",
            values::shown(&profile),
            known.join(", ")
        );
    }
    let local = domain == "localhost" || domain.ends_with(".localhost");
    let email = match args.email {
        Some(e) => Some(e),
        None if local => None,
        None => Some(ask(
            "E-mail for Let's Encrypt certificates",
            &format!("admin@{domain}"),
        )?),
    };
    if let Some(e) = &email {
        checked("--email", e, values::check_email)?;
    }
    let text = stack_toml(&name, &domain, &profile, email.as_deref(), local);
    // Check what we wrote parses to exactly what was asked, so `init` can never produce
    // a broken file or one that says more than the operator typed.
    let parsed = vpai_spec::StackFile::parse(&args.file, text.clone())?;
    let p = &parsed.spec.project;
    if p.name.get_ref() != &name
        || p.domain.get_ref() != &domain
        || p.profile.as_ref().map(|v| v.get_ref().as_str()) != Some(profile.as_str())
        || p.acme_email.as_ref().map(|v| v.get_ref().as_str()) != email.as_deref()
        || !parsed.spec.hosts.is_empty()
        || !parsed.spec.services.is_empty()
        || !parsed.spec.images.is_empty()
    {
        bail!(
            "internal error: the generated stack.toml does not say what was asked; nothing written"
        );
    }
    let tmp = args.file.with_extension("toml.tmp");
    fs_err::write(&tmp, &text)?;
    fs_err::rename(&tmp, &args.file)?;
    printer.success(&format!("wrote `{}`", args.file.display()));
    printer.info("next: `vpai render` to see the files, `vpai up` to deploy");
    Ok(ExitCode::SUCCESS)
}

/// An operator's value checked with the spec's grammar, or an error that names the flag.
fn checked(
    flag: &str,
    value: &str,
    check: impl FnOnce(&str) -> Result<(), values::Refusal>,
) -> anyhow::Result<()> {
    check(value).map_err(|r| anyhow::anyhow!("{flag}: {}\nhint: {}", r.message, r.help))
}

/// The commented stack.toml. Values are written by the TOML serializer; the comments
/// that repeat the name and the domain rely on both having passed the spec's grammar
/// (letters, digits, `-`, `_`, `.`), checked by the caller.
fn stack_toml(name: &str, domain: &str, profile: &str, email: Option<&str>, local: bool) -> String {
    let tls = if local { "internal" } else { "acme" };
    let email_line = match email {
        Some(e) => format!("acme_email = {}\n", toml_str(e)),
        None => "# acme_email = \"ops@example.com\"\n".to_string(),
    };
    let members = vpai_catalog::Catalog::profile(profile)
        .unwrap_or_default()
        .join(" ");
    let others: Vec<String> = vpai_catalog::Catalog::profile_names()
        .into_iter()
        .filter(|p| *p != profile)
        .map(|p| {
            format!(
                "# {p} = {}",
                vpai_catalog::Catalog::profile(p)
                    .unwrap_or_default()
                    .join(" ")
            )
        })
        .collect();
    let others = others.join("\n");
    let (name_lit, domain_lit, profile_lit, tls_lit) = (
        toml_str(name),
        toml_str(domain),
        toml_str(profile),
        toml_str(tls),
    );
    format!(
        r#"# stack.toml: the whole stack in one file. Commit it; secrets live elsewhere.
# Reference: `vpai --help`; every key below is optional unless marked.

[project]
name = {name_lit}          # required: containers `{name}_<service>`, files in /opt/{name}
domain = {domain_lit}      # required: each service answers on <subdomain>.{domain}
profile = {profile_lit}    # {members}
{others}
tls = {tls_lit}            # acme (public certificates) or internal (Caddy's own CA)
{email_line}timezone = "UTC"
locale = "en-US"         # ICU locale for PostgreSQL collation (never fr_FR.UTF-8)
# http_port = 80
# https_port = 443
# subnet = "172.20.0.0/16"  # the five Docker networks take a /24 each

# One table per service to change its defaults:
# [services.n8n]
# subdomain = "n8n"      # one service = one subdomain (no sub-paths)
# version = "2.7.3"      # pin exact tags, never `latest`
# memory = "1024M"
#
# [services.litellm]
# memory = "1536M"       # at least 1024M
# database = true        # spend tracking in PostgreSQL
#
# What you choose about a service replaces the catalog's default, key by key:
# [services.litellm.data]
# fallbacks = [{{ model = "claude-sonnet", to = ["deepseek-v3"] }}]
# budgets = [{{ provider = "openrouter", limit = 10.0, period = "1d" }}]
# [services.n8n.data]
# owner_email = "ops@example.com"   # n8n's owner; its password is in the vault
# [services.openclaw.data]
# telegram_allow_from = [123456789] # Telegram user ids allowed to talk to the agents
#
# n8n workflows exported into `workflows/` next to this file are imported on every `up`.

# Images from a private mirror or built locally (never pulled):
# [images]
# postgresql = "registry.internal/postgres:18.1-bookworm"
"#
    )
}
