//! The values templates see. Secrets go through [`SecretsView`], which records which
//! secret each file used: that record is the rotation matrix, derived, not hand-written.

use minijinja::value::{Object, Value};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use vpai_model::{Service, Stack};
use vpai_vault::SecretStore;

/// Secret values by name, with a record of the names read since the last reset.
pub struct SecretsView {
    values: BTreeMap<String, String>,
    /// Declared external secrets the operator has not set: read as "" (falsy) so that
    /// `env_when` can test them.
    unset_external: BTreeSet<String>,
    used: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for SecretsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsView")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretsView {
    pub fn new(stack: &Stack, store: &SecretStore) -> Arc<Self> {
        let mut values = BTreeMap::new();
        let mut unset_external = BTreeSet::new();
        for (_, def) in stack.secret_defs() {
            match store.get(&def.name) {
                Some(v) => {
                    values.insert(def.name.clone(), v.to_string());
                }
                None if def.external => {
                    unset_external.insert(def.name.clone());
                }
                None => {}
            }
        }
        Arc::new(SecretsView {
            values,
            unset_external,
            used: Mutex::new(BTreeSet::new()),
        })
    }

    pub fn reset(&self) {
        self.used.lock().expect("not poisoned").clear();
    }

    pub fn used(&self) -> BTreeSet<String> {
        self.used.lock().expect("not poisoned").clone()
    }
}

impl Object for SecretsView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(v) = self.values.get(name) {
            self.used
                .lock()
                .expect("not poisoned")
                .insert(name.to_string());
            return Some(Value::from(v.clone()));
        }
        if self.unset_external.contains(name) {
            return Some(Value::from(""));
        }
        None
    }
}

#[derive(Serialize)]
struct StackCtx<'a> {
    project: &'a str,
    domain: &'a str,
    tls: &'a str,
    acme_email: &'a Option<String>,
    timezone: &'a str,
    locale: &'a str,
    health_endpoint: bool,
    root: String,
    http_port: u16,
    https_port: u16,
    /// `[access]`: the VPN's client ranges and the proxies Caddy trusts.
    access: &'a vpai_model::AccessSettings,
}

#[derive(Serialize, Clone)]
pub struct ServiceCtx {
    name: String,
    container_name: String,
    fqdn: Option<String>,
    url: Option<String>,
    memory: String,
    memory_mb: u64,
    database: bool,
}

fn service_ctx(s: &Service) -> ServiceCtx {
    ServiceCtx {
        name: s.name.clone(),
        container_name: s.container_name.clone(),
        fqdn: s.fqdn.clone(),
        url: s.url.clone(),
        memory: s.memory.clone(),
        memory_mb: memory_mb(&s.memory),
        database: s.database,
    }
}

/// Whole MiB of a memory size. The spec bounds an operator's size (6M ..= 1 TiB) and
/// the catalog's defaults are tested, so this never saturates in practice; if it did,
/// it would rather say 0 than wrap around.
fn memory_mb(text: &str) -> u64 {
    vpai_spec::ByteSize::parse(text).map_or(0, |size| size.mebibytes())
}

#[derive(Serialize)]
struct WebCtx {
    name: String,
    fqdn: String,
    port: u16,
    websocket: bool,
    /// Only the VPN's clients reach it, but `public_paths`.
    vpn_only: bool,
    public_paths: Vec<String>,
}

#[derive(Serialize)]
struct DatabaseCtx {
    service: String,
    name: String,
    user: String,
    password_secret: String,
}

/// One web service as templates see it (`web_services`, and `web` in a probe).
fn web_ctx(s: &Service) -> Option<WebCtx> {
    let web = s.def.web.as_ref()?;
    Some(WebCtx {
        name: s.name.clone(),
        fqdn: s.fqdn.clone()?,
        port: web.port,
        websocket: web.websocket,
        vpn_only: s.vpn_only,
        public_paths: web.public_paths.clone(),
    })
}

fn database_ctx(service: &str, d: &vpai_catalog::DatabaseDef) -> DatabaseCtx {
    DatabaseCtx {
        service: service.to_string(),
        name: d.name.clone(),
        user: d.user.clone(),
        password_secret: d.password_secret.clone(),
    }
}

pub(crate) fn database_value(service: &str, d: &vpai_catalog::DatabaseDef) -> Value {
    Value::from_serialize(database_ctx(service, d))
}

pub(crate) fn web_value(s: &Service) -> Value {
    Value::from_serialize(web_ctx(s))
}

/// Values shared by every template of the stack.
pub fn base_context(stack: &Stack, secrets: &Arc<SecretsView>) -> BTreeMap<String, Value> {
    let mut ctx = BTreeMap::new();
    ctx.insert(
        "stack".into(),
        Value::from_serialize(StackCtx {
            project: &stack.project,
            domain: &stack.domain,
            tls: stack.tls,
            acme_email: &stack.acme_email,
            timezone: &stack.timezone,
            locale: &stack.locale,
            health_endpoint: stack.health_endpoint,
            root: stack.root.display().to_string(),
            http_port: stack.http_port,
            https_port: stack.https_port,
            access: &stack.access,
        }),
    );
    let services: BTreeMap<String, ServiceCtx> = stack
        .services
        .iter()
        .map(|s| (s.name.clone(), service_ctx(s)))
        .collect();
    ctx.insert("services".into(), Value::from_serialize(&services));
    ctx.insert("secrets".into(), Value::from_dyn_object(secrets.clone()));
    // The Docker networks by short name (`networks.backend.subnet`): a service that must
    // trust the proxy's addresses reads them here.
    let networks: BTreeMap<&str, &vpai_model::Network> = stack
        .networks
        .iter()
        .map(|n| (n.name.as_str(), n))
        .collect();
    ctx.insert("networks".into(), Value::from_serialize(&networks));
    let web: Vec<WebCtx> = stack.services.iter().filter_map(web_ctx).collect();
    ctx.insert("web_services".into(), Value::from_serialize(&web));
    let dbs: Vec<DatabaseCtx> = stack
        .databases()
        .into_iter()
        .map(|(svc, d)| database_ctx(svc, d))
        .collect();
    ctx.insert("databases".into(), Value::from_serialize(&dbs));
    ctx
}

/// The base context plus `service` (the one being rendered) and `data`, its folder's `[data]`.
pub fn service_context(
    base: &BTreeMap<String, Value>,
    _stack: &Stack,
    svc: &Service,
) -> BTreeMap<String, Value> {
    let mut ctx = base.clone();
    ctx.insert("service".into(), Value::from_serialize(service_ctx(svc)));
    // The service folder's `[data]` (LiteLLM's models), as its templates see it.
    ctx.insert("data".into(), Value::from_serialize(&svc.def.data));
    ctx
}
