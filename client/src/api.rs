//! The HTTP API of `sealwax-log`, as the client uses it (blocking reqwest
//! over rustls). Everything the log says is checked by the callers; this
//! module only moves bytes and decodes JSON (the bodies of
//! [`sealwax_proto::wire`], hashes already typed), mapping transport failures to
//! [`ClientError::LogUnreachable`], 5xx to [`ClientError::LogHttp`] and
//! undecodable answers to [`ClientError::LogMisbehaving`].

use std::io::Read;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use sealwax_proto::merkle::{self, HashReader as _};
use sealwax_proto::tile::{
    cut_tile, max_tile_bytes, TileHashReader, TileId, TileLevel, TileReader, TILE_WIDTH,
};
use sealwax_proto::wire::{
    self, ConsistencyAnswer, ErrorBody, InclusionAnswer, LimitsAnswer, PublisherKeysAnswer,
    ReleaseAnswer, SignatureAnswer, SignaturesAnswer, SubmitAnswer, SubmitBody,
};
use sealwax_proto::Hash;

use crate::error::{ClientError, Result};

/// The hash tiles of a mirror, read over the client's HTTP connection. The
/// first failed read is kept, so the command reports it rather than the
/// proof's "hash unavailable".
struct MirrorTiles<'a> {
    client: &'a LogClient,
    base: &'a str,
    failed: std::cell::RefCell<Option<ClientError>>,
}

impl TileReader for MirrorTiles<'_> {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> sealwax_proto::Result<Vec<u8>> {
        self.client
            .mirror_tile(self.base, level, index, width)
            .map_err(|e| {
                self.failed.borrow_mut().get_or_insert(e);
                sealwax_proto::Error::HashUnavailable {
                    level: level * 8,
                    index,
                }
            })
    }
}

/// Largest JSON answer read from a log: a page of key events, a list of
/// signatures, a proof. A log that sends more is misbehaving.
pub const MAX_JSON_BYTES: u64 = 16 << 20;
/// Largest small text file read: a checkpoint (with its cosignatures), the
/// log key, a `.minisig`, a `.tlog-proof`.
pub const MAX_TEXT_BYTES: u64 = 1 << 20;
/// The most of an error answer that is read (its message is cut to 300 characters).
const MAX_ERROR_BYTES: u64 = 64 << 10;
/// Default largest artifact download, 4 GiB; `install --max-download` changes it.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 4 << 30;

/// A connection to one log.
#[derive(Debug, Clone)]
pub struct LogClient {
    base: String,
    /// A static mirror of the log's checkpoint and tiles (`--tiles`): the
    /// checkpoint is read there and proofs are computed from its tiles.
    tiles: Option<String>,
    http: Client,
    max_download: u64,
}

/// The error inside the `io::Error` of a download stream that went past its
/// limit; [`ClientError::from_download`] turns it back into
/// [`ClientError::AnswerTooLarge`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url} sent more than {limit} bytes")]
pub struct DownloadTooLarge {
    /// What was downloaded.
    pub url: String,
    /// The limit it went past.
    pub limit: u64,
}

/// A reader that fails, with [`DownloadTooLarge`], once more than `limit`
/// bytes come out of `inner`: an endless body is cut off, never buffered.
struct Limited<R> {
    inner: R,
    left: u64,
    url: String,
    limit: u64,
}

impl<R> Limited<R> {
    /// `inner`, cut off with [`DownloadTooLarge`] past `limit` bytes.
    fn new(inner: R, limit: u64, url: &str) -> Limited<R> {
        Limited {
            inner,
            left: limit,
            url: url.to_string(),
            limit,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Ask for one byte past the limit, so an answer of exactly `limit`
        // bytes passes and one byte more fails.
        let want = buf
            .len()
            .min(usize::try_from(self.left + 1).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(DownloadTooLarge {
                url: self.url.clone(),
                limit: self.limit,
            }));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// What became of an artifact upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The log stored it.
    Stored,
    /// The log already had it (an earlier publish of the same file).
    AlreadyStored,
    /// The log keeps no artifacts (it answered this status).
    NotKept(u16),
}

/// `body` as one of the bodies of [`wire`], all of it: a failure names the
/// field that did not decode, or says what follows the body.
fn from_json<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = wire::decode(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Decodes base64 entry bytes from the log.
pub fn decode_entry(url: &str, s: &str) -> Result<Vec<u8>> {
    BASE64.decode(s).map_err(|_| ClientError::LogMisbehaving {
        url: url.to_string(),
        reason: "an entry is not valid base64".into(),
    })
}

impl LogClient {
    /// A client for the log at `base` (no trailing slash).
    pub fn new(base: &str) -> Result<LogClient> {
        let http = Client::builder()
            .user_agent(concat!("sealwax/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(None)
            .build()
            .map_err(|e| ClientError::unreachable(base, e))?;
        Ok(LogClient {
            base: base.to_string(),
            tiles: None,
            http,
            max_download: DEFAULT_MAX_DOWNLOAD_BYTES,
        })
    }

    /// The same client with downloads (artifacts) cut off past `bytes`.
    pub fn with_max_download(mut self, bytes: u64) -> LogClient {
        self.max_download = bytes;
        self
    }

    /// The same client reading the checkpoint and hash tiles from the
    /// mirror at `url` (no trailing slash), and computing inclusion and
    /// consistency proofs from those tiles, as Go's sumdb client does. The
    /// log is still asked for what has no static form: lookups by name or
    /// digest, key directory proofs and artifacts.
    pub fn with_tiles(mut self, url: &str) -> LogClient {
        self.tiles = Some(url.trim_end_matches('/').to_string());
        self
    }

    /// The log's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Whether the checkpoint and tiles come from a mirror (`--tiles`).
    pub fn reads_mirror(&self) -> bool {
        self.tiles.is_some()
    }

    /// Where the checkpoint is read: the mirror, if any, else the log.
    pub fn checkpoint_url(&self) -> &str {
        self.tiles.as_deref().unwrap_or(&self.base)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The error for an answer of this log that breaks the protocol.
    pub fn misbehaving(&self, reason: impl Into<String>) -> ClientError {
        ClientError::LogMisbehaving {
            url: self.base.clone(),
            reason: reason.into(),
        }
    }

    fn send(&self, req: RequestBuilder, url: &str) -> Result<Response> {
        req.send().map_err(|e| ClientError::unreachable(url, e))
    }

    /// The body of `resp`, at most `limit` bytes: more (announced or sent)
    /// is [`ClientError::AnswerTooLarge`], and nothing past the limit is read.
    fn read_body(resp: Response, limit: u64, url: &str) -> Result<Vec<u8>> {
        let too_large = || ClientError::AnswerTooLarge {
            url: url.to_string(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        match Limited::new(resp, limit, url).read_to_end(&mut body) {
            Ok(_) => Ok(body),
            Err(e) if e.get_ref().is_some_and(|e| e.is::<DownloadTooLarge>()) => Err(too_large()),
            Err(e) => Err(ClientError::LogUnreachable {
                url: url.to_string(),
                reason: format!("the answer broke off: {e}"),
            }),
        }
    }

    /// The body of `resp` as UTF-8 text of at most `limit` bytes.
    fn read_text(&self, resp: Response, limit: u64, url: &str) -> Result<String> {
        String::from_utf8(Self::read_body(resp, limit, url)?)
            .map_err(|_| self.misbehaving(format!("its answer to {url} is not UTF-8 text")))
    }

    /// The message of an error answer: its JSON `error`, else its text (at
    /// most [`MAX_ERROR_BYTES`] are read).
    fn error_message(resp: Response) -> String {
        let status = resp.status();
        let mut raw = Vec::new();
        let _ = resp.take(MAX_ERROR_BYTES).read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => Self::cut(b.error),
            Err(_) if text.trim().is_empty() => status.to_string(),
            Err(_) => Self::cut(text.into_owned()),
        }
    }

    /// The message of an error answer, cut to 300 characters.
    fn cut(message: String) -> String {
        match message.char_indices().nth(300) {
            Some((i, _)) => format!("{}…", &message[..i]),
            None => message,
        }
    }

    /// Fails on any non-2xx status.
    fn check(&self, resp: Response, url: &str) -> Result<Response> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        Err(ClientError::LogHttp {
            url: url.to_string(),
            status,
            message: Self::error_message(resp),
        })
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.endpoint(path);
        let resp = self.send(self.http.get(&url).timeout(Duration::from_secs(60)), &url)?;
        let resp = self.check(resp, &url)?;
        self.decode(resp, &url)
    }

    fn decode<T: DeserializeOwned>(&self, resp: Response, url: &str) -> Result<T> {
        let body = Self::read_body(resp, MAX_JSON_BYTES, url)?;
        from_json(&body).map_err(|e| {
            self.misbehaving(format!(
                "its answer to {url} is not the expected JSON ({e})"
            ))
        })
    }

    /// `GET /checkpoint`: the newest signed checkpoint (not verified here),
    /// from the mirror when there is one.
    pub fn checkpoint(&self) -> Result<String> {
        let url = format!("{}/checkpoint", self.checkpoint_url());
        let resp = self.send(self.http.get(&url).timeout(Duration::from_secs(60)), &url)?;
        let resp = self.check(resp, &url)?;
        self.read_text(resp, MAX_TEXT_BYTES, &url)
    }

    /// `GET /v1/log-key`: the log's verifier key string (not to be trusted blindly).
    pub fn log_key(&self) -> Result<String> {
        let url = self.endpoint("/v1/log-key");
        let resp = self.send(self.http.get(&url).timeout(Duration::from_secs(60)), &url)?;
        let resp = self.check(resp, &url)?;
        let text = self.read_text(resp, MAX_TEXT_BYTES, &url)?;
        Ok(text.trim().to_string())
    }

    /// `POST /v1/entries`. A 4xx answer is the log refusing the entry.
    pub fn submit(
        &self,
        what: &'static str,
        entry: &[u8],
        admin_token: Option<&str>,
    ) -> Result<SubmitAnswer> {
        let url = self.endpoint("/v1/entries");
        let mut req = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(120))
            .json(&SubmitBody {
                entry: BASE64.encode(entry),
            });
        if let Some(t) = admin_token {
            req = req.bearer_auth(t);
        }
        let resp = self.send(req, &url)?;
        if resp.status().is_client_error() {
            return Err(ClientError::LogRefused {
                what,
                message: Self::error_message(resp),
            });
        }
        let resp = self.check(resp, &url)?;
        self.decode(resp, &url)
    }

    /// `GET /v1/proof/inclusion?index=I&tree_size=N`; with a mirror, the
    /// proof computed from its tiles (not verified here either).
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<InclusionAnswer> {
        if let Some(tiles) = &self.tiles {
            return self.prove_from_tiles(tiles, tree_size, |r| {
                Ok(InclusionAnswer {
                    index,
                    tree_size,
                    leaf_hash: r.read_hash(0, index)?,
                    proof: merkle::prove_inclusion(r, index, tree_size)?,
                })
            });
        }
        self.get_json(&format!(
            "/v1/proof/inclusion?index={index}&tree_size={tree_size}"
        ))
    }

    /// Runs `prove` over the hash tiles of the tree of `size` leaves at the
    /// mirror `tiles`: a tile that cannot be read is that read's error, and
    /// a proof that cannot be made from what was read is the mirror's fault.
    fn prove_from_tiles<T>(
        &self,
        tiles: &str,
        size: u64,
        prove: impl FnOnce(&TileHashReader<&MirrorTiles<'_>>) -> sealwax_proto::Result<T>,
    ) -> Result<T> {
        let source = MirrorTiles {
            client: self,
            base: tiles,
            failed: std::cell::RefCell::new(None),
        };
        let reader = TileHashReader::new(&source, size);
        prove(&reader).map_err(|e| {
            source
                .failed
                .take()
                .unwrap_or_else(|| ClientError::LogMisbehaving {
                    url: tiles.to_string(),
                    reason: format!("its tiles for tree size {size} do not make a proof: {e}"),
                })
        })
    }

    /// `GET <mirror>/tile/<L>/<N>[.p/<W>]`: a hash tile; a missing partial
    /// tile is read from the full one and cut (C2SP tlog-tiles lets a log
    /// delete partial tiles once the full one exists).
    fn mirror_tile(&self, tiles: &str, level: u8, index: u64, width: u16) -> Result<Vec<u8>> {
        let id = TileId {
            level: TileLevel::Hashes(level),
            index,
            width,
        };
        let url = format!("{tiles}/{}", id.path());
        if let Some(body) = self.mirror_object(&url, max_tile_bytes(id))? {
            return Ok(body);
        }
        let mut tried = vec![url];
        if !id.is_full() {
            let full = TileId {
                width: TILE_WIDTH as u16,
                ..id
            };
            let url = format!("{tiles}/{}", full.path());
            if let Some(body) = self.mirror_object(&url, max_tile_bytes(full))? {
                return Ok(cut_tile(id, body));
            }
            tried.push(url);
        }
        Err(ClientError::LogHttp {
            url: tried.join(" and "),
            status: 404,
            message: "the mirror has no such tile: it may not have caught up with the log yet (try again in a few seconds), or it is not a mirror of this log".into(),
        })
    }

    /// `GET url` of a mirror object, at most `limit` bytes; `None` on 404.
    fn mirror_object(&self, url: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        let resp = self.send(self.http.get(url).timeout(Duration::from_secs(60)), url)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.check(resp, url)?;
        Self::read_body(resp, limit as u64, url).map(Some)
    }

    /// `GET /v1/proof/consistency?from=M&to=N`, decoded; with a mirror,
    /// the proof computed from its tiles of tree size N.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        if let Some(tiles) = &self.tiles {
            return self.prove_from_tiles(tiles, to, |r| merkle::prove_consistency(r, from, to));
        }
        let a: ConsistencyAnswer =
            self.get_json(&format!("/v1/proof/consistency?from={from}&to={to}"))?;
        if a.from != from || a.to != to {
            return Err(self.misbehaving(format!(
                "asked for a consistency proof from {from} to {to}, it answered one from {} to {}",
                a.from, a.to
            )));
        }
        Ok(a.proof)
    }

    /// The URL of `segments` under the log's base, each segment escaped.
    fn url_of(&self, segments: &[&str]) -> Result<reqwest::Url> {
        let bad = || ClientError::BadLogUrl(self.base.clone());
        let mut u = reqwest::Url::parse(&self.base).map_err(|_| bad())?;
        u.path_segments_mut()
            .map_err(|_| bad())?
            .pop_if_empty()
            .extend(segments);
        Ok(u)
    }

    /// `GET /v1/publishers/<p>/keys?tree_size=N&from=<from>`: one page of
    /// the key history at tree size `tree_size`; `None` on a 404 (which a
    /// log that signed that size must never answer).
    pub fn publisher_keys(
        &self,
        publisher: &str,
        from: u64,
        tree_size: u64,
    ) -> Result<Option<PublisherKeysAnswer>> {
        let mut u = self.url_of(&["v1", "publishers", publisher, "keys"])?;
        u.query_pairs_mut()
            .append_pair("tree_size", &tree_size.to_string());
        if from > 0 {
            u.query_pairs_mut().append_pair("from", &from.to_string());
        }
        let url = u.to_string();
        let resp = self.send(self.http.get(u).timeout(Duration::from_secs(60)), &url)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.check(resp, &url)?;
        let a: PublisherKeysAnswer = self.decode(resp, &url)?;
        if a.publisher != publisher {
            return Err(self.misbehaving(format!(
                "asked for the keys of {publisher:?}, it answered with those of {:?}",
                a.publisher
            )));
        }
        Ok(Some(a))
    }

    /// `GET /v1/releases/<p>/<n>/<v>?tree_size=N`: the release's key
    /// directory leaf at tree size `tree_size`, proven; `None` on a 404.
    pub fn release(
        &self,
        publisher: &str,
        package: &str,
        version: &str,
        tree_size: u64,
    ) -> Result<Option<ReleaseAnswer>> {
        let mut u = self.url_of(&["v1", "releases", publisher, package, version])?;
        u.query_pairs_mut()
            .append_pair("tree_size", &tree_size.to_string());
        let url = u.to_string();
        let resp = self.send(self.http.get(u).timeout(Duration::from_secs(60)), &url)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.check(resp, &url)?;
        let a: ReleaseAnswer = self.decode(resp, &url)?;
        if (a.publisher.as_str(), a.package.as_str(), a.version.as_str())
            != (publisher, package, version)
        {
            return Err(self.misbehaving(format!(
                "asked about release {publisher}/{package}@{version}, it answered about {}/{}@{}",
                a.publisher, a.package, a.version
            )));
        }
        Ok(Some(a))
    }

    fn signatures(&self, query: &[(&str, &str)]) -> Result<Vec<SignatureAnswer>> {
        let url = self.endpoint("/v1/signatures");
        let resp = self.send(
            self.http
                .get(&url)
                .query(query)
                .timeout(Duration::from_secs(60)),
            &url,
        )?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let resp = self.check(resp, &url)?;
        let a: SignaturesAnswer = self.decode(resp, &url)?;
        Ok(a.signatures)
    }

    /// `GET /v1/signatures?sha256=HEX`.
    pub fn signatures_by_sha256(&self, sha256: &[u8; 32]) -> Result<Vec<SignatureAnswer>> {
        self.signatures(&[("sha256", &hex::encode(sha256))])
    }

    /// `GET /v1/signatures?publisher=P&package=N[&version=V]`.
    pub fn signatures_by_release(
        &self,
        publisher: &str,
        package: &str,
        version: Option<&str>,
    ) -> Result<Vec<SignatureAnswer>> {
        let mut q = vec![("publisher", publisher), ("package", package)];
        if let Some(v) = version {
            q.push(("version", v));
        }
        self.signatures(&q)
    }

    /// `GET /v1/limits?publisher=P`: the artifact store's limits and their
    /// use; `None` from a log that does not announce them (404).
    pub fn limits(&self, publisher: &str) -> Result<Option<LimitsAnswer>> {
        let url = self.endpoint("/v1/limits");
        let req = self.http.get(&url).query(&[("publisher", publisher)]);
        let resp = self.send(req.timeout(Duration::from_secs(60)), &url)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.check(resp, &url)?;
        self.decode(resp, &url).map(Some)
    }

    /// `GET /v1/artifacts/<sha256>`: the artifact as a stream, and its length if known.
    pub fn download_artifact(&self, sha256: &[u8; 32]) -> Result<(Box<dyn Read>, Option<u64>)> {
        self.download(&self.endpoint(&format!("/v1/artifacts/{}", hex::encode(sha256))))
    }

    /// `GET <url>` of any file, as a stream, and its length if known. The
    /// stream stops with [`DownloadTooLarge`] past the announced length or
    /// the download limit, whichever is smaller; a length announced over the
    /// limit is refused before anything is read.
    pub fn download(&self, url: &str) -> Result<(Box<dyn Read>, Option<u64>)> {
        let resp = self.send(self.http.get(url), url)?;
        let resp = self.check(resp, url)?;
        let len = resp.content_length();
        if len.is_some_and(|n| n > self.max_download) {
            return Err(ClientError::AnswerTooLarge {
                url: url.to_string(),
                limit: self.max_download,
            });
        }
        let limit = len.unwrap_or(self.max_download).min(self.max_download);
        Ok((Box::new(Limited::new(resp, limit, url)), len))
    }

    /// `GET <url>` of a small text file; `None` on 404.
    pub fn fetch_text(&self, url: &str) -> Result<Option<String>> {
        let resp = self.send(self.http.get(url).timeout(Duration::from_secs(60)), url)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.check(resp, url)?;
        self.read_text(resp, MAX_TEXT_BYTES, url).map(Some)
    }

    /// `PUT /v1/artifacts/<sha256>` with the artifact streamed from `body`.
    ///
    /// 404, 405 and 501 mean the log keeps no artifacts.
    pub fn upload_artifact(
        &self,
        sha256: &[u8; 32],
        body: impl Read + Send + 'static,
        len: u64,
    ) -> Result<UploadOutcome> {
        let url = self.endpoint(&format!("/v1/artifacts/{}", hex::encode(sha256)));
        // A re-run of a publish: the log has the file already, so don't send it.
        let head = self.send(self.http.head(&url).timeout(Duration::from_secs(60)), &url)?;
        if head.status() == StatusCode::OK && head.content_length() == Some(len) {
            return Ok(UploadOutcome::AlreadyStored);
        }
        let resp = self.send(
            self.http
                .put(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::sized(body, len)),
            &url,
        )?;
        match resp.status().as_u16() {
            s @ (404 | 405 | 501) => Ok(UploadOutcome::NotKept(s)),
            200 => Ok(UploadOutcome::AlreadyStored),
            _ => {
                self.check(resp, &url)?;
                Ok(UploadOutcome::Stored)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_decodes_whole_or_not_at_all() {
        let good = r#"{"from":1,"to":1,"proof":[]}"#;
        let a: ConsistencyAnswer = from_json(good.as_bytes()).unwrap();
        assert_eq!((a.from, a.to, a.proof.len()), (1, 1, 0));

        let trailing = format!("{good} {good}");
        let e = from_json::<ConsistencyAnswer>(trailing.as_bytes()).unwrap_err();
        assert!(e.contains("trailing characters"), "{e}");

        let bad = r#"{"from":1,"to":2,"proof":["00"]}"#;
        let e = from_json::<ConsistencyAnswer>(bad.as_bytes()).unwrap_err();
        assert!(e.starts_with("proof[0]: "), "{e}");
    }
}
