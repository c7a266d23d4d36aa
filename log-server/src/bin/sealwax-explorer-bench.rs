//! `sealwax-explorer-bench`: fills a running `sealwax-log` with one large
//! publisher (`--keys` keys, `--releases` releases) and times the explorer's
//! pages for it, beside `GET /checkpoint` timed in the same run.
//!
//! Keys are registered in waves: the claim, then each wave of up to 100
//! keys chained from the keys of the wave before (a graph many levels
//! deep). Releases are spread over 100 packages and signed by the newest
//! keys. With `--no-fill` it only times (the publisher is already there).
//! It prints one line per page: p50 and p99 in ms, the p50 as a ratio to
//! `/checkpoint`'s, and the page's size; `--json` prints them as JSON, with
//! the page URLs (for `node tests/browser/explore.mjs`, which times how
//! long chromium takes to verify each page).
//!
//! ```text
//! SEALWAX_LOG_WRITE_RATE=0 sealwax-log serve --data-dir ./data --origin bench.test/log &
//! sealwax-explorer-bench --url http://127.0.0.1:8080 --keys 1000 --releases 10000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::Parser;
use sealwax_proto::entry::{Entry, KeyRegistration, Release, SignatureEntry};
use sealwax_proto::minisign::{prehash, SecretKey};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Fills a log with one large publisher and times the explorer's pages for it.
#[derive(Debug, Parser)]
#[command(name = "sealwax-explorer-bench", version)]
struct Args {
    /// Base URL of the running log (run it with SEALWAX_LOG_WRITE_RATE=0).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The publisher to create (or to time, with --no-fill).
    #[arg(long, default_value = "big")]
    publisher: String,
    /// Keys to register for it.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Releases to sign for it.
    #[arg(long, default_value_t = 10_000)]
    releases: usize,
    /// Submissions in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per page timed.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Only time the pages; the publisher is already filled.
    #[arg(long)]
    no_fill: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

async fn submit(client: &reqwest::Client, url: &str, entry: &Entry) -> anyhow::Result<u64> {
    let body = serde_json::json!({ "entry": B64.encode(entry.to_bytes()) });
    let r = client
        .post(format!("{url}/v1/entries"))
        .json(&body)
        .send()
        .await
        .context("POST /v1/entries")?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.context("the answer is not JSON")?;
    if !status.is_success() {
        bail!("POST /v1/entries answered {status}: {v}");
    }
    v["index"].as_u64().context("no index in the answer")
}

/// Submits `entries` with `concurrency` in flight; fails on the first refusal.
async fn submit_all(
    client: &reqwest::Client,
    url: &str,
    entries: Vec<Entry>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    for e in entries {
        let permit = slots.clone().acquire_owned().await?;
        let (client, url) = (client.clone(), url.to_string());
        set.spawn(async move {
            let r = submit(&client, &url, &e).await;
            drop(permit);
            r
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(())
}

async fn fill(args: &Args, client: &reqwest::Client, origin: &str) -> anyhow::Result<()> {
    let p = &args.publisher;
    let started = Instant::now();
    let root = SecretKey::generate(&mut rand::rngs::OsRng);
    submit(
        client,
        &args.url,
        &Entry::KeyRegistration(KeyRegistration::claim(origin, p, &root)?),
    )
    .await?;
    let mut previous = vec![root];
    let mut registered = 1;
    while registered < args.keys {
        let n = (args.keys - registered).min(100);
        let wave: Vec<SecretKey> = (0..n)
            .map(|_| SecretKey::generate(&mut rand::rngs::OsRng))
            .collect();
        let entries = wave
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let by = &previous[i % previous.len()];
                Ok(Entry::KeyRegistration(KeyRegistration::chain(
                    origin, p, k, by,
                )?))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        submit_all(client, &args.url, entries, args.concurrency).await?;
        registered += n;
        previous = wave;
    }
    eprintln!(
        "registered {registered} keys in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let entries = (0..args.releases)
        .map(|i| {
            let data = format!("{p} release {i}").into_bytes();
            let release = Release {
                origin: origin.to_string(),
                publisher: p.clone(),
                package: format!("pkg-{}", i % 100),
                version: format!("1.{}", i / 100),
                sha256: Sha256::digest(&data).into(),
            };
            let key = &previous[i % previous.len()];
            Ok(Entry::Signature(SignatureEntry::sign(
                key,
                &release,
                prehash(&data),
            )?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    submit_all(client, &args.url, entries, args.concurrency).await?;
    eprintln!(
        "signed {} releases in {:.1} s",
        args.releases,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// (p50, p99) in ms and the size of the last answer.
async fn time(client: &reqwest::Client, url: &str, n: usize) -> anyhow::Result<(f64, f64, usize)> {
    let mut ms = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n.max(1) {
        let t = Instant::now();
        let r = client.get(url).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        if !status.is_success() {
            bail!("GET {url} answered {status}");
        }
        size = body.len();
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    Ok((at(0.5), at(0.99), size))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let cp = client
        .get(format!("{}/checkpoint", args.url))
        .send()
        .await?
        .text()
        .await?;
    let origin = cp
        .lines()
        .next()
        .context("an empty checkpoint")?
        .to_string();
    if !args.no_fill {
        fill(&args, &client, &origin).await?;
    }
    let p = &args.publisher;
    let base = &args.url;
    let last_keys_page = args.keys.saturating_sub(1) / 50;
    let pages = [
        ("checkpoint (baseline)", format!("{base}/checkpoint")),
        ("front page", format!("{base}/")),
        (
            "publisher, first page",
            format!("{base}/explore/publishers/{p}"),
        ),
        (
            "publisher, last page of keys",
            format!("{base}/explore/publishers/{p}?keys={last_keys_page}"),
        ),
        (
            "publisher, releases after pkg-50@1.50",
            format!("{base}/explore/publishers/{p}?after_package=pkg-50&after_version=1.50"),
        ),
        ("entry", format!("{base}/explore/entries/1")),
        (
            "API: /v1/publishers/<p>/keys",
            format!("{base}/v1/publishers/{p}/keys"),
        ),
    ];
    let mut rows = Vec::new();
    let mut baseline = None;
    for (name, url) in &pages {
        let (p50, p99, size) = time(&client, url, args.requests).await?;
        let base50 = *baseline.get_or_insert(p50);
        rows.push(serde_json::json!({
            "page": name, "url": url, "p50_ms": p50, "p99_ms": p99,
            "p50_ratio_to_checkpoint": p50 / base50, "bytes": size,
        }));
        if !args.json {
            println!(
                "{name:<40} p50 {p50:>8.2} ms  p99 {p99:>8.2} ms  p50 x{:<7.1} {size:>7} bytes",
                p50 / base50
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(())
}
