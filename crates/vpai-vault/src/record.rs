//! What the vault keeps about one secret: its value, where it came from, and its
//! history (events and dates only, never old values).
//!
//! Old values are not kept, with one exception: while a rotation is in flight
//! ([`SecretRecord::rotation`]) the previous value stays, encrypted, until the deploy
//! confirms the services are healthy with the new one. That is the only moment an old
//! value is needed: to roll back (restore a database role's password, recreate the
//! same services with the old files) if the deploy fails half-way, or after a crash.
//! Once confirmed, the old value is erased; a credential that outlives its rotation is
//! exactly what rotation is meant to end.

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretOrigin {
    /// Made by vpai from the catalog's declaration (or an internal secret brought in
    /// from another tool, which vpai may regenerate the same way).
    Generated,
    /// Given by the operator (API keys, bot tokens): never generated.
    External,
}

impl SecretOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretOrigin::Generated => "generated",
            SecretOrigin::External => "external",
        }
    }
}

/// One line of a secret's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEvent {
    /// Unix seconds.
    pub at: u64,
    pub kind: EventKind,
    /// Where it came from (`import from secrets.yml (vault_redis_password)`), never a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Generated,
    Set,
    Edited,
    Imported,
    /// Moved from the plain `.vpai/secrets.toml` of the foundation.
    Migrated,
    RotationStarted,
    Rotated,
    RotationRolledBack,
}

/// A rotation whose deploy has not confirmed yet.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationInFlight {
    /// Unix seconds.
    pub started: u64,
    pub(crate) previous_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous_rotated: Option<u64>,
}

impl Drop for RotationInFlight {
    fn drop(&mut self) {
        self.previous_value.zeroize();
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub value: String,
    pub origin: SecretOrigin,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds of the last change of value after creation.
    #[serde(default)]
    pub rotated: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<SecretEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationInFlight>,
}

/// History is for people, not forensics: the oldest entries go past this many.
pub(crate) const HISTORY_LIMIT: usize = 64;

impl SecretRecord {
    pub(crate) fn new(value: String, origin: SecretOrigin, at: u64, event: SecretEvent) -> Self {
        SecretRecord {
            value,
            origin,
            created: at,
            rotated: None,
            history: vec![event],
            rotation: None,
        }
    }

    /// When the value last changed (creation or rotation).
    pub fn last_change(&self) -> u64 {
        self.rotated.unwrap_or(self.created).max(self.created)
    }

    /// Unix seconds of the last completed rotation.
    pub fn last_rotation(&self) -> Option<u64> {
        self.history
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::Rotated)
            .map(|e| e.at)
    }

    pub(crate) fn push_event(&mut self, event: SecretEvent) {
        self.history.push(event);
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
    }
}

impl Drop for SecretRecord {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl std::fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRecord")
            .field("value", &"<redacted>")
            .field("origin", &self.origin)
            .field("created", &self.created)
            .field("rotated", &self.rotated)
            .field("history", &self.history)
            .field(
                "rotation_in_flight",
                &self.rotation.as_ref().map(|r| r.started),
            )
            .finish()
    }
}
