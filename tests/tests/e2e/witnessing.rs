//! End-to-end tests of `sealwax-log serve --witness-policy`: the real log
//! asks two real `sealwax-witness` processes to cosign, serves at
//! `/checkpoint` only what a 2-of-2 quorum cosigned, keeps taking entries
//! while a witness is down, and catches up when it comes back.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sealwax_proto::policy::Policy;
use sealwax_tests::{
    bin, fill_log, free_port, path_str as s, wait_healthy, LogServer, ServerOptions,
};

/// A running `sealwax-witness serve`, killed (SIGKILL) on drop.
pub(crate) struct Witness {
    child: Child,
}

impl Witness {
    /// Starts a witness of the log `log_vkey` on `port`, its log on our stderr.
    pub(crate) fn start(data: &Path, name: &str, log_vkey: &str, port: u16) -> Witness {
        Witness::start_logging(data, name, log_vkey, port, None)
    }

    /// Like [`Witness::start`], with its log appended to `log_file` if given.
    pub(crate) fn start_logging(
        data: &Path,
        name: &str,
        log_vkey: &str,
        port: u16,
        log_file: Option<&Path>,
    ) -> Witness {
        let stderr = match log_file {
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .expect("open the witness log"),
            ),
            None => Stdio::inherit(),
        };
        let child = Command::new(bin("sealwax-witness"))
            .args(["serve", "--data-dir", s(data), "--name", name])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--log-key", log_vkey])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("run sealwax-witness serve");
        let mut w = Witness { child };
        wait_healthy(&format!("http://127.0.0.1:{port}"), &mut w.child);
        w
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a witness key in `data` and returns its verifier key line.
pub(crate) fn witness_key(data: &Path, name: &str) -> String {
    let out = Command::new(bin("sealwax-witness"))
        .args(["key", "--data-dir", s(data), "--name", name])
        .output()
        .expect("run sealwax-witness key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `GET /checkpoint`: status and body.
pub(crate) fn checkpoint(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(format!("{url}/checkpoint")).expect("GET /checkpoint");
    (r.status().as_u16(), r.text().unwrap())
}

/// The size line of a checkpoint note.
pub(crate) fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// Waits (at most 30 s) for `/checkpoint` to serve a note of size `size`.
pub(crate) fn wait_for_size(url: &str, size: u64) -> String {
    let start = Instant::now();
    loop {
        let (status, body) = checkpoint(url);
        if status == 200 && size_of(&body) == size {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no cosigned checkpoint of size {size} within 30 s; last answer {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The log's own newest size (from `/healthz`, which witnessing does not change).
pub(crate) fn log_size(url: &str) -> u64 {
    let v: serde_json::Value = reqwest::blocking::get(format!("{url}/healthz"))
        .and_then(|r| r.json())
        .expect("GET /healthz");
    v["tree_size"].as_u64().expect("tree_size")
}

#[test]
fn a_two_of_two_policy_cosigns_survives_a_dead_witness_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    // A first start makes the log's key, which the policy and witnesses need.
    let mut log = LogServer::start(&log_dir, &ServerOptions::default());
    log.kill();
    let (d1, d2) = (dir.path().join("w1"), dir.path().join("w2"));
    let (k1, k2) = (
        witness_key(&d1, "witness.test/w1"),
        witness_key(&d2, "witness.test/w2"),
    );
    let (p1, p2) = (free_port(), free_port());
    let policy_text = format!(
        "log {}\nwitness w1 {k1} http://127.0.0.1:{p1}\nwitness w2 {k2} http://127.0.0.1:{p2}\ngroup both all w1 w2\nquorum both\n",
        log.vkey
    );
    let policy_file = dir.path().join("policy");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = Policy::parse(&policy_text).unwrap();
    let w1 = Witness::start(&d1, "witness.test/w1", &log.vkey, p1);
    let mut w2 = Some(Witness::start(&d2, "witness.test/w2", &log.vkey, p2));
    let opts = ServerOptions {
        extra_args: vec!["--witness-policy".into(), s(&policy_file).into()],
        ..ServerOptions::default()
    };
    let log = LogServer::start(&log_dir, &opts);

    fill_log(&log.url, &log.origin, "alice", 3);
    let size = log_size(&log.url);
    let note = wait_for_size(&log.url, size);
    let q = policy
        .verify_checkpoint(&note)
        .expect("the served checkpoint meets the quorum");
    let mut names: Vec<_> = q.cosigned.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["w1", "w2"], "both cosignatures are served:\n{note}");

    // One witness down: writes stay fast, /checkpoint stays at the cosigned size.
    drop(w2.take());
    let started = Instant::now();
    fill_log(&log.url, &log.origin, "bob", 3);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "4 entries took {:?} with a witness down",
        started.elapsed()
    );
    let grown = log_size(&log.url);
    assert!(grown > size);
    std::thread::sleep(Duration::from_secs(3));
    let (status, held) = checkpoint(&log.url);
    assert_eq!(status, 200, "{held}");
    assert_eq!(
        size_of(&held),
        size,
        "only a quorum-cosigned checkpoint is served:\n{held}"
    );
    policy
        .verify_checkpoint(&held)
        .expect("still a quorate checkpoint");

    // The witness comes back with its state: the log catches up.
    w2 = Some(Witness::start(&d2, "witness.test/w2", &log.vkey, p2));
    let caught_up = wait_for_size(&log.url, grown);
    policy
        .verify_checkpoint(&caught_up)
        .expect("the new checkpoint meets the quorum");
    let metrics = reqwest::blocking::get(format!("{}/metrics", log.url))
        .and_then(|r| r.text())
        .unwrap();
    assert!(
        metrics.contains(&format!("sealwax_cosigned_tree_size {grown}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("sealwax_cosign_failures_total{witness=\"w2\",kind=\"connect\"}"),
        "{metrics}"
    );
    drop((w1, w2));
}

#[test]
fn a_policy_without_this_log_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let mut log = LogServer::start(&log_dir, &ServerOptions::default());
    log.kill();
    let k = witness_key(&dir.path().join("w"), "witness.test/w");
    // Another valid Ed25519 key (the witness's) as the policy's log key.
    let raw = k.splitn(3, '+').nth(2).unwrap();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, raw).unwrap();
    let other = format!(
        "log {}\nwitness w {k} http://127.0.0.1:1\nquorum w\n",
        hex::encode(&raw[1..])
    );
    for (name, text, says) in [
        ("other-log", other, "no `log` line with this log's key"),
        (
            "bad",
            "quorum\n".to_string(),
            "cannot use the witness policy",
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = Command::new(bin("sealwax-log"))
            .args([
                "serve",
                "--data-dir",
                s(&log_dir),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(["--witness-policy", s(&file)])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(says), "{name}: {err}");
    }
}
