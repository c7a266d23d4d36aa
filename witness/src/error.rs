//! The one error type of `sealwax-witness`: refused requests (each with its
//! tlog-witness HTTP status) and what can go wrong with the data directory.

use std::path::PathBuf;

use axum::http::StatusCode;
use sealwax_durable::DurableError;
use thiserror::Error;

/// Everything the witness can refuse or fail at.
///
/// A cause shown in a message is not also its `source`, so `{:#}` and
/// anyhow's "Caused by" print it once.
#[derive(Debug, Error)]
pub enum WitnessError {
    /// The body is not an add-checkpoint request (400).
    #[error("malformed add-checkpoint request: {0}; send `old <size>`, the consistency proof lines, a blank line, then the signed checkpoint (C2SP tlog-witness)")]
    Malformed(String),
    /// No trusted key is configured for the checkpoint's origin (404).
    #[error("this witness does not witness the log {0:?}: its operator must add the log's key with --log-key")]
    UnknownOrigin(String),
    /// No trusted signature verifies on the checkpoint (403).
    #[error("{0}")]
    NotSigned(sealwax_proto::Error),
    /// The old size is larger than the checkpoint's (400).
    #[error("the old size {old} is larger than the checkpoint's size {new}: the old size is the size this witness last cosigned, at most the new one")]
    OldAfterNew {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        new: u64,
    },
    /// The old size is not the size this witness last cosigned (409).
    #[error(
        "this witness last cosigned size {stored}: send a consistency proof from size {stored}"
    )]
    SizeMismatch {
        /// The size the witness last cosigned (0: none yet).
        stored: u64,
    },
    /// The checkpoint is not consistent with what the witness cosigned (422).
    #[error("the checkpoint is not consistent with the one this witness cosigned: {0}")]
    Inconsistent(String),
    /// A file of the data directory could not be written.
    #[error(transparent)]
    Durable(#[from] DurableError),
    /// A file of the data directory could not be read.
    #[error("cannot {action} {path}: {cause}; check the data directory and its permissions")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why it failed.
        cause: std::io::Error,
    },
    /// The key file can be read by other users.
    #[error("the witness key {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}` and check who may have copied it")]
    KeyFileReadable {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A stored key or state file does not parse.
    #[error("{path} is damaged: {cause}; restore it from a backup (a witness that lost its state must be retired with its key, never restarted empty)")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        cause: sealwax_proto::Error,
    },
    /// No key yet, for `key` without `--name`.
    #[error("there is no witness key in {dir}: run `sealwax-witness key --data-dir {dir} --name NAME` (or `serve`) once to create it")]
    NoKey {
        /// The data directory.
        dir: PathBuf,
    },
    /// The name asked for is not the one the key was made with.
    #[error("this data directory holds the witness {stored:?}, not {given:?}: a witness's name is part of its key; use another --data-dir for another witness")]
    NameMismatch {
        /// The stored name.
        stored: String,
        /// The one given.
        given: String,
    },
    /// The witness name or a log key is not usable.
    #[error("{0}")]
    Config(String),
    /// The clock or the signer refused to cosign.
    #[error("cannot cosign: {0}")]
    Cosign(sealwax_proto::Error),
    /// The listen address.
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        cause: std::io::Error,
    },
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WitnessError {
    /// The HTTP status tlog-witness gives this refusal (500 for the witness's own failures).
    pub fn status(&self) -> StatusCode {
        match self {
            WitnessError::Malformed(_) | WitnessError::OldAfterNew { .. } => {
                StatusCode::BAD_REQUEST
            }
            WitnessError::UnknownOrigin(_) => StatusCode::NOT_FOUND,
            WitnessError::NotSigned(_) => StatusCode::FORBIDDEN,
            WitnessError::SizeMismatch { .. } => StatusCode::CONFLICT,
            WitnessError::Inconsistent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
