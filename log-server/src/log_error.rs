//! The one error type of the log's core: the log, the verifier, the
//! sequencer and the artifact store. It knows nothing of HTTP; the
//! handlers turn it into an [`AppError`](crate::error::AppError) with one
//! `From` impl.

use sealwax_proto::Error as ProtoError;
use thiserror::Error;

use crate::storage::StorageError;

/// Why the log could not do what was asked.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LogError {
    /// An entry that does not parse, is not canonical, or whose signatures do not verify.
    #[error(transparent)]
    InvalidEntry(ProtoError),
    /// A well-formed entry that breaks a rule given the entries before it.
    #[error(transparent)]
    Rejected(ProtoError),
    /// An entry or upload over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// A read outside the published tree (a proof, tile or index).
    #[error("{0}")]
    OutOfRange(String),
    /// Nothing at this name.
    #[error("{0}")]
    NotFound(String),
    /// An artifact upload that was cut off or does not hash to its name.
    #[error("{0}")]
    BadUpload(String),
    /// The artifact store (its quota or its disk) is full.
    #[error("{0}")]
    StoreFull(String),
    /// Another upload of the same artifact is still arriving.
    #[error("{0}")]
    UploadInProgress(String),
    /// The submission queue is full.
    #[error("the log is busy (its submission queue is full); retry after a second")]
    QueueFull,
    /// The log is shutting down.
    #[error("the log is shutting down; retry in a moment")]
    ShuttingDown,
    /// The sequencer stopped writing after storage stopped matching its tree.
    #[error("the log cannot write to its storage and has stopped accepting entries; the operator must check its log and restart it")]
    Stopped,
    /// A batch could not be written (a full disk, for one); nothing of it was logged.
    #[error("the log could not write to its storage (its disk may be full), so this entry was not logged; reads still work; retry later, and tell the log's operator if it lasts")]
    WriteFailed,
    /// A failure inside the log; the details went to the server log.
    #[error("internal error in the log server; the operator can find the details in its log")]
    Internal,
}

impl LogError {
    /// An entry-level error from `sealwax-proto`: a rule rejection, an
    /// oversize entry, or an invalid entry.
    pub fn entry(e: ProtoError) -> LogError {
        match e {
            ProtoError::Rejected(_) => LogError::Rejected(e),
            ProtoError::EntryTooLarge(_) => LogError::TooLarge(e.to_string()),
            other => LogError::InvalidEntry(other),
        }
    }

    /// Logs an internal failure and returns [`LogError::Internal`].
    pub fn internal(context: &str, err: impl std::fmt::Display) -> LogError {
        tracing::error!(error = %err, "{context}");
        LogError::Internal
    }
}

impl From<StorageError> for LogError {
    fn from(e: StorageError) -> Self {
        LogError::internal("storage failure", e)
    }
}
