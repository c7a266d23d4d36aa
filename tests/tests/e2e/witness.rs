//! End-to-end tests: the real `sealwax-witness` cosigns the real
//! `sealwax-log`'s checkpoints, with the log's own consistency proofs, and
//! keeps what it cosigned through kill -9.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use sealwax_proto::note::{CosignatureVerifier, Note, NoteSignature};
use sealwax_proto::wire::ConsistencyAnswer;
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
        let child = Command::new(bin("sealwax-witness"))
            .args(["serve", "--data-dir", s(data_dir), "--name", NAME])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--log-key", log_vkey])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
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
        use base64::Engine as _;
        let mut body = format!("old {old}\n");
        for h in proof {
            body.push_str(&base64::engine::general_purpose::STANDARD.encode(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(checkpoint);
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/add-checkpoint", self.url))
            .body(body)
            .send()
            .expect("POST /add-checkpoint");
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, r.text().unwrap())
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
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
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
