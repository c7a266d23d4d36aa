//! A front-end that edits the log's answers: the attacker who sits between
//! an installer and an honest log (a CDN, a corporate proxy, a registry
//! mirror). Every request is forwarded to the log; `edit` may rewrite the
//! body of any answer, and `forge` may answer in the log's place (an error
//! text of its choosing, or a body that never ends).

use std::net::TcpListener;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Rewrites an answer's body: given the request's path and query and the
/// log's body, `Some(new body)` replaces it.
pub type Edit = dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync;

/// An answer the proxy makes up instead of asking the log.
pub enum Forged {
    /// This status, with this body (and `Content-Type: application/json`
    /// when it parses as JSON).
    Answer(u16, Vec<u8>),
    /// 200 with a chunked body of `x`s that never ends: a client that does
    /// not cut it off reads for ever.
    Endless,
}

/// Decides, from the request's path and query, whether to forge the answer.
pub type Forge = dyn Fn(&str) -> Option<Forged> + Send + Sync;

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
    forge: Arc<Forge>,
}

fn forged(f: Forged) -> Response {
    match f {
        Forged::Answer(status, body) => {
            let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
            let mut r = Response::new(Body::from(body));
            *r.status_mut() =
                axum::http::StatusCode::from_u16(status).expect("a valid status code");
            if json {
                r.headers_mut().insert(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                );
            }
            r
        }
        Forged::Endless => {
            let chunk = axum::body::Bytes::from(vec![b'x'; 64 << 10]);
            let stream = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            Response::new(Body::from_stream(stream))
        }
    }
}

async fn forward(State(s): State<Shared>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if let Some(f) = (s.forge)(&path) {
        return forged(f);
    }
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
        EditingProxy::spawn(upstream, Arc::new(edit), Arc::new(|_: &str| None))
    }

    /// Starts a proxy in front of `upstream` that answers in its place
    /// wherever `forge` says so, and forwards everything else untouched.
    pub fn forging(
        upstream: &str,
        forge: impl Fn(&str) -> Option<Forged> + Send + Sync + 'static,
    ) -> EditingProxy {
        EditingProxy::spawn(
            upstream,
            Arc::new(|_: &str, _: &[u8]| None),
            Arc::new(forge),
        )
    }

    fn spawn(upstream: &str, edit: Arc<Edit>, forge: Arc<Forge>) -> EditingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            edit,
            forge,
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
