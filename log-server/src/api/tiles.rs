//! The C2SP read API: `GET /checkpoint` and `GET /tile/...`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use sealwax_proto::tile::TileId;
use sealwax_proto::wire::ErrorBody;

use super::{blocking, path_param, with_headers, AppState, CACHE_IMMUTABLE, CACHE_SHORT};
use crate::error::AppError;
use crate::openapi::Binary;

/// The latest signed checkpoint.
#[utoipa::path(
    get,
    path = "/checkpoint",
    tag = "tiles",
    responses(
        (status = 200, body = String, content_type = "text/plain",
         description = "A C2SP signed note: origin, tree size and base64 root hash, then the \
                        log's signature; with a witness policy, the newest checkpoint that met \
                        its quorum, with the witnesses' cosignatures"),
        (status = 503, body = ErrorBody,
         description = "With a witness policy: no checkpoint has met its quorum yet"),
    )
)]
pub(crate) async fn checkpoint(State(st): State<AppState>) -> Result<Response, AppError> {
    let note = crate::mirror::served_checkpoint(&st.0.log, st.0.witnessing.as_deref())
        .ok_or(AppError::NotCosignedYet)?
        .to_string();
    Ok(with_headers(note, "text/plain; charset=utf-8", CACHE_SHORT))
}

/// A C2SP hash tile or entry bundle.
#[utoipa::path(
    get,
    path = "/tile/{level}/{index}",
    tag = "tiles",
    params(
        ("level" = String, Path, pattern = "^(entries|[0-9]|[1-5][0-9]|6[0-3])$", example = "0",
         description = "The tile level (`0` to `63`, no leading zeros), or `entries` for an \
                        entry bundle"),
        ("index" = String, Path, pattern = "^(x[0-9]{3}/)*[0-9]{3}(\\.p/[1-9][0-9]{0,2})?$",
         example = "000.p/1", description = "The tile index in C2SP form: groups of 3 digits, all but the last \
                        starting with `x` (`x001/234` is 1234), then `.p/<W>` for a partial \
                        tile of width W (1 to 255). Its slashes are path separators"),
    ),
    responses(
        (status = 200, body = Binary, content_type = "application/octet-stream",
         description = "A hash tile (W hashes of 32 bytes) or an entry bundle (each entry as a \
                        2-byte big-endian length and its bytes); a full tile is immutable"),
        (status = 400, body = ErrorBody, description = "The tile path is malformed"),
        (status = 404, body = ErrorBody,
         description = "The published tree has no such tile (yet)"),
    )
)]
pub(crate) async fn tile(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let rest = path_param(path)?;
    let id = TileId::parse_path(&format!("tile/{rest}"))
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let data = blocking(&st, move |st| st.0.log.tile(&id)).await?;
    let cache = if id.is_full() {
        CACHE_IMMUTABLE
    } else {
        CACHE_SHORT
    };
    Ok(with_headers(data, "application/octet-stream", cache))
}
