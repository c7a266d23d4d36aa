//! The newest checkpoint this client has verified for a log, and the rule
//! that every later one must be proven consistent with it.
//!
//! Every checkpoint the log shows is opened with the trusted log key, then
//! related to the baseline (the newest checkpoint verified before, on disk
//! or earlier in this run) by `sealwax_proto::checkpoint::relate`:
//! - the log's *current* view (`GET /checkpoint`, the checkpoint of an
//!   answer) must not be smaller than the baseline: smaller is a rollback;
//! - an equal size must have an equal root: a different one is a fork;
//! - a larger one needs a consistency proof from the baseline, fetched from
//!   the log and verified here: a proof that fails is a fork;
//! - an *older* checkpoint (the one inside a `.tlog-proof` file) may be
//!   smaller, but then the log must prove it is a prefix of the baseline.
//!
//! Only then does the checkpoint become the new baseline, and
//! [`CheckpointTracker::commit`] saves it (atomically) for the next run.

use std::path::PathBuf;

use sealwax_proto::checkpoint::{
    consistency_needed, open_checkpoint, relate, Checkpoint, Relation,
};
use sealwax_proto::note::Note;

use crate::api::LogClient;
use crate::atomic::{read_optional, write_atomic, MODE_PUBLIC};
use crate::error::{ClientError, Result};
use crate::home::{Home, LogIdentity};

/// Why a checkpoint from `url` was not opened: not the trusted log's, or
/// the log's but without its quorum of cosignatures.
pub fn refused(url: &str, text: &str, cause: sealwax_proto::Error) -> ClientError {
    if !cause.is_not_cosigned() {
        return ClientError::LogKeyMismatch {
            url: url.to_string(),
            cause,
        };
    }
    ClientError::NotCosigned {
        url: url.to_string(),
        tree_size: Note::parse(text)
            .and_then(|n| Checkpoint::parse(&n.text))
            .map_or(0, |cp| cp.size),
        cause,
    }
}

/// How long a served view smaller than the baseline is waited on: several
/// rounds of a witnessed log's cosigner (one a second).
pub const LAG_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
const LAG_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Where a checkpoint came from, which decides whether it may be older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The log's view now: must not be older than what was seen before.
    Current,
    /// Carried in a proof file: may be older, but must be a prefix.
    Historical,
    /// The checkpoint of a write's answer. Without a witness policy it is
    /// a current view like any other. Under one it carries the log's
    /// signature alone (witnesses cosign later): it is proven consistent
    /// with the baseline but does not become it, since only quorate
    /// checkpoints do.
    Answer,
}

/// Verifies checkpoints of one log against the remembered one.
#[derive(Debug)]
pub struct CheckpointTracker {
    log: LogIdentity,
    path: PathBuf,
    remembered: Option<Checkpoint>,
    newest: Option<(Checkpoint, String)>,
}

impl CheckpointTracker {
    /// Loads the remembered checkpoint of `log` (re-verifying its signature).
    pub fn load(home: &Home, log: &LogIdentity) -> Result<CheckpointTracker> {
        let path = home.log_dir(log).join("checkpoint");
        let remembered = match read_optional(&path)? {
            None => None,
            Some(text) => Some(
                open_checkpoint(&text, &log.origin, &log.verifier)
                    .map_err(|e| ClientError::BadStateFile {
                        path: path.clone(),
                        reason: format!("the remembered checkpoint does not verify: {e}"),
                    })?
                    .0,
            ),
        };
        Ok(CheckpointTracker {
            log: log.clone(),
            path,
            remembered,
            newest: None,
        })
    }

    /// The log whose checkpoints this tracks.
    pub fn log(&self) -> &LogIdentity {
        &self.log
    }

    /// The newest checkpoint verified so far (this run or before).
    pub fn baseline(&self) -> Option<&Checkpoint> {
        match &self.newest {
            Some((cp, _)) => Some(cp),
            None => self.remembered.as_ref(),
        }
    }

    /// The checkpoint remembered on disk when this run started.
    pub fn remembered(&self) -> Option<&Checkpoint> {
        self.remembered.as_ref()
    }

    /// Opens a checkpoint with the log key (and the witness policy, if one
    /// is configured), without any consistency check.
    pub fn open(&self, text: &str) -> std::result::Result<Checkpoint, sealwax_proto::Error> {
        self.log.open(text).map(|(cp, _)| cp)
    }

    /// Opens `text`, checks it against the baseline (asking `api` for a
    /// consistency proof where one is needed) and makes it the new baseline
    /// if it is newer.
    pub fn accept(
        &mut self,
        api: &LogClient,
        text: &str,
        freshness: Freshness,
    ) -> Result<Checkpoint> {
        let url = api.url().to_string();
        let freshness = match (freshness, &self.log.policy) {
            (Freshness::Answer, None) => Freshness::Current,
            (f, _) => f,
        };
        let opened = match freshness {
            Freshness::Answer => {
                open_checkpoint(text, &self.log.origin, &self.log.verifier).map(|(cp, _)| cp)
            }
            _ => self.open(text),
        };
        let cp = opened.map_err(|cause| refused(&url, text, cause))?;
        let Some(base) = self.baseline().cloned() else {
            if freshness != Freshness::Answer {
                self.newest = Some((cp.clone(), text.to_string()));
            }
            return Ok(cp);
        };
        // A current view that went back is a rollback whatever a proof says:
        // no proof is asked for.
        let went_back = freshness == Freshness::Current && cp.size < base.size;
        let proof = match consistency_needed(base.size, cp.size) {
            Some((from, to)) if !went_back => Some(api.consistency_proof(from, to)?),
            _ => None,
        };
        match relate((base.size, base.root), (cp.size, cp.root), proof.as_deref()) {
            Relation::Same => Ok(cp),
            Relation::Older if freshness != Freshness::Current => Ok(cp),
            Relation::Extends if freshness == Freshness::Answer => Ok(cp),
            Relation::Extends => {
                self.newest = Some((cp.clone(), text.to_string()));
                Ok(cp)
            }
            Relation::Older | Relation::Rollback => Err(ClientError::Rollback {
                url,
                old_size: base.size,
                new_size: cp.size,
            }),
            Relation::Fork(reason) => Err(ClientError::Fork {
                url,
                old_size: base.size,
                new_size: cp.size,
                reason: reason.to_string(),
            }),
            Relation::Unproven => unreachable!("a larger tree always comes with its proof"),
        }
    }

    /// The log's current view (`GET /checkpoint`), accepted as
    /// [`Freshness::Current`], with its text. A log with witnesses serves
    /// its newest *cosigned* checkpoint, which lags the one its last write
    /// answered with by a second or so; so a view smaller than the baseline
    /// is asked for again for up to [`LAG_GRACE`] before it counts as a
    /// rollback.
    pub fn current(&mut self, api: &LogClient) -> Result<(Checkpoint, String)> {
        let started = std::time::Instant::now();
        loop {
            let text = api.checkpoint()?;
            match self.accept(api, &text, Freshness::Current) {
                Ok(cp) => return Ok((cp, text)),
                Err(ClientError::Rollback { .. }) if started.elapsed() < LAG_GRACE => {
                    std::thread::sleep(LAG_POLL);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Saves the newest verified checkpoint, if it is newer than the one on
    /// disk (re-read now, in case another run saved a newer one meanwhile).
    pub fn commit(&self) -> Result<bool> {
        let Some((cp, text)) = &self.newest else {
            return Ok(false);
        };
        if let Some(on_disk) = read_optional(&self.path)? {
            if let Ok((disk_cp, _)) =
                open_checkpoint(&on_disk, &self.log.origin, &self.log.verifier)
            {
                if disk_cp.size >= cp.size {
                    return Ok(false);
                }
            }
        }
        write_atomic(&self.path, text.as_bytes(), MODE_PUBLIC)?;
        Ok(true)
    }
}
