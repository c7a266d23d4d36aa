//! `GET /v1/proof/inclusion` and `GET /v1/proof/consistency`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Json;
use sealwax_proto::wire::{ConsistencyAnswer, ErrorBody, InclusionAnswer};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{blocking, query_param, with_headers, AppState, CACHE_SHORT};
use crate::error::AppError;

/// The query of `GET /v1/proof/inclusion`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InclusionQuery {
    /// The leaf's index (smaller than `tree_size`).
    #[param(example = 0)]
    index: u64,
    /// The size of the tree the proof is for (at most the log's size).
    #[param(example = 1)]
    tree_size: u64,
}

/// The inclusion proof of a leaf in a tree of a given size.
#[utoipa::path(
    get,
    path = "/v1/proof/inclusion",
    tag = "read",
    params(InclusionQuery),
    responses(
        (status = 200, body = InclusionAnswer, description = "The proof"),
        (status = 400, body = ErrorBody,
         description = "A parameter is missing or not a number, `tree_size` is larger than \
                        the log, or `index` is not smaller than `tree_size`"),
    )
)]
pub(crate) async fn inclusion_proof(
    State(st): State<AppState>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let InclusionQuery { index, tree_size } = query_param(q)?;
    let (leaf, proof) = blocking(&st, move |st| st.0.log.inclusion_proof(index, tree_size)).await?;
    Ok(with_headers(
        Json(InclusionAnswer {
            index,
            tree_size,
            leaf_hash: leaf,
            proof,
        }),
        "application/json",
        CACHE_SHORT,
    ))
}

/// The query of `GET /v1/proof/consistency`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConsistencyQuery {
    /// The older tree size (at least 1).
    #[param(minimum = 1, example = 1)]
    from: u64,
    /// The newer tree size (at least `from`, at most the log's size).
    #[param(example = 2)]
    to: u64,
}

/// The consistency proof between two tree sizes.
#[utoipa::path(
    get,
    path = "/v1/proof/consistency",
    tag = "read",
    params(ConsistencyQuery),
    responses(
        (status = 200, body = ConsistencyAnswer, description = "The proof"),
        (status = 400, body = ErrorBody,
         description = "A parameter is missing or not a number, `from` is 0 or larger than \
                        `to`, or `to` is larger than the log"),
    )
)]
pub(crate) async fn consistency_proof(
    State(st): State<AppState>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let ConsistencyQuery { from, to } = query_param(q)?;
    let proof = blocking(&st, move |st| st.0.log.consistency_proof(from, to)).await?;
    Ok(with_headers(
        Json(ConsistencyAnswer { from, to, proof }),
        "application/json",
        CACHE_SHORT,
    ))
}
