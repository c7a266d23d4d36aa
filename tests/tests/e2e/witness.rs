//! End-to-end tests of the real `sealwax-witness`:
//!
//! - it cosigns the real `sealwax-log`'s checkpoints, with the log's own
//!   consistency proofs, and keeps what it cosigned through kill -9;
//! - a conformance table: every status C2SP tlog-witness gives
//!   add-checkpoint (200, 400, 403, 404, 409, 422), each from a crafted
//!   request, and malformed bodies, with the witness's state read back
//!   after each refusal; a fork is logged with both roots and counted;
//! - concurrent requests for sizes N and N+K never leave it at N, and a
//!   kill -9 under load never loses a size it answered 200 for;
//! - its cosignatures verify with `scripts/verify-cosignature.go`, an
//!   independent implementation of cosignature/v1 (Go standard library).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::merkle::{leaf_hash, prove_consistency, tree_root, MemoryHashStore};
use sealwax_proto::note::{CosignatureVerifier, Note, NoteSignature, NoteSigner};
use sealwax_proto::wire::ConsistencyAnswer;
use sealwax_proto::Hash;
use sealwax_tests::{
    bin, fill_log, free_port, path_str as s, wait_healthy, LogServer, ServerOptions,
};

const NAME: &str = "witness.test/w1";

/// A running `sealwax-witness serve`, killed (SIGKILL) on drop.
struct WitnessServer {
    child: Child,
    url: String,
}

impl WitnessServer {
    fn start(data_dir: &Path, log_vkey: &str, port: u16) -> WitnessServer {
        WitnessServer::start_with(data_dir, log_vkey, port, &[])
    }

    fn start_with(data_dir: &Path, log_vkey: &str, port: u16, extra: &[&str]) -> WitnessServer {
        WitnessServer::spawn(data_dir, &[log_vkey], port, extra, Stdio::inherit())
    }

    /// Starts a witness of the logs `log_vkeys`, its log going to `stderr`.
    fn spawn(
        data_dir: &Path,
        log_vkeys: &[&str],
        port: u16,
        extra: &[&str],
        stderr: Stdio,
    ) -> WitnessServer {
        let mut cmd = Command::new(bin("sealwax-witness"));
        cmd.args(["serve", "--data-dir", s(data_dir), "--name", NAME])
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        for k in log_vkeys {
            cmd.args(["--log-key", k]);
        }
        let child = cmd
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("run sealwax-witness serve");
        let mut w = WitnessServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        wait_healthy(&w.url, &mut w.child);
        w
    }

    /// POSTs an add-checkpoint body: the status and the answer.
    fn add(&self, old: u64, proof: &[[u8; 32]], checkpoint: &str) -> (u16, String, String) {
        send(
            &self.url,
            reqwest::Method::POST,
            add_body(old, proof, checkpoint).into_bytes(),
        )
    }

    fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WitnessServer {
    fn drop(&mut self) {
        self.kill_9();
    }
}

fn witness_cmd(args: &[&str]) -> Output {
    Command::new(bin("sealwax-witness"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sealwax-witness")
}

fn get(url: &str) -> String {
    reqwest::blocking::get(url)
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The log's consistency proof from `from` to `to`.
fn consistency(log: &LogServer, from: u64, to: u64) -> Vec<[u8; 32]> {
    let text = get(&format!(
        "{}/v1/proof/consistency?from={from}&to={to}",
        log.url
    ));
    let a: ConsistencyAnswer = serde_json::from_str(&text).expect("a consistency answer");
    a.proof
}

/// The size line of a checkpoint note.
fn size_of(checkpoint: &str) -> u64 {
    checkpoint.lines().nth(1).unwrap().parse().unwrap()
}

/// Asserts a 200 answer is one cosignature by `v` over `checkpoint`.
fn assert_cosigned(answer: &(u16, String, String), checkpoint: &str, v: &CosignatureVerifier) {
    assert_eq!(answer.0, 200, "{}", answer.2);
    let text = Note::parse(checkpoint).unwrap().text;
    let line = answer.2.strip_suffix('\n').expect("a line");
    let sig = NoteSignature::parse_line(line).unwrap();
    assert!(v.verify(&text, &sig).is_some(), "the cosignature verifies");
}

#[test]
fn the_witness_cosigns_the_logs_checkpoints_and_keeps_its_state_through_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let log = LogServer::start(&dir.path().join("log"), &ServerOptions::default());
    fill_log(&log.url, &log.origin, "alice", 3);
    let first = get(&format!("{}/checkpoint", log.url));
    let first_size = size_of(&first);
    assert!(first_size >= 4, "{first}");

    let data = dir.path().join("witness");
    let port = free_port();
    let mut w = WitnessServer::start(&data, &log.vkey, port);
    let key = witness_cmd(&["key", "--data-dir", s(&data)]);
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let vkey = String::from_utf8(key.stdout).unwrap().trim().to_string();
    assert!(vkey.starts_with(&format!("{NAME}+")), "{vkey}");
    let v = CosignatureVerifier::parse(&vkey).expect("a type 0x04 verifier key");
    let mode = std::fs::metadata(data.join("witness.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key is private");

    assert_cosigned(&w.add(0, &[], &first), &first, &v);
    fill_log(&log.url, &log.origin, "bob", 5);
    let second = get(&format!("{}/checkpoint", log.url));
    let second_size = size_of(&second);
    assert!(second_size > first_size);
    let proof = consistency(&log, first_size, second_size);
    assert_cosigned(&w.add(first_size, &proof, &second), &second, &v);

    w.kill_9();
    let w = WitnessServer::start(&data, &log.vkey, port);
    let again = witness_cmd(&["key", "--data-dir", s(&data)]);
    assert_eq!(
        String::from_utf8(again.stdout).unwrap().trim(),
        vkey,
        "the same key"
    );
    let metrics = get(&format!("{}/metrics", w.url));
    let gauge = format!(
        "sealwax_witness_tree_size{{origin=\"{}\"}} {second_size}",
        log.origin
    );
    assert!(metrics.lines().any(|l| l == gauge), "{gauge} in\n{metrics}");
    // The rolled-back checkpoint: refused with the size it kept.
    let (status, ct, body) = w.add(0, &[], &first);
    assert_eq!((status, ct.as_str()), (409, "text/x.tlog.size"), "{body}");
    assert_eq!(body, format!("{second_size}\n"));
    // And it still cosigns what comes next.
    fill_log(&log.url, &log.origin, "carol", 2);
    let third = get(&format!("{}/checkpoint", log.url));
    let proof = consistency(&log, second_size, size_of(&third));
    assert_cosigned(&w.add(second_size, &proof, &third), &third, &v);
}

#[test]
fn the_witness_refuses_bad_configuration_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("w");
    let out = witness_cmd(&["key", "--data-dir", s(&data)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--name NAME"), "says how to make a key: {err}");
    let made = witness_cmd(&["key", "--data-dir", s(&data), "--name", NAME]);
    assert!(made.status.success());

    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let log_vkey = "sealwax.test/log+00000000+AQ==";
    let bad_key = witness_cmd(&[
        "serve",
        "--data-dir",
        s(&data),
        "--name",
        NAME,
        "--listen",
        &listen,
        "--log-key",
        log_vkey,
    ]);
    let err = String::from_utf8_lossy(&bad_key.stderr);
    assert_eq!(bad_key.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--log-key") && err.contains("verifier key"),
        "{err}"
    );

    let good_vkey = {
        let dir2 = dir.path().join("log");
        let log = LogServer::start(&dir2, &ServerOptions::default());
        log.vkey.clone()
    };
    let renamed = witness_cmd(&[
        "serve",
        "--data-dir",
        s(&data),
        "--name",
        "other.test/w",
        "--listen",
        &listen,
        "--log-key",
        &good_vkey,
    ]);
    let err = String::from_utf8_lossy(&renamed.stderr);
    assert_eq!(renamed.status.code(), Some(1), "{err}");
    assert!(err.contains("another --data-dir"), "{err}");
}

#[test]
fn slow_clients_are_cut_off_by_the_time_limits() {
    use std::io::{Read as _, Write as _};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let log = LogServer::start(&dir.path().join("log"), &ServerOptions::default());
    let port = free_port();
    let limits = ["--request-timeout-secs", "1", "--header-timeout-secs", "1"];
    let _w = WitnessServer::start_with(&dir.path().join("w"), &log.vkey, port, &limits);
    let connect = || {
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        c
    };
    // Headers never finished: the connection is closed.
    let started = Instant::now();
    let mut c = connect();
    c.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after the header timeout"
    );
    // A body that never arrives: 503 once the request time limit passes.
    let started = Instant::now();
    let mut c = connect();
    c.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nold 0\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

// ----- the conformance table, the race, kill -9 under load, interop -----

const LOG_A: &str = "example.com/witness-table-a";
const LOG_B: &str = "example.com/witness-table-b";

/// A log of our own: a key and a tree of `n` leaves (`salt` makes a fork).
struct TestLog {
    signer: NoteSigner,
    tree: MemoryHashStore,
}

impl TestLog {
    fn new(origin: &str, n: u64, salt: u8) -> TestLog {
        let signer = NoteSigner::generate(origin, &mut rand::rngs::OsRng).unwrap();
        TestLog::with_key(signer, n, salt)
    }

    fn with_key(signer: NoteSigner, n: u64, salt: u8) -> TestLog {
        let mut tree = MemoryHashStore::new();
        for i in 0..n {
            tree.append(leaf_hash(&[&i.to_be_bytes()[..], &[salt]].concat()));
        }
        TestLog { signer, tree }
    }

    fn vkey(&self) -> String {
        self.signer.verifier().to_string()
    }

    fn root(&self, size: u64) -> Hash {
        tree_root(&self.tree, size).unwrap()
    }

    /// The signed checkpoint at `size`.
    fn checkpoint(&self, size: u64) -> String {
        let cp = Checkpoint::new(self.signer.name(), size, self.root(size));
        sign_checkpoint(&cp, &self.signer).unwrap()
    }

    /// The real consistency proof from `old` to `size` (empty where none exists).
    fn proof(&self, old: u64, size: u64) -> Vec<Hash> {
        if old > 0 && old < size {
            prove_consistency(&self.tree, old, size).unwrap()
        } else {
            Vec::new()
        }
    }

    /// An add-checkpoint body from `old` to `size` with the real proof.
    fn request(&self, old: u64, size: u64) -> Vec<u8> {
        add_body(old, &self.proof(old, size), &self.checkpoint(size)).into_bytes()
    }
}

/// An add-checkpoint body, spelled out from the spec.
fn add_body(old: u64, proof: &[Hash], checkpoint: &str) -> String {
    use base64::Engine as _;
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&base64::engine::general_purpose::STANDARD.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(checkpoint);
    body
}

/// Sends a body over the witness's limit on a raw connection: the headers
/// first, then the body only if no answer came within 3 s. A server that
/// refuses on `Content-Length` answers and closes while a client would
/// still be writing, and a reset there can lose the answer (a flaky
/// "broken pipe" in reqwest).
fn send_oversize(url: &str, method: &reqwest::Method, body: &[u8]) -> Answer {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(addr).expect("connect to the witness");
    write!(
        c,
        "{method} /add-checkpoint HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(3)))
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if raw.is_empty()
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
            {
                // No answer before the body: send it (the server may stop reading).
                let _ = c.write_all(body);
                c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let ct = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, ct, rest.to_owned())
}

fn b64(h: &Hash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// One answer: status, content type, body.
type Answer = (u16, String, String);

/// Sends `body` to `/add-checkpoint` with `method`.
fn send(url: &str, method: reqwest::Method, body: Vec<u8>) -> Answer {
    if body.len() > 64 * 1024 {
        return send_oversize(url, &method, &body);
    }
    let r = reqwest::blocking::Client::new()
        .request(method, format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .expect("a request to /add-checkpoint");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().expect("the answer's body"))
}

/// What the witness shows of its state for `origin`: the monitoring API's
/// answer (status and body) and the tree size gauge.
fn witness_state(url: &str, origin: &str) -> (u16, String, Option<u64>) {
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(origin));
    let r = reqwest::blocking::get(format!("{url}/{hash}/checkpoint")).expect("GET checkpoint");
    let status = r.status().as_u16();
    let body = r.text().unwrap();
    let metrics = get(&format!("{url}/metrics"));
    let prefix = format!("sealwax_witness_tree_size{{origin=\"{origin}\"}} ");
    let gauge = metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap());
    (status, body, gauge)
}

/// Each row: what, the request, the status and content type the spec
/// gives it (`None`: the spec names none, so the plain HTTP one).
struct Row {
    what: &'static str,
    method: reqwest::Method,
    body: Vec<u8>,
    status: u16,
    content_type: &'static str,
    answer: Option<&'static str>,
}

fn row(what: &'static str, body: impl Into<Vec<u8>>, status: u16) -> Row {
    Row {
        what,
        method: reqwest::Method::POST,
        body: body.into(),
        status,
        content_type: "text/plain",
        answer: None,
    }
}

#[test]
fn every_add_checkpoint_status_of_the_spec_from_crafted_requests_and_state_unchanged_by_refusals() {
    let a = TestLog::new(LOG_A, 64, 0);
    let b = TestLog::new(LOG_B, 64, 0);
    let fork = TestLog::with_key(
        NoteSigner::new(LOG_A, a.signer.signing_key().clone()).unwrap(),
        64,
        1,
    );
    let stranger = TestLog::new("example.com/not-witnessed", 64, 0);
    let impostor = TestLog::new(LOG_A, 64, 0);
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("witness.log");
    let w = WitnessServer::spawn(
        &dir.path().join("w"),
        &[&a.vkey(), &b.vkey()],
        free_port(),
        &[],
        Stdio::from(std::fs::File::create(&stderr).unwrap()),
    );
    let v = CosignatureVerifier::parse(
        String::from_utf8(witness_cmd(&["key", "--data-dir", s(&dir.path().join("w"))]).stdout)
            .unwrap()
            .trim(),
    )
    .unwrap();
    // Log A at size 5; log B never cosigned (size 0).
    let first = send(&w.url, reqwest::Method::POST, a.request(0, 5));
    assert_cosigned(&first, &a.checkpoint(5), &v);

    let good = String::from_utf8(a.request(5, 9)).unwrap();
    let mut bad_proof = a.proof(5, 9);
    bad_proof[1][7] ^= 1;
    let bad_sig = {
        // The trusted key's line, over edited text: a signature that fails.
        let real = a.checkpoint(5);
        let edited = real.replacen(&b64(&a.root(5)), &b64(&a.root(6)), 1);
        edited.replacen("\n5\n", "\n6\n", 1)
    };
    let cp_text = |size| Note::parse(&a.checkpoint(size)).unwrap().text;
    let size_zero_other_root = {
        let cp = Checkpoint::new(LOG_B, 0, [9; 32]);
        sign_checkpoint(&cp, &b.signer).unwrap()
    };
    let conflict = |what, old: u64| Row {
        content_type: "text/x.tlog.size",
        answer: Some("5\n"),
        ..row(what, a.request(old, 9), 409)
    };
    let rows = vec![
        // 404: the origin is unknown.
        row("an unknown origin", stranger.request(0, 5), 404),
        // 403: no trusted signature, or a trusted key's signature fails.
        row(
            "signed by an unknown key with the log's name",
            impostor.request(5, 9),
            403,
        ),
        row(
            "the trusted key's signature fails",
            add_body(5, &[], &bad_sig),
            403,
        ),
        // 400: old > new, and every malformed body.
        row("old size above the checkpoint's", a.request(9, 5), 400),
        row("no old line", good.replacen("old 5\n", "", 1), 400),
        row(
            "old with a leading zero",
            good.replacen("old 5", "old 05", 1),
            400,
        ),
        row(
            "old with two spaces",
            good.replacen("old 5", "old  5", 1),
            400,
        ),
        row("old negative", good.replacen("old 5", "old -5", 1), 400),
        row(
            "a proof line that is not base64",
            good.replacen("\n\n", "\n!!not*base64!!\n\n", 1),
            400,
        ),
        row(
            "a proof line of 31 bytes",
            add_body(5, &[], &a.checkpoint(9)).replacen(
                "old 5\n",
                &format!("old 5\n{}\n", b64(&[1; 32]).replacen("AQE=", "AQ==", 1)),
                1,
            ),
            400,
        ),
        row(
            "64 proof lines",
            add_body(5, &[[7; 32]; 64], &a.checkpoint(9)),
            400,
        ),
        row(
            "no blank line between the proof and the checkpoint",
            good.replacen("\n\n", "\n", 1),
            400,
        ),
        row("CRLF line ends", good.replace('\n', "\r\n"), 400),
        row("an empty body", "", 400),
        row("not UTF-8", vec![0xff, 0xfe, b'\n'], 400),
        row(
            "a checkpoint without signature lines",
            add_body(5, &[], &cp_text(9)),
            400,
        ),
        row(
            "not a checkpoint",
            add_body(5, &[], &a.checkpoint(9).replacen("\n9\n", "\nnine\n", 1)),
            400,
        ),
        // 409: the old size is not the witness's, with the size in the body.
        conflict("old 0 when the witness is at 5", 0),
        conflict("old 3 when the witness is at 5", 3),
        conflict("old 6 when the witness is at 5", 6),
        Row {
            content_type: "text/x.tlog.size",
            answer: Some("0\n"),
            ..row("old 3 for a log never cosigned", b.request(3, 9), 409)
        },
        // 422: the consistency checks.
        row(
            "a tampered proof",
            add_body(5, &bad_proof, &a.checkpoint(9)),
            422,
        ),
        row(
            "no proof for a larger tree",
            add_body(5, &[], &a.checkpoint(9)),
            422,
        ),
        row(
            "same size, another root (a fork)",
            add_body(5, &[], &fork.checkpoint(5)),
            422,
        ),
        row(
            "the fork's own proof to a larger size",
            add_body(5, &fork.proof(5, 9), &fork.checkpoint(9)),
            422,
        ),
        row(
            "a proof between equal sizes",
            add_body(5, &[[1; 32]], &a.checkpoint(5)),
            422,
        ),
        row(
            "a proof from size 0",
            add_body(0, &a.proof(3, 9), &b.checkpoint(9)),
            422,
        ),
        row(
            "a size-0 checkpoint without the empty tree's root",
            add_body(0, &[], &size_zero_other_root),
            422,
        ),
        // No status in the spec: the HTTP ones.
        row(
            "a 1 MiB body",
            [good.as_bytes(), &vec![b'x'; 1 << 20]].concat(),
            413,
        ),
        Row {
            method: reqwest::Method::GET,
            answer: Some(""),
            ..row("GET instead of POST", good.clone(), 405)
        },
    ];
    let before_a = witness_state(&w.url, LOG_A);
    assert_eq!((before_a.0, before_a.2), (200, Some(5)), "{}", before_a.1);
    let before_b = witness_state(&w.url, LOG_B);
    assert_eq!((before_b.0, before_b.2), (404, Some(0)));
    let mut statuses = std::collections::BTreeSet::new();
    for r in rows {
        let (status, ct, body) = send(&w.url, r.method, r.body);
        assert_eq!(status, r.status, "{}: {body}", r.what);
        if status != 405 {
            assert!(ct.starts_with(r.content_type), "{}: {ct}", r.what);
        }
        match r.answer {
            Some(want) => assert_eq!(body, want, "{}", r.what),
            None => assert!(!body.trim().is_empty(), "{}: the body says why", r.what),
        }
        assert_eq!(witness_state(&w.url, LOG_A), before_a, "{}: A", r.what);
        assert_eq!(witness_state(&w.url, LOG_B), before_b, "{}: B", r.what);
        statuses.insert(status);
    }
    // 200: the same checkpoint again, then a consistent larger one.
    let again = send(&w.url, reqwest::Method::POST, a.request(5, 5));
    assert_cosigned(&again, &a.checkpoint(5), &v);
    let next = send(&w.url, reqwest::Method::POST, a.request(5, 9));
    assert_cosigned(&next, &a.checkpoint(9), &v);
    let (status, note, gauge) = witness_state(&w.url, LOG_A);
    assert_eq!((status, gauge), (200, Some(9)));
    let note = Note::parse(&note).unwrap();
    assert_eq!(note.text, cp_text(9));
    statuses.insert(200);
    let spec: std::collections::BTreeSet<u16> = [200, 400, 403, 404, 409, 422].into();
    assert!(spec.is_subset(&statuses), "{statuses:?}");

    // The fork was logged with both roots, and counted.
    let log = std::fs::read_to_string(&stderr).unwrap();
    let warned = log.lines().find(|l| {
        l.contains("the log may have forked")
            && l.contains(LOG_A)
            && l.contains(&b64(&a.root(5)))
            && l.contains(&b64(&fork.root(5)))
    });
    assert!(warned.is_some(), "a warning with both roots in\n{log}");
    let metrics = get(&format!("{}/metrics", w.url));
    let forks = format!(
        "sealwax_witness_inconsistent_total{{origin=\"{LOG_A}\",reason=\"same_size_other_root\"}} 1"
    );
    assert!(metrics.lines().any(|l| l == forks), "{forks} in\n{metrics}");
}

/// The witness's verifier key, from `sealwax-witness key`.
fn witness_vkey(data: &Path) -> String {
    let out = witness_cmd(&["key", "--data-dir", s(data), "--name", NAME]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// One racing client: it asks for `target` from old 0, following 409s,
/// until it is cosigned (`Some(old)`) or the witness is past it (`None`).
fn race_client(url: &str, log: &TestLog, target: u64) -> Option<u64> {
    let client = reqwest::blocking::Client::new();
    let mut old = 0;
    for _ in 0..500 {
        let r = client
            .post(format!("{url}/add-checkpoint"))
            .body(log.request(old, target))
            .send()
            .expect("POST /add-checkpoint");
        match r.status().as_u16() {
            200 => return Some(old),
            409 => old = r.text().unwrap().trim().parse().unwrap(),
            400 if old > target => return None,
            s => panic!("target {target} from {old}: {s} {}", r.text().unwrap()),
        }
    }
    panic!("target {target}: no answer but 409 in 500 tries");
}

#[test]
fn concurrent_requests_for_n_and_n_plus_k_never_leave_the_witness_at_n() {
    let log = std::sync::Arc::new(TestLog::new(LOG_A, 256, 0));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("w");
    let v = CosignatureVerifier::parse(&witness_vkey(&data)).unwrap();
    let w = WitnessServer::spawn(&data, &[&log.vkey()], free_port(), &[], Stdio::inherit());
    // Rounds of pairs: N and N+K sent at once, from 8 threads each.
    let mut at = 0;
    for round in 0..8u64 {
        let n = at + 1 + round % 3;
        let k = 1 + (round * 7) % 13;
        let targets: Vec<u64> = (0..8).map(|i| if i % 2 == 0 { n } else { n + k }).collect();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(targets.len()));
        let threads: Vec<_> = targets
            .into_iter()
            .map(|t| {
                let (log, url, barrier) = (log.clone(), w.url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    (t, race_client(&url, &log, t))
                })
            })
            .collect();
        let results: Vec<(u64, Option<u64>)> =
            threads.into_iter().map(|t| t.join().unwrap()).collect();
        let (_, note, gauge) = witness_state(&w.url, LOG_A);
        assert_eq!(gauge, Some(n + k), "round {round}: {results:?}");
        // The stored checkpoint is N+K's, with this witness's cosignature.
        let note = Note::parse(&note).unwrap();
        assert_eq!(note.text, Note::parse(&log.checkpoint(n + k)).unwrap().text);
        assert!(note
            .signatures
            .iter()
            .any(|s| v.verify(&note.text, s).is_some()));
        // Every client of N+K was cosigned; N's only before N+K moved past it.
        assert!(
            results.iter().all(|&(t, r)| t == n || r.is_some()),
            "round {round}: {results:?}"
        );
        at = n + k;
    }
}

#[test]
fn kill_9_under_load_never_loses_a_cosigned_size() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let log = Arc::new(TestLog::new(LOG_A, 4096, 0));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("w");
    let vkey = witness_vkey(&data);
    let v = CosignatureVerifier::parse(&vkey).unwrap();
    let port = free_port();
    for round in 0..3 {
        let mut w = WitnessServer::spawn(&data, &[&log.vkey()], port, &[], Stdio::inherit());
        let (_, _, start) = witness_state(&w.url, LOG_A);
        let start = start.unwrap();
        let acked = Arc::new(AtomicU64::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        // Four clients push the log forward one step at a time; each records
        // the largest size the witness answered 200 for.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (log, url, acked, stop) =
                    (log.clone(), w.url.clone(), acked.clone(), stop.clone());
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    let mut old = start;
                    while !stop.load(Ordering::Relaxed) && old < 4000 {
                        let new = old + 1 + old % 3;
                        let Ok(r) = client
                            .post(format!("{url}/add-checkpoint"))
                            .body(log.request(old, new))
                            .send()
                        else {
                            return;
                        };
                        let status = r.status().as_u16();
                        let Ok(body) = r.text() else { return };
                        match status {
                            200 => {
                                acked.fetch_max(new, Ordering::SeqCst);
                                old = new;
                            }
                            409 => old = body.trim().parse().unwrap(),
                            s => panic!("{s}: {body}"),
                        }
                    }
                })
            })
            .collect();
        // Kill it mid-load, once it has cosigned some.
        let t0 = std::time::Instant::now();
        while acked.load(Ordering::SeqCst) < start + 20 {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(60),
                "no progress"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(37 * (round + 1)));
        w.kill_9();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let acked = acked.load(Ordering::SeqCst);
        let w = WitnessServer::spawn(&data, &[&log.vkey()], port, &[], Stdio::inherit());
        let (status, note, size) = witness_state(&w.url, LOG_A);
        let size = size.unwrap();
        assert_eq!(status, 200);
        assert!(
            size >= acked,
            "round {round}: answered 200 for size {acked} but kept only {size}"
        );
        // The kept state is a whole, cosigned checkpoint of the log.
        let note = Note::parse(&note).unwrap();
        assert_eq!(note.text, Note::parse(&log.checkpoint(size)).unwrap().text);
        assert!(note
            .signatures
            .iter()
            .any(|s| v.verify(&note.text, s).is_some()));
    }
}

/// Builds `scripts/verify-cosignature.go` offline into `dir`; its path.
fn build_go_verifier(dir: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify-cosignature.go");
    let out_bin = dir.join("verify-cosignature");
    sealwax_tests::go_build_offline(dir, &src, &out_bin, "");
    out_bin
}

/// Runs the Go verifier on `note` with `vkey`: exit code and output.
fn go_verify(verifier: &Path, vkey: &str, note: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut child = Command::new(verifier)
        .arg(vkey)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run verify-cosignature");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(note.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn cosignatures_verify_with_an_independent_go_implementation_of_cosignature_v1() {
    if !sealwax_tests::have_tool("go") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let verifier = build_go_verifier(dir.path());
    let log = LogServer::start(&dir.path().join("log"), &ServerOptions::default());
    fill_log(&log.url, &log.origin, "alice", 3);
    let checkpoint = get(&format!("{}/checkpoint", log.url));
    let data = dir.path().join("w");
    let vkey = witness_vkey(&data);
    let w = WitnessServer::start(&data, &log.vkey, free_port());
    let answer = w.add(0, &[], &checkpoint);
    assert_eq!(answer.0, 200, "{}", answer.2);
    let cosigned = format!("{checkpoint}{}", answer.2);
    let (code, out) = go_verify(&verifier, &vkey, &cosigned);
    assert_eq!(code, 0, "{out}");
    // The timestamp Go read is the one in the signature.
    let sig = NoteSignature::parse_line(answer.2.trim_end()).unwrap();
    let ts = CosignatureVerifier::parse(&vkey)
        .unwrap()
        .verify(&Note::parse(&checkpoint).unwrap().text, &sig)
        .unwrap();
    assert_eq!(out.trim(), format!("ok: {NAME} cosigned at {ts}"));
    // The monitoring API's note (log signature and cosignature) verifies too.
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&log.origin));
    let served = get(&format!("{}/{hash}/checkpoint", w.url));
    assert_eq!(go_verify(&verifier, &vkey, &served).0, 0);

    // A flipped byte anywhere in the signed text, or in the signature, fails.
    let text_len = Note::parse(&checkpoint).unwrap().text.len();
    let sig_start = cosigned.rfind("\u{2014} ").unwrap() + "\u{2014} ".len() + NAME.len() + 1;
    let flips = [
        0,
        text_len / 2,
        text_len - 2,
        sig_start + 8,
        cosigned.len() - 20,
    ];
    for at in flips {
        let mut bytes = cosigned.clone().into_bytes();
        bytes[at] ^= 0x01;
        let flipped = String::from_utf8(bytes).unwrap();
        let (code, out) = go_verify(&verifier, &vkey, &flipped);
        assert_eq!(code, 1, "a flipped byte at {at} must fail: {out}");
    }
    // Another witness's key (same name) finds no signature of its own.
    let other = witness_vkey(&dir.path().join("other"));
    let (code, out) = go_verify(&verifier, &other, &cosigned);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no signature line"), "{out}");
    // A vkey whose key ID is not the cosignature/v1 one (type 0x04) is refused.
    let mut parts: Vec<String> = vkey.splitn(3, '+').map(str::to_owned).collect();
    parts[1] = "00000000".into();
    let (code, out) = go_verify(&verifier, &parts.join("+"), &cosigned);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("key ID"), "{out}");
}
