//! The Grafana folder's nine dashboards, as the binary embeds them: valid JSON, one uid
//! each, every datasource one that `datasources.yaml.j2` provisions (no `${DS_...}`
//! import placeholder), every query where a runner can find it (`targets[].expr` for
//! VictoriaMetrics and Loki, `targets[].rawSql` for PostgreSQL), and the smoke probe
//! waiting for exactly these nine.
//!
//! [`queries`] walks every dashboard and returns each query with its datasource, for
//! a check that runs them against real services.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vpai_catalog::{Catalog, ServiceDef};

/// Datasource uid -> Grafana plugin type, as datasources.yaml.j2 provisions them.
const PROVISIONED: &[(&str, &str)] = &[
    ("victoriametrics", "prometheus"),
    ("loki", "loki"),
    ("postgresql", "grafana-postgresql-datasource"),
];

/// uid -> title of the nine dashboards (seed 001 §8.4 names the files).
const DASHBOARDS: &[(&str, &str)] = &[
    ("system-overview", "System Overview"),
    ("docker-containers", "Docker Containers"),
    ("postgresql", "PostgreSQL"),
    ("litellm-proxy", "LiteLLM Proxy"),
    ("logs-explorer", "Logs Explorer"),
    ("ai-pipeline", "AI Pipeline"),
    ("qdrant-collections", "Qdrant Collections"),
    ("ai-model-scoring", "AI Model Scoring"),
    ("ai-cost-cockpit", "AI Cost Cockpit"),
];

fn grafana() -> ServiceDef {
    Catalog::embedded()
        .get("grafana")
        .expect("grafana is a deployable catalog entry")
        .clone()
}

/// (file name, parsed JSON) of every copied dashboard.
fn dashboards(def: &ServiceDef) -> Vec<(String, Value)> {
    let copy = def
        .files
        .iter()
        .find(|c| c.source.trim_end_matches('/') == "dashboards")
        .expect("a [[files]] entry copies `dashboards`");
    def.copied_files(copy)
        .into_iter()
        .map(|(name, text)| {
            let json = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("dashboards/{name} is not valid JSON: {e}"));
            (name, json)
        })
        .collect()
}

/// One query of a dashboard panel.
#[derive(Debug)]
pub struct Query {
    pub dashboard: String,
    pub panel: String,
    /// `victoriametrics` (PromQL in `text`), `loki` (LogQL) or `postgresql` (SQL).
    pub datasource: String,
    pub text: String,
}

/// Every panel of a dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(p);
        for nested in p["panels"].as_array().into_iter().flatten() {
            out.push(nested);
        }
    }
    out
}

/// Every query of the embedded dashboards.
pub fn queries() -> Vec<Query> {
    let def = grafana();
    let mut out = Vec::new();
    for (_, d) in dashboards(&def) {
        let uid = d["uid"].as_str().unwrap_or_default().to_string();
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let ds = t["datasource"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let field = if ds == "postgresql" { "rawSql" } else { "expr" };
                out.push(Query {
                    dashboard: uid.clone(),
                    panel: p["title"].as_str().unwrap_or_default().to_string(),
                    datasource: ds,
                    text: t[field].as_str().unwrap_or_default().to_string(),
                });
            }
        }
    }
    out
}

/// Every `"datasource"` object anywhere in a JSON document, with its path.
fn datasource_refs<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let here = format!("{path}.{k}");
                if k == "datasource" {
                    out.push((here.clone(), x));
                }
                datasource_refs(x, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                datasource_refs(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_nine_dashboards_are_valid_json_with_unique_uids_and_titles() {
    let def = grafana();
    let all = dashboards(&def);
    assert_eq!(
        all.len(),
        DASHBOARDS.len(),
        "dashboards/ holds {:?}",
        all.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    let mut uids = BTreeMap::new();
    for (name, d) in &all {
        assert!(
            name.ends_with(".json"),
            "dashboards/{name}: only .json files"
        );
        let uid = d["uid"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no uid"));
        assert!(
            !uid.is_empty()
                && uid.len() <= 40
                && uid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{name}: uid `{uid}` is not a Grafana uid"
        );
        assert_eq!(format!("{uid}.json"), *name, "file named after its uid");
        let title = d["title"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no title"));
        if let Some(previous) = uids.insert(uid.to_string(), title.to_string()) {
            panic!("uid `{uid}` twice ({previous}, {title})");
        }
        assert!(
            d.get("__inputs").is_none() && d.get("__requires").is_none(),
            "{name}: an export for import, not a provisioned dashboard"
        );
        assert!(
            d["id"].is_null(),
            "{name}: a provisioned dashboard has no database id"
        );
    }
    let expected: BTreeMap<String, String> = DASHBOARDS
        .iter()
        .map(|(u, t)| (u.to_string(), t.to_string()))
        .collect();
    assert_eq!(uids, expected);
}

#[test]
fn every_datasource_is_a_provisioned_uid_and_no_import_placeholder_is_left() {
    let def = grafana();
    let provisioned: BTreeMap<&str, &str> = PROVISIONED.iter().copied().collect();
    // The template provisions exactly these uids.
    let template = &def.folder["datasources.yaml.j2"];
    let declared: BTreeSet<&str> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("uid: "))
        .map(|v| v.trim_matches('"'))
        .collect();
    assert_eq!(declared, provisioned.keys().copied().collect());

    for (name, d) in dashboards(&def) {
        let text = serde_json::to_string(&d).unwrap();
        assert!(
            !text.contains("${DS_"),
            "{name}: `${{DS_...}}` import placeholder"
        );
        let mut refs = Vec::new();
        datasource_refs(&d, "", &mut refs);
        assert!(!refs.is_empty(), "{name}: no datasource at all");
        for (path, ds) in refs {
            let uid = ds["uid"].as_str().unwrap_or_else(|| {
                panic!("{name}{path}: datasource must be {{type, uid}}, not {ds}")
            });
            let kind = ds["type"].as_str().unwrap_or_default();
            match provisioned.get(uid) {
                Some(expected) => {
                    assert_eq!(kind, *expected, "{name}{path}: uid `{uid}` is a {expected}")
                }
                None => panic!(
                    "{name}{path}: datasource uid `{uid}` is not provisioned ({provisioned:?})"
                ),
            }
        }
        // Every panel with queries says which datasource, and so does each query.
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("?");
            if p["type"] == "row" {
                continue;
            }
            let targets = p["targets"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: panel `{title}` has no targets"));
            assert!(!targets.is_empty(), "{name}: panel `{title}` has no query");
            for t in targets {
                assert!(
                    t["datasource"]["uid"].is_string(),
                    "{name}: a query of `{title}` names no datasource"
                );
            }
        }
    }
}

#[test]
fn every_query_is_in_its_field_with_no_grafana_macro_but_declared_variables() {
    let def = grafana();
    let mut variables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, d) in dashboards(&def) {
        let names = d["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(String::from))
            .collect();
        variables.insert(d["uid"].as_str().unwrap().to_string(), names);
    }
    let all = queries();
    assert!(all.len() >= 9 * 4, "only {} queries", all.len());
    for q in &all {
        let at = format!("{} / {} ({})", q.dashboard, q.panel, q.datasource);
        assert!(
            !q.text.trim().is_empty(),
            "{at}: empty query (PromQL/LogQL in `expr`, SQL in `rawSql`)"
        );
        assert!(
            !q.text.contains("$__"),
            "{at}: a Grafana macro cannot run outside Grafana: {}",
            q.text
        );
        match q.datasource.as_str() {
            // PromQL and SQL run as they are: fixed windows, no variables.
            "victoriametrics" | "postgresql" => {
                assert!(
                    !q.text.contains('$'),
                    "{at}: no variables in PromQL or SQL: {}",
                    q.text
                )
            }
            // LogQL may use the dashboard's own variables (`$service`, `$search`):
            // a runner substitutes `.+` and the empty string.
            "loki" => {
                assert!(
                    q.text.trim_start().starts_with('{') || q.text.contains("({"),
                    "{at}: not LogQL: {}",
                    q.text
                );
                for var in q.text.split('$').skip(1) {
                    let name: String = var
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    assert!(
                        variables[&q.dashboard].contains(&name),
                        "{at}: `${name}` is not a variable of the dashboard"
                    );
                }
            }
            other => panic!("{at}: datasource `{other}`"),
        }
    }
    // The datasources the dashboards use are the three provisioned ones.
    let used: BTreeSet<&str> = all.iter().map(|q| q.datasource.as_str()).collect();
    assert_eq!(used, PROVISIONED.iter().map(|(u, _)| *u).collect());
}

#[test]
fn panels_have_unique_ids_and_fit_the_grid() {
    for (name, d) in dashboards(&grafana()) {
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: a panel without id"));
            assert!(ids.insert(id), "{name}: panel id {id} twice");
            let g = &p["gridPos"];
            let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
            assert!(
                w > 0 && x + w <= 24,
                "{name}: panel {id} is outside the 24 columns"
            );
        }
    }
}

#[test]
fn the_dashboards_probe_waits_for_exactly_the_nine_uids() {
    let def = grafana();
    let probe = def
        .probes
        .iter()
        .find(|p| p.name == "dashboards-loaded")
        .expect("a `dashboards-loaded` probe");
    let script = probe.command.join(" ");
    let listed: BTreeSet<&str> = script
        .lines()
        .find_map(|l| l.trim().strip_prefix("for uid in "))
        .and_then(|rest| rest.strip_suffix("; do"))
        .expect("the probe loops over the uids")
        .split_whitespace()
        .collect();
    assert_eq!(listed, DASHBOARDS.iter().map(|(u, _)| *u).collect());
    assert!(
        probe
            .expect
            .as_deref()
            .is_some_and(|e| e.starts_with(&DASHBOARDS.len().to_string()))
    );
}

#[test]
fn alert_rules_query_only_provisioned_datasources() {
    let def = grafana();
    let alerting = &def.folder["alerting.yaml.j2"];
    let uids: BTreeSet<&str> = alerting
        .lines()
        .filter_map(|l| l.trim().strip_prefix("datasourceUid: "))
        .map(|v| v.trim_matches('"'))
        .collect();
    assert_eq!(uids, BTreeSet::from(["victoriametrics", "__expr__"]));
    // Grafana expands `$NAME` in provisioned values: annotations use `.Labels` and
    // `.Values`, never `$labels` / `$values` (comments aside).
    for line in alerting
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
    {
        assert!(
            !line.contains("$labels") && !line.contains("$values"),
            "{line}"
        );
    }
}
