//! The key directory through the real router: every checkpoint commits to
//! the root recomputed from the entries (proto's `LeafFold`), and the
//! key and release answers prove their records, or their absence, against
//! the checkpoint of the size asked for.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use sealwax_log::storage::{Batch, MemoryStorage, RocksStorage, Storage, TreeState};
use sealwax_proto::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
use sealwax_proto::directory::{
    self, publisher_key, release_key, Directory, DirectoryProof, LeafFold,
};
use sealwax_proto::entry::Entry;
use sealwax_proto::keys::{record_hash, PublisherKeys};
use sealwax_proto::merkle::{leaf_hash, CompactRange};
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use sealwax_proto::wire::{PublisherKeysAnswer, ReleaseAnswer};
use sealwax_proto::Hash;

/// The directory root the entries `[0, size)` of `log` fold to.
async fn recomputed_root(log: &TestLog, size: u64) -> Hash {
    let mut fold = LeafFold::new();
    let mut dir = Directory::new();
    for i in 0..size {
        let a = log.get(&format!("/v1/entries/{i}")).await;
        assert_eq!(a.status, StatusCode::OK);
        let bytes = B64.decode(a.json()["entry"].as_str().unwrap()).unwrap();
        fold.apply(&Entry::parse(&bytes).unwrap(), i).unwrap();
        dir.insert_batch(fold.take_changes());
    }
    dir.root()
}

/// The checkpoint text's parsed form, verified with the log's key.
fn opened(log: &TestLog, text: &str) -> Checkpoint {
    open_checkpoint(text, ORIGIN, &log.key.verifier())
        .expect("the answer's checkpoint verifies")
        .0
}

/// The 200 answer to `uri`, decoded.
async fn answer<T: serde::de::DeserializeOwned>(log: &TestLog, uri: &str) -> T {
    let a = log.get(uri).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    serde_json::from_slice(&a.body).unwrap()
}

async fn keys_at(log: &TestLog, publisher: &str, size: u64) -> PublisherKeysAnswer {
    answer(
        log,
        &format!("/v1/publishers/{publisher}/keys?tree_size={size}"),
    )
    .await
}

async fn release_at(log: &TestLog, name: &str, size: u64) -> ReleaseAnswer {
    answer(log, &format!("/v1/releases/{name}?tree_size={size}")).await
}

/// Checks a key answer's record and proof against its checkpoint; returns the record's state.
fn proven_keys(log: &TestLog, a: &PublisherKeysAnswer) -> Option<PublisherKeys> {
    let cp = opened(log, &a.checkpoint);
    assert_eq!(cp.size, a.tree_size);
    let root = cp.directory_root().unwrap().expect("a directory line");
    let proof = a.directory_proof.as_ref().expect("a directory proof");
    let record = a.record.as_ref().map(|r| B64.decode(r).unwrap());
    let value = record.as_deref().map(record_hash);
    directory::verify(&root, &publisher_key(&a.publisher), value.as_ref(), proof)
        .expect("the directory proof verifies");
    // Another value fails against the same proof.
    let other = [0x55; 32];
    assert!(directory::verify(&root, &publisher_key(&a.publisher), Some(&other), proof).is_err());
    record.map(|r| PublisherKeys::from_record(&r).unwrap())
}

#[tokio::test]
async fn every_checkpoint_commits_to_the_directory_its_entries_fold_to() {
    let log = TestLog::new();
    let empty = log.checkpoint().await;
    assert_eq!(empty.directory_root().unwrap(), Some(directory::EMPTY));

    let alice = new_key();
    let bob = new_key();
    log.accept(&claim("alice", &alice)).await;
    log.accept(&claim("bob", &bob)).await;
    log.accept(&signature(&alice, "alice", "tool", "1.0", b"one"))
        .await;
    // A second signature of the same release (another key would do too) sets nothing new.
    let a2 = new_key();
    log.accept(&chain("alice", &a2, &alice)).await;
    log.accept(&signature(&a2, "alice", "tool", "1.0", b"one"))
        .await;
    log.accept(&compromised("alice", &alice, &a2)).await;
    let cp = log.checkpoint().await;
    assert_eq!(cp.size, 6);
    assert_eq!(
        cp.directory_root().unwrap(),
        Some(recomputed_root(&log, 6).await),
        "the log's root is the one its entries fold to"
    );
}

#[tokio::test]
async fn key_answers_prove_the_record_at_the_size_asked_for() {
    let log = TestLog::new();
    let alice = new_key();
    log.accept(&claim("alice", &alice)).await;
    let a2 = new_key();
    log.accept(&chain("alice", &a2, &alice)).await;
    let before = log.checkpoint().await.size;
    log.accept(&compromised("alice", &alice, &a2)).await;
    let now = log.checkpoint().await.size;

    let new = keys_at(&log, "alice", now).await;
    let state = proven_keys(&log, &new).expect("alice has keys");
    let h = alice.public_key().key_hash();
    assert!(state.key(&h).unwrap().compromised_at.is_some());
    assert_eq!(new.events.len(), 3);

    // At the older size, the older record, proven against the older checkpoint.
    let old = keys_at(&log, "alice", before).await;
    assert_eq!(old.tree_size, before);
    assert_eq!(old.events.len(), 2, "only the events below the size");
    let old_state = proven_keys(&log, &old).unwrap();
    assert!(old_state.key(&h).unwrap().compromised_at.is_none());
    assert_ne!(old.record, new.record);

    // The newest, when no size is given, is the same answer as at `now`.
    let a = log.get("/v1/publishers/alice/keys").await;
    let newest: PublisherKeysAnswer = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(newest, new);
}

#[tokio::test]
async fn an_unknown_publisher_is_proven_absent_and_bad_sizes_are_refused() {
    let log = TestLog::new();
    log.accept(&claim("alice", &new_key())).await;
    let size = log.checkpoint().await.size;

    let nobody = keys_at(&log, "nobody", size).await;
    assert!(nobody.events.is_empty());
    assert_eq!(nobody.record, None);
    assert_eq!(proven_keys(&log, &nobody), None, "the absence is proven");
    // Alice, before her claim, was absent too.
    let early = keys_at(&log, "alice", 0).await;
    assert_eq!(proven_keys(&log, &early), None);

    // Without a size, the old answer: 404.
    log.get("/v1/publishers/nobody/keys")
        .await
        .error(StatusCode::NOT_FOUND);
    let beyond = log
        .get(&format!("/v1/publishers/alice/keys?tree_size={}", size + 1))
        .await;
    assert!(beyond.status.is_client_error(), "{}", beyond.status);
    assert!(String::from_utf8_lossy(&beyond.body).contains("fetch /checkpoint"));
}

#[tokio::test]
async fn release_answers_prove_the_bound_artifact_or_its_absence() {
    let log = TestLog::new();
    let alice = new_key();
    log.accept(&claim("alice", &alice)).await;
    let before = log.checkpoint().await.size;
    let v = log
        .accept(&signature(&alice, "alice", "tool", "1.0", b"artifact"))
        .await;
    let index = v["index"].as_u64().unwrap();
    let size = log.checkpoint().await.size;

    let a = release_at(&log, "alice/tool/1.0", size).await;
    let cp = opened(&log, &a.checkpoint);
    let root = cp.directory_root().unwrap().unwrap();
    let rec = a.record.clone().expect("the release is bound");
    assert_eq!(rec.index, index);
    let name = ReleaseName {
        publisher: "alice".into(),
        package: "tool".into(),
        version: "1.0".into(),
    };
    let record = ReleaseRecord {
        index: rec.index,
        sha256: rec.sha256,
    };
    directory::verify(
        &root,
        &release_key(&name),
        Some(&record.record_hash()),
        &a.directory_proof,
    )
    .unwrap();
    // Another artifact for the same name does not verify.
    let forged = ReleaseRecord {
        sha256: [1; 32],
        ..record
    };
    assert!(directory::verify(
        &root,
        &release_key(&name),
        Some(&forged.record_hash()),
        &a.directory_proof
    )
    .is_err());

    // Before it was logged, and for another version, it is proven absent.
    for (what, at) in [("alice/tool/1.0", before), ("alice/tool/2.0", size)] {
        let a = release_at(&log, what, at).await;
        assert_eq!(a.record, None, "{what} at {at}");
        let cp = opened(&log, &a.checkpoint);
        let mut parts = what.split('/');
        let name = ReleaseName {
            publisher: parts.next().unwrap().into(),
            package: parts.next().unwrap().into(),
            version: parts.next().unwrap().into(),
        };
        directory::verify(
            &cp.directory_root().unwrap().unwrap(),
            &release_key(&name),
            None,
            &a.directory_proof,
        )
        .unwrap();
    }
    log.get("/v1/releases/Alice/tool/1.0")
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_directory_survives_a_restart_and_an_old_log_gets_one_built() {
    let tmp = tempfile::tempdir().unwrap();
    let key = sealwax_log::datadir::LogKey::generate(ORIGIN).unwrap();
    let alice = new_key();
    let entries = [
        claim("alice", &alice),
        signature(&alice, "alice", "tool", "1.0", b"x"),
    ];
    // A log as sealwax wrote it before the directory: checkpoints without the line.
    {
        let storage = RocksStorage::open(tmp.path()).unwrap();
        let mut range = CompactRange::new();
        let first = Batch {
            state: TreeState {
                checkpoint: sign_checkpoint(
                    &Checkpoint::new(ORIGIN, 0, range.root()),
                    key.signer(),
                )
                .unwrap(),
                ..TreeState::default()
            },
            ..Batch::default()
        };
        storage.commit(&first).unwrap();
        let mut batch = Batch::default();
        for e in &entries {
            let bytes = e.to_bytes();
            let lh = leaf_hash(&bytes);
            batch.append_entry(&mut range, bytes, lh);
        }
        // Its lookup indexes, as that sealwax wrote them (no key-state records).
        batch.key_events.push(("alice".into(), 0));
        batch
            .key_owners
            .push((alice.public_key().key_hash(), "alice".into()));
        batch.signatures.push(sealwax_log::storage::SignatureRef {
            index: 1,
            sha256: release("alice", "tool", "1.0", b"x").sha256,
            publisher: "alice".into(),
            package: "tool".into(),
            version: "1.0".into(),
        });
        batch.state = TreeState {
            size: range.size(),
            range: range.hashes().to_vec(),
            checkpoint: sign_checkpoint(
                &Checkpoint::new(ORIGIN, range.size(), range.root()),
                key.signer(),
            )
            .unwrap(),
        };
        storage.commit(&batch).unwrap();
    }
    let storage: Arc<dyn Storage> = Arc::new(RocksStorage::open(tmp.path()).unwrap());
    let log = TestLog::with_key(storage, options(), key.clone());
    let old = log.checkpoint().await;
    assert_eq!(old.directory_root().unwrap(), None, "never signed again");
    // Its key answers say so: no proof to give at a size without a directory.
    let a = log.get("/v1/publishers/alice/keys?tree_size=2").await;
    let answer: PublisherKeysAnswer = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(answer.directory_proof, None);
    log.get("/v1/releases/alice/tool/1.0")
        .await
        .error(StatusCode::NOT_FOUND);

    log.accept(&signature(&alice, "alice", "tool", "2.0", b"y"))
        .await;
    let cp = log.checkpoint().await;
    assert_eq!(
        cp.directory_root().unwrap(),
        Some(recomputed_root(&log, 3).await)
    );
    let proven = keys_at(&log, "alice", 3).await;
    assert!(proven_keys(&log, &proven).is_some());
    drop(log);

    // Restarted, it continues from the stored root.
    let storage: Arc<dyn Storage> = Arc::new(RocksStorage::open(tmp.path()).unwrap());
    let log = TestLog::with_key(storage, options(), key);
    log.accept(&signature(&alice, "alice", "tool", "3.0", b"z"))
        .await;
    let cp = log.checkpoint().await;
    assert_eq!(
        cp.directory_root().unwrap(),
        Some(recomputed_root(&log, 4).await)
    );
    let rel = release_at(&log, "alice/tool/1.0", 3).await;
    assert_eq!(rel.record.unwrap().index, 1);
}

#[tokio::test]
async fn a_proof_decodes_from_its_base64_and_memory_storage_agrees_with_rocksdb() {
    // The same entries on both backends give the same roots.
    let tmp = tempfile::tempdir().unwrap();
    let key = sealwax_log::datadir::LogKey::generate(ORIGIN).unwrap();
    let rocks: Arc<dyn Storage> = Arc::new(RocksStorage::open(tmp.path()).unwrap());
    let memory: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let logs = [
        TestLog::with_key(rocks, options(), key.clone()),
        TestLog::with_key(memory, options(), key),
    ];
    let keys: Vec<_> = (0..20).map(|_| new_key()).collect();
    for log in &logs {
        for (i, k) in keys.iter().enumerate() {
            log.accept(&claim(&format!("p{i}"), k)).await;
        }
    }
    let roots: Vec<_> = futures_roots(&logs).await;
    assert_eq!(roots[0], roots[1]);
    let a = keys_at(&logs[0], "p7", 20).await;
    let text = serde_json::to_value(&a).unwrap()["directory_proof"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        DirectoryProof::from_base64(&text).unwrap(),
        a.directory_proof.unwrap()
    );
}

async fn futures_roots(logs: &[TestLog]) -> Vec<Option<Hash>> {
    let mut out = Vec::new();
    for l in logs {
        out.push(l.checkpoint().await.directory_root().unwrap());
    }
    out
}

#[tokio::test]
async fn sizes_older_than_the_window_are_refused_with_advice() {
    let mut opts = options();
    opts.sequencer.directory_window = std::time::Duration::ZERO;
    let log = TestLog::with(Arc::new(MemoryStorage::new()), opts);
    let alice = new_key();
    log.accept(&claim("alice", &alice)).await;
    let old = log.checkpoint().await.size;
    log.accept(&signature(&alice, "alice", "tool", "1.0", b"x"))
        .await;
    let now = log.checkpoint().await.size;
    let msg = log
        .get(&format!("/v1/publishers/alice/keys?tree_size={old}"))
        .await
        .error(StatusCode::NOT_FOUND);
    assert!(
        msg.contains("older than the key directory keeps") && msg.contains("/checkpoint"),
        "{msg}"
    );
    log.get(&format!("/v1/releases/alice/tool/1.0?tree_size={old}"))
        .await
        .error(StatusCode::NOT_FOUND);
    // The newest size is always provable.
    assert!(proven_keys(&log, &keys_at(&log, "alice", now).await).is_some());
    assert!(release_at(&log, "alice/tool/1.0", now)
        .await
        .record
        .is_some());
}
