//! The witness: the logs it trusts, what it last cosigned for each, and
//! [`Witness::add_checkpoint`], which checks a request and cosigns.
//!
//! Each log has a lock. A request takes it before it compares its old size
//! with the stored one and keeps it until the new state is on disk and in
//! memory, so two requests can never both pass the check against the same
//! size: the stored size never goes back (the race C2SP tlog-witness
//! describes). The check and the write run on a blocking thread that owns the
//! lock, so a request that times out cannot let go of the lock mid-write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sealwax_proto::checkpoint::{consistency_needed, relate, Checkpoint, ForkReason, Relation};
use sealwax_proto::merkle::EMPTY_ROOT;
use sealwax_proto::note::{CosignatureSigner, CosignatureVerifier, Note, NoteVerifier};
use sealwax_proto::Hash;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::datadir::DataDir;
use crate::error::WitnessError;
use crate::metrics::Metrics;
use crate::request::AddCheckpoint;

/// The tree head this witness last cosigned for one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its size (0: nothing cosigned yet).
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// One log the witness trusts.
struct Log {
    verifiers: Vec<NoteVerifier>,
    state: Arc<Mutex<Stored>>,
}

/// A witness over its data directory.
pub struct Witness {
    signer: CosignatureSigner,
    dir: DataDir,
    logs: BTreeMap<String, Log>,
    metrics: Arc<Metrics>,
}

/// Why a signed checkpoint was refused as inconsistent (a 422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    /// A short label for metrics: `same_size_other_root` (a fork: two roots
    /// for one size, both signed by the log), `bad_proof` (the proof does
    /// not link the two tree heads: a fork or a broken client), or
    /// `unexpected_proof` (proof lines where no proof exists).
    pub reason: &'static str,
    /// What was wrong, in words.
    pub detail: String,
}

/// Whether the new tree head `new` may be cosigned after `stored`, given
/// the request's consistency proof (from `stored.size`, which the caller
/// checked is the request's old size).
pub fn check_consistency(
    stored: Stored,
    new: (u64, Hash),
    proof: &[Hash],
) -> Result<(), Inconsistency> {
    if consistency_needed(stored.size, new.0).is_none() && !proof.is_empty() {
        return Err(Inconsistency {
            reason: "unexpected_proof",
            detail: format!(
                "no consistency proof exists from size {} to size {}, but {} proof lines were sent",
                stored.size,
                new.0,
                proof.len()
            ),
        });
    }
    match relate((stored.size, stored.root), new, Some(proof)) {
        Relation::Same | Relation::Extends => Ok(()),
        Relation::Fork(reason @ ForkReason::SameSizeOtherRoot) => Err(Inconsistency {
            reason: "same_size_other_root",
            detail: format!(
                "{reason}: this witness cosigned size {} with root {}, the checkpoint has root {}",
                stored.size,
                BASE64.encode(stored.root),
                BASE64.encode(new.1)
            ),
        }),
        Relation::Fork(reason) => Err(Inconsistency {
            reason: "bad_proof",
            detail: format!("{reason}"),
        }),
        other => Err(Inconsistency {
            reason: "bad_proof",
            detail: format!("the new tree head relates as {other:?}"),
        }),
    }
}

/// Seconds since the Unix epoch.
fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Witness {
    /// A witness signing with `signer`, trusting `log_keys` (grouped by
    /// their key name, the log's origin), with the state stored in `dir`.
    pub fn open(
        dir: DataDir,
        signer: CosignatureSigner,
        log_keys: Vec<NoteVerifier>,
        metrics: Arc<Metrics>,
    ) -> Result<Witness, WitnessError> {
        let mut logs: BTreeMap<String, Log> = BTreeMap::new();
        for key in log_keys {
            let origin = key.name().to_owned();
            if let Some(log) = logs.get_mut(&origin) {
                log.verifiers.push(key);
                continue;
            }
            let stored = match dir.load_state(&origin)? {
                Some(cp) => Stored {
                    size: cp.size,
                    root: cp.root,
                },
                None => Stored {
                    size: 0,
                    root: EMPTY_ROOT,
                },
            };
            metrics.set_size(&origin, stored.size);
            let state = Arc::new(Mutex::new(stored));
            logs.insert(
                origin,
                Log {
                    verifiers: vec![key],
                    state,
                },
            );
        }
        Ok(Witness {
            signer,
            dir,
            logs,
            metrics,
        })
    }

    /// The verifier of this witness's cosignatures.
    pub fn verifier(&self) -> CosignatureVerifier {
        self.signer.verifier()
    }

    /// The origins of the logs it witnesses.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// What it last cosigned for `origin` (`None`: an unknown log).
    pub async fn stored(&self, origin: &str) -> Option<Stored> {
        Some(*self.logs.get(origin)?.state.lock().await)
    }

    /// The last checkpoint cosigned for the log whose origin hashes (SHA-256,
    /// lowercase hex) to `origin_hash`, with the log's signature and the
    /// cosignature; `None` for an unknown log or one never cosigned.
    pub fn cosigned_checkpoint(&self, origin_hash: &str) -> Result<Option<String>, WitnessError> {
        let origin = self
            .logs
            .keys()
            .find(|o| hex::encode(Sha256::digest(o.as_bytes())) == origin_hash);
        match origin {
            Some(o) => self.dir.load_note(o),
            None => Ok(None),
        }
    }

    /// Checks an add-checkpoint request body and, if it passes, stores the
    /// new checkpoint durably and returns the cosignature line(s) to answer.
    pub async fn add_checkpoint(self: &Arc<Self>, body: &str) -> Result<String, WitnessError> {
        let req = AddCheckpoint::parse(body)?;
        let note = Note::parse(&req.checkpoint)
            .map_err(|e| WitnessError::Malformed(format!("the checkpoint: {e}")))?;
        let cp = Checkpoint::parse(&note.text)
            .map_err(|e| WitnessError::Malformed(format!("the checkpoint: {e}")))?;
        let log = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| WitnessError::UnknownOrigin(cp.origin.clone()))?;
        let verifiers: Vec<&NoteVerifier> = log.verifiers.iter().collect();
        let note = note.verified(&verifiers).map_err(WitnessError::NotSigned)?;
        if req.old_size > cp.size {
            return Err(WitnessError::OldAfterNew {
                old: req.old_size,
                new: cp.size,
            });
        }
        let guard = log.state.clone().lock_owned().await;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = guard;
            this.commit(&mut guard, &req, &cp, note)
        })
        .await
        .map_err(|e| WitnessError::Internal(format!("the cosigning task failed: {e}")))?
    }

    /// The check against the stored state and the durable update, under the log's lock.
    fn commit(
        &self,
        stored: &mut Stored,
        req: &AddCheckpoint,
        cp: &Checkpoint,
        mut note: Note,
    ) -> Result<String, WitnessError> {
        if req.old_size != stored.size {
            return Err(WitnessError::SizeMismatch {
                stored: stored.size,
            });
        }
        if let Err(e) = check_consistency(*stored, (cp.size, cp.root), &req.proof) {
            // The checkpoint carries a valid signature of the log: it may be
            // the proof of a fork, so the operator sees it whole.
            tracing::warn!(
                origin = %cp.origin,
                size = stored.size,
                root = %BASE64.encode(stored.root),
                new_size = cp.size,
                new_root = %BASE64.encode(cp.root),
                reason = e.reason,
                detail = %e.detail,
                checkpoint = ?note.to_string(),
                "refused a signed checkpoint inconsistent with the one this witness cosigned: the log may have forked"
            );
            self.metrics.inconsistent(&cp.origin, e.reason);
            return Err(WitnessError::Inconsistent(e.detail));
        }
        let cosig = self
            .signer
            .cosign(&note.text, now_seconds())
            .map_err(WitnessError::Cosign)?;
        note.signatures.push(cosig.clone());
        self.dir.save_state(&cp.origin, &note.to_string())?;
        *stored = Stored {
            size: cp.size,
            root: cp.root,
        };
        self.metrics.cosigned(&cp.origin, cp.size);
        Ok(format!("{cosig}\n"))
    }
}
