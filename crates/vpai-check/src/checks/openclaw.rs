//! openclaw.json rules (seed 001 §11.3, §11.4, §11.10, §11.16, §11.17, §11.19).

use super::{Ctx, Parsed, parse_env};
use crate::report::Finding;
use crate::rules;
use crate::source::FileKind;
use crate::yaml::{Node, Value};
use std::collections::BTreeSet;

pub fn check(ctx: &Ctx, f: &Parsed, out: &mut Vec<Finding>) {
    let Some(root) = f.root() else { return };
    let mut path = Vec::new();
    root.walk_entries(&mut path, &mut |path, k, v| {
        let key = k.as_str().unwrap_or("");
        let dotted = path.join(".");
        // A root `heartbeat` is what the gateway refuses; `agents.defaults.heartbeat`,
        // `agents.list[].heartbeat` and `channels.*.heartbeat` are keys of v2026.2.
        if dotted == "heartbeat" {
            out.push(f.at(rules::OPENCLAW_UNKNOWN_KEY, k, format!("`{dotted}` is an unknown key in OpenClaw v2026.2: the gateway crash-loops")));
        }
        if key == "cron" && v.is_seq() {
            out.push(f.at(rules::OPENCLAW_UNKNOWN_KEY, k, format!("`{dotted}` as an array: \"expected object, received array\"")));
        }
        if dotted == "tools.web.fetch.readability" {
            out.push(f.at(
                rules::OPENCLAW_UNKNOWN_KEY,
                k,
                "`tools.web.fetch.readability` is not a key (valid: enabled, maxChars, timeoutSeconds, cacheTtlMinutes, maxRedirects)",
            ));
        }
        if dotted == "channels.telegram.token" {
            out.push(f.at(rules::OPENCLAW_UNKNOWN_KEY, k, "`channels.telegram.token` is not a key: it is `botToken`"));
        }
        if key == "workspaceAccess"
            && !v.as_str().is_some_and(|s| matches!(s, "none" | "ro" | "rw"))
        {
            out.push(f.at(
                rules::OPENCLAW_INVALID_VALUE,
                v,
                format!("`{dotted}` is `{}`; accepted: `none`, `ro`, `rw`", v.scalar_text().unwrap_or_default()),
            ));
        }
        if dotted == "agents.defaults.model" && matches!(v.value, Value::Str(_)) {
            out.push(
                f.at(rules::OPENCLAW_INVALID_VALUE, v, "`agents.defaults.model` must be an object, not a string")
                    .with_help(format!("write `{{\"primary\": \"{}\"}}`", v.as_str().unwrap_or(""))),
            );
        }
    });
    if let Some((k, tg)) = root.path(&["channels"]).and_then(|c| c.entry("telegram")) {
        let enabled_channel = tg.get("enabled").and_then(Node::as_bool) != Some(false);
        let plugin = root
            .path(&["plugins", "entries", "telegram", "enabled"])
            .and_then(Node::as_bool);
        if enabled_channel && plugin != Some(true) {
            out.push(f.at(
                rules::OPENCLAW_TELEGRAM_PLUGIN,
                k,
                "`channels.telegram` is set but `plugins.entries.telegram.enabled` is not `true`",
            ));
        }
    }
    env_vars(ctx, f, root, out);
}

/// `${VAR}` references against the service's env file, when we can see it.
fn env_vars(ctx: &Ctx, f: &Parsed, root: &Node, out: &mut Vec<Finding>) {
    // The env file of the service whose configuration this is (`env/openclaw.env`).
    let owners: Vec<&str> = ctx
        .knowledge
        .all()
        .iter()
        .filter(|a| {
            a.lint
                .files
                .iter()
                .any(|p| p.format == vpai_catalog::FileFormat::OpenclawConfig)
        })
        .map(|a| a.service.as_str())
        .collect();
    let env_files: Vec<&Parsed> = ctx
        .of_kind(FileKind::Env)
        .filter(|e| {
            let name = e.file.file_name().to_ascii_lowercase();
            owners.iter().any(|o| name.contains(o))
        })
        .collect();
    if env_files.is_empty() {
        return;
    }
    let defined: BTreeSet<String> = env_files
        .iter()
        .flat_map(|e| parse_env(&e.text).into_iter().map(|x| x.key))
        .collect();
    let mut seen = BTreeSet::new();
    root.walk(&mut |n| {
        let Some(s) = n.as_str() else { return };
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !defined.contains(name)
                && seen.insert(name.to_string())
            {
                let at = f.find_in(n, &format!("${{{name}}}")).unwrap_or(n.start);
                out.push(f.finding(
                    rules::OPENCLAW_ENV_VAR,
                    at,
                    at + name.len() + 3,
                    format!(
                            "`${{{name}}}` is not defined in {}",
                            env_files
                                .iter()
                                .map(|e| format!("`{}`", e.path()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                ));
            }
            rest = &after[close + 1..];
        }
    });
}
