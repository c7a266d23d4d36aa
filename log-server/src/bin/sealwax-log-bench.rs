//! `sealwax-log-bench`: a load generator for a running `sealwax-log`.
//!
//! It starts nothing itself. Given the URL of a log, it
//!
//! 1. reads the log's origin and size from `GET /checkpoint`;
//! 2. makes a few publishers (a fresh Minisign key each) and claims their
//!    names, one submission at a time;
//! 3. builds and signs every signature entry on all cores, and encodes each
//!    request body, all before the clock starts;
//! 4. submits the entries with N concurrent keep-alive HTTP/1.1 connections,
//!    timing each `POST /v1/entries` from the first byte sent to the whole
//!    answer read (the log answers only once the entry is durably sequenced);
//! 5. measures this machine's raw Ed25519 verification rate on one core
//!    (`ed25519-dalek`, strict verification as the log does it), in the
//!    same process, and prints the ratio.
//!
//! The HTTP client is a minimal HTTP/1.1 one written for this tool: it
//! keeps the load generator's own cost low and needs no client crate.
//!
//! With `--heavy-key`, it measures whether one publisher's key writes
//! stall everyone else's: it submits half the entries alone (the
//! baseline), then the other half while one more connection registers
//! `--heavy-writes` new keys for `--heavy-publisher` (authorised by the
//! key in `--heavy-key`, e.g. the newest of the chain `sealwax-log-fill
//! --keys` wrote), and prints the other publishers' latency in both halves
//! and their ratio.
//!
//! ```text
//! sealwax-log-bench --url http://127.0.0.1:8080 --concurrency 64 --entries 20000
//! sealwax-log-bench --url http://127.0.0.1:8080 --entries 20000 \
//!     --heavy-publisher big --heavy-key big.key --heavy-writes 500
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::Parser;
use ed25519_dalek::{Signer, SigningKey};
use sealwax_proto::entry::{Entry, KeyRegistration, Release, SignatureEntry};
use sealwax_proto::minisign::{prehash, SecretKey};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Load generator for `sealwax-log`: pre-signs signature entries, submits
/// them concurrently over HTTP, and reports throughput and latency beside
/// this machine's raw Ed25519 verification rate.
#[derive(Debug, Parser)]
#[command(name = "sealwax-log-bench", version)]
struct Args {
    /// Base URL of the running log (plain http).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The log's origin; read from /checkpoint when omitted (and checked against it when given).
    #[arg(long)]
    origin: Option<String>,
    /// Concurrent connections submitting entries.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Signature entries to submit.
    #[arg(long, default_value_t = 20_000)]
    entries: usize,
    /// Publishers the signatures are spread over (each claims its name first).
    #[arg(long, default_value_t = 8)]
    publishers: usize,
    /// Time limit of one request, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Seconds spent measuring the raw Ed25519 verification rate.
    #[arg(long, default_value_t = 2.0)]
    verify_seconds: f64,
    /// Before submitting, time this many `GET /v1/proof/inclusion` requests
    /// for random leaves at the current tree size (0: none). With
    /// `--entries 0`, only proofs are timed.
    #[arg(long, default_value_t = 0)]
    proofs: usize,
    /// An unencrypted secret key of `--heavy-publisher`, in good standing:
    /// measure the others' latency while it registers keys.
    #[arg(long, requires = "heavy_publisher")]
    heavy_key: Option<std::path::PathBuf>,
    /// The publisher `--heavy-key` belongs to.
    #[arg(long, requires = "heavy_key")]
    heavy_publisher: Option<String>,
    /// Keys to register for `--heavy-publisher` during the second half.
    #[arg(long, default_value_t = 200)]
    heavy_writes: usize,
    /// After the load, submit this many entries one at a time and time each
    /// from its POST to the first `GET /checkpoint` that covers it: on a log
    /// with `--witness-policy`, the time to a quorum-cosigned checkpoint.
    #[arg(long, default_value_t = 0)]
    cosign_latency: usize,
}

/// Largest response head or body this client reads.
const MAX_RESPONSE: usize = 16 << 20;

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    host: String,
    stream: BufReader<TcpStream>,
}

/// A response: status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

impl Conn {
    async fn open(addr: SocketAddr, host: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            host: host.to_string(),
            stream: BufReader::with_capacity(16 * 1024, s),
        })
    }

    async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Answer> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sealwax-log-bench\r\n",
            self.host
        );
        if method != "GET" {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut out = Vec::with_capacity(head.len() + body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(body);
        self.stream.get_mut().write_all(&out).await?;
        self.read_answer().await
    }

    async fn read_line(&mut self, line: &mut String, budget: &mut usize) -> std::io::Result<()> {
        line.clear();
        let n = (&mut self.stream)
            .take(*budget as u64)
            .read_line(line)
            .await?;
        if n == 0 || !line.ends_with('\n') {
            return Err(bad("the connection closed in the middle of an answer"));
        }
        *budget -= n;
        Ok(())
    }

    async fn read_answer(&mut self) -> std::io::Result<Answer> {
        let mut budget = 64 * 1024;
        let mut line = String::new();
        self.read_line(&mut line, &mut budget).await?;
        let status = line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| line.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| bad("the answer does not start with an HTTP/1.x status line"))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = line.starts_with("HTTP/1.0");
        loop {
            self.read_line(&mut line, &mut budget).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((name, value)) = l.split_once(':') else {
                return Err(bad("a header line without ':'"));
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(value.parse().map_err(|_| bad("bad Content-Length"))?)
                }
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                self.read_line(&mut line, &mut budget).await?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad("bad chunk size"))?;
                if size == 0 {
                    self.read_line(&mut line, &mut budget).await?;
                    break;
                }
                if body.len() + size > MAX_RESPONSE {
                    return Err(bad("the answer is too large"));
                }
                let start = body.len();
                body.resize(start + size + 2, 0);
                self.stream.read_exact(&mut body[start..]).await?;
                body.truncate(start + size);
            }
            body
        } else if let Some(n) = length {
            if n > MAX_RESPONSE {
                return Err(bad("the answer is too large"));
            }
            let mut body = vec![0; n];
            self.stream.read_exact(&mut body).await?;
            body
        } else {
            close = true;
            let mut body = Vec::new();
            (&mut self.stream)
                .take(MAX_RESPONSE as u64)
                .read_to_end(&mut body)
                .await?;
            body
        };
        Ok(Answer {
            status,
            body,
            close,
        })
    }
}

fn bad(what: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

/// `http://host:port[/prefix]` → (address, Host header, path prefix).
async fn parse_url(url: &str) -> anyhow::Result<(SocketAddr, String, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        anyhow!("--url must start with http:// (this tool speaks plain HTTP/1.1)")
    })?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = tokio::net::lookup_host(&with_port)
        .await
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .ok_or_else(|| anyhow!("{authority} resolves to no address"))?;
    Ok((addr, authority.to_string(), prefix.to_string()))
}

/// JSON body of `POST /v1/entries` for an entry.
fn submit_body(entry: &Entry) -> Vec<u8> {
    format!("{{\"entry\":\"{}\"}}", B64.encode(entry.to_bytes())).into_bytes()
}

/// Builds and signs `count` signature entries on every core; returns request bodies.
fn build_signatures(
    origin: &str,
    run: &str,
    publishers: &[(String, SecretKey)],
    count: usize,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = count.div_ceil(threads).max(1);
    let chunks: Vec<anyhow::Result<Vec<Vec<u8>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..count)
            .step_by(per)
            .map(|start| {
                let end = (start + per).min(count);
                s.spawn(move || {
                    (start..end)
                        .map(|i| {
                            let (publisher, key) = &publishers[i % publishers.len()];
                            let artifact = format!("sealwax-log-bench {run} artifact {i}");
                            let release = Release {
                                origin: origin.to_string(),
                                publisher: publisher.clone(),
                                package: format!("pkg{}", i % 16),
                                version: format!("{run}.{i}"),
                                sha256: Sha256::digest(artifact.as_bytes()).into(),
                            };
                            let entry =
                                SignatureEntry::sign(key, &release, prehash(artifact.as_bytes()))?;
                            Ok(submit_body(&Entry::Signature(entry)))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("an entry-building thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(count);
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

/// What one submitting connection saw.
#[derive(Default)]
struct Tally {
    /// Latency of each accepted submission, in microseconds.
    latencies_us: Vec<u64>,
    /// Answers by status ("200", "503", "connection error", ...).
    by_status: BTreeMap<String, u64>,
    /// The first error body seen for each failing status.
    samples: BTreeMap<String, String>,
    /// Accepted answers flagged as duplicates.
    duplicates: u64,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.latencies_us.extend(o.latencies_us);
        for (k, v) in o.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in o.samples {
            self.samples.entry(k).or_insert(v);
        }
        self.duplicates += o.duplicates;
    }

    fn error(&mut self, key: String, sample: String) {
        *self.by_status.entry(key.clone()).or_default() += 1;
        self.samples.entry(key).or_insert(sample);
    }
}

async fn submitter(
    addr: SocketAddr,
    host: String,
    path: String,
    bodies: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    timeout: Duration,
) -> Tally {
    let mut tally = Tally {
        latencies_us: Vec::with_capacity(bodies.len() / 8),
        ..Tally::default()
    };
    let mut conn: Option<Conn> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = bodies.get(i) else { break };
        let started = Instant::now();
        let c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(addr, &host).await {
                Ok(c) => c,
                Err(e) => {
                    tally.error("connect error".into(), e.to_string());
                    continue;
                }
            },
        };
        let mut c = c;
        let answer = tokio::time::timeout(timeout, c.request("POST", &path, body)).await;
        let elapsed = started.elapsed();
        match answer {
            Err(_) => tally.error("client timeout".into(), format!("no answer in {timeout:?}")),
            Ok(Err(e)) => tally.error("connection error".into(), e.to_string()),
            Ok(Ok(a)) => {
                if !a.close {
                    conn = Some(c);
                }
                if a.status == 200 {
                    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
                    if v["index"].is_u64() {
                        *tally.by_status.entry("200".into()).or_default() += 1;
                        tally.latencies_us.push(elapsed.as_micros() as u64);
                        if v["duplicate"] == serde_json::Value::Bool(true) {
                            tally.duplicates += 1;
                        }
                    } else {
                        tally.error(
                            "200 without an index".into(),
                            String::from_utf8_lossy(&a.body).into_owned(),
                        );
                    }
                } else {
                    tally.error(
                        a.status.to_string(),
                        String::from_utf8_lossy(&a.body).into_owned(),
                    );
                }
            }
        }
    }
    tally
}

/// Submits each body alone and times it from the POST to the first
/// `GET /checkpoint` (polled every 10 ms) whose size covers its index.
async fn time_to_checkpoint(
    addr: SocketAddr,
    host: &str,
    prefix: &str,
    bodies: Vec<Vec<u8>>,
) -> anyhow::Result<()> {
    let mut post = Conn::open(addr, host).await?;
    let mut polled = 0u64;
    let mut us = Vec::with_capacity(bodies.len());
    for body in &bodies {
        let started = Instant::now();
        let a = post
            .request("POST", &format!("{prefix}/v1/entries"), body)
            .await?;
        if a.status != 200 {
            bail!(
                "POST /v1/entries answered {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&a.body)?;
        let index = v["index"]
            .as_u64()
            .ok_or_else(|| anyhow!("the answer has no index"))?;
        loop {
            polled += 1;
            if let Ok((_, size)) = checkpoint(addr, host, prefix).await {
                if size > index {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("no checkpoint covered entry {index} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        us.push(started.elapsed().as_micros() as u64);
    }
    us.sort_unstable();
    let ms = |p| percentile(&us, p).as_secs_f64() * 1e3;
    println!(
        "to a checkpoint:      {} entries one at a time, POST to the first /checkpoint covering it ({polled} polls)",
        us.len()
    );
    println!(
        "  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(50.0),
        ms(99.0),
        ms(100.0)
    );
    Ok(())
}

/// The log's checkpoint: (origin, size).
/// `connections` submitters sharing one cursor over `bodies`, each on its
/// own connection; their merged tally.
async fn submit_all(
    connections: usize,
    addr: SocketAddr,
    host: &str,
    path: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    timeout: Duration,
) -> anyhow::Result<Tally> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(submitter(
                addr,
                host.to_string(),
                path.to_string(),
                bodies.clone(),
                next.clone(),
                timeout,
            ))
        })
        .collect();
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.context("a submitting task panicked")?);
    }
    Ok(total)
}

async fn checkpoint(addr: SocketAddr, host: &str, prefix: &str) -> anyhow::Result<(String, u64)> {
    let mut c = Conn::open(addr, host).await.with_context(|| {
        format!("cannot connect to the log at {addr}: is `sealwax-log serve` running?")
    })?;
    let a = c
        .request("GET", &format!("{prefix}/checkpoint"), b"")
        .await?;
    if a.status != 200 {
        bail!("GET /checkpoint answered {}", a.status);
    }
    let text = String::from_utf8(a.body).context("the checkpoint is not UTF-8")?;
    let mut lines = text.lines();
    let origin = lines.next().unwrap_or_default().to_string();
    let size = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| anyhow!("GET /checkpoint did not answer a checkpoint"))?;
    Ok((origin, size))
}

/// Times `count` inclusion-proof requests for random leaves of the tree of
/// `size`, over `concurrency` connections, and prints p50/p99.
async fn time_proofs(
    addr: SocketAddr,
    host: &str,
    prefix: &str,
    size: u64,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    if size == 0 {
        bail!("the log is empty: there is no leaf to prove");
    }
    let per = count.div_ceil(concurrency);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency.min(count))
        .map(|_| {
            let (host, prefix) = (host.to_string(), prefix.to_string());
            tokio::spawn(async move {
                let mut c = Conn::open(addr, &host).await?;
                let mut times = Vec::with_capacity(per);
                for _ in 0..per {
                    let index = rand::random::<u64>() % size;
                    let path =
                        format!("{prefix}/v1/proof/inclusion?index={index}&tree_size={size}");
                    let t = Instant::now();
                    let a = c.request("GET", &path, b"").await?;
                    times.push(t.elapsed().as_micros() as u64);
                    if a.status != 200 {
                        bail!(
                            "{path} answered {}: {}",
                            a.status,
                            String::from_utf8_lossy(&a.body)
                        );
                    }
                    if a.close {
                        c = Conn::open(addr, &host).await?;
                    }
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    let mut times = Vec::with_capacity(count);
    for t in tasks {
        times.extend(t.await.context("a proof task panicked")??);
    }
    let wall = started.elapsed();
    times.sort_unstable();
    println!(
        "inclusion proofs:     {} at tree size {size}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms (HTTP, {concurrency} connections)",
        times.len(),
        times.len() as f64 / wall.as_secs_f64(),
        percentile(&times, 50.0).as_secs_f64() * 1e3,
        percentile(&times, 99.0).as_secs_f64() * 1e3
    );
    Ok(())
}

/// Prints the other publishers' latency without and with the heavy
/// publisher's key writes, and fails unless every write was accepted.
fn report_heavy(heavy: &str, alone: Tally, with: Tally, writes: Tally) -> anyhow::Result<()> {
    let mut tallies = [alone, with, writes];
    for t in &mut tallies {
        t.latencies_us.sort_unstable();
    }
    let [alone, with, writes] = &tallies;
    let line = |what: &str, t: &Tally| {
        println!(
            "{what:<34} {:>6} accepted, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            t.latencies_us.len(),
            percentile(&t.latencies_us, 50.0).as_secs_f64() * 1e3,
            percentile(&t.latencies_us, 99.0).as_secs_f64() * 1e3,
            percentile(&t.latencies_us, 100.0).as_secs_f64() * 1e3
        );
    };
    line("others alone (baseline):", alone);
    line(&format!("others while {heavy} writes keys:"), with);
    line(&format!("{heavy}'s key registrations:"), writes);
    let p99 = |t: &Tally| percentile(&t.latencies_us, 99.0).as_secs_f64();
    println!(
        "ratio:                             p99 {:.2}x the baseline's",
        p99(with) / p99(alone).max(1e-6)
    );
    for t in &tallies {
        for (status, n) in t.by_status.iter().filter(|(k, _)| k.as_str() != "200") {
            let sample = t.samples.get(status).map_or("", String::as_str);
            println!("  {status}: {n}  (first: {})", sample.trim());
        }
    }
    let refused: u64 = tallies
        .iter()
        .flat_map(|t| t.by_status.iter())
        .filter(|(k, _)| k.as_str() != "200")
        .map(|(_, v)| v)
        .sum();
    if refused > 0 {
        bail!("{refused} submissions were not accepted");
    }
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Duration::from_micros(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Strict Ed25519 verifications per second on this thread, over 64-byte
/// messages (what a pre-hashed signature signs), for about `seconds`.
fn ed25519_verify_rate(seconds: f64) -> f64 {
    let keys: Vec<SigningKey> = (0..16)
        .map(|_| SigningKey::generate(&mut rand::rngs::OsRng))
        .collect();
    let samples: Vec<_> = (0..64u8)
        .map(|i| {
            let key = &keys[usize::from(i) % keys.len()];
            let msg = [i; 64];
            (key.verifying_key(), msg, key.sign(&msg))
        })
        .collect();
    let budget = Duration::from_secs_f64(seconds.clamp(0.1, 60.0));
    let started = Instant::now();
    let mut done: u64 = 0;
    // Bounded: at most 10 million verifications, whatever the clock says.
    while started.elapsed() < budget && done < 10_000_000 {
        for (vk, msg, sig) in &samples {
            assert!(
                vk.verify_strict(msg, sig).is_ok(),
                "a signature made here must verify"
            );
        }
        done += samples.len() as u64;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// CPU time (user + system) this process has used so far, where Linux's
/// `/proc/self/stat` tells it (in USER_HZ = 100 ticks per second).
fn own_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after "pid (comm) ": state is the first, utime the 12th, stime the 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.concurrency == 0 || args.publishers == 0 {
        bail!("--concurrency and --publishers must be at least 1");
    }
    if args.entries == 0 && args.proofs == 0 && args.cosign_latency == 0 {
        bail!("nothing to do: give --entries, --proofs or --cosign-latency");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (addr, host, prefix) = runtime.block_on(parse_url(&args.url))?;
    // A log with witnesses answers 503 until its first cosigned checkpoint.
    let waited = Instant::now();
    let (origin, size_before) = loop {
        match runtime.block_on(checkpoint(addr, &host, &prefix)) {
            Err(_) if waited.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => break other?,
        }
    };
    if let Some(o) = &args.origin {
        if *o != origin {
            bail!("the log at {} has origin {origin:?}, not {o:?}: pass the log's own origin (or omit --origin)", args.url);
        }
    }
    if args.proofs > 0 {
        runtime.block_on(time_proofs(
            addr,
            &host,
            &prefix,
            size_before,
            args.proofs,
            args.concurrency,
        ))?;
        if args.entries == 0 && args.cosign_latency == 0 {
            return Ok(());
        }
    }
    let run = format!("{:08x}", rand::random::<u32>());
    let entry_path = format!("{prefix}/v1/entries");

    // Publishers: claim each name, one at a time, before the clock starts.
    let publishers: Vec<(String, SecretKey)> = (0..args.publishers)
        .map(|i| {
            (
                format!("bench-{run}-{i}"),
                SecretKey::generate(&mut rand::rngs::OsRng),
            )
        })
        .collect();
    runtime.block_on(async {
        let mut c = Conn::open(addr, &host).await?;
        for (name, key) in &publishers {
            let claim = Entry::KeyRegistration(KeyRegistration::claim(&origin, name, key)?);
            let a = c.request("POST", &entry_path, &submit_body(&claim)).await?;
            if a.status != 200 {
                bail!(
                    "claiming publisher {name} failed with {}: {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                );
            }
        }
        anyhow::Ok(())
    })?;

    let build_started = Instant::now();
    let bodies = Arc::new(build_signatures(&origin, &run, &publishers, args.entries)?);
    eprintln!(
        "built and signed {} entries in {:.2} s; submitting with {} connections...",
        bodies.len(),
        build_started.elapsed().as_secs_f64(),
        args.concurrency
    );

    if let (Some(file), Some(heavy)) = (&args.heavy_key, &args.heavy_publisher) {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --heavy-key {}", file.display()))?;
        let key = SecretKey::parse(&text, None).map_err(|e| {
            anyhow!(
                "--heavy-key {}: {e} (it must be unencrypted)",
                file.display()
            )
        })?;
        let heavy_bodies = (0..args.heavy_writes)
            .map(|_| {
                let new = SecretKey::generate(&mut rand::rngs::OsRng);
                let reg = KeyRegistration::chain(&origin, heavy, &new, &key)?;
                Ok(submit_body(&Entry::KeyRegistration(reg)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let half = bodies.len() / 2;
        let baseline = Arc::new(bodies[..half].to_vec());
        let contended = Arc::new(bodies[half..].to_vec());
        let timeout = Duration::from_secs(args.timeout_secs.max(1));
        let phase = |bodies: Arc<Vec<Vec<u8>>>, heavy: Option<Arc<Vec<Vec<u8>>>>| {
            runtime.block_on(async {
                // The heavy publisher writes one key at a time, on its own
                // connection, beside the other publishers.
                let heavy = heavy.map(|h| {
                    let (host, path) = (host.clone(), entry_path.clone());
                    tokio::spawn(async move { submit_all(1, addr, &host, &path, h, timeout).await })
                });
                let total =
                    submit_all(args.concurrency, addr, &host, &entry_path, bodies, timeout).await?;
                let heavy = match heavy {
                    Some(h) => Some(h.await.context("the heavy writer panicked")??),
                    None => None,
                };
                anyhow::Ok((total, heavy))
            })
        };
        let (alone, _) = phase(baseline, None)?;
        let (with, heavy_tally) = phase(contended, Some(Arc::new(heavy_bodies)))?;
        return report_heavy(heavy, alone, with, heavy_tally.unwrap_or_default());
    }

    // The clock runs from the first submission to the last answer.
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let cpu_before = own_cpu();
    let started = Instant::now();
    let mut tally = runtime.block_on(submit_all(
        args.concurrency,
        addr,
        &host,
        &entry_path,
        bodies.clone(),
        timeout,
    ))?;
    let wall = started.elapsed();
    let client_cpu = own_cpu().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
    let (_, size_after) = runtime.block_on(checkpoint(addr, &host, &prefix))?;
    if args.cosign_latency > 0 {
        let bodies = build_signatures(
            &origin,
            &format!("{run}c"),
            &publishers,
            args.cosign_latency,
        )?;
        runtime.block_on(time_to_checkpoint(addr, &host, &prefix, bodies))?;
    }
    drop(runtime);

    let accepted = tally.by_status.get("200").copied().unwrap_or(0);
    let rate = accepted as f64 / wall.as_secs_f64();
    tally.latencies_us.sort_unstable();
    let verify_seconds = args.verify_seconds;
    let verify_rate = std::thread::spawn(move || ed25519_verify_rate(verify_seconds))
        .join()
        .map_err(|_| anyhow!("the Ed25519 measurement panicked"))?;

    println!("log:                  {} (origin {origin})", args.url);
    println!(
        "submitted:            {} signature entries from {} publishers, {} connections",
        bodies.len(),
        publishers.len(),
        args.concurrency
    );
    println!("wall time:            {:.3} s", wall.as_secs_f64());
    println!(
        "accepted:             {accepted} ({} duplicates)",
        tally.duplicates
    );
    println!("entries/s accepted:   {rate:.0}");
    println!(
        "latency p50:          {:.1} ms",
        percentile(&tally.latencies_us, 50.0).as_secs_f64() * 1e3
    );
    println!(
        "latency p99:          {:.1} ms",
        percentile(&tally.latencies_us, 99.0).as_secs_f64() * 1e3
    );
    println!(
        "latency max:          {:.1} ms",
        percentile(&tally.latencies_us, 100.0).as_secs_f64() * 1e3
    );
    let errors: u64 = tally
        .by_status
        .iter()
        .filter(|(k, _)| k.as_str() != "200")
        .map(|(_, v)| v)
        .sum();
    println!("errors:               {errors}");
    for (status, n) in tally.by_status.iter().filter(|(k, _)| k.as_str() != "200") {
        let sample = tally.samples.get(status).map_or("", String::as_str);
        println!("  {status}: {n}  (first: {})", sample.trim());
    }
    if let Some(cpu) = client_cpu {
        println!(
            "bench client CPU:     {:.2} s while submitting ({:.0}% of one core)",
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
        );
    }
    println!(
        "tree size:            {size_before} -> {size_after} (+{})",
        size_after.saturating_sub(size_before)
    );
    println!("ed25519 verify/s:     {verify_rate:.0} (one core, strict, this process)");
    println!(
        "ratio:                {:.3} accepted entries per raw verification ({:.0}% of the one-core ceiling of {:.0} entries/s at 2 verifications per signature entry)",
        rate / verify_rate,
        100.0 * rate / (verify_rate / 2.0),
        verify_rate / 2.0
    );
    if accepted as usize != bodies.len() {
        bail!(
            "{} of {} submissions were not accepted",
            bodies.len() - accepted as usize,
            bodies.len()
        );
    }
    Ok(())
}
