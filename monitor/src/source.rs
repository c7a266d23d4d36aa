//! Reads a log through the C2SP `tlog-tiles` read API, and nothing else.
//!
//! `GET <log>/checkpoint`, `GET <log>/tile/<L>/<N>[.p/<W>]` and
//! `GET <log>/tile/entries/<N>[.p/<W>]`. A log may delete a partial tile
//! once the full one exists (C2SP tlog-tiles), so a partial tile that is
//! gone (404) is read from the full tile and cut to its width. Connection
//! errors and 5xx answers are retried a few times before giving up.
//!
//! Every body is read up to a limit, the most such a body can be, and the
//! read stops there ([`MonitorError::TooLarge`]), so a log that sends an
//! endless answer costs a bounded amount of memory: [`MAX_CHECKPOINT_BYTES`]
//! for a checkpoint, 32 bytes a hash for a hash tile (8 KiB when full), and
//! 2 + `MAX_ENTRY_SIZE` bytes an entry for an entry bundle (about 16 MiB
//! when full): [`max_tile_bytes`], shared with any reader through
//! [`sealwax_proto::tile`], as is [`cut_tile`].

use std::time::Duration;

use sealwax_proto::tile::{cut_tile, TileId, TileLevel, TILE_WIDTH};

use crate::MonitorError;

/// The largest checkpoint read: a few lines, and at most 100 signature lines.
pub const MAX_CHECKPOINT_BYTES: usize = 64 * 1024;

pub use sealwax_proto::tile::max_tile_bytes;

/// The largest JSON API answer read (a key history page and its record).
pub const MAX_API_BYTES: usize = 4 << 20;

fn what(id: TileId) -> &'static str {
    match id.level {
        TileLevel::Hashes(_) => "a hash tile",
        TileLevel::Entries => "an entry bundle",
    }
}

const ATTEMPTS: u32 = 3;
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// An HTTP reader of one log's checkpoint, tiles and entry bundles: the
/// log itself, or a mirror of them (`--tiles`) with the log's JSON API
/// elsewhere.
#[derive(Clone, Debug)]
pub struct LogSource {
    base: reqwest::Url,
    /// The log's JSON API: the base, unless the tiles come from a mirror.
    api: Option<reqwest::Url>,
    http: reqwest::Client,
}

/// `url` as a base URL (`http(s)://host[:port][/prefix]/`).
fn base_url(url: &str) -> Result<reqwest::Url, MonitorError> {
    let bad = || MonitorError::LogUrl {
        url: url.to_string(),
    };
    let mut base = reqwest::Url::parse(url).map_err(|_| bad())?;
    if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
        return Err(bad());
    }
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    Ok(base)
}

impl LogSource {
    /// A reader of the log at `url` (`http(s)://host[:port][/prefix]`).
    pub fn new(url: &str) -> Result<LogSource, MonitorError> {
        let base = base_url(url)?;
        let mut s = LogSource::mirror(url)?;
        s.api = Some(base);
        Ok(s)
    }

    /// A reader of a mirror of a log's checkpoint, tiles and bundles at
    /// `url` (a bucket, or a CDN in front of one), with no JSON API until
    /// [`LogSource::with_api`] names the log's.
    pub fn mirror(url: &str) -> Result<LogSource, MonitorError> {
        let base = base_url(url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("sealwax-monitor/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with static settings");
        Ok(LogSource {
            base,
            api: None,
            http,
        })
    }

    /// The same reader, asking the log at `url` for its JSON API.
    pub fn with_api(mut self, url: &str) -> Result<LogSource, MonitorError> {
        self.api = Some(base_url(url)?);
        Ok(self)
    }

    /// Where the checkpoint and tiles are read: the log, or its mirror.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// The log's JSON API base URL, if the monitor knows one.
    pub fn api_url(&self) -> Option<&str> {
        self.api.as_ref().map(|u| u.as_str())
    }

    /// `GET /checkpoint`: the signed note text.
    pub async fn checkpoint(&self) -> Result<String, MonitorError> {
        let url = self.base.join("checkpoint").expect("a relative path joins");
        let body = self
            .get(&url, MAX_CHECKPOINT_BYTES, "a checkpoint")
            .await?
            .ok_or_else(|| MonitorError::Unreachable {
                url: url.to_string(),
                reason: "404 Not Found: is this a sealwax log URL?".to_string(),
            })?;
        String::from_utf8(body).map_err(|_| MonitorError::Unreachable {
            url: url.to_string(),
            reason: "the checkpoint is not UTF-8 text".to_string(),
        })
    }

    /// The tile `id` (hash tile or entry bundle) with its width; a missing
    /// partial tile is read from the full one and cut to the width.
    pub async fn tile(&self, id: TileId) -> Result<Vec<u8>, MonitorError> {
        let url = self.base.join(&id.path()).expect("a tile path joins");
        if let Some(body) = self.get(&url, max_tile_bytes(id), what(id)).await? {
            return Ok(body);
        }
        if !id.is_full() {
            let full = TileId {
                width: TILE_WIDTH as u16,
                ..id
            };
            let full_url = self.base.join(&full.path()).expect("a tile path joins");
            if let Some(body) = self
                .get(&full_url, max_tile_bytes(full), what(full))
                .await?
            {
                return Ok(cut_tile(id, body));
            }
        }
        Err(MonitorError::Unreachable {
            url: url.to_string(),
            reason: "404 Not Found: the log does not serve a tile its checkpoint needs".to_string(),
        })
    }

    /// `GET <log>/<path>` of the log's JSON API, parsed: only to name what
    /// differs in a directory the monitor recomputed ([`crate::directory`]).
    pub async fn api_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, MonitorError> {
        let Some(api) = &self.api else {
            return Err(MonitorError::Unreachable {
                url: format!("{}{path}", self.base),
                reason: "the monitor reads a mirror and knows no log API: pass --log URL with --tiles to have it named".into(),
            });
        };
        let url = api.join(path).expect("a relative path joins");
        let unreachable = |reason: String| MonitorError::Unreachable {
            url: url.to_string(),
            reason,
        };
        let body = self
            .get(&url, MAX_API_BYTES, "a JSON API answer")
            .await?
            .ok_or_else(|| {
                unreachable("404 Not Found: no JSON API here (a mirror serves none)".into())
            })?;
        serde_json::from_slice(&body)
            .map_err(|e| unreachable(format!("the answer does not parse: {e}")))
    }

    /// GET with retries, reading at most `limit` bytes of body; `Ok(None)` for 404.
    async fn get(
        &self,
        url: &reqwest::Url,
        limit: usize,
        what: &'static str,
    ) -> Result<Option<Vec<u8>>, MonitorError> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(RETRY_DELAY * attempt).await;
            }
            match self.http.get(url.clone()).send().await {
                Ok(resp) if resp.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Ok(resp) if resp.status().is_success() => match read_limited(resp, limit).await {
                    Ok(Some(b)) => return Ok(Some(b)),
                    Ok(None) => {
                        return Err(MonitorError::TooLarge {
                            url: url.to_string(),
                            what,
                            limit,
                        })
                    }
                    Err(e) => last = format!("reading the body: {}", error_chain(&e)),
                },
                Ok(resp) if resp.status().is_server_error() => {
                    last = format!("HTTP {}", resp.status())
                }
                Ok(resp) => {
                    return Err(MonitorError::Unreachable {
                        url: url.to_string(),
                        reason: format!("HTTP {}", resp.status()),
                    })
                }
                Err(e) => last = error_chain(&e),
            }
        }
        Err(MonitorError::Unreachable {
            url: url.to_string(),
            reason: format!("{last} (after {ATTEMPTS} attempts)"),
        })
    }
}

/// The body of `resp`, or `None` as soon as it is longer than `limit` bytes.
async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(resp.content_length().map_or(0, |n| n as usize));
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// An error with its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(LogSource::new("ftp://x").is_err());
        assert!(LogSource::new("not a url").is_err());
        let s = LogSource::new("http://127.0.0.1:1/prefix").unwrap();
        assert_eq!(s.url(), "http://127.0.0.1:1/prefix/");
        assert_eq!(s.api_url(), Some("http://127.0.0.1:1/prefix/"));
        let m = LogSource::mirror("http://127.0.0.1:2/bucket").unwrap();
        assert_eq!(m.api_url(), None);
        let m = m.with_api("http://127.0.0.1:1").unwrap();
        assert_eq!(
            (m.url(), m.api_url()),
            ("http://127.0.0.1:2/bucket/", Some("http://127.0.0.1:1/"))
        );
        assert!(LogSource::mirror("http://x")
            .unwrap()
            .with_api("ftp://y")
            .is_err());
    }
}
