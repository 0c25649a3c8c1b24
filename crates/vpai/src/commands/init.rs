//! `vpai init`: a commented stack.toml, asked for on a terminal, from flags otherwise.
//!
//! Every value is checked with the grammar `vpai render` applies to stack.toml before
//! anything is written: a value `init` writes must never be able to add a key, a table
//! or a line to the file. On a terminal an answer is checked as soon as it is typed and
//! the question comes back with the reason; a flag that is refused names itself (exit 2).

use crate::cli::InitArgs;
use crate::printer::Printer;
use anyhow::bail;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vpai_spec::values::{self, Refusal, toml_str};

/// The first server, `[hosts.NAME]` of stack.toml. Without `--host-address` (or with
/// `none`), the stack is deployed on this machine and stack.toml has no `[hosts]`.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "First server (over SSH; without it, this machine)")]
pub struct HostArgs {
    /// DNS name or IP address of the server to deploy to over SSH; `none`: this machine.
    #[arg(long, value_name = "ADDRESS")]
    pub host_address: Option<String>,
    /// Its name in stack.toml, what `--host` takes [default: main].
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
    /// SSH login user [default: root]; another user needs passwordless sudo.
    #[arg(long, value_name = "USER")]
    pub host_user: Option<String>,
    /// SSH port [default: 22].
    #[arg(long, value_name = "PORT")]
    pub host_port: Option<String>,
    /// Private key file ssh logs in with; `none`: ssh's own choice (agent,
    /// ~/.ssh/config) [default: the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa].
    #[arg(long, value_name = "PATH")]
    pub host_key: Option<String>,
    /// Once stack.toml is written, log in to the server (ssh in batch mode, `sudo -n
    /// true` for a user other than root) and say whether it answered (exit 1 if not).
    #[arg(long)]
    pub check_host: bool,
}

/// What the operator chose, every value checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answers {
    name: String,
    domain: String,
    profile: String,
    email: Option<String>,
    /// `*.localhost`: Caddy's internal CA, no ACME e-mail asked.
    local: bool,
    /// None: this machine.
    host: Option<HostAnswers>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostAnswers {
    name: String,
    address: String,
    user: String,
    port: u16,
    /// Absolute path of the private key; None: ssh's own choice.
    key: Option<PathBuf>,
}

pub fn run(args: InitArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.file.exists() && !args.force {
        bail!(
            "`{}` already exists; pass --force to replace it",
            args.file.display()
        );
    }
    // Questions go to stderr (stdout stays for data): both must be a terminal.
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let cwd = std::env::current_dir()?;
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let mut terminal = Terminal;
    let talk: Option<&mut dyn Conversation> = if interactive {
        Some(&mut terminal)
    } else {
        None
    };
    let answers = gather(&args, talk, home.as_deref(), &cwd)?;
    if args.host.check_host && answers.host.is_none() {
        bail!(
            "--check-host: there is no server to check (no --host-address: the stack is deployed on this machine)"
        );
    }
    let stack_dir = cwd.join(args.file.parent().unwrap_or(Path::new("")));
    let identity = answers
        .host
        .as_ref()
        .and_then(|h| h.key.as_deref())
        .map(|key| identity_text(key, &stack_dir));
    let text = stack_toml(&answers, identity.as_deref());
    // Check what we wrote parses to exactly what was asked, so `init` can never produce
    // a broken file or one that says more than the operator typed.
    let parsed = vpai_spec::StackFile::parse(&args.file, text.clone())?;
    let p = &parsed.spec.project;
    let hosts_as_asked = match &answers.host {
        None => parsed.spec.hosts.is_empty(),
        Some(h) => {
            parsed.spec.hosts.len() == 1
                && parsed.spec.hosts.iter().all(|(name, spec)| {
                    name.get_ref() == &h.name
                        && spec.address.get_ref() == &h.address
                        && spec.user.as_ref().map(|u| u.get_ref()) == Some(&h.user)
                        && spec.ssh_port == Some(h.port)
                        && spec.identity == identity
                        && spec.bootstrap_port.is_none()
                        && spec.known_hosts.is_none()
                        && spec.become_root.is_none()
                        && spec.services.is_none()
                        && spec.ssh_options.is_empty()
                })
        }
    };
    if p.name.get_ref() != &answers.name
        || p.domain.get_ref() != &answers.domain
        || p.profile.as_ref().map(|v| v.get_ref().as_str()) != Some(answers.profile.as_str())
        || p.acme_email.as_ref().map(|v| v.get_ref().as_str()) != answers.email.as_deref()
        || !hosts_as_asked
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
    if let Some(h) = &answers.host {
        if h.user != "root" {
            printer.info(&format!(
                "`{}` runs every command through `sudo -n` on {}: it needs passwordless sudo there",
                h.user, h.address
            ));
        }
        if args.host.check_host && !check_host(h, printer) {
            printer.info(
                "stack.toml is written as asked; once the server lets you in, `vpai preflight` checks it",
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    printer.info("next: `vpai render` to see the files, `vpai up` to deploy");
    Ok(ExitCode::SUCCESS)
}

/// Where the questions go and the answers come from.
trait Conversation {
    /// One answer to `question`; `default` when the operator just presses Enter.
    fn read(&mut self, question: &str, default: &str) -> anyhow::Result<String>;
    /// Why the last answer was refused (the question comes back after it).
    fn refused(&mut self, why: &Refusal) -> anyhow::Result<()>;
}

/// The operator's terminal: a line editor on stderr.
struct Terminal;

impl Conversation for Terminal {
    fn read(&mut self, question: &str, default: &str) -> anyhow::Result<String> {
        dialoguer::Input::<String>::new()
            .with_prompt(question)
            .default(default.to_string())
            .interact_text()
            .map_err(|e| match e {
                dialoguer::Error::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    anyhow::anyhow!("interrupted: nothing written")
                }
                e => anyhow::anyhow!("cannot read the answer: {e}"),
            })
    }

    fn refused(&mut self, why: &Refusal) -> anyhow::Result<()> {
        eprintln!("  {}\n  hint: {}", why.message, why.help);
        Ok(())
    }
}

/// Ask until `check` accepts the answer (trimmed); each refusal is said with its reason.
fn ask<T>(
    talk: &mut dyn Conversation,
    question: &str,
    default: &str,
    check: impl Fn(&str) -> Result<T, Refusal>,
) -> anyhow::Result<T> {
    loop {
        let answer = talk.read(question, default)?;
        match check(answer.trim()) {
            Ok(value) => return Ok(value),
            Err(why) => talk.refused(&why)?,
        }
    }
}

/// One value: the flag when given (refused with the flag's name), else the question on
/// a terminal, else the default (checked the same way).
fn value<T>(
    talk: &mut Option<&mut dyn Conversation>,
    flag: &str,
    given: Option<&str>,
    question: &str,
    default: &str,
    check: impl Fn(&str) -> Result<T, Refusal>,
) -> anyhow::Result<T> {
    let flagged = |r: Refusal| anyhow::anyhow!("{flag}: {}\nhint: {}", r.message, r.help);
    match (given, talk) {
        (Some(v), _) => check(v).map_err(flagged),
        (None, Some(talk)) => ask(&mut **talk, question, default, check),
        (None, None) => check(default).map_err(flagged),
    }
}

/// A check of the spec's grammar, returning the accepted text.
fn text(check: fn(&str) -> Result<(), Refusal>) -> impl Fn(&str) -> Result<String, Refusal> {
    move |s| check(s).map(|()| s.to_string())
}

/// Every answer, in the order a terminal asks them.
fn gather(
    args: &InitArgs,
    mut talk: Option<&mut dyn Conversation>,
    home: Option<&Path>,
    cwd: &Path,
) -> anyhow::Result<Answers> {
    let name = value(
        &mut talk,
        "--name",
        args.name.as_deref(),
        "Project name (containers are <name>_<service>)",
        "stack",
        text(values::check_project_name),
    )?;
    if args.domain.is_none() && talk.is_none() {
        bail!(
            "--domain is required without a terminal (e.g. `vpai init --domain example.com --non-interactive`)"
        );
    }
    let domain = value(
        &mut talk,
        "--domain",
        args.domain.as_deref(),
        "Main domain, bare (each service gets a subdomain)",
        "example.com",
        text(values::check_domain),
    )?;
    let known: Vec<&str> = vpai_catalog::PROFILES.iter().map(|(n, _)| *n).collect();
    let profile = value(
        &mut talk,
        "--profile",
        args.profile.as_deref(),
        &format!("Profile ({})", known.join(", ")),
        "core",
        |p| match vpai_catalog::Catalog::profile(p) {
            Some(_) => Ok(p.to_string()),
            None => Err(Refusal {
                message: format!("unknown profile `{}`", values::shown(p)),
                help: format!("known profiles: {}", known.join(", ")),
            }),
        },
    )?;
    let local = domain == "localhost" || domain.ends_with(".localhost");
    // The default address is the domain's, never a URL: the domain passed its grammar.
    let email = match &args.email {
        None if local => None,
        given => Some(value(
            &mut talk,
            "--email",
            given.as_deref(),
            "E-mail for Let's Encrypt certificates",
            &format!("admin@{domain}"),
            text(values::check_email),
        )?),
    };
    let host = gather_host(&args.host, &mut talk, home, cwd)?;
    Ok(Answers {
        name,
        domain,
        profile,
        email,
        local,
        host,
    })
}

/// The first server, or None for this machine.
fn gather_host(
    args: &HostArgs,
    talk: &mut Option<&mut dyn Conversation>,
    home: Option<&Path>,
    cwd: &Path,
) -> anyhow::Result<Option<HostAnswers>> {
    let address = value(
        talk,
        "--host-address",
        args.host_address.as_deref(),
        "Server to deploy to over SSH: DNS name or IP (`none`: this machine)",
        "none",
        |a| match a {
            "none" => Ok(None),
            a => values::check_host_address(a).map(|()| Some(a.to_string())),
        },
    )?;
    let Some(address) = address else {
        let stray = [
            ("--host-name", args.host_name.is_some()),
            ("--host-user", args.host_user.is_some()),
            ("--host-port", args.host_port.is_some()),
            ("--host-key", args.host_key.is_some()),
        ];
        if let Some((flag, _)) = stray.iter().find(|(_, given)| *given) {
            bail!(
                "{flag} describes a server, but there is none\nhint: give its address with --host-address (without one, the stack is deployed on this machine)"
            );
        }
        return Ok(None);
    };
    let name = value(
        talk,
        "--host-name",
        args.host_name.as_deref(),
        "Name of this server in stack.toml (what `--host` takes)",
        "main",
        |n| {
            values::check_host_name(n)?;
            if n == "local" {
                return Err(Refusal {
                    message: "`local` is taken: `--host local` means this machine".into(),
                    help: "name the server otherwise, e.g. `main` or `prod`".into(),
                });
            }
            Ok(n.to_string())
        },
    )?;
    let user = value(
        talk,
        "--host-user",
        args.host_user.as_deref(),
        "SSH user (root, or a user with passwordless sudo)",
        "root",
        text(values::check_ssh_user),
    )?;
    let port = value(
        talk,
        "--host-port",
        args.host_port.as_deref(),
        "SSH port",
        "22",
        values::check_port,
    )?;
    let default_key = home
        .and_then(|h| {
            ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .find(|k| h.join(".ssh").join(k).exists())
        })
        .map(|k| format!("~/.ssh/{k}"))
        .unwrap_or_else(|| "none".into());
    let key = value(
        talk,
        "--host-key",
        args.host_key.as_deref(),
        "Private key file ssh logs in with (`none`: ssh's agent and ~/.ssh/config)",
        &default_key,
        |k| check_key(k, home, cwd),
    )?;
    Ok(Some(HostAnswers {
        name,
        address,
        user,
        port,
        key,
    }))
}

/// A private key file ssh will use: it exists, is a regular file, and only its owner
/// can read it (ssh ignores a key that others can read). `~/` is the home directory;
/// a relative path is relative to the current directory. Returns it absolute.
fn check_key(text: &str, home: Option<&Path>, cwd: &Path) -> Result<Option<PathBuf>, Refusal> {
    use std::os::unix::fs::PermissionsExt;
    if text == "none" {
        return Ok(None);
    }
    let shown = values::shown(text);
    let refuse = |message: String, help: &str| Refusal {
        message,
        help: help.to_string(),
    };
    let usual = "the private key ssh logs in with, such as `~/.ssh/id_ed25519` (`ssh-keygen -t ed25519` makes one), or `none`";
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(refuse(format!("`{shown}` is not a file path"), usual));
    }
    let path = match (text.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        (Some(_), None) => {
            return Err(refuse(
                format!("`{shown}`: HOME is not set"),
                "write the path in full",
            ));
        }
        (None, _) => cwd.join(text),
    };
    if text.ends_with(".pub") {
        return Err(refuse(
            format!("`{shown}` is a public key"),
            "give the private key: the same path without `.pub`",
        ));
    }
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse(format!("there is no file `{shown}`"), usual));
        }
        Err(e) => return Err(refuse(format!("cannot read `{shown}`: {e}"), usual)),
    };
    if !meta.is_file() {
        return Err(refuse(format!("`{shown}` is not a file"), usual));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Refusal {
            message: format!("`{shown}` is open to other users (mode {mode:04o})"),
            help: format!(
                "ssh ignores a private key that others can read: `chmod 600 {}`",
                vpai_host::shell_quote(&path.to_string_lossy())
            ),
        });
    }
    if path.to_str().is_none() {
        return Err(refuse(
            format!("`{shown}` is not UTF-8"),
            "stack.toml holds UTF-8 text: move the key to a path that is",
        ));
    }
    Ok(Some(path))
}

/// The key's path as stack.toml says it (`identity` is relative to stack.toml): relative
/// when the key lies under the stack's directory (it moves with the repository),
/// absolute otherwise.
fn identity_text(key: &Path, stack_dir: &Path) -> String {
    key.strip_prefix(stack_dir)
        .unwrap_or(key)
        .to_string_lossy()
        .into_owned()
}

/// Log in to the new server as `vpai up` will, and say whether it answered.
fn check_host(h: &HostAnswers, printer: &Printer) -> bool {
    use vpai_host::Host;
    let target = vpai_host::SshTarget {
        name: h.name.clone(),
        address: h.address.clone(),
        user: Some(h.user.clone()),
        port: Some(h.port),
        identity: h.key.clone(),
        connect_timeout: 10,
        ..Default::default()
    };
    printer.step(&format!(
        "logging in to `{}` ({}@{} port {})",
        h.name, h.user, h.address, h.port
    ));
    let host = match vpai_host::SshHost::connect(target) {
        Ok(host) => host,
        Err(e) => {
            printer.error_text(&format!("`{}` did not let vpai in: {e}", h.name));
            return false;
        }
    };
    match host.run(&["true"], None) {
        Ok(out) if out.success() => {
            printer.success(&format!(
                "`{}` answered: logged in as {}{}",
                h.name,
                h.user,
                if h.user == "root" {
                    ""
                } else {
                    ", passwordless sudo works"
                }
            ));
            true
        }
        Ok(out) => {
            printer.error_text(&format!(
                "`{}` answered, but running a command as root failed: {}\nhint: {} needs passwordless sudo (`sudo -n true` must succeed there)",
                h.name,
                out.stderr_text().trim(),
                h.user
            ));
            false
        }
        Err(e) => {
            printer.error_text(&format!("`{}` answered, but: {e}", h.name));
            false
        }
    }
}

/// `[hosts.NAME]`, written by the TOML serializer.
fn hosts_table(h: &HostAnswers, identity: Option<&str>) -> String {
    use toml_edit::{DocumentMut, Item, Table, value};
    let mut host = Table::new();
    host.insert("address", value(h.address.as_str()));
    host.insert("user", value(h.user.as_str()));
    host.insert("ssh_port", value(i64::from(h.port)));
    if let Some(identity) = identity {
        host.insert("identity", value(identity));
    }
    let mut hosts = Table::new();
    hosts.set_implicit(true);
    hosts.insert(&h.name, Item::Table(host));
    let mut doc = DocumentMut::new();
    doc.insert("hosts", Item::Table(hosts));
    doc.to_string()
}

/// The commented stack.toml. Values are written by the TOML serializer; the comments
/// that repeat the name and the domain rely on both having passed the spec's grammar
/// (letters, digits, `-`, `_`, `.`), checked by the caller.
fn stack_toml(a: &Answers, identity: Option<&str>) -> String {
    let (name, domain, profile) = (&a.name, &a.domain, a.profile.as_str());
    let tls = if a.local { "internal" } else { "acme" };
    let email_line = match &a.email {
        Some(e) => format!("acme_email = {}\n", toml_str(e)),
        None => "# acme_email = \"ops@example.com\"\n".to_string(),
    };
    let hosts = match &a.host {
        Some(h) => format!(
            "# Where `vpai up` deploys, over SSH (`--host {}`). A user other than root needs\n\
             # passwordless sudo. `identity` is relative to this file unless absolute.\n{}",
            h.name,
            hosts_table(h, identity)
        ),
        None => "# No [hosts]: `vpai up` deploys on this machine. To deploy over SSH instead:\n\
                 # [hosts.main]\n\
                 # address = \"203.0.113.10\"  # DNS name or IP\n\
                 # user = \"deploy\"           # not root: needs passwordless sudo\n\
                 # ssh_port = 22\n\
                 # identity = \"/home/me/.ssh/id_ed25519\"\n"
            .to_string(),
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

{hosts}
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::io::{BufRead, Write};
    use std::os::unix::fs::PermissionsExt;

    /// Questions and answers as plain lines: what a terminal does, minus the editor.
    struct Plain<R, W> {
        input: R,
        output: W,
    }

    impl<R: BufRead, W: Write> Conversation for Plain<R, W> {
        fn read(&mut self, question: &str, default: &str) -> anyhow::Result<String> {
            write!(self.output, "{question} [{default}]: ")?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                bail!("no answer to `{question}`: end of input");
            }
            let line = line.trim();
            Ok(if line.is_empty() { default } else { line }.to_string())
        }

        fn refused(&mut self, why: &Refusal) -> anyhow::Result<()> {
            writeln!(self.output, "  {}\n  hint: {}", why.message, why.help)?;
            Ok(())
        }
    }

    fn init_args(flags: &[&str]) -> InitArgs {
        let cli = crate::cli::Cli::try_parse_from(["vpai", "init"].iter().chain(flags)).unwrap();
        match cli.command {
            crate::cli::Command::Init(args) => args,
            _ => unreachable!(),
        }
    }

    /// The answers to `lines` typed at a terminal, and the transcript.
    fn converse(
        flags: &[&str],
        lines: &str,
        home: Option<&Path>,
    ) -> (anyhow::Result<Answers>, String) {
        let mut plain = Plain {
            input: lines.as_bytes(),
            output: Vec::new(),
        };
        let answers = gather(
            &init_args(flags),
            Some(&mut plain),
            home,
            Path::new("/nonexistent"),
        );
        (answers, String::from_utf8(plain.output).unwrap())
    }

    fn private_key(path: &Path, mode: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn each_answer_is_checked_as_typed_and_asked_again() {
        let home = tempfile::tempdir().unwrap();
        private_key(&home.path().join(".ssh/id_ecdsa"), 0o600);
        let (answers, out) = converse(
            &[],
            "Bad Name\nacme\nhttps://example.com\nexample.com\nnope\n\n\
             \nroot@vps.example.com\nvps.example.com:22\n203.0.113.10\nlocal\n\n\
             -x\ndeploy\n0\n70000\n2222\n/missing/key\n\n",
            Some(home.path()),
        );
        let answers = answers.unwrap();
        assert_eq!(
            answers,
            Answers {
                name: "acme".into(),
                domain: "example.com".into(),
                profile: "core".into(),
                email: Some("admin@example.com".into()),
                local: false,
                host: Some(HostAnswers {
                    name: "main".into(),
                    address: "203.0.113.10".into(),
                    user: "deploy".into(),
                    port: 2222,
                    key: Some(home.path().join(".ssh/id_ecdsa")),
                }),
            }
        );
        for refusal in [
            "`Bad Name` is not a valid project name",
            "`https://example.com` is not a domain name",
            "unknown profile `nope`",
            "`root@vps.example.com` is not a server address: it holds a user",
            "`vps.example.com:22` is not a server address: it holds a port",
            "`local` is taken",
            "`-x` is not a user name",
            "`0` is not a TCP port",
            "`70000` is not a TCP port",
            "there is no file `/missing/key`",
        ] {
            assert!(out.contains(refusal), "{refusal}:\n{out}");
        }
        // Asked again, with the same question, after every refusal.
        assert_eq!(out.matches("SSH port [22]: ").count(), 3, "{out}");
        assert!(
            out.contains("SSH user (root, or a user with passwordless sudo) [root]: "),
            "{out}"
        );
        assert!(out.contains("[~/.ssh/id_ecdsa]: "), "{out}");
    }

    #[test]
    fn the_email_default_is_the_domain_answer_never_a_url() {
        let (answers, out) = converse(
            &["--name", "acme", "--profile", "core"],
            "https://ops.example.org/\nops.example.org\n\nnone\n",
            None,
        );
        let answers = answers.unwrap();
        assert_eq!(answers.email.as_deref(), Some("admin@ops.example.org"));
        assert!(
            out.contains("E-mail for Let's Encrypt certificates [admin@ops.example.org]: "),
            "{out}"
        );
        assert!(!out.contains("admin@https"), "{out}");
        assert_eq!(answers.host, None, "`none`: this machine");
        // Flags are not asked; a local domain asks no e-mail; no key found: `none`.
        let (answers, out) = converse(
            &["--name", "acme", "--domain", "app.localhost"],
            "\n203.0.113.10\n\n\n\n\n",
            None,
        );
        let answers = answers.unwrap();
        assert_eq!(answers.email, None);
        assert!(!out.contains("E-mail"), "{out}");
        assert!(out.contains("(`none`: ssh's agent and ~/.ssh/config) [none]: "));
        assert_eq!(answers.host.unwrap().key, None);
    }

    #[test]
    fn the_end_of_the_input_is_no_answer() {
        let (answers, _) = converse(&[], "acme\n", None);
        let err = answers.unwrap_err().to_string();
        assert!(err.contains("end of input"), "{err}");
    }

    #[test]
    fn a_key_must_be_a_private_file_of_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("keys/deploy");
        private_key(&key, 0o644);
        let err = check_key("keys/deploy", None, dir.path()).unwrap_err();
        assert!(err.message.contains("mode 0644"), "{err}");
        assert!(err.help.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        check_key("keys/deploy", None, dir.path()).unwrap_err();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            check_key("keys/deploy", None, dir.path()).unwrap(),
            Some(key.clone())
        );
        assert_eq!(
            check_key("~/keys/deploy", Some(dir.path()), Path::new("/")),
            Ok(Some(key.clone()))
        );
        assert_eq!(check_key("none", None, dir.path()), Ok(None));
        let err = check_key("keys/deploy.pub", None, dir.path()).unwrap_err();
        assert!(err.message.contains("public key"), "{err}");
        let err = check_key("keys", None, dir.path()).unwrap_err();
        assert!(err.message.contains("not a file"), "{err}");
        check_key("keys/deploy\n", None, dir.path()).unwrap_err();
        // Under the stack's directory: relative (it moves with the repository).
        assert_eq!(identity_text(&key, dir.path()), "keys/deploy");
        assert_eq!(
            identity_text(&key, Path::new("/elsewhere")),
            key.to_string_lossy()
        );
    }

    #[test]
    fn the_hosts_table_is_serialized() {
        let host = HostAnswers {
            name: "vps.1".into(),
            address: "2001:db8::10".into(),
            user: "deploy".into(),
            port: 804,
            key: None,
        };
        let text = hosts_table(&host, Some("/home/o\"ps/.ssh/id_ed25519"));
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let h = parsed["hosts"]["vps.1"].as_table().unwrap();
        assert_eq!(h["address"].as_str(), Some("2001:db8::10"));
        assert_eq!(h["ssh_port"].as_integer(), Some(804));
        assert_eq!(h["identity"].as_str(), Some("/home/o\"ps/.ssh/id_ed25519"));
        assert_eq!(h.len(), 4, "{text}");
    }
}
