//! `GET /v1/limits`: the artifact store's limits, announced so that a
//! publisher checks a file against them before its signature is logged (the
//! log is append-only: a signature logged for an artifact the store then
//! refuses stays logged).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Json;
use sealwax_proto::wire::{ErrorBody, LimitsAnswer};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{query_param, with_headers, AppState, CACHE_NONE};
use crate::error::AppError;

/// The query of `GET /v1/limits`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LimitsQuery {
    /// A publisher, to be told the bytes its artifacts take now.
    #[param(example = "alice")]
    publisher: Option<String>,
}

/// `u64::MAX`, the store's "no limit", as `None`.
fn limit(bytes: u64) -> Option<u64> {
    (bytes != u64::MAX).then_some(bytes)
}

/// The artifact store's size limit and quotas, and what is used of them.
#[utoipa::path(
    get,
    path = "/v1/limits",
    tag = "artifacts",
    params(LimitsQuery),
    responses(
        (status = 200, body = LimitsAnswer,
         description = "The limits (`null`: no such limit, or no artifact store)"),
        (status = 400, body = ErrorBody, description = "The query does not parse"),
    )
)]
pub(crate) async fn limits(
    State(st): State<AppState>,
    q: Result<Query<LimitsQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query_param(q)?;
    let answer = match &st.0.artifacts {
        None => LimitsAnswer {
            artifacts: false,
            max_artifact_bytes: None,
            artifact_quota_bytes: None,
            artifact_used_bytes: None,
            publisher_quota_bytes: None,
            publisher_used_bytes: None,
        },
        Some(store) => {
            let l = store.limits();
            LimitsAnswer {
                artifacts: true,
                max_artifact_bytes: Some(l.max_bytes),
                artifact_quota_bytes: limit(l.quota_bytes),
                artifact_used_bytes: Some(store.used_bytes()),
                publisher_quota_bytes: limit(l.publisher_quota_bytes),
                publisher_used_bytes: q.publisher.map(|p| store.publisher_used_bytes(&p)),
            }
        }
    };
    Ok(with_headers(Json(answer), "application/json", CACHE_NONE))
}
