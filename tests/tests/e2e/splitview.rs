//! The split-view attack, and witnesses that are down, through the real
//! binaries: `sealwax-log` with `--witness-policy`, three `sealwax-witness`
//! processes, and `sealwax` / `sealwax-monitor` with `--policy`.
//!
//! The forked log shares the honest log's signing key (its data directory
//! was copied before either logged anything) and serves another history:
//! Mallory's key and release under Alice's name. It asks the same witnesses
//! to cosign, plus a colluding copy of one of them, and serves what its own
//! lax policy accepts. An installer without a policy is fooled; with the
//! 2-of-3 policy it is refused, and so is a monitor.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sealwax_proto::policy::Policy;
use sealwax_proto::proof::TlogProof;
use sealwax_tests::{
    copy_dir, fails_with, fill_log, free_port, monitor_command, path_str as s, succeeds,
    write_artifact, Client, LogServer, ServerOptions,
};

use crate::scenarios::{generate, install, published, refs};
use crate::witnessing::{checkpoint, log_size, size_of, witness_key, Witness};

/// The witnesses' names and the log's key: what a policy is made of.
pub(crate) struct Setup {
    dir: tempfile::TempDir,
    pub(crate) vkey: String,
    pub(crate) keys: Vec<String>,
    pub(crate) ports: Vec<u16>,
}

impl Setup {
    /// Makes the log's key (a first start) and three witness keys.
    pub(crate) fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mut first = LogServer::start(&dir.path().join("log"), &ServerOptions::default());
        first.kill();
        let keys = (1..=3)
            .map(|i| {
                witness_key(
                    &dir.path().join(format!("w{i}")),
                    &format!("witness.test/w{i}"),
                )
            })
            .collect();
        Setup {
            dir,
            vkey: first.vkey.clone(),
            keys,
            ports: (0..3).map(|_| free_port()).collect(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a policy: the log, the three witnesses at `urls` (their
    /// ports), and `group q K w1 w2 w3` as the quorum.
    pub(crate) fn policy(&self, name: &str, k: &str, ports: &[u16]) -> PathBuf {
        let mut text = format!("# {name}\nlog {}\n", self.vkey);
        for (i, (key, port)) in self.keys.iter().zip(ports).enumerate() {
            text.push_str(&format!(
                "witness w{} {key} http://127.0.0.1:{port}\n",
                i + 1
            ));
        }
        text.push_str(&format!("group q {k} w1 w2 w3\nquorum q\n"));
        Policy::parse(&text).expect("the test's policy parses");
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub(crate) fn witness(&self, i: usize, port: u16, data: &Path) -> Witness {
        Witness::start_logging(
            data,
            &format!("witness.test/w{}", i + 1),
            &self.vkey,
            port,
            Some(&self.path(&format!("w{}.log", i + 1))),
        )
    }

    pub(crate) fn log(&self, data: &str, policy: &Path) -> LogServer {
        let opts = ServerOptions {
            extra_args: vec!["--witness-policy".into(), s(policy).into()],
            ..ServerOptions::default()
        };
        LogServer::start(&self.path(data), &opts)
    }
}

/// A client of `log` whose home saved `policy` with `sealwax init --policy`.
pub(crate) fn client_with_policy(home: &Path, log: &LogServer, policy: &Path) -> Client {
    let c = Client::new(home, log);
    let out = c.ok(&["init", "--policy", s(policy)]);
    assert!(out.contains("witness policy"), "{out}");
    c
}

/// Waits (at most 30 s) until `/checkpoint` serves a cosigned checkpoint
/// covering the whole log.
pub(crate) fn wait_cosigned(log: &LogServer) {
    let want = log_size(&log.url);
    let start = Instant::now();
    while !matches!(checkpoint(&log.url), (200, note) if size_of(&note) >= want) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} never served a cosigned checkpoint of size {want}",
            log.url
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_forked_log_cannot_gather_a_quorum_so_installers_and_monitors_with_a_policy_refuse_it() {
    let t = Setup::new();
    copy_dir(&t.path("log"), &t.path("fork"));
    let honest = t.policy("honest.policy", "2", &t.ports);
    // The colluding witness: w3's key, with a state that never saw the honest log.
    copy_dir(&t.path("w3"), &t.path("w3-colluding"));
    let colluding_port = free_port();
    let lax = t.policy(
        "lax.policy",
        "any",
        &[t.ports[0], t.ports[1], colluding_port],
    );
    let witnesses: Vec<Witness> = (0..3)
        .map(|i| t.witness(i, t.ports[i], &t.path(&format!("w{}", i + 1))))
        .collect();
    let _colluding = Witness::start_logging(
        &t.path("w3-colluding"),
        "witness.test/w3",
        &t.vkey,
        colluding_port,
        None,
    );

    // The honest history: Alice publishes, under the 2-of-3 policy.
    let log = t.log("log", &honest);
    let alice = client_with_policy(&t.path("alice"), &log, &honest);
    generate(&alice, "alice");
    let good = write_artifact(&t.path("good.tar"), 3000, 1);
    published(&alice, &good, "1.0.0", None);
    let proof =
        TlogProof::parse(&std::fs::read_to_string(t.path("good.tar.tlog-proof")).unwrap()).unwrap();
    let q = Policy::parse(&std::fs::read_to_string(&honest).unwrap())
        .unwrap()
        .verify_checkpoint(&proof.checkpoint)
        .expect("publish writes a .tlog-proof whose checkpoint meets the quorum");
    assert!(q.cosigned.len() >= 2, "{:?}", q.cosigned);
    wait_cosigned(&log);

    // The fork: same key, Mallory's key and release under Alice's name.
    let fork = t.log("fork", &lax);
    let mallory = Client::new(&t.path("mallory"), &fork);
    generate(&mallory, "alice");
    let evil = write_artifact(&t.path("evil.tar"), 3000, 66);
    published(&mallory, &evil, "1.0.0", None);
    fill_log(&fork.url, &fork.origin, "padding", 5);
    wait_cosigned(&fork);
    let (_, forked_note) = checkpoint(&fork.url);
    assert!(
        Policy::parse(&std::fs::read_to_string(&honest).unwrap())
            .unwrap()
            .verify_checkpoint(&forked_note)
            .is_err(),
        "the fork's checkpoint must not meet the honest quorum:\n{forked_note}"
    );

    // Without a policy, a first-time installer of the fork is fooled: the
    // attack works, so the refusals below are the policy's doing.
    let fooled = Client::new(&t.path("fooled"), &fork);
    let to = t.path("fooled-to");
    fooled.ok(&refs(&install("1.0.0", &to, &["--trust-new-keys"])));
    assert_eq!(
        std::fs::read(to.join("hello-1.0.0")).unwrap(),
        std::fs::read(&evil).unwrap()
    );

    // With the policy, the same first install is refused: exit 3, no file.
    let careful = Client::new(&t.path("careful"), &fork);
    let to = t.path("careful-to");
    let mut args = vec!["--policy".to_string(), s(&honest).to_string()];
    args.extend(install("1.0.0", &to, &["--trust-new-keys"]));
    let err = careful.fails_with(&refs(&args), 3);
    assert!(
        err.contains("not cosigned by a quorum"),
        "the refusal names the quorum: {err}"
    );
    assert!(!to.join("hello-1.0.0").exists(), "nothing was installed");

    // The honest log, through the same policy, installs Alice's release.
    let installer = client_with_policy(&t.path("installer"), &log, &honest);
    let to = t.path("installer-to");
    installer.ok(&refs(&install("1.0.0", &to, &["--trust-new-keys"])));
    assert_eq!(
        std::fs::read(to.join("hello-1.0.0")).unwrap(),
        std::fs::read(&good).unwrap()
    );

    // A monitor with the policy raises the fork's checkpoint as misbehaviour.
    let mon = t.path("monitor");
    std::fs::create_dir_all(&mon).unwrap();
    std::fs::write(
        mon.join("m.toml"),
        "[[watch]]\npublisher = \"alice\"\nlearn = true\n",
    )
    .unwrap();
    let out = monitor_command(
        &fork.url,
        &fork.vkey,
        &mon.join("state"),
        &mon.join("m.toml"),
    )
    .args(["--once", "--json", "--no-progress", "--policy", s(&honest)])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("\"not-cosigned\""),
        "the monitor names the problem: {stdout}"
    );

    // The witnesses that saw both histories refused the fork, and say so.
    // The fork's cosigner backs off from a witness that refused it (up to
    // 30 s), so its next request, the one with the forked proof, may come late.
    for i in [1, 2] {
        let path = t.path(&format!("w{i}.log"));
        let start = Instant::now();
        let log_text = loop {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains("may have forked") || start.elapsed() > Duration::from_secs(45) {
                break text;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(
            log_text.contains("may have forked"),
            "witness w{i} reports the fork in its log:\n{log_text}"
        );
    }
    drop(witnesses);
}

#[test]
fn two_of_three_survives_one_witness_down_and_a_publish_without_quorum_times_out_and_resumes() {
    let t = Setup::new();
    let policy = t.policy("policy", "2", &t.ports);
    let mut witnesses: Vec<Option<Witness>> = (0..3)
        .map(|i| Some(t.witness(i, t.ports[i], &t.path(&format!("w{}", i + 1)))))
        .collect();
    let log = t.log("log", &policy);
    let alice = client_with_policy(&t.path("alice"), &log, &policy);
    generate(&alice, "alice");

    // One witness down: 2 of 3 still cosign.
    drop(witnesses[2].take());
    let v1 = write_artifact(&t.path("one.tar"), 2000, 1);
    published(&alice, &v1, "1.0.0", None);
    let installer = client_with_policy(&t.path("installer"), &log, &policy);
    installer.ok(&refs(&install(
        "1.0.0",
        &t.path("to"),
        &["--trust-new-keys"],
    )));

    // Two down: the entry is logged, the log keeps taking entries, but no
    // quorate checkpoint covers it, and publish says so within its timeout.
    drop(witnesses[1].take());
    let v2 = write_artifact(&t.path("two.tar"), 2000, 2);
    let started = Instant::now();
    let out = alice.run(&[
        "--cosign-timeout",
        "3",
        "publish",
        s(&v2),
        "--publisher",
        "alice",
        "--package",
        "hello",
        "--release-version",
        "2.0.0",
    ]);
    let err = fails_with(out, 3, "publish with two witnesses down");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout bounds the wait: {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("is logged, but no checkpoint cosigned by a quorum"),
        "{err}"
    );
    assert!(
        !t.path("two.tar.tlog-proof").exists(),
        "no proof without a quorate checkpoint"
    );
    let before = log_size(&log.url);
    fill_log(&log.url, &log.origin, "bob", 3);
    assert!(
        log_size(&log.url) > before,
        "the log keeps accepting entries"
    );

    // A witness comes back: the unfinished publish is resumed and finishes,
    // with a quorate proof.
    witnesses[1] = Some(t.witness(1, t.ports[1], &t.path("w2")));
    let out = alice.run(&["publish", "--resume"]);
    succeeds(out, "publish --resume once a quorum is back");
    let proof =
        TlogProof::parse(&std::fs::read_to_string(t.path("two.tar.tlog-proof")).unwrap()).unwrap();
    Policy::parse(&std::fs::read_to_string(&policy).unwrap())
        .unwrap()
        .verify_checkpoint(&proof.checkpoint)
        .expect("the resumed publish's proof meets the quorum");
    let v: serde_json::Value =
        serde_json::from_str(&alice.ok(&["--json", "verify", s(&v2)])).unwrap();
    let names = v["cosigned_by"]
        .as_array()
        .expect("cosigned_by under a policy");
    assert_eq!(names.len(), 2, "{v}");
}

/// A "witness" on `listener` that never answers: it accepts connections
/// and holds them open until the test ends.
fn tarpit(listener: std::net::TcpListener) {
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
}

/// A "witness" on `listener` that answers every add-checkpoint with a
/// well-formed cosignature line under `vkey`'s name and key ID whose
/// signature is garbage.
fn liar(listener: std::net::TcpListener, vkey: &str) {
    use base64::Engine as _;
    use std::io::{BufRead as _, Read as _, Write as _};
    let mut parts = vkey.splitn(3, '+');
    let (name, id) = (parts.next().unwrap().to_string(), parts.next().unwrap());
    let mut raw = hex::decode(id).unwrap();
    raw.extend(1_700_000_000u64.to_be_bytes());
    raw.extend([7u8; 64]);
    let line = format!(
        "\u{2014} {name} {}\n",
        base64::engine::general_purpose::STANDARD.encode(&raw)
    );
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut r = std::io::BufReader::new(conn);
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = write!(
                r.get_mut(),
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{line}",
                line.len()
            );
        }
    });
}

#[test]
fn a_slow_witness_and_a_lying_witness_neither_stall_the_log_nor_get_served() {
    let t = Setup::new();
    // w3 never answers; later it answers with a forged cosignature.
    let slow = std::net::TcpListener::bind(("127.0.0.1", t.ports[2])).unwrap();
    tarpit(slow);
    let policy = t.policy("policy", "2", &t.ports);
    let _w: Vec<Witness> = (0..2)
        .map(|i| t.witness(i, t.ports[i], &t.path(&format!("w{}", i + 1))))
        .collect();
    let log = t.log("log", &policy);
    let alice = client_with_policy(&t.path("alice"), &log, &policy);
    generate(&alice, "alice");
    // Each write waits for the next round's quorum (a round a second); a
    // round that waited for the silent witness would take its whole 3 s
    // request timeout.
    let mut took = Vec::new();
    for v in 0..3 {
        let f = write_artifact(&t.path(&format!("v{v}.tar")), 1000, v);
        let started = Instant::now();
        published(&alice, &f, &format!("1.0.{v}"), None);
        took.push(started.elapsed());
    }
    took.sort();
    assert!(
        took[1] < Duration::from_millis(2500),
        "publish waited for the silent witness: {took:?}"
    );

    // The same log, restarted with w3 a liar: its line is never served.
    let mut log = log;
    log.kill();
    let lying = std::net::TcpListener::bind(("127.0.0.1", free_port())).unwrap();
    let liar_port = lying.local_addr().unwrap().port();
    liar(lying, &t.keys[2]);
    let policy = t.policy("policy-liar", "2", &[t.ports[0], t.ports[1], liar_port]);
    let log = t.log("log", &policy);
    let alice = Client::new(&t.path("alice"), &log);
    let f = write_artifact(&t.path("v9.tar"), 1000, 9);
    alice.ok(&[
        "--policy",
        s(&policy),
        "publish",
        s(&f),
        "--publisher",
        "alice",
        "--package",
        "hello",
        "--release-version",
        "1.0.9",
    ]);
    let (status, note) = checkpoint(&log.url);
    assert_eq!(status, 200, "{note}");
    assert!(
        !note.contains("witness.test/w3"),
        "the liar's cosignature is not served:\n{note}"
    );
    let metrics = reqwest::blocking::get(format!("{}/metrics", log.url))
        .and_then(|r| r.text())
        .unwrap();
    assert!(
        metrics.contains("sealwax_cosign_failures_total{witness=\"w3\",kind=\"bad_cosignature\"}"),
        "{metrics}"
    );
}
