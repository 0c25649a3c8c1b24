//! Caddyfile rules (seed 001 §6, §11.2b, §12.7, §12.8) over a small Caddyfile
//! parser: tokens with offsets, blocks, snippets and heredocs.

use super::{Ctx, Parsed, edit};
use crate::knowledge::{image_repository, normalize_repo};
use crate::report::Finding;
use crate::rules::{self, Severity};
use crate::source::FileKind;

/// One token with its byte span.
#[derive(Debug, Clone)]
pub struct Token {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// A directive line and its block, if it opens one.
#[derive(Debug, Clone, Default)]
pub struct Directive {
    pub tokens: Vec<Token>,
    pub children: Option<Vec<Directive>>,
}

impl Directive {
    pub fn name(&self) -> &str {
        self.tokens.first().map(|t| t.text.as_str()).unwrap_or("")
    }

    pub fn args(&self) -> &[Token] {
        self.tokens.get(1..).unwrap_or(&[])
    }

    pub fn children(&self) -> &[Directive] {
        self.children.as_deref().unwrap_or(&[])
    }

    pub fn start(&self) -> usize {
        self.tokens.first().map(|t| t.start).unwrap_or(0)
    }

    pub fn end(&self) -> usize {
        self.tokens.first().map(|t| t.end).unwrap_or(0)
    }

    /// Visit this directive and all below it.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Directive)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }
}

/// A heredoc (`<<MARKER ... MARKER`), for the status-line rule.
#[derive(Debug, Clone)]
pub struct Heredoc {
    pub marker: String,
    /// End offset of the closing marker.
    pub close_end: usize,
    /// The closing line holds nothing but the marker.
    pub close_alone: bool,
}

/// The parsed file.
#[derive(Debug, Default)]
pub struct Caddyfile {
    pub top: Vec<Directive>,
    pub heredocs: Vec<Heredoc>,
}

/// Tokenise into lines of tokens; `{` and `}` are their own tokens.
fn tokenize(text: &str, heredocs: &mut Vec<Heredoc>) -> Vec<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut lines: Vec<Vec<Token>> = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            i += 1;
            continue;
        }
        if c == b' ' || c == b'\t' || c == b'\r' {
            i += 1;
            continue;
        }
        if c == b'\\' && bytes.get(i + 1) == Some(&b'\n') {
            i += 2; // line continuation
            continue;
        }
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == b'"' || c == b'`' {
            let quote = c;
            i += 1;
            let mut value = String::new();
            while i < bytes.len() && bytes[i] != quote {
                if quote == b'"' && bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let ch = text[i..].chars().next().unwrap_or(' ');
                value.push(ch);
                i += ch.len_utf8();
            }
            i = (i + 1).min(bytes.len());
            current.push(Token {
                text: value,
                start,
                end: i,
            });
            continue;
        }
        // a word
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        let word = &text[start..i];
        if let Some(marker) = word.strip_prefix("<<")
            && !marker.is_empty()
            && marker
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            // heredoc body until a line whose first word is the marker
            let body_start = text[i..]
                .find('\n')
                .map(|n| i + n + 1)
                .unwrap_or(text.len());
            let mut pos = body_start;
            let mut found = None;
            while pos < text.len() {
                let line_end = text[pos..]
                    .find('\n')
                    .map(|n| pos + n)
                    .unwrap_or(text.len());
                let line = &text[pos..line_end];
                let trimmed = line.trim_start();
                if trimmed.starts_with(marker)
                    && trimmed[marker.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| c.is_whitespace())
                {
                    let close_start = pos + (line.len() - trimmed.len());
                    found = Some((close_start, close_start + marker.len(), line_end));
                    break;
                }
                pos = line_end + 1;
            }
            let Some((_, close_end, line_end)) = found else {
                current.push(Token {
                    text: word.to_string(),
                    start,
                    end: i,
                });
                continue;
            };
            let rest = text[close_end..line_end].trim();
            heredocs.push(Heredoc {
                marker: marker.to_string(),
                close_end,
                close_alone: rest.is_empty(),
            });
            current.push(Token {
                text: text[body_start..close_end - marker.len()].to_string(),
                start,
                end: close_end,
            });
            i = close_end;
            continue;
        }
        current.push(Token {
            text: word.to_string(),
            start,
            end: i,
        });
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Where the admin API listens, per the global options of a Caddyfile: `None` when
/// the file does not say (Caddy's default, `localhost:2019`), `Some("off")` when off.
pub fn admin_option(text: &str) -> Option<String> {
    let file = parse(text);
    file.top
        .iter()
        .filter(|d| d.tokens.is_empty())
        .flat_map(|g| g.children())
        .find(|d| d.name() == "admin")
        .map(|d| d.args().first().map(|t| t.text.clone()).unwrap_or_default())
}

/// Whether a healthcheck inside the container reaches an admin API set to `address`
/// on 127.0.0.1:`port` (or `localhost`, which the rule about it judges).
pub fn admin_answers_on(address: &str, port: u16) -> bool {
    if address.is_empty() {
        return port == 2019;
    }
    if address == "off" || address.starts_with("unix/") {
        return false;
    }
    let (host, p) = match address.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (address, Some(2019)),
    };
    let loopback_reachable = matches!(
        host,
        "" | "localhost" | "127.0.0.1" | "0.0.0.0" | "[::]" | "[::1]" | "::1"
    );
    loopback_reachable && p == Some(port)
}

pub fn parse(text: &str) -> Caddyfile {
    let mut heredocs = Vec::new();
    let lines = tokenize(text, &mut heredocs);
    let mut pos = 0;
    let top = parse_block(&lines, &mut pos, 0);
    Caddyfile { top, heredocs }
}

fn parse_block(lines: &[Vec<Token>], pos: &mut usize, depth: usize) -> Vec<Directive> {
    let mut out = Vec::new();
    while *pos < lines.len() {
        let line = &lines[*pos];
        *pos += 1;
        if line.len() == 1 && line[0].text == "}" {
            if depth > 0 {
                return out;
            }
            continue;
        }
        let mut tokens = line.clone();
        // `} else {`-like leftovers: a leading `}` closes the current block.
        if tokens.first().is_some_and(|t| t.text == "}") && depth > 0 {
            *pos -= 1;
            return out;
        }
        let opens = tokens.last().is_some_and(|t| t.text == "{");
        if opens {
            tokens.pop();
            let children = if depth < 64 {
                parse_block(lines, pos, depth + 1)
            } else {
                Vec::new()
            };
            out.push(Directive {
                tokens,
                children: Some(children),
            });
        } else {
            // `directive { sub }` on one line
            if let Some(open) = tokens.iter().position(|t| t.text == "{")
                && tokens.last().is_some_and(|t| t.text == "}")
            {
                let inner: Vec<Token> = tokens[open + 1..tokens.len() - 1].to_vec();
                tokens.truncate(open);
                let children = if inner.is_empty() {
                    Vec::new()
                } else {
                    vec![Directive {
                        tokens: inner,
                        children: None,
                    }]
                };
                out.push(Directive {
                    tokens,
                    children: Some(children),
                });
            } else {
                out.push(Directive {
                    tokens,
                    children: None,
                });
            }
        }
    }
    out
}

/// Upstream `host:port` of a `reverse_proxy` (matchers skipped).
fn upstreams(d: &Directive) -> Vec<(String, Option<u16>)> {
    d.args()
        .iter()
        .filter(|t| !t.text.starts_with('@') && !t.text.starts_with('/') && t.text != "*")
        .map(|t| {
            let s = t
                .text
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_start_matches("h2c://");
            match s.rsplit_once(':') {
                Some((h, p)) => (h.to_ascii_lowercase(), p.parse().ok()),
                None => (s.to_ascii_lowercase(), None),
            }
        })
        .collect()
}

/// Every upstream host a Caddyfile proxies to (`reverse_proxy n8n:5678`, and the
/// `to` lines of a `reverse_proxy { ... }` block), lower-cased.
pub fn upstream_hosts(text: &str) -> Vec<String> {
    let file = parse(text);
    let mut hosts = Vec::new();
    for top in &file.top {
        top.walk(&mut |d| {
            if d.name() == "reverse_proxy" {
                hosts.extend(upstreams(d).into_iter().map(|(h, _)| h));
                for to in d.children().iter().filter(|c| c.name() == "to") {
                    hosts.extend(upstreams(to).into_iter().map(|(h, _)| h));
                }
            }
        });
    }
    hosts
}

fn proxies_to(block: &Directive, pred: &dyn Fn(&str, Option<u16>) -> bool) -> bool {
    let mut hit = false;
    block.walk(&mut |d| {
        if d.name() == "reverse_proxy" && upstreams(d).iter().any(|(h, p)| pred(h, *p)) {
            hit = true;
        }
    });
    hit
}

pub fn check_file(ctx: &Ctx, f: &Parsed, out: &mut Vec<Finding>) {
    let caddy = parse(&f.text);
    heredoc_status(f, &caddy, out);
    let snippets: Vec<(String, &Directive)> = caddy
        .top
        .iter()
        .filter(|d| d.tokens.len() == 1 && d.name().starts_with('(') && d.name().ends_with(')'))
        .map(|d| (d.name().trim_matches(['(', ')']).to_string(), d))
        .collect();
    for site in &caddy.top {
        if site.children.is_some() {
            double_handle_errors(f, site.children(), &snippets, out);
        }
    }
    let mut uses_client_ip = None;
    let mut has_trusted_proxies = false;
    // `servers { protocols h1 h2 }`: no HTTP/3, so no QUIC connection reaches Caddy
    // from the bridge gateway (VP308 does not apply).
    let mut h3_off = false;
    for top in &caddy.top {
        top.walk(&mut |d| {
            if d.tokens.iter().any(|t| t.text == "trusted_proxies") {
                has_trusted_proxies = true;
            }
            if d.name() == "protocols" && !d.tokens[1..].iter().any(|t| t.text == "h3") {
                h3_off = true;
            }
        });
    }
    for top in &caddy.top {
        top.walk(&mut |d| match d.name() {
            "reverse_proxy" => {
                handle_response(f, d, out);
                websocket(ctx, f, d, out);
            }
            "rate_limit" => rate_limit(ctx, f, d, out),
            "handle_path" | "handle" | "route" => sub_paths(ctx, f, d, out),
            _ => {
                if let Some(pos) = d
                    .tokens
                    .iter()
                    .position(|t| t.text == "client_ip" || t.text == "remote_ip")
                {
                    if d.tokens[pos].text == "client_ip" {
                        uses_client_ip.get_or_insert(d.tokens[pos].clone());
                    }
                    if !h3_off {
                        vpn_acl(f, &d.tokens[pos..], out);
                    }
                }
            }
        });
    }
    if let Some(tok) = uses_client_ip
        && !has_trusted_proxies
    {
        out.push(f.finding(
            rules::CADDY_TRUSTED_PROXIES,
            tok.start,
            tok.end,
            "`client_ip` is used but no `trusted_proxies` is set",
        ));
    }
}

fn heredoc_status(f: &Parsed, caddy: &Caddyfile, out: &mut Vec<Finding>) {
    for h in &caddy.heredocs {
        if !h.close_alone {
            continue;
        }
        let rest = &f.text[h.close_end..];
        let Some(nl) = rest.find('\n') else { continue };
        let next = &rest[nl + 1..];
        let next_line = next.split('\n').next().unwrap_or("");
        let status = next_line.trim();
        if status.len() == 3 && status.chars().all(|c| c.is_ascii_digit()) {
            let status_start =
                h.close_end + nl + 1 + (next_line.len() - next_line.trim_start().len());
            let status_end = status_start + 3;
            out.push(
                f.finding(
                    rules::CADDY_HEREDOC_STATUS,
                    status_start,
                    status_end,
                    format!(
                        "status `{status}` is on its own line after the heredoc marker `{}`",
                        h.marker
                    ),
                )
                .with_help(format!("write `{} {status}` on one line", h.marker))
                .with_fix(
                    format!("moved status {status} onto the `{}` line", h.marker),
                    vec![edit(h.close_end, status_end, format!(" {status}"))],
                ),
            );
        }
    }
}

fn double_handle_errors(
    f: &Parsed,
    block: &[Directive],
    snippets: &[(String, &Directive)],
    out: &mut Vec<Finding>,
) {
    let mut seen: Vec<&Directive> = Vec::new();
    for d in block {
        let counts = match d.name() {
            "handle_errors" => true,
            "import" => d.args().first().is_some_and(|name| {
                snippets.iter().any(|(n, s)| {
                    *n == name.text && s.children().iter().any(|c| c.name() == "handle_errors")
                })
            }),
            _ => false,
        };
        if counts {
            if let Some(first) = seen.first() {
                let line = f.line_of(first.start()) + 1;
                out.push(f.finding(
                    rules::CADDY_DOUBLE_HANDLE_ERRORS,
                    d.start(),
                    d.tokens.last().map(|t| t.end).unwrap_or(d.end()),
                    format!(
                        "second `handle_errors` at this level (the first is on line {line}{})",
                        if d.name() == "import" {
                            ", this one comes from the imported snippet"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            seen.push(d);
        }
        // Nested route/handle blocks are their own level.
        if d.name() != "handle_errors" && d.children.is_some() && !d.name().starts_with('(') {
            double_handle_errors(f, d.children(), snippets, out);
        }
    }
}

fn handle_response(f: &Parsed, proxy: &Directive, out: &mut Vec<Finding>) {
    let five_xx = |s: &str| matches!(s, "502" | "503" | "504" | "5xx");
    let matchers: Vec<String> = proxy
        .children()
        .iter()
        .filter(|d| d.name().starts_with('@'))
        .filter(|d| d.args().iter().any(|t| five_xx(&t.text)))
        .map(|d| d.name().to_string())
        .collect();
    for d in proxy.children() {
        if d.name() != "handle_response" {
            continue;
        }
        let by_matcher = d
            .args()
            .first()
            .is_some_and(|m| matchers.contains(&m.text) || five_xx(m.text.trim_start_matches('@')));
        let mut by_body = false;
        d.walk(&mut |c| {
            if c.args().iter().any(|t| five_xx(&t.text)) {
                by_body = true;
            }
        });
        if by_matcher || by_body {
            out.push(f.finding(
                rules::CADDY_HANDLE_RESPONSE,
                d.start(),
                d.end(),
                "`handle_response` never sees a 502/503 from a backend that is down",
            ));
        }
    }
}

fn websocket(ctx: &Ctx, f: &Parsed, proxy: &Directive, out: &mut Vec<Finding>) {
    let ws = upstreams(proxy).into_iter().find(|(_, port)| {
        port.is_some_and(|p| {
            ctx.knowledge
                .all()
                .iter()
                .any(|img| img.websocket_ports.contains(&p))
        })
    });
    let Some((host, port)) = ws else { return };
    // Caddy speaks HTTP/1.1 to a cleartext upstream unless told otherwise, and passes
    // the upgrade through: a bare `reverse_proxy` carries WebSockets. They break when
    // the transport forces HTTP/2 (`versions 2`, `h2c`) or negotiates it over TLS.
    let mut http1 = false;
    let mut http2_only = false;
    let mut tls = proxy.args().iter().any(|t| t.text.starts_with("https://"));
    if proxy.args().iter().any(|t| t.text.starts_with("h2c://")) {
        http2_only = true;
    }
    for d in proxy.children() {
        if d.name() == "transport" && d.args().first().is_some_and(|t| t.text == "http") {
            for c in d.children() {
                if c.name() == "versions" {
                    if c.args().iter().any(|t| t.text == "1.1" || t.text == "h1") {
                        http1 = true;
                    } else {
                        http2_only = true;
                    }
                }
                if c.name() == "tls" || c.name().starts_with("tls_") {
                    tls = true;
                }
            }
        }
    }
    // The catalog's `[lint] websocket_ports` name upstreams seen offline behind a
    // bare proxy (OpenClaw's Control UI): those still want the explicit transport.
    let declared = port.is_some_and(|p| {
        ctx.knowledge
            .all()
            .iter()
            .any(|img| img.lint.websocket_ports.contains(&p))
    });
    if !http1 && (http2_only || tls || declared) {
        let upstream = match port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        out.push(f.finding(
            rules::CADDY_WEBSOCKET_H1,
            proxy.start(),
            proxy.tokens.last().map(|t| t.end).unwrap_or(proxy.end()),
            format!("`{upstream}` speaks WebSocket but is proxied without `transport http {{ versions 1.1 }}`"),
        ));
    }
}

fn rate_limit(ctx: &Ctx, f: &Parsed, d: &Directive, out: &mut Vec<Finding>) {
    // Which image runs this Caddyfile, if a compose file of the set mounts it.
    let image = super::compose::image_mounting(ctx, f);
    // Only an image the catalog knows to have no plugins is surely without `rate_limit`.
    let stock = match &image {
        Some(img) => ctx.knowledge.by_image(img).is_some_and(|a| {
            a.lint.no_plugins
                && a.repositories
                    .contains(&normalize_repo(image_repository(img)))
        }),
        None => true,
    };
    if !stock {
        return;
    }
    let mut finding = f.finding(
        rules::CADDY_RATE_LIMIT,
        d.start(),
        d.end(),
        match &image {
            Some(img) => format!("`rate_limit` is not compiled into the stock image `{img}`"),
            None => "`rate_limit` is a plugin that stock `caddy` images do not include".to_string(),
        },
    );
    if image.is_none() {
        finding = finding.with_severity(Severity::Warning);
    }
    out.push(finding);
}

fn sub_paths(ctx: &Ctx, f: &Parsed, d: &Directive, out: &mut Vec<Finding>) {
    let Some(path) = d
        .args()
        .first()
        .filter(|t| t.text.starts_with('/') && t.text.len() > 2)
    else {
        return;
    };
    for app in ctx.knowledge.all() {
        if !(app.lint.no_sub_path || app.lint.keeps_sub_path_prefix) {
            continue;
        }
        let is_it = |h: &str, p: Option<u16>| {
            h.contains(app.service.as_str()) || (p.is_some() && p == app.port)
        };
        if !proxies_to(d, &is_it) {
            continue;
        }
        if app.lint.no_sub_path {
            sub_path_route(ctx, f, d, app, path, out);
        }
        if app.lint.keeps_sub_path_prefix {
            let mut strip = None;
            if d.name() == "handle_path" {
                strip = Some((d.start(), d.end()));
            }
            d.walk(&mut |c| {
                if c.name() == "uri" && c.args().first().is_some_and(|t| t.text == "strip_prefix") {
                    strip = Some((c.start(), c.args()[0].end));
                }
            });
            if let Some((s, e)) = strip {
                out.push(f.finding(
                    rules::CADDY_GRAFANA_STRIP,
                    s,
                    e,
                    format!(
                        "the `{}` prefix is stripped before Grafana sees it",
                        path.text
                    ),
                ));
            }
        }
    }
}

/// Routes of n8n's own at the root: a `handle` on them forwards n8n's own paths.
const N8N_OWN_ROOTS: &[&str] = &[
    "webhook",
    "webhook-test",
    "webhook-waiting",
    "form",
    "form-test",
    "form-waiting",
    "rest",
    "api",
    "mcp",
    "mcp-test",
    "healthz",
    "metrics",
    "signin",
    "assets",
    "static",
    "icons",
    "types",
];

/// VP601 on a Caddy route to an application without sub-path support: only when
/// the application sees a path it does not serve. A `handle /webhook/*` forwards
/// n8n's own path unchanged; a stripped prefix with a matching `N8N_PATH` is n8n's
/// documented sub-folder setup.
fn sub_path_route(
    ctx: &Ctx,
    f: &Parsed,
    d: &Directive,
    app: &crate::knowledge::ImageFacts,
    path: &Token,
    out: &mut Vec<Finding>,
) {
    let prefix = path.text.trim_end_matches('*').trim_end_matches('/');
    let first = prefix
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let mut stripped = d.name() == "handle_path";
    d.walk(&mut |c| {
        if c.name() == "uri" && c.args().first().is_some_and(|t| t.text == "strip_prefix") {
            stripped = true;
        }
    });
    // n8n's route roots can be renamed (`N8N_ENDPOINT_WEBHOOK=hooks`): those too.
    let mut renamed: Vec<String> = Vec::new();
    for file in &ctx.files {
        if !matches!(file.kind, FileKind::Env | FileKind::Compose) {
            continue;
        }
        for line in file.text.lines() {
            let line = line.trim().trim_start_matches("- ");
            if let Some(rest) = line.strip_prefix("N8N_ENDPOINT_")
                && let Some((_, value)) = rest.split_once(['=', ':'])
            {
                let value = value.trim().trim_matches(['"', '\'']).trim_matches('/');
                renamed.push(value.split('/').next().unwrap_or("").to_string());
            }
        }
    }
    let own_route = N8N_OWN_ROOTS
        .iter()
        .copied()
        .chain(renamed.iter().map(String::as_str))
        .any(|r| {
            !r.is_empty()
                && (first == r
                    || (path.text.ends_with('*') && r.starts_with(first) && first.len() >= 4))
        });
    if !stripped && own_route {
        return;
    }
    // The sub-path the application is told about, anywhere in the set.
    let mut configured: Vec<String> = Vec::new();
    for var in &app.lint.sub_path_env {
        for file in &ctx.files {
            if !matches!(file.kind, FileKind::Env | FileKind::Compose) {
                continue;
            }
            for line in file.text.lines() {
                let line = line
                    .trim()
                    .trim_start_matches("- ")
                    .trim_start_matches("export ");
                let Some(rest) = line.strip_prefix(var.as_str()) else {
                    continue;
                };
                let Some(value) = rest.trim_start().strip_prefix(['=', ':']) else {
                    continue;
                };
                let value = value.trim().trim_matches(['"', '\'']).trim_matches('/');
                if !value.is_empty() && !value.contains('$') {
                    configured.push(value.to_string());
                }
            }
        }
    }
    let wanted = prefix.trim_matches('/');
    let message = if configured.iter().any(|c| c == wanted) {
        return;
    } else if let Some(other) = configured.first() {
        format!(
            "{} is served under `{}` but its sub-path setting says `/{other}`",
            app.service, path.text
        )
    } else if stripped {
        format!(
            "{} is served under the sub-path `{}` with the prefix stripped, and no {} tells it so: its pages link to the root",
            app.service,
            path.text,
            app.lint.sub_path_env.join("/")
        )
    } else {
        format!(
            "{} receives `{}` paths, which it does not serve without {}",
            app.service,
            path.text,
            app.lint.sub_path_env.join("/")
        )
    };
    out.push(f.finding(rules::N8N_SUB_PATH, path.start, path.end, message));
}

fn vpn_acl(f: &Parsed, tokens: &[Token], out: &mut Vec<Finding>) {
    let ranges: Vec<&Token> = tokens[1..]
        .iter()
        .take_while(|t| t.text != "{" && !t.text.starts_with('@'))
        .collect();
    if ranges.iter().any(|t| t.text.contains('{')) {
        return; // placeholders: values unknown here
    }
    let vpn = ranges
        .iter()
        .any(|t| t.text.starts_with("100.") || t.text.to_ascii_lowercase().starts_with("fd7a:"));
    let docker = ranges.iter().any(|t| {
        let s = t.text.as_str();
        s.starts_with("10.")
            || s.starts_with("192.168.")
            || s.strip_prefix("172.")
                .and_then(|r| r.split('.').next())
                .and_then(|o| o.parse::<u8>().ok())
                .is_some_and(|o| (16..=31).contains(&o))
            || s == "private_ranges"
    });
    if vpn && !docker {
        let first = ranges[0];
        let last = ranges[ranges.len() - 1];
        out.push(f.finding(
            rules::CADDY_VPN_ACL_CIDR,
            first.start,
            last.end,
            "VPN allow-list without the Docker frontend network: HTTP/3 clients arrive from the bridge gateway",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_snippets_heredocs() {
        let c = parse(
            "(vpn) {\n  @b not client_ip 100.64.0.0/10\n}\nexample.com {\n  import vpn\n  respond <<EOF\n  hi\n  EOF 200\n  reverse_proxy n8n:5678 {\n    transport http {\n      versions 1.1\n    }\n  }\n}\n",
        );
        assert_eq!(c.top.len(), 2);
        assert_eq!(c.top[1].children().len(), 3);
        assert_eq!(c.heredocs.len(), 1);
        assert!(!c.heredocs[0].close_alone);
        let rp = &c.top[1].children()[2];
        assert_eq!(rp.name(), "reverse_proxy");
        assert_eq!(rp.children()[0].children()[0].name(), "versions");
    }
}
