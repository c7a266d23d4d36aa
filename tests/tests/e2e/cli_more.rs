//! End-to-end tests: more of the CLI on a bad day (issue 18). `init` checks
//! the log key against the log, an interrupted publish leaves a hint and is
//! resumed, key IDs are accepted as input, the advice after a compromise
//! leads somewhere, the monitor warns about a publisher it never saw, a
//! failed install leaves nothing behind, and the docs run as written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealwax_tests::{bin, fails_with, path_str, succeeds, Client, LogServer};

/// Exit code of `sealwax`: refused (did not verify).
const EXIT_REFUSED: i32 = 1;

/// A temporary directory with a running log.
struct World {
    dir: tempfile::TempDir,
    server: LogServer,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = LogServer::start(&dir.path().join("log"), &Default::default());
        World { dir, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client whose home is `name`.
    fn client(&self, name: &str) -> Client {
        Client::new(&self.path(name), &self.server)
    }

    /// A client with a registered key of publisher alice, without a password.
    fn alice(&self) -> Client {
        let alice = self.client("alice");
        alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
        alice
    }

    /// Writes an artifact of `len` bytes.
    fn artifact(&self, name: &str, len: usize, seed: u8) -> PathBuf {
        sealwax_tests::write_artifact(&self.path(name), len, seed)
    }
}

/// `sealwax publish FILE` as alice's `hello@VERSION`.
fn publish_args<'a>(file: &'a Path, version: &'a str) -> Vec<&'a str> {
    vec![
        "publish",
        path_str(file),
        "--publisher",
        "alice",
        "--package",
        "hello",
        "--version",
        version,
    ]
}

/// `sealwax --home HOME <args>`, with nothing else given: only what the
/// home's config says.
fn bare(home: &Path, args: &[&str]) -> Output {
    Command::new(bin("sealwax"))
        .arg("--home")
        .arg(home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sealwax")
}

// ----- init checks the log key against the log -----

#[test]
fn init_refuses_a_log_key_the_log_does_not_sign_with_and_keeps_a_pinned_one() {
    let w = World::new();
    let other = LogServer::start(&w.path("other-log"), &Default::default());
    assert_ne!(w.server.vkey, other.vkey);
    let home = w.path("home");
    let (url, key, wrong) = (&w.server.url, &w.server.vkey, &other.vkey);

    let err = fails_with(
        bare(&home, &["--log", url, "--log-key", wrong, "init"]),
        EXIT_REFUSED,
        "init with another log's key",
    );
    assert!(err.contains("does not sign its checkpoint"), "{err}");
    assert!(
        err.contains(key.as_str()),
        "names the key the log announces: {err}"
    );
    assert!(!home.join("config.toml").exists(), "nothing saved");

    succeeds(
        bare(&home, &["--log", url, "--log-key", key, "init"]),
        "init",
    );
    let out = bare(&home, &["--log", &other.url, "--log-key", wrong, "init"]);
    let err = fails_with(out, EXIT_REFUSED, "init over a pinned key");
    assert!(
        err.contains("already pins the log key") && err.contains("--force"),
        "{err}"
    );
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(
        config.contains(key.as_str()) && config.contains(url.as_str()),
        "{config}"
    );

    let out = bare(
        &home,
        &["--log", &other.url, "--log-key", wrong, "init", "--force"],
    );
    let forced = String::from_utf8_lossy(&out.stderr).into_owned();
    succeeds(out, "init --force");
    assert!(
        forced.contains("warning: replacing the pinned log key"),
        "{forced}"
    );
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains(wrong.as_str()), "{config}");

    // Re-running init with the key already pinned is fine.
    succeeds(bare(&home, &["init"]), "init again");
}

#[test]
fn offline_verify_with_a_wrong_log_key_blames_the_log_key() {
    let w = World::new();
    let other = LogServer::start(&w.path("other-log"), &Default::default());
    let alice = w.alice();
    let file = w.artifact("hello-1.0.0.tar.gz", 1000, 1);
    alice.ok(&publish_args(&file, "1.0.0"));
    alice.ok(&["verify", path_str(&file)]);

    let mut wrong = w.client("alice");
    wrong.log_key = other.vkey.clone();
    let err = wrong.fails_with(&["verify", path_str(&file)], EXIT_REFUSED);
    assert!(
        err.contains("the .tlog-proof's checkpoint is not signed by the log key you configured"),
        "{err}"
    );
    assert!(
        !err.contains("not trusted"),
        "blames the publisher's key: {err}"
    );
}
