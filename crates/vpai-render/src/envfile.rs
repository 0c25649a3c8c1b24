//! Env files (`env/<service>.env`): where secrets reach containers. Compose reads them
//! with `env_file:`; values are single-quoted so compose never interpolates `$`.

use crate::RenderError;
use crate::templates::{eval_condition, render_str};
use minijinja::{Environment, Value};
use std::collections::BTreeMap;
use vpai_model::Service;

pub fn render_env(
    env: &Environment<'static>,
    ctx: &BTreeMap<String, Value>,
    svc: &Service,
) -> Result<String, RenderError> {
    let origin = format!("catalog/{}.toml [env]", svc.name);
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (key, expr) in &svc.def.env {
        values.insert(key.clone(), render_str(env, &origin, expr, ctx)?);
    }
    for cond in &svc.def.env_when {
        if eval_condition(env, &origin, &cond.when, ctx)? {
            for (key, expr) in &cond.env {
                values.insert(key.clone(), render_str(env, &origin, expr, ctx)?);
            }
        }
    }
    for (key, value) in &svc.extra_env {
        values.insert(key.clone(), value.clone());
    }
    let mut out = format!(
        "# Environment of {}: rendered by vpai, holds secrets (mode 0600, root).\n",
        svc.name
    );
    for (key, value) in values {
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || key.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(RenderError::EnvValue {
                service: svc.name.clone(),
                key,
                reason: "a variable name may only hold letters, digits and `_`".into(),
            });
        }
        if value.contains('\'') || value.contains('\n') || value.contains('\r') {
            return Err(RenderError::EnvValue {
                service: svc.name.clone(),
                key,
                reason: "the value contains a quote or a line break".into(),
            });
        }
        out.push_str(&format!("{key}='{value}'\n"));
    }
    Ok(out)
}
