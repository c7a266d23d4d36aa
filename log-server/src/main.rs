//! `sealwax-log`: see `sealwax-log --help`.

use anyhow::Context;
use clap::Parser;
use sealwax_log::config::{Cli, Command, LogFormat};
use sealwax_log::datadir::DataDir;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Key(args) => {
            let key = DataDir::open(&args.data_dir).load_key()?;
            println!("{}", key.vkey());
            Ok(())
        }
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
