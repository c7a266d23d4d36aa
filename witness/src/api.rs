//! The HTTP API: [`app`] builds the router, apart from any socket, so tests
//! drive it with `oneshot`.
//!
//! | method, path | answer |
//! |---|---|
//! | `POST /add-checkpoint` | C2SP tlog-witness: the cosignature line(s), or 400, 403, 404, 409 (`text/x.tlog.size`), 422 |
//! | `GET /<hex SHA-256 of origin>/checkpoint` | the last checkpoint cosigned for that log, with the cosignature (404: none) |
//! | `GET /healthz` | `ok` |
//! | `GET /metrics` | Prometheus text |
//!
//! Every refusal has a `text/plain` body saying what was wrong, except 409,
//! whose body is the witness's size and a newline, as the spec says.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::WitnessError;
use crate::metrics::Metrics;
use crate::witness::Witness;

/// The largest request body: 63 proof lines and a checkpoint with up to
/// 100 signature lines fit in far less.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The content type of a 409's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The witness.
    pub witness: Arc<Witness>,
    /// Its metrics.
    pub metrics: Arc<Metrics>,
}

/// A text response with `content_type`.
fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

impl IntoResponse for WitnessError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            WitnessError::SizeMismatch { stored } => {
                text(status, SIZE_CONTENT_TYPE, format!("{stored}\n"))
            }
            e if status.is_server_error() => {
                tracing::error!(error = %e, "cannot answer an add-checkpoint request");
                text(
                    status,
                    "text/plain; charset=utf-8",
                    "the witness failed; its operator can read why in its log\n".into(),
                )
            }
            e => text(status, "text/plain; charset=utf-8", format!("{e}\n")),
        }
    }
}

/// `POST /add-checkpoint`.
async fn add_checkpoint(State(st): State<AppState>, body: String) -> Response {
    match st.witness.add_checkpoint(&body).await {
        Ok(lines) => text(StatusCode::OK, "text/plain; charset=utf-8", lines),
        Err(e) => e.into_response(),
    }
}

/// `GET /<origin hash>/checkpoint` (tlog-witness's monitoring API).
async fn checkpoint(
    State(st): State<AppState>,
    Path(origin_hash): Path<String>,
) -> Result<Response, WitnessError> {
    match st.witness.cosigned_checkpoint(&origin_hash)? {
        Some(note) => Ok(text(StatusCode::OK, "text/plain; charset=utf-8", note)),
        None => Ok(not_found().await),
    }
}

/// `GET /healthz`.
async fn healthz() -> Response {
    text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
}

/// `GET /metrics`.
async fn metrics(State(st): State<AppState>) -> Response {
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        st.metrics.render(),
    )
}

/// Any other path.
async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "no such path or log: this witness serves POST /add-checkpoint, GET /<hex SHA-256 of a log origin>/checkpoint, GET /healthz and GET /metrics\n"
            .into(),
    )
}

/// Counts every answer by status.
async fn count(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    metrics.request(resp.status().as_u16());
    resp
}

/// The router, with the body limit and the time limit per request.
pub fn app(state: AppState, request_timeout: Duration) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(from_fn_with_state(state.metrics.clone(), count))
        .with_state(state)
}
