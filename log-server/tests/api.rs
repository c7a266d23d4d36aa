//! Handler tests: the real router over in-memory storage, driven with
//! `tower::ServiceExt::oneshot` (no socket).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_log::artifacts::ArtifactStore;
use sealwax_log::datadir::LogKey;
use sealwax_log::sequencer::SequencerConfig;
use sealwax_log::storage::{Batch, MemoryStorage, Storage, StorageError, StorageResult, TreeState};
use sealwax_log::AppState;
use sealwax_proto::checkpoint::open_checkpoint;
use sealwax_proto::directory::NodePath;
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
};
use sealwax_proto::merkle::{self, leaf_hash, MemoryHashStore};
use sealwax_proto::minisign::prehash;
use sealwax_proto::tile::{parse_bundle, TileId, TileLevel};
use sealwax_proto::Hash;
use sha2::{Digest, Sha256};

mod common;
use common::*;

#[tokio::test]
async fn empty_log_serves_a_signed_checkpoint_of_size_zero() {
    let log = TestLog::new();
    let a = log.get("/checkpoint").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(a.headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age=1"));
    let cp = log.checkpoint().await;
    assert_eq!(cp.size, 0);
    assert_eq!(cp.root, merkle::EMPTY_ROOT);
    let key = log.get("/v1/log-key").await;
    assert_eq!(String::from_utf8(key.body).unwrap().trim(), log.key.vkey());
    let h = log.get("/healthz").await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json()["tree_size"], 0);
}

#[tokio::test]
async fn submissions_are_sequenced_with_proofs_and_duplicates_answer_the_first_index() {
    let log = TestLog::new();
    let alice = new_key();
    let v = log.accept(&claim("alice", &alice)).await;
    assert_eq!(v["index"], 0);
    assert_eq!(v["duplicate"], false);

    let sig = signature(&alice, "alice", "tool", "1.0.0", b"artifact one");
    let v = log.accept(&sig).await;
    assert_eq!(v["index"], 1);

    let again = log.accept(&sig).await;
    assert_eq!(again["index"], 1);
    assert_eq!(again["duplicate"], true);
    assert_eq!(
        log.checkpoint().await.size,
        2,
        "a duplicate is not appended"
    );

    let e = log.get("/v1/entries/1").await;
    assert_eq!(e.status, StatusCode::OK);
    let ev = e.json();
    assert_eq!(ev["entry"], B64.encode(sig.to_bytes()));
    assert_eq!(ev["leaf_hash"], hex::encode(leaf_hash(&sig.to_bytes())));
    log.get("/v1/entries/2").await.error(StatusCode::NOT_FOUND);
    log.get("/v1/entries/x")
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn concurrent_duplicates_are_logged_once() {
    let log = Arc::new(TestLog::new());
    let alice = new_key();
    let entry = claim("alice", &alice);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let log = log.clone();
        let entry = entry.clone();
        tasks.spawn(async move { log.submit(&entry).await.json() });
    }
    let mut fresh = 0;
    while let Some(v) = tasks.join_next().await {
        let v = v.unwrap();
        assert_eq!(v["index"], 0, "{v}");
        if v["duplicate"] == false {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one submission appended the entry");
    assert_eq!(log.checkpoint().await.size, 1);
}

#[tokio::test]
async fn key_rules_are_enforced_and_rejections_leave_the_tree_unchanged() {
    let log = TestLog::new();
    let alice = new_key();
    let alice2 = new_key();
    let mallory = new_key();
    log.accept(&claim("alice", &alice)).await;

    // A second claim of a taken name.
    let msg = log
        .submit(&claim("alice", &mallory))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("already claimed"), "{msg}");
    // A signature by a key alice does not have.
    let msg = log
        .submit(&signature(&mallory, "alice", "tool", "1.0", b"x"))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("not registered"), "{msg}");
    // A signature for a publisher with no keys at all.
    log.submit(&signature(&mallory, "nobody", "tool", "1.0", b"x"))
        .await
        .error(StatusCode::CONFLICT);
    // Alice's key under another publisher name.
    let msg = log
        .submit(&claim("bob", &alice))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("already registered"), "{msg}");
    // A chain authorised by a key that is not alice's.
    let rogue =
        Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &alice2, &mallory).unwrap());
    log.submit(&rogue).await.error(StatusCode::CONFLICT);
    assert_eq!(
        log.checkpoint().await.size,
        1,
        "no rejected entry was appended"
    );

    // Rotation, then retirement of the old key.
    log.accept(&chain("alice", &alice2, &alice)).await;
    let revoke = Entry::KeyRevocation(
        KeyRevocation::by_key(
            ORIGIN,
            "alice",
            alice.public_key(),
            RevocationReason::Retired,
            &alice2,
        )
        .unwrap(),
    );
    log.accept(&revoke).await;
    let msg = log
        .submit(&signature(&alice, "alice", "tool", "2.0", b"y"))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("revoked"), "{msg}");
    log.accept(&signature(&alice2, "alice", "tool", "2.0", b"y"))
        .await;
    assert_eq!(log.checkpoint().await.size, 4);
}

#[tokio::test]
async fn rules_apply_to_earlier_entries_of_the_same_batch() {
    // A long batch wait puts all these submissions in one batch.
    let mut opts = options();
    opts.sequencer.batch_wait = Duration::from_millis(300);
    let log = Arc::new(TestLog::with(Arc::new(MemoryStorage::new()), opts));
    let alice = new_key();
    let mallory = new_key();
    let first = claim("alice", &alice);
    let second = claim("alice", &mallory);
    let sig = signature(&alice, "alice", "tool", "1.0", b"z");
    let l1 = log.clone();
    let a = tokio::spawn(async move { l1.submit(&first).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let l2 = log.clone();
    let b = tokio::spawn(async move { l2.submit(&second).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let l3 = log.clone();
    let c = tokio::spawn(async move { l3.submit(&sig).await });
    let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
    assert_eq!(a.status, StatusCode::OK);
    b.error(StatusCode::CONFLICT);
    assert_eq!(
        c.status,
        StatusCode::OK,
        "a signature by a key registered earlier in the batch"
    );
    assert_eq!(c.json()["index"], 1);
    assert_eq!(
        a.json()["checkpoint"],
        c.json()["checkpoint"],
        "one checkpoint for the whole batch"
    );
}

#[tokio::test]
async fn operator_entries_need_the_admin_token() {
    let log = TestLog::new();
    let alice = new_key();
    log.accept(&claim("alice", &alice)).await;
    let recovery =
        Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "alice", &new_key()).unwrap());
    let bytes = recovery.to_bytes();
    let a = log.submit_bytes(&bytes, None).await;
    assert!(a
        .error(StatusCode::UNAUTHORIZED)
        .contains("Authorization: Bearer"));
    assert_eq!(a.headers[header::WWW_AUTHENTICATE], "Bearer");
    log.submit_bytes(&bytes, Some("wrong-token"))
        .await
        .error(StatusCode::UNAUTHORIZED);
    let ok = log.submit_bytes(&bytes, Some(TOKEN)).await;
    assert_eq!(ok.status, StatusCode::OK);
    let keys = log.get("/v1/publishers/alice/keys").await.json();
    assert_eq!(keys["events"][1]["authorization"], "operator");

    // A log without --admin-token-file has no operator path at all.
    let mut opts = options();
    opts.admin_token = None;
    let closed = TestLog::with(Arc::new(MemoryStorage::new()), opts);
    let msg = closed
        .submit_bytes(&bytes, Some(TOKEN))
        .await
        .error(StatusCode::UNAUTHORIZED);
    assert!(msg.contains("--admin-token-file"), "{msg}");
}

#[tokio::test]
async fn bad_submissions_get_4xx_with_json_errors() {
    let log = TestLog::new();
    let alice = new_key();
    let good = claim("alice", &alice).to_bytes();

    log.post_raw("not json", None)
        .await
        .error(StatusCode::BAD_REQUEST);
    log.post_raw("{\"entry\": 5}", None)
        .await
        .error(StatusCode::BAD_REQUEST);
    log.post_raw("{\"entry\": \"***\"}", None)
        .await
        .error(StatusCode::BAD_REQUEST);
    log.submit_bytes(b"\x01\x09garbage", None)
        .await
        .error(StatusCode::BAD_REQUEST);
    log.submit_bytes(&[], None)
        .await
        .error(StatusCode::BAD_REQUEST);
    // Trailing bytes make it non-canonical.
    let mut trailing = good.clone();
    trailing.push(0);
    log.submit_bytes(&trailing, None)
        .await
        .error(StatusCode::BAD_REQUEST);
    // A broken proof of possession (last byte of the possession signature).
    let mut tampered = Entry::parse(&good).unwrap();
    if let Entry::KeyRegistration(r) = &mut tampered {
        r.possession[0] ^= 1;
    }
    let msg = log.submit(&tampered).await.error(StatusCode::BAD_REQUEST);
    assert!(msg.contains("possession"), "{msg}");
    // A signature for another log's origin.
    log.accept(&Entry::parse(&good).unwrap()).await;
    let other = Release {
        origin: "other.example/log".into(),
        ..release("alice", "tool", "1.0", b"a")
    };
    let foreign = Entry::Signature(SignatureEntry::sign(&alice, &other, prehash(b"a")).unwrap());
    log.submit(&foreign).await.error(StatusCode::BAD_REQUEST);
    // Too large: an entry over 65535 bytes, and a body over the limit.
    log.submit_bytes(&vec![1u8; 70_000], None)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    log.post_raw(vec![b' '; 1 << 20], None)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(log.checkpoint().await.size, 1);
}

#[tokio::test]
async fn proof_endpoints_verify_and_refuse_bad_parameters() {
    let log = TestLog::new();
    let alice = new_key();
    let mut entries = vec![claim("alice", &alice)];
    for i in 0..20 {
        entries.push(signature(
            &alice,
            "alice",
            "tool",
            &format!("1.{i}"),
            &[i as u8],
        ));
    }
    let mut sizes = Vec::new();
    let mut roots = Vec::new();
    for e in &entries {
        log.accept(e).await;
        let cp = log.checkpoint().await;
        sizes.push(cp.size);
        roots.push(cp.root);
    }
    let reference = {
        let mut m = MemoryHashStore::new();
        for e in &entries {
            m.append(leaf_hash(&e.to_bytes()));
        }
        m
    };
    assert_eq!(reference.root(), *roots.last().unwrap());
    for (index, e) in entries.iter().enumerate() {
        let v = log
            .get(&format!("/v1/proof/inclusion?index={index}&tree_size=21"))
            .await
            .json();
        assert_eq!(v["leaf_hash"], hex::encode(leaf_hash(&e.to_bytes())));
        merkle::verify_inclusion(
            &leaf_hash(&e.to_bytes()),
            index as u64,
            21,
            &hashes(&v["proof"]),
            &roots[20],
        )
        .unwrap();
    }
    for (from, to) in [(1u64, 21u64), (5, 13), (8, 16), (21, 21)] {
        let v = log
            .get(&format!("/v1/proof/consistency?from={from}&to={to}"))
            .await
            .json();
        merkle::verify_consistency(
            from,
            to,
            &hashes(&v["proof"]),
            &roots[from as usize - 1],
            &roots[to as usize - 1],
        )
        .unwrap_or_else(|e| panic!("consistency {from}->{to}: {e}"));
    }
    for bad in [
        "/v1/proof/inclusion?index=21&tree_size=21",
        "/v1/proof/inclusion?index=0&tree_size=22",
        "/v1/proof/inclusion?index=0&tree_size=0",
        "/v1/proof/inclusion?index=99999999999999999999999&tree_size=5",
        "/v1/proof/inclusion?index=-1&tree_size=5",
        "/v1/proof/inclusion?tree_size=5",
        "/v1/proof/consistency?from=10&to=5",
        "/v1/proof/consistency?from=0&to=5",
        "/v1/proof/consistency?from=5&to=18446744073709551615",
        "/v1/proof/consistency?from=a&to=5",
    ] {
        log.get(bad).await.error(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn tiles_and_bundles_match_the_entries() {
    let log = Arc::new(TestLog::new());
    let alice = new_key();
    let first = claim("alice", &alice);
    log.accept(&first).await;
    // 299 more entries, submitted concurrently: 300 = one full tile and a partial one.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..299u32 {
        let log = log.clone();
        let e = signature(&alice, "alice", "tool", &format!("0.{i}"), &i.to_be_bytes());
        tasks.spawn(async move {
            let a = log.submit(&e).await;
            assert_eq!(a.status, StatusCode::OK);
            (a.json()["index"].as_u64().unwrap(), e.to_bytes())
        });
    }
    let mut by_index = vec![(0u64, first.to_bytes())];
    while let Some(r) = tasks.join_next().await {
        by_index.push(r.unwrap());
    }
    by_index.sort();
    for (i, (index, _)) in by_index.iter().enumerate() {
        assert_eq!(*index, i as u64, "indexes are dense");
    }
    let cp = log.checkpoint().await;
    assert_eq!(cp.size, 300);
    let leaves: Vec<Hash> = by_index.iter().map(|(_, b)| leaf_hash(b)).collect();

    let full = log.get("/tile/0/000").await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(
        full.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(full.body, leaves[..256].concat());
    let partial = log.get("/tile/0/001.p/44").await;
    assert_eq!(partial.body, leaves[256..].concat());
    assert_ne!(
        partial.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    // Narrower partial tiles of older sizes are served too.
    assert_eq!(
        log.get("/tile/0/001.p/3").await.body,
        leaves[256..259].concat()
    );
    let l1 = log.get("/tile/1/000.p/1").await;
    assert_eq!(l1.body, merkle::root_from_leaves(&leaves[..256]).to_vec());

    let bundle = log.get("/tile/entries/000").await;
    assert_eq!(bundle.status, StatusCode::OK);
    let parsed = parse_bundle(&bundle.body).unwrap();
    assert_eq!(parsed.len(), 256);
    assert_eq!(parsed[17], by_index[17].1.as_slice());
    let pb = log.get("/tile/entries/001.p/44").await;
    assert_eq!(parse_bundle(&pb.body).unwrap().len(), 44);

    // The path proto computes for this size is served.
    let id = TileId::for_size(TileLevel::Hashes(0), 1, cp.size).unwrap();
    assert_eq!(
        log.get(&format!("/{}", id.path())).await.status,
        StatusCode::OK
    );

    for missing in [
        "/tile/0/001",
        "/tile/0/001.p/45",
        "/tile/0/002.p/1",
        "/tile/1/000",
        "/tile/2/000.p/1",
        "/tile/entries/001.p/45",
        "/tile/9/000.p/1",
    ] {
        log.get(missing).await.error(StatusCode::NOT_FOUND);
    }
    for bad in [
        "/tile/0/1",
        "/tile/x/000",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/0",
    ] {
        let a = log.get(bad).await;
        assert!(
            a.status == StatusCode::BAD_REQUEST || a.status == StatusCode::NOT_FOUND,
            "{bad}: {}",
            a.status
        );
        assert!(a.json()["error"].is_string());
    }
}

#[tokio::test]
async fn publisher_keys_and_signature_lookups() {
    let log = TestLog::new();
    let alice = new_key();
    let alice2 = new_key();
    log.accept(&claim("alice", &alice)).await;
    let s1 = signature(&alice, "alice", "tool", "1.0", b"one");
    let s2 = signature(&alice, "alice", "tool", "2.0", b"two");
    let s3 = signature(&alice, "alice", "other", "1.0", b"one");
    for s in [&s1, &s2, &s3] {
        log.accept(s).await;
    }
    log.accept(&chain("alice", &alice2, &alice)).await;
    log.accept(&compromised("alice", &alice, &alice2)).await;

    let v = log.get("/v1/publishers/alice/keys").await.json();
    assert_eq!(v["publisher"], "alice");
    assert_eq!(v["tree_size"], 6);
    let (cp, _) = open_checkpoint(
        v["checkpoint"].as_str().unwrap(),
        ORIGIN,
        &log.key.verifier(),
    )
    .unwrap();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    let kinds: Vec<_> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["registration", "registration", "revocation"]);
    assert_eq!(events[0]["authorization"], "claim");
    assert_eq!(events[0]["key"], alice.public_key().to_base64());
    assert_eq!(events[0]["key_id"], alice.public_key().key_id_hex());
    assert_eq!(events[1]["authorization"], "chain");
    assert_eq!(
        events[1]["authorized_by"],
        hex::encode(alice.public_key().key_hash())
    );
    assert_eq!(events[2]["reason"], "compromised");
    assert_eq!(
        events[2]["key_hash"],
        hex::encode(alice.public_key().key_hash())
    );
    for e in events {
        let bytes = B64.decode(e["entry"].as_str().unwrap()).unwrap();
        merkle::verify_inclusion(
            &leaf_hash(&bytes),
            e["index"].as_u64().unwrap(),
            cp.size,
            &hashes(&e["inclusion_proof"]),
            &cp.root,
        )
        .unwrap();
    }
    log.get("/v1/publishers/nobody/keys")
        .await
        .error(StatusCode::NOT_FOUND);
    log.get("/v1/publishers/Not%20Valid!/keys")
        .await
        .error(StatusCode::BAD_REQUEST);

    let sha_one = hex::encode(Sha256::digest(b"one"));
    let v = log
        .get(&format!("/v1/signatures?sha256={sha_one}"))
        .await
        .json();
    let idx: Vec<u64> = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, [1, 3]);
    assert_eq!(v["signatures"][1]["package"], "other");
    assert_eq!(
        v["signatures"][0]["key_hash"],
        hex::encode(alice.public_key().key_hash())
    );
    assert_eq!(v["signatures"][0]["entry"], B64.encode(s1.to_bytes()));
    let v = log
        .get("/v1/signatures?publisher=alice&package=tool")
        .await
        .json();
    assert_eq!(v["signatures"].as_array().unwrap().len(), 2);
    let v = log
        .get("/v1/signatures?publisher=alice&package=tool&version=2.0")
        .await
        .json();
    assert_eq!(v["signatures"][0]["index"], 2);
    assert_eq!(v["signatures"].as_array().unwrap().len(), 1);
    let none = log.get("/v1/signatures?publisher=bob&package=tool").await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(none.json()["signatures"].as_array().unwrap().is_empty());
    log.get("/v1/signatures")
        .await
        .error(StatusCode::BAD_REQUEST);
    log.get("/v1/signatures?sha256=abc")
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn artifacts_are_accepted_only_when_signed_and_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options();
    opts.artifacts = Some(ArtifactStore::open(tmp.path(), 1000).unwrap());
    let log = TestLog::with(Arc::new(MemoryStorage::new()), opts);
    let alice = new_key();
    log.accept(&claim("alice", &alice)).await;
    let data = b"the artifact bytes".to_vec();
    let sha = hex::encode(Sha256::digest(&data));
    let put = |body: Vec<u8>, sha: String| {
        Request::put(format!("/v1/artifacts/{sha}"))
            .body(Body::from(body))
            .unwrap()
    };
    let msg = log
        .call(put(data.clone(), sha.clone()))
        .await
        .error(StatusCode::CONFLICT);
    assert!(msg.contains("log its signature first"), "{msg}");
    log.accept(&signature(&alice, "alice", "tool", "1.0", &data))
        .await;
    log.call(put(b"something else".to_vec(), sha.clone()))
        .await
        .error(StatusCode::BAD_REQUEST);
    log.get(&format!("/v1/artifacts/{sha}"))
        .await
        .error(StatusCode::NOT_FOUND);
    let ok = log.call(put(data.clone(), sha.clone())).await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(ok.json()["size"], data.len());
    let got = log.get(&format!("/v1/artifacts/{sha}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, data);
    assert_eq!(got.headers[header::CONTENT_LENGTH], data.len().to_string());
    // Over the size limit: refused from Content-Length before reading.
    let big = vec![7u8; 1001];
    log.accept(&signature(&alice, "alice", "tool", "2.0", &big))
        .await;
    let big_sha = hex::encode(Sha256::digest(&big));
    log.call(put(big, big_sha))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    log.get("/v1/artifacts/xyz")
        .await
        .error(StatusCode::BAD_REQUEST);

    // Without an artifact store both directions answer 404.
    let plain = TestLog::new();
    plain
        .get(&format!("/v1/artifacts/{sha}"))
        .await
        .error(StatusCode::NOT_FOUND);
    plain
        .call(put(data.clone(), sha.clone()))
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors_and_metrics_count_them() {
    let log = TestLog::new();
    log.get("/nope").await.error(StatusCode::NOT_FOUND);
    let a = log
        .call(Request::delete("/checkpoint").body(Body::empty()).unwrap())
        .await;
    a.error(StatusCode::METHOD_NOT_ALLOWED);
    log.accept(&claim("alice", &new_key())).await;
    let m = String::from_utf8(log.get("/metrics").await.body).unwrap();
    assert!(m.contains("sealwax_entries_total 1\n"), "{m}");
    assert!(m.contains("sealwax_tree_size 1\n"), "{m}");
    assert!(m.contains("sealwax_batch_size_count 1\n"), "{m}");
    assert!(m.contains("sealwax_sequencing_seconds_count 1\n"), "{m}");
    assert!(
        m.contains(
            "sealwax_http_requests_total{route=\"/v1/entries\",method=\"POST\",status=\"200\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("status=\"404\""), "{m}");
}

#[tokio::test]
async fn restart_reserves_the_stored_checkpoint_and_continues() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let key = LogKey::generate(ORIGIN).unwrap();
    let alice = new_key();
    let first_cp;
    {
        let log = TestLog::with_key(storage.clone(), options(), key.clone());
        log.accept(&claim("alice", &alice)).await;
        first_cp = String::from_utf8(log.get("/checkpoint").await.body).unwrap();
        let st = log.state.clone();
        tokio::task::spawn_blocking(move || st.shutdown_sequencer())
            .await
            .unwrap();
        log.submit(&signature(&alice, "alice", "t", "1", b"late"))
            .await
            .error(StatusCode::SERVICE_UNAVAILABLE);
    }
    let log = TestLog::with_key(storage.clone(), options(), key.clone());
    let again = String::from_utf8(log.get("/checkpoint").await.body).unwrap();
    assert_eq!(again, first_cp, "the same checkpoint, byte for byte");
    let v = log
        .accept(&signature(&alice, "alice", "t", "1", b"after"))
        .await;
    assert_eq!(v["index"], 1, "the key state was rebuilt from storage");

    // Another key for the same storage must not open it.
    let other = LogKey::generate(ORIGIN).unwrap();
    assert!(AppState::start(storage, other, options()).is_err());
}

/// Storage whose commits wait until the gate opens (and can be made to fail).
struct GatedStorage {
    inner: MemoryStorage,
    open: Mutex<bool>,
    cv: Condvar,
    in_commit: AtomicBool,
    fail: AtomicBool,
}

impl GatedStorage {
    fn new() -> Arc<GatedStorage> {
        Arc::new(GatedStorage {
            inner: MemoryStorage::new(),
            open: Mutex::new(true),
            cv: Condvar::new(),
            in_commit: AtomicBool::new(false),
            fail: AtomicBool::new(false),
        })
    }
    fn set_open(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.cv.notify_all();
    }
    async fn wait_in_commit(&self) {
        for _ in 0..500 {
            if self.in_commit.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the sequencer never reached commit");
    }
}

impl Storage for GatedStorage {
    fn tree_state(&self) -> StorageResult<Option<TreeState>> {
        self.inner.tree_state()
    }
    fn commit(&self, batch: &Batch) -> StorageResult<()> {
        self.in_commit.store(true, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
        drop(open);
        self.in_commit.store(false, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::Backend(
                "disk on fire at /secret/place".into(),
            ));
        }
        self.inner.commit(batch)
    }
    fn directory_group(&self, group: &NodePath, size: u64) -> StorageResult<Option<Vec<u8>>> {
        self.inner.directory_group(group, size)
    }
    fn checkpoint_at(&self, size: u64) -> StorageResult<Option<String>> {
        self.inner.checkpoint_at(size)
    }
    fn directory_horizon(&self) -> StorageResult<u64> {
        self.inner.directory_horizon()
    }
    fn entry(&self, index: u64) -> StorageResult<Option<Vec<u8>>> {
        self.inner.entry(index)
    }
    fn entries(&self, start: u64, end: u64) -> StorageResult<Vec<Vec<u8>>> {
        self.inner.entries(start, end)
    }
    fn leaf_index(&self, leaf_hash: &Hash) -> StorageResult<Option<u64>> {
        self.inner.leaf_index(leaf_hash)
    }
    fn node_hashes(&self, level: u8, start: u64, end: u64) -> StorageResult<Vec<Hash>> {
        self.inner.node_hashes(level, start, end)
    }
    fn key_events(&self, publisher: &str) -> StorageResult<Vec<u64>> {
        self.inner.key_events(publisher)
    }
    fn key_owner(&self, key_hash: &Hash) -> StorageResult<Option<String>> {
        self.inner.key_owner(key_hash)
    }
    fn key_state(&self, publisher: &str) -> StorageResult<Option<Vec<u8>>> {
        self.inner.key_state(publisher)
    }
    fn key_events_page(&self, publisher: &str, from: u64, limit: usize) -> StorageResult<Vec<u64>> {
        self.inner.key_events_page(publisher, from, limit)
    }
    fn key_records(&self, publisher: &str) -> StorageResult<Vec<Vec<u8>>> {
        self.inner.key_records(publisher)
    }
    fn signatures_by_sha256(&self, sha256: &[u8; 32]) -> StorageResult<Vec<u64>> {
        self.inner.signatures_by_sha256(sha256)
    }
    fn signatures_by_release(
        &self,
        publisher: &str,
        package: &str,
        version: Option<&str>,
    ) -> StorageResult<Vec<u64>> {
        self.inner
            .signatures_by_release(publisher, package, version)
    }
    fn publisher_releases(
        &self,
        publisher: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> StorageResult<Vec<sealwax_log::storage::PublisherRelease>> {
        self.inner.publisher_releases(publisher, after, limit)
    }
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let storage = GatedStorage::new();
    let mut opts = options();
    opts.sequencer = SequencerConfig {
        batch_size: 1,
        batch_wait: Duration::from_millis(1),
        queue_capacity: 1,
        verifiers: 0,
        directory_window: sealwax_log::sequencer::DEFAULT_DIRECTORY_WINDOW,
    };
    let log = Arc::new(TestLog::with(storage.clone(), opts));
    let alice = new_key();
    storage.set_open(false);
    let l = log.clone();
    let e1 = claim("alice", &alice);
    let first = tokio::spawn(async move { l.submit(&e1).await });
    storage.wait_in_commit().await;
    // The sequencer is stuck in commit: one submission fills the queue...
    let l = log.clone();
    let e2 = claim("bob", &new_key());
    let second = tokio::spawn(async move { l.submit(&e2).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...and the next one is turned away.
    let third = log.submit(&claim("carol", &new_key())).await;
    third.error(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.headers[header::RETRY_AFTER], "1");
    storage.set_open(true);
    assert_eq!(first.await.unwrap().status, StatusCode::OK);
    assert_eq!(second.await.unwrap().status, StatusCode::OK);
    assert_eq!(log.checkpoint().await.size, 2);
}

#[tokio::test]
async fn shutdown_finishes_the_batch_in_flight() {
    let storage = GatedStorage::new();
    let log = Arc::new(TestLog::with(storage.clone(), options()));
    storage.set_open(false);
    let l = log.clone();
    let e = claim("alice", &new_key());
    let pending = tokio::spawn(async move { l.submit(&e).await });
    storage.wait_in_commit().await;
    let st = log.state.clone();
    let stopping = tokio::task::spawn_blocking(move || st.shutdown_sequencer());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the batch");
    storage.set_open(true);
    stopping.await.unwrap();
    let a = pending.await.unwrap();
    assert_eq!(a.status, StatusCode::OK, "the batch in flight was answered");
    assert_eq!(log.checkpoint().await.size, 1);
    log.get("/healthz")
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_failed_commit_is_a_503_that_leaks_nothing_and_changes_nothing() {
    let storage = GatedStorage::new();
    let log = TestLog::with(storage.clone(), options());
    storage.fail.store(true, Ordering::SeqCst);
    let msg = log
        .submit(&claim("alice", &new_key()))
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(msg.contains("storage") && msg.contains("retry"), "{msg}");
    assert!(!msg.contains("/secret"), "{msg}");
    assert!(!msg.contains("fire"), "{msg}");
    assert_eq!(log.checkpoint().await.size, 0);
    // Storage still matches the sequencer, so the log goes on once writes work.
    storage.fail.store(false, Ordering::SeqCst);
    let second = claim("alice", &new_key());
    log.accept(&second).await;
    let cp = log.checkpoint().await;
    assert_eq!(cp.size, 1);
    // The failed batch left no trace in the key directory either.
    let mut fold = sealwax_proto::directory::LeafFold::new();
    fold.apply(&second, 0).unwrap();
    let mut dir = sealwax_proto::directory::Directory::new();
    dir.insert_batch(fold.take_changes());
    assert_eq!(cp.directory_root().unwrap(), Some(dir.root()));
}

/// Every route of the router, as `(method, OpenAPI path)`, with a request
/// that reaches it on [`openapi_sample_log`]: (URI, body).
const ROUTES: &[(&str, &str, &str)] = &[
    ("post", "/v1/entries", "/v1/entries"),
    ("get", "/checkpoint", "/checkpoint"),
    ("get", "/tile/{level}/{index}", "/tile/0/000.p/2"),
    ("get", "/v1/entries/{index}", "/v1/entries/1"),
    (
        "get",
        "/v1/proof/inclusion",
        "/v1/proof/inclusion?index=0&tree_size=2",
    ),
    (
        "get",
        "/v1/proof/consistency",
        "/v1/proof/consistency?from=1&to=2",
    ),
    (
        "get",
        "/v1/publishers/{publisher}/keys",
        "/v1/publishers/alice/keys",
    ),
    (
        "get",
        "/v1/releases/{publisher}/{package}/{version}",
        "/v1/releases/alice/tool/1.0?tree_size=2",
    ),
    (
        "get",
        "/v1/signatures",
        "/v1/signatures?publisher=alice&package=tool",
    ),
    ("put", "/v1/artifacts/{sha256}", "/v1/artifacts/SHA"),
    ("get", "/v1/artifacts/{sha256}", "/v1/artifacts/SHA"),
    ("get", "/v1/limits", "/v1/limits?publisher=alice"),
    ("get", "/v1/log-key", "/v1/log-key"),
    ("get", "/healthz", "/healthz"),
    ("get", "/metrics", "/metrics"),
    ("get", "/v1/openapi.json", "/v1/openapi.json"),
];

/// A log with artifacts on, a key, a signature and its artifact.
async fn openapi_sample_log(dir: &std::path::Path) -> (TestLog, Entry, Vec<u8>) {
    let mut opts = options();
    opts.artifacts = Some(ArtifactStore::open(dir, 1000).unwrap());
    let log = TestLog::with(Arc::new(MemoryStorage::new()), opts);
    let alice = new_key();
    log.accept(&claim("alice", &alice)).await;
    let data = b"an artifact described by the API".to_vec();
    let sig = signature(&alice, "alice", "tool", "1.0", &data);
    log.accept(&sig).await;
    (log, sig, data)
}

/// The media type of a `Content-Type` value, without parameters.
fn media_type(v: &str) -> &str {
    v.split(';').next().unwrap_or("").trim()
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_as_it_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, sig, data) = openapi_sample_log(tmp.path()).await;
    let a = log.get("/v1/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    let doc = a.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );

    // Exactly the router's routes are described.
    let mut described: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                described.push((method.to_string(), path.clone()));
            }
        }
    }
    described.sort();
    let mut want: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    want.sort();
    assert_eq!(described, want);

    // Every reference resolves.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"").skip(1) {
        let target = part.split('"').next().unwrap();
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(schemas.contains_key(name), "dangling reference {target}");
    }

    let sha = hex::encode(Sha256::digest(&data));
    for (method, path, uri) in ROUTES {
        let op = &doc["paths"][*path][*method];
        let responses = op["responses"].as_object().expect("responses");
        for status in ["408", "500"] {
            assert!(
                responses.contains_key(status),
                "{method} {path} lacks {status}"
            );
        }
        for (status, r) in responses {
            if !status.starts_with('2') {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
        // A real request: routed (not the fallback), answered with a
        // documented status and media type, and JSON with the documented fields.
        let uri = uri.replace("SHA", &sha);
        let req = match *method {
            "post" => Request::post(&uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({ "entry": B64.encode(sig.to_bytes()) }).to_string(),
                )),
            "put" => Request::put(&uri).body(Body::from(data.clone())),
            _ => Request::get(&uri).body(Body::empty()),
        };
        let a = log.call(req.unwrap()).await;
        let status = a.status.as_str().to_string();
        assert!(
            a.status.is_success(),
            "{method} {uri}: {status} {}",
            String::from_utf8_lossy(&a.body)
        );
        let r = responses
            .get(&status)
            .unwrap_or_else(|| panic!("{method} {path}: status {status} is not described"));
        let content = r["content"].as_object().expect("content");
        let got = media_type(a.headers[header::CONTENT_TYPE].to_str().unwrap());
        assert!(
            content.contains_key(got),
            "{method} {path}: answered {got}, described {:?}",
            content.keys().collect::<Vec<_>>()
        );
        if got == "application/json" && *path != "/v1/openapi.json" {
            let name = content[got]["schema"]["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .unwrap_or_else(|| panic!("{method} {path}: no schema reference"));
            let mut documented: Vec<&String> = schemas[name]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} has no properties"))
                .keys()
                .collect();
            documented.sort();
            let answer = a.json();
            let mut answered: Vec<&String> = answer.as_object().unwrap().keys().collect();
            answered.sort();
            // Every field answered is documented; every required one is answered.
            for f in &answered {
                assert!(
                    documented.contains(f),
                    "{method} {path}: {name} does not document {f:?} ({documented:?})"
                );
            }
            let required = schemas[name]["required"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for f in &required {
                let f = f.as_str().expect("a field name");
                assert!(
                    answer.get(f).is_some(),
                    "{method} {path}: the required field {f:?} of {name} is missing"
                );
            }
            assert!(
                !required.is_empty(),
                "{method} {path}: {name} requires no field"
            );
        }
    }
}
