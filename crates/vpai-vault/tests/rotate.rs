//! Rotation bookkeeping: refusals, the old value held until the deploy confirms,
//! due dates, and the plan handed to the deploy.

mod common;

use common::*;
use std::collections::BTreeSet;
use vpai_catalog::{Catalog, RotationPolicy};
use vpai_vault::rotate::{self, catalog_users, order_services, plan_rotation};
use vpai_vault::{EventKind, NewValue, Redactor, RotateError, SecretOrigin, SecretStore};

const DAY: u64 = 86_400;

#[test]
fn never_rotate_secrets_refuse_with_the_reason() {
    let mut store = SecretStore::in_memory();
    let mut key = def("n8n_encryption_key");
    key.rotate = RotationPolicy::Never;
    key.never_reason = Some("n8n encrypts every stored credential with it".into());
    let before = store.ensure(&key).unwrap().to_string();
    let err = store.begin_rotation(&key, NewValue::Generate).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("must never be rotated"), "{message}");
    assert!(
        message.contains("n8n encrypts every stored credential"),
        "{message}"
    );
    assert!(message.contains("there is no --force"), "{message}");
    assert_eq!(store.get("n8n_encryption_key"), Some(before.as_str()));
    // Asking for it by name fails the whole selection, before anything changes.
    let defs = vec![def("redis_password"), key];
    store.ensure(&defs[0]);
    let names = vec![
        "redis_password".to_string(),
        "n8n_encryption_key".to_string(),
    ];
    assert!(matches!(
        rotate::select(&defs, &store, &names, false, 0),
        Err(RotateError::NeverRotate { .. })
    ));
}

#[test]
fn old_value_is_kept_encrypted_until_confirmed_then_erased() {
    let dir = tempfile::tempdir().unwrap();
    let d = def("redis_password");
    let mut store = open(dir.path(), &pass()).unwrap();
    let old = store.ensure(&d).unwrap().to_string();
    store.save().unwrap();

    store.begin_rotation(&d, NewValue::Generate).unwrap();
    let new = store.get("redis_password").unwrap().to_string();
    assert_ne!(old, new);
    assert_eq!(store.previous_value("redis_password"), Some(old.as_str()));
    // Both values are masked while the rotation is in flight.
    let redactor = Redactor::from_store(&store);
    assert_eq!(
        redactor.redact(&format!("{old} {new}")),
        "******** ********"
    );
    store.save().unwrap();

    // A crash here: the next run sees the rotation in flight, and both values.
    let mut reopened = open(dir.path(), &pass()).unwrap();
    assert_eq!(reopened.rotations_in_flight().count(), 1);
    assert_eq!(
        reopened.previous_value("redis_password"),
        Some(old.as_str())
    );
    assert!(matches!(
        reopened.begin_rotation(&d, NewValue::Generate),
        Err(RotateError::InFlight { .. })
    ));
    assert!(reopened.finish_rotation("redis_password"));
    reopened.save().unwrap();

    let done = open(dir.path(), &pass()).unwrap();
    assert_eq!(done.get("redis_password"), Some(new.as_str()));
    assert_eq!(done.previous_value("redis_password"), None);
    let record = done.record("redis_password").unwrap();
    let kinds: Vec<_> = record.history.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Generated,
            EventKind::RotationStarted,
            EventKind::Rotated
        ]
    );
    assert!(record.last_rotation().is_some());
    // The decrypted document no longer holds the old value anywhere.
    assert!(!done.to_toml().contains(&old));
}

#[test]
fn roll_back_restores_the_old_value() {
    let mut store = SecretStore::in_memory();
    let d = def("n8n_db_password");
    let old = store.ensure(&d).unwrap().to_string();
    store.begin_rotation(&d, NewValue::Generate).unwrap();
    assert!(store.roll_back_rotation("n8n_db_password"));
    assert_eq!(store.get("n8n_db_password"), Some(old.as_str()));
    let record = store.record("n8n_db_password").unwrap();
    assert_eq!(record.rotated, None);
    assert_eq!(
        record.history.last().unwrap().kind,
        EventKind::RotationRolledBack
    );
    assert!(!store.roll_back_rotation("n8n_db_password"));
}

#[test]
fn external_secrets_rotate_only_to_a_given_value() {
    let mut store = SecretStore::in_memory();
    let mut d = def("openai_api_key");
    d.external = true;
    d.help = Some("https://platform.openai.com/api-keys".into());
    store.set(
        "openai_api_key",
        "sk-proj-old-value".into(),
        SecretOrigin::External,
    );
    let err = store.begin_rotation(&d, NewValue::Generate).unwrap_err();
    assert!(err.to_string().contains("platform.openai.com"), "{err}");
    store
        .begin_rotation(&d, NewValue::Given("sk-proj-new-value".into()))
        .unwrap();
    assert_eq!(store.get("openai_api_key"), Some("sk-proj-new-value"));
}

#[test]
fn unknown_and_not_yet_created_secrets() {
    let store = SecretStore::in_memory();
    let defs = vec![def("redis_password")];
    let err = rotate::select(&defs, &store, &["redis_pasword".into()], false, 0).unwrap_err();
    assert!(
        err.to_string().contains("did you mean `redis_password`"),
        "{err}"
    );
    let err = rotate::select(&defs, &store, &["redis_password".into()], false, 0).unwrap_err();
    assert!(matches!(err, RotateError::NotCreated { .. }), "{err}");
}

#[test]
fn all_due_follows_each_policy() {
    let mut store = SecretStore::in_memory();
    let quarterly = def("redis_password");
    let mut yearly = def("github_webhook_secret");
    yearly.rotate = RotationPolicy::Yearly;
    let mut manual = def("grafana_admin_password");
    manual.rotate = RotationPolicy::Manual;
    let mut never = def("n8n_encryption_key");
    never.rotate = RotationPolicy::Never;
    let mut external = def("openai_api_key");
    external.external = true;
    let defs = vec![quarterly, yearly, manual, never, external];
    for d in &defs[..4] {
        store.ensure(d);
    }
    store.set(
        "openai_api_key",
        "sk-proj-abcdefgh".into(),
        SecretOrigin::External,
    );
    let created = store.record("redis_password").unwrap().created;

    let names = |at: u64| {
        let s = rotate::select(&defs, &store, &[], true, at).unwrap();
        let rotate: Vec<&str> = s.rotate.iter().map(|d| d.name.as_str()).collect();
        let external: Vec<&str> = s.due_external.iter().map(|(n, _)| *n).collect();
        (rotate, external)
    };
    assert_eq!(names(created + 90 * DAY), (vec![], vec![]));
    assert_eq!(
        names(created + 92 * DAY),
        (vec!["redis_password"], vec!["openai_api_key"])
    );
    assert_eq!(
        names(created + 366 * DAY),
        (
            vec!["redis_password", "github_webhook_secret"],
            vec!["openai_api_key"]
        )
    );
}

#[test]
fn plan_for_database_passwords_alters_roles_then_recreates_in_order() {
    let catalog = Catalog::embedded();
    let services: Vec<_> = ["postgresql", "redis", "qdrant", "caddy", "n8n", "litellm"]
        .iter()
        .map(|n| catalog.get(n).unwrap())
        .collect();
    // LiteLLM's database is optional: here it is off, so its role is not altered.
    let databases = vec![catalog.get("n8n").unwrap().database.as_ref().unwrap()];

    let users = catalog_users(&services, "n8n_db_password");
    assert_eq!(users, BTreeSet::from(["n8n".to_string()]));
    let plan = plan_rotation(&services, &databases, "n8n_db_password", &users);
    assert_eq!(plan.postgres_service.as_deref(), Some("postgresql"));
    assert_eq!(plan.postgres_roles, ["n8n"]);
    assert_eq!(plan.recreate, ["n8n"]);

    let users = catalog_users(&services, "postgresql_password");
    let plan = plan_rotation(&services, &databases, "postgresql_password", &users);
    assert_eq!(plan.postgres_roles, ["postgres"]);
    assert_eq!(plan.recreate, ["postgresql"]);

    // Not held in a data store: nothing to ALTER, data stores recreated first.
    let users = BTreeSet::from(["litellm".to_string(), "redis".to_string()]);
    let plan = plan_rotation(&services, &databases, "redis_password", &users);
    let plan_litellm_db = plan_rotation(
        &services,
        &databases,
        "litellm_db_password",
        &BTreeSet::new(),
    );
    assert!(plan_litellm_db.postgres_roles.is_empty());
    assert!(plan.postgres_roles.is_empty() && plan.postgres_service.is_none());
    assert_eq!(plan.recreate, ["redis", "litellm"]);
}

#[test]
fn services_start_in_phase_then_needs_order() {
    let catalog = Catalog::embedded();
    let services: Vec<_> = catalog.services().collect();
    let order = order_services(
        &services,
        ["n8n", "litellm", "redis", "postgresql", "caddy"],
    );
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert!(pos("postgresql") < pos("n8n") && pos("postgresql") < pos("litellm"));
    assert!(pos("redis") < pos("litellm") && pos("caddy") < pos("n8n"));
}
