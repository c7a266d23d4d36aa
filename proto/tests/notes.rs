//! Signed notes, verifier keys and cosignatures (C2SP signed-note, tlog-cosignature).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use sealwax_proto::note::{
    key_id, open_note, sign_note, CosignatureSigner, CosignatureVerifier, Note, NoteSignature,
    NoteSigner, NoteVerifier,
};
use sealwax_proto::Error;
use sha2::{Digest, Sha256};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/signed-note");

fn vector(name: &str) -> String {
    let path = format!("{VECTORS}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn example_verifier() -> NoteVerifier {
    NoteVerifier::parse(vector("example.vkey").trim_end()).expect("example.vkey parses")
}

/// A deterministic signer: the key is derived from `seed`.
fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).expect("valid key name")
}

/// Key ID computed here from the spec's formula, independently of the crate.
fn spec_key_id(name: &str, sig_type: u8, pk: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, sig_type]);
    h.update(pk);
    h.finalize()[..4].try_into().unwrap()
}

/// Replaces the first occurrence of `from` in `s`, failing the test if it is not there.
fn replace_once(s: &str, from: &str, to: &str) -> String {
    assert!(s.contains(from), "{from:?} not in {s:?}");
    s.replacen(from, to, 1)
}

#[test]
fn c2sp_example_note_verifies_with_its_vkey() {
    let v = example_verifier();
    let note = open_note(&vector("example.note"), &[&v]).expect("the C2SP example verifies");
    assert_eq!(note.text, "This is an example message.\n");
    assert_eq!(note.signatures.len(), 1);
    assert_eq!(note.signatures[0].name, "example.com/foo");
    assert_eq!(hex::encode(note.signatures[0].key_id), "530d903a");
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(
        v.key_id(),
        spec_key_id("example.com/foo", 0x01, v.public_key().as_bytes()),
        "key ID follows SHA-256(name || 0x0A || 0x01 || key)[:4]"
    );
    assert_eq!(
        key_id("example.com/foo", 0x01, v.public_key().as_bytes()),
        v.key_id()
    );
}

#[test]
fn verification_failures() {
    let example = vector("example.note");
    let good = example_verifier();
    let same_name_other_key = signer("example.com/foo", 7).verifier();
    let other_name = signer("example.com/bar", 7).verifier();
    struct Case {
        desc: &'static str,
        note: String,
        verifiers: Vec<NoteVerifier>,
        want_invalid_sig: bool,
    }
    let cases = [
        Case {
            desc: "a different key with the same name is an unknown signer: not signed",
            note: example.clone(),
            verifiers: vec![same_name_other_key.clone()],
            want_invalid_sig: false,
        },
        Case {
            desc: "a key with another name: not signed",
            note: example.clone(),
            verifiers: vec![other_name],
            want_invalid_sig: false,
        },
        Case {
            desc: "no verifiers at all: not signed",
            note: example.clone(),
            verifiers: vec![],
            want_invalid_sig: false,
        },
        Case {
            desc: "tampered body: the known key's signature fails",
            note: replace_once(&example, "example message", "exampIe message"),
            verifiers: vec![good.clone()],
            want_invalid_sig: true,
        },
        Case {
            desc: "text gains a line: the known key's signature fails",
            note: replace_once(&example, "message.\n", "message.\nmore\n"),
            verifiers: vec![good.clone()],
            want_invalid_sig: true,
        },
        Case {
            desc: "tampered signature bytes: the known key's signature fails",
            note: replace_once(&example, "Uw2QOkn8srV1yJGh", "Uw2QOkn8srV1yJGi"),
            verifiers: vec![good.clone(), same_name_other_key],
            want_invalid_sig: true,
        },
    ];
    for case in cases {
        let refs: Vec<&NoteVerifier> = case.verifiers.iter().collect();
        let err = open_note(&case.note, &refs).expect_err(case.desc);
        if case.want_invalid_sig {
            assert!(
                matches!(&err, Error::NoteSignatureInvalid { name, key_id } if name == "example.com/foo" && key_id == "530d903a"),
                "{}: got {err:?}",
                case.desc
            );
        } else {
            assert!(
                matches!(err, Error::NoteNotSigned(_)),
                "{}: got {err:?}",
                case.desc
            );
        }
    }
}

#[test]
fn unknown_signers_are_ignored() {
    let log = signer("example.com/log", 1);
    let other = signer("example.com/other", 2);
    let impostor = signer("example.com/log", 3); // same name, other key ID
    let text = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let signed = sign_note(text, &[&other, &log]).unwrap();
    // Lines by unknown keys: another name with the log's key ID, and the same
    // name with a garbage signature under another key ID.
    let same_id_other_name = NoteSignature {
        name: "example.com/unrelated".into(),
        key_id: log.key_id(),
        signature: vec![9; 64],
    };
    let mut garbage_impostor = impostor.sign(text);
    garbage_impostor.signature = vec![0; 64];
    let signed = format!("{signed}{same_id_other_name}\n{garbage_impostor}\n");

    let note = open_note(&signed, &[&log.verifier()]).expect("unknown lines are ignored");
    assert_eq!(note.text, text);
    assert_eq!(
        note.signatures,
        vec![log.sign(text)],
        "only the verified signature is returned"
    );

    let both = open_note(&signed, &[&other.verifier(), &log.verifier()]).unwrap();
    assert_eq!(both.signatures.len(), 2);
    assert_eq!(both.signatures[0].name, "example.com/other");

    // Parsing without verifying keeps every line, byte for byte.
    let parsed = Note::parse(&signed).unwrap();
    assert_eq!(parsed.signatures.len(), 4);
    assert_eq!(parsed.to_string(), signed);
}

#[test]
fn a_bad_signature_by_a_known_key_rejects_the_whole_note() {
    let a = signer("a.example/log", 1);
    let b = signer("b.example/log", 2);
    let text = "hello\n";
    let mut bad_b = b.sign(text);
    bad_b.signature[10] ^= 1;
    let note = format!("{text}\n{}\n{bad_b}\n", a.sign(text));
    let err = open_note(&note, &[&a.verifier(), &b.verifier()]).unwrap_err();
    assert!(
        matches!(&err, Error::NoteSignatureInvalid { name, .. } if name == "b.example/log"),
        "got {err:?}"
    );
    // Without b's key the line is unknown and ignored.
    open_note(&note, &[&a.verifier()]).expect("b unknown, a verifies");
}

#[test]
fn repeated_signatures_are_returned_once() {
    let a = signer("a.example/log", 1);
    let text = "hello\n";
    let sig = a.sign(text);
    let note = format!("{text}\n{sig}\n{sig}\n");
    let opened = open_note(&note, &[&a.verifier()]).unwrap();
    assert_eq!(opened.signatures, vec![sig]);
    assert_eq!(Note::parse(&note).unwrap().signatures.len(), 2);
}

#[test]
fn malformed_notes_are_refused() {
    let example = vector("example.note");
    let sig_line = example.lines().last().unwrap().to_owned();
    let sig_b64 = sig_line.rsplit(' ').next().unwrap().to_owned();
    let many = |n: usize| format!("hi\n\n{}", format!("{sig_line}\n").repeat(n));
    let cases: Vec<(&str, String)> = vec![
        ("empty input", String::new()),
        (
            "only text, no blank line",
            "This is an example message.\n".into(),
        ),
        (
            "blank line but no signature lines",
            "This is an example message.\n\n".into(),
        ),
        (
            "missing final newline",
            example.trim_end_matches('\n').into(),
        ),
        (
            "extra blank line after the signatures",
            format!("{example}\n"),
        ),
        (
            "hyphen instead of em dash",
            replace_once(&example, "\u{2014} ", "- "),
        ),
        (
            "en dash instead of em dash",
            replace_once(&example, "\u{2014} ", "\u{2013} "),
        ),
        (
            "no space after the dash",
            replace_once(&example, "\u{2014} ", "\u{2014}"),
        ),
        (
            "no signature after the name",
            "hi\n\n\u{2014} example.com/foo\n".into(),
        ),
        ("empty key name", format!("hi\n\n\u{2014}  {sig_b64}\n")),
        (
            "key name with '+'",
            replace_once(&example, "example.com/foo", "example.com+foo"),
        ),
        (
            "key name with a no-break space",
            replace_once(&example, "example.com/foo", "example.com\u{a0}foo"),
        ),
        (
            "signature not base64",
            replace_once(&example, &sig_b64, "not*base64"),
        ),
        (
            "signature base64 without padding",
            replace_once(&example, &sig_b64, sig_b64.trim_end_matches('=')),
        ),
        (
            "signature base64 with nonzero trailing bits",
            replace_once(&example, "IneyaQM=", "IneyaQN="),
        ),
        (
            "signature shorter than key ID + 1 byte",
            format!("hi\n\n\u{2014} a {}\n", BASE64.encode([1, 2, 3, 4])),
        ),
        (
            "tab in the text",
            replace_once(&example, "an example", "an\texample"),
        ),
        (
            "NUL in the text",
            replace_once(&example, "an example", "an\0example"),
        ),
        ("CRLF line endings", example.replace('\n', "\r\n")),
        (
            "carriage return at the end of a signature line",
            format!("{}\r\n", example.trim_end_matches('\n')),
        ),
        (
            "two spaces between name and signature",
            replace_once(&example, "foo ", "foo  "),
        ),
        (
            "trailing space after the signature",
            format!("{} \n", example.trim_end_matches('\n')),
        ),
        ("101 signatures", many(101)),
    ];
    assert!(cases.len() >= 12);
    let v = example_verifier();
    for (desc, note) in &cases {
        let err = Note::parse(note).expect_err(desc);
        assert!(
            matches!(err, Error::MalformedNote(_)),
            "{desc}: got {err:?}"
        );
        let err = open_note(note, &[&v]).expect_err(desc);
        assert!(
            matches!(err, Error::MalformedNote(_)),
            "{desc} (open_note): got {err:?}"
        );
        assert!(!err.to_string().is_empty());
    }
    // The limit is 100: exactly 100 signatures are fine.
    let hundred = many(100);
    assert_eq!(Note::parse(&hundred).unwrap().signatures.len(), 100);
    open_note(&hundred, &[&v]).expect_err("the text 'hi' is not what was signed");
}

#[test]
fn notes_round_trip_byte_for_byte() {
    let a = signer("a.example/log", 1);
    let b = signer("witness.example/w1", 2);
    let texts = [
        "one line\n",
        "\n",
        "text with\n\nan empty line inside\n",
        "ends with an empty line\n\n",
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n",
    ];
    for text in texts {
        let signed = sign_note(text, &[&a, &b]).unwrap();
        let parsed = Note::parse(&signed).unwrap();
        assert_eq!(parsed.text, text, "{text:?}");
        assert_eq!(parsed.to_string(), signed, "{text:?}");
        assert_eq!(Note::parse(&parsed.to_string()).unwrap(), parsed);
        let opened = open_note(&signed, &[&a.verifier(), &b.verifier()]).unwrap();
        assert_eq!(opened, parsed, "{text:?}: both signatures verify");
    }
    let example = vector("example.note");
    assert_eq!(Note::parse(&example).unwrap().to_string(), example);
}

#[test]
fn sign_note_refuses_bad_input() {
    let a = signer("a.example/log", 1);
    let cases: [(&str, &str, Vec<&NoteSigner>); 4] = [
        ("text without final newline", "hello", vec![&a]),
        ("empty text", "", vec![&a]),
        ("control character in the text", "he\x07llo\n", vec![&a]),
        ("no signers", "hello\n", vec![]),
    ];
    for (desc, text, signers) in cases {
        let err = sign_note(text, &signers).expect_err(desc);
        assert!(
            matches!(err, Error::MalformedNote(_)),
            "{desc}: got {err:?}"
        );
    }
    for name in ["", "with space", "with+plus", "tab\tname"] {
        let err = NoteSigner::new(name, SigningKey::from_bytes(&[1; 32])).expect_err(name);
        assert_eq!(err, Error::InvalidKeyName(name.into()));
    }
}

#[test]
fn vkeys_round_trip() {
    let example = vector("example.vkey");
    let example = example.trim_end();
    assert_eq!(example_verifier().to_string(), example);
    for (i, name) in [
        "example.com/log",
        "sum.golang.org",
        "例え.jp/ログ",
        "oid/1.3.6.1.4.1.99999",
    ]
    .into_iter()
    .enumerate()
    {
        let s = signer(name, i as u8 + 10);
        let vkey = s.verifier().to_string();
        let (n, rest) = vkey.split_once('+').unwrap();
        assert_eq!(n, name);
        assert_eq!(
            rest[..8],
            hex::encode(spec_key_id(name, 1, s.verifier().public_key().as_bytes()))
        );
        let raw = BASE64.decode(&rest[9..]).unwrap();
        assert_eq!(raw[0], 0x01);
        assert_eq!(&raw[1..], s.signing_key().verifying_key().as_bytes());
        let parsed = NoteVerifier::parse(&vkey).unwrap();
        assert_eq!(parsed, s.verifier());
        assert_eq!(parsed.to_string(), vkey);
        assert_eq!(vkey.parse::<NoteVerifier>().unwrap(), parsed);
    }
}

#[test]
fn bad_vkeys_are_refused() {
    let good = vector("example.vkey").trim_end().to_owned();
    let (name, rest) = good.split_once('+').unwrap();
    let (id, key) = rest.split_once('+').unwrap();
    let raw = BASE64.decode(key).unwrap();
    let with_key = |bytes: &[u8]| {
        let id = hex::encode(spec_key_id(name, bytes[0], &bytes[1..]));
        format!("{name}+{id}+{}", BASE64.encode(bytes))
    };
    let mut cosig = raw.clone();
    cosig[0] = 0x04;
    let mut weak = vec![0x01, 1];
    weak.extend([0; 31]); // the identity point: small order
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("name only", name.into()),
        ("no key", format!("{name}+{id}")),
        ("empty key", format!("{name}+{id}+")),
        ("empty name", format!("+{id}+{key}")),
        (
            "name with a space",
            with_key(&raw).replacen("example.com/foo", "example com/foo", 1),
        ),
        ("key ID too short", format!("{name}+530d903+{key}")),
        ("key ID too long", format!("{name}+530d903a0+{key}")),
        ("key ID uppercase", format!("{name}+530D903A+{key}")),
        ("key ID not hex", format!("{name}+530d903g+{key}")),
        ("key ID does not match", format!("{name}+530d903b+{key}")),
        (
            "key ID of another name",
            format!("example.com/bar+{id}+{key}"),
        ),
        ("key not base64", format!("{name}+{id}+not*base64")),
        ("key 31 bytes", with_key(&raw[..32])),
        ("key 33 bytes", with_key(&[raw.as_slice(), &[0]].concat())),
        ("weak key", with_key(&weak)),
        ("trailing newline", format!("{good}\n")),
        ("leading space", format!(" {good}")),
    ];
    for (desc, vkey) in &cases {
        let err = NoteVerifier::parse(vkey).expect_err(desc);
        assert!(
            matches!(err, Error::MalformedVerifierKey(_)),
            "{desc}: got {err:?}"
        );
    }
    // A type 0x04 key is a cosigner's, not a note signer's, and the other way round.
    let err = NoteVerifier::parse(&with_key(&cosig)).unwrap_err();
    assert_eq!(
        err,
        Error::WrongKeyType {
            expected: 0x01,
            found: 0x04,
            what: "note signer"
        }
    );
    let err = CosignatureVerifier::parse(&good).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongKeyType {
                expected: 0x04,
                found: 0x01,
                ..
            }
        ),
        "{err:?}"
    );
    CosignatureVerifier::parse(&with_key(&cosig))
        .expect("the same key as type 0x04 is a cosigner key");
}

/// Makes a tlog-cosignature/v1 signature line by hand, from the spec.
fn cosign(key: &SigningKey, name: &str, body: &str, timestamp: u64) -> NoteSignature {
    let msg = format!("cosignature/v1\ntime {timestamp}\n{body}");
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend(key.sign(msg.as_bytes()).to_bytes());
    NoteSignature {
        name: name.into(),
        key_id: spec_key_id(name, 0x04, key.verifying_key().as_bytes()),
        signature: sig,
    }
}

fn cosigner_vkey(key: &SigningKey, name: &str) -> String {
    let pk = key.verifying_key();
    let mut raw = vec![0x04];
    raw.extend(pk.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(spec_key_id(name, 0x04, pk.as_bytes())),
        BASE64.encode(raw)
    )
}

#[test]
fn cosignatures_verify_and_return_their_timestamp() {
    let key = SigningKey::from_bytes(&[42; 32]);
    let name = "witness.example.com/w1";
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let vkey = cosigner_vkey(&key, name);
    let v = CosignatureVerifier::parse(&vkey).unwrap();
    assert_eq!(v.to_string(), vkey, "cosigner vkeys round-trip");
    assert_eq!(v.name(), name);
    assert_eq!(
        v,
        CosignatureVerifier::new(name, key.verifying_key()).unwrap()
    );

    let good = cosign(&key, name, body, 1679315147);
    assert_eq!(v.verify(body, &good), Some(1679315147));
    // The wire form: key ID || timestamp || signature, 76 bytes.
    let line = good.to_string();
    let b64 = line.rsplit(' ').next().unwrap();
    assert_eq!(BASE64.decode(b64).unwrap().len(), 4 + 8 + 64);
    assert_eq!(NoteSignature::parse_line(&line).unwrap(), good);

    let mut other_time = good.clone();
    other_time.signature[7] ^= 1;
    let mut short = good.clone();
    short.signature.pop();
    let note_sig_by_same_key = NoteSigner::new(name, key.clone()).unwrap().sign(body);
    let other_key = SigningKey::from_bytes(&[43; 32]);
    let cases: Vec<(&str, &str, NoteSignature)> = vec![
        (
            "another checkpoint",
            "example.com/behind-the-sofa\n20852164\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            good.clone(),
        ),
        ("timestamp altered after signing", body, other_time),
        ("signature one byte short", body, short),
        (
            "timestamp above 2^63-1, correctly signed",
            body,
            cosign(&key, name, body, 1 << 63),
        ),
        (
            "another cosigner name",
            body,
            cosign(&key, "witness.example.com/w2", body, 5),
        ),
        (
            "another cosigner key with this name",
            body,
            cosign(&other_key, name, body, 5),
        ),
        (
            "a plain (type 0x01) note signature by the same key",
            body,
            note_sig_by_same_key,
        ),
    ];
    for (desc, text, sig) in cases {
        assert_eq!(v.verify(text, &sig), None, "{desc}");
    }
    assert_eq!(v.verify(body, &cosign(&key, name, body, 0)), Some(0));
    assert_eq!(
        v.verify(body, &cosign(&key, name, body, i64::MAX as u64)),
        Some(i64::MAX as u64)
    );
}

#[test]
fn the_cosigner_signs_what_the_spec_says_and_the_verifier_accepts_it() {
    let key = SigningKey::from_bytes(&[42; 32]);
    let name = "witness.example.com/w1";
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let signer = CosignatureSigner::new(name, key.clone()).unwrap();
    assert_eq!(signer.verifier().to_string(), cosigner_vkey(&key, name));
    // Ed25519 is deterministic: the line is the one built by hand from the spec.
    let sig = signer.cosign(body, 1679315147).unwrap();
    assert_eq!(sig, cosign(&key, name, body, 1679315147));
    let v = CosignatureVerifier::parse(&cosigner_vkey(&key, name)).unwrap();
    assert_eq!(v.verify(body, &sig), Some(1679315147));
    let other =
        "example.com/behind-the-sofa\n20852164\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(v.verify(other, &sig), None, "it signs this checkpoint only");
    // tlog-witness forbids a zero timestamp; tlog-cosignature caps it at 2^63-1.
    for ts in [0, 1 << 63, u64::MAX] {
        let err = signer.cosign(body, ts).unwrap_err();
        assert!(matches!(err, Error::MalformedNote(_)), "{ts}: {err:?}");
    }
    assert!(signer.cosign(body, i64::MAX as u64).is_ok());
}

#[test]
fn cosigner_private_keys_round_trip_and_damage_is_refused() {
    let signer = CosignatureSigner::new("w.example/1", SigningKey::from_bytes(&[7; 32])).unwrap();
    let text = signer.to_private_key();
    assert!(text.starts_with("PRIVATE+KEY+w.example/1+"), "{text}");
    let back = CosignatureSigner::from_private_key(&text).unwrap();
    assert_eq!(back.verifier(), signer.verifier());
    let note_key = {
        let mut raw = vec![0x01];
        raw.extend([7u8; 32]);
        let id = spec_key_id(
            "w.example/1",
            0x01,
            SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes(),
        );
        format!(
            "PRIVATE+KEY+w.example/1+{}+{}",
            hex::encode(id),
            BASE64.encode(raw)
        )
    };
    let id = &text.split('+').nth(3).unwrap().to_string();
    let cases = [
        ("no prefix", text.replacen("PRIVATE+KEY+", "", 1)),
        (
            "another name, same key ID",
            text.replacen("w.example/1", "w.example/2", 1),
        ),
        ("altered key ID", text.replacen(id, "00000000", 1)),
        ("a note (type 0x01) key", note_key),
        ("not base64", format!("{text}!")),
        ("missing fields", "PRIVATE+KEY+w.example/1".to_string()),
    ];
    for (what, bad) in cases {
        let err = CosignatureSigner::from_private_key(&bad).unwrap_err();
        assert!(
            matches!(err, Error::MalformedPrivateKey(_)),
            "{what}: {err:?}"
        );
    }
}

#[test]
fn c2sp_signed_note_example_structure_parses() {
    // From C2SP signed-note.md: a note whose text has an empty line.
    let note = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let parsed = Note::parse(note).unwrap();
    assert!(parsed.text.ends_with("sera.\n"));
    assert_eq!(parsed.text.lines().count(), 4);
    assert_eq!(parsed.signatures[0].name, "quasimodo.example/salvatore");
    assert_eq!(parsed.signatures[0].signature.len(), 64);
    assert_eq!(parsed.to_string(), note);
}
