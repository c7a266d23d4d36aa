//! `GET /v1/publishers/<p>/keys`: a publisher's key history, with proofs.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_proto::directory::{publisher_key, DirectoryProof};
use sealwax_proto::entry::{Authorization, Entry, RevocationAuthorization};
use sealwax_proto::keys::{record_hash, PublisherKeys};
use sealwax_proto::merkle;
use sealwax_proto::wire::{ErrorBody, KeyEventAnswer, PublisherKeysAnswer, MAX_RECORD_IN_ANSWER};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{blocking, path_param, query_param, with_headers, AppState, CACHE_SHORT};
use crate::error::AppError;
use crate::log::{replay_key_events, Log, SignedAt, StorageHashReader};

pub use sealwax_proto::wire::KEY_EVENTS_PER_PAGE;

/// The query of `GET /v1/publishers/<p>/keys`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PublisherKeysQuery {
    /// The first log index to answer events from (the `next` of the page before).
    #[param(example = 0)]
    from: Option<u64>,
    /// The tree size to answer at: that of a checkpoint the log served (the
    /// newest when left out). With it, a publisher with no keys gets a 200
    /// with the proof of its absence instead of a 404.
    #[param(example = 4)]
    tree_size: Option<u64>,
}

/// A publisher's key history: its registrations and revocations, with
/// proofs, a page of at most [`KEY_EVENTS_PER_PAGE`] at a time; the first
/// page (`from` 0) also carries the key-state record and its key directory
/// proof.
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
        (status = 404, body = ErrorBody, description = "The publisher has no keys in this log \
         (without `tree_size`), or the log signed no checkpoint at `tree_size`"),
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
    let q = query_param(q)?;
    let from = q.from.unwrap_or(0);
    let answer = blocking(&st, move |st| {
        let log = &st.0.log;
        let at = signed_at(log, q.tree_size)?;
        // One more than a page, to know whether another follows.
        let mut indexes: Vec<u64> = log
            .storage()
            .key_events_page(&publisher, from, KEY_EVENTS_PER_PAGE + 1)?
            .into_iter()
            .filter(|i| *i < at.size)
            .collect();
        let next = (indexes.len() > KEY_EVENTS_PER_PAGE).then(|| indexes[KEY_EVENTS_PER_PAGE]);
        indexes.truncate(KEY_EVENTS_PER_PAGE);
        if indexes.is_empty() && from == 0 && q.tree_size.is_none() {
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
            events.push(key_event(&reader, at.size, index, &bytes)?);
        }
        let (record, directory_proof) = if from == 0 {
            proven_record(log, &at, &publisher)?
        } else {
            (None, None)
        };
        Ok(PublisherKeysAnswer {
            publisher,
            tree_size: at.size,
            checkpoint: at.checkpoint,
            events,
            next,
            record,
            directory_proof,
        })
    })
    .await?;
    Ok(with_headers(Json(answer), "application/json", CACHE_SHORT))
}

/// The checkpoint to answer at: the one signed for `tree_size`, or the newest.
pub(crate) fn signed_at(log: &Log, tree_size: Option<u64>) -> Result<SignedAt, AppError> {
    match tree_size {
        Some(n) => Ok(log.signed_at(n)?),
        None => {
            let p = log.published();
            Ok(SignedAt {
                size: p.size,
                checkpoint: p.checkpoint.to_string(),
                directory_root: p.directory_root,
            })
        }
    }
}

/// The publisher's key-state record as of `at` and the key directory proof
/// of it, checked against each other: a directory that disagrees with the
/// key events is the log's own failure. The record the sequencer stored is
/// used when the directory shows its hash (at the newest size, as a rule);
/// otherwise, at an older size, the key events below it are replayed.
pub(crate) fn proven_record(
    log: &Log,
    at: &SignedAt,
    publisher: &str,
) -> Result<(Option<String>, Option<DirectoryProof>), AppError> {
    let Some((value, proof)) = log.prove_directory(at, &publisher_key(publisher))? else {
        return Ok((None, None));
    };
    let record = match (value, stored_record(log, publisher)?) {
        (Some(v), Some(stored)) if record_hash(&stored) == v => Some(stored),
        _ => {
            let keys = replay_key_events(log.storage(), publisher, at.size)?;
            (!keys.is_empty()).then(|| keys.to_record())
        }
    };
    if value != record.as_deref().map(record_hash) {
        return Err(AppError::internal(
            "the key directory disagrees with the replayed key events",
            format!("publisher {publisher:?} at tree size {}", at.size),
        ));
    }
    let inline = record.filter(|r| r.len() <= MAX_RECORD_IN_ANSWER);
    Ok((inline.map(|r| B64.encode(r)), Some(proof)))
}

/// The publisher's key-state record as the sequencer last stored it (its
/// header and per-key records), without replaying a single event; `None`
/// when it has none in that form.
fn stored_record(log: &Log, publisher: &str) -> Result<Option<Vec<u8>>, AppError> {
    let Some(header) = log.storage().key_state(publisher)? else {
        return Ok(None);
    };
    let records = log.storage().key_records(publisher)?;
    Ok(
        PublisherKeys::from_parts(&header, records.iter().map(Vec::as_slice))
            .ok()
            .map(|k| k.to_record()),
    )
}

/// The key event logged at `index` as `bytes`, with its inclusion proof in
/// the tree of `size` read from `reader`.
pub(crate) fn key_event(
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
                Authorization::Chain { by, .. } => Some(by.key_hash()),
                Authorization::Claim | Authorization::Operator => None,
            };
            (&r.key, r.authorization.kind(), by, None)
        }
        Entry::KeyRevocation(r) => {
            let by = match &r.authorization {
                RevocationAuthorization::Key { by, .. } => Some(by.key_hash()),
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
        kind: kind.to_string(),
        key: key.to_base64(),
        key_id: key.key_id_hex(),
        key_hash: key.key_hash(),
        authorization: authorization.to_string(),
        authorized_by,
        reason: reason.map(str::to_string),
        entry: B64.encode(bytes),
        inclusion_proof: proof,
    })
}
