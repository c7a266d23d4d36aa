//! `POST /v1/entries` and `GET /v1/entries/<i>`.

use std::time::Instant;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_proto::entry::{Entry, MAX_ENTRY_SIZE};
use sealwax_proto::merkle::leaf_hash;
use sealwax_proto::wire::{EntryAnswer, ErrorBody, SubmitAnswer, SubmitBody};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use super::{blocking, parse_index, path_param, with_headers, AppState, CACHE_IMMUTABLE};
use crate::error::AppError;
use crate::sequencer::{Sequenced, Submission};

/// Largest `POST /v1/entries` body: a maximal entry in base64, in JSON.
pub const MAX_SUBMIT_BODY: usize = 128 * 1024;

/// The answer to a submission, from what the sequencer answered.
fn submit_answer(s: Sequenced) -> SubmitAnswer {
    SubmitAnswer {
        index: s.index,
        leaf_hash: s.leaf_hash,
        checkpoint: s.checkpoint.to_string(),
        inclusion_proof: s.inclusion_proof,
        duplicate: s.duplicate,
    }
}

/// Checks `Authorization: Bearer <token>` against the admin token, in constant time.
fn check_operator(st: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(want) = &st.0.admin_token_hash else {
        return Err(AppError::Unauthorized(
            "this log has no operator path: operator registrations and revocations are accepted only when the log runs with --admin-token-file",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // RFC 9110 §11.1: the scheme is case-insensitive.
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token)
        })
        .ok_or(AppError::Unauthorized(
            "this entry is an operator entry: send it with the header `Authorization: Bearer <admin token>`",
        ))?;
    let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
    if bool::from(given.ct_eq(want)) {
        Ok(())
    } else {
        Err(AppError::Unauthorized(
            "the admin token is wrong: use the contents of the log's --admin-token-file",
        ))
    }
}

/// Submits one entry; answers once it is durably sequenced.
#[utoipa::path(
    post,
    path = "/v1/entries",
    tag = "submit",
    request_body(
        content = SubmitBody,
        content_type = "application/json",
        description = "One entry. Operator registrations and revocations also need \
                       `Authorization: Bearer <admin token>`"
    ),
    security((), ("admin_token" = [])),
    responses(
        (status = 200, body = SubmitAnswer,
         description = "The entry is durably sequenced, or was logged before (`duplicate`)"),
        (status = 400, body = ErrorBody,
         description = "The body is not `{\"entry\": \"<base64>\"}`, or the entry does not \
                        parse, is not canonical, or its signatures do not verify"),
        (status = 401, body = ErrorBody,
         description = "An operator entry without the right admin token, or the log has none",
         headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 409, body = ErrorBody,
         description = "The entry breaks a rule of the log given the entries before it"),
        (status = 413, body = ErrorBody,
         description = "The body or the entry is over the size limit"),
        (status = 503, body = ErrorBody,
         description = "The submission queue is full (retry after `Retry-After` seconds), \
                        or the log is shutting down or cannot write",
         headers(("Retry-After" = String, description = "Seconds to wait (queue full)"))),
    )
)]
pub(crate) async fn submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let raw = axum::body::to_bytes(body, MAX_SUBMIT_BODY)
        .await
        .map_err(|_| {
            AppError::PayloadTooLarge(format!(
                "the request body is over {MAX_SUBMIT_BODY} bytes (or was cut off); an entry is at most {MAX_ENTRY_SIZE} bytes"
            ))
        })?;
    let body: SubmitBody = serde_json::from_slice(&raw).map_err(|e| {
        AppError::BadRequest(format!(
            "the body must be JSON {{\"entry\": \"<base64 entry bytes>\"}}: {e}"
        ))
    })?;
    let bytes = B64
        .decode(body.entry.as_bytes())
        .map_err(|e| AppError::BadRequest(format!("\"entry\" is not valid base64: {e}")))?;
    if bytes.len() > MAX_ENTRY_SIZE {
        return Err(AppError::PayloadTooLarge(format!(
            "the entry is {} bytes; the most an entry may be is {MAX_ENTRY_SIZE}",
            bytes.len()
        )));
    }
    let entry = Entry::parse(&bytes).map_err(AppError::from_entry_error)?;
    if entry.to_bytes() != bytes {
        return Err(AppError::BadRequest(
            "the entry is not in its canonical encoding; re-encode it with sealwax".into(),
        ));
    }
    let leaf = leaf_hash(&bytes);
    if entry.needs_operator() {
        check_operator(&st, &headers)?;
    }
    // Every rule that needs no curve arithmetic; the verifier checks the
    // signatures themselves, many entries at a time. A duplicate of a
    // logged entry is answered by the sequencer with its first index.
    let checks = entry
        .signature_checks(st.0.log.origin())
        .map_err(AppError::from_entry_error)?;

    let (tx, rx) = oneshot::channel();
    st.0.sequencer.submit(Submission {
        entry,
        checks,
        bytes,
        leaf_hash: leaf,
        queued_at: Instant::now(),
        reply: tx,
    })?;
    let sequenced = rx.await.map_err(|_| {
        AppError::Unavailable("the log shut down before sequencing the entry; submit it again")
    })??;
    Ok(Json(submit_answer(sequenced)).into_response())
}

/// One logged entry by index.
#[utoipa::path(
    get,
    path = "/v1/entries/{index}",
    tag = "read",
    params(("index" = u64, Path, example = 0, description = "The entry's index")),
    responses(
        (status = 200, body = EntryAnswer, description = "The entry"),
        (status = 400, body = ErrorBody, description = "The index is not a decimal number"),
        (status = 404, body = ErrorBody, description = "The log has no entry at this index"),
    )
)]
pub(crate) async fn get_entry(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let index = parse_index(&path_param(path)?, "index")?;
    let answer = blocking(&st, move |st| {
        let size = st.0.log.published().size;
        if index >= size {
            return Err(AppError::NotFound(format!(
                "no entry at index {index}: the log has {size} entries"
            )));
        }
        let bytes =
            st.0.log
                .storage()
                .entry(index)?
                .ok_or_else(|| AppError::internal("entry missing from storage", index))?;
        Ok(EntryAnswer {
            index,
            entry: B64.encode(&bytes),
            leaf_hash: leaf_hash(&bytes),
        })
    })
    .await?;
    Ok(with_headers(
        Json(answer),
        "application/json",
        CACHE_IMMUTABLE,
    ))
}
