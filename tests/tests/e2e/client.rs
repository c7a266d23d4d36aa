//! End-to-end tests: client. The real `sealwax` binary against the real
//! `sealwax-log` on loopback, the real `minisign` (and `rsign`) tools, a
//! pseudo-terminal from `script` for the TOFU prompt, and a small fake log
//! (axum, in this file) that serves a rolled-back or forked tree signed with
//! a key the test controls.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealwax_tests::{bin, fails_with, have_tool, Client, LogServer, ServerOptions};

/// A temporary directory with a running log and a client home in it.
struct World {
    dir: tempfile::TempDir,
    server: LogServer,
}

impl World {
    fn new() -> World {
        World::with(ServerOptions::default())
    }

    fn with(opts: ServerOptions) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = LogServer::start(&dir.path().join("log"), &opts);
        World { dir, server }
    }

    fn client(&self, name: &str) -> Client {
        Client::new(&self.dir.path().join(name), &self.server)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes an artifact of `len` pseudo-random bytes.
    fn artifact(&self, name: &str, len: usize, seed: u8) -> PathBuf {
        let p = self.path(name);
        let data: Vec<u8> = (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
            .collect();
        fs::write(&p, data).expect("write artifact");
        p
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `.pub` file `keys generate` wrote (parsed from its output).
fn generated_pub(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("public: "))
        .expect("generate prints the public key path");
    PathBuf::from(line)
}

/// Publishes `file` as alice's `pkg@version`.
fn publish(c: &Client, file: &Path, version: &str) -> String {
    c.ok(&[
        "publish",
        s(file),
        "--publisher",
        "alice",
        "--package",
        "pkg",
        "--release-version",
        version,
    ])
}

#[test]
fn happy_path_generate_publish_install_verify() {
    let w = World::new();
    let alice = w.client("alice");
    let bob = w.client("bob");
    let out = alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    assert!(out.contains("Registered key"), "{out}");
    let pub_file = generated_pub(&out);
    let secret = pub_file.with_extension("key");
    let mode = fs::metadata(&secret).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "secret key mode"
    );

    let file = w.artifact("pkg.tgz", 300_000, 1);
    let out = alice.ok(&[
        "--json",
        "publish",
        s(&file),
        "--publisher",
        "alice",
        "--package",
        "pkg",
        "--release-version",
        "1.0.0",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(v["upload"], "stored", "{v}");
    assert_eq!(v["package"], "pkg");
    let sig = fs::read_to_string(w.path("pkg.tgz.minisig")).unwrap();
    assert!(sig.contains("trusted comment: sealwax/v1 origin=sealwax.test/log publisher=alice package=pkg version=1.0.0 sha256="), "{sig}");
    let proof = fs::read_to_string(w.path("pkg.tgz.tlog-proof")).unwrap();
    assert!(
        proof.starts_with("c2sp.org/tlog-proof@v1\nindex 1\n"),
        "{proof}"
    );

    if have_tool("minisign") {
        let out = Command::new("minisign")
            .args(["-Vm", s(&file), "-p", s(&pub_file)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "minisign -Vm refused our .minisig: {out:?}"
        );
    }
    let out = alice.ok(&["verify", s(&file)]);
    assert!(
        out.contains("Signature of package alice/pkg@1.0.0 verified!"),
        "{out}"
    );

    let to = w.path("installed");
    let out = bob.ok(&[
        "install",
        "alice/pkg@1.0.0",
        "--to",
        s(&to),
        "--trust-new-keys",
    ]);
    assert!(out.contains("Importing key \""), "{out}");
    assert!(out.contains("for user \"alice\""), "{out}");
    assert!(
        out.contains("Signature of package alice/pkg@1.0.0 verified!"),
        "{out}"
    );
    let installed = to.join("pkg-1.0.0");
    assert_eq!(fs::read(&installed).unwrap(), fs::read(&file).unwrap());
    // The installed copy verifies offline with what install wrote beside it.
    let out = bob.ok(&["verify", s(&installed)]);
    assert!(out.contains("verified!"), "{out}");
    // The newest checkpoint is remembered for the next run.
    let list = bob.ok(&["--json", "keys", "list"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["trusted_keys"][0]["source"], "tofu", "{v}");
}

#[test]
fn keys_from_minisign_and_rsign_register_and_sign() {
    let w = World::new();
    let alice = w.client("alice");
    if !have_tool("minisign") {
        return;
    }
    let (pubf, keyf) = (w.path("minisign.pub"), w.path("minisign.key"));
    let out = Command::new("minisign")
        .args(["-G", "-W", "-p", s(&pubf), "-s", s(&keyf)])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "minisign -G: {out:?}");
    let out = alice.ok(&[
        "keys",
        "register",
        "--public",
        s(&pubf),
        "--private",
        s(&keyf),
        "--publisher",
        "alice",
    ]);
    assert!(out.contains("claiming the name"), "{out}");
    let file = w.artifact("a.bin", 10_000, 2);
    publish(&alice, &file, "1.0.0");
    let out = Command::new("minisign")
        .args(["-Vm", s(&file), "-p", s(&pubf)])
        .output()
        .unwrap();
    assert!(out.status.success(), "minisign -Vm: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("publisher=alice package=pkg version=1.0.0")
    );

    if !have_tool("rsign") {
        return;
    }
    let (rpub, rkey) = (w.path("rsign.pub"), w.path("rsign.key"));
    let out = Command::new("rsign")
        .args(["generate", "-W", "-p", s(&rpub), "-s", s(&rkey)])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "rsign generate: {out:?}");
    // A second key for alice: authorised by the minisign key (chain of trust).
    let out = alice.ok(&[
        "keys",
        "register",
        "--public",
        s(&rpub),
        "--private",
        s(&rkey),
        "--publisher",
        "alice",
    ]);
    assert!(out.contains("authorised by key"), "{out}");
    let file = w.artifact("b.bin", 10_000, 3);
    publish(&alice, &file, "2.0.0");
    let out = Command::new("minisign")
        .args(["-Vm", s(&file), "-p", s(&rpub)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "minisign -Vm with the rsign key: {out:?}"
    );
}

#[test]
fn tampered_artifact_proof_and_wrong_log_key_are_refused() {
    let w = World::new();
    let alice = w.client("alice");
    let keys_out = alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let file = w.artifact("pkg.tgz", 50_000, 4);
    publish(&alice, &file, "1.0.0");
    alice.ok(&["verify", s(&file)]);

    // One flipped byte in the artifact.
    let good = fs::read(&file).unwrap();
    let mut bad = good.clone();
    bad[1234] ^= 0x40;
    fs::write(&file, &bad).unwrap();
    let err = fails_with(alice.run(&["verify", s(&file)]), 1, "tampered artifact");
    assert!(err.contains("does not match its signature"), "{err}");
    // Installing the tampered file is refused too.
    let bob = w.client("bob");
    let err = fails_with(
        bob.run(&[
            "install",
            s(&file),
            "--to",
            s(&w.path("inst")),
            "--trust-new-keys",
        ]),
        1,
        "install of a tampered file",
    );
    assert!(err.contains("does not match its signature"), "{err}");
    assert!(!w.path("inst").join("pkg.tgz").exists());
    fs::write(&file, &good).unwrap();

    // A tampered .tlog-proof: a changed inclusion hash, then a changed index.
    let proof_path = w.path("pkg.tgz.tlog-proof");
    let proof = fs::read_to_string(&proof_path).unwrap();
    let mut lines: Vec<String> = proof.lines().map(str::to_string).collect();
    let h = lines[2].clone();
    let first = if h.starts_with('A') { "B" } else { "A" };
    lines[2] = format!("{first}{}", &h[1..]);
    fs::write(&proof_path, lines.join("\n") + "\n").unwrap();
    let err = fails_with(alice.run(&["verify", s(&file)]), 1, "tampered proof hash");
    assert!(err.contains("transparency proof"), "{err}");
    fs::write(&proof_path, proof.replace("index 1\n", "index 0\n")).unwrap();
    let err = fails_with(alice.run(&["verify", s(&file)]), 1, "tampered proof index");
    assert!(err.contains("transparency proof"), "{err}");
    fs::write(&proof_path, &proof).unwrap();
    alice.ok(&["verify", s(&file)]);

    // A log key of the right name but another key: offline verify refuses
    // the proof's checkpoint (1), install refuses the log's checkpoint (3).
    let fake = fake::FakeLog::start();
    let wrong = fake.vkey_named("sealwax.test/log");
    let pubf = generated_pub(&keys_out);
    let out = with_log_key(&alice, &wrong)
        .args(["keys", "import", s(&pubf), "--publisher", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = with_log_key(&alice, &wrong)
        .args(["verify", s(&file)])
        .output()
        .unwrap();
    let err = fails_with(out, 1, "verify with the wrong log key");
    assert!(
        err.contains("is not signed by the log key you configured"),
        "{err}"
    );
    let out = with_log_key(&bob, &wrong)
        .args([
            "install",
            "alice/pkg",
            "--to",
            s(&w.path("inst")),
            "--trust-new-keys",
        ])
        .output()
        .unwrap();
    let err = fails_with(out, 3, "install with the wrong log key");
    assert!(err.contains("not signed by the trusted log key"), "{err}");
}

/// A `sealwax` command for `c`'s home and log, but with another log key.
fn with_log_key(c: &Client, vkey: &str) -> Command {
    let mut cmd = Command::new(bin("sealwax"));
    cmd.arg("--home")
        .arg(&c.home)
        .args(["--log", &c.log, "--log-key", vkey])
        .stdin(Stdio::null());
    cmd
}

#[test]
fn unsigned_and_unlogged_artifacts_are_refused() {
    let w = World::new();
    let alice = w.client("alice");
    let bob = w.client("bob");
    if !have_tool("minisign") {
        return;
    }
    let (pubf, keyf) = (w.path("m.pub"), w.path("m.key"));
    let out = Command::new("minisign")
        .args(["-G", "-W", "-p", s(&pubf), "-s", s(&keyf)])
        .output()
        .unwrap();
    assert!(out.status.success());
    alice.ok(&[
        "keys",
        "register",
        "--public",
        s(&pubf),
        "--private",
        s(&keyf),
        "--publisher",
        "alice",
    ]);
    let to = w.path("inst");

    // No signature at all.
    let file = w.artifact("plain.bin", 1000, 5);
    let err = fails_with(
        bob.run(&["install", s(&file), "--to", s(&to), "--trust-new-keys"]),
        1,
        "unsigned",
    );
    assert!(err.contains("has no signature"), "{err}");

    // Signed by alice's registered key with a sealwax trusted comment, but
    // never logged: the no-downgrade rule refuses it.
    let file = w.artifact("unlogged.bin", 1000, 6);
    let sha = sha256_hex(&fs::read(&file).unwrap());
    let comment = format!(
        "sealwax/v1 origin=sealwax.test/log publisher=alice package=pkg version=9.9.9 sha256={sha}"
    );
    let out = Command::new("minisign")
        .args(["-S", "-s", s(&keyf), "-m", s(&file), "-t", &comment])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = fails_with(
        bob.run(&["install", s(&file), "--to", s(&to), "--trust-new-keys"]),
        1,
        "unlogged",
    );
    assert!(err.contains("no downgrade"), "{err}");
    assert!(!to.join("unlogged.bin").exists());
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn revocation_retired_keeps_old_signatures_compromised_refuses_all() {
    let w = World::new();
    let alice = w.client("alice");
    let bob = w.client("bob");
    let out = alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let k1 = generated_pub(&out);
    let f1 = w.artifact("one.bin", 2000, 7);
    publish(&alice, &f1, "1.0.0");
    let to = w.path("inst");
    bob.ok(&[
        "install",
        "alice/pkg@1.0.0",
        "--to",
        s(&to),
        "--trust-new-keys",
    ]);

    // Retire k1 after making k2; v1 (logged before the retirement) still installs.
    let out = alice.ok(&["keys", "rotate", "--publisher", "alice", "-W"]);
    let k2 = generated_pub(&out);
    let out = alice.ok(&["keys", "revoke", s(&k1)]);
    assert!(out.contains("as retired"), "{out}");
    let out = bob.ok(&["install", "alice/pkg@1.0.0", "--to", s(&to)]);
    assert!(out.contains("verified!"), "{out}");
    // Publishing with the retired key is refused by the log.
    let f_late = w.artifact("late.bin", 2000, 8);
    let err = fails_with(
        alice.run(&[
            "publish",
            s(&f_late),
            "--publisher",
            "alice",
            "--package",
            "pkg",
            "--release-version",
            "1.5.0",
            "--key",
            s(&k1.with_extension("key")),
        ]),
        1,
        "signing with a retired key",
    );
    assert!(err.contains("revoked"), "{err}");

    // v2 by k2; then k2 is compromised: v2 is refused, offline verify of the
    // installed copy too (install recorded the revocation), v1 still installs.
    let f2 = w.artifact("two.bin", 2000, 9);
    publish(&alice, &f2, "2.0.0");
    let out = bob.ok(&["install", "alice/pkg@2.0.0", "--to", s(&to)]);
    assert!(out.contains("rotated in by trusted key"), "{out}");
    bob.ok(&["verify", s(&to.join("pkg-2.0.0"))]);
    let out = alice.ok(&["keys", "revoke", s(&k2), "--compromised"]);
    assert!(out.contains("as compromised"), "{out}");
    let err = fails_with(
        bob.run(&["install", "alice/pkg@2.0.0", "--to", s(&to)]),
        1,
        "compromised key",
    );
    assert!(err.contains("compromised"), "{err}");
    let err = fails_with(
        bob.run(&["verify", s(&to.join("pkg-2.0.0"))]),
        1,
        "offline verify, compromised",
    );
    assert!(err.contains("compromised"), "{err}");
    bob.ok(&["install", "alice/pkg@1.0.0", "--to", s(&to)]);
}

#[test]
fn rotation_is_trusted_through_the_logged_chain() {
    let w = World::new();
    let alice = w.client("alice");
    let bob = w.client("bob");
    alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    publish(&alice, &w.artifact("one.bin", 1000, 10), "1.0.0");
    let to = w.path("inst");
    bob.ok(&[
        "install",
        "alice/pkg@1.0.0",
        "--to",
        s(&to),
        "--trust-new-keys",
    ]);

    // Two rotations: bob trusts k3 through k1 -> k2 -> k3 without a prompt
    // (stdin is not a terminal and --trust-new-keys is not given).
    alice.ok(&[
        "keys",
        "rotate",
        "--publisher",
        "alice",
        "-W",
        "--retire-old",
    ]);
    alice.ok(&[
        "keys",
        "rotate",
        "--publisher",
        "alice",
        "-W",
        "--retire-old",
    ]);
    publish(&alice, &w.artifact("three.bin", 1000, 11), "3.0.0");
    let out = bob.ok(&["install", "alice/pkg@3.0.0", "--to", s(&to)]);
    assert!(out.contains("rotated in by trusted key"), "{out}");
    assert!(out.contains("verified!"), "{out}");

    // Someone who never trusted any of alice's keys is asked (refused here, no terminal).
    let carol = w.client("carol");
    let err = fails_with(
        carol.run(&["install", "alice/pkg@3.0.0", "--to", s(&to)]),
        1,
        "carol, no terminal",
    );
    assert!(err.contains("--trust-new-keys"), "{err}");
}

#[test]
fn operator_registration_recovers_a_claimed_name() {
    let w = World::with(ServerOptions {
        admin_token: Some("s3cret-token-7d2b0a9e4c".into()),
        ..Default::default()
    });
    let alice = w.client("alice");
    alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    // A new home lost alice's key: a plain registration is refused...
    let again = w.client("alice-again");
    let err = fails_with(
        again.run(&["keys", "generate", "--publisher", "alice", "-W"]),
        1,
        "name taken",
    );
    assert!(err.contains("already claimed"), "{err}");
    // ...the operator path accepts it.
    if !have_tool("minisign") {
        return;
    }
    let (pubf, keyf) = (w.path("r.pub"), w.path("r.key"));
    assert!(Command::new("minisign")
        .args(["-G", "-W", "-p", s(&pubf), "-s", s(&keyf)])
        .output()
        .unwrap()
        .status
        .success());
    let token = w.server.admin_token_file.clone().expect("token file");
    let out = again.ok(&[
        "--json",
        "keys",
        "register",
        "--public",
        s(&pubf),
        "--private",
        s(&keyf),
        "--publisher",
        "alice",
        "--admin-token-file",
        s(&token),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["authorization"], "operator", "{v}");
}

#[test]
fn install_from_a_url_with_signature_and_proof_beside_it() {
    let w = World::new();
    let alice = w.client("alice");
    alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let file = w.artifact("tool.tar.gz", 20_000, 14);
    alice.ok(&[
        "publish",
        s(&file),
        "--publisher",
        "alice",
        "--package",
        "tool",
        "--release-version",
        "0.1.0",
        "--no-upload",
    ]);
    // A plain web server with the artifact, its .minisig and .tlog-proof.
    let web = fake::FakeLog::start();
    for suffix in ["", ".minisig", ".tlog-proof"] {
        let name = format!("tool.tar.gz{suffix}");
        web.serve_file(&name, fs::read(w.path(&name)).unwrap());
    }
    let url = format!("{}/files/tool.tar.gz", web.url);
    let bob = w.client("bob");
    let to = w.path("inst");
    let out = bob.ok(&["install", &url, "--to", s(&to), "--trust-new-keys"]);
    assert!(
        out.contains("Signature of package alice/tool@0.1.0 verified!"),
        "{out}"
    );
    assert_eq!(
        fs::read(to.join("tool.tar.gz")).unwrap(),
        fs::read(&file).unwrap()
    );
    bob.ok(&["verify", s(&to.join("tool.tar.gz"))]);

    // The same URL serving other bytes is refused, and nothing is installed.
    let mut other = fs::read(&file).unwrap();
    other[0] ^= 1;
    web.serve_file("tool.tar.gz", other);
    let to2 = w.path("inst2");
    let err = fails_with(
        bob.run(&["install", &url, "--to", s(&to2)]),
        1,
        "changed bytes",
    );
    assert!(err.contains("does not match its signature"), "{err}");
    assert!(!to2.join("tool.tar.gz").exists());
}

#[test]
fn encrypted_keys_take_their_password_from_a_file() {
    let w = World::new();
    let alice = w.client("alice");
    let pw = w.path("pw");
    fs::write(&pw, "correct horse\n").unwrap();
    // No terminal and no password file: a clear refusal before anything is made.
    let err = fails_with(
        alice.run(&["keys", "generate", "--publisher", "alice"]),
        2,
        "no password source",
    );
    assert!(err.contains("--password-file"), "{err}");
    let out = alice.ok(&[
        "--password-file",
        s(&pw),
        "keys",
        "generate",
        "--publisher",
        "alice",
    ]);
    let secret = generated_pub(&out).with_extension("key");
    assert!(fs::read_to_string(&secret)
        .unwrap()
        .contains("encrypted secret key"));
    let file = w.artifact("a.bin", 1000, 15);
    let publish = |pwfile: &Path| {
        alice.run(&[
            "--password-file",
            s(pwfile),
            "publish",
            s(&file),
            "--publisher",
            "alice",
            "--package",
            "pkg",
            "--release-version",
            "1.0.0",
        ])
    };
    let wrong = w.path("wrong");
    fs::write(&wrong, "battery staple\n").unwrap();
    let err = fails_with(publish(&wrong), 2, "wrong password");
    assert!(err.contains("wrong password"), "{err}");
    let out = publish(&pw);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Runs `sealwax <args>` under a pseudo-terminal (`script`), typing `answer`.
fn on_terminal(c: &Client, args: &[&str], answer: &str) -> Output {
    let mut cmdline = format!(
        "{} --home {} --log {} --log-key '{}'",
        s(&bin("sealwax")),
        s(&c.home),
        c.log,
        c.log_key
    );
    for a in args {
        cmdline.push(' ');
        cmdline.push_str(a);
    }
    let mut child = Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script");
    // Answer once the prompt is up; `script` passes our input to the terminal.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn tofu_prompt_on_a_terminal_yes_and_no_and_refusal_without_one() {
    if !have_tool("script") {
        return;
    }
    let w = World::new();
    let alice = w.client("alice");
    alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    publish(&alice, &w.artifact("one.bin", 1000, 12), "1.0.0");
    let bob = w.client("bob");
    let to = w.path("inst");

    // Without a terminal: refused, with a message saying what to do.
    let err = fails_with(
        bob.run(&["install", "alice/pkg@1.0.0", "--to", s(&to)]),
        1,
        "no terminal",
    );
    assert!(
        err.contains("--trust-new-keys") && err.contains("sealwax keys import"),
        "{err}"
    );
    assert!(!to.join("pkg-1.0.0").exists());

    // On a terminal, answered no: refused, nothing installed, nothing trusted.
    let out = on_terminal(&bob, &["install", "alice/pkg@1.0.0", "--to", s(&to)], "n\n");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("New public key encountered: "), "{text}");
    assert!(
        text.contains(" while installing alice/pkg@1.0.0."),
        "{text}"
    );
    assert!(
        text.contains("Would you like to trust this key? [y/n]"),
        "{text}"
    );
    assert!(text.contains("was not trusted"), "{text}");
    assert!(!to.join("pkg-1.0.0").exists());

    // Answered yes: installed, and trusted from then on (no prompt next time).
    let out = on_terminal(&bob, &["install", "alice/pkg@1.0.0", "--to", s(&to)], "y\n");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Importing key \""), "{text}");
    assert!(
        text.contains("Signature of package alice/pkg@1.0.0 verified!"),
        "{text}"
    );
    assert!(to.join("pkg-1.0.0").exists());
    bob.ok(&["install", "alice/pkg@1.0.0", "--to", s(&to)]);
}

#[test]
fn keys_import_trusts_by_hand() {
    let w = World::new();
    let alice = w.client("alice");
    let out = alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let pubf = generated_pub(&out);
    publish(&alice, &w.artifact("one.bin", 1000, 13), "1.0.0");
    let bob = w.client("bob");
    let out = bob.ok(&["keys", "import", s(&pubf), "--publisher", "alice"]);
    assert!(
        out.starts_with("Importing key \"") && out.contains("for user \"alice\""),
        "{out}"
    );
    // Offline verify needs no log round trip now.
    bob.ok(&["verify", s(&w.path("one.bin"))]);
    bob.ok(&["install", "alice/pkg", "--to", s(&w.path("inst"))]);
}

#[test]
fn a_forked_or_rolled_back_log_is_refused() {
    let fake = fake::FakeLog::start();
    let dir = tempfile::tempdir().unwrap();
    let run = |home: &str, args: &[&str]| -> Output {
        Command::new(bin("sealwax"))
            .arg("--home")
            .arg(dir.path().join(home))
            .args(["--log", &fake.url, "--log-key", &fake.vkey])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ok = |home: &str, args: &[&str]| -> String {
        let out = run(home, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let file = dir.path().join("pkg.tgz");
    fs::write(&file, b"release one").unwrap();
    ok("alice", &["keys", "generate", "--publisher", "alice", "-W"]);
    ok(
        "alice",
        &[
            "publish",
            s(&file),
            "--publisher",
            "alice",
            "--package",
            "pkg",
            "--release-version",
            "1.0.0",
        ],
    );
    let to = dir.path().join("inst");
    ok(
        "bob",
        &[
            "install",
            "alice/pkg@1.0.0",
            "--to",
            s(&to),
            "--trust-new-keys",
        ],
    );

    // The log now shows a smaller tree than bob verified: a rollback.
    fake.set_view(fake::View::Prefix(1));
    let err = fails_with(
        run("bob", &["install", "alice/pkg@1.0.0", "--to", s(&to)]),
        3,
        "rollback",
    );
    assert!(err.contains("rolled back"), "{err}");

    // A larger tree whose prefix differs from what bob verified: a fork.
    fake.set_view(fake::View::Forked);
    let err = fails_with(
        run("bob", &["install", "alice/pkg@1.0.0", "--to", s(&to)]),
        3,
        "fork",
    );
    assert!(err.contains("forked"), "{err}");

    // The remembered checkpoint was kept: the honest log is still accepted.
    fake.set_view(fake::View::Honest);
    ok("bob", &["install", "alice/pkg@1.0.0", "--to", s(&to)]);
    // Bob still remembers the honest tree, so the fork is still refused.
    fake.set_view(fake::View::Forked);
    let err = fails_with(
        run("bob", &["install", "alice/pkg@1.0.0", "--to", s(&to)]),
        3,
        "fork again",
    );
    assert!(err.contains("forked"), "{err}");
}

/// A small in-memory log that speaks the sealwax HTTP API, signs its
/// checkpoints with a key the test holds, and can be told to lie.
mod fake {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::{Path, Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post, put};
    use axum::{Json, Router};
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use serde_json::json;
    use sha2::Digest as _;

    use sealwax_proto::checkpoint::Checkpoint;
    use sealwax_proto::directory::{publisher_key, release_key, Directory, LeafFold};
    use sealwax_proto::entry::Entry;
    use sealwax_proto::merkle::{leaf_hash, prove_consistency, prove_inclusion, MemoryHashStore};
    use sealwax_proto::minisign::SecretKey;
    use sealwax_proto::note::{key_id, SIG_TYPE_ED25519};
    use sealwax_proto::rules::{MemoryLogState, ReleaseName};

    /// An unencrypted Minisign secret key made with `minisign -G -W` for
    /// these tests only; its Ed25519 key signs the fake log's checkpoints.
    const LOG_SECRET_KEY: &str = "untrusted comment: minisign encrypted secret key\n\
        RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAiwaXehDnE20wDflluSpprkCmPHmz+PPOELP4cZ4IOPQtg4jY4eVa7xOaXFameWFwxxnw21yjCGc16FGlZI3+vucbgyrFNNyEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    const ORIGIN: &str = "fake.test/log";

    /// What the fake shows as its tree.
    #[derive(Clone, Copy, Debug)]
    pub enum View {
        /// Every entry, as submitted.
        Honest,
        /// Only the first n entries (a rollback).
        Prefix(usize),
        /// Entry 1 replaced by a copy of entry 0, the rest after it (a fork).
        Forked,
    }

    struct LogState {
        key: SecretKey,
        entries: Vec<Vec<u8>>,
        view: View,
        artifacts: HashMap<String, Vec<u8>>,
        files: HashMap<String, Vec<u8>>,
    }

    type Shared = Arc<Mutex<LogState>>;

    /// The running fake log.
    pub struct FakeLog {
        /// Base URL.
        pub url: String,
        /// Its verifier key string.
        pub vkey: String,
        state: Shared,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
    }

    impl FakeLog {
        /// Starts the fake on a free loopback port.
        pub fn start() -> FakeLog {
            let key = SecretKey::parse(LOG_SECRET_KEY, None).expect("test key parses");
            let state = Arc::new(Mutex::new(LogState {
                key,
                entries: Vec::new(),
                view: View::Honest,
                artifacts: HashMap::new(),
                files: HashMap::new(),
            }));
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let app = router(state.clone());
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let l = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(l, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await
                        .unwrap();
                });
            });
            let vkey = Self::vkey_for(&state.lock().unwrap().key, ORIGIN);
            FakeLog {
                url,
                vkey,
                state,
                stop: Some(tx),
            }
        }

        fn vkey_for(key: &SecretKey, name: &str) -> String {
            let pk = key.public_key().key;
            let mut typed = vec![SIG_TYPE_ED25519];
            typed.extend_from_slice(&pk);
            format!(
                "{name}+{}+{}",
                hex::encode(key_id(name, SIG_TYPE_ED25519, &pk)),
                B64.encode(typed)
            )
        }

        /// This fake's key under another name (to pose as another log).
        pub fn vkey_named(&self, name: &str) -> String {
            Self::vkey_for(&self.state.lock().unwrap().key, name)
        }

        /// Serves `bytes` at `<url>/files/<name>` (a plain web server).
        pub fn serve_file(&self, name: &str, bytes: Vec<u8>) {
            self.state
                .lock()
                .unwrap()
                .files
                .insert(name.to_string(), bytes);
        }

        /// Changes what the fake shows.
        pub fn set_view(&self, view: View) {
            self.state.lock().unwrap().view = view;
        }
    }

    impl Drop for FakeLog {
        fn drop(&mut self) {
            if let Some(tx) = self.stop.take() {
                let _ = tx.send(());
            }
        }
    }

    fn shown(s: &LogState) -> Vec<Vec<u8>> {
        match s.view {
            View::Honest => s.entries.clone(),
            View::Prefix(n) => s.entries[..n.min(s.entries.len())].to_vec(),
            View::Forked => {
                let mut v = s.entries.clone();
                if v.len() >= 2 {
                    v.insert(1, v[0].clone());
                }
                v
            }
        }
    }

    fn tree(entries: &[Vec<u8>]) -> MemoryHashStore {
        let mut t = MemoryHashStore::new();
        for e in entries {
            t.append(leaf_hash(e));
        }
        t
    }

    /// The key directory of `entries` (an entry that breaks the rules, as
    /// in the forked view, sets nothing), and the fold that made it.
    fn directory(entries: &[Vec<u8>]) -> (Directory, LeafFold) {
        let (mut dir, mut fold) = (Directory::new(), LeafFold::new());
        for (i, e) in entries.iter().enumerate() {
            let _ = fold.apply(&Entry::parse(e).unwrap(), i as u64);
            dir.insert_batch(fold.take_changes());
        }
        (dir, fold)
    }

    fn signed_checkpoint(s: &LogState, entries: &[Vec<u8>]) -> String {
        let t = tree(entries);
        let mut cp = Checkpoint::new(ORIGIN, t.size(), t.root());
        cp.set_directory_root(&directory(entries).0.root());
        let body = cp.to_body();
        let pk = s.key.public_key().key;
        let mut sig = key_id(ORIGIN, SIG_TYPE_ED25519, &pk).to_vec();
        sig.extend_from_slice(&s.key.sign_raw(body.as_bytes()));
        format!("{body}\n\u{2014} {ORIGIN} {}\n", B64.encode(sig))
    }

    fn error(code: StatusCode, msg: impl ToString) -> Response {
        (code, Json(json!({ "error": msg.to_string() }))).into_response()
    }

    fn hexes(v: Vec<[u8; 32]>) -> Vec<String> {
        v.iter().map(hex::encode).collect()
    }

    fn router(state: Shared) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/checkpoint", get(checkpoint))
            .route("/v1/entries", post(submit))
            .route("/v1/proof/inclusion", get(inclusion))
            .route("/v1/proof/consistency", get(consistency))
            .route("/v1/publishers/{p}/keys", get(publisher_keys))
            .route("/v1/releases/{p}/{n}/{v}", get(release))
            .route("/v1/signatures", get(signatures))
            .route("/v1/artifacts/{sha}", put(put_artifact).get(get_artifact))
            .route("/files/{name}", get(get_file))
            .with_state(state)
    }

    async fn get_file(State(s): State<Shared>, Path(name): Path<String>) -> Response {
        match s.lock().unwrap().files.get(&name) {
            Some(b) => b.clone().into_response(),
            None => error(StatusCode::NOT_FOUND, "no such file"),
        }
    }

    async fn checkpoint(State(s): State<Shared>) -> String {
        let s = s.lock().unwrap();
        signed_checkpoint(&s, &shown(&s))
    }

    async fn submit(State(s): State<Shared>, Json(body): Json<serde_json::Value>) -> Response {
        let mut s = s.lock().unwrap();
        let Ok(bytes) = B64.decode(body["entry"].as_str().unwrap_or_default()) else {
            return error(StatusCode::BAD_REQUEST, "entry is not base64");
        };
        let entry = match Entry::parse(&bytes) {
            Ok(e) => e,
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        };
        if let Err(e) = entry.verify_signatures(ORIGIN) {
            return error(StatusCode::BAD_REQUEST, e);
        }
        if entry.needs_operator() {
            return error(StatusCode::FORBIDDEN, "no operator path here");
        }
        let existing = s.entries.iter().position(|e| e == &bytes);
        let index = match existing {
            Some(i) => i,
            None => {
                let mut state = MemoryLogState::default();
                for (i, e) in s.entries.iter().enumerate() {
                    state.apply(&Entry::parse(e).unwrap(), i as u64).unwrap();
                }
                if let Err(e) = state.apply(&entry, s.entries.len() as u64) {
                    return error(StatusCode::CONFLICT, e);
                }
                s.entries.push(bytes.clone());
                s.entries.len() - 1
            }
        };
        let entries = s.entries.clone();
        let t = tree(&entries);
        Json(json!({
            "index": index,
            "leaf_hash": hex::encode(leaf_hash(&bytes)),
            "checkpoint": signed_checkpoint(&s, &entries),
            "inclusion_proof": hexes(prove_inclusion(&t, index as u64, t.size()).unwrap()),
            "duplicate": existing.is_some(),
        }))
        .into_response()
    }

    async fn inclusion(State(s): State<Shared>, Query(q): Query<HashMap<String, u64>>) -> Response {
        let s = s.lock().unwrap();
        let entries = shown(&s);
        let t = tree(&entries);
        let (i, n) = (q["index"], q["tree_size"]);
        match prove_inclusion(&t, i, n) {
            Ok(p) => Json(json!({
                "index": i, "tree_size": n,
                "leaf_hash": hex::encode(leaf_hash(&entries[i as usize])),
                "proof": hexes(p),
            }))
            .into_response(),
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        }
    }

    async fn consistency(
        State(s): State<Shared>,
        Query(q): Query<HashMap<String, u64>>,
    ) -> Response {
        let s = s.lock().unwrap();
        let t = tree(&shown(&s));
        let (a, b) = (q["from"], q["to"]);
        match prove_consistency(&t, a, b) {
            Ok(p) => Json(json!({ "from": a, "to": b, "proof": hexes(p) })).into_response(),
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        }
    }

    async fn publisher_keys(State(s): State<Shared>, Path(p): Path<String>) -> Response {
        let s = s.lock().unwrap();
        let entries = shown(&s);
        let t = tree(&entries);
        let mut events = Vec::new();
        for (i, b) in entries.iter().enumerate() {
            let e = Entry::parse(b).unwrap();
            let kind = match &e {
                Entry::KeyRegistration(_) => "registration",
                Entry::KeyRevocation(_) => "revocation",
                Entry::Signature(_) => continue,
            };
            if e.publisher() != p {
                continue;
            }
            events.push(json!({
                "index": i, "kind": kind, "entry": B64.encode(b),
                "inclusion_proof": hexes(prove_inclusion(&t, i as u64, t.size()).unwrap()),
            }));
        }
        let (dir, fold) = directory(&entries);
        let (_, proof) = dir.prove(&publisher_key(&p));
        let record = fold.state().get(&p).map(|k| B64.encode(k.to_record()));
        Json(json!({
            "publisher": p, "tree_size": t.size(),
            "checkpoint": signed_checkpoint(&s, &entries), "events": events,
            "record": record, "directory_proof": proof.to_base64(),
        }))
        .into_response()
    }

    /// The release's key directory leaf in the tree shown, proven.
    async fn release(
        State(s): State<Shared>,
        Path((p, n, v)): Path<(String, String, String)>,
    ) -> Response {
        let s = s.lock().unwrap();
        let entries = shown(&s);
        let (dir, fold) = directory(&entries);
        let name = ReleaseName {
            publisher: p,
            package: n,
            version: v,
        };
        let (_, proof) = dir.prove(&release_key(&name));
        let record = fold
            .state()
            .release_record(&name)
            .map(|r| json!({ "index": r.index, "sha256": hex::encode(r.sha256) }));
        Json(json!({
            "publisher": name.publisher, "package": name.package, "version": name.version,
            "tree_size": entries.len(), "checkpoint": signed_checkpoint(&s, &entries),
            "record": record, "directory_proof": proof.to_base64(),
        }))
        .into_response()
    }

    /// Signatures are listed from the honest entries: this fake lies only
    /// about its tree.
    async fn signatures(
        State(s): State<Shared>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let s = s.lock().unwrap();
        let mut out = Vec::new();
        for (i, b) in s.entries.iter().enumerate() {
            let Ok(Entry::Signature(se)) = Entry::parse(b) else {
                continue;
            };
            let r = se.release().unwrap();
            let sha = hex::encode(r.sha256);
            let wanted = |k: &str, v: &str| q.get(k).is_none_or(|x| x == v);
            if wanted("sha256", &sha)
                && wanted("publisher", &r.publisher)
                && wanted("package", &r.package)
                && wanted("version", &r.version)
            {
                out.push(json!({
                    "index": i, "publisher": r.publisher, "package": r.package, "version": r.version,
                    "sha256": sha, "key_hash": hex::encode(se.key.key_hash()), "entry": B64.encode(b),
                }));
            }
        }
        Json(json!({ "signatures": out })).into_response()
    }

    async fn put_artifact(
        State(s): State<Shared>,
        Path(sha): Path<String>,
        body: Bytes,
    ) -> Response {
        if hex::encode(sha2::Sha256::digest(&body)) != sha {
            return error(
                StatusCode::BAD_REQUEST,
                "the body does not hash to that SHA-256",
            );
        }
        s.lock().unwrap().artifacts.insert(sha, body.to_vec());
        StatusCode::CREATED.into_response()
    }

    async fn get_artifact(State(s): State<Shared>, Path(sha): Path<String>) -> Response {
        match s.lock().unwrap().artifacts.get(&sha) {
            Some(b) => b.clone().into_response(),
            None => error(StatusCode::NOT_FOUND, "no such artifact"),
        }
    }
}

/// Issue 18, point 1: a re-run of an identical publish, once the artifact is
/// stored, succeeds and says so, instead of failing with a broken pipe when
/// the log answers "already stored" before the upload has been sent.
#[test]
fn republishing_a_stored_artifact_succeeds() {
    let w = World::new();
    let alice = w.client("alice");
    alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let file = w.artifact("big.tgz", 5 << 20, 7);
    let args = [
        "--json",
        "publish",
        s(&file),
        "--publisher",
        "alice",
        "--package",
        "big",
        "--release-version",
        "1.0.0",
    ];
    let first: serde_json::Value = serde_json::from_str(&alice.ok(&args)).unwrap();
    assert_eq!(first["upload"], "stored", "{first}");
    for run in 0..3 {
        let out = alice.run(&args);
        assert!(
            out.status.success(),
            "re-run {run} of the same publish failed: {}",
            stderr(&out)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["upload"], "already-stored", "{v}");
        assert_eq!(v["index"], first["index"], "{v}");
    }
    let out = alice.ok(&args[1..]);
    assert!(out.contains("already logged"), "{out}");
    assert!(out.contains("already has this artifact"), "{out}");

    // Any uploader, not only ours: a PUT of the stored artifact with its
    // whole body gets the log's answer, 200, not a reset connection.
    let sha = sha256_hex(&fs::read(&file).unwrap());
    let http = reqwest::blocking::Client::new();
    for _ in 0..3 {
        let resp = http
            .put(format!("{}/v1/artifacts/{sha}", w.server.url))
            .header("content-type", "application/octet-stream")
            .body(fs::read(&file).unwrap())
            .send()
            .expect("the log answers a PUT of a stored artifact");
        assert_eq!(resp.status().as_u16(), 200);
        let v: serde_json::Value = resp.json().unwrap();
        assert_eq!(v["size"], 5 << 20, "{v}");
    }
}
