//! `vpai secrets import-ansible`: VPAI's Ansible variables onto vpai's secret names.
//!
//! VPAI keeps its secrets in `inventory/group_vars/all/secrets.yml`, an Ansible Vault
//! file of `vault_*` variables (seed 002 §7 shows an older layout without the prefix;
//! both are read). Values can also sit in a plain YAML file as `!vault |` strings
//! (`ansible-vault encrypt_string`). [`ANSIBLE_NAMES`] says where each variable goes;
//! infrastructure settings that the same file holds (domain, IPs, chat ids) belong in
//! `stack.toml` and are listed, not imported; anything else is listed as unknown.

use crate::ansible::{self, AnsibleVaultError};
use crate::record::{EventKind, SecretOrigin};
use crate::store::SecretStore;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// How an Ansible variable maps onto vpai. Names are given without the `vault_` prefix.
pub struct AnsibleName {
    pub ansible: &'static str,
    /// vpai secret names that receive the value (several when VPAI shared one value).
    pub vpai: &'static [&'static str],
    pub origin: SecretOrigin,
}

const fn internal(ansible: &'static str, vpai: &'static [&'static str]) -> AnsibleName {
    AnsibleName {
        ansible,
        vpai,
        origin: SecretOrigin::Generated,
    }
}

const fn external(ansible: &'static str, vpai: &'static [&'static str]) -> AnsibleName {
    AnsibleName {
        ansible,
        vpai,
        origin: SecretOrigin::External,
    }
}

/// Variable names of the VPAI Ansible project (inventory/group_vars/all/main.yml reads
/// each `x` from `vault_x`), and the vpai secrets they become.
pub const ANSIBLE_NAMES: &[AnsibleName] = &[
    // VPAI used one PostgreSQL password for every role ("tous les users PG partagent
    // postgresql_password"). vpai gives each application its own role password; on
    // import they all start with the shared value, so the existing database keeps
    // working, and `vpai rotate n8n_db_password` (etc.) separates them afterwards.
    internal(
        "postgresql_password",
        &[
            "postgresql_password",
            "n8n_db_password",
            "litellm_db_password",
        ],
    ),
    internal("redis_password", &["redis_password"]),
    internal("qdrant_api_key", &["qdrant_api_key"]),
    internal("n8n_encryption_key", &["n8n_encryption_key"]),
    internal("n8n_owner_password", &["n8n_owner_password"]),
    internal("n8n_webhook_secret", &["n8n_webhook_secret"]),
    internal("litellm_master_key", &["litellm_master_key"]),
    internal("litellm_salt_key", &["litellm_salt_key"]),
    internal("litellm_ui_password", &["litellm_ui_password"]),
    internal("grafana_admin_password", &["grafana_admin_password"]),
    internal("openclaw_api_key", &["openclaw_api_key"]),
    internal("openclaw_gateway_token", &["openclaw_gateway_token"]),
    internal("sure_secret_key_base", &["sure_secret_key_base"]),
    internal("sure_db_password", &["sure_db_password"]),
    internal("github_webhook_secret", &["github_webhook_secret"]),
    internal("nocodb_jwt_secret", &["nocodb_jwt_secret"]),
    internal("kitsu_secret_key", &["kitsu_secret_key"]),
    internal("kitsu_admin_password", &["kitsu_admin_password"]),
    internal("firefly_app_key", &["firefly_app_key"]),
    internal("flash_suite_auth_secret", &["flash_suite_auth_secret"]),
    internal(
        "flash_suite_postgres_password",
        &["flash_suite_db_password"],
    ),
    internal("flash_suite_internal_key", &["flash_suite_internal_key"]),
    internal("af_webhook_secret", &["af_webhook_secret"]),
    internal("memory_webhook_secret", &["memory_webhook_secret"]),
    internal(
        "memory_telegram_webhook_secret",
        &["memory_telegram_webhook_secret"],
    ),
    internal("n8n_mcp_auth_token", &["n8n_mcp_auth_token"]),
    // Keys from providers: the operator got them from a console (seed 002 §4).
    external("anthropic_api_key", &["anthropic_api_key"]),
    external("openai_api_key", &["openai_api_key"]),
    external("openrouter_api_key", &["openrouter_api_key"]),
    external("google_gemini_api_key", &["google_gemini_api_key"]),
    external("huggingface_token", &["huggingface_token"]),
    external("brave_search_api_key", &["brave_search_api_key"]),
    external("fal_ai_api_key", &["fal_ai_api_key"]),
    external("byteplus_api_key", &["byteplus_api_key"]),
    external("sure_api_key", &["sure_api_key"]),
    external("nocodb_api_token", &["nocodb_api_token"]),
    external(
        "telegram_monitoring_bot_token",
        &["telegram_monitoring_bot_token"],
    ),
    external(
        "telegram_openclaw_bot_token",
        &["telegram_openclaw_bot_token"],
    ),
    external("ovh_application_key", &["ovh_application_key"]),
    external("ovh_application_secret", &["ovh_application_secret"]),
    external("ovh_consumer_key", &["ovh_consumer_key"]),
    external("hetzner_cloud_token", &["hetzner_cloud_token"]),
    external("hetzner_s3_access_key", &["s3_access_key"]),
    external("hetzner_s3_secret_key", &["s3_secret_key"]),
    external("s3_access_key", &["s3_access_key"]),
    external("s3_secret_key", &["s3_secret_key"]),
    external("headscale_auth_key", &["headscale_auth_key"]),
    external("ghcr_pull_token", &["ghcr_pull_token"]),
    external("namecheap_api_key", &["namecheap_api_key"]),
    // A URL that accepts pushes or posts without further credentials is a credential.
    external("backup_heartbeat_url", &["backup_heartbeat_url"]),
    external("notification_webhook_url", &["notification_webhook_url"]),
];

/// Variables that VPAI kept in its vault but that are settings, not secrets: they
/// belong in `stack.toml` (name, where it goes).
pub const ANSIBLE_SETTINGS: &[(&str, &str)] = &[
    ("domain_name", "the stack's domain"),
    ("prod_hostname", "the host's name"),
    ("prod_ip", "the host's address"),
    ("prod_ssh_host", "the host's SSH address"),
    ("vpn_hostname", "the VPN server's name"),
    ("vpn_headscale_url", "the Headscale URL"),
    ("vpn_headscale_ip", "the Headscale address"),
    ("vpn_tailscale_ip", "the VPN mesh address"),
    ("vpn_server_public_ip", "the VPN server's public address"),
    ("vps_tailscale_ip", "the host's mesh address"),
    ("s3_bucket_name", "the backup bucket"),
    ("s3_bucket_backups", "the backup bucket"),
    ("s3_bucket_shared", "the shared bucket"),
    ("notification_email", "the alert e-mail"),
    ("telegram_monitoring_chat_id", "the monitoring chat id"),
    ("telegram_openclaw_chat_id", "the OpenClaw chat id"),
    ("telegram_openclaw_group_id", "the OpenClaw group id"),
    ("ssh_authorized_keys", "the operators' SSH public keys"),
    ("grafana_admin_user", "the Grafana admin user name"),
    ("litellm_ui_username", "the LiteLLM UI user name"),
    ("ovh_endpoint", "the OVH API endpoint"),
    ("workstation_pi_ip", "the workstation's address"),
];

/// Look up an Ansible variable (with or without the `vault_` prefix).
pub fn lookup(name: &str) -> Option<&'static AnsibleName> {
    let bare = name.strip_prefix("vault_").unwrap_or(name);
    ANSIBLE_NAMES.iter().find(|n| n.ansible == bare)
}

fn setting(name: &str) -> Option<&'static str> {
    let bare = name.strip_prefix("vault_").unwrap_or(name);
    ANSIBLE_SETTINGS
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|(_, hint)| *hint)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Vault(#[from] AnsibleVaultError),
    #[error(
        "the decrypted content of `{path}` is not a YAML mapping of variables{position}\n  help: it should look like `vault_postgresql_password: \"...\"`, one variable per line"
    )]
    Yaml { path: String, position: String },
    #[error("cannot read the Ansible Vault password: {0}")]
    Password(String),
    #[error("cannot read `{path}`: {reason}\n  help: {help}")]
    Read {
        path: String,
        reason: String,
        help: &'static str,
    },
}

/// Read the Ansible file to import: a regular file (a link to one is fine: it is only
/// read) of at most 16 MiB, as text.
pub fn read_ansible_file(path: &std::path::Path) -> Result<Zeroizing<String>, ImportError> {
    let fail = |reason: String| ImportError::Read {
        path: path.display().to_string(),
        reason,
        help: "give the Ansible Vault file itself, e.g. `inventory/group_vars/all/secrets.yml`",
    };
    let bytes = crate::fsutil::read_regular(path, true, crate::limits::MAX_FILE_LEN)
        .map_err(|problem| fail(problem.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| fail("it is not UTF-8 text".into()))?;
    Ok(Zeroizing::new(text.to_string()))
}

/// A value found for a known variable.
pub struct FoundSecret {
    /// The variable as written in the file.
    pub ansible: String,
    pub vpai: &'static [&'static str],
    pub origin: SecretOrigin,
    pub value: Zeroizing<String>,
}

/// What a file holds, sorted for the operator. No value appears in `Debug`.
#[derive(Default)]
pub struct AnsibleVars {
    pub secrets: Vec<FoundSecret>,
    /// Settings for `stack.toml`: (variable, what it is).
    pub settings: Vec<(String, &'static str)>,
    /// Variables vpai does not know.
    pub unknown: Vec<String>,
    /// Known variables that were not imported, and why (empty, not a string, ...).
    pub skipped: Vec<(String, String)>,
}

impl std::fmt::Debug for AnsibleVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnsibleVars")
            .field(
                "secrets",
                &self.secrets.iter().map(|s| &s.ansible).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .field("unknown", &self.unknown)
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// Read the variables of an Ansible file: a whole-file vault, or plain YAML whose
/// values may be `!vault` strings. `password` is called at most once, only if
/// something is encrypted.
pub fn read_vars(
    path: &str,
    text: &str,
    password: &mut dyn FnMut() -> Result<Zeroizing<Vec<u8>>, ImportError>,
) -> Result<AnsibleVars, ImportError> {
    let mut cached: Option<Zeroizing<Vec<u8>>> = None;
    let mut get_password =
        |cached: &mut Option<Zeroizing<Vec<u8>>>| -> Result<Zeroizing<Vec<u8>>, ImportError> {
            if cached.is_none() {
                *cached = Some(password()?);
            }
            Ok(cached.clone().expect("set above"))
        };
    let whole_file = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with("$ANSIBLE_VAULT;");
    let yaml: Zeroizing<String> = if whole_file {
        let pw = get_password(&mut cached)?;
        let plain = ansible::decrypt(path, text, &pw)?;
        Zeroizing::new(
            String::from_utf8(plain.to_vec()).map_err(|_| ImportError::Yaml {
                path: path.to_string(),
                position: " (it is not UTF-8 text)".into(),
            })?,
        )
    } else {
        Zeroizing::new(text.to_string())
    };
    let vars = parse_yaml(path, &yaml)?;
    let mut out = AnsibleVars::default();
    for (name, var) in vars {
        let Some(known) = lookup(&name) else {
            match setting(&name) {
                Some(hint) => out.settings.push((name, hint)),
                None => out.unknown.push(name),
            }
            continue;
        };
        let value = match var {
            Var::Text(v) if v.trim_start().starts_with("$ANSIBLE_VAULT;") => {
                let pw = get_password(&mut cached)?;
                let plain = ansible::decrypt(&format!("{path}: {name}"), &v, &pw)?;
                match String::from_utf8(plain.to_vec()) {
                    Ok(s) => Zeroizing::new(s),
                    Err(_) => {
                        out.skipped
                            .push((name, "its decrypted value is not text".into()));
                        continue;
                    }
                }
            }
            Var::Text(v) => v,
            Var::Other(kind) => {
                out.skipped.push((
                    name,
                    format!("it is a {kind}, not a string: quote it in the Ansible file (YAML may have changed it, e.g. dropped leading zeros)"),
                ));
                continue;
            }
        };
        if value.is_empty() {
            out.skipped.push((name, "it is empty".into()));
            continue;
        }
        if let Err(problem) = crate::limits::check_value(&value) {
            out.skipped.push((
                name,
                format!("its value {problem}; set a one-line value with `vpai secrets set`"),
            ));
            continue;
        }
        out.secrets.push(FoundSecret {
            ansible: name,
            vpai: known.vpai,
            origin: known.origin,
            value,
        });
    }
    Ok(out)
}

/// What an import did, by vpai name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub added: Vec<String>,
    pub replaced: Vec<String>,
    pub unchanged: Vec<String>,
    /// Already in the vault with another value; kept (pass `overwrite` to replace).
    pub kept: Vec<String>,
}

impl SecretStore {
    /// Put imported values into the store. Existing different values are kept unless
    /// `overwrite`: a vault that already served a deploy must not lose, say, the
    /// `n8n_encryption_key` its data was encrypted with.
    pub fn import(&mut self, vars: &AnsibleVars, source: &str, overwrite: bool) -> ImportOutcome {
        let mut outcome = ImportOutcome::default();
        for found in &vars.secrets {
            for &name in found.vpai {
                let detail = Some(format!("from {source} ({})", found.ansible));
                match self.get(name) {
                    Some(current) if current == found.value.as_str() => {
                        outcome.unchanged.push(name.to_string());
                    }
                    Some(_) if !overwrite => outcome.kept.push(name.to_string()),
                    existing => {
                        let was_there = existing.is_some();
                        self.set_with(
                            name,
                            found.value.to_string(),
                            found.origin,
                            EventKind::Imported,
                            detail,
                        );
                        if was_there {
                            outcome.replaced.push(name.to_string());
                        } else {
                            outcome.added.push(name.to_string());
                        }
                    }
                }
            }
        }
        outcome
    }
}

enum Var {
    Text(Zeroizing<String>),
    Other(&'static str),
}

fn parse_yaml(path: &str, yaml: &str) -> Result<BTreeMap<String, Var>, ImportError> {
    let bad = |position: String| ImportError::Yaml {
        path: path.to_string(),
        position,
    };
    if yaml.trim().trim_start_matches("---").trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    // The parser's own message may quote a line of decrypted YAML: keep the position only.
    let map: Option<BTreeMap<String, Var>> = serde_saphyr::from_str(yaml).map_err(|e| {
        bad(e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default())
    })?;
    map.ok_or_else(|| bad(String::new()))
}

impl<'de> de::Deserialize<'de> for Var {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VarVisitor;
        impl<'de> Visitor<'de> for VarVisitor {
            type Value = Var;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Var, E> {
                Ok(Var::Text(Zeroizing::new(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Var, E> {
                Ok(Var::Text(Zeroizing::new(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Var, E> {
                Ok(Var::Other("boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Var, E> {
                Ok(Var::Other("number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Var, E> {
                Ok(Var::Other("number"))
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<Var, E> {
                Ok(Var::Other("number"))
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Var, E> {
                Ok(Var::Other("number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Var, E> {
                Ok(Var::Other("number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Var, E> {
                Ok(Var::Text(Zeroizing::new(String::new())))
            }
            fn visit_none<E: de::Error>(self) -> Result<Var, E> {
                Ok(Var::Text(Zeroizing::new(String::new())))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Var, D::Error> {
                d.deserialize_any(VarVisitor)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Var, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Var::Other("list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Var, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Var::Other("mapping"))
            }
        }
        deserializer.deserialize_any(VarVisitor)
    }
}

/// The Ansible Vault password from `file` (surrounding whitespace stripped, as Ansible
/// does), or asked on the terminal. Ansible's executable password scripts are not
/// run: vpai does not execute what a file path points at.
pub fn ansible_password(
    file: Option<&std::path::Path>,
    vault: &str,
) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let Some(path) = file else {
        let pw = crate::key::read_hidden(&format!("Ansible Vault password for {vault}: "))
            .map_err(|_| {
                ImportError::Password(
                    "there is no terminal to ask on\n  help: pass `--password-file FILE` (or set ANSIBLE_VAULT_PASSWORD_FILE)"
                        .into(),
                )
            })?;
        return Ok(Zeroizing::new(pw.as_bytes().to_vec()));
    };
    let fail = |problem: crate::fsutil::FileProblem| {
        ImportError::Password(format!("`{}`: {problem}", path.display()))
    };
    // Opened without blocking and checked on the descriptor: a FIFO or a device is
    // refused before anything is read, and at most 64 KiB are read.
    let (mut file, meta) = crate::fsutil::open_regular(path, true).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 != 0 {
            let run = if path.components().count() == 1 {
                format!("./{}", path.display())
            } else {
                path.display().to_string()
            };
            return Err(ImportError::Password(format!(
                "`{}` is executable, and vpai does not run password scripts\n  help: run it into a private file (`umask 077; {run} > pw.txt`), then pass `--password-file pw.txt`",
                path.display()
            )));
        }
    }
    let bytes = crate::fsutil::read_capped(&mut file, &meta, crate::limits::MAX_KEY_FILE_LEN)
        .map_err(fail)?;
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Err(ImportError::Password(format!(
            "`{}` is empty",
            path.display()
        )));
    }
    Ok(Zeroizing::new(trimmed.to_vec()))
}
