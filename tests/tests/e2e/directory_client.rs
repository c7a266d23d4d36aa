//! Installers prove what the log says about keys and releases against the
//! key directory of the checkpoint they accept. Each attack here is a
//! front-end (or a dishonest log) that an installer trusting the key event
//! list fell for; through the real binaries, each must now end in exit 3.

use std::path::PathBuf;

use sealwax_log::datadir::DataDir;
use sealwax_log::storage::{Batch, RocksStorage, SignatureRef, Storage, TreeState};
use sealwax_proto::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
use sealwax_proto::entry::{Entry, Release, SignatureEntry};
use sealwax_proto::merkle::{leaf_hash, CompactRange};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_tests::proxy::{EditingProxy, Forged};
use sealwax_tests::{fails_with, path_str as s, succeeds, Client, LogServer, ServerOptions};
use sha2::Digest as _;

use crate::attacks::install;
use crate::scenarios::{generate, publish_as, secret_of, Story, EXIT_LOG, EXIT_REFUSED};

/// `c`'s home, talking to the log through `proxy`.
fn behind(c: &Client, proxy: &EditingProxy) -> Client {
    Client {
        home: c.home.clone(),
        log: proxy.url.clone(),
        log_key: c.log_key.clone(),
    }
}

/// alice claims key k1 and publishes hello@1.0.0 with it; returns alice
/// and k1's `.pub` file.
fn alice_publishes(st: &Story) -> (Client, PathBuf) {
    let alice = st.client("alice");
    let k1 = generate(&alice, "alice");
    succeeds(
        publish_as(&alice, "alice", &st.artifact("a", 2_000, 5), "1.0.0", None),
        "alice's release",
    );
    (alice, k1)
}

/// alice publishes hello@1.0.0 with key k1; bob installs it (trusting k1 on
/// first use); then alice revokes k1 as compromised. Returns alice's k1
/// `.pub` file and bob.
fn revoked_after_bobs_install(st: &Story) -> (PathBuf, Client) {
    let (alice, k1) = alice_publishes(st);
    let bob = st.client("bob");
    succeeds(
        install(
            &bob,
            "alice/hello@1.0.0",
            &st.path("bob-pkgs"),
            &["--trust-new-keys"],
        ),
        "bob's install before the revocation",
    );
    alice.ok(&["keys", "revoke", s(&k1), "--compromised"]);
    (k1, bob)
}

/// A front-end that drops every revocation from the key answers it passes on.
pub(crate) fn dropping_revocations(st: &Story) -> EditingProxy {
    EditingProxy::start(&st.server.url, |path, body| {
        if !path.starts_with("/v1/publishers/") {
            return None;
        }
        let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
        v["events"]
            .as_array_mut()?
            .retain(|e| e["kind"] != "revocation");
        Some(serde_json::to_vec(&v).unwrap())
    })
}

/// Attack (a): the dropped compromise revocation. Before the directory,
/// carol (first time) and bob (who installed from alice before, but never
/// saw the revocation) both installed the release of the compromised key.
#[test]
fn a_dropped_compromise_revocation_is_caught_first_time_and_returning() {
    let st = Story::new();
    let (_, bob) = revoked_after_bobs_install(&st);
    let proxy = dropping_revocations(&st);
    let size = sealwax_tests::tree_size(&st.server.url);
    for (who, c) in [("carol", st.client("carol")), ("bob", bob)] {
        let to = st.path(&format!("{who}-behind"));
        let err = fails_with(
            install(
                &behind(&c, &proxy),
                "alice/hello@1.0.0",
                &to,
                &["--trust-new-keys"],
            ),
            EXIT_LOG,
            &format!("{who}'s install behind the front-end"),
        );
        assert!(
            err.contains(&format!("publisher \"alice\" at tree size {size}")),
            "{who}: {err}"
        );
        assert!(
            err.contains("is not proven by its key directory"),
            "{who}: {err}"
        );
        assert!(!to.join("hello-1.0.0").exists(), "{who}: nothing installed");
    }
}

/// Attack (b): the key answer replayed from an earlier fetch, before the
/// revocation (its record, proofs and checkpoint all genuine, but older).
#[test]
fn a_key_answer_replayed_from_an_older_checkpoint_is_refused() {
    let st = Story::new();
    let (alice, k1) = alice_publishes(&st);
    let old = sealwax_tests::tree_size(&st.server.url);
    let url = format!("{}/v1/publishers/alice/keys?tree_size={old}", st.server.url);
    let stale = reqwest::blocking::get(url)
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec();
    alice.ok(&["keys", "revoke", s(&k1), "--compromised"]);
    let proxy = EditingProxy::start(&st.server.url, move |path, _| {
        path.starts_with("/v1/publishers/alice/keys")
            .then(|| stale.clone())
    });
    let carol = st.client("carol");
    let err = fails_with(
        install(
            &behind(&carol, &proxy),
            "alice/hello@1.0.0",
            &st.path("c"),
            &["--trust-new-keys"],
        ),
        EXIT_LOG,
        "carol's install with a replayed key answer",
    );
    let now = sealwax_tests::tree_size(&st.server.url);
    assert!(
        err.contains(&format!(
            "asked at tree size {now} and answers at tree size {old}"
        )),
        "{err}"
    );
}

/// Attack (c): the front-end says alice has no keys at all, with a 404 or
/// with an empty event list.
#[test]
fn an_existing_publisher_said_to_have_no_keys_is_refused() {
    let st = Story::new();
    revoked_after_bobs_install(&st);
    let size = sealwax_tests::tree_size(&st.server.url);
    let not_found = EditingProxy::forging(&st.server.url, |p| {
        p.starts_with("/v1/publishers/alice/keys")
            .then(|| Forged::Answer(404, br#"{"error":"no such publisher"}"#.to_vec()))
    });
    let empty = EditingProxy::start(&st.server.url, |path, body| {
        if !path.starts_with("/v1/publishers/alice/keys") {
            return None;
        }
        let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
        v["events"] = serde_json::json!([]);
        v.as_object_mut()?.remove("record");
        Some(serde_json::to_vec(&v).unwrap())
    });
    let carol = st.client("carol");
    for (what, proxy, says) in [
        ("a 404", &not_found, "no key answer at tree size"),
        ("no events", &empty, "is not proven by its key directory"),
    ] {
        let err = fails_with(
            install(
                &behind(&carol, proxy),
                "alice/hello@1.0.0",
                &st.path("c"),
                &["--trust-new-keys"],
            ),
            EXIT_LOG,
            &format!("carol's install when the key answer is {what}"),
        );
        assert!(err.contains("\"alice\""), "{what}: {err}");
        assert!(err.contains(&format!("{size}")), "{what}: {err}");
        assert!(err.contains(says), "{what}: {err}");
    }
}

/// The log at `server`, stopped, gets a second artifact `b` for
/// alice/hello@1.0.0 appended as an operator editing its database would:
/// the entry, its tree nodes, its signature index and a checkpoint signed
/// with the log's own key that commits to the unchanged key directory (the
/// release's leaf still names the first artifact). Returns its index.
fn append_second_artifact(server: &LogServer, sk: &SecretKey, b: &[u8]) -> u64 {
    let dir = DataDir::open(&server.data_dir);
    let key = dir.load_key().unwrap();
    let storage = RocksStorage::open(&dir.db_path()).unwrap();
    let state = storage.tree_state().unwrap().unwrap();
    let old = open_checkpoint(&state.checkpoint, key.origin(), &key.verifier())
        .unwrap()
        .0;
    let release = Release {
        origin: server.origin.clone(),
        publisher: "alice".into(),
        package: "hello".into(),
        version: "1.0.0".into(),
        sha256: sha2::Sha256::digest(b).into(),
    };
    let entry = Entry::Signature(SignatureEntry::sign(sk, &release, prehash(b)).unwrap());
    let bytes = entry.to_bytes();
    let mut range = CompactRange::from_hashes(state.size, state.range.clone()).unwrap();
    let mut batch = Batch {
        first_index: state.size,
        ..Batch::default()
    };
    let lh = leaf_hash(&bytes);
    batch.append_entry(&mut range, bytes, lh);
    batch.signatures.push(SignatureRef {
        index: state.size,
        sha256: release.sha256,
        publisher: "alice".into(),
        package: "hello".into(),
        version: "1.0.0".into(),
    });
    let mut cp = Checkpoint::new(key.origin(), range.size(), range.root());
    cp.set_directory_root(&old.directory_root().unwrap().expect("a directory line"));
    batch.state = TreeState {
        size: range.size(),
        range: range.hashes().to_vec(),
        checkpoint: sign_checkpoint(&cp, key.signer()).unwrap(),
    };
    storage.commit(&batch).unwrap();
    state.size
}

/// Attack (d): a dishonest log serves a second artifact for the pinned
/// alice/hello@1.0.0, signed with alice's real key. Its key directory still
/// binds the release to the first artifact, so the installer refuses B.
#[test]
fn a_second_artifact_for_a_pinned_release_is_refused() {
    let mut st = Story::new();
    let (_, k1) = alice_publishes(&st);
    let sk = SecretKey::parse(&std::fs::read_to_string(secret_of(&k1)).unwrap(), None).unwrap();
    let b = vec![0x42u8; 2_000];
    let port: u16 = st.server.url.rsplit(':').next().unwrap().parse().unwrap();
    st.server.kill();
    let index = append_second_artifact(&st.server, &sk, &b);
    let opts = ServerOptions {
        port: Some(port),
        ..st.opts.clone()
    };
    st.server = LogServer::start(&st.server.data_dir.clone(), &opts);

    // B with its .minisig beside it; the installer finds its logged index.
    let file = st.path("hello-b.tgz");
    std::fs::write(&file, &b).unwrap();
    let release = SignatureEntry::sign(
        &sk,
        &Release {
            origin: st.server.origin.clone(),
            publisher: "alice".into(),
            package: "hello".into(),
            version: "1.0.0".into(),
            sha256: sha2::Sha256::digest(&b).into(),
        },
        prehash(&b),
    )
    .unwrap();
    std::fs::write(
        st.path("hello-b.tgz.minisig"),
        release.to_signature_box().to_file_string(),
    )
    .unwrap();
    let carol = st.client("carol");
    let to = st.path("carol-pkgs");
    let err = fails_with(
        install(&carol, s(&file), &to, &["--trust-new-keys"]),
        EXIT_LOG,
        "carol's install of the second artifact",
    );
    assert!(
        err.contains("binds alice/hello@1.0.0 to another artifact (index 1,"),
        "{err}"
    );
    assert!(err.contains(&format!("(index {index}, sha256")), "{err}");
    assert!(!to.join("hello-b.tgz").exists(), "nothing installed");
}

/// An honest log: a first-time and a returning installer both install, and
/// an installer that never heard of a publisher gets it proven absent.
#[test]
fn an_honest_log_still_installs_first_time_and_returning() {
    let st = Story::new();
    let (alice, _) = alice_publishes(&st);
    let bob = st.client("bob");
    let to = st.path("bob-pkgs");
    succeeds(
        install(&bob, "alice/hello@1.0.0", &to, &["--trust-new-keys"]),
        "bob's first install",
    );
    succeeds(
        publish_as(&alice, "alice", &st.artifact("b", 2_000, 6), "1.1.0", None),
        "alice's 1.1.0",
    );
    succeeds(
        install(&bob, "alice/hello@1.1.0", &to, &[]),
        "bob's second install",
    );
    succeeds(
        install(&bob, "alice/hello", &to, &[]),
        "bob's install of the newest",
    );
    assert!(to.join("hello-1.1.0").exists());
    let err = st
        .client("carol")
        .fails_with(&["install", "nobody/hello@1.0.0", "--to", s(&to)], 4);
    assert!(err.contains("nobody/hello@1.0.0"), "{err}");
}

/// `verify --online` asks the live log's key directory: a revocation the
/// offline check could not know of is learned, and a front-end that hides
/// it is caught.
#[test]
fn verify_online_learns_a_revocation_and_catches_a_front_end_hiding_it() {
    let st = Story::new();
    let (_, bob) = revoked_after_bobs_install(&st);
    let file = st.path("bob-pkgs").join("hello-1.0.0");
    // Offline, bob cannot know of the revocation.
    bob.ok(&["verify", s(&file)]);
    let proxy = dropping_revocations(&st);
    let err = fails_with(
        behind(&bob, &proxy).run(&["verify", "--online", s(&file)]),
        EXIT_LOG,
        "bob's online verify behind the front-end",
    );
    assert!(err.contains("is not proven by its key directory"), "{err}");
    let err = bob.fails_with(&["verify", "--online", s(&file)], EXIT_REFUSED);
    assert!(err.contains("compromised"), "{err}");
    // What the online check proved is recorded: offline verify refuses now too.
    let err = bob.fails_with(&["verify", s(&file)], EXIT_REFUSED);
    assert!(err.contains("compromised"), "{err}");
}

/// A key answer stripped of its directory proof proves nothing: refused,
/// though every event in it is genuine.
#[test]
fn a_key_answer_without_its_directory_proof_is_refused() {
    let st = Story::new();
    alice_publishes(&st);
    let proxy = EditingProxy::start(&st.server.url, |path, body| {
        if !path.starts_with("/v1/publishers/") {
            return None;
        }
        let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
        v.as_object_mut()?.remove("directory_proof");
        Some(serde_json::to_vec(&v).unwrap())
    });
    let to = st.path("carol-pkgs");
    let err = fails_with(
        install(
            &behind(&st.client("carol"), &proxy),
            "alice/hello@1.0.0",
            &to,
            &["--trust-new-keys"],
        ),
        EXIT_LOG,
        "carol's install without a directory proof",
    );
    assert!(err.contains("carries no directory proof"), "{err}");
    assert!(!to.join("hello-1.0.0").exists(), "nothing installed");
}
