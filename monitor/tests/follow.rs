//! The follower against an in-process tile log on loopback: incremental
//! catch-ups across every tile boundary and level, and tampered tiles at
//! positions verified in an earlier run.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use sealwax_monitor::config::Config;
use sealwax_monitor::deliver::Dispatcher;
use sealwax_monitor::follow::{Follower, FollowerOptions, PollOutcome};
use sealwax_monitor::source::LogSource;
use sealwax_monitor::state::StateDir;
use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::entry::{Entry, KeyRegistration, Release, SignatureEntry};
use sealwax_proto::merkle::{leaf_hash, MemoryHashStore};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::note::NoteSigner;
use sealwax_proto::tile::{encode_bundle, hash_tile_data, TileId, TileLevel};

const ORIGIN: &str = "follow.test/log";

/// A config that watches no publisher: signature entries are parsed and
/// checked against the rules but their Ed25519 signatures are not verified,
/// which keeps these large logs fast in debug builds.
const UNWATCHED: &str = "";

/// A log held in memory: entry 0 claims "pub", every later entry is a
/// signature of version `1.0.<index>` (valid, and distinct as an honest
/// log's entries are).
struct MemLog {
    signer: NoteSigner,
    key: SecretKey,
    release: Release,
    /// Entries made so far, by index (entry 0 is `claim`).
    entries: Vec<Vec<u8>>,
    store: MemoryHashStore,
    checkpoint: String,
    /// (tile path, byte) to flip in answers.
    tamper: Option<(String, usize)>,
    /// Sign a `sealwax-directory` line: the root of the entries' directory,
    /// or this one instead.
    directory: Option<Option<[u8; 32]>>,
}

impl MemLog {
    fn new() -> MemLog {
        let mut rng = rand::thread_rng();
        let key = SecretKey::generate(&mut rng);
        let claim =
            Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, "pub", &key).unwrap()).to_bytes();
        let release = Release {
            origin: ORIGIN.into(),
            publisher: "pub".into(),
            package: "pkg".into(),
            version: "1.0.0".into(),
            sha256: [7; 32],
        };
        MemLog {
            signer: NoteSigner::generate(ORIGIN, &mut rng).unwrap(),
            entries: vec![claim],
            key,
            release,
            store: MemoryHashStore::new(),
            checkpoint: String::new(),
            tamper: None,
            directory: None,
        }
    }

    fn entry(&self, i: u64) -> &[u8] {
        &self.entries[i as usize]
    }

    fn grow_to(&mut self, size: u64) {
        while self.store.size() < size {
            let i = self.store.size();
            if i as usize == self.entries.len() {
                let release = Release {
                    version: format!("1.0.{i}"),
                    ..self.release.clone()
                };
                let sig = SignatureEntry::sign(&self.key, &release, prehash(b"x")).unwrap();
                self.entries.push(Entry::Signature(sig).to_bytes());
            }
            let h = leaf_hash(self.entry(i));
            self.store.append(h);
        }
        let mut cp = Checkpoint::new(ORIGIN, size, self.store.root());
        if let Some(lie) = self.directory {
            cp.set_directory_root(&lie.unwrap_or_else(|| self.directory_root(size)));
        }
        self.checkpoint = sign_checkpoint(&cp, &self.signer).unwrap();
    }

    /// The directory root of the first `size` entries, with proto's own fold and tree.
    fn directory_root(&self, size: u64) -> [u8; 32] {
        let mut fold = sealwax_proto::directory::LeafFold::new();
        let mut dir = sealwax_proto::directory::Directory::new();
        for i in 0..size {
            let e = Entry::parse(self.entry(i)).unwrap();
            fold.apply(&e, i).unwrap();
        }
        dir.insert_batch(fold.take_changes());
        dir.root()
    }

    fn serve(&self, path: &str) -> Option<Vec<u8>> {
        if path == "checkpoint" {
            return Some(self.checkpoint.clone().into_bytes());
        }
        let id = TileId::parse_path(path).ok()?;
        let size = self.store.size();
        let current = TileId::for_size(id.level, id.index, size)?;
        if current.width < id.width {
            return None;
        }
        let mut body = match id.level {
            TileLevel::Hashes(l) => hash_tile_data(&self.store, l, id.index, id.width).ok()?,
            TileLevel::Entries => {
                let start = id.index * 256;
                encode_bundle((start..start + u64::from(id.width)).map(|i| self.entry(i))).ok()?
            }
        };
        if let Some((p, byte)) = &self.tamper {
            if p == path {
                body[*byte] ^= 1;
            }
        }
        Some(body)
    }
}

async fn handler(State(log): State<Arc<Mutex<MemLog>>>, uri: Uri) -> axum::response::Response {
    let path = uri.path().trim_start_matches('/');
    match log.lock().unwrap().serve(path) {
        Some(b) => b.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Collects what the dispatcher prints (JSON lines).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn take(&self) -> Vec<serde_json::Value> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

struct Harness {
    log: Arc<Mutex<MemLog>>,
    follower: Follower,
    alerts: Capture,
    _state: tempfile::TempDir,
}

async fn harness(config: &str) -> Harness {
    let log = Arc::new(Mutex::new(MemLog::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(handler)
        .with_state(Arc::clone(&log));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = Config::parse(config, Path::new("t.toml")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let verifier = log.lock().unwrap().signer.verifier();
    let alerts = Capture::default();
    let follower = Follower::open(
        LogSource::new(&url).unwrap(),
        verifier,
        config.clone(),
        Dispatcher::new(&config.alerts, true, Box::new(alerts.clone())),
        StateDir::open(state.path()).unwrap(),
        FollowerOptions {
            progress: false,
            ..FollowerOptions::default()
        },
    )
    .unwrap();
    Harness {
        log,
        follower,
        alerts,
        _state: state,
    }
}

impl Harness {
    async fn poll_at(&mut self, size: u64) -> PollOutcome {
        self.log.lock().unwrap().grow_to(size);
        self.follower.poll().await.expect("poll")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_catch_ups_across_every_tile_boundary() {
    let mut h = harness(UNWATCHED).await;
    let sizes = [
        0, 1, 2, 3, 255, 256, 257, 300, 511, 512, 65_535, 65_536, 65_537, 65_800, 70_000, 131_072,
        131_077,
    ];
    let mut last = 0;
    for size in sizes {
        let o = h.poll_at(size).await;
        assert_eq!(o.alerts, 0, "no alert at size {size}");
        assert_eq!(o.size, size);
        assert_eq!(o.entries, size - last);
        last = size;
        assert_eq!(
            h.follower.state().range.root(),
            h.log.lock().unwrap().store.root()
        );
    }
    // Nothing new: nothing to do.
    let o = h.poll_at(last).await;
    assert_eq!(
        o,
        PollOutcome {
            alerts: 0,
            entries: 0,
            size: last
        }
    );
}

/// (tile path, byte flipped, what the alert says)
type Tampering = (&'static str, usize, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_tiles_are_caught_at_new_and_old_positions() {
    // One log, grown step by step; some steps serve one altered tile.
    // (what, size polled, tile altered, byte flipped, what the alert says)
    let steps: [(&str, u64, Option<Tampering>); 7] = [
        (
            "new position, level 0",
            10,
            Some(("tile/0/000.p/10", 9 * 32, "position 9 is")),
        ),
        ("honest", 300, None),
        (
            "old position of a partial level-0 tile",
            400,
            Some(("tile/0/001.p/144", 5, "position 0 is")),
        ),
        (
            "new position of a level-1 tile completed in this run",
            65_536 + 3 * 256 + 7,
            Some(("tile/1/000", 200 * 32, "position 200 is")),
        ),
        (
            "old position of a partial level-1 tile",
            65_536 + 5 * 256,
            Some(("tile/1/001.p/5", 32 + 1, "positions 0..2 hash to")),
        ),
        (
            "new position of a partial level-1 tile",
            65_536 + 6 * 256,
            Some(("tile/1/001.p/6", 5 * 32 + 31, "position 5 is")),
        ),
        ("honest", 65_536 + 7 * 256 + 1, None),
    ];
    let mut h = harness(UNWATCHED).await;
    for (desc, size, tamper) in steps {
        h.log.lock().unwrap().tamper = tamper.map(|(p, b, _)| (p.to_string(), b));
        let o = h.poll_at(size).await;
        let alerts = h.alerts.take();
        // The entries still hash to the signed root: the checkpoint is verified.
        assert_eq!(o.size, size, "{desc}");
        let Some((path, _, want)) = tamper else {
            assert!(alerts.is_empty(), "{desc}: {alerts:?}");
            continue;
        };
        assert_eq!(
            alerts.len(),
            1,
            "{desc}: one alert per bad tile: {alerts:?}"
        );
        assert_eq!(alerts[0]["problem"], "bad-tile", "{desc}");
        assert_eq!(alerts[0]["tile"], path, "{desc}");
        let msg = alerts[0]["message"].as_str().unwrap();
        assert!(msg.contains(want), "{desc}: {msg}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_fork_and_bad_signature_keep_the_verified_state() {
    let mut h = harness("[[watch]]\npublisher = \"pub\"\nlearn = true\n").await;
    assert_eq!(h.poll_at(300).await.alerts, 0);
    let good = h.follower.state().clone();

    // A smaller checkpoint, signed by the log.
    let text = {
        let log = h.log.lock().unwrap();
        let mut store = MemoryHashStore::new();
        for i in 0..200 {
            store.append(leaf_hash(log.entry(i)));
        }
        sign_checkpoint(&Checkpoint::new(ORIGIN, 200, store.root()), &log.signer).unwrap()
    };
    h.log.lock().unwrap().checkpoint = text;
    assert_eq!(h.follower.poll().await.unwrap().alerts, 1);
    // Served again, the same bad checkpoint is not re-alerted by this process.
    assert_eq!(h.follower.poll().await.unwrap().alerts, 0);

    // Same size, another root.
    let text = {
        let log = h.log.lock().unwrap();
        sign_checkpoint(&Checkpoint::new(ORIGIN, 300, [9; 32]), &log.signer).unwrap()
    };
    h.log.lock().unwrap().checkpoint = text;
    assert_eq!(h.follower.poll().await.unwrap().alerts, 1);

    // Larger, but with a root the entries do not hash to.
    let text = {
        let mut log = h.log.lock().unwrap();
        log.grow_to(310);
        sign_checkpoint(&Checkpoint::new(ORIGIN, 310, [9; 32]), &log.signer).unwrap()
    };
    h.log.lock().unwrap().checkpoint = text;
    assert_eq!(h.follower.poll().await.unwrap().alerts, 1);

    // Signed by someone else.
    let other = NoteSigner::generate(ORIGIN, &mut rand::thread_rng()).unwrap();
    let text = sign_checkpoint(&Checkpoint::new(ORIGIN, 400, [1; 32]), &other).unwrap();
    h.log.lock().unwrap().checkpoint = text;
    assert_eq!(h.follower.poll().await.unwrap().alerts, 1);

    let kinds: Vec<String> = h
        .alerts
        .take()
        .iter()
        .map(|a| a["problem"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "rollback",
            "fork",
            "inconsistent-tree",
            "checkpoint-not-signed"
        ]
    );
    assert_eq!(
        h.follower.state().range,
        good.range,
        "the verified tree is kept"
    );
    assert_eq!(h.follower.state().checkpoint, good.checkpoint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_unreachable_logs_raise_one_health_alert_each() {
    // Times are whole seconds: 2 s leaves room for rounding and retries.
    let config = "[health]\nmax_stale_secs = 1\nmax_unreachable_secs = 2\n";
    let mut h = harness(config).await;
    assert_eq!(h.poll_at(5).await.alerts, 0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(h.poll_at(5).await.alerts, 1, "not grown for over a second");
    assert_eq!(h.poll_at(5).await.alerts, 0, "alerted once per episode");
    assert_eq!(h.poll_at(6).await.alerts, 0, "growth ends the episode");
    let alerts = h.alerts.take();
    assert_eq!(alerts[0]["kind"], "log-unhealthy");
    assert_eq!(alerts[0]["problem"], "stale");

    // The same state, read through a closed port.
    let state_dir = h._state.path().to_path_buf();
    drop(h.follower);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let parsed = Config::parse(config, Path::new("t.toml")).unwrap();
    let capture = Capture::default();
    let mut follower = Follower::open(
        LogSource::new(&format!("http://127.0.0.1:{port}")).unwrap(),
        h.log.lock().unwrap().signer.verifier(),
        parsed.clone(),
        Dispatcher::new(&parsed.alerts, true, Box::new(capture.clone())),
        StateDir::open(&state_dir).unwrap(),
        FollowerOptions {
            progress: false,
            ..FollowerOptions::default()
        },
    )
    .unwrap();
    let err = follower.poll().await.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert_eq!(
        follower.report_unreachable(&err).await.unwrap(),
        0,
        "just seen"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(follower.report_unreachable(&err).await.unwrap(), 1);
    assert_eq!(
        follower.report_unreachable(&err).await.unwrap(),
        0,
        "alerted once per episode"
    );
    let alerts = capture.take();
    assert_eq!(alerts[0]["problem"], "unreachable");
    assert_eq!(follower.state().size(), 6, "the verified state is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_directory_root_is_caught_and_not_accepted() {
    let mut h = harness(UNWATCHED).await;
    h.log.lock().unwrap().directory = Some(None);
    for size in [1, 2, 300] {
        let o = h.poll_at(size).await;
        assert_eq!(
            (o.alerts, o.size),
            (0, size),
            "an honest directory at {size}"
        );
    }
    assert!(h.follower.state().directory_seen);
    // One checkpoint signs a wrong root: caught in that poll, not accepted.
    h.log.lock().unwrap().directory = Some(Some([0x42; 32]));
    let o = h.poll_at(310).await;
    let alerts = h.alerts.take();
    assert_eq!((o.alerts, o.size), (1, 300), "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "log-misbehaviour");
    assert_eq!(alerts[0]["problem"], "directory-mismatch");
    assert_eq!(alerts[0]["tree_size"], 310);
    // The next honest checkpoint is verified from the state kept.
    h.log.lock().unwrap().directory = Some(None);
    let o = h.poll_at(320).await;
    assert_eq!((o.alerts, o.size), (0, 320), "{:?}", h.alerts.take());
    // A checkpoint that drops the line the log signed before.
    h.log.lock().unwrap().directory = None;
    let o = h.poll_at(330).await;
    let alerts = h.alerts.take();
    assert_eq!((o.alerts, o.size), (1, 320), "{alerts:?}");
    assert_eq!(alerts[0]["problem"], "directory-missing");
}
