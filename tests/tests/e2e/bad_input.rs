//! End-to-end tests: a table of bad input over HTTP; each case must get a 4xx, a JSON error and leave the tree unchanged.
//!
//! The requests are written on a raw TCP socket, so that paths reach the
//! server exactly as written (an HTTP client library would resolve
//! `/tile/../checkpoint` to `/checkpoint` before sending it) and headers can
//! be as malformed as an attacker likes.
//!
//! Every case states the exact status it expects and a word the error must
//! contain, so that a message that does not say what was wrong fails.
//!
//! Not in the table: signify input where a key is expected. No endpoint of
//! the log takes a key as text (entries carry the raw 40 key bytes, which are
//! the same for signify and Minisign keys); the client, which reads key
//! files, refuses signify keys and is tested there.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
    MAX_ENTRY_SIZE,
};
use sealwax_proto::minisign::{prehash, PublicKey, SecretKey, SignatureBox};
use sealwax_tests::{LogServer, ServerOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};

const TOKEN: &str = "bad-input-admin-token-4f1c9e";

/// A request, written byte for byte as given.
struct Req {
    method: &'static str,
    path: String,
    headers: Vec<String>,
    body: Vec<u8>,
}

/// An answer.
struct Resp {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

fn get(path: impl Into<String>) -> Req {
    Req {
        method: "GET",
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn post_raw(body: impl Into<Vec<u8>>) -> Req {
    Req {
        method: "POST",
        path: "/v1/entries".into(),
        headers: vec!["Content-Type: application/json".into()],
        body: body.into(),
    }
}

/// `POST /v1/entries` with `{"entry": base64(bytes)}`.
fn post_bytes(bytes: &[u8]) -> Req {
    post_raw(serde_json::json!({ "entry": B64.encode(bytes) }).to_string())
}

fn post_entry(e: &Entry) -> Req {
    post_bytes(&e.to_bytes())
}

/// `POST /v1/entries` with an `Authorization` header line as given.
fn post_with_auth(e: &Entry, authorization: &str) -> Req {
    let mut r = post_entry(e);
    r.headers.push(format!("Authorization: {authorization}"));
    r
}

fn put(path: impl Into<String>, body: impl Into<Vec<u8>>) -> Req {
    Req {
        method: "PUT",
        path: path.into(),
        headers: vec!["Content-Type: application/octet-stream".into()],
        body: body.into(),
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the whole answer.
fn send_once(url: &str, req: &Req) -> std::io::Result<Resp> {
    let authority = url.strip_prefix("http://").expect("http URL");
    let mut s = TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(20)))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        req.method,
        req.path,
        req.body.len()
    );
    for h in &req.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    // The server may answer (and stop reading) before a refused body is all
    // sent; what it answered is still readable.
    let _ = s.write_all(&req.body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// Sends a request, retrying on a reset connection (a refused request
/// changes nothing, so sending it again is harmless).
fn send(url: &str, req: &Req) -> Resp {
    let mut last = None;
    for _ in 0..3 {
        match send_once(url, req) {
            Ok(r) => return r,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} {}: {:?}", req.method, req.path, last);
}

fn parse_response(raw: &[u8]) -> std::io::Result<Resp> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers in the answer"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut content_type = String::new();
    let mut chunked = false;
    for l in lines {
        let (name, value) = l.split_once(':').unwrap_or((l, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.trim().to_string(),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("bad chunk"))?;
            let size = std::str::from_utf8(&rest[..eol])
                .ok()
                .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| bad("bad chunk size"))?;
            rest = &rest[eol + 2..];
            if size == 0 {
                break;
            }
            if rest.len() < size + 2 {
                return Err(bad("short chunk"));
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    Ok(Resp {
        status,
        content_type,
        body,
    })
}

/// The tree size of the log's current checkpoint.
fn tree_size(url: &str) -> u64 {
    let r = send(url, &get("/checkpoint"));
    assert_eq!(r.status, 200, "GET /checkpoint");
    String::from_utf8_lossy(&r.body)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("the checkpoint's second line is the tree size")
}

/// Submits an entry that must be accepted (the state the cases run against).
fn accept(url: &str, e: &Entry) {
    let r = send(url, &post_entry(e));
    assert_eq!(
        r.status,
        200,
        "setup entry {} refused: {}",
        e.kind_name(),
        String::from_utf8_lossy(&r.body)
    );
}

/// One row of the table.
struct Case {
    /// What is wrong with the request.
    desc: &'static str,
    req: Req,
    /// The exact status expected (always 4xx).
    status: u16,
    /// A word the error message must contain (case-insensitive); `a|b` means either.
    word: String,
}

fn case(desc: &'static str, req: Req, status: u16, word: impl Into<String>) -> Case {
    Case {
        desc,
        req,
        status,
        word: word.into(),
    }
}

/// Runs every case and returns a description of each failed check.
fn run(url: &str, cases: Vec<Case>) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        assert!(
            (400..500).contains(&c.status),
            "{}: the table must expect a 4xx",
            c.desc
        );
        let before = tree_size(url);
        let r = send(url, &c.req);
        let after = tree_size(url);
        let body = String::from_utf8_lossy(&r.body).into_owned();
        eprintln!("{} -> {} {body}", c.desc, r.status);
        let mut fail = |what: String| failures.push(format!("{}: {what}", c.desc));
        if r.status != c.status {
            fail(format!(
                "status {} (expected {}), body {body}",
                r.status, c.status
            ));
        }
        if !(400..500).contains(&r.status) {
            fail(format!("status {} is not a 4xx", r.status));
        }
        if !r.content_type.starts_with("application/json") {
            fail(format!("content type {:?} is not JSON", r.content_type));
        }
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(Value::Object(m)) => {
                let msg = m.get("error").and_then(Value::as_str).unwrap_or("");
                if m.len() != 1 || msg.trim().is_empty() {
                    fail(format!(
                        "the body is not {{\"error\": \"<message>\"}}: {body}"
                    ));
                }
                let lower = msg.to_lowercase();
                if !c.word.split('|').any(|w| lower.contains(&w.to_lowercase())) {
                    fail(format!("the error does not say {:?}: {msg:?}", c.word));
                }
            }
            _ => fail(format!("the body is not a JSON object: {body:?}")),
        }
        if after != before {
            fail(format!("the tree grew from {before} to {after}"));
        }
    }
    failures
}

/// The log the cases run against, and the keys and entries they are made from.
struct World {
    server: LogServer,
    _dir: tempfile::TempDir,
    /// alice's active key (claimed her name).
    alice: SecretKey,
    /// alice's second key, registered by chain from `alice`, then retired.
    alice_old: SecretKey,
    /// bob's active key.
    bob: SecretKey,
    /// The artifact alice signed (its signature is logged).
    artifact: Vec<u8>,
    /// The registration of `alice_old`.
    alice_old_registration: Entry,
    /// Tree size after setup.
    size: u64,
}

fn key() -> SecretKey {
    SecretKey::generate(&mut rand::rngs::OsRng)
}

fn release(origin: &str, publisher: &str, package: &str, version: &str, data: &[u8]) -> Release {
    Release {
        origin: origin.to_string(),
        publisher: publisher.to_string(),
        package: package.to_string(),
        version: version.to_string(),
        sha256: Sha256::digest(data).into(),
    }
}

fn signature(sk: &SecretKey, r: &Release, data: &[u8]) -> Entry {
    Entry::Signature(SignatureEntry::sign(sk, r, prehash(data)).expect("sign"))
}

fn setup() -> World {
    let dir = tempfile::tempdir().unwrap();
    let server = LogServer::start(
        &dir.path().join("log"),
        &ServerOptions {
            admin_token: Some(TOKEN.into()),
            ..ServerOptions::default()
        },
    );
    let url = server.url.clone();
    let o = server.origin.clone();
    let (alice, alice_old, bob) = (key(), key(), key());
    accept(
        &url,
        &Entry::KeyRegistration(KeyRegistration::claim(&o, "alice", &alice).unwrap()),
    );
    accept(
        &url,
        &Entry::KeyRegistration(KeyRegistration::claim(&o, "bob", &bob).unwrap()),
    );
    let alice_old_registration =
        Entry::KeyRegistration(KeyRegistration::chain(&o, "alice", &alice_old, &alice).unwrap());
    accept(&url, &alice_old_registration);
    accept(
        &url,
        &Entry::KeyRevocation(
            KeyRevocation::by_key(
                &o,
                "alice",
                alice_old.public_key(),
                RevocationReason::Retired,
                &alice,
            )
            .unwrap(),
        ),
    );
    let artifact = b"alice's tool, version 1.0.0".to_vec();
    accept(
        &url,
        &signature(
            &alice,
            &release(&o, "alice", "tool", "1.0.0", &artifact),
            &artifact,
        ),
    );
    let size = tree_size(&url);
    assert_eq!(size, 5, "setup logs five entries");
    World {
        server,
        _dir: dir,
        alice,
        alice_old,
        bob,
        artifact,
        alice_old_registration,
        size,
    }
}

/// The table. Rows are grouped by what they attack.
fn cases(w: &World) -> Vec<Case> {
    let o = w.server.origin.as_str();
    let n = w.size;
    let data = b"alice's tool, version 2.0.0".to_vec();
    let good_sig = signature(
        &w.alice,
        &release(o, "alice", "tool", "2.0.0", &data),
        &data,
    );
    let good = good_sig.to_bytes();
    let Entry::Signature(good_s) = &good_sig else {
        unreachable!()
    };
    let with_byte = |i: usize, b: u8| {
        let mut v = good.clone();
        v[i] = b;
        v
    };
    let edited_comment = |from: &str, to: &str| {
        let mut s = good_s.clone();
        assert!(s.trusted_comment.contains(from));
        s.trusted_comment = s.trusted_comment.replace(from, to);
        Entry::Signature(s)
    };
    let claim_dave = KeyRegistration::claim(o, "dave", &key()).unwrap();
    let mut forged_possession = claim_dave.clone();
    forged_possession.possession[0] ^= 1;
    let claim_bytes = Entry::KeyRegistration(claim_dave.clone()).to_bytes();
    let mut uppercase_publisher = claim_bytes.clone();
    uppercase_publisher[3] = b'D'; // version, kind, length, then "dave"
    let mut bad_auth_code = claim_bytes.clone();
    *bad_auth_code.last_mut().unwrap() = 7;
    let mut bad_reason = Entry::KeyRevocation(
        KeyRevocation::by_key(
            o,
            "alice",
            w.alice.public_key(),
            RevocationReason::Retired,
            &w.alice,
        )
        .unwrap(),
    )
    .to_bytes();
    bad_reason[3 + "alice".len() + 40] = 9; // after version, kind, str8 publisher, key
    let operator_reg =
        Entry::KeyRegistration(KeyRegistration::operator(o, "alice", &key()).unwrap());
    let operator_rev = Entry::KeyRevocation(
        KeyRevocation::by_operator("alice", w.alice.public_key(), RevocationReason::Compromised)
            .unwrap(),
    );
    let stranger = key();

    // The legacy (`Ed`) signature of the public test vectors, carried in an
    // entry: the entry format has no algorithm field, so its fields are sent.
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/minisign");
    let read = |f: &str| std::fs::read(format!("{vectors}/{f}")).expect("minisign test vector");
    let legacy_box =
        SignatureBox::parse(&String::from_utf8(read("hello_world.txt.minisig")).unwrap()).unwrap();
    let legacy_key = PublicKey::parse(&String::from_utf8(read("minisign.pub")).unwrap()).unwrap();
    let legacy_vector = Entry::Signature(SignatureEntry {
        key: legacy_key,
        prehash: prehash(&read("hello_world.txt")),
        signature: legacy_box.signature,
        trusted_comment: legacy_box.trusted_comment.clone(),
        global_signature: legacy_box.global_signature,
    });

    let sha_logged = hex::encode(Sha256::digest(&w.artifact));
    let sha_unlogged = hex::encode(Sha256::digest(b"never signed"));
    let huge = "18446744073709551616";

    vec![
        // ----- the request body -----
        case("malformed JSON", post_raw(r#"{"entry": "AQ"#), 400, "JSON"),
        case("not JSON at all", post_raw("entry=AQ=="), 400, "JSON"),
        case("empty body", post_raw(""), 400, "JSON"),
        case("missing field", post_raw("{}"), 400, "entry"),
        case(
            "entry is a number",
            post_raw(r#"{"entry": 5}"#),
            400,
            "invalid type",
        ),
        case(
            "entry is an array",
            post_raw(r#"{"entry": ["AQ=="]}"#),
            400,
            "invalid type",
        ),
        case(
            "bad base64",
            post_raw(r#"{"entry": "not base64!"}"#),
            400,
            "base64",
        ),
        case(
            "URL-safe base64 alphabet",
            post_raw(r#"{"entry": "AQ-_"}"#),
            400,
            "base64",
        ),
        case("empty entry", post_bytes(b""), 400, "truncated"),
        case(
            "oversized body (129 KiB)",
            post_raw(format!(r#"{{"entry": "{}"}}"#, "A".repeat(129 * 1024))),
            413,
            "over",
        ),
        case(
            "oversized entry (65536 bytes)",
            post_bytes(&vec![1u8; MAX_ENTRY_SIZE + 1]),
            413,
            "65535",
        ),
        // ----- entry encoding -----
        case(
            "unknown entry version",
            post_bytes(&with_byte(0, 2)),
            400,
            "version",
        ),
        case(
            "unknown entry kind",
            post_bytes(&with_byte(1, 9)),
            400,
            "kind",
        ),
        case(
            "truncated entry",
            post_bytes(&good[..good.len() - 10]),
            400,
            "truncated",
        ),
        case(
            "trailing bytes after the entry",
            post_bytes(&[good.as_slice(), &[0]].concat()),
            400,
            "trailing",
        ),
        case(
            "unknown registration authorization",
            post_bytes(&bad_auth_code),
            400,
            "authorization",
        ),
        case(
            "unknown revocation reason",
            post_bytes(&bad_reason),
            400,
            "reason",
        ),
        case(
            "upper-case publisher name in a registration",
            post_bytes(&uppercase_publisher),
            400,
            "lowercase",
        ),
        case(
            "trusted comment that is not a sealwax statement",
            post_entry(&edited_comment("sealwax/v1 origin=", "sealwax/v2 origin=")),
            400,
            "sealwax/v1",
        ),
        case(
            "upper-case package name in the trusted comment",
            post_entry(&edited_comment("package=tool", "package=TOOL")),
            400,
            "package",
        ),
        // ----- signatures that do not verify -----
        case(
            "signature over another version (trusted comment edited)",
            post_entry(&edited_comment("version=2.0.0", "version=9.9.9")),
            400,
            "altered",
        ),
        case(
            "signature over another package (trusted comment edited)",
            post_entry(&edited_comment("package=tool", "package=tooo")),
            400,
            "altered",
        ),
        case(
            "signature over another artifact (prehash swapped)",
            post_entry(&Entry::Signature(SignatureEntry {
                prehash: prehash(b"something else"),
                ..good_s.clone()
            })),
            400,
            "does not match",
        ),
        case(
            "signature for another log origin",
            post_entry(&signature(
                &w.alice,
                &release("other.example/log", "alice", "tool", "2.0.0", &data),
                &data,
            )),
            400,
            o,
        ),
        case(
            "legacy Ed signature (the minisign test vector's fields)",
            post_entry(&legacy_vector),
            400,
            "sealwax publish",
        ),
        case(
            "forged proof of possession",
            post_entry(&Entry::KeyRegistration(forged_possession)),
            400,
            "possession",
        ),
        case(
            "registration made for another log origin",
            post_entry(&Entry::KeyRegistration(
                KeyRegistration::claim("other.example/log", "dave", &key()).unwrap(),
            )),
            400,
            "possession",
        ),
        // ----- keys the log does not accept -----
        case(
            "signature by a key not registered to the publisher",
            post_entry(&signature(
                &stranger,
                &release(o, "alice", "tool", "2.0.0", &data),
                &data,
            )),
            409,
            "not registered",
        ),
        case(
            "signature for an unknown publisher",
            post_entry(&signature(
                &stranger,
                &release(o, "nobody", "tool", "1.0.0", &data),
                &data,
            )),
            409,
            "no keys",
        ),
        case(
            "signature by another publisher's key",
            post_entry(&signature(
                &w.bob,
                &release(o, "alice", "tool", "2.0.0", &data),
                &data,
            )),
            409,
            "not registered",
        ),
        case(
            "signature by a revoked key",
            post_entry(&signature(
                &w.alice_old,
                &release(o, "alice", "tool", "2.0.0", &data),
                &data,
            )),
            409,
            "revoked",
        ),
        case(
            "re-registration of a revoked key (operator path)",
            post_with_auth(
                &Entry::KeyRegistration(
                    KeyRegistration::operator(o, "alice", &w.alice_old).unwrap(),
                ),
                &format!("Bearer {TOKEN}"),
            ),
            409,
            "revoked",
        ),
        case(
            "re-registration of a revoked key under a new name",
            post_entry(&Entry::KeyRegistration(
                KeyRegistration::claim(o, "mallory", &w.alice_old).unwrap(),
            )),
            409,
            "revoked",
        ),
        case(
            // Retired again (not escalated to compromised, which is allowed).
            "revocation of an already revoked key",
            post_entry(&Entry::KeyRevocation(
                KeyRevocation::by_key(
                    o,
                    "alice",
                    w.alice_old.public_key(),
                    RevocationReason::Retired,
                    &w.alice_old,
                )
                .unwrap(),
            )),
            409,
            "revoked",
        ),
        case(
            "revocation signed by a revoked key",
            post_entry(&Entry::KeyRevocation(
                KeyRevocation::by_key(
                    o,
                    "alice",
                    w.alice.public_key(),
                    RevocationReason::Retired,
                    &w.alice_old,
                )
                .unwrap(),
            )),
            409,
            "not an active key",
        ),
        case(
            "revocation of a key the publisher never had",
            post_entry(&Entry::KeyRevocation(
                KeyRevocation::by_key(
                    o,
                    "alice",
                    stranger.public_key(),
                    RevocationReason::Retired,
                    &stranger,
                )
                .unwrap(),
            )),
            409,
            "not registered",
        ),
        case(
            "revocation for an unknown publisher",
            post_entry(&Entry::KeyRevocation(
                KeyRevocation::by_key(
                    o,
                    "nobody",
                    stranger.public_key(),
                    RevocationReason::Retired,
                    &stranger,
                )
                .unwrap(),
            )),
            409,
            "no keys",
        ),
        // ----- taking over a name -----
        case(
            "claim of an already claimed publisher name",
            post_entry(&Entry::KeyRegistration(
                KeyRegistration::claim(o, "bob", &key()).unwrap(),
            )),
            409,
            "already claimed",
        ),
        case(
            "chain registration authorised by another publisher's key",
            post_entry(&Entry::KeyRegistration(
                KeyRegistration::chain(o, "alice", &key(), &w.bob).unwrap(),
            )),
            409,
            "not an active key",
        ),
        case(
            "chain registration authorised by a revoked key",
            post_entry(&Entry::KeyRegistration(
                KeyRegistration::chain(o, "alice", &key(), &w.alice_old).unwrap(),
            )),
            409,
            "not an active key",
        ),
        case(
            "claim of a new name with another publisher's active key",
            post_entry(&Entry::KeyRegistration(
                KeyRegistration::claim(o, "carol", &w.alice).unwrap(),
            )),
            409,
            "already registered",
        ),
        case(
            "revocation of alice's key signed by bob's key",
            post_entry(&Entry::KeyRevocation(
                KeyRevocation::by_key(
                    o,
                    "alice",
                    w.alice.public_key(),
                    RevocationReason::Compromised,
                    &w.bob,
                )
                .unwrap(),
            )),
            409,
            "not an active key",
        ),
        // ----- the operator path -----
        case(
            "operator registration without a token",
            post_entry(&operator_reg),
            401,
            "Authorization: Bearer",
        ),
        case(
            "operator registration with a wrong token",
            post_with_auth(&operator_reg, "Bearer not-the-token"),
            401,
            "wrong",
        ),
        case(
            "operator registration with a Basic Authorization header",
            post_with_auth(&operator_reg, "Basic YWRtaW46YWRtaW4="),
            401,
            "Authorization: Bearer",
        ),
        case(
            "operator registration with an empty Bearer header",
            post_with_auth(&operator_reg, "Bearer"),
            401,
            "Authorization: Bearer",
        ),
        case(
            "operator registration with the token but no scheme",
            post_with_auth(&operator_reg, TOKEN),
            401,
            "Authorization: Bearer",
        ),
        case(
            "operator revocation without a token",
            post_entry(&operator_rev),
            401,
            "Authorization: Bearer",
        ),
        case(
            "operator revocation with a wrong token",
            post_with_auth(&operator_rev, &format!("Bearer {TOKEN}x")),
            401,
            "wrong",
        ),
        // ----- proof parameters -----
        case(
            "inclusion: index = tree size",
            get(format!("/v1/proof/inclusion?index={n}&tree_size={n}")),
            400,
            "smaller than tree_size",
        ),
        case(
            "inclusion: tree_size beyond the log",
            get(format!("/v1/proof/inclusion?index=0&tree_size={}", n + 1)),
            400,
            "larger than the log",
        ),
        case(
            "inclusion: tree_size 0",
            get("/v1/proof/inclusion?index=0&tree_size=0"),
            400,
            "smaller than tree_size",
        ),
        case(
            "inclusion: index 2^64",
            get(format!("/v1/proof/inclusion?index={huge}&tree_size=1")),
            400,
            "index",
        ),
        case(
            "inclusion: negative index",
            get("/v1/proof/inclusion?index=-1&tree_size=1"),
            400,
            "index",
        ),
        case(
            "inclusion: non-numeric tree_size",
            get("/v1/proof/inclusion?index=0&tree_size=five"),
            400,
            "tree_size",
        ),
        case(
            "inclusion: tree_size missing",
            get("/v1/proof/inclusion?index=0"),
            400,
            "tree_size",
        ),
        case(
            "consistency: from > to",
            get("/v1/proof/consistency?from=3&to=2"),
            400,
            "must not be larger",
        ),
        case(
            "consistency: from 0",
            get(format!("/v1/proof/consistency?from=0&to={n}")),
            400,
            "at least 1",
        ),
        case(
            "consistency: to beyond the log",
            get(format!("/v1/proof/consistency?from=1&to={}", n + 1)),
            400,
            "larger than the log",
        ),
        case(
            "consistency: to 2^64",
            get(format!("/v1/proof/consistency?from=1&to={huge}")),
            400,
            "to",
        ),
        case(
            "consistency: to missing",
            get("/v1/proof/consistency?from=1"),
            400,
            "to",
        ),
        case(
            "entry index = tree size",
            get(format!("/v1/entries/{n}")),
            404,
            "no entry",
        ),
        case(
            "entry index 2^64",
            get(format!("/v1/entries/{huge}")),
            400,
            "not a number",
        ),
        case(
            "entry index negative",
            get("/v1/entries/-1"),
            400,
            "not a number",
        ),
        // ----- tile paths -----
        case(
            "tile: ../checkpoint",
            get("/tile/../checkpoint"),
            400,
            "level",
        ),
        case(
            "tile: encoded ../ traversal",
            get("/tile/0/..%2f..%2fetc"),
            400,
            "index element",
        ),
        case(
            "tile: .. inside the index",
            get("/tile/0/x001/../002"),
            400,
            "x",
        ),
        case(
            "tile: entries with no index",
            get("/tile/entries/.p/1"),
            400,
            "3 decimal digits",
        ),
        case(
            "tile: partial width 0",
            get("/tile/0/000.p/0"),
            400,
            "width",
        ),
        case(
            "tile: partial width 256",
            get("/tile/0/000.p/256"),
            400,
            "width",
        ),
        case(
            "tile: level with a leading zero",
            get("/tile/00/000"),
            400,
            "leading zeros",
        ),
        case(
            "tile: index of four digits",
            get("/tile/0/0001"),
            400,
            "3 decimal digits",
        ),
        case(
            "tile: redundant x000 element",
            get("/tile/0/x000/001"),
            400,
            "x000",
        ),
        case("tile: level 64", get("/tile/64/000"), 400, "0 to 63"),
        case(
            "tile: full tile of a small tree",
            get("/tile/0/000"),
            404,
            "no tile",
        ),
        case(
            "tile: partial tile wider than the tree",
            get(format!("/tile/entries/000.p/{}", n + 1)),
            404,
            "wider",
        ),
        // ----- artifacts -----
        case(
            "artifact PUT whose body has another hash",
            put(
                format!("/v1/artifacts/{sha_logged}"),
                b"not alice's tool".to_vec(),
            ),
            400,
            "exact artifact",
        ),
        case(
            "artifact PUT for a SHA-256 no logged signature names",
            put(
                format!("/v1/artifacts/{sha_unlogged}"),
                b"never signed".to_vec(),
            ),
            409,
            "log its signature first",
        ),
        case(
            "artifact PUT with a malformed SHA-256",
            put("/v1/artifacts/abc", b"x".to_vec()),
            400,
            "64 hex digits",
        ),
        case(
            "artifact GET of an unknown SHA-256",
            get(format!("/v1/artifacts/{sha_unlogged}")),
            404,
            "no artifact",
        ),
        // ----- lookups and routes -----
        case(
            "keys of an unknown publisher",
            get("/v1/publishers/nobody/keys"),
            404,
            "no keys",
        ),
        case(
            "keys of an invalid publisher name",
            get("/v1/publishers/Alice!/keys"),
            400,
            "lowercase",
        ),
        case(
            "signature lookup without a query",
            get("/v1/signatures"),
            400,
            "give either",
        ),
        case(
            "signature lookup by a malformed SHA-256",
            get("/v1/signatures?sha256=xyz"),
            400,
            "64 hex digits",
        ),
        case("unknown path", get("/v2/entries"), 404, "no such path"),
        case(
            "wrong method",
            Req {
                method: "DELETE",
                ..get("/checkpoint")
            },
            405,
            "method not allowed",
        ),
    ]
}

/// Rows that currently fail because of a defect outside this table; each
/// asserts the behaviour the spec asks for.
fn known_bug_cases(w: &World) -> Vec<Case> {
    let o = w.server.origin.as_str();
    let data = b"alice's tool, version 3.0.0".to_vec();
    // A legacy `Ed` signature made by alice's registered key over a proper
    // sealwax statement: the signature is over the file, not its BLAKE2b-512.
    let r = release(o, "alice", "tool", "3.0.0", &data);
    let comment = r.trusted_comment();
    let sig = w.alice.sign_raw(&data);
    let global = w
        .alice
        .sign_raw(&[sig.as_slice(), comment.as_bytes()].concat());
    let legacy = Entry::Signature(SignatureEntry {
        key: w.alice.public_key(),
        prehash: prehash(&data),
        signature: sig,
        trusted_comment: comment,
        global_signature: global,
    });
    let other_origin = release("other.example/log", "alice", "tool", "3.0.0", &data);
    vec![
        // The entry carries no algorithm, so the log cannot tell a legacy
        // signature from a corrupt one; its message should still name the
        // likely cause and the fix. Today: "the signature does not match this file and key".
        case(
            "legacy Ed signature by a registered key over a sealwax statement",
            post_entry(&legacy),
            400,
            "legacy|re-sign",
        ),
        // Today: "checkpoint is for origin ...": there is no checkpoint in a submission.
        case(
            "signature for another log origin names the signature, not a checkpoint",
            post_entry(&signature(&w.alice, &other_origin, &data)),
            400,
            "signature|signed",
        ),
        // Today: "Failed to deserialize query string: index: number too large
        // to fit in target type"; GET /v1/entries/<2^64> gives the range.
        case(
            "inclusion: index 2^64 gets the allowed range",
            get("/v1/proof/inclusion?index=18446744073709551616&tree_size=1"),
            400,
            "18446744073709551615|decimal integer",
        ),
    ]
}

#[test]
fn bad_input_table() {
    let w = setup();
    // A replayed submission is not an error: it names the first index.
    let again = send(&w.server.url, &post_entry(&w.alice_old_registration));
    assert_eq!(again.status, 200, "a replay is answered as a duplicate");
    let v: Value = serde_json::from_slice(&again.body).unwrap();
    assert_eq!(
        (v["index"].as_u64(), v["duplicate"].as_bool()),
        (Some(2), Some(true))
    );

    let cases = cases(&w);
    let count = cases.len();
    assert!(count >= 40, "the table has {count} cases");
    let failures = run(&w.server.url, cases);
    assert!(
        failures.is_empty(),
        "{} of {count} bad-input checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(tree_size(&w.server.url), w.size, "nothing was appended");
}

#[test]
fn bad_input_known_server_bugs() {
    let w = setup();
    let failures = run(&w.server.url, known_bug_cases(&w));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
