//! Running the server: the data directory, the database, the HTTP listener
//! (with a header-read timeout and a connection limit) and graceful shutdown.
//!
//! Connections: up to `--max-connections` are served at once. An artifact
//! request takes one of the `--max-artifact-transfers` artifact slots and
//! gives its connection's general slot back, so artifact traffic never holds
//! the slots that checkpoints, tiles, proofs and submissions need; the
//! connection closes after the transfer. Every connection is watched once a
//! second: one whose client has read nothing of a response for
//! `--send-timeout-secs` is closed, and so is an artifact transfer that moves
//! fewer than `--artifact-min-rate` bytes a second over any 10 s.
//!
//! Shutdown order: stop accepting connections; let requests in flight
//! finish (their submissions are still sequenced); then stop the sequencer,
//! which first sequences whatever is still queued.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::{app, AppOptions, AppState};
use crate::artifacts::{ArtifactLimits, ArtifactStore};
use crate::config::ServeConfig;
use crate::cosign::Witnessing;
use crate::datadir::{DataDir, DataDirError};
use crate::log::OpenError;
use crate::sequencer::SequencerConfig;
use crate::storage::{RocksStorage, StorageError};

/// Why the server could not start or run.
///
/// A cause shown in a message is not also its `source`, so `{:#}` and
/// anyhow's "Caused by" print it once.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The `--mirror` client could not be set up.
    #[error("cannot set up the mirror to {url}: {cause} (check AWS_ENDPOINT_URL, AWS_REGION and the credentials)")]
    Mirror {
        /// The mirror location.
        url: String,
        /// Why.
        cause: String,
    },
    /// The data directory or key.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The database could not be opened.
    #[error("cannot open the database in {path}: {cause} (is another sealwax-log running on this data directory?)")]
    Database {
        /// The database directory.
        path: String,
        /// Why.
        cause: StorageError,
    },
    /// The stored log is unusable.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The admin token file.
    #[error("cannot read the admin token file {path}: {cause}")]
    AdminToken {
        /// The file.
        path: String,
        /// Why.
        cause: std::io::Error,
    },
    /// An admin token too weak to guard the operator path.
    #[error("the admin token in {path} is too weak: {reason}; a token needs at least 128 bits: 32 or more hex digits, or 22 or more other characters (at least 8 different ones), and not an example's; make one with `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {path}`")]
    WeakAdminToken {
        /// The file.
        path: String,
        /// What is wrong with the token.
        reason: &'static str,
    },
    /// The artifact directory.
    #[error("cannot prepare the artifact store in {path}: {cause}")]
    Artifacts {
        /// The directory.
        path: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The witness policy file cannot be read or parsed.
    #[error("cannot use the witness policy {path}: {cause}; fix the file (Sigsum policy syntax: `log KEY`, `witness NAME KEY URL`, `quorum NAME`) or drop --witness-policy")]
    WitnessPolicy {
        /// The file.
        path: String,
        /// Why.
        cause: String,
    },
    /// The witness policy does not name this log.
    #[error(
        "the witness policy {path} has no `log` line with this log's key; add `log {vkey}` to it"
    )]
    WitnessPolicyLog {
        /// The file.
        path: String,
        /// This log's verifier key.
        vkey: String,
    },
    /// The listen address.
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        cause: std::io::Error,
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
    /// Longest wait for a client to read any of a response.
    pub send_timeout: Duration,
    /// Slowest artifact transfer kept, in bytes per second (0: any).
    pub artifact_min_rate: u64,
}

/// The token the compose example shipped; refused as an admin token.
pub const EXAMPLE_ADMIN_TOKEN: &str = "replace-me-with-a-long-random-token";

/// Checks that an admin token carries at least 128 bits: counted as 4 bits
/// per character for a token of hex digits only, 6 bits per character
/// otherwise, with at least 8 different characters, and not the example's.
pub fn check_admin_token(token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        return Err("the file is empty");
    }
    if token == EXAMPLE_ADMIN_TOKEN {
        return Err("it is the example token that sealwax shipped");
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it holds white space or control characters");
    }
    let bits_per_char = if token.chars().all(|c| c.is_ascii_hexdigit()) {
        4
    } else {
        6
    };
    if token.chars().count() * bits_per_char < 128 {
        return Err("it is too short");
    }
    let distinct: std::collections::HashSet<char> = token.chars().collect();
    if distinct.len() < 8 {
        return Err("it repeats too few different characters");
    }
    Ok(())
}

/// Opens everything `config` names and returns the app state (sequencer running).
pub fn open(config: &ServeConfig) -> Result<AppState, ServeError> {
    let dir = DataDir::create(&config.data_dir)?;
    let key = dir.load_or_create_key(config.origin.as_deref())?;
    let admin_token = match &config.admin_token_file {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(|cause| ServeError::AdminToken {
                path: p.display().to_string(),
                cause,
            })?;
            let t = t.trim().to_string();
            check_admin_token(&t).map_err(|reason| ServeError::WeakAdminToken {
                path: p.display().to_string(),
                reason,
            })?;
            Some(t)
        }
        None => None,
    };
    let witnessing = match &config.witness_policy {
        Some(path) => Some(Arc::new(load_policy(path, &key)?)),
        None => None,
    };
    let mirror = match &config.mirror {
        Some(t) => Some(Arc::new(
            crate::mirror::Mirror::from_env(t.clone(), config.mirror_stuck).map_err(|cause| {
                ServeError::Mirror {
                    url: t.url(),
                    cause: cause.to_string(),
                }
            })?,
        )),
        None => None,
    };
    let db_path = dir.db_path();
    let storage = RocksStorage::open_with_cache(&db_path, config.cache_bytes).map_err(|cause| {
        ServeError::Database {
            path: db_path.display().to_string(),
            cause,
        }
    })?;
    let artifacts = match config.max_artifact_bytes {
        Some(max_bytes) => {
            let limits = ArtifactLimits {
                max_bytes,
                quota_bytes: config.artifact_quota_bytes,
                publisher_quota_bytes: config.artifact_publisher_quota_bytes,
            };
            let store = ArtifactStore::open_with(&config.artifact_dir, limits, |sha| {
                artifact_owner(&storage, sha)
            })
            .map_err(|cause| ServeError::Artifacts {
                path: config.artifact_dir.display().to_string(),
                cause,
            })?;
            Some(store)
        }
        None => None,
    };
    let state = AppState::start(
        Arc::new(storage),
        key,
        AppOptions {
            admin_token,
            artifacts,
            max_artifact_transfers: config.max_artifact_transfers,
            request_timeout: config.request_timeout,
            artifact_timeout: config.artifact_timeout,
            sequencer: SequencerConfig {
                batch_size: config.batch_size,
                batch_wait: config.batch_wait,
                queue_capacity: config.queue_capacity,
                verifiers: 0,
                directory_window: config.directory_window,
            },
            write_limit: config.write_limit,
            client_ip_header: config.client_ip_header.clone(),
            witnessing,
            mirror,
        },
    )?;
    Ok(state)
}

/// Reads the witness policy at `path` and checks that it names this log's `key`.
fn load_policy(
    path: &std::path::Path,
    key: &crate::datadir::LogKey,
) -> Result<Witnessing, ServeError> {
    let shown = path.display().to_string();
    let bad = |cause: String| ServeError::WitnessPolicy {
        path: shown.clone(),
        cause,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let policy = sealwax_proto::policy::Policy::parse(&text).map_err(|e| bad(e.to_string()))?;
    if !policy.lists_log(&key.verifier()) {
        return Err(ServeError::WitnessPolicyLog {
            path: shown.clone(),
            vkey: key.vkey(),
        });
    }
    Ok(Witnessing::new(policy))
}

/// The publisher of the first logged signature of the artifact `sha256`,
/// whose quota the artifact counts against.
pub fn artifact_owner(storage: &dyn crate::storage::Storage, sha256: &[u8; 32]) -> Option<String> {
    let first = storage
        .signatures_by_sha256(sha256)
        .ok()?
        .into_iter()
        .min()?;
    let bytes = storage.entry(first).ok()??;
    match sealwax_proto::entry::Entry::parse(&bytes).ok()? {
        sealwax_proto::entry::Entry::Signature(s) => Some(s.release().ok()?.publisher),
        _ => None,
    }
}

/// Runs the server for `config` until `shutdown` completes, then shuts down gracefully.
pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let state = tokio::task::block_in_place(|| open(&config))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|cause| ServeError::Listen {
            addr: config.listen,
            cause,
        })?;
    if let Some(w) = state.witnessing() {
        tokio::spawn(crate::cosign::run(w.clone(), state.log().clone()));
    }
    if let Some(m) = state.mirror() {
        tokio::spawn(crate::mirror::run(
            m.clone(),
            state.log().clone(),
            state.witnessing().cloned(),
        ));
    }
    let published = state.log().published();
    // The address bound, so `--listen 127.0.0.1:0` says which port it got.
    let bound = listener.local_addr().unwrap_or(config.listen);
    tracing::info!(
        listen = %bound,
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
            send_timeout: config.send_timeout,
            artifact_min_rate: config.artifact_min_rate,
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
        let conn = Arc::new(Conn::new(permit));
        let handle = ConnHandle(conn.clone());
        // The peer address, for per-client limits, and the connection, for
        // the artifact routes.
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req.extensions_mut().insert(handle.clone());
                req
            },
        ));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(opts.header_timeout)
            .keep_alive(true);
        let io = TokioIo::new(Counted {
            io: stream,
            conn: conn.clone(),
        });
        let served = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            tokio::select! {
                r = served => if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                },
                why = watchdog(&conn, opts.send_timeout, opts.artifact_min_rate) => {
                    tracing::debug!(%peer, "closing a connection: {why}");
                }
            }
            conn.release();
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

/// How long an artifact transfer's rate is averaged over.
pub const ARTIFACT_RATE_WINDOW: Duration = Duration::from_secs(10);

/// One connection: its byte counters, its slot and whether it carries an
/// artifact transfer.
struct Conn {
    started: Instant,
    /// Bytes read from and written to the client.
    moved: AtomicU64,
    /// Milliseconds since `started` (plus one) when a write began waiting
    /// for the client; 0 when none is waiting.
    write_waiting: AtomicU64,
    /// Whether the connection is held to the artifact transfer rate.
    transfer: AtomicBool,
    /// The general connection slot, or the artifact slot that replaced it.
    slot: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Conn {
    fn new(slot: OwnedSemaphorePermit) -> Conn {
        Conn {
            started: Instant::now(),
            moved: AtomicU64::new(0),
            write_waiting: AtomicU64::new(0),
            transfer: AtomicBool::new(false),
            slot: Mutex::new(Some(slot)),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn wrote<T>(&self, r: &Poll<std::io::Result<T>>, n: impl Fn(&T) -> usize) {
        match r {
            Poll::Pending => {
                let now = self.now_ms() + 1;
                let _ = self.write_waiting.compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            Poll::Ready(r) => {
                if let Ok(v) = r {
                    self.moved.fetch_add(n(v) as u64, Ordering::Relaxed);
                }
                self.write_waiting.store(0, Ordering::Relaxed);
            }
        }
    }

    fn release(&self) {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// The connection a request came on (a request extension set by [`serve`]).
#[derive(Clone)]
pub struct ConnHandle(Arc<Conn>);

impl ConnHandle {
    /// Moves the connection from its general slot to the artifact slot
    /// `permit` and holds it to the artifact transfer rate.
    pub fn enter_artifact(&self, permit: OwnedSemaphorePermit) {
        *self.0.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(permit);
        self.0.transfer.store(true, Ordering::Relaxed);
    }

    /// Stops holding the connection to the transfer rate (an upload's body
    /// has arrived; the server is busy, not the client).
    pub fn transfer_done(&self) {
        self.0.transfer.store(false, Ordering::Relaxed);
    }
}

/// Resolves (with the reason) once `conn` should be closed.
async fn watchdog(conn: &Conn, send_timeout: Duration, min_rate: u64) -> String {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let send_ms = u64::try_from(send_timeout.as_millis()).unwrap_or(u64::MAX);
    let mut window: Option<(Instant, u64)> = None;
    loop {
        tick.tick().await;
        let waiting = conn.write_waiting.load(Ordering::Relaxed);
        if waiting != 0 && conn.now_ms().saturating_sub(waiting - 1) > send_ms {
            return format!(
                "the client read nothing of the response for {} s (--send-timeout-secs)",
                send_timeout.as_secs()
            );
        }
        if min_rate == 0 || !conn.transfer.load(Ordering::Relaxed) {
            window = None;
            continue;
        }
        let moved = conn.moved.load(Ordering::Relaxed);
        match window {
            None => window = Some((Instant::now(), moved)),
            Some((since, at)) if since.elapsed() >= ARTIFACT_RATE_WINDOW => {
                let want = min_rate.saturating_mul(ARTIFACT_RATE_WINDOW.as_secs());
                if moved - at < want {
                    return format!(
                        "an artifact transfer moved {} bytes in {} s, under --artifact-min-rate {min_rate} bytes/s",
                        moved - at,
                        ARTIFACT_RATE_WINDOW.as_secs()
                    );
                }
                window = Some((Instant::now(), moved));
            }
            Some(_) => {}
        }
    }
}

/// A TCP stream that counts what moves through it for its [`Conn`].
struct Counted {
    io: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len() - before;
            this.conn.moved.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.conn.wrote(&r, |n| *n);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.conn.wrote(&r, |n| *n);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use sealwax_proto::error::Rejection;
    use sealwax_proto::Error as ProtoError;

    use super::*;
    use crate::config::ConfigError;
    use crate::log_error::LogError;

    /// How often `needle` shows in `e` printed one-line (`{:#}`) and with
    /// anyhow's "Caused by" list (`{:?}`).
    fn printed(e: anyhow::Error, needle: &str) -> [usize; 2] {
        let e = e.context("sealwax-log stopped");
        [format!("{e:#}"), format!("{e:?}")].map(|s| s.matches(needle).count())
    }

    #[test]
    fn error_chains_print_each_cause_once() {
        let io = |m: &str| io::Error::other(m.to_string());
        let cases: Vec<(anyhow::Error, &str)> = vec![
            (
                anyhow::Error::new(ServeError::Listen {
                    addr: "127.0.0.1:1".parse().unwrap(),
                    cause: io("the port is taken"),
                }),
                "the port is taken",
            ),
            (
                anyhow::Error::new(ServeError::DataDir(DataDirError::Io {
                    action: "cannot read",
                    path: "/d/signing.key".into(),
                    cause: io("permission denied"),
                })),
                "permission denied",
            ),
            (
                anyhow::Error::new(ServeError::Database {
                    path: "/d/db".into(),
                    cause: StorageError::Backend("the lock is held".into()),
                }),
                "the lock is held",
            ),
            (
                anyhow::Error::new(ServeError::Open(OpenError::Storage(StorageError::Corrupt(
                    "a stored subtree is not 511 hashes",
                )))),
                "511 hashes",
            ),
            (
                anyhow::Error::new(ConfigError::Read {
                    path: "/etc/log.toml".into(),
                    cause: io("no such file"),
                }),
                "no such file",
            ),
            (
                anyhow::Error::new(LogError::Rejected(ProtoError::Rejected(
                    Rejection::NameTaken("alice".into()),
                ))),
                "is already claimed",
            ),
        ];
        for (e, cause) in cases {
            assert_eq!(printed(e, cause), [1, 1], "{cause}");
        }
    }
}
