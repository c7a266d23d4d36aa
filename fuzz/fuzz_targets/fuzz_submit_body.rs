//! The `POST /v1/entries` body, `{"entry": "<base64 entry bytes>"}`, decoded
//! the way the log server's handler does: JSON, then standard base64, then
//! the size limit, `Entry::parse` and the canonical-encoding check. The
//! server's body struct is private to its crate (and the server crate pulls in
//! RocksDB), so the target mirrors it with a local struct of the same shape.
#![no_main]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sealwax_proto::entry::{Entry, MAX_ENTRY_SIZE};
use serde::{Deserialize, Serialize};

/// Same shape and serde attributes as the server's `SubmitBody`.
#[derive(Deserialize, Serialize)]
struct SubmitBody {
    entry: String,
}

/// What the handler accepts, or `None` where it answers 4xx.
fn decode(raw: &[u8]) -> Option<(Vec<u8>, Entry)> {
    let body: SubmitBody = serde_json::from_slice(raw).ok()?;
    let bytes = B64.decode(body.entry.as_bytes()).ok()?;
    if bytes.len() > MAX_ENTRY_SIZE {
        return None;
    }
    let entry = Entry::parse(&bytes).ok()?;
    (entry.to_bytes() == bytes).then_some((bytes, entry))
}

fuzz_target!(|data: &[u8]| {
    let Some((bytes, entry)) = decode(data) else {
        return;
    };
    let body = SubmitBody {
        entry: B64.encode(&bytes),
    };
    let again = serde_json::to_vec(&body).expect("the body serialises");
    let (bytes2, entry2) = decode(&again).expect("a re-encoded accepted body is accepted");
    assert_eq!(bytes2, bytes);
    assert_eq!(entry2, entry);
});
