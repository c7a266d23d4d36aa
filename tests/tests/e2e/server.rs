//! End-to-end tests: server. They run the real `sealwax-log` binary on
//! loopback and check everything it answers with `sealwax-proto`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_proto::checkpoint::{open_checkpoint, Checkpoint};
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
};
use sealwax_proto::merkle::{self, leaf_hash, HashReader, MemoryHashStore};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::note::NoteVerifier;
use sealwax_proto::tile::{
    hash_tile_data, parse_bundle, tiles_for_size, TileHashReader, TileId, TileLevel, TileReader,
};
use sealwax_proto::Hash;
use sealwax_tests::{bin, free_port, LogServer, ServerOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};

const TOKEN: &str = "e2e-admin-token-8a3f5c1d";

/// Unencrypted Minisign secret keys made for these tests (the tests crate
/// has no random number generator to call `SecretKey::generate` with).
const TEST_KEYS: [&str; 6] = [
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABDcwYcl4mI2Fte/oN2NN4m2aOv72n2PsVJDNAyRFtu6AA41jR9+mNLWRzIVpGrVw2EjkqSDgYhP1rFgEWxoKTlhnx0+2kl1OYyiLqs8zBk9iRVq0PRdvryIX4qeXC/of3sT52YjbMys=",
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA3JZrczVhG+rjhZTF+sZGSfqOGT+0SA3xmH6pcsWuNg8EDHvKms1f03n5vUVbUgJDCcj8aPnMU0CHEWxZbUkadaIDDjrJ5PEaOXI7naSHWqXaMHq8biDjfQb9nE//GeT5ALyIsPbMzRk=",
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ/BeDTDq5nbHeParR/Wuaa9Lxl7VfQdHXuwI4NYtZyRkH3mmmED0jk9FzWWQ0k3xqVRth/WtGSI44BSMvlisNqlKZqb13xx9wAIzxMr1nfcaQ99E/UCAmQQGgaxvgbpNgClL7QbWpMY=",
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAp0OO2fevDfRj2bSgzJp9hhzTzaZALCSqand9oQ8RcoguW0Rk1mtEVaqb1MQ71H4ql9VBALVntd2g3nI8OglfE7U7UDlnBaZM2S0iEcthxUSLpSBa1lpaFhtReeIA4wtPs9GVEdkjC0M=",
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAK8WkVn958b4DskrKh0LovUHF42CuCacCgRb8MyQxeha0Oq1mgP+XsZw4OXDX/OejGhXBbWKl5O4ztY6ywserjv9zit7sDDNA3/dI4tI7kDxhTBnbSZwL7/OOxRoLnVEDWrUZgY3Vc44=",
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAHSrGrfWg2wpp+gPtG70Zn19pBOECWoZlDVdzdMpL+hmmeSsdCD9U2KURbkrAYXJgbz+quBa7pam/nxdHfxgBp3DNUWhsD3ia7HslmcB/JwaEi0q9VWEMn3DMlIgCJofdYnULJwkzjs8=",
];

fn test_key(i: usize) -> SecretKey {
    let text = format!(
        "untrusted comment: sealwax e2e test key {i}\n{}\n",
        TEST_KEYS[i]
    );
    SecretKey::parse(&text, None).expect("test key parses")
}

/// A blocking HTTP client for one server, checking what it answers.
struct Api {
    url: String,
    origin: String,
    verifier: NoteVerifier,
    http: reqwest::blocking::Client,
}

impl Api {
    fn new(server: &LogServer) -> Api {
        Api {
            url: server.url.clone(),
            origin: server.origin.clone(),
            verifier: NoteVerifier::parse(&server.vkey).expect("vkey parses"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().unwrap()
    }

    /// POST /v1/entries; the status and the JSON answer.
    fn try_submit(&self, bytes: &[u8], token: Option<&str>) -> reqwest::Result<(u16, Value)> {
        let mut req = self
            .http
            .post(format!("{}/v1/entries", self.url))
            .json(&serde_json::json!({ "entry": B64.encode(bytes) }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send()?;
        let status = r.status().as_u16();
        Ok((status, r.json()?))
    }

    fn submit(&self, e: &Entry) -> (u16, Value) {
        self.try_submit(&e.to_bytes(), None).expect("submit")
    }

    /// Submits, asserts success, and checks the proof against the signed checkpoint.
    fn accept(&self, e: &Entry) -> Value {
        let (status, v) = self.submit(e);
        assert_eq!(status, 200, "{v}");
        let cp = self.open(v["checkpoint"].as_str().unwrap());
        let leaf = leaf_hash(&e.to_bytes());
        assert_eq!(v["leaf_hash"], hex::encode(leaf));
        merkle::verify_inclusion(
            &leaf,
            v["index"].as_u64().unwrap(),
            cp.size,
            &hashes(&v["inclusion_proof"]),
            &cp.root,
        )
        .expect("inclusion proof verifies against the answer's checkpoint");
        v
    }

    fn open(&self, text: &str) -> Checkpoint {
        open_checkpoint(text, &self.origin, &self.verifier)
            .expect("checkpoint signed by the log key")
            .0
    }

    fn checkpoint_text(&self) -> String {
        let r = self.get("/checkpoint");
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    }

    fn checkpoint(&self) -> Checkpoint {
        self.open(&self.checkpoint_text())
    }

    fn consistency(&self, from: u64, to: u64) -> Vec<Hash> {
        hashes(&self.get_json(&format!("/v1/proof/consistency?from={from}&to={to}"))["proof"])
    }
}

/// Tiles fetched over HTTP, for proto's [`TileHashReader`].
impl TileReader for Api {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> sealwax_proto::Result<Vec<u8>> {
        let id = TileId {
            level: TileLevel::Hashes(level),
            index,
            width,
        };
        let r = self.get(&format!("/{}", id.path()));
        if !r.status().is_success() {
            return Err(sealwax_proto::Error::BadTile(
                "the log did not serve the tile",
            ));
        }
        Ok(r.bytes().unwrap().to_vec())
    }
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .expect("a list of hashes")
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h.as_str().unwrap(), &mut out).expect("hex hash");
            out
        })
        .collect()
}

fn claim(origin: &str, publisher: &str, sk: &SecretKey) -> Entry {
    Entry::KeyRegistration(KeyRegistration::claim(origin, publisher, sk).unwrap())
}

fn signature(origin: &str, sk: &SecretKey, publisher: &str, version: &str, data: &[u8]) -> Entry {
    let release = Release {
        origin: origin.into(),
        publisher: publisher.into(),
        package: "tool".into(),
        version: version.into(),
        sha256: Sha256::digest(data).into(),
    };
    Entry::Signature(SignatureEntry::sign(sk, &release, prehash(data)).unwrap())
}

/// Sends SIGTERM and waits (at most 20 s) for a clean exit.
fn terminate(server: &mut LogServer) {
    let pid = server.child.id().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(
                status.success(),
                "sealwax-log exited with {status} after SIGTERM"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sealwax-log did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `sealwax-log serve` expecting it to refuse to start; returns its stderr.
fn serve_fails(data_dir: &Path, origin: &str) -> String {
    let mut child = Command::new(bin("sealwax-log"))
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--origin")
        .arg(origin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sealwax-log serve should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "serve should fail; stderr: {err}");
    err
}

#[test]
fn submissions_get_proofs_duplicates_and_rejections_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LogServer::start(
        &tmp.path().join("log"),
        &ServerOptions {
            admin_token: Some(TOKEN.into()),
            ..ServerOptions::default()
        },
    );
    let api = Api::new(&server);
    let o = server.origin.as_str();
    assert_eq!(
        api.checkpoint().size,
        0,
        "a new log serves a signed empty checkpoint"
    );
    let log_key = api.get("/v1/log-key").text().unwrap();
    assert_eq!(log_key.trim(), server.vkey);

    let alice = test_key(0);
    let v = api.accept(&claim(o, "alice", &alice));
    assert_eq!(v["index"], 0);
    let sig = signature(o, &alice, "alice", "1.0.0", b"release one");
    assert_eq!(api.accept(&sig)["index"], 1);
    let dup = api.accept(&sig);
    assert_eq!(
        (dup["index"].as_u64(), dup["duplicate"].as_bool()),
        (Some(1), Some(true))
    );

    // Rejections: 4xx with a message, and the tree does not move.
    let before = api.checkpoint_text();
    let mallory = test_key(1);
    let (status, v) = api.submit(&claim(o, "alice", &mallory));
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("already claimed"));
    let (status, _) = api.submit(&signature(o, &mallory, "alice", "6.6.6", b"evil"));
    assert_eq!(status, 409);
    let (status, _) = api.submit(&claim(o, "bob", &alice));
    assert_eq!(status, 409, "one key belongs to one publisher");
    let (status, v) = api.try_submit(b"\x01\x01nonsense", None).unwrap();
    assert_eq!(status, 400);
    assert!(v["error"].is_string());
    let r = api
        .http
        .post(format!("{}/v1/entries", api.url))
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().unwrap()["error"].is_string());
    assert_eq!(
        api.checkpoint_text(),
        before,
        "rejections leave the log unchanged"
    );

    // The operator path needs the token.
    let recovery =
        Entry::KeyRegistration(KeyRegistration::operator(o, "alice", &test_key(2)).unwrap());
    let (status, _) = api.try_submit(&recovery.to_bytes(), None).unwrap();
    assert_eq!(status, 401);
    let (status, _) = api.try_submit(&recovery.to_bytes(), Some("wrong")).unwrap();
    assert_eq!(status, 401);
    let (status, v) = api.try_submit(&recovery.to_bytes(), Some(TOKEN)).unwrap();
    assert_eq!(status, 200, "{v}");

    // Revocation, then the revoked key is refused.
    let revoke = Entry::KeyRevocation(
        KeyRevocation::by_key(
            o,
            "alice",
            alice.public_key(),
            RevocationReason::Compromised,
            &alice,
        )
        .unwrap(),
    );
    api.accept(&revoke);
    let (status, v) = api.submit(&signature(o, &alice, "alice", "2.0.0", b"two"));
    assert_eq!(status, 409);
    assert!(v["error"].as_str().unwrap().contains("revoked"), "{v}");

    let keys = api.get_json("/v1/publishers/alice/keys");
    let kinds: Vec<&str> = keys["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["registration", "registration", "revocation"]);
    assert_eq!(keys["events"][1]["authorization"], "operator");
    let cp = api.open(keys["checkpoint"].as_str().unwrap());
    for e in keys["events"].as_array().unwrap() {
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
    let sigs = api.get_json(&format!(
        "/v1/signatures?sha256={}",
        hex::encode(Sha256::digest(b"release one"))
    ));
    assert_eq!(sigs["signatures"][0]["index"], 1);
    assert_eq!(api.get("/v1/publishers/nobody/keys").status(), 404);
    let metrics = api.get("/metrics").text().unwrap();
    assert!(metrics.contains("sealwax_entries_total 4\n"), "{metrics}");
}

#[test]
fn tiles_and_bundles_are_what_proto_computes() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LogServer::start(&tmp.path().join("log"), &ServerOptions::default());
    let api = Arc::new(Api::new(&server));
    let o = server.origin.clone();
    let alice = Arc::new(test_key(0));
    api.accept(&claim(&o, "alice", &alice));
    // 299 more, from 4 threads: 300 entries = one full tile and a partial one.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (api, alice, o) = (api.clone(), alice.clone(), o.clone());
            std::thread::spawn(move || {
                for n in (t..299).step_by(4) {
                    let data = format!("artifact {n}");
                    let e = signature(&o, &alice, "alice", &format!("0.{n}"), data.as_bytes());
                    let (status, v) = api.submit(&e);
                    assert_eq!(status, 200, "{v}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let cp = api.checkpoint();
    assert_eq!(cp.size, 300);

    // The entries, from the bundles, rebuild the signed root.
    let mut entries = Vec::new();
    for path in ["/tile/entries/000", "/tile/entries/001.p/44"] {
        let r = api.get(path);
        assert_eq!(r.status(), 200, "{path}");
        let body = r.bytes().unwrap();
        entries.extend(parse_bundle(&body).unwrap().into_iter().map(<[u8]>::to_vec));
    }
    assert_eq!(entries.len(), 300);
    let mut reference = MemoryHashStore::new();
    for e in &entries {
        reference.append(leaf_hash(e));
    }
    assert_eq!(
        reference.root(),
        cp.root,
        "the bundles hold exactly the logged entries"
    );
    for (i, e) in entries.iter().enumerate().step_by(37) {
        let v = api.get_json(&format!("/v1/entries/{i}"));
        assert_eq!(B64.decode(v["entry"].as_str().unwrap()).unwrap(), *e);
    }

    // Every hash tile of the tree is byte for byte what proto computes.
    for id in tiles_for_size(cp.size) {
        let TileLevel::Hashes(level) = id.level else {
            continue;
        };
        let r = api.get(&format!("/{}", id.path()));
        assert_eq!(r.status(), 200, "{}", id.path());
        let cache = r.headers()["cache-control"].to_str().unwrap().to_string();
        if id.is_full() {
            assert_eq!(cache, "public, max-age=31536000, immutable");
        } else {
            assert!(!cache.contains("immutable"), "{}: {cache}", id.path());
        }
        let want = hash_tile_data(&reference, level, id.index, id.width).unwrap();
        assert_eq!(r.bytes().unwrap().to_vec(), want, "{}", id.path());
    }
    // A client that only reads tiles gets the same root and proofs.
    let tiles = TileHashReader::new(api.as_ref(), cp.size);
    assert_eq!(merkle::tree_root(&tiles, cp.size).unwrap(), cp.root);
    let from_tiles = merkle::prove_inclusion(&tiles, 123, cp.size).unwrap();
    let served = api.get_json("/v1/proof/inclusion?index=123&tree_size=300");
    assert_eq!(hashes(&served["proof"]), from_tiles);
    assert_eq!(tiles.read_hash(0, 5).unwrap(), leaf_hash(&entries[5]));

    for missing in ["/tile/0/001", "/tile/0/001.p/45", "/tile/entries/002.p/1"] {
        assert_eq!(api.get(missing).status(), 404, "{missing}");
    }
    let r = api.get("/tile/0/not-a-tile");
    assert!(r.status().is_client_error());
    assert!(r.json::<Value>().unwrap()["error"].is_string());
}

#[test]
fn restart_after_sigterm_serves_the_same_checkpoint_and_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut server = LogServer::start(&dir, &ServerOptions::default());
    let api = Api::new(&server);
    let o = server.origin.clone();
    let alice = test_key(0);
    let mut logged = vec![claim(&o, "alice", &alice)];
    for n in 0..4 {
        logged.push(signature(&o, &alice, "alice", &format!("1.{n}"), &[n]));
    }
    for e in &logged {
        api.accept(e);
    }
    let before = api.checkpoint_text();
    let vkey = server.vkey.clone();
    terminate(&mut server);
    drop(server);

    let server = LogServer::start(&dir, &ServerOptions::default());
    assert_eq!(server.vkey, vkey, "the signing key is reused");
    let api = Api::new(&server);
    assert_eq!(
        api.checkpoint_text(),
        before,
        "the stored checkpoint, not a new signature"
    );
    for (i, e) in logged.iter().enumerate() {
        let v = api.get_json(&format!("/v1/entries/{i}"));
        assert_eq!(v["entry"], B64.encode(e.to_bytes()));
    }
    let old = api.open(&before);
    let next = api.accept(&signature(&o, &alice, "alice", "2.0", b"after restart"));
    assert_eq!(next["index"], 5, "indexes continue");
    // Alice's key state was rebuilt: a second claim is still refused.
    assert_eq!(api.submit(&claim(&o, "alice", &test_key(1))).0, 409);
    let new = api.checkpoint();
    merkle::verify_consistency(
        old.size,
        new.size,
        &api.consistency(old.size, new.size),
        &old.root,
        &new.root,
    )
    .expect("the new tree extends the old one");
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut server = LogServer::start(&dir, &ServerOptions::default());
    let o = server.origin.clone();
    let alice = Arc::new(test_key(0));
    Api::new(&server).accept(&claim(&o, "alice", &alice));
    let mut acked: Vec<(u64, Vec<u8>)> = vec![(0, claim(&o, "alice", &alice).to_bytes())];
    // Every checkpoint any client was given: (size, root).
    let mut seen: Vec<(u64, Hash)> = Vec::new();

    for round in 0..3u32 {
        let api = Arc::new(Api::new(&server));
        let stop = Arc::new(AtomicBool::new(false));
        let results = Arc::new(Mutex::new((Vec::new(), Vec::new())));
        let workers: Vec<_> = (0..4u32)
            .map(|t| {
                let (api, alice, o, stop, results) = (
                    api.clone(),
                    alice.clone(),
                    o.clone(),
                    stop.clone(),
                    results.clone(),
                );
                std::thread::spawn(move || {
                    let mut n = 0u32;
                    while !stop.load(Ordering::SeqCst) {
                        let data = format!("round {round} worker {t} item {n}");
                        let e = signature(
                            &o,
                            &alice,
                            "alice",
                            &format!("{round}.{t}.{n}"),
                            data.as_bytes(),
                        );
                        n += 1;
                        let bytes = e.to_bytes();
                        // Errors are expected once the server is killed.
                        if let Ok((200, v)) = api.try_submit(&bytes, None) {
                            let cp = api.open(v["checkpoint"].as_str().unwrap());
                            let mut r = results.lock().unwrap();
                            r.0.push((v["index"].as_u64().unwrap(), bytes));
                            r.1.push((cp.size, cp.root));
                        }
                    }
                })
            })
            .collect();
        // Let acknowledgements accumulate, then kill mid-load.
        let deadline = Instant::now() + Duration::from_secs(10);
        while results.lock().unwrap().0.len() < 40 {
            assert!(
                Instant::now() < deadline,
                "the server acknowledged too few entries"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        {
            let mut r = results.lock().unwrap();
            acked.append(&mut r.0);
            seen.append(&mut r.1);
        }
        drop(server);
        server = LogServer::start(&dir, &ServerOptions::default());
        let api = Api::new(&server);
        let now = api.checkpoint();
        for (index, bytes) in &acked {
            assert!(
                *index < now.size,
                "acknowledged index {index} is beyond the tree ({})",
                now.size
            );
            let v = api.get_json(&format!("/v1/entries/{index}"));
            assert_eq!(
                B64.decode(v["entry"].as_str().unwrap()).unwrap(),
                *bytes,
                "round {round}: the entry acknowledged at {index} is still there"
            );
        }
        seen.sort();
        seen.dedup();
        for (size, root) in &seen {
            if *size == now.size {
                assert_eq!(*root, now.root, "two different checkpoints for size {size}");
                continue;
            }
            merkle::verify_consistency(
                *size,
                now.size,
                &api.consistency(*size, now.size),
                root,
                &now.root,
            )
            .unwrap_or_else(|e| panic!("round {round}: checkpoint {size} is not consistent: {e}"));
        }
    }
    // And it keeps accepting entries.
    let api = Api::new(&server);
    let v = api.accept(&signature(&o, &alice, "alice", "9.9.9", b"the end"));
    assert_eq!(v["index"].as_u64().unwrap(), api.checkpoint().size - 1);
}

#[test]
fn refuses_another_origin_a_readable_key_and_an_empty_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut server = LogServer::start(&dir, &ServerOptions::default());
    server.kill();
    let err = serve_fails(&dir, "another.test/log");
    assert!(
        err.contains("sealwax.test/log"),
        "names the stored origin: {err}"
    );

    let key = dir.join("signing.key");
    let mode = |m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(0o644);
    let err = serve_fails(&dir, &server.origin);
    assert!(err.contains("chmod 600"), "{err}");
    mode(0o600);

    let out = Command::new(bin("sealwax-log"))
        .arg("key")
        .arg("--data-dir")
        .arg(tmp.path().join("empty"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("serve"));
}

#[test]
fn slow_clients_are_cut_off_by_the_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LogServer::start(
        &tmp.path().join("log"),
        &ServerOptions {
            extra_args: vec!["--header-timeout-secs".into(), "1".into()],
            ..ServerOptions::default()
        },
    );
    let addr = server.url.trim_start_matches("http://");
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The server closes the connection (possibly after a 408) instead of waiting.
    let _ = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(6),
        "the slow client held the connection {waited:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("200 OK"), "{text}");
    // Meanwhile a normal client is served.
    assert_eq!(Api::new(&server).checkpoint().size, 0);
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB, or says why it cannot (not root, no mount).
    fn mount(mib: u32) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros to `path` until the file system is full; returns the bytes written.
fn fill_disk(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).expect("ballast file");
    let chunk = vec![0u8; 64 << 10];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    // Partial writes of the last chunk may have landed too.
    let _ = f.sync_all();
    written
}

#[test]
fn a_full_disk_refuses_writes_with_503_while_reads_work_and_nothing_is_lost() {
    let disk = match SmallDisk::mount(48) {
        Ok(d) => d,
        Err(why) => {
            eprintln!("skipped: cannot mount a small tmpfs to fill ({why})");
            return;
        }
    };
    let data = disk.path().join("data");
    let mut server = LogServer::start(&data, &ServerOptions::default());
    let api = Api::new(&server);
    let origin = server.origin.clone();
    let sk = test_key(0);
    api.accept(&claim(&origin, "diskfull", &sk));
    let mut acked: Vec<(u64, Vec<u8>)> = Vec::new();
    for i in 0..20 {
        let e = signature(&origin, &sk, "diskfull", &format!("0.{i}"), b"before");
        let v = api.accept(&e);
        acked.push((v["index"].as_u64().unwrap(), e.to_bytes()));
    }
    let served_before = api.checkpoint();

    // Fill the file system, then keep submitting until the log refuses.
    fill_disk(&disk.path().join("ballast"));
    let mut refused = None;
    for i in 0..5000 {
        let e = signature(&origin, &sk, "diskfull", &format!("1.{i}"), b"during");
        let (status, v) = api.submit(&e);
        match status {
            200 => acked.push((v["index"].as_u64().unwrap(), e.to_bytes())),
            _ => {
                refused = Some((status, v));
                break;
            }
        }
    }
    let (status, body) = refused.expect("a full disk must eventually refuse a write");
    assert_eq!(status, 503, "a full disk is 503, not {status}: {body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("storage") && msg.contains("retry"),
        "the error says what happened and what to do: {msg}"
    );
    // Later writes are refused the same way, never with a 5xx other than 503.
    for i in 0..5 {
        let e = signature(&origin, &sk, "diskfull", &format!("2.{i}"), b"after");
        let (status, v) = api.submit(&e);
        assert_eq!(status, 503, "{v}");
    }

    // Reads keep working: the checkpoint verifies and covers exactly what
    // was acknowledged (plus the claim), and every acknowledged entry is there.
    let cp = api.checkpoint();
    assert_eq!(
        cp.size,
        1 + acked.len() as u64,
        "no partial batch was published"
    );
    let proof = api.consistency(served_before.size, cp.size);
    merkle::verify_consistency(
        served_before.size,
        cp.size,
        &proof,
        &served_before.root,
        &cp.root,
    )
    .expect("the log only grew");
    for (index, bytes) in acked.iter().step_by(7) {
        let v = api.get_json(&format!(
            "/v1/proof/inclusion?index={index}&tree_size={}",
            cp.size
        ));
        merkle::verify_inclusion(
            &leaf_hash(bytes),
            *index,
            cp.size,
            &hashes(&v["proof"]),
            &cp.root,
        )
        .expect("acknowledged entry is included");
    }
    let health = api.get("/healthz");
    assert_ne!(
        health.status(),
        500,
        "healthz answers (it may report the write failure)"
    );

    // Free the space and restart: the log continues from the same tree.
    std::fs::remove_file(disk.path().join("ballast")).unwrap();
    server.kill();
    let server = LogServer::start(&data, &ServerOptions::default());
    let api = Api::new(&server);
    let after = api.checkpoint();
    assert_eq!(
        (after.size, after.root),
        (cp.size, cp.root),
        "the restarted log serves the tree it had"
    );
    for (index, bytes) in &acked {
        let v = api.get_json(&format!("/v1/entries/{index}"));
        assert_eq!(v["entry"], B64.encode(bytes), "entry {index} survived");
    }
    let v = api.accept(&signature(&origin, &sk, "diskfull", "3.0", b"again"));
    assert_eq!(
        v["index"].as_u64().unwrap(),
        cp.size,
        "writes resume at the next index"
    );
}

#[test]
fn one_client_over_its_write_rate_gets_429_with_retry_after_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = LogServer::start(
        &dir.path().join("data"),
        &ServerOptions {
            extra_args: vec![
                "--write-rate".into(),
                "1".into(),
                "--write-burst".into(),
                "5".into(),
            ],
            ..ServerOptions::default()
        },
    );
    let api = Api::new(&server);
    let origin = server.origin.clone();
    let sk = test_key(1);
    api.accept(&claim(&origin, "ratelimited", &sk));
    let mut statuses = Vec::new();
    let mut limited = None;
    for i in 0..10 {
        let e = signature(&origin, &sk, "ratelimited", &format!("0.{i}"), b"x");
        let r = api
            .http
            .post(format!("{}/v1/entries", api.url))
            .json(&serde_json::json!({ "entry": B64.encode(e.to_bytes()) }))
            .send()
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 && limited.is_none() {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let before = api.checkpoint().size;
            let body: Value = r.json().unwrap();
            limited = Some((retry, body, before));
        }
    }
    // The burst of 5 includes the claim: 4 more pass, then the limit holds.
    assert_eq!(&statuses[..4], &[200; 4], "{statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "{statuses:?}");
    let (retry, body, size) = limited.unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert!(
        body["error"].as_str().unwrap().contains("--write-rate"),
        "{body}"
    );
    assert_eq!(size, 5, "refused writes left the tree alone");
    // Reads are not limited.
    for _ in 0..20 {
        assert_eq!(api.get("/checkpoint").status(), 200);
    }
    // After the wait, the client may write again.
    std::thread::sleep(Duration::from_secs(retry));
    api.accept(&signature(&origin, &sk, "ratelimited", "1.0", b"y"));
    let metrics = api.get("/metrics").text().unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("sealwax_rate_limited_total ") && !l.ends_with(" 0")),
        "the refusals are counted"
    );
}
