//! One random history, decided three ways, must be decided the same:
//!
//! - by the log: the real router, strict verifiers and sequencer over
//!   in-memory storage, restarted now and then so that key state is
//!   reloaded from the stored records;
//! - by the installer's fold: each publisher's served key history replayed
//!   with `PublisherKeys::apply`, as `sealwax install` does;
//! - by the monitor's fold: the whole log replayed with
//!   `MemoryLogState::apply`, as `sealwax-monitor` does.
//!
//! The log must accept exactly what the monitor's fold accepts, all three
//! must give every key the same status for a signature at every index, and
//! the log's key directory root must be the one `LeafFold` recomputes.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use proptest::prelude::*;
use sealwax_log::datadir::LogKey;
use sealwax_log::storage::{MemoryStorage, Storage};
use sealwax_proto::directory::{Directory, LeafFold};
use sealwax_proto::entry::{Entry, KeyRegistration, KeyRevocation, RevocationReason};
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle::leaf_hash;
use sealwax_proto::minisign::SecretKey;
use sealwax_proto::rules::MemoryLogState;
use sealwax_proto::Hash;

mod common;
use common::*;

const PUBLISHERS: [&str; 2] = ["p0", "p1"];
const KEYS: usize = 5;

/// One step: an entry to submit, or a restart of the log.
#[derive(Debug, Clone)]
enum Op {
    Claim(usize, usize),
    Chain(usize, usize, usize),
    Operator(usize, usize),
    Revoke(usize, usize, bool, Option<usize>),
    Sign(usize, usize, u8, u8),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..KEYS;
    let p = 0..PUBLISHERS.len();
    prop_oneof![
        2 => (p.clone(), k.clone()).prop_map(|(p, k)| Op::Claim(p, k)),
        3 => (p.clone(), k.clone(), k.clone()).prop_map(|(p, k, b)| Op::Chain(p, k, b)),
        1 => (p.clone(), k.clone()).prop_map(|(p, k)| Op::Operator(p, k)),
        2 => (p.clone(), k.clone(), any::<bool>(), proptest::option::of(k.clone()))
            .prop_map(|(p, k, c, b)| Op::Revoke(p, k, c, b)),
        4 => (p, k, 0..3u8, 0..2u8).prop_map(|(p, k, v, d)| Op::Sign(p, k, v, d)),
        1 => Just(Op::Restart),
    ]
}

/// The entry an op submits, and whether it needs the admin token.
fn entry_of(op: &Op, keys: &[SecretKey]) -> Option<(Entry, bool)> {
    let name = |p: usize| PUBLISHERS[p];
    Some(match *op {
        Op::Claim(p, k) => (
            Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, name(p), &keys[k]).unwrap()),
            false,
        ),
        Op::Chain(p, k, b) => (
            Entry::KeyRegistration(
                KeyRegistration::chain(ORIGIN, name(p), &keys[k], &keys[b]).unwrap(),
            ),
            false,
        ),
        Op::Operator(p, k) => (
            Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, name(p), &keys[k]).unwrap()),
            true,
        ),
        Op::Revoke(p, k, compromised, by) => {
            let reason = if compromised {
                RevocationReason::Compromised
            } else {
                RevocationReason::Retired
            };
            let key = keys[k].public_key();
            match by {
                Some(b) => (
                    Entry::KeyRevocation(
                        KeyRevocation::by_key(ORIGIN, name(p), key, reason, &keys[b]).unwrap(),
                    ),
                    false,
                ),
                None => (
                    Entry::KeyRevocation(KeyRevocation::by_operator(name(p), key, reason).unwrap()),
                    true,
                ),
            }
        }
        Op::Sign(p, k, v, d) => (
            signature(&keys[k], name(p), "hello", &format!("1.0.{v}"), &[v, d]),
            false,
        ),
        Op::Restart => return None,
    })
}

/// The installer's view of `publisher`: its served key history, folded.
async fn installer_fold(log: &TestLog, publisher: &str) -> Option<PublisherKeys> {
    let a = log.get(&format!("/v1/publishers/{publisher}/keys")).await;
    if a.status == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(a.status, StatusCode::OK);
    let mut keys = PublisherKeys::new(publisher);
    for ev in a.json()["events"].as_array().expect("events") {
        let bytes = B64.decode(ev["entry"].as_str().unwrap()).unwrap();
        let entry = Entry::parse(&bytes).expect("a served event parses");
        keys.apply(&entry, ev["index"].as_u64().unwrap())
            .expect("the installer's fold accepts every served event");
    }
    Some(keys)
}

/// The log's own view of `publisher`: the key-state header and key records it stored.
fn sequencer_state(storage: &dyn Storage, publisher: &str) -> Option<PublisherKeys> {
    let header = storage.key_state(publisher).expect("storage reads")?;
    let records = storage.key_records(publisher).expect("storage reads");
    Some(
        PublisherKeys::from_parts(&header, records.iter().map(Vec::as_slice))
            .expect("the stored records parse"),
    )
}

async fn restart(log: TestLog, storage: &Arc<dyn Storage>, key: &LogKey) -> TestLog {
    let st = log.state.clone();
    tokio::task::spawn_blocking(move || st.shutdown_sequencer())
        .await
        .unwrap();
    drop(log);
    TestLog::with_key(storage.clone(), options(), key.clone())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let keys: Vec<SecretKey> = (0..KEYS).map(|_| new_key()).collect();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let key = LogKey::generate(ORIGIN).unwrap();
    let mut log = TestLog::with_key(storage.clone(), options(), key.clone());
    let mut monitor = MemoryLogState::default();
    let mut logged: BTreeSet<Hash> = BTreeSet::new();
    let mut size = 0u64;
    let mut accepted: Vec<Entry> = Vec::new();
    for op in &ops {
        let Some((entry, operator)) = entry_of(op, &keys) else {
            log = restart(log, &storage, &key).await;
            continue;
        };
        let leaf = leaf_hash(&entry.to_bytes());
        let answer = log
            .submit_bytes(&entry.to_bytes(), operator.then_some(TOKEN))
            .await;
        if logged.contains(&leaf) {
            prop_assert_eq!(answer.status, StatusCode::OK, "a duplicate is answered");
            prop_assert_eq!(answer.json()["duplicate"].as_bool(), Some(true));
            continue;
        }
        let mut trial = monitor.clone();
        let monitor_accepts = trial.apply(&entry, size);
        let log_accepts = answer.status == StatusCode::OK;
        prop_assert_eq!(
            log_accepts,
            monitor_accepts.is_ok(),
            "{:?}: the log answered {} {}, the monitor's fold {:?}",
            op,
            answer.status,
            String::from_utf8_lossy(&answer.body),
            monitor_accepts
        );
        if log_accepts {
            prop_assert_eq!(answer.json()["index"].as_u64(), Some(size));
            monitor = trial;
            accepted.push(entry.clone());
            logged.insert(leaf);
            size += 1;
        } else {
            prop_assert!(answer.status.is_client_error(), "{}", answer.status);
        }
    }
    let cp = log.checkpoint().await;
    prop_assert_eq!(cp.size, size);
    // The directory the log committed to is the one the monitor's rules fold to.
    let mut fold = LeafFold::new();
    let mut dir = Directory::new();
    for (i, e) in accepted.iter().enumerate() {
        fold.apply(e, i as u64)
            .expect("the fold accepts what the log logged");
        dir.insert_batch(fold.take_changes());
    }
    prop_assert_eq!(
        cp.directory_root().unwrap(),
        Some(dir.root()),
        "log vs recomputed directory"
    );

    let every_key: Vec<Hash> = keys.iter().map(|k| k.public_key().key_hash()).collect();
    for publisher in PUBLISHERS {
        let sequencer = sequencer_state(&*storage, publisher);
        let installer = installer_fold(&log, publisher).await;
        let watched = monitor.get(publisher).filter(|p| !p.is_empty()).cloned();
        let record = |p: &Option<PublisherKeys>| p.as_ref().map(PublisherKeys::to_record);
        prop_assert_eq!(record(&sequencer), record(&watched), "log vs monitor");
        prop_assert_eq!(record(&installer), record(&watched), "installer vs monitor");
        let (Some(s), Some(i), Some(m)) = (sequencer, installer, watched) else {
            continue;
        };
        for k in &every_key {
            for index in 0..=size {
                let want = m.status_for_signature(k, index);
                prop_assert_eq!(s.status_for_signature(k, index), want);
                prop_assert_eq!(i.status_for_signature(k, index), want);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The log, the installer's fold and the monitor's fold agree on every
    /// acceptance and on every key's status at every index.
    #[test]
    fn log_installer_and_monitor_decide_alike(ops in proptest::collection::vec(op(), 1..48)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run(ops))?;
    }
}
