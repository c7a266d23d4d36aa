//! Catch-up benchmark for `sealwax-monitor`.
//!
//! ```text
//! cargo run --release -p sealwax-monitor --bin monitor-bench -- [--entries 1000000] [--data DIR]
//! ```
//!
//! 1. **Build** (once, cached in `--data`): a log of `--entries` real entries
//!    (one claim registration per publisher, then signature entries round
//!    robin, with a chain-of-trust rotation and a retirement every 5,000
//!    entries), every entry signed for real with Minisign keys. Entry bundles
//!    and hash tiles are written as files in the C2SP `tlog-tiles` layout;
//!    hash tiles are computed with `proto`'s `MemoryHashStore` and
//!    `hash_tile_data` (the server's code path, not the monitor's), and one
//!    signed checkpoint is written per measured size.
//! 2. **Serve**: a child process serves that directory over HTTP on loopback
//!    (a static file server, as a CDN or object store would serve tiles; the
//!    real `sealwax-log` serves the same paths). It shares the machine's
//!    cores with the monitor, so the rate includes the HTTP cost both sides.
//! 3. **Measure**: for each size, a fresh child process runs the monitor's
//!    own [`Follower`] (the code `sealwax-monitor --once` runs) from an empty
//!    state to the checkpoint of that size, and reports entries/s and its
//!    peak RSS (`VmHWM` in `/proc/self/status`). Comparing the peak RSS at
//!    ¼ and all of the log shows whether memory grows with the log. The same
//!    child then measures raw SHA-256 leaf hashing of entries of the same
//!    average size, as a baseline.
//!
//! The full-size catch-up runs twice more, alternately with the duplicate
//! check and per-bundle progress saves off (`FollowerOptions`
//! `duplicate_check` and `save_progress`) and on, and the best rate of each
//! is printed with their ratio: the cost of those two defences.
//!
//! The default config watches ten publishers (`learn = true`, so their
//! signature entries are verified too) and every key event (`publisher =
//! "*"`); key registrations and revocations are always verified. One more
//! run with `[verify] all_signatures = true` on a smaller prefix shows the
//! cost of verifying every Ed25519 signature.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use sealwax_monitor::config::Config;
use sealwax_monitor::deliver::Dispatcher;
use sealwax_monitor::follow::{Follower, FollowerOptions};
use sealwax_monitor::source::LogSource;
use sealwax_monitor::state::StateDir;
use sealwax_proto::checkpoint::{sign_checkpoint, Checkpoint};
use sealwax_proto::directory::{CompactDirectory, LeafFold};
use sealwax_proto::entry::{
    Entry, KeyRegistration, KeyRevocation, Release, RevocationReason, SignatureEntry,
};
use sealwax_proto::merkle::{leaf_hash, MemoryHashStore};
use sealwax_proto::minisign::{prehash, SecretKey};
use sealwax_proto::note::{NoteSigner, NoteVerifier};
use sealwax_proto::tile::{
    encode_bundle, hash_tile_data, tiles_for_size, TileId, TileLevel, TILE_WIDTH,
};

const ORIGIN: &str = "bench.sealwax.example/log";
const ROTATE_EVERY: u64 = 5000;

#[derive(Parser)]
#[command(
    name = "monitor-bench",
    about = "Measures sealwax-monitor catch-up rate and memory"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// (internal) Serve a built log directory over HTTP.
    Serve {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        port: u16,
    },
    /// (internal) Run one measurement and print it as JSON.
    Measure {
        #[arg(long)]
        url: String,
        #[arg(long)]
        vkey: String,
        #[arg(long)]
        size: u64,
        #[arg(long)]
        verify_all: bool,
        /// Duplicate check and progress saves off.
        #[arg(long)]
        lean: bool,
        /// Key directory recomputation off.
        #[arg(long)]
        no_directory: bool,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Entries in the log.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Publishers (each registers one key first).
    #[arg(long, default_value_t = 1000)]
    publishers: u64,
    /// Where the built log is kept (reused if it matches).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Entries for the all-signatures run (0 to skip).
    #[arg(long, default_value_t = 50_000)]
    verify_all_entries: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Serve { data, port }) => serve(&data, port),
        Some(Cmd::Measure {
            url,
            vkey,
            size,
            verify_all,
            lean,
            no_directory,
        }) => measure(&url, &vkey, size, verify_all, lean, !no_directory),
        None => run(cli.run),
    }
}

// ----- orchestration -----

fn run(args: RunArgs) -> anyhow::Result<()> {
    if args.publishers < 10 || args.entries < 4 * args.publishers {
        bail!("use at least 10 publishers and 4 entries per publisher");
    }
    let data = args.data.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sealwax-monitor-bench-{}", args.entries))
    });
    let mut sizes = vec![args.entries / 4, args.entries];
    if args.verify_all_entries > 0 {
        sizes.push(args.verify_all_entries.min(args.entries));
    }
    sizes.sort_unstable();
    sizes.dedup();
    build(&data, args.entries, args.publishers, &sizes)?;
    let vkey = std::fs::read_to_string(data.join("log-key"))?
        .trim()
        .to_string();

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let exe = std::env::current_exe()?;
    let mut server = KillOnDrop(
        Command::new(&exe)
            .args(["serve", "--port", &port.to_string(), "--data"])
            .arg(&data)
            .stdout(Stdio::null())
            .spawn()?,
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_up(&url, &mut server.0)?;

    println!(
        "monitor-bench: {} entries, {} publishers, {} cores",
        args.entries,
        args.publishers,
        cores()
    );
    // (size, verify all signatures, lean: duplicate check and progress
    // saves off, paired: one of the ON/OFF comparison runs)
    let mut runs = vec![
        (args.entries / 4, false, false, false),
        (args.entries, false, false, false),
    ];
    if args.verify_all_entries > 0 {
        runs.push((
            args.verify_all_entries.min(args.entries),
            true,
            false,
            false,
        ));
    }
    for _ in 0..2 {
        runs.push((args.entries, false, true, true));
        runs.push((args.entries, false, false, true));
    }
    let runs = runs.into_iter().map(|(s, v, l, p)| (s, v, l, p, true));
    // The key directory's cost: recomputation off, against the ON runs above.
    let runs: Vec<_> = runs
        .chain((0..2).map(|_| (args.entries, false, false, false, false)))
        .collect();
    let (mut best_on, mut best_off, mut best_no_dir) = (0f64, 0f64, 0f64);
    for (size, verify_all, lean, paired, directory) in runs {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "measure",
            "--url",
            &url,
            "--vkey",
            &vkey,
            "--size",
            &size.to_string(),
        ]);
        if verify_all {
            cmd.arg("--verify-all");
        }
        if lean {
            cmd.arg("--lean");
        }
        if !directory {
            cmd.arg("--no-directory");
        }
        let out = cmd.stderr(Stdio::inherit()).output()?;
        if !out.status.success() {
            bail!("measure run failed: {}", out.status);
        }
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).context("measure output")?;
        let rate = r["rate"].as_f64().unwrap_or(0.0);
        if paired {
            let best = if lean { &mut best_off } else { &mut best_on };
            *best = best.max(rate);
        }
        if !directory {
            best_no_dir = best_no_dir.max(rate);
        }
        println!(
            "catch-up {:>9} entries{}: {:>8.0} entries/s ({:.2} s), peak RSS {} KiB, {} alerts | raw SHA-256 leaf hashing: {:.0} entries/s ({:.0} MB/s, avg entry {} B)",
            r["entries"],
            if verify_all {
                " (all signatures verified)"
            } else if !directory {
                " (key directory recomputation OFF)"
            } else if lean {
                " (duplicate check and progress saves OFF)"
            } else {
                ""
            },
            r["rate"].as_f64().unwrap_or(0.0),
            r["secs"].as_f64().unwrap_or(0.0),
            r["vmhwm_kib"],
            r["alerts"],
            r["sha256_rate"].as_f64().unwrap_or(0.0),
            r["sha256_mbps"].as_f64().unwrap_or(0.0),
            r["avg_entry_bytes"],
        );
    }
    println!(
        "duplicate check and progress saves: ON {best_on:.0} entries/s, OFF {best_off:.0} entries/s, ON/OFF = {:.3} (best of 2 each, {} entries)",
        best_on / best_off.max(1.0),
        args.entries
    );
    println!(
        "key directory recomputation: ON {best_on:.0} entries/s, OFF {best_no_dir:.0} entries/s, ON/OFF = {:.3} (best of 2 each, {} entries)",
        best_on / best_no_dir.max(1.0),
        args.entries
    );
    Ok(())
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_up(url: &str, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = reqwest::blocking::Client::new();
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("the tile server exited with {status}");
        }
        if client
            .get(format!("{url}/bench-size/0/nothing"))
            .send()
            .is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the tile server did not come up")
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

// ----- building the log -----

/// What one entry will be; keys are looked up by (publisher, key number).
enum Spec {
    Claim(usize),
    Chain(usize, usize),
    Retire(usize, usize, usize),
    Sign(usize, usize, u64),
}

fn build(dir: &Path, entries: u64, publishers: u64, sizes: &[u64]) -> anyhow::Result<()> {
    let marker = dir.join("complete");
    let params = format!("entries={entries} publishers={publishers} sizes={sizes:?} directory=1\n");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == params) {
        println!("monitor-bench: reusing the log built in {}", dir.display());
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    println!(
        "monitor-bench: building a log of {entries} entries in {} (once)...",
        dir.display()
    );
    let started = Instant::now();
    let mut rng = rand::thread_rng();
    let signer = NoteSigner::generate(ORIGIN, &mut rng)?;
    std::fs::write(dir.join("log-key"), format!("{}\n", signer.verifier()))?;
    let mut keys: Vec<Vec<SecretKey>> = (0..publishers)
        .map(|_| vec![SecretKey::generate(&mut rng)])
        .collect();
    let names: Vec<String> = (0..publishers).map(|p| format!("p{p:04}")).collect();
    let mut store = MemoryHashStore::new();
    let (mut fold, mut directory) = (LeafFold::new(), CompactDirectory::new());
    let mut rotation: Option<(usize, usize)> = None; // (publisher, old key) awaiting its retirement
    let mut n = 0u64;
    let mut bundle_index = 0u64;
    while n < entries {
        let count = (entries - n).min(TILE_WIDTH);
        let mut specs = Vec::with_capacity(count as usize);
        for i in n..n + count {
            let spec = if i < publishers {
                Spec::Claim(i as usize)
            } else if let Some((p, old)) = rotation.take() {
                Spec::Retire(p, old, old + 1)
            } else if i % ROTATE_EVERY == 0 {
                let p = ((i / ROTATE_EVERY) % publishers) as usize;
                keys[p].push(SecretKey::generate(&mut rng));
                let old = keys[p].len() - 2;
                rotation = Some((p, old));
                Spec::Chain(p, old)
            } else {
                let p = (i % publishers) as usize;
                Spec::Sign(p, keys[p].len() - 1, i)
            };
            specs.push(spec);
        }
        let make = |spec: &Spec| -> Vec<u8> {
            let e = match *spec {
                Spec::Claim(p) => Entry::KeyRegistration(
                    KeyRegistration::claim(ORIGIN, &names[p], &keys[p][0]).expect("valid"),
                ),
                Spec::Chain(p, old) => Entry::KeyRegistration(
                    KeyRegistration::chain(ORIGIN, &names[p], &keys[p][old + 1], &keys[p][old])
                        .expect("valid"),
                ),
                Spec::Retire(p, old, by) => Entry::KeyRevocation(
                    KeyRevocation::by_key(
                        ORIGIN,
                        &names[p],
                        keys[p][old].public_key(),
                        RevocationReason::Retired,
                        &keys[p][by],
                    )
                    .expect("valid"),
                ),
                Spec::Sign(p, k, i) => {
                    let release = Release {
                        origin: ORIGIN.to_string(),
                        publisher: names[p].clone(),
                        package: format!("pkg-{}", i % 7),
                        version: format!("1.{}.{}", i / 1000, i % 1000),
                        // Any 32 bytes do: the monitor never sees artifacts.
                        sha256: leaf_hash(&i.to_le_bytes()),
                    };
                    Entry::Signature(
                        SignatureEntry::sign(&keys[p][k], &release, prehash(&i.to_le_bytes()))
                            .expect("valid"),
                    )
                }
            };
            e.to_bytes()
        };
        // Sign on every core.
        let chunk = specs.len().div_ceil(cores());
        let bytes: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = specs
                .chunks(chunk)
                .map(|c| s.spawn(|| c.iter().map(make).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("signing thread"))
                .collect()
        });
        for (j, e) in bytes.iter().enumerate() {
            store.append(leaf_hash(e));
            let size = n + j as u64 + 1;
            fold.apply(&Entry::parse(e)?, size - 1)?;
            directory.insert_batch(fold.take_changes());
            if sizes.contains(&size) || size == entries {
                let root = directory.root();
                write_checkpoint(
                    dir,
                    &signer,
                    &store,
                    &root,
                    size,
                    bundle_index,
                    &bytes[..=j],
                )?;
            }
        }
        write_file(
            dir,
            &TileId {
                level: TileLevel::Entries,
                index: bundle_index,
                width: count as u16,
            },
            &encode_bundle(bytes.iter().map(Vec::as_slice))?,
        )?;
        n += count;
        bundle_index += 1;
        if bundle_index.is_multiple_of(400) {
            println!("  {n} entries ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    for id in tiles_for_size(entries) {
        let TileLevel::Hashes(level) = id.level else {
            continue;
        };
        write_file(
            dir,
            &id,
            &hash_tile_data(&store, level, id.index, id.width)?,
        )?;
    }
    std::fs::write(&marker, params)?;
    println!(
        "monitor-bench: built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write_checkpoint(
    dir: &Path,
    signer: &NoteSigner,
    store: &MemoryHashStore,
    directory_root: &sealwax_proto::Hash,
    size: u64,
    bundle_index: u64,
    bundle_so_far: &[Vec<u8>],
) -> anyhow::Result<()> {
    let mut cp = Checkpoint::new(ORIGIN, size, store.root());
    cp.set_directory_root(directory_root);
    std::fs::write(
        dir.join(format!("checkpoint.{size}")),
        sign_checkpoint(&cp, signer)?,
    )?;
    // The partial tiles of this size (full tiles are written at the end).
    if !size.is_multiple_of(TILE_WIDTH) {
        let id = TileId {
            level: TileLevel::Entries,
            index: bundle_index,
            width: (size % TILE_WIDTH) as u16,
        };
        write_file(
            dir,
            &id,
            &encode_bundle(bundle_so_far.iter().map(Vec::as_slice))?,
        )?;
    }
    for id in tiles_for_size(size).into_iter().filter(|t| !t.is_full()) {
        let TileLevel::Hashes(level) = id.level else {
            continue;
        };
        write_file(dir, &id, &hash_tile_data(store, level, id.index, id.width)?)?;
    }
    Ok(())
}

fn write_file(dir: &Path, id: &TileId, data: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(id.path());
    std::fs::create_dir_all(path.parent().expect("tile paths have a parent"))?;
    std::fs::write(path, data)?;
    Ok(())
}

// ----- serving -----

fn serve(dir: &Path, port: u16) -> anyhow::Result<()> {
    use axum::extract::State;
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;

    /// `/bench-size/<N>/checkpoint` is the checkpoint of size N; under that
    /// prefix, `tile/...` paths are the tile files (shared by every size).
    async fn handler(State(dir): State<PathBuf>, uri: Uri) -> axum::response::Response {
        let Some((size, path)) = uri
            .path()
            .strip_prefix("/bench-size/")
            .and_then(|r| r.split_once('/'))
        else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let file = if path == "checkpoint" {
            match size.parse::<u64>() {
                Ok(n) => dir.join(format!("checkpoint.{n}")),
                Err(_) => return StatusCode::NOT_FOUND.into_response(),
            }
        } else if TileId::parse_path(path).is_ok() {
            dir.join(path)
        } else {
            return StatusCode::NOT_FOUND.into_response();
        };
        match tokio::fs::read(&file).await {
            Ok(b) => b.into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let app = axum::Router::new()
            .fallback(handler)
            .with_state(dir.to_path_buf());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

// ----- measuring -----

fn measure(
    url: &str,
    vkey: &str,
    size: u64,
    verify_all: bool,
    lean: bool,
    directory: bool,
) -> anyhow::Result<()> {
    // The tile server serves the checkpoint of each built size under its own prefix.
    let base = format!("{url}/bench-size/{size}/");
    let mut config_text = String::from("[[watch]]\npublisher = \"*\"\n");
    for p in 0..10 {
        config_text.push_str(&format!(
            "[[watch]]\npublisher = \"p{p:04}\"\nlearn = true\n"
        ));
    }
    if verify_all {
        config_text.push_str("[verify]\nall_signatures = true\n");
    }
    config_text.push_str(&format!("[health]\nmax_entries_per_poll = {size}\n"));
    let config = Config::parse(&config_text, Path::new("bench.toml"))?;
    let verifier = NoteVerifier::parse(vkey)?;
    let state = tempfile::tempdir()?;
    let dispatcher = Dispatcher::new(&config.alerts, true, Box::new(std::io::sink()));
    let rt = sealwax_monitor::runtime()?;
    let (outcome, secs) = rt.block_on(async {
        let mut follower = Follower::open(
            LogSource::new(&base)?,
            verifier,
            config,
            dispatcher,
            StateDir::open(state.path())?,
            FollowerOptions {
                progress: false,
                duplicate_check: !lean,
                save_progress: !lean,
                directory_check: directory,
                ..FollowerOptions::default()
            },
        )?;
        let t = Instant::now();
        let outcome = follower.poll().await?;
        anyhow::Ok((outcome, t.elapsed().as_secs_f64()))
    })?;
    if outcome.size != size || outcome.entries != size {
        bail!(
            "the monitor verified {} entries up to size {}, expected {size}",
            outcome.entries,
            outcome.size
        );
    }
    let vmhwm = proc_status_kib("VmHWM")?;

    // Baseline: raw SHA-256 leaf hashing of entries of the same average size.
    let avg = average_entry_size(&base, size)?;
    let entry = vec![0x5au8; avg];
    let n = size.max(100_000);
    let t = Instant::now();
    let mut acc = 0u8;
    for i in 0..n {
        let mut e = entry.clone();
        e[0] = i as u8;
        acc ^= leaf_hash(&e)[0];
    }
    let sha_secs = t.elapsed().as_secs_f64();
    std::hint::black_box(acc);

    let out = serde_json::json!({
        "entries": outcome.entries,
        "secs": secs,
        "rate": outcome.entries as f64 / secs,
        "alerts": outcome.alerts,
        "vmhwm_kib": vmhwm,
        "sha256_rate": n as f64 / sha_secs,
        "sha256_mbps": (n as f64 * avg as f64) / sha_secs / 1e6,
        "avg_entry_bytes": avg,
    });
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{out}")?;
    Ok(())
}

/// Average entry size, from a bundle in the middle of the log (mostly signatures).
fn average_entry_size(base: &str, size: u64) -> anyhow::Result<usize> {
    let id = TileId::for_size(TileLevel::Entries, size / TILE_WIDTH / 2, size)
        .expect("bundle within the log");
    let bytes = reqwest::blocking::get(format!("{base}{}", id.path()))?.bytes()?;
    let entries = sealwax_proto::tile::parse_bundle(&bytes)?;
    let total: usize = entries.iter().map(|e| e.len()).sum();
    Ok((total / entries.len().max(1)).max(1))
}

fn proc_status_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    for line in BufReader::new(status.as_bytes()).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            return Ok(rest.trim().trim_end_matches("kB").trim().parse()?);
        }
    }
    bail!("{field} not in /proc/self/status")
}
