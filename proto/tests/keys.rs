//! Key state: suspension through a compromised key, re-vouching, the
//! cross-publisher rules, the canonical record, and the trust decision.

use std::collections::HashSet;

use proptest::prelude::*;
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
};
use sealwax_proto::error::Rejection;
use sealwax_proto::keys::{AuthorizedBy, KeyStatus, PublisherKeys};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::rules::{LogState, MemoryLogState, ReleaseName};
use sealwax_proto::trust::{decide, NotFirstUse, Trust};
use sealwax_proto::Error;

const ORIGIN: &str = "sealwax.test/log";

fn key() -> SecretKey {
    SecretKey::generate(&mut rand::rngs::OsRng)
}

fn claim(p: &str, k: &SecretKey) -> Entry {
    Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, p, k).unwrap())
}

fn chain(p: &str, new: &SecretKey, by: &SecretKey) -> Entry {
    Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, p, new, by).unwrap())
}

fn operator(p: &str, k: &SecretKey) -> Entry {
    Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, p, k).unwrap())
}

fn revoke(p: &str, k: &SecretKey, reason: RevocationReason, by: &SecretKey) -> Entry {
    Entry::KeyRevocation(KeyRevocation::by_key(ORIGIN, p, k.public_key(), reason, by).unwrap())
}

fn release_of(p: &str, package: &str, version: &str, data: &[u8]) -> Release {
    use sha2::Digest;
    Release {
        origin: ORIGIN.into(),
        publisher: p.into(),
        package: package.into(),
        version: version.into(),
        sha256: sha2::Sha256::digest(data).into(),
    }
}

fn sign(p: &str, k: &SecretKey, version: &str, data: &[u8]) -> Entry {
    let r = release_of(p, "hello", version, data);
    Entry::Signature(SignatureEntry::sign(k, &r, prehash(data)).unwrap())
}

fn h(k: &SecretKey) -> sealwax_proto::Hash {
    k.public_key().key_hash()
}

fn rejection(e: Error) -> Rejection {
    match e {
        Error::Rejected(r) => r,
        other => panic!("expected a rule rejection, got {other:?}"),
    }
}

/// The thief's rotation: K2 chained from a stolen K1 is suspended by K1's
/// compromise, with its earlier signatures, and cannot sign or vouch.
#[test]
fn a_compromise_suspends_every_key_chained_from_it() {
    let (k1, k2, k3, k4) = (key(), key(), key(), key());
    let mut st = PublisherKeys::new("carl");
    st.apply(&claim("carl", &k1), 0).unwrap();
    st.apply(&chain("carl", &k2, &k1), 1).unwrap(); // the thief's rotation
    st.apply(&chain("carl", &k3, &k2), 2).unwrap(); // and a grandchild
    st.apply(&sign("carl", &k2, "1.0.0", b"a"), 3).unwrap();
    assert!(st.status_for_signature(&h(&k2), 3).is_valid());

    let change = st
        .apply(&revoke("carl", &k1, RevocationReason::Compromised, &k1), 4)
        .unwrap();
    assert_eq!(
        change.suspended,
        vec![h(&k2), h(&k3)],
        "children, then grandchildren"
    );
    for (k, idx) in [(&k2, 3), (&k2, 10), (&k3, 10)] {
        let s = st.status_for_signature(&h(k), idx);
        assert!(
            matches!(s, KeyStatus::Suspended(x) if x.compromised == h(&k1) && x.at == 4),
            "{s:?}"
        );
        assert!(!s.is_valid());
    }
    // A suspended key may not sign, vouch or revoke others, but may revoke itself.
    for (what, e) in [
        ("sign", sign("carl", &k2, "1.0.1", b"b")),
        ("chain", chain("carl", &k4, &k2)),
        (
            "revoke another",
            revoke("carl", &k3, RevocationReason::Retired, &k2),
        ),
        ("vouch", chain("carl", &k3, &k2)),
    ] {
        let r = rejection(st.check(&e).unwrap_err());
        assert!(matches!(r, Rejection::KeySuspended { .. }), "{what}: {r:?}");
    }
    st.check(&revoke("carl", &k2, RevocationReason::Retired, &k2))
        .unwrap();
}

/// The operator (or a key in good standing) vouches for a suspended key
/// again; a key that depends on the compromised one cannot.
#[test]
fn re_vouching_reinstates_a_suspended_key() {
    let (k1, k2, k3, k5) = (key(), key(), key(), key());
    let mut st = PublisherKeys::new("carl");
    st.apply(&claim("carl", &k1), 0).unwrap();
    st.apply(&chain("carl", &k2, &k1), 1).unwrap();
    st.apply(&chain("carl", &k3, &k2), 2).unwrap();
    st.apply(&operator("carl", &k5), 3).unwrap();
    st.apply(&sign("carl", &k3, "1.0.0", b"a"), 4).unwrap();
    st.apply(&revoke("carl", &k1, RevocationReason::Compromised, &k5), 5)
        .unwrap();
    assert!(!st.status_for_signature(&h(&k3), 4).is_valid());

    // K5 (operator-registered, untainted) vouches for K2: K2 and K3 come back.
    let change = st.apply(&chain("carl", &k2, &k5), 6).unwrap();
    assert!(change.revouched);
    assert_eq!(change.reinstated, vec![h(&k2), h(&k3)]);
    assert!(st.status_for_signature(&h(&k3), 4).is_valid());
    assert_eq!(
        st.key(&h(&k2)).unwrap().voucher(),
        AuthorizedBy::Chain(h(&k5))
    );
    // Vouching for a key in good standing, or a claim re-vouching, is refused.
    assert!(matches!(
        rejection(st.check(&chain("carl", &k2, &k5)).unwrap_err()),
        Rejection::KeyAlreadyRegistered { revoked: false, .. }
    ));
    // A revoked key cannot be vouched for.
    st.apply(&revoke("carl", &k3, RevocationReason::Retired, &k3), 7)
        .unwrap();
    assert!(st.check(&operator("carl", &k3)).is_err());
    // If K5 is compromised in turn, K2 and K3 are suspended again.
    let change = st
        .apply(&revoke("carl", &k5, RevocationReason::Compromised, &k5), 8)
        .unwrap();
    assert_eq!(change.suspended, vec![h(&k2), h(&k3)]);
}

#[test]
fn retiring_does_not_suspend_and_escalating_does() {
    let (k1, k2) = (key(), key());
    let mut st = PublisherKeys::new("ann");
    st.apply(&claim("ann", &k1), 0).unwrap();
    st.apply(&chain("ann", &k2, &k1), 1).unwrap();
    st.apply(&revoke("ann", &k1, RevocationReason::Retired, &k2), 2)
        .unwrap();
    assert_eq!(st.status_for_signature(&h(&k2), 5), KeyStatus::Active);
    let change = st
        .apply(&revoke("ann", &k1, RevocationReason::Compromised, &k1), 3)
        .unwrap();
    assert_eq!(change.suspended, vec![h(&k2)]);
}

#[test]
fn a_key_belongs_to_one_publisher_and_a_version_to_one_artifact() {
    let (a, b) = (key(), key());
    let mut log = MemoryLogState::default();
    log.apply(&claim("alice", &a), 0).unwrap();
    let r = rejection(log.apply(&claim("bob", &a), 1).unwrap_err());
    assert!(
        matches!(r, Rejection::KeyAlreadyRegistered { ref publisher, .. } if publisher == "alice")
    );
    assert!(log.get("bob").is_none(), "a refused entry leaves no trace");

    log.apply(&sign("alice", &a, "1.0.0", b"first"), 1).unwrap();
    let other = sign("alice", &a, "1.0.0", b"other bytes");
    let r = rejection(log.apply(&other, 2).unwrap_err());
    assert!(
        matches!(r, Rejection::ReleaseConflict { index: 1, .. }),
        "{r:?}"
    );
    assert!(r.to_string().contains("alice/hello@1.0.0"), "{r}");
    // The same bytes signed by another key of the publisher: a new signature of the same artifact.
    log.apply(&chain("alice", &b, &a), 2).unwrap();
    log.apply(&sign("alice", &b, "1.0.0", b"first"), 3).unwrap();
    let name = ReleaseName {
        publisher: "alice".into(),
        package: "hello".into(),
        version: "1.0.0".into(),
    };
    assert_eq!(
        log.release_record(&name).unwrap().index,
        1,
        "bound to its first signature"
    );
}

#[test]
fn records_round_trip_and_refuse_what_no_history_makes() {
    let (k1, k2, k3) = (key(), key(), key());
    let mut st = PublisherKeys::new("dana");
    st.apply(&claim("dana", &k1), 0).unwrap();
    st.apply(&chain("dana", &k2, &k1), 3).unwrap();
    st.apply(&operator("dana", &k3), 4).unwrap();
    st.apply(&revoke("dana", &k1, RevocationReason::Compromised, &k3), 7)
        .unwrap();
    st.apply(&chain("dana", &k2, &k3), 9).unwrap();
    let rec = st.to_record();
    let back = PublisherKeys::from_record(&rec).unwrap();
    assert_eq!(back, st);
    assert_eq!(back.to_record(), rec);
    assert_eq!(
        back.status_for_signature(&h(&k2), 5),
        st.status_for_signature(&h(&k2), 5)
    );

    // Every single-byte change is refused or gives another record hash.
    for i in 0..rec.len() {
        let mut bad = rec.clone();
        bad[i] ^= 0x01;
        if let Ok(p) = PublisherKeys::from_record(&bad) {
            assert_ne!(p.record_hash(), st.record_hash(), "byte {i}");
        }
    }
    // A wrong standing byte is refused: the record must say what its chain implies.
    let mut suspended = PublisherKeys::new("dana");
    suspended.apply(&claim("dana", &k1), 0).unwrap();
    suspended.apply(&chain("dana", &k2, &k1), 1).unwrap();
    suspended
        .apply(&revoke("dana", &k1, RevocationReason::Compromised, &k1), 2)
        .unwrap();
    let mut bad = suspended.to_record();
    let last = bad.len() - 1;
    assert_eq!(bad[last], 1, "k2 is recorded suspended");
    bad[last] = 0;
    assert!(matches!(
        PublisherKeys::from_record(&bad),
        Err(Error::MalformedKeyRecord(_))
    ));
    // Truncations and trailing bytes are refused.
    for cut in [0, 1, rec.len() / 2, rec.len() - 1] {
        assert!(
            PublisherKeys::from_record(&rec[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut long = rec.clone();
    long.push(0);
    assert!(PublisherKeys::from_record(&long).is_err());

    // The header and the keys' encodings, in any order, make the same state.
    let header = st.record_header();
    assert!(rec.starts_with(&header));
    let mut parts: Vec<Vec<u8>> = st.keys().iter().map(|k| k.encode()).collect();
    assert_eq!([header.clone(), parts.concat()].concat(), rec);
    parts.reverse();
    let rebuilt = PublisherKeys::from_parts(&header, parts.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(rebuilt, st);
    // A key missing, one too many, or one twice: refused.
    assert!(PublisherKeys::from_parts(&header, parts[1..].iter().map(Vec::as_slice)).is_err());
    let twice: Vec<&[u8]> = vec![&parts[0], &parts[0], &parts[1]];
    assert!(PublisherKeys::from_parts(&header, twice).is_err());
    let mut more = parts.clone();
    more.push(parts[0].clone());
    assert!(PublisherKeys::from_parts(&header, more.iter().map(Vec::as_slice)).is_err());
}

#[test]
fn a_record_whose_chains_form_a_cycle_is_refused() {
    // k1 claims, k2 is chained from k1, then k1 claims to be re-vouched by
    // k2: a loop no history can make (k2 hangs from k1).
    let (k1, k2) = (key(), key());
    let mut st = PublisherKeys::new("erin");
    st.apply(&claim("erin", &k1), 0).unwrap();
    st.apply(&chain("erin", &k2, &k1), 1).unwrap();
    let mut first = st.keys()[0].clone();
    first.vouchings.push(sealwax_proto::keys::Vouching {
        index: 5,
        by: AuthorizedBy::Chain(h(&k2)),
    });
    let parts = [first.encode(), st.keys()[1].encode()];
    let got = PublisherKeys::from_parts(&st.record_header(), parts.iter().map(Vec::as_slice));
    assert!(
        matches!(got, Err(Error::MalformedKeyRecord(m)) if m.contains("cycle")),
        "{got:?}"
    );
}

#[test]
fn changed_keys_are_reported_once_each() {
    let (k1, k2, k3) = (key(), key(), key());
    let mut st = PublisherKeys::new("fred");
    st.apply(&claim("fred", &k1), 0).unwrap();
    st.apply(&chain("fred", &k2, &k1), 1).unwrap();
    st.apply(&chain("fred", &k3, &k2), 2).unwrap();
    assert_eq!(st.take_changed(), vec![h(&k1), h(&k2), h(&k3)]);
    assert!(st.take_changed().is_empty());
    // A compromise changes the revoked key and every key it suspends.
    st.apply(&revoke("fred", &k1, RevocationReason::Compromised, &k1), 3)
        .unwrap();
    assert_eq!(st.take_changed(), vec![h(&k1), h(&k2), h(&k3)]);
    assert!(st.take_changed().is_empty());
}

#[test]
fn a_newer_state_must_extend_the_one_recorded() {
    let (k1, k2) = (key(), key());
    let mut old = PublisherKeys::new("erin");
    old.apply(&claim("erin", &k1), 0).unwrap();
    old.apply(&chain("erin", &k2, &k1), 1).unwrap();
    let mut newer = old.clone();
    newer
        .apply(&revoke("erin", &k1, RevocationReason::Compromised, &k2), 5)
        .unwrap();
    assert_eq!(newer.contradiction(&old), None);
    // A log that dropped the revocation contradicts what was recorded.
    let why = old
        .contradiction(&newer)
        .expect("the revocation is missing");
    assert!(why.contains("compromise revocation"), "{why}");
    // ... or a key.
    let mut fewer = PublisherKeys::new("erin");
    fewer.apply(&claim("erin", &k1), 0).unwrap();
    assert!(fewer.contradiction(&old).unwrap().contains("missing"));
}

#[test]
fn trust_new_keys_takes_only_the_claim_chain_of_an_unknown_publisher() {
    let (k1, k2, op) = (key(), key(), key());
    let mut st = PublisherKeys::new("alice");
    st.apply(&claim("alice", &k1), 0).unwrap();
    st.apply(&chain("alice", &k2, &k1), 1).unwrap();
    st.apply(&operator("alice", &op), 2).unwrap();
    let none = HashSet::new();

    // First use: the chain from the claim key is accepted, rooted at the claim key.
    let Ok(Trust::New(n)) = decide(&st, &h(&k2), 5, &none) else {
        panic!("k2 is new")
    };
    assert_eq!(n.first_use(), Ok(h(&k1)));
    // The operator's key: never on first use.
    let Ok(Trust::New(n)) = decide(&st, &h(&op), 5, &none) else {
        panic!("op is new")
    };
    assert_eq!(n.first_use(), Err(NotFirstUse::Operator(h(&op))));
    // Once k1 is trusted: k2 chains to it; the operator's key is refused for a known publisher.
    let trusted = HashSet::from([h(&k1)]);
    assert_eq!(
        decide(&st, &h(&k2), 5, &trusted),
        Ok(Trust::Chain {
            root: h(&k1),
            path: vec![h(&k2), h(&k1)]
        })
    );
    assert_eq!(decide(&st, &h(&k1), 5, &trusted), Ok(Trust::Direct));
    let Ok(Trust::New(n)) = decide(&st, &h(&op), 5, &trusted) else {
        panic!("op is new")
    };
    assert!(n.publisher_known);
    assert!(n.first_use().is_err());
    // After k1's compromise, k2 is invalid whoever trusts it.
    st.apply(&revoke("alice", &k1, RevocationReason::Compromised, &op), 6)
        .unwrap();
    assert!(matches!(
        decide(&st, &h(&k2), 5, &trusted),
        Err(KeyStatus::Suspended(_))
    ));
    // The operator vouches for k2 again: it is valid, but no longer chains to k1.
    st.apply(&operator("alice", &k2), 7).unwrap();
    let Ok(Trust::New(n)) = decide(&st, &h(&k2), 5, &trusted) else {
        panic!("k2 is no longer chained from a trusted key")
    };
    assert_eq!(n.operator, Some(h(&k2)));
}

/// One step of a random history over a small pool of keys and publishers.
#[derive(Debug, Clone)]
enum Op {
    Claim(usize, usize),
    Chain(usize, usize, usize),
    Operator(usize, usize),
    Revoke(usize, usize, bool, Option<usize>),
    Sign(usize, usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..6usize;
    let p = 0..2usize;
    prop_oneof![
        (p.clone(), k.clone()).prop_map(|(p, k)| Op::Claim(p, k)),
        (p.clone(), k.clone(), k.clone()).prop_map(|(p, k, b)| Op::Chain(p, k, b)),
        (p.clone(), k.clone()).prop_map(|(p, k)| Op::Operator(p, k)),
        (
            p.clone(),
            k.clone(),
            any::<bool>(),
            proptest::option::of(k.clone())
        )
            .prop_map(|(p, k, c, b)| Op::Revoke(p, k, c, b)),
        (p, k, 0..3u8).prop_map(|(p, k, v)| Op::Sign(p, k, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever history is accepted, every publisher's record round-trips,
    /// a later state extends every earlier one, and a suspended key's
    /// chain really passes through a compromised key.
    #[test]
    fn accepted_histories_keep_their_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        let keys: Vec<SecretKey> = (0..6).map(|_| key()).collect();
        let names = ["p0", "p1"];
        let mut log = MemoryLogState::default();
        let mut index = 0u64;
        // What the log stores: a record per key, rewritten when it changes.
        let mut stored: std::collections::BTreeMap<(&str, sealwax_proto::Hash), Vec<u8>> = Default::default();
        for o in ops {
            let e = match o {
                Op::Claim(p, k) => claim(names[p], &keys[k]),
                Op::Chain(p, k, b) => chain(names[p], &keys[k], &keys[b]),
                Op::Operator(p, k) => operator(names[p], &keys[k]),
                Op::Revoke(p, k, c, b) => {
                    let reason = if c { RevocationReason::Compromised } else { RevocationReason::Retired };
                    match b {
                        Some(b) => revoke(names[p], &keys[k], reason, &keys[b]),
                        None => Entry::KeyRevocation(KeyRevocation::by_operator(names[p], keys[k].public_key(), reason).unwrap()),
                    }
                }
                Op::Sign(p, k, v) => sign(names[p], &keys[k], &format!("1.0.{v}"), &[v, k as u8]),
            };
            let before: Vec<PublisherKeys> = log.publishers().cloned().collect();
            if log.apply(&e, index).is_ok() {
                index += 1;
            }
            for old in before {
                let now = log.get(&old.publisher).expect("publishers stay");
                prop_assert_eq!(now.contradiction(&old), None);
            }
            for name in names {
                if log.get(name).is_some() {
                    let pk = log.publisher_keys(name).expect("infallible");
                    for kh in pk.take_changed() {
                        let rec = pk.key(&kh).expect("a changed key is a key").encode();
                        stored.insert((name, kh), rec);
                    }
                }
            }
            // Every key whose encoding changed was reported changed.
            for p in log.publishers() {
                for k in p.keys() {
                    let name = names.iter().find(|n| **n == p.publisher).expect("a name");
                    prop_assert_eq!(stored.get(&(*name, k.key_hash)), Some(&k.encode()));
                }
            }
        }
        for p in log.publishers() {
            let parts = stored.iter().filter(|((n, _), _)| *n == p.publisher).map(|(_, r)| r.as_slice());
            let back = PublisherKeys::from_parts(&p.record_header(), parts).expect("stored key records rebuild the state");
            prop_assert_eq!(&back, p);
            prop_assert_eq!(back.to_record(), p.to_record());
        }
        for p in log.publishers() {
            let back = PublisherKeys::from_record(&p.to_record()).expect("a real history's record parses");
            prop_assert_eq!(&back, p);
            for k in p.keys() {
                if let Some(s) = k.suspended {
                    let chain = p.chain(&k.key_hash);
                    prop_assert!(chain.iter().skip(1).any(|r| r.key_hash == s.compromised && r.compromised_at == Some(s.at)));
                } else {
                    prop_assert!(p.chain(&k.key_hash).iter().skip(1).all(|r| r.compromised_at.is_none()));
                }
            }
        }
    }
}
