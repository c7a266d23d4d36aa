//! Checkpoints (C2SP tlog-checkpoint) and tlog-proof files (C2SP tlog-proof).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use sealwax_proto::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
use sealwax_proto::note::{CosignatureVerifier, Note, NoteSignature, NoteSigner};
use sealwax_proto::policy::{open_accepted, Policy};
use sealwax_proto::proof::{ProofFailure, TlogProof};
use sealwax_proto::{Error, Hash};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "example.com/log";

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).expect("valid key name")
}

fn b64(h: &Hash) -> String {
    BASE64.encode(h)
}

/// The RFC 9162 hashes, written out here so the tests do not trust the crate's.
fn leaf(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0])
        .chain_update(data)
        .finalize()
        .into()
}
fn node(l: &Hash, r: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1])
        .chain_update(l)
        .chain_update(r)
        .finalize()
        .into()
}

/// A table row: description, input, and a check of the error it must give.
type ErrorCase = (&'static str, String, fn(&Error) -> bool);

const SOFA_ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

#[test]
fn good_checkpoints_parse_and_round_trip() {
    let sofa: Hash = BASE64.decode(SOFA_ROOT).unwrap().try_into().unwrap();
    let empty: Hash = Sha256::digest(b"").into();
    let cases: Vec<(&str, String, Checkpoint)> = vec![
        (
            "the C2SP example",
            format!("example.com/behind-the-sofa\n20852163\n{SOFA_ROOT}\n"),
            Checkpoint::new("example.com/behind-the-sofa", 20852163, sofa),
        ),
        (
            "the empty tree",
            format!("{ORIGIN}\n0\n{}\n", b64(&empty)),
            Checkpoint::new(ORIGIN, 0, empty),
        ),
        (
            "the largest size",
            format!("{ORIGIN}\n18446744073709551615\n{SOFA_ROOT}\n"),
            Checkpoint::new(ORIGIN, u64::MAX, sofa),
        ),
        (
            "extension lines",
            format!("{ORIGIN}\n1\n{SOFA_ROOT}\nfirst extension\n\u{2014} second\n"),
            Checkpoint {
                extensions: vec!["first extension".into(), "\u{2014} second".into()],
                ..Checkpoint::new(ORIGIN, 1, sofa)
            },
        ),
        (
            "an origin with spaces and '+' is allowed (SHOULD, not MUST)",
            format!("my log+1\n5\n{SOFA_ROOT}\n"),
            Checkpoint::new("my log+1", 5, sofa),
        ),
    ];
    for (desc, body, want) in cases {
        let got = Checkpoint::parse(&body).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(got, want, "{desc}");
        assert_eq!(got.to_body(), body, "{desc}: byte-identical round trip");
    }
}

#[test]
fn bad_checkpoints_are_refused() {
    let with_size = |s: &str| format!("{ORIGIN}\n{s}\n{SOFA_ROOT}\n");
    let with_root = |r: &str| format!("{ORIGIN}\n1\n{r}\n");
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("just a newline", "\n".into()),
        ("empty origin", format!("\n1\n{SOFA_ROOT}\n")),
        ("missing size and root", format!("{ORIGIN}\n")),
        ("missing root", format!("{ORIGIN}\n1\n")),
        ("no final newline", format!("{ORIGIN}\n1\n{SOFA_ROOT}")),
        ("size with a leading zero", with_size("01")),
        ("size 00", with_size("00")),
        ("negative size", with_size("-1")),
        ("size with a plus sign", with_size("+1")),
        ("size 2^64", with_size("18446744073709551616")),
        ("size in hex", with_size("0x10")),
        ("size with a space", with_size(" 1")),
        ("empty size", with_size("")),
        ("size with unicode digit", with_size("\u{661}")),
        ("root not base64", with_root("not base64!")),
        (
            "root base64 without padding",
            with_root(SOFA_ROOT.trim_end_matches('=')),
        ),
        (
            "root with nonzero trailing bits",
            with_root("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J="),
        ),
        ("root of 31 bytes", with_root(&BASE64.encode([7u8; 31]))),
        ("root of 33 bytes", with_root(&BASE64.encode([7u8; 33]))),
        ("root in hex", with_root(&hex::encode([7u8; 32]))),
        (
            "empty extension line",
            format!("{ORIGIN}\n1\n{SOFA_ROOT}\n\n"),
        ),
        (
            "empty line between extensions",
            format!("{ORIGIN}\n1\n{SOFA_ROOT}\na\n\nb\n"),
        ),
        ("CRLF", format!("{ORIGIN}\r\n1\r\n{SOFA_ROOT}\r\n")),
        (
            "tab in the origin",
            format!("example\t.com\n1\n{SOFA_ROOT}\n"),
        ),
    ];
    for (desc, body) in &cases {
        let err = Checkpoint::parse(body).expect_err(desc);
        assert!(
            matches!(err, Error::MalformedCheckpoint(_)),
            "{desc}: got {err:?}"
        );
    }
}

#[test]
fn sign_then_open() {
    let log = signer(ORIGIN, 1);
    let root = node(&leaf(b"a"), &leaf(b"b"));
    let cp = Checkpoint {
        extensions: vec!["ext".into()],
        ..Checkpoint::new(ORIGIN, 2, root)
    };
    let signed = sign_checkpoint(&cp, &log).unwrap();
    assert!(signed.starts_with(&format!(
        "{ORIGIN}\n2\n{}\next\n\n\u{2014} {ORIGIN} ",
        b64(&root)
    )));
    let (opened, note) = open_checkpoint(&signed, ORIGIN, &log.verifier()).unwrap();
    assert_eq!(opened, cp);
    assert_eq!(note.text, cp.to_body());
    assert_eq!(note.signatures, vec![log.sign(&cp.to_body())]);
    assert_eq!(Note::parse(&signed).unwrap().to_string(), signed);
}

#[test]
fn open_checkpoint_failures() {
    let log = signer(ORIGIN, 1);
    let cp = Checkpoint::new(ORIGIN, 7, [3; 32]);
    let signed = sign_checkpoint(&cp, &log).unwrap();
    // The same checkpoint body signed for another origin, by the other log's key.
    let other_log = signer("example.com/other", 2);
    let other = sign_checkpoint(
        &Checkpoint::new("example.com/other", 7, [3; 32]),
        &other_log,
    )
    .unwrap();
    let not_a_checkpoint = sealwax_proto::note::sign_note("hello\n", &[&log]).unwrap();

    // Wrong origin, with the right log key and with the other log's key.
    let err = open_checkpoint(&signed, "example.com/other", &log.verifier()).unwrap_err();
    assert_eq!(
        err,
        Error::WrongOrigin {
            expected: "example.com/other".into(),
            found: ORIGIN.into()
        }
    );
    let err = open_checkpoint(&other, ORIGIN, &log.verifier()).unwrap_err();
    assert!(matches!(err, Error::WrongOrigin { .. }), "{err:?}");
    open_checkpoint(&other, "example.com/other", &other_log.verifier())
        .expect("it opens for its own origin");

    let cases: Vec<ErrorCase> = vec![
        (
            "signed by another key",
            sign_checkpoint(&cp, &signer(ORIGIN, 9)).unwrap(),
            |e| matches!(e, Error::NoteNotSigned(_)),
        ),
        ("size altered", signed.replacen("\n7\n", "\n8\n", 1), |e| {
            matches!(e, Error::NoteSignatureInvalid { .. })
        }),
        ("note text is not a checkpoint", not_a_checkpoint, |e| {
            matches!(e, Error::MalformedCheckpoint(_))
        }),
        (
            "signature lines cut off",
            signed.split("\n\n").next().unwrap().to_owned() + "\n",
            |e| matches!(e, Error::MalformedNote(_)),
        ),
    ];
    for (desc, text, want) in cases {
        let err = open_checkpoint(&text, ORIGIN, &log.verifier()).expect_err(desc);
        assert!(want(&err), "{desc}: got {err:?}");
    }
}

#[test]
fn sign_checkpoint_refuses_what_cannot_be_written() {
    let log = signer(ORIGIN, 1);
    let cases = [
        ("empty origin", Checkpoint::new("", 1, [0; 32])),
        ("origin with a newline", Checkpoint::new("a\n1", 1, [0; 32])),
        (
            "empty extension",
            Checkpoint {
                extensions: vec![String::new()],
                ..Checkpoint::new(ORIGIN, 1, [0; 32])
            },
        ),
        (
            "extension with a newline",
            Checkpoint {
                extensions: vec!["a\nb".into()],
                ..Checkpoint::new(ORIGIN, 1, [0; 32])
            },
        ),
        (
            "extension with a control character",
            Checkpoint {
                extensions: vec!["a\u{7}".into()],
                ..Checkpoint::new(ORIGIN, 1, [0; 32])
            },
        ),
    ];
    for (desc, cp) in cases {
        let err = sign_checkpoint(&cp, &log).expect_err(desc);
        assert!(
            matches!(err, Error::MalformedCheckpoint(_)),
            "{desc}: got {err:?}"
        );
    }
}

/// A witness cosignature line, made by hand from C2SP tlog-cosignature.
fn cosign(key: &SigningKey, name: &str, body: &str, timestamp: u64) -> NoteSignature {
    let msg = format!("cosignature/v1\ntime {timestamp}\n{body}");
    let mut raw = timestamp.to_be_bytes().to_vec();
    raw.extend(key.sign(msg.as_bytes()).to_bytes());
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', 0x04]);
    h.update(key.verifying_key().as_bytes());
    NoteSignature {
        name: name.into(),
        key_id: h.finalize()[..4].try_into().unwrap(),
        signature: raw,
    }
}

#[test]
fn cosigned_checkpoint_opens_and_its_cosignatures_verify() {
    let log = signer(ORIGIN, 1);
    let cp = Checkpoint::new(ORIGIN, 2, node(&leaf(b"a"), &leaf(b"b")));
    let body = cp.to_body();
    let w1 = SigningKey::from_bytes(&[21; 32]);
    let w2 = SigningKey::from_bytes(&[22; 32]);
    let signed = format!(
        "{}{}\n{}\n",
        sign_checkpoint(&cp, &log).unwrap(),
        cosign(&w1, "w1.example", &body, 1_700_000_000),
        cosign(&w2, "w2.example", &body, 1_700_000_001),
    );
    let (opened, note) = open_checkpoint(&signed, ORIGIN, &log.verifier())
        .expect("cosignatures are ignored by the log check");
    assert_eq!(opened, cp);
    assert_eq!(note.signatures.len(), 1);

    let v1 = CosignatureVerifier::new("w1.example", w1.verifying_key()).unwrap();
    let v2 = CosignatureVerifier::new("w2.example", w2.verifying_key()).unwrap();
    let all = Note::parse(&signed).unwrap();
    let stamps: Vec<Option<u64>> = all
        .signatures
        .iter()
        .map(|s| v1.verify(&all.text, s).or_else(|| v2.verify(&all.text, s)))
        .collect();
    assert_eq!(stamps, vec![None, Some(1_700_000_000), Some(1_700_000_001)]);
    assert_eq!(all.to_string(), signed);
}

/// A four-leaf tree built by hand: leaf hashes and root.
fn four_leaf_tree() -> ([Hash; 4], Hash) {
    let l = [leaf(b"zero"), leaf(b"one"), leaf(b"two"), leaf(b"three")];
    let root = node(&node(&l[0], &l[1]), &node(&l[2], &l[3]));
    (l, root)
}

#[test]
fn tlog_proofs_round_trip() {
    let log = signer(ORIGIN, 1);
    let (l, root) = four_leaf_tree();
    let cp = Checkpoint::new(ORIGIN, 4, root);
    let signed = sign_checkpoint(&cp, &log).unwrap();
    let cosigned = format!(
        "{signed}{}\n",
        cosign(
            &SigningKey::from_bytes(&[5; 32]),
            "w.example",
            &cp.to_body(),
            9
        )
    );
    let cases = [
        (
            "no extra",
            TlogProof {
                extra: None,
                index: 2,
                inclusion: vec![l[3], node(&l[0], &l[1])],
                checkpoint: signed.clone(),
            },
        ),
        (
            "extra data",
            TlogProof {
                extra: Some(b"age-v1.2.1-darwin-arm64.tar.gz".to_vec()),
                index: 0,
                inclusion: vec![l[1], node(&l[2], &l[3])],
                checkpoint: signed.clone(),
            },
        ),
        (
            "empty extra",
            TlogProof {
                extra: Some(vec![]),
                index: 3,
                inclusion: vec![l[2], node(&l[0], &l[1])],
                checkpoint: signed.clone(),
            },
        ),
        (
            "no hashes (a one-leaf tree)",
            TlogProof {
                extra: None,
                index: 0,
                inclusion: vec![],
                checkpoint: sign_checkpoint(&Checkpoint::new(ORIGIN, 1, l[0]), &log).unwrap(),
            },
        ),
        (
            "with witness cosignatures",
            TlogProof {
                extra: None,
                index: 1,
                inclusion: vec![l[0], node(&l[2], &l[3])],
                checkpoint: cosigned,
            },
        ),
    ];
    for (desc, proof) in cases {
        let text = proof.to_string();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\n"), "{desc}");
        assert!(
            text.ends_with(&proof.checkpoint),
            "{desc}: the checkpoint is carried verbatim"
        );
        let parsed = TlogProof::parse(&text).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(parsed, proof, "{desc}");
        assert_eq!(parsed.to_string(), text, "{desc}: byte-identical");
        let leaf_hash = l[proof.index as usize];
        parsed
            .verify(&leaf_hash, ORIGIN, &log.verifier(), None)
            .unwrap_or_else(|e| panic!("{desc}: {e}"));
    }
    // The text layout, line by line.
    let p = TlogProof {
        extra: Some(vec![1, 2, 3]),
        index: 2,
        inclusion: vec![l[3], node(&l[0], &l[1])],
        checkpoint: signed.clone(),
    };
    assert_eq!(
        p.to_string(),
        format!(
            "c2sp.org/tlog-proof@v1\nextra AQID\nindex 2\n{}\n{}\n\n{signed}",
            b64(&l[3]),
            b64(&node(&l[0], &l[1]))
        )
    );
}

#[test]
fn tlog_proof_verify_catches_wrong_leaf_index_path_and_key() {
    let log = signer(ORIGIN, 1);
    let (l, root) = four_leaf_tree();
    let signed = sign_checkpoint(&Checkpoint::new(ORIGIN, 4, root), &log).unwrap();
    let good = TlogProof {
        extra: None,
        index: 2,
        inclusion: vec![l[3], node(&l[0], &l[1])],
        checkpoint: signed,
    };
    good.verify(&l[2], ORIGIN, &log.verifier(), None)
        .expect("the good proof verifies");
    let mut wrong_index = good.clone();
    wrong_index.index = 3;
    let mut past_end = good.clone();
    past_end.index = 4;
    let mut bad_path = good.clone();
    bad_path.inclusion[1][0] ^= 1;
    let mut short_path = good.clone();
    short_path.inclusion.pop();
    let cases = [
        ("another leaf", good.clone(), l[3]),
        ("another index", wrong_index, l[2]),
        ("index past the tree", past_end, l[2]),
        ("altered path", bad_path, l[2]),
        ("path too short", short_path, l[2]),
    ];
    for (desc, proof, leaf_hash) in cases {
        let err = proof
            .verify(&leaf_hash, ORIGIN, &log.verifier(), None)
            .expect_err(desc);
        assert!(
            matches!(
                err,
                ProofFailure::Inclusion {
                    cause: Error::ProofInvalid(_) | Error::IndexOutOfRange { .. },
                    ..
                }
            ),
            "{desc}: got {err:?}"
        );
    }
    let err = good
        .verify(&l[2], ORIGIN, &signer(ORIGIN, 2).verifier(), None)
        .unwrap_err();
    assert!(
        matches!(err, ProofFailure::Checkpoint(Error::NoteNotSigned(_))),
        "{err:?}"
    );
    let err = good
        .verify(&l[2], "example.com/elsewhere", &log.verifier(), None)
        .unwrap_err();
    assert!(
        matches!(err, ProofFailure::Checkpoint(Error::WrongOrigin { .. })),
        "{err:?}"
    );
}

#[test]
fn malformed_tlog_proofs_are_refused() {
    let log = signer(ORIGIN, 1);
    let signed = sign_checkpoint(&Checkpoint::new(ORIGIN, 4, [1; 32]), &log).unwrap();
    let h = b64(&[2; 32]);
    let ok = format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n{h}\n\n{signed}");
    TlogProof::parse(&ok).expect("the base case parses");
    let with_index = |i: &str| format!("c2sp.org/tlog-proof@v1\nindex {i}\n{h}\n\n{signed}");
    let with_hash = |x: &str| format!("c2sp.org/tlog-proof@v1\nindex 1\n{x}\n\n{signed}");
    let unsigned_body = signed.split("\n\n").next().unwrap().to_owned() + "\n";
    let proof_cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("header only, no newline", "c2sp.org/tlog-proof@v1".into()),
        (
            "wrong header",
            ok.replacen("tlog-proof@v1", "tlog-proof@v2", 1),
        ),
        (
            "header with trailing space",
            ok.replacen("@v1\n", "@v1 \n", 1),
        ),
        (
            "missing index line",
            format!("c2sp.org/tlog-proof@v1\n{h}\n\n{signed}"),
        ),
        (
            "extra after index",
            ok.replacen("index 1\n", "index 1\nextra AQID\n", 1),
        ),
        (
            "extra without space",
            ok.replacen("index 1\n", "extraAQID\nindex 1\n", 1),
        ),
        (
            "extra not base64",
            ok.replacen("index 1\n", "extra ***\nindex 1\n", 1),
        ),
        ("index with a leading zero", with_index("01")),
        ("negative index", with_index("-1")),
        ("index 2^64", with_index("18446744073709551616")),
        ("empty index", with_index("")),
        ("index with two spaces", with_index(" 1")),
        ("hash not base64", with_hash("####")),
        ("hash of 31 bytes", with_hash(&BASE64.encode([2u8; 31]))),
        ("hash in hex", with_hash(&hex::encode([2u8; 32]))),
        ("65 hashes", with_hash(&vec![h.clone(); 65].join("\n"))),
        (
            "no blank line before the checkpoint",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n"),
        ),
        ("CRLF", ok.replace('\n', "\r\n")),
    ];
    for (desc, text) in &proof_cases {
        let err = TlogProof::parse(text).expect_err(desc);
        assert!(
            matches!(err, Error::MalformedProof(_)),
            "{desc}: got {err:?}"
        );
    }
    let checkpoint_cases: Vec<ErrorCase> = vec![
        (
            "no checkpoint after the blank line",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n\n"),
            |e| matches!(e, Error::MalformedNote(_)),
        ),
        (
            "checkpoint without signatures",
            format!("c2sp.org/tlog-proof@v1\nindex 1\n\n{unsigned_body}"),
            |e| matches!(e, Error::MalformedNote(_)),
        ),
        (
            "checkpoint missing its final newline",
            ok.trim_end_matches('\n').to_owned(),
            |e| matches!(e, Error::MalformedNote(_)),
        ),
        (
            "checkpoint body not a checkpoint",
            ok.replacen(&format!("\n{ORIGIN}\n4\n"), &format!("\n{ORIGIN}\n04\n"), 1),
            |e| matches!(e, Error::MalformedCheckpoint(_)),
        ),
    ];
    for (desc, text, want) in checkpoint_cases {
        let err = TlogProof::parse(&text).expect_err(desc);
        assert!(want(&err), "{desc}: got {err:?}");
    }
    // 64 hashes is the most a tree can need and is accepted.
    TlogProof::parse(&with_hash(&vec![h.clone(); 64].join("\n"))).expect("64 hashes");
}

#[test]
fn tlog_proof_under_a_policy_needs_its_quorum_of_cosignatures() {
    let log = signer(ORIGIN, 1);
    let (l, root) = four_leaf_tree();
    let cp = Checkpoint::new(ORIGIN, 4, root);
    let body = cp.to_body();
    let (w1, w2) = (
        SigningKey::from_bytes(&[21; 32]),
        SigningKey::from_bytes(&[22; 32]),
    );
    let policy = Policy::parse(&format!(
        "log {}\nwitness w1 {}\nwitness w2 {}\ngroup both all w1 w2\nquorum both\n",
        hex::encode(log.verifier().public_key().as_bytes()),
        hex::encode(w1.verifying_key().as_bytes()),
        hex::encode(w2.verifying_key().as_bytes()),
    ))
    .unwrap();
    let log_only = sign_checkpoint(&cp, &log).unwrap();
    let one = format!(
        "{log_only}{}\n",
        cosign(&w1, "w1.example", &body, 1_700_000_000)
    );
    let both = format!("{one}{}\n", cosign(&w2, "w2.example", &body, 1_700_000_001));
    let proof = |checkpoint: &str| TlogProof {
        extra: None,
        index: 2,
        inclusion: vec![l[3], node(&l[0], &l[1])],
        checkpoint: checkpoint.to_string(),
    };
    for (desc, text) in [
        ("the log's signature alone", &log_only),
        ("one of two", &one),
    ] {
        let err = proof(text)
            .verify(&l[2], ORIGIN, &log.verifier(), Some(&policy))
            .expect_err(desc);
        assert!(
            matches!(err, ProofFailure::Quorum(Error::PolicyQuorumNotMet { .. })),
            "{desc}: {err:?}"
        );
        proof(text)
            .verify(&l[2], ORIGIN, &log.verifier(), None)
            .unwrap_or_else(|e| panic!("{desc}: without a policy it verifies: {e}"));
    }
    proof(&both)
        .verify(&l[2], ORIGIN, &log.verifier(), Some(&policy))
        .expect("both cosignatures meet the quorum");
    let (opened, _) = open_accepted(&both, ORIGIN, &log.verifier(), Some(&policy)).unwrap();
    assert_eq!(opened, cp);
    // The log key comes first: a quorum of cosignatures on a checkpoint the
    // trusted key did not sign is refused as the log's.
    let err = proof(&both)
        .verify(&l[2], ORIGIN, &signer(ORIGIN, 2).verifier(), Some(&policy))
        .unwrap_err();
    assert!(matches!(err, ProofFailure::Checkpoint(_)), "{err:?}");
}
