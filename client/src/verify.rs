//! The checks that `verify` and `install` share: a `.minisig` that is a
//! sealwax signature, the artifact's digests against it, the key from the
//! trust store, the log entry rebuilt from the signature, and its inclusion
//! proof against a checkpoint signed by the trusted log key.

use std::path::Path;

use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::entry::{Entry, Release, SignatureEntry};
use sealwax_proto::keys::KeyStatus;
use sealwax_proto::minisign::{PublicKey, SignatureAlgorithm, SignatureBox};
use sealwax_proto::proof::{ProofFailure, TlogProof};
use sealwax_proto::Hash;

use crate::digest::Digests;
use crate::error::{ClientError, Result};
use crate::home::LogIdentity;

/// A parsed `.minisig` whose trusted comment is a sealwax release.
#[derive(Debug, Clone)]
pub struct SealwaxSignature {
    /// The signature file.
    pub sigbox: SignatureBox,
    /// What it says was released.
    pub release: Release,
}

impl SealwaxSignature {
    /// Parses `text` (from `path`, for messages) and checks it is a
    /// pre-hashed signature with a sealwax trusted comment for `log`.
    pub fn parse(text: &str, path: &Path, log: &LogIdentity) -> Result<SealwaxSignature> {
        let not_ours = |source| ClientError::NotSealwaxSignature {
            path: path.to_path_buf(),
            cause: source,
        };
        let sigbox = SignatureBox::parse(text).map_err(|source| ClientError::BadKeyFile {
            path: path.to_path_buf(),
            what: "signature",
            cause: source,
        })?;
        if sigbox.algorithm == SignatureAlgorithm::Legacy {
            return Err(not_ours(sealwax_proto::Error::LegacySignature));
        }
        let release = Release::parse_trusted_comment(&sigbox.trusted_comment).map_err(not_ours)?;
        if release.origin != log.origin {
            return Err(ClientError::WrongLog {
                expected: log.origin.clone(),
                found: release.origin,
            });
        }
        Ok(SealwaxSignature { sigbox, release })
    }

    /// `publisher/package@version`, as messages show a release.
    pub fn name(&self) -> String {
        format!(
            "{}/{}@{}",
            self.release.publisher, self.release.package, self.release.version
        )
    }
}

/// Checks the artifact's digests against the signature made by `key`, and
/// rebuilds the log entry the signature must have been logged as.
pub fn check_artifact(
    artifact: &Path,
    sig: &SealwaxSignature,
    key: &PublicKey,
    digests: &Digests,
) -> Result<SignatureEntry> {
    if digests.sha256 != sig.release.sha256 {
        return Err(ClientError::DigestMismatch {
            path: artifact.to_path_buf(),
            expected: hex::encode(sig.release.sha256),
            actual: hex::encode(digests.sha256),
        });
    }
    sig.sigbox
        .verify_prehashed(key, &digests.blake2b512)
        .map_err(|source| ClientError::BadSignature {
            path: artifact.to_path_buf(),
            cause: source,
        })?;
    SignatureEntry::from_signature_box(&sig.sigbox, *key, digests.blake2b512).map_err(|source| {
        ClientError::BadSignature {
            path: artifact.to_path_buf(),
            cause: source,
        }
    })
}

/// The key among `candidates` that made `sig`: its key number matches and
/// its global signature verifies (key IDs are random 8-byte hints, and two
/// keys may share one).
pub fn key_of_signature<'a>(
    candidates: impl IntoIterator<Item = &'a PublicKey>,
    sig: &SealwaxSignature,
) -> Option<PublicKey> {
    let sb = &sig.sigbox;
    let mut msg = sb.signature.to_vec();
    msg.extend_from_slice(sb.trusted_comment.as_bytes());
    candidates
        .into_iter()
        .filter(|k| k.keynum == sb.keynum)
        .find(|k| k.verify_raw(&msg, &sb.global_signature).is_ok())
        .copied()
}

/// The refusal for a signature by `key` logged at `index` whose status
/// (from `sealwax_proto::keys`) makes it invalid.
pub fn status_error(
    publisher: &str,
    key: &PublicKey,
    index: u64,
    status: KeyStatus,
) -> ClientError {
    let (publisher, key_id) = (publisher.to_string(), key.key_id_hex());
    match status {
        KeyStatus::Retired(at) => ClientError::KeyRetired {
            publisher,
            key_id,
            index: at,
            signed_at: index,
        },
        KeyStatus::Compromised(at) => ClientError::KeyCompromised {
            publisher,
            key_id,
            index: at,
        },
        KeyStatus::Suspended(s) => ClientError::KeySuspended {
            publisher,
            key_id,
            compromised: hex::encode(s.compromised),
            index: s.at,
        },
        KeyStatus::Active | KeyStatus::RetiredAfter(_) | KeyStatus::Unknown => {
            ClientError::KeyNotInHistory { publisher, key_id }
        }
    }
}

/// The leaf hash of a signature entry.
pub fn leaf_of(entry: &SignatureEntry) -> Hash {
    Entry::Signature(entry.clone()).leaf_hash()
}

/// Checks the `.tlog-proof` with `sealwax_proto` (its checkpoint signed by
/// the trusted log key and meeting the policy, `leaf` at its index in that tree); returns the
/// checkpoint, or says which part failed.
pub fn check_proof(
    proof_path: &Path,
    proof: &TlogProof,
    leaf: &Hash,
    log: &LogIdentity,
) -> Result<Checkpoint> {
    let reason = match proof.verify(leaf, &log.origin, &log.verifier, log.policy.as_deref()) {
        Ok((cp, _)) => return Ok(cp),
        Err(ProofFailure::Checkpoint(e)) => format!(
            "its checkpoint is not signed by the trusted log key ({e}); check --log-key, or the proof was altered"
        ),
        Err(ProofFailure::Quorum(e)) => format!(
            "its checkpoint is not cosigned by a quorum of your witness policy ({e}): it was written without witnesses, or by a log showing a history others do not see; re-fetch the proof with `sealwax verify --online`, or check --policy"
        ),
        Err(ProofFailure::Inclusion { index, cause }) => {
            format!("the signature's entry is not at index {index} of the logged tree: {cause}")
        }
    };
    Err(ClientError::BadProof {
        path: proof_path.to_path_buf(),
        reason,
    })
}
