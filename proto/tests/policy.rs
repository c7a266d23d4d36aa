//! Witness policies (Sigsum's policy syntax): parsing, errors with line
//! numbers, and the quorum check on real signed and cosigned checkpoints.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::note::{CosignatureSigner, NoteSignature, NoteSigner};
use sealwax_proto::policy::{Policy, PolicyKey};
use sealwax_proto::Error;

const ORIGIN: &str = "example.com/log";

fn log_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[1; 32])).unwrap()
}

/// Witness `i`'s cosigner, named `w<i>.example`.
fn witness(i: u8) -> CosignatureSigner {
    CosignatureSigner::new(
        format!("w{i}.example"),
        SigningKey::from_bytes(&[10 + i; 32]),
    )
    .unwrap()
}

fn hex_key(w: &CosignatureSigner) -> String {
    hex::encode(w.verifier().public_key().as_bytes())
}

/// The log's checkpoint of size 5, cosigned by the witnesses `by`.
fn cosigned(by: &[u8]) -> String {
    let cp = Checkpoint::new(ORIGIN, 5, [7; 32]);
    let mut note = sign_checkpoint(&cp, &log_signer()).unwrap();
    let text = cp.to_body();
    for &i in by {
        note.push_str(&format!(
            "{}\n",
            witness(i)
                .cosign(&text, 1_700_000_000 + u64::from(i))
                .unwrap()
        ));
    }
    note
}

/// `log` line plus witnesses w1..w4 (w1, w2 as verifier key lines, w3, w4 as hex).
fn header() -> String {
    let log = hex::encode(log_signer().verifier().public_key().as_bytes());
    format!(
        "# test policy\nlog {log} https://log.example\n\twitness W1 {}  https://w1.example\nwitness W2 {}\nwitness W3 {}\nwitness W4 {}\n",
        witness(1).verifier(),
        witness(2).verifier(),
        hex_key(&witness(3)),
        hex_key(&witness(4)),
    )
}

fn policy(rest: &str) -> Policy {
    Policy::parse(&format!("{}{rest}", header())).unwrap_or_else(|e| panic!("{rest}: {e}"))
}

#[test]
fn a_policy_parses_with_comments_tabs_urls_and_both_key_forms() {
    let p = policy("group G 2 W1 W2 W3\n\n  # a comment\nquorum G\n");
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.logs()[0].url.as_deref(), Some("https://log.example"));
    assert!(matches!(p.logs()[0].key, PolicyKey::Raw(_)));
    let w = p.witnesses();
    assert_eq!(w.len(), 4);
    assert_eq!(
        (w[0].name.as_str(), w[0].url.as_deref()),
        ("W1", Some("https://w1.example"))
    );
    assert!(matches!(w[0].key, PolicyKey::Named(_)));
    assert!(matches!(w[2].key, PolicyKey::Raw(_)));
    // A log given as a verifier key line.
    let text = format!("log {}\nquorum none\n", log_signer().verifier());
    let p = Policy::parse(&text).unwrap();
    assert!(matches!(p.logs()[0].key, PolicyKey::Named(_)));
}

#[test]
fn malformed_policies_are_refused_with_their_line_number() {
    let h = header();
    let at = h.lines().count() + 1;
    let cases: Vec<(&str, String, usize)> = vec![
        ("unknown keyword", "logs x\n".into(), at),
        ("short hex key", format!("log {}\n", "a".repeat(63)), at),
        ("not a key", "witness X nokey\n".into(), at),
        (
            "a log key as a witness key",
            format!("witness X {}\n", log_signer().verifier()),
            at,
        ),
        (
            "a witness key as a log key",
            format!("log {}\n", witness(5).verifier()),
            at,
        ),
        (
            "duplicate log",
            h.lines().nth(1).unwrap().to_string() + "\n",
            at,
        ),
        (
            "duplicate witness name",
            format!("witness W1 {}\n", hex_key(&witness(5))),
            at,
        ),
        (
            "duplicate witness key",
            format!("witness W9 {}\n", hex_key(&witness(1))),
            at,
        ),
        ("too many items", "witness W9 aa bb cc\n".into(), at),
        ("undefined member", "group G any W1 W9\n".into(), at),
        (
            "member twice",
            "group G any W1\ngroup H any W1 W2\n".into(),
            at + 1,
        ),
        ("member twice in one group", "group G 2 W1 W1\n".into(), at),
        ("none as member", "group G any none\n".into(), at),
        ("threshold 0", "group G 0 W1 W2\n".into(), at),
        ("threshold above n", "group G 3 W1 W2\n".into(), at),
        ("threshold not a number", "group G two W1 W2\n".into(), at),
        ("group without members", "group G any\n".into(), at),
        ("group named none", "group none any W1\n".into(), at),
        ("quorum undefined", "quorum G\n".into(), at),
        ("quorum twice", "quorum W1\nquorum W2\n".into(), at + 1),
        ("quorum with two names", "quorum W1 W2\n".into(), at),
        ("control character", "quorum W1\r\n".into(), at),
    ];
    for (what, rest, line) in cases {
        let err = Policy::parse(&format!("{h}{rest}")).unwrap_err();
        match &err {
            Error::PolicySyntax { line: l, .. } => assert_eq!(*l, line, "{what}: {err}"),
            _ => panic!("{what}: {err:?}"),
        }
        assert!(
            err.to_string()
                .starts_with(&format!("policy line {line}: ")),
            "{what}: {err}"
        );
    }
    assert_eq!(Policy::parse(&h).unwrap_err(), Error::PolicyNoQuorum);
}

#[test]
fn each_group_kind_counts_the_cosignatures_that_verify() {
    let cases: Vec<(&str, &[u8], bool)> = vec![
        ("quorum none", &[], true),
        ("quorum W3", &[3], true),
        ("quorum W3", &[1, 2, 4], false),
        ("group G any W1 W2 W3\nquorum G", &[2], true),
        ("group G any W1 W2 W3\nquorum G", &[4], false),
        ("group G all W1 W2 W3\nquorum G", &[1, 2, 3], true),
        ("group G all W1 W2 W3\nquorum G", &[1, 3], false),
        ("group G 2 W1 W2 W3\nquorum G", &[1, 3], true),
        ("group G 2 W1 W2 W3\nquorum G", &[3, 4], false),
        (
            "group A any W1 W2\ngroup B all W3 W4\ngroup Q all A B\nquorum Q",
            &[2, 3, 4],
            true,
        ),
        (
            "group A any W1 W2\ngroup B all W3 W4\ngroup Q all A B\nquorum Q",
            &[1, 2, 3],
            false,
        ),
        (
            "group A any W1 W2\ngroup B all W3 W4\ngroup Q any A B\nquorum Q",
            &[3, 4],
            true,
        ),
    ];
    for (rules, by, ok) in cases {
        let p = policy(&format!("{rules}\n"));
        let r = p.verify_checkpoint(&cosigned(by));
        assert_eq!(r.is_ok(), ok, "{rules} cosigned by {by:?}: {r:?}");
        match r {
            Ok(q) => {
                assert_eq!(q.checkpoint.size, 5);
                assert_eq!(
                    q.cosigned.len(),
                    by.len(),
                    "every listed cosigner is reported"
                );
            }
            Err(e) => assert!(matches!(e, Error::PolicyQuorumNotMet { .. }), "{e:?}"),
        }
    }
}

#[test]
fn only_valid_cosignatures_by_the_policys_keys_count() {
    let p = policy("quorum W1\n");
    let text = Checkpoint::new(ORIGIN, 5, [7; 32]).to_body();
    let base = cosigned(&[]);
    // W1's name with another key; W1's key over another checkpoint.
    let impostor = CosignatureSigner::new("w1.example", SigningKey::from_bytes(&[99; 32])).unwrap();
    let other_text = Checkpoint::new(ORIGIN, 6, [7; 32]).to_body();
    let wrong_cp = witness(1).cosign(&other_text, 5).unwrap();
    for (what, line) in [
        (
            "another key under W1's name",
            impostor.cosign(&text, 5).unwrap(),
        ),
        ("W1's cosignature of another checkpoint", wrong_cp),
    ] {
        let err = p.verify_checkpoint(&format!("{base}{line}\n")).unwrap_err();
        assert!(
            matches!(err, Error::PolicyQuorumNotMet { .. }),
            "{what}: {err:?}"
        );
    }
    let err = p
        .verify_checkpoint(&format!(
            "{base}{}\n",
            witness(1).cosign(&other_text, 5).unwrap()
        ))
        .unwrap_err();
    let Error::PolicyQuorumNotMet { failed, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(failed, ["W1"], "a matching line that fails is reported");

    // A hex witness key matches under any key name: the signature does not cover it.
    let p = policy("quorum W3\n");
    let k = SigningKey::from_bytes(&[13; 32]);
    let renamed = CosignatureSigner::new("another-name.example", k).unwrap();
    let line: NoteSignature = renamed.cosign(&text, 5).unwrap();
    assert!(p.verify_checkpoint(&format!("{base}{line}\n")).is_ok());
}

#[test]
fn a_checkpoint_needs_a_policy_logs_valid_signature() {
    let p = policy("quorum none\n");
    let cp = Checkpoint::new(ORIGIN, 5, [7; 32]);
    let other = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[2; 32])).unwrap();
    let err = p
        .verify_checkpoint(&sign_checkpoint(&cp, &other).unwrap())
        .unwrap_err();
    assert_eq!(err, Error::PolicyNoLog(ORIGIN.into()));
    let forged = cosigned(&[]).replacen("\n5\n", "\n6\n", 1);
    let err = p.verify_checkpoint(&forged).unwrap_err();
    assert!(matches!(err, Error::NoteSignatureInvalid { .. }), "{err:?}");
    assert!(matches!(
        p.verify_checkpoint("not a note"),
        Err(Error::MalformedNote(_))
    ));
}

#[test]
fn one_witness_line_is_judged_against_that_witness_only() {
    let p = policy("group all4 all W1 W2 W3 W4\nquorum all4\n");
    let text = Checkpoint::new(ORIGIN, 5, [7; 32]).to_body();
    let other = Checkpoint::new(ORIGIN, 6, [7; 32]).to_body();
    let w1 = witness(1).cosign(&text, 42).unwrap();
    assert_eq!(p.witness_cosigned(0, &text, &w1), Some(42));
    assert_eq!(
        p.witness_cosigned(1, &text, &w1),
        None,
        "W1's line is not W2's"
    );
    assert_eq!(
        p.witness_cosigned(0, &other, &w1),
        None,
        "nor of another checkpoint"
    );
    assert_eq!(p.witness_cosigned(9, &text, &w1), None, "no such witness");
    // W3 is given as hex: its line counts under any name.
    let w3 = witness(3).cosign(&text, 7).unwrap();
    assert_eq!(p.witness_cosigned(2, &text, &w3), Some(7));
}

#[test]
fn a_policy_lists_a_log_by_its_key_and_a_named_key_by_its_name_too() {
    let p = policy("quorum none\n");
    assert!(p.lists_log(&log_signer().verifier()));
    let other = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[2; 32])).unwrap();
    assert!(!p.lists_log(&other.verifier()));
    let named = Policy::parse(&format!("log {}\nquorum none\n", log_signer().verifier())).unwrap();
    assert!(named.lists_log(&log_signer().verifier()));
    let renamed = NoteSigner::new("example.com/other", SigningKey::from_bytes(&[1; 32])).unwrap();
    assert!(
        !named.lists_log(&renamed.verifier()),
        "a verifier key line matches its own name only"
    );
}

// ----- vectors: proto/tests/vectors/cosignature/quorum.json -----
//
// The same cases the explorer's script checks (tests/browser): proto and
// the browser must accept and refuse exactly the same cosigned checkpoints.

const COSIG_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/cosignature/quorum.json"
);

/// The vector file's policy: W1, W2 named, W3, W4 bare keys; 2 of W1..W3 and W4.
fn vector_policy_text() -> String {
    format!(
        "{}group majority 2 W1 W2 W3\ngroup top all majority W4\nquorum top\n",
        header()
    )
}

/// `{"witness": i}` or `{"k": n, "members": [...]}`, as the explorer embeds it.
fn quorum_json(node: &sealwax_proto::policy::Node) -> serde_json::Value {
    use sealwax_proto::policy::Node;
    match node {
        Node::Witness(i) => serde_json::json!({ "witness": i }),
        Node::Group { k, members } => serde_json::json!({
            "k": k,
            "members": members.iter().map(quorum_json).collect::<Vec<_>>(),
        }),
    }
}

/// The vector cases: (description, note) pairs, each for the size-5 checkpoint.
fn vector_cases() -> Vec<(String, String, bool)> {
    let cp = Checkpoint::new(ORIGIN, 5, [7; 32]);
    let log_note = sign_checkpoint(&cp, &log_signer()).unwrap();
    let text = cp.to_body();
    let line = |i: u8, ts: u64| witness(i).cosign(&text, ts).unwrap().to_string();
    let with = |lines: &[String]| {
        let mut n = log_note.clone();
        for l in lines {
            n.push_str(l);
            n.push('\n');
        }
        n
    };
    let flip_last = |l: String| {
        let (head, sig) = l.rsplit_once(' ').unwrap();
        let mut raw = B64.decode(sig).unwrap();
        *raw.last_mut().unwrap() ^= 1;
        format!("{head} {}", B64.encode(raw))
    };
    // A line whose timestamp is not the one signed.
    let retimed = |l: String| {
        let (head, sig) = l.rsplit_once(' ').unwrap();
        let mut raw = B64.decode(sig).unwrap();
        raw[11] ^= 1;
        format!("{head} {}", B64.encode(raw))
    };
    // W4 is a bare key: its line may carry any key name.
    let renamed_w4 = {
        let other = CosignatureSigner::new("other.example", SigningKey::from_bytes(&[14; 32]));
        other
            .unwrap()
            .cosign(&text, 1_700_000_004)
            .unwrap()
            .to_string()
    };
    let t = |i: u8| 1_700_000_000 + u64::from(i);
    vec![
        (
            "W1, W2 and W4".into(),
            with(&[line(1, t(1)), line(2, t(2)), line(4, t(4))]),
            true,
        ),
        (
            "all four".into(),
            with(&[line(1, t(1)), line(2, t(2)), line(3, t(3)), line(4, t(4))]),
            true,
        ),
        (
            "W2, W3 (bare key) and W4".into(),
            with(&[line(2, t(2)), line(3, t(3)), line(4, t(4))]),
            true,
        ),
        (
            "W1, W2 and W4 under another key name".into(),
            with(&[line(1, t(1)), line(2, t(2)), renamed_w4]),
            true,
        ),
        (
            "W1 and W2, no W4".into(),
            with(&[line(1, t(1)), line(2, t(2))]),
            false,
        ),
        (
            "W1 and W4: no majority".into(),
            with(&[line(1, t(1)), line(4, t(4))]),
            false,
        ),
        ("the log's signature only".into(), log_note.clone(), false),
        (
            "W1, W2 with a flipped signature bit, W4".into(),
            with(&[line(1, t(1)), flip_last(line(2, t(2))), line(4, t(4))]),
            false,
        ),
        (
            "W1, W2 with another timestamp than signed, W4".into(),
            with(&[line(1, t(1)), retimed(line(2, t(2))), line(4, t(4))]),
            false,
        ),
        (
            "W1 twice and W4".into(),
            with(&[line(1, t(1)), line(1, t(1) + 9), line(4, t(4))]),
            false,
        ),
    ]
}

/// The vector file's content, from the cases above.
fn vector_file() -> serde_json::Value {
    let policy = Policy::parse(&vector_policy_text()).unwrap();
    let witnesses: Vec<_> = policy
        .witnesses()
        .iter()
        .map(|w| {
            serde_json::json!({
                "name": w.name,
                "key_name": w.key_name(),
                "key": B64.encode(w.public_key().as_bytes()),
            })
        })
        .collect();
    let cases: Vec<_> = vector_cases()
        .into_iter()
        .map(|(desc, note, accepted)| serde_json::json!({ "desc": desc, "note": note, "accepted": accepted }))
        .collect();
    serde_json::json!({
        "desc": "cosignature/v1 lines against a witness policy: 2 of W1..W3, and W4",
        "log_key": log_signer().verifier().to_string(),
        "policy": vector_policy_text(),
        "witnesses": witnesses,
        "quorum": quorum_json(policy.quorum()),
        "cases": cases,
    })
}

#[test]
fn the_cosignature_vectors_hold() {
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(COSIG_VECTORS).unwrap()).unwrap();
    assert_eq!(
        file,
        vector_file(),
        "the committed vectors are what proto makes; rewrite them with SEALWAX_WRITE_VECTORS=1"
    );
    let policy = Policy::parse(file["policy"].as_str().unwrap()).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    let (mut yes, mut no) = (0, 0);
    for c in cases {
        let got = policy.verify_checkpoint(c["note"].as_str().unwrap());
        assert_eq!(
            got.is_ok(),
            c["accepted"].as_bool().unwrap(),
            "{}: {got:?}",
            c["desc"]
        );
        if got.is_ok() {
            yes += 1
        } else {
            no += 1
        }
    }
    assert!(
        yes >= 3 && no >= 4,
        "both kinds of case: {yes} accepted, {no} refused"
    );
}

#[test]
fn the_cosignature_vector_writer() {
    if std::env::var_os("SEALWAX_WRITE_VECTORS").is_none() {
        return;
    }
    let text = serde_json::to_string_pretty(&vector_file()).unwrap() + "\n";
    std::fs::create_dir_all(std::path::Path::new(COSIG_VECTORS).parent().unwrap()).unwrap();
    std::fs::write(COSIG_VECTORS, text).unwrap();
}
