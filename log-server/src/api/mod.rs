//! The HTTP API: [`app`] builds the axum [`Router`] from an [`AppState`],
//! apart from any socket, so that tests can drive it with `oneshot`.
//!
//! | method, path | answer |
//! |---|---|
//! | `POST /v1/entries` | `{"index","leaf_hash","checkpoint","inclusion_proof","duplicate"}` once durable |
//! | `GET /checkpoint` | the signed checkpoint (text) |
//! | `GET /tile/<L>/<N>[.p/<W>]`, `GET /tile/entries/<N>[.p/<W>]` | C2SP tiles and entry bundles |
//! | `GET /v1/entries/<i>` | `{"index","entry","leaf_hash"}` |
//! | `GET /v1/proof/inclusion?index=I&tree_size=N` | `{"index","tree_size","leaf_hash","proof"}` |
//! | `GET /v1/proof/consistency?from=M&to=N` | `{"from","to","proof"}` |
//! | `GET /v1/publishers/<p>/keys` | the publisher's key history with proofs |
//! | `GET /v1/signatures?sha256=H` or `?publisher=P&package=N[&version=V]` | logged signatures |
//! | `PUT`/`GET /v1/artifacts/<sha256>` | the artifact store |
//! | `GET /v1/limits[?publisher=P]` | the artifact store's size limit and quotas, and their use |
//! | `GET /v1/log-key`, `/healthz`, `/metrics` | verifier key, liveness, Prometheus text |
//! | `GET /v1/openapi.json` | the OpenAPI 3.1 description of this API ([`crate::openapi`]) |
//!
//! The handlers live in one module per area: [`entries`] (submitting and
//! reading entries), [`tiles`] (checkpoint and tiles), [`proofs`],
//! [`keys`] (publisher key histories), [`signatures`], [`artifacts`],
//! [`limits`] (what the artifact store takes) and
//! [`ops`] (log key, liveness, metrics); [`middleware`] holds what the
//! router wraps them in.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::artifacts::ArtifactStore;
use crate::cosign::Witnessing;
use crate::datadir::LogKey;
use crate::error::AppError;
use crate::log::{Log, OpenError};
use crate::metrics::Metrics;
use crate::mirror::Mirror;
use crate::ratelimit::{limit_writes, WriteLimit, WriteLimiter};
use crate::sequencer::{SequencerConfig, SequencerHandle};
use crate::storage::Storage;

pub(crate) mod artifacts;
pub(crate) mod entries;
pub(crate) mod keys;
pub(crate) mod limits;
mod middleware;
pub(crate) mod ops;
pub(crate) mod proofs;
pub(crate) mod releases;
pub(crate) mod signatures;
pub(crate) mod tiles;

pub use entries::MAX_SUBMIT_BODY;
pub use keys::KEY_EVENTS_PER_PAGE;
pub use signatures::MAX_SIGNATURES_PER_LOOKUP;

/// Settings of the HTTP layer and the sequencer.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The operator's admin token (enables operator entries).
    pub admin_token: Option<String>,
    /// The artifact store, if enabled.
    pub artifacts: Option<ArtifactStore>,
    /// Most artifact uploads and downloads at once.
    pub max_artifact_transfers: usize,
    /// Time limit for one request.
    pub request_timeout: Duration,
    /// Time limit for an artifact transfer.
    pub artifact_timeout: Duration,
    /// Sequencer limits.
    pub sequencer: SequencerConfig,
    /// Per-client write limit (`per_second` 0: none).
    pub write_limit: WriteLimit,
    /// Header holding the client address, set by a trusted proxy in front.
    pub client_ip_header: Option<HeaderName>,
    /// Witnessing under a policy (`/checkpoint` serves cosigned checkpoints).
    pub witnessing: Option<Arc<Witnessing>>,
    /// The object storage mirror, if any (its task is spawned by the caller).
    pub mirror: Option<Arc<Mirror>>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            admin_token: None,
            artifacts: None,
            max_artifact_transfers: crate::config::DEFAULT_MAX_ARTIFACT_TRANSFERS,
            request_timeout: Duration::from_secs(crate::config::DEFAULT_REQUEST_TIMEOUT_SECS),
            artifact_timeout: Duration::from_secs(crate::config::DEFAULT_ARTIFACT_TIMEOUT_SECS),
            sequencer: SequencerConfig {
                batch_size: crate::config::DEFAULT_BATCH_SIZE,
                batch_wait: Duration::from_millis(crate::config::DEFAULT_BATCH_WAIT_MS),
                queue_capacity: crate::config::DEFAULT_QUEUE_CAPACITY,
                verifiers: 0,
                directory_window: crate::sequencer::DEFAULT_DIRECTORY_WINDOW,
            },
            write_limit: WriteLimit {
                per_second: crate::config::DEFAULT_WRITE_RATE,
                burst: crate::config::DEFAULT_WRITE_BURST,
            },
            client_ip_header: None,
            witnessing: None,
            mirror: None,
        }
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    log: Arc<Log>,
    sequencer: SequencerHandle,
    metrics: Arc<Metrics>,
    admin_token_hash: Option<[u8; 32]>,
    artifacts: Option<ArtifactStore>,
    artifact_slots: Arc<Semaphore>,
    max_artifact_transfers: usize,
    request_timeout: Duration,
    artifact_timeout: Duration,
    write_limiter: Option<Arc<WriteLimiter>>,
    witnessing: Option<Arc<Witnessing>>,
    mirror: Option<Arc<Mirror>>,
}

impl AppState {
    /// Opens the log in `storage` with `key` and starts its sequencer.
    pub fn start(
        storage: Arc<dyn Storage>,
        key: LogKey,
        options: AppOptions,
    ) -> Result<AppState, OpenError> {
        let (log, tip) = Log::open(storage, key)?;
        let log = Arc::new(log);
        let metrics = Arc::new(Metrics::new());
        let sequencer =
            SequencerHandle::start(log.clone(), tip, options.sequencer, metrics.clone());
        let write_limiter = WriteLimiter::new(
            options.write_limit,
            options.client_ip_header,
            metrics.clone(),
        )
        .map(Arc::new);
        Ok(AppState(Arc::new(Shared {
            log,
            sequencer,
            metrics,
            write_limiter,
            admin_token_hash: options
                .admin_token
                .map(|t| Sha256::digest(t.trim().as_bytes()).into()),
            artifacts: options.artifacts,
            artifact_slots: Arc::new(Semaphore::new(options.max_artifact_transfers.max(1))),
            max_artifact_transfers: options.max_artifact_transfers.max(1),
            request_timeout: options.request_timeout,
            artifact_timeout: options.artifact_timeout,
            witnessing: options.witnessing,
            mirror: options.mirror,
        })))
    }

    /// The log.
    pub fn log(&self) -> &Arc<Log> {
        &self.0.log
    }

    /// The witnessing state, when the log runs with a witness policy.
    pub fn witnessing(&self) -> Option<&Arc<Witnessing>> {
        self.0.witnessing.as_ref()
    }

    /// The object storage mirror, when the log runs with `--mirror`.
    pub fn mirror(&self) -> Option<&Arc<Mirror>> {
        self.0.mirror.as_ref()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// Stops the sequencer after it has sequenced what is queued (blocking).
    pub fn shutdown_sequencer(&self) {
        self.0.sequencer.shutdown();
    }
}

/// The router of the whole API.
pub fn app(state: AppState) -> Router {
    let timed = Router::new()
        .route("/checkpoint", get(tiles::checkpoint))
        .route("/tile/{*path}", get(tiles::tile))
        .route("/v1/entries", post(entries::submit))
        .route("/v1/entries/{index}", get(entries::get_entry))
        .route("/v1/proof/inclusion", get(proofs::inclusion_proof))
        .route("/v1/proof/consistency", get(proofs::consistency_proof))
        .route("/v1/publishers/{publisher}/keys", get(keys::publisher_keys))
        .route(
            "/v1/releases/{publisher}/{package}/{version}",
            get(releases::release),
        )
        .route("/v1/signatures", get(signatures::signatures))
        .route("/v1/limits", get(limits::limits))
        .route("/v1/log-key", get(ops::log_key))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/openapi.json", get(crate::openapi::openapi_json))
        .merge(crate::explorer::routes())
        .layer(from_fn_with_state(
            state.0.request_timeout,
            middleware::time_limit,
        ));
    let artifacts = Router::new()
        .route(
            "/v1/artifacts/{sha256}",
            get(artifacts::get_artifact).put(artifacts::put_artifact),
        )
        .layer(from_fn_with_state(
            state.0.artifact_timeout,
            middleware::time_limit,
        ))
        .layer(from_fn_with_state(state.clone(), middleware::artifact_gate));
    timed
        .merge(artifacts)
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(from_fn_with_state(
            state.0.write_limiter.clone(),
            limit_writes,
        ))
        .layer(from_fn_with_state(state.clone(), middleware::count_request))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            AppError::Internal.into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

// ----- helpers -----

/// Runs blocking storage work off the async worker threads.
async fn blocking<T: Send + 'static, E: Into<AppError> + Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&AppState) -> Result<T, E> + Send + 'static,
) -> Result<T, AppError> {
    let st = st.clone();
    tokio::task::spawn_blocking(move || f(&st))
        .await
        .map_err(|e| AppError::internal("a blocking task failed", e))?
        .map_err(Into::into)
}

fn path_param<T>(p: Result<Path<T>, PathRejection>) -> Result<T, AppError> {
    p.map(|Path(v)| v)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}

fn query_param<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, AppError> {
    q.map(|Query(v)| v).map_err(|e| {
        AppError::BadRequest(format!(
            "{}: give each number as a decimal from 0 to 18446744073709551615, \
             e.g. ?index=0&tree_size=1 or ?from=1&to=2",
            e.body_text()
        ))
    })
}

fn parse_sha256(s: &str) -> Result<[u8; 32], AppError> {
    let mut out = [0u8; 32];
    if s.len() != 64 || hex::decode_to_slice(s, &mut out).is_err() {
        return Err(AppError::BadRequest(format!(
            "{s:?} is not a SHA-256: give 64 hex digits"
        )));
    }
    Ok(out)
}

fn with_headers(
    body: impl IntoResponse,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// `Cache-Control` of what changes: the checkpoint and partial tiles (the mirror uses it too).
pub(crate) const CACHE_SHORT: &str = "public, max-age=1";
/// `Cache-Control` of full tiles and entry bundles (the mirror uses it too).
pub(crate) const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
const CACHE_NONE: &str = "no-store";

fn parse_index(s: &str, what: &str) -> Result<u64, AppError> {
    s.parse::<u64>().map_err(|_| {
        AppError::BadRequest(format!(
            "{what} {s:?} is not a number: give a decimal integer from 0 to {}",
            u64::MAX
        ))
    })
}
