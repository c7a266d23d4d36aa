//! `GET /v1/signatures`: logged release signatures by artifact hash or release.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_proto::entry::Entry;
use sealwax_proto::wire::{ErrorBody, SignatureAnswer, SignaturesAnswer};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{blocking, parse_sha256, query_param, with_headers, AppState, CACHE_SHORT};
use crate::error::AppError;

pub use sealwax_proto::wire::MAX_SIGNATURES_PER_LOOKUP;

/// The query of `GET /v1/signatures`: either `sha256`, or `publisher` and
/// `package` (and optionally `version`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SignaturesQuery {
    /// The artifact's SHA-256 (64 hex digits); alone.
    #[param(pattern = "^[0-9a-fA-F]{64}$")]
    sha256: Option<String>,
    /// The publisher; with `package`.
    #[param(example = "alice")]
    publisher: Option<String>,
    /// The package; with `publisher`.
    #[param(example = "demo")]
    package: Option<String>,
    /// The version; optional, with `publisher` and `package`.
    #[param(example = "1.0")]
    version: Option<String>,
}

/// Logged release signatures, by artifact hash or by release.
#[utoipa::path(
    get,
    path = "/v1/signatures",
    tag = "read",
    params(SignaturesQuery),
    responses(
        (status = 200, body = SignaturesAnswer, description = "The signatures (maybe none)"),
        (status = 400, body = ErrorBody,
         description = "Neither `sha256` alone nor `publisher` and `package` were given, or \
                        `sha256` is not 64 hex digits"),
    )
)]
pub(crate) async fn signatures(
    State(st): State<AppState>,
    q: Result<Query<SignaturesQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query_param(q)?;
    enum Lookup {
        Sha([u8; 32]),
        Release(String, String, Option<String>),
    }
    let lookup = match (q.sha256, q.publisher, q.package) {
        (Some(s), None, None) if q.version.is_none() => Lookup::Sha(parse_sha256(&s)?),
        (None, Some(p), Some(n)) => Lookup::Release(p, n, q.version),
        _ => {
            return Err(AppError::BadRequest(
                "give either sha256=<64 hex digits> or publisher=<p>&package=<n>[&version=<v>]"
                    .into(),
            ))
        }
    };
    let answer = blocking(&st, move |st| {
        let log = &st.0.log;
        let size = log.published().size;
        let mut indexes: Vec<u64> = match &lookup {
            Lookup::Sha(h) => log.storage().signatures_by_sha256(h)?,
            Lookup::Release(p, n, v) => log.storage().signatures_by_release(p, n, v.as_deref())?,
        };
        indexes.retain(|i| *i < size);
        let skip = indexes.len().saturating_sub(MAX_SIGNATURES_PER_LOOKUP);
        let mut signatures = Vec::new();
        for index in indexes.into_iter().skip(skip) {
            let bytes = log
                .storage()
                .entry(index)?
                .ok_or_else(|| AppError::internal("signature entry missing", index))?;
            let Ok(Entry::Signature(s)) = Entry::parse(&bytes) else {
                return Err(AppError::internal(
                    "an indexed signature does not parse",
                    index,
                ));
            };
            let release = s
                .release()
                .map_err(|e| AppError::internal("a logged release does not parse", e))?;
            signatures.push(SignatureAnswer {
                index,
                publisher: release.publisher,
                package: release.package,
                version: release.version,
                sha256: release.sha256,
                key_hash: s.key.key_hash(),
                entry: B64.encode(&bytes),
            });
        }
        Ok(SignaturesAnswer { signatures })
    })
    .await?;
    Ok(with_headers(Json(answer), "application/json", CACHE_SHORT))
}
