//! The JSON bodies of the HTTP API (`sealwax_proto::wire`): each type
//! round-trips, keeps the field names `docs/API.md` gives, reads what the
//! log sends, and refuses a hash that is not 64 lowercase hex digits,
//! naming the field.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sealwax_proto::merkle::{leaf_hash, verify_inclusion};
use sealwax_proto::wire::{
    self, ArtifactAnswer, ConsistencyAnswer, EntryAnswer, ErrorBody, Health, InclusionAnswer,
    KeyEventAnswer, PublisherKeysAnswer, ReleaseAnswer, ReleaseRecordAnswer, SignatureAnswer,
    SignaturesAnswer, SubmitAnswer, SubmitBody,
};
use sealwax_proto::{Error, Hash};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// SHA-256 of the empty string.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The RFC 9162 leaf hash of the empty entry: SHA-256 of the byte 0x00.
const EMPTY_LEAF: &str = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d";

fn h(n: u8) -> Hash {
    [n; 32]
}

fn hash_of(hex_digits: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut out).unwrap();
    out
}

fn key_event() -> KeyEventAnswer {
    KeyEventAnswer {
        index: 3,
        kind: "registration".into(),
        key: "RWQBAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSor".into(),
        key_id: "0807060504030201".into(),
        key_hash: h(7),
        authorization: "chain".into(),
        authorized_by: Some(h(8)),
        reason: None,
        entry: "AAEC".into(),
        inclusion_proof: vec![h(1), h(2)],
    }
}

/// `text` decoded as a `T`, as the client decodes the log's answers.
fn from_json<T: DeserializeOwned>(text: &[u8]) -> Result<T, Error> {
    wire::decode(&mut serde_json::Deserializer::from_slice(text))
}

/// `value` as JSON, and back.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> Value {
    let text = serde_json::to_vec(value).unwrap();
    let back: T = from_json(&text).unwrap();
    assert_eq!(&back, value, "{}", String::from_utf8_lossy(&text));
    serde_json::from_slice(&text).unwrap()
}

/// The object's field names, sorted.
fn fields(v: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

#[test]
fn submissions_entries_and_proofs_round_trip_with_the_documented_field_names() {
    let v = round_trip(&SubmitBody {
        entry: "AAEC".into(),
    });
    assert_eq!(v, json!({"entry": "AAEC"}));

    let v = round_trip(&SubmitAnswer {
        index: 5,
        leaf_hash: h(1),
        checkpoint: "o\n6\nAA==\n\n— o sig\n".into(),
        inclusion_proof: vec![h(2), h(3)],
        duplicate: true,
    });
    let mut want = vec![
        "index",
        "leaf_hash",
        "checkpoint",
        "inclusion_proof",
        "duplicate",
    ];
    want.sort_unstable();
    assert_eq!(fields(&v), want);
    assert_eq!(v["leaf_hash"], hex::encode(h(1)));
    assert_eq!(
        v["inclusion_proof"],
        json!([hex::encode(h(2)), hex::encode(h(3))])
    );

    let v = round_trip(&EntryAnswer {
        index: 0,
        entry: "AAEC".into(),
        leaf_hash: h(4),
    });
    assert_eq!(fields(&v), ["entry", "index", "leaf_hash"]);

    let v = round_trip(&InclusionAnswer {
        index: 1,
        tree_size: 2,
        leaf_hash: h(5),
        proof: vec![h(6)],
    });
    assert_eq!(fields(&v), ["index", "leaf_hash", "proof", "tree_size"]);

    let v = round_trip(&ConsistencyAnswer {
        from: 1,
        to: 2,
        proof: vec![],
    });
    assert_eq!(v, json!({"from": 1, "to": 2, "proof": []}));
}

#[test]
fn key_histories_round_trip_with_the_documented_field_names() {
    let v = round_trip(&key_event());
    assert_eq!(
        fields(&v),
        [
            "authorization",
            "authorized_by",
            "entry",
            "inclusion_proof",
            "index",
            "key",
            "key_hash",
            "key_id",
            "kind",
            "reason",
        ]
    );
    assert_eq!(v["authorized_by"], hex::encode(h(8)));
    assert_eq!(v["reason"], Value::Null);

    let revocation = KeyEventAnswer {
        kind: "revocation".into(),
        authorization: "operator".into(),
        authorized_by: None,
        reason: Some("compromised".into()),
        ..key_event()
    };
    let v = round_trip(&revocation);
    assert_eq!(v["authorized_by"], Value::Null, "null, not left out: {v}");
    assert_eq!(v["reason"], "compromised");

    let page = PublisherKeysAnswer {
        publisher: "alice".into(),
        tree_size: 9,
        checkpoint: "cp".into(),
        events: vec![key_event(), revocation],
        next: Some(1000),
        record: None,
        directory_proof: None,
    };
    let v = round_trip(&page);
    assert_eq!(
        fields(&v),
        ["checkpoint", "events", "next", "publisher", "tree_size"]
    );
    let last = round_trip(&PublisherKeysAnswer {
        next: None,
        ..page.clone()
    });
    assert!(
        last.get("next").is_none(),
        "the last page has no next: {last}"
    );

    let mut dir = sealwax_proto::directory::Directory::new();
    dir.insert([7; 32], [8; 32]);
    let (_, proof) = dir.prove(&[9; 32]);
    let proven = round_trip(&PublisherKeysAnswer {
        record: Some("AQID".into()),
        directory_proof: Some(proof.clone()),
        ..page
    });
    assert_eq!(proven["record"], "AQID");
    assert_eq!(proven["directory_proof"], proof.to_base64());

    let release = ReleaseAnswer {
        publisher: "alice".into(),
        package: "tool".into(),
        version: "1.0".into(),
        tree_size: 9,
        checkpoint: "cp".into(),
        record: Some(ReleaseRecordAnswer {
            index: 3,
            sha256: [0xab; 32],
        }),
        directory_proof: proof,
    };
    let v = round_trip(&release);
    assert_eq!(v["record"]["sha256"], "ab".repeat(32));
    let absent = round_trip(&ReleaseAnswer {
        record: None,
        ..release
    });
    assert_eq!(
        absent["record"],
        Value::Null,
        "null, not left out: {absent}"
    );
}

#[test]
fn lookups_uploads_health_and_errors_round_trip_with_the_documented_field_names() {
    let v = round_trip(&SignaturesAnswer {
        signatures: vec![SignatureAnswer {
            index: 2,
            publisher: "alice".into(),
            package: "demo".into(),
            version: "1.0".into(),
            sha256: h(9),
            key_hash: h(10),
            entry: "AAEC".into(),
        }],
    });
    assert_eq!(
        fields(&v["signatures"][0]),
        [
            "entry",
            "index",
            "key_hash",
            "package",
            "publisher",
            "sha256",
            "version"
        ]
    );

    let v = round_trip(&ArtifactAnswer {
        sha256: h(11),
        size: 12,
    });
    assert_eq!(v, json!({"sha256": hex::encode(h(11)), "size": 12}));

    let v = round_trip(&Health {
        status: "ok".into(),
        tree_size: 3,
    });
    assert_eq!(v, json!({"status": "ok", "tree_size": 3}));

    let v = round_trip(&ErrorBody {
        error: "no such entry".into(),
    });
    assert_eq!(v, json!({"error": "no such entry"}));
}

#[test]
fn a_key_history_as_the_log_sends_it_parses() {
    let text = format!(
        r#"{{
  "publisher": "alice",
  "tree_size": 2,
  "checkpoint": "sealwax.test/log\n2\nAAAA\n\n— sealwax.test/log abcd\n",
  "events": [
    {{"index": 0, "kind": "registration", "key": "RWQ=", "key_id": "0102030405060708",
      "key_hash": "{EMPTY_SHA256}", "authorization": "claim", "authorized_by": null,
      "reason": null, "entry": "AAEC", "inclusion_proof": ["{EMPTY_LEAF}"]}},
    {{"index": 1, "kind": "revocation", "key": "RWQ=", "key_id": "0102030405060708",
      "key_hash": "{EMPTY_SHA256}", "authorization": "key", "authorized_by": "{EMPTY_SHA256}",
      "reason": "retired", "entry": "AAED", "inclusion_proof": ["{EMPTY_LEAF}"]}}
  ]
}}"#
    );
    let page: PublisherKeysAnswer = from_json(text.as_bytes()).unwrap();
    assert_eq!(page.publisher, "alice");
    assert_eq!(page.next, None);
    assert_eq!(page.events.len(), 2);
    let (reg, rev) = (&page.events[0], &page.events[1]);
    assert_eq!(reg.key_hash, hash_of(EMPTY_SHA256));
    assert_eq!(reg.authorized_by, None);
    assert_eq!(reg.inclusion_proof, [hash_of(EMPTY_LEAF)]);
    assert_eq!(rev.authorized_by, Some(hash_of(EMPTY_SHA256)));
    assert_eq!(rev.reason.as_deref(), Some("retired"));
}

#[test]
fn a_submission_answer_as_the_log_sends_it_parses() {
    let text = format!(
        r#"{{"index":0,"leaf_hash":"{EMPTY_LEAF}","checkpoint":"o\n1\nAA==\n","inclusion_proof":[],"duplicate":false}}"#
    );
    let a: SubmitAnswer = from_json(text.as_bytes()).unwrap();
    assert_eq!(a.leaf_hash, hash_of(EMPTY_LEAF));
    assert!(a.inclusion_proof.is_empty());
    assert!(!a.duplicate);
    // What goes out is what came in, byte for byte.
    assert_eq!(serde_json::to_string(&a).unwrap(), text);
}

/// `GET /v1/publishers/alice/keys` as sealwax-log answered it before the
/// server used these types (a registration, and a signature logged after).
const REAL_KEY_HISTORY: &str = r#"{"publisher":"alice","tree_size":2,"checkpoint":"cmp.test/log\n2\nxOcHjoUWcoTbYcNNOg9+GGy525Pc9Sa7OFVLC7YrMQY=\n\n— cmp.test/log S9YxQvsreSUPEyBMJ/VKrfaUHnK4UGhG2M0HBqhVCURSFWk+L5s8h7TJ524UyjXK0FwFq4aCqQhrNaSu+mw0w1gASQA=\n","events":[{"index":0,"kind":"registration","key":"RWTIXV3OPOz47rm4DDXMsNZ/QvzgnjX98plSduwTjiFFSSTygDZfzlQy","key_id":"EEF8EC3CCE5D5DC8","key_hash":"62513923a01ff962baa16955f8cfa32df89fd64a32434e7eac06bf2b57a0921a","authorization":"claim","authorized_by":null,"reason":null,"entry":"AQEFYWxpY2XIXV3OPOz47rm4DDXMsNZ/QvzgnjX98plSduwTjiFFSSTygDZfzlQyIfwExZCm1MVeGMdSR5XzgBosml5xb7ZJnuKGNoWS+F60RrMNDBkcq7CxVfyqqxsitxKw0lPSaHZjmr0APH7rDgA=","inclusion_proof":["98afa6f712ce571aa8a7cf1af97e09669013434fa46b859f1c80632662c59013"]}]}"#;

/// `GET /v1/signatures?publisher=alice&package=demo` from the same log.
const REAL_SIGNATURES: &str = r#"{"signatures":[{"index":1,"publisher":"alice","package":"demo","version":"1.0","sha256":"24e1e4fc63ffe3eff5d479dc0a335d3b1c273559e33efb88538783c9efbed408","key_hash":"62513923a01ff962baa16955f8cfa32df89fd64a32434e7eac06bf2b57a0921a","entry":"AQPIXV3OPOz47rm4DDXMsNZ/QvzgnjX98plSduwTjiFFSSTygDZfzlQyhevKLfTfGh2/JfOq2H1PW8usk0X8GZBdA9dId7FlGFCUVbip5E5yNNbwbffBAQXNG2P8YO2qYsfM9YgbLsx6YQTPEjhWUJfftAEBfLjkfsOICUalBbogktUykQqEBFRz0xQ18iHvGpu4kfpphTncQzzq13FxpZp98AsHdPXFpwwAj3NlYWx3YXgvdjEgb3JpZ2luPWNtcC50ZXN0L2xvZyBwdWJsaXNoZXI9YWxpY2UgcGFja2FnZT1kZW1vIHZlcnNpb249MS4wIHNoYTI1Nj0yNGUxZTRmYzYzZmZlM2VmZjVkNDc5ZGMwYTMzNWQzYjFjMjczNTU5ZTMzZWZiODg1Mzg3ODNjOWVmYmVkNDA48hq1MzKa0LPMpB4crSlVH152MfQu8qeXs8EVjbbrlcpJushPpAQX3jrqSQhlsfg8XC5C5djr111zdEx3+WdVCg=="}]}"#;

#[test]
fn real_answers_of_the_log_parse_and_are_written_back_byte_for_byte() {
    let page: PublisherKeysAnswer = from_json(REAL_KEY_HISTORY.as_bytes()).unwrap();
    assert_eq!(serde_json::to_string(&page).unwrap(), REAL_KEY_HISTORY);
    let sigs: SignaturesAnswer = from_json(REAL_SIGNATURES.as_bytes()).unwrap();
    assert_eq!(serde_json::to_string(&sigs).unwrap(), REAL_SIGNATURES);

    // The typed hashes are the right bytes: the registration's proof
    // leads to the checkpoint's root, past the signature's leaf.
    let reg = &page.events[0];
    let entry = B64.decode(&reg.entry).unwrap();
    let signature = B64.decode(&sigs.signatures[0].entry).unwrap();
    assert_eq!(reg.inclusion_proof, [leaf_hash(&signature)]);
    let root_line = page.checkpoint.lines().nth(2).unwrap();
    let root: Hash = B64.decode(root_line).unwrap().try_into().unwrap();
    verify_inclusion(
        &leaf_hash(&entry),
        reg.index,
        page.tree_size,
        &reg.inclusion_proof,
        &root,
    )
    .unwrap();
    assert_eq!(sigs.signatures[0].key_hash, reg.key_hash);
}

/// The message of the error `decode` gives for `text` as a `T`.
fn refusal<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
    match from_json::<T>(text.as_bytes()) {
        Err(e @ Error::BadJson { .. }) => e.to_string(),
        other => panic!("{text} was not refused as bad JSON: {other:?}"),
    }
}

#[test]
fn a_bad_hex_hash_is_refused_naming_the_field() {
    let upper = EMPTY_LEAF.to_uppercase();
    for (bad, why) in [
        ("zz", "not hex"),
        (&EMPTY_LEAF[..62], "too short"),
        (upper.as_str(), "uppercase"),
    ] {
        let text = format!(r#"{{"index":1,"tree_size":2,"leaf_hash":"{bad}","proof":[]}}"#);
        let msg = refusal::<InclusionAnswer>(&text);
        assert!(msg.starts_with("leaf_hash: "), "{why}: {msg}");
        assert!(msg.contains("64 lowercase hex digits"), "{why}: {msg}");
        assert!(msg.contains(bad), "{why}: says what came: {msg}");
    }

    let text = format!(r#"{{"from":1,"to":3,"proof":["{EMPTY_LEAF}","00"]}}"#);
    let msg = refusal::<ConsistencyAnswer>(&text);
    assert!(msg.starts_with("proof[1]: "), "{msg}");

    let mut ev = serde_json::to_value(key_event()).unwrap();
    ev["authorized_by"] = json!("not a hash");
    let page = json!({"publisher": "a", "tree_size": 1, "checkpoint": "c", "events": [ev]});
    let msg = refusal::<PublisherKeysAnswer>(&page.to_string());
    assert!(msg.starts_with("events[0].authorized_by: "), "{msg}");

    let text = r#"{"sha256": 7, "size": 1}"#;
    let msg = refusal::<ArtifactAnswer>(text);
    assert!(msg.starts_with("sha256: "), "{msg}");
}

#[test]
fn a_long_bad_hash_is_not_echoed() {
    let long = "g".repeat(10_000);
    let text = format!(r#"{{"sha256":"{long}","size":1}}"#);
    let msg = refusal::<ArtifactAnswer>(&text);
    assert!(msg.starts_with("sha256: "), "{msg}");
    assert!(msg.contains("10000 bytes"), "{msg}");
    assert!(msg.len() < 200, "{msg}");
}

#[test]
fn fields_the_client_does_not_rely_on_may_be_left_out() {
    // A fake log's key event: just what the installer reads.
    let text = format!(
        r#"{{"index":4,"kind":"registration","entry":"AAEC","inclusion_proof":["{EMPTY_LEAF}"]}}"#
    );
    let ev: KeyEventAnswer = from_json(text.as_bytes()).unwrap();
    assert_eq!(ev.index, 4);
    assert_eq!(ev.inclusion_proof, [hash_of(EMPTY_LEAF)]);
    assert_eq!(ev.authorized_by, None);

    let text = format!(
        r#"{{"index":0,"leaf_hash":"{EMPTY_LEAF}","checkpoint":"c","inclusion_proof":[]}}"#
    );
    let a: SubmitAnswer = from_json(text.as_bytes()).unwrap();
    assert!(!a.duplicate);

    let text = format!(
        r#"{{"index":0,"publisher":"p","package":"n","version":"1","sha256":"{EMPTY_SHA256}","entry":"AAEC"}}"#
    );
    let s: SignatureAnswer = from_json(text.as_bytes()).unwrap();
    assert_eq!(s.sha256, hash_of(EMPTY_SHA256));

    // What the client relies on may not.
    let msg = refusal::<SubmitAnswer>(r#"{"index":0,"checkpoint":"c","inclusion_proof":[]}"#);
    assert!(msg.contains("missing field `leaf_hash`"), "{msg}");
    let msg = refusal::<KeyEventAnswer>(r#"{"index":4,"kind":"registration","entry":"AAEC"}"#);
    assert!(msg.contains("missing field `inclusion_proof`"), "{msg}");
}

#[test]
fn a_body_that_is_not_json_is_refused_without_a_path() {
    let msg = refusal::<ErrorBody>("<html>");
    assert!(
        msg.starts_with("expected value"),
        "no path for the whole body: {msg}"
    );
    let msg = refusal::<ErrorBody>(r#"{"message":"x"}"#);
    assert!(msg.starts_with("missing field `error`"), "{msg}");
}
