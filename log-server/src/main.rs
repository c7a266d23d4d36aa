//! `sealwax-log`: see `sealwax-log --help`.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use sealwax_log::config::{Cli, Command, LogFormat};
use sealwax_log::datadir::DataDir;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

/// Log lines go to stderr, in colour only when it is a terminal and
/// `NO_COLOR` is not set (no-color.org).
fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(sealwax_proto::display::colour_wanted(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
}

/// `e` and its causes on one line, each cause once.
fn one_line(e: &anyhow::Error) -> String {
    sealwax_proto::display::error_line(e.as_ref())
}

/// Prints the verifier key on stdout. A reader that went away (`| head -c1`)
/// is not an error; any other failure to write (a full disk) is.
fn print_key(vkey: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{vkey}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write the key to stdout")
        }
        _ => Ok(()),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Key(args) => print_key(&DataDir::open(&args.data_dir).load_key()?.vkey()),
        Command::Serve(args) => {
            let config = (*args).resolve()?;
            init_tracing(config.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(sealwax_log::server::run(config, shutdown_signal()))?;
            Ok(())
        }
    }
}

/// Usage errors exit 2 (clap), any other error 1, with one `error: ` line
/// (no "Caused by:" list, no backtrace, whatever `RUST_BACKTRACE` says).
fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}
