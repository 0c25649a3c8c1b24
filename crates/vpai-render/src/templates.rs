//! The minijinja environment: each service's templates come from its catalog folder
//! (shipped, or the operator's `catalog/<name>/`), named `<service>/<file>`, and can
//! still be overridden file by file from the operator's `templates/` directory.
//! Strict undefined: a typo in a template is an error, not an empty string in a
//! config file.

use crate::RenderError;
use minijinja::{Environment, UndefinedBehavior, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use vpai_model::Stack;

/// Where templates come from besides the catalog: an optional override directory.
#[derive(Debug, Clone, Default)]
pub struct TemplateSource {
    pub override_dir: Option<PathBuf>,
}

impl TemplateSource {
    pub fn embedded() -> Self {
        Self::default()
    }

    pub fn environment(&self, stack: &Stack) -> Result<Environment<'static>, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        let mut sources: BTreeMap<String, String> = BTreeMap::new();
        for svc in &stack.services {
            for config in &svc.def.configs {
                let text = svc
                    .def
                    .template_text(config)
                    .ok_or_else(|| RenderError::Template {
                        template: template_name(&svc.name, &config.template),
                        line: 0,
                        message: "not in the service's catalog folder".into(),
                    })?;
                sources.insert(template_name(&svc.name, &config.template), text.into());
            }
        }
        if let Some(dir) = &self.override_dir {
            let names: Vec<String> = sources.keys().cloned().collect();
            for name in names {
                let path = dir.join(&name);
                if path.exists() {
                    let text =
                        fs_err::read_to_string(&path).map_err(|e| RenderError::Override {
                            path: path.display().to_string(),
                            message: e.to_string(),
                        })?;
                    sources.insert(name.to_string(), text);
                }
            }
        }
        for (name, text) in sources {
            env.add_template_owned(name.clone(), text)
                .map_err(|e| template_error(&name, e))?;
        }
        env.add_filter("sha256", |v: String| {
            hex::encode(Sha256::digest(v.as_bytes()))
        });
        env.add_filter("sql_ident", |v: String| {
            format!("\"{}\"", v.replace('"', "\"\""))
        });
        env.add_filter("sql_literal", |v: String| {
            format!("'{}'", v.replace('\'', "''"))
        });
        Ok(env)
    }
}

/// The name a service's template has in the environment (and in `templates/`):
/// `postgresql/postgresql.conf.j2`.
pub fn template_name(service: &str, template: &str) -> String {
    format!("{service}/{template}")
}

pub fn render_template(
    env: &Environment<'static>,
    name: &str,
    ctx: &BTreeMap<String, Value>,
) -> Result<String, RenderError> {
    let tmpl = env
        .get_template(name)
        .map_err(|e| template_error(name, e))?;
    tmpl.render(ctx).map_err(|e| template_error(name, e))
}

/// Render a one-line expression template from the catalog (`{{ secrets.x }}`).
pub fn render_str(
    env: &Environment<'static>,
    origin: &str,
    text: &str,
    ctx: &BTreeMap<String, Value>,
) -> Result<String, RenderError> {
    env.render_str(text, ctx)
        .map_err(|e| template_error(origin, e))
}

pub fn eval_condition(
    env: &Environment<'static>,
    origin: &str,
    expr: &str,
    ctx: &BTreeMap<String, Value>,
) -> Result<bool, RenderError> {
    let compiled = env
        .compile_expression(expr)
        .map_err(|e| template_error(origin, e))?;
    Ok(compiled
        .eval(ctx)
        .map_err(|e| template_error(origin, e))?
        .is_true())
}

pub fn template_error(name: &str, e: minijinja::Error) -> RenderError {
    let mut message = e.kind().to_string();
    if let Some(detail) = e.detail() {
        message = format!("{message}: {detail}");
    }
    RenderError::Template {
        template: e.name().unwrap_or(name).to_string(),
        line: e.line().unwrap_or(0),
        message,
    }
}
