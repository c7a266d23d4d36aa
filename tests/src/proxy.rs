//! A front-end that edits the log's answers: the attacker who sits between
//! an installer and an honest log (a CDN, a corporate proxy, a registry
//! mirror). Every request is forwarded to the log; `edit` may rewrite the
//! body of any answer.

use std::net::TcpListener;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Rewrites an answer's body: given the request's path and query and the
/// log's body, `Some(new body)` replaces it.
pub type Edit = dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync;

/// A running proxy on loopback, stopped on drop.
pub struct EditingProxy {
    /// Its base URL.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    http: reqwest::Client,
    edit: Arc<Edit>,
}

async fn forward(State(s): State<Shared>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = to_bytes(req.into_body(), 1 << 30).await.unwrap_or_default();
    let mut out = s
        .http
        .request(method, format!("{}{path}", s.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let Ok(resp) = out.send().await else {
        return (axum::http::StatusCode::BAD_GATEWAY, "upstream down").into_response();
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let body = (s.edit)(&path, &bytes).unwrap_or_else(|| bytes.to_vec());
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            r.headers_mut().insert(name, value.clone());
        }
    }
    r
}

impl EditingProxy {
    /// Starts a proxy in front of `upstream` (a base URL) that applies `edit`.
    pub fn start(
        upstream: &str,
        edit: impl Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> EditingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            edit: Arc::new(edit),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the proxy");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new().fallback(forward).with_state(shared);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("the proxy serves");
            });
        });
        EditingProxy {
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for EditingProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
