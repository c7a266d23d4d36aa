//! End-to-end tests: the last points of issue 18. `--version` means what it
//! means elsewhere, `publish` reads a manifest, the monitor reads the
//! client's config, logs colour only a terminal and name the port bound,
//! `install --json` and `verify --json` share one shape, the install naming
//! rule, and failed URL installs leave nothing behind.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sealwax_tests::{bin, monitor_command, path_str, succeeds, tree_size, Client};

use crate::cli::World;

/// Exit code of every binary for a usage error.
const EXIT_USAGE: i32 = 2;

/// `sealwax <args>` run by `client` in the directory `cwd`.
fn run_in(client: &Client, cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = client.cmd();
    cmd.current_dir(cwd).args(args);
    cmd.output().expect("run sealwax")
}

/// The release (`publisher/package@version`) `verify --json` reads in `file`'s signature.
fn verified_release(client: &Client, file: &Path) -> String {
    let out = client.ok(&["--json", "verify", path_str(file)]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("verify --json");
    format!(
        "{}/{}@{}",
        v["publisher"].as_str().unwrap_or("?"),
        v["package"].as_str().unwrap_or("?"),
        v["version"].as_str().unwrap_or("?")
    )
}

// ----- 1. --version is sealwax's version -----

#[test]
fn version_prints_the_version_on_every_verb_and_releases_have_their_own_spelling() {
    let w = World::new();
    let alice = w.alice();
    let expected = format!("sealwax {}\n", env!("CARGO_PKG_VERSION"));
    let size = tree_size(&w.server.url);
    for args in [
        &["--version"][..],
        &["-V"],
        &["publish", "--version"],
        &["publish", "-V"],
        &["install", "--version"],
        &["keys", "list", "--version"],
    ] {
        assert_eq!(alice.ok(args), expected, "sealwax {args:?}");
    }
    assert_eq!(
        tree_size(&w.server.url),
        size,
        "printing a version logs nothing"
    );

    let a = w.artifact("a.tgz", 1000, 1);
    alice.ok(&["publish", path_str(&a), "alice/hello@1.0.0"]);
    assert_eq!(verified_release(&alice, &a), "alice/hello@1.0.0");
    let b = w.artifact("b.tgz", 1000, 2);
    alice.ok(&[
        "publish",
        path_str(&b),
        "hello@2.0.0",
        "--publisher",
        "alice",
    ]);
    assert_eq!(verified_release(&alice, &b), "alice/hello@2.0.0");
    let c = w.artifact("c.tgz", 1000, 3);
    let flags = ["--publisher", "alice", "--package", "hello"];
    let mut args = vec!["publish", path_str(&c), "--release-version", "3.0.0"];
    args.extend(flags);
    alice.ok(&args);
    assert_eq!(verified_release(&alice, &c), "alice/hello@3.0.0");

    // The old spelling still publishes (scripts keep working), with a warning.
    let d = w.artifact("d.tgz", 1000, 4);
    let mut args = vec!["publish", path_str(&d), "--version", "4.0.0"];
    args.extend(flags);
    let out = alice.run(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    succeeds(out, "publish --version 4.0.0");
    assert!(err.contains("--release-version 4.0.0"), "{err}");
    assert_eq!(verified_release(&alice, &d), "alice/hello@4.0.0");

    // A release given twice, differently, is a usage error and logs nothing.
    let e = w.artifact("e.tgz", 1000, 5);
    let size = tree_size(&w.server.url);
    let err = alice.fails_with(
        &[
            "publish",
            path_str(&e),
            "bob/hello@5.0.0",
            "--publisher",
            "alice",
        ],
        EXIT_USAGE,
    );
    assert!(err.contains("two publishers"), "{err}");
    let err = alice.fails_with(&["publish", path_str(&e), "hello-5.0.0"], EXIT_USAGE);
    assert!(err.contains("PACKAGE@VERSION"), "{err}");
    assert_eq!(tree_size(&w.server.url), size);
}

// ----- 2. the publish manifest -----

#[test]
fn publish_reads_sealwax_toml_and_flags_override_it() {
    let w = World::new();
    let alice = w.alice();
    let project = w.path("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("sealwax.toml"),
        "publisher = \"alice\"\npackage = \"hello\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    let a = w.artifact("project/a.tgz", 1000, 1);
    succeeds(
        run_in(&alice, &project, &["publish", "a.tgz"]),
        "publish a.tgz",
    );
    assert_eq!(verified_release(&alice, &a), "alice/hello@1.0.0");

    let b = w.artifact("project/b.tgz", 1000, 2);
    let out = run_in(
        &alice,
        &project,
        &[
            "publish",
            "b.tgz",
            "--release-version",
            "2.0.0",
            "--package",
            "other",
        ],
    );
    succeeds(out, "publish b.tgz with flags");
    assert_eq!(verified_release(&alice, &b), "alice/other@2.0.0");
    let c = w.artifact("project/c.tgz", 1000, 3);
    succeeds(
        run_in(&alice, &project, &["publish", "c.tgz", "tool@3.0.0"]),
        "publish RELEASE",
    );
    assert_eq!(verified_release(&alice, &c), "alice/tool@3.0.0");

    // Nothing given anywhere: the message says where to give it.
    let bare = w.path("bare");
    std::fs::create_dir(&bare).unwrap();
    w.artifact("bare/d.tgz", 1000, 4);
    let out = run_in(&alice, &bare, &["publish", "d.tgz", "--publisher", "alice"]);
    let err = sealwax_tests::fails_with(out, EXIT_USAGE, "publish without a package");
    assert!(
        err.contains("--package") && err.contains("sealwax.toml"),
        "{err}"
    );
}

#[test]
fn a_malformed_manifest_names_file_and_line_and_logs_nothing() {
    let w = World::new();
    let alice = w.alice();
    let project = w.path("project");
    std::fs::create_dir(&project).unwrap();
    w.artifact("project/a.tgz", 1000, 1);
    let size = tree_size(&w.server.url);
    for (manifest, line) in [
        ("publisher = \"alice\"\nversion = 1.0\n", "line 2"),
        ("publisher = \"alice\"\n\npakage = \"hello\"\n", "line 3"),
        ("publisher = \"alice\n", "line 1"),
    ] {
        std::fs::write(project.join("sealwax.toml"), manifest).unwrap();
        let out = run_in(&alice, &project, &["publish", "a.tgz", "hello@1.0.0"]);
        let err = sealwax_tests::fails_with(out, EXIT_USAGE, manifest);
        assert!(
            err.contains("sealwax.toml") && err.contains(line),
            "{manifest}: {err}"
        );
        assert!(err.contains("Fix that line"), "{err}");
        assert_eq!(err.matches("error:").count(), 1, "{err}");
    }
    assert_eq!(tree_size(&w.server.url), size, "nothing was logged");
    assert!(!project.join("a.tgz.minisig").exists());
}

// ----- 3. the monitor reads the log from the client's config -----

/// `sealwax-monitor --state S --config C --once --json` with no log flags
/// and `home` as the client home; its exit code, stdout and stderr.
fn monitor_without_log_flags(dir: &Path, home: &Path, config: &str, extra: &[&str]) -> Output {
    let conf = dir.join("monitor.toml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&conf, config).unwrap();
    Command::new(bin("sealwax-monitor"))
        .args(["--state", path_str(&dir.join("state"))])
        .args([
            "--config",
            path_str(&conf),
            "--once",
            "--json",
            "--no-progress",
        ])
        .args(extra)
        .env("SEALWAX_HOME", home)
        .env_remove("SEALWAX_LOG")
        .env_remove("SEALWAX_LOG_KEY")
        .env("RUST_LOG", "sealwax_monitor=info")
        .stdin(Stdio::null())
        .output()
        .expect("run sealwax-monitor")
}

#[test]
fn the_monitor_takes_the_log_from_sealwax_init_and_its_config_and_flags_win() {
    let w = World::new();
    let alice = w.alice();
    alice.ok(&["init"]);
    let watch_all = "[[watch]]\npublisher = \"*\"\n";

    // Only the client config names the log: the monitor follows it.
    let out = monitor_without_log_flags(&w.path("m1"), &alice.home, watch_all, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "alerts expected: {stdout}");
    assert!(stdout.contains("alice"), "{stdout}");

    // The monitor's own [log] wins over the client config...
    let dead = "http://127.0.0.1:1";
    let own = format!("{watch_all}[log]\nurl = \"{dead}\"\n");
    let out = monitor_without_log_flags(&w.path("m2"), &alice.home, &own, &[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(dead), "{err}");
    // ... and a flag wins over both.
    let out =
        monitor_without_log_flags(&w.path("m2"), &alice.home, &own, &["--log", &w.server.url]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Nothing names a log: the message says the three ways to name one.
    let empty = w.path("empty-home");
    std::fs::create_dir(&empty).unwrap();
    let out = monitor_without_log_flags(&w.path("m3"), &empty, watch_all, &[]);
    let err = sealwax_tests::fails_with(out, 2, "monitor without a log");
    for want in ["--log URL", "[log]", "sealwax init"] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

// ----- 4. log lines: the port bound, colour only on a terminal, alerts once -----

#[test]
fn sealwax_log_on_port_0_logs_the_port_it_bound_without_colour_on_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin("sealwax-log"))
        .args(["serve", "--data-dir", path_str(&dir.path().join("log"))])
        .args(["--listen", "127.0.0.1:0", "--origin", "sealwax.test/port0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sealwax-log");
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("sealwax-log is serving") => break l,
            Ok(l) => assert!(!l.contains('\x1b') && !l.contains("Some("), "{l}"),
            Err(e) => panic!("sealwax-log never said it was serving: {e}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(!line.contains('\x1b'), "no colour on a pipe: {line:?}");
    let port: u16 = line
        .split("listen=127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no listen=127.0.0.1:PORT in {line:?}"));
    assert_ne!(port, 0, "{line}");
}

/// `sealwax-monitor ... --once` run on a pseudo-terminal by `script`, with
/// `NO_COLOR` set or not; everything the terminal showed.
fn monitor_on_terminal(w: &World, dir: &Path, no_color: Option<&str>) -> String {
    let conf = dir.join("monitor.toml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&conf, "[[watch]]\npublisher = \"*\"\n").unwrap();
    let line = [
        path_str(&bin("sealwax-monitor")),
        "--log",
        &w.server.url,
        "--log-key",
        &w.server.vkey,
        "--state",
        path_str(&dir.join("state")),
        "--config",
        path_str(&conf),
        "--once",
        "--no-progress",
    ]
    .map(|a| format!("'{a}'"))
    .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("RUST_LOG", "sealwax_monitor=info")
        .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.stdin(Stdio::piped()).output().expect("run script");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn monitor_log_lines_are_coloured_only_on_a_terminal_without_no_color() {
    if !sealwax_tests::have_tool("script") {
        return;
    }
    let w = World::new();
    w.alice();
    let coloured = monitor_on_terminal(&w, &w.path("tty"), None);
    assert!(coloured.contains("done"), "{coloured}");
    assert!(
        coloured.contains("\x1b["),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = monitor_on_terminal(&w, &w.path("tty-no-color"), Some("1"));
    assert!(plain.contains("done"), "{plain}");
    assert!(!plain.contains("\x1b["), "NO_COLOR: {plain:?}");
    let out = monitor_command(
        &w.server.url,
        &w.server.vkey,
        &w.path("pipe-state"),
        &w.path("tty").join("monitor.toml"),
    )
    .args(["--once", "--no-progress"])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("done") && !err.contains('\x1b'),
        "a pipe gets none: {err:?}"
    );
}

#[test]
fn the_monitor_prints_each_alert_once_on_stdout_in_the_format_chosen() {
    let w = World::new();
    let alice = w.alice();
    alice.ok(&["keys", "rotate", "--publisher", "alice", "-W"]);
    let conf = w.path("monitor.toml");
    std::fs::write(&conf, "[[watch]]\npublisher = \"*\"\n").unwrap();
    for json in [true, false] {
        let state = w.path(&format!("state-{json}"));
        let mut cmd = monitor_command(&w.server.url, &w.server.vkey, &state, &conf);
        cmd.args(["--once", "--no-progress"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "alerts expected");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "two registrations, two alerts: {stdout}");
        let mut messages: Vec<String> = Vec::new();
        for l in &lines {
            let message = if json {
                let v: serde_json::Value = serde_json::from_str(l).expect("one JSON alert a line");
                v["message"].as_str().unwrap().to_string()
            } else {
                assert!(l.starts_with("ALERT "), "{l}");
                l.split_once(": ").unwrap().1.to_string()
            };
            assert!(
                !stderr.contains(&message),
                "alert repeated on stderr: {stderr}"
            );
            messages.push(message);
        }
        assert_ne!(messages[0], messages[1], "each alert once: {stdout}");
        assert!(
            !stderr.contains("Some(") && !stdout.contains("Some("),
            "{stderr}"
        );
    }
}

// ----- 5 and 6. one JSON shape; the install naming rule -----

#[test]
fn install_and_verify_json_share_one_shape_and_installs_follow_the_naming_rule() {
    let w = World::new();
    let alice = w.alice();
    let file = w.artifact("hello-1.0.0.tar.gz", 2000, 1);
    alice.ok(&["publish", path_str(&file), "alice/hello@1.0.0"]);
    let to = w.path("vendor");
    let json = |out: String| -> serde_json::Value { serde_json::from_str(&out).expect("JSON") };
    let installed = json(alice.ok(&[
        "--json",
        "install",
        "alice/hello@1.0.0",
        "--to",
        path_str(&to),
    ]));
    // From the log: PACKAGE-VERSION (the log records no file name).
    let dest = to.join("hello-1.0.0");
    assert_eq!(installed["installed"].as_str(), Some(path_str(&dest)));
    let verified = json(alice.ok(&["--json", "verify", path_str(&dest)]));
    for key in [
        "verified",
        "publisher",
        "package",
        "version",
        "sha256",
        "size",
        "key_id",
        "key_hash",
        "index",
    ] {
        assert!(
            !installed[key].is_null(),
            "install --json lacks {key}: {installed}"
        );
        assert_eq!(
            installed[key], verified[key],
            "{key}: {installed} vs {verified}"
        );
    }
    // A local file keeps its own name.
    let by_file = json(alice.ok(&[
        "--json",
        "install",
        path_str(&file),
        "--to",
        path_str(&w.path("files")),
    ]));
    let kept = w.path("files").join("hello-1.0.0.tar.gz");
    assert_eq!(by_file["installed"].as_str(), Some(path_str(&kept)));
    assert!(kept.is_file());
}

// ----- 7. a failed URL install leaves nothing behind -----

/// A one-request-at-a-time HTTP server for the files of `dir` (404 for
/// anything else); its base URL.
fn file_server(dir: &Path) -> String {
    use std::io::Write as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = first
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let (status, body) = match std::fs::read(dir.join(path)) {
                Ok(b) => ("200 OK", b),
                Err(_) => ("404 Not Found", b"not found".to_vec()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    url
}

/// The names in `dir`, sorted (none if it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_failed_url_install_leaves_no_companion_directory_or_staged_file() {
    let w = World::new();
    let alice = w.alice();
    let site = w.path("site");
    std::fs::create_dir(&site).unwrap();
    let file = w.artifact("site/hello-1.0.0.tar.gz", 3000, 1);
    alice.ok(&["publish", path_str(&file), "alice/hello@1.0.0"]);
    let url = format!("{}/hello-1.0.0.tar.gz", file_server(&site));
    let bob = w.client("bob");

    // Refused (bob trusts no key of alice yet): no directory stays.
    let fresh = w.path("new").join("vendor");
    bob.fails_with(
        &["install", &url, "--to", path_str(&fresh)],
        crate::cli::EXIT_REFUSED,
    );
    assert!(!w.path("new").exists(), "{:?}", names_in(&fresh));
    // Into a directory that was there: it stays, empty.
    let kept = w.path("kept");
    std::fs::create_dir(&kept).unwrap();
    bob.fails_with(
        &["install", &url, "--to", path_str(&kept)],
        crate::cli::EXIT_REFUSED,
    );
    assert_eq!(names_in(&kept), Vec::<String>::new());
    // An artifact changed on the server after signing: nothing stays either.
    sealwax_tests::write_artifact(&file, 3000, 2);
    bob.fails_with(
        &["install", &url, "--to", path_str(&kept), "--trust-new-keys"],
        crate::cli::EXIT_REFUSED,
    );
    assert_eq!(names_in(&kept), Vec::<String>::new());

    // Verified, but its name is taken by a directory: the companions written
    // beside it go again.
    sealwax_tests::write_artifact(&file, 3000, 1);
    let blocked = w.path("blocked");
    std::fs::create_dir_all(blocked.join("hello-1.0.0.tar.gz").join("x")).unwrap();
    bob.fails(&[
        "install",
        &url,
        "--to",
        path_str(&blocked),
        "--trust-new-keys",
    ]);
    assert_eq!(names_in(&blocked), vec!["hello-1.0.0.tar.gz".to_string()]);
}
