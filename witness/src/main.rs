//! `sealwax-witness`: see `sealwax-witness --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sealwax_proto::note::NoteVerifier;
use sealwax_witness::datadir::DataDir;
use sealwax_witness::server::{run, ServeConfig};
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

/// A C2SP tlog-witness: cosigns a log's checkpoint only if it is consistent
/// with the last one it cosigned for that log.
#[derive(Parser)]
#[command(name = "sealwax-witness", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve POST /add-checkpoint, GET /<hex SHA-256 of origin>/checkpoint, GET /healthz and GET /metrics.
    Serve(ServeArgs),
    /// Print the witness's verifier key (`name+keyid+base64(0x04||key)`), creating the key if needed.
    Key(KeyArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Directory of the key and the per-log state (created, mode 0700).
    #[arg(long, env = "SEALWAX_WITNESS_DATA_DIR")]
    data_dir: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:7381.
    #[arg(long, env = "SEALWAX_WITNESS_LISTEN")]
    listen: SocketAddr,
    /// The witness's key name, e.g. witness.example.org/w1 (fixed at the first start).
    #[arg(long, env = "SEALWAX_WITNESS_NAME")]
    name: String,
    /// A trusted log's verifier key (`sealwax-log key` prints it); repeat for more logs or keys.
    #[arg(long = "log-key", value_name = "VKEY", required = true)]
    log_keys: Vec<String>,
    /// Time limit for one request, in seconds.
    #[arg(long, default_value_t = 10)]
    request_timeout_secs: u64,
    /// Time a client has to send its request headers, in seconds.
    #[arg(long, default_value_t = 5)]
    header_timeout_secs: u64,
    /// Most connections served at once.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
}

#[derive(Args)]
struct KeyArgs {
    /// The witness's data directory.
    #[arg(long, env = "SEALWAX_WITNESS_DATA_DIR")]
    data_dir: PathBuf,
    /// The key name, to create the key if there is none yet.
    #[arg(long)]
    name: Option<String>,
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("stopping");
}

/// The serve configuration from the command line.
fn config(args: ServeArgs) -> anyhow::Result<ServeConfig> {
    let log_keys = args
        .log_keys
        .iter()
        .map(|k| NoteVerifier::parse(k).with_context(|| format!("--log-key {k:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ServeConfig {
        data_dir: args.data_dir,
        listen: args.listen,
        name: args.name,
        log_keys,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
        max_connections: args.max_connections,
    })
}

fn main_result(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Key(args) => {
            let key = DataDir::new(&args.data_dir).load_or_create_key(args.name.as_deref())?;
            println!("{}", key.verifier());
            Ok(())
        }
        Command::Serve(args) => {
            let config = config(args)?;
            let filter =
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .init();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(run(config, shutdown_signal()))?;
            Ok(())
        }
    }
}

/// Usage errors exit 2 (clap), any other error 1, with one `error:` line.
fn main() -> ExitCode {
    match main_result(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", sealwax_proto::display::error_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
