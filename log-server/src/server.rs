//! Running the server: the data directory, the database, the HTTP listener
//! (with a header-read timeout and a connection limit) and graceful shutdown.
//!
//! Shutdown order: stop accepting connections; let requests in flight
//! finish (their submissions are still sequenced); then stop the sequencer,
//! which first sequences whatever is still queued.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::api::{app, AppOptions, AppState};
use crate::artifacts::ArtifactStore;
use crate::config::ServeConfig;
use crate::datadir::{DataDir, DataDirError};
use crate::log::OpenError;
use crate::sequencer::SequencerConfig;
use crate::storage::{RocksStorage, StorageError};

/// Why the server could not start or run.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The data directory or key.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The database could not be opened.
    #[error("cannot open the database in {path}: {source} (is another sealwax-log running on this data directory?)")]
    Database {
        /// The database directory.
        path: String,
        /// Why.
        source: StorageError,
    },
    /// The stored log is unusable.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The admin token file.
    #[error("cannot read the admin token file {path}: {source}")]
    AdminToken {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An empty admin token file.
    #[error("the admin token file {0} is empty: put a long random token in it")]
    EmptyAdminToken(String),
    /// The artifact directory.
    #[error("cannot prepare the artifact store in {path}: {source}")]
    Artifacts {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The listen address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Listener settings.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Longest wait for requests in flight at shutdown.
    pub drain_timeout: Duration,
}

/// Opens everything `config` names and returns the app state (sequencer running).
pub fn open(config: &ServeConfig) -> Result<AppState, ServeError> {
    let dir = DataDir::create(&config.data_dir)?;
    let key = dir.load_or_create_key(config.origin.as_deref())?;
    let admin_token = match &config.admin_token_file {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(|source| ServeError::AdminToken {
                path: p.display().to_string(),
                source,
            })?;
            let t = t.trim().to_string();
            if t.is_empty() {
                return Err(ServeError::EmptyAdminToken(p.display().to_string()));
            }
            Some(t)
        }
        None => None,
    };
    let artifacts =
        match config.max_artifact_bytes {
            Some(max) => Some(ArtifactStore::open(&dir.artifacts_path(), max).map_err(
                |source| ServeError::Artifacts {
                    path: dir.artifacts_path().display().to_string(),
                    source,
                },
            )?),
            None => None,
        };
    let db_path = dir.db_path();
    let storage =
        RocksStorage::open_with_cache(&db_path, config.cache_bytes).map_err(|source| {
            ServeError::Database {
                path: db_path.display().to_string(),
                source,
            }
        })?;
    let state = AppState::start(
        Arc::new(storage),
        key,
        AppOptions {
            admin_token,
            artifacts,
            request_timeout: config.request_timeout,
            artifact_timeout: config.artifact_timeout,
            sequencer: SequencerConfig {
                batch_size: config.batch_size,
                batch_wait: config.batch_wait,
                queue_capacity: config.queue_capacity,
                verifiers: 0,
            },
            write_limit: config.write_limit,
            client_ip_header: config.client_ip_header.clone(),
        },
    )?;
    Ok(state)
}

/// Runs the server for `config` until `shutdown` completes, then shuts down gracefully.
pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let state = tokio::task::block_in_place(|| open(&config))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let published = state.log().published();
    tracing::info!(
        listen = %config.listen,
        origin = state.log().origin(),
        tree_size = published.size,
        vkey = %state.log().key().vkey(),
        "sealwax-log is serving"
    );
    serve(
        listener,
        app(state.clone()),
        ListenOptions {
            header_timeout: config.header_timeout,
            max_connections: config.max_connections,
            drain_timeout: config.artifact_timeout.max(config.request_timeout),
        },
        shutdown,
    )
    .await;
    tracing::info!("connections closed; finishing queued submissions");
    let st = state.clone();
    let _ = tokio::task::spawn_blocking(move || st.shutdown_sequencer()).await;
    tracing::info!(
        tree_size = state.log().published().size,
        "sealwax-log stopped"
    );
    Ok(())
}

/// Serves `router` on `listener` over HTTP/1.1 until `shutdown` completes,
/// then waits (at most `drain_timeout`) for the connections to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    opts: ListenOptions,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer address, for per-client limits.
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(opts.header_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, waiting for requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(opts.drain_timeout) => {
            tracing::warn!("requests still in flight after {:?}; closing them", opts.drain_timeout);
        }
    }
}
