//! Interoperability with Go's reference code, `golang.org/x/mod/sumdb/note`
//! and `golang.org/x/mod/sumdb/tlog`, through the small program in
//! `tests/go-interop/`: Go opens notes that sealwax signed, sealwax opens a
//! note that Go signed, Go checks sealwax's inclusion and consistency proofs,
//! and Go reads the hash tiles a sealwax log writes, and proves from them.
//!
//! The test builds the Go program offline (GOPROXY=off) in a temporary
//! directory. It is skipped, with a message, only when `go` is not on PATH.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use sealwax_proto::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
use sealwax_proto::merkle::{self, CompactRange, HashReader as _, MemoryHashStore};
use sealwax_proto::note::{NoteSignature, NoteSigner, NoteVerifier};
use sealwax_proto::tile::{tiles_for_size, TileLevel, TILE_HEIGHT, TILE_WIDTH};
use sealwax_proto::Hash;
use serde::Deserialize;
use serde_json::json;

/// More than 2^16 leaves, so the tree has hash tiles at levels 0, 1 and 2,
/// and partial tiles at each (259 full + 1 partial, 1 + 1 partial, 1 partial).
const SIZE: u64 = 65_536 + 777;
const ORIGIN: &str = "example.com/sealwax-interop";

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("sealwax-go-interop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the Go program in `dir`, offline; returns the binary's path.
fn build_go_program(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go-interop");
    for file in ["go.mod", "main.go"] {
        std::fs::copy(src.join(file), dir.join(file)).expect("copy the Go program");
    }
    let bin = dir.join("go-interop");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(dir)
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOWORK", "off")
        .env("GO111MODULE", "on")
        .env("GOCACHE", dir.join("gocache"))
        .env("GOPATH", dir.join("gopath"))
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "go build failed (is golang-golang-x-mod-dev installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn b64(h: &Hash) -> String {
    BASE64.encode(h)
}

fn unb64(s: &str) -> Hash {
    BASE64
        .decode(s)
        .expect("Go sends base64")
        .try_into()
        .expect("32 bytes")
}

/// What the Go program answers; hashes are base64, as Go's tlog.Hash marshals them.
#[derive(Deserialize)]
struct GoAnswer {
    opened: Vec<GoOpened>,
    go_vkey: String,
    go_note: String,
    record_errors: Vec<String>,
    tree_errors: Vec<String>,
    record_proofs: Vec<Vec<String>>,
    tree_proofs: Vec<Vec<String>>,
    tile_tree_hash: String,
    tile_hashes: Vec<String>,
    tiles_read: Vec<String>,
}

#[derive(Deserialize)]
struct GoOpened {
    text: String,
    error: String,
}

#[test]
fn go_reference_implementation_agrees() {
    if Command::new("go").arg("version").output().is_err() {
        println!("SKIPPED go_interop: `go` is not on PATH; install golang-go and golang-golang-x-mod-dev to run it");
        return;
    }
    let tmp = TempDir::new();
    let bin = build_go_program(&tmp.0);

    // A log of SIZE leaves: the writer's view (CompactRange, storing the
    // nodes tiles are made of) and a reference store for proofs.
    let mut range = CompactRange::new();
    let mut store = MemoryHashStore::new();
    let mut tile_nodes: HashMap<(u8, u64), Hash> = HashMap::new();
    for i in 0..SIZE {
        let leaf = merkle::leaf_hash(format!("entry {i}").as_bytes());
        range.append(leaf, |level, index, hash| {
            if level % TILE_HEIGHT == 0 {
                tile_nodes.insert((level, index), *hash);
            }
        });
        store.append(leaf);
    }
    let root = range.root();
    assert_eq!(root, store.root());

    // Hash tiles, at their C2SP paths.
    let mut tiles = BTreeMap::new();
    for t in tiles_for_size(SIZE) {
        let TileLevel::Hashes(level) = t.level else {
            continue;
        };
        let mut data = Vec::new();
        for i in 0..u64::from(t.width) {
            let key = (level * TILE_HEIGHT, t.index * TILE_WIDTH + i);
            data.extend_from_slice(
                tile_nodes
                    .get(&key)
                    .unwrap_or_else(|| panic!("node {key:?} of tile {}", t.path())),
            );
        }
        tiles.insert(t.path(), BASE64.encode(data));
    }

    // Notes: the signed checkpoint, a tampered copy, and a cosigned copy with
    // a witness line Go does not know.
    let log = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).unwrap();
    let cp = Checkpoint::new(ORIGIN, SIZE, root);
    let signed = sign_checkpoint(&cp, &log).unwrap();
    let tampered = signed.replacen(&format!("\n{SIZE}\n"), &format!("\n{}\n", SIZE + 1), 1);
    let witness_line = NoteSignature {
        name: "witness.example/w1".into(),
        key_id: [1, 2, 3, 4],
        signature: vec![5; 72],
    };
    let cosigned = format!("{signed}{witness_line}\n");

    // Proofs made by sealwax: some at SIZE (Go re-derives those from the
    // tiles), some at smaller sizes, and one tampered of each kind.
    let record_at = |index: u64, size: u64| {
        let proof = merkle::prove_inclusion(&store, index, size).unwrap();
        (
            index,
            size,
            merkle::tree_root(&store, size).unwrap(),
            store.read_hash(0, index).unwrap(),
            proof,
        )
    };
    let mut records: Vec<_> = [0, 1, 255, 256, 65_535, 65_536, SIZE - 1]
        .map(|i| record_at(i, SIZE))
        .to_vec();
    records.extend([record_at(0, 1), record_at(5, 7), record_at(1000, 4097)]);
    let mut bad_record = record_at(300, SIZE);
    bad_record.4[3][0] ^= 1;
    let tree_at = |from: u64, to: u64| {
        let proof = merkle::prove_consistency(&store, from, to).unwrap();
        (
            from,
            merkle::tree_root(&store, from).unwrap(),
            to,
            merkle::tree_root(&store, to).unwrap(),
            proof,
        )
    };
    let mut trees: Vec<_> = [1, 255, 256, 257, 65_536, SIZE - 1, SIZE]
        .map(|m| tree_at(m, SIZE))
        .to_vec();
    trees.extend([tree_at(3, 7), tree_at(4096, 4097)]);
    let mut bad_tree = tree_at(1000, SIZE);
    bad_tree.4[0][31] ^= 1;

    // Nodes to read through Go's tile reader: leaves at the tile edges and
    // every complete node from level 1 up.
    let mut want: Vec<(u8, u64)> = (0..300).chain(65_400..SIZE).map(|i| (0, i)).collect();
    for level in 1..=16u8 {
        want.extend((0..SIZE >> level).map(|i| (level, i)));
    }

    let b64s = |v: &[Hash]| v.iter().map(b64).collect::<Vec<_>>();
    let all_records: Vec<_> = records.iter().chain([&bad_record]).collect();
    let all_trees: Vec<_> = trees.iter().chain([&bad_tree]).collect();
    let request = json!({
        "vkey": log.verifier().to_string(),
        "notes": [signed, tampered, cosigned],
        "sign_name": "example.com/go-log",
        "sign_text": Checkpoint::new("example.com/go-log", 3, [9; 32]).to_body(),
        "records": all_records.iter().map(|(index, size, root, leaf, proof)| json!({
            "index": index, "size": size, "root": b64(root), "leaf": b64(leaf), "proof": b64s(proof),
        })).collect::<Vec<_>>(),
        "trees": all_trees.iter().map(|(from, from_root, to, to_root, proof)| json!({
            "old_size": from, "old_root": b64(from_root), "size": to, "root": b64(to_root), "proof": b64s(proof),
        })).collect::<Vec<_>>(),
        "tile_size": SIZE,
        "tile_root": b64(&root),
        "tiles": tiles,
        "want": want.iter().map(|(l, i)| [u64::from(*l), *i]).collect::<Vec<_>>(),
    });

    let mut child = Command::new(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the Go program");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .expect("send the request");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Go program failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let go: GoAnswer = serde_json::from_slice(&out.stdout).expect("the Go program answers JSON");

    // (a) Go opens sealwax's notes, and refuses the tampered one.
    assert_eq!(go.opened.len(), 3);
    assert_eq!(
        (go.opened[0].text.as_str(), go.opened[0].error.as_str()),
        (cp.to_body().as_str(), "")
    );
    assert!(
        go.opened[1].error.contains("invalid signature"),
        "Go must refuse the tampered note: {:?}",
        go.opened[1].error
    );
    assert_eq!(
        (go.opened[2].text.as_str(), go.opened[2].error.as_str()),
        (cp.to_body().as_str(), ""),
        "unknown witness lines are ignored"
    );

    // ... and sealwax opens Go's note with Go's vkey, which round-trips.
    let go_verifier = NoteVerifier::parse(&go.go_vkey).expect("Go's vkey parses");
    assert_eq!(go_verifier.to_string(), go.go_vkey);
    let (go_cp, note) =
        open_checkpoint(&go.go_note, "example.com/go-log", &go_verifier).expect("Go's note opens");
    assert_eq!(go_cp, Checkpoint::new("example.com/go-log", 3, [9; 32]));
    assert_eq!(note.signatures.len(), 1);

    // (b) Go accepts every proof sealwax made, and refuses the tampered ones.
    let (last_record, good_records) = go.record_errors.split_last().unwrap();
    assert_eq!(
        good_records,
        vec![String::new(); records.len()],
        "Go's CheckRecord errors"
    );
    assert!(
        !last_record.is_empty(),
        "Go must refuse the tampered inclusion proof"
    );
    let (last_tree, good_trees) = go.tree_errors.split_last().unwrap();
    assert_eq!(
        good_trees,
        vec![String::new(); trees.len()],
        "Go's CheckTree errors"
    );
    assert!(
        !last_tree.is_empty(),
        "Go must refuse the tampered consistency proof"
    );

    // (c) Go reads the tiles: same root, same nodes, same proofs.
    assert_eq!(unb64(&go.tile_tree_hash), root);
    assert_eq!(go.tile_hashes.len(), want.len());
    for ((level, index), got) in want.iter().zip(&go.tile_hashes) {
        assert_eq!(
            unb64(got),
            store.read_hash(*level, *index).unwrap(),
            "node ({level}, {index}) read by Go from the tiles"
        );
    }
    let at_size = |proofs: Vec<Vec<Hash>>| proofs.into_iter().map(|p| b64s(&p)).collect::<Vec<_>>();
    let want_record_proofs = at_size(
        all_records
            .iter()
            .filter(|r| r.1 == SIZE)
            .map(|r| merkle::prove_inclusion(&store, r.0, SIZE).unwrap())
            .collect(),
    );
    assert_eq!(
        go.record_proofs, want_record_proofs,
        "Go's inclusion proofs from the tiles"
    );
    let want_tree_proofs = at_size(
        all_trees
            .iter()
            .filter(|t| t.2 == SIZE)
            .map(|t| merkle::prove_consistency(&store, t.0, SIZE).unwrap())
            .collect(),
    );
    assert_eq!(
        go.tree_proofs, want_tree_proofs,
        "Go's consistency proofs from the tiles"
    );
    for path in [
        "tile/0/259.p/9",
        "tile/1/001.p/3",
        "tile/2/000.p/1",
        "tile/0/000",
    ] {
        assert!(
            go.tiles_read.iter().any(|p| p == path),
            "Go read {path}: {:?}",
            go.tiles_read
        );
    }
}
