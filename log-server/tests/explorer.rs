//! The web explorer's pages, driven through the real router with `oneshot`:
//! every page renders, carries the strict CSP, escapes hostile strings, and
//! embeds material that verifies (checked here with `sealwax-proto`, as
//! `verify.js` checks it in the browser).

mod common;

use axum::http::{header, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use sealwax_proto::checkpoint::open_checkpoint;
use sealwax_proto::directory::{self, publisher_key, release_key, DirectoryProof};
use sealwax_proto::entry::{Entry, KeyRegistration, KeyRevocation, RevocationReason};
use sealwax_proto::keys::record_hash;
use sealwax_proto::merkle;
use sealwax_proto::minisign::SignatureBox;
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use serde_json::Value;

/// The page's body as text, after checking it is HTML with the explorer's headers.
fn page(a: &Answer, status: StatusCode) -> String {
    let body = String::from_utf8(a.body.clone()).expect("UTF-8 page");
    assert_eq!(a.status, status, "{body}");
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.len() < 100 * 1024, "a page of {} bytes", body.len());
    // No external request: every src and href is this origin's.
    for attr in ["src=\"", "href=\""] {
        for part in body.split(attr).skip(1) {
            assert!(
                part.starts_with('/') || part.starts_with('#') || part.starts_with('?'),
                "an off-site {attr}{}",
                &part[..part.len().min(60)]
            );
        }
    }
    assert!(
        !body.contains("<script>") && !body.contains("onclick") && !body.contains("style=\""),
        "no inline script or style"
    );
    body
}

/// The material the page embeds for verify.js.
fn material(body: &str) -> Value {
    let start = body
        .find(r#"<script id="sealwax-material" type="application/json">"#)
        .expect("the page embeds its material");
    let rest = &body[start..];
    let json = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(json).expect("the material is JSON")
}

/// Verifies a page's material as verify.js does; returns (inclusion proofs, directory proofs) checked.
fn verify(log: &TestLog, m: &Value) -> (usize, usize) {
    assert_eq!(m["log_key"], log.key.vkey());
    let cp = open_checkpoint(
        m["checkpoint"].as_str().unwrap(),
        ORIGIN,
        &log.key.verifier(),
    )
    .expect("the embedded checkpoint verifies")
    .0;
    let b64 = |v: &Value| B64.decode(v.as_str().unwrap()).unwrap();
    let hash = |v: &Value| -> [u8; 32] { b64(v).try_into().unwrap() };
    let inclusion = m["inclusion"].as_array().unwrap();
    for item in inclusion {
        assert_eq!(item["tree_size"], cp.size);
        let proof: Vec<[u8; 32]> = item["proof"].as_array().unwrap().iter().map(hash).collect();
        merkle::verify_inclusion(
            &merkle::leaf_hash(&b64(&item["entry"])),
            item["index"].as_u64().unwrap(),
            cp.size,
            &proof,
            &cp.root,
        )
        .unwrap_or_else(|e| panic!("inclusion of {}: {e}", item["index"]));
    }
    let items = m["directory"].as_array().unwrap();
    let root = cp.directory_root().unwrap();
    for item in items {
        let proof = DirectoryProof::from_base64(item["proof"].as_str().unwrap()).unwrap();
        let name = item["name"].as_str().unwrap();
        let (key, value) = match item["kind"].as_str().unwrap() {
            "publisher" => (
                publisher_key(name),
                item.get("record").map(|r| record_hash(&b64(r))),
            ),
            "release" => {
                let (p, rest) = name.split_once('/').unwrap();
                let (n, v) = rest.split_once('@').unwrap();
                let rn = ReleaseName {
                    publisher: p.into(),
                    package: n.into(),
                    version: v.into(),
                };
                let value = item.get("index").map(|i| {
                    let mut sha = [0u8; 32];
                    hex::decode_to_slice(item["sha256"].as_str().unwrap(), &mut sha).unwrap();
                    ReleaseRecord {
                        index: i.as_u64().unwrap(),
                        sha256: sha,
                    }
                    .record_hash()
                });
                (release_key(&rn), value)
            }
            k => panic!("unknown kind {k}"),
        };
        directory::verify(
            &root.expect("a directory root"),
            &key,
            value.as_ref(),
            &proof,
        )
        .unwrap_or_else(|e| panic!("directory proof of {name}: {e}"));
    }
    (inclusion.len(), items.len())
}

fn retired(publisher: &str, key: &sealwax_proto::minisign::SecretKey) -> Entry {
    Entry::KeyRevocation(
        KeyRevocation::by_key(
            ORIGIN,
            publisher,
            key.public_key(),
            RevocationReason::Retired,
            key,
        )
        .unwrap(),
    )
}

/// alice: claim k1; k2 chained from k1; k3 from k2; releases by k1 and k3;
/// k2 retired; an operator key k4; k1 revoked as compromised by k4 (k3,
/// chained through k1, is suspended).
async fn history(log: &TestLog) -> [sealwax_proto::minisign::SecretKey; 4] {
    let [k1, k2, k3, k4] = [new_key(), new_key(), new_key(), new_key()];
    log.accept(&claim("alice", &k1)).await;
    log.accept(&signature(&k1, "alice", "tool", "1.0", b"one"))
        .await;
    log.accept(&chain("alice", &k2, &k1)).await;
    log.accept(&chain("alice", &k3, &k2)).await;
    log.accept(&signature(&k3, "alice", "tool", "2.0", b"two"))
        .await;
    log.accept(&signature(&k3, "alice", "lib", "0.1", b"lib"))
        .await;
    log.accept(&retired("alice", &k2)).await;
    let op = Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "alice", &k4).unwrap());
    let a = log.submit_bytes(&op.to_bytes(), Some(TOKEN)).await;
    assert_eq!(a.status, StatusCode::OK);
    log.accept(&compromised("alice", &k1, &k4)).await;
    [k1, k2, k3, k4]
}

#[tokio::test]
async fn the_front_page_shows_the_log_and_its_newest_entries_with_proofs() {
    let log = TestLog::new();
    history(&log).await;
    let body = page(&log.get("/").await, StatusCode::OK);
    assert!(body.contains(ORIGIN));
    assert!(body.contains(&log.key.vkey()));
    assert!(body.contains("Newest entries"));
    assert!(
        body.contains(r#"<main id="content" data-verified="pending">"#),
        "{body}"
    );
    assert!(body.contains(r#"<script src="/explore/verify.js" defer>"#));
    assert!(body.contains(r#"action="/explore/search""#));
    let m = material(&body);
    let served = String::from_utf8(log.get("/checkpoint").await.body).unwrap();
    assert_eq!(m["checkpoint"], served);
    assert_eq!(verify(&log, &m), (9, 0));
    assert_eq!(page(&log.get("/explore").await, StatusCode::OK), body);
}

#[tokio::test]
async fn the_publisher_page_shows_the_key_graph_states_and_releases_all_proven() {
    let log = TestLog::new();
    let [k1, k2, k3, k4] = history(&log).await;
    let body = page(&log.get("/explore/publishers/alice").await, StatusCode::OK);
    assert!(body.contains("4 key(s), 1 active"), "{body}");
    // k2, retired, is also suspended: its chain passes through k1.
    for (k, state) in [
        (&k1, "compromised"),
        (&k2, "suspended"),
        (&k3, "suspended"),
        (&k4, "active"),
    ] {
        let hash = hex::encode(k.public_key().key_hash());
        let row = body
            .split(&format!(r#"<tr id="key-{hash}""#))
            .nth(1)
            .unwrap_or_else(|| panic!("no row for {state}"));
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("<strong>{state}</strong>")),
            "{state}: {row}"
        );
    }
    // k3's chain: k1 (claim) -> k2 (chain) -> k3 (chain).
    let k3_row = body
        .split(&format!(
            r#"<tr id="key-{}""#,
            hex::encode(k3.public_key().key_hash())
        ))
        .nth(1)
        .unwrap();
    let k3_row =
        &k3_row[k3_row.find("<ol class=\"chain\">").unwrap()..k3_row.find("</ol>").unwrap()];
    let ids = [&k1, &k2, &k3].map(|k| k.public_key().key_id_hex());
    let at = ids.map(|id| k3_row.find(&id).unwrap());
    assert!(at[0] < at[1] && at[1] < at[2], "{k3_row}");
    assert!(body.contains(&format!(
        "chain: <a href=\"#key-{}\">",
        hex::encode(k2.public_key().key_hash())
    )));
    assert!(
        body.contains("retired at <a href=\"/explore/entries/6\">#6</a>"),
        "{body}"
    );
    assert!(
        body.contains("\u{2691} operator"),
        "the operator key is marked"
    );
    assert!(
        body.contains("<th scope=\"row\">tool</th>")
            && body.contains("<td class=\"version\">2.0</td>")
    );
    assert!(body.contains("<th scope=\"row\">lib</th>"));
    let m = material(&body);
    assert_eq!(
        verify(&log, &m),
        (6, 4),
        "6 key events, the key state, 3 releases"
    );
    assert!(
        m["directory"][0]["record"].is_string(),
        "a small record is embedded"
    );
}

#[tokio::test]
async fn a_publisher_without_keys_is_a_404_whose_absence_is_proven() {
    let log = TestLog::new();
    history(&log).await;
    let body = page(
        &log.get("/explore/publishers/bob").await,
        StatusCode::NOT_FOUND,
    );
    assert!(body.contains("has no keys in this log"), "{body}");
    let m = material(&body);
    assert_eq!(m["directory"][0]["present"], false);
    assert!(m["directory"][0].get("record").is_none());
    assert_eq!(verify(&log, &m), (0, 1));
}

#[tokio::test]
async fn keys_events_and_releases_are_paged() {
    let log = TestLog::new();
    let k0 = new_key();
    log.accept(&claim("big", &k0)).await;
    let mut by = k0;
    for _ in 0..60 {
        let k = new_key();
        log.accept(&chain("big", &k, &by)).await;
        by = k;
    }
    for v in 0..130 {
        log.accept(&signature(
            &by,
            "big",
            "pkg",
            &format!("1.{v}"),
            format!("{v}").as_bytes(),
        ))
        .await;
    }
    let body = page(&log.get("/explore/publishers/big").await, StatusCode::OK);
    assert_eq!(body.matches(r#"<tr id="key-"#).count(), 50);
    assert!(
        body.contains(r#"href="/explore/publishers/big?keys=1#keys-h""#),
        "a second page of keys"
    );
    let m = material(&body);
    // The key state, and each of the 25 releases shown.
    assert_eq!(verify(&log, &m), (25, 26));
    assert_eq!(body.matches(r#"<td class="version">1."#).count(), 25);
    assert_eq!(body.matches("<tr data-release=\"big/pkg@1.").count(), 25);
    assert!(body.contains("?events_from=25#ev-h"), "later events");
    // Versions sort by length, then bytes: 1.0 to 1.9, then 1.10 to 1.24.
    let next = "/explore/publishers/big?after_package=pkg&after_version=1.24";
    assert!(body.contains(&next.replace('&', "&amp;")), "more releases");

    let body = page(
        &log.get("/explore/publishers/big?keys=1&events_from=25")
            .await,
        StatusCode::OK,
    );
    assert_eq!(body.matches(r#"<tr id="key-"#).count(), 11);
    assert_eq!(verify(&log, &material(&body)), (25, 26));
    // The last page: 1.100 to 1.129 sort after 1.99.
    let last = "/explore/publishers/big?after_package=pkg&after_version=1.99";
    let body = page(&log.get(last).await, StatusCode::OK);
    assert_eq!(body.matches(r#"<td class="version">1."#).count(), 25);
    let body = page(
        &log.get("/explore/publishers/big?after_package=pkg&after_version=1.124")
            .await,
        StatusCode::OK,
    );
    assert_eq!(body.matches(r#"<td class="version">1."#).count(), 5);
    assert!(!body.contains("More releases"));
}

#[tokio::test]
async fn an_entry_page_decodes_the_entry_and_gives_its_minisig() {
    let log = TestLog::new();
    let [k1, ..] = history(&log).await;
    let body = page(&log.get("/explore/entries/1").await, StatusCode::OK);
    assert!(body.contains("A signature of publisher"));
    assert!(body.contains(&k1.public_key().key_id_hex()));
    let m = material(&body);
    assert_eq!(
        verify(&log, &m),
        (1, 1),
        "its inclusion and its release binding"
    );
    assert_eq!(m["directory"][0]["name"], "alice/tool@1.0");
    let minisig = log.get("/explore/entries/1.minisig").await;
    assert_eq!(minisig.status, StatusCode::OK);
    let text = String::from_utf8(minisig.body).unwrap();
    let sig = SignatureBox::parse(&text).expect("a stock .minisig");
    sig.verify_prehashed(&k1.public_key(), &sealwax_proto::minisign::prehash(b"one"))
        .expect("it verifies the artifact");
    // The page shows the same text (escaped as HTML).
    assert!(
        body.contains(text.lines().nth(2).unwrap()),
        "the trusted comment line"
    );

    let body = page(&log.get("/explore/entries/0").await, StatusCode::OK);
    assert!(
        body.contains("claim (the publisher&#39;s first key)")
            || body.contains("claim (the publisher's first key)")
    );
    assert_eq!(verify(&log, &material(&body)), (1, 0));
    let a = log.get("/explore/entries/0.minisig").await;
    assert!(page(&a, StatusCode::NOT_FOUND).contains("not a signature"));
    let a = log.get("/explore/entries/99").await;
    assert!(page(&a, StatusCode::NOT_FOUND).contains("no entry at index 99"));
}

#[tokio::test]
async fn search_finds_publishers_releases_hashes_and_indexes() {
    let log = TestLog::new();
    history(&log).await;
    let a = log.get("/explore/search?q=alice").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[header::LOCATION], "/explore/publishers/alice");
    let a = log.get("/explore/search?q=3").await;
    assert_eq!(a.headers[header::LOCATION], "/explore/entries/3");
    let body = page(
        &log.get("/explore/search?q=alice/tool").await,
        StatusCode::OK,
    );
    assert!(body.contains("2 signatures of alice/tool"), "{body}");
    assert_eq!(verify(&log, &material(&body)), (2, 0));
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"lib"));
    let body = page(
        &log.get(&format!("/explore/search?q={sha}")).await,
        StatusCode::OK,
    );
    assert!(body.contains("1 signatures of the artifact"), "{body}");
    assert!(body.contains("lib@0.1"));
}

#[tokio::test]
async fn hostile_strings_are_escaped_in_error_pages() {
    let log = TestLog::new();
    history(&log).await;
    for uri in [
        "/explore/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/explore/search?q=%3Cimg%20src=x%20onerror=alert(1)%3E/pkg",
        "/explore/publishers/%3Cimg%20src=x%20onerror=alert(1)%3E",
        "/explore/entries/%3Cb%3Ebold%3C%2Fb%3E",
    ] {
        let a = log.get(uri).await;
        let body = page(&a, StatusCode::BAD_REQUEST);
        assert!(
            !body.contains("<script>alert") && !body.contains("<img") && !body.contains("<b>"),
            "{uri}: {body}"
        );
        assert!(
            body.contains("&lt;"),
            "{uri}: the hostile text is shown, escaped: {body}"
        );
        assert!(
            body.contains(r#"data-verified="none""#),
            "an error page verifies nothing"
        );
    }
}

#[tokio::test]
async fn the_verifier_and_style_sheet_are_served_same_origin() {
    let log = TestLog::new();
    let a = log.get("/explore/verify.js").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let js = String::from_utf8(a.body).unwrap();
    assert!(js.contains("crypto.subtle") || js.contains("subtle()"));
    assert!(
        !js.contains("http://") && !js.contains("https://"),
        "no external requests"
    );
    let a = log.get("/explore/style.css").await;
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(!String::from_utf8(a.body).unwrap().contains("url("));
}
