//! `PUT` and `GET /v1/artifacts/<sha256>`: the artifact store.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sealwax_proto::wire::{ArtifactAnswer, ErrorBody};

use super::{blocking, parse_sha256, path_param, with_headers, AppState, CACHE_IMMUTABLE};
use crate::artifacts::ArtifactStore;
use crate::error::AppError;
use crate::openapi::Binary;
use crate::server::ConnHandle;

fn artifact_store(st: &AppState) -> Result<&ArtifactStore, AppError> {
    st.0.artifacts
        .as_ref()
        .ok_or_else(|| AppError::NotFound("this log keeps no artifacts".into()))
}

/// Stores an artifact whose signature is logged.
#[utoipa::path(
    put,
    path = "/v1/artifacts/{sha256}",
    tag = "artifacts",
    params(
        ("sha256" = String, Path, pattern = "^[0-9a-fA-F]{64}$",
         description = "The artifact's SHA-256"),
    ),
    request_body(content = Binary, content_type = "application/octet-stream",
                 description = "The artifact's bytes"),
    responses(
        (status = 200, body = ArtifactAnswer, description = "The artifact was already stored"),
        (status = 201, body = ArtifactAnswer, description = "The artifact is stored"),
        (status = 400, body = ErrorBody,
         description = "`sha256` is not 64 hex digits, or the body does not hash to it or was \
                        cut off"),
        (status = 404, body = ErrorBody, description = "This log keeps no artifacts"),
        (status = 409, body = ErrorBody,
         description = "No signature of this artifact is logged (log one first), or another \
                        upload of it is in progress (retry once it has finished)"),
        (status = 413, body = ErrorBody,
         description = "The artifact is over the size limit, or its publisher's artifacts \
                        would go over the per-publisher quota"),
        (status = 503, body = ErrorBody,
         description = "Every artifact transfer slot is taken: retry after `Retry-After` seconds",
         headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 507, body = ErrorBody,
         description = "The artifact store is full (its quota or its disk); the signature \
                        stays logged"),
    )
)]
pub(crate) async fn put_artifact(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    conn: Option<axum::Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let conn = conn.map(|axum::Extension(c)| c);
    let store = artifact_store(&st)?.clone();
    let sha = parse_sha256(&path_param(path)?)?;
    let expected = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = expected {
        if len > store.max_bytes() {
            return Err(AppError::PayloadTooLarge(format!(
                "the artifact is {len} bytes, over this log's limit of {} bytes",
                store.max_bytes()
            )));
        }
    }
    let owner: Option<Option<String>> = blocking(&st, move |st| {
        let size = st.0.log.published().size;
        let logged =
            st.0.log
                .storage()
                .signatures_by_sha256(&sha)?
                .iter()
                .any(|i| *i < size);
        let owner: Option<Option<String>> =
            logged.then(|| crate::server::artifact_owner(st.0.log.storage(), &sha));
        Ok(owner) as Result<_, AppError>
    })
    .await?;
    let Some(owner) = owner else {
        return Err(AppError::Conflict(format!(
            "no signature of the artifact {} is logged: log its signature first (`sealwax publish`), then upload it",
            hex::encode(sha)
        )));
    };
    let owner = owner.ok_or_else(|| {
        AppError::internal("a logged artifact has no publisher", hex::encode(sha))
    })?;
    if let Some((_, size)) = store.open_read(&sha).await? {
        // Already stored: read the body to its end before answering, so the
        // uploader gets this answer and not a reset connection (a client
        // that is still sending when the server closes sees "broken pipe").
        drain(body, store.max_bytes()).await;
        if let Some(c) = conn {
            c.transfer_done();
        }
        return Ok((StatusCode::OK, Json(ArtifactAnswer { sha256: sha, size })).into_response());
    }
    let stored = store
        .put(sha, &owner, expected, body, move || {
            if let Some(c) = conn {
                c.transfer_done();
            }
        })
        .await?;
    let status = if stored.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(ArtifactAnswer {
            sha256: sha,
            size: stored.size,
        }),
    )
        .into_response())
}

/// Reads and drops a request body, up to `limit` bytes (an upload that
/// goes on past it is cut off, as any other oversized upload is).
async fn drain(mut body: Body, limit: u64) {
    use http_body_util::BodyExt;
    let mut read: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            read += data.len() as u64;
            if read > limit {
                return;
            }
        }
    }
}

/// A stored artifact.
#[utoipa::path(
    get,
    path = "/v1/artifacts/{sha256}",
    tag = "artifacts",
    params(
        ("sha256" = String, Path, pattern = "^[0-9a-fA-F]{64}$",
         description = "The artifact's SHA-256"),
    ),
    responses(
        (status = 200, body = Binary, content_type = "application/octet-stream",
         description = "The artifact's bytes (immutable)"),
        (status = 400, body = ErrorBody, description = "`sha256` is not 64 hex digits"),
        (status = 404, body = ErrorBody,
         description = "No such artifact is stored, or this log keeps no artifacts"),
        (status = 503, body = ErrorBody,
         description = "Every artifact transfer slot is taken: retry after `Retry-After` seconds",
         headers(("Retry-After" = String, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn get_artifact(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let store = artifact_store(&st)?;
    let sha = parse_sha256(&path_param(path)?)?;
    let Some((file, len)) = store.open_read(&sha).await? else {
        return Err(AppError::NotFound(format!(
            "no artifact with SHA-256 {} is stored in this log",
            hex::encode(sha)
        )));
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut r = with_headers(body, "application/octet-stream", CACHE_IMMUTABLE);
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(r)
}
