//! `vpai init`: a commented stack.toml, asked for on a terminal, from flags otherwise.

use crate::cli::InitArgs;
use crate::printer::Printer;
use anyhow::bail;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

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
    let name = match args.name {
        Some(n) => n,
        None => ask("Project name (containers are <name>_<service>)", "stack")?,
    };
    let domain = match args.domain {
        Some(d) => d,
        None if interactive => ask("Main domain (each service gets a subdomain)", "example.com")?,
        None => bail!(
            "--domain is required without a terminal (e.g. `vpai init --domain example.com --non-interactive`)"
        ),
    };
    let profile = match args.profile {
        Some(p) => p,
        None => ask(
            "Profile (core = postgresql redis qdrant caddy n8n litellm)",
            "core",
        )?,
    };
    let local = domain == "localhost" || domain.ends_with(".localhost");
    let email = match args.email {
        Some(e) => Some(e),
        None if local => None,
        None => Some(ask(
            "E-mail for Let's Encrypt certificates",
            &format!("admin@{domain}"),
        )?),
    };
    let text = stack_toml(&name, &domain, &profile, email.as_deref(), local);
    // Check what we wrote parses, so `init` can never produce a broken file.
    vpai_spec::StackFile::parse(&args.file, text.clone())?;
    let tmp = args.file.with_extension("toml.tmp");
    fs_err::write(&tmp, &text)?;
    fs_err::rename(&tmp, &args.file)?;
    printer.success(&format!("wrote `{}`", args.file.display()));
    printer.info("next: `vpai render` to see the files, `vpai up` to deploy");
    Ok(ExitCode::SUCCESS)
}

fn stack_toml(name: &str, domain: &str, profile: &str, email: Option<&str>, local: bool) -> String {
    let tls = if local { "internal" } else { "acme" };
    let email_line = match email {
        Some(e) => format!("acme_email = \"{e}\"\n"),
        None => "# acme_email = \"ops@example.com\"\n".to_string(),
    };
    format!(
        r#"# stack.toml: the whole stack in one file. Commit it; secrets live elsewhere.
# Reference: `vpai --help`; every key below is optional unless marked.

[project]
name = "{name}"          # required: containers `{name}_<service>`, files in /opt/{name}
domain = "{domain}"      # required: each service answers on <subdomain>.{domain}
profile = "{profile}"    # core = postgresql redis qdrant caddy n8n litellm
tls = "{tls}"            # acme (public certificates) or internal (Caddy's own CA)
{email_line}timezone = "UTC"
locale = "en-US"         # ICU locale for PostgreSQL collation (never fr_FR.UTF-8)
# http_port = 80
# https_port = 443
# subnet = "172.20.0.0/16"  # the four Docker networks take a /24 each

# One table per service to change its defaults:
# [services.n8n]
# subdomain = "n8n"      # one service = one subdomain (no sub-paths)
# version = "2.7.3"      # pin exact tags, never `latest`
# memory = "1024M"
#
# [services.litellm]
# memory = "1536M"       # at least 1024M
# database = true        # spend tracking in PostgreSQL

# Images from a private mirror or built locally (never pulled):
# [images]
# postgresql = "registry.internal/postgres:18.1-bookworm"
"#
    )
}
