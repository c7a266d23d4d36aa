//! End-to-end tests: the log cannot be starved or filled. Slow artifact
//! uploads and downloads cannot take the connections that checkpoints,
//! proofs and submissions need; the artifact store stays within its quotas
//! and its disk, and the log keeps taking entries when it is full; a weak
//! admin token is refused.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sealwax_proto::entry::{Entry, KeyRegistration, Release, SignatureEntry};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_tests::slow::{timed, Latencies, SlowClients};
use sealwax_tests::{bin, submit_entry, tree_size, LogServer, ServerOptions};
use sha2::{Digest, Sha256};

/// A publisher with a claimed key, signing artifacts.
struct Publisher {
    name: String,
    origin: String,
    sk: SecretKey,
    url: String,
}

impl Publisher {
    fn claim(server: &LogServer, name: &str) -> Publisher {
        let sk = SecretKey::generate(&mut rand::rngs::OsRng);
        let claim =
            Entry::KeyRegistration(KeyRegistration::claim(&server.origin, name, &sk).unwrap());
        submit_entry(&server.url, &claim.to_bytes(), None).expect("the log takes the claim");
        Publisher {
            name: name.into(),
            origin: server.origin.clone(),
            sk,
            url: server.url.clone(),
        }
    }

    /// The signature entry of `data` as version `version` of package `pkg`.
    fn signature(&self, data: &[u8], version: &str) -> Vec<u8> {
        let release = Release {
            origin: self.origin.clone(),
            publisher: self.name.clone(),
            package: "pkg".into(),
            version: version.into(),
            sha256: Sha256::digest(data).into(),
        };
        Entry::Signature(SignatureEntry::sign(&self.sk, &release, prehash(data)).unwrap())
            .to_bytes()
    }

    /// Logs a signature of `data`; its SHA-256 in hex.
    fn log(&self, data: &[u8], version: &str) -> String {
        submit_entry(&self.url, &self.signature(data, version), None)
            .unwrap_or_else(|e| panic!("the log refused {}@{version}: {e:?}", self.name));
        hex::encode(Sha256::digest(data))
    }
}

/// `len` bytes that differ with `seed`.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn http(timeout: Duration) -> reqwest::blocking::Client {
    // A fresh connection for every request, as a new client would open.
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// PUTs `body` as the artifact `sha`; the status and answer.
fn put(url: &str, sha: &str, body: Vec<u8>) -> (u16, String) {
    let r = http(Duration::from_secs(60))
        .put(format!("{url}/v1/artifacts/{sha}"))
        .body(body)
        .send()
        .unwrap_or_else(|e| panic!("PUT {sha}: {e}"));
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// What one round of honest requests took: checkpoint, proof, submission.
struct Probe {
    checkpoint: Latencies,
    proof: Latencies,
    submit: Latencies,
}

/// Times `rounds` rounds of `GET /checkpoint`, an inclusion proof and a new
/// signature submission, each on a new connection.
fn probe(url: &str, publisher: &Publisher, rounds: usize, tag: &str) -> Probe {
    const LIMIT: Duration = Duration::from_secs(10);
    let c = http(LIMIT);
    let get = |path: String| {
        let r = c
            .get(format!("{url}{path}"))
            .send()
            .map_err(|e| e.to_string())?;
        match r.status().as_u16() {
            200 => r.bytes().map(|_| ()).map_err(|e| e.to_string()),
            s => Err(format!("{s}: {}", r.text().unwrap_or_default())),
        }
    };
    let mut p = Probe {
        checkpoint: Latencies::default(),
        proof: Latencies::default(),
        submit: Latencies::default(),
    };
    for i in 0..rounds {
        p.checkpoint.0.push(timed(
            "GET /checkpoint",
            LIMIT,
            || get("/checkpoint".into()),
        ));
        p.proof.0.push(timed("inclusion proof", LIMIT, || {
            get("/v1/proof/inclusion?index=0&tree_size=2".into())
        }));
        let entry = publisher.signature(format!("{tag} {i}").as_bytes(), &format!("{tag}.{i}"));
        p.submit.0.push(timed("submission", LIMIT, || {
            let body = serde_json::json!({
                "entry": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &entry)
            });
            let r = c
                .post(format!("{url}/v1/entries"))
                .json(&body)
                .send()
                .map_err(|e| e.to_string())?;
            match r.status().as_u16() {
                200 => Ok(()),
                s => Err(format!("{s}: {}", r.text().unwrap_or_default())),
            }
        }));
    }
    p
}

fn report(what: &str, base: &Latencies, load: &Latencies) {
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-6);
    eprintln!(
        "{what:<12} baseline p50 {:>9.2?} max {:>9.2?} | under slow load p50 {:>9.2?} max {:>9.2?} | ratio p50 {:.1}x max {:.1}x",
        base.p50(),
        base.max(),
        load.p50(),
        load.max(),
        ratio(load.p50(), base.p50()),
        ratio(load.max(), base.max()),
    );
}

/// 128 trickling uploads and 128 stalled downloads against a log that takes
/// 64 connections: checkpoints, proofs and submissions are still answered
/// within a second, the slow transfers are cut, and the artifact slots they
/// held are free again afterwards.
#[test]
fn slow_uploads_and_downloads_do_not_starve_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = LogServer::start(
        &dir.path().join("log"),
        &ServerOptions {
            extra_args: ["--max-connections", "64"].map(String::from).to_vec(),
            ..ServerOptions::default()
        },
    );
    let alice = Publisher::claim(&server, "alice");
    // One large artifact to download (more than the loopback socket buffers
    // hold), and 128 logged ones nobody has uploaded yet.
    let big = data(24 << 20, 1);
    let big_sha = alice.log(&big, "1.0.0");
    let (status, text) = put(&server.url, &big_sha, big.clone());
    assert_eq!(status, 201, "upload of the large artifact: {text}");
    let uploads: Vec<String> = (0..128)
        .map(|i| {
            let sha = alice.log(&data(1000, 100 + i), &format!("2.0.{i}"));
            format!("/v1/artifacts/{sha}")
        })
        .collect();
    let downloads = vec![format!("/v1/artifacts/{big_sha}"); 128];

    let base = probe(&server.url, &alice, 20, "base");
    let addr: SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let slow = SlowClients::start(addr, &uploads, &downloads, 1000, Duration::from_secs(1));
    std::thread::sleep(Duration::from_secs(2));
    let load = probe(&server.url, &alice, 20, "load");
    report("checkpoint", &base.checkpoint, &load.checkpoint);
    report("proof", &base.proof, &load.proof);
    report("submission", &base.submit, &load.submit);
    for (what, l) in [
        ("GET /checkpoint", &load.checkpoint),
        ("an inclusion proof", &load.proof),
        ("a submission", &load.submit),
    ] {
        assert!(
            l.max() < Duration::from_secs(1),
            "{what} took {:?} (p50 {:?}) while slow clients held connections",
            l.max(),
            l.p50()
        );
    }

    // Every trickling upload is answered or cut off in time: at a byte a
    // second none reaches the minimum transfer rate.
    let deadline = Instant::now() + Duration::from_secs(40);
    while slow.closed_uploads() < uploads.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        slow.closed_uploads(),
        uploads.len(),
        "the log still holds slow uploads open after 40 s"
    );
    // The stalled downloads are cut too: a fast download gets a slot and
    // the whole artifact.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let r = http(Duration::from_secs(30))
            .get(format!("{}/v1/artifacts/{big_sha}", server.url))
            .send()
            .expect("GET the large artifact");
        if r.status() == 200 {
            let body = r.bytes().expect("the artifact's bytes");
            assert!(body[..] == big[..], "the download is the artifact");
            break;
        }
        assert_eq!(r.status(), 503, "{}", r.text().unwrap_or_default());
        assert!(
            Instant::now() < deadline,
            "the stalled downloads still hold every artifact slot after 40 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(slow);
    assert!(tree_size(&server.url) >= 2 + 128 + 40);
}

/// A second upload of an artifact while the first is still arriving is
/// refused with 409, and the first one then completes.
#[test]
fn one_upload_per_artifact_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = LogServer::start(&dir.path().join("log"), &ServerOptions::default());
    let alice = Publisher::claim(&server, "alice");
    let art = data(100_000, 7);
    let sha = alice.log(&art, "1.0.0");
    let addr: SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    // The first upload: its headers and half of its body, then a pause.
    let mut first = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    write!(
        first,
        "PUT /v1/artifacts/{sha} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        art.len()
    )
    .unwrap();
    first.write_all(&art[..50_000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (status, text) = put(&server.url, &sha, art.clone());
    assert_eq!(status, 409, "a concurrent second upload: {text}");
    assert!(text.contains("in progress"), "{text}");
    first.write_all(&art[50_000..]).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = first.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let (status, text) = put(&server.url, &sha, art);
    assert_eq!(
        status, 200,
        "once stored, an upload is answered at once: {text}"
    );
}

/// Files left in `dir` (recursively), for the no-partial-files checks.
fn files_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        if e.file_type().unwrap().is_dir() {
            out.extend(files_in(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

/// The store's quotas: a publisher over its share gets 413, a full store
/// 507, each saying what to do; signatures keep being logged; no partial
/// file is left behind.
#[test]
fn artifact_quotas_refuse_uploads_but_never_entries() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    // A 3 MiB store, at most 2 MiB of it for one publisher.
    let start = || {
        LogServer::start(
            &dir.path().join("log"),
            &ServerOptions {
                extra_args: vec![
                    "--artifact-dir".into(),
                    artifacts.display().to_string(),
                    "--artifact-quota-bytes".into(),
                    (3u64 << 20).to_string(),
                    "--artifact-publisher-quota-bytes".into(),
                    (2u64 << 20).to_string(),
                ],
                ..ServerOptions::default()
            },
        )
    };
    let server = start();
    let alice = Publisher::claim(&server, "alice");
    let bob = Publisher::claim(&server, "bob");
    let a1 = data(1_500_000, 1);
    let (s, t) = put(&server.url, &alice.log(&a1, "1"), a1);
    assert_eq!(s, 201, "{t}");
    let a2 = data(1_000_000, 2);
    let (s, t) = put(&server.url, &alice.log(&a2, "2"), a2);
    assert_eq!(s, 413, "alice over her share: {t}");
    assert!(
        t.contains("alice") && t.contains("--artifact-publisher-quota-bytes"),
        "{t}"
    );
    let b1 = data(1_000_000, 3);
    let (s, t) = put(&server.url, &bob.log(&b1, "1"), b1);
    assert_eq!(s, 201, "{t}");
    let b2 = data(1_000_000, 4);
    let (s, t) = put(&server.url, &bob.log(&b2, "2"), b2);
    assert_eq!(s, 507, "a full store: {t}");
    assert!(
        t.contains("full") && t.contains("--artifact-quota-bytes"),
        "{t}"
    );
    // Signatures are still logged.
    for i in 0..20 {
        bob.log(format!("after {i}").as_bytes(), &format!("3.{i}"));
    }
    let left = files_in(&artifacts);
    assert_eq!(left.len(), 2, "only the two stored artifacts: {left:?}");
    // The usage survives a restart: a new upload is still refused.
    drop(server);
    let server = start();
    let bob = Publisher {
        url: server.url.clone(),
        ..bob
    };
    let b3 = data(1_000_000, 5);
    let (s, t) = put(&server.url, &bob.log(&b3, "4"), b3);
    assert_eq!(s, 507, "still full after a restart: {t}");
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The artifact store on an 8 MiB tmpfs with a quota larger than that
/// disk: once the disk is full an upload gets 507, no partial file stays,
/// and the log keeps taking entries. Skipped where tmpfs cannot be mounted
/// (the quota test above covers the quota itself).
#[test]
fn a_full_artifact_disk_answers_507_and_the_log_keeps_logging() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let _mount = match Tmpfs::mount(&artifacts, "8m") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("SKIP: cannot mount a tmpfs (needs root): {e}");
            return;
        }
    };
    let server = LogServer::start(
        &dir.path().join("log"),
        &ServerOptions {
            extra_args: vec!["--artifact-dir".into(), artifacts.display().to_string()],
            ..ServerOptions::default()
        },
    );
    let alice = Publisher::claim(&server, "alice");
    let mut statuses = Vec::new();
    for i in 0..4u64 {
        let a = data(3 << 20, 10 + i);
        let (s, t) = put(&server.url, &alice.log(&a, &format!("1.{i}")), a);
        statuses.push(s);
        if s != 201 {
            assert_eq!(s, 507, "a full disk: {t}");
            assert!(t.contains("full"), "{t}");
        }
        alice.log(format!("after {i}").as_bytes(), &format!("2.{i}"));
    }
    assert_eq!(&statuses[..2], [201, 201], "{statuses:?}");
    assert!(statuses[2..].iter().all(|s| *s == 507), "{statuses:?}");
    let left = files_in(&artifacts);
    assert_eq!(left.len(), 2, "only the stored artifacts: {left:?}");
}

fn serve_with_token(dir: &Path, token: &str) -> std::process::Output {
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, token).unwrap();
    Command::new(bin("sealwax-log"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.join("log"))
        .args(["--listen", "127.0.0.1:0", "--origin", "sealwax.test/log"])
        .arg("--admin-token-file")
        .arg(&token_file)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The server refuses to start with the old compose example's token or a
/// short one, and says how to make a good one.
#[test]
fn weak_admin_tokens_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for token in [
        "replace-me-with-a-long-random-token\n",
        "s3cret-token",
        "0123456789abcdef0123456789abcde",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let out = serve_with_token(dir.path(), token);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {token:?}");
        assert!(
            err.contains("head -c 32 /dev/urandom"),
            "{token:?}: no advice on making a token: {err}"
        );
    }
}

/// deploy/compose.yaml is valid YAML, ships no fixed admin token, and
/// makes one on first start.
#[test]
fn compose_file_parses_and_generates_its_admin_token() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/compose.yaml");
    let check = r#"
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
init = s["admin-token"]
assert "/dev/urandom" in " ".join(map(str, init["entrypoint"] + init["command"])), init
log = s["log"]
assert log["depends_on"]["admin-token"]["condition"] == "service_completed_successfully", log
assert "--admin-token-file" in log["command"], log
assert "secrets" not in c, "a fixed admin token file is shipped"
print("ok")
"#;
    let out = match Command::new("python3")
        .args(["-c", check])
        .arg(&path)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIP: python3 is not available: {e}");
            return;
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named 'yaml'") {
        eprintln!("SKIP: python3 has no yaml module");
        return;
    }
    assert!(out.status.success(), "deploy/compose.yaml: {err}");
}
