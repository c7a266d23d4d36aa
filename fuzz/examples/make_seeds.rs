//! Writes the committed seed corpus, `fuzz/corpus/<target>/`, from a fixed
//! RNG seed (so it is the same on every run) plus the public test vectors
//! in the repository's `testdata/`.
//!
//! Run from `fuzz/`: `cargo run --example make_seeds`.

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
};
use sealwax_proto::merkle::{prove_inclusion, MemoryHashStore};
use sealwax_proto::minisign::{prehash, KdfParams, SecretKey};
use sealwax_proto::note::{sign_note, CosignatureVerifier, NoteSigner};
use sealwax_proto::proof::TlogProof;
use sealwax_proto::tile::{encode_bundle, TileId, TileLevel};

const ORIGIN: &str = "example.com/log";

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn put(&self, target: &str, name: &str, data: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create corpus dir");
        fs::write(dir.join(name), data).expect("write seed");
    }

    /// Copies a vector file, if the vectors are there.
    fn vector(&self, vectors: &Path, target: &str, file: &str) {
        if let Ok(data) = fs::read(vectors.join(file)) {
            let name = Path::new(file).file_name().expect("file name");
            self.put(target, &name.to_string_lossy(), data);
        }
    }
}

fn main() {
    let fuzz_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = Corpus {
        root: fuzz_dir.join("corpus"),
    };
    let vectors = fuzz_dir.join("../testdata");
    let mut rng = StdRng::seed_from_u64(0x5ea1_3a11);

    // ----- keys -----
    let alice1 = SecretKey::generate(&mut rng);
    let alice2 = SecretKey::generate(&mut rng);
    let bob = SecretKey::generate(&mut rng);

    // ----- entries -----
    let release = Release {
        origin: ORIGIN.into(),
        publisher: "alice".into(),
        package: "left-pad".into(),
        version: "1.2.3+build.4".into(),
        sha256: [0xab; 32],
    };
    let artifact_prehash = prehash(b"left-pad 1.2.3\n");
    let entries: Vec<(&str, Entry)> = vec![
        (
            "registration-claim",
            Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, "alice", &alice1).unwrap()),
        ),
        (
            "registration-chain",
            Entry::KeyRegistration(
                KeyRegistration::chain(ORIGIN, "alice", &alice2, &alice1).unwrap(),
            ),
        ),
        (
            "registration-operator",
            Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "bob", &bob).unwrap()),
        ),
        (
            "revocation-key",
            Entry::KeyRevocation(
                KeyRevocation::by_key(
                    ORIGIN,
                    "alice",
                    alice1.public_key(),
                    RevocationReason::Retired,
                    &alice2,
                )
                .unwrap(),
            ),
        ),
        (
            "revocation-operator",
            Entry::KeyRevocation(
                KeyRevocation::by_operator("bob", bob.public_key(), RevocationReason::Compromised)
                    .unwrap(),
            ),
        ),
        (
            "signature",
            Entry::Signature(SignatureEntry::sign(&alice2, &release, artifact_prehash).unwrap()),
        ),
    ];
    for (name, entry) in &entries {
        entry
            .verify_signatures(ORIGIN)
            .expect("seed entries verify");
        let bytes = entry.to_bytes();
        corpus.put("fuzz_entry", &format!("{name}.bin"), &bytes);
        let body = serde_json::json!({ "entry": B64.encode(&bytes) });
        corpus.put(
            "fuzz_submit_body",
            &format!("{name}.json"),
            body.to_string(),
        );
    }
    corpus.put(
        "fuzz_submit_body",
        "extra-field.json",
        serde_json::json!({ "entry": B64.encode(entries[0].1.to_bytes()), "note": 1 }).to_string(),
    );

    // ----- bundles and tiles -----
    let all: Vec<Vec<u8>> = entries.iter().map(|(_, e)| e.to_bytes()).collect();
    corpus.put(
        "fuzz_bundle",
        "six-entries.bin",
        encode_bundle(all.iter().map(Vec::as_slice)).unwrap(),
    );
    corpus.put(
        "fuzz_bundle",
        "one-entry.bin",
        encode_bundle([all[0].as_slice()]).unwrap(),
    );
    corpus.put(
        "fuzz_bundle",
        "empty-entries.bin",
        encode_bundle([&b""[..], &b"x"[..], &b""[..]]).unwrap(),
    );
    let small: Vec<[u8; 1]> = (0..=255u8).map(|i| [i]).collect();
    corpus.put(
        "fuzz_bundle",
        "full-256.bin",
        encode_bundle(small.iter().map(|e| &e[..])).unwrap(),
    );
    let tiles = [
        TileId {
            level: TileLevel::Hashes(0),
            index: 0,
            width: 256,
        },
        TileId {
            level: TileLevel::Hashes(0),
            index: 1_234_067,
            width: 256,
        },
        TileId {
            level: TileLevel::Hashes(1),
            index: 5,
            width: 17,
        },
        TileId {
            level: TileLevel::Hashes(63),
            index: u64::MAX,
            width: 255,
        },
        TileId {
            level: TileLevel::Entries,
            index: 5,
            width: 7,
        },
        TileId {
            level: TileLevel::Entries,
            index: 1000,
            width: 256,
        },
    ];
    for (i, t) in tiles.iter().enumerate() {
        corpus.put("fuzz_tile_path", &format!("path-{i}.txt"), t.path());
    }

    // ----- notes, checkpoints, proofs -----
    let log = NoteSigner::generate(ORIGIN, &mut rng).unwrap();
    let witness = NoteSigner::generate("witness.example", &mut rng).unwrap();
    let cosigner = CosignatureVerifier::new(
        "witness.example",
        witness.verifier().public_key().to_owned(),
    )
    .unwrap();
    corpus.put("fuzz_vkey", "log.vkey", log.verifier().to_string());
    corpus.put("fuzz_vkey", "cosigner.vkey", cosigner.to_string());
    corpus.vector(&vectors, "fuzz_vkey", "signed-note/example.vkey");
    if let Ok(vkey) = fs::read_to_string(vectors.join("signed-note/example.vkey")) {
        corpus.put("fuzz_vkey", "example-trimmed.vkey", vkey.trim_end());
    }
    corpus.vector(&vectors, "fuzz_note", "signed-note/example.note");
    corpus.put(
        "fuzz_note",
        "two-signers.note",
        sign_note("hello\nworld\n", &[&log, &witness]).unwrap(),
    );

    let mut store = MemoryHashStore::new();
    for e in &all {
        store.append(sealwax_proto::merkle::leaf_hash(e));
    }
    let size = store.size();
    let mut cp = Checkpoint::new(ORIGIN, size, store.root());
    corpus.put("fuzz_checkpoint", "body.txt", cp.to_body());
    let signed = sign_checkpoint(&cp, &log).unwrap();
    corpus.put("fuzz_checkpoint", "signed.note", &signed);
    corpus.put("fuzz_note", "checkpoint.note", &signed);
    corpus.put(
        "fuzz_checkpoint",
        "empty-tree.txt",
        Checkpoint::new(ORIGIN, 0, sealwax_proto::merkle::EMPTY_ROOT).to_body(),
    );
    cp.extensions = vec!["ext one".into(), "— two".into()];
    corpus.put("fuzz_checkpoint", "extensions.txt", cp.to_body());

    for (index, extra) in [(3u64, None), (0, Some(b"opaque \x00 data".to_vec()))] {
        let proof = TlogProof {
            extra,
            index,
            inclusion: prove_inclusion(&store, index, size).unwrap(),
            checkpoint: signed.clone(),
        };
        corpus.put(
            "fuzz_tlog_proof",
            &format!("index-{index}.tlog-proof"),
            proof.to_string(),
        );
    }

    // ----- Minisign -----
    for f in [
        "minisign.pub",
        "minisign_hashed.pub",
        "minisign_key_only.pub",
        "signify.pub",
    ] {
        corpus.vector(&vectors, "fuzz_minisign_pubkey", &format!("minisign/{f}"));
    }
    corpus.put(
        "fuzz_minisign_pubkey",
        "generated.pub",
        alice1.public_key().to_file_string(),
    );
    corpus.put(
        "fuzz_minisign_pubkey",
        "crlf.pub",
        alice2.public_key().to_file_string().replace('\n', "\r\n"),
    );
    for f in [
        "hello_world.txt.minisig",
        "hello_world_hashed.txt.minisig",
        "hello_world.txt.signify",
    ] {
        corpus.vector(&vectors, "fuzz_minisign_sig", &format!("minisign/{f}"));
    }
    let sig = alice1.sign_prehashed(
        &artifact_prehash,
        &release.trusted_comment(),
        "from sealwax",
    );
    corpus.put(
        "fuzz_minisign_sig",
        "generated.minisig",
        sig.to_file_string(),
    );
    corpus.put(
        "fuzz_minisign_seckey",
        "unencrypted.key",
        alice1.to_file_string(None, &mut rng),
    );
    corpus.put(
        "fuzz_minisign_seckey",
        "crlf.key",
        bob.to_file_string(None, &mut rng).replace('\n', "\r\n"),
    );
    let encrypted = alice2
        .to_file_string_with(Some(b"pw"), KdfParams::INTERACTIVE, &mut rng)
        .unwrap();
    corpus.put(
        "fuzz_minisign_seckey",
        "encrypted-interactive.key",
        encrypted,
    );

    // ----- trusted comments -----
    corpus.put(
        "fuzz_trusted_comment",
        "release.txt",
        release.trusted_comment(),
    );
    let other = Release {
        origin: "log.example.org/v1".into(),
        publisher: "a".into(),
        package: "0".into(),
        version: "0.0.1-rc.1".into(),
        sha256: [0; 32],
    };
    corpus.put(
        "fuzz_trusted_comment",
        "short-names.txt",
        other.trusted_comment(),
    );

    // ----- monitor config -----
    let a1 = alice1.public_key().to_base64();
    let a2 = alice2.public_key().to_file_string();
    let configs = [
        ("empty.toml", String::new()),
        (
            "keys-and-learn.toml",
            format!(
                "[[watch]]\npublisher = \"alice\"\nkeys = [\"{a1}\", {a2:?}]\npackages = [\"left-pad\"]\n\n\
                 [[watch]]\npublisher = \"bob\"\nlearn = true\n\n[[watch]]\npublisher = \"*\"\n"
            ),
        ),
        (
            "full.toml",
            "[[watch]]\npublisher = \"carol\"\nkeys = []\n\n[verify]\nall_signatures = true\n\n\
             [alerts]\nwebhook = \"https://hooks.example/x?a=1\"\nwebhook_retries = 2\n\
             webhook_timeout_secs = 3\ncommand = \"/usr/local/bin/page-me\"\ncommand_timeout_secs = 7\n\n\
             [health]\nmax_unreachable_secs = 60\nmax_stale_secs = 86400\n"
                .to_string(),
        ),
    ];
    for (name, text) in configs {
        corpus.put("fuzz_monitor_config", name, text);
    }
    println!("seeds written under {}", corpus.root.display());
    report(&corpus.root);
}

/// Prints how many seeds of each target its parser accepts: a seed corpus
/// of only refused inputs would never reach a target's round-trip checks.
fn report(root: &Path) {
    use sealwax_proto::minisign::{PublicKey, SignatureBox};
    use sealwax_proto::note::{Note, NoteVerifier};
    type Accepts = fn(&[u8]) -> bool;
    let accepts: &[(&str, Accepts)] = &[
        ("fuzz_entry", |b| Entry::parse(b).is_ok()),
        ("fuzz_bundle", |b| {
            sealwax_proto::tile::parse_bundle(b).is_ok()
        }),
        ("fuzz_tile_path", |b| {
            TileId::parse_path(&String::from_utf8_lossy(b)).is_ok()
        }),
        ("fuzz_note", |b| {
            Note::parse(&String::from_utf8_lossy(b)).is_ok()
        }),
        ("fuzz_vkey", |b| {
            NoteVerifier::parse(&String::from_utf8_lossy(b)).is_ok()
                || CosignatureVerifier::parse(&String::from_utf8_lossy(b)).is_ok()
        }),
        ("fuzz_checkpoint", |b| {
            let s = String::from_utf8_lossy(b);
            Checkpoint::parse(&s).is_ok()
                || Note::parse(&s).is_ok_and(|n| Checkpoint::parse(&n.text).is_ok())
        }),
        ("fuzz_tlog_proof", |b| {
            TlogProof::parse(&String::from_utf8_lossy(b)).is_ok()
        }),
        ("fuzz_minisign_pubkey", |b| {
            PublicKey::parse(&String::from_utf8_lossy(b)).is_ok()
        }),
        ("fuzz_minisign_sig", |b| {
            SignatureBox::parse(&String::from_utf8_lossy(b)).is_ok()
        }),
        ("fuzz_minisign_seckey", |b| {
            let s = String::from_utf8_lossy(b);
            SecretKey::parse(&s, None).is_ok() || SecretKey::is_encrypted(&s)
        }),
        ("fuzz_trusted_comment", |b| {
            Release::parse_trusted_comment(&String::from_utf8_lossy(b)).is_ok()
        }),
        ("fuzz_monitor_config", |b| {
            sealwax_monitor::config::Config::parse(&String::from_utf8_lossy(b), Path::new("x"))
                .is_ok()
        }),
        ("fuzz_submit_body", |b| {
            serde_json::from_slice::<serde_json::Value>(b)
                .ok()
                .and_then(|v| v["entry"].as_str().and_then(|e| B64.decode(e).ok()))
                .is_some_and(|e| Entry::parse(&e).is_ok())
        }),
    ];
    for (target, accept) in accepts {
        let mut total = 0;
        let mut ok = 0;
        for f in fs::read_dir(root.join(target))
            .expect("corpus dir")
            .flatten()
        {
            total += 1;
            if accept(&fs::read(f.path()).expect("read seed")) {
                ok += 1;
            }
        }
        println!("{target:24} {ok}/{total} seeds accepted");
    }
}
