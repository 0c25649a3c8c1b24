use super::*;
use vpai_catalog::Catalog;
use vpai_model::{BuildOptions, build};
use vpai_spec::StackFile;

/// The example with fixed, fake secret values so snapshots are stable.
fn example() -> (Stack, SecretStore) {
    let file = StackFile::example();
    let stack = build(&file, &Catalog::embedded(), &BuildOptions::default()).unwrap();
    let mut store = SecretStore::in_memory();
    for (_, def) in stack.secret_defs() {
        if !def.external {
            store.set(
                &def.name,
                format!("{}TEST-{}", def.prefix, def.name),
                vpai_vault::SecretOrigin::Generated,
            );
        }
    }
    (stack, store)
}

fn render_example() -> Rendered {
    let (stack, store) = example();
    render(&stack, &store, &TemplateSource::embedded()).unwrap()
}

#[test]
fn rendering_is_deterministic() {
    let a = render_example();
    let b = render_example();
    assert_eq!(a.artifacts.len(), b.artifacts.len());
    for (x, y) in a.artifacts.iter().zip(&b.artifacts) {
        assert_eq!(x.path, y.path);
        assert_eq!(x.bytes, y.bytes, "{}", x.path);
    }
}

#[test]
fn snapshot_every_artifact() {
    let r = render_example();
    for a in &r.artifacts {
        let name = a.path.replace('/', "__");
        insta::assert_snapshot!(
            name,
            format!(
                "# mode {:04o} owner {}:{}\n{}",
                a.mode,
                a.owner.0,
                a.owner.1,
                a.text()
            )
        );
    }
}

#[test]
fn no_secret_value_in_compose_files() {
    let (stack, store) = example();
    let r = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    for file in ["docker-compose.yml", "docker-compose-infra.yml"] {
        let text = r.get(file).unwrap().text().to_string();
        for v in store.values() {
            assert!(!text.contains(v), "{file} contains a secret");
        }
    }
}

#[test]
fn phase_b_repeats_no_phase_a_service_000_16() {
    let r = render_example();
    let apps = r.get("docker-compose.yml").unwrap().text().to_string();
    for infra in ["postgresql:", "redis:", "qdrant:", "caddy:"] {
        assert!(
            !apps.contains(&format!("\n  {infra}\n")),
            "{infra} in phase B"
        );
    }
    assert!(apps.contains("external: true"));
}

#[test]
fn rotation_matrix_is_derived_from_rendering() {
    let r = render_example();
    let users = r.services_using_secret("postgresql_password");
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["postgresql"]);
    let users = r.services_using_secret("redis_password");
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["litellm", "redis"]);
    let users = r.services_using_secret("n8n_db_password");
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["n8n"]);
}

#[test]
fn secret_files_are_private_and_configs_belong_to_the_container_000_20() {
    let r = render_example();
    for a in &r.artifacts {
        if a.secret {
            assert_eq!(a.mode & 0o007, 0, "{} is world-readable", a.path);
        }
    }
    let litellm = r.get("configs/litellm/config.yaml").unwrap();
    assert_eq!(litellm.mode, 0o640);
    let qdrant = r.get("configs/qdrant/production.yaml").unwrap();
    assert_eq!(qdrant.owner, (1000, 1000));
}

#[test]
fn a_changed_secret_changes_only_its_users_hashes() {
    let (stack, mut store) = example();
    let before = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    store.set(
        "qdrant_api_key",
        "changed".into(),
        vpai_vault::SecretOrigin::Generated,
    );
    let after = render(&stack, &store, &TemplateSource::embedded()).unwrap();
    for (svc, h) in &before.input_hashes {
        let changed = after.input_hashes[svc] != *h;
        assert_eq!(changed, svc == "qdrant", "{svc}");
    }
}

#[test]
fn litellm_config_turns_background_health_checks_off() {
    let r = render_example();
    let cfg = r
        .get("configs/litellm/config.yaml")
        .unwrap()
        .text()
        .to_string();
    assert!(cfg.contains("background_health_checks: false"));
    assert!(!cfg.contains("health_check_interval"));
}
