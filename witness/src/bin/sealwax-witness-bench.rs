//! `sealwax-witness-bench`: a load generator for a running `sealwax-witness`.
//!
//! It starts nothing itself. It plays N logs with fixed, test-only keys
//! (`log-keys` prints their verifier keys: start the witness with one
//! `--log-key` each), and, in `run`:
//!
//! 1. asks the witness each log's size (`old 0`, reading the 409);
//! 2. builds, before the clock starts, every request body: each log grows
//!    one leaf per request, with its real consistency proof and a signed
//!    checkpoint, so each request is a real cosignature and a durable write;
//! 3. sends them with one keep-alive HTTP/1.1 connection per log (a log's
//!    requests are sequential, as the protocol needs), and counts the 200s;
//! 4. measures, in the same process, this machine's raw Ed25519 rate of one
//!    signature plus one verification on one core (the witness's crypto per
//!    request) and of synced atomic file replacements (its write per
//!    request) in `--durable-dir`, by as many writers as there are logs,
//!    and prints the ratios.
//!
//! To measure the witness on one core, pin it: `taskset -c 0 sealwax-witness
//! serve ...` and run this tool on another core (`scripts/bench-witness.sh`).
//!
//! The HTTP client is a minimal HTTP/1.1 one written for this tool: it keeps
//! the load generator's own cost low and needs no client crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::merkle::{leaf_hash, prove_consistency, tree_root, MemoryHashStore};
use sealwax_proto::note::{CosignatureSigner, Note, NoteSigner, NoteVerifier};
use sealwax_witness::request::AddCheckpoint;
use sha2::{Digest, Sha256};

/// Load generator for `sealwax-witness`: add-checkpoint requests per
/// second, beside this machine's raw Ed25519 and synced-write rates.
#[derive(Parser)]
#[command(name = "sealwax-witness-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the verifier keys of the bench's logs, one a line (give each to the witness with --log-key).
    LogKeys {
        /// How many logs.
        #[arg(long, default_value_t = 4)]
        logs: usize,
    },
    /// Send add-checkpoint requests to a running witness and report the rate.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The witness's address (host:port; plain HTTP).
    #[arg(long, default_value = "127.0.0.1:7381")]
    addr: String,
    /// How many logs, one connection each (the witness must trust all of them).
    #[arg(long, default_value_t = 4)]
    logs: usize,
    /// Requests per log.
    #[arg(long, default_value_t = 2000)]
    requests: u64,
    /// Directory for the synced-write baseline (use the witness's filesystem).
    #[arg(long)]
    durable_dir: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The bench's log `i`: a fixed test key under a fixed origin.
fn log_signer(i: usize) -> NoteSigner {
    let seed: [u8; 32] = Sha256::digest(format!("sealwax-witness-bench log {i}")).into();
    NoteSigner::new(
        format!("bench.sealwax.test/log-{i}"),
        SigningKey::from_bytes(&seed),
    )
    .expect("a valid key name")
}

/// The leaf `n` of every bench log (the same tree in every run).
fn leaf(n: u64) -> [u8; 32] {
    leaf_hash(&n.to_be_bytes())
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: &str) -> anyhow::Result<Conn> {
        let s = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// POSTs `body` to /add-checkpoint: the status and the answer's body.
    fn add_checkpoint(&mut self, body: &[u8]) -> anyhow::Result<(u16, String)> {
        let head = format!(
            "POST /add-checkpoint HTTP/1.1\r\nHost: witness\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(&[head.as_bytes(), body].concat())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("not an HTTP answer: {line:?}"))?;
        let mut len = None;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = Some(v.trim().parse::<usize>()?);
                }
            }
        }
        let len = len.ok_or_else(|| anyhow!("an answer without Content-Length"))?;
        let mut buf = vec![0; len];
        self.reader.read_exact(&mut buf)?;
        Ok((status, String::from_utf8_lossy(&buf).into_owned()))
    }
}

/// The size the witness holds for `log`, learnt with an `old 0` request
/// (which cosigns size 1 if the witness never saw the log).
fn witness_size(conn: &mut Conn, log: &NoteSigner) -> anyhow::Result<u64> {
    let cp = Checkpoint::new(log.name(), 1, leaf(0));
    let body = AddCheckpoint {
        old_size: 0,
        proof: Vec::new(),
        checkpoint: sign_checkpoint(&cp, log)?,
    }
    .to_body();
    match conn.add_checkpoint(body.as_bytes())? {
        (200, _) => Ok(1),
        (409, size) => Ok(size.trim().parse()?),
        (404, _) => bail!(
            "the witness does not know {}: start it with the keys `sealwax-witness-bench log-keys` prints",
            log.name()
        ),
        (s, b) => bail!("the witness answered {s}: {b}"),
    }
}

/// Every request body for `log`, from `from` to `from + n`, one leaf a request.
fn bodies(log: &NoteSigner, from: u64, n: u64) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut tree = MemoryHashStore::new();
    for i in 0..from + n {
        tree.append(leaf(i));
    }
    (from..from + n)
        .map(|old| {
            let new = old + 1;
            let cp = Checkpoint::new(log.name(), new, tree_root(&tree, new)?);
            let proof = if old > 0 {
                prove_consistency(&tree, old, new)?
            } else {
                Vec::new()
            };
            let body = AddCheckpoint {
                old_size: old,
                proof,
                checkpoint: sign_checkpoint(&cp, log)?,
            };
            Ok(body.to_body().into_bytes())
        })
        .collect()
}

/// Raw rate, on this thread, of one cosignature plus one note verification.
fn crypto_baseline() -> anyhow::Result<f64> {
    let log = log_signer(0);
    let cp = Checkpoint::new(log.name(), 7, leaf(7));
    let note = sign_checkpoint(&cp, &log)?;
    let verifier: NoteVerifier = log.verifier();
    let cosigner = CosignatureSigner::new(
        "bench.sealwax.test/witness",
        SigningKey::from_bytes(&[7; 32]),
    )?;
    let n = 2000;
    let start = Instant::now();
    for i in 0..n {
        let parsed = Note::parse(&note)?.verified(&[&verifier])?;
        std::hint::black_box(cosigner.cosign(&parsed.text, 1_700_000_000 + i)?);
    }
    Ok(f64::from(n as u32) / start.elapsed().as_secs_f64())
}

/// Raw rate of synced atomic replacements of a checkpoint-sized file in
/// `dir`, by `writers` threads at once (one file each, as the witness has
/// one file per log).
fn durable_baseline(dir: &std::path::Path, writers: usize) -> anyhow::Result<f64> {
    let tmp = tempfile::tempdir_in(dir)?;
    let n = 200;
    let barrier = Arc::new(Barrier::new(writers));
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|i| {
            let path = tmp.path().join(format!("state-{i}"));
            let barrier = barrier.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let data = vec![b'x'; 300];
                barrier.wait();
                for _ in 0..n {
                    sealwax_durable::write_atomic(&path, &data, sealwax_durable::MODE_PUBLIC)?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow!("a writer thread panicked"))??;
    }
    Ok(f64::from(n * writers as u32) / start.elapsed().as_secs_f64())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    if args.logs == 0 || args.requests == 0 {
        bail!("--logs and --requests must be at least 1");
    }
    let mut prepared = Vec::new();
    for i in 0..args.logs {
        let log = log_signer(i);
        let mut conn = Conn::open(&args.addr)?;
        let from = witness_size(&mut conn, &log)?;
        prepared.push((conn, bodies(&log, from, args.requests)?));
    }
    let barrier = Arc::new(Barrier::new(args.logs + 1));
    let threads: Vec<_> = prepared
        .into_iter()
        .map(|(mut conn, bodies)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || -> anyhow::Result<Duration> {
                barrier.wait();
                let start = Instant::now();
                for body in &bodies {
                    match conn.add_checkpoint(body)? {
                        (200, _) => {}
                        (s, b) => bail!("the witness answered {s}: {b}"),
                    }
                }
                Ok(start.elapsed())
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for t in threads {
        t.join()
            .map_err(|_| anyhow!("a client thread panicked"))??;
    }
    let wall = start.elapsed().as_secs_f64();
    let total = args.requests * args.logs as u64;
    let rps = total as f64 / wall;
    let crypto = crypto_baseline()?;
    let dir = args.durable_dir.unwrap_or_else(std::env::temp_dir);
    let durable = durable_baseline(&dir, args.logs)?;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if args.json {
        println!(
            "{{\"build\":\"{build}\",\"requests\":{total},\"logs\":{},\"seconds\":{wall:.3},\"requests_per_s\":{rps:.1},\"sign_verify_per_s\":{crypto:.1},\"ratio_to_sign_verify\":{:.4},\"synced_writes_per_s\":{durable:.1},\"ratio_to_synced_writes\":{:.4}}}",
            args.logs,
            rps / crypto,
            rps / durable
        );
    } else {
        println!("build of this tool: {build}");
        println!(
            "add-checkpoint: {total} requests over {} connections in {wall:.2} s: {rps:.0} requests/s",
            args.logs
        );
        println!(
            "baseline, one core: {crypto:.0} Ed25519 sign+verify/s; ratio {:.3}",
            rps / crypto
        );
        println!(
            "baseline: {durable:.0} synced atomic writes/s by {} writers in {}; ratio {:.3}",
            args.logs,
            dir.display(),
            rps / durable
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::LogKeys { logs } => {
            for i in 0..logs {
                println!("{}", log_signer(i).verifier());
            }
            Ok(())
        }
        Command::Run(args) => run(args),
    }
}
