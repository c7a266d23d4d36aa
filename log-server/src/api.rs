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
//! | `GET /v1/log-key`, `/healthz`, `/metrics` | verifier key, liveness, Prometheus text |
//! | `GET /v1/openapi.json` | the OpenAPI 3.1 description of this API ([`crate::openapi`]) |

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealwax_proto::entry::{Authorization, Entry, RevocationAuthorization, MAX_ENTRY_SIZE};
use sealwax_proto::merkle::{self, leaf_hash};
use sealwax_proto::tile::TileId;
use sealwax_proto::Hash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{oneshot, Semaphore};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::{IntoParams, ToSchema};

use crate::artifacts::ArtifactStore;
use crate::datadir::LogKey;
use crate::error::{AppError, ErrorBody};
use crate::log::{Log, OpenError};
use crate::metrics::Metrics;
use crate::openapi::{Binary, HexHash};
use crate::ratelimit::{limit_writes, WriteLimit, WriteLimiter};
use crate::sequencer::{Sequenced, SequencerConfig, SequencerHandle, Submission};
use crate::server::ConnHandle;
use crate::storage::Storage;

/// Largest `POST /v1/entries` body: a maximal entry in base64, in JSON.
pub const MAX_SUBMIT_BODY: usize = 128 * 1024;
/// Most signatures one lookup answers (the newest ones).
pub const MAX_SIGNATURES_PER_LOOKUP: usize = 1000;

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
            },
            write_limit: WriteLimit {
                per_second: crate::config::DEFAULT_WRITE_RATE,
                burst: crate::config::DEFAULT_WRITE_BURST,
            },
            client_ip_header: None,
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
}

impl AppState {
    /// Opens the log in `storage` with `key` and starts its sequencer.
    pub fn start(
        storage: Arc<dyn Storage>,
        key: LogKey,
        options: AppOptions,
    ) -> Result<AppState, OpenError> {
        let (log, range) = Log::open(storage, key)?;
        let log = Arc::new(log);
        let metrics = Arc::new(Metrics::new());
        let sequencer =
            SequencerHandle::start(log.clone(), range, options.sequencer, metrics.clone());
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
        })))
    }

    /// The log.
    pub fn log(&self) -> &Arc<Log> {
        &self.0.log
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
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/v1/entries", post(submit))
        .route("/v1/entries/{index}", get(get_entry))
        .route("/v1/proof/inclusion", get(inclusion_proof))
        .route("/v1/proof/consistency", get(consistency_proof))
        .route("/v1/publishers/{publisher}/keys", get(publisher_keys))
        .route("/v1/signatures", get(signatures))
        .route("/v1/log-key", get(log_key))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(crate::openapi::openapi_json))
        .layer(middleware::from_fn_with_state(
            state.0.request_timeout,
            time_limit,
        ));
    let artifacts = Router::new()
        .route(
            "/v1/artifacts/{sha256}",
            get(get_artifact).put(put_artifact),
        )
        .layer(middleware::from_fn_with_state(
            state.0.artifact_timeout,
            time_limit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), artifact_gate));
    timed
        .merge(artifacts)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.0.write_limiter.clone(),
            limit_writes,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            AppError::Internal.into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

// ----- middleware -----

async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => AppError::Timeout(limit.as_secs()).into_response(),
    }
}

/// Admits an artifact request to one of the artifact slots (or answers 503
/// at once); its connection gives back its general slot and closes after
/// the transfer, so slow transfers never hold the slots other routes need.
async fn artifact_gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let close = |mut r: Response| {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        r
    };
    let Ok(permit) = st.0.artifact_slots.clone().try_acquire_owned() else {
        return close(AppError::TooManyTransfers(st.0.max_artifact_transfers).into_response());
    };
    // Without a connection (a test calling the router directly) the
    // request itself holds the slot.
    let held = match req.extensions().get::<ConnHandle>() {
        Some(conn) => {
            conn.enter_artifact(permit);
            None
        }
        None => Some(permit),
    };
    let resp = next.run(req).await;
    drop(held);
    close(resp)
}

async fn count_request(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let resp = next.run(req).await;
    st.0.metrics
        .http_request(&route, method, resp.status().as_u16());
    resp
}

async fn not_found(req: Request) -> AppError {
    AppError::NotFound(format!(
        "no such path {:?}: see the sealwax-log API (GET /checkpoint, POST /v1/entries, ...)",
        req.uri().path()
    ))
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
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

fn hexes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(hex::encode).collect()
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

const CACHE_SHORT: &str = "public, max-age=1";
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
const CACHE_NONE: &str = "no-store";

// ----- submissions -----

/// The body of `POST /v1/entries`.
#[derive(Deserialize, ToSchema)]
struct SubmitBody {
    /// The entry's bytes in standard base64: at most 65,535 bytes once decoded, in the
    /// canonical encoding that sealwax writes.
    #[schema(content_encoding = "base64")]
    entry: String,
}

/// The answer to a submission, once the entry is durably sequenced.
#[derive(Serialize, ToSchema)]
struct SubmitAnswer {
    /// The entry's index (for a duplicate: the index it was first logged at).
    index: u64,
    /// The entry's RFC 9162 leaf hash.
    #[schema(value_type = HexHash)]
    leaf_hash: String,
    /// The signed checkpoint (C2SP signed note text) that the proof leads to.
    checkpoint: String,
    /// The entry's inclusion proof in that checkpoint's tree, from the leaf up.
    #[schema(value_type = Vec<HexHash>)]
    inclusion_proof: Vec<String>,
    /// True when these exact bytes were logged before.
    duplicate: bool,
}

impl From<Sequenced> for SubmitAnswer {
    fn from(s: Sequenced) -> Self {
        SubmitAnswer {
            index: s.index,
            leaf_hash: hex::encode(s.leaf_hash),
            checkpoint: s.checkpoint.to_string(),
            inclusion_proof: hexes(&s.inclusion_proof),
            duplicate: s.duplicate,
        }
    }
}

/// Checks `Authorization: Bearer <token>` against the admin token, in constant time.
fn check_operator(st: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(want) = &st.0.admin_token_hash else {
        return Err(AppError::Unauthorized(
            "this log has no operator path: operator registrations and revocations are accepted only when the log runs with --admin-token-file",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // RFC 9110 §11.1: the scheme is case-insensitive.
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token)
        })
        .ok_or(AppError::Unauthorized(
            "this entry is an operator entry: send it with the header `Authorization: Bearer <admin token>`",
        ))?;
    let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
    if bool::from(given.ct_eq(want)) {
        Ok(())
    } else {
        Err(AppError::Unauthorized(
            "the admin token is wrong: use the contents of the log's --admin-token-file",
        ))
    }
}

/// Submits one entry; answers once it is durably sequenced.
#[utoipa::path(
    post,
    path = "/v1/entries",
    tag = "submit",
    request_body(
        content = SubmitBody,
        content_type = "application/json",
        description = "One entry. Operator registrations and revocations also need \
                       `Authorization: Bearer <admin token>`"
    ),
    security((), ("admin_token" = [])),
    responses(
        (status = 200, body = SubmitAnswer,
         description = "The entry is durably sequenced, or was logged before (`duplicate`)"),
        (status = 400, body = ErrorBody,
         description = "The body is not `{\"entry\": \"<base64>\"}`, or the entry does not \
                        parse, is not canonical, or its signatures do not verify"),
        (status = 401, body = ErrorBody,
         description = "An operator entry without the right admin token, or the log has none",
         headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 409, body = ErrorBody,
         description = "The entry breaks a rule of the log given the entries before it"),
        (status = 413, body = ErrorBody,
         description = "The body or the entry is over the size limit"),
        (status = 503, body = ErrorBody,
         description = "The submission queue is full (retry after `Retry-After` seconds), \
                        or the log is shutting down or cannot write",
         headers(("Retry-After" = String, description = "Seconds to wait (queue full)"))),
    )
)]
async fn submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let raw = axum::body::to_bytes(body, MAX_SUBMIT_BODY)
        .await
        .map_err(|_| {
            AppError::PayloadTooLarge(format!(
                "the request body is over {MAX_SUBMIT_BODY} bytes (or was cut off); an entry is at most {MAX_ENTRY_SIZE} bytes"
            ))
        })?;
    let body: SubmitBody = serde_json::from_slice(&raw).map_err(|e| {
        AppError::BadRequest(format!(
            "the body must be JSON {{\"entry\": \"<base64 entry bytes>\"}}: {e}"
        ))
    })?;
    let bytes = B64
        .decode(body.entry.as_bytes())
        .map_err(|e| AppError::BadRequest(format!("\"entry\" is not valid base64: {e}")))?;
    if bytes.len() > MAX_ENTRY_SIZE {
        return Err(AppError::PayloadTooLarge(format!(
            "the entry is {} bytes; the most an entry may be is {MAX_ENTRY_SIZE}",
            bytes.len()
        )));
    }
    let entry = Entry::parse(&bytes).map_err(AppError::from_entry_error)?;
    if entry.to_bytes() != bytes {
        return Err(AppError::BadRequest(
            "the entry is not in its canonical encoding; re-encode it with sealwax".into(),
        ));
    }
    let leaf = leaf_hash(&bytes);
    if entry.needs_operator() {
        check_operator(&st, &headers)?;
    }
    // Every rule that needs no curve arithmetic; the verifier checks the
    // signatures themselves, many entries at a time. A duplicate of a
    // logged entry is answered by the sequencer with its first index.
    let checks = entry
        .signature_checks(st.0.log.origin())
        .map_err(AppError::from_entry_error)?;

    let (tx, rx) = oneshot::channel();
    st.0.sequencer.submit(Submission {
        entry,
        checks,
        bytes,
        leaf_hash: leaf,
        queued_at: Instant::now(),
        reply: tx,
    })?;
    let sequenced = rx.await.map_err(|_| {
        AppError::Unavailable("the log shut down before sequencing the entry; submit it again")
    })??;
    Ok(Json(SubmitAnswer::from(sequenced)).into_response())
}

// ----- reads -----

/// The latest signed checkpoint.
#[utoipa::path(
    get,
    path = "/checkpoint",
    tag = "tiles",
    responses(
        (status = 200, body = String, content_type = "text/plain",
         description = "A C2SP signed note: origin, tree size and base64 root hash, then the \
                        log's signature"),
    )
)]
async fn checkpoint(State(st): State<AppState>) -> Response {
    let p = st.0.log.published();
    with_headers(
        p.checkpoint.to_string(),
        "text/plain; charset=utf-8",
        CACHE_SHORT,
    )
}

/// A C2SP hash tile or entry bundle.
#[utoipa::path(
    get,
    path = "/tile/{level}/{index}",
    tag = "tiles",
    params(
        ("level" = String, Path, pattern = "^(entries|[0-9]|[1-5][0-9]|6[0-3])$", example = "0",
         description = "The tile level (`0` to `63`, no leading zeros), or `entries` for an \
                        entry bundle"),
        ("index" = String, Path, pattern = "^(x[0-9]{3}/)*[0-9]{3}(\\.p/[1-9][0-9]{0,2})?$",
         example = "000.p/1", description = "The tile index in C2SP form: groups of 3 digits, all but the last \
                        starting with `x` (`x001/234` is 1234), then `.p/<W>` for a partial \
                        tile of width W (1 to 255). Its slashes are path separators"),
    ),
    responses(
        (status = 200, body = Binary, content_type = "application/octet-stream",
         description = "A hash tile (W hashes of 32 bytes) or an entry bundle (each entry as a \
                        2-byte big-endian length and its bytes); a full tile is immutable"),
        (status = 400, body = ErrorBody, description = "The tile path is malformed"),
        (status = 404, body = ErrorBody,
         description = "The published tree has no such tile (yet)"),
    )
)]
async fn tile(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let rest = path_param(path)?;
    let id = TileId::parse_path(&format!("tile/{rest}"))
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let data = blocking(&st, move |st| st.0.log.tile(&id)).await?;
    let cache = if id.is_full() {
        CACHE_IMMUTABLE
    } else {
        CACHE_SHORT
    };
    Ok(with_headers(data, "application/octet-stream", cache))
}

fn parse_index(s: &str, what: &str) -> Result<u64, AppError> {
    s.parse::<u64>().map_err(|_| {
        AppError::BadRequest(format!(
            "{what} {s:?} is not a number: give a decimal integer from 0 to {}",
            u64::MAX
        ))
    })
}

/// One logged entry.
#[derive(Serialize, ToSchema)]
struct EntryAnswer {
    /// The entry's index.
    index: u64,
    /// The entry's bytes, standard base64.
    #[schema(content_encoding = "base64")]
    entry: String,
    /// The entry's RFC 9162 leaf hash.
    #[schema(value_type = HexHash)]
    leaf_hash: String,
}

/// One logged entry by index.
#[utoipa::path(
    get,
    path = "/v1/entries/{index}",
    tag = "read",
    params(("index" = u64, Path, example = 0, description = "The entry's index")),
    responses(
        (status = 200, body = EntryAnswer, description = "The entry"),
        (status = 400, body = ErrorBody, description = "The index is not a decimal number"),
        (status = 404, body = ErrorBody, description = "The log has no entry at this index"),
    )
)]
async fn get_entry(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let index = parse_index(&path_param(path)?, "index")?;
    let answer = blocking(&st, move |st| {
        let size = st.0.log.published().size;
        if index >= size {
            return Err(AppError::NotFound(format!(
                "no entry at index {index}: the log has {size} entries"
            )));
        }
        let bytes =
            st.0.log
                .storage()
                .entry(index)?
                .ok_or_else(|| AppError::internal("entry missing from storage", index))?;
        Ok(EntryAnswer {
            index,
            leaf_hash: hex::encode(leaf_hash(&bytes)),
            entry: B64.encode(&bytes),
        })
    })
    .await?;
    Ok(with_headers(
        Json(answer),
        "application/json",
        CACHE_IMMUTABLE,
    ))
}

/// The query of `GET /v1/proof/inclusion`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InclusionQuery {
    /// The leaf's index (smaller than `tree_size`).
    #[param(example = 0)]
    index: u64,
    /// The size of the tree the proof is for (at most the log's size).
    #[param(example = 1)]
    tree_size: u64,
}

/// An RFC 9162 inclusion proof.
#[derive(Serialize, ToSchema)]
struct InclusionAnswer {
    /// The leaf's index.
    index: u64,
    /// The tree size the proof is for.
    tree_size: u64,
    /// The leaf hash at `index`.
    #[schema(value_type = HexHash)]
    leaf_hash: String,
    /// The proof, from the leaf up.
    #[schema(value_type = Vec<HexHash>)]
    proof: Vec<String>,
}

/// The inclusion proof of a leaf in a tree of a given size.
#[utoipa::path(
    get,
    path = "/v1/proof/inclusion",
    tag = "read",
    params(InclusionQuery),
    responses(
        (status = 200, body = InclusionAnswer, description = "The proof"),
        (status = 400, body = ErrorBody,
         description = "A parameter is missing or not a number, `tree_size` is larger than \
                        the log, or `index` is not smaller than `tree_size`"),
    )
)]
async fn inclusion_proof(
    State(st): State<AppState>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let InclusionQuery { index, tree_size } = query_param(q)?;
    let (leaf, proof) = blocking(&st, move |st| st.0.log.inclusion_proof(index, tree_size)).await?;
    Ok(with_headers(
        Json(InclusionAnswer {
            index,
            tree_size,
            leaf_hash: hex::encode(leaf),
            proof: hexes(&proof),
        }),
        "application/json",
        CACHE_SHORT,
    ))
}

/// The query of `GET /v1/proof/consistency`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConsistencyQuery {
    /// The older tree size (at least 1).
    #[param(minimum = 1, example = 1)]
    from: u64,
    /// The newer tree size (at least `from`, at most the log's size).
    #[param(example = 2)]
    to: u64,
}

/// An RFC 9162 consistency proof.
#[derive(Serialize, ToSchema)]
struct ConsistencyAnswer {
    /// The older tree size.
    from: u64,
    /// The newer tree size.
    to: u64,
    /// The proof.
    #[schema(value_type = Vec<HexHash>)]
    proof: Vec<String>,
}

/// The consistency proof between two tree sizes.
#[utoipa::path(
    get,
    path = "/v1/proof/consistency",
    tag = "read",
    params(ConsistencyQuery),
    responses(
        (status = 200, body = ConsistencyAnswer, description = "The proof"),
        (status = 400, body = ErrorBody,
         description = "A parameter is missing or not a number, `from` is 0 or larger than \
                        `to`, or `to` is larger than the log"),
    )
)]
async fn consistency_proof(
    State(st): State<AppState>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let ConsistencyQuery { from, to } = query_param(q)?;
    let proof = blocking(&st, move |st| st.0.log.consistency_proof(from, to)).await?;
    Ok(with_headers(
        Json(ConsistencyAnswer {
            from,
            to,
            proof: hexes(&proof),
        }),
        "application/json",
        CACHE_SHORT,
    ))
}

/// One registration or revocation of a publisher's key.
#[derive(Serialize, ToSchema)]
struct KeyEventAnswer {
    /// The event's index in the log.
    index: u64,
    /// `registration` or `revocation`.
    #[schema(value_type = String, pattern = "^(registration|revocation)$")]
    kind: &'static str,
    /// The key: the base64 line of a Minisign public key.
    key: String,
    /// The Minisign key ID: 16 uppercase hex digits.
    #[schema(pattern = "^[0-9A-F]{16}$")]
    key_id: String,
    /// SHA-256 of the key's bytes: its identity in sealwax.
    #[schema(value_type = HexHash)]
    key_hash: String,
    /// `claim`, `chain` or `operator` for a registration; `key` or `operator` for a revocation.
    #[schema(value_type = String, pattern = "^(claim|chain|operator|key)$")]
    authorization: &'static str,
    /// The key hash of the key that signed a `chain` registration or a `key` revocation.
    #[schema(value_type = Option<HexHash>)]
    authorized_by: Option<String>,
    /// `retired` or `compromised` for a revocation; null for a registration.
    #[schema(value_type = Option<String>, pattern = "^(retired|compromised)$")]
    reason: Option<&'static str>,
    /// The entry's bytes, standard base64.
    #[schema(content_encoding = "base64")]
    entry: String,
    /// The entry's inclusion proof at `tree_size`, from the leaf up.
    #[schema(value_type = Vec<HexHash>)]
    inclusion_proof: Vec<String>,
}

/// A publisher's key history.
#[derive(Serialize, ToSchema)]
struct PublisherKeysAnswer {
    /// The publisher.
    publisher: String,
    /// The tree size of `checkpoint`, at which the proofs are.
    tree_size: u64,
    /// The signed checkpoint the proofs lead to.
    checkpoint: String,
    /// The registrations and revocations from index `from` on, in index
    /// order: all of them, or the first [`KEY_EVENTS_PER_PAGE`].
    events: Vec<KeyEventAnswer>,
    /// Set when more events follow: ask again with `?from=` this index.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

/// Most key events in one answer of `GET /v1/publishers/<p>/keys`.
pub const KEY_EVENTS_PER_PAGE: usize = 1000;

/// The query of `GET /v1/publishers/<p>/keys`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PublisherKeysQuery {
    /// The first log index to answer events from (the `next` of the page before).
    #[param(example = 0)]
    from: Option<u64>,
}

/// A publisher's key history: its registrations and revocations, with
/// proofs, a page of at most [`KEY_EVENTS_PER_PAGE`] at a time.
#[utoipa::path(
    get,
    path = "/v1/publishers/{publisher}/keys",
    tag = "read",
    params(
        ("publisher" = String, Path, pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "alice",
         description = "The publisher name"),
        PublisherKeysQuery,
    ),
    responses(
        (status = 200, body = PublisherKeysAnswer, description = "The key history"),
        (status = 400, body = ErrorBody, description = "The publisher name is not valid"),
        (status = 404, body = ErrorBody, description = "The publisher has no keys in this log"),
    )
)]
async fn publisher_keys(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    q: Result<Query<PublisherKeysQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let publisher = path_param(path)?;
    sealwax_proto::entry::validate_publisher(&publisher)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let from = query_param(q)?.from.unwrap_or(0);
    let answer = blocking(&st, move |st| {
        let log = &st.0.log;
        let published = log.published();
        // One more than a page, to know whether another follows.
        let mut indexes: Vec<u64> = log
            .storage()
            .key_events_page(&publisher, from, KEY_EVENTS_PER_PAGE + 1)?
            .into_iter()
            .filter(|i| *i < published.size)
            .collect();
        let next = (indexes.len() > KEY_EVENTS_PER_PAGE).then(|| indexes[KEY_EVENTS_PER_PAGE]);
        indexes.truncate(KEY_EVENTS_PER_PAGE);
        if indexes.is_empty() && from == 0 {
            return Err(AppError::NotFound(format!(
                "publisher {publisher:?} has no keys in this log"
            )));
        }
        let reader = log.reader();
        let mut events = Vec::with_capacity(indexes.len());
        for index in indexes {
            let bytes = log
                .storage()
                .entry(index)?
                .ok_or_else(|| AppError::internal("key event entry missing", index))?;
            let entry = Entry::parse(&bytes)
                .map_err(|e| AppError::internal("a logged key event does not parse", e))?;
            let kind = entry.kind_name();
            let (key, authorization, authorized_by, reason) = match &entry {
                Entry::KeyRegistration(r) => {
                    let by = match &r.authorization {
                        Authorization::Chain { by, .. } => Some(hex::encode(by.key_hash())),
                        Authorization::Claim | Authorization::Operator => None,
                    };
                    (&r.key, r.authorization.kind(), by, None)
                }
                Entry::KeyRevocation(r) => {
                    let by = match &r.authorization {
                        RevocationAuthorization::Key { by, .. } => Some(hex::encode(by.key_hash())),
                        RevocationAuthorization::Operator => None,
                    };
                    (&r.key, r.authorization.kind(), by, Some(r.reason.as_str()))
                }
                Entry::Signature(_) => {
                    return Err(AppError::internal(
                        "a signature entry is indexed as a key event",
                        index,
                    ))
                }
            };
            let proof = merkle::prove_inclusion(&reader, index, published.size)
                .map_err(|e| reader.fail(e))?;
            events.push(KeyEventAnswer {
                index,
                kind,
                key: key.to_base64(),
                key_id: key.key_id_hex(),
                key_hash: hex::encode(key.key_hash()),
                authorization,
                authorized_by,
                reason,
                entry: B64.encode(&bytes),
                inclusion_proof: hexes(&proof),
            });
        }
        Ok(PublisherKeysAnswer {
            publisher,
            tree_size: published.size,
            checkpoint: published.checkpoint.to_string(),
            events,
            next,
        })
    })
    .await?;
    Ok(with_headers(Json(answer), "application/json", CACHE_SHORT))
}

/// The query of `GET /v1/signatures`: either `sha256`, or `publisher` and
/// `package` (and optionally `version`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SignaturesQuery {
    /// The artifact's SHA-256 (64 hex digits); alone.
    #[param(pattern = "^[0-9a-fA-F]{64}$")]
    sha256: Option<String>,
    /// The publisher; with `package`.
    #[param(example = "alice")]
    publisher: Option<String>,
    /// The package; with `publisher`.
    #[param(example = "demo")]
    package: Option<String>,
    /// The version; optional, with `publisher` and `package`.
    #[param(example = "1.0")]
    version: Option<String>,
}

/// One logged release signature.
#[derive(Serialize, ToSchema)]
struct SignatureAnswer {
    /// The signature entry's index.
    index: u64,
    /// The publisher.
    publisher: String,
    /// The package.
    package: String,
    /// The version.
    version: String,
    /// The artifact's SHA-256.
    #[schema(value_type = HexHash)]
    sha256: String,
    /// The key hash of the signing key.
    #[schema(value_type = HexHash)]
    key_hash: String,
    /// The entry's bytes, standard base64.
    #[schema(content_encoding = "base64")]
    entry: String,
}

/// The answer to a signature lookup.
#[derive(Serialize, ToSchema)]
struct SignaturesAnswer {
    /// The matching signatures in index order (the newest 1,000).
    signatures: Vec<SignatureAnswer>,
}

/// Logged release signatures, by artifact hash or by release.
#[utoipa::path(
    get,
    path = "/v1/signatures",
    tag = "read",
    params(SignaturesQuery),
    responses(
        (status = 200, body = SignaturesAnswer, description = "The signatures (maybe none)"),
        (status = 400, body = ErrorBody,
         description = "Neither `sha256` alone nor `publisher` and `package` were given, or \
                        `sha256` is not 64 hex digits"),
    )
)]
async fn signatures(
    State(st): State<AppState>,
    q: Result<Query<SignaturesQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query_param(q)?;
    enum Lookup {
        Sha([u8; 32]),
        Release(String, String, Option<String>),
    }
    let lookup = match (q.sha256, q.publisher, q.package) {
        (Some(s), None, None) if q.version.is_none() => Lookup::Sha(parse_sha256(&s)?),
        (None, Some(p), Some(n)) => Lookup::Release(p, n, q.version),
        _ => {
            return Err(AppError::BadRequest(
                "give either sha256=<64 hex digits> or publisher=<p>&package=<n>[&version=<v>]"
                    .into(),
            ))
        }
    };
    let answer = blocking(&st, move |st| {
        let log = &st.0.log;
        let size = log.published().size;
        let mut indexes: Vec<u64> = match &lookup {
            Lookup::Sha(h) => log.storage().signatures_by_sha256(h)?,
            Lookup::Release(p, n, v) => log.storage().signatures_by_release(p, n, v.as_deref())?,
        };
        indexes.retain(|i| *i < size);
        let skip = indexes.len().saturating_sub(MAX_SIGNATURES_PER_LOOKUP);
        let mut signatures = Vec::new();
        for index in indexes.into_iter().skip(skip) {
            let bytes = log
                .storage()
                .entry(index)?
                .ok_or_else(|| AppError::internal("signature entry missing", index))?;
            let Ok(Entry::Signature(s)) = Entry::parse(&bytes) else {
                return Err(AppError::internal(
                    "an indexed signature does not parse",
                    index,
                ));
            };
            let release = s
                .release()
                .map_err(|e| AppError::internal("a logged release does not parse", e))?;
            signatures.push(SignatureAnswer {
                index,
                publisher: release.publisher,
                package: release.package,
                version: release.version,
                sha256: hex::encode(release.sha256),
                key_hash: hex::encode(s.key.key_hash()),
                entry: B64.encode(&bytes),
            });
        }
        Ok(SignaturesAnswer { signatures })
    })
    .await?;
    Ok(with_headers(Json(answer), "application/json", CACHE_SHORT))
}

/// The log's verifier key.
#[utoipa::path(
    get,
    path = "/v1/log-key",
    tag = "operations",
    responses(
        (status = 200, body = String, content_type = "text/plain",
         description = "The verifier key `<origin>+<key ID>+<base64 key>` and a newline"),
    )
)]
async fn log_key(State(st): State<AppState>) -> Response {
    with_headers(
        format!("{}\n", st.0.log.key().vkey()),
        "text/plain; charset=utf-8",
        CACHE_SHORT,
    )
}

/// The answer of `GET /healthz`.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
    /// The published tree size.
    tree_size: u64,
}

/// Liveness: whether the log can take submissions.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, body = Health, description = "The log is up"),
        (status = 503, body = ErrorBody,
         description = "The log is shutting down or cannot write to its storage"),
    )
)]
async fn healthz(State(st): State<AppState>) -> Result<Response, AppError> {
    if !st.0.sequencer.healthy() {
        return Err(AppError::Unavailable(
            "the log is shutting down or cannot write to its storage",
        ));
    }
    Ok(with_headers(
        Json(Health {
            status: "ok",
            tree_size: st.0.log.published().size,
        }),
        "application/json",
        CACHE_NONE,
    ))
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, body = String, content_type = "text/plain",
         description = "Prometheus text format 0.0.4"),
    )
)]
async fn metrics(State(st): State<AppState>) -> Response {
    with_headers(
        st.0.metrics.render(),
        "text/plain; version=0.0.4; charset=utf-8",
        CACHE_NONE,
    )
}

// ----- artifacts -----

fn artifact_store(st: &AppState) -> Result<&ArtifactStore, AppError> {
    st.0.artifacts
        .as_ref()
        .ok_or_else(|| AppError::NotFound("this log keeps no artifacts".into()))
}

/// The answer to an artifact upload.
#[derive(Serialize, ToSchema)]
struct ArtifactAnswer {
    /// The artifact's SHA-256.
    #[schema(value_type = HexHash)]
    sha256: String,
    /// Its size in bytes.
    size: u64,
}

/// Stores an artifact whose signature is logged.
#[utoipa::path(
    put,
    path = "/v1/artifacts/{sha256}",
    tag = "artifacts",
    params(
        ("sha256" = String, Path, pattern = "^[0-9a-fA-F]{64}$",
         description = "The artifact's SHA-256"),
    ),
    request_body(content = Binary, content_type = "application/octet-stream",
                 description = "The artifact's bytes"),
    responses(
        (status = 200, body = ArtifactAnswer, description = "The artifact was already stored"),
        (status = 201, body = ArtifactAnswer, description = "The artifact is stored"),
        (status = 400, body = ErrorBody,
         description = "`sha256` is not 64 hex digits, or the body does not hash to it or was \
                        cut off"),
        (status = 404, body = ErrorBody, description = "This log keeps no artifacts"),
        (status = 409, body = ErrorBody,
         description = "No signature of this artifact is logged (log one first), or another \
                        upload of it is in progress (retry once it has finished)"),
        (status = 413, body = ErrorBody,
         description = "The artifact is over the size limit, or its publisher's artifacts \
                        would go over the per-publisher quota"),
        (status = 503, body = ErrorBody,
         description = "Every artifact transfer slot is taken: retry after `Retry-After` seconds",
         headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 507, body = ErrorBody,
         description = "The artifact store is full (its quota or its disk); the signature \
                        stays logged"),
    )
)]
async fn put_artifact(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    conn: Option<axum::Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let conn = conn.map(|axum::Extension(c)| c);
    let store = artifact_store(&st)?.clone();
    let sha = parse_sha256(&path_param(path)?)?;
    let expected = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = expected {
        if len > store.max_bytes() {
            return Err(AppError::PayloadTooLarge(format!(
                "the artifact is {len} bytes, over this log's limit of {} bytes",
                store.max_bytes()
            )));
        }
    }
    let owner: Option<Option<String>> = blocking(&st, move |st| {
        let size = st.0.log.published().size;
        let logged =
            st.0.log
                .storage()
                .signatures_by_sha256(&sha)?
                .iter()
                .any(|i| *i < size);
        let owner: Option<Option<String>> =
            logged.then(|| crate::server::artifact_owner(st.0.log.storage(), &sha));
        Ok(owner) as Result<_, AppError>
    })
    .await?;
    let Some(owner) = owner else {
        return Err(AppError::Conflict(format!(
            "no signature of the artifact {} is logged: log its signature first (`sealwax publish`), then upload it",
            hex::encode(sha)
        )));
    };
    let owner = owner.ok_or_else(|| {
        AppError::internal("a logged artifact has no publisher", hex::encode(sha))
    })?;
    let stored = store
        .put(sha, &owner, expected, body, move || {
            if let Some(c) = conn {
                c.transfer_done();
            }
        })
        .await?;
    let status = if stored.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(ArtifactAnswer {
            sha256: hex::encode(sha),
            size: stored.size,
        }),
    )
        .into_response())
}

/// A stored artifact.
#[utoipa::path(
    get,
    path = "/v1/artifacts/{sha256}",
    tag = "artifacts",
    params(
        ("sha256" = String, Path, pattern = "^[0-9a-fA-F]{64}$",
         description = "The artifact's SHA-256"),
    ),
    responses(
        (status = 200, body = Binary, content_type = "application/octet-stream",
         description = "The artifact's bytes (immutable)"),
        (status = 400, body = ErrorBody, description = "`sha256` is not 64 hex digits"),
        (status = 404, body = ErrorBody,
         description = "No such artifact is stored, or this log keeps no artifacts"),
        (status = 503, body = ErrorBody,
         description = "Every artifact transfer slot is taken: retry after `Retry-After` seconds",
         headers(("Retry-After" = String, description = "Seconds to wait"))),
    )
)]
async fn get_artifact(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let store = artifact_store(&st)?;
    let sha = parse_sha256(&path_param(path)?)?;
    let Some((file, len)) = store.open_read(&sha).await? else {
        return Err(AppError::NotFound(format!(
            "no artifact with SHA-256 {} is stored in this log",
            hex::encode(sha)
        )));
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut r = with_headers(body, "application/octet-stream", CACHE_IMMUTABLE);
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(r)
}
