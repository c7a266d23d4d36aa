//! What the router wraps the handlers in: time limits, the artifact
//! transfer gate, request metrics and the fallbacks.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::AppError;
use crate::server::ConnHandle;

pub(super) async fn time_limit(
    State(limit): State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => AppError::Timeout(limit.as_secs()).into_response(),
    }
}

/// Admits an artifact request to one of the artifact slots (or answers 503
/// at once); its connection gives back its general slot and closes after
/// the transfer, so slow transfers never hold the slots other routes need.
pub(super) async fn artifact_gate(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
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

pub(super) async fn count_request(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
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

pub(super) async fn not_found(req: Request) -> AppError {
    AppError::NotFound(format!(
        "no such path {:?}: see the sealwax-log API (GET /checkpoint, POST /v1/entries, ...)",
        req.uri().path()
    ))
}

pub(super) async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
