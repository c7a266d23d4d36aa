//! Operations: `GET /v1/log-key`, `/healthz` and `/metrics`.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use sealwax_proto::wire::{ErrorBody, Health};

use super::{with_headers, AppState, CACHE_NONE, CACHE_SHORT};
use crate::error::AppError;

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
pub(crate) async fn log_key(State(st): State<AppState>) -> Response {
    with_headers(
        format!("{}\n", st.0.log.key().vkey()),
        "text/plain; charset=utf-8",
        CACHE_SHORT,
    )
}

/// Liveness: whether the log can take submissions.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, body = Health, description = "The log is up"),
        (status = 503, body = ErrorBody,
         description = "The log is shutting down or cannot write to its storage, or its \
                        --mirror stopped on a conflict or is stuck past --mirror-stuck-secs"),
    )
)]
pub(crate) async fn healthz(State(st): State<AppState>) -> Result<Response, AppError> {
    if !st.0.sequencer.healthy() {
        return Err(AppError::Unavailable(
            "the log is shutting down or cannot write to its storage",
        ));
    }
    if let Some(m) = &st.0.mirror {
        m.health().map_err(AppError::MirrorStuck)?;
    }
    Ok(with_headers(
        Json(Health {
            status: "ok".to_string(),
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
pub(crate) async fn metrics(State(st): State<AppState>) -> Response {
    let mut text = st.0.metrics.render();
    if let Some(w) = &st.0.witnessing {
        w.render(&mut text);
    }
    if let Some(m) = &st.0.mirror {
        m.render(&mut text);
    }
    with_headers(text, "text/plain; version=0.0.4; charset=utf-8", CACHE_NONE)
}
