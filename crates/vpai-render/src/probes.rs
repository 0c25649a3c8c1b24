//! Smoke probes, rendered: each `[[probes]]` of a service folder becomes a command with
//! its place (a container or the host), its environment and its expectation, ready for
//! the deploy to run. Templates see the same values as config templates; a secret may
//! reach a probe only through its environment, never its argv (`ps` shows argv).

use crate::RenderError;
use crate::context::{self, SecretsView};
use crate::templates::{eval_condition, render_str};
use minijinja::{Environment, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use vpai_catalog::{ProbeDef, ProbeEach};
use vpai_model::{Service, Stack};

/// Where a probe's command runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum ProbePlace {
    /// `docker exec` in this container.
    Container(String),
    /// On the host, as root, in the project root.
    Host,
    /// The service it needs is not in the stack: reported, not run.
    NotRun(String),
}

/// One probe ready to run. Its environment may hold secrets: `Debug` shows names only.
#[derive(Clone, Serialize)]
pub struct RenderedProbe {
    pub service: String,
    /// `name`, or `name[web service]` for a probe repeated per web service.
    pub name: String,
    pub description: String,
    pub place: ProbePlace,
    pub argv: Vec<String>,
    #[serde(skip)]
    pub env: Vec<(String, String)>,
    pub expect: Option<String>,
    pub attempts: u32,
    #[serde(with = "secs")]
    pub interval: Duration,
    #[serde(with = "secs")]
    pub timeout: Duration,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl std::fmt::Debug for RenderedProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedProbe")
            .field("service", &self.service)
            .field("name", &self.name)
            .field("place", &self.place)
            .field("argv", &self.argv)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

/// `10s`, `2m`, `500ms`, `1h` (the Compose duration units vpai writes).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    })
}

/// An env name a shell and `docker exec -e` take as it is.
fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// NAME=value pairs for a command's environment.
pub(crate) type EnvList = Vec<(String, String)>;

/// An argv and its environment rendered from catalog templates: a secret may reach the
/// environment, never the argv (`ps` shows argv to every user of the host).
pub(crate) fn render_command(
    env: &Environment<'static>,
    origin: &str,
    command: &[String],
    vars: &BTreeMap<String, String>,
    ctx: &BTreeMap<String, Value>,
    view: &Arc<SecretsView>,
) -> Result<(Vec<String>, EnvList), RenderError> {
    let invalid = |message: String| RenderError::Template {
        template: origin.to_string(),
        line: 0,
        message,
    };
    view.reset();
    let argv = command
        .iter()
        .map(|a| render_str(env, origin, a, ctx))
        .collect::<Result<Vec<_>, _>>()?;
    if !view.used().is_empty() {
        return Err(invalid(
            "a secret in the command would show in the host's process list; pass it through `env`"
                .into(),
        ));
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(invalid("an argument holds a NUL byte".into()));
    }
    let mut out = Vec::new();
    for (name, template) in vars {
        if !valid_env_name(name) {
            return Err(invalid(format!(
                "env name `{name}` is not [A-Z_][A-Z0-9_]*"
            )));
        }
        let value = render_str(env, origin, template, ctx)?;
        if value.contains('\0') {
            return Err(invalid(format!("env `{name}` holds a NUL byte")));
        }
        out.push((name.clone(), value));
    }
    Ok((argv, out))
}

/// The probes (or `[[after_start]]` steps: `pick` says which list) of every service.
pub(crate) fn render_probes(
    env: &Environment<'static>,
    stack: &Stack,
    base: &BTreeMap<String, Value>,
    view: &Arc<SecretsView>,
    pick: fn(&vpai_catalog::ServiceDef) -> &Vec<ProbeDef>,
) -> Result<Vec<RenderedProbe>, RenderError> {
    let mut out = Vec::new();
    for svc in &stack.services {
        let ctx = context::service_context(base, stack, svc);
        for probe in pick(&svc.def) {
            if let Some(when) = &probe.when {
                let origin = format!("{}/service.toml probe `{}`", svc.name, probe.name);
                if !eval_condition(env, &origin, when, &ctx)? {
                    continue;
                }
            }
            match probe.for_each {
                None => out.push(render_one(env, stack, svc, probe, &ctx, view, None)?),
                Some(ProbeEach::Web) => {
                    for web in stack.services.iter().filter(|s| s.fqdn.is_some()) {
                        let mut ctx = ctx.clone();
                        ctx.insert("web".into(), context::web_value(web));
                        out.push(render_one(
                            env,
                            stack,
                            svc,
                            probe,
                            &ctx,
                            view,
                            Some(&web.name),
                        )?);
                    }
                }
                Some(ProbeEach::Database) => {
                    for (owner, db) in stack.databases() {
                        let mut ctx = ctx.clone();
                        ctx.insert("database".into(), context::database_value(owner, db));
                        out.push(render_one(env, stack, svc, probe, &ctx, view, Some(owner))?);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn render_one(
    env: &Environment<'static>,
    stack: &Stack,
    svc: &Service,
    probe: &ProbeDef,
    ctx: &BTreeMap<String, Value>,
    view: &Arc<SecretsView>,
    each: Option<&str>,
) -> Result<RenderedProbe, RenderError> {
    let origin = format!("{}/service.toml probe `{}`", svc.name, probe.name);
    let invalid = |message: String| RenderError::Template {
        template: origin.clone(),
        line: 0,
        message,
    };
    let (argv, probe_env) = render_command(env, &origin, &probe.command, &probe.env, ctx, view)?;
    let place = match probe.run_in.as_str() {
        "self" => ProbePlace::Container(svc.container_name.clone()),
        "host" => ProbePlace::Host,
        other => match stack.service(other) {
            Some(s) => ProbePlace::Container(s.container_name.clone()),
            None => ProbePlace::NotRun(format!("it runs in `{other}`, which is not in the stack")),
        },
    };
    let duration = |field: &str, text: &str| {
        parse_duration(text)
            .ok_or_else(|| invalid(format!("`{field}` `{text}` is not a duration like `2s`")))
    };
    Ok(RenderedProbe {
        service: svc.name.clone(),
        name: match each {
            Some(web) => format!("{}[{web}]", probe.name),
            None => probe.name.clone(),
        },
        description: probe.description.clone(),
        place,
        argv,
        env: probe_env,
        expect: probe.expect.clone(),
        attempts: probe.attempts.clamp(1, 300),
        interval: duration("interval", &probe.interval)?,
        timeout: duration("timeout", &probe.timeout)?,
    })
}
