//! The library side of `vpai rotate`: which secrets may and should rotate, the new
//! value with the old one held until the deploy confirms, and what the deploy has to
//! do about it ([`RotationPlan`]).
//!
//! The order of a rotation, as the deploy runs it (`vpai rotate NAME...`):
//! 1. [`select`] the secrets (refusals first: a never-rotate name fails the whole
//!    command, before anything changes), then [`SecretStore::begin_rotation`] for each
//!    and `save()`: the vault holds the new value and, encrypted, the previous one. A
//!    crash from here on is recoverable, since both are known
//!    ([`SecretStore::rotations_in_flight`]).
//! 2. Render with the new values and plan; write the files (the previous release kept).
//! 3. Secrets held inside PostgreSQL ([`RotationPlan::postgres_roles`]): `ALTER ROLE`
//!    in the running PostgreSQL, SQL on stdin (never argv), before anything that logs
//!    in as that role is recreated. Application roles are already covered by
//!    `provision.sql`, which sets every role's password on each deploy between phase A
//!    and phase B; the superuser (`postgres`, whose POSTGRES_PASSWORD the image reads
//!    only at initdb) is not, and needs this step.
//! 4. Recreate exactly [`RotationPlan::recreate`], in that order (data stores first),
//!    each health-gated, and nothing else.
//! 5. All healthy: [`SecretStore::finish_rotation`] (the old value is erased), save.
//!    Otherwise: [`SecretStore::roll_back_rotation`], save, render again, `ALTER ROLE`
//!    back to the restored value ([`SecretStore::get`] again), recreate
//!    the same services, and report the failure with its logs.

use crate::record::{EventKind, RotationInFlight, SecretOrigin};
use crate::store::{SecretStore, event, now};
use std::collections::{BTreeMap, BTreeSet};
use vpai_catalog::{DatabaseDef, Phase, RotationPolicy, SecretDef, ServiceDef};

const DAY: u64 = 24 * 60 * 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RotateError {
    #[error(
        "`{name}` must never be rotated: {reason}\n  help: there is no --force; if it is compromised, export the data that depends on it, then start that service from scratch"
    )]
    NeverRotate { name: String, reason: String },
    #[error(
        "`{name}` does not exist yet: it is generated on the first deploy\n  help: run `vpai up` first"
    )]
    NotCreated { name: String },
    #[error(
        "`{name}` is already being rotated (since {since}, unix time): a previous deploy did not finish\n  help: run `vpai rotate {name}` again to complete it, or `vpai rotate --roll-back {name}` to return to the old value"
    )]
    InFlight { name: String, since: u64 },
    #[error("no secret named `{name}` in this stack{suggestion}")]
    Unknown { name: String, suggestion: String },
    #[error(
        "`{name}` is provided by you, vpai cannot make a new one\n  help: {help}then give the new value on stdin: `vpai rotate {name} < new-value`"
    )]
    ExternalNeedsValue { name: String, help: String },
    #[error("the new value of `{name}` {problem}\n  help: nothing was changed")]
    InvalidValue {
        name: String,
        problem: crate::limits::ValueProblem,
    },
}

/// What the new value is.
pub enum NewValue {
    /// Generated from the catalog's declaration.
    Generate,
    /// Given by the operator (external secrets).
    Given(String),
}

/// How long a policy lets a value live, in seconds.
pub fn period(policy: RotationPolicy) -> Option<u64> {
    match policy {
        RotationPolicy::Quarterly => Some(91 * DAY),
        RotationPolicy::Yearly => Some(365 * DAY),
        RotationPolicy::Never | RotationPolicy::Manual => None,
    }
}

/// When `def`'s current value falls due (unix seconds); `None` if it never does or
/// does not exist yet.
pub fn due_at(def: &SecretDef, store: &SecretStore) -> Option<u64> {
    let record = store.record(&def.name)?;
    period(def.rotate).map(|p| record.last_change() + p)
}

/// Secrets chosen for rotation, and the due ones that need the operator.
#[derive(Debug, Default)]
pub struct Selection<'a> {
    pub rotate: Vec<&'a SecretDef>,
    /// Due external secrets: vpai cannot make their new value (name, where to get it).
    pub due_external: Vec<(&'a str, Option<&'a str>)>,
}

/// The secrets `vpai rotate NAME...` (or `--all-due` when `names` is empty) works on,
/// out of `defs` (the stack's declared secrets). Refusals come first, before anything
/// is changed: asking for a never-rotate secret fails the whole command.
pub fn select<'a>(
    defs: &'a [SecretDef],
    store: &SecretStore,
    names: &[String],
    all_due: bool,
    at: u64,
) -> Result<Selection<'a>, RotateError> {
    let mut selection = Selection::default();
    for name in names {
        let def = defs
            .iter()
            .find(|d| &d.name == name)
            .ok_or_else(|| unknown(name, defs))?;
        check(def, store)?;
        selection.rotate.push(def);
    }
    if all_due {
        for def in defs {
            let Some(due) = due_at(def, store) else {
                continue;
            };
            if due > at || selection.rotate.iter().any(|d| d.name == def.name) {
                continue;
            }
            if def.external {
                selection
                    .due_external
                    .push((def.name.as_str(), def.help.as_deref()));
            } else if check(def, store).is_ok() {
                selection.rotate.push(def);
            }
        }
    }
    Ok(selection)
}

fn check(def: &SecretDef, store: &SecretStore) -> Result<(), RotateError> {
    if def.rotate == RotationPolicy::Never {
        return Err(RotateError::NeverRotate {
            name: def.name.clone(),
            reason: def
                .never_reason
                .clone()
                .unwrap_or_else(|| "the catalog marks it never-rotate".into()),
        });
    }
    if !store.contains(&def.name) {
        return Err(RotateError::NotCreated {
            name: def.name.clone(),
        });
    }
    Ok(())
}

fn unknown(name: &str, defs: &[SecretDef]) -> RotateError {
    RotateError::Unknown {
        name: name.to_string(),
        suggestion: suggest(name, defs.iter().map(|d| d.name.as_str()))
            .map(|n| format!("\n  help: did you mean `{n}`?"))
            .unwrap_or_default(),
    }
}

/// The candidate closest to a mistyped `name` (a few edits away, more for long names).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance; the lists are short.
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl SecretStore {
    /// Give `def` a new value, keeping the previous one (encrypted, in the vault) until
    /// [`finish_rotation`](Self::finish_rotation) or
    /// [`roll_back_rotation`](Self::roll_back_rotation).
    pub fn begin_rotation(&mut self, def: &SecretDef, new: NewValue) -> Result<(), RotateError> {
        check(def, self)?;
        let record = self.records.get(&def.name).expect("checked above");
        if let Some(flight) = &record.rotation {
            return Err(RotateError::InFlight {
                name: def.name.clone(),
                since: flight.started,
            });
        }
        let value = match new {
            NewValue::Given(v) => {
                crate::limits::check_value(&v).map_err(|problem| RotateError::InvalidValue {
                    name: def.name.clone(),
                    problem,
                })?;
                v
            }
            NewValue::Generate if def.external => {
                return Err(RotateError::ExternalNeedsValue {
                    name: def.name.clone(),
                    help: def
                        .help
                        .as_ref()
                        .map(|h| format!("get a new one ({h}), "))
                        .unwrap_or_default(),
                });
            }
            NewValue::Generate => crate::generate(def),
        };
        let at = now();
        let record = self.records.get_mut(&def.name).expect("checked above");
        let previous_value = std::mem::replace(&mut record.value, value);
        record.rotation = Some(RotationInFlight {
            started: at,
            previous_value,
            previous_rotated: record.rotated,
        });
        record.rotated = Some(at);
        if def.external {
            record.origin = SecretOrigin::External;
        }
        record.push_event(event(at, EventKind::RotationStarted, None));
        self.mark_dirty();
        Ok(())
    }

    /// The deploy confirmed: forget the previous value. `false` if none was in flight.
    pub fn finish_rotation(&mut self, name: &str) -> bool {
        let Some(record) = self.records.get_mut(name) else {
            return false;
        };
        if record.rotation.take().is_none() {
            return false;
        }
        record.push_event(event(now(), EventKind::Rotated, None));
        self.mark_dirty();
        true
    }

    /// The deploy failed: the previous value is current again. `false` if none was in flight.
    pub fn roll_back_rotation(&mut self, name: &str) -> bool {
        let Some(record) = self.records.get_mut(name) else {
            return false;
        };
        let Some(mut flight) = record.rotation.take() else {
            return false;
        };
        record.value = std::mem::take(&mut flight.previous_value);
        record.rotated = flight.previous_rotated;
        record.push_event(event(now(), EventKind::RotationRolledBack, None));
        self.mark_dirty();
        true
    }

    /// The value before the rotation in flight (to roll a database role back).
    pub fn previous_value(&self, name: &str) -> Option<&str> {
        self.records
            .get(name)?
            .rotation
            .as_ref()
            .map(|f| f.previous_value.as_str())
    }

    /// Rotations begun and not finished: (name, started).
    pub fn rotations_in_flight(&self) -> impl Iterator<Item = (&str, u64)> {
        self.records
            .iter()
            .filter_map(|(n, r)| r.rotation.as_ref().map(|f| (n.as_str(), f.started)))
    }
}

/// What the deploy must do for one rotated secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotationPlan {
    pub secret: String,
    /// The PostgreSQL service that holds the roles below (`postgresql`).
    pub postgres_service: Option<String>,
    /// Roles whose password is this secret: `ALTER ROLE` them before step 4.
    pub postgres_roles: Vec<String>,
    /// Services to recreate, data stores (phase A) first, then by `needs`.
    pub recreate: Vec<String>,
}

/// The plan for rotating `secret` in a stack whose services are `services` (their
/// catalog entries) and whose provisioned databases are `databases` (a service whose
/// optional database is off has no role to alter). `users` are the services whose
/// container inputs (env files, mounted configs) carry the secret, from the renderer
/// (`Artifact::services` of the artifacts whose `secrets` name it); files only vpai
/// reads (`provision.sql`) have no consumer, and recreating for them changes nothing.
pub fn plan_rotation(
    services: &[&ServiceDef],
    databases: &[&DatabaseDef],
    secret: &str,
    users: &BTreeSet<String>,
) -> RotationPlan {
    let mut plan = RotationPlan {
        secret: secret.to_string(),
        ..RotationPlan::default()
    };
    let server = services
        .iter()
        .find(|s| s.env.contains_key("POSTGRES_PASSWORD"));
    if let Some(server) = server {
        // The superuser: the official image reads POSTGRES_PASSWORD only at initdb;
        // afterwards the password lives in the data directory like any role's.
        if references(&server.env["POSTGRES_PASSWORD"], secret) {
            let role = server
                .env
                .get("POSTGRES_USER")
                .cloned()
                .unwrap_or_else(|| "postgres".into());
            plan.postgres_roles.push(role);
        }
        for db in databases {
            if db.password_secret == secret && !plan.postgres_roles.contains(&db.user) {
                plan.postgres_roles.push(db.user.clone());
            }
        }
        if !plan.postgres_roles.is_empty() {
            plan.postgres_service = Some(server.name.clone());
        }
    }
    plan.recreate = order_services(services, users.iter().map(String::as_str));
    plan
}

/// `{{ secrets.NAME }}` (any spacing or filter) in a template.
fn references(template: &str, secret: &str) -> bool {
    let needle = format!("secrets.{secret}");
    template.match_indices(&needle).any(|(i, _)| {
        !template[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `names` in start order: phase A before phase B, a service after what it `needs`
/// (transitively, within `services`), then by name. Names not in `services` go last.
pub fn order_services<'a>(
    services: &[&ServiceDef],
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let by_name: BTreeMap<&str, &ServiceDef> =
        services.iter().map(|s| (s.name.as_str(), *s)).collect();
    fn depth<'c>(
        by_name: &BTreeMap<&'c str, &'c ServiceDef>,
        name: &'c str,
        memo: &mut BTreeMap<&'c str, usize>,
        visiting: &mut Vec<&'c str>,
    ) -> usize {
        if let Some(&d) = memo.get(name) {
            return d;
        }
        if visiting.contains(&name) {
            return 0; // a cycle is the model's error to report; do not loop here
        }
        visiting.push(name);
        let d = by_name.get(name).map_or(0, |s| {
            s.needs
                .iter()
                .filter(|n| by_name.contains_key(n.as_str()))
                .map(|n| depth(by_name, n.as_str(), memo, visiting) + 1)
                .max()
                .unwrap_or(0)
        });
        visiting.pop();
        memo.insert(name, d);
        d
    }
    let wanted: BTreeSet<&str> = names.into_iter().collect();
    let mut memo = BTreeMap::new();
    let mut keyed: Vec<((u8, usize), &str)> = wanted
        .iter()
        .map(|&n| {
            let (n_key, phase) = match by_name.get_key_value(n) {
                Some((k, s)) => (*k, if s.phase == Phase::Infra { 0 } else { 1 }),
                None => (n, 2),
            };
            (
                (phase, depth(&by_name, n_key, &mut memo, &mut Vec::new())),
                n,
            )
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, n)| n.to_string()).collect()
}

/// Services that use `secret` according to their catalog entries alone: env templates
/// that name it, and the owner of a database whose password it is. The renderer's
/// record (which also sees config templates) is authoritative; this is the fallback
/// for commands that cannot render (a generated secret not created yet).
pub fn catalog_users(services: &[&ServiceDef], secret: &str) -> BTreeSet<String> {
    let mut users = BTreeSet::new();
    for service in services {
        let in_env = service.env.values().any(|t| references(t, secret))
            || service
                .env_when
                .iter()
                .any(|c| c.env.values().any(|t| references(t, secret)));
        let owns_db = service
            .database
            .as_ref()
            .is_some_and(|db| db.password_secret == secret);
        if in_env || owns_db {
            users.insert(service.name.clone());
        }
    }
    users
}

/// Is `def` due at `at`?
pub fn is_due(def: &SecretDef, store: &SecretStore, at: u64) -> bool {
    due_at(def, store).is_some_and(|d| d <= at)
}
