//! The trust store: which publisher keys this client trusts, for one log.
//!
//! A key is trusted for exactly one publisher. Keys get here by TOFU (the
//! user said yes on install), by `keys import`, by a logged chain of trust
//! from a key already trusted, or because this home made and registered them.
//! Revocations learned from the log are recorded beside the key, so offline
//! `verify` refuses what install would refuse.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use sealwax_proto::entry::RevocationReason;
use sealwax_proto::minisign::PublicKey;
use sealwax_proto::Hash;

use crate::atomic::{read_optional, write_atomic, MODE_PUBLIC};
use crate::error::{ClientError, Result};

/// How a key came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustSource {
    /// The user accepted it on first use.
    Tofu,
    /// `sealwax keys import`.
    Import,
    /// Rotated in by a logged chain of trust from a trusted key.
    Chain,
    /// This home made or registered it.
    Own,
}

impl TrustSource {
    /// Lower-case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustSource::Tofu => "tofu",
            TrustSource::Import => "import",
            TrustSource::Chain => "chain",
            TrustSource::Own => "own",
        }
    }
}

/// A revocation the client learned from the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// "retired" or "compromised".
    pub reason: String,
    /// Log index of the revocation entry.
    pub index: u64,
}

/// One trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// The publisher it signs for.
    pub publisher: String,
    /// The Minisign public key, base64 line.
    pub key: String,
    /// Minisign key ID (a hint; `key_hash` is the identity).
    pub key_id: String,
    /// SHA-256 of the whole public key, hex.
    pub key_hash: String,
    /// How it came to be trusted.
    pub source: TrustSource,
    /// For chain trust: key hash of the trusted key that authorised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chained_from: Option<String>,
    /// Unix time it was added.
    pub added: u64,
    /// Its revocation, once the client has seen one in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revoked>,
}

impl TrustedKey {
    /// The parsed public key.
    pub fn public_key(&self) -> Option<PublicKey> {
        PublicKey::parse(&self.key).ok()
    }

    /// Whether a signature logged at `index` by this key may be trusted, by
    /// what the client knows locally.
    pub fn allows_signature_at(&self, index: u64) -> bool {
        match &self.revoked {
            None => true,
            Some(r) if r.reason == "retired" => index < r.index,
            Some(_) => false,
        }
    }
}

/// The trust store of one log, `trust.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrustStore {
    /// The trusted keys.
    #[serde(default, rename = "key")]
    pub keys: Vec<TrustedKey>,
    #[serde(skip)]
    path: PathBuf,
}

impl TrustStore {
    /// Loads `path` (empty if the file does not exist yet).
    pub fn load(path: &Path) -> Result<TrustStore> {
        let mut store: TrustStore = match read_optional(path)? {
            None => TrustStore::default(),
            Some(text) => toml::from_str(&text).map_err(|e| ClientError::BadStateFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?,
        };
        for k in &store.keys {
            let ok = k
                .public_key()
                .is_some_and(|pk| hex::encode(pk.key_hash()) == k.key_hash);
            if !ok {
                return Err(ClientError::BadStateFile {
                    path: path.to_path_buf(),
                    reason: format!("the entry for key {} does not match its key hash", k.key_id),
                });
            }
        }
        store.path = path.to_path_buf();
        Ok(store)
    }

    /// Writes the store back atomically.
    pub fn save(&self) -> Result<()> {
        let mut text = String::from(
            "# sealwax trust store: publisher keys this client trusts for one log.\n\
             # Managed by `sealwax keys import`, `sealwax install` and `sealwax keys revoke`.\n",
        );
        text.push_str(&toml::to_string(self).expect("trust store serialises"));
        write_atomic(&self.path, text.as_bytes(), MODE_PUBLIC)
    }

    /// The entry for `key_hash` under `publisher`.
    pub fn find(&self, publisher: &str, key_hash: &Hash) -> Option<&TrustedKey> {
        let h = hex::encode(key_hash);
        self.keys
            .iter()
            .find(|k| k.publisher == publisher && k.key_hash == h)
    }

    /// The entry for `key_hash` under any publisher.
    pub fn find_any(&self, key_hash: &Hash) -> Option<&TrustedKey> {
        let h = hex::encode(key_hash);
        self.keys.iter().find(|k| k.key_hash == h)
    }

    /// Trusted keys of `publisher` whose Minisign key number is `keynum`.
    pub fn candidates(&self, publisher: &str, keynum: &[u8; 8]) -> Vec<(&TrustedKey, PublicKey)> {
        self.keys
            .iter()
            .filter(|k| k.publisher == publisher)
            .filter_map(|k| k.public_key().map(|pk| (k, pk)))
            .filter(|(_, pk)| &pk.keynum == keynum)
            .collect()
    }

    /// Whether any key of `publisher` is trusted.
    pub fn knows_publisher(&self, publisher: &str) -> bool {
        self.keys.iter().any(|k| k.publisher == publisher)
    }

    /// Trusts `key` for `publisher`; returns false if it already was.
    pub fn add(
        &mut self,
        publisher: &str,
        key: &PublicKey,
        source: TrustSource,
        chained_from: Option<&Hash>,
    ) -> bool {
        if self.find(publisher, &key.key_hash()).is_some() {
            return false;
        }
        self.keys.push(TrustedKey {
            publisher: publisher.to_string(),
            key: key.to_base64(),
            key_id: key.key_id_hex(),
            key_hash: hex::encode(key.key_hash()),
            source,
            chained_from: chained_from.map(hex::encode),
            added: now_unix(),
            revoked: None,
        });
        true
    }

    /// Records a revocation seen in the log; returns true if that changed anything.
    pub fn mark_revoked(
        &mut self,
        publisher: &str,
        key_hash: &Hash,
        reason: RevocationReason,
        index: u64,
    ) -> bool {
        let h = hex::encode(key_hash);
        let new = Revoked {
            reason: reason.as_str().to_string(),
            index,
        };
        let mut changed = false;
        for k in self
            .keys
            .iter_mut()
            .filter(|k| k.publisher == publisher && k.key_hash == h)
        {
            if k.revoked.as_ref() != Some(&new) {
                k.revoked = Some(new.clone());
                changed = true;
            }
        }
        changed
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwax_proto::minisign::SecretKey;

    #[test]
    fn add_find_revoke_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.toml");
        let pk = SecretKey::generate(&mut rand::rngs::OsRng).public_key();
        let mut store = TrustStore::load(&path).unwrap();
        assert!(store.add("alice", &pk, TrustSource::Import, None));
        assert!(!store.add("alice", &pk, TrustSource::Tofu, None));
        store.save().unwrap();

        let mut store = TrustStore::load(&path).unwrap();
        assert!(store.find("alice", &pk.key_hash()).is_some());
        assert!(store.find("bob", &pk.key_hash()).is_none());
        assert_eq!(store.candidates("alice", &pk.keynum).len(), 1);
        assert!(store.mark_revoked("alice", &pk.key_hash(), RevocationReason::Retired, 10));
        let k = store.find("alice", &pk.key_hash()).unwrap();
        assert!(k.allows_signature_at(9));
        assert!(!k.allows_signature_at(10));
        assert!(store.mark_revoked("alice", &pk.key_hash(), RevocationReason::Compromised, 10));
        assert!(!store
            .find("alice", &pk.key_hash())
            .unwrap()
            .allows_signature_at(0));
    }

    #[test]
    fn a_tampered_key_hash_is_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.toml");
        let pk = SecretKey::generate(&mut rand::rngs::OsRng).public_key();
        let mut store = TrustStore::load(&path).unwrap();
        store.add("alice", &pk, TrustSource::Import, None);
        store.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let bad = text.replace(&hex::encode(pk.key_hash()), &"0".repeat(64));
        std::fs::write(&path, bad).unwrap();
        assert!(TrustStore::load(&path).is_err());
    }
}
