//! Rules over service configuration files: postgresql.conf (#9), redis.conf (#13),
//! LiteLLM (§10), Loki (#24) and Grafana datasources (§8.5).

use super::{Ctx, Parsed, edit, is_secret_name};
use crate::knowledge::image_tag;
use crate::report::Finding;
use crate::rules::{self, Severity};
use crate::yaml::{Node, Value};

/// `key = value` lines of a PostgreSQL/Redis-style file: (key, value, line start, value start, value end).
fn conf_lines(text: &str) -> Vec<(String, String, usize, usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line
            .split('#')
            .next()
            .unwrap_or("")
            .trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        let indent = body.len() - trimmed.len();
        if !trimmed.is_empty() {
            let split = trimmed.find(['=', ' ', '\t']).unwrap_or(trimmed.len());
            let key = trimmed[..split].to_string();
            let rest = &trimmed[split..];
            let value_rel = rest.len() - rest.trim_start_matches(['=', ' ', '\t']).len();
            let value = rest[value_rel..].trim().to_string();
            let value_start = offset + indent + split + value_rel;
            out.push((
                key,
                value.clone(),
                offset,
                value_start,
                value_start + value.len(),
            ));
        }
        offset += line.len();
    }
    out
}

pub fn postgres_conf(f: &Parsed, out: &mut Vec<Finding>) {
    for (key, value, _, vs, ve) in conf_lines(&f.text) {
        let v = value.trim_matches('\'').to_ascii_lowercase();
        if key == "logging_collector" && matches!(v.as_str(), "on" | "true" | "yes" | "1") {
            out.push(
                f.finding(
                    rules::PG_LOGGING_COLLECTOR,
                    vs,
                    ve,
                    "`logging_collector = on` in a container",
                )
                .with_help("set `logging_collector = off`: Docker collects stderr"),
            );
        }
    }
}

pub fn redis_conf(ctx: &Ctx, f: &Parsed, out: &mut Vec<Finding>) {
    // A Redis 7 (or older) image still accepts rename-command.
    if let Some(image) = super::compose::image_mounting(ctx, f)
        && let Some(tag) = image_tag(&image)
        && let Ok(major) = tag.split(['.', '-']).next().unwrap_or("").parse::<u32>()
        && major < 8
    {
        return;
    }
    for (key, _, line_start, _, _) in conf_lines(&f.text) {
        if key.eq_ignore_ascii_case("rename-command") {
            let line_end = f.text[line_start..]
                .find('\n')
                .map(|i| line_start + i + 1)
                .unwrap_or(f.text.len());
            let shown_end = f.text[line_start..line_end].trim_end().len() + line_start;
            out.push(
                f.finding(
                    rules::REDIS_RENAME_COMMAND,
                    line_start,
                    shown_end,
                    "`rename-command` makes Redis 8 refuse to start",
                )
                .with_fix(
                    "removed the `rename-command` line",
                    vec![edit(line_start, line_end, "")],
                ),
            );
        }
    }
}

// ---------------------------------------------------------------- LiteLLM

pub fn litellm(f: &Parsed, out: &mut Vec<Finding>) {
    let Some(root) = f.root() else { return };
    background_health_checks(f, root, out);
    if let Some(models) = root.get("model_list") {
        for m in models.as_seq() {
            let Some(params) = m.get("litellm_params") else {
                continue;
            };
            let Some(model) = params.get("model") else {
                continue;
            };
            if model.as_str().is_some_and(|s| s.starts_with("openrouter/"))
                && params.get("max_tokens").is_none()
            {
                out.push(f.at(
                    rules::LITELLM_MAX_TOKENS,
                    model,
                    format!(
                        "OpenRouter model `{}` has no `max_tokens`",
                        model.as_str().unwrap_or("")
                    ),
                ));
            }
        }
    }
    for section in ["router_settings", "litellm_settings"] {
        for key in [
            "fallbacks",
            "context_window_fallbacks",
            "content_policy_fallbacks",
        ] {
            if let Some(fb) = root.path(&[section, key]) {
                fallbacks_shape(f, key, fb, out);
            }
        }
    }
    let mut path = Vec::new();
    root.walk_entries(&mut path, &mut |path, k, v| {
        let key = k.as_str().unwrap_or("");
        let Some(value) = v.as_str() else { return };
        if value.is_empty() || value.starts_with("os.environ/") {
            return;
        }
        let url_with_password = key.ends_with("_url")
            && value.contains("://")
            && value.split("://").nth(1).is_some_and(|r| {
                r.split('@').next().is_some_and(|u| u.contains(':')) && r.contains('@')
            });
        let secret =
            (is_secret_name(key) || key == "password") && !path.iter().any(|p| p == "model_info");
        let kind = if url_with_password {
            super::ValueKind::Secret
        } else {
            super::secret_value_kind(value)
        };
        if secret && kind == super::ValueKind::Placeholder {
            // `api_key: not-needed` for an unauthenticated local server: clients need
            // some key, and this one opens nothing.
            return;
        }
        if (secret || url_with_password) && kind != super::ValueKind::NotSecret {
            out.push(
                f.at(
                    rules::LITELLM_CLEAR_SECRET,
                    v,
                    format!("`{}` is written in clear", path.join(".")),
                )
                .with_help(format!(
                    "write `os.environ/{}` and set it in the env file",
                    key.to_ascii_uppercase()
                )),
            );
        }
    });
}

fn background_health_checks(f: &Parsed, root: &Node, out: &mut Vec<Finding>) {
    let disabled = root
        .path(&["general_settings", "background_health_checks"])
        .and_then(Node::as_bool)
        == Some(false);
    if disabled {
        return;
    }
    let mut intervals: Vec<&Node> = Vec::new();
    let mut path = Vec::new();
    root.walk_entries(&mut path, &mut |_, k, _| {
        if k.as_str() == Some("health_check_interval") {
            intervals.push(k);
        }
    });
    // LiteLLM reads a missing key as `false`: the loop is opt-in.
    let enabled = root
        .path(&["general_settings", "background_health_checks"])
        .and_then(Node::as_bool)
        == Some(true);
    if !enabled && intervals.is_empty() {
        return;
    }
    let mut edits = Vec::new();
    for k in &intervals {
        let line = f.line_of(k.start);
        let start = f.lines.line_start(line);
        let line_text = f.lines.line_text(&f.text, line);
        // only a line holding nothing but this entry can go
        if line_text.trim_start().starts_with("health_check_interval") {
            let end = (start + line_text.len() + 1).min(f.text.len());
            edits.push(edit(start, end, ""));
        }
    }
    match root.entry("general_settings") {
        Some((k, v)) if v.is_map() && !v.entries().is_empty() => {
            let first_key = &v.entries()[0].0;
            let indent = f.lines.position(&f.text, first_key.start).1 - 1;
            let setting = root.path(&["general_settings", "background_health_checks"]);
            match setting {
                Some(existing) => edits.push(edit(existing.start, existing.end, "false")),
                None => {
                    let after = f.lines.line_start(f.line_of(k.start) + 1);
                    edits.push(edit(
                        after,
                        after,
                        format!("{}background_health_checks: false\n", " ".repeat(indent)),
                    ));
                }
            }
        }
        Some(_) => {}
        None => {
            let end = f.text.len();
            let nl = if f.text.ends_with('\n') || f.text.is_empty() {
                ""
            } else {
                "\n"
            };
            edits.push(edit(
                end,
                end,
                format!("{nl}general_settings:\n  background_health_checks: false\n"),
            ));
        }
    }
    let enabled_at = root
        .path(&["general_settings", "background_health_checks"])
        .filter(|_| enabled);
    let (s, e, message) = match (enabled_at, intervals.first()) {
        (Some(v), _) => (
            v.start,
            v.end,
            "`background_health_checks: true` calls every model of `model_list` on a timer, with paid requests".to_string(),
        ),
        (None, Some(k)) => (
            k.start,
            k.end,
            "`health_check_interval` is set without `background_health_checks`: it does not stop them (0 means every 0 s) if they are turned on".to_string(),
        ),
        (None, None) => match root.entry("general_settings") {
            Some((k, _)) => (k.start, k.end, "`general_settings` does not set `background_health_checks: false`".to_string()),
            None => (0, 0, "background model health checks are on (no `general_settings.background_health_checks: false`)".to_string()),
        },
    };
    let mut finding = f.finding(rules::LITELLM_HEALTH_CHECKS, s, e, message);
    if !enabled {
        // Off by default; the interval only says someone meant to tune them.
        finding = finding.with_severity(Severity::Warning).with_help(
            "LiteLLM runs background health checks only with `background_health_checks: true`; say `false` to make it explicit, or `--allow VP611`",
        );
    }
    let overlapping = edits
        .windows(2)
        .any(|w| w[0].start < w[1].end && w[1].start < w[0].end);
    if !overlapping && !(edits.is_empty()) {
        finding = finding.with_fix(
            "removed `health_check_interval`, set `general_settings.background_health_checks: false`",
            edits,
        );
    }
    out.push(finding);
}

fn fallbacks_shape(f: &Parsed, key: &str, fb: &Node, out: &mut Vec<Finding>) {
    let good_item = |item: &Node| match &item.value {
        Value::Map(entries) => {
            entries.len() == 1
                && entries[0].1.is_seq()
                && entries[0].1.as_seq().iter().all(|s| s.as_str().is_some())
        }
        _ => false,
    };
    let ok = match &fb.value {
        Value::Seq(items) => items.iter().all(good_item),
        Value::Null => true,
        _ => false,
    };
    if !ok {
        let bad = fb.as_seq().iter().find(|i| !good_item(i)).unwrap_or(fb);
        out.push(f.at(
            rules::LITELLM_FALLBACKS,
            bad,
            format!("`{key}` must be a list of one-key maps `{{model: [fallbacks]}}`"),
        ));
    }
}

// ---------------------------------------------------------------- Loki

pub fn loki(f: &Parsed, out: &mut Vec<Finding>) {
    let Some(root) = f.root() else { return };
    let common_store = root
        .path(&["common", "ring", "kvstore", "store"])
        .and_then(Node::as_str);
    let rf = root
        .path(&["common", "replication_factor"])
        .and_then(Node::scalar_text);
    let monolithic = common_store == Some("inmemory") || rf.as_deref() == Some("1");
    if !monolithic {
        return;
    }
    let anchor = root.entry("common").map(|(k, _)| k).unwrap_or(root);
    if common_store != Some("inmemory") {
        out.push(f.at(
            rules::LOKI_RING,
            anchor,
            "`common.ring.kvstore.store` is not `inmemory` for a single Loki",
        ));
    }
    let ingester = root
        .path(&["ingester", "lifecycler", "ring", "kvstore", "store"])
        .and_then(Node::as_str);
    if ingester != Some("inmemory") {
        let at = root.entry("ingester").map(|(k, _)| k).unwrap_or(anchor);
        out.push(f.at(
            rules::LOKI_RING,
            at,
            "`ingester.lifecycler.ring.kvstore.store: inmemory` is missing: the ingester never joins the ring",
        ));
    }
    match root.entry("memberlist") {
        None => out.push(f.at(
            rules::LOKI_RING,
            anchor,
            "no `memberlist: { join_members: [] }`: memberlist still starts (Loki bug #19381)",
        )),
        Some((k, v)) => {
            let members = v.get("join_members");
            if members.is_none_or(|m| !m.as_seq().is_empty()) {
                out.push(f.at(
                    rules::LOKI_RING,
                    members.unwrap_or(k),
                    "`memberlist.join_members` must be `[]` for a single Loki",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------- Grafana

pub fn grafana_datasources(f: &Parsed, out: &mut Vec<Finding>) {
    let Some(list) = f.root().and_then(|r| r.get("datasources")) else {
        return;
    };
    for ds in list.as_seq() {
        let kind = ds.get("type").and_then(Node::as_str).unwrap_or("");
        if kind != "postgres" && kind != "grafana-postgresql-datasource" {
            continue;
        }
        if ds.get("user").is_some() {
            continue;
        }
        let misplaced = ds
            .path(&["jsonData", "user"])
            .or_else(|| ds.path(&["secureJsonData", "user"]));
        let name = ds.get("name").and_then(Node::as_str).unwrap_or("?");
        let at = misplaced
            .or_else(|| ds.entry("type").map(|(k, _)| k))
            .unwrap_or(ds);
        out.push(f.at(
            rules::GRAFANA_PG_USER,
            at,
            match misplaced {
                Some(_) => format!("datasource `{name}`: `user` must be at the root, not in jsonData/secureJsonData"),
                None => format!("datasource `{name}` has no root-level `user`"),
            },
        ));
    }
}
