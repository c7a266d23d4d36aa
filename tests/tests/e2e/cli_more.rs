//! End-to-end tests: more of the CLI on a bad day (issue 18). `init` checks
//! the log key against the log, an interrupted publish leaves a hint and is
//! resumed, key IDs are accepted as input, the advice after a compromise
//! leads somewhere, the monitor warns about a publisher it never saw, a
//! failed install leaves nothing behind, and the docs run as written.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sealwax_tests::{bin, fails_with, path_str, succeeds, Client, LogServer};

use super::cli::{publish_args, World, EXIT_REFUSED};

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

// ----- an interrupted publish leaves a hint -----

/// The HTTP status of `HEAD <url>`.
fn head_status(url: &str) -> u16 {
    reqwest::blocking::Client::new()
        .head(url)
        .send()
        .unwrap_or_else(|e| panic!("HEAD {url}: {e}"))
        .status()
        .as_u16()
}

/// Runs `cmd` and sends it a real SIGINT once the log has started storing
/// an upload (a temporary file shows in its artifact store); returns its
/// output. Fails the test if no upload starts within 60 s.
fn interrupt_during_upload(mut cmd: Command, log_data: &Path) -> Output {
    use std::time::{Duration, Instant};
    let tmp = log_data.join("artifacts").join("tmp");
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sealwax publish");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let uploading = std::fs::read_dir(&tmp)
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.metadata().is_ok_and(|m| m.len() > 0))
            })
            .unwrap_or(false);
        if uploading {
            break;
        }
        assert!(Instant::now() < deadline, "no upload started within 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = child.id().to_string();
    succeeds(
        Command::new("kill")
            .args(["-INT", &pid])
            .output()
            .expect("run kill"),
        "kill -INT",
    );
    child.wait_with_output().expect("wait for sealwax publish")
}

#[test]
fn a_publish_interrupted_during_its_upload_is_announced_and_resumed() {
    use sha2::Digest as _;
    use std::os::unix::process::ExitStatusExt as _;
    let w = World::new();
    let alice = w.alice();
    let big = w.path("big-1.0.0.bin");
    let len = 200 << 20;
    std::fs::File::create(&big).unwrap().set_len(len).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(vec![0u8; len as usize]));
    let artifact_url = format!("{}/v1/artifacts/{sha}", w.server.url);

    let mut cmd = alice.cmd();
    cmd.args(publish_args(&big, "1.0.0"));
    let out = interrupt_during_upload(cmd, &w.server.data_dir);
    assert_eq!(out.status.signal(), Some(2), "killed by SIGINT: {out:?}");
    let logged: serde_json::Value =
        reqwest::blocking::get(format!("{}/v1/signatures?sha256={sha}", w.server.url))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(
        logged["signatures"].as_array().map(Vec::len),
        Some(1),
        "{logged}"
    );
    assert_eq!(head_status(&artifact_url), 404, "no artifact yet");

    let notice = format!(
        "note: a publish of alice/hello@1.0.0 was interrupted: run `sealwax publish {} alice/hello@1.0.0` again to finish it",
        path_str(&big)
    );
    let out = alice.run(&["keys", "list"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    succeeds(out, "keys list");
    assert!(err.contains(&notice), "{err}");
    let small = w.artifact("small-2.0.0.bin", 100, 2);
    let out = alice.run(&publish_args(&small, "2.0.0"));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    succeeds(out, "another publish");
    assert!(err.contains(&notice), "{err}");

    let resumed = alice.ok(&["publish", "--resume"]);
    assert!(
        resumed.contains("Finishing the publish of alice/hello@1.0.0"),
        "{resumed}"
    );
    assert!(resumed.contains("Uploaded the artifact"), "{resumed}");
    assert_eq!(head_status(&artifact_url), 200, "the artifact is stored");
    let out = alice.run(&["keys", "list"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{out:?}"
    );
    let again = alice.ok(&["publish", "--resume"]);
    assert!(again.contains("No interrupted publish"), "{again}");
}

// ----- key IDs accepted as input -----

/// The key ID in `keys generate`'s "Wrote key pair ID" line.
fn generated_key_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Wrote key pair "))
        .unwrap_or_else(|| panic!("no key pair line in:\n{stdout}"))
        .trim()
        .to_string()
}

#[test]
fn keys_revoke_takes_a_key_id_when_it_names_one_key() {
    let w = World::new();
    let alice = w.client("alice");
    let out = alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let id = generated_key_id(&out);
    let pk = sealwax_tests::read_public_key(&sealwax_tests::generated_pub(&out));
    assert_eq!(id, pk.key_id_hex());

    let err = alice.fails_with(&["keys", "revoke", "0123456789ABCDEF"], 4);
    assert!(err.contains("no key with ID 0123456789ABCDEF"), "{err}");

    // A trusted key of bob's that shares alice's key ID makes it ambiguous.
    let (other_pub, _) = sealwax_tests::write_key_pair(w.dir.path(), "other");
    let mut twin = sealwax_tests::read_public_key(&other_pub);
    twin.keynum = pk.keynum;
    alice.ok(&["keys", "import", &twin.to_base64(), "--publisher", "bob"]);
    let err = alice.fails_with(&["keys", "revoke", &id], 2);
    assert!(
        err.contains(&format!("key ID {id} names more than one key")),
        "{err}"
    );
    assert!(
        err.contains(&pk.to_base64()) && err.contains(&twin.to_base64()),
        "{err}"
    );

    // Without the twin (a fresh home that holds alice's key only), the ID is enough.
    let carol = w.client("carol");
    let out = carol.ok(&["keys", "generate", "--publisher", "carol", "-W"]);
    let carol_id = generated_key_id(&out);
    let revoked = carol.ok(&["keys", "revoke", &carol_id.to_lowercase()]);
    assert!(
        revoked.contains(&format!(
            "Revoked key {carol_id} of publisher \"carol\" as retired"
        )),
        "{revoked}"
    );
}

#[test]
fn a_monitor_watch_takes_key_ids() {
    let w = World::new();
    let alice = w.client("alice");
    let out = alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let id = generated_key_id(&out);
    let config = format!("[[watch]]\npublisher = \"alice\"\nkeys = [{id:?}]\n");
    let m = sealwax_tests::Monitor::new(&w.path("mon"), &w.server.url, &w.server.vkey, &config);
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
    assert!(r.alerts.is_empty(), "{}", r.debug());
    alice.ok(&["keys", "rotate", "--publisher", "alice", "-W"]);
    let r = m.run();
    assert_eq!(r.kinds(), ["unexpected-key"], "{}", r.debug());
}

// ----- after a compromise the advice does not loop -----

/// The first command in backquotes in `err` that starts with `sealwax keys`.
fn advised(err: &str, starts: &str) -> Vec<String> {
    let cmd = err
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|c| c.starts_with(starts))
        .unwrap_or_else(|| panic!("no `{starts}…` advised in: {err}"));
    cmd.split_whitespace().skip(1).map(str::to_string).collect()
}

/// A world whose log takes operator registrations; the token file's path.
fn world_with_operator() -> (World, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = LogServer::start(
        &dir.path().join("log"),
        &sealwax_tests::ServerOptions {
            admin_token: Some("op-token-4f1e9b27c0d8a635e1".into()),
            ..Default::default()
        },
    );
    let token = path_str(server.admin_token_file.as_ref().unwrap()).to_string();
    (World { dir, server }, token)
}

/// Runs the advised command (its TOKEN replaced by the token file, -W added
/// to a key generation) as `client`.
fn follow(client: &Client, mut cmd: Vec<String>, token: &str) -> String {
    for a in &mut cmd {
        if a == "TOKEN" {
            *a = token.to_string();
        }
    }
    if cmd.starts_with(&["keys".to_string(), "generate".to_string()]) {
        cmd.push("-W".into());
    }
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    client.ok(&args)
}

#[test]
fn after_a_compromise_publish_and_generate_give_a_recovery_path_that_works() {
    let (w, token) = world_with_operator();
    let alice = w.alice();
    let v1 = w.artifact("hello-1.0.0.tar.gz", 500, 1);
    alice.ok(&publish_args(&v1, "1.0.0"));
    let out = alice.ok(&["keys", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = list["own_keys"][0]["key_id"].as_str().unwrap().to_string();
    alice.ok(&["keys", "revoke", &id, "--compromised"]);

    let v2 = w.artifact("hello-2.0.0.tar.gz", 500, 2);
    let err = alice.fails_with(&publish_args(&v2, "2.0.0"), EXIT_REFUSED);
    let from_publish = advised(
        &err,
        "sealwax keys generate --publisher alice --admin-token-file",
    );
    assert!(
        !err.contains("run `sealwax keys generate --publisher alice`,"),
        "{err}"
    );
    let err = alice.fails_with(
        &["keys", "generate", "--publisher", "alice", "-W"],
        EXIT_REFUSED,
    );
    assert!(err.contains("already claimed"), "{err}");
    let from_generate = advised(
        &err,
        "sealwax keys generate --publisher alice --admin-token-file",
    );
    assert_eq!(
        from_publish, from_generate,
        "one way out, the same from both"
    );

    follow(&alice, from_generate, &token);
    let out = alice.ok(&publish_args(&v2, "2.0.0"));
    assert!(out.contains("logged at index"), "{out}");
}

#[test]
fn a_suspended_key_is_refused_before_logging_with_a_vouch_that_works() {
    let (w, token) = world_with_operator();
    let alice = w.alice();
    let out = alice.ok(&["keys", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = list["own_keys"][0]["key_id"].as_str().unwrap().to_string();
    let out = alice.ok(&["keys", "rotate", "--publisher", "alice", "-W"]);
    let second = generated_key_id(&out);
    alice.ok(&["keys", "revoke", &first, "--compromised"]);
    let size = sealwax_tests::tree_size(&w.server.url);

    let v1 = w.artifact("hello-1.0.0.tar.gz", 500, 1);
    let err = alice.fails_with(&publish_args(&v1, "1.0.0"), EXIT_REFUSED);
    assert!(
        err.contains(&format!("key {second} of publisher \"alice\" is suspended")),
        "{err}"
    );
    assert!(err.contains("nothing was logged"), "{err}");
    assert_eq!(
        sealwax_tests::tree_size(&w.server.url),
        size,
        "nothing logged"
    );
    let vouch = advised(&err, &format!("sealwax keys vouch {second}"));
    follow(&alice, vouch, &token);
    let out = alice.ok(&publish_args(&v1, "1.0.0"));
    assert!(out.contains(&format!("with key {second}")), "{out}");
}

// ----- a [[watch]] publisher that never appeared -----

#[test]
fn a_watched_publisher_never_seen_is_warned_about_once_per_run() {
    use std::time::Duration;
    let w = World::new();
    w.alice();
    let config = "[[watch]]\npublisher = \"alcie\"\nlearn = true\n\n[[watch]]\npublisher = \"alice\"\nlearn = true\n";
    let m = sealwax_tests::Monitor::new(&w.path("mon"), &w.server.url, &w.server.vkey, config);
    let child = sealwax_tests::monitor_command(&m.log, &m.vkey, &m.state, &m.config)
        .args(["--interval", "1", "--no-progress"])
        .env("RUST_LOG", "sealwax_monitor=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sealwax-monitor");
    std::thread::sleep(Duration::from_millis(3500));
    let pid = child.id().to_string();
    succeeds(
        Command::new("kill")
            .args(["-TERM", &pid])
            .output()
            .expect("kill"),
        "kill -TERM",
    );
    let out = child.wait_with_output().expect("wait for the monitor");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.matches("no new entries").count() >= 2,
        "several polls: {err}"
    );
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("never appeared"))
        .collect();
    assert_eq!(warned.len(), 1, "once per run: {err}");
    assert!(
        warned[0].contains("\"alcie\"") && warned[0].contains("check its spelling"),
        "{err}"
    );

    // The next run warns again, once.
    let r = m.run();
    let err = String::from_utf8_lossy(&r.out.stderr);
    assert_eq!(err.matches("never appeared").count(), 1, "{}", r.debug());
}

// ----- a failed install leaves nothing behind -----

/// The `.sealwax-staged-*` files in `dir`.
fn staged_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".sealwax-staged-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_failed_install_leaves_no_directory_or_staged_file_and_stale_ones_go() {
    let w = World::new();
    let alice = w.alice();
    let file = w.artifact("hello-1.0.0.tar.gz", 3000, 1);
    alice.ok(&publish_args(&file, "1.0.0"));
    let bob = w.client("bob");

    // Nothing to install: the directory install made is gone again.
    let to = w.path("new").join("vendor");
    bob.fails_with(&["install", "alice/nope@1.0.0", "--to", path_str(&to)], 4);
    assert!(!w.path("new").exists(), "created directories are removed");

    // A download that does not verify (the key is not trusted): nothing staged stays.
    let err = bob.fails_with(
        &["install", "alice/hello@1.0.0", "--to", path_str(&to)],
        EXIT_REFUSED,
    );
    assert!(err.contains("--trust-new-keys"), "{err}");
    assert!(!w.path("new").exists(), "created directories are removed");
    let kept = w.path("kept");
    std::fs::create_dir(&kept).unwrap();
    bob.fails_with(
        &["install", "alice/hello@1.0.0", "--to", path_str(&kept)],
        EXIT_REFUSED,
    );
    assert!(kept.is_dir(), "a directory install did not make stays");
    assert_eq!(staged_in(&kept), Vec::<String>::new());

    // Staged files an hour old are left-overs of a killed install; a young one may be in use.
    let old = kept.join(".sealwax-staged-00000000000000aa");
    let young = kept.join(".sealwax-staged-00000000000000bb");
    std::fs::write(&old, b"partial").unwrap();
    std::fs::write(&young, b"partial").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    bob.ok(&[
        "install",
        "alice/hello@1.0.0",
        "--to",
        path_str(&kept),
        "--trust-new-keys",
    ]);
    assert_eq!(
        staged_in(&kept),
        vec![".sealwax-staged-00000000000000bb".to_string()]
    );
}

// ----- the docs run as written -----

/// The `sh` blocks right after a `<!-- doctest -->` line of `markdown`, in order.
fn doctest_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- doctest -->" {
            continue;
        }
        assert_eq!(
            lines.next().map(str::trim),
            Some("```sh"),
            "a doctest mark must precede a ```sh block"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        blocks.push(block.join("\n"));
    }
    blocks
}

/// Runs the doctest blocks of the workspace file `doc` in order, in a fresh
/// home and working directory, against `w`'s log; returns how many ran.
fn run_doc(w: &World, doc: &str) -> usize {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc))
        .unwrap_or_else(|e| panic!("read {doc}: {e}"));
    let name = doc.replace(['/', '.'], "-");
    let (home, cwd) = (
        w.path(&format!("{name}-home")),
        w.path(&format!("{name}-cwd")),
    );
    std::fs::create_dir_all(&cwd).unwrap();
    sealwax_tests::write_artifact(&cwd.join("hello.tar.gz"), 4000, 3);
    sealwax_tests::write_artifact(&cwd.join("hello-1.0.0.tar.gz"), 4000, 4);
    sealwax_tests::write_artifact(&cwd.join("hello-1.1.0.tar.gz"), 4000, 5);
    let password = w.path(&format!("{name}-password"));
    std::fs::write(&password, "correct horse battery staple\n").unwrap();
    let bin_dir = bin("sealwax").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let log_data = path_str(&w.server.data_dir).to_string();
    let home_str = path_str(&home).to_string();
    let substitutions: [(&str, &str); 5] = [
        ("log.example.org/sealwax+1a2b3c4d+AQ…", &w.server.vkey),
        ("https://log.example.org", &w.server.url),
        ("http://127.0.0.1:7380", &w.server.url),
        ("--data-dir data/log", &format!("--data-dir {log_data}")),
        ("~/.local/share/sealwax", &home_str),
    ];
    let have_minisign = sealwax_tests::have_tool("minisign");
    let blocks = doctest_blocks(&text);
    for (i, block) in blocks.iter().enumerate() {
        let mut script = block.clone();
        for (from, to) in substitutions {
            script = script.replace(from, to);
        }
        if !have_minisign {
            script = script
                .lines()
                .filter(|l| !l.trim_start().starts_with("minisign "))
                .collect::<Vec<_>>()
                .join("\n");
        }
        let out = Command::new("sh")
            .args(["-exc", &script])
            .current_dir(&cwd)
            .env("PATH", &path)
            .env("SEALWAX_HOME", &home)
            .env("SEALWAX_PASSWORD_FILE", &password)
            .env_remove("SEALWAX_LOG")
            .env_remove("SEALWAX_LOG_KEY")
            .stdin(Stdio::null())
            .output()
            .expect("run sh");
        succeeds(
            out,
            &format!("doctest block {} of {doc}:\n{script}\n", i + 1),
        );
    }
    blocks.len()
}

#[test]
fn the_docs_run_as_written() {
    // Each on a log of its own: both claim the name alice.
    let readme = run_doc(&World::new(), "README.md");
    assert_eq!(readme, 2, "the README's quick start blocks");
    let guide = run_doc(&World::new(), "docs/GUIDE.md");
    assert_eq!(guide, 4, "the GUIDE's walkthrough blocks");
}
