//! Running the witness: open the data directory and the key, listen, serve
//! HTTP/1.1 (with a header-read timeout and a connection limit) until the
//! shutdown signal, then let the requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use sealwax_proto::note::NoteVerifier;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::api::{app, AppState};
use crate::datadir::DataDir;
use crate::error::WitnessError;
use crate::metrics::Metrics;
use crate::witness::Witness;

/// What `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The witness's key name.
    pub name: String,
    /// The trusted log keys.
    pub log_keys: Vec<NoteVerifier>,
    /// Time limit for one request.
    pub request_timeout: Duration,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
}

/// Opens the data directory (creating the key on the first start) and the witness.
pub fn open(config: &ServeConfig) -> Result<AppState, WitnessError> {
    let dir = DataDir::new(&config.data_dir);
    let signer = dir.load_or_create_key(Some(&config.name))?;
    let metrics = Arc::new(Metrics::default());
    let witness = Witness::open(dir, signer, config.log_keys.clone(), metrics.clone())?;
    Ok(AppState {
        witness: Arc::new(witness),
        metrics,
    })
}

/// Runs the witness for `config` until `shutdown` completes.
pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), WitnessError> {
    let state = open(&config)?;
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|cause| WitnessError::Listen {
                addr: config.listen,
                cause,
            })?;
    let origins: Vec<&str> = state.witness.origins().collect();
    tracing::info!(
        listen = %config.listen,
        vkey = %state.witness.verifier(),
        logs = ?origins,
        "sealwax-witness is serving"
    );
    let router = app(state.clone(), config.request_timeout);
    serve(listener, router, &config, shutdown).await;
    tracing::info!("sealwax-witness stopped");
    Ok(())
}

/// Serves `router` on `listener` until `shutdown`, then waits (at most the
/// request timeout) for the requests in flight.
async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ServeConfig,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .keep_alive(true);
        let service = TowerToHyperService::new(router.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(config.request_timeout) => {
            tracing::warn!("requests still in flight at shutdown; closing them");
        }
    }
}
