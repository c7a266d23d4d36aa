//! The handler-test harness: the real router over a given storage, driven
//! with `tower::ServiceExt::oneshot`, and entry builders.
#![allow(dead_code, reason = "each test binary uses only part of the harness")]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http_body_util::BodyExt;
use rand::rngs::OsRng;
use sealwax_log::datadir::LogKey;
use sealwax_log::sequencer::SequencerConfig;
use sealwax_log::storage::{MemoryStorage, Storage};
use sealwax_log::{app, AppOptions, AppState};
use sealwax_proto::checkpoint::{open_checkpoint, Checkpoint};
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
};
use sealwax_proto::merkle::{self, leaf_hash};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::Hash;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

pub const ORIGIN: &str = "test.example/log";
pub const TOKEN: &str = "s3cret-admin-token";

pub struct TestLog {
    pub state: AppState,
    pub router: Router,
    pub key: LogKey,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    /// Asserts an error status with a JSON `error` message and returns the message.
    pub fn error(&self, status: StatusCode) -> String {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let v = self.json();
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {v}"))
            .to_string()
    }
}

pub fn options() -> AppOptions {
    AppOptions {
        admin_token: Some(TOKEN.to_string()),
        sequencer: SequencerConfig {
            batch_size: 256,
            batch_wait: Duration::from_millis(1),
            queue_capacity: 1024,
            verifiers: 0,
            directory_window: sealwax_log::sequencer::DEFAULT_DIRECTORY_WINDOW,
        },
        ..AppOptions::default()
    }
}

impl TestLog {
    pub fn new() -> TestLog {
        TestLog::with(Arc::new(MemoryStorage::new()), options())
    }

    pub fn with(storage: Arc<dyn Storage>, opts: AppOptions) -> TestLog {
        TestLog::with_key(storage, opts, LogKey::generate(ORIGIN).unwrap())
    }

    pub fn with_key(storage: Arc<dyn Storage>, opts: AppOptions, key: LogKey) -> TestLog {
        let state = AppState::start(storage, key.clone(), opts).expect("start");
        TestLog {
            router: app(state.clone()),
            state,
            key,
        }
    }

    pub async fn call(&self, req: Request<Body>) -> Answer {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.call(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_raw(&self, body: impl Into<Body>, token: Option<&str>) -> Answer {
        let mut req = Request::post("/v1/entries").header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.call(req.body(body.into()).unwrap()).await
    }

    pub async fn submit_bytes(&self, bytes: &[u8], token: Option<&str>) -> Answer {
        let body = serde_json::json!({ "entry": B64.encode(bytes) }).to_string();
        self.post_raw(body, token).await
    }

    pub async fn submit(&self, e: &Entry) -> Answer {
        self.submit_bytes(&e.to_bytes(), None).await
    }

    /// Submits and asserts success; checks the answer's proof against its checkpoint.
    pub async fn accept(&self, e: &Entry) -> Value {
        let a = self.submit(e).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&a.body)
        );
        let v = a.json();
        self.check_submit_answer(&e.to_bytes(), &v);
        v
    }

    pub fn check_submit_answer(&self, bytes: &[u8], v: &Value) {
        let (cp, _) = open_checkpoint(
            v["checkpoint"].as_str().unwrap(),
            ORIGIN,
            &self.key.verifier(),
        )
        .expect("the checkpoint verifies with the log key");
        let leaf = leaf_hash(bytes);
        assert_eq!(v["leaf_hash"], hex::encode(leaf));
        let proof = hashes(&v["inclusion_proof"]);
        merkle::verify_inclusion(
            &leaf,
            v["index"].as_u64().unwrap(),
            cp.size,
            &proof,
            &cp.root,
        )
        .expect("the inclusion proof verifies against the checkpoint");
    }

    pub async fn checkpoint(&self) -> Checkpoint {
        let a = self.get("/checkpoint").await;
        assert_eq!(a.status, StatusCode::OK);
        let text = String::from_utf8(a.body).unwrap();
        open_checkpoint(&text, ORIGIN, &self.key.verifier())
            .expect("checkpoint verifies")
            .0
    }
}

pub fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .expect("array of hashes")
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h.as_str().unwrap(), &mut out).unwrap();
            out
        })
        .collect()
}

pub fn new_key() -> SecretKey {
    SecretKey::generate(&mut OsRng)
}

pub fn claim(publisher: &str, sk: &SecretKey) -> Entry {
    Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, publisher, sk).unwrap())
}

/// `publisher` registers `key`, authorised by its key `by`.
pub fn chain(publisher: &str, key: &SecretKey, by: &SecretKey) -> Entry {
    Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, publisher, key, by).unwrap())
}

/// `publisher` revokes `key` as compromised, authorised by its key `by`.
pub fn compromised(publisher: &str, key: &SecretKey, by: &SecretKey) -> Entry {
    Entry::KeyRevocation(
        KeyRevocation::by_key(
            ORIGIN,
            publisher,
            key.public_key(),
            RevocationReason::Compromised,
            by,
        )
        .unwrap(),
    )
}

pub fn release(publisher: &str, package: &str, version: &str, data: &[u8]) -> Release {
    Release {
        origin: ORIGIN.into(),
        publisher: publisher.into(),
        package: package.into(),
        version: version.into(),
        sha256: Sha256::digest(data).into(),
    }
}

pub fn signature(
    sk: &SecretKey,
    publisher: &str,
    package: &str,
    version: &str,
    data: &[u8],
) -> Entry {
    Entry::Signature(
        SignatureEntry::sign(
            sk,
            &release(publisher, package, version, data),
            prehash(data),
        )
        .unwrap(),
    )
}
