//! The trust store: which publisher keys this client trusts, for one log.
//!
//! A key is trusted for exactly one publisher. Keys get here by TOFU (the
//! user said yes on install, or `--trust-new-keys` took a publisher's claim
//! key on first use), by `keys import`, or because this home made and
//! registered them: these are the *roots* that `sealwax_proto::trust::decide`
//! starts from. Keys reached by a logged chain of trust are listed too
//! (source `chain`), for people to read, but never count as roots: a chain
//! is checked against the publisher's current key state every time.
//! Revocations and suspensions live in the recorded key state
//! ([`crate::keystate`]), not here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::collections::HashSet;

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
}

impl TrustedKey {
    /// The parsed public key.
    pub fn public_key(&self) -> Option<PublicKey> {
        PublicKey::parse(&self.key).ok()
    }

    /// Whether the key is a root of trust (not merely reached by a chain).
    pub fn is_root(&self) -> bool {
        self.source != TrustSource::Chain
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

    /// The key hashes of `publisher` that are roots of trust.
    pub fn roots(&self, publisher: &str) -> HashSet<Hash> {
        self.keys
            .iter()
            .filter(|k| k.publisher == publisher && k.is_root())
            .filter_map(|k| k.public_key().map(|pk| pk.key_hash()))
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
        });
        true
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
    fn add_find_and_reload() {
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
        assert_eq!(store.roots("alice"), HashSet::from([pk.key_hash()]));
        let chained = SecretKey::generate(&mut rand::rngs::OsRng).public_key();
        assert!(store.add("alice", &chained, TrustSource::Chain, Some(&pk.key_hash())));
        assert_eq!(
            store.roots("alice"),
            HashSet::from([pk.key_hash()]),
            "a chain-trusted key is not a root"
        );
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
