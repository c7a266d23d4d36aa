//! End-to-end tests: the command-line conventions of the three binaries on a
//! bad day (issue 18). Missing files say "no such file", a URL's 404 says
//! "404 from URL", not found and refused have their own exit codes, a closed
//! stdout never panics a binary, and `sealwax`, `sealwax-log` and
//! `sealwax-monitor` print errors alike: usage exit 2, one `error: ` line, each
//! cause once, no backtrace.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealwax_tests::{bin, fails_with, monitor_command, path_str, Client, LogServer, Monitor};

/// Exit code of `sealwax`: refused (did not verify).
pub(crate) const EXIT_REFUSED: i32 = 1;
/// Exit code of every binary for a usage error (clap's).
const EXIT_USAGE: i32 = 2;
/// Exit code of `sealwax`: not found (no such file, release or URL).
const EXIT_NOT_FOUND: i32 = 4;

/// A temporary directory with a running log (also `cli_more`'s).
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) server: LogServer,
}

impl World {
    pub(crate) fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = LogServer::start(&dir.path().join("log"), &Default::default());
        World { dir, server }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client whose home is `name`, run from the world's directory.
    pub(crate) fn client(&self, name: &str) -> Client {
        Client::new(&self.path(name), &self.server)
    }

    /// A client with a registered key of publisher alice, without a password.
    pub(crate) fn alice(&self) -> Client {
        let alice = self.client("alice");
        alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
        alice
    }

    /// Writes an artifact of `len` bytes.
    pub(crate) fn artifact(&self, name: &str, len: usize, seed: u8) -> PathBuf {
        sealwax_tests::write_artifact(&self.path(name), len, seed)
    }
}

/// `sealwax publish FILE` as alice's `hello@VERSION`.
pub(crate) fn publish_args<'a>(file: &'a Path, version: &'a str) -> Vec<&'a str> {
    vec![
        "publish",
        path_str(file),
        "--publisher",
        "alice",
        "--package",
        "hello",
        "--release-version",
        version,
    ]
}

/// Runs `cmd` with its stdout a pipe whose reading end is already closed,
/// as `cmd | head -1` is once `head` has its line; stderr captured.
fn with_closed_stdout(cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    with_stdout(cmd, writer.into())
}

/// Runs `cmd` with `stdout`, stderr captured and no stdin.
fn with_stdout(mut cmd: Command, stdout: Stdio) -> Output {
    cmd.stdout(stdout)
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .output()
        .expect("run the command")
}

/// Commands of `sealwax` that print, on an artifact `file` it published.
fn printing_commands(file: &Path) -> [Vec<&str>; 4] {
    [
        vec!["keys", "list"],
        vec!["--json", "keys", "list"],
        vec!["verify", path_str(file)],
        vec!["--json", "verify", "nope"],
    ]
}

/// Asserts that a run on a closed stdout did not panic.
fn no_panic(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(out.status.code(), Some(101), "{what} panicked: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("failed printing"),
        "{what}: {err}"
    );
    err
}

// ----- errors that tell the truth -----

#[test]
fn a_missing_file_says_no_such_file_with_its_path() {
    let w = World::new();
    let alice = w.alice();
    let run_in_dir = |args: &[&str]| {
        let mut cmd = alice.cmd();
        cmd.current_dir(w.dir.path()).args(args);
        cmd.output().expect("run sealwax")
    };
    let cases: &[(&[&str], &str)] = &[
        (&["install", "./nope.tar.gz", "--to", "pkgs"], "nope.tar.gz"),
        (&["install", "nope.tar.gz", "--to", "pkgs"], "nope.tar.gz"),
        (&["verify", "nope"], "nope"),
        (
            &["keys", "import", "nope.pub", "--publisher", "alice"],
            "nope.pub",
        ),
        (
            &[
                "keys",
                "register",
                "--public",
                "nope.pub",
                "--private",
                "nope.key",
                "--publisher",
                "alice",
            ],
            "nope.pub",
        ),
        (&["keys", "revoke", "./old.pub"], "old.pub"),
        (
            &[
                "publish",
                "nope.tgz",
                "--publisher",
                "alice",
                "--package",
                "hello",
                "--release-version",
                "1.0.0",
            ],
            "nope.tgz",
        ),
    ];
    for (args, path) in cases {
        let err = fails_with(run_in_dir(args), EXIT_NOT_FOUND, &format!("{args:?}"));
        assert!(err.starts_with("error: no such file: "), "{args:?}: {err}");
        assert!(err.contains(path), "{args:?}: {err}");
        for wrong in [
            "no signed release",
            "is missing",
            "malformed",
            "not a usable",
        ] {
            assert!(!err.contains(wrong), "{args:?}: {err}");
        }
    }
    assert!(
        !w.path("pkgs").exists(),
        "a failed install made its directory"
    );
    assert_eq!(sealwax_tests::tree_size(&w.server.url), 1, "only the key");
}

#[test]
fn not_found_and_refused_have_their_own_exit_codes() {
    let w = World::new();
    let alice = w.alice();
    let file = w.artifact("hello.tgz", 3000, 1);
    alice.ok(&publish_args(&file, "1.0.0"));
    let to = w.path("pkgs");
    let to = path_str(&to);
    let bob = w.client("bob");
    // Not found: no such release, no .minisig beside a file.
    let err = bob.fails_with(
        &["install", "alice/hello@9.9.9", "--to", to],
        EXIT_NOT_FOUND,
    );
    assert!(err.contains("no signed release alice/hello@9.9.9"), "{err}");
    // A name that reads as a path too: neither is there.
    let err = bob.fails_with(&["install", "dist/nope.tar.gz", "--to", to], EXIT_NOT_FOUND);
    assert!(err.contains("no such file: dist/nope.tar.gz"), "{err}");
    let err = bob.fails_with(
        &[
            "verify",
            path_str(&file),
            "--signature",
            "/nonexistent.minisig",
        ],
        EXIT_NOT_FOUND,
    );
    assert!(err.contains("/nonexistent.minisig"), "{err}");
    let json: serde_json::Value =
        serde_json::from_slice(&bob.run(&["--json", "verify", "nope"]).stdout).unwrap();
    assert_eq!(json["kind"], "not-found", "{json}");
    assert_eq!(json["exit_code"], EXIT_NOT_FOUND, "{json}");
    // Refused: the same file, changed after signing.
    alice.ok(&["verify", path_str(&file)]);
    std::fs::write(&file, b"changed").unwrap();
    let err = alice.fails_with(&["verify", path_str(&file)], EXIT_REFUSED);
    assert!(err.contains("does not match its signature"), "{err}");
    // Both are documented.
    let help = succeeds_stdout(Command::new(bin("sealwax")).arg("--help"));
    assert!(help.contains("4  not found"), "{help}");
}

/// A one-request-at-a-time HTTP server answering every request with 404
/// and an HTML page; its base URL.
fn html_404_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let page =
                "<!DOCTYPE html><html><body><h1>Not Found</h1>secret-page-text</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    url
}

#[test]
fn a_url_install_that_gets_a_404_page_says_404_and_not_the_page() {
    let w = World::new();
    let url = format!("{}/releases/hello-1.0.0.tgz", html_404_server());
    let to = w.path("pkgs");
    let err = w
        .client("bob")
        .fails_with(&["install", &url, "--to", path_str(&to)], EXIT_NOT_FOUND);
    assert!(err.contains(&format!("404 from {url}")), "{err}");
    assert!(
        !err.contains("<html") && !err.contains("secret-page-text"),
        "{err}"
    );
}

// ----- a closed stdout -----

#[test]
fn sealwax_finishes_its_work_on_a_closed_stdout() {
    let w = World::new();
    let alice = w.alice();
    let file = w.artifact("hello.tgz", 70_000, 2);
    let mut cmd = alice.cmd();
    cmd.args(publish_args(&file, "1.0.0"));
    let out = with_closed_stdout(cmd);
    let err = no_panic(&out, "sealwax publish | head -1");
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The publish went through to its end: logged, companions, upload.
    assert!(file.with_extension("tgz.tlog-proof").exists());
    let bob = w.client("bob");
    let to = w.path("pkgs");
    bob.ok(&[
        "install",
        "alice/hello@1.0.0",
        "--to",
        path_str(&to),
        "--trust-new-keys",
    ]);
    for args in printing_commands(&file) {
        let mut cmd = alice.cmd();
        cmd.args(&args);
        no_panic(
            &with_closed_stdout(cmd),
            &format!("sealwax {args:?} | head -1"),
        );
    }
    let mut help = Command::new(bin("sealwax"));
    help.arg("--help");
    let out = with_closed_stdout(help);
    no_panic(&out, "sealwax --help | head -1");
}

#[test]
fn sealwax_log_key_does_not_panic_on_a_closed_stdout() {
    let w = World::new();
    let mut cmd = Command::new(bin("sealwax-log"));
    cmd.arg("key").arg("--data-dir").arg(&w.server.data_dir);
    let out = with_closed_stdout(cmd);
    let err = no_panic(&out, "sealwax-log key | head -c1");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

#[test]
fn sealwax_monitor_does_not_panic_on_a_closed_stdout() {
    let w = World::new();
    w.alice();
    // alice's key is not one the config expects: an alert for stdout.
    let m = Monitor::new(
        &w.path("mon"),
        &w.server.url,
        &w.server.vkey,
        &Monitor::watch_keys("alice", &[]),
    );
    let mut cmd = monitor_command(&m.log, &m.vkey, &m.state, &m.config);
    cmd.args(["--once", "--no-progress"]);
    let out = with_closed_stdout(cmd);
    let err = no_panic(&out, "sealwax-monitor --once | head -1");
    // The alert could not be delivered: said so, and the state not advanced.
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("error: could not deliver an alert to the stdout")),
        "{err}"
    );
    let r = m.run();
    assert_eq!(r.code(), Some(1), "the alert comes again: {}", r.debug());
    assert!(!r.alerts.is_empty(), "{}", r.debug());
}

// ----- one convention for the three binaries -----

fn succeeds_stdout(cmd: &mut Command) -> String {
    sealwax_tests::succeeds(cmd.output().expect("run"), &format!("{cmd:?}"))
}

/// Runs `cmd` with `RUST_BACKTRACE=1`, asserts it exits `code` with one
/// `error: ` message that shows `cause` exactly once and no backtrace or
/// "Caused by:" list; returns stderr.
fn one_error(cmd: &mut Command, code: i32, cause: &str) -> String {
    let out = cmd
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let err = fails_with(out, code, &format!("{cmd:?}"));
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.matches("error: ").count(), 1, "{err}");
    assert_eq!(err.matches(cause).count(), 1, "{cause:?} once: {err}");
    for noise in ["Caused by", "backtrace", "Backtrace", "panicked", "Error: "] {
        assert!(!err.contains(noise), "{noise:?}: {err}");
    }
    err
}

#[test]
fn usage_errors_exit_2_with_an_error_line_in_every_binary() {
    for name in ["sealwax", "sealwax-log", "sealwax-monitor"] {
        let out = Command::new(bin(name))
            .arg("--no-such-flag")
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("run");
        let err = fails_with(out, EXIT_USAGE, name);
        assert!(
            err.starts_with("error: unexpected argument '--no-such-flag'"),
            "{name}: {err}"
        );
    }
}

#[test]
fn user_errors_are_one_error_line_without_backtrace_in_every_binary() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // sealwax
    one_error(
        Command::new(bin("sealwax")).arg("--home").arg(&home).args([
            "--log-key",
            "x",
            "verify",
            "nope",
        ]),
        EXIT_NOT_FOUND,
        "no such file: nope",
    );
    // sealwax-log: no log in the data directory; a data directory that is a file.
    let missing = dir.path().join("no-log");
    one_error(
        Command::new(bin("sealwax-log"))
            .arg("key")
            .arg("--data-dir")
            .arg(&missing),
        1,
        "there is no log in",
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    one_error(
        Command::new(bin("sealwax-log"))
            .args(["serve", "--origin", "example.org/log", "--data-dir"])
            .arg(&file),
        1,
        "File exists (os error 17)",
    );
    // sealwax-monitor: a TOML error and an unreachable log.
    let config = dir.path().join("monitor.toml");
    std::fs::write(&config, "[[watch]]\npublisher = 5\n").unwrap();
    let vkey = "example.org/log+00000000+AQ==";
    let mut monitor = monitor_command("http://127.0.0.1:1", vkey, &dir.path().join("st"), &config);
    let err = one_error(
        monitor.arg("--once"),
        2,
        "invalid type: integer `5`, expected a string",
    );
    assert_eq!(err.matches("TOML parse error").count(), 1, "{err}");
}

// ----- publish: all or nothing, cheap checks first -----

/// A log whose artifact store takes at most 10,000 bytes an artifact and
/// 15,000 bytes a publisher.
fn small_store() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = sealwax_tests::ServerOptions {
        extra_args: ["--max-artifact-bytes", "10000"]
            .into_iter()
            .chain(["--artifact-publisher-quota-bytes", "15000"])
            .map(String::from)
            .collect(),
        ..Default::default()
    };
    let server = LogServer::start(&dir.path().join("log"), &opts);
    World { dir, server }
}

#[test]
fn a_file_over_the_logs_limits_is_refused_before_anything_is_logged() {
    let w = small_store();
    let alice = w.alice();
    let size = || sealwax_tests::tree_size(&w.server.url);
    let big = w.artifact("big.tgz", 20_000, 1);
    let err = alice.fails_with(&publish_args(&big, "1.0.0"), EXIT_REFUSED);
    assert!(err.contains("is 20000 bytes"), "{err}");
    assert!(err.contains("artifact size limit of 10000 bytes"), "{err}");
    assert!(err.contains("nothing was logged"), "{err}");
    assert!(!err.contains("receiver is gone"), "{err}");
    assert_eq!(size(), 1, "only the key is logged");
    assert!(!big.with_extension("tgz.minisig").exists());

    // Within the limit; then over the publisher's quota, with its numbers.
    let first = w.artifact("first.tgz", 9_000, 2);
    alice.ok(&publish_args(&first, "1.0.0"));
    assert_eq!(size(), 2);
    let second = w.artifact("second.tgz", 9_000, 3);
    let err = alice.fails_with(&publish_args(&second, "2.0.0"), EXIT_REFUSED);
    assert!(
        err.contains("quota of 15000 bytes per publisher, of which \"alice\" already uses 9000"),
        "{err}"
    );
    assert!(err.contains("--artifact-publisher-quota-bytes"), "{err}");
    assert_eq!(size(), 2, "the refused release was not logged");

    // The log announces them, and --no-upload needs none of them.
    let limits: serde_json::Value =
        reqwest::blocking::get(format!("{}/v1/limits?publisher=alice", w.server.url))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(limits["max_artifact_bytes"], 10_000, "{limits}");
    assert_eq!(limits["publisher_quota_bytes"], 15_000, "{limits}");
    assert_eq!(limits["publisher_used_bytes"], 9_000, "{limits}");
    let mut args = publish_args(&big, "3.0.0");
    args.push("--no-upload");
    alice.ok(&args);
    assert_eq!(size(), 3);
}

/// The release a `.minisig` is for, from its trusted comment.
fn signed_release(minisig: &Path) -> String {
    let text = std::fs::read_to_string(minisig).unwrap();
    let comment = text
        .lines()
        .find_map(|l| l.strip_prefix("trusted comment: "))
        .expect("a trusted comment")
        .to_string();
    comment
}

#[test]
fn publish_overwrites_companions_only_of_the_same_release_unless_forced() {
    let w = World::new();
    let alice = w.alice();
    let file = w.artifact("hello.tgz", 5_000, 4);
    let minisig = file.with_extension("tgz.minisig");
    alice.ok(&publish_args(&file, "1.0.0"));
    let v1 = signed_release(&minisig);
    // An identical re-run overwrites silently.
    alice.ok(&publish_args(&file, "1.0.0"));
    assert_eq!(signed_release(&minisig), v1);
    let size = sealwax_tests::tree_size(&w.server.url);

    // The same file as another version: refused, nothing logged or written.
    let err = fails_with(
        alice.run(&publish_args(&file, "1.0.1")),
        EXIT_USAGE,
        "publish over another version's companions",
    );
    assert!(err.contains("belongs to alice/hello@1.0.0"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(signed_release(&minisig), v1);
    assert_eq!(sealwax_tests::tree_size(&w.server.url), size);

    // Another file under that name (another hash) is refused as well.
    sealwax_tests::write_artifact(&file, 5_000, 5);
    let err = fails_with(
        alice.run(&publish_args(&file, "1.0.0")),
        EXIT_USAGE,
        "publish over another file's companions",
    );
    assert!(
        err.contains("belongs to alice/hello@1.0.0 (SHA-256 "),
        "{err}"
    );
    assert_eq!(sealwax_tests::tree_size(&w.server.url), size);

    // --force replaces them.
    let mut args = publish_args(&file, "2.0.0");
    args.push("--force");
    alice.ok(&args);
    let v2 = signed_release(&minisig);
    assert!(v2.contains("2.0.0") && v2 != v1, "{v2}");

    // A .tlog-proof with no .minisig beside it is nobody's to overwrite.
    let other = w.artifact("other.tgz", 100, 6);
    std::fs::write(other.with_extension("tgz.tlog-proof"), "kept\n").unwrap();
    let err = alice.fails_with(&publish_args(&other, "3.0.0"), EXIT_USAGE);
    assert!(err.contains("other.tgz.tlog-proof belongs to"), "{err}");
    let kept = std::fs::read_to_string(other.with_extension("tgz.tlog-proof")).unwrap();
    assert_eq!(kept, "kept\n");
}

#[test]
fn publish_checks_the_cheap_things_before_decrypting_the_key() {
    let w = World::new();
    let alice = w.client("alice");
    let pw = w.path("pw");
    std::fs::write(&pw, "correct horse\n").unwrap();
    let wrong = w.path("wrong");
    std::fs::write(&wrong, "battery staple\n").unwrap();
    let with_pw = |pw: &Path, args: &[&str]| {
        let mut a = vec!["--password-file", path_str(pw)];
        a.extend_from_slice(args);
        alice.run(&a)
    };
    sealwax_tests::succeeds(
        with_pw(&pw, &["keys", "generate", "--publisher", "alice"]),
        "keys generate",
    );
    let first = w.artifact("first.tgz", 3_000, 7);
    sealwax_tests::succeeds(with_pw(&pw, &publish_args(&first, "1.0.0")), "publish");
    let size = sealwax_tests::tree_size(&w.server.url);

    // With the wrong password every one of these fails on its cheap check,
    // not on the key: the version is taken by another artifact...
    let second = w.artifact("second.tgz", 3_000, 8);
    let err = fails_with(
        with_pw(&wrong, &publish_args(&second, "1.0.0")),
        EXIT_REFUSED,
        "a taken version",
    );
    assert!(
        err.contains("alice/hello@1.0.0 is already published with another artifact"),
        "{err}"
    );
    assert!(!err.contains("password"), "{err}");
    assert_eq!(sealwax_tests::tree_size(&w.server.url), size);
    assert!(!second.with_extension("tgz.minisig").exists());
    // ...the log is unreachable...
    let offline = Client {
        log: "http://127.0.0.1:1".into(),
        ..Client::new(&alice.home, &w.server)
    };
    let mut args = vec!["--password-file", path_str(&wrong)];
    args.extend(publish_args(&second, "2.0.0"));
    let err = fails_with(offline.run(&args), 3, "an unreachable log");
    assert!(err.contains("cannot reach the log"), "{err}");
    // ...the file does not exist.
    let err = fails_with(
        with_pw(&wrong, &publish_args(&w.path("nope.tgz"), "2.0.0")),
        EXIT_NOT_FOUND,
        "a missing file",
    );
    assert!(err.contains("no such file"), "{err}");
    // And once they pass, the key is what fails.
    let err = fails_with(
        with_pw(&wrong, &publish_args(&second, "2.0.0")),
        EXIT_USAGE,
        "the wrong password",
    );
    assert!(err.contains("wrong password"), "{err}");
    assert_eq!(sealwax_tests::tree_size(&w.server.url), size);
}

#[test]
fn an_upload_refused_after_logging_shows_the_logs_own_error() {
    // A log that does not announce its limits (a front-end that hides
    // GET /v1/limits), so the signature is logged before the upload is refused.
    let w = small_store();
    let alice = w.alice();
    let proxy = sealwax_tests::proxy::EditingProxy::forging(&w.server.url, |path| {
        path.starts_with("/v1/limits")
            .then(|| sealwax_tests::proxy::Forged::Answer(404, b"no such page".to_vec()))
    });
    let behind = Client {
        log: proxy.url.clone(),
        ..Client::new(&alice.home, &w.server)
    };
    let big = w.artifact("big.tgz", 20_000, 9);
    let err = behind.fails_with(&publish_args(&big, "1.0.0"), 3);
    assert!(err.contains("the signature is logged (index 1)"), "{err}");
    assert!(
        err.contains(
            "answered 413: the artifact is 20000 bytes, over this log's limit of 10000 bytes"
        ),
        "{err}"
    );
    assert!(err.contains("Re-run the same `sealwax publish`"), "{err}");
    assert!(!err.contains("receiver is gone"), "{err}");
}

// ----- a full disk -----

/// Runs `cmd` with its stdout `/dev/full`, where every write fails with ENOSPC.
fn with_full_stdout(cmd: Command) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    with_stdout(cmd, full.into())
}

#[test]
fn no_binary_panics_when_its_output_hits_a_full_disk() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let w = World::new();
    let alice = w.alice();
    let file = w.artifact("hello.tgz", 1000, 3);
    alice.ok(&publish_args(&file, "1.0.0"));
    for args in printing_commands(&file) {
        let mut cmd = alice.cmd();
        cmd.args(&args);
        let out = with_full_stdout(cmd);
        let err = no_panic(&out, &format!("sealwax {args:?} > /dev/full"));
        assert_ne!(
            out.status.code(),
            Some(0),
            "a lost output is an error: {err}"
        );
    }
    let mut log_key = Command::new(bin("sealwax-log"));
    log_key.arg("key").arg("--data-dir").arg(&w.server.data_dir);
    no_panic(&with_full_stdout(log_key), "sealwax-log key > /dev/full");
    let mut help = Command::new(bin("sealwax-monitor"));
    help.arg("--help");
    no_panic(
        &with_full_stdout(help),
        "sealwax-monitor --help > /dev/full",
    );
}
