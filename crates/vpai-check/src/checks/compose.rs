//! Compose rules: healthchecks, capabilities, mounts, images, variables, secrets,
//! ports and networks for each service, and the rules that look at all compose
//! files of one host together (#16, project names).

use super::{Ctx, EnvEntry, Parsed, edit, is_secret_name, parse_env};
use crate::knowledge::{ImageFacts, image_tag, normalize_repo};
use crate::report::Finding;
use crate::rules::{self, Severity};
use crate::source::FileKind;
use crate::yaml::{Node, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One service of one compose file.
pub struct Service<'a> {
    pub file: &'a Parsed<'a>,
    pub name: String,
    pub key: &'a Node,
    pub node: &'a Node,
    /// `image:` with its `${VAR:-default}` resolved from the `.env` next to the file
    /// (what Compose would pull); `None` when a variable has no value here.
    resolved_image: Option<String>,
}

/// A volume of a service.
#[derive(Debug)]
pub struct Mount<'a> {
    /// Host path or volume name; `None` for an anonymous volume.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub bind: bool,
    pub node: &'a Node,
}

/// Where an environment variable of a service is set.
pub enum EnvOrigin<'a> {
    Inline {
        file: &'a Parsed<'a>,
        node: &'a Node,
    },
    File {
        file: &'a Parsed<'a>,
        entry: EnvEntry,
    },
}

pub struct EnvVar<'a> {
    pub key: String,
    pub value: Option<String>,
    pub origin: EnvOrigin<'a>,
}

/// The healthcheck `test`.
pub struct HealthTest<'a> {
    pub node: &'a Node,
    /// `CMD` arguments, or `None` for a shell form.
    pub argv: Option<Vec<String>>,
    /// The shell script for `CMD-SHELL` and the string form.
    pub shell: Option<String>,
}

impl<'a> HealthTest<'a> {
    /// Every string of the test, for substring rules.
    pub fn joined(&self) -> String {
        match (&self.argv, &self.shell) {
            (Some(a), _) => a.join(" "),
            (_, Some(s)) => s.clone(),
            _ => String::new(),
        }
    }
}

impl<'a> Service<'a> {
    /// The image as written, `${...}` included.
    pub fn raw_image(&self) -> Option<(&'a str, &'a Node)> {
        let n = self.node.get("image")?;
        n.as_str().map(|s| (s, n))
    }

    /// The image Compose would use: variables resolved from the `.env` next to the
    /// file or from their defaults (`postgres:${PG_TAG:-latest}` is `postgres:latest`),
    /// else as written.
    pub fn image(&self) -> Option<(&str, &'a Node)> {
        let (raw, node) = self.raw_image()?;
        Some((self.resolved_image.as_deref().unwrap_or(raw), node))
    }

    /// The resolved image, if it held variables and all of them resolved.
    pub fn interpolated_image(&self) -> Option<&str> {
        let (raw, _) = self.raw_image()?;
        raw.contains('$').then_some(())?;
        self.resolved_image.as_deref()
    }

    fn new(ctx: &Ctx, file: &'a Parsed<'a>, key: &'a Node, node: &'a Node) -> Self {
        let resolved_image = node
            .get("image")
            .and_then(Node::as_str)
            .filter(|i| i.contains('$'))
            .and_then(|i| interpolate(i, &dot_env(ctx, file)));
        Service {
            file,
            name: key.scalar_text().unwrap_or_default(),
            key,
            node,
            resolved_image,
        }
    }

    /// Facts about the image itself (what it contains, who it runs as). A local image
    /// (`pull_policy: never|build`, vpai's `[images]`) that no catalog entry names is
    /// taken as a build of the service it runs, honouring that service's contract.
    pub fn facts<'k>(&self, ctx: &'k Ctx) -> Option<&'k ImageFacts> {
        let (image, _) = self.image()?;
        // Several entries may run one image (an operator's services on a base image):
        // the entry named like this service wins when it names that image.
        let repo = normalize_repo(crate::knowledge::image_repository(image));
        let own = ctx
            .knowledge
            .by_service(&self.name)
            .filter(|f| f.repositories.contains(&repo));
        own.or_else(|| ctx.knowledge.by_image(image)).or_else(|| {
            self.is_local_image()
                .then(|| ctx.knowledge.by_service(&self.name))
                .flatten()
        })
    }

    /// Facts about the application, by image or else by service name.
    pub fn app<'k>(&self, ctx: &'k Ctx) -> Option<&'k ImageFacts> {
        self.facts(ctx)
            .or_else(|| ctx.knowledge.by_service(&self.name))
    }

    pub fn pull_policy(&self) -> Option<&'a str> {
        self.node.get("pull_policy").and_then(Node::as_str)
    }

    pub fn is_local_image(&self) -> bool {
        matches!(self.pull_policy(), Some("never") | Some("build"))
    }

    /// `user:` as a UID: `Some(Some(uid))`, `Some(None)` for a name we cannot resolve.
    pub fn user(&self) -> Option<Option<u32>> {
        let n = self.node.get("user")?;
        let text = n.scalar_text()?;
        let user = text.split(':').next().unwrap_or("");
        Some(match user {
            "root" => Some(0),
            u => u.parse().ok(),
        })
    }

    /// The UID and GID the main process runs as, if we can tell.
    pub fn runs_as(&self, ctx: &Ctx) -> Option<(u32, Option<u32>)> {
        if let Some(n) = self.node.get("user").and_then(Node::scalar_text) {
            let mut parts = n.split(':');
            let uid = match parts.next()? {
                "root" => 0,
                u => u.parse().ok()?,
            };
            let gid = parts.next().and_then(|g| g.parse().ok());
            return Some((uid, gid.or(if uid == 0 { Some(0) } else { None })));
        }
        self.facts(ctx).map(|f| (f.uid, Some(f.gid)))
    }

    pub fn cap_drop_all(&self) -> bool {
        self.node
            .get("cap_drop")
            .map(|n| {
                n.as_seq()
                    .iter()
                    .any(|c| c.as_str().is_some_and(|s| s.eq_ignore_ascii_case("all")))
            })
            .unwrap_or(false)
    }

    pub fn cap_add(&self) -> Vec<String> {
        self.node
            .get("cap_add")
            .map(|n| {
                n.as_seq()
                    .iter()
                    .filter_map(Node::as_str)
                    .map(|s| {
                        s.to_ascii_uppercase()
                            .trim_start_matches("CAP_")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn mounts(&self) -> Vec<Mount<'a>> {
        let Some(v) = self.node.get("volumes") else {
            return Vec::new();
        };
        v.as_seq()
            .iter()
            .filter_map(|item| match &item.value {
                Value::Str(s) => {
                    let parts: Vec<&str> = s.split(':').collect();
                    let (source, target, opts) = match parts.len() {
                        1 => (None, parts[0], ""),
                        2 => (Some(parts[0]), parts[1], ""),
                        _ => (Some(parts[0]), parts[1], parts[2]),
                    };
                    let bind = source.is_some_and(is_bind_source);
                    Some(Mount {
                        source: source.map(str::to_string),
                        target: target.to_string(),
                        read_only: opts.split(',').any(|o| o == "ro"),
                        bind,
                        node: item,
                    })
                }
                Value::Map(_) => {
                    let kind = item.get("type").and_then(Node::as_str).unwrap_or("volume");
                    if kind == "tmpfs" {
                        return None;
                    }
                    let source = item.get("source").and_then(Node::scalar_text);
                    Some(Mount {
                        bind: kind == "bind",
                        source,
                        target: item.get("target").and_then(Node::scalar_text)?,
                        read_only: item
                            .get("read_only")
                            .and_then(Node::as_bool)
                            .unwrap_or(false),
                        node: item,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Files named by `env_file:`, with the node that names them.
    pub fn env_files(&self) -> Vec<(String, &'a Node)> {
        let Some(n) = self.node.get("env_file") else {
            return Vec::new();
        };
        let one = |item: &'a Node| -> Option<(String, &'a Node)> {
            match &item.value {
                Value::Str(s) => Some((s.clone(), item)),
                Value::Map(_) => item
                    .get("path")
                    .and_then(Node::as_str)
                    .map(|s| (s.to_string(), item)),
                _ => None,
            }
        };
        match &n.value {
            Value::Seq(items) => items.iter().filter_map(one).collect(),
            _ => one(n).into_iter().collect(),
        }
    }

    /// The environment: inline entries, then those of env files in the set.
    /// `complete` is false when an env file is not in the set (we cannot see it).
    pub fn environment(&self, ctx: &'a Ctx<'a>) -> (Vec<EnvVar<'a>>, bool) {
        let mut out = Vec::new();
        let mut complete = true;
        for (path, _) in self.env_files() {
            match ctx.resolve(self.file.file.dir(), &path) {
                Some(file) => {
                    for entry in parse_env(&file.text) {
                        out.push(EnvVar {
                            key: entry.key.clone(),
                            value: Some(entry.value.clone()),
                            origin: EnvOrigin::File { file, entry },
                        });
                    }
                }
                None => complete = false,
            }
        }
        if let Some(env) = self.node.get("environment") {
            match &env.value {
                Value::Map(entries) => {
                    for (k, v) in entries {
                        out.push(EnvVar {
                            key: k.scalar_text().unwrap_or_default(),
                            value: v.scalar_text(),
                            origin: EnvOrigin::Inline {
                                file: self.file,
                                node: v_or_k(k, v),
                            },
                        });
                    }
                }
                Value::Seq(items) => {
                    for item in items {
                        if let Some(s) = item.as_str() {
                            let (k, v) = match s.split_once('=') {
                                Some((k, v)) => (k, Some(v.to_string())),
                                None => (s, None),
                            };
                            out.push(EnvVar {
                                key: k.to_string(),
                                value: v,
                                origin: EnvOrigin::Inline {
                                    file: self.file,
                                    node: item,
                                },
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        (out, complete)
    }

    pub fn healthcheck(&self) -> Option<HealthTest<'a>> {
        let hc = self.node.get("healthcheck")?;
        if hc.get("disable").and_then(Node::as_bool) == Some(true) {
            return None;
        }
        let test = hc.get("test")?;
        match &test.value {
            Value::Str(s) => Some(HealthTest {
                node: test,
                argv: None,
                shell: Some(s.clone()),
            }),
            Value::Seq(items) => {
                let words: Vec<String> = items.iter().filter_map(Node::scalar_text).collect();
                match words.first().map(String::as_str) {
                    Some("CMD") => Some(HealthTest {
                        node: test,
                        argv: Some(words[1..].to_vec()),
                        shell: None,
                    }),
                    Some("CMD-SHELL") => Some(HealthTest {
                        node: test,
                        argv: None,
                        shell: Some(words[1..].join(" ")),
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `command` as words (list form, or the string split on spaces).
    pub fn command(&self) -> Option<(Vec<String>, &'a Node)> {
        let n = self.node.get("command")?;
        let words = match &n.value {
            Value::Str(s) => s.split_whitespace().map(str::to_string).collect(),
            Value::Seq(items) => items.iter().filter_map(Node::scalar_text).collect(),
            _ => return None,
        };
        Some((words, n))
    }

    /// Network names the service is attached to; `None` means the default network.
    pub fn networks(&self) -> Option<Vec<(String, &'a Node)>> {
        let n = self.node.get("networks")?;
        Some(match &n.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(|s| (s.to_string(), i)))
                .collect(),
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(k, _)| k.as_str().map(|s| (s.to_string(), k)))
                .collect(),
            _ => Vec::new(),
        })
    }

    pub fn memory_limit(&self) -> Option<(&'a Node, u64)> {
        let n = self
            .node
            .get("mem_limit")
            .or_else(|| self.node.path(&["deploy", "resources", "limits", "memory"]))?;
        let bytes = match &n.value {
            Value::Int(i) => u64::try_from(*i).ok()?,
            _ => vpai_catalog::ByteSize::parse(&n.scalar_text()?)?.bytes(),
        };
        Some((n, bytes))
    }
}

fn v_or_k<'a>(k: &'a Node, v: &'a Node) -> &'a Node {
    if v.end > v.start { v } else { k }
}

fn is_bind_source(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('.') || s.starts_with('~') || s.starts_with('$')
}

/// Every service of every compose file.
pub fn services<'a>(ctx: &'a Ctx<'a>) -> Vec<Service<'a>> {
    let mut out = Vec::new();
    for f in ctx.of_kind(FileKind::Compose) {
        let Some(root) = f.root() else { continue };
        let Some(services) = root.get("services") else {
            continue;
        };
        for (k, v) in services.entries() {
            if !v.is_map() {
                continue;
            }
            out.push(Service::new(ctx, f, k, v));
        }
    }
    out
}

/// The image of the service that bind-mounts `file`, if any.
pub fn image_mounting(ctx: &Ctx, file: &Parsed) -> Option<String> {
    for f in ctx.of_kind(FileKind::Compose) {
        let Some(services) = f.root().and_then(|r| r.get("services")) else {
            continue;
        };
        for (k, v) in services.entries() {
            let svc = Service::new(ctx, f, k, v);
            for m in svc.mounts() {
                if let Some(src) = &m.source
                    && m.bind
                    && ctx
                        .resolve(f.file.dir(), src)
                        .is_some_and(|p| p.index == file.index)
                {
                    return svc.image().map(|(i, _)| i.to_string());
                }
            }
        }
    }
    None
}

pub fn check<'a>(ctx: &'a Ctx<'a>, out: &mut Vec<Finding>) {
    let all = services(ctx);
    for svc in &all {
        healthcheck_rules(ctx, svc, out);
        capability_rules(ctx, svc, out);
        image_rules(ctx, svc, out);
        app_rules(ctx, svc, out);
        secrets_and_ports(ctx, svc, out);
        network_rules(ctx, svc, out);
    }
    for f in ctx.of_kind(FileKind::Compose) {
        undefined_variables(ctx, f, out);
        inline_secrets(f, &all, out);
    }
    cross_file(ctx, &all, out);
}

// ---------------------------------------------------------------- healthchecks

const SHELL_BUILTINS: &[&str] = &[
    "exit", "test", "[", "[[", ":", "true", "false", "kill", "echo", "printf", "exec", "cd",
    "command", "read", "set", "export", "return", "source", ".", "eval", "wait", "type", "!", "if",
    "then", "else", "fi", "do", "done", "while", "for", "until",
];

/// Programs a shell script runs (first word of each simple command).
pub fn shell_programs(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut segment = String::new();
    let mut quote: Option<char> = None;
    let flush = |segment: &mut String, out: &mut Vec<String>| {
        let mut words = segment.split_whitespace();
        let mut first = words.next();
        while let Some(w) = first {
            if w.contains('=') && !w.starts_with('=') && !w.starts_with('-') {
                first = words.next();
            } else {
                break;
            }
        }
        if let Some(w) = first {
            let w = w.trim_matches(['"', '\'']);
            // redirection-only commands (`:> /dev/tcp/...`) start with `:`
            let w = if w.starts_with(":>") { ":" } else { w };
            if !w.is_empty() && !w.starts_with('>') && !w.starts_with('<') {
                out.push(w.rsplit('/').next().unwrap_or(w).to_string());
            }
        }
        segment.clear();
    };
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                segment.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    segment.push(c);
                }
                // `>&3`, `2>&1`, `<&0`, `&>file` are redirections, not a new command.
                '&' if i > 0 && matches!(chars[i - 1], '>' | '<')
                    || chars.get(i + 1) == Some(&'>') =>
                {
                    segment.push(c)
                }
                ';' | '|' | '&' | '\n' | '(' | ')' | '`' => flush(&mut segment, &mut out),
                '$' if chars.get(i + 1) == Some(&'(') => {
                    flush(&mut segment, &mut out);
                    i += 1;
                }
                _ => segment.push(c),
            },
        }
        i += 1;
    }
    flush(&mut segment, &mut out);
    out.retain(|p| !SHELL_BUILTINS.contains(&p.as_str()));
    out
}

/// Clients that try every address `localhost` resolves to (`::1`, then `127.0.0.1`):
/// libpq, hiredis, curl, GNU wget, Python's `create_connection`, Go's dialer, bash's
/// `/dev/tcp`. Programs that open no connection are listed too.
const FALLS_BACK: &[&str] = &[
    "pg_isready",
    "psql",
    "redis-cli",
    "valkey-cli",
    "curl",
    "python",
    "python3",
    "mc",
    "bash",
    "grep",
    "cat",
    "head",
    "tail",
    "awk",
    "sed",
    "test",
    "sh",
    "ash",
    "dash",
    "true",
    "false",
    "tr",
    "cut",
    "wc",
    "timeout",
    "mongosh",
    "clickhouse-client",
    "grpc_health_probe",
];

/// Whether the image's `wget`/`nc` is GNU (a Debian or Ubuntu base): `Some(true)`,
/// BusyBox (Alpine or BusyBox base): `Some(false)`, or unknown.
fn gnu_userland(image: Option<&str>) -> Option<bool> {
    let image = image?.to_ascii_lowercase();
    let last = image.rsplit('/').next().unwrap_or(&image);
    if last.contains("alpine") || last.starts_with("busybox") {
        return Some(false);
    }
    const DEBIAN: &[&str] = &[
        "bookworm", "bullseye", "trixie", "buster", "slim", "debian", "ubuntu", "jammy", "noble",
    ];
    DEBIAN.iter().any(|d| last.contains(d)).then_some(true)
}

/// The client of a `localhost` healthcheck that may stop at `::1` (BusyBox `wget`
/// and `nc`, Node before 20, an unknown program), named for the message; `None`
/// when every program of the check falls back to `127.0.0.1`.
fn localhost_without_fallback(
    svc: &Service,
    ctx: &Ctx,
    test: &HealthTest,
) -> Option<(String, bool)> {
    let (programs, _) = needed_programs(test);
    let image = svc.image().map(|(i, _)| i);
    // The catalog's minimal images with wget and no bash are BusyBox ones, where the
    // seeds saw this healthcheck fail (VictoriaMetrics): certain, so an error.
    let facts = svc.facts(ctx);
    let from_catalog = match facts.and_then(|fa| fa.lint.userland) {
        Some(u) => Some(u == vpai_catalog::Userland::Gnu),
        None => facts.and_then(|fa| fa.tools.as_ref()).and_then(|t| {
            (t.iter().any(|p| p == "wget") && !t.iter().any(|p| p == "bash")).then_some(false)
        }),
    };
    let userland = gnu_userland(image).or(from_catalog);
    let certain = from_catalog.is_some();
    for p in programs {
        if FALLS_BACK.contains(&p.as_str()) {
            continue;
        }
        return Some(match (p.as_str(), userland) {
            ("wget" | "nc", Some(true)) => continue,
            ("wget" | "nc", Some(false)) => (format!("BusyBox `{p}`"), certain),
            ("wget" | "nc", None) => (format!("`{p}` (BusyBox on Alpine images)"), false),
            ("node", _) => ("`node` (before Node 20, no fallback)".to_string(), false),
            _ => (format!("`{p}`"), false),
        });
    }
    None
}

/// Programs a healthcheck needs, and whether it needs `/bin/sh`.
fn needed_programs(test: &HealthTest) -> (Vec<String>, bool) {
    match (&test.argv, &test.shell) {
        (Some(argv), _) => {
            let Some(first) = argv.first() else {
                return (Vec::new(), false);
            };
            let prog = first.rsplit('/').next().unwrap_or(first).to_string();
            let mut programs = vec![prog.clone()];
            if matches!(prog.as_str(), "sh" | "bash" | "ash" | "dash")
                && argv.get(1).is_some_and(|a| a == "-c")
                && let Some(script) = argv.get(2)
            {
                programs.extend(shell_programs(script));
            }
            (programs, false)
        }
        (_, Some(script)) => (shell_programs(script), true),
        _ => (Vec::new(), false),
    }
}

fn healthcheck_rules(ctx: &Ctx, svc: &Service, out: &mut Vec<Finding>) {
    let Some(test) = svc.healthcheck() else {
        return;
    };
    let f = svc.file;
    let joined = test.joined();

    // VP101: localhost, only with a client that does not fall back from ::1 to 127.0.0.1
    let localhost_client = if joined.contains("localhost") {
        localhost_without_fallback(svc, ctx, &test)
    } else {
        None
    };
    if let Some((client, certain)) = localhost_client {
        let mut edits = Vec::new();
        let raw_end = test.node_end(f);
        let raw = &f.text[test.node.start..raw_end];
        let mut from = 0;
        while let Some(i) = raw[from..].find("localhost") {
            let at = test.node.start + from + i;
            edits.push(edit(at, at + "localhost".len(), "127.0.0.1"));
            from += i + "localhost".len();
        }
        let first = edits.first().map(|e| (e.start, e.end));
        let (s, e) = first.unwrap_or((test.node.start, test.node.end));
        let mut finding = if certain {
            // The catalog's image and client: the seeds' incident, as it was told.
            f.finding(
                rules::HEALTHCHECK_LOCALHOST,
                s,
                e,
                format!("healthcheck of `{}` targets `localhost`", svc.name),
            )
        } else {
            f.finding(
                rules::HEALTHCHECK_LOCALHOST,
                s,
                e,
                format!(
                    "healthcheck of `{}` targets `localhost` with {client}, which may not fall back from `::1` to `127.0.0.1`",
                    svc.name
                ),
            )
            .with_severity(Severity::Warning)
            .with_help("`127.0.0.1` works whatever the client; if the service listens on `::1` too, this is a false alarm: `--allow VP101`")
        };
        if !edits.is_empty() {
            finding = finding.with_fix(
                "replaced `localhost` with `127.0.0.1` in the healthcheck",
                edits,
            );
        }
        out.push(finding);
    }

    // VP102: programs the image does not have
    let image = svc.image().map(|(i, _)| i);
    let inspected = match (ctx.inspector, image) {
        (Some(inspector), Some(image)) => inspector.programs(image),
        _ => None,
    };
    let facts = svc.facts(ctx);
    let (tools, distroless, source) = match (&inspected, facts) {
        (Some(list), _) => (
            Some(list.clone()),
            !list.iter().any(|p| p == "sh"),
            "the local image".to_string(),
        ),
        (None, Some(fa)) => (
            fa.tools.clone(),
            fa.distroless,
            format!("vpai's catalog (`{}`)", fa.service),
        ),
        (None, None) => (None, false, String::new()),
    };
    if let Some(tools) = tools {
        let (programs, needs_shell) = needed_programs(&test);
        let has = |p: &str| tools.iter().any(|t| t == p);
        let mut missing: Vec<String> = Vec::new();
        if needs_shell && (distroless || !has("sh")) {
            missing.push("sh".to_string());
        }
        for p in programs {
            if !has(&p) && !missing.contains(&p) {
                missing.push(p);
            }
        }
        // `/dev/tcp` inside `bash -c '...'`: `/bin/sh` only starts bash, which has it.
        let in_bash = joined.find("/dev/tcp/").is_some_and(|tcp| {
            joined[..tcp].match_indices("bash").any(|(i, _)| {
                joined[i + 4..tcp].trim_start().starts_with("-c")
                    || joined[i + 4..tcp].trim_start().starts_with("-lc")
            })
        });
        if needs_shell
            && joined.contains("/dev/tcp/")
            && !in_bash
            && !missing.contains(&"sh".to_string())
        {
            out.push(
                f.at(
                    rules::HEALTHCHECK_MISSING_BINARY,
                    test.node,
                    format!(
                        "healthcheck of `{}` uses `/dev/tcp` in `/bin/sh`, which only bash supports",
                        svc.name
                    ),
                )
                .with_help("run it with bash: `[\"CMD\", \"bash\", \"-c\", \":> /dev/tcp/127.0.0.1/PORT\"]`"),
            );
        }
        if !missing.is_empty() {
            let image = image.unwrap_or("?");
            let list = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut finding = f.at(
                rules::HEALTHCHECK_MISSING_BINARY,
                test.node,
                format!(
                    "healthcheck of `{}` runs {list}, which `{image}` does not contain",
                    svc.name
                ),
            );
            // Name what a healthcheck can use; an inspected image lists hundreds of programs.
            const USEFUL: &[&str] = &[
                "sh", "bash", "wget", "curl", "nc", "python", "python3", "node", "perl",
            ];
            let shown: Vec<&str> = if tools.len() > 12 {
                USEFUL
                    .iter()
                    .copied()
                    .filter(|u| tools.iter().any(|t| t == u))
                    .collect()
            } else {
                tools.iter().map(String::as_str).collect()
            };
            let shown = if shown.is_empty() {
                "none of sh, bash, wget, curl, python, node".to_string()
            } else {
                shown.join(", ")
            };
            let no_shell = if distroless { " (no shell)" } else { "" };
            finding = finding.with_help(format!("per {source}, the image has: {shown}{no_shell}"));
            out.push(finding);
        }
    }

    let lint = svc.app(ctx).map(|a| &a.lint);
    // VP301: Caddy healthcheck through a site, or through an admin API that is off
    // or elsewhere. By default the admin API answers on loopback port 2019 inside
    // the container; `localhost` there is VP101's business.
    if lint.is_some_and(|l| l.healthcheck_without_http)
        && (joined.contains("http://") || joined.contains("https://"))
    {
        let message = if joined.contains(":2019") {
            let (env, _) = svc.environment(ctx);
            let from_env = env
                .iter()
                .rev()
                .find(|e| e.key == "CADDY_ADMIN")
                .and_then(|e| e.value.clone());
            let from_files = ctx
                .of_kind(FileKind::Caddyfile)
                .find_map(|c| crate::checks::caddy::admin_option(&c.text));
            from_env
                .or(from_files)
                .filter(|a| !crate::checks::caddy::admin_answers_on(a, 2019))
                .map(|a| {
                    format!(
                        "Caddy healthcheck uses the admin API on :2019, but the admin API is `{a}`"
                    )
                })
        } else {
            Some("Caddy healthcheck goes through a site, and no site block matches the container's own address (Host `localhost` or `127.0.0.1`)".into())
        };
        if let Some(message) = message {
            out.push(
                f.at(rules::CADDY_HEALTHCHECK, test.node, message)
                    .with_help("use `test: [\"CMD\", \"caddy\", \"version\"]`"),
            );
        }
    }
    // VP612: a health path that calls every model (LiteLLM's `/health`)
    if let Some(costly) = lint.and_then(|l| l.costly_health_path.as_ref())
        && let path = costly.path.as_str()
        && let Some(i) = joined.find(path)
    {
        let after = &joined[i + path.len()..];
        let ok = costly
            .cheap_suffixes
            .iter()
            .any(|s| after.starts_with(s.as_str()));
        if !ok {
            let mut finding = f.at(
                rules::LITELLM_HEALTH_ENDPOINT,
                test.node,
                format!("LiteLLM healthcheck on `{path}` calls every configured model"),
            );
            if let Some(at) = f.find_in(test.node, path)
                && let Some(cheap) = costly.cheap_suffixes.first()
            {
                let end = at + path.len();
                let replacement = format!("{path}{cheap}");
                finding = finding.with_fix(
                    format!("healthcheck now uses `{replacement}`"),
                    vec![edit(at, end, &replacement)],
                );
                finding.start = at;
                let (l, c) = f.lines.position(&f.text, at);
                let (el, ec) = f.lines.position(&f.text, end);
                (
                    finding.line,
                    finding.column,
                    finding.end_line,
                    finding.end_column,
                ) = (l, c, el, ec);
                finding.end = end;
            }
            out.push(finding);
        }
    }
    // VP212: Redis password on the healthcheck's command line
    if lint.is_some_and(|l| l.password_never_in_arguments) && redis_auth_argument(&joined) {
        out.push(redis_password_finding(
            f,
            test.node,
            "the healthcheck's command line",
            &joined,
        ));
    }
}

impl HealthTest<'_> {
    /// End of the test's source text (flow sequences end at their `]`).
    fn node_end(&self, f: &Parsed) -> usize {
        let mut end = self.node.end;
        self.node.walk(&mut |n| end = end.max(n.end));
        end.min(f.text.len())
    }
}

fn redis_auth_argument(s: &str) -> bool {
    redis_auth_value(s).is_some()
}

/// The password argument of a Redis command line (`-a PW`, `--requirepass PW`,
/// `redis://:PW@host`), unquoted; `Some("")` when the flag ends the line.
fn redis_auth_value(s: &str) -> Option<String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let unquote = |w: &str| w.trim_matches(|c| c == '"' || c == '\'').to_string();
    for (i, w) in words.iter().enumerate() {
        if matches!(*w, "-a" | "--pass" | "--requirepass" | "--masterauth") {
            return Some(words.get(i + 1).map(|v| unquote(v)).unwrap_or_default());
        }
        if let Some(v) = w.strip_prefix("--requirepass=") {
            return Some(unquote(v));
        }
        if let Some(rest) = w.strip_prefix("redis://")
            && let Some((userinfo, _)) = rest.split_once('@')
        {
            return Some(unquote(userinfo.rsplit(':').next().unwrap_or(userinfo)));
        }
    }
    None
}

/// VP212 at the severity its value calls for: a literal is stored in the file, in
/// `docker inspect` and on `ps` (error); `${VAR}` is interpolated by Compose, so it
/// is in `docker inspect` and on `ps` (warning); `$$VAR` is expanded by the
/// container's shell and is on `ps` only while the command runs (warning).
fn redis_password_finding(f: &Parsed, node: &Node, where_: &str, joined: &str) -> Finding {
    let value = redis_auth_value(joined).unwrap_or_default();
    let (severity, how) = if value.starts_with("$$") {
        (
            Severity::Warning,
            "expanded by the container's shell: it is on the process list (`ps`) while the command runs",
        )
    } else if value.starts_with('$') {
        (
            Severity::Warning,
            "interpolated by Compose: it is in `docker inspect` and on the process list",
        )
    } else {
        (
            Severity::Error,
            "written in the file: it is also in `docker inspect` and on the process list",
        )
    };
    f.at(
        rules::REDIS_PASSWORD_EXPOSED,
        node,
        format!("the Redis password is on {where_}, {how}"),
    )
    .with_severity(severity)
}

// ---------------------------------------------------------------- capabilities

fn capability_rules(ctx: &Ctx, svc: &Service, out: &mut Vec<Finding>) {
    let f = svc.file;
    let facts = svc.facts(ctx);
    let mounts = svc.mounts();
    let cap_add = svc.cap_add();
    // A process that is not root never has capabilities in its effective set (the
    // engine sets no ambient ones): `cap_drop` changes nothing for it, and `cap_add`
    // would not help. What it writes must belong to its UID.
    let root = svc.user().is_none_or(|u| u == Some(0));
    if svc.cap_drop_all() && root {
        let drop = svc.node.get("cap_drop").unwrap_or(svc.key);
        let writes_bind_mount = mounts.iter().any(|m| m.bind && !m.read_only);
        match facts {
            Some(fa) => {
                let missing: Vec<&String> = fa
                    .cap_add
                    .iter()
                    .filter(|c| !cap_add.contains(&c.to_ascii_uppercase()))
                    .collect();
                // Capabilities for a host directory owned by another UID: not needed
                // for the named volumes the engine creates, and for a bind mount they
                // depend on who owns it on the host.
                let (for_mounts, always): (Vec<&String>, Vec<&String>) = missing
                    .into_iter()
                    .partition(|c| fa.lint.caps_for_foreign_mounts.contains(c));
                let report = |list: &[&String], severity: Severity, why: &str| {
                    let list = list
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    f.at(
                        rules::CAP_DROP_BLOCKS_WRITES,
                        drop,
                        format!(
                            "`{}` drops all capabilities but does not add back {list}{why}",
                            svc.name
                        ),
                    )
                    .with_severity(severity)
                    .with_help(format!(
                        "`{}` needs `cap_add: [{}]` (vpai's catalog)",
                        fa.service,
                        fa.cap_add.join(", ")
                    ))
                };
                if !always.is_empty() {
                    out.push(report(&always, Severity::Error, ""));
                } else if !for_mounts.is_empty() && writes_bind_mount {
                    out.push(report(
                        &for_mounts,
                        Severity::Warning,
                        ", which it needs when a bind-mounted directory belongs to another user",
                    ));
                }
            }
            None => {
                // An entrypoint that changes owners and drops to a user itself
                // (`cap_add: [CHOWN, SETUID, SETGID]`) manages its mounts.
                let manages_owners = ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE"]
                    .iter()
                    .any(|c| cap_add.iter().any(|a| a == c));
                if writes_bind_mount && !manages_owners {
                    out.push(
                        f.at(
                            rules::CAP_DROP_BLOCKS_WRITES,
                            drop,
                            format!(
                                "`{}` drops all capabilities and writes to a bind mount without DAC_OVERRIDE",
                                svc.name
                            ),
                        )
                        .with_severity(Severity::Warning)
                        .with_help("if the process runs as root and the host directory belongs to another user, add `cap_add: [DAC_OVERRIDE, FOWNER]` (or chown the directory to the process's user)"),
                    );
                }
            }
        }
    }
    // VP104: Docker socket for a non-root user without group_add
    if let Some(sock) = mounts.iter().find(|m| {
        m.source
            .as_deref()
            .is_some_and(|s| s.ends_with("/docker.sock"))
    }) {
        let uid = svc.runs_as(ctx).map(|(u, _)| u);
        let non_root = uid.is_some_and(|u| u != 0) || svc.user() == Some(None);
        if non_root && svc.node.get("group_add").is_none() {
            out.push(f.at(
                rules::DOCKER_SOCKET_GROUP,
                sock.node,
                format!(
                    "`{}` mounts the Docker socket but runs as UID {} without `group_add`",
                    svc.name,
                    uid.map(|u| u.to_string()).unwrap_or_else(|| "(non-root)".into())
                ),
            ));
        }
    }
}

// ---------------------------------------------------------------- images

fn image_rules(ctx: &Ctx, svc: &Service, out: &mut Vec<Finding>) {
    let f = svc.file;
    let Some((image, node)) = svc.raw_image() else {
        return;
    };
    let local = svc.is_local_image();

    // VP701: ${REGISTRY:-ghcr.io/acme}/acme-website
    if let Some(rest) = image.strip_prefix("${")
        && let Some(close) = rest.find('}')
    {
        let inner = &rest[..close];
        let name = rest[close + 1..].trim_start_matches('/');
        if let Some((_, default)) = inner.split_once(":-").or_else(|| inner.split_once('-')) {
            let last = default
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("");
            let first = name.split(['/', ':']).next().unwrap_or("");
            if !last.is_empty()
                && (first == last
                    || first.starts_with(&format!("{last}-"))
                    || first.starts_with(&format!("{last}_")))
            {
                out.push(f.at(
                    rules::IMAGE_REGISTRY_DEFAULT,
                    node,
                    format!("the default `{default}` and the name `{first}` both carry `{last}`"),
                ));
            }
        }
    }

    // VP702: built or local images without pull_policy never
    if !local {
        let built = svc.node.get("build").is_some();
        let inspected_local = ctx
            .inspector
            .and_then(|i| i.is_local(image))
            .unwrap_or(false);
        let named_local = image.ends_with(":local")
            || image_repository_name(image).ends_with("-local")
            || image.starts_with("localhost/");
        if built || inspected_local || named_local {
            out.push(f.at(
                rules::LOCAL_IMAGE_PULL,
                node,
                format!(
                    "`{image}` is {} but `{}` has no `pull_policy: {}`",
                    if built {
                        "built by compose"
                    } else if inspected_local {
                        "only on this host (no registry digest)"
                    } else {
                        "a local image"
                    },
                    svc.name,
                    if built { "build" } else { "never" }
                ),
            ));
        }
    }

    // Past this point the rules judge what Compose would pull: `${V:-latest}`
    // is `latest` when `.env` does not set V.
    let written = image;
    let interpolated = svc.interpolated_image();
    let image = match interpolated {
        Some(resolved) => resolved,
        None if image.contains('$') => return,
        None => image,
    };
    let shown = match interpolated {
        Some(resolved) => format!("`{written}` (resolves to `{resolved}`)"),
        None => format!("`{image}`"),
    };
    let tag = image_tag(image);
    let digest = image.contains('@');
    // VP703: latest / no tag
    if !local && !digest && tag.is_none_or(|t| t == "latest") {
        out.push(f.at(
            rules::IMAGE_UNPINNED,
            node,
            match tag {
                Some(_) => format!("{shown} uses the moving tag `latest`"),
                None => format!("{shown} has no tag (means `latest`)"),
            },
        ));
    }
    // VP704: tag format
    if let (Some(tag), Some(fa)) = (tag, svc.facts(ctx))
        && let (Some(v), own_style) = fa.tag_style_of(image)
    {
        let has_v = tag.starts_with('v') && tag[1..].starts_with(|c: char| c.is_ascii_digit());
        let plain = tag.starts_with(|c: char| c.is_ascii_digit());
        if (v && plain) || (!v && has_v) {
            let fixed = if v {
                format!("v{tag}")
            } else {
                tag[1..].to_string()
            };
            let tag_at = f
                .find_in(node, &format!(":{tag}"))
                .map(|i| i + 1)
                .unwrap_or(node.start);
            let hint = fa
                .tag_hint
                .clone()
                .filter(|_| !own_style)
                .unwrap_or_else(|| {
                    format!(
                        "`{}` tags {} a `v` prefix{}",
                        fa.service,
                        if v { "have" } else { "have no" },
                        fa.pinned_version
                            .as_ref()
                            .map(|p| format!(" (vpai pins `{p}`)"))
                            .unwrap_or_default()
                    )
                });
            let written_at = f.find_in(node, &format!(":{tag}")).is_some();
            let finding = if written_at {
                f.finding(
                    rules::IMAGE_TAG_FORMAT,
                    tag_at,
                    tag_at + tag.len(),
                    format!("tag `{tag}` does not exist in that format: {hint}"),
                )
                .with_help(format!("use `{fixed}`"))
                .with_fix(
                    format!("tag `{tag}` -> `{fixed}`"),
                    vec![edit(tag_at, tag_at + tag.len(), fixed.clone())],
                )
            } else {
                // The tag comes from a variable: say where, fix nothing here.
                f.at(
                    rules::IMAGE_TAG_FORMAT,
                    node,
                    format!("{shown}: tag `{tag}` does not exist in that format: {hint}"),
                )
                .with_help(format!("set the tag to `{fixed}`"))
            };
            out.push(finding);
        }
    }
}

fn image_repository_name(image: &str) -> String {
    normalize_repo(crate::knowledge::image_repository(image))
}

// ---------------------------------------------------------------- applications

fn app_rules<'a>(ctx: &'a Ctx<'a>, svc: &Service<'a>, out: &mut Vec<Finding>) {
    let f = svc.file;
    let app = svc.app(ctx);
    let service = app.map(|a| a.service.as_str()).unwrap_or("");
    let (env, env_complete) = svc.environment(ctx);
    let env_get = |k: &str| env.iter().rev().find(|e| e.key == k);

    // VP107: memory floor
    if let (Some(a), Some((node, bytes))) = (app, svc.memory_limit())
        && let Some(floor) = &a.memory_floor
        && bytes < floor.bytes()
    {
        out.push(f.at(
            rules::MEMORY_BELOW_FLOOR,
            node,
            format!(
                "`{}` is limited to {} but needs at least {floor}",
                svc.name,
                node.scalar_text().unwrap_or_default()
            ),
        ));
    }
    // VP108: init
    if app.is_some_and(|a| a.init) && svc.node.get("init").and_then(Node::as_bool) != Some(true) {
        out.push(f.at(
            rules::OPENCLAW_INIT,
            svc.key,
            format!("`{}` runs without `init: true`", svc.name),
        ));
    }

    let Some(lint) = app.map(|a| &a.lint) else {
        return;
    };
    if let Some(initdb) = &lint.initdb {
        postgres_rules(svc, initdb, &env, out);
    }
    // VP221: a config file the service never reads (Qdrant: only production.yaml)
    if let Some(reads) = &lint.config_reads {
        let dir = reads.dir.trim_end_matches('/');
        for m in svc.mounts() {
            let t = m.target.trim_end_matches('/');
            let in_config = t
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'));
            let file_name = t.rsplit('/').next().unwrap_or("");
            let yaml = file_name.ends_with(".yaml") || file_name.ends_with(".yml");
            if in_config && yaml && !reads.files.iter().any(|r| r == file_name) {
                out.push(f.at(
                    rules::QDRANT_CONFIG_PATH,
                    m.node,
                    format!("Qdrant does not read `{t}` as its configuration"),
                ));
            }
        }
    }
    // VP501: a command that must name a mode (a single Loki: `-target=all`)
    if !lint.command_requires_one_of.is_empty() {
        let cmd = svc.command().map(|(w, _)| w.join(" ")).unwrap_or_default();
        if !lint
            .command_requires_one_of
            .iter()
            .any(|needle| cmd.contains(needle.as_str()))
        {
            let at = svc.command().map(|(_, n)| n).unwrap_or(svc.key);
            out.push(f.at(
                rules::LOKI_TARGET_ALL,
                at,
                format!("`{}` runs Loki without `-target=all`", svc.name),
            ));
        }
    }
    // VP212: a password as a command-line argument (Redis `-a`)
    if lint.password_never_in_arguments
        && let Some((words, node)) = svc.command()
        && redis_auth_argument(&words.join(" "))
    {
        out.push(redis_password_finding(
            f,
            node,
            "the command line",
            &words.join(" "),
        ));
    }
    // VP601: a sub-path the application does not support (n8n `N8N_PATH`)
    for var in &lint.sub_path_env {
        if let Some(path) = env_get(var)
            && path
                .value
                .as_deref()
                .is_some_and(|v| !v.trim_matches('/').is_empty())
        {
            // n8n documents this setup (with a proxy that strips the prefix); the
            // Caddyfile side of VP601 checks the route when it is in the set.
            out.push(
                env_finding(
                    path,
                    rules::N8N_SUB_PATH,
                    &format!("{service} is configured for a sub-path (`{var}`)"),
                )
                .with_severity(Severity::Warning)
                .with_help("the proxy must strip that prefix and nothing else; if it does, `--allow VP601`"),
            );
        }
    }
    // VP602: what the application needs behind the proxy (n8n `N8N_PROXY_HOPS`),
    // for a process a proxy routes to: not its workers or one-shot imports, and not
    // a stack that publishes it without a proxy.
    let needs_proxy_env = !lint.proxy_env.is_empty() && behind_a_proxy(ctx, svc);
    for var in lint.proxy_env.iter().filter(|_| needs_proxy_env) {
        if env_complete && env_get(var).is_none() {
            out.push(f.at(
                rules::N8N_PROXY_HOPS,
                svc.key,
                format!("`{}` has no `{var}` in its environment", svc.name),
            ));
        }
    }
}

/// Whether a reverse proxy routes to `svc`: a Caddyfile of the set proxies to its
/// name (or container name, host name, network alias), its labels configure a proxy
/// that reads labels (Traefik, caddy-docker-proxy), it sets nginx-proxy's
/// `VIRTUAL_HOST`, or its public URL is https (`[lint] public_url_env`). An external
/// network alone says nothing: a stack split in phases shares its networks that way.
fn behind_a_proxy(ctx: &Ctx, svc: &Service) -> bool {
    let mut names: Vec<String> = vec![svc.name.to_ascii_lowercase()];
    for key in ["container_name", "hostname"] {
        if let Some(v) = svc.node.get(key).and_then(Node::scalar_text) {
            names.push(v.to_ascii_lowercase());
        }
    }
    if let Some(nets) = svc.node.get("networks") {
        for (_, net) in nets.entries() {
            for alias in net.get("aliases").map(Node::as_seq).unwrap_or_default() {
                if let Some(a) = alias.scalar_text() {
                    names.push(a.to_ascii_lowercase());
                }
            }
        }
    }
    let routed_by_caddyfile = ctx.of_kind(FileKind::Caddyfile).any(|c| {
        crate::checks::caddy::upstream_hosts(&c.text)
            .iter()
            .any(|h| names.contains(h))
    });
    let label_keys: Vec<String> = match svc.node.get("labels").map(|n| &n.value) {
        Some(Value::Map(entries)) => entries
            .iter()
            .filter_map(|(k, _)| k.scalar_text())
            .collect(),
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(Node::scalar_text)
            .map(|l| l.split('=').next().unwrap_or_default().to_string())
            .collect(),
        _ => Vec::new(),
    };
    let routed_by_labels = label_keys.iter().any(|k| {
        let k = k.trim().to_ascii_lowercase();
        k.starts_with("traefik.")
            || k == "caddy"
            || k.starts_with("caddy.")
            || k.starts_with("caddy_")
    });
    let (env, _) = svc.environment(ctx);
    let nginx_proxy = env.iter().any(|e| e.key == "VIRTUAL_HOST");
    // A public URL in https for a process that serves plain HTTP, or a URL a
    // platform generates for its own proxy (`${SERVICE_URL_N8N}`).
    let public_url = svc.app(ctx).is_some_and(|a| {
        env.iter().any(|e| {
            a.lint.public_url_env.contains(&e.key)
                && e.value.as_deref().is_some_and(|v| {
                    v.starts_with("https://")
                        || PLATFORM_VARIABLE_PREFIXES
                            .iter()
                            .any(|p| v.starts_with(&format!("${{{p}")))
                })
        })
    });
    routed_by_caddyfile || routed_by_labels || nginx_proxy || public_url
}

/// PostgreSQL's initdb traps: the data path of the major version, locales the image
/// lacks (facts from the catalog's `[lint.initdb]`), the logging collector.
fn postgres_rules(
    svc: &Service,
    initdb: &vpai_catalog::InitdbFacts,
    env: &[EnvVar],
    out: &mut Vec<Finding>,
) {
    let f = svc.file;
    let major = svc
        .image()
        .and_then(|(i, _)| image_tag(i).map(str::to_string))
        .map(|t| {
            t.split(['.', '-'])
                .next()
                .unwrap_or("")
                .parse::<u32>()
                .unwrap_or(99)
        })
        .unwrap_or(99);
    let pgdata = env
        .iter()
        .rev()
        .find(|e| e.key == initdb.data_env)
        .and_then(|e| e.value.clone());
    if major >= initdb.data_path_since_major {
        for m in svc.mounts() {
            let t = m.target.trim_end_matches('/');
            if t == initdb.old_data_path && pgdata.as_deref() != Some(t) {
                out.push(
                    f.at(
                        rules::PG18_DATA_PATH,
                        m.node,
                        "PostgreSQL 18+ keeps its data under `/var/lib/postgresql`, not `/var/lib/postgresql/data`",
                    )
                    .with_help(format!("mount the volume at `{}`", initdb.data_path)),
                );
            }
        }
    }
    let available = |locale: &str| {
        let locale = locale.to_ascii_lowercase();
        initdb.locales.contains(&locale)
    };
    for e in env {
        let Some(value) = &e.value else { continue };
        let bad: Option<String> = match e.key.as_str() {
            "POSTGRES_INITDB_ARGS" => value.split_whitespace().find_map(|arg| {
                let (k, v) = arg.split_once('=')?;
                matches!(
                    k,
                    "--locale" | "--lc-collate" | "--lc-ctype" | "--lc-messages"
                )
                .then(|| v.to_string())
                .filter(|v| !available(v))
            }),
            "LANG" | "LC_ALL" | "LC_COLLATE" | "LC_CTYPE" => {
                (!available(value)).then(|| value.clone())
            }
            _ => None,
        };
        if let Some(locale) = bad {
            out.push(env_finding(
                e,
                rules::PG_LOCALE,
                &format!("locale `{locale}` is not installed in the PostgreSQL image"),
            ));
        }
    }
    if let Some((words, node)) = svc.command()
        && words.iter().any(|w| {
            w.replace(' ', "").starts_with("logging_collector=")
                && !w.ends_with("off")
                && !w.ends_with("false")
        })
    {
        out.push(f.at(
            rules::PG_LOGGING_COLLECTOR,
            node,
            "`logging_collector` is turned on in the command",
        ));
    }
}

/// A finding on an environment variable, wherever it is set.
fn env_finding(e: &EnvVar, rule: &'static crate::rules::Rule, message: &str) -> Finding {
    match &e.origin {
        EnvOrigin::Inline { file, node } => file.at(rule, node, message),
        EnvOrigin::File { file, entry } => {
            file.finding(rule, entry.key_start, entry.value_end, message)
        }
    }
}

// ---------------------------------------------------------------- secrets, ports

fn secrets_and_ports<'a>(ctx: &'a Ctx<'a>, svc: &Service<'a>, out: &mut Vec<Finding>) {
    let f = svc.file;
    // VP801: secrets in clear in the compose file
    if let Some(env) = svc.node.get("environment") {
        let items: Vec<(String, Option<String>, &Node)> = match &env.value {
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.scalar_text().unwrap_or_default(),
                        v.scalar_text(),
                        v_or_k(k, v),
                    )
                })
                .collect(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| {
                    let s = i.as_str()?;
                    let (k, v) = s.split_once('=')?;
                    Some((k.to_string(), Some(v.to_string()), i))
                })
                .collect(),
            _ => Vec::new(),
        };
        for (key, value, node) in items {
            let Some(value) = value else { continue };
            if !is_secret_name(&key) {
                continue;
            }
            match super::secret_value_kind(&value) {
                super::ValueKind::NotSecret => {}
                super::ValueKind::Placeholder => out.push(
                    f.at(
                        rules::COMPOSE_CLEAR_SECRET,
                        node,
                        format!(
                            "`{key}` of `{}` is a placeholder written in the compose file",
                            svc.name
                        ),
                    )
                    .with_severity(Severity::Warning)
                    .with_help("set the real value in an env file (`env_file:`) rather than here"),
                ),
                super::ValueKind::Secret => out.push(f.at(
                    rules::COMPOSE_CLEAR_SECRET,
                    node,
                    format!(
                        "`{key}` of `{}` is written in clear in the compose file",
                        svc.name
                    ),
                )),
            }
        }
    }
    // VP802: database ports published
    const DB_PORTS: &[u16] = &[5432, 6379, 6333, 6334, 3306, 27017, 11211];
    let db_service = svc.app(ctx).is_some_and(|a| a.lint.datastore);
    let unauthenticated = svc.app(ctx).is_some_and(|a| a.lint.unauthenticated);
    if let Some(ports) = svc.node.get("ports") {
        for p in ports.as_seq() {
            let (host_ip, container) = match &p.value {
                Value::Map(_) => (
                    p.get("host_ip").and_then(Node::scalar_text),
                    p.get("target")
                        .and_then(Node::scalar_text)
                        .and_then(|t| t.parse::<u16>().ok()),
                ),
                _ => {
                    let s = p.scalar_text().unwrap_or_default();
                    let s = s.split('/').next().unwrap_or("").to_string();
                    let parts: Vec<&str> = s.rsplitn(3, ':').collect();
                    let container = parts
                        .first()
                        .and_then(|c| c.split('-').next()?.parse::<u16>().ok());
                    let host_ip =
                        (parts.len() == 3).then(|| parts[2].trim_matches(['[', ']']).to_string());
                    (host_ip, container)
                }
            };
            let loopback = host_ip
                .as_deref()
                .is_some_and(|h| h.starts_with("127.") || h == "::1" || h == "localhost");
            if !loopback
                && (db_service
                    || unauthenticated
                    || container.is_some_and(|c| DB_PORTS.contains(&c)))
            {
                out.push(f.at(
                    rules::DB_PORT_PUBLISHED,
                    p,
                    format!(
                        "`{}` publishes port {} on every host interface{}",
                        svc.name,
                        container.map(|c| c.to_string()).unwrap_or_default(),
                        if unauthenticated && !db_service {
                            ", and it has no authentication"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
    }
}

// ---------------------------------------------------------------- networks

/// (key, explicit name, internal, external) of the networks of one compose file.
fn network_defs<'a>(f: &'a Parsed<'a>) -> Vec<(String, Option<String>, bool, bool)> {
    let Some(nets) = f.root().and_then(|r| r.get("networks")) else {
        return Vec::new();
    };
    nets.entries()
        .iter()
        .map(|(k, v)| {
            (
                k.scalar_text().unwrap_or_default(),
                v.get("name").and_then(Node::scalar_text),
                v.get("internal").and_then(Node::as_bool).unwrap_or(false),
                v.get("external").and_then(Node::as_bool).unwrap_or(false),
            )
        })
        .collect()
}

fn network_rules<'a>(ctx: &'a Ctx<'a>, svc: &Service<'a>, out: &mut Vec<Finding>) {
    let Some(app) = svc.app(ctx) else { return };
    if !app.egress {
        return;
    }
    let Some(nets) = svc.networks() else { return };
    if nets.is_empty() {
        return;
    }
    let own = network_defs(svc.file);
    let others: Vec<_> = ctx
        .of_kind(FileKind::Compose)
        .filter(|p| p.index != svc.file.index && p.file.dir() == svc.file.file.dir())
        .flat_map(network_defs)
        .collect();
    let mut all_internal = true;
    for (name, _) in &nets {
        let Some(def) = own.iter().find(|d| &d.0 == name) else {
            return; // undefined: compose itself will complain
        };
        let internal = if def.3 {
            let wanted = def.1.clone().unwrap_or_else(|| name.clone());
            let found = others.iter().find(|o| {
                !o.3 && (o.0 == wanted
                    || o.1.as_deref() == Some(wanted.as_str())
                    || wanted.ends_with(&format!("_{}", o.0)))
            });
            match found {
                Some(o) => o.2,
                None => return, // defined outside the files we see
            }
        } else {
            def.2
        };
        if !internal {
            all_internal = false;
        }
    }
    if all_internal {
        let node = svc.node.get("networks").unwrap_or(svc.key);
        out.push(svc.file.at(
            rules::EGRESS_INTERNAL_ONLY,
            node,
            format!(
            "`{}` calls external APIs but is attached only to internal networks ({})",
            svc.name,
            nets.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
        ));
    }
}

// ---------------------------------------------------------------- variables

/// `${VAR}` / `$VAR` without a default, with their offsets.
/// The variables of the `.env` next to `f` (what Compose reads by default).
fn dot_env(ctx: &Ctx, f: &Parsed) -> BTreeMap<String, String> {
    ctx.files
        .iter()
        .find(|p| p.file.dir() == f.file.dir() && p.file.file_name() == ".env")
        .map(|p| {
            parse_env(&p.text)
                .into_iter()
                .map(|e| (e.key, e.value))
                .collect()
        })
        .unwrap_or_default()
}

/// Compose interpolation of one value: `$NAME`, `${NAME}`, `${NAME:-default}`,
/// `${NAME-default}`, `${NAME:?error}`; `$$` is a `$`. `None` when a variable has
/// neither a value in `vars` nor a default (Compose would take it from the shell).
fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner_start) = after.strip_prefix('{') {
            let close = inner_start.find('}')?;
            let inner = &inner_start[..close];
            let name_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_end);
            let value = vars.get(name);
            let resolved = match op {
                "" => value.cloned(),
                _ if op.starts_with(":-") => value
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .or_else(|| Some(op[2..].to_string())),
                _ if op.starts_with('-') => value.cloned().or_else(|| Some(op[1..].to_string())),
                _ if op.starts_with(":?") || op.starts_with('?') => value.cloned(),
                _ => None,
            }?;
            out.push_str(&resolved);
            rest = &inner_start[close + 1..];
        } else {
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if name_len == 0 {
                out.push('$');
                rest = after;
                continue;
            }
            out.push_str(vars.get(&after[..name_len])?);
            rest = &after[name_len..];
        }
    }
    out.push_str(rest);
    Some(out)
}

pub fn variables(text: &str) -> Vec<(String, usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_comment = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            in_comment = false;
        } else if c == b'#' && (i == 0 || matches!(bytes[i - 1], b' ' | b'\n' | b'\t')) {
            in_comment = true;
        }
        if in_comment || c != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let start = i;
        if bytes.get(i + 1) == Some(&b'{') {
            let Some(close) = text[i..].find('}') else {
                break;
            };
            let inner = &text[i + 2..i + close];
            let name_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let name = &inner[..name_end];
            let rest = &inner[name_end..];
            let has_default = rest.starts_with(":-")
                || rest.starts_with('-')
                || rest.starts_with(":?")
                || rest.starts_with('?')
                || rest.starts_with(":+")
                || rest.starts_with('+');
            if !name.is_empty() && !has_default {
                out.push((name.to_string(), start, i + close + 1));
            }
            i += close + 1;
        } else {
            let name: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                out.push((name.clone(), start, i + 1 + name.len()));
            }
            i += 1 + name.len();
        }
    }
    out
}

/// Variables a platform sets itself when it deploys a compose file (Coolify's
/// generated `SERVICE_PASSWORD_*`, `SERVICE_FQDN_*`, ...): defined, though no file says so.
const PLATFORM_VARIABLE_PREFIXES: &[&str] = &[
    "SERVICE_FQDN_",
    "SERVICE_URL_",
    "SERVICE_PASSWORD_",
    "SERVICE_USER_",
    "SERVICE_BASE64_",
    "SERVICE_REALBASE64_",
    "SERVICE_HEX_",
];

/// VP705. A variable is defined by the `.env` next to the file, by an env template
/// there (`.env.example`: the operator copies it), or by the platform; secret-named
/// variables defined nowhere are reported one by one (the service would start with an
/// empty secret), the others once per file, listed (optional knobs are many).
fn undefined_variables(ctx: &Ctx, f: &Parsed, out: &mut Vec<Finding>) {
    let vars = variables(&f.text);
    if vars.is_empty() {
        return;
    }
    let beside: Vec<&Parsed> = ctx
        .files
        .iter()
        .filter(|p| p.file.dir() == f.file.dir() && p.kind == FileKind::Env)
        .collect();
    let has_dot_env = beside.iter().any(|p| p.file.file_name() == ".env");
    let defined: BTreeSet<String> = beside
        .iter()
        .filter(|p| p.file.file_name() == ".env" || super::files::is_template(p.path()))
        .flat_map(|p| parse_env(&p.text).into_iter().map(|e| e.key))
        .collect();
    let template = beside
        .iter()
        .find(|p| super::files::is_template(p.path()))
        .map(|p| p.file.file_name().to_string());
    let where_ = if has_dot_env {
        "the `.env` next to this file".to_string()
    } else {
        "any `.env` next to this file".to_string()
    };
    let mut seen = BTreeSet::new();
    let mut others: Vec<(String, usize, usize)> = Vec::new();
    for (name, start, end) in vars {
        if defined.contains(&name)
            || PLATFORM_VARIABLE_PREFIXES
                .iter()
                .any(|p| name.starts_with(p))
            || !seen.insert(name.clone())
        {
            continue;
        }
        if is_secret_name(&name) {
            out.push(f.finding(
                rules::UNDEFINED_VARIABLE,
                start,
                end,
                format!("`{name}` is not defined in {where_}: the service would start with an empty secret"),
            ));
        } else {
            others.push((name, start, end));
        }
    }
    if let Some((first, start, end)) = others.first() {
        let message = match others.len() {
            1 => format!("`{first}` is not defined in {where_}: Compose uses an empty string"),
            n => {
                let mut names: Vec<String> = others
                    .iter()
                    .take(5)
                    .map(|(n, _, _)| format!("`{n}`"))
                    .collect();
                if n > 5 {
                    names.push(format!("{} more", n - 5));
                }
                format!(
                    "{n} variables are not defined in {where_} ({}): Compose uses empty strings",
                    names.join(", ")
                )
            }
        };
        let mut finding = f.finding(rules::UNDEFINED_VARIABLE, *start, *end, message);
        if let Some(t) = &template {
            finding = finding.with_help(format!("`{t}` does not define them either"));
        }
        out.push(finding);
    }
}

// ---------------------------------------------------------------- across files

fn cross_file(ctx: &Ctx, all: &[Service], out: &mut Vec<Finding>) {
    let composes: Vec<&Parsed> = ctx.of_kind(FileKind::Compose).collect();
    let name_of = |p: &Parsed| -> Option<String> {
        p.root()
            .and_then(|r| r.get("name"))
            .and_then(Node::scalar_text)
    };
    // Two files run side by side on one host when each has its own project name or
    // one includes the other. Without that they are either one project (VP106 says
    // so) or alternatives of one another (a queue-mode variant of the same stack),
    // which define the same services on purpose.
    let includes = |a: &Parsed, b: &Parsed| {
        a.root().and_then(|r| r.get("include")).is_some_and(|inc| {
            inc.as_seq().iter().any(|i| {
                let path = i
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| i.get("path").and_then(Node::scalar_text));
                path.is_some_and(|p| {
                    ctx.resolve(a.file.dir(), &p)
                        .is_some_and(|t| t.index == b.index)
                })
            })
        })
    };
    let side_by_side = |a: &Parsed, b: &Parsed| {
        matches!((name_of(a), name_of(b)), (Some(x), Some(y)) if x != y)
            || includes(a, b)
            || includes(b, a)
    };
    // VP105: a service in two files of one directory that run side by side
    let mut first_seen: std::collections::HashMap<(&str, &str), &Service> = Default::default();
    for svc in all {
        if is_override(svc.file) {
            continue;
        }
        let key = (svc.file.file.dir(), svc.name.as_str());
        match first_seen.get(&key) {
            Some(first)
                if first.file.index != svc.file.index && side_by_side(first.file, svc.file) =>
            {
                out.push(svc.file.at(
                    rules::DUPLICATE_SERVICE,
                    svc.key,
                    format!(
                        "service `{}` is also defined in `{}`",
                        svc.name,
                        first.file.path()
                    ),
                ));
            }
            Some(_) => {}
            None => {
                first_seen.insert(key, svc);
            }
        }
    }
    // VP106: two files sharing a project
    for (i, a) in composes.iter().enumerate() {
        for b in &composes[..i] {
            if a.file.dir() != b.file.dir() || is_override(a) || is_override(b) {
                continue;
            }
            let (na, nb) = (name_of(a), name_of(b));
            if na == nb {
                let (s, e) = a
                    .root()
                    .and_then(|r| r.entry("name"))
                    .map(|(k, v)| (k.start, v.end))
                    .unwrap_or((0, 0));
                out.push(a.finding(
                    rules::SHARED_PROJECT_NAME,
                    s,
                    e,
                    match na {
                        Some(n) => format!(
                            "`{}` and `{}` are both compose project `{n}`",
                            a.path(),
                            b.path()
                        ),
                        None => format!(
                            "`{}` and `{}` have no `name:` and share the directory's project name",
                            a.path(),
                            b.path()
                        ),
                    },
                ));
            }
        }
    }
}

fn is_override(p: &Parsed) -> bool {
    p.file.file_name().contains(".override.")
}

// ---------------------------------------------------------------- secrets inline

/// VP801 beyond `environment:` values: a literal secret in a healthcheck or a
/// command (`REDISCLI_AUTH='...'`, `PGPASSWORD=...`, `--password ...`), a password
/// in URL user info (`postgres://app:pw@db`), and a literal default of a secret
/// variable (`${DB_PASSWORD:-postgres}`), anywhere in the compose file.
fn inline_secrets(f: &Parsed, all: &[Service], out: &mut Vec<Finding>) {
    let text = f.text.as_str();
    let mut found: Vec<(usize, usize, String, Severity)> = Vec::new();
    let push = |found: &mut Vec<_>, s: usize, e: usize, what: String, value: &str| {
        match super::secret_value_kind(value) {
            super::ValueKind::Secret => found.push((s, e, what, Severity::Error)),
            super::ValueKind::Placeholder => found.push((s, e, what, Severity::Warning)),
            super::ValueKind::NotSecret => {}
        }
    };
    // Healthchecks and commands: `NAME=value` and password options.
    for svc in all.iter().filter(|s| std::ptr::eq(s.file, f)) {
        let mut ranges = Vec::new();
        if let Some(test) = svc.healthcheck() {
            ranges.push((test.node.start, test.node_end(f), "healthcheck"));
        }
        for key in ["command", "entrypoint"] {
            if let Some(n) = svc.node.get(key) {
                let mut end = n.end;
                n.walk(&mut |c| end = end.max(c.end));
                ranges.push((n.start, end.min(text.len()), key));
            }
        }
        for (start, end, place) in ranges {
            for (s, e, name) in super::secrets::command_values(&text[start..end]) {
                let value = &text[start + s..start + e];
                push(
                    &mut found,
                    start + s,
                    start + e,
                    format!(
                        "{name} of `{}` is written in clear in its {place}",
                        svc.name
                    ),
                    value,
                );
            }
        }
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with('#') {
            for (s, e) in super::secrets::url_passwords(line) {
                push(
                    &mut found,
                    offset + s,
                    offset + e,
                    "a password is written in clear in a URL".to_string(),
                    &line[s..e],
                );
            }
            for (s, e, name) in super::secrets::secret_defaults(line) {
                push(
                    &mut found,
                    offset + s,
                    offset + e,
                    format!(
                        "`{name}` has a literal default: it is used silently when `{name}` is unset"
                    ),
                    &line[s..e],
                );
            }
        }
        offset += line.len();
    }
    found.sort_by_key(|x| (x.0, x.1));
    found.dedup_by_key(|x| x.0);
    for (s, e, message, severity) in found {
        let covered = out.iter().any(|o| {
            o.path == f.file.path
                && (o.rule == rules::COMPOSE_CLEAR_SECRET.id
                    || o.rule == rules::REDIS_PASSWORD_EXPOSED.id)
                && o.start <= s
                && e <= o.end
        });
        if covered {
            continue;
        }
        let mut finding = f.finding(rules::COMPOSE_CLEAR_SECRET, s, e, message);
        if severity == Severity::Warning {
            finding = finding
                .with_severity(Severity::Warning)
                .with_help("the value looks like a placeholder; set the real one in an env file");
        } else if text[..s].ends_with('-') && text[..s].rfind("${") > text[..s].rfind('}') {
            finding = finding.with_help("make the variable required: `${NAME:?set NAME}`");
        } else if text[..s].ends_with(':') && text[..s].contains("://") {
            finding = finding.with_help(
                "interpolate the password from `.env`: `scheme://user:${DB_PASSWORD:?}@host`",
            );
        } else {
            finding = finding.with_help(
                "pass the secret in the service's environment (env file) and use `$$NAME` in the command",
            );
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_programs_of_scripts() {
        assert_eq!(shell_programs("wget -qO- http://x || exit 1"), vec!["wget"]);
        assert_eq!(shell_programs("A=1 curl -f x && test -f y"), vec!["curl"]);
        assert_eq!(
            shell_programs("bash -c ':> /dev/tcp/127.0.0.1/6333' || exit 1"),
            vec!["bash"]
        );
        assert_eq!(shell_programs("kill -0 1"), Vec::<String>::new());
        // Redirections that duplicate descriptors start no command.
        assert_eq!(
            shell_programs(
                "exec 3<>/dev/tcp/127.0.0.1/12345 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q 200 <&3 2>&1"
            ),
            vec!["grep"]
        );
        assert_eq!(shell_programs("wget -q x &>/dev/null & wait"), vec!["wget"]);
        assert_eq!(
            shell_programs("/usr/bin/pg_isready -q | grep x"),
            vec!["pg_isready", "grep"]
        );
    }

    #[test]
    fn variables_without_defaults() {
        let v = variables("image: ${REG:-x}/a:${TAG}\nenv: $HOME $$ESC\n# ${NOPE}\n");
        let names: Vec<_> = v.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, vec!["TAG", "HOME"]);
    }
}
