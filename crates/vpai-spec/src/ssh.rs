//! What `[hosts.X] ssh_options` may pass to `ssh -o`.

/// The `ssh -o` options `[hosts.X] ssh_options` may set: connection tuning that runs no
/// command, reads or writes no file and forwards nothing. The stack file arrives through
/// pull requests and vpai holds the vault key while ssh runs, so an option such as
/// `ProxyCommand`, `LocalCommand`, `KnownHostsCommand` or `Match exec` would be code
/// execution with that key; those belong in `~/.ssh/config`, which only its owner edits.
pub const SSH_OPTIONS: &[&str] = &[
    "AddressFamily",
    "Ciphers",
    "Compression",
    "ConnectTimeout",
    "ConnectionAttempts",
    "HostKeyAlgorithms",
    "IPQoS",
    "KexAlgorithms",
    "LogLevel",
    "MACs",
    "PubkeyAcceptedAlgorithms",
    "ServerAliveCountMax",
    "ServerAliveInterval",
    "TCPKeepAlive",
];

/// Whether `key = value` may reach `ssh -o`: `Err((on_key, message, help))` otherwise.
/// Used by the spec (with a span) and again by the SSH transport before it runs ssh.
pub fn check_ssh_option(key: &str, value: &str) -> Result<(), (bool, String, String)> {
    if !SSH_OPTIONS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        let shown: String = key.chars().filter(|c| !c.is_control()).take(64).collect();
        return Err((
            true,
            format!("`{shown}` is not an ssh option vpai passes on"),
            format!(
                "`ssh_options` takes connection tuning only ({}); set anything else, such as ProxyJump, for this host in ~/.ssh/config",
                SSH_OPTIONS.join(", ")
            ),
        ));
    }
    let value_ok = !value.is_empty()
        && value.len() <= 256
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._,+:-".contains(c));
    if !value_ok {
        return Err((
            false,
            format!("the value of ssh option `{key}` is not a plain word"),
            "use letters, digits and `@._,+:-` only (e.g. `ServerAliveInterval = \"30\"`)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_running_options_are_refused() {
        for key in [
            "ProxyCommand",
            "proxycommand",
            "LocalCommand",
            "PermitLocalCommand",
            "KnownHostsCommand",
            "Match",
            "ProxyJump",
            "ProxyUseFdpass",
            "Include",
            "IdentityAgent",
            "ControlPath",
            "StrictHostKeyChecking",
            "UserKnownHostsFile",
            "SendEnv",
            "SetEnv",
            "RemoteCommand",
            "LocalForward",
            "ForwardAgent",
        ] {
            let err = check_ssh_option(key, "yes").unwrap_err();
            assert!(err.0, "{key}");
            assert!(err.2.contains("~/.ssh/config"), "{key}");
        }
    }

    #[test]
    fn tuning_options_pass_and_values_stay_words() {
        check_ssh_option("ServerAliveInterval", "30").unwrap();
        check_ssh_option(
            "ciphers",
            "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
        )
        .unwrap();
        for bad in [
            "",
            "30 -oProxyCommand=x",
            "-x",
            "a\nb",
            "$(id)",
            "x;y",
            "a=b",
        ] {
            assert!(
                !check_ssh_option("ConnectTimeout", bad).unwrap_err().0,
                "{bad:?}"
            );
        }
    }
}
