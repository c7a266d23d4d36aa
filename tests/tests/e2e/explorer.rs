//! The web explorer in a real browser: a live `sealwax-log` with a history
//! made by the real `sealwax` binary (rotation, retirement, an operator key,
//! a compromise), its pages opened in headless Debian chromium by
//! `tests/browser/explore.mjs` (playwright-core). Every page must verify in
//! the browser; through a proxy that flips one byte of a proof or of the
//! checkpoint signature the page must say it does not, and why.
//!
//! Skips with a message when chromium, node or `tests/browser/node_modules`
//! are missing, and fails then under `CI=true` (`.ci/run` installs them:
//! `npm ci --prefix tests/browser`).

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sealwax_tests::{generated_pub, path_str as s};
use serde_json::Value;

use crate::scenarios::{generate, published, Story};
use crate::splitview::{client_with_policy, wait_cosigned, Setup};

/// The browser test package, when chromium, node and its node_modules are there.
fn browser() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !Path::new(&chromium).exists() {
        Some(format!("{chromium} (apt-get install chromium)"))
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node (apt-get install nodejs)".into())
    } else if !dir.join("node_modules/playwright-core").exists() {
        Some(format!(
            "playwright-core (npm ci --prefix {})",
            dir.display()
        ))
    } else {
        None
    };
    match missing {
        // CI installs all three (.ci/run): there a missing one is a failure,
        // not a test that quietly did nothing.
        Some(what) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the explorer's browser test needs {what}")
        }
        Some(what) => {
            eprintln!("skipping the explorer's browser test: {what} is missing");
            None
        }
        None => Some(dir),
    }
}

/// Opens `urls` in chromium; one JSON result per URL (see explore.mjs).
fn open(dir: &Path, urls: &[String], shots: Option<&Path>) -> Vec<Value> {
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("explore.mjs"));
    if let Some(d) = shots {
        cmd.arg("--screenshot-dir").arg(d);
    }
    let out = cmd.args(urls).output().expect("run node");
    assert!(
        out.status.success(),
        "explore.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "explore.mjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// What the tampering proxy changes in the material an explorer page embeds.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    /// One bit of the first inclusion proof's first hash.
    InclusionProof,
    /// One bit of the checkpoint's signature.
    CheckpointSignature,
    /// One bit of the last byte of the first key directory proof.
    DirectoryProof,
    /// Not the material: the key table shows a compromised key as active.
    KeyState,
    /// One bit of every witness cosignature of the checkpoint.
    Cosignatures,
    /// Not the material: the release table shows another version.
    ReleaseRow,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    tamper: Tamper,
}

fn flip_b64(v: &mut Value, at_end: bool) {
    let mut raw = B64.decode(v.as_str().expect("base64 text")).unwrap();
    let i = if at_end { raw.len() - 1 } else { 0 };
    raw[i] ^= 0x01;
    *v = Value::String(B64.encode(raw));
}

fn tamper(m: &mut Value, t: Tamper) {
    match t {
        Tamper::InclusionProof => flip_b64(&mut m["inclusion"][0]["proof"][0], false),
        Tamper::DirectoryProof => flip_b64(&mut m["directory"][0]["proof"], true),
        Tamper::KeyState | Tamper::ReleaseRow => {}
        Tamper::Cosignatures => {
            let note = m["checkpoint"].as_str().unwrap().to_string();
            let (text, sigs) = note.split_once("\n\n").unwrap();
            let mut out = format!("{text}\n\n");
            for line in sigs.lines() {
                let (head, sig) = line.rsplit_once(' ').unwrap();
                let mut sig = Value::String(sig.to_string());
                if head.contains("witness.test/") {
                    flip_b64(&mut sig, true);
                }
                out.push_str(&format!("{head} {}\n", sig.as_str().unwrap()));
            }
            m["checkpoint"] = Value::String(out);
        }
        Tamper::CheckpointSignature => {
            let note = m["checkpoint"].as_str().unwrap().to_string();
            let (head, sig) = note.trim_end().rsplit_once(' ').unwrap();
            let mut sig = Value::String(sig.to_string());
            flip_b64(&mut sig, true);
            m["checkpoint"] = Value::String(format!("{head} {}\n", sig.as_str().unwrap()));
        }
    }
}

/// Forwards to the log; in an HTML page, edits the embedded material.
async fn proxy(State(p): State<Proxy>, uri: Uri) -> axum::response::Response {
    let path = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let resp = match reqwest::get(format!("{}{path}", p.upstream)).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut headers = HeaderMap::new();
    for h in [header::CONTENT_TYPE, header::CONTENT_SECURITY_POLICY] {
        if let Some(v) = resp.headers().get(h.as_str()) {
            headers.insert(h, v.as_bytes().try_into().unwrap());
        }
    }
    let mut body = resp.bytes().await.unwrap_or_default().to_vec();
    let open = r#"<script id="sealwax-material" type="application/json">"#;
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Tamper::KeyState = p.tamper {
        let lie = text.replace("<strong>compromised</strong>", "<strong>active</strong>");
        body = lie.into_bytes();
    } else if let Tamper::ReleaseRow = p.tamper {
        let lie = text.replacen(
            r#"<td class="version">2.0.0</td>"#,
            r#"<td class="version">2.0.1</td>"#,
            1,
        );
        body = lie.into_bytes();
    } else if let Some(start) = text.find(open) {
        let start = start + open.len();
        let end = start + text[start..].find("</script>").unwrap();
        let mut m: Value = serde_json::from_str(&text[start..end]).unwrap();
        tamper(&mut m, p.tamper);
        let json = serde_json::to_string(&m)
            .unwrap()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        body = format!("{}{json}{}", &text[..start], &text[end..]).into_bytes();
    }
    (status, headers, Bytes::from(body)).into_response()
}

fn serve(rt: &tokio::runtime::Runtime, app: axum::Router) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Where the screenshots go: `SEALWAX_TEST_ARTIFACTS`, else tests/browser/artifacts.
fn artifacts(dir: &Path) -> PathBuf {
    std::env::var_os("SEALWAX_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("artifacts"))
}

#[test]
fn explorer_pages_verify_in_chromium_and_a_flipped_byte_is_caught() {
    let Some(dir) = browser() else { return };
    // A real history, through the real sealwax binary.
    let st = Story::with_operator();
    let alice = st.client("alice");
    let k1 = generate(&alice, "alice");
    published(&alice, &st.artifact("v1.tgz", 5_000, 1), "1.0.0", None);
    let out = alice.ok(&["keys", "rotate", "--publisher", "alice", "-W"]);
    let k2 = generated_pub(&out);
    published(&alice, &st.artifact("v2.tgz", 5_000, 2), "2.0.0", None);
    alice.ok(&["keys", "revoke", s(&k1)]);
    st.register_rogue_key(&alice);
    alice.ok(&["keys", "rotate", "--publisher", "alice", "-W"]);
    published(&alice, &st.artifact("v3.tgz", 5_000, 3), "3.0.0", None);
    alice.ok(&["keys", "revoke", s(&k2), "--compromised"]);
    let sigs: Value = reqwest::blocking::get(format!(
        "{}/v1/signatures?publisher=alice&package=hello",
        st.server.url
    ))
    .unwrap()
    .json()
    .unwrap();
    let sig = sigs["signatures"][0]["index"].as_u64().unwrap();

    let url = &st.server.url;
    let pages = [
        "/".to_string(),
        "/explore/publishers/alice".into(),
        "/explore/publishers/alice#phone".into(),
        format!("/explore/entries/{sig}"),
        "/explore/entries/0".into(),
        "/explore/search?q=alice/hello".into(),
        "/explore/publishers/nobody".into(),
    ];
    let urls: Vec<String> = pages.iter().map(|p| format!("{url}{p}")).collect();
    let shots = artifacts(&dir);
    let results = open(&dir, &urls, Some(&shots));
    assert_eq!(results.len(), pages.len());
    for r in &results {
        assert_eq!(r["verified"], "true", "{r:#}");
        assert!(r["offsite"].as_array().unwrap().is_empty(), "{r:#}");
        let status = r["status"].as_u64().unwrap();
        for msg in r["console"].as_array().unwrap() {
            let msg = msg.as_str().unwrap();
            assert!(
                status == 404 && msg.contains("status of 404"),
                "a console error: {msg}\n{r:#}"
            );
        }
        assert!(r["bytes"].as_u64().unwrap() < 100 * 1024, "{r:#}");
        eprintln!(
            "explorer: {} verified in {} ms ({} bytes)",
            r["url"], r["ms"], r["bytes"]
        );
    }
    let publisher = results[1]["reason"].as_str().unwrap();
    assert!(
        publisher.contains("4 key directory proof(s)")
            && publisher.contains("3 release(s) shown match their proofs"),
        "the key state and each of the three releases: {publisher}"
    );
    eprintln!("explorer: screenshots in {}", shots.display());

    // One flipped byte, and the page says false, and why.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cases = [
        (
            Tamper::InclusionProof,
            format!("/explore/entries/{sig}"),
            "does not lead to the checkpoint's root hash",
        ),
        (
            Tamper::InclusionProof,
            "/explore/publishers/alice".to_string(),
            "does not lead to the checkpoint's root hash",
        ),
        (
            Tamper::CheckpointSignature,
            "/".to_string(),
            "signature does not verify against the log key",
        ),
        (
            Tamper::DirectoryProof,
            "/explore/publishers/alice".to_string(),
            "directory proof",
        ),
        (
            Tamper::KeyState,
            "/explore/publishers/alice".to_string(),
            "the record as compromised",
        ),
        (
            Tamper::ReleaseRow,
            "/explore/publishers/alice".to_string(),
            "shows another release in the row proven for alice/hello@2.0.0",
        ),
    ];
    for (t, page, why) in cases {
        let bad = serve(
            &rt,
            axum::Router::new().fallback(proxy).with_state(Proxy {
                upstream: url.clone(),
                tamper: t,
            }),
        );
        let r = &open(&dir, &[format!("{bad}{page}")], None)[0];
        assert_eq!(r["verified"], "false", "{t:?} on {page}: {r:#}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("\u{2718} Verification failed") && reason.contains(why),
            "{t:?} on {page}: {reason}"
        );
    }
}

/// A witnessed log (three witnesses, 2-of-3): every page checks the
/// cosignatures against the policy the front page shows, and a proxy that
/// spoils them gets "false".
#[test]
fn explorer_pages_check_the_cosignatures_against_the_witness_policy() {
    let Some(dir) = browser() else { return };
    let t = Setup::new();
    let policy = t.policy("policy", "2", &t.ports);
    let _witnesses: Vec<_> = (0..3)
        .map(|i| t.witness(i, t.ports[i], &t.path(&format!("w{}", i + 1))))
        .collect();
    let log = t.log("log", &policy);
    let alice = client_with_policy(&t.path("alice"), &log, &policy);
    generate(&alice, "alice");
    let v1 = sealwax_tests::write_artifact(&t.path("one.tar"), 2000, 1);
    published(&alice, &v1, "1.0.0", None);
    wait_cosigned(&log);

    let front = reqwest::blocking::get(format!("{}/", log.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(front.contains("Witness policy"), "{front}");
    assert!(front.contains("2 of (w1, w2, w3)"), "{front}");
    for key in &t.keys {
        assert!(front.contains(key.as_str()), "the front page shows {key}");
    }

    let pages = ["/", "/explore/publishers/alice", "/explore/entries/1"];
    let urls: Vec<String> = pages.iter().map(|p| format!("{}{p}", log.url)).collect();
    for r in open(&dir, &urls, None) {
        assert_eq!(r["verified"], "true", "{r:#}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.contains("cosigned by a quorum of the witness policy"),
            "{reason}"
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bad = serve(
        &rt,
        axum::Router::new().fallback(proxy).with_state(Proxy {
            upstream: log.url.clone(),
            tamper: Tamper::Cosignatures,
        }),
    );
    for page in ["/", "/explore/publishers/alice"] {
        let r = &open(&dir, &[format!("{bad}{page}")], None)[0];
        assert_eq!(r["verified"], "false", "{page}: {r:#}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.contains("not cosigned by a quorum of the log's witnesses")
                && reason.contains("failed: w"),
            "{page}: {reason}"
        );
    }
}
