//! Witness policies (Sigsum's policy syntax): parsing, errors with line
//! numbers, and the quorum check on real signed and cosigned checkpoints.

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
