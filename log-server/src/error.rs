//! The one error type of the HTTP API: every failure becomes a status code
//! and a JSON body `{"error": "<what to fix>"}`. Internal details (storage
//! errors and the like) go to the server log, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sealwax_proto::wire::ErrorBody;
use sealwax_proto::Error as ProtoError;
use thiserror::Error;

use crate::log_error::LogError;
use crate::storage::StorageError;

/// An error answered to an HTTP client.
#[derive(Debug, Error)]
pub enum AppError {
    /// The request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The entry does not parse or its signatures do not verify.
    #[error("{0}")]
    InvalidEntry(ProtoError),
    /// The entry is well-formed but breaks a rule of the log given its current state.
    #[error("{0}")]
    Rejected(ProtoError),
    /// The request conflicts with the log's state (other than an entry rule).
    #[error("{0}")]
    Conflict(String),
    /// Nothing at this path.
    #[error("{0}")]
    NotFound(String),
    /// The path exists but not for this method.
    #[error("method not allowed here; see the sealwax-log API documentation")]
    MethodNotAllowed,
    /// An operator entry without a valid admin token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A request body over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The artifact store (its quota or its disk) is full.
    #[error("{0}")]
    InsufficientStorage(String),
    /// Every artifact transfer slot is taken.
    #[error("the log is serving as many artifact transfers as it allows at once ({0}); retry after a few seconds (checkpoints, proofs and submissions are not affected)")]
    TooManyTransfers(usize),
    /// The submission queue is full.
    #[error("the log is busy (its submission queue is full); retry after a second")]
    QueueFull,
    /// The server cannot take the request now.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The `--mirror` stopped on a conflict or is stuck; the message says which.
    #[error("{0}")]
    MirrorStuck(String),
    /// With a witness policy, no checkpoint has met the quorum yet.
    #[error("no checkpoint has been cosigned by a quorum of this log's witnesses yet; retry in a moment, and tell the log's operator if it lasts (its witnesses may be down)")]
    NotCosignedYet,
    /// Writing a batch to storage failed (a full disk, for one); nothing of
    /// it was logged.
    #[error("the log could not write to its storage (its disk may be full), so this entry was not logged; reads still work; retry later, and tell the log's operator if it lasts")]
    WriteFailed,
    /// This client sent more writes than its rate limit allows.
    #[error("too many writes from {client}: the log takes at most {per_second} per second from one client (bursts of {burst}); retry after {retry_after_secs} s, or ask the operator to raise --write-rate")]
    TooManyWrites {
        /// The client, as the log sees it.
        client: String,
        /// The sustained limit.
        per_second: u32,
        /// The burst allowance.
        burst: u32,
        /// Whole seconds until a write is allowed again.
        retry_after_secs: u64,
    },
    /// The request took longer than the limit.
    #[error("the request took longer than {0} seconds; retry it (a submission that was logged meanwhile is answered as a duplicate)")]
    Timeout(u64),
    /// A failure inside the server; the details are in the server log.
    #[error("internal error in the log server; the operator can find the details in its log")]
    Internal,
}

impl AppError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::InvalidEntry(_) => StatusCode::BAD_REQUEST,
            AppError::Rejected(_) | AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::QueueFull
            | AppError::Unavailable(_)
            | AppError::NotCosignedYet
            | AppError::MirrorStuck(_)
            | AppError::WriteFailed
            | AppError::TooManyTransfers(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooManyWrites { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An entry-level error from `sealwax-proto`: a rule rejection is a
    /// conflict with the log's state, an oversize entry is 413, anything
    /// else is a bad entry.
    pub fn from_entry_error(e: ProtoError) -> AppError {
        LogError::entry(e).into()
    }

    /// Logs an internal failure and returns [`AppError::Internal`].
    pub fn internal(context: &str, err: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %err, "{context}");
        AppError::Internal
    }
}

impl From<LogError> for AppError {
    fn from(e: LogError) -> Self {
        let message = e.to_string();
        match e {
            LogError::InvalidEntry(p) => AppError::InvalidEntry(p),
            LogError::Rejected(p) => AppError::Rejected(p),
            LogError::TooLarge(_) => AppError::PayloadTooLarge(message),
            LogError::OutOfRange(_) | LogError::BadUpload(_) => AppError::BadRequest(message),
            LogError::NotFound(_) => AppError::NotFound(message),
            LogError::StoreFull(_) => AppError::InsufficientStorage(message),
            LogError::UploadInProgress(_) => AppError::Conflict(message),
            LogError::QueueFull => AppError::QueueFull,
            LogError::ShuttingDown => {
                AppError::Unavailable("the log is shutting down; retry in a moment")
            }
            LogError::Stopped => AppError::Unavailable(
                "the log cannot write to its storage and has stopped accepting entries; the operator must check its log and restart it",
            ),
            LogError::WriteFailed => AppError::WriteFailed,
            LogError::Internal => AppError::Internal,
        }
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        AppError::internal("storage failure", e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = axum::Json(ErrorBody {
            error: self.to_string(),
        });
        let mut resp = (status, body).into_response();
        match self {
            AppError::QueueFull | AppError::NotCosignedYet => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            AppError::WriteFailed => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            }
            AppError::TooManyTransfers(_) => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            AppError::TooManyWrites {
                retry_after_secs, ..
            } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            AppError::Unauthorized(_) => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak() {
        let e: AppError = StorageError::Backend("IO error: /secret/path/db/LOCK".into()).into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.to_string().contains("/secret"));
    }

    #[test]
    fn proto_errors_map_to_statuses() {
        let rej = ProtoError::Rejected(sealwax_proto::error::Rejection::NameTaken("a".into()));
        assert_eq!(
            AppError::from_entry_error(rej).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            AppError::from_entry_error(ProtoError::EntryTooLarge(70000)).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            AppError::from_entry_error(ProtoError::MalformedEntry("x")).status(),
            StatusCode::BAD_REQUEST
        );
        let busy = AppError::QueueFull.into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    }
}
