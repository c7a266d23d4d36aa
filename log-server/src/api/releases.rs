//! `GET /v1/releases/<p>/<n>/<v>`: the artifact a release is bound to, with
//! its key directory proof (or the proof that the release is not logged).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use sealwax_proto::directory::release_key;
use sealwax_proto::entry::{validate_package, validate_publisher, validate_version};
use sealwax_proto::rules::ReleaseName;
use sealwax_proto::wire::{ErrorBody, ReleaseAnswer, ReleaseRecordAnswer};
use serde::Deserialize;
use utoipa::IntoParams;

use super::keys::signed_at;
use super::{blocking, path_param, query_param, with_headers, AppState, CACHE_SHORT};
use crate::error::AppError;
use crate::log::bound_release;

/// The query of `GET /v1/releases/<p>/<n>/<v>`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReleaseQuery {
    /// The tree size to answer at: that of a checkpoint the log served (the newest when left out).
    #[param(example = 4)]
    tree_size: Option<u64>,
}

/// One release's key directory leaf: the index of its first signature and
/// the artifact's SHA-256, or the proof that it is not logged.
#[utoipa::path(
    get,
    path = "/v1/releases/{publisher}/{package}/{version}",
    tag = "read",
    params(
        ("publisher" = String, Path, pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "alice",
         description = "The publisher name"),
        ("package" = String, Path, example = "demo", description = "The package name"),
        ("version" = String, Path, example = "1.0", description = "The version"),
        ReleaseQuery,
    ),
    responses(
        (status = 200, body = ReleaseAnswer, description = "The release's leaf, or its absence, proven"),
        (status = 400, body = ErrorBody, description = "A name is not valid, or `tree_size` is beyond the log"),
        (status = 404, body = ErrorBody, description = "The log signed no checkpoint at `tree_size`, \
         or its checkpoint commits to no key directory"),
    )
)]
pub(crate) async fn release(
    State(st): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    q: Result<Query<ReleaseQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let (publisher, package, version) = path_param(path)?;
    let bad = |e: sealwax_proto::Error| AppError::BadRequest(e.to_string());
    validate_publisher(&publisher).map_err(bad)?;
    validate_package(&package).map_err(bad)?;
    validate_version(&version).map_err(bad)?;
    let tree_size = query_param(q)?.tree_size;
    let answer = blocking(&st, move |st| {
        let log = &st.0.log;
        let at = signed_at(log, tree_size)?;
        let name = ReleaseName {
            publisher,
            package,
            version,
        };
        let record = bound_release(log.storage(), &name)?.filter(|r| r.index < at.size);
        let Some((value, proof)) = log.prove_directory(&at, &release_key(&name))? else {
            return Err(AppError::NotFound(format!(
                "the checkpoint at tree size {} commits to no key directory (it was signed before the log had one); ask at a newer size",
                at.size
            )));
        };
        if value != record.map(|r| r.record_hash()) {
            return Err(AppError::internal(
                "the key directory disagrees with the release index",
                format!("{name} at tree size {}", at.size),
            ));
        }
        Ok(ReleaseAnswer {
            publisher: name.publisher,
            package: name.package,
            version: name.version,
            tree_size: at.size,
            checkpoint: at.checkpoint,
            record: record.map(|r| ReleaseRecordAnswer {
                index: r.index,
                sha256: r.sha256,
            }),
            directory_proof: proof,
        })
    })
    .await?;
    Ok(with_headers(Json(answer), "application/json", CACHE_SHORT))
}
