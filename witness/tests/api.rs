//! Handler tests: the real router over a real data directory, driven with
//! `tower::ServiceExt::oneshot`, with checkpoints signed by proto and real
//! consistency proofs from `proto::merkle`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::merkle::{leaf_hash, prove_consistency, tree_root, MemoryHashStore};
use sealwax_proto::note::{CosignatureVerifier, Note, NoteSignature, NoteSigner};
use sealwax_proto::Hash;
use sealwax_witness::api::{app, AppState, MAX_BODY_BYTES, SIZE_CONTENT_TYPE};
use sealwax_witness::datadir::DataDir;
use sealwax_witness::request::AddCheckpoint;
use sealwax_witness::server::{open, ServeConfig};
use sealwax_witness::witness::Stored;
use tower::ServiceExt as _;

const ORIGIN: &str = "example.com/log";

/// A tree of `n` leaves.
fn tree(n: u64, salt: u8) -> MemoryHashStore {
    let mut t = MemoryHashStore::new();
    for i in 0..n {
        t.append(leaf_hash(&[&i.to_be_bytes()[..], &[salt]].concat()));
    }
    t
}

/// One answer.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

/// A witness over a temporary data directory, trusting one log.
struct TestWitness {
    _dir: tempfile::TempDir,
    config: ServeConfig,
    state: AppState,
    router: Router,
    log: NoteSigner,
    tree: MemoryHashStore,
}

impl TestWitness {
    fn new() -> TestWitness {
        let dir = tempfile::tempdir().unwrap();
        let log = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[1; 32])).unwrap();
        let config = ServeConfig {
            data_dir: dir.path().join("witness"),
            listen: "127.0.0.1:0".parse().unwrap(),
            name: "witness.example/w1".into(),
            log_keys: vec![log.verifier()],
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(5),
            max_connections: 16,
        };
        let state = open(&config).unwrap();
        let router = app(state.clone(), config.request_timeout);
        TestWitness {
            _dir: dir,
            config,
            state,
            router,
            log,
            tree: tree(64, 0),
        }
    }

    /// The same witness, opened again from its data directory (a restart).
    fn reopen(&mut self) {
        self.state = open(&self.config).unwrap();
        self.router = app(self.state.clone(), self.config.request_timeout);
    }

    /// The checkpoint of the test tree at `size`, signed by the log.
    fn checkpoint(&self, size: u64) -> String {
        let cp = Checkpoint::new(ORIGIN, size, tree_root(&self.tree, size).unwrap());
        sign_checkpoint(&cp, &self.log).unwrap()
    }

    /// A request from `old` to `size` with the real consistency proof.
    fn request(&self, old: u64, size: u64) -> String {
        let proof = if old > 0 && old < size {
            prove_consistency(&self.tree, old, size).unwrap()
        } else {
            Vec::new()
        };
        body(old, proof, self.checkpoint(size))
    }

    async fn post(&self, body: impl Into<Body>) -> Answer {
        post(&self.router, body).await
    }

    async fn get(&self, path: &str) -> Answer {
        let req = Request::get(path).body(Body::empty()).unwrap();
        answer(self.router.clone().oneshot(req).await.unwrap()).await
    }

    async fn stored(&self) -> Stored {
        self.state.witness.stored(ORIGIN).await.unwrap()
    }

    fn verifier(&self) -> CosignatureVerifier {
        self.state.witness.verifier()
    }
}

fn body(old: u64, proof: Vec<Hash>, checkpoint: String) -> String {
    AddCheckpoint {
        old_size: old,
        proof,
        checkpoint,
    }
    .to_body()
}

async fn answer(r: axum::response::Response) -> Answer {
    let status = r.status();
    let content_type = r
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn post(router: &Router, body: impl Into<Body>) -> Answer {
    let req = Request::post("/add-checkpoint").body(body.into()).unwrap();
    answer(router.clone().oneshot(req).await.unwrap()).await
}

/// The cosignature lines of a 200, each checked to verify over `checkpoint`'s text.
fn assert_cosigned(a: &Answer, checkpoint: &str, v: &CosignatureVerifier) -> u64 {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let text = Note::parse(checkpoint).unwrap().text;
    let lines: Vec<&str> = a.body.lines().collect();
    assert_eq!(lines.len(), 1, "{}", a.body);
    assert!(a.body.ends_with('\n'));
    let sig = NoteSignature::parse_line(lines[0]).unwrap();
    let ts = v.verify(&text, &sig).expect("the cosignature verifies");
    assert!(ts > 1_700_000_000, "a real, non-zero timestamp: {ts}");
    ts
}

#[tokio::test]
async fn checkpoints_are_cosigned_from_zero_then_with_proofs_and_stored() {
    let w = TestWitness::new();
    let v = w.verifier();
    assert_cosigned(&w.post(w.request(0, 5)).await, &w.checkpoint(5), &v);
    assert_eq!(w.stored().await.size, 5);
    assert_cosigned(&w.post(w.request(5, 9)).await, &w.checkpoint(9), &v);
    // The same checkpoint again is cosigned again.
    assert_cosigned(&w.post(w.request(9, 9)).await, &w.checkpoint(9), &v);
    let stored = w.stored().await;
    assert_eq!(stored.size, 9);
    assert_eq!(stored.root, tree_root(&w.tree, 9).unwrap());
    // The state file is the checkpoint with the log's signature and the cosignature.
    let file = DataDir::new(&w.config.data_dir).state_path(ORIGIN);
    let note = Note::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(note.text, Note::parse(&w.checkpoint(9)).unwrap().text);
    assert_eq!(note.signatures.len(), 2);
    assert!(v.verify(&note.text, &note.signatures[1]).is_some());

    let m = w.get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.content_type.starts_with("text/plain; version=0.0.4"));
    for line in [
        "sealwax_witness_requests_total{status=\"200\"} 3",
        "sealwax_witness_cosignatures_total 3",
        "sealwax_witness_tree_size{origin=\"example.com/log\"} 9",
    ] {
        assert!(m.body.lines().any(|l| l == line), "{line} in\n{}", m.body);
    }
    // The monitoring API serves the stored checkpoint under the origin's hash.
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(ORIGIN));
    let served = w.get(&format!("/{hash}/checkpoint")).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(Note::parse(&served.body).unwrap(), note);
    let other = hex::encode(<sha2::Sha256 as sha2::Digest>::digest("other.example/log"));
    assert_eq!(
        w.get(&format!("/{other}/checkpoint")).await.status,
        StatusCode::NOT_FOUND
    );
    let h = w.get("/healthz").await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn an_unknown_origin_is_404() {
    let w = TestWitness::new();
    let other = NoteSigner::new("other.example/log", SigningKey::from_bytes(&[2; 32])).unwrap();
    let cp = Checkpoint::new("other.example/log", 3, tree_root(&w.tree, 3).unwrap());
    let a = w
        .post(body(0, vec![], sign_checkpoint(&cp, &other).unwrap()))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert!(a.body.contains("other.example/log"), "{}", a.body);
    assert_eq!(w.state.witness.stored("other.example/log").await, None);
}

#[tokio::test]
async fn a_checkpoint_without_a_trusted_signature_is_403_and_changes_nothing() {
    let w = TestWitness::new();
    let cp = Checkpoint::new(ORIGIN, 5, tree_root(&w.tree, 5).unwrap());
    // Signed by another key under the log's name: an unknown key, ignored.
    let impostor = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[3; 32])).unwrap();
    let unknown_key = sign_checkpoint(&cp, &impostor).unwrap();
    // The log's own signature line, over another size: known key, bad signature.
    let real = w.checkpoint(5);
    let tampered = real.replacen("\n5\n", "\n6\n", 1);
    let tampered = tampered.replacen(
        &B64(tree_root(&w.tree, 5).unwrap()).to_string(),
        &B64(tree_root(&w.tree, 6).unwrap()).to_string(),
        1,
    );
    for (what, note) in [("unknown key", unknown_key), ("bad signature", tampered)] {
        let a = w.post(body(0, vec![], note)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}: {}", a.body);
        assert!(a.content_type.starts_with("text/plain"), "{what}");
    }
    assert_eq!(w.stored().await.size, 0);
}

/// Base64 of a hash, for editing checkpoints by hand.
struct B64(Hash);

impl std::fmt::Display for B64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use base64::Engine as _;
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

#[tokio::test]
async fn old_after_new_and_malformed_requests_are_400_and_change_nothing() {
    let w = TestWitness::new();
    assert_cosigned(
        &w.post(w.request(0, 5)).await,
        &w.checkpoint(5),
        &w.verifier(),
    );
    let good = w.request(5, 9);
    let cases = [
        ("old larger than new", body(9, vec![], w.checkpoint(5))),
        ("no old line", good.replacen("old 5\n", "", 1)),
        (
            "old with a leading zero",
            good.replacen("old 5", "old 05", 1),
        ),
        (
            "a proof line that is not base64",
            good.replacen("\n\n", "\n!!\n\n", 1),
        ),
        (
            "64 proof lines",
            body(5, vec![[7; 32]; 64], w.checkpoint(9)),
        ),
        (
            "no signature lines",
            body(5, vec![], Note::parse(&w.checkpoint(9)).unwrap().text),
        ),
        (
            "not a checkpoint",
            body(5, vec![], w.checkpoint(9).replacen("\n9\n", "\nnine\n", 1)),
        ),
    ];
    for (what, req) in cases {
        let a = w.post(req).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{what}: {}", a.body);
        assert!(!a.body.trim().is_empty(), "{what}: says why");
    }
    let a = w.post(vec![0xff_u8, 0xfe, b'\n']).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "not UTF-8: {}", a.body);
    assert_eq!(w.stored().await.size, 5);
}

#[tokio::test]
async fn a_wrong_old_size_is_409_with_the_witness_size() {
    let w = TestWitness::new();
    // Never cosigned: the size is 0.
    let a = w.post(w.request(3, 9)).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert_eq!(
        (a.content_type.as_str(), a.body.as_str()),
        (SIZE_CONTENT_TYPE, "0\n")
    );
    assert_cosigned(
        &w.post(w.request(0, 5)).await,
        &w.checkpoint(5),
        &w.verifier(),
    );
    for old in [0, 3, 6] {
        let a = w.post(w.request(old, 9)).await;
        assert_eq!(a.status, StatusCode::CONFLICT, "old {old}: {}", a.body);
        assert_eq!(
            (a.content_type.as_str(), a.body.as_str()),
            (SIZE_CONTENT_TYPE, "5\n")
        );
    }
    // A rolled-back checkpoint (older than the stored one) with the right old size.
    let a = w.post(body(5, vec![], w.checkpoint(3))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(w.stored().await.size, 5);
}

#[tokio::test]
async fn inconsistent_checkpoints_are_422_and_change_nothing() {
    let w = TestWitness::new();
    assert_cosigned(
        &w.post(w.request(0, 5)).await,
        &w.checkpoint(5),
        &w.verifier(),
    );
    let mut bad_proof = prove_consistency(&w.tree, 5, 9).unwrap();
    bad_proof[0][0] ^= 1;
    let empty_proof_for_growth = body(5, vec![], w.checkpoint(9));
    let fork = tree(64, 1);
    let fork_cp = |size: u64| {
        let cp = Checkpoint::new(ORIGIN, size, tree_root(&fork, size).unwrap());
        sign_checkpoint(&cp, &w.log).unwrap()
    };
    let cases = [
        ("a tampered proof", body(5, bad_proof, w.checkpoint(9))),
        ("no proof for a larger tree", empty_proof_for_growth),
        ("same size, another root", body(5, vec![], fork_cp(5))),
        (
            "a fork's own proof",
            body(5, prove_consistency(&fork, 5, 9).unwrap(), fork_cp(9)),
        ),
        (
            "a proof between equal sizes",
            body(5, vec![[1; 32]], w.checkpoint(5)),
        ),
    ];
    for (what, req) in cases {
        let a = w.post(req).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            a.body
        );
    }
    assert_eq!(w.stored().await.root, tree_root(&w.tree, 5).unwrap());
    // Each is counted by reason: two roots for one size is a fork for sure.
    let m = w.get("/metrics").await.body;
    for line in [
        "sealwax_witness_inconsistent_total{origin=\"example.com/log\",reason=\"bad_proof\"} 3",
        "sealwax_witness_inconsistent_total{origin=\"example.com/log\",reason=\"same_size_other_root\"} 1",
        "sealwax_witness_inconsistent_total{origin=\"example.com/log\",reason=\"unexpected_proof\"} 1",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }

    // From size 0: no proof may be sent, and the empty tree has one root.
    let fresh = TestWitness::new();
    let a = fresh
        .post(body(0, vec![[1; 32]], fresh.checkpoint(5)))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let not_empty = Checkpoint::new(ORIGIN, 0, [9; 32]);
    let a = fresh
        .post(body(
            0,
            vec![],
            sign_checkpoint(&not_empty, &fresh.log).unwrap(),
        ))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(fresh.stored().await.size, 0);
    assert_cosigned(
        &fresh.post(fresh.request(0, 0)).await,
        &fresh.checkpoint(0),
        &fresh.verifier(),
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_unread() {
    let w = TestWitness::new();
    let mut big = w.request(0, 5);
    big.push_str(&"x".repeat(MAX_BODY_BYTES));
    let a = w.post(big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);
    assert_eq!(w.stored().await.size, 0);
}

#[tokio::test]
async fn the_stored_checkpoint_survives_a_restart() {
    let mut w = TestWitness::new();
    assert_cosigned(
        &w.post(w.request(0, 7)).await,
        &w.checkpoint(7),
        &w.verifier(),
    );
    let before = w.verifier();
    w.reopen();
    assert_eq!(w.verifier(), before, "the same key");
    assert_eq!(w.stored().await.size, 7);
    let a = w.post(w.request(0, 9)).await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::CONFLICT, "7\n"));
    assert_cosigned(&w.post(w.request(7, 9)).await, &w.checkpoint(9), &before);
}

/// What one racing client got: `(old, new)` for each 200.
async fn race_client(router: Router, w: Arc<TestWitness>, target: u64) -> Vec<(u64, u64)> {
    let mut old = 0;
    let mut accepted = Vec::new();
    for _ in 0..200 {
        let req = w.request(old, target);
        let a = post(&router, req).await;
        match a.status {
            StatusCode::OK => {
                assert_cosigned(&a, &w.checkpoint(target), &w.verifier());
                accepted.push((old, target));
                return accepted;
            }
            StatusCode::CONFLICT => old = a.body.trim().parse().unwrap(),
            // The witness moved past this client's checkpoint.
            StatusCode::BAD_REQUEST if old > target => return accepted,
            s => panic!("target {target}, old {old}: unexpected {s}: {}", a.body),
        }
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_never_roll_the_stored_size_back() {
    // A race whose first winner asks for the largest size moves the witness
    // once, legitimately, and proves nothing about ordering: race again.
    for _ in 0..5 {
        if race_once().await > 1 {
            return;
        }
    }
    panic!("in 5 races the witness never moved more than once");
}

/// One race of 128 concurrent requests for sizes 1..=64 (each twice) on a
/// fresh witness; checks that it never rolls back and that its 200s form
/// one chain; returns how many times it moved.
async fn race_once() -> usize {
    let w = Arc::new(TestWitness::new());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A watcher: the stored size only ever grows.
    let watcher = {
        let (w, done) = (w.clone(), done.clone());
        tokio::spawn(async move {
            let mut last = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let now = w.stored().await.size;
                assert!(
                    now >= last,
                    "the stored size went back from {last} to {now}"
                );
                last = now;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut targets: Vec<u64> = (1..=64).chain(1..=64).collect();
    use rand::seq::SliceRandom as _;
    targets.shuffle(&mut rand::thread_rng());
    let clients: Vec<_> = targets
        .into_iter()
        .map(|t| tokio::spawn(race_client(w.router.clone(), w.clone(), t)))
        .collect();
    let mut accepted = Vec::new();
    for c in clients {
        accepted.extend(c.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.await.unwrap();

    // Every 200 that moved the witness started where the one before ended:
    // one chain 0 -> n1 -> n2 -> ... , each old size accepted once.
    let mut advances: Vec<(u64, u64)> = accepted.iter().copied().filter(|(o, n)| o < n).collect();
    advances.sort_by_key(|&(_, n)| n);
    let mut at = 0;
    for &(old, new) in &advances {
        assert_eq!(
            old, at,
            "a 200 from size {old} while the witness was at {at}: {advances:?}"
        );
        at = new;
    }
    let max = accepted.iter().map(|&(_, n)| n).max().unwrap();
    assert_eq!(w.stored().await.size, max);
    assert_eq!(at, max);
    advances.len()
}

#[tokio::test]
async fn a_readable_key_or_a_damaged_state_file_stops_the_start() {
    use sealwax_witness::WitnessError;
    use std::os::unix::fs::PermissionsExt as _;
    let w = TestWitness::new();
    assert_cosigned(
        &w.post(w.request(0, 5)).await,
        &w.checkpoint(5),
        &w.verifier(),
    );
    let dir = DataDir::new(&w.config.data_dir);

    let key = dir.key_path();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = open(&w.config)
        .err()
        .expect("a key others can read is refused");
    assert!(
        matches!(err, WitnessError::KeyFileReadable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // A damaged state file never starts the witness over from size 0.
    let state = dir.state_path(ORIGIN);
    let good = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, good.replacen("\n5\n", "\nfive\n", 1)).unwrap();
    let err = open(&w.config).err().expect("a damaged state is refused");
    assert!(matches!(err, WitnessError::Damaged { .. }), "{err:?}");
    assert!(err.to_string().contains("never restarted empty"), "{err}");
    std::fs::write(&state, good).unwrap();
    let again = open(&w.config).unwrap();
    assert_eq!(again.witness.stored(ORIGIN).await.unwrap().size, 5);
}
