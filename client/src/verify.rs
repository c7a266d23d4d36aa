//! The checks that `verify` and `install` share: a `.minisig` that is a
//! sealwax signature, the artifact's digests against it, the key from the
//! trust store, the log entry rebuilt from the signature, and its inclusion
//! proof against a checkpoint signed by the trusted log key.

use std::path::Path;

use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::entry::{Entry, Release, SignatureEntry};
use sealwax_proto::merkle::verify_inclusion;
use sealwax_proto::minisign::{PublicKey, SignatureAlgorithm, SignatureBox};
use sealwax_proto::proof::TlogProof;
use sealwax_proto::Hash;

use crate::digest::Digests;
use crate::error::{ClientError, Result};
use crate::home::LogIdentity;
use crate::trust::{TrustStore, TrustedKey};

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
            source,
        };
        let sigbox = SignatureBox::parse(text).map_err(|source| ClientError::BadKeyFile {
            path: path.to_path_buf(),
            what: "signature",
            source,
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

    /// `package@version`, as messages show a release.
    pub fn name(&self) -> String {
        format!("{}@{}", self.release.package, self.release.version)
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
            source,
        })?;
    SignatureEntry::from_signature_box(&sig.sigbox, *key, digests.blake2b512).map_err(|source| {
        ClientError::BadSignature {
            path: artifact.to_path_buf(),
            source,
        }
    })
}

/// The trusted key of the signature's publisher that made it (by key ID,
/// confirmed by the signature itself in [`check_artifact`]).
pub fn trusted_key_for<'a>(
    trust: &'a TrustStore,
    sig: &SealwaxSignature,
) -> Result<(&'a TrustedKey, PublicKey)> {
    let mut candidates = trust.candidates(&sig.release.publisher, &sig.sigbox.keynum);
    if candidates.is_empty() {
        return Err(ClientError::UntrustedKey {
            publisher: sig.release.publisher.clone(),
            key_id: sig.sigbox.key_id_hex(),
        });
    }
    // Key IDs are random 8-byte hints; with two keys sharing one, the
    // signature picks the right key.
    if candidates.len() > 1 {
        let comment = sig.sigbox.trusted_comment.as_bytes();
        let mut msg = sig.sigbox.signature.to_vec();
        msg.extend_from_slice(comment);
        if let Some(pos) = candidates
            .iter()
            .position(|(_, pk)| pk.verify_raw(&msg, &sig.sigbox.global_signature).is_ok())
        {
            return Ok(candidates.swap_remove(pos));
        }
    }
    Ok(candidates.swap_remove(0))
}

/// The leaf hash of a signature entry.
pub fn leaf_of(entry: &SignatureEntry) -> Hash {
    Entry::Signature(entry.clone()).leaf_hash()
}

/// Checks the `.tlog-proof`'s checkpoint signature and that `leaf` is at its
/// index in that tree; returns the checkpoint.
pub fn check_proof(
    proof_path: &Path,
    proof: &TlogProof,
    leaf: &Hash,
    open: impl Fn(&str) -> std::result::Result<Checkpoint, sealwax_proto::Error>,
) -> Result<Checkpoint> {
    let bad = |reason: String| ClientError::BadProof {
        path: proof_path.to_path_buf(),
        reason,
    };
    let cp = open(&proof.checkpoint).map_err(|e| {
        bad(format!(
            "its checkpoint is not signed by the trusted log key ({e}); check --log-key, or the proof was altered"
        ))
    })?;
    verify_inclusion(leaf, proof.index, cp.size, &proof.inclusion, &cp.root).map_err(|e| {
        bad(format!(
            "the signature's entry is not at index {} of the logged tree: {e}",
            proof.index
        ))
    })?;
    Ok(cp)
}

/// Refuses a signature whose key the trust store knows was revoked.
pub fn check_local_status(tk: &TrustedKey, index: u64) -> Result<()> {
    if tk.allows_signature_at(index) {
        return Ok(());
    }
    let r = tk.revoked.as_ref().expect("refused only when revoked");
    if r.reason == "compromised" {
        Err(ClientError::KeyCompromised {
            publisher: tk.publisher.clone(),
            key_id: tk.key_id.clone(),
            index: r.index,
        })
    } else {
        Err(ClientError::KeyRetired {
            publisher: tk.publisher.clone(),
            key_id: tk.key_id.clone(),
            index: r.index,
            signed_at: index,
        })
    }
}
