//! `[hardening]`: what `vpai harden` makes of a declared host's SSH and firewall. The
//! values end up in sshd_config, sudoers and authorized_keys on the host, so each one
//! is accepted only when it cannot become another directive, option or line there.

use crate::values::{Refusal, parse_duration};
use serde::Deserialize;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// `[hardening]` of stack.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardeningSpec {
    /// The user vpai creates and logs in as once root login is off (passwordless sudo).
    #[serde(default = "default_deploy_user")]
    pub deploy_user: Spanned<String>,
    /// The public key to authorize for it, relative to stack.toml
    /// [default: the host's `identity` + `.pub`].
    #[serde(default)]
    pub deploy_key: Option<Spanned<String>>,
    /// How long a change of sshd or the firewall stays on the host unconfirmed before
    /// the host puts the previous configuration back by itself (`30s`, `5m`, `1h`).
    #[serde(default = "default_revert_after")]
    pub revert_after: Spanned<String>,
    /// Manage an nftables firewall (table `inet vpai`): only SSH, 80, 443 and
    /// `allow_ports` open.
    #[serde(default = "default_true")]
    pub firewall: bool,
    /// Extra TCP ports to open.
    #[serde(default)]
    pub allow_ports: Vec<Spanned<u16>>,
    /// Security updates install themselves daily (unattended-upgrades, installed
    /// when missing).
    #[serde(default = "default_true")]
    pub upgrades: bool,
    /// fail2ban bans an address after 5 failed SSH logins in 10 minutes (never
    /// loopback or the `[access] vpn` ranges); installed when missing.
    #[serde(default = "default_true")]
    pub fail2ban: bool,
}

impl Default for HardeningSpec {
    fn default() -> Self {
        HardeningSpec {
            deploy_user: default_deploy_user(),
            deploy_key: None,
            revert_after: default_revert_after(),
            firewall: true,
            allow_ports: Vec::new(),
            upgrades: true,
            fail2ban: true,
        }
    }
}

fn default_deploy_user() -> Spanned<String> {
    Spanned::new(0..0, "vpai".into())
}
fn default_revert_after() -> Spanned<String> {
    Spanned::new(0..0, "5m".into())
}
fn default_true() -> bool {
    true
}

/// Shortest revert delay: the check after a change (a fresh SSH login) must fit in it.
pub const MIN_REVERT_AFTER: Duration = Duration::from_secs(3);
/// Longest: an hour without SSH is the most a mistake may cost.
pub const MAX_REVERT_AFTER: Duration = Duration::from_secs(3600);

impl HardeningSpec {
    /// The revert delay (validated by [`HardeningSpec::validate`]).
    pub fn revert_delay(&self) -> Duration {
        parse_duration(self.revert_after.get_ref()).unwrap_or(Duration::from_secs(300))
    }

    pub fn validate(&self) -> Result<(), (Range<usize>, String, String)> {
        let at = |span: Range<usize>| move |r: Refusal| (span, r.message, r.help);
        check_deploy_user(self.deploy_user.get_ref()).map_err(at(self.deploy_user.span()))?;
        let delay =
            parse_duration(self.revert_after.get_ref()).map_err(at(self.revert_after.span()))?;
        if !(MIN_REVERT_AFTER..=MAX_REVERT_AFTER).contains(&delay) {
            return Err((
                self.revert_after.span(),
                format!(
                    "`revert_after = \"{}\"` is out of range",
                    self.revert_after.get_ref().escape_debug()
                ),
                "from 3s to 1h: long enough for a fresh SSH login, short enough to wait for".into(),
            ));
        }
        if let Some(key) = &self.deploy_key {
            let k = key.get_ref();
            if k.is_empty() || k.chars().any(char::is_control) {
                return Err((
                    key.span(),
                    "`deploy_key` is not a file path".into(),
                    "the path of a public key file, relative to stack.toml (`keys/deploy.pub`)"
                        .into(),
                ));
            }
        }
        for port in &self.allow_ports {
            if *port.get_ref() == 0 {
                return Err((
                    port.span(),
                    "port 0 is not a port".into(),
                    "`allow_ports` lists TCP ports from 1 to 65535".into(),
                ));
            }
        }
        Ok(())
    }
}

/// A user name that can be neither an option of a command nor more than one word of
/// sshd_config or sudoers: `[a-z_][a-z0-9_-]*`, at most 32 characters, not root.
pub fn check_deploy_user(user: &str) -> Result<(), Refusal> {
    let ok = (1..=32).contains(&user.len())
        && user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(Refusal {
            message: format!("`{}` is not a deploy user name", user.escape_debug()),
            help: "lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 32 characters (`vpai`, `deploy`)".into(),
        });
    }
    if user == "root" {
        return Err(Refusal {
            message: "the deploy user cannot be root".into(),
            help: "hardening turns root login off; name a user vpai creates (`vpai`)".into(),
        });
    }
    Ok(())
}

/// One OpenSSH public key line: `TYPE BASE64 [COMMENT]`, no options, no second line
/// (a second line would authorize a second key; options would change what it may do).
pub fn check_public_key(text: &str) -> Result<(), Refusal> {
    let refuse = |why: &str| Refusal {
        message: format!("not an OpenSSH public key: {why}"),
        help:
            "one line `ssh-ed25519 AAAA... comment`, as `ssh-keygen` writes it in the `.pub` file"
                .into(),
    };
    let line = text.strip_suffix('\n').unwrap_or(text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err(refuse("the file is empty"));
    }
    if line.contains(['\n', '\r']) {
        return Err(refuse("more than one line"));
    }
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(refuse("it holds control characters"));
    }
    let mut words = line.split_ascii_whitespace();
    let kind = words.next().unwrap_or_default();
    let known = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    if !known.contains(&kind) {
        return Err(refuse(
            if kind.contains("PRIVATE") || line.starts_with("-----") {
                "this is a private key: give the `.pub` file"
            } else {
                "unknown key type (or options before it)"
            },
        ));
    }
    let body = words.next().unwrap_or_default();
    if body.len() < 16
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    {
        return Err(refuse("the key material is not base64"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("4s").unwrap(), Duration::from_secs(4));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        for bad in ["", "5", "m", "5 m", "-5m", "0s", "5w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users() {
        for ok in ["vpai", "deploy-1", "_ops"] {
            check_deploy_user(ok).unwrap();
        }
        for bad in [
            "root",
            "-oProxy",
            "Deploy",
            "a b",
            "a\nAllowUsers x",
            "",
            "a.b",
        ] {
            assert!(check_deploy_user(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn public_keys() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4qd0fWqvGm3bW8Q2kz op@laptop\n";
        check_public_key(key).unwrap();
        assert!(check_public_key(&format!("{key}{key}")).is_err());
        assert!(check_public_key(&format!("command=\"sh\" {key}")).is_err());
        assert!(check_public_key("-----BEGIN OPENSSH PRIVATE KEY-----\n").is_err());
        assert!(check_public_key("").is_err());
    }
}
