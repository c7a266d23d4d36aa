//! Fake logs that attack the monitor: a log padded with one repeated entry,
//! and a log whose answers never end.
//!
//! [`PadLog`] serves a validly signed checkpoint of any size (2^40 is
//! fine) whose leaves are all one padding entry (a claim of publisher
//! `pad`) except the last, a claim of publisher `alice` by
//! [`PadLog::rogue`]. Identical subtrees hash alike, so every tile, bundle
//! and the root are computed in O(log n) from the padding subtree hashes;
//! nothing is stored. [`EndlessLog`] answers with a body that does not end.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::entry::{Entry, KeyRegistration};
use sealwax_proto::merkle::{leaf_hash, node_hash, perfect_subtrees, CompactRange};
use sealwax_proto::minisign::{PublicKey, SecretKey};
use sealwax_proto::note::NoteSigner;
use sealwax_proto::tile::{encode_bundle, TileId, TileLevel, TILE_HEIGHT, TILE_WIDTH};
use sealwax_proto::Hash;

/// The origin (and log key name) of the fake logs.
pub const PAD_ORIGIN: &str = "padlog.sealwax.test/log";

/// The tree of a padded log: `size` leaves, all `pad` but the last (`last`).
struct PadTree {
    size: u64,
    pad: Vec<u8>,
    last: Vec<u8>,
    /// `pad_nodes[h]`: the root of a perfect subtree of 2^h padding leaves.
    pad_nodes: Vec<Hash>,
    last_leaf: Hash,
}

impl PadTree {
    fn new(size: u64, pad: Vec<u8>, last: Vec<u8>) -> PadTree {
        let mut pad_nodes = vec![leaf_hash(&pad)];
        for h in 1..64 {
            let below = pad_nodes[h - 1];
            pad_nodes.push(node_hash(&below, &below));
        }
        let last_leaf = leaf_hash(&last);
        PadTree {
            size,
            pad,
            last,
            pad_nodes,
            last_leaf,
        }
    }

    /// Node `(level, index)` of the tree; it must be complete.
    fn node(&self, level: u8, index: u64) -> Hash {
        let end = (u128::from(index) + 1) << level;
        if end < u128::from(self.size) {
            return self.pad_nodes[usize::from(level)];
        }
        // The node ends at the last leaf: padding on its left, then recurse right.
        if level == 0 {
            return self.last_leaf;
        }
        node_hash(
            &self.pad_nodes[usize::from(level) - 1],
            &self.node(level - 1, 2 * index + 1),
        )
    }

    /// The root: the roots of the size's perfect subtrees, folded.
    fn root(&self) -> Hash {
        let hashes = perfect_subtrees(self.size)
            .map(|(start, n)| {
                let level = n.trailing_zeros() as u8;
                self.node(level, start >> level)
            })
            .collect();
        CompactRange::from_hashes(self.size, hashes)
            .expect("one hash per set bit")
            .root()
    }

    fn entry(&self, index: u64) -> &[u8] {
        if index + 1 == self.size {
            &self.last
        } else {
            &self.pad
        }
    }

    /// The body of tile `id`, or `None` if the tree has no such tile.
    fn tile(&self, id: TileId) -> Option<Vec<u8>> {
        let exists =
            TileId::for_size(id.level, id.index, self.size).is_some_and(|t| t.width >= id.width);
        if !exists {
            return None;
        }
        let first = id.index * TILE_WIDTH;
        let positions = first..first + u64::from(id.width);
        match id.level {
            TileLevel::Hashes(l) => Some(
                positions
                    .flat_map(|j| self.node(l * TILE_HEIGHT, j))
                    .collect(),
            ),
            TileLevel::Entries => {
                Some(encode_bundle(positions.map(|i| self.entry(i))).expect("small entries"))
            }
        }
    }
}

struct Shared {
    tree: PadTree,
    checkpoint: String,
}

async fn answer(State(s): State<Arc<Shared>>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path == "checkpoint" {
        return s.checkpoint.clone().into_response();
    }
    let tile = TileId::parse_path(path).ok().and_then(|id| s.tree.tile(id));
    match tile {
        Some(body) => body.into_response(),
        None => (StatusCode::NOT_FOUND, "no such tile").into_response(),
    }
}

/// A fake log of `size` entries, all one padding entry but the last: a
/// rogue key registration for `alice`. Stopped on drop.
pub struct PadLog {
    /// Its base URL.
    pub url: String,
    /// Its verifier key, as `sealwax-log key` prints one.
    pub vkey: String,
    /// The signed checkpoint it serves.
    pub checkpoint: String,
    /// The key the last entry registers for `alice`.
    pub rogue: PublicKey,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PadLog {
    /// Starts a padded log of `size` (at least 2) entries on loopback.
    pub fn start(size: u64) -> PadLog {
        assert!(size >= 2, "a padded log has padding and a rogue entry");
        let mut rng = rand::rngs::OsRng;
        let signer = NoteSigner::generate(PAD_ORIGIN, &mut rng).expect("a valid key name");
        let pad_key = SecretKey::generate(&mut rng);
        let rogue_key = SecretKey::generate(&mut rng);
        let claim = |publisher: &str, key: &SecretKey| {
            Entry::KeyRegistration(
                KeyRegistration::claim(PAD_ORIGIN, publisher, key).expect("a claim"),
            )
            .to_bytes()
        };
        let tree = PadTree::new(size, claim("pad", &pad_key), claim("alice", &rogue_key));
        let cp = Checkpoint::new(PAD_ORIGIN, size, tree.root());
        let checkpoint = sign_checkpoint(&cp, &signer).expect("a checkpoint signs");
        let shared = Arc::new(Shared {
            tree,
            checkpoint: checkpoint.clone(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake log");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the fake log");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new().fallback(answer).with_state(shared);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("the fake log serves");
            });
        });
        PadLog {
            url,
            vkey: signer.verifier().to_string(),
            checkpoint,
            rogue: rogue_key.public_key(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for PadLog {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A log whose answers never end: every request gets `200 OK` and a body
/// streamed until the client hangs up, except `/checkpoint` when one is
/// given. Counts the body bytes it managed to send. Stops on drop.
pub struct EndlessLog {
    /// Its base URL.
    pub url: String,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The most an [`EndlessLog`] sends on one connection (so a reader with no
/// limit fails the test instead of exhausting the machine's memory).
pub const ENDLESS_CAP: u64 = 256 << 20;

impl EndlessLog {
    /// Starts it; `checkpoint` (if any) is served as is at `/checkpoint`.
    pub fn start(checkpoint: Option<String>) -> EndlessLog {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the endless log");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (sent2, stop2) = (Arc::clone(&sent), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let sent = Arc::clone(&sent2);
                        let checkpoint = checkpoint.clone();
                        std::thread::spawn(move || endless_answer(conn, checkpoint, &sent));
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        });
        EndlessLog {
            url,
            sent,
            stop,
            thread: Some(thread),
        }
    }

    /// Body bytes sent so far, over all connections.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

fn endless_answer(conn: std::net::TcpStream, checkpoint: Option<String>, sent: &AtomicU64) {
    conn.set_nonblocking(false).expect("blocking");
    let mut reader = BufReader::new(conn.try_clone().expect("clone the stream"));
    let mut conn = conn;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
        }
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        if let (Some(cp), "/checkpoint") = (&checkpoint, path) {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", cp.len());
            if conn.write_all(head.as_bytes()).is_err() || conn.write_all(cp.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        if conn
            .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .is_err()
        {
            return;
        }
        let chunk = [b'7'; 64 * 1024];
        let mut mine = 0u64;
        while mine < ENDLESS_CAP {
            if conn.write_all(&chunk).is_err() {
                return;
            }
            mine += chunk.len() as u64;
            sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
        return;
    }
}

impl Drop for EndlessLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
