//! A publisher's logged key history, fetched from the log page by page
//! (`?from=`, as the log's `next` says) at the tree size of one checkpoint
//! this client accepted (signed by the log key and consistent with the
//! remembered one), and verified entry by entry: each event's inclusion
//! proof against that checkpoint, then the event folded with
//! `sealwax_proto::rules::apply_key_event` (parsed, its signatures
//! checked, the rules of the log replayed over it).
//!
//! The list alone cannot show that nothing was left out, so the folded
//! state is then proven against the checkpoint's key directory
//! (`sealwax_proto::directory::check_key_state`): the first page's
//! directory proof must show exactly the folded record (or, with no keys,
//! the publisher's absence), and the record the answer carries must be
//! it. Every decision is therefore made on the proven record: a dropped
//! revocation, a stale answer from another size, a missing proof or a
//! publisher said to have no keys is the log misbehaving (exit 3), for a
//! first-time installer as for a returning one. An unknown publisher is
//! proven absent, never assumed absent. [`prove_release`] does the same
//! for the one artifact a release name is bound to.
//!
//! The folded state must also extend what this client recorded before
//! ([`crate::keystate`]): the contradiction is named (what was dropped).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use sealwax_proto::checkpoint::{open_checkpoint, Checkpoint};
use sealwax_proto::directory::{check_key_state, check_release, ReleaseMismatch};
use sealwax_proto::entry::{Entry, Release};
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle::{leaf_hash, verify_inclusion};
use sealwax_proto::rules::{apply_key_event, KeyEventError, ReleaseName, ReleaseRecord};
use sealwax_proto::wire::{KeyEventAnswer, PublisherKeysAnswer};
use sealwax_proto::Hash;

use crate::api::{decode_entry, LogClient};
use crate::checkpoints::CheckpointTracker;
use crate::error::{ClientError, Result};
use crate::home::LogIdentity;
use crate::keystate::{KeyStateStore, Recorded};

/// A publisher's key history, every event verified.
#[derive(Debug, Clone)]
pub struct VerifiedHistory {
    /// The folded key state (proven against the key directory, when the
    /// checkpoint has one).
    pub keys: PublisherKeys,
    /// Tree size the history was proven at.
    pub tree_size: u64,
    /// The events, by index.
    pub events: Vec<(u64, Entry)>,
}

/// Whether a checkpoint without a key directory is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedDirectory {
    /// Installers: every answer proven complete, or refused.
    Required,
    /// Publishers (`publish`, `keys`): the log enforces its rules on what
    /// they submit, and a log upgraded before its next entry must still
    /// take the entry that gives it a directory.
    IfPresent,
}

/// Fetches and verifies the key history of `publisher` at the log's
/// current checkpoint (accepted by `tracker`), as a publisher does before
/// submitting; see [`fetch_history_at`].
pub fn fetch_history(
    api: &LogClient,
    tracker: &mut CheckpointTracker,
    log: &LogIdentity,
    store: &KeyStateStore,
    publisher: &str,
) -> Result<Option<VerifiedHistory>> {
    let (cp, _) = tracker.current(api)?;
    fetch_history_at(api, log, store, publisher, &cp, NeedDirectory::IfPresent)
}

/// Fetches and verifies the key history of `publisher` at the accepted
/// checkpoint `at`, proves it against `at`'s key directory, checks it
/// against what `store` recorded and records it; `None` if the publisher
/// has no keys (proven absent where `at` has a directory).
pub fn fetch_history_at(
    api: &LogClient,
    log: &LogIdentity,
    store: &KeyStateStore,
    publisher: &str,
    at: &Checkpoint,
    need: NeedDirectory,
) -> Result<Option<VerifiedHistory>> {
    let bad = |reason: String| api.misbehaving(reason);
    let root = directory_root(api, at, need)?;
    let recorded = store.load(publisher)?;
    let (history, first) = verified_history(api, log, publisher, at)?;
    if let Some(r) = &recorded {
        if let Some(why) = history.keys.contradiction(&r.keys) {
            return Err(bad(format!(
                "its key history of {publisher:?} at tree size {} contradicts what this client verified at tree size {}: {why}",
                at.size, r.tree_size
            )));
        }
    }
    if let Some(root) = root {
        prove_keys(api, &history.keys, at.size, &root, &first)?;
    }
    if history.keys.is_empty() {
        return Ok(None);
    }
    store.save(&Recorded {
        keys: history.keys.clone(),
        tree_size: history.tree_size,
        releases: recorded.map(|r| r.releases).unwrap_or_default(),
    })?;
    Ok(Some(history))
}

/// The key directory root `at` commits to; `None` only when it has none
/// and `need` allows it.
fn directory_root(api: &LogClient, at: &Checkpoint, need: NeedDirectory) -> Result<Option<Hash>> {
    match at.directory_root() {
        Err(e) => Err(api.misbehaving(format!(
            "its checkpoint at tree size {} has a bad key directory line: {e}",
            at.size
        ))),
        Ok(None) if need == NeedDirectory::Required => Err(ClientError::NoDirectory {
            url: api.url().to_string(),
            tree_size: at.size,
        }),
        Ok(root) => Ok(root),
    }
}

/// Proves the folded `keys` against directory `root` with the first
/// page's record and proof (`sealwax_proto::directory::check_key_state`).
fn prove_keys(
    api: &LogClient,
    keys: &PublisherKeys,
    size: u64,
    root: &Hash,
    first: &PublisherKeysAnswer,
) -> Result<()> {
    let p = &keys.publisher;
    let bad = |why: String| {
        api.misbehaving(format!(
            "its key answer for publisher {p:?} at tree size {size} is not proven by its key directory: {why}"
        ))
    };
    let proof = first
        .directory_proof
        .as_ref()
        .ok_or_else(|| bad("it carries no directory proof".into()))?;
    let record = match &first.record {
        None => None,
        Some(b64) => Some(
            B64.decode(b64)
                .map_err(|_| bad("its key-state record is not base64".into()))?,
        ),
    };
    check_key_state(root, keys, record.as_deref(), proof).map_err(|e| bad(e.to_string()))
}

/// The key history as the log answers it at `at`, page by page, every
/// page at `at` and every event verified against it; and the first page.
fn verified_history(
    api: &LogClient,
    log: &LogIdentity,
    publisher: &str,
    at: &Checkpoint,
) -> Result<(VerifiedHistory, PublisherKeysAnswer)> {
    let bad = |reason: String| api.misbehaving(reason);
    let mut keys = PublisherKeys::new(publisher);
    let mut events = Vec::new();
    let (mut last, mut from, mut first) = (None::<u64>, 0, None);
    loop {
        let answer = page_at(api, log, publisher, from, at)?;
        for ev in &answer.events {
            if ev.index < from || last.is_some_and(|l| ev.index <= l) {
                return Err(bad(format!(
                    "the key history of {publisher:?} is not in log order"
                )));
            }
            last = Some(ev.index);
            let entry = verified_event(api, log, &mut keys, at, ev)?;
            events.push((ev.index, entry));
        }
        let next = answer.next;
        first.get_or_insert(answer);
        match next {
            None => break,
            // Each page must move on, past the events it answered.
            Some(next) if next > from && last.is_none_or(|l| next > l) => from = next,
            Some(next) => {
                return Err(bad(format!(
                    "the key history of {publisher:?} sends the next page back to index {next}"
                )))
            }
        }
    }
    let history = VerifiedHistory {
        keys,
        tree_size: at.size,
        events,
    };
    Ok((history, first.expect("one page at least")))
}

/// One page of the key history, asked at `at`'s size: it must be there
/// (no 404 when a size is given) and carry `at` itself.
fn page_at(
    api: &LogClient,
    log: &LogIdentity,
    publisher: &str,
    from: u64,
    at: &Checkpoint,
) -> Result<PublisherKeysAnswer> {
    let size = at.size;
    let answer = api.publisher_keys(publisher, from, size)?.ok_or_else(|| {
        api.misbehaving(format!(
            "it says publisher {publisher:?} has no key answer at tree size {size} (404), where a log must prove a publisher's keys or their absence"
        ))
    })?;
    same_checkpoint(
        api,
        log,
        &format!("the key answer for publisher {publisher:?}"),
        answer.tree_size,
        &answer.checkpoint,
        at,
    )?;
    Ok(answer)
}

/// An answer about `what` is at the checkpoint `at` that was asked for:
/// its size and its checkpoint, signed by the log key.
fn same_checkpoint(
    api: &LogClient,
    log: &LogIdentity,
    what: &str,
    tree_size: u64,
    text: &str,
    at: &Checkpoint,
) -> Result<()> {
    let cp = open_checkpoint(text, &log.origin, &log.verifier).map_err(|cause| {
        ClientError::LogKeyMismatch {
            url: api.url().to_string(),
            cause,
        }
    })?;
    if tree_size != at.size || cp.0 != *at {
        return Err(api.misbehaving(format!(
            "{what} was asked at tree size {} and answers at tree size {tree_size} with a checkpoint of size {}: a stale or replayed answer",
            at.size, cp.0.size
        )));
    }
    Ok(())
}

/// Proves, against the key directory of the accepted checkpoint `at`, that
/// `release` is bound to the artifact of its signature at `index`
/// (`sealwax_proto::directory::check_release`): a second artifact for a
/// pinned `P/N@V`, or a release the directory does not hold, is refused.
pub fn prove_release(
    api: &LogClient,
    log: &LogIdentity,
    at: &Checkpoint,
    release: &Release,
    index: u64,
) -> Result<()> {
    let name = ReleaseName::of(release);
    let root = directory_root(api, at, NeedDirectory::Required)?.expect("required");
    let bad = |why: String| api.misbehaving(format!("at tree size {}, {why}", at.size));
    let answer = api
        .release(&name.publisher, &name.package, &name.version, at.size)?
        .ok_or_else(|| bad(format!("it has no key directory answer for {name} (404)")))?;
    same_checkpoint(
        api,
        log,
        &format!("the key directory answer for {name}"),
        answer.tree_size,
        &answer.checkpoint,
        at,
    )?;
    let claimed = answer.record.map(|r| ReleaseRecord {
        index: r.index,
        sha256: r.sha256,
    });
    let installing = ReleaseRecord {
        index,
        sha256: release.sha256,
    };
    check_release(&root, &name, claimed.as_ref(), &answer.directory_proof, &installing).map_err(
        |e| match e {
            ReleaseMismatch::Proof(e) => bad(format!("its key directory answer for {name} does not verify: {e}")),
            ReleaseMismatch::NotLogged => bad(format!("the log's key directory proves {name} is not logged, yet it shows a signature of it at index {index}")),
            ReleaseMismatch::Other(b) => bad(format!(
                "the log's key directory binds {name} to another artifact (index {}, sha256 {}) than the one being checked (index {index}, sha256 {}): a version names one artifact for ever",
                b.index,
                hex::encode(b.sha256),
                hex::encode(release.sha256)
            )),
        },
    )
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
