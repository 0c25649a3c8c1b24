//! Env files (`env/<service>.env`): where secrets reach containers. Compose reads them
//! with `env_file:`; values are single-quoted so compose never interpolates `$` (see
//! [`env_line`]).

use crate::RenderError;
use crate::templates::{eval_condition, render_str};
use minijinja::{Environment, Value};
use std::collections::{BTreeMap, BTreeSet};
use vpai_model::Service;

/// One environment entry of a service, and whether a secret went into it.
pub(crate) struct EnvValue {
    pub key: String,
    pub value: String,
    pub secret: bool,
}

/// A service's environment, rendered: the catalog's `[env]`, the `env_when` blocks
/// that apply, then the operator's extra entries. `view` records which entries read
/// a secret (Swarm passes those as secrets, not in the service's definition); the
/// names of all the secrets read are returned beside.
pub(crate) fn env_values(
    env: &Environment<'static>,
    ctx: &BTreeMap<String, Value>,
    svc: &Service,
    view: &crate::context::SecretsView,
) -> Result<(Vec<EnvValue>, BTreeSet<String>), RenderError> {
    let origin = format!("catalog/{}.toml [env]", svc.name);
    let mut values: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut all_used = BTreeSet::new();
    let mut one = |expr: &str| -> Result<(String, bool), RenderError> {
        view.reset();
        let v = render_str(env, &origin, expr, ctx)?;
        let used = view.used();
        let secret = !used.is_empty();
        all_used.extend(used);
        Ok((v, secret))
    };
    for (key, expr) in &svc.def.env {
        values.insert(key.clone(), one(expr)?);
    }
    for cond in &svc.def.env_when {
        if eval_condition(env, &origin, &cond.when, ctx)? {
            for (key, expr) in &cond.env {
                values.insert(key.clone(), one(expr)?);
            }
        }
    }
    for (key, value) in &svc.extra_env {
        values.insert(key.clone(), (value.clone(), false));
    }
    let entries = values
        .into_iter()
        .map(|(key, (value, secret))| EnvValue { key, value, secret })
        .collect();
    Ok((entries, all_used))
}

/// The env file of a service (`env/<service>.env`), and the secrets it holds.
pub fn render_env(
    env: &Environment<'static>,
    ctx: &BTreeMap<String, Value>,
    svc: &Service,
    view: &crate::context::SecretsView,
) -> Result<(String, BTreeSet<String>), RenderError> {
    let (entries, used) = env_values(env, ctx, svc, view)?;
    let mut out = format!(
        "# Environment of {}: rendered by vpai, holds secrets (mode 0600, root).\n",
        svc.name
    );
    for EnvValue { key, value, .. } in entries {
        match env_line(&key, &value) {
            Ok(line) => out.push_str(&line),
            Err(reason) => {
                return Err(RenderError::EnvValue {
                    service: svc.name.clone(),
                    key: key.escape_debug().to_string(),
                    reason: reason.into(),
                });
            }
        }
    }
    Ok((out, used))
}

/// One `KEY='value'` line, or why the pair cannot be written so that Compose reads back
/// exactly `value`.
///
/// Compose v2 (compose-go's dotenv parser) interpolates `$` and expands escapes in
/// unquoted and double-quoted values, cuts an unquoted value at ` #`, and reads a
/// single-quoted value literally, with one exception: a backslash before a quote
/// escapes it (older releases keep that backslash, newer ones drop it). So a value is
/// single-quoted, and what cannot be single-quoted the same way by every release is
/// refused: a single quote, a final backslash (it would escape the closing quote and
/// let the next line be read as part of the value) and any control character (a line
/// break ends the variable; NUL cannot be in an environment at all).
/// Whether `value` can be written into an env file and read back literally by every
/// Compose v2 release (the value half of [`env_line`]); `vpai secrets set` asks before
/// it saves, so a secret that no render could write never reaches the vault.
pub fn check_env_value(value: &str) -> Result<(), &'static str> {
    env_line("V", value).map(|_| ())
}

pub(crate) fn env_line(key: &str, value: &str) -> Result<String, &'static str> {
    if key.is_empty()
        || key.starts_with(|c: char| c.is_ascii_digit())
        || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(
            "a variable name may only hold letters, digits and `_`, not starting with a digit",
        );
    }
    if value.chars().any(char::is_control) {
        return Err("the value contains a line break or another control character");
    }
    if value.contains('\'') {
        return Err("the value contains a single quote");
    }
    if value.ends_with('\\') {
        return Err("the value ends with a backslash");
    }
    Ok(format!("{key}='{value}'\n"))
}
