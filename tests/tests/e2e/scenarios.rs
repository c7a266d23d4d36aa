//! End-to-end scenarios: whole stories told with the real `sealwax-log`,
//! `sealwax` and `sealwax-monitor` binaries on loopback, each actor with its
//! own home directory. A publisher publishes, installers install, the
//! publisher's monitor watches, and then something goes wrong: a key is
//! rotated, a key leaks, the log operator adds a key, the log forks.

use std::fs;
use std::path::{Path, PathBuf};

use sealwax_tests::{
    copy_dir, generated_pub, have_tool, path_str as s, read_public_key, tree_size, write_artifact,
    write_key_pair, Client, LogServer, Monitor, ServerOptions,
};

/// The operator's admin token in the scenarios that use the operator path.
pub(crate) const ADMIN_TOKEN: &str = "scenario-operator-token";

/// Exit code of `sealwax`: refused (bad signature, untrusted or revoked key...).
pub(crate) const EXIT_REFUSED: i32 = 1;
/// Exit code of `sealwax`: the log is unreachable or misbehaving.
pub(crate) const EXIT_LOG: i32 = 3;
/// Exit code of `sealwax`: not found (no such file, release or URL).
pub(crate) const EXIT_NOT_FOUND: i32 = 4;

/// A temporary directory with one running log; every actor's home lives in it.
pub(crate) struct Story {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) server: LogServer,
    pub(crate) opts: ServerOptions,
}

impl Story {
    /// A log without the operator path.
    pub(crate) fn new() -> Story {
        Story::with(ServerOptions::default())
    }

    /// A log whose operator holds [`ADMIN_TOKEN`].
    pub(crate) fn with_operator() -> Story {
        Story::with(ServerOptions {
            admin_token: Some(ADMIN_TOKEN.into()),
            ..ServerOptions::default()
        })
    }

    pub(crate) fn with(opts: ServerOptions) -> Story {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = LogServer::start(&dir.path().join("log"), &opts);
        Story { dir, server, opts }
    }

    /// An actor with its own home, talking to the log.
    pub(crate) fn client(&self, name: &str) -> Client {
        Client::new(&self.path(name), &self.server)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A release file of `len` bytes; another `seed`, other bytes.
    pub(crate) fn artifact(&self, name: &str, len: usize, seed: u8) -> PathBuf {
        write_artifact(&self.path(name), len, seed)
    }

    /// A monitor (state and config in `<name>/`) following the log.
    pub(crate) fn monitor(&self, name: &str, config: &str) -> Monitor {
        Monitor::new(
            &self.path(name),
            &self.server.url,
            &self.server.vkey,
            config,
        )
    }

    /// The admin token file the log was started with.
    pub(crate) fn token_file(&self) -> PathBuf {
        self.server
            .admin_token_file
            .clone()
            .expect("the log was started with an admin token")
    }

    /// `actor` registers a fresh key for alice with the operator's token;
    /// returns its public key file and the `--json` answer.
    pub(crate) fn register_rogue_key(&self, actor: &Client) -> (PathBuf, serde_json::Value) {
        let (public, secret) = write_key_pair(self.dir.path(), "rogue");
        let out = actor.ok(&[
            "--json",
            "keys",
            "register",
            "--public",
            s(&public),
            "--private",
            s(&secret),
            "--publisher",
            "alice",
            "--admin-token-file",
            s(&self.token_file()),
        ]);
        let answer = serde_json::from_str(&out).expect("--json answer");
        (public, answer)
    }
}

/// `sealwax keys generate --publisher <publisher> -W`: the new key's `.pub` file.
pub(crate) fn generate(c: &Client, publisher: &str) -> PathBuf {
    let out = c.ok(&["keys", "generate", "--publisher", publisher, "-W"]);
    assert!(out.contains("Registered key"), "{out}");
    generated_pub(&out)
}

/// Publishes `file` as alice's `hello@version`, signed by `key` (a secret
/// key file) or by alice's current key.
pub(crate) fn publish(
    c: &Client,
    file: &Path,
    version: &str,
    key: Option<&Path>,
) -> std::process::Output {
    publish_as(c, "alice", file, version, key)
}

/// `publish FILE --publisher P --package hello --release-version V [--key K]`.
pub(crate) fn publish_as(
    c: &Client,
    publisher: &str,
    file: &Path,
    version: &str,
    key: Option<&Path>,
) -> std::process::Output {
    let mut args = vec![
        "publish",
        s(file),
        "--publisher",
        publisher,
        "--package",
        "hello",
        "--release-version",
        version,
    ];
    if let Some(k) = key {
        args.extend(["--key", s(k)]);
    }
    c.run(&args)
}

pub(crate) fn published(c: &Client, file: &Path, version: &str, key: Option<&Path>) {
    let out = publish(c, file, version, key);
    assert!(
        out.status.success(),
        "publishing hello@{version} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sealwax install alice/hello@<version> --to <to> [extra...]`.
pub(crate) fn install(version: &str, to: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "install".to_string(),
        format!("alice/hello@{version}"),
        "--to".to_string(),
        s(to).to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

pub(crate) fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The secret key file beside a `.pub` file made by `sealwax keys generate`.
pub(crate) fn secret_of(pub_file: &Path) -> PathBuf {
    pub_file.with_extension("key")
}

#[test]
fn wapm_story_first_install_asks_later_versions_by_the_same_key_do_not() {
    if !have_tool("script") {
        return;
    }
    let st = Story::new();
    let alice = st.client("alice");
    let key = read_public_key(&generate(&alice, "alice"));
    let v1 = st.artifact("hello-1.0.0.tgz", 40_000, 1);
    published(&alice, &v1, "1.0.0", None);

    // Bob, on another home, has never seen alice's key: asked, answers y.
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    let run = bob.on_terminal(&refs(&install("1.0.0", &to, &[])), Some("y\n"));
    assert_eq!(run.code, Some(0), "{}", run.text);
    assert!(
        run.text.contains(&format!(
            "New public key encountered: {} {} while installing alice/hello@1.0.0.",
            key.key_id_hex(),
            key.to_base64()
        )),
        "{}",
        run.text
    );
    assert!(
        run.text.contains("Would you like to trust this key? [y/n]"),
        "{}",
        run.text
    );
    assert!(
        run.text.contains(&format!(
            "Importing key \"{}\" for user \"alice\"",
            key.key_id_hex()
        )),
        "{}",
        run.text
    );
    assert!(
        run.text
            .contains("Signature of package alice/hello@1.0.0 verified!"),
        "{}",
        run.text
    );
    assert_eq!(
        fs::read(to.join("hello-1.0.0")).unwrap(),
        fs::read(&v1).unwrap()
    );

    // A new version signed by the same key: no question, on a terminal or not.
    let v2 = st.artifact("hello-1.1.0.tgz", 40_000, 2);
    published(&alice, &v2, "1.1.0", None);
    let run = bob.on_terminal(&refs(&install("1.1.0", &to, &[])), None);
    assert_eq!(run.code, Some(0), "{}", run.text);
    assert!(!run.text.contains("New public key"), "{}", run.text);
    assert!(!run.text.contains("[y/n]"), "{}", run.text);
    assert!(!run.text.contains("Importing key"), "{}", run.text);
    assert!(
        run.text
            .contains("Signature of package alice/hello@1.1.0 verified!"),
        "{}",
        run.text
    );
    assert_eq!(
        fs::read(to.join("hello-1.1.0")).unwrap(),
        fs::read(&v2).unwrap()
    );
    let out = bob.ok(&refs(&install("1.1.0", &to, &[])));
    assert!(!out.contains("Importing key"), "{out}");
    assert!(out.contains("verified!"), "{out}");

    // The key was trusted once, on first use, and both installs verify offline.
    let list: serde_json::Value =
        serde_json::from_str(&bob.ok(&["--json", "keys", "list"])).unwrap();
    let trusted = list["trusted_keys"].as_array().unwrap();
    assert_eq!(trusted.len(), 1, "{list}");
    assert_eq!(trusted[0]["source"], "tofu", "{list}");
    for v in ["hello-1.0.0", "hello-1.1.0"] {
        bob.ok(&["verify", s(&to.join(v))]);
    }
}

#[test]
fn rotation_is_followed_silently_and_the_retired_key_signs_no_more() {
    let st = Story::new();
    let alice = st.client("alice");
    let k1 = generate(&alice, "alice");
    let k1_id = read_public_key(&k1).key_id_hex();
    published(&alice, &st.artifact("v1.tgz", 5_000, 3), "1.0.0", None);
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    bob.ok(&refs(&install("1.0.0", &to, &["--trust-new-keys"])));

    // k1 authorises k2 in the log; k1 stays active until it is retired.
    let out = alice.ok(&["keys", "rotate", "--publisher", "alice", "-W"]);
    assert!(out.contains(&format!("authorised by key {k1_id}")), "{out}");
    let k2 = generated_pub(&out);
    let k2_id = read_public_key(&k2).key_id_hex();
    published(
        &alice,
        &st.artifact("v1.1.tgz", 5_000, 4),
        "1.1.0",
        Some(&secret_of(&k1)),
    );
    published(&alice, &st.artifact("v2.tgz", 5_000, 5), "2.0.0", None);

    // Bob trusted k1 only: k2 is trusted through the logged chain, unasked
    // (no terminal, no --trust-new-keys).
    let out = bob.ok(&refs(&install("2.0.0", &to, &[])));
    assert!(
        out.contains(&format!(
            "Key {k2_id} of \"alice\" was rotated in by trusted key {k1_id}"
        )),
        "{out}"
    );
    assert!(
        out.contains("Signature of package alice/hello@2.0.0 verified!"),
        "{out}"
    );

    // k1 is retired. What it signed before stays valid...
    let out = alice.ok(&["keys", "revoke", s(&k1)]);
    assert!(out.contains("as retired"), "{out}");
    for v in ["1.0.0", "1.1.0"] {
        let out = bob.ok(&refs(&install(v, &to, &[])));
        assert!(out.contains("verified!"), "{v}: {out}");
    }
    bob.ok(&["verify", s(&to.join("hello-1.0.0"))]);
    let carol = st.client("carol");
    carol.ok(&refs(&install(
        "1.1.0",
        &st.path("carol-packages"),
        &["--trust-new-keys"],
    )));

    // ...and the log refuses anything new it signs: nothing is logged, no
    // signature or proof file is written.
    let size = tree_size(&st.server.url);
    let late = st.artifact("v1.2.tgz", 5_000, 6);
    let out = publish(&alice, &late, "1.2.0", Some(&secret_of(&k1)));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_REFUSED), "{err}");
    assert!(
        err.contains("the log refused the signature") && err.contains("revoked"),
        "{err}"
    );
    assert_eq!(
        tree_size(&st.server.url),
        size,
        "the refused signature was logged"
    );
    assert!(!st.path("v1.2.tgz.minisig").exists());
    assert!(!st.path("v1.2.tgz.tlog-proof").exists());
    let err = bob.fails_with(&refs(&install("1.2.0", &to, &[])), EXIT_NOT_FOUND);
    assert!(err.contains("no signed release alice/hello@1.2.0"), "{err}");

    // k2 signs on.
    published(&alice, &st.artifact("v3.tgz", 5_000, 7), "3.0.0", None);
    bob.ok(&refs(&install("3.0.0", &to, &[])));
}

#[test]
fn a_compromised_key_is_refused_everywhere_and_the_monitor_alerts() {
    let st = Story::new();
    let alice = st.client("alice");
    let k1 = generate(&alice, "alice");
    let key = read_public_key(&k1);
    let m = st.monitor("alice-monitor", &Monitor::watch_keys("alice", &[&key]));
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());

    published(&alice, &st.artifact("v1.tgz", 5_000, 10), "1.0.0", None);
    published(&alice, &st.artifact("v2.tgz", 5_000, 11), "2.0.0", None);
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    bob.ok(&refs(&install("1.0.0", &to, &["--trust-new-keys"])));
    bob.ok(&refs(&install("2.0.0", &to, &[])));
    let r = m.run();
    assert_eq!(
        r.code(),
        Some(0),
        "the expected key's releases: {}",
        r.debug()
    );

    // The key leaks; alice revokes it as compromised (signed by the key itself).
    let out = alice.ok(&["--json", "keys", "revoke", s(&k1), "--compromised"]);
    let revoked: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(revoked["reason"], "compromised", "{revoked}");
    let at = revoked["index"].as_u64().unwrap();

    // Every signature it made, however old, is refused with exit 1: by bob
    // (who trusted it), by carol (who would trust any new key), and offline.
    let wanted = format!(
        "key {} of publisher \"alice\" was revoked as compromised at log index {at}",
        key.key_id_hex()
    );
    for v in ["1.0.0", "2.0.0"] {
        let err = bob.fails_with(&refs(&install(v, &to, &[])), EXIT_REFUSED);
        assert!(err.contains(&wanted), "{v}: {err}");
        let carol_to = st.path("carol-packages");
        let err = st.client("carol").fails_with(
            &refs(&install(v, &carol_to, &["--trust-new-keys"])),
            EXIT_REFUSED,
        );
        assert!(err.contains(&wanted), "{v}: {err}");
        assert!(!carol_to.join(format!("hello-{v}")).exists());
        let err = bob.fails_with(&["verify", s(&to.join(format!("hello-{v}")))], EXIT_REFUSED);
        assert!(err.contains("compromised"), "offline {v}: {err}");
    }

    // Nothing new signed with it gets into the log.
    let size = tree_size(&st.server.url);
    let out = publish(
        &alice,
        &st.artifact("v3.tgz", 5_000, 12),
        "3.0.0",
        Some(&secret_of(&k1)),
    );
    assert_eq!(
        out.status.code(),
        Some(EXIT_REFUSED),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tree_size(&st.server.url), size);

    // The publisher's monitor reports the revocation, once.
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(r.kinds(), ["key-revoked"], "{}", r.debug());
    let alert = &r.alerts[0];
    assert_eq!(alert["publisher"], "alice");
    assert_eq!(alert["index"], at);
    assert_eq!(alert["reason"], "compromised");
    assert_eq!(alert["key"]["key_hash"], hex::encode(key.key_hash()));
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("no signature it ever made is trusted"),
        "{alert}"
    );
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
}

#[test]
fn a_key_added_by_the_registry_operator_is_caught_revoked_and_refused() {
    let st = Story::with_operator();
    let alice = st.client("alice");
    let k1 = read_public_key(&generate(&alice, "alice"));
    published(&alice, &st.artifact("v1.tgz", 5_000, 20), "1.0.0", None);
    let m = st.monitor("alice-monitor", &Monitor::watch_keys("alice", &[&k1]));
    assert_eq!(m.run().code(), Some(0));
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    bob.ok(&refs(&install("1.0.0", &to, &["--trust-new-keys"])));

    // Whoever holds the operator's token registers a key alice never made,
    // and signs a release of hello with it. The log takes both.
    let mallory = st.client("mallory");
    let (rogue_pub, reg) = st.register_rogue_key(&mallory);
    let rogue = read_public_key(&rogue_pub);
    assert_eq!(reg["authorization"], "operator", "{reg}");
    let evil = st.artifact("evil.tgz", 5_000, 21);
    published(&mallory, &evil, "1.0.1", None);

    // Bob trusts alice's key, not one the operator added: he is not silently
    // moved over to it.
    // He is told where the key came from.
    let err = bob.fails_with(&refs(&install("1.0.1", &to, &[])), EXIT_REFUSED);
    assert!(err.contains("is not trusted yet"), "{err}");
    assert!(
        err.contains(&format!(
            "key {} was registered for \"alice\" by the log's operator (with the admin token, log index {})",
            rogue.key_id_hex(),
            reg["index"]
        )),
        "{err}"
    );
    assert!(
        err.contains("you already trust other keys of \"alice\", and none of them authorised"),
        "{err}"
    );
    assert!(!to.join("hello-1.0.1").exists());

    // Even someone who trusts any new key does not take the operator's:
    // --trust-new-keys takes only a publisher's own first key.
    let dave = st.client("dave");
    let dave_to = st.path("dave-packages");
    let mut args = install("1.0.1", &dave_to, &["--trust-new-keys"]);
    args.insert(0, "--json".into());
    let out = dave.run(&refs(&args));
    assert_eq!(out.status.code(), Some(EXIT_REFUSED), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("by the log's operator"), "{stderr}");
    assert!(
        stderr.contains("never one the log's operator registered"),
        "{stderr}"
    );
    assert!(stderr.contains("sealwax keys import"), "{stderr}");
    assert!(!dave_to.join("hello-1.0.1").exists());

    // Alice's monitor sees the key and the release it signed.
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(
        r.kinds(),
        ["unexpected-key", "unexpected-signature"],
        "{}",
        r.debug()
    );
    let alert = &r.alerts[0];
    assert_eq!(alert["authorization"], "operator", "{alert}");
    assert_eq!(alert["index"], reg["index"]);
    assert_eq!(alert["key"]["key_hash"], hex::encode(rogue.key_hash()));
    assert!(
        alert["message"].as_str().unwrap().contains("log operator"),
        "{alert}"
    );
    assert_eq!(r.alerts[1]["version"], "1.0.1");

    // Alice revokes it, signing with her own key.
    let out = alice.ok(&[
        "keys",
        "revoke",
        s(&rogue_pub),
        "--compromised",
        "--publisher",
        "alice",
    ]);
    assert!(
        out.contains(&format!("signed by key {}", k1.key_id_hex())),
        "{out}"
    );

    // Now nobody installs what the rogue key signed, not even someone who
    // would trust any new key; alice's own releases still install.
    for (who, extra) in [("bob", &[][..]), ("carol", &["--trust-new-keys"][..])] {
        let c = st.client(who);
        let dest = st.path(&format!("{who}-packages"));
        let err = c.fails_with(&refs(&install("1.0.1", &dest, extra)), EXIT_REFUSED);
        assert!(
            err.contains(&format!(
                "key {} of publisher \"alice\" was revoked as compromised",
                rogue.key_id_hex()
            )),
            "{who}: {err}"
        );
        assert!(!dest.join("hello-1.0.1").exists());
    }
    bob.ok(&refs(&install("1.0.0", &to, &[])));
    // Without a version, the newest release by a key that still vouches for
    // it is installed: the revoked rogue release does not block the package.
    let newest = st.path("newest-valid");
    bob.ok(&["install", "alice/hello", "--to", s(&newest)]);
    assert!(
        newest.join("hello-1.0.0").exists(),
        "1.0.0 is the newest valid release"
    );
    assert!(!newest.join("hello-1.0.1").exists());
    published(&alice, &st.artifact("v2.tgz", 5_000, 22), "2.0.0", None);
    bob.ok(&["install", "alice/hello", "--to", s(&to)]);
    assert!(to.join("hello-2.0.0").exists());

    // The monitor reports the revocation, and alice's new release is expected.
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(r.kinds(), ["key-revoked"], "{}", r.debug());
    assert_eq!(r.alerts[0]["reason"], "compromised");
    assert_eq!(
        r.alerts[0]["authorized_by"]["key_hash"],
        hex::encode(k1.key_hash())
    );
}

#[test]
fn a_log_that_forks_its_history_is_caught_by_installer_publisher_and_monitor() {
    let mut st = Story::with_operator();
    let port: u16 = st
        .server
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in the log URL");
    let opts = ServerOptions {
        port: Some(port),
        ..st.opts.clone()
    };
    let alice = st.client("alice");
    let k1 = read_public_key(&generate(&alice, "alice"));
    published(&alice, &st.artifact("v1.tgz", 5_000, 30), "1.0.0", None);

    // The fork point: a copy of the log's data, key and all, at 2 entries.
    let log_dir = st.server.data_dir.clone();
    let fork_dir = st.path("fork");
    st.server.kill();
    copy_dir(&log_dir, &fork_dir);
    st.server = LogServer::start(&log_dir, &opts);

    // The honest history goes on; bob, alice and alice's monitor see it.
    let v101 = st.artifact("v1.0.1.tgz", 5_000, 31);
    published(&alice, &v101, "1.0.1", None);
    let bob = st.client("bob");
    let to = st.path("bob-packages");
    bob.ok(&refs(&install("1.0.1", &to, &["--trust-new-keys"])));
    let m = st.monitor("alice-monitor", &Monitor::watch_keys("alice", &[&k1]));
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
    let honest_size = tree_size(&st.server.url);
    assert_eq!(honest_size, 3);

    // The same URL now serves the other history, signed by the same log key.
    st.server.kill();
    let fork = LogServer::start(&fork_dir, &opts);
    assert_eq!(fork.url, st.server.url);
    assert_eq!(
        fork.vkey, st.server.vkey,
        "the fork signs with the log's key"
    );
    assert_eq!(tree_size(&fork.url), 2);

    // A smaller tree than the one already verified: a rollback.
    let err = bob.fails_with(&refs(&install("1.0.0", &to, &[])), EXIT_LOG);
    assert!(err.contains("rolled back"), "{err}");
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    assert_eq!(r.kinds(), ["log-misbehaviour/rollback"], "{}", r.debug());

    // The forked log grows past the honest one with a release alice never
    // signed: a key added by the operator and a different 1.0.1.
    let mallory = st.client("mallory");
    st.register_rogue_key(&mallory);
    let evil = st.artifact("evil.tgz", 5_000, 32);
    published(&mallory, &evil, "1.0.1", None);
    assert!(tree_size(&fork.url) > honest_size);

    // The installer refuses the log (exit 3) before downloading anything;
    // what was installed stays as it was.
    let err = bob.fails_with(
        &refs(&install("1.0.1", &to, &["--trust-new-keys"])),
        EXIT_LOG,
    );
    assert!(err.contains("forked"), "{err}");
    assert!(
        err.contains(&format!("the tree of {honest_size} entries")),
        "{err}"
    );
    assert_eq!(
        fs::read(to.join("hello-1.0.1")).unwrap(),
        fs::read(&v101).unwrap()
    );
    // So does the publisher, who saw the honest tree when publishing.
    let out = publish(&alice, &st.artifact("v1.0.2.tgz", 5_000, 33), "1.0.2", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_LOG), "{err}");
    assert!(err.contains("forked"), "{err}");
    // And the monitor: the new tree is not an extension of the verified one.
    let r = m.run();
    assert_eq!(r.code(), Some(1), "{}", r.debug());
    let kinds = r.kinds();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("log-misbehaviour/bad-tile"),
        "{}",
        r.debug()
    );
    assert!(
        kinds.contains(&"log-misbehaviour/inconsistent-tree".to_string()),
        "{}",
        r.debug()
    );

    // The honest log back at the URL: everyone carries on from what they verified.
    drop(fork);
    st.server = LogServer::start(&log_dir, &opts);
    bob.ok(&refs(&install("1.0.1", &to, &[])));
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
}
