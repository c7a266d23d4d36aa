//! The rules across publishers, and [`apply_entry`]: the one function the
//! log's sequencer, the installer and the monitor fold entries with.
//!
//! Per-publisher rules live in [`PublisherKeys`]; this module adds the two
//! that span the whole log:
//!
//! - a key hash belongs to one publisher for ever: registering it under
//!   another publisher is refused;
//! - `P/N@V` names one artifact for ever: a signature of another SHA-256
//!   for a release already logged is refused. The same SHA-256 again,
//!   signed by another key of the publisher, is a new signature of the same
//!   artifact (how a publisher re-signs after a compromise); the very same
//!   entry again is a duplicate, which the log answers with its first index.
//!
//! Where the state lives is the caller's: the log reads it from storage, the
//! monitor keeps it in memory ([`MemoryLogState`]), an installer holds one
//! publisher's and folds its logged key events with [`apply_key_event`].
//! [`LogState`] is the view the rules need.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::entry::{Entry, Release};
use crate::error::Rejection;
use crate::keys::{KeyChange, PublisherKeys};
use crate::{Error, Hash};

/// A release's name: `publisher/package@version`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReleaseName {
    /// Publisher.
    pub publisher: String,
    /// Package.
    pub package: String,
    /// Version.
    pub version: String,
}

impl ReleaseName {
    /// The name of what `release` says was released.
    pub fn of(release: &Release) -> ReleaseName {
        ReleaseName {
            publisher: release.publisher.clone(),
            package: release.package.clone(),
            version: release.version.clone(),
        }
    }

    /// SHA-256 of `publisher/package@version`: a compact lookup key.
    pub fn digest(&self) -> Hash {
        Sha256::digest(self.to_string().as_bytes()).into()
    }
}

impl fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.publisher, self.package, self.version)
    }
}

/// The artifact a release name is bound to: its first signature's index and SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// Index of the first signature entry of the release.
    pub index: u64,
    /// SHA-256 of the artifact.
    pub sha256: [u8; 32],
}

/// Domain prefix of [`ReleaseRecord::record_hash`].
pub const RELEASE_RECORD_HASH_DOMAIN: &[u8] = b"sealwax/v1 release-record\0";

impl ReleaseRecord {
    /// The canonical encoding: `index:u64 (big-endian) || sha256:32`.
    pub fn encode(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..8].copy_from_slice(&self.index.to_be_bytes());
        out[8..].copy_from_slice(&self.sha256);
        out
    }

    /// The key directory's value for this release:
    /// `SHA-256("sealwax/v1 release-record" || 0x00 || index:u64 || sha256:32)`.
    pub fn record_hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(RELEASE_RECORD_HASH_DOMAIN);
        h.update(self.encode());
        h.finalize().into()
    }
}

/// What the rules need to know about the log before an entry, and where
/// [`apply_entry`] records what the entry changed.
pub trait LogState {
    /// Why the state could not be read (storage failures).
    type Error;
    /// The key state of `publisher` (empty if it has no keys), to read and update.
    fn publisher_keys(&mut self, publisher: &str) -> Result<&mut PublisherKeys, Self::Error>;
    /// The publisher a key hash is registered to.
    fn key_owner(&mut self, key_hash: &Hash) -> Result<Option<String>, Self::Error>;
    /// The artifact a release name is bound to.
    fn release(&mut self, name: &ReleaseName) -> Result<Option<ReleaseRecord>, Self::Error>;
    /// Records that `key_hash` now belongs to `publisher`.
    fn set_key_owner(&mut self, key_hash: Hash, publisher: &str);
    /// Records the artifact of a release logged for the first time.
    fn set_release(&mut self, name: ReleaseName, record: ReleaseRecord);
}

/// What an entry changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A key event: the publisher's key state changed.
    Key {
        /// The publisher.
        publisher: String,
        /// Suspensions and reinstatements it caused.
        change: KeyChange,
    },
    /// A release signature.
    Signature {
        /// What it signs.
        release: Release,
        /// Whether it is the release's first signature (the name is bound now).
        first: bool,
    },
}

/// Why [`apply_entry`] did not apply an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError<E> {
    /// The entry breaks a rule: the log must refuse it.
    #[error(transparent)]
    Rule(#[from] Error),
    /// The state could not be read.
    #[error("the log state could not be read")]
    State(E),
}

/// Checks `entry`, to be logged at `index`, against every rule given
/// `state`, and if it passes records it there. Its signatures are assumed
/// verified ([`Entry::verify_signatures`]); on error nothing changes.
pub fn apply_entry<S: LogState>(
    state: &mut S,
    entry: &Entry,
    index: u64,
) -> Result<Applied, ApplyError<S::Error>> {
    let publisher = entry.publisher();
    match entry {
        Entry::KeyRegistration(r) => {
            let h = r.key.key_hash();
            if let Some(owner) = state.key_owner(&h).map_err(ApplyError::State)? {
                if owner != publisher {
                    let revoked = state
                        .publisher_keys(&owner)
                        .map_err(ApplyError::State)?
                        .key(&h)
                        .is_some_and(|k| k.is_revoked());
                    return Err(Error::from(Rejection::KeyAlreadyRegistered {
                        publisher: owner,
                        key: hex::encode(h),
                        revoked,
                    })
                    .into());
                }
            }
            let keys = state
                .publisher_keys(&publisher)
                .map_err(ApplyError::State)?;
            let change = keys.apply(entry, index)?;
            if !change.revouched {
                state.set_key_owner(h, &publisher);
            }
            Ok(Applied::Key { publisher, change })
        }
        Entry::KeyRevocation(_) => {
            let keys = state
                .publisher_keys(&publisher)
                .map_err(ApplyError::State)?;
            let change = keys.apply(entry, index)?;
            Ok(Applied::Key { publisher, change })
        }
        Entry::Signature(s) => {
            let release = s.release()?;
            let name = ReleaseName::of(&release);
            let bound = state.release(&name).map_err(ApplyError::State)?;
            if let Some(rec) = bound {
                if rec.sha256 != release.sha256 {
                    return Err(Error::from(Rejection::ReleaseConflict {
                        release: name.to_string(),
                        index: rec.index,
                        sha256: hex::encode(rec.sha256),
                    })
                    .into());
                }
            }
            let keys = state
                .publisher_keys(&publisher)
                .map_err(ApplyError::State)?;
            keys.apply(entry, index)?;
            if bound.is_none() {
                state.set_release(
                    name,
                    ReleaseRecord {
                        index,
                        sha256: release.sha256,
                    },
                );
            }
            Ok(Applied::Signature {
                release,
                first: bound.is_none(),
            })
        }
    }
}

/// Why [`apply_key_event`] refused a logged key event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyEventError {
    /// The bytes are not an entry.
    #[error("does not parse: {0}")]
    Unparseable(Error),
    /// A signature entry, or a key event of another publisher.
    #[error("is not a key event of publisher {0:?}")]
    NotKeyEvent(String),
    /// A signature it carries does not verify.
    #[error("has a bad signature: {0}")]
    BadSignature(Error),
    /// It breaks the log's rules, given the events folded before it.
    #[error("breaks the log's rules: {0}")]
    Rule(Error),
}

/// One publisher's key state as a [`LogState`]: it knows no other
/// publisher's keys and no releases, so the rules across publishers are
/// left to those who hold the whole log.
struct OnePublisher<'a>(&'a mut PublisherKeys);

impl LogState for OnePublisher<'_> {
    type Error = Infallible;

    fn publisher_keys(&mut self, _publisher: &str) -> Result<&mut PublisherKeys, Infallible> {
        Ok(self.0)
    }

    fn key_owner(&mut self, key_hash: &Hash) -> Result<Option<String>, Infallible> {
        Ok(self.0.key(key_hash).map(|_| self.0.publisher.clone()))
    }

    fn release(&mut self, _name: &ReleaseName) -> Result<Option<ReleaseRecord>, Infallible> {
        Ok(None)
    }

    fn set_key_owner(&mut self, _key_hash: Hash, _publisher: &str) {}

    fn set_release(&mut self, _name: ReleaseName, _record: ReleaseRecord) {}
}

/// Folds one logged key event of `keys.publisher` (its bytes as logged at `index`, after every event folded before) into `keys`.
///
/// This is how an installer turns a publisher's key history into a
/// verified key state: the bytes must parse, be a key registration or
/// revocation of that publisher, carry signatures valid for `origin`, and
/// pass [`apply_entry`]. Its Merkle leaf is
/// [`leaf_hash`](crate::merkle::leaf_hash) of the same bytes; proving it is
/// in the log is the caller's. On error `keys` is unchanged.
pub fn apply_key_event(
    keys: &mut PublisherKeys,
    origin: &str,
    index: u64,
    bytes: &[u8],
) -> Result<(Entry, KeyChange), KeyEventError> {
    let entry = Entry::parse(bytes).map_err(KeyEventError::Unparseable)?;
    if matches!(entry, Entry::Signature(_)) || entry.publisher() != keys.publisher {
        return Err(KeyEventError::NotKeyEvent(keys.publisher.clone()));
    }
    entry
        .verify_signatures(origin)
        .map_err(KeyEventError::BadSignature)?;
    match apply_entry(&mut OnePublisher(keys), &entry, index) {
        Ok(Applied::Key { change, .. }) => Ok((entry, change)),
        Ok(Applied::Signature { .. }) => unreachable!("a key event applies as one"),
        Err(ApplyError::Rule(e)) => Err(KeyEventError::Rule(e)),
        Err(ApplyError::State(never)) => match never {},
    }
}

/// The whole log's state in memory: what a monitor keeps, and what tests
/// fold histories into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryLogState {
    publishers: BTreeMap<String, PublisherKeys>,
    owners: HashMap<Hash, String>,
    /// Bound releases in the order they were bound, by [`ReleaseName::digest`].
    releases: Vec<(Hash, ReleaseRecord)>,
    /// Position in `releases` by digest.
    release_pos: HashMap<Hash, usize>,
}

impl MemoryLogState {
    /// One publisher's key state, if it has keys.
    pub fn get(&self, publisher: &str) -> Option<&PublisherKeys> {
        self.publishers.get(publisher).filter(|p| !p.is_empty())
    }

    /// Every publisher that has keys, by name.
    pub fn publishers(&self) -> impl Iterator<Item = &PublisherKeys> {
        self.publishers.values().filter(|p| !p.is_empty())
    }

    /// The number of keys registered, over all publishers.
    pub fn key_count(&self) -> usize {
        self.owners.len()
    }

    /// The publisher that owns a key.
    pub fn owner(&self, key_hash: &Hash) -> Option<&str> {
        self.owners.get(key_hash).map(String::as_str)
    }

    /// The artifact bound to a release name.
    pub fn release_record(&self, name: &ReleaseName) -> Option<ReleaseRecord> {
        self.release_by_digest(&name.digest())
    }

    fn release_by_digest(&self, digest: &Hash) -> Option<ReleaseRecord> {
        self.release_pos.get(digest).map(|&i| self.releases[i].1)
    }

    /// Every bound release, by [`ReleaseName::digest`], in the order they were bound
    /// (so a saver can append only those bound since its last save).
    pub fn releases(&self) -> &[(Hash, ReleaseRecord)] {
        &self.releases
    }

    /// Adds a publisher's whole key state (when loading saved state);
    /// refuses a key that another publisher already owns.
    pub fn insert_publisher(&mut self, pk: PublisherKeys) -> Result<(), Rejection> {
        for k in pk.keys() {
            if let Some(owner) = self.owners.get(&k.key_hash) {
                if *owner != pk.publisher {
                    return Err(Rejection::KeyAlreadyRegistered {
                        publisher: owner.clone(),
                        key: hex::encode(k.key_hash),
                        revoked: false,
                    });
                }
            }
        }
        for k in pk.keys() {
            self.owners.insert(k.key_hash, pk.publisher.clone());
        }
        self.publishers.insert(pk.publisher.clone(), pk);
        Ok(())
    }

    /// Adds a bound release by its digest (when loading saved state).
    pub fn insert_release(&mut self, digest: Hash, record: ReleaseRecord) {
        if let Some(&i) = self.release_pos.get(&digest) {
            self.releases[i].1 = record;
        } else {
            self.release_pos.insert(digest, self.releases.len());
            self.releases.push((digest, record));
        }
    }

    /// Applies an entry with [`apply_entry`].
    pub fn apply(&mut self, entry: &Entry, index: u64) -> Result<Applied, Error> {
        apply_entry(self, entry, index).map_err(|e| {
            // A refused first entry of a publisher leaves no empty state behind.
            let publisher = entry.publisher();
            if self
                .publishers
                .get(&publisher)
                .is_some_and(PublisherKeys::is_empty)
            {
                self.publishers.remove(&publisher);
            }
            match e {
                ApplyError::Rule(e) => e,
                ApplyError::State(never) => match never {},
            }
        })
    }
}

impl LogState for MemoryLogState {
    type Error = Infallible;

    fn publisher_keys(&mut self, publisher: &str) -> Result<&mut PublisherKeys, Infallible> {
        Ok(self
            .publishers
            .entry(publisher.to_string())
            .or_insert_with(|| PublisherKeys::new(publisher)))
    }

    fn key_owner(&mut self, key_hash: &Hash) -> Result<Option<String>, Infallible> {
        Ok(self.owners.get(key_hash).cloned())
    }

    fn release(&mut self, name: &ReleaseName) -> Result<Option<ReleaseRecord>, Infallible> {
        Ok(self.release_by_digest(&name.digest()))
    }

    fn set_key_owner(&mut self, key_hash: Hash, publisher: &str) {
        self.owners.insert(key_hash, publisher.to_string());
    }

    fn set_release(&mut self, name: ReleaseName, record: ReleaseRecord) {
        self.insert_release(name.digest(), record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{KeyRegistration, KeyRevocation, RevocationReason, SignatureEntry};
    use crate::minisign::{prehash, SecretKey};

    const ORIGIN: &str = "sealwax.test/log";

    fn key() -> SecretKey {
        SecretKey::generate(&mut rand::rngs::OsRng)
    }

    fn bytes(e: KeyRegistration) -> Vec<u8> {
        Entry::KeyRegistration(e).to_bytes()
    }

    #[test]
    fn a_key_history_folds_event_by_event() {
        let (k1, k2) = (key(), key());
        let mut keys = PublisherKeys::new("alice");
        let claim = bytes(KeyRegistration::claim(ORIGIN, "alice", &k1).unwrap());
        let rotate = bytes(KeyRegistration::chain(ORIGIN, "alice", &k2, &k1).unwrap());
        let revoke = Entry::KeyRevocation(
            KeyRevocation::by_key(
                ORIGIN,
                "alice",
                k1.public_key(),
                RevocationReason::Compromised,
                &k1,
            )
            .unwrap(),
        )
        .to_bytes();
        apply_key_event(&mut keys, ORIGIN, 0, &claim).unwrap();
        apply_key_event(&mut keys, ORIGIN, 3, &rotate).unwrap();
        let (entry, change) = apply_key_event(&mut keys, ORIGIN, 7, &revoke).unwrap();
        assert!(matches!(entry, Entry::KeyRevocation(_)));
        assert_eq!(change.suspended, vec![k2.public_key().key_hash()]);
        assert_eq!(keys.keys().len(), 2);
    }

    #[test]
    fn bad_key_events_are_refused_and_change_nothing() {
        let (k1, k2) = (key(), key());
        let mut keys = PublisherKeys::new("alice");
        let claim = bytes(KeyRegistration::claim(ORIGIN, "alice", &k1).unwrap());
        apply_key_event(&mut keys, ORIGIN, 0, &claim).unwrap();
        let before = keys.clone();
        let mut tampered = bytes(KeyRegistration::chain(ORIGIN, "alice", &k2, &k1).unwrap());
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let release = Release {
            origin: ORIGIN.into(),
            publisher: "alice".into(),
            package: "hello".into(),
            version: "1.0.0".into(),
            sha256: [0; 32],
        };
        let signature =
            Entry::Signature(SignatureEntry::sign(&k1, &release, prehash(b"x")).unwrap());
        let kind = |e: &KeyEventError| match e {
            KeyEventError::Unparseable(_) => "unparseable",
            KeyEventError::NotKeyEvent(_) => "not a key event",
            KeyEventError::BadSignature(_) => "bad signature",
            KeyEventError::Rule(_) => "rule",
        };
        let bob = bytes(KeyRegistration::claim(ORIGIN, "bob", &k2).unwrap());
        let elsewhere = bytes(KeyRegistration::chain("other.test/log", "alice", &k2, &k1).unwrap());
        let cases = [
            ("garbage", b"not an entry".to_vec(), "unparseable"),
            ("a signature entry", signature.to_bytes(), "not a key event"),
            ("another publisher's key", bob, "not a key event"),
            ("a tampered signature", tampered, "bad signature"),
            ("another log", elsewhere, "bad signature"),
            ("a second claim", claim, "rule"),
        ];
        for (desc, event, want) in cases {
            let err = apply_key_event(&mut keys, ORIGIN, 5, &event).expect_err(desc);
            assert_eq!(kind(&err), want, "{desc}: got {err:?}");
            assert_eq!(keys, before, "{desc} changed the state");
        }
    }
}
