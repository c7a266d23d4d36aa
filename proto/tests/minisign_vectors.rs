//! Minisign formats against files made by the real `minisign` tool
//! (`testdata/minisign`, from sigstore/rekor), plus malformed and
//! tampered inputs and round trips.

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sealwax_proto::minisign::{
    prehash, KdfParams, Prehasher, PublicKey, SecretKey, SignatureAlgorithm, SignatureBox,
};
use sealwax_proto::Error;
use sha2::{Digest, Sha256};

macro_rules! vector {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/minisign/",
            $name
        ))
    };
}

const HELLO: &str = vector!("hello_world.txt");
const LEGACY_SIG: &str = vector!("hello_world.txt.minisig");
const HASHED_SIG: &str = vector!("hello_world_hashed.txt.minisig");
const SIGNIFY_SIG: &str = vector!("hello_world.txt.signify");
const PUB: &str = vector!("minisign.pub");
const HASHED_PUB: &str = vector!("minisign_hashed.pub");
const KEY_ONLY_PUB: &str = vector!("minisign_key_only.pub");
const SIGNIFY_PUB: &str = vector!("signify.pub");

fn hashed_pair() -> (PublicKey, SignatureBox) {
    (
        PublicKey::parse(HASHED_PUB).unwrap(),
        SignatureBox::parse(HASHED_SIG).unwrap(),
    )
}

#[test]
fn prehashed_signature_from_minisign_verifies() {
    let (pk, sig) = hashed_pair();
    assert_eq!(sig.algorithm, SignatureAlgorithm::Prehashed);
    assert_eq!(sig.untrusted_comment, "signature from minisign secret key");
    assert_eq!(
        sig.trusted_comment,
        "timestamp:1643685548\tfile:hello_world.txt\thashed"
    );
    sig.verify_prehashed(&pk, &prehash(HELLO.as_bytes()))
        .unwrap();
}

#[test]
fn prehash_matches_streaming_prehasher() {
    let mut h = Prehasher::new();
    for chunk in HELLO.as_bytes().chunks(3) {
        h.update(chunk);
    }
    let streamed: [u8; 64] = h.finalize().into();
    assert_eq!(streamed, prehash(HELLO.as_bytes()));
    let (pk, sig) = hashed_pair();
    sig.verify_prehashed(&pk, &streamed).unwrap();
}

#[test]
fn legacy_signature_is_refused_but_parsed_correctly() {
    let pk = PublicKey::parse(PUB).unwrap();
    let sig = SignatureBox::parse(LEGACY_SIG).unwrap();
    assert_eq!(sig.algorithm, SignatureAlgorithm::Legacy);
    assert_eq!(
        sig.verify_prehashed(&pk, &prehash(HELLO.as_bytes())),
        Err(Error::LegacySignature)
    );
    // The fields are read right: the raw signature is over the file itself,
    // the global one over signature || trusted comment.
    pk.verify_raw(HELLO.as_bytes(), &sig.signature).unwrap();
    let mut global = sig.signature.to_vec();
    global.extend_from_slice(sig.trusted_comment.as_bytes());
    pk.verify_raw(&global, &sig.global_signature).unwrap();
}

#[test]
fn signify_inputs_are_refused() {
    assert_eq!(
        PublicKey::parse(SIGNIFY_PUB),
        Err(Error::SignifyNotSupported("public key"))
    );
    assert_eq!(
        SignatureBox::parse(SIGNIFY_SIG),
        Err(Error::SignifyNotSupported("signature"))
    );
    // A signify secret key: "Ed" "BK" rounds salt checksum keynum sk (104 bytes).
    let mut blob = b"EdBK".to_vec();
    blob.resize(104, 7);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    for comment in ["signify secret key", "anything else"] {
        let text = format!("untrusted comment: {comment}\n{b64}\n");
        assert_eq!(
            SecretKey::parse(&text, Some(b"pw")).unwrap_err(),
            Error::SignifyNotSupported("secret key"),
            "{comment}"
        );
    }
    // The signify message is not given a trusted comment line when embedded either.
    let embedded = format!("{SIGNIFY_SIG}Hello, World!\n");
    assert_eq!(
        SignatureBox::parse(&embedded),
        Err(Error::SignifyNotSupported("signature"))
    );
}

#[test]
fn bare_base64_key_parses_to_the_same_key() {
    let bare = PublicKey::parse(KEY_ONLY_PUB).unwrap();
    assert_eq!(bare, PublicKey::parse(PUB).unwrap());
    assert_eq!(PublicKey::parse(KEY_ONLY_PUB.trim_end()).unwrap(), bare);
    assert_eq!(format!("{}\n", bare.to_base64()), KEY_ONLY_PUB);
}

#[test]
fn key_id_hex_matches_the_file_comment() {
    let pk = PublicKey::parse(PUB).unwrap();
    assert_eq!(pk.key_id_hex(), "9D92931126AE543F");
    assert!(PUB.starts_with(&format!(
        "untrusted comment: minisign public key {}\n",
        pk.key_id_hex()
    )));
    // minisign 0.11 (which made this file) does not zero-pad the ID; we do.
    let hashed = PublicKey::parse(HASHED_PUB).unwrap();
    assert_eq!(hashed.key_id_hex(), "071418543D227848");
    assert!(HASHED_PUB.starts_with("untrusted comment: minisign public key 71418543D227848\n"));
    let (_, sig) = hashed_pair();
    assert_eq!(sig.key_id_hex(), hashed.key_id_hex());
}

#[test]
fn key_hash_is_sha256_of_the_decoded_key_line() {
    let pk = PublicKey::parse(PUB).unwrap();
    let line = PUB.lines().nth(1).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(line)
        .unwrap();
    assert_eq!(raw.len(), 42);
    assert_eq!(&raw[..2], b"Ed");
    let want: [u8; 32] = Sha256::digest(&raw).into();
    assert_eq!(pk.key_hash(), want);
    assert_ne!(
        pk.key_hash(),
        PublicKey::parse(HASHED_PUB).unwrap().key_hash()
    );
}

#[test]
fn crlf_and_missing_final_newline_are_tolerated() {
    let (pk, _) = hashed_pair();
    let crlf = HASHED_SIG.replace('\n', "\r\n");
    let sig = SignatureBox::parse(&crlf).unwrap();
    sig.verify_prehashed(&pk, &prehash(HELLO.as_bytes()))
        .unwrap();
    let no_newline = SignatureBox::parse(HASHED_SIG.trim_end()).unwrap();
    assert_eq!(no_newline, sig);
    assert_eq!(
        PublicKey::parse(&PUB.replace('\n', "\r\n")).unwrap(),
        PublicKey::parse(PUB).unwrap()
    );
    // minisign_hashed.pub has no final newline.
    assert!(!HASHED_PUB.ends_with('\n'));
}

#[test]
fn tampering_is_detected() {
    let (pk, sig) = hashed_pair();
    let digest = prehash(HELLO.as_bytes());

    let mut other_comment = sig.clone();
    other_comment.trusted_comment = "timestamp:1643685548\tfile:evil.txt\thashed".into();
    assert!(matches!(
        other_comment.verify_prehashed(&pk, &digest),
        Err(Error::BadSignature(_))
    ));

    let mut flipped = sig.clone();
    flipped.signature[5] ^= 1;
    assert!(matches!(
        flipped.verify_prehashed(&pk, &digest),
        Err(Error::BadSignature(_))
    ));

    let mut flipped_global = sig.clone();
    flipped_global.global_signature[60] ^= 0x80;
    assert!(matches!(
        flipped_global.verify_prehashed(&pk, &digest),
        Err(Error::BadSignature(_))
    ));

    assert!(matches!(
        sig.verify_prehashed(&pk, &prehash(b"Hello, World?\n")),
        Err(Error::BadSignature(_))
    ));

    // The untrusted comment is not signed.
    let mut new_untrusted = sig.clone();
    new_untrusted.untrusted_comment = "anything".into();
    new_untrusted.verify_prehashed(&pk, &digest).unwrap();

    let wrong = PublicKey::parse(PUB).unwrap();
    assert_eq!(
        sig.verify_prehashed(&wrong, &digest),
        Err(Error::KeyIdMismatch {
            key_id: "9D92931126AE543F".into(),
            sig_key_id: "071418543D227848".into(),
        })
    );
    // Same key number, other key.
    let impostor = PublicKey {
        keynum: pk.keynum,
        key: wrong.key,
    };
    assert!(matches!(
        sig.verify_prehashed(&impostor, &digest),
        Err(Error::BadSignature(_))
    ));

    // Tampering in the text itself.
    let edited = HASHED_SIG.replace("file:hello_world.txt", "file:hello_world.exe");
    let parsed = SignatureBox::parse(&edited).unwrap();
    assert!(parsed.verify_prehashed(&pk, &digest).is_err());
}

fn unencrypted_secret_key_text() -> String {
    let sk = SecretKey::generate(&mut StdRng::seed_from_u64(1));
    sk.to_file_string(None, &mut StdRng::seed_from_u64(2))
}

/// BLAKE2b-256("Ed" || keynum || sk), the checksum of a secret key.
fn checksum(keynum_sk: &[u8]) -> [u8; 32] {
    let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
    h.update(b"Ed");
    h.update(keynum_sk);
    h.finalize().into()
}

/// Replaces the base64 line (line 2) of `text` with `f(decoded bytes)`, re-encoded.
fn with_blob(text: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut raw = b64.decode(&lines[1]).unwrap();
    f(&mut raw);
    lines[1] = b64.encode(&raw);
    lines.join("\n") + "\n"
}

#[test]
fn malformed_inputs_give_errors() {
    enum Kind {
        Public,
        Secret,
        Signature,
    }
    use Kind::*;
    let sk_text = unencrypted_secret_key_text();
    let long_comment = format!("untrusted comment: {}\n", "x".repeat(1004));
    let cases: Vec<(&str, Kind, String, &str)> = vec![
        ("empty public key", Public, String::new(), "input is empty"),
        ("only a newline", Public, "\n".into(), "input is empty"),
        (
            "comment without key line",
            Public,
            PUB.lines().next().unwrap().into(),
            "key line after the comment is missing",
        ),
        (
            "key line too short",
            Public,
            PUB.replace("RWQ/", "RWQ"),
            "expected length",
        ),
        (
            "key with trailing space",
            Public,
            PUB.replace("6RD\n", "6RD \n"),
            "expected length",
        ),
        (
            "key in url-safe base64",
            Public,
            "RWQ_VK4mEZOSnVFf2NhEt9WV8zE1RcN8mtKeOO7mVjj_MCDvb5tSV6RD".into(),
            "not valid standard base64",
        ),
        (
            "key with algorithm EE",
            Public,
            with_blob(PUB, |b| b[1] = b'E'),
            "unknown signature algorithm",
        ),
        (
            "key of 43 bytes",
            Public,
            with_blob(PUB, |b| b.push(0)),
            "expected length",
        ),
        (
            "key not on the curve (y = 2)",
            Public,
            with_blob(PUB, |b| {
                b[10..].fill(0);
                b[10] = 2;
            }),
            "not an Ed25519 point",
        ),
        (
            "key not canonically encoded (y = p + 1)",
            Public,
            with_blob(PUB, |b| {
                b[10..].fill(0xff);
                b[10] = 0xee;
                b[41] = 0x7f;
            }),
            "not a canonical",
        ),
        (
            "key of small order (identity)",
            Public,
            with_blob(PUB, |b| {
                b[10..].fill(0);
                b[10] = 1;
            }),
            "weak",
        ),
        (
            "pub file with a third line",
            Public,
            format!("{PUB}extra\n"),
            "after the last line",
        ),
        (
            "pub file with a blank third line",
            Public,
            format!("{PUB}\n"),
            "after the last line",
        ),
        (
            "pub comment without prefix",
            Public,
            PUB.replace("untrusted comment: ", "comment: "),
            "must start with \"untrusted comment: \"",
        ),
        (
            "pub comment too long",
            Public,
            format!("{long_comment}{}\n", KEY_ONLY_PUB.trim_end()),
            "longer than minisign can read",
        ),
        (
            "stray CR inside a line",
            Public,
            PUB.replace("minisign public", "minisign\rpublic"),
            "stray carriage return",
        ),
        (
            "signature as public key",
            Public,
            HASHED_SIG.lines().nth(1).unwrap().into(),
            "expected length",
        ),
        (
            "empty signature",
            Signature,
            String::new(),
            "input is empty",
        ),
        (
            "signature without trusted comment",
            Signature,
            HASHED_SIG.lines().take(2).collect::<Vec<_>>().join("\n"),
            "third line must start with",
        ),
        (
            "signature without global signature",
            Signature,
            HASHED_SIG.lines().take(3).collect::<Vec<_>>().join("\n"),
            "global signature line is missing",
        ),
        (
            "signature with extra line",
            Signature,
            format!("{HASHED_SIG}more\n"),
            "after the last line",
        ),
        (
            "signature with unknown algorithm",
            Signature,
            with_blob(HASHED_SIG, |b| b[0] = b'X'),
            "unknown signature algorithm",
        ),
        (
            "signature line 75 bytes",
            Signature,
            with_blob(HASHED_SIG, |b| b.push(0)),
            "expected length",
        ),
        (
            "trusted comment prefix misspelt",
            Signature,
            HASHED_SIG.replace("\ntrusted comment: ", "\ntrusted comment:"),
            "third line must start with",
        ),
        (
            "untrusted comment prefix missing",
            Signature,
            HASHED_SIG.replacen("untrusted comment: ", "", 1),
            "must start with \"untrusted comment: \"",
        ),
        (
            "global signature truncated",
            Signature,
            HASHED_SIG.replace("Dw==", ""),
            "expected length",
        ),
        (
            "global signature not base64",
            Signature,
            HASHED_SIG.replace("cueBI9ab", "cueBI9a!"),
            "not valid standard base64",
        ),
        (
            "trusted comment too long",
            Signature,
            HASHED_SIG.replace("hashed", &"h".repeat(9000)),
            "longer than minisign accepts",
        ),
        ("empty secret key", Secret, String::new(), "input is empty"),
        (
            "secret key with one line",
            Secret,
            sk_text.lines().nth(1).unwrap().into(),
            "expected two lines",
        ),
        (
            "secret key damaged checksum",
            Secret,
            with_blob(&sk_text, |b| b[157] ^= 1),
            "checksum does not match",
        ),
        (
            "secret key damaged seed",
            Secret,
            with_blob(&sk_text, |b| b[70] ^= 1),
            "checksum does not match",
        ),
        (
            "secret key public half wrong",
            Secret,
            with_blob(&sk_text, |b| {
                b[100] ^= 1;
                let chk = checksum(&b[54..126]);
                b[126..].copy_from_slice(&chk);
            }),
            "public half does not match",
        ),
        (
            "secret key unknown kdf",
            Secret,
            with_blob(&sk_text, |b| b[2] = b'X'),
            "unknown key derivation",
        ),
        (
            "secret key unknown checksum alg",
            Secret,
            with_blob(&sk_text, |b| b[4] = b'S'),
            "unknown checksum",
        ),
        (
            "secret key unknown sig alg",
            Secret,
            with_blob(&sk_text, |b| b[1] = b'D'),
            "unknown signature algorithm",
        ),
        (
            "secret key one byte short",
            Secret,
            with_blob(&sk_text, |b| {
                b.pop();
            }),
            "expected length",
        ),
        (
            "secret key huge scrypt cost",
            Secret,
            with_blob(&sk_text, |b| {
                b[2..4].copy_from_slice(b"Sc");
                b[38..54].fill(0xff);
            }),
            "scrypt parameters",
        ),
        (
            "public key as secret key",
            Secret,
            PUB.into(),
            "expected length",
        ),
    ];
    assert!(cases.len() >= 12);
    for (desc, kind, text, want) in cases {
        let err = match kind {
            Public => PublicKey::parse(&text).map(drop),
            Secret => SecretKey::parse(&text, Some(b"password")).map(drop),
            Signature => SignatureBox::parse(&text).map(drop),
        };
        match err {
            Err(Error::MalformedMinisign { reason, .. }) if reason.contains(want) => {}
            other => panic!("{desc}: expected MalformedMinisign ({want}), got {other:?}"),
        }
    }
}

#[test]
fn truncated_and_mutated_inputs_never_panic() {
    let sk_text = unencrypted_secret_key_text();
    for text in [
        PUB,
        HASHED_PUB,
        HASHED_SIG,
        LEGACY_SIG,
        SIGNIFY_SIG,
        &sk_text,
    ] {
        for cut in 0..=text.len() {
            let part = &text[..cut];
            let _ = PublicKey::parse(part);
            let _ = SignatureBox::parse(part);
            let _ = SecretKey::parse(part, None);
        }
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for replacement in [b'\n', b'\r', b'=', b'A', b' '] {
                let mut m = bytes.to_vec();
                m[i] = replacement;
                let m = String::from_utf8(m).unwrap();
                let _ = PublicKey::parse(&m);
                let _ = SignatureBox::parse(&m);
                let _ = SecretKey::parse(&m, None);
            }
        }
    }
}

#[test]
fn files_round_trip_byte_for_byte() {
    assert_eq!(PublicKey::parse(PUB).unwrap().to_file_string(), PUB);
    assert_eq!(
        SignatureBox::parse(HASHED_SIG).unwrap().to_file_string(),
        HASHED_SIG
    );
    assert_eq!(
        SignatureBox::parse(LEGACY_SIG).unwrap().to_file_string(),
        LEGACY_SIG
    );

    let sk_text = unencrypted_secret_key_text();
    let sk = SecretKey::parse(&sk_text, None).unwrap();
    assert_eq!(sk.to_file_string(None, &mut rand::thread_rng()), sk_text);
    let pk_text = sk.public_key().to_file_string();
    assert_eq!(
        PublicKey::parse(&pk_text).unwrap().to_file_string(),
        pk_text
    );
}

#[test]
fn unencrypted_key_with_zero_checksum_is_accepted() {
    // `minisign -G -W` writes no checksum (32 zero bytes) for unencrypted keys.
    let text = unencrypted_secret_key_text();
    let zeroed = with_blob(&text, |b| b[126..].fill(0));
    let sk = SecretKey::parse(&text, None).unwrap();
    assert_eq!(
        SecretKey::parse(&zeroed, None).unwrap().public_key(),
        sk.public_key()
    );
    // The public half is still checked against the seed.
    let bad = with_blob(&text, |b| {
        b[126..].fill(0);
        b[100] ^= 1;
    });
    assert!(matches!(
        SecretKey::parse(&bad, None),
        Err(Error::MalformedMinisign { .. })
    ));
}

#[test]
fn encrypted_secret_key_round_trips() {
    let sk = SecretKey::generate(&mut rand::thread_rng());
    let pw = b"correct horse battery staple";
    let text = sk
        .to_file_string_with(
            Some(pw),
            KdfParams::INTERACTIVE,
            &mut StdRng::seed_from_u64(9),
        )
        .unwrap();
    assert!(SecretKey::is_encrypted(&text));
    assert!(text.starts_with("untrusted comment: "));
    let back = SecretKey::parse(&text, Some(pw)).unwrap();
    assert_eq!(back.public_key(), sk.public_key());
    assert_eq!(back.keynum(), sk.keynum());
    // Same salt, same bytes.
    let again = back
        .to_file_string_with(
            Some(pw),
            KdfParams::INTERACTIVE,
            &mut StdRng::seed_from_u64(9),
        )
        .unwrap();
    assert_eq!(again, text);

    assert_eq!(
        SecretKey::parse(&text, Some(b"wrong")).unwrap_err(),
        Error::WrongPassword
    );
    assert_eq!(
        SecretKey::parse(&text, None).unwrap_err(),
        Error::PasswordRequired
    );
    // Another salt gives another file, for the same key.
    let other = sk
        .to_file_string_with(
            Some(pw),
            KdfParams::INTERACTIVE,
            &mut StdRng::seed_from_u64(10),
        )
        .unwrap();
    assert_ne!(other, text);
    assert_eq!(
        SecretKey::parse(&other, Some(pw)).unwrap().public_key(),
        sk.public_key()
    );

    let plain = sk.to_file_string(None, &mut rand::thread_rng());
    assert!(!SecretKey::is_encrypted(&plain));
    assert!(!SecretKey::is_encrypted("not a key"));
    // A password given for an unencrypted key is ignored.
    assert_eq!(
        SecretKey::parse(&plain, Some(pw)).unwrap().public_key(),
        sk.public_key()
    );
}

#[test]
fn sign_and_verify_round_trip() {
    let sk = SecretKey::generate(&mut rand::thread_rng());
    let pk = sk.public_key();
    let digest = prehash(b"artifact bytes");
    let tc = "sealwax v1 publisher=alice package=demo version=1.0.0 sha256=00";
    let sig = sk
        .try_sign_prehashed(&digest, tc, "signature from sealwax")
        .unwrap();
    assert_eq!(sig.algorithm, SignatureAlgorithm::Prehashed);
    assert_eq!(sig.keynum, pk.keynum);
    sig.verify_prehashed(&pk, &digest).unwrap();
    let text = sig.to_file_string();
    let back = SignatureBox::parse(&text).unwrap();
    assert_eq!(back, sig);
    assert_eq!(back.to_file_string(), text);
    back.verify_prehashed(&pk, &digest).unwrap();
    assert!(back
        .verify_prehashed(&pk, &prehash(b"other bytes"))
        .is_err());

    let raw = sk.sign_raw(b"msg");
    pk.verify_raw(b"msg", &raw).unwrap();
    assert!(pk.verify_raw(b"msh", &raw).is_err());
}

#[test]
fn comments_that_would_break_the_file_are_refused_or_flattened() {
    let sk = SecretKey::generate(&mut rand::thread_rng());
    let pk = sk.public_key();
    let digest = prehash(b"x");
    for (tc, uc) in [
        ("a\nb", "ok"),
        ("ok", "a\r\nb"),
        (&*"t".repeat(8174), "ok"),
        ("ok", &*"u".repeat(1004)),
    ] {
        assert!(matches!(
            sk.try_sign_prehashed(&digest, tc, uc),
            Err(Error::MalformedMinisign { .. })
        ));
    }
    let flat = sk.sign_prehashed(&digest, "line one\nline two", "un\r\ntrusted");
    assert_eq!(flat.trusted_comment, "line one line two");
    assert_eq!(flat.untrusted_comment, "un  trusted");
    let parsed = SignatureBox::parse(&flat.to_file_string()).unwrap();
    parsed.verify_prehashed(&pk, &digest).unwrap();
    let max = sk.sign_prehashed(&digest, &"t".repeat(9000), "");
    assert_eq!(max.trusted_comment.len(), 8173);
    SignatureBox::parse(&max.to_file_string())
        .unwrap()
        .verify_prehashed(&pk, &digest)
        .unwrap();
}

#[test]
fn secret_key_is_zeroized_on_drop_and_debug_hides_it() {
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<SecretKey>();
    let sk = SecretKey::generate(&mut StdRng::seed_from_u64(3));
    let text = sk.to_file_string(None, &mut rand::thread_rng());
    let secret_b64 = text.lines().nth(1).unwrap();
    let debug = format!("{sk:?}");
    assert!(debug.contains(&sk.public_key().key_id_hex()));
    assert!(!debug.contains(&secret_b64[80..100]));
    assert!(!debug.contains(&hex::encode(
        &base64::engine::general_purpose::STANDARD
            .decode(secret_b64)
            .unwrap()[62..94]
    )));
}
