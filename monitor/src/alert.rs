//! What an alert says.
//!
//! An alert is one JSON object (the webhook body, `SEALWAX_ALERT_JSON`, a
//! line of `--json` output). Its `id` is a hash of everything else, so a
//! receiver can drop the repeats that at-least-once delivery may cause.

use std::fmt;

use sealwax_proto::minisign::PublicKey;
use sealwax_proto::Hash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The kind of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// A key that is not expected was registered for a watched publisher.
    UnexpectedKey,
    /// A key was registered (reported for every publisher by `publisher = "*"`).
    KeyRegistered,
    /// A key of a watched publisher was revoked.
    KeyRevoked,
    /// A key of a watched publisher was suspended: its chain passes through a compromised key.
    KeySuspended,
    /// A suspended key of a watched publisher was vouched for again.
    KeyVouched,
    /// A watched publisher's release was signed by a key that is not expected.
    UnexpectedSignature,
    /// A release of a watched package was signed.
    PackageSignature,
    /// The log broke its promises; see [`Problem`].
    LogMisbehaviour,
    /// The log could not be read, or did not grow, for too long.
    LogUnhealthy,
}

impl AlertKind {
    /// The kebab-case name (`SEALWAX_ALERT_KIND`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::UnexpectedKey => "unexpected-key",
            AlertKind::KeyRegistered => "key-registered",
            AlertKind::KeyRevoked => "key-revoked",
            AlertKind::KeySuspended => "key-suspended",
            AlertKind::KeyVouched => "key-vouched",
            AlertKind::UnexpectedSignature => "unexpected-signature",
            AlertKind::PackageSignature => "package-signature",
            AlertKind::LogMisbehaviour => "log-misbehaviour",
            AlertKind::LogUnhealthy => "log-unhealthy",
        }
    }
}

/// What exactly went wrong, for `log-misbehaviour` and `log-unhealthy` alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// The checkpoint does not parse.
    MalformedCheckpoint,
    /// The checkpoint is for another origin.
    WrongOrigin,
    /// The checkpoint carries the log key's name and ID but the signature is bad.
    BadCheckpointSignature,
    /// The checkpoint carries no signature by the log key.
    CheckpointNotSigned,
    /// The checkpoint is the log's, but not cosigned by a quorum of the `--policy` witnesses.
    NotCosigned,
    /// The checkpoint is smaller than one already verified.
    Rollback,
    /// The checkpoint has another root for a size already verified.
    Fork,
    /// The entries do not hash to the checkpoint's root from the last verified tree.
    InconsistentTree,
    /// A hash tile does not match the recomputed nodes.
    BadTile,
    /// An entry bundle does not parse or has the wrong number of entries.
    BadBundle,
    /// A logged entry does not parse.
    UnparseableEntry,
    /// A logged entry's signatures do not verify.
    BadEntrySignature,
    /// A logged entry breaks the rules given its publisher's key history.
    RuleViolation,
    /// The very same entry was logged twice (an honest log never does).
    DuplicateEntry,
    /// The checkpoint's key directory root is not the one the entries give.
    DirectoryMismatch,
    /// The checkpoint has no key directory line, where the log's earlier ones had.
    DirectoryMissing,
    /// The log could not be read for too long.
    Unreachable,
    /// The log has not grown for too long.
    Stale,
    /// The log grew by more than one poll reads (`[health] max_entries_per_poll`).
    OutranPollBudget,
}

impl Problem {
    /// The kebab-case name (`SEALWAX_ALERT_PROBLEM`).
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::MalformedCheckpoint => "malformed-checkpoint",
            Problem::WrongOrigin => "wrong-origin",
            Problem::BadCheckpointSignature => "bad-checkpoint-signature",
            Problem::CheckpointNotSigned => "checkpoint-not-signed",
            Problem::NotCosigned => "not-cosigned",
            Problem::Rollback => "rollback",
            Problem::Fork => "fork",
            Problem::InconsistentTree => "inconsistent-tree",
            Problem::BadTile => "bad-tile",
            Problem::BadBundle => "bad-bundle",
            Problem::UnparseableEntry => "unparseable-entry",
            Problem::BadEntrySignature => "bad-entry-signature",
            Problem::RuleViolation => "rule-violation",
            Problem::DuplicateEntry => "duplicate-entry",
            Problem::DirectoryMismatch => "directory-mismatch",
            Problem::DirectoryMissing => "directory-missing",
            Problem::Unreachable => "unreachable",
            Problem::Stale => "stale",
            Problem::OutranPollBudget => "outran-poll-budget",
        }
    }
}

/// A key as alerts name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRef {
    /// Minisign key ID (16 hex digits): a hint, not unique.
    pub key_id: String,
    /// SHA-256 of the whole Minisign public key (hex): the key's identity.
    pub key_hash: String,
    /// The Minisign public key (base64 line), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

impl KeyRef {
    /// A full reference to `key`.
    pub fn of(key: &PublicKey) -> KeyRef {
        KeyRef {
            key_id: key.key_id_hex(),
            key_hash: hex::encode(key.key_hash()),
            public_key: Some(key.to_base64()),
        }
    }

    /// A reference from a key hash and, if known, the key.
    pub fn from_hash(hash: &Hash, key: Option<&PublicKey>) -> KeyRef {
        match key {
            Some(k) => KeyRef::of(k),
            None => KeyRef {
                key_id: "unknown".to_string(),
                key_hash: hex::encode(hash),
                public_key: None,
            },
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (key hash {})", self.key_id, self.key_hash)
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Hex SHA-256 (first 16 bytes) of the alert without its id: equal
    /// alerts, such as a repeat after a crash, have equal ids.
    pub id: String,
    /// What kind of alert.
    pub kind: AlertKind,
    /// For `log-misbehaviour` and `log-unhealthy`: what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The log's origin.
    pub log: String,
    /// Index of the entry concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Size of the checkpoint being verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    /// The publisher concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// A sentence with what happened and what to do.
    pub message: String,
    /// The key registered, revoked or signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRef>,
    /// How a key registration or revocation was authorised:
    /// "claim", "chain", "operator" (registrations), "key", "operator" (revocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// The key that authorised it (chain of trust, or revocation by key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_by: Option<KeyRef>,
    /// "retired" or "compromised", for revocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Package, for signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Version, for signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// SHA-256 (hex) of the signed artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Tile path, for `bad-tile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile: Option<String>,
    /// The checkpoint at fault, verbatim (evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The last verified checkpoint it contradicts, verbatim (evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_checkpoint: Option<String>,
}

impl Alert {
    /// A new alert with only the required fields; set the others, then [`seal`](Self::seal).
    pub fn new(kind: AlertKind, log: &str, message: impl Into<String>) -> Alert {
        Alert {
            id: String::new(),
            kind,
            problem: None,
            log: log.to_string(),
            index: None,
            tree_size: None,
            publisher: None,
            message: message.into(),
            key: None,
            authorization: None,
            authorized_by: None,
            reason: None,
            package: None,
            version: None,
            sha256: None,
            tile: None,
            checkpoint: None,
            previous_checkpoint: None,
        }
    }

    /// A `log-misbehaviour` alert.
    pub fn misbehaviour(problem: Problem, log: &str, message: impl Into<String>) -> Alert {
        let mut a = Alert::new(AlertKind::LogMisbehaviour, log, message);
        a.problem = Some(problem);
        a
    }

    /// Computes the id from the other fields; call once all are set.
    pub fn seal(mut self) -> Alert {
        self.id = String::new();
        let bytes = serde_json::to_vec(&self).expect("an alert always serialises");
        self.id = hex::encode(&Sha256::digest(&bytes)[..16]);
        self
    }

    /// The alert as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an alert always serialises")
    }

    /// `kind` or `kind/problem`.
    pub fn kind_label(&self) -> String {
        match self.problem {
            Some(p) => format!("{}/{}", self.kind.as_str(), p.as_str()),
            None => self.kind.as_str().to_string(),
        }
    }
}

/// One line of text: `ALERT <kind>[/<problem>] [index N] [publisher P]: <message>`.
impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ALERT {}", self.kind_label())?;
        if let Some(i) = self.index {
            write!(f, " index {i}")?;
        }
        if let Some(p) = &self.publisher {
            write!(f, " publisher {p}")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_depends_on_content_only() {
        let a = Alert::misbehaviour(Problem::Fork, "log.example", "two roots").seal();
        let b = Alert::misbehaviour(Problem::Fork, "log.example", "two roots").seal();
        let mut c = Alert::misbehaviour(Problem::Fork, "log.example", "two roots");
        c.index = Some(3);
        let c = c.seal();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.len(), 32);
        assert_eq!(a.clone().seal().id, a.id, "sealing twice gives the same id");
    }

    #[test]
    fn json_round_trip_and_shape() {
        let mut a = Alert::new(AlertKind::UnexpectedKey, "log.example", "m");
        a.index = Some(7);
        a.publisher = Some("alice".into());
        let a = a.seal();
        let json = a.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["kind"], "unexpected-key");
        assert_eq!(v["index"], 7);
        assert!(v.get("problem").is_none(), "absent fields are left out");
        let back: Alert = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert_eq!(
            a.to_string(),
            "ALERT unexpected-key index 7 publisher alice: m"
        );
    }
}
