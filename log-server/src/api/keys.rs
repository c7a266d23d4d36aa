//! `GET /v1/publishers/<p>/keys`: a publisher's key history, with proofs.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_proto::entry::{Authorization, Entry, RevocationAuthorization};
use sealwax_proto::merkle;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{blocking, hexes, path_param, query_param, with_headers, AppState, CACHE_SHORT};
use crate::error::{AppError, ErrorBody};
use crate::log::StorageHashReader;
use crate::openapi::HexHash;

/// One registration or revocation of a publisher's key.
#[derive(Serialize, ToSchema)]
struct KeyEventAnswer {
    /// The event's index in the log.
    index: u64,
    /// `registration` or `revocation`.
    #[schema(value_type = String, pattern = "^(registration|revocation)$")]
    kind: &'static str,
    /// The key: the base64 line of a Minisign public key.
    key: String,
    /// The Minisign key ID: 16 uppercase hex digits.
    #[schema(pattern = "^[0-9A-F]{16}$")]
    key_id: String,
    /// SHA-256 of the key's bytes: its identity in sealwax.
    #[schema(value_type = HexHash)]
    key_hash: String,
    /// `claim`, `chain` or `operator` for a registration; `key` or `operator` for a revocation.
    #[schema(value_type = String, pattern = "^(claim|chain|operator|key)$")]
    authorization: &'static str,
    /// The key hash of the key that signed a `chain` registration or a `key` revocation.
    #[schema(value_type = Option<HexHash>)]
    authorized_by: Option<String>,
    /// `retired` or `compromised` for a revocation; null for a registration.
    #[schema(value_type = Option<String>, pattern = "^(retired|compromised)$")]
    reason: Option<&'static str>,
    /// The entry's bytes, standard base64.
    #[schema(content_encoding = "base64")]
    entry: String,
    /// The entry's inclusion proof at `tree_size`, from the leaf up.
    #[schema(value_type = Vec<HexHash>)]
    inclusion_proof: Vec<String>,
}

/// A publisher's key history.
#[derive(Serialize, ToSchema)]
struct PublisherKeysAnswer {
    /// The publisher.
    publisher: String,
    /// The tree size of `checkpoint`, at which the proofs are.
    tree_size: u64,
    /// The signed checkpoint the proofs lead to.
    checkpoint: String,
    /// The registrations and revocations from index `from` on, in index
    /// order: all of them, or the first [`KEY_EVENTS_PER_PAGE`].
    events: Vec<KeyEventAnswer>,
    /// Set when more events follow: ask again with `?from=` this index.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

/// Most key events in one answer of `GET /v1/publishers/<p>/keys`.
pub const KEY_EVENTS_PER_PAGE: usize = 1000;

/// The query of `GET /v1/publishers/<p>/keys`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PublisherKeysQuery {
    /// The first log index to answer events from (the `next` of the page before).
    #[param(example = 0)]
    from: Option<u64>,
}

/// A publisher's key history: its registrations and revocations, with
/// proofs, a page of at most [`KEY_EVENTS_PER_PAGE`] at a time.
#[utoipa::path(
    get,
    path = "/v1/publishers/{publisher}/keys",
    tag = "read",
    params(
        ("publisher" = String, Path, pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "alice",
         description = "The publisher name"),
        PublisherKeysQuery,
    ),
    responses(
        (status = 200, body = PublisherKeysAnswer, description = "The key history"),
        (status = 400, body = ErrorBody, description = "The publisher name is not valid"),
        (status = 404, body = ErrorBody, description = "The publisher has no keys in this log"),
    )
)]
pub(crate) async fn publisher_keys(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    q: Result<Query<PublisherKeysQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let publisher = path_param(path)?;
    sealwax_proto::entry::validate_publisher(&publisher)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let from = query_param(q)?.from.unwrap_or(0);
    let answer = blocking(&st, move |st| {
        let log = &st.0.log;
        let published = log.published();
        // One more than a page, to know whether another follows.
        let mut indexes: Vec<u64> = log
            .storage()
            .key_events_page(&publisher, from, KEY_EVENTS_PER_PAGE + 1)?
            .into_iter()
            .filter(|i| *i < published.size)
            .collect();
        let next = (indexes.len() > KEY_EVENTS_PER_PAGE).then(|| indexes[KEY_EVENTS_PER_PAGE]);
        indexes.truncate(KEY_EVENTS_PER_PAGE);
        if indexes.is_empty() && from == 0 {
            return Err(AppError::NotFound(format!(
                "publisher {publisher:?} has no keys in this log"
            )));
        }
        let reader = log.reader();
        let mut events = Vec::with_capacity(indexes.len());
        for index in indexes {
            let bytes = log
                .storage()
                .entry(index)?
                .ok_or_else(|| AppError::internal("key event entry missing", index))?;
            events.push(key_event(&reader, published.size, index, &bytes)?);
        }
        Ok(PublisherKeysAnswer {
            publisher,
            tree_size: published.size,
            checkpoint: published.checkpoint.to_string(),
            events,
            next,
        })
    })
    .await?;
    Ok(with_headers(Json(answer), "application/json", CACHE_SHORT))
}

/// The key event logged at `index` as `bytes`, with its inclusion proof in
/// the tree of `size` read from `reader`.
fn key_event(
    reader: &StorageHashReader<'_>,
    size: u64,
    index: u64,
    bytes: &[u8],
) -> Result<KeyEventAnswer, AppError> {
    let entry = Entry::parse(bytes)
        .map_err(|e| AppError::internal("a logged key event does not parse", e))?;
    let kind = entry.kind_name();
    let (key, authorization, authorized_by, reason) = match &entry {
        Entry::KeyRegistration(r) => {
            let by = match &r.authorization {
                Authorization::Chain { by, .. } => Some(hex::encode(by.key_hash())),
                Authorization::Claim | Authorization::Operator => None,
            };
            (&r.key, r.authorization.kind(), by, None)
        }
        Entry::KeyRevocation(r) => {
            let by = match &r.authorization {
                RevocationAuthorization::Key { by, .. } => Some(hex::encode(by.key_hash())),
                RevocationAuthorization::Operator => None,
            };
            (&r.key, r.authorization.kind(), by, Some(r.reason.as_str()))
        }
        Entry::Signature(_) => {
            return Err(AppError::internal(
                "a signature entry is indexed as a key event",
                index,
            ))
        }
    };
    let proof = merkle::prove_inclusion(reader, index, size).map_err(|e| reader.fail(e))?;
    Ok(KeyEventAnswer {
        index,
        kind,
        key: key.to_base64(),
        key_id: key.key_id_hex(),
        key_hash: hex::encode(key.key_hash()),
        authorization,
        authorized_by,
        reason,
        entry: B64.encode(bytes),
        inclusion_proof: hexes(&proof),
    })
}
