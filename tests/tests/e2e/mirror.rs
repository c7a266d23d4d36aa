//! The object storage mirror (`sealwax-log serve --mirror s3://...`) against
//! a real S3 store, SeaweedFS on loopback: the bucket is checked
//! independently (byte for byte against the API, with proto's and Go's tile
//! readers), under kill -9 of the log, and through an outage of the store.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::Rng as _;
use sealwax_proto::checkpoint::open_checkpoint;
use sealwax_proto::merkle::{self, leaf_hash, HashReader as _};
use sealwax_proto::note::NoteVerifier;
use sealwax_proto::tile::{
    changed_tiles, parse_bundle, tiles_for_size, TileHashReader, TileId, TileLevel, TileReader,
};
use sealwax_tests::seaweed::{weed_or_skip, Seaweed};
use sealwax_tests::{bin, fill_log, tree_size, LogServer, ServerOptions};

const BUCKET: &str = "tiles";
const PREFIX: &str = "sealwax/log";

/// A log serving with `--mirror s3://tiles/sealwax/log` into `store`.
fn mirrored_log(dir: &Path, store: &Seaweed, extra: &[&str]) -> LogServer {
    let mut extra_args = vec!["--mirror".to_string(), format!("s3://{BUCKET}/{PREFIX}")];
    extra_args.extend(extra.iter().map(|s| s.to_string()));
    LogServer::start(
        dir,
        &ServerOptions {
            extra_args,
            env: store.env(),
            ..Default::default()
        },
    )
}

/// The bucket, read anonymously over plain HTTP as a CDN would.
struct Bucket(String);

impl Bucket {
    /// The bucket of `store`.
    fn of(store: &Seaweed) -> Bucket {
        Bucket(store.endpoint.clone())
    }

    fn get(&self, rel: &str) -> Option<Vec<u8>> {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}/{BUCKET}/{PREFIX}/{rel}", self.0))
            .send()
            .unwrap_or_else(|e| panic!("GET {rel} from the bucket: {e}"));
        match r.status().as_u16() {
            200 => Some(r.bytes().expect("object body").to_vec()),
            404 => None,
            s => panic!("GET {rel} from the bucket: HTTP {s}"),
        }
    }

    fn head(&self, rel: &str) -> reqwest::blocking::Response {
        reqwest::blocking::Client::new()
            .head(format!("{}/{BUCKET}/{PREFIX}/{rel}", self.0))
            .send()
            .expect("HEAD")
    }

    /// Every object key under the prefix (relative to it), by S3 ListObjectsV2.
    fn keys(&self) -> Vec<String> {
        let (mut keys, mut token) = (Vec::new(), None::<String>);
        loop {
            let mut url = format!(
                "{}/{BUCKET}?list-type=2&prefix={PREFIX}/&max-keys=1000",
                self.0
            );
            if let Some(t) = &token {
                url.push_str("&continuation-token=");
                url.push_str(
                    &t.replace('+', "%2B")
                        .replace('/', "%2F")
                        .replace('=', "%3D"),
                );
            }
            let xml = reqwest::blocking::get(&url).unwrap().text().unwrap();
            let between = |s: &str, open: &str, close: &str| -> Vec<String> {
                s.split(open)
                    .skip(1)
                    .filter_map(|p| p.split_once(close).map(|(v, _)| v.to_string()))
                    .collect()
            };
            for k in between(&xml, "<Key>", "</Key>") {
                keys.push(k[PREFIX.len() + 1..].to_string());
            }
            token = between(&xml, "<NextContinuationToken>", "</NextContinuationToken>")
                .into_iter()
                .next();
            if token.is_none() {
                return keys;
            }
        }
    }

    /// The bucket's checkpoint text, if any.
    fn checkpoint(&self) -> Option<String> {
        self.get("checkpoint")
            .map(|b| String::from_utf8(b).expect("a text checkpoint"))
    }

    /// The size of the bucket's checkpoint (0 when none).
    fn size(&self) -> u64 {
        self.checkpoint()
            .and_then(|t| t.lines().nth(1).and_then(|l| l.parse().ok()))
            .unwrap_or(0)
    }
}

impl TileReader for Bucket {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> sealwax_proto::Result<Vec<u8>> {
        let id = TileId {
            level: TileLevel::Hashes(level),
            index,
            width,
        };
        self.get(&id.path())
            .ok_or(sealwax_proto::Error::BadTile("the bucket lacks the tile"))
    }
}

/// Waits until the bucket's checkpoint is the log's (at least `size`).
fn wait_mirrored(bucket: &Bucket, log_url: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let served = reqwest::blocking::get(format!("{log_url}/checkpoint"))
            .and_then(|r| r.text())
            .expect("GET /checkpoint");
        if bucket.checkpoint().as_deref() == Some(served.as_str()) {
            return served;
        }
        assert!(
            Instant::now() < deadline,
            "the mirror did not reach the log's checkpoint within {within:?}: bucket at {}, log at {}",
            bucket.size(),
            tree_size(log_url)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The log's verifier.
fn verifier(log: &LogServer) -> NoteVerifier {
    NoteVerifier::parse(&log.vkey).expect("the log's vkey parses")
}

/// Every tile and bundle the bucket's checkpoint needs is there, and they
/// rebuild its root; returns the size.
fn check_complete(bucket: &Bucket, origin: &str, v: &NoteVerifier) -> u64 {
    let Some(text) = bucket.checkpoint() else {
        return 0;
    };
    let (cp, _) = open_checkpoint(&text, origin, v).expect("the bucket's checkpoint verifies");
    for id in tiles_for_size(cp.size) {
        assert!(
            bucket.get(&id.path()).is_some(),
            "the bucket's checkpoint (size {}) refers to the missing tile {}",
            cp.size,
            id.path()
        );
        if id.level == TileLevel::Hashes(0) {
            let bundle = TileId {
                level: TileLevel::Entries,
                ..id
            };
            let data = bucket.get(&bundle.path()).unwrap_or_else(|| {
                panic!(
                    "the bucket's checkpoint (size {}) refers to the missing bundle {}",
                    cp.size,
                    bundle.path()
                )
            });
            assert_eq!(parse_bundle(&data).unwrap().len(), usize::from(id.width));
        }
    }
    let tiles = TileHashReader::new(bucket, cp.size);
    assert_eq!(
        merkle::tree_root(&tiles, cp.size).unwrap(),
        cp.root,
        "the bucket's tiles rebuild its checkpoint's root"
    );
    cp.size
}

/// Builds the Go program of proto's interop test (Go's `sumdb/tlog`), offline.
fn go_interop(dir: &Path) -> Option<PathBuf> {
    if Command::new("go").arg("version").output().is_err() {
        eprintln!("skipping the Go check: `go` is not on PATH (install golang-go and golang-golang-x-mod-dev)");
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/go-interop");
    for file in ["go.mod", "main.go"] {
        std::fs::copy(src.join(file), dir.join(file)).expect("copy the Go program");
    }
    let out_bin = dir.join("go-interop");
    sealwax_tests::go_build_offline(dir, Path::new("."), &out_bin, "-mod=mod");
    Some(out_bin)
}

#[test]
fn the_bucket_is_the_api_byte_for_byte_and_rebuilds_the_root() {
    let Some(weed) = weed_or_skip("mirror::the_bucket_is_the_api") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = Seaweed::start(&weed, &tmp.path().join("weed"));
    store.create_bucket(BUCKET);
    let log = mirrored_log(&tmp.path().join("log"), &store, &[]);
    fill_log(&log.url, &log.origin, "alice", 599);
    let bucket = Bucket::of(&store);
    let text = wait_mirrored(&bucket, &log.url, Duration::from_secs(60));
    let v = verifier(&log);
    let (cp, _) = open_checkpoint(&text, &log.origin, &v).unwrap();
    assert_eq!(cp.size, 600);
    assert_eq!(check_complete(&bucket, &log.origin, &v), 600);

    // Byte for byte the API's, with the API's Cache-Control.
    let http = reqwest::blocking::Client::new();
    let mut go_tiles = BTreeMap::new();
    let mut leaves = Vec::new();
    for id in tiles_for_size(cp.size) {
        let bundle = TileId {
            level: TileLevel::Entries,
            ..id
        };
        let ids: Vec<TileId> = match id.level {
            TileLevel::Hashes(0) => vec![id, bundle],
            _ => vec![id],
        };
        for id in ids {
            let api = http
                .get(format!("{}/{}", log.url, id.path()))
                .send()
                .unwrap();
            let api_cache = api.headers()["cache-control"].to_str().unwrap().to_owned();
            let api = api.bytes().unwrap().to_vec();
            let ours = bucket.get(&id.path()).unwrap();
            assert_eq!(ours, api, "{} differs from the API's", id.path());
            let head = bucket.head(&id.path());
            assert_eq!(
                head.headers()
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap()),
                Some(api_cache.as_str()),
                "{}",
                id.path()
            );
            assert_eq!(
                api_cache.contains("immutable"),
                id.is_full(),
                "{}",
                id.path()
            );
            match id.level {
                TileLevel::Entries => {
                    leaves.extend(parse_bundle(&ours).unwrap().into_iter().map(leaf_hash))
                }
                TileLevel::Hashes(_) => {
                    go_tiles.insert(id.path(), B64.encode(&ours));
                }
            }
        }
    }
    let cache = bucket.head("checkpoint");
    assert_eq!(cache.headers()["cache-control"], "public, max-age=1");
    // The bundles hold the leaves the level-0 tiles hash.
    assert_eq!(merkle::root_from_leaves(&leaves), cp.root);
    let tiles = TileHashReader::new(&bucket, cp.size);
    assert_eq!(tiles.read_hash(0, 300).unwrap(), leaves[300]);

    // Go's sumdb/tlog TileHashReader reads the same tree from the bucket's tiles.
    if let Some(go) = go_interop(tmp.path()) {
        let b64 = |h: &[u8; 32]| B64.encode(h);
        let proof = merkle::prove_inclusion(&tiles, 123, cp.size).unwrap();
        let request = serde_json::json!({
            "vkey": log.vkey,
            "notes": [text],
            "sign_name": "example.com/go-log",
            "sign_text": "example.com/go-log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "records": [{"index": 123, "size": cp.size, "root": b64(&cp.root),
                         "leaf": b64(&leaves[123]), "proof": proof.iter().map(b64).collect::<Vec<_>>()}],
            "trees": [],
            "tile_size": cp.size,
            "tile_root": b64(&cp.root),
            "tiles": go_tiles,
            "want": [[0, 0], [0, 599], [8, 1]],
        });
        let mut child = Command::new(&go)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "Go failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            answer["opened"][0]["error"], "",
            "Go opens the bucket's checkpoint"
        );
        assert_eq!(
            answer["tile_tree_hash"],
            b64(&cp.root),
            "Go's tree hash from the bucket's tiles"
        );
        assert_eq!(
            answer["record_errors"][0], "",
            "Go checks the inclusion proof"
        );
        assert_eq!(
            answer["record_proofs"][0],
            serde_json::json!(proof.iter().map(b64).collect::<Vec<_>>()),
            "Go proves inclusion from the bucket's tiles as proto does"
        );
        assert_eq!(answer["tile_hashes"][1], b64(&leaves[599]));
    }

    // The mirror's metrics: up to date, objects uploaded, no failures.
    let metrics = http
        .get(format!("{}/metrics", log.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("sealwax_mirror_tree_size 600\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sealwax_mirror_lag_entries 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("sealwax_mirror_failures_total{kind=\"conflict\"} 0\n"));
}

/// Someone else's object at a full tile's path is an alarm, not overwritten.
#[test]
fn a_foreign_object_in_the_bucket_stops_the_mirror_and_is_kept() {
    let Some(weed) = weed_or_skip("mirror::a_foreign_object") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = Seaweed::start(&weed, &tmp.path().join("weed"));
    store.create_bucket(BUCKET);
    let forged = vec![7u8; 32 * 256];
    let put = reqwest::blocking::Client::new()
        .put(format!("{}/{BUCKET}/{PREFIX}/tile/0/000", store.endpoint))
        .body(forged.clone())
        .send()
        .unwrap();
    assert!(put.status().is_success());
    let log = mirrored_log(&tmp.path().join("log"), &store, &[]);
    fill_log(&log.url, &log.origin, "alice", 299);
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let r = reqwest::blocking::get(format!("{}/healthz", log.url)).unwrap();
        if r.status() == 503 {
            break r.text().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never reported the conflict"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(health.contains("other bytes"), "{health}");
    let bucket = Bucket::of(&store);
    assert_eq!(bucket.get("tile/0/000").unwrap(), forged, "not overwritten");
    assert!(
        bucket.size() < 256,
        "no checkpoint in the bucket covers the foreign tile (the bucket is at {})",
        bucket.size()
    );
    // The log itself goes on.
    fill_log(&log.url, &log.origin, "bob", 3);
    assert_eq!(tree_size(&log.url), 304);
}

/// Grows the stopped log in `dir` to `to` entries, offline.
fn grow(dir: &Path, origin: &str, to: u64) {
    let out = Command::new(bin("sealwax-log-fill"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--origin", origin, "--to", &to.to_string(), "--proofs", "0"])
        .args(["--batch", "512"])
        .output()
        .expect("run sealwax-log-fill");
    assert!(
        out.status.success(),
        "sealwax-log-fill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_9_during_uploads_never_leaves_a_checkpoint_without_its_tiles() {
    let Some(weed) = weed_or_skip("mirror::kill_9") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = Seaweed::start(&weed, &tmp.path().join("weed"));
    store.create_bucket(BUCKET);
    let bucket = Bucket::of(&store);
    let dir = tmp.path().join("log");
    let mut rng = rand::thread_rng();
    let mut last = 0;
    let mut origin = String::from("sealwax.test/log");
    for round in 1..=6u64 {
        // Each round the log wakes up thousands of entries ahead of the bucket.
        grow(&dir, &origin, round * 20_000 + rng.gen_range(0..300));
        let mut log = mirrored_log(&dir, &store, &[]);
        origin = log.origin.clone();
        let v = verifier(&log);
        let kill_at = Instant::now() + Duration::from_millis(rng.gen_range(100..1500));
        while Instant::now() < kill_at {
            // Meanwhile a reader of the bucket always finds the checkpoint's tiles.
            let size = check_complete(&bucket, &origin, &v);
            assert!(
                size >= last,
                "the bucket's checkpoint went back from {last} to {size}"
            );
        }
        log.kill();
        let size = check_complete(&bucket, &origin, &verifier(&log));
        assert!(
            size >= last,
            "the bucket's checkpoint went back from {last} to {size}"
        );
        eprintln!("round {round}: killed with the bucket at {size}");
        last = size;
    }
    // After a restart the mirror converges, without uploading everything again.
    let log = mirrored_log(&dir, &store, &[]);
    wait_mirrored(&bucket, &log.url, Duration::from_secs(120));
    assert_eq!(
        check_complete(&bucket, &origin, &verifier(&log)),
        tree_size(&log.url)
    );
    let metrics = reqwest::blocking::get(format!("{}/metrics", log.url))
        .unwrap()
        .text()
        .unwrap();
    let uploads: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sealwax_mirror_uploads_total "))
        .and_then(|n| n.parse().ok())
        .expect("the upload counter");
    let needed = changed_tiles(last, tree_size(&log.url)).len() as u64 + 1;
    assert!(
        uploads <= needed,
        "the restarted mirror uploaded {uploads} objects, more than the {needed} the bucket (at {last}) lacked: it must resume from the bucket"
    );
}

#[test]
fn a_store_outage_does_not_stop_the_log_and_the_mirror_catches_up() {
    let Some(weed) = weed_or_skip("mirror::a_store_outage") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Seaweed::start(&weed, &tmp.path().join("weed"));
    store.create_bucket(BUCKET);
    let log = mirrored_log(
        &tmp.path().join("log"),
        &store,
        &["--mirror-stuck-secs", "5"],
    );
    fill_log(&log.url, &log.origin, "alice", 99);
    let bucket = Bucket::of(&store);
    wait_mirrored(&bucket, &log.url, Duration::from_secs(60));

    assert_eq!(bucket.size(), 100);
    store.stop();
    let outage = Instant::now();
    // The log acknowledges every entry while the store is down for 30 s,
    // under a steady load (20 entries at a time).
    let mut chunks = 0u64;
    while outage.elapsed() < Duration::from_secs(30) {
        fill_log(&log.url, &log.origin, &format!("bob{chunks}"), 19);
        chunks += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let logged = 20 * chunks;
    assert_eq!(tree_size(&log.url), 100 + logged);
    let metric = |name: &str| -> f64 {
        let text = reqwest::blocking::get(format!("{}/metrics", log.url))
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in the metrics:\n{text}"))
    };
    assert_eq!(metric("sealwax_mirror_lag_entries"), logged as f64);
    assert!(metric("sealwax_mirror_lag_seconds") > 25.0);
    assert!(metric("sealwax_mirror_failures_total{kind=\"store\"}") >= 1.0);
    let health = reqwest::blocking::get(format!("{}/healthz", log.url)).unwrap();
    assert_eq!(
        health.status(),
        503,
        "a mirror stuck past --mirror-stuck-secs shows in /healthz"
    );
    assert!(health.text().unwrap().contains("stuck"));

    store.restart().expect("SeaweedFS restarts");
    wait_mirrored(&bucket, &log.url, Duration::from_secs(60));
    assert_eq!(
        check_complete(&bucket, &log.origin, &verifier(&log)),
        100 + logged
    );
    assert_eq!(metric("sealwax_mirror_lag_entries"), 0.0);
    let health = reqwest::blocking::get(format!("{}/healthz", log.url)).unwrap();
    assert_eq!(health.status(), 200);
}

/// The alerts of one `sealwax-monitor --once --json` run, as comparable
/// facts (kind, problem, index, publisher, key), and its exit code.
fn monitor_alerts(cmd: &mut Command) -> (Option<i32>, Vec<String>, String) {
    let out = cmd
        .args(["--once", "--json", "--no-progress"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut facts: Vec<String> = stdout
        .lines()
        .map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).expect("one JSON alert a line");
            format!(
                "{} {} {} {} {}",
                a["kind"], a["problem"], a["index"], a["publisher"], a["key"]
            )
        })
        .collect();
    facts.sort();
    (out.status.code(), facts, stdout)
}

#[test]
fn clients_and_the_monitor_run_on_the_mirror_alone_and_catch_a_tampered_tile() {
    use sealwax_tests::{fails_with, monitor_command, path_str as s, write_artifact, Client};

    use crate::scenarios::{generate, install, published, refs};

    let Some(weed) = weed_or_skip("mirror::clients_and_the_monitor") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    let store = Seaweed::start(&weed, &p("weed"));
    store.create_bucket(BUCKET);
    let log = mirrored_log(&p("log"), &store, &[]);
    let mirror = format!("{}/{BUCKET}/{PREFIX}", store.endpoint);
    let bucket = Bucket::of(&store);

    // Alice registers a key (entry 0) and publishes (entry 1); then enough
    // entries that tile 0 is full.
    let alice = Client::new(&p("alice"), &log);
    generate(&alice, "alice");
    let v1 = write_artifact(&p("v1.tar"), 3000, 1);
    published(&alice, &v1, "1.0.0", None);
    wait_mirrored(&bucket, &log.url, Duration::from_secs(60));
    assert!(
        bucket.keys().iter().any(|k| k.starts_with("tile/0/000.p/")),
        "a partial tile 0 while the log is small"
    );
    fill_log(&log.url, &log.origin, "bob", 300);
    wait_mirrored(&bucket, &log.url, Duration::from_secs(60));
    // The partial tiles of the rounds before tile 0 filled are deleted
    // once the full tile is there (readers fall back to it).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let size = bucket.size();
        let stale: Vec<String> = bucket
            .keys()
            .into_iter()
            .filter(|k| k.contains(".p/"))
            .filter(|k| {
                let id = TileId::parse_path(k).expect("a tile path");
                TileId::for_size(id.level, id.index, size).is_some_and(|f| f.is_full())
            })
            .collect();
        if stale.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "partial tiles left beside their full tiles: {stale:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // install --tiles: the checkpoint and both proofs from the bucket.
    let installer = Client::new(&p("installer"), &log);
    let mut on_mirror = install("1.0.0", &p("to-mirror"), &["--trust-new-keys"]);
    on_mirror.extend(["--tiles".to_string(), mirror.clone()]);
    let started = Instant::now();
    installer.ok(&refs(&on_mirror));
    let mirror_ms = started.elapsed().as_millis();
    assert_eq!(
        std::fs::read(p("to-mirror/hello-1.0.0")).unwrap(),
        std::fs::read(&v1).unwrap()
    );
    let direct = Client::new(&p("direct"), &log);
    let started = Instant::now();
    direct.ok(&refs(&install(
        "1.0.0",
        &p("to-log"),
        &["--trust-new-keys"],
    )));
    eprintln!(
        "mirror: install from the mirror {mirror_ms} ms, from the log {} ms (debug build)",
        started.elapsed().as_millis()
    );
    // The log grows; the next install proves consistency from the tiles.
    fill_log(&log.url, &log.origin, "carol", 40);
    wait_mirrored(&bucket, &log.url, Duration::from_secs(60));
    installer.ok(&refs(&on_mirror));
    alice.ok(&["verify", s(&v1), "--online", "--tiles", &mirror]);

    // The monitor from the bucket alone raises what it raises from the log.
    let config = p("monitor.toml");
    std::fs::write(&config, "[[watch]]\npublisher = \"alice\"\nkeys = []\n").unwrap();
    let (code_log, from_log, out_log) = monitor_alerts(&mut monitor_command(
        &log.url,
        &log.vkey,
        &p("mon-log"),
        &config,
    ));
    // No --log: nothing but the bucket.
    let on_bucket = |state: &str| {
        let mut cmd = Command::new(bin("sealwax-monitor"));
        cmd.args(["--tiles", &mirror, "--log-key", &log.vkey, "--state"])
            .arg(p(state))
            .arg("--config")
            .arg(&config)
            .env_remove("SEALWAX_LOG")
            .env("SEALWAX_HOME", p("no-client-home"))
            .stdin(Stdio::null());
        cmd
    };
    let (code_mirror, from_mirror, out_mirror) = monitor_alerts(&mut on_bucket("mon-mirror"));
    assert_eq!(code_log, Some(1), "an unexpected key of alice: {out_log}");
    assert!(!from_log.is_empty());
    assert_eq!(
        (code_mirror, &from_mirror),
        (code_log, &from_log),
        "the same alerts from the mirror:\n{out_mirror}\nas from the log:\n{out_log}"
    );

    // One changed hash in tile 0 of the bucket: the sibling of Alice's entry.
    let mut tile = bucket.get("tile/0/000").expect("tile 0 is full");
    tile[0] ^= 0x01;
    let put = reqwest::blocking::Client::new()
        .put(format!("{mirror}/tile/0/000"))
        .body(tile)
        .send()
        .unwrap();
    assert!(put.status().is_success());
    let fresh = Client::new(&p("fresh"), &log);
    let mut args = install("1.0.0", &p("to-fresh"), &["--trust-new-keys"]);
    args.extend(["--tiles".to_string(), mirror.clone()]);
    let err = fails_with(fresh.run(&refs(&args)), 3, "install from a tampered mirror");
    assert!(err.contains("inclusion proof"), "{err}");
    assert!(!p("to-fresh/hello-1.0.0").exists(), "nothing installed");
    let err = fails_with(
        installer.run(&refs(&on_mirror)),
        3,
        "install from a tampered mirror, with a baseline",
    );
    assert!(err.contains("inclusion proof"), "{err}");
    let (code, _, out) = monitor_alerts(&mut on_bucket("mon-fresh"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("\"bad-tile\"") || out.contains("\"inconsistent-tree\""),
        "the monitor names the tampered tile: {out}"
    );
}

/// `deploy/nginx/mirror.conf`, run by the real nginx in front of the
/// bucket: the checkpoint and tiles come through as the bucket holds them,
/// full tiles are cached, writes and other paths are refused, and a monitor
/// catches up through it alone.
#[test]
fn nginx_mirror_conf_serves_and_caches_the_bucket_for_a_monitor() {
    use crate::deploy::{nginx_binary, Nginx};

    let Some(weed) = weed_or_skip("mirror::nginx_mirror_conf") else {
        return;
    };
    let Some(nginx) = nginx_binary() else {
        eprintln!("SKIP: nginx is not installed (.ci/run installs nginx-light)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = Seaweed::start(&weed, &tmp.path().join("weed"));
    store.create_bucket(BUCKET);
    let log = mirrored_log(&tmp.path().join("log"), &store, &[]);
    fill_log(&log.url, &log.origin, "alice", 299);
    let bucket = Bucket::of(&store);
    wait_mirrored(&bucket, &log.url, Duration::from_secs(60));

    let s3_port = store.endpoint.rsplit(':').next().unwrap().to_string();
    let dir = tmp.path().join("nginx");
    let port = sealwax_tests::free_port();
    let proxy = Nginx::start_conf(
        &nginx,
        &dir,
        "mirror.conf",
        port,
        &[
            (
                "server 127.0.0.1:8333;",
                format!("server 127.0.0.1:{s3_port};"),
            ),
            ("listen 8081;", format!("listen 127.0.0.1:{port};")),
            (
                "proxy_cache_path /var/cache/nginx/sealwax-mirror ",
                format!("proxy_cache_path {} ", dir.join("cache").display()),
            ),
            // This test's bucket prefix is tiles/sealwax/log.
            (
                "proxy_pass http://sealwax_bucket/tiles/sealwax/tile/;",
                format!("proxy_pass http://sealwax_bucket/{BUCKET}/{PREFIX}/tile/;"),
            ),
            (
                "proxy_pass http://sealwax_bucket/tiles/sealwax/checkpoint;",
                format!("proxy_pass http://sealwax_bucket/{BUCKET}/{PREFIX}/checkpoint;"),
            ),
        ],
        "/checkpoint",
    );
    let http = reqwest::blocking::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", proxy.url)).send().unwrap();
    assert_eq!(
        get("/checkpoint").text().unwrap(),
        bucket.checkpoint().unwrap()
    );
    let first = get("/tile/0/000");
    assert_eq!(first.status(), 200);
    assert!(first.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(
        first.bytes().unwrap().to_vec(),
        bucket.get("tile/0/000").unwrap()
    );
    let second = get("/tile/0/000");
    assert_eq!(
        second.headers()["x-cache-status"],
        "HIT",
        "a full tile is cached"
    );
    assert_eq!(get("/tile/0/999").status(), 404);
    assert_eq!(get("/v1/log-key").status(), 404, "only the static paths");
    let put = http
        .put(format!("{}/tile/0/000", proxy.url))
        .body(vec![0u8; 8192])
        .send()
        .unwrap();
    assert_eq!(put.status(), 403, "no writes through the cache");
    assert_eq!(
        bucket.get("tile/0/000").unwrap(),
        second.bytes().unwrap().to_vec()
    );

    // A monitor reading nothing but the cache.
    let config = tmp.path().join("monitor.toml");
    std::fs::write(&config, "[[watch]]\npublisher = \"alice\"\nlearn = true\n").unwrap();
    let out = Command::new(bin("sealwax-monitor"))
        .args(["--tiles", &proxy.url, "--log-key", &log.vkey, "--state"])
        .arg(tmp.path().join("mon"))
        .arg("--config")
        .arg(&config)
        .args(["--once", "--json", "--no-progress"])
        .env_remove("SEALWAX_LOG")
        .env("SEALWAX_HOME", tmp.path().join("no-client-home"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
