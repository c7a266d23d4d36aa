//! `sealwax-monitor`: follows a sealwax log, verifies it, and alerts on key events.
//!
//! ```text
//! sealwax-monitor --state DIR --config FILE [--log URL --log-key VKEY] [--policy FILE] [--once] [--json] [--interval SECS]
//! ```
//!
//! The log URL, key and origin come from the flags (or `SEALWAX_LOG`,
//! `SEALWAX_LOG_KEY`), else the config's `[log]` table, else the client
//! config `sealwax init` wrote (`--client-home` / `SEALWAX_HOME`, or XDG).
//!
//! Exit codes with `--once`: 0 nothing alarming, 1 alerts were raised, 2 the
//! monitor could not do its job (log unreachable, bad config or state, an
//! alert that could not be delivered). As a daemon it runs until SIGINT or
//! SIGTERM (exit 0) and exits 2 only when its state cannot be written.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use sealwax_monitor::config::{load_policy, Config, LogConfig};
use sealwax_monitor::deliver::Dispatcher;
use sealwax_monitor::follow::{Follower, FollowerOptions};
use sealwax_monitor::source::LogSource;
use sealwax_monitor::state::StateDir;
use sealwax_monitor::MonitorError;
use sealwax_proto::note::NoteVerifier;

/// Follows a sealwax transparency log, proves it consistent, and alerts
/// when a key you did not expect appears under a publisher you watch.
#[derive(Parser, Debug)]
#[command(name = "sealwax-monitor", version)]
struct Cli {
    /// Base URL of the log (it serves /checkpoint and /tile/...) [default: `url` of the config's [log], else the log `sealwax init` saved]
    #[arg(long, env = "SEALWAX_LOG", value_name = "URL")]
    log: Option<String>,
    /// Read the checkpoint, tiles and entry bundles from this mirror (the
    /// bucket of `sealwax-log --mirror`, or a CDN in front of it) instead of
    /// the log. The log (--log), if known, is asked only to name a key
    /// directory leaf that differs. [default: `tiles` of [log]]
    #[arg(long, env = "SEALWAX_TILES", value_name = "URL")]
    tiles: Option<String>,
    /// The log's verifier key, as `sealwax-log key` prints it [default: `key` of [log], else the key `sealwax init` saved]
    #[arg(long = "log-key", env = "SEALWAX_LOG_KEY", value_name = "VKEY")]
    log_key: Option<String>,
    /// The sealwax client home whose config.toml names the log [default: SEALWAX_HOME, else ~/.config/sealwax]
    #[arg(long = "client-home", env = "SEALWAX_HOME", value_name = "DIR")]
    client_home: Option<PathBuf>,
    /// Directory for the monitor's state (created if missing; one monitor per directory).
    #[arg(long)]
    state: PathBuf,
    /// The TOML config: watched publishers and alert channels.
    #[arg(long)]
    config: PathBuf,
    /// Catch up once, report, and exit: 0 nothing alarming, 1 alerts, 2 could not do the job.
    #[arg(long)]
    once: bool,
    /// Print alerts on stdout as JSON, one object per line.
    #[arg(long)]
    json: bool,
    /// Seconds between polls of the log (daemon mode).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    interval: u64,
    /// The log's origin, if it is not the name in the log key [default: `origin` of [log] or the client config]
    #[arg(long)]
    origin: Option<String>,
    /// Accept only checkpoints cosigned by a quorum of this witness policy (Sigsum syntax) [default: `policy` of [log], else the one `sealwax init` saved]
    #[arg(long, env = "SEALWAX_POLICY", value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Colour only on a terminal, and never with NO_COLOR set (no-color.org).
    tracing_subscriber::fmt()
        .with_ansi(sealwax_proto::display::colour_wanted(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("sealwax_monitor=info,warn")
            }),
        )
        .init();
    let runtime = sealwax_monitor::runtime().expect("the tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// `e` and its causes on one line, each cause once.
fn one_line(e: &anyhow::Error) -> String {
    sealwax_proto::display::error_line(e.as_ref())
}

/// The log to follow: the flags, else the config's `[log]`, else the client
/// config `sealwax init` wrote, field by field.
fn settle_log(cli: &mut Cli, config: &Config) -> anyhow::Result<(Option<String>, String)> {
    let client = LogConfig::from_client(cli.client_home.as_deref())?;
    let (from_client, client_path) = match client {
        Some((c, p)) => (c, Some(p)),
        None => (LogConfig::default(), None),
    };
    let pick = |flag: Option<String>, own: &Option<String>, theirs: Option<String>| {
        flag.or_else(|| own.clone()).or(theirs)
    };
    cli.origin = pick(cli.origin.take(), &config.log.origin, from_client.origin);
    // A relative `policy` in the config is relative to the config file.
    let own_policy = config
        .log
        .policy
        .as_ref()
        .map(|p| match cli.config.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        });
    cli.policy = cli.policy.take().or(own_policy).or(from_client.policy);
    let url = pick(cli.log.take(), &config.log.url, from_client.url);
    cli.tiles = cli.tiles.take().or_else(|| config.log.tiles.clone());
    let key = pick(cli.log_key.take(), &config.log.key, from_client.key);
    let missing = |flag: &str, key: &str| {
        let seen = client_path.as_ref().map_or(String::new(), |p| {
            format!(" ({} does not name it)", p.display())
        });
        anyhow::anyhow!(
            "no log {key} to follow{seen}: pass {flag}, put {key} = \"...\" under [log] in {}, or run `sealwax init` for this user",
            cli.config.display()
        )
    };
    let url = match url {
        Some(u) => Some(u),
        None if cli.tiles.is_some() => None,
        None => return Err(missing("--log URL (or --tiles URL)", "url")),
    };
    Ok((url, key.ok_or_else(|| missing("--log-key VKEY", "key"))?))
}

async fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(&cli.config)?;
    if !config.watches_anything() {
        tracing::warn!("the config watches no publisher: only the log itself is verified");
    }
    let (log_url, log_key) = settle_log(&mut cli, &config)?;
    let verifier = NoteVerifier::parse(log_key.trim()).map_err(|cause| MonitorError::LogKey {
        vkey: log_key.clone(),
        cause,
    })?;
    let policy = match &cli.policy {
        Some(path) => Some(std::sync::Arc::new(load_policy(path, &verifier)?)),
        None => None,
    };
    let source = match (&cli.tiles, &log_url) {
        (Some(tiles), Some(log)) => LogSource::mirror(tiles)?.with_api(log)?,
        (Some(tiles), None) => LogSource::mirror(tiles)?,
        (None, Some(log)) => LogSource::new(log)?,
        (None, None) => unreachable!("settle_log gives a log URL or tiles"),
    };
    let state_dir = StateDir::open(&cli.state)?;
    let dispatcher = Dispatcher::new(&config.alerts, cli.json, Box::new(std::io::stdout()));
    let options = FollowerOptions {
        progress: !cli.no_progress,
        // Test hook (debug builds only) for the "crash between delivery and
        // save" end-to-end test.
        crash_after_alert: cfg!(debug_assertions)
            && std::env::var_os("SEALWAX_MONITOR_CRASH_AFTER_ALERT").is_some_and(|v| v == "1"),
        origin: cli.origin.clone(),
        policy,
        // Test hook (debug builds only): panic while parsing entry bundle N.
        panic_in_bundle: if cfg!(debug_assertions) {
            std::env::var("SEALWAX_MONITOR_PANIC_IN_BUNDLE")
                .ok()
                .and_then(|v| v.parse().ok())
        } else {
            None
        },
        ..FollowerOptions::default()
    };
    let unseen = Unseen::new(&config, &cli.config);
    let mut follower = Follower::open(source, verifier, config, dispatcher, state_dir, options)
        .context("cannot start the monitor")?;
    if cli.once {
        return Ok(once(&mut follower, unseen).await);
    }
    daemon(&mut follower, unseen, Duration::from_secs(cli.interval)).await
}

/// The `[[watch]]` publishers not yet warned about as never seen in the
/// log: a typo in a name would otherwise mean watching nothing. Each is
/// warned about once per run, after the first poll that caught up with the
/// log without seeing it.
struct Unseen {
    publishers: Vec<String>,
    config: std::path::PathBuf,
}

impl Unseen {
    fn new(config: &Config, path: &std::path::Path) -> Unseen {
        Unseen {
            publishers: config.watches.keys().cloned().collect(),
            config: path.to_path_buf(),
        }
    }

    /// Warns about each watched publisher the caught-up log has no key of.
    fn check(&mut self, follower: &Follower) {
        let state = follower.state();
        if state.progress.is_some() || self.publishers.is_empty() {
            return;
        }
        for p in std::mem::take(&mut self.publishers) {
            if state.keys.get(&p).is_none() {
                tracing::warn!(
                    "publisher {p:?} of a [[watch]] in {} has never appeared in the log (tree size {}): check its spelling; until it registers a key, that watch sees nothing",
                    self.config.display(),
                    state.size()
                );
            }
        }
    }
}

async fn once(follower: &mut Follower, mut unseen: Unseen) -> ExitCode {
    match follower.poll().await {
        Ok(outcome) => {
            unseen.check(follower);
            tracing::info!(
                size = outcome.size,
                new_entries = outcome.entries,
                alerts = outcome.alerts,
                "done"
            );
            if outcome.alerts > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            if e.is_unreachable() {
                if let Err(d) = follower.report_unreachable(&e).await {
                    eprintln!("error: {d}");
                }
            }
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn daemon(
    follower: &mut Follower,
    mut unseen: Unseen,
    interval: Duration,
) -> anyhow::Result<ExitCode> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tracing::info!(
        interval_secs = interval.as_secs(),
        size = follower.state().size(),
        "following the log"
    );
    loop {
        let polled = tokio::select! {
            r = follower.poll() => Some(r),
            _ = tokio::signal::ctrl_c() => None,
            _ = term.recv() => None,
        };
        match polled {
            None => break,
            Some(Ok(o)) => {
                unseen.check(follower);
                if o.entries > 0 || o.alerts > 0 {
                    tracing::info!(
                        size = o.size,
                        new_entries = o.entries,
                        alerts = o.alerts,
                        "poll done"
                    )
                } else {
                    tracing::debug!("no new entries")
                }
            }
            Some(Err(e @ (MonitorError::Unreachable { .. } | MonitorError::TooLarge { .. }))) => {
                tracing::warn!("{e}");
                if let Err(d) = follower.report_unreachable(&e).await {
                    tracing::error!("{d}");
                }
            }
            Some(Err(e @ MonitorError::Delivery { .. })) => tracing::error!("{e}"),
            Some(Err(e)) => return Err(e.into()),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    tracing::info!("stopping");
    Ok(ExitCode::SUCCESS)
}
