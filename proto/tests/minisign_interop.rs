//! Interoperability with the real tools: `minisign` (C, 0.11+) and `rsign`
//! (rsign2). Each test is skipped, with a message, only when its tool is not
//! installed (`apt install minisign`, `cargo install rsign2`).
//!
//! minisign reads passwords from standard input when it has no terminal;
//! rsign2 needs a terminal, so only its password-less modes are driven here.

use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use sealwax_proto::minisign::{prehash, KdfParams, PublicKey, SecretKey, SignatureBox};
use sealwax_proto::Error;

/// A scratch directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = env::temp_dir().join(format!(
            "sealwax-minisign-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, contents).unwrap();
        p
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The tool's path, or `None` after printing why the test is skipped.
fn find_tool(name: &str, install: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = env::var_os("CARGO_HOME") {
        dirs.push(Path::new(&home).join("bin"));
    }
    if let Some(home) = env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("SKIPPED: `{name}` is not installed ({install}); this interop test did not run");
    }
    found
}

fn minisign() -> Option<PathBuf> {
    find_tool("minisign", "apt install minisign")
}

fn rsign() -> Option<PathBuf> {
    find_tool("rsign", "cargo install rsign2")
}

/// Runs `tool args...` in `dir` with `stdin` fed to it.
fn run(tool: &Path, dir: &TempDir, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(tool)
        .args(args)
        .current_dir(&dir.0)
        .env("HOME", &dir.0)
        .env_remove("MINISIGN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    let mut input = child.stdin.take().unwrap();
    // The tool may exit before reading everything; that is its business.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const ARTIFACT: &[u8] = b"demo-1.0.0.tar.gz bytes\n\x00\x01\x02 binary too";
const TRUSTED: &str =
    "sealwax v1\tpublisher=alice\tpackage=demo\tversion=1.0.0\tsha256=5d41402abc4b2a76";
const UNTRUSTED: &str = "signature from sealwax";

/// The key ID in a `.pub` comment as a number (minisign 0.11 does not zero-pad it).
fn comment_key_id(pub_text: &str) -> u64 {
    let id = pub_text.lines().next().unwrap().rsplit(' ').next().unwrap();
    u64::from_str_radix(id, 16).unwrap()
}

#[test]
fn minisign_unencrypted_key_parses_signs_and_matches_minisign_bytes() {
    let Some(minisign) = minisign() else { return };
    let dir = TempDir::new();
    assert_ok(
        &run(
            &minisign,
            &dir,
            &["-G", "-W", "-p", "k.pub", "-s", "k.key"],
            "",
        ),
        "minisign -G -W",
    );
    let pub_text = dir.read("k.pub");
    let key_text = dir.read("k.key");
    let pk = PublicKey::parse(&pub_text).unwrap();
    assert_eq!(comment_key_id(&pub_text), u64::from_le_bytes(pk.keynum));
    assert_eq!(pub_text.lines().nth(1).unwrap(), pk.to_base64());
    assert!(!SecretKey::is_encrypted(&key_text));
    // minisign leaves the checksum of an unencrypted key at zero.
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key_text.lines().nth(1).unwrap())
        .unwrap();
    assert_eq!(&raw[..6], b"Ed\0\0B2");
    assert!(raw[126..].iter().all(|&b| b == 0));
    let sk = SecretKey::parse(&key_text, None).unwrap();
    assert_eq!(sk.public_key(), pk);

    // Our signature verifies with minisign, also when it insists on pre-hashing.
    dir.write("art.tgz", ARTIFACT);
    let ours = sk
        .try_sign_prehashed(&prehash(ARTIFACT), TRUSTED, UNTRUSTED)
        .unwrap();
    dir.write("art.tgz.minisig", ours.to_file_string());
    let out = run(&minisign, &dir, &["-Vm", "art.tgz", "-p", "k.pub"], "");
    assert_ok(&out, "minisign -V of our signature");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Trusted comment: {TRUSTED}")));
    let b64 = pk.to_base64();
    assert_ok(
        &run(
            &minisign,
            &dir,
            &["-V", "-H", "-m", "art.tgz", "-P", &b64],
            "",
        ),
        "minisign -V -H -P of our signature",
    );

    // minisign refuses it for other bytes (the check above can fail).
    dir.write("art.tgz", b"other bytes");
    assert!(
        !run(&minisign, &dir, &["-Vm", "art.tgz", "-p", "k.pub"], "")
            .status
            .success()
    );
    dir.write("art.tgz", ARTIFACT);

    // Ed25519 is deterministic: minisign signing the same thing writes the same file.
    let out = run(
        &minisign,
        &dir,
        &[
            "-S",
            "-s",
            "k.key",
            "-m",
            "art.tgz",
            "-x",
            "theirs.minisig",
            "-t",
            TRUSTED,
            "-c",
            UNTRUSTED,
        ],
        "",
    );
    assert_ok(&out, "minisign -S");
    let theirs_text = dir.read("theirs.minisig");
    assert_eq!(theirs_text, ours.to_file_string());

    // minisign's signatures verify with ours (case 5), and a legacy one is refused.
    let theirs = SignatureBox::parse(&theirs_text).unwrap();
    theirs.verify_prehashed(&pk, &prehash(ARTIFACT)).unwrap();
    let out = run(
        &minisign,
        &dir,
        &[
            "-S",
            "-l",
            "-s",
            "k.key",
            "-m",
            "art.tgz",
            "-x",
            "legacy.minisig",
        ],
        "",
    );
    assert_ok(&out, "minisign -S -l");
    let legacy = SignatureBox::parse(&dir.read("legacy.minisig")).unwrap();
    assert_eq!(
        legacy.verify_prehashed(&pk, &prehash(ARTIFACT)),
        Err(Error::LegacySignature)
    );
    pk.verify_raw(ARTIFACT, &legacy.signature).unwrap();
}

#[test]
fn minisign_password_protected_key_decrypts() {
    let Some(minisign) = minisign() else { return };
    let dir = TempDir::new();
    // Without a terminal, minisign reads the password (twice) from stdin.
    let out = run(
        &minisign,
        &dir,
        &["-G", "-p", "k.pub", "-s", "k.key"],
        "s3cret pass\ns3cret pass\n",
    );
    if !out.status.success() {
        eprintln!(
            "SKIPPED: minisign could not read a password without a terminal: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let key_text = dir.read("k.key");
    let pk = PublicKey::parse(&dir.read("k.pub")).unwrap();
    assert!(SecretKey::is_encrypted(&key_text));
    assert_eq!(
        SecretKey::parse(&key_text, None).unwrap_err(),
        Error::PasswordRequired
    );
    // minisign's default cost (N = 2^20) unless it was short of memory.
    let sk = SecretKey::parse(&key_text, Some(b"s3cret pass")).unwrap();
    assert_eq!(sk.public_key(), pk);

    dir.write("art.tgz", ARTIFACT);
    let sig = sk.sign_prehashed(&prehash(ARTIFACT), TRUSTED, UNTRUSTED);
    dir.write("art.tgz.minisig", sig.to_file_string());
    assert_ok(
        &run(&minisign, &dir, &["-Vm", "art.tgz", "-p", "k.pub"], ""),
        "minisign -V of a signature by its decrypted key",
    );
}

#[test]
fn rsign_keys_parse_and_rsign_accepts_our_signatures() {
    let Some(rsign) = rsign() else { return };
    let dir = TempDir::new();
    dir.write("art.tgz", ARTIFACT);

    // rsign's -W still encrypts, with an empty password (N = 2^15).
    assert_ok(
        &run(
            &rsign,
            &dir,
            &["generate", "-W", "-p", "r.pub", "-s", "r.key"],
            "",
        ),
        "rsign generate -W",
    );
    let pub_text = dir.read("r.pub");
    assert!(pub_text.starts_with("untrusted comment: minisign public key: "));
    let pk = PublicKey::parse(&pub_text).unwrap();
    assert_eq!(comment_key_id(&pub_text), u64::from_le_bytes(pk.keynum));
    let key_text = dir.read("r.key");
    assert!(SecretKey::is_encrypted(&key_text));
    assert_eq!(
        SecretKey::parse(&key_text, None).unwrap_err(),
        Error::PasswordRequired
    );
    assert_eq!(
        SecretKey::parse(&key_text, Some(b"x")).unwrap_err(),
        Error::WrongPassword
    );
    let sk = SecretKey::parse(&key_text, Some(b"")).unwrap();
    assert_eq!(sk.public_key(), pk);

    let ours = sk
        .try_sign_prehashed(&prehash(ARTIFACT), TRUSTED, UNTRUSTED)
        .unwrap();
    dir.write("art.tgz.minisig", ours.to_file_string());
    let out = run(
        &rsign,
        &dir,
        &["verify", "art.tgz", "-p", "r.pub", "-x", "art.tgz.minisig"],
        "",
    );
    assert_ok(&out, "rsign verify of our signature");
    dir.write("bad.tgz", b"other");
    assert!(!run(
        &rsign,
        &dir,
        &["verify", "bad.tgz", "-p", "r.pub", "-x", "art.tgz.minisig"],
        ""
    )
    .status
    .success());

    // rsign's own signature verifies with ours. (rsign2 signs with added
    // randomness, so unlike minisign its bytes differ from ours.)
    let out = run(
        &rsign,
        &dir,
        &[
            "sign",
            "-W",
            "-s",
            "r.key",
            "-x",
            "theirs.minisig",
            "-t",
            TRUSTED,
            "-c",
            UNTRUSTED,
            "art.tgz",
        ],
        "",
    );
    assert_ok(&out, "rsign sign -W");
    let theirs = SignatureBox::parse(&dir.read("theirs.minisig")).unwrap();
    theirs.verify_prehashed(&pk, &prehash(ARTIFACT)).unwrap();
    assert_eq!(
        (
            &theirs.trusted_comment,
            &theirs.untrusted_comment,
            theirs.keynum
        ),
        (&ours.trusted_comment, &ours.untrusted_comment, ours.keynum)
    );

    // --unencrypted writes kdf_alg 0x0000.
    assert_ok(
        &run(
            &rsign,
            &dir,
            &["generate", "--unencrypted", "-p", "u.pub", "-s", "u.key"],
            "",
        ),
        "rsign generate --unencrypted",
    );
    let key_text = dir.read("u.key");
    assert!(!SecretKey::is_encrypted(&key_text));
    let sk = SecretKey::parse(&key_text, None).unwrap();
    assert_eq!(
        sk.public_key(),
        PublicKey::parse(&dir.read("u.pub")).unwrap()
    );

    // A key pair written by us works with rsign too.
    dir.write("o.pub", sk.public_key().to_file_string());
    let sig = sk.sign_prehashed(&prehash(ARTIFACT), TRUSTED, UNTRUSTED);
    dir.write("o.minisig", sig.to_file_string());
    assert_ok(
        &run(
            &rsign,
            &dir,
            &["verify", "art.tgz", "-p", "o.pub", "-x", "o.minisig"],
            "",
        ),
        "rsign verify with our public key file",
    );
}

#[test]
fn our_keys_work_with_minisign() {
    let Some(minisign) = minisign() else { return };
    let dir = TempDir::new();
    dir.write("art.tgz", ARTIFACT);
    let mut rng = rand::thread_rng();
    let sk = SecretKey::generate(&mut rng);
    let pk = sk.public_key();
    dir.write("o.pub", pk.to_file_string());

    // Encrypted with a cheap cost; minisign reads the password from stdin.
    let text = sk
        .to_file_string_with(Some(b"hunter2"), KdfParams::INTERACTIVE, &mut rng)
        .unwrap();
    dir.write("enc.key", text);
    let args = [
        "-S",
        "-s",
        "enc.key",
        "-m",
        "art.tgz",
        "-x",
        "enc.minisig",
        "-t",
        TRUSTED,
    ];
    assert!(
        !run(&minisign, &dir, &args, "hunter3\n").status.success(),
        "minisign accepted a wrong password"
    );
    assert_ok(
        &run(&minisign, &dir, &args, "hunter2\n"),
        "minisign -S with our encrypted key",
    );
    let sig = SignatureBox::parse(&dir.read("enc.minisig")).unwrap();
    assert_eq!(sig.trusted_comment, TRUSTED);
    sig.verify_prehashed(&pk, &prehash(ARTIFACT)).unwrap();
    assert_ok(
        &run(
            &minisign,
            &dir,
            &["-Vm", "art.tgz", "-p", "o.pub", "-x", "enc.minisig"],
            "",
        ),
        "minisign -V with our public key file",
    );

    // Unencrypted: no password asked.
    dir.write("plain.key", sk.to_file_string(None, &mut rng));
    assert_ok(
        &run(
            &minisign,
            &dir,
            &[
                "-S",
                "-s",
                "plain.key",
                "-m",
                "art.tgz",
                "-x",
                "plain.minisig",
            ],
            "",
        ),
        "minisign -S with our unencrypted key",
    );
    let sig = SignatureBox::parse(&dir.read("plain.minisig")).unwrap();
    sig.verify_prehashed(&pk, &prehash(ARTIFACT)).unwrap();
    // minisign's default trusted comment, pre-hashed since 0.11.
    assert!(
        sig.trusted_comment.ends_with("\tfile:art.tgz\thashed"),
        "{}",
        sig.trusted_comment
    );

    // minisign rebuilds the same public key from our secret key file.
    assert_ok(
        &run(
            &minisign,
            &dir,
            &["-R", "-s", "plain.key", "-p", "rebuilt.pub"],
            "",
        ),
        "minisign -R",
    );
    assert_eq!(PublicKey::parse(&dir.read("rebuilt.pub")).unwrap(), pk);
}
