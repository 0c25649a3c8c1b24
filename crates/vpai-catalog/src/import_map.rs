//! `[import.ansible]` of a `service.toml`: what `vpai import ansible` knows about the
//! service in a VPAI-style Ansible project, read by the importer's generic code.
//!
//! The importer already maps what every service has under its own name (`<name>_image`
//! to `version`, `<name>_memory_limit` to `memory`, `<name>_subdomain` to `subdomain`,
//! `<name>_enabled: false`); this section says the rest:
//!
//! ```toml
//! [import.ansible]
//! # The site playbook's roles that deploy it (VPAI's `monitoring` role deploys five).
//! roles = ["openclaw"]
//! # Where its subdomain is, the first variable defined wins (default `<name>_subdomain`).
//! subdomain_vars = ["openclaw_subdomain", "admin_subdomain"]
//! # Printed after an import whose stack runs the service.
//! notes = ["..."]
//! # Variables of the service with no equivalent in stack.toml, and why.
//! unmapped = [{ vars = ["telegram_openclaw_group_id"], reason = "..." }]
//!
//! # One variable -> one key of `[services.<name>.data]`, converted by `kind`.
//! [[import.ansible.data]]
//! var = "telegram_openclaw_chat_id"
//! key = "telegram_allow_from"
//! kind = "telegram-user-ids"
//!
//! # Several variables -> one list of provider budgets in `[services.<name>.data]`.
//! [import.ansible.budgets]
//! key = "budgets"
//! comment = "litellm_*_budget_*: the provider budgets"
//! from = [{ var = "litellm_openai_budget_daily", provider = "openai", period = "1d" }]
//! ```
//!
//! The conversions (`kind`) are a closed set the importer implements; the variable
//! names, keys and texts are data. A variable is claimed by one service only (a unit
//! test of the shipped catalog says so).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `[import]`: how a service's settings come from another tool's project.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportDef {
    /// `vpai import ansible`.
    #[serde(default)]
    pub ansible: AnsibleImportDef,
}

/// `[import.ansible]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnsibleImportDef {
    /// The roles of the site playbook that deploy this service. A role may deploy
    /// several services (each lists it): they run when it runs.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The variables holding its subdomain, the first one defined wins; empty means
    /// `<name>_subdomain`. Only for a service with `[web]`.
    #[serde(default)]
    pub subdomain_vars: Vec<String>,
    /// Variables mapped onto keys of `[services.<name>.data]`, one each.
    #[serde(default)]
    pub data: Vec<AnsibleDataDef>,
    /// Provider budget variables gathered into one list of `[services.<name>.data]`.
    #[serde(default)]
    pub budgets: Option<AnsibleBudgetsDef>,
    /// Its variables that have no place in stack.toml, with the reason the report gives.
    #[serde(default)]
    pub unmapped: Vec<AnsibleUnmappedDef>,
    /// Said after an import whose stack runs this service (what the inventory could
    /// not tell and the operator should check).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One variable -> one key of `[services.<name>.data]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnsibleDataDef {
    /// The Ansible variable.
    pub var: String,
    /// The key of the service's `[data]` it becomes.
    pub key: String,
    /// How its value is read and checked.
    pub kind: AnsibleDataKind,
}

/// The conversions the importer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnsibleDataKind {
    /// A string that must be an e-mail address.
    Email,
    /// A Telegram private chat id (its user's id) -> a list of that one user id. A
    /// negative id is a group's chat and is refused; an empty value is no value.
    TelegramUserIds,
}

/// `[import.ansible.budgets]`: each variable (an amount in dollars) is one
/// `{ provider, limit, period }` entry of the list `key`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnsibleBudgetsDef {
    /// The key of the service's `[data]` (a list of budgets).
    pub key: String,
    /// The comment written after the list in stack.toml.
    pub comment: String,
    pub from: Vec<AnsibleBudgetDef>,
}

/// One budget variable.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnsibleBudgetDef {
    pub var: String,
    pub provider: String,
    /// The budget's period in the service's terms (`1d`, `30d`).
    pub period: String,
}

/// Variables with no equivalent in stack.toml and the reason said for them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnsibleUnmappedDef {
    /// Their names (a `vault_` prefix is looked through).
    pub vars: Vec<String>,
    pub reason: String,
    /// Said once after the import when any of them was in the inventory.
    #[serde(default)]
    pub warning: Option<String>,
}

impl AnsibleImportDef {
    /// The variables holding the subdomain of `service`, in order.
    pub fn subdomain_vars(&self, service: &str) -> Vec<String> {
        if self.subdomain_vars.is_empty() {
            vec![format!("{service}_subdomain")]
        } else {
            self.subdomain_vars.clone()
        }
    }

    /// Every variable this section names (not the default `<name>_subdomain`), in the
    /// order written, repeats kept.
    pub fn claimed_vars(&self) -> Vec<String> {
        let mut vars = self.subdomain_vars.clone();
        vars.extend(self.data.iter().map(|d| d.var.clone()));
        vars.extend(
            self.budgets
                .iter()
                .flat_map(|b| b.from.iter().map(|f| f.var.clone())),
        );
        vars.extend(self.unmapped.iter().flat_map(|u| u.vars.iter().cloned()));
        vars
    }

    /// What the schema alone cannot say: names that are names, each variable named
    /// once, keys the service's `[data]` has, no empty text.
    pub(crate) fn check(
        &self,
        data: &BTreeMap<String, toml::Value>,
        has_web: bool,
    ) -> Result<(), String> {
        let at = "`[import.ansible]`";
        let var_ok = |v: &str| {
            v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        let mut roles = BTreeSet::new();
        for r in &self.roles {
            let ok = !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !ok {
                return Err(format!(
                    "{at} role `{r}` is not a role name (letters, digits, `_`, `-`, `.`)"
                ));
            }
            if !roles.insert(r) {
                return Err(format!("{at} names the role `{r}` twice"));
            }
        }
        if !self.subdomain_vars.is_empty() && !has_web {
            return Err(format!(
                "{at} `subdomain_vars` is for a service with `[web]`, and this one has none"
            ));
        }
        let mut seen = BTreeSet::new();
        for v in self.claimed_vars() {
            if !var_ok(&v) {
                return Err(format!("{at} `{v}` is not an Ansible variable name"));
            }
            if !seen.insert(v.clone()) {
                return Err(format!("{at} names the variable `{v}` twice"));
            }
        }
        let mut keys: Vec<(&str, &str)> = self
            .data
            .iter()
            .map(|d| (d.key.as_str(), "`[[import.ansible.data]] key`"))
            .collect();
        keys.extend(
            self.budgets
                .iter()
                .map(|b| (b.key.as_str(), "`[import.ansible.budgets] key`")),
        );
        let mut taken = BTreeSet::new();
        for (key, what) in keys {
            if !data.contains_key(key) {
                return Err(format!(
                    "{what} is `{key}`, which the service's `[data]` does not have"
                ));
            }
            if !taken.insert(key) {
                return Err(format!(
                    "{at} maps two variables onto `[data] {key}`: one key, one variable"
                ));
            }
        }
        if let Some(b) = &self.budgets {
            if b.from.is_empty() {
                return Err("`[import.ansible.budgets] from` is empty".into());
            }
            if b.comment.trim().is_empty() {
                return Err("`[import.ansible.budgets] comment` is empty".into());
            }
            if let Some(f) = b
                .from
                .iter()
                .find(|f| f.provider.trim().is_empty() || f.period.trim().is_empty())
            {
                return Err(format!(
                    "`[import.ansible.budgets]` `{}`: its provider and period cannot be empty",
                    f.var
                ));
            }
        }
        for u in &self.unmapped {
            if u.vars.is_empty() || u.reason.trim().is_empty() {
                return Err(format!(
                    "{at} `unmapped` entries name variables and give a reason"
                ));
            }
            if u.warning.as_deref().is_some_and(|w| w.trim().is_empty()) {
                return Err(format!("{at} an `unmapped` warning is empty"));
            }
        }
        if self.notes.iter().any(|n| n.trim().is_empty()) {
            return Err(format!("{at} a note is empty"));
        }
        Ok(())
    }
}
