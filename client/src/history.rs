//! A publisher's logged key history, fetched from the log and verified
//! entry by entry: each event is parsed, its signatures are checked, its
//! inclusion proof is verified against a checkpoint signed by the log key
//! (and consistent with the remembered one), and the rules of the log are
//! replayed over it with [`PublisherKeys::apply`].
//!
//! What this cannot show yet is that the log left no event out: that will
//! come with proven key status (a map committed to by each checkpoint).
//! Until then a monitor watching the whole log is what catches a hidden
//! event.

use sealwax_proto::entry::{Entry, PublisherKeys};
use sealwax_proto::merkle::verify_inclusion;

use crate::api::{decode_entry, decode_hashes, LogClient};
use crate::checkpoints::{CheckpointTracker, Freshness};
use crate::error::{ClientError, Result};
use crate::home::LogIdentity;

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

/// Fetches and verifies the key history of `publisher`; `None` if the log
/// knows no keys of it.
pub fn fetch_history(
    api: &LogClient,
    tracker: &mut CheckpointTracker,
    log: &LogIdentity,
    publisher: &str,
) -> Result<Option<VerifiedHistory>> {
    let Some(answer) = api.publisher_keys(publisher)? else {
        return Ok(None);
    };
    let url = api.url().to_string();
    let bad = |reason: String| ClientError::LogMisbehaving {
        url: url.clone(),
        reason,
    };
    let cp = tracker.accept(api, &answer.checkpoint, Freshness::Current)?;
    if cp.size != answer.tree_size {
        return Err(bad(format!(
            "the key history of {publisher:?} claims tree size {} but carries a checkpoint of size {}",
            answer.tree_size, cp.size
        )));
    }
    if answer.events.is_empty() {
        return Ok(None);
    }
    let mut keys = PublisherKeys::new(publisher);
    let mut events = Vec::with_capacity(answer.events.len());
    let mut last: Option<u64> = None;
    for ev in &answer.events {
        if last.is_some_and(|l| ev.index <= l) {
            return Err(bad(format!(
                "the key history of {publisher:?} is not in log order"
            )));
        }
        last = Some(ev.index);
        let bytes = decode_entry(&url, &ev.entry)?;
        let entry = Entry::parse(&bytes).map_err(|e| {
            bad(format!(
                "key history entry {} does not parse: {e}",
                ev.index
            ))
        })?;
        let kind_ok = matches!(
            (&entry, ev.kind.as_str()),
            (Entry::KeyRegistration(_), "registration") | (Entry::KeyRevocation(_), "revocation")
        );
        if !kind_ok || entry.publisher() != publisher {
            return Err(bad(format!(
                "key history entry {} is not a {} of {publisher:?}",
                ev.index, ev.kind
            )));
        }
        let proof = decode_hashes(&url, "inclusion proof hash", &ev.inclusion_proof)?;
        verify_inclusion(&entry.leaf_hash(), ev.index, cp.size, &proof, &cp.root).map_err(|e| {
            bad(format!(
                "key history entry {} is not in the log's tree: {e}",
                ev.index
            ))
        })?;
        entry.verify_signatures(&log.origin).map_err(|e| {
            bad(format!(
                "key history entry {} has a bad signature: {e}",
                ev.index
            ))
        })?;
        keys.apply(&entry, ev.index).map_err(|e| {
            bad(format!(
                "the log accepted key history entry {} that breaks its rules: {e}",
                ev.index
            ))
        })?;
        events.push((ev.index, entry));
    }
    Ok(Some(VerifiedHistory {
        keys,
        tree_size: cp.size,
        events,
    }))
}
