//! End-to-end tests: monitor.
//!
//! A real `sealwax-log` on loopback, entries built with `sealwax-proto` and
//! submitted over its HTTP API, keys made by the real `minisign` tool, and
//! the real `sealwax-monitor` binary run with `--once`. Misbehaving logs are
//! real too: a second `sealwax-log` started with a copy of the first one's
//! signing key (a fork: one key, two histories), and an axum proxy in the
//! test that alters what the log serves.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_tests::{bin, have_tool, monitor_command, tree_size, LogServer, ServerOptions};
use serde_json::Value;

const ADMIN_TOKEN: &str = "monitor-test-admin-token";

// ----- fixtures -----

/// A fresh Minisign key pair made by the real `minisign` tool (no password).
fn minisign_key(dir: &Path, name: &str) -> SecretKey {
    let pk = dir.join(format!("{name}.pub"));
    let sk = dir.join(format!("{name}.key"));
    let out = Command::new("minisign")
        .args(["-G", "-W", "-f", "-p"])
        .arg(&pk)
        .arg("-s")
        .arg(&sk)
        .stdin(Stdio::null())
        .output()
        .expect("run minisign -G");
    assert!(out.status.success(), "minisign -G failed: {out:?}");
    SecretKey::parse(&std::fs::read_to_string(&sk).unwrap(), None).expect("minisign key parses")
}

/// Submits `entry` to the log (as the operator if `operator`) and returns its index.
fn submit(server: &LogServer, entry: &Entry, operator: bool) -> u64 {
    let client = reqwest::blocking::Client::new();
    let mut req = client
        .post(format!("{}/v1/entries", server.url))
        .json(&serde_json::json!({ "entry": B64.encode(entry.to_bytes()) }));
    if operator {
        req = req.bearer_auth(ADMIN_TOKEN);
    }
    let resp = req.send().expect("POST /v1/entries");
    let status = resp.status();
    let body: Value = resp.json().expect("JSON answer");
    assert!(
        status.is_success(),
        "the log refused {}: {status} {body}",
        entry.kind_name()
    );
    body["index"].as_u64().expect("index in the answer")
}

fn claim(server: &LogServer, publisher: &str, key: &SecretKey) -> u64 {
    let e = KeyRegistration::claim(&server.origin, publisher, key).unwrap();
    submit(server, &Entry::KeyRegistration(e), false)
}

fn sign(server: &LogServer, publisher: &str, key: &SecretKey, package: &str, version: &str) -> u64 {
    let artifact = format!("{publisher}/{package}@{version}");
    let release = Release {
        origin: server.origin.clone(),
        publisher: publisher.into(),
        package: package.into(),
        version: version.into(),
        sha256: sha2_digest(artifact.as_bytes()),
    };
    let e = SignatureEntry::sign(key, &release, prehash(artifact.as_bytes())).unwrap();
    submit(server, &Entry::Signature(e), false)
}

fn sha2_digest(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn start_log(dir: &Path) -> LogServer {
    LogServer::start(
        dir,
        &ServerOptions {
            admin_token: Some(ADMIN_TOKEN.to_string()),
            ..ServerOptions::default()
        },
    )
}

/// One monitor: its state and config, pointed at a log.
struct Monitor {
    state: PathBuf,
    config: PathBuf,
    log: String,
    vkey: String,
}

/// What one `sealwax-monitor --once --json` run did.
struct Run {
    out: Output,
    alerts: Vec<Value>,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn kinds(&self) -> Vec<String> {
        self.alerts
            .iter()
            .map(|a| match a["problem"].as_str() {
                Some(p) => format!("{}/{p}", a["kind"].as_str().unwrap()),
                None => a["kind"].as_str().unwrap().to_string(),
            })
            .collect()
    }
    fn debug(&self) -> String {
        format!(
            "status {:?}\nstdout:\n{}\nstderr:\n{}",
            self.out.status,
            String::from_utf8_lossy(&self.out.stdout),
            self.stderr()
        )
    }
}

impl Monitor {
    fn new(dir: &Path, server: &LogServer, config: &str) -> Monitor {
        let m = Monitor {
            state: dir.join("monitor-state"),
            config: dir.join("monitor.toml"),
            log: server.url.clone(),
            vkey: server.vkey.clone(),
        };
        m.set_config(config);
        m
    }

    fn set_config(&self, config: &str) {
        std::fs::write(&self.config, config).unwrap();
    }

    /// `sealwax-monitor` pointed at this log, state and config, in no mode yet.
    fn base_command(&self) -> Command {
        monitor_command(&self.log, &self.vkey, &self.state, &self.config)
    }

    fn command(&self) -> Command {
        let mut c = self.base_command();
        c.args(["--once", "--json"]);
        c
    }

    fn run_with(&self, mut c: Command) -> Run {
        let out = c.output().expect("run sealwax-monitor");
        let alerts = String::from_utf8(out.stdout.clone())
            .expect("utf-8 stdout")
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line {l:?} is not JSON: {e}"))
            })
            .collect();
        Run { out, alerts }
    }

    fn run(&self) -> Run {
        self.run_with(self.command())
    }
}

fn watch_keys(publisher: &str, keys: &[&SecretKey]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| format!("{:?}", k.public_key().to_base64()))
        .collect();
    format!(
        "[[watch]]\npublisher = {publisher:?}\nkeys = [{}]\n",
        keys.join(", ")
    )
}

/// A tokio runtime for the axum servers of a test.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `app` on a free loopback port; returns its base URL.
fn serve(rt: &tokio::runtime::Runtime, app: axum::Router) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

// ----- tests -----

#[test]
fn operator_key_is_an_alert_and_expected_key_is_not() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_log(&dir.path().join("log"));
    let a = minisign_key(dir.path(), "a");
    let b = minisign_key(dir.path(), "b");
    claim(&server, "alice", &a);
    sign(&server, "alice", &a, "tool", "1.0.0");
    let m = Monitor::new(dir.path(), &server, &watch_keys("alice", &[&a]));

    let r = m.run();
    assert_eq!(
        r.code(),
        Some(0),
        "expected key, nothing alarming: {}",
        r.debug()
    );
    assert!(r.alerts.is_empty(), "{}", r.debug());

    let index = submit(
        &server,
        &Entry::KeyRegistration(KeyRegistration::operator(&server.origin, "alice", &b).unwrap()),
        true,
    );
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(r.kinds(), ["unexpected-key"], "{}", r.debug());
    let alert = &r.alerts[0];
    assert_eq!(alert["index"], index);
    assert_eq!(alert["publisher"], "alice");
    assert_eq!(alert["authorization"], "operator");
    assert_eq!(alert["key"]["key_id"], b.public_key().key_id_hex());
    assert_eq!(
        alert["key"]["key_hash"],
        hex::encode(b.public_key().key_hash())
    );
    assert!(
        alert["message"].as_str().unwrap().contains("log operator"),
        "{alert}"
    );

    // The state advanced: the same alert is not raised again.
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
    assert!(r.alerts.is_empty());
}

#[test]
fn chain_rotation_is_reported_with_its_authorising_key() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_log(&dir.path().join("log"));
    let a = minisign_key(dir.path(), "a");
    let b = minisign_key(dir.path(), "b");
    claim(&server, "alice", &a);
    let m = Monitor::new(dir.path(), &server, &watch_keys("alice", &[&a]));
    assert_eq!(m.run().code(), Some(0));

    let index = submit(
        &server,
        &Entry::KeyRegistration(KeyRegistration::chain(&server.origin, "alice", &b, &a).unwrap()),
        false,
    );
    sign(&server, "alice", &b, "tool", "2.0.0");
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(
        r.kinds(),
        ["unexpected-key", "unexpected-signature"],
        "{}",
        r.debug()
    );
    let alert = &r.alerts[0];
    assert_eq!(alert["index"], index);
    assert_eq!(alert["authorization"], "chain");
    assert_eq!(
        alert["authorized_by"]["key_hash"],
        hex::encode(a.public_key().key_hash())
    );
    assert_eq!(
        alert["authorized_by"]["key_id"],
        a.public_key().key_id_hex()
    );
    let msg = alert["message"].as_str().unwrap();
    assert!(
        msg.contains(&a.public_key().key_id_hex()) && msg.contains("an expected key"),
        "{msg}"
    );
    assert_eq!(r.alerts[1]["version"], "2.0.0");
}

#[test]
fn revocations_and_every_key_event_are_reported() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_log(&dir.path().join("log"));
    let (a, b, c) = (
        minisign_key(dir.path(), "a"),
        minisign_key(dir.path(), "b"),
        minisign_key(dir.path(), "c"),
    );
    claim(&server, "bob", &a);
    submit(
        &server,
        &Entry::KeyRegistration(KeyRegistration::chain(&server.origin, "bob", &b, &a).unwrap()),
        false,
    );
    // bob learns his two keys on the first run; "*" reports every other publisher's key events.
    let m = Monitor::new(
        dir.path(),
        &server,
        "[[watch]]\npublisher = \"bob\"\nlearn = true\n[[watch]]\npublisher = \"*\"\n",
    );
    let r = m.run();
    assert_eq!(r.code(), Some(0), "learning raises nothing: {}", r.debug());

    let revoked_at = submit(
        &server,
        &Entry::KeyRevocation(
            KeyRevocation::by_key(
                &server.origin,
                "bob",
                a.public_key(),
                RevocationReason::Retired,
                &b,
            )
            .unwrap(),
        ),
        false,
    );
    let carol_at = claim(&server, "carol", &c);
    let compromised_at = submit(
        &server,
        &Entry::KeyRevocation(
            KeyRevocation::by_operator("carol", c.public_key(), RevocationReason::Compromised)
                .unwrap(),
        ),
        true,
    );
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(
        r.kinds(),
        ["key-revoked", "key-registered", "key-revoked"],
        "{}",
        r.debug()
    );
    let bob = &r.alerts[0];
    assert_eq!(bob["index"], revoked_at);
    assert_eq!(bob["publisher"], "bob");
    assert_eq!(bob["reason"], "retired");
    assert_eq!(
        bob["key"]["key_hash"],
        hex::encode(a.public_key().key_hash())
    );
    assert_eq!(
        bob["authorized_by"]["key_hash"],
        hex::encode(b.public_key().key_hash())
    );
    assert_eq!(r.alerts[1]["index"], carol_at);
    assert_eq!(r.alerts[1]["authorization"], "claim");
    let carol = &r.alerts[2];
    assert_eq!(carol["index"], compromised_at);
    assert_eq!(carol["reason"], "compromised");
    assert_eq!(carol["authorization"], "operator");
    assert!(carol["message"]
        .as_str()
        .unwrap()
        .contains("no signature it ever made is trusted"));
}

#[test]
fn a_forked_log_is_reported() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let honest = start_log(&dir.path().join("log-a"));
    // The same key and origin, another history: what a log shows a victim.
    let fork_dir = dir.path().join("log-b");
    std::fs::create_dir_all(&fork_dir).unwrap();
    let key_file = honest.data_dir.join("signing.key");
    std::fs::copy(&key_file, fork_dir.join("signing.key")).unwrap();
    let fork = start_log(&fork_dir);
    assert_eq!(fork.vkey, honest.vkey, "the fork signs with the same key");

    let (a, b, x) = (
        minisign_key(dir.path(), "a"),
        minisign_key(dir.path(), "b"),
        minisign_key(dir.path(), "x"),
    );
    claim(&honest, "alice", &a);
    sign(&honest, "alice", &a, "tool", "1.0.0");
    sign(&honest, "alice", &a, "tool", "1.0.1");
    claim(&fork, "alice", &a);
    sign(&fork, "alice", &a, "tool", "1.0.0");

    let mut m = Monitor::new(dir.path(), &honest, &watch_keys("alice", &[&a]));
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());

    // The monitor now reads the other history (same log key).
    m.log = fork.url.clone();
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(r.kinds(), ["log-misbehaviour/rollback"], "{}", r.debug());
    assert!(r.alerts[0]["previous_checkpoint"]
        .as_str()
        .unwrap()
        .contains("\n3\n"));

    // Same size, other root.
    sign(&fork, "alice", &a, "tool", "9.9.9");
    let r = m.run();
    assert_eq!(r.kinds(), ["log-misbehaviour/fork"], "{}", r.debug());
    assert_eq!(r.code(), Some(1));

    // Larger, but not an extension of the verified tree: its level-0 tile
    // contradicts the verified tree at the old positions, its entries are
    // still read and reported, and its root is not reached from the
    // verified tree. The state stays at the honest tree.
    claim(&fork, "xavier", &x);
    submit(
        &fork,
        &Entry::KeyRegistration(KeyRegistration::operator(&fork.origin, "alice", &b).unwrap()),
        true,
    );
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(
        r.kinds(),
        [
            "log-misbehaviour/bad-tile",
            "unexpected-key",
            "log-misbehaviour/inconsistent-tree"
        ],
        "{}",
        r.debug()
    );
    assert!(
        r.alerts[0]["message"]
            .as_str()
            .unwrap()
            .contains("not the node of the tree already verified"),
        "{}",
        r.debug()
    );
    // Back to the honest log: still consistent with what was verified.
    m.log = honest.url.clone();
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
}

/// What the tampering proxy does to the log's answers.
#[derive(Clone, Copy)]
enum Tamper {
    /// Flip a byte in the last hash of every level-0 hash tile.
    HashTile,
    /// Flip a byte inside the last entry of every entry bundle.
    Bundle,
    /// Flip a byte of the checkpoint's signature.
    CheckpointSignature,
    /// Re-sign the checkpoint, with the log's own key (`Proxy::key`), over a
    /// wrong key directory root: a lying operator.
    DirectoryRoot,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    tamper: Tamper,
    /// The log's signing key, for [`Tamper::DirectoryRoot`].
    key: Option<Arc<sealwax_log::datadir::LogKey>>,
}

async fn proxy(State(p): State<Proxy>, uri: Uri) -> axum::response::Response {
    let path = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let resp = match reqwest::get(format!("{}{path}", p.upstream)).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut body = resp.bytes().await.unwrap_or_default().to_vec();
    if status.is_success() {
        let path = uri.path();
        match p.tamper {
            Tamper::HashTile if path.starts_with("/tile/0/") && !body.is_empty() => {
                let n = body.len();
                body[n - 1] ^= 0x01;
            }
            Tamper::Bundle if path.starts_with("/tile/entries/") && body.len() > 10 => {
                let n = body.len();
                body[n - 10] ^= 0x01;
            }
            Tamper::CheckpointSignature if path == "/checkpoint" => {
                let text = String::from_utf8(body).unwrap();
                let (head, sig) = text.trim_end().rsplit_once(' ').unwrap();
                let mut raw = B64.decode(sig).unwrap();
                let n = raw.len();
                raw[n - 1] ^= 0x01;
                body = format!("{head} {}\n", B64.encode(raw)).into_bytes();
            }
            Tamper::DirectoryRoot if path == "/checkpoint" => {
                let key = p.key.as_ref().expect("the log's key to re-sign with");
                let note =
                    sealwax_proto::note::Note::parse(std::str::from_utf8(&body).unwrap()).unwrap();
                let mut cp = sealwax_proto::checkpoint::Checkpoint::parse(&note.text).unwrap();
                cp.set_directory_root(&[0x42; 32]);
                body = sealwax_proto::checkpoint::sign_checkpoint(&cp, key.signer())
                    .unwrap()
                    .into_bytes();
            }
            _ => {}
        }
    }
    (status, Bytes::from(body)).into_response()
}

#[test]
fn a_log_serving_bad_tiles_bundles_or_signatures_is_reported() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_log(&dir.path().join("log"));
    let a = minisign_key(dir.path(), "a");
    claim(&server, "alice", &a);
    for v in 0..4 {
        sign(&server, "alice", &a, "tool", &format!("1.0.{v}"));
    }
    let rt = runtime();
    let cases = [
        (Tamper::HashTile, "log-misbehaviour/bad-tile"),
        (Tamper::Bundle, "log-misbehaviour/bad-tile"),
        (
            Tamper::CheckpointSignature,
            "log-misbehaviour/bad-checkpoint-signature",
        ),
    ];
    for (i, (tamper, want)) in cases.into_iter().enumerate() {
        let url = serve(
            &rt,
            axum::Router::new().fallback(proxy).with_state(Proxy {
                upstream: server.url.clone(),
                tamper,
                key: None,
            }),
        );
        let case_dir = dir.path().join(format!("case{i}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let mut m = Monitor::new(&case_dir, &server, &watch_keys("alice", &[&a]));
        m.log = url;
        let r = m.run();
        assert_eq!(r.code(), Some(1), "{want}: {}", r.debug());
        assert!(
            r.kinds().first().map(String::as_str) == Some(want),
            "{want}: got {:?}\n{}",
            r.kinds(),
            r.debug()
        );
        if let Tamper::Bundle = tamper {
            // A changed entry also changes the root: nothing is accepted.
            assert!(
                r.kinds()
                    .contains(&"log-misbehaviour/inconsistent-tree".to_string()),
                "{}",
                r.debug()
            );
        }
        // The state only ever holds verified checkpoints: the honest log verifies after it.
        m.log = server.url.clone();
        let r = m.run();
        assert_eq!(r.code(), Some(0), "after {want}: {}", r.debug());
    }
}

#[test]
fn an_alert_delivered_before_a_crash_is_repeated_not_lost() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_log(&dir.path().join("log"));
    let (a, b) = (minisign_key(dir.path(), "a"), minisign_key(dir.path(), "b"));
    claim(&server, "alice", &a);
    let m = Monitor::new(dir.path(), &server, &watch_keys("alice", &[&a]));
    assert_eq!(m.run().code(), Some(0));
    submit(
        &server,
        &Entry::KeyRegistration(KeyRegistration::operator(&server.origin, "alice", &b).unwrap()),
        true,
    );

    let mut c = m.command();
    c.env("SEALWAX_MONITOR_CRASH_AFTER_ALERT", "1");
    let crashed = m.run_with(c);
    assert_eq!(
        crashed.code(),
        None,
        "the monitor aborts (killed by SIGABRT): {}",
        crashed.debug()
    );
    assert_eq!(
        crashed.kinds(),
        ["unexpected-key"],
        "delivered before the crash: {}",
        crashed.debug()
    );

    let again = m.run();
    assert_eq!(again.code(), Some(1), "{}", again.debug());
    assert_eq!(again.kinds(), ["unexpected-key"]);
    assert_eq!(
        again.alerts[0]["id"], crashed.alerts[0]["id"],
        "the same alert, repeated"
    );

    let after = m.run();
    assert_eq!(
        after.code(),
        Some(0),
        "saved after delivery: {}",
        after.debug()
    );
}

#[derive(Clone, Default)]
struct Hook {
    /// Statuses to answer with, in order; 200 once they run out.
    script: Arc<Mutex<VecDeque<u16>>>,
    /// Every body received.
    received: Arc<Mutex<Vec<Value>>>,
}

async fn hook(State(h): State<Hook>, body: Bytes) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    h.received.lock().unwrap().push(v);
    let status = h.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

#[test]
fn webhook_and_command_receive_the_alerts() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_log(&dir.path().join("log"));
    let (a, b) = (minisign_key(dir.path(), "a"), minisign_key(dir.path(), "b"));
    claim(&server, "alice", &a);
    let index = submit(
        &server,
        &Entry::KeyRegistration(KeyRegistration::operator(&server.origin, "alice", &b).unwrap()),
        true,
    );

    let rt = runtime();
    let h = Hook::default();
    h.script.lock().unwrap().push_back(503); // the first attempt fails: retried
    let url = serve(
        &rt,
        axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(h.clone()),
    );
    let env_file = dir.path().join("command-env.txt");
    let config = format!(
        "{}[alerts]\nwebhook = \"{url}/hook\"\ncommand = \"printf '%s %s %s' \\\"$SEALWAX_ALERT_KIND\\\" \\\"$SEALWAX_ALERT_INDEX\\\" \\\"$SEALWAX_ALERT_PUBLISHER\\\" > {}\"\n",
        watch_keys("alice", &[&a]),
        env_file.display()
    );
    let m = Monitor::new(dir.path(), &server, &config);
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    let received = h.received.lock().unwrap().clone();
    assert_eq!(
        received.len(),
        2,
        "one failed attempt, one retry: {received:?}"
    );
    assert_eq!(
        received[1], r.alerts[0],
        "the webhook gets the alert's JSON"
    );
    assert_eq!(received[1]["kind"], "unexpected-key");
    assert_eq!(received[1]["index"], index);
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        format!("unexpected-key {index} alice")
    );

    // A webhook that never takes the alert: exit 2 and the state is not
    // advanced, so the next run delivers the alert again.
    let d = minisign_key(dir.path(), "d");
    submit(
        &server,
        &Entry::KeyRegistration(KeyRegistration::operator(&server.origin, "alice", &d).unwrap()),
        true,
    );
    h.script.lock().unwrap().extend([400]);
    let r = m.run();
    assert_eq!(r.code(), Some(2), "{}", r.debug());
    assert!(r.stderr().contains("webhook"), "{}", r.debug());
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(r.kinds(), ["unexpected-key"]);
    assert_eq!(
        h.received.lock().unwrap().last().unwrap()["key"]["key_id"],
        d.public_key().key_id_hex()
    );
}

#[test]
fn bad_config_or_unreachable_log_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("monitor.toml");
    // The C2SP signed-note example key: valid, and no log here holds it.
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let run = |log: &str, vkey: &str| {
        Command::new(bin("sealwax-monitor"))
            .args(["--once", "--log", log, "--log-key", vkey, "--state"])
            .arg(&state)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    std::fs::write(&config, "[[watch]]\npublisher = \"alice\"\n").unwrap();
    let out = run("http://127.0.0.1:9", vkey);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("monitor.toml") && err.contains("learn = true"),
        "{err}"
    );

    std::fs::write(&config, "[[watch]]\npublisher = \"alice\"\nlearn = true\n").unwrap();
    let out = run("http://127.0.0.1:9", "not-a-key");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("log key"));

    // A closed port: the monitor could not do its job.
    let port = sealwax_tests::free_port();
    let out = run(&format!("http://127.0.0.1:{port}"), vkey);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("checkpoint"));
}

/// A log where alice has claimed key `a`, and a `sealwax-monitor --json
/// --interval 1` daemon watching her (with `env` set): the daemon, its
/// stdout lines as they come, and alice's second key `b`, not yet logged.
struct Daemon {
    _dir: tempfile::TempDir,
    server: LogServer,
    m: Monitor,
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    b: SecretKey,
}

impl Daemon {
    fn start(env: &[(&str, &str)]) -> Daemon {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let server = start_log(&dir.path().join("log"));
        let (a, b) = (minisign_key(dir.path(), "a"), minisign_key(dir.path(), "b"));
        claim(&server, "alice", &a);
        let m = Monitor::new(dir.path(), &server, &watch_keys("alice", &[&a]));
        let mut c = m.base_command();
        c.args(["--json", "--interval", "1"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        Daemon {
            _dir: dir,
            server,
            m,
            child,
            lines,
            b,
        }
    }

    /// The next alert the daemon prints, within `secs` seconds.
    fn alert(&self, secs: u64, what: &str) -> Value {
        let line = self
            .lines
            .recv_timeout(std::time::Duration::from_secs(secs))
            .expect(what);
        serde_json::from_str(&line).unwrap()
    }

    /// The operator registers `b` for alice; its index.
    fn operator_adds_b(&self) -> u64 {
        let reg = KeyRegistration::operator(&self.server.origin, "alice", &self.b).unwrap();
        submit(&self.server, &Entry::KeyRegistration(reg), true)
    }

    /// Sends SIGTERM; the daemon's exit code.
    fn stop(&mut self) -> Option<i32> {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        self.child.wait().unwrap().code()
    }
}

#[test]
fn daemon_alerts_as_the_log_grows_and_stops_on_sigterm() {
    if !have_tool("minisign") {
        return;
    }
    let mut d = Daemon::start(&[]);
    // Nothing alarming yet.
    assert!(d
        .lines
        .recv_timeout(std::time::Duration::from_millis(1500))
        .is_err());
    let index = d.operator_adds_b();
    let alert = d.alert(10, "the daemon reports the new key within a few polls");
    assert_eq!(alert["kind"], "unexpected-key");
    assert_eq!(alert["index"], index);

    assert_eq!(d.stop(), Some(0), "SIGTERM is a clean stop");
    // The alert was saved as delivered: a later run has nothing new.
    let r = d.m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
}

// ----- logs that try to silence or crash the monitor -----

/// Runs `c` (stdout captured as JSON alerts) and fails the test if it does
/// not exit within `secs` seconds (it is killed then).
fn run_within(c: Command, secs: u64) -> (Run, std::time::Duration) {
    let (out, took) = sealwax_tests::run_within(c, std::time::Duration::from_secs(secs));
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout {l:?}: {e}")))
        .collect();
    (Run { out, alerts }, took)
}

/// A monitor of a fake log, watching `alice` with one key that is not the rogue one.
fn pad_monitor(dir: &Path, log: &sealwax_tests::padlog::PadLog, extra: &str) -> Monitor {
    let alice = SecretKey::generate(&mut rand::rngs::OsRng);
    let m = Monitor {
        state: dir.join("monitor-state"),
        config: dir.join("monitor.toml"),
        log: log.url.clone(),
        vkey: log.vkey.clone(),
    };
    m.set_config(&format!("{}{extra}", watch_keys("alice", &[&alice])));
    m
}

/// The catch-up progress saved in the monitor's state: the tree size it reached.
fn saved_progress(m: &Monitor) -> Option<u64> {
    let state: Value =
        serde_json::from_slice(&std::fs::read(m.state.join("state.json")).unwrap()).unwrap();
    state["catch_up"]["tree_size"].as_u64()
}

#[test]
fn a_log_padded_to_2_pow_40_entries_cannot_stall_the_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let log = sealwax_tests::padlog::PadLog::start(1 << 40);
    let m = pad_monitor(dir.path(), &log, "[health]\nmax_entries_per_poll = 20000\n");
    let mut c = m.command();
    c.arg("--no-progress");
    let (r, took) = run_within(c, 60);
    assert!(
        took < std::time::Duration::from_secs(30),
        "took {took:?}: {}",
        r.debug()
    );
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    let kinds = r.kinds();
    assert!(
        kinds.contains(&"log-misbehaviour/duplicate-entry".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"log-unhealthy/outran-poll-budget".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.len() <= 3,
        "one alert per problem, not per entry: {kinds:?}"
    );
    let dup = r
        .alerts
        .iter()
        .find(|a| a["problem"] == "duplicate-entry")
        .unwrap();
    assert_eq!(dup["index"], 1, "{dup}");
    // Progress was saved: the next run resumes near where this one stopped,
    // and does not repeat what it already reported.
    let first = saved_progress(&m).expect("catch-up progress in the state");
    assert!((20_000..=20_000 + 256).contains(&first), "{first}");
    let mut c = m.command();
    c.arg("--no-progress");
    let (r2, _) = run_within(c, 60);
    assert_eq!(r2.code(), Some(0), "nothing new to report: {}", r2.debug());
    let second = saved_progress(&m).expect("still catching up");
    assert!(second >= first + 20_000, "{first} then {second}");
}

#[test]
fn a_small_padded_log_reaches_the_rogue_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = sealwax_tests::padlog::PadLog::start(1000);
    let m = pad_monitor(dir.path(), &log, "");
    let mut c = m.command();
    c.arg("--no-progress");
    let (r, _) = run_within(c, 60);
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    let kinds = r.kinds();
    assert_eq!(
        kinds,
        ["log-misbehaviour/duplicate-entry", "unexpected-key"],
        "{}",
        r.debug()
    );
    let key = &r.alerts[1];
    assert_eq!(key["index"], 999);
    assert_eq!(key["publisher"], "alice");
    assert_eq!(key["key"]["public_key"], log.rogue.to_base64());
    // The tree verified: the fake log is otherwise valid, and the state moved on.
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
    assert_eq!(saved_progress(&m), None, "caught up");
}

#[test]
fn a_panic_while_parsing_a_bundle_is_an_alert_and_the_daemon_keeps_going() {
    if !have_tool("minisign") {
        return;
    }
    let mut d = Daemon::start(&[("SEALWAX_MONITOR_PANIC_IN_BUNDLE", "0")]);
    let alert = d.alert(10, "the panic is reported as an alert");
    assert_eq!(alert["kind"], "log-misbehaviour", "{alert}");
    assert_eq!(alert["problem"], "bad-bundle", "{alert}");
    assert!(
        alert["message"].as_str().unwrap().contains("panicked"),
        "{alert}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the daemon is still running"
    );
    // The next poll works: a new entry is verified and reported.
    let index = d.operator_adds_b();
    let alert = d.alert(10, "the daemon reports the new key after the panic");
    assert_eq!(alert["kind"], "unexpected-key", "{alert}");
    assert_eq!(alert["index"], index);
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn an_endless_answer_is_cut_off_at_its_size_limit() {
    use sealwax_tests::padlog::{EndlessLog, PadLog};
    let dir = tempfile::tempdir().unwrap();
    // An endless checkpoint, and a valid checkpoint with endless tiles and bundles.
    let real = PadLog::start(1000);
    // What it may have sent: a few bodies up to their limit (64 KiB for a
    // checkpoint, 16 MiB for a bundle) plus socket buffers; a reader without
    // a limit takes all ENDLESS_CAP (256 MiB) of every answer.
    for (name, checkpoint, bound) in [
        ("checkpoint", None, 16u64 << 20),
        ("tiles", Some(real.checkpoint.clone()), 128 << 20),
    ] {
        let endless = EndlessLog::start(checkpoint);
        let m = Monitor {
            state: dir.path().join(format!("state-{name}")),
            config: dir.path().join("monitor.toml"),
            log: endless.url.clone(),
            vkey: real.vkey.clone(),
        };
        m.set_config("");
        let mut c = m.command();
        c.arg("--no-progress");
        let (r, _) = run_within(c, 60);
        let stderr = r.stderr();
        let short: String = r.debug().chars().take(2000).collect();
        assert_eq!(r.code(), Some(2), "{name}: {short}");
        assert!(
            stderr.contains("bytes") && stderr.contains("limit"),
            "{name}: {short}"
        );
        // Cut off at the limit, so memory stays bounded.
        let sent = endless.sent();
        assert!(sent < bound, "{name}: it sent {sent} bytes");
    }
}

#[test]
fn a_log_signing_a_wrong_directory_root_is_caught_within_one_poll() {
    if !have_tool("minisign") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_log(&dir.path().join("log"));
    let a = minisign_key(dir.path(), "a");
    claim(&server, "alice", &a);
    sign(&server, "alice", &a, "tool", "1.0.0");
    let key = sealwax_log::datadir::DataDir::open(&server.data_dir)
        .load_key()
        .expect("the log's signing key");
    let rt = runtime();
    let url = serve(
        &rt,
        axum::Router::new().fallback(proxy).with_state(Proxy {
            upstream: server.url.clone(),
            tamper: Tamper::DirectoryRoot,
            key: Some(Arc::new(key)),
        }),
    );

    // Honest, the monitor finds nothing wrong.
    let honest_dir = dir.path().join("honest");
    std::fs::create_dir_all(&honest_dir).unwrap();
    let honest = Monitor::new(&honest_dir, &server, &watch_keys("alice", &[&a]));
    let r = honest.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
    assert!(r.alerts.is_empty(), "{}", r.debug());

    // Through the lying front-end (every signature genuine), one poll catches it.
    let lied_dir = dir.path().join("lied");
    std::fs::create_dir_all(&lied_dir).unwrap();
    let mut m = Monitor::new(&lied_dir, &server, &watch_keys("alice", &[&a]));
    m.log = url;
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert!(
        r.kinds()
            .contains(&"log-misbehaviour/directory-mismatch".to_string()),
        "{:?}\n{}",
        r.kinds(),
        r.debug()
    );
    let size = tree_size(&server.url);
    let alert = r
        .alerts
        .iter()
        .find(|a| a["problem"] == "directory-mismatch")
        .unwrap();
    assert_eq!(alert["tree_size"].as_u64(), Some(size), "{alert}");
    // The probe asked the log's API (through the front-end) for the changed
    // leaves' proofs: they lead to the honest root, so the line was replaced.
    let said = alert.to_string();
    assert!(
        said.contains("directory line was replaced") && said.contains("alice"),
        "the alert names the leaf and what its proof shows: {alert}"
    );
    // The lie was not accepted: the honest log verifies after it.
    m.log = server.url.clone();
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
}
