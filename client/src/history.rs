//! A publisher's logged key history, fetched from the log page by page
//! (`?from=`, as the log's `next` says) and verified entry by entry: each
//! event's inclusion proof is verified against a checkpoint signed by the
//! log key (and consistent with the remembered one), then the event is
//! folded with `sealwax_proto::rules::apply_key_event` (parsed, its
//! signatures checked, the rules of the log replayed over it).
//!
//! The folded state must extend what this client recorded before
//! ([`crate::keystate`]): a log that drops an event this client has seen
//! is caught, with exit 3. What a first-time client cannot see from an
//! event list is an event left out; a monitor watching the whole log
//! catches that.

use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::entry::Entry;
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle::{leaf_hash, verify_inclusion};
use sealwax_proto::rules::{apply_key_event, KeyEventError};
use sealwax_proto::wire::KeyEventAnswer;

use crate::api::{decode_entry, LogClient};
use crate::checkpoints::{CheckpointTracker, Freshness};
use crate::error::Result;
use crate::home::LogIdentity;
use crate::keystate::{KeyStateStore, Recorded};

/// A publisher's key history, every event verified.
#[derive(Debug, Clone)]
pub struct VerifiedHistory {
    /// The folded key state.
    pub keys: PublisherKeys,
    /// Tree size the history was proven at.
    pub tree_size: u64,
    /// The events, by index.
    pub events: Vec<(u64, Entry)>,
}

/// Fetches and verifies the key history of `publisher`, checks it against
/// what `store` recorded and records it; `None` if the log knows no keys
/// of it.
pub fn fetch_history(
    api: &LogClient,
    tracker: &mut CheckpointTracker,
    log: &LogIdentity,
    store: &KeyStateStore,
    publisher: &str,
) -> Result<Option<VerifiedHistory>> {
    let bad = |reason: String| api.misbehaving(reason);
    let recorded = store.load(publisher)?;
    let history = verified_history(api, tracker, log, publisher)?;
    let Some(history) = history else {
        if let Some(r) = recorded.filter(|r| !r.keys.is_empty()) {
            return Err(bad(format!(
                "it says publisher {publisher:?} has no keys, but this client verified {} of its keys at tree size {}",
                r.keys.keys().len(),
                r.tree_size
            )));
        }
        return Ok(None);
    };
    let releases = match recorded {
        Some(r) => {
            if let Some(why) = history.keys.contradiction(&r.keys) {
                return Err(bad(format!(
                    "its key history of {publisher:?} contradicts what this client verified at tree size {}: {why}",
                    r.tree_size
                )));
            }
            r.releases
        }
        None => Default::default(),
    };
    store.save(&Recorded {
        keys: history.keys.clone(),
        tree_size: history.tree_size,
        releases,
    })?;
    Ok(Some(history))
}

/// The key history as the log answers it, page by page, every event
/// verified against the checkpoint of its page (each consistent with the
/// one before, so an event proven in an earlier page is in the later tree).
fn verified_history(
    api: &LogClient,
    tracker: &mut CheckpointTracker,
    log: &LogIdentity,
    publisher: &str,
) -> Result<Option<VerifiedHistory>> {
    let bad = |reason: String| api.misbehaving(reason);
    let mut keys = PublisherKeys::new(publisher);
    let mut events = Vec::new();
    let mut last: Option<u64> = None;
    let mut from = 0;
    let tree_size = loop {
        let Some(answer) = api.publisher_keys(publisher, from)? else {
            if from == 0 {
                return Ok(None);
            }
            return Err(bad(format!(
                "it says publisher {publisher:?} has no keys, after a page of its key history"
            )));
        };
        let cp = tracker.accept(api, &answer.checkpoint, Freshness::Current)?;
        if cp.size != answer.tree_size {
            return Err(bad(format!(
                "the key history of {publisher:?} claims tree size {} but carries a checkpoint of size {}",
                answer.tree_size, cp.size
            )));
        }
        for ev in &answer.events {
            if ev.index < from || last.is_some_and(|l| ev.index <= l) {
                return Err(bad(format!(
                    "the key history of {publisher:?} is not in log order"
                )));
            }
            last = Some(ev.index);
            let entry = verified_event(api, log, &mut keys, &cp, ev)?;
            events.push((ev.index, entry));
        }
        match answer.next {
            None => break cp.size,
            // Each page must move on, past the events it answered.
            Some(next) if next > from && last.is_none_or(|l| next > l) => from = next,
            Some(next) => {
                return Err(bad(format!(
                    "the key history of {publisher:?} sends the next page back to index {next}"
                )))
            }
        }
    };
    if events.is_empty() {
        return Ok(None);
    }
    Ok(Some(VerifiedHistory {
        keys,
        tree_size,
        events,
    }))
}

/// One event of a page, in the tree of `cp`, folded into `keys` by
/// `sealwax_proto::rules::apply_key_event` (parsed, a key event of the
/// publisher, its signatures valid, the log's rules kept), and of the kind
/// the page says.
fn verified_event(
    api: &LogClient,
    log: &LogIdentity,
    keys: &mut PublisherKeys,
    cp: &Checkpoint,
    ev: &KeyEventAnswer,
) -> Result<Entry> {
    let bad = |reason: String| api.misbehaving(reason);
    let (i, publisher) = (ev.index, keys.publisher.clone());
    let not_kind = || {
        bad(format!(
            "key history entry {i} is not a {} of {publisher:?}",
            ev.kind
        ))
    };
    let bytes = decode_entry(api.url(), &ev.entry)?;
    let proof = &ev.inclusion_proof;
    verify_inclusion(&leaf_hash(&bytes), i, cp.size, proof, &cp.root).map_err(|e| {
        bad(format!(
            "key history entry {i} is not in the log's tree: {e}"
        ))
    })?;
    let (entry, _) = apply_key_event(keys, &log.origin, i, &bytes).map_err(|e| match e {
        KeyEventError::Unparseable(e) => bad(format!("key history entry {i} does not parse: {e}")),
        KeyEventError::NotKeyEvent(_) => not_kind(),
        KeyEventError::BadSignature(e) => {
            bad(format!("key history entry {i} has a bad signature: {e}"))
        }
        KeyEventError::Rule(e) => bad(format!(
            "the log accepted key history entry {i} that breaks its rules: {e}"
        )),
    })?;
    if entry.kind_name() != ev.kind.as_str() {
        return Err(not_kind());
    }
    Ok(entry)
}
