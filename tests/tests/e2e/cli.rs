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
const EXIT_REFUSED: i32 = 1;
/// Exit code of every binary for a usage error (clap's).
const EXIT_USAGE: i32 = 2;
/// Exit code of `sealwax`: not found (no such file, release or URL).
const EXIT_NOT_FOUND: i32 = 4;

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

    /// A client whose home is `name`, run from the world's directory.
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

/// Runs `cmd` with its stdout a pipe whose reading end is already closed,
/// as `cmd | head -1` is once `head` has its line; stderr captured.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cmd.stdout(writer)
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .output()
        .expect("run the command")
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
                "--version",
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
    for args in [
        vec!["keys", "list"],
        vec!["--json", "keys", "list"],
        vec!["verify", path_str(&file)],
        vec!["--json", "verify", "nope"],
    ] {
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
