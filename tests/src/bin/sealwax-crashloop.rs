//! `sealwax-crashloop`: kills a real `sealwax-log` with SIGKILL under load,
//! over and over, and checks after every restart that nothing it
//! acknowledged was lost and nothing it did not acknowledge half-exists.
//!
//! Each cycle:
//!
//! 1. N threads submit fresh signature entries with the client library's
//!    HTTP code, and one thread polls `GET /checkpoint`;
//! 2. after a random delay the server gets SIGKILL, mid-load;
//! 3. the server is started again on the same data directory;
//! 4. everything is checked with the client's and `sealwax-proto`'s code,
//!    never the server's:
//!    - the newest checkpoint's signature (the key `sealwax-log key` prints),
//!      and the client's checkpoint tracker (no rollback since the last
//!      cycle, consistency proof verified);
//!    - every entry bundle up to the tree size (exactly tree-size entries,
//!      nothing past it), whose leaf hashes must rebuild the signed root;
//!      every hash tile, byte for byte, and the root read through the tiles;
//!      the newest checkpoint's `sealwax-directory` root, against the key
//!      directory proto's `LeafFold` and `Directory` give for those entries;
//!    - every acknowledged entry: its bytes at its index, and an inclusion
//!      proof against the newest checkpoint; a sample also through
//!      `GET /v1/entries/<i>` and the log's inclusion proof;
//!    - every checkpoint ever served: the rebuilt tree has its root at its
//!      size (so one size never had two roots), and each new one is proven
//!      consistent with the newest by a consistency proof from the log,
//!      verified by the client's tracker;
//!    - every submission sent without an answer is either wholly in the log
//!      (in the bundles, found by its SHA-256, at the same index) or wholly
//!      absent (neither), and an absent one never shows up later;
//!    - the log accepts a new entry (with a verified proof).
//!
//! ```text
//! sealwax-crashloop --cycles 50 --json
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sealwax_client::api::{decode_entry, LogClient};
use sealwax_client::checkpoints::{CheckpointTracker, Freshness};
use sealwax_client::home::{Home, LogIdentity};
use sealwax_client::ClientError;
use sealwax_monitor::source::LogSource;
use sealwax_monitor::MonitorError;
use sealwax_proto::checkpoint::{open_checkpoint, Checkpoint};
use sealwax_proto::directory::{Directory, LeafFold};
use sealwax_proto::entry::{Entry, KeyRegistration, Release, SignatureEntry};
use sealwax_proto::merkle::{self, leaf_hash, MemoryHashStore};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::note::NoteVerifier;
use sealwax_proto::tile::{
    hash_tile_data, parse_bundle_exact, tiles_for_size, TileHashReader, TileId, TileLevel,
    TileReader,
};
use sealwax_proto::wire::{EntryAnswer, SubmitAnswer};
use sealwax_proto::Hash;
use sealwax_tests::{LogServer, ServerOptions};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Crash-loop harness for `sealwax-log`: SIGKILL under concurrent load,
/// restart, and an independent check of everything the log ever answered.
#[derive(Debug, Parser)]
#[command(name = "sealwax-crashloop", version)]
struct Args {
    /// Kill-and-restart cycles to run.
    #[arg(long, default_value_t = 50)]
    cycles: u32,
    /// Concurrent submitters during each cycle's load.
    #[arg(long, default_value_t = 24)]
    concurrency: usize,
    /// Publishers the signatures are spread over (registered once, at the start).
    #[arg(long, default_value_t = 4)]
    publishers: usize,
    /// Shortest time from the start of the load to the SIGKILL, in milliseconds.
    #[arg(long, default_value_t = 50)]
    min_kill_ms: u64,
    /// Longest time from the start of the load to the SIGKILL, in milliseconds.
    #[arg(long, default_value_t = 600)]
    max_kill_ms: u64,
    /// Safety limit: no new cycle starts after this many seconds (the run then
    /// ends with what it has checked, and says so).
    #[arg(long, default_value_t = 900)]
    max_seconds: u64,
    /// Acknowledged entries re-read each cycle through `GET /v1/entries/<i>`
    /// and the log's own inclusion proof (all of them are checked in the bundles).
    #[arg(long, default_value_t = 32)]
    sample: usize,
    /// Seed of the kill delays and samples (random when omitted; printed in the summary).
    #[arg(long)]
    seed: Option<u64>,
    /// The `sealwax-log` binary [default: `sealwax-log` next to this program].
    #[arg(long, value_name = "FILE")]
    log_bin: Option<PathBuf>,
    /// Directory for the log's data, the server's log and the client state (created; must
    /// not hold a log yet). Default: a temporary directory, removed after a clean run and
    /// kept after a failed one.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Most submissions one submitter makes in one cycle (a bound, never reached in practice).
const MAX_PER_SUBMITTER: u32 = 100_000;

/// One submitted entry.
#[derive(Debug, Clone)]
struct Submission {
    bytes: Vec<u8>,
    leaf: Hash,
    sha256: [u8; 32],
    /// e.g. "cycle 3 submitter 7 #12", for messages.
    label: String,
}

/// What the log answered to a submission.
#[derive(Debug)]
enum Outcome {
    /// 200 with an index, a checkpoint and a proof.
    Acked(SubmitAnswer),
    /// A 4xx: the log refused the entry, so it must never be logged.
    Refused(String),
    /// No answer (connection cut by the kill, 5xx, a cut-off body).
    NoAnswer(String),
}

/// An entry that must stay in the log forever at `index`.
#[derive(Debug)]
struct Durable {
    sub: Submission,
    index: u64,
    /// Whether the log acknowledged it (else it was found after a crash).
    acked: bool,
}

/// A submission without a definite answer, to be classified after the restart.
#[derive(Debug)]
struct Pending {
    sub: Submission,
    refused: bool,
    reason: String,
}

/// The summary printed at the end.
#[derive(Debug, Default, Serialize)]
struct Summary {
    /// Whether every check passed.
    ok: bool,
    /// Cycles asked for.
    cycles_requested: u32,
    /// Kill-restart-check cycles completed.
    cycles_run: u32,
    /// Whether --max-seconds stopped the run before --cycles.
    time_limit_reached: bool,
    /// Entries the log acknowledged (claims, load and probes).
    entries_acked: u64,
    /// Sent but not acknowledged, and found wholly in the log after the restart.
    unacked_present: u64,
    /// Sent but not acknowledged, and wholly absent after the restart.
    unacked_absent: u64,
    /// Valid entries refused with a 4xx (each is a violation; they must also stay absent).
    refused: u64,
    /// Acknowledged entries not found at their index after a restart (must be 0).
    entries_lost: u64,
    /// Distinct signed checkpoints the log served (each re-checked every cycle).
    checkpoints_checked: u64,
    /// Consistency proofs fetched from the log and verified.
    consistency_proofs_verified: u64,
    /// Tree size at the end.
    final_tree_size: u64,
    /// Milliseconds from each kill to the restarted server answering /healthz: mean and max.
    restart_ms_mean: f64,
    /// See `restart_ms_mean`.
    restart_ms_max: f64,
    /// Seed of the kill delays and samples.
    seed: u64,
    /// Wall time of the whole run, in seconds.
    wall_seconds: f64,
    /// Every violation found, precisely.
    violations: Vec<String>,
    /// Where the data was kept (after a failure or with --work-dir).
    work_dir: Option<String>,
}

/// The log's hash tiles and entry bundles, read through the monitor's
/// reader ([`LogSource`]: bounded bodies, retries, a partial tile that is
/// gone cut from the full one), driven on a runtime of its own.
struct Tiles {
    source: LogSource,
    runtime: tokio::runtime::Runtime,
}

impl Tiles {
    fn new(base: &str) -> anyhow::Result<Tiles> {
        Ok(Tiles {
            source: LogSource::new(base)?,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start a runtime for the tile reader")?,
        })
    }

    /// Hash tile or entry bundle `id`, which the log must serve.
    fn tile(&self, id: TileId) -> Result<Vec<u8>, MonitorError> {
        self.runtime.block_on(self.source.tile(id))
    }
}

/// Hash tiles read over HTTP, for proto's [`TileHashReader`].
impl TileReader for Tiles {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> sealwax_proto::Result<Vec<u8>> {
        let id = TileId {
            level: TileLevel::Hashes(level),
            index,
            width,
        };
        self.tile(id)
            .map_err(|_| sealwax_proto::Error::BadTile("the log did not serve the tile"))
    }
}

/// The HTTP status of a plain `GET <log>/<path>`, for what must not exist.
fn status_of(base: &str, path: &str) -> anyhow::Result<u16> {
    let url = format!("{base}/{path}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build an HTTP client")?;
    let r = http
        .get(&url)
        .send()
        .with_context(|| format!("GET {url} failed"))?;
    Ok(r.status().as_u16())
}

/// Builds a fresh, signed signature entry of `publisher`.
fn signature_entry(
    origin: &str,
    publisher: &(String, SecretKey),
    version: &str,
    label: String,
) -> anyhow::Result<Submission> {
    let artifact = format!("sealwax-crashloop artifact {label} {version}");
    let release = Release {
        origin: origin.to_string(),
        publisher: publisher.0.clone(),
        package: "crashloop".into(),
        version: version.to_string(),
        sha256: Sha256::digest(artifact.as_bytes()).into(),
    };
    let entry = Entry::Signature(SignatureEntry::sign(
        &publisher.1,
        &release,
        prehash(artifact.as_bytes()),
    )?);
    let bytes = entry.to_bytes();
    Ok(Submission {
        leaf: leaf_hash(&bytes),
        bytes,
        sha256: release.sha256,
        label,
    })
}

/// Submits one entry and sorts the answer.
fn submit(api: &LogClient, sub: &Submission) -> Outcome {
    match api.submit("signature", &sub.bytes, None) {
        Ok(a) => Outcome::Acked(a),
        Err(ClientError::LogRefused { message, .. }) => Outcome::Refused(message),
        Err(e) => Outcome::NoAnswer(e.to_string()),
    }
}

/// What the load threads share.
struct Load {
    api: LogClient,
    origin: String,
    run: String,
    cycle: u32,
    publishers: Arc<Vec<(String, SecretKey)>>,
    stop: AtomicBool,
}

/// One submitter: fresh entries, one at a time, until stopped or the log is gone.
fn submitter(load: &Load, id: usize) -> anyhow::Result<Vec<(Submission, Outcome)>> {
    let mut out = Vec::new();
    for n in 0..MAX_PER_SUBMITTER {
        if load.stop.load(Ordering::SeqCst) {
            break;
        }
        let publisher = &load.publishers[(id + n as usize) % load.publishers.len()];
        let sub = signature_entry(
            &load.origin,
            publisher,
            &format!("{}.{}.{id}.{n}", load.run, load.cycle),
            format!("cycle {} submitter {id} #{n}", load.cycle),
        )?;
        let outcome = submit(&load.api, &sub);
        // After a cut connection the server is gone (or going): stop.
        let gone = matches!(outcome, Outcome::NoAnswer(_));
        out.push((sub, outcome));
        if gone {
            break;
        }
    }
    Ok(out)
}

/// The whole run's memory: everything the log ever said.
struct State {
    origin: String,
    verifier: NoteVerifier,
    vkey: String,
    home: Home,
    identity: LogIdentity,
    publishers: Arc<Vec<(String, SecretKey)>>,
    run: String,
    rng: StdRng,
    sample: usize,
    /// Entries that must be at their index forever.
    durable: Vec<Durable>,
    /// How many of `durable` (from the start) were proven included at some newest checkpoint.
    proven: usize,
    /// Leaf hashes of `durable`, to find an index from a leaf.
    durable_leaves: HashMap<Hash, u64>,
    /// Unanswered (or refused) submissions found absent: they must never appear.
    absent: Vec<Submission>,
    /// Unanswered submissions of the current cycle, classified after the restart.
    pending: Vec<Pending>,
    /// Every checkpoint served: size and root.
    served: BTreeMap<u64, Hash>,
    /// Served checkpoints not yet proven consistent by a proof from the log.
    unproven: Vec<String>,
    /// Acknowledged leaves found missing or changed (each counted once).
    lost: HashSet<Hash>,
    summary: Summary,
}

impl State {
    fn violation(&mut self, msg: String) {
        eprintln!("VIOLATION: {msg}");
        self.summary.violations.push(msg);
    }

    /// Records violations of one kind: the first few in full, then how many more.
    fn violations(&mut self, msgs: Vec<String>) {
        const SHOWN: usize = 5;
        let more = msgs.len().saturating_sub(SHOWN);
        for msg in msgs.into_iter().take(SHOWN) {
            self.violation(msg);
        }
        if more > 0 {
            self.violation(format!("... and {more} more violations like the one above"));
        }
    }

    /// Opens a checkpoint with the log key and records it; `None` (and a
    /// violation) if it does not verify or contradicts an earlier one.
    fn record_checkpoint(&mut self, text: &str, source: &str) -> Option<Checkpoint> {
        let cp = match open_checkpoint(text, &self.origin, &self.verifier) {
            Ok((cp, _)) => cp,
            Err(e) => {
                self.violation(format!(
                    "{source}: a checkpoint that does not verify with the log key ({e}):\n{text}"
                ));
                return None;
            }
        };
        match self.served.get(&cp.size) {
            Some(root) if *root != cp.root => {
                let msg = format!(
                    "{source}: the log signed two different checkpoints for size {}: roots {} and {}",
                    cp.size,
                    hex::encode(root),
                    hex::encode(cp.root)
                );
                self.violation(msg);
            }
            Some(_) => {}
            None => {
                self.served.insert(cp.size, cp.root);
                self.unproven.push(text.to_string());
            }
        }
        Some(cp)
    }

    /// Checks an acknowledgement on receipt and makes the entry durable.
    fn record_ack(&mut self, sub: Submission, a: &SubmitAnswer) {
        let source = format!("the answer to {}", sub.label);
        if a.leaf_hash != sub.leaf {
            self.violation(format!(
                "{source}: leaf hash {} instead of {}",
                hex::encode(a.leaf_hash),
                hex::encode(sub.leaf)
            ));
        }
        if a.duplicate {
            self.violation(format!(
                "{source}: a fresh entry was answered as a duplicate of index {}",
                a.index
            ));
        }
        if let Some(cp) = self.record_checkpoint(&a.checkpoint, &source) {
            if let Err(e) =
                merkle::verify_inclusion(&sub.leaf, a.index, cp.size, &a.inclusion_proof, &cp.root)
            {
                self.violation(format!(
                    "{source}: the inclusion proof of index {} does not verify against its checkpoint of size {}: {e}",
                    a.index, cp.size
                ));
            }
        }
        if let Some(other) = self.durable_leaves.get(&sub.leaf) {
            self.violation(format!(
                "{source}: index {} for an entry already durable at {other}",
                a.index
            ));
            return;
        }
        self.summary.entries_acked += 1;
        self.durable_leaves.insert(sub.leaf, a.index);
        self.durable.push(Durable {
            sub,
            index: a.index,
            acked: true,
        });
    }

    /// Sorts what the load threads saw.
    fn record_outcome(&mut self, sub: Submission, outcome: Outcome) {
        match outcome {
            Outcome::Acked(a) => self.record_ack(sub, &a),
            Outcome::Refused(reason) => {
                // A fresh entry of a registered publisher is valid: a refusal
                // is a bug (or a write limit the harness should have lifted).
                self.violation(format!("the log refused {}: {reason}", sub.label));
                self.summary.refused += 1;
                self.pending.push(Pending {
                    sub,
                    refused: true,
                    reason,
                });
            }
            Outcome::NoAnswer(reason) => self.pending.push(Pending {
                sub,
                refused: false,
                reason,
            }),
        }
    }

    /// Registers the publishers (once, before the first cycle).
    fn register_publishers(&mut self, api: &LogClient) -> anyhow::Result<()> {
        for (i, (name, key)) in self.publishers.clone().iter().enumerate() {
            let entry = Entry::KeyRegistration(KeyRegistration::claim(&self.origin, name, key)?);
            let bytes = entry.to_bytes();
            let sub = Submission {
                leaf: leaf_hash(&bytes),
                bytes,
                sha256: [0; 32],
                label: format!("the claim of publisher {i}"),
            };
            let a = api
                .submit("key registration", &sub.bytes, None)
                .with_context(|| format!("claiming publisher {name} failed"))?;
            self.record_ack(sub, &a);
        }
        Ok(())
    }

    /// Everything checked after a restart (see the module documentation).
    fn verify(&mut self, api: &LogClient, cycle: u32) -> anyhow::Result<()> {
        let at = format!("after restart {cycle}");
        let tiles = Tiles::new(api.url())?;

        // The newest checkpoint, through the client's tracker: signed by the
        // log key, no smaller than last cycle's, consistent with it.
        let text = api
            .checkpoint()
            .with_context(|| format!("{at}: GET /checkpoint failed"))?;
        let Some(newest) = self.record_checkpoint(&text, &format!("{at}: GET /checkpoint")) else {
            bail!("{at}: no verifiable checkpoint, nothing more to check");
        };
        let mut tracker = CheckpointTracker::load(&self.home, &self.identity)?;
        if let Err(e) = tracker.accept(api, &text, Freshness::Current) {
            self.violation(format!(
                "{at}: the client refuses the log's newest checkpoint (size {}): {e}",
                newest.size
            ));
        } else if tracker
            .remembered()
            .is_some_and(|r| r.size > 0 && r.size < newest.size)
        {
            self.summary.consistency_proofs_verified += 1;
        }
        let size = newest.size;
        self.summary.final_tree_size = size;
        self.summary.checkpoints_checked = self.served.len() as u64;

        // All entries, from the bundles: exactly `size` of them, nothing past.
        let mut entries: Vec<Vec<u8>> = Vec::with_capacity(size as usize);
        for id in (0..size.div_ceil(256))
            .filter_map(|index| TileId::for_size(TileLevel::Entries, index, size))
        {
            let data = tiles.tile(id).context(at.clone())?;
            match parse_bundle_exact(&data, id.width) {
                Ok(list) => entries.extend(list.into_iter().map(<[u8]>::to_vec)),
                Err(e) => {
                    self.violation(format!("{at}: entry bundle /{}: {e}", id.path()));
                    return Ok(());
                }
            }
        }
        if entries.len() as u64 != size {
            self.violation(format!(
                "{at}: the bundles hold {} entries for a tree of size {size}",
                entries.len()
            ));
            return Ok(());
        }
        let past = TileId {
            level: TileLevel::Entries,
            index: size / 256,
            width: (size % 256) as u16 + 1,
        };
        match status_of(api.url(), &past.path())? {
            404 => {}
            200..=299 => self.violation(format!(
                "{at}: the log serves /{} although the tree has only {size} entries",
                past.path()
            )),
            s => self.violation(format!(
                "{at}: /{} should be 404 (past the tree), it answered {s}",
                past.path()
            )),
        }

        // The leaf hashes rebuild the signed root.
        let mut tree = MemoryHashStore::new();
        let mut at_index: HashMap<Hash, u64> = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let leaf = leaf_hash(e);
            tree.append(leaf);
            if let Some(first) = at_index.insert(leaf, i as u64) {
                self.violation(format!(
                    "{at}: the same entry is logged twice, at {first} and {i}"
                ));
            }
        }
        if tree.root() != newest.root {
            self.violation(format!(
                "{at}: the {size} entries of the bundles hash to root {}, the checkpoint says {}",
                hex::encode(tree.root()),
                hex::encode(newest.root)
            ));
            return Ok(());
        }

        // The key directory of the entries is the one the checkpoint signs.
        if let Err(msg) = check_directory(&entries, &newest) {
            self.violation(format!("{at}: {msg}"));
        }

        // Hash tiles: byte for byte what proto computes, and they give the root.
        for id in tiles_for_size(size) {
            let TileLevel::Hashes(level) = id.level else {
                continue;
            };
            let served = tiles.tile(id).context(at.clone())?;
            if served != hash_tile_data(&tree, level, id.index, id.width)? {
                self.violation(format!(
                    "{at}: hash tile /{} differs from the tree of the bundles",
                    id.path()
                ));
            }
        }
        match merkle::tree_root(&TileHashReader::new(&tiles, size), size) {
            Ok(root) if root == newest.root => {}
            Ok(root) => self.violation(format!(
                "{at}: the hash tiles give root {}, the checkpoint says {}",
                hex::encode(root),
                hex::encode(newest.root)
            )),
            Err(e) => self.violation(format!("{at}: reading the root from the tiles: {e}")),
        }

        // Every durable entry is at its index. Those new since the last check
        // also get an inclusion proof against the newest checkpoint (for the
        // older ones, the rebuilt root and their bytes at their index imply it,
        // and a sample is proven through the log's API below).
        let mut problems = Vec::new();
        for (n, d) in self.durable.iter().enumerate() {
            let ok = d.index < size && entries[d.index as usize] == d.sub.bytes;
            if !ok {
                let what = if d.acked {
                    "acknowledged"
                } else {
                    "found after an earlier crash"
                };
                problems.push((
                    d.sub.leaf,
                    d.acked,
                    format!(
                        "{at}: ENTRY LOST: {} ({what}) at index {} is {} (tree size {size})",
                        d.sub.label,
                        d.index,
                        if d.index >= size {
                            "beyond the tree"
                        } else {
                            "a different entry"
                        }
                    ),
                ));
                continue;
            }
            if n < self.proven {
                continue;
            }
            let proof = merkle::prove_inclusion(&tree, d.index, size)?;
            if let Err(e) =
                merkle::verify_inclusion(&d.sub.leaf, d.index, size, &proof, &newest.root)
            {
                problems.push((
                    d.sub.leaf,
                    d.acked,
                    format!(
                        "{at}: {} does not verify at index {}: {e}",
                        d.sub.label, d.index
                    ),
                ));
            }
        }
        self.proven = self.durable.len();
        let mut msgs = Vec::with_capacity(problems.len());
        for (leaf, acked, msg) in problems {
            if acked && self.lost.insert(leaf) {
                self.summary.entries_lost += 1;
            }
            msgs.push(msg);
        }
        self.violations(msgs);

        // A sample also through the log's own read API, checked by proto.
        let mut sample: Vec<usize> = (0..self.sample.min(self.durable.len()))
            .map(|_| self.rng.gen_range(0..self.durable.len()))
            .collect();
        sample.sort_unstable();
        sample.dedup();
        for i in sample {
            let (index, leaf, bytes, label) = {
                let d = &self.durable[i];
                (
                    d.index,
                    d.sub.leaf,
                    d.sub.bytes.clone(),
                    d.sub.label.clone(),
                )
            };
            if index >= size {
                continue;
            }
            self.check_entry_endpoint(api, &at, index, &bytes, &label)?;
            let p = api.inclusion_proof(index, size)?;
            let proof = &p.proof;
            if p.index != index || p.tree_size != size {
                self.violation(format!(
                    "{at}: asked for the proof of {index} at {size}, got {} at {}",
                    p.index, p.tree_size
                ));
            } else if let Err(e) = merkle::verify_inclusion(&leaf, index, size, proof, &newest.root)
            {
                self.violation(format!(
                    "{at}: the log's inclusion proof for {label} at {index} does not verify: {e}"
                ));
            }
        }

        // Every checkpoint ever served has its root in the rebuilt tree; new
        // ones are proven consistent with the newest by the client's tracker.
        let mut bad = Vec::new();
        for (&cp_size, root) in &self.served {
            if cp_size > size {
                bad.push(format!(
                    "{at}: the log served a checkpoint of size {cp_size} but now has only {size} entries: it rolled back"
                ));
            } else if merkle::tree_root(&tree, cp_size)? != *root {
                bad.push(format!(
                    "{at}: the checkpoint it served for size {cp_size} (root {}) is not a prefix of the log now",
                    hex::encode(root)
                ));
            }
        }
        self.violations(bad);
        self.summary.checkpoints_checked = self.served.len() as u64;
        for old in std::mem::take(&mut self.unproven) {
            let Ok((cp, _)) = open_checkpoint(&old, &self.origin, &self.verifier) else {
                continue;
            };
            if cp.size > size {
                continue; // already reported as a rollback
            }
            match tracker.accept(api, &old, Freshness::Historical) {
                Ok(_) => {
                    if cp.size > 0 && cp.size < size {
                        self.summary.consistency_proofs_verified += 1;
                    }
                }
                Err(e) => self.violation(format!(
                    "{at}: the checkpoint of size {} it served before is not consistent with the newest ({size}): {e}",
                    cp.size
                )),
            }
        }

        // Submissions without an answer: wholly in, or wholly out.
        for p in std::mem::take(&mut self.pending) {
            let label = &p.sub.label;
            let in_bundles = at_index.get(&p.sub.leaf).copied();
            let found: Vec<u64> = api
                .signatures_by_sha256(&p.sub.sha256)?
                .into_iter()
                .filter(|r| decode_entry(api.url(), &r.entry).is_ok_and(|b| b == p.sub.bytes))
                .map(|r| r.index)
                .collect();
            match (in_bundles, found.as_slice()) {
                (None, []) => {
                    self.summary.unacked_absent += u64::from(!p.refused);
                    self.absent.push(p.sub);
                }
                (Some(index), [f]) if *f == index => {
                    if p.refused {
                        self.violation(format!(
                            "{at}: {label} was refused ({}) yet is logged at {index}",
                            p.reason
                        ));
                        continue;
                    }
                    self.check_entry_endpoint(api, &at, index, &p.sub.bytes, label)?;
                    let proof = merkle::prove_inclusion(&tree, index, size)?;
                    if let Err(e) =
                        merkle::verify_inclusion(&p.sub.leaf, index, size, &proof, &newest.root)
                    {
                        self.violation(format!("{at}: {label} at {index} does not verify: {e}"));
                    }
                    self.summary.unacked_present += 1;
                    self.durable_leaves.insert(p.sub.leaf, index);
                    self.durable.push(Durable {
                        sub: p.sub,
                        index,
                        acked: false,
                    });
                }
                (b, f) => self.violation(format!(
                    "{at}: {label}, sent without an answer ({}), half exists: in the bundles at {b:?}, found by its SHA-256 at {f:?}",
                    p.reason
                )),
            }
        }
        // And the absent ones stay absent.
        let mut zombies = Vec::new();
        for s in &self.absent {
            if let Some(i) = at_index.get(&s.leaf) {
                zombies.push(format!(
                    "{at}: {} was absent after its crash but is now logged at {i}",
                    s.label
                ));
            }
        }
        self.violations(zombies);

        // The log still takes entries.
        let publishers = self.publishers.clone();
        let probe = signature_entry(
            &self.origin,
            &publishers[cycle as usize % publishers.len()],
            &format!("{}.probe.{cycle}", self.run),
            format!("the probe after restart {cycle}"),
        )?;
        match submit(api, &probe) {
            Outcome::Acked(a) => {
                if a.index < size {
                    self.violation(format!(
                        "{at}: the probe got index {} inside the old tree of size {size}",
                        a.index
                    ));
                }
                self.record_ack(probe, &a);
                // The client's tracker moves on to the probe's checkpoint, so
                // the next cycle's check of "no rollback" starts from there.
                match tracker.accept(api, &a.checkpoint, Freshness::Current) {
                    Ok(cp) => {
                        self.unproven.retain(|t| *t != a.checkpoint);
                        if size > 0 && cp.size > size {
                            self.summary.consistency_proofs_verified += 1;
                        }
                    }
                    Err(e) => self.violation(format!(
                        "{at}: the client refuses the checkpoint of the probe's answer: {e}"
                    )),
                }
            }
            Outcome::Refused(e) | Outcome::NoAnswer(e) => {
                self.violation(format!("{at}: the log no longer accepts entries: {e}"))
            }
        }
        tracker.commit()?;
        self.summary.final_tree_size = self.served.keys().next_back().copied().unwrap_or(size);
        Ok(())
    }

    /// `GET /v1/entries/<index>` answers exactly `bytes`.
    fn check_entry_endpoint(
        &mut self,
        api: &LogClient,
        at: &str,
        index: u64,
        bytes: &[u8],
        label: &str,
    ) -> anyhow::Result<()> {
        let url = format!("{}/v1/entries/{index}", api.url());
        let Some(text) = api.fetch_text(&url)? else {
            self.violation(format!("{at}: GET /v1/entries/{index} ({label}) is 404"));
            return Ok(());
        };
        let v: EntryAnswer =
            serde_json::from_str(&text).with_context(|| format!("{url} answered {text}"))?;
        let entry = decode_entry(api.url(), &v.entry)?;
        if entry != bytes || v.leaf_hash != leaf_hash(bytes) || v.index != index {
            self.violation(format!(
                "{at}: GET /v1/entries/{index} does not answer {label}"
            ));
        }
        Ok(())
    }
}

/// Directory of this program, where `cargo build` also puts `sealwax-log`.
/// The checkpoint's `sealwax-directory` root against the directory that
/// proto's own fold ([`LeafFold`]) and tree give for `entries`.
fn check_directory(entries: &[Vec<u8>], cp: &Checkpoint) -> Result<(), String> {
    let mut fold = LeafFold::new();
    for (i, bytes) in entries.iter().enumerate() {
        let entry = Entry::parse(bytes).map_err(|e| format!("entry {i} does not parse: {e}"))?;
        // A refused entry sets no leaf, in the log's fold as in this one.
        let _ = fold.apply(&entry, i as u64);
    }
    let mut dir = Directory::new();
    dir.insert_batch(fold.take_changes());
    match cp.directory_root() {
        Ok(Some(root)) if root == dir.root() => Ok(()),
        Ok(Some(root)) => Err(format!(
            "the checkpoint of size {} signs directory root {}, the entries give {}",
            cp.size,
            hex::encode(root),
            hex::encode(dir.root())
        )),
        Ok(None) => Err(format!(
            "the checkpoint of size {} has no sealwax-directory line",
            cp.size
        )),
        Err(e) => Err(format!("the checkpoint of size {}: {e}", cp.size)),
    }
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let path = exe
        .parent()
        .ok_or_else(|| anyhow!("this program has no directory"))?
        .join(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it with `cargo build --workspace --bins`, or pass --log-bin",
            path.display()
        );
    }
    Ok(path)
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn run(args: &Args, work: &std::path::Path, summary_seed: u64) -> anyhow::Result<State> {
    let started = Instant::now();
    let limit = Duration::from_secs(args.max_seconds);
    let options = ServerOptions {
        log_bin: Some(match &args.log_bin {
            Some(p) => p.clone(),
            None => sibling("sealwax-log")?,
        }),
        server_log: Some(work.join("server.log")),
        ..ServerOptions::default()
    };
    let data_dir = work.join("log");
    if data_dir.join("signing.key").exists() {
        bail!(
            "{} already holds a log: give --work-dir a new directory",
            data_dir.display()
        );
    }
    let mut server = LogServer::try_start(&data_dir, &options)?;
    let identity = LogIdentity::new(&server.vkey, Some(&server.origin))?;
    let run_id = format!("{:08x}", rand::random::<u32>());
    let publishers: Vec<(String, SecretKey)> = (0..args.publishers.max(1))
        .map(|i| {
            (
                format!("crashloop-{run_id}-{i}"),
                SecretKey::generate(&mut rand::rngs::OsRng),
            )
        })
        .collect();
    let mut st = State {
        origin: server.origin.clone(),
        verifier: identity.verifier.clone(),
        vkey: server.vkey.clone(),
        home: Home::at(&work.join("client-home")),
        identity,
        publishers: Arc::new(publishers),
        run: run_id,
        rng: StdRng::seed_from_u64(summary_seed),
        sample: args.sample,
        durable: Vec::new(),
        proven: 0,
        durable_leaves: HashMap::new(),
        absent: Vec::new(),
        pending: Vec::new(),
        served: BTreeMap::new(),
        unproven: Vec::new(),
        lost: HashSet::new(),
        summary: Summary {
            cycles_requested: args.cycles,
            seed: summary_seed,
            ..Summary::default()
        },
    };
    let api = LogClient::new(&server.url)?;
    st.register_publishers(&api)?;
    let mut restarts_ms = Vec::new();

    let mut cycles = || -> anyhow::Result<()> {
        for cycle in 1..=args.cycles {
            if started.elapsed() >= limit {
                st.summary.time_limit_reached = true;
                eprintln!(
                    "--max-seconds {} reached: stopping after {} of {} cycles",
                    args.max_seconds,
                    cycle - 1,
                    args.cycles
                );
                break;
            }
            let load = Arc::new(Load {
                api: LogClient::new(&server.url)?,
                origin: st.origin.clone(),
                run: st.run.clone(),
                cycle,
                publishers: st.publishers.clone(),
                stop: AtomicBool::new(false),
            });
            let submitters: Vec<_> = (0..args.concurrency.max(1))
                .map(|id| {
                    let load = load.clone();
                    std::thread::spawn(move || submitter(&load, id))
                })
                .collect();
            let poller = {
                let load = load.clone();
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    while !load.stop.load(Ordering::SeqCst) && seen.len() < 100_000 {
                        match load.api.checkpoint() {
                            Ok(t) => seen.push(t),
                            Err(_) => break,
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    seen
                })
            };
            let delay = st
                .rng
                .gen_range(args.min_kill_ms..=args.max_kill_ms.max(args.min_kill_ms));
            std::thread::sleep(Duration::from_millis(delay));
            server.kill();
            let killed = Instant::now();
            load.stop.store(true, Ordering::SeqCst);
            for t in submitters {
                let results = t
                    .join()
                    .map_err(|_| anyhow!("a submitter thread panicked"))??;
                for (sub, outcome) in results {
                    st.record_outcome(sub, outcome);
                }
            }
            for text in poller
                .join()
                .map_err(|_| anyhow!("the checkpoint poller panicked"))?
            {
                st.record_checkpoint(&text, &format!("GET /checkpoint during cycle {cycle}"));
            }
            // Replacing the killed server drops (and reaps) it.
            server = match LogServer::try_start(&data_dir, &options) {
                Ok(s) => s,
                Err(e) => {
                    st.violation(format!(
                        "the server did not come back after kill {cycle}: {e:#} (its log: {})",
                        work.join("server.log").display()
                    ));
                    break;
                }
            };
            restarts_ms.push(killed.elapsed().as_secs_f64() * 1e3);
            if server.vkey != st.vkey {
                st.violation(format!(
                    "after restart {cycle}: the log key changed from {} to {}",
                    st.vkey, server.vkey
                ));
                break;
            }
            let api = LogClient::new(&server.url)?;
            st.verify(&api, cycle)
                .with_context(|| format!("checking the log after restart {cycle}"))?;
            st.summary.cycles_run = cycle;
            if !st.summary.violations.is_empty() {
                eprintln!("stopping at the first cycle with violations");
                break;
            }
            if !args.json {
                eprintln!(
                    "cycle {cycle}: killed after {delay} ms, tree size {}, acked {}, unacked present/absent {}/{}",
                    st.summary.final_tree_size,
                    st.summary.entries_acked,
                    st.summary.unacked_present,
                    st.summary.unacked_absent
                );
            }
        }
        Ok(())
    };
    if let Err(e) = cycles() {
        st.violation(format!("the run could not go on: {e:#}"));
    }
    drop(server);
    st.summary.restart_ms_mean = mean(&restarts_ms);
    st.summary.restart_ms_max = restarts_ms.iter().copied().fold(0.0, f64::max);
    st.summary.wall_seconds = started.elapsed().as_secs_f64();
    Ok(st)
}

fn main() {
    let args = Args::parse();
    if args.min_kill_ms > args.max_kill_ms {
        eprintln!("error: --min-kill-ms must not exceed --max-kill-ms");
        std::process::exit(2);
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let (tmp, work) = match &args.work_dir {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                std::process::exit(2);
            }
            (None, dir.clone())
        }
        None => match tempfile::Builder::new()
            .prefix("sealwax-crashloop-")
            .tempdir()
        {
            Ok(t) => {
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
            Err(e) => {
                eprintln!("error: cannot make a temporary directory: {e}");
                std::process::exit(2);
            }
        },
    };
    let started = Instant::now();
    let mut summary = match run(&args, &work, seed) {
        Ok(st) => st.summary,
        Err(e) => Summary {
            cycles_requested: args.cycles,
            seed,
            wall_seconds: started.elapsed().as_secs_f64(),
            violations: vec![format!("the run could not go on: {e:#}")],
            ..Summary::default()
        },
    };
    summary.ok = summary.violations.is_empty() && summary.entries_lost == 0;
    if !summary.ok || args.work_dir.is_some() {
        // Keep the evidence.
        let kept = match tmp {
            Some(t) => t.keep(),
            None => work.clone(),
        };
        summary.work_dir = Some(kept.display().to_string());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("the summary serialises")
        );
    } else {
        println!(
            "cycles run:                  {} of {}{}",
            summary.cycles_run,
            summary.cycles_requested,
            if summary.time_limit_reached {
                " (stopped by --max-seconds)"
            } else {
                ""
            }
        );
        println!("entries acknowledged:        {}", summary.entries_acked);
        println!("unacked but present:         {}", summary.unacked_present);
        println!("unacked and absent:          {}", summary.unacked_absent);
        println!("refused (4xx):               {}", summary.refused);
        println!("entries lost:                {}", summary.entries_lost);
        println!(
            "checkpoints checked:         {}",
            summary.checkpoints_checked
        );
        println!(
            "consistency proofs verified: {}",
            summary.consistency_proofs_verified
        );
        println!("final tree size:             {}", summary.final_tree_size);
        println!(
            "restart after kill:          {:.0} ms mean, {:.0} ms max",
            summary.restart_ms_mean, summary.restart_ms_max
        );
        println!("seed:                        {}", summary.seed);
        println!("wall time:                   {:.1} s", summary.wall_seconds);
        if let Some(dir) = &summary.work_dir {
            println!("data kept in:                {dir}");
        }
        for v in &summary.violations {
            println!("VIOLATION: {v}");
        }
        println!(
            "result:                      {}",
            if summary.ok { "ok" } else { "FAILED" }
        );
    }
    std::process::exit(if summary.ok { 0 } else { 1 });
}
