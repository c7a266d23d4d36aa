//! The attacks a security review ran against the real binaries, kept as
//! tests: a key thief, the log's operator, a front-end that edits answers,
//! and a key holder who splits verifiers. Each one succeeded against the
//! sealwax before the trust rules moved into `sealwax_proto` (run them with
//! `SEALWAX_BIN_DIR` pointing at an older build to see it); each must fail.

use std::fs;
use std::path::Path;
use std::process::Output;

use sealwax_proto::entry::{
    possession_statement, Authorization, Entry, KeyRegistration, KeyRevocation, Release,
    RevocationAuthorization, RevocationReason, SignatureEntry,
};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_tests::{
    copy_dir, fails_with, generated_pub, mixed_order, path_str as s, read_public_key, submit_entry,
    succeeds, tree_size, Client,
};

use crate::scenarios::{generate, publish_as, secret_of, Story, EXIT_LOG, EXIT_REFUSED};

/// `install TARGET --to DIR [extra...]`.
pub(crate) fn install(c: &Client, target: &str, to: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["install", target, "--to", s(to)];
    args.extend_from_slice(extra);
    c.run(&args)
}

/// Attack 1: the operator registers a key for alice and signs with it; an
/// installer running with `--trust-new-keys` (as CI does) must not take it,
/// whether it trusted alice before or not.
#[test]
fn trust_new_keys_never_takes_an_operator_substituted_key() {
    let st = Story::with_operator();
    let alice = st.client("alice");
    generate(&alice, "alice");
    succeeds(
        publish_as(&alice, "alice", &st.artifact("v1", 3_000, 1), "1.0.0", None),
        "publish",
    );
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    succeeds(
        install(&bob, "alice/hello@1.0.0", &to, &["--trust-new-keys"]),
        "bob's first install",
    );

    let mallory = st.client("mallory");
    let (rogue_pub, _) = st.register_rogue_key(&mallory);
    let evil = st.artifact("evil", 3_000, 66);
    succeeds(
        publish_as(
            &mallory,
            "alice",
            &evil,
            "1.0.1",
            Some(&secret_of(&rogue_pub)),
        ),
        "the operator's release",
    );
    let rogue = read_public_key(&rogue_pub);
    for (who, dest) in [("bob", to.clone()), ("carol", st.path("carol-packages"))] {
        let c = st.client(who);
        let err = fails_with(
            install(&c, "alice/hello@1.0.1", &dest, &["--trust-new-keys"]),
            EXIT_REFUSED,
            &format!("{who}: install of the operator's release with --trust-new-keys"),
        );
        assert!(err.contains(&rogue.key_id_hex()), "{who}: {err}");
        assert!(
            err.contains("--trust-new-keys does not trust it"),
            "{who}: {err}"
        );
        assert!(err.contains("sealwax keys import"), "{who}: {err}");
        assert!(
            !dest.join("hello-1.0.1").exists(),
            "{who}: nothing installed"
        );
    }
    // A first-time installer still takes alice's own first key.
    succeeds(
        install(
            &st.client("carol"),
            "alice/hello@1.0.0",
            &st.path("carol-packages"),
            &["--trust-new-keys"],
        ),
        "carol's install of alice's own release",
    );
}

/// Attack 2: a thief with carl's key chains a key of their own from it;
/// carl revokes the stolen key as compromised. The thief's key is
/// suspended everywhere: the log refuses its signatures, installers refuse
/// its releases (earlier ones too), and carl's monitor says so.
#[test]
fn a_thiefs_chained_key_dies_with_the_compromised_key() {
    let st = Story::new();
    let carl = st.client("carl");
    let k1 = read_public_key(&generate(&carl, "carl"));
    succeeds(
        publish_as(&carl, "carl", &st.artifact("good", 2_000, 2), "1.0.0", None),
        "carl's release",
    );
    let m = st.monitor(
        "carl-monitor",
        &sealwax_tests::Monitor::watch_keys("carl", &[&k1]),
    );

    // The thief copies carl's home and rotates to a key of their own.
    copy_dir(&carl.home, &st.path("thief"));
    let thief = st.client("thief");
    let out = succeeds(
        thief.run(&["keys", "rotate", "--publisher", "carl", "-W"]),
        "the thief's rotation",
    );
    let k2 = read_public_key(&generated_pub(&out));
    let stolen = st.artifact("stolen", 2_000, 3);
    succeeds(
        publish_as(&thief, "carl", &stolen, "6.6.6", None),
        "the thief's first release",
    );
    // erin installs it while it still looks fine.
    let erin = st.client("erin");
    let erin_to = st.path("erin-packages");
    succeeds(
        install(&erin, "carl/hello@6.6.6", &erin_to, &["--trust-new-keys"]),
        "erin's install",
    );

    // carl revokes the stolen key as compromised.
    let k1_file = carl.home.join("k1.pub");
    fs::write(&k1_file, k1.to_file_string()).unwrap();
    succeeds(
        carl.run(&[
            "keys",
            "revoke",
            s(&k1_file),
            "--compromised",
            "--publisher",
            "carl",
        ]),
        "carl's revocation",
    );

    // The log refuses the thief's next release.
    let err = fails_with(
        publish_as(
            &thief,
            "carl",
            &st.artifact("stolen2", 2_000, 4),
            "6.6.7",
            None,
        ),
        EXIT_REFUSED,
        "the thief's release after the compromise",
    );
    assert!(err.contains("suspended"), "{err}");
    // A new installer refuses the earlier one, with or without --trust-new-keys.
    let dave_to = st.path("dave-packages");
    let err = fails_with(
        install(
            &st.client("dave"),
            "carl/hello@6.6.6",
            &dave_to,
            &["--trust-new-keys"],
        ),
        EXIT_REFUSED,
        "dave's install of the thief's release",
    );
    assert!(err.contains("suspended"), "{err}");
    assert!(err.contains(&k2.key_id_hex()), "{err}");
    // erin learns it on her next install, and then offline verify refuses too.
    let err = fails_with(
        install(&erin, "carl/hello@6.6.6", &erin_to, &[]),
        EXIT_REFUSED,
        "erin's second install",
    );
    assert!(err.contains("suspended"), "{err}");
    let err = fails_with(
        erin.run(&["verify", s(&erin_to.join("hello-6.6.6"))]),
        EXIT_REFUSED,
        "erin's offline verify",
    );
    assert!(err.contains("suspended"), "{err}");

    // carl's monitor reports the thief's key, the revocation and the suspension.
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    let kinds = r.kinds();
    for k in ["unexpected-key", "key-revoked", "key-suspended"] {
        assert!(kinds.iter().any(|x| x == k), "no {k}: {}", r.debug());
    }
    let suspended = r
        .alerts
        .iter()
        .find(|a| a["kind"] == "key-suspended")
        .unwrap();
    assert_eq!(
        suspended["key"]["key_hash"],
        hex::encode(k2.key_hash()),
        "{suspended}"
    );
}

/// Attack 3: finn saw erin's key revoked as compromised; a front-end then
/// drops the revocation from erin's key list. finn's install is refused as
/// log misbehaviour, and so is offline verify.
#[test]
fn an_installer_remembers_a_revocation_a_front_end_drops() {
    let st = Story::new();
    let erin = st.client("erin");
    let k1 = read_public_key(&generate(&erin, "erin"));
    succeeds(
        publish_as(&erin, "erin", &st.artifact("a", 2_000, 5), "1.0.0", None),
        "erin's release",
    );
    let finn = st.client("finn");
    let to = st.path("finn-packages");
    succeeds(
        install(&finn, "erin/hello@1.0.0", &to, &["--trust-new-keys"]),
        "finn's first install",
    );

    let k1_file = erin.home.join("k1.pub");
    fs::write(&k1_file, k1.to_file_string()).unwrap();
    succeeds(
        erin.run(&[
            "keys",
            "revoke",
            s(&k1_file),
            "--compromised",
            "--publisher",
            "erin",
        ]),
        "erin's revocation",
    );
    let err = fails_with(
        install(&finn, "erin/hello@1.0.0", &to, &[]),
        EXIT_REFUSED,
        "finn's install after the revocation",
    );
    assert!(err.contains("compromised"), "{err}");

    // The front-end drops revocations from every key list it passes on.
    let proxy = crate::directory_client::dropping_revocations(&st);
    let behind = Client {
        home: finn.home.clone(),
        log: proxy.url.clone(),
        log_key: finn.log_key.clone(),
    };
    let err = fails_with(
        install(&behind, "erin/hello@1.0.0", &to, &[]),
        EXIT_LOG,
        "finn's install behind the front-end",
    );
    assert!(
        err.contains("contradicts what this client verified"),
        "{err}"
    );
    assert!(err.contains("compromise revocation"), "{err}");
    let err = fails_with(
        finn.run(&["verify", s(&to.join("hello-1.0.0"))]),
        EXIT_REFUSED,
        "finn's offline verify",
    );
    assert!(err.contains("compromised"), "{err}");
}

/// Attempts per entry kind: each makes a new mixed-order signature, and a
/// batch check would accept each with probability 1/2.
fn attempts() -> usize {
    12
}

/// Attack 4: a key holder submits entries whose signature has a nonce
/// with a small-order component: a batch check accepts about half of them,
/// a strict check none. The log must log none, of any entry kind.
#[test]
fn strict_verification_never_logs_a_mixed_order_signature() {
    let st = Story::new();
    let url = &st.server.url;
    let origin = &st.server.origin;
    let k1 = SecretKey::generate(&mut rand::rngs::OsRng);
    let claim = Entry::KeyRegistration(KeyRegistration::claim(origin, "alice", &k1).unwrap());
    submit_entry(url, &claim.to_bytes(), None).expect("an honest claim is logged");
    let size = tree_size(url);
    let release = |v: usize| Release {
        origin: origin.clone(),
        publisher: "alice".into(),
        package: "hello".into(),
        version: format!("1.0.{v}"),
        sha256: [v as u8; 32],
    };

    let (mut accepted, mut other) = (Vec::new(), Vec::new());
    for i in 0..attempts() {
        let fresh = SecretKey::generate(&mut rand::rngs::OsRng);
        // A claim whose proof of possession is mixed-order.
        let mut c = KeyRegistration::claim(origin, &format!("p{i}"), &fresh).unwrap();
        c.possession =
            mixed_order::sign(&fresh, &possession_statement(origin, &c.publisher, &c.key));
        // A chain registration whose authorisation by k1 is mixed-order.
        let mut ch = KeyRegistration::chain(origin, "alice", &fresh, &k1).unwrap();
        if let Authorization::Chain { signature, .. } = &mut ch.authorization {
            let msg =
                sealwax_proto::entry::authorization_statement(origin, "alice", &fresh.public_key());
            *signature = mixed_order::sign(&k1, &msg);
        }
        // A revocation of k1 signed mixed-order by k1.
        let mut rv = KeyRevocation::by_key(
            origin,
            "alice",
            k1.public_key(),
            RevocationReason::Retired,
            &k1,
        )
        .unwrap();
        if let RevocationAuthorization::Key { signature, .. } = &mut rv.authorization {
            let msg = sealwax_proto::entry::revocation_statement(
                origin,
                "alice",
                &k1.public_key(),
                RevocationReason::Retired,
            );
            *signature = mixed_order::sign(&k1, &msg);
        }
        // A release whose digest signature is mixed-order (the global
        // signature over it honest), and one whose global signature is.
        let data = format!("release {i}");
        let mut digest = SignatureEntry::sign(&k1, &release(i), prehash(data.as_bytes())).unwrap();
        digest.signature = mixed_order::sign(&k1, &digest.prehash);
        let mut global_msg = digest.signature.to_vec();
        global_msg.extend_from_slice(digest.trusted_comment.as_bytes());
        digest.global_signature = k1.sign_raw(&global_msg);
        let mut global =
            SignatureEntry::sign(&k1, &release(100 + i), prehash(data.as_bytes())).unwrap();
        let mut global_msg = global.signature.to_vec();
        global_msg.extend_from_slice(global.trusted_comment.as_bytes());
        global.global_signature = mixed_order::sign(&k1, &global_msg);

        for (kind, e) in [
            ("claim", Entry::KeyRegistration(c)),
            ("chain", Entry::KeyRegistration(ch)),
            ("revocation", Entry::KeyRevocation(rv)),
            ("release digest", Entry::Signature(digest)),
            ("release comment", Entry::Signature(global)),
        ] {
            match submit_entry(url, &e.to_bytes(), None) {
                Ok(index) => accepted.push(format!("{kind} at index {index}")),
                Err((400, body)) if body.contains("signature") => {}
                Err((status, body)) => other.push(format!("{kind}: {status} {body}")),
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "the log appended mixed-order signatures: {accepted:?}"
    );
    assert!(
        other.is_empty(),
        "refused for another reason than the signature: {other:?}"
    );
    assert_eq!(tree_size(url), size, "nothing was appended");
    // The same entries, honestly signed, are logged: the attempts were valid otherwise.
    let honest = SignatureEntry::sign(&k1, &release(7), prehash(b"release 7")).unwrap();
    submit_entry(url, &Entry::Signature(honest).to_bytes(), None)
        .expect("an honest release is logged");
}

/// Attack 5: alice/hello@1.0.0 published again with other bytes. The log
/// refuses it; installs keep getting the first bytes; the same bytes again
/// are a duplicate.
#[test]
fn a_version_names_one_artifact_for_ever() {
    let st = Story::new();
    let alice = st.client("alice");
    generate(&alice, "alice");
    let first = st.artifact("first", 4_000, 7);
    succeeds(
        publish_as(&alice, "alice", &first, "1.0.0", None),
        "the first publish",
    );
    let other = st.artifact("other", 4_000, 8);
    let err = fails_with(
        publish_as(&alice, "alice", &other, "1.0.0", None),
        EXIT_REFUSED,
        "a second artifact for alice/hello@1.0.0",
    );
    assert!(
        err.contains("alice/hello@1.0.0 is already published"),
        "{err}"
    );
    assert!(err.contains("new version"), "{err}");
    succeeds(
        publish_as(&alice, "alice", &first, "1.0.0", None),
        "the same bytes again",
    );
    let to = st.path("packages");
    succeeds(
        install(
            &st.client("bob"),
            "alice/hello@1.0.0",
            &to,
            &["--trust-new-keys"],
        ),
        "install",
    );
    assert_eq!(
        fs::read(to.join("hello-1.0.0")).unwrap(),
        fs::read(&first).unwrap()
    );
}

/// A file in the working directory named like a release is not taken for
/// the release: its signature must be for that very release.
#[test]
fn a_file_named_like_a_release_is_not_taken_for_it() {
    let st = Story::new();
    let alice = st.client("alice");
    generate(&alice, "alice");
    succeeds(
        publish_as(
            &alice,
            "alice",
            &st.artifact("genuine", 2_000, 9),
            "1.0.0",
            None,
        ),
        "alice's release",
    );
    let mallory = st.client("mallory");
    generate(&mallory, "mallory");
    let evil = st.artifact("evil", 2_000, 10);
    succeeds(
        publish_as(&mallory, "mallory", &evil, "1.0.0", None),
        "mallory's release",
    );
    // mallory's release, with its signature and proof, under alice's name.
    let work = st.path("work");
    fs::create_dir_all(work.join("alice")).unwrap();
    for suffix in ["", ".minisig", ".tlog-proof"] {
        let mut from = evil.clone().into_os_string();
        from.push(suffix);
        fs::copy(&from, work.join(format!("alice/hello@1.0.0{suffix}"))).unwrap();
    }
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    let out = bob
        .cmd()
        .current_dir(&work)
        .args([
            "install",
            "alice/hello@1.0.0",
            "--to",
            s(&to),
            "--trust-new-keys",
        ])
        .output()
        .unwrap();
    let err = fails_with(out, EXIT_REFUSED, "install with a look-alike file present");
    assert!(err.contains("mallory/hello@1.0.0"), "{err}");
    assert!(err.contains("./alice/hello@1.0.0"), "{err}");
    assert!(!to.join("hello@1.0.0").exists() && !to.join("hello-1.0.0").exists());
}

/// An artifact with no `.minisig` is matched to a logged signature by its
/// SHA-256: a publisher the installer trusts wins over a newer stranger.
#[test]
fn a_lookup_by_sha256_prefers_a_publisher_you_trust() {
    let st = Story::new();
    let alice = st.client("alice");
    generate(&alice, "alice");
    let bytes = st.artifact("tool", 2_000, 11);
    succeeds(
        publish_as(&alice, "alice", &bytes, "1.0.0", None),
        "alice's release",
    );
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    succeeds(
        install(&bob, "alice/hello@1.0.0", &to, &["--trust-new-keys"]),
        "bob trusts alice",
    );
    // mallory signs the very same bytes later.
    let mallory = st.client("mallory");
    generate(&mallory, "mallory");
    let copy = st.path("copy-for-mallory");
    fs::copy(&bytes, &copy).unwrap();
    succeeds(
        publish_as(&mallory, "mallory", &copy, "9.9.9", None),
        "mallory's signature",
    );
    let bare = st.path("bare");
    fs::create_dir_all(&bare).unwrap();
    let file = bare.join("tool.bin");
    fs::copy(&bytes, &file).unwrap();
    let out = succeeds(
        install(&bob, s(&file), &st.path("bare-installed"), &[]),
        "install by SHA-256",
    );
    assert!(out.contains("publisher \"alice\""), "{out}");
}

/// `learn = true` learns only the claim key and its chain: an operator
/// registration in the history is reported on the first run, and so is a
/// revocation.
#[test]
fn learn_mode_reports_operator_keys_and_revocations() {
    let st = Story::with_operator();
    let alice = st.client("alice");
    generate(&alice, "alice");
    let mallory = st.client("mallory");
    let (rogue_pub, reg) = st.register_rogue_key(&mallory);
    let out = succeeds(
        alice.run(&[
            "keys",
            "rotate",
            "--publisher",
            "alice",
            "-W",
            "--retire-old",
        ]),
        "rotation",
    );
    assert!(out.contains("Retired the old key"), "{out}");
    let m = st.monitor("m", "[[watch]]\npublisher = \"alice\"\nlearn = true\n");
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(
        r.kinds(),
        ["unexpected-key", "key-revoked"],
        "{}",
        r.debug()
    );
    assert_eq!(r.alerts[0]["index"], reg["index"]);
    // The operator's key was not learned: what it signs is unexpected.
    succeeds(
        publish_as(
            &mallory,
            "alice",
            &st.artifact("x", 500, 12),
            "0.0.1",
            Some(&secret_of(&rogue_pub)),
        ),
        "the operator's release",
    );
    let r = m.run();
    assert_eq!(r.kinds(), ["unexpected-signature"], "{}", r.debug());
}

/// The way back from a suspension: carl's K0 vouched for K1, K1 for K2;
/// K1 is revoked as compromised, which suspends K2. carl still trusts K2
/// (it never left his machine), so K0 vouches for it again with
/// `keys vouch`: K2's releases, earlier and later, are valid again, and
/// carl's monitor reports the re-vouching. A revoked key cannot be vouched
/// for, nor an active one.
#[test]
fn a_suspended_key_is_vouched_for_again_by_a_key_in_good_standing() {
    let st = Story::new();
    let carl = st.client("carl");
    let k0 = read_public_key(&generate(&carl, "carl"));
    let rotate = |what| {
        let out = succeeds(
            carl.run(&["keys", "rotate", "--publisher", "carl", "-W"]),
            what,
        );
        generated_pub(&out)
    };
    let k1_file = rotate("the first rotation");
    let k2_file = rotate("the second rotation");
    let k2 = read_public_key(&k2_file);
    succeeds(
        publish_as(
            &carl,
            "carl",
            &st.artifact("before", 2_000, 5),
            "1.0.0",
            None,
        ),
        "the release signed by K2",
    );
    let m = st.monitor(
        "carl-monitor",
        &sealwax_tests::Monitor::watch_keys("carl", &[&k0, &read_public_key(&k1_file), &k2]),
    );
    assert_eq!(m.run().code(), Some(0), "a quiet start");

    // Vouching for a key in good standing is refused, and changes nothing.
    let size = tree_size(&st.server.url);
    let err = fails_with(
        carl.run(&["keys", "vouch", s(&k2_file)]),
        EXIT_REFUSED,
        "vouching for an active key",
    );
    assert!(err.contains("not suspended"), "{err}");
    assert_eq!(tree_size(&st.server.url), size, "nothing was logged");

    succeeds(
        carl.run(&["keys", "revoke", s(&k1_file), "--compromised"]),
        "the compromise revocation of K1",
    );
    let dave = st.client("dave");
    let dave_to = st.path("dave-packages");
    let err = fails_with(
        install(&dave, "carl/hello@1.0.0", &dave_to, &["--trust-new-keys"]),
        EXIT_REFUSED,
        "an install while K2 is suspended",
    );
    assert!(err.contains("suspended"), "{err}");
    assert!(
        err.contains("keys vouch"),
        "the error says the way back: {err}"
    );

    // The compromised key itself cannot be vouched for.
    let err = fails_with(
        carl.run(&["keys", "vouch", s(&k1_file)]),
        EXIT_REFUSED,
        "vouching for the compromised key",
    );
    assert!(err.contains("compromised"), "{err}");

    let out = succeeds(
        carl.run(&["--json", "keys", "vouch", s(&k2_file)]),
        "the re-vouching",
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["authorization"], "chain", "{v}");
    assert_eq!(v["key_hash"], hex::encode(k2.key_hash()), "{v}");

    // K2's earlier release installs again, for a first-time installer too
    // (K2 now hangs from the claim key K0), and it may sign new ones.
    succeeds(
        install(&dave, "carl/hello@1.0.0", &dave_to, &["--trust-new-keys"]),
        "the install after the re-vouching",
    );
    succeeds(
        publish_as(
            &carl,
            "carl",
            &st.artifact("after", 2_000, 6),
            "1.0.1",
            None,
        ),
        "a release after the re-vouching",
    );
    succeeds(
        install(&dave, "carl/hello@1.0.1", &dave_to, &[]),
        "the new release",
    );

    let r = m.run();
    let kinds = r.kinds();
    for k in ["key-revoked", "key-suspended", "key-vouched"] {
        assert!(kinds.iter().any(|x| x == k), "no {k}: {}", r.debug());
    }
}
