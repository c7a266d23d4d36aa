//! The rules that hold a log's answers to its key directory, so that an
//! installer and a monitor judge them the same way: the key events a log
//! lists for a publisher must fold to the very key state the directory
//! holds (nothing left out, nothing added), and a release must be bound to
//! the artifact being installed.

use super::{publisher_key, release_key, verify};
use crate::error::DirectoryError;
use crate::keys::{record_hash, PublisherKeys};
use crate::rules::{ReleaseName, ReleaseRecord};
use crate::Hash;

use super::DirectoryProof;

/// Why a key answer is not the publisher's whole key state, from [`check_key_state`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStateMismatch {
    /// The answer's key-state record is not the one its key events fold to.
    #[error("its key-state record is not the one its key events fold to")]
    RecordDiffers,
    /// The directory does not hold the state the events fold to: an event
    /// was left out, added or changed, or the proof is of another tree.
    #[error("the key directory does not hold the key state its key events fold to (an event was left out or added): {0}")]
    NotInDirectory(DirectoryError),
}

/// Checks that `folded`, the fold of every key event a log listed for a
/// publisher, is the publisher's whole key state under directory `root`.
///
/// `record` is the answer's inline key-state record, if it carried one: it
/// must be the folded state's. `proof` must show the folded record's hash
/// ([`record_hash`]) at the publisher's key, or the publisher's absence
/// when the fold has no keys.
pub fn check_key_state(
    root: &Hash,
    folded: &PublisherKeys,
    record: Option<&[u8]>,
    proof: &DirectoryProof,
) -> Result<(), KeyStateMismatch> {
    let own = (!folded.is_empty()).then(|| folded.to_record());
    if record.is_some_and(|r| Some(r) != own.as_deref()) {
        return Err(KeyStateMismatch::RecordDiffers);
    }
    let value = own.as_deref().map(record_hash);
    verify(
        root,
        &publisher_key(&folded.publisher),
        value.as_ref(),
        proof,
    )
    .map_err(KeyStateMismatch::NotInDirectory)
}

/// Why a release's directory leaf does not bind it to the signature being
/// installed, from [`check_release`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseMismatch {
    /// The proof does not show the record (or absence) the answer claims.
    #[error("{0}")]
    Proof(DirectoryError),
    /// The directory proves the release is not logged.
    #[error("the key directory proves the release is not logged")]
    NotLogged,
    /// The directory binds the release to another artifact, or to a first
    /// signature logged after the one being installed.
    #[error("the key directory binds the release to another artifact (index {}, sha256 {})", .0.index, hex::encode(.0.sha256))]
    Other(ReleaseRecord),
}

/// Checks, under directory `root`, that release `name` is bound to the
/// artifact of the signature `installing` (its index and SHA-256).
///
/// `claimed` is the record the answer says the leaf holds (`None`: the
/// release is absent); `proof` must show it. The leaf holds the release's
/// first signature, so a later signature of the same bytes (the same
/// release signed again, by another key) is bound too: the SHA-256 must
/// be equal and the bound index at most the installed one.
pub fn check_release(
    root: &Hash,
    name: &ReleaseName,
    claimed: Option<&ReleaseRecord>,
    proof: &DirectoryProof,
    installing: &ReleaseRecord,
) -> Result<(), ReleaseMismatch> {
    let value = claimed.map(ReleaseRecord::record_hash);
    verify(root, &release_key(name), value.as_ref(), proof).map_err(ReleaseMismatch::Proof)?;
    match claimed {
        None => Err(ReleaseMismatch::NotLogged),
        Some(b) if b.sha256 == installing.sha256 && b.index <= installing.index => Ok(()),
        Some(b) => Err(ReleaseMismatch::Other(*b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{publisher_leaf, release_leaf, Directory};
    use crate::entry::{Entry, KeyRegistration, KeyRevocation, RevocationReason};
    use crate::minisign::SecretKey;

    const ORIGIN: &str = "check.test/log";

    /// alice claims k1, chains k2 from it, then revokes k1 as compromised.
    fn alice_events() -> Vec<Entry> {
        let mut rng = rand::rngs::OsRng;
        let (k1, k2) = (SecretKey::generate(&mut rng), SecretKey::generate(&mut rng));
        vec![
            Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, "alice", &k1).unwrap()),
            Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &k2, &k1).unwrap()),
            Entry::KeyRevocation(
                KeyRevocation::by_key(
                    ORIGIN,
                    "alice",
                    k1.public_key(),
                    RevocationReason::Compromised,
                    &k2,
                )
                .unwrap(),
            ),
        ]
    }

    fn fold(events: &[(u64, &Entry)]) -> PublisherKeys {
        let mut keys = PublisherKeys::new("alice");
        for (i, e) in events {
            keys.apply(e, *i).unwrap();
        }
        keys
    }

    #[test]
    fn a_key_list_missing_an_event_does_not_fold_to_the_directorys_state() {
        let events = alice_events();
        let all: Vec<_> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64, e))
            .collect();
        let whole = fold(&all);
        let mut dir = Directory::new();
        dir.insert_batch([publisher_leaf(&whole)]);
        let (_, proof) = dir.prove(&publisher_key("alice"));
        let record = whole.to_record();
        check_key_state(&dir.root(), &whole, Some(&record), &proof).unwrap();
        check_key_state(&dir.root(), &whole, None, &proof).unwrap();

        // The compromise revocation left out: the fold is another state.
        let dropped = fold(&all[..2]);
        assert!(matches!(
            check_key_state(&dir.root(), &dropped, None, &proof),
            Err(KeyStateMismatch::NotInDirectory(_))
        ));
        // ... and the whole record sent beside the shorter list does not match it.
        assert_eq!(
            check_key_state(&dir.root(), &dropped, Some(&record), &proof),
            Err(KeyStateMismatch::RecordDiffers)
        );
        // No events at all, for a publisher the directory holds: not proven absent.
        let none = PublisherKeys::new("alice");
        assert!(check_key_state(&dir.root(), &none, None, &proof).is_err());
    }

    #[test]
    fn an_unknown_publisher_is_proven_absent() {
        let events = alice_events();
        let all: Vec<_> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64, e))
            .collect();
        let mut dir = Directory::new();
        dir.insert_batch([publisher_leaf(&fold(&all))]);
        let nobody = PublisherKeys::new("nobody");
        let (_, proof) = dir.prove(&publisher_key("nobody"));
        check_key_state(&dir.root(), &nobody, None, &proof).unwrap();
        // An absence proof does not pass for a publisher with keys.
        let (_, alice_proof) = dir.prove(&publisher_key("alice"));
        assert!(check_key_state(&dir.root(), &nobody, None, &alice_proof).is_err());
    }

    #[test]
    fn a_release_is_bound_to_its_first_artifact_only() {
        let name = ReleaseName {
            publisher: "alice".into(),
            package: "tool".into(),
            version: "1.0".into(),
        };
        let a = ReleaseRecord {
            index: 3,
            sha256: [0xaa; 32],
        };
        let mut dir = Directory::new();
        dir.insert_batch([release_leaf(&name, &a)]);
        let root = dir.root();
        let (_, proof) = dir.prove(&release_key(&name));
        check_release(&root, &name, Some(&a), &proof, &a).unwrap();
        // The same bytes signed again later are that release too.
        let again = ReleaseRecord { index: 9, ..a };
        check_release(&root, &name, Some(&a), &proof, &again).unwrap();
        // Another artifact, or an entry before the binding one, is not.
        let b = ReleaseRecord {
            index: 9,
            sha256: [0xbb; 32],
        };
        assert_eq!(
            check_release(&root, &name, Some(&a), &proof, &b),
            Err(ReleaseMismatch::Other(a))
        );
        let earlier = ReleaseRecord { index: 2, ..a };
        assert!(check_release(&root, &name, Some(&a), &proof, &earlier).is_err());
        // Claiming B's record, or absence, with A's proof does not verify.
        assert!(matches!(
            check_release(&root, &name, Some(&b), &proof, &b),
            Err(ReleaseMismatch::Proof(_))
        ));
        assert!(matches!(
            check_release(&root, &name, None, &proof, &b),
            Err(ReleaseMismatch::Proof(_))
        ));
        // Another version is proven absent.
        let other = ReleaseName {
            version: "2.0".into(),
            ..name
        };
        let (_, absent) = dir.prove(&release_key(&other));
        assert_eq!(
            check_release(&root, &other, None, &absent, &b),
            Err(ReleaseMismatch::NotLogged)
        );
    }
}
