//! Entry encoding, statements and the publisher key rules.

use sealwax_proto::entry::{
    Authorization, Entry, KeyRegistration, KeyRevocation, Release, RevocationReason,
    SignatureEntry, MAX_ENTRY_SIZE,
};
use sealwax_proto::error::Rejection;
use sealwax_proto::keys::{KeyStatus, PublisherKeys};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::Error;

const ORIGIN: &str = "sealwax.test/log";

fn key() -> SecretKey {
    SecretKey::generate(&mut rand::rngs::OsRng)
}

fn release(publisher: &str, package: &str, version: &str, data: &[u8]) -> Release {
    use sha2::Digest;
    Release {
        origin: ORIGIN.to_string(),
        publisher: publisher.to_string(),
        package: package.to_string(),
        version: version.to_string(),
        sha256: sha2::Sha256::digest(data).into(),
    }
}

fn sig_entry(sk: &SecretKey, publisher: &str, data: &[u8]) -> Entry {
    let rel = release(publisher, "pkg", "1.0.0", data);
    Entry::Signature(SignatureEntry::sign(sk, &rel, prehash(data)).unwrap())
}

fn all_kinds() -> Vec<(&'static str, Entry)> {
    let a = key();
    let b = key();
    vec![
        (
            "claim",
            Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, "alice", &a).unwrap()),
        ),
        (
            "chain",
            Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &b, &a).unwrap()),
        ),
        (
            "operator registration",
            Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "alice", &b).unwrap()),
        ),
        (
            "revocation by key",
            Entry::KeyRevocation(
                KeyRevocation::by_key(
                    ORIGIN,
                    "alice",
                    a.public_key(),
                    RevocationReason::Compromised,
                    &b,
                )
                .unwrap(),
            ),
        ),
        (
            "revocation by operator",
            Entry::KeyRevocation(
                KeyRevocation::by_operator("alice", a.public_key(), RevocationReason::Retired)
                    .unwrap(),
            ),
        ),
        ("signature", sig_entry(&a, "alice", b"artifact")),
    ]
}

#[test]
fn every_kind_round_trips_and_verifies() {
    for (desc, entry) in all_kinds() {
        let bytes = entry.to_bytes();
        assert!(bytes.len() <= MAX_ENTRY_SIZE, "{desc}");
        let parsed = Entry::parse(&bytes).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(parsed, entry, "{desc}");
        assert_eq!(parsed.to_bytes(), bytes, "{desc}: not canonical");
        entry
            .verify_signatures(ORIGIN)
            .unwrap_or_else(|e| panic!("{desc}: {e}"));
    }
}

#[test]
fn truncations_and_trailing_bytes_are_refused() {
    for (desc, entry) in all_kinds() {
        let bytes = entry.to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                Entry::parse(&bytes[..cut]).is_err(),
                "{desc}: truncated at {cut} parsed"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            Entry::parse(&longer).is_err(),
            "{desc}: trailing byte parsed"
        );
    }
}

#[test]
fn bad_headers_and_fields_are_refused() {
    let good = all_kinds().remove(0).1.to_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("version 0", [&[0u8][..], &good[1..]].concat()),
        ("version 2", [&[2u8][..], &good[1..]].concat()),
        ("kind 0", [&good[..1], &[0u8][..], &good[2..]].concat()),
        ("kind 4", [&good[..1], &[4u8][..], &good[2..]].concat()),
        ("unknown auth", {
            let mut b = good.clone();
            *b.last_mut().unwrap() = 9;
            b
        }),
        ("uppercase publisher", {
            let mut b = good.clone();
            b[3] = b'A';
            b
        }),
        ("oversized", vec![1u8; MAX_ENTRY_SIZE + 1]),
    ];
    for (desc, bytes) in cases {
        assert!(Entry::parse(&bytes).is_err(), "{desc} parsed");
    }
}

#[test]
fn a_signature_for_one_kind_publisher_or_origin_fails_as_another() {
    let a = key();
    let claim = KeyRegistration::claim(ORIGIN, "alice", &a).unwrap();
    // Same bytes under another publisher: the proof of possession no longer covers it.
    let mut other = claim.clone();
    other.publisher = "mallory".into();
    assert!(Entry::KeyRegistration(other)
        .verify_signatures(ORIGIN)
        .is_err());
    // Another log's origin.
    assert!(Entry::KeyRegistration(claim.clone())
        .verify_signatures("other.example/log")
        .is_err());
    // A chain signature reused as a revocation signature (another statement kind).
    let b = key();
    let chain = KeyRegistration::chain(ORIGIN, "alice", &b, &a).unwrap();
    let Authorization::Chain { by, signature } = chain.authorization.clone() else {
        unreachable!()
    };
    let forged = KeyRevocation {
        publisher: "alice".into(),
        key: b.public_key(),
        reason: RevocationReason::Retired,
        authorization: sealwax_proto::entry::RevocationAuthorization::Key { by, signature },
    };
    assert!(Entry::KeyRevocation(forged)
        .verify_signatures(ORIGIN)
        .is_err());
    // A revocation signed as retired does not pass as compromised.
    let rev = KeyRevocation::by_key(
        ORIGIN,
        "alice",
        b.public_key(),
        RevocationReason::Retired,
        &a,
    )
    .unwrap();
    let mut flipped = rev.clone();
    flipped.reason = RevocationReason::Compromised;
    assert!(Entry::KeyRevocation(rev).verify_signatures(ORIGIN).is_ok());
    assert!(Entry::KeyRevocation(flipped)
        .verify_signatures(ORIGIN)
        .is_err());
    // A signature entry checked by another log, or with its comment edited.
    let s = sig_entry(&a, "alice", b"data");
    assert!(matches!(
        s.verify_signatures("other.example/log"),
        Err(Error::SignatureForOtherLog { .. })
    ));
    let Entry::Signature(mut se) = s else {
        unreachable!()
    };
    se.trusted_comment = se.trusted_comment.replace("version=1.0.0", "version=1.0.1");
    assert!(Entry::Signature(se).verify_signatures(ORIGIN).is_err());
}

#[test]
fn trusted_comment_is_canonical() {
    let rel = release("alice", "pkg", "1.0.0", b"x");
    let c = rel.trusted_comment();
    assert_eq!(Release::parse_trusted_comment(&c).unwrap(), rel);
    let bad = [
        ("not sealwax", "timestamp:1 file:x".to_string()),
        (
            "reordered",
            c.replace("publisher=alice package=pkg", "package=pkg publisher=alice"),
        ),
        (
            "uppercase hex",
            c.to_uppercase().replace("SEALWAX/V1", "sealwax/v1"),
        ),
        ("trailing field", format!("{c} extra=1")),
        ("double space", c.replace(' ', "  ")),
        ("bad package", c.replace("package=pkg", "package=Pkg")),
        ("short hash", c[..c.len() - 2].to_string()),
    ];
    for (desc, comment) in bad {
        assert!(
            Release::parse_trusted_comment(&comment).is_err(),
            "{desc}: {comment}"
        );
    }
}

#[test]
fn publisher_rules() {
    let a = key();
    let b = key();
    let c = key();
    let mut st = PublisherKeys::new("alice");
    let claim = Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, "alice", &a).unwrap());
    // A signature before any key: unknown publisher.
    assert!(matches!(
        st.check(&sig_entry(&a, "alice", b"x")),
        Err(Error::Rejected(Rejection::UnknownPublisher(_)))
    ));
    st.apply(&claim, 0).unwrap();
    // Second claim: name taken.
    let claim_b = Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, "alice", &b).unwrap());
    assert!(matches!(
        st.check(&claim_b),
        Err(Error::Rejected(Rejection::NameTaken(_)))
    ));
    // Same key again: already registered.
    assert!(matches!(
        st.check(&claim),
        Err(Error::Rejected(Rejection::KeyAlreadyRegistered { .. }))
    ));
    // Chain by an unknown key: refused. Chain by the active key: accepted.
    let bad_chain =
        Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &b, &c).unwrap());
    assert!(matches!(
        st.check(&bad_chain),
        Err(Error::Rejected(Rejection::AuthoriserNotActive { .. }))
    ));
    let chain = Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &b, &a).unwrap());
    st.apply(&chain, 1).unwrap();
    // Signatures by a at 2, then retire a at 3.
    st.apply(&sig_entry(&a, "alice", b"v1"), 2).unwrap();
    let retire = Entry::KeyRevocation(
        KeyRevocation::by_key(
            ORIGIN,
            "alice",
            a.public_key(),
            RevocationReason::Retired,
            &b,
        )
        .unwrap(),
    );
    st.apply(&retire, 3).unwrap();
    let ah = a.public_key().key_hash();
    assert_eq!(st.status_for_signature(&ah, 2), KeyStatus::RetiredAfter(3));
    assert!(st.status_for_signature(&ah, 2).is_valid());
    assert_eq!(st.status_for_signature(&ah, 4), KeyStatus::Retired(3));
    assert!(!st.status_for_signature(&ah, 4).is_valid());
    // The retired key can no longer sign or authorise.
    assert!(matches!(
        st.check(&sig_entry(&a, "alice", b"v2")),
        Err(Error::Rejected(Rejection::KeyRevoked { .. }))
    ));
    let chain_c = Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &c, &a).unwrap());
    assert!(st.check(&chain_c).is_err());
    // Revoking it again is refused; re-registering it is refused.
    assert!(st.check(&retire).is_err());
    let op_a = Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "alice", &a).unwrap());
    assert!(matches!(
        st.check(&op_a),
        Err(Error::Rejected(Rejection::KeyAlreadyRegistered {
            revoked: true,
            ..
        }))
    ));
    // A retired key that later leaks is escalated to compromised, signed by
    // itself: its earlier signatures stop being valid. Escalating twice, or
    // "retiring" a compromised key, is refused.
    let mut escalated = st.clone();
    let leak = Entry::KeyRevocation(
        KeyRevocation::by_key(
            ORIGIN,
            "alice",
            a.public_key(),
            RevocationReason::Compromised,
            &a,
        )
        .unwrap(),
    );
    escalated.apply(&leak, 4).unwrap();
    assert_eq!(
        escalated.status_for_signature(&ah, 2),
        KeyStatus::Compromised(4)
    );
    assert!(escalated.check(&leak).is_err());
    assert!(escalated.check(&retire).is_err());
    // Operator registration of a new key, then compromise of b.
    let op_c = Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "alice", &c).unwrap());
    assert!(op_c.needs_operator());
    st.apply(&op_c, 5).unwrap();
    st.apply(&sig_entry(&b, "alice", b"v3"), 6).unwrap();
    let compromise = Entry::KeyRevocation(
        KeyRevocation::by_key(
            ORIGIN,
            "alice",
            b.public_key(),
            RevocationReason::Compromised,
            &c,
        )
        .unwrap(),
    );
    st.apply(&compromise, 7).unwrap();
    let bh = b.public_key().key_hash();
    assert_eq!(st.status_for_signature(&bh, 6), KeyStatus::Compromised(7));
    assert!(!st.status_for_signature(&bh, 6).is_valid());
    // A key registered later is unknown for earlier signatures.
    let ch = c.public_key().key_hash();
    assert_eq!(st.status_for_signature(&ch, 4), KeyStatus::Unknown);
    assert_eq!(st.active_keys().count(), 1);
    // An entry about another publisher is refused.
    assert!(st.check(&sig_entry(&c, "bob", b"x")).is_err());
}

#[test]
fn minisig_rebuilds_from_the_entry() {
    let a = key();
    let data = b"the artifact";
    let Entry::Signature(se) = sig_entry(&a, "alice", data) else {
        unreachable!()
    };
    let sigbox = se.to_signature_box();
    sigbox
        .verify_prehashed(&a.public_key(), &prehash(data))
        .unwrap();
    let text = sigbox.to_file_string();
    let parsed = sealwax_proto::minisign::SignatureBox::parse(&text).unwrap();
    let rebuilt =
        SignatureEntry::from_signature_box(&parsed, a.public_key(), prehash(data)).unwrap();
    assert_eq!(rebuilt, se);
    // Another key's signature does not rebuild under this key.
    let b = key();
    assert!(SignatureEntry::from_signature_box(&parsed, b.public_key(), prehash(data)).is_err());
}
