//! `sealwax-log-fill`: grows a log's data directory to a given size, for
//! scale benchmarks (server memory and proof latency at millions of entries).
//!
//! It runs the log's own verifier and sequencer in process on the data
//! directory (the server must not be running) and feeds them real, signed
//! signature entries from a few freshly claimed publishers, skipping only
//! HTTP. Every entry is checked and written exactly as `POST /v1/entries`
//! would, in synced batches with signed checkpoints. At the end it times
//! in-process inclusion proofs at the new size, and key directory proofs
//! (of releases logged, and of absent names) with their sizes.
//!
//! With `--keys N` it first gives one publisher a chain of N keys: a
//! claim, then each key registered by the one before it (the deepest
//! chain of authorisation there is), and writes the newest key's secret
//! key, unencrypted, to `--last-key-out`.
//!
//! ```text
//! sealwax-log-fill --data-dir ./data --origin bench.test/log --to 1000000
//! sealwax-log-fill --data-dir ./data --origin bench.test/log --keys 100000 \
//!     --key-publisher big --last-key-out big.key --proofs 0
//! ```

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use rand::Rng;
use sealwax_log::datadir::DataDir;
use sealwax_log::log::{Log, Tip};
use sealwax_log::log_error::LogError;
use sealwax_log::metrics::Metrics;
use sealwax_log::sequencer::{Sequenced, SequencerConfig, SequencerHandle, Submission};
use sealwax_log::storage::RocksStorage;
use sealwax_proto::directory::{publisher_key, release_key, EMPTY};
use sealwax_proto::entry::{Entry, KeyRegistration, Release, SignatureEntry};
use sealwax_proto::merkle::leaf_hash;
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::rules::ReleaseName;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

/// Grows a sealwax log (offline) to a target size with signed signature
/// entries, through the log's own verifier and sequencer.
#[derive(Debug, Parser)]
#[command(name = "sealwax-log-fill", version)]
struct Args {
    /// The log's data directory (created if missing; the server must be stopped).
    #[arg(long)]
    data_dir: PathBuf,
    /// The log's origin (needed only when the data directory is new).
    #[arg(long)]
    origin: Option<String>,
    /// Tree size to grow the log to (after the keys of `--keys`).
    #[arg(long, default_value_t = 0)]
    to: u64,
    /// Register this many keys for `--key-publisher` first: a claim, then
    /// each key authorised by the one before it.
    #[arg(long, default_value_t = 0)]
    keys: usize,
    /// The publisher that gets the keys of `--keys`.
    #[arg(long, default_value = "fill-keys")]
    key_publisher: String,
    /// Where to write the newest key of `--keys` (an unencrypted Minisign secret key file).
    #[arg(long)]
    last_key_out: Option<PathBuf>,
    /// Entries per sequencer batch.
    #[arg(long, default_value_t = 4096)]
    batch: usize,
    /// Publishers the signatures are spread over.
    #[arg(long, default_value_t = 64)]
    publishers: usize,
    /// Inclusion proofs to time at the end.
    #[arg(long, default_value_t = 2000)]
    proofs: usize,
    /// Times the proofs this many times over (later passes find RocksDB's block cache warm).
    #[arg(long, default_value_t = 1)]
    passes: usize,
    /// Compact the database at the end (as RocksDB would in time), then
    /// time the proofs again: the steady state of a log that has settled.
    #[arg(long)]
    compact: bool,
    /// RocksDB block cache, in MiB (as `sealwax-log serve --cache-mib`).
    #[arg(long, default_value_t = 64)]
    cache_mib: usize,
}

/// Submissions in flight at once.
const WINDOW: usize = 16_384;

/// Queues one entry, exactly as the HTTP handler does after parsing it.
fn submit(
    seq: &SequencerHandle,
    origin: &str,
    entry: Entry,
) -> anyhow::Result<oneshot::Receiver<Result<Sequenced, LogError>>> {
    let checks = entry
        .signature_checks(origin)
        .map_err(|e| anyhow!("a generated entry breaks a rule: {e}"))?;
    let bytes = entry.to_bytes();
    let (tx, rx) = oneshot::channel();
    let sub = Submission {
        leaf_hash: leaf_hash(&bytes),
        entry,
        checks,
        bytes,
        queued_at: Instant::now(),
        reply: tx,
    };
    // The queue holds twice the window, so it is never full here.
    seq.submit(sub)
        .map_err(|e| anyhow!("the sequencer refused a submission: {e}"))?;
    Ok(rx)
}

/// Waits for one answer and checks it was appended.
fn settle(rx: oneshot::Receiver<Result<Sequenced, LogError>>) -> anyhow::Result<Sequenced> {
    let s = rx
        .blocking_recv()
        .map_err(|_| anyhow!("the sequencer stopped before answering"))?
        .map_err(|e| anyhow!("an entry was refused: {e}"))?;
    Ok(s)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.batch == 0 || args.publishers == 0 {
        bail!("--batch and --publishers must be at least 1");
    }
    let dir = DataDir::create(&args.data_dir)?;
    let key = dir.load_or_create_key(args.origin.as_deref())?;
    let origin = key.origin().to_string();
    let storage = RocksStorage::open_with_cache(&dir.db_path(), args.cache_mib.max(1) << 20)
        .with_context(|| {
            format!(
                "cannot open the database in {}: is `sealwax-log serve` still running on it?",
                args.data_dir.display()
            )
        })?;
    let storage = Arc::new(storage);
    let (log, tip) = Log::open(storage.clone(), key)?;
    let log = Arc::new(log);
    let mut tip = tip;
    if args.keys > 0 {
        tip = fill_keys(&args, &log, tip, &origin)?;
    }
    let start_size = tip.range.size();
    if start_size >= args.to {
        println!(
            "the log already has {start_size} entries (>= {}); nothing to add",
            args.to
        );
    } else {
        fill(&args, &log, tip, &origin)?;
    }
    let size = log.published().size;
    if size == 0 {
        return Ok(());
    }
    for pass in 1..=args.passes {
        let label = if args.passes > 1 {
            format!(", pass {pass}")
        } else {
            String::new()
        };
        time_proofs(&log, size, args.proofs, &label)?;
        time_directory_proofs(&log, size, args.proofs, &label)?;
    }
    if args.compact {
        let t = Instant::now();
        storage.compact()?;
        println!("compaction:           {:.1} s", t.elapsed().as_secs_f64());
        time_proofs(&log, size, args.proofs, ", compacted")?;
    }
    Ok(())
}

/// Starts the log's verifier and sequencer threads on `log`, as the server
/// does; `verifiers` 0 is one per core (which may reorder submissions).
fn start_sequencer(args: &Args, log: &Arc<Log>, tip: Tip, verifiers: usize) -> SequencerHandle {
    SequencerHandle::start(
        log.clone(),
        tip,
        SequencerConfig {
            batch_size: args.batch,
            batch_wait: Duration::from_millis(20),
            queue_capacity: WINDOW * 2,
            verifiers,
            // Nothing reads older sizes while filling: keep only the newest nodes.
            directory_window: Duration::ZERO,
        },
        Arc::new(Metrics::new()),
    )
}

/// Gives `args.key_publisher` a chain of `args.keys` keys; returns the new
/// tip for the signatures that may follow.
fn fill_keys(args: &Args, log: &Arc<Log>, tip: Tip, origin: &str) -> anyhow::Result<Tip> {
    let start_size = tip.range.size();
    // One verifier keeps the submissions in order: each key is authorised
    // by the one before it, which must be sequenced first.
    let seq = start_sequencer(args, log, tip, 1);
    let publisher = args.key_publisher.clone();
    let count = args.keys;
    // Signing runs on its own thread, ahead of the verifier and sequencer.
    let (entries_tx, entries_rx) = mpsc::sync_channel::<Entry>(WINDOW);
    let signer = {
        let origin = origin.to_string();
        std::thread::spawn(move || -> anyhow::Result<SecretKey> {
            let mut previous = SecretKey::generate(&mut rand::rngs::OsRng);
            let claim = KeyRegistration::claim(&origin, &publisher, &previous)?;
            if entries_tx.send(Entry::KeyRegistration(claim)).is_err() {
                return Ok(previous);
            }
            for _ in 1..count {
                let key = SecretKey::generate(&mut rand::rngs::OsRng);
                let reg = KeyRegistration::chain(&origin, &publisher, &key, &previous)?;
                if entries_tx.send(Entry::KeyRegistration(reg)).is_err() {
                    break;
                }
                previous = key;
            }
            Ok(previous)
        })
    };
    let started = Instant::now();
    // Each key needs the one before it sequenced: the claim goes alone.
    let mut entries = entries_rx.into_iter();
    if let Some(claim) = entries.next() {
        settle(submit(&seq, origin, claim)?)?;
    }
    let mut pending = VecDeque::with_capacity(WINDOW);
    for entry in entries {
        if pending.len() >= WINDOW {
            settle(pending.pop_front().expect("window is full"))?;
        }
        pending.push_back(submit(&seq, origin, entry)?);
    }
    for rx in pending {
        settle(rx)?;
    }
    let last = signer
        .join()
        .map_err(|_| anyhow!("the signing thread panicked"))??;
    seq.shutdown();
    let state = log
        .storage()
        .tree_state()?
        .ok_or_else(|| anyhow!("the log has no tree state after sequencing"))?;
    let size = state.size;
    let log_range = sealwax_proto::merkle::CompactRange::from_hashes(state.size, state.range)
        .map_err(|e| anyhow!("the stored tree state is not a compact range: {e}"))?;
    println!(
        "keys:                 {count} for publisher {} in {:.1} s (tree size {start_size} -> {size})",
        args.key_publisher,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.last_key_out {
        let text = last.to_file_string(None, &mut rand::rngs::OsRng);
        std::fs::write(path, text)
            .with_context(|| format!("cannot write the newest key to {}", path.display()))?;
        println!("newest key:           {}", path.display());
    }
    Ok(Tip {
        range: log_range,
        directory_root: log.published().directory_root.unwrap_or(EMPTY),
    })
}

/// Appends signed signature entries until the log has `args.to` entries.
fn fill(args: &Args, log: &Arc<Log>, tip: Tip, origin: &str) -> anyhow::Result<()> {
    let start_size = tip.range.size();
    let origin = origin.to_string();
    let seq = start_sequencer(args, log, tip, 0);

    // Fresh publishers for this run, each claiming its name.
    let run = format!("{:08x}", rand::random::<u32>());
    let publishers: Vec<(String, SecretKey)> = (0..args.publishers)
        .map(|i| {
            (
                format!("fill-{run}-{i}"),
                SecretKey::generate(&mut rand::rngs::OsRng),
            )
        })
        .collect();
    // At most a window of claims in flight: there may be millions.
    let mut claims = VecDeque::with_capacity(WINDOW);
    for (name, key) in &publishers {
        if claims.len() >= WINDOW {
            settle(claims.pop_front().expect("window is full"))?;
        }
        let claim = Entry::KeyRegistration(KeyRegistration::claim(&origin, name, key)?);
        claims.push_back(submit(&seq, &origin, claim)?);
    }
    for rx in claims {
        settle(rx)?;
    }
    let signatures = args.to.saturating_sub(log.published().size);

    // Signing runs on its own thread, ahead of the verifier and sequencer.
    let (entries_tx, entries_rx) = mpsc::sync_channel::<Entry>(WINDOW);
    let signer = {
        let origin = origin.clone();
        let run = run.clone();

        std::thread::spawn(move || -> anyhow::Result<()> {
            for i in 0..signatures {
                let (publisher, key) = &publishers[(i % publishers.len() as u64) as usize];
                let artifact = format!("sealwax-log-fill {run} artifact {i}");
                let release = Release {
                    origin: origin.clone(),
                    publisher: publisher.clone(),
                    package: format!("pkg{}", i % 64),
                    version: format!("{run}.{i}"),
                    sha256: Sha256::digest(artifact.as_bytes()).into(),
                };
                let entry = SignatureEntry::sign(key, &release, prehash(artifact.as_bytes()))?;
                if entries_tx.send(Entry::Signature(entry)).is_err() {
                    break;
                }
            }
            Ok(())
        })
    };

    let started = Instant::now();
    let mut pending = VecDeque::with_capacity(WINDOW);
    let mut done = 0u64;
    let mut next_report = Instant::now() + Duration::from_secs(10);
    for entry in entries_rx {
        if pending.len() >= WINDOW {
            settle(pending.pop_front().expect("window is full"))?;
            done += 1;
        }
        pending.push_back(submit(&seq, &origin, entry)?);
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(10);
            let rate = done as f64 / started.elapsed().as_secs_f64();
            eprintln!(
                "{} entries, {rate:.0} entries/s, {:.0} s left",
                log.published().size,
                (signatures - done) as f64 / rate.max(1.0)
            );
        }
    }
    for rx in pending {
        settle(rx)?;
        done += 1;
    }
    signer
        .join()
        .map_err(|_| anyhow!("the signing thread panicked"))??;
    seq.shutdown();
    let wall = started.elapsed();
    let size = log.published().size;
    println!("data dir:             {}", args.data_dir.display());
    println!("tree size:            {start_size} -> {size}");
    println!(
        "signature entries:    {done} in {:.1} s ({:.0} entries/s, signing included)",
        wall.as_secs_f64(),
        done as f64 / wall.as_secs_f64()
    );
    Ok(())
}

/// Times `proofs` in-process inclusion proofs for random leaves of the tree of `size`.
fn time_proofs(log: &Log, size: u64, proofs: usize, label: &str) -> anyhow::Result<()> {
    let mut rng = rand::thread_rng();
    let mut times: Vec<Duration> = (0..proofs)
        .map(|_| {
            let index = rng.gen_range(0..size);
            let t = Instant::now();
            log.inclusion_proof(index, size)
                .map(|_| t.elapsed())
                .map_err(|e| anyhow!("inclusion proof of {index} at {size}: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    times.sort_unstable();
    if let (Some(p50), Some(p99)) = (
        times.get(times.len() / 2),
        times.get((times.len() * 99 / 100).min(times.len().saturating_sub(1))),
    ) {
        println!(
            "inclusion proof:      p50 {:.1} us, p99 {:.1} us over {} random leaves of {size} (in process, no HTTP{label})",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            times.len()
        );
    }
    Ok(())
}

/// p50 and p99 of sorted `times`, in microseconds.
fn percentiles(times: &mut [Duration]) -> Option<(f64, f64)> {
    times.sort_unstable();
    let p99 = (times.len() * 99 / 100).min(times.len().checked_sub(1)?);
    Some((
        times[times.len() / 2].as_secs_f64() * 1e6,
        times[p99].as_secs_f64() * 1e6,
    ))
}

/// Times key directory proofs at the published size: of the release of a
/// random logged signature or the publisher of a random registration (a
/// presence proof) and of a random name no one
/// has (an absence proof), and reports their encoded sizes.
fn time_directory_proofs(log: &Log, size: u64, proofs: usize, label: &str) -> anyhow::Result<()> {
    let at = log
        .signed_at(size)
        .map_err(|e| anyhow!("the checkpoint at {size}: {e}"))?;
    let leaves = log
        .prove_directory(&at, &[0; 32])
        .map_err(|e| anyhow!("directory proof: {e}"))?;
    if leaves.is_none() {
        println!("directory proof:      the checkpoint commits to no key directory");
        return Ok(());
    }
    let mut rng = rand::thread_rng();
    for present in [true, false] {
        let (mut times, mut bytes) = (Vec::with_capacity(proofs), Vec::with_capacity(proofs));
        for _ in 0..proofs {
            let key = if present {
                let index = rng.gen_range(0..size);
                let entry = log
                    .storage()
                    .entry(index)?
                    .ok_or_else(|| anyhow!("entry {index} missing"))?;
                match Entry::parse(&entry) {
                    Ok(Entry::Signature(s)) => release_key(&ReleaseName::of(&s.release()?)),
                    Ok(e @ Entry::KeyRegistration(_)) => publisher_key(&e.publisher()),
                    _ => continue,
                }
            } else {
                rng.gen()
            };
            let t = Instant::now();
            let (value, proof) = log
                .prove_directory(&at, &key)
                .map_err(|e| anyhow!("directory proof: {e}"))?
                .expect("the checkpoint has a directory");
            times.push(t.elapsed());
            anyhow::ensure!(
                value.is_some() == present,
                "a directory proof of the wrong kind"
            );
            bytes.push(proof.encode().len());
        }
        bytes.sort_unstable();
        if let (Some((p50, p99)), Some(max)) = (percentiles(&mut times), bytes.last()) {
            println!(
                "directory proof:      {} p50 {p50:.1} us, p99 {p99:.1} us over {} keys; size median {} B, max {max} B (in process, no HTTP{label})",
                if present { "present" } else { "absent " },
                times.len(),
                bytes[bytes.len() / 2],
            );
        }
    }
    Ok(())
}
