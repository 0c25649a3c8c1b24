//! What vpai accepts as a secret, and how much it reads from any file that holds one.
//!
//! A secret is one line of at most [`MAX_VALUE_LEN`] bytes. 8 KiB is twice what the
//! largest real secret needs (a 4096-bit RSA key in PEM is about 3.3 KB; API keys,
//! passwords and tokens are well under 200 bytes), and small enough that masking every
//! value in every line of output stays fast. Control characters are refused: a newline
//! or a NUL in a value breaks the env files and configs it is rendered into, and an
//! escape sequence would reach the terminal of whoever reads a log.
//!
//! Files are read with a cap, so that `/dev/zero`, a FIFO or a huge file given by
//! mistake is an error instead of a hang or gigabytes of memory.

/// The longest secret value, in bytes (8 KiB).
pub const MAX_VALUE_LEN: usize = 8 * 1024;

/// The longest secret name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// The largest vault, Ansible file or edited file vpai reads (16 MiB).
pub const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;

/// The largest passphrase or identity file vpai reads (64 KiB).
pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

/// Why a value is not accepted as a secret. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    #[error(
        "is {len} bytes long, above the limit of {MAX_VALUE_LEN} bytes (8 KiB); secrets are keys, passwords and tokens, not files"
    )]
    TooLong { len: usize },
    #[error("contains {what}: a secret is a single line without control characters")]
    Control { what: String },
}

/// Check a value given for a secret (by `secrets set`, `edit`, an import, a rotation,
/// or read from a vault). The error never quotes the value.
pub fn check_value(value: &str) -> Result<(), ValueProblem> {
    if value.len() > MAX_VALUE_LEN {
        return Err(ValueProblem::TooLong { len: value.len() });
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        let what = match c {
            '\n' => "a newline".to_string(),
            '\r' => "a carriage return".to_string(),
            '\0' => "a NUL character".to_string(),
            '\t' => "a tab".to_string(),
            '\u{1b}' => "an escape character".to_string(),
            c => format!("the control character U+{:04X}", c as u32),
        };
        return Err(ValueProblem::Control { what });
    }
    Ok(())
}

/// Names as the catalog writes them, so they can be used in templates and printed
/// safely: a lowercase letter, then lowercase letters, digits and `_`, at most
/// [`MAX_NAME_LEN`] bytes.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Names a vault may hold: what [`valid_name`] accepts, and the names of custom
/// catalogs written before names were checked (`apiKey`, `API-KEY`), but nothing that
/// could reach a terminal as anything but a name: ASCII letters, digits, `_`, `-`
/// and `.`, at most 128 bytes.
pub(crate) fn storable_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_values_up_to_the_limit_pass() {
        assert!(check_value("sk-proj-abc'\"$`\\ with spaces and ünïcode").is_ok());
        assert!(check_value(&"x".repeat(MAX_VALUE_LEN)).is_ok());
        assert_eq!(
            check_value(&"x".repeat(MAX_VALUE_LEN + 1)),
            Err(ValueProblem::TooLong {
                len: MAX_VALUE_LEN + 1
            })
        );
    }

    #[test]
    fn control_characters_are_named_never_the_value() {
        for (value, what) in [
            ("zq9-one\nline-two", "a newline"),
            ("zq9-windows\r", "a carriage return"),
            ("zq9-nul\0byte", "NUL"),
            ("zq9-tab\there", "a tab"),
            ("zq9-esc\u{1b}[31m", "escape"),
            ("zq9-bell\u{7}", "U+0007"),
            ("zq9-del\u{7f}", "U+007F"),
            ("zq9-c1\u{85}", "U+0085"),
        ] {
            let err = check_value(value).unwrap_err().to_string();
            assert!(err.contains(what), "{value:?}: {err}");
            assert!(!err.contains("zq9"), "{err}");
        }
    }

    #[test]
    fn names() {
        assert!(valid_name("n8n_encryption_key"));
        for bad in ["", "A", "1abc", "a-b", "a b", "a\nb", "é", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_name(&"a".repeat(64)));
        assert!(storable_name("apiKey") && storable_name("API-KEY.v2"));
        for bad in ["", "a b", "a\u{1b}[2J", "é", &"a".repeat(129)] {
            assert!(!storable_name(bad), "{bad:?}");
        }
    }
}
