//! The web explorer: HTML pages rendered on the server (they read without
//! JavaScript), each embedding the raw material that `verify.js` re-checks
//! in the browser: the signed checkpoint, the inclusion proofs of the
//! entries shown, and the key directory proofs of the key state and
//! releases shown.
//!
//! | path | page |
//! |---|---|
//! | `GET /`, `/explore` | origin, verifier key, checkpoint and cosignatures, search, newest entries |
//! | `GET /explore/publishers/<p>` | key graph, key states and history, releases (paged) |
//! | `GET /explore/publishers/<p>/record?tree_size=N` | the raw key-state record (for a record too large to embed) |
//! | `GET /explore/entries/<i>` | one entry field by field, its inclusion proof, its `.minisig` |
//! | `GET /explore/entries/<i>.minisig` | a signature entry as a stock Minisign signature file |
//! | `GET /explore/search?q=` | by publisher, `publisher/package[@version]`, SHA-256 or index |
//! | `GET /explore/verify.js`, `/explore/style.css` | the verifier and the style sheet |
//!
//! Every page is served with a Content-Security-Policy that allows only
//! this origin's script and style sheet, and makes no other request.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use maud::Markup;
use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::directory::release_key;
use sealwax_proto::entry::{validate_package, validate_publisher, validate_version, Entry};
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle;
use sealwax_proto::note::Note;
use sealwax_proto::policy::{Node, Policy, PolicyKey};
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use serde::{Deserialize, Serialize};

use crate::api::keys::{key_event, proven_record, signed_at};
use crate::api::AppState;
use crate::error::AppError;
use crate::log::{bound_release, Log, SignedAt};
use crate::storage::PublisherRelease;

mod pages;

/// Keys listed on one page of a publisher.
pub const KEYS_PER_PAGE: usize = 50;
/// Key events (with their inclusion proofs) on one page of a publisher.
pub const EVENTS_PER_PAGE: usize = 25;
/// Releases listed on one page of a publisher.
pub const RELEASES_PER_PAGE: usize = 25;
/// Most links of a key's chain shown (the root, then the last ones).
pub const MAX_CHAIN_SHOWN: usize = 4;
/// Newest entries on the front page.
pub const NEWEST_ENTRIES: u64 = 20;
/// Most search results listed (the newest).
pub const MAX_SEARCH_RESULTS: usize = 50;
/// Largest key-state record embedded in a page; a larger one is fetched by
/// the verifier from `/explore/publishers/<p>/record`.
pub const MAX_EMBEDDED_RECORD: usize = 32 * 1024;

const VERIFY_JS: &str = include_str!("verify.js");
const STYLE_CSS: &str = include_str!("style.css");

/// The policy every explorer answer carries: this origin's script and
/// style sheet only, no inline script, no other request.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The explorer's routes, to merge into the API router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/explore", get(index))
        .route("/explore/publishers/{publisher}", get(publisher))
        .route("/explore/publishers/{publisher}/record", get(record))
        .route("/explore/entries/{index}", get(entry))
        .route("/explore/search", get(search))
        .route("/explore/verify.js", get(verify_js))
        .route("/explore/style.css", get(style_css))
        // Browsers ask for it; an empty answer keeps their consoles clean.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

// ----- what a page embeds for verify.js -----

/// The raw material of one page, embedded as JSON for `verify.js`.
#[derive(Serialize)]
pub(crate) struct Material {
    /// The log's verifier key (`<name>+<id>+<key>`).
    log_key: String,
    /// The signed checkpoint note the page is as of.
    checkpoint: String,
    /// Inclusion proofs of the entries shown.
    inclusion: Vec<InclusionItem>,
    /// Key directory proofs of the key state and releases shown.
    directory: Vec<DirectoryItem>,
    /// The log's witness policy, when it has one: the page checks the
    /// checkpoint's cosignatures against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    witnesses: Option<WitnessMaterial>,
}

/// A witness policy as `verify.js` evaluates it.
#[derive(Serialize)]
pub(crate) struct WitnessMaterial {
    /// The witnesses, in policy order.
    witnesses: Vec<WitnessKey>,
    /// The quorum: `{"witness": i}` or `{"k": n, "members": [...]}`.
    quorum: QuorumItem,
}

/// One witness of the policy.
#[derive(Serialize)]
pub(crate) struct WitnessKey {
    /// Its name in the policy file.
    name: String,
    /// The key name its cosignature lines carry, when the policy gives one
    /// (a bare key accepts the name of the line).
    #[serde(skip_serializing_if = "Option::is_none")]
    key_name: Option<String>,
    /// The Ed25519 public key, base64.
    key: String,
}

/// A node of the quorum.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum QuorumItem {
    /// A witness, by index.
    Witness { witness: usize },
    /// At least `k` of `members`.
    Group { k: usize, members: Vec<QuorumItem> },
}

impl QuorumItem {
    fn of(node: &Node) -> QuorumItem {
        match node {
            Node::Witness(i) => QuorumItem::Witness { witness: *i },
            Node::Group { k, members } => QuorumItem::Group {
                k: *k,
                members: members.iter().map(QuorumItem::of).collect(),
            },
        }
    }
}

impl WitnessMaterial {
    /// What a page embeds of `policy`.
    pub(crate) fn of(policy: &Policy) -> WitnessMaterial {
        let witnesses = policy
            .witnesses()
            .iter()
            .map(|w| WitnessKey {
                name: w.name.clone(),
                key_name: w.key_name().map(str::to_string),
                key: B64.encode(w.public_key().as_bytes()),
            })
            .collect();
        WitnessMaterial {
            witnesses,
            quorum: QuorumItem::of(policy.quorum()),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct InclusionItem {
    index: u64,
    tree_size: u64,
    /// The entry bytes, base64: the verifier hashes them itself.
    entry: String,
    /// The proof hashes, base64.
    proof: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct DirectoryItem {
    /// `publisher` or `release`.
    kind: &'static str,
    /// The publisher, or the release `P/N@V`.
    name: String,
    /// A publisher: whether the page shows keys for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    present: Option<bool>,
    /// A publisher's key-state record, base64, when small enough to embed.
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    /// Where the verifier fetches a record too large to embed.
    #[serde(skip_serializing_if = "Option::is_none")]
    record_url: Option<String>,
    /// A release: the index of its first signature (absent: not logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    /// A release: the artifact's SHA-256, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// The directory proof, base64.
    proof: String,
}

impl Material {
    fn new(st: &AppState, at: &SignedAt) -> Material {
        Material {
            log_key: st.log().key().vkey(),
            checkpoint: at.checkpoint.clone(),
            inclusion: Vec::new(),
            directory: Vec::new(),
            witnesses: st.witnessing().map(|w| WitnessMaterial::of(w.policy())),
        }
    }

    /// The material as JSON safe inside `<script>`: no `<`, `>` or `&`.
    fn to_script_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| "{}".into())
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    }
}

// ----- what pages show -----

/// The checkpoint a page is as of, parsed for display.
pub(crate) struct CheckpointView {
    size: u64,
    root_b64: String,
    directory_root: Option<String>,
    note: String,
    /// (key name, key ID hex, whether it is the log's own).
    signatures: Vec<(String, String, bool)>,
}

/// One entry in a list, summarised.
pub(crate) struct EntryRow {
    index: u64,
    kind: &'static str,
    publisher: String,
    summary: String,
}

/// The front page.
pub(crate) struct IndexPage {
    origin: String,
    vkey: String,
    checkpoint: CheckpointView,
    newest: Vec<EntryRow>,
    policy: Option<PolicyView>,
}

/// The log's witness policy, for display beside its key.
pub(crate) struct PolicyView {
    /// Each witness: its policy name and its key (verifier key line or hex).
    witnesses: Vec<(String, String)>,
    /// The quorum in words.
    quorum: String,
}

impl PolicyView {
    fn of(policy: &Policy) -> PolicyView {
        let witnesses = policy
            .witnesses()
            .iter()
            .map(|w| {
                let key = match &w.key {
                    PolicyKey::Raw(k) => hex::encode(k.as_bytes()),
                    PolicyKey::Named(v) => v.to_string(),
                };
                (w.name.clone(), key)
            })
            .collect();
        PolicyView {
            witnesses,
            quorum: describe_quorum(policy, policy.quorum()),
        }
    }
}

/// A quorum node in words: a witness's name, or "k of (…)".
fn describe_quorum(policy: &Policy, node: &Node) -> String {
    match node {
        Node::Witness(i) => policy.witnesses()[*i].name.clone(),
        Node::Group { k, members } if members.is_empty() => format!("{k} of none"),
        Node::Group { k, members } => format!(
            "{k} of ({})",
            members
                .iter()
                .map(|m| describe_quorum(policy, m))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One key of a publisher, for the key table.
pub(crate) struct KeyView {
    key_id: String,
    key_hash: String,
    /// Its vouching chain from the root key down to it: (key ID, how vouched).
    chain: Vec<(String, &'static str)>,
    /// "claim", "chain" or "operator".
    vouched: &'static str,
    /// The vouching key (key ID, key hash hex), for a chained key.
    vouched_by: Option<(String, String)>,
    standing: &'static str,
    /// Key events in its history: (what, log index).
    history: Vec<(String, u64)>,
}

/// One key event row.
pub(crate) struct EventRow {
    index: u64,
    kind: String,
    key_id: String,
    authorization: String,
    reason: Option<String>,
}

/// A publisher's page.
pub(crate) struct PublisherPage {
    publisher: String,
    checkpoint: CheckpointView,
    /// `None`: the publisher has no keys (proven absent).
    key_count: Option<usize>,
    active: usize,
    keys: Vec<KeyView>,
    keys_page: usize,
    events: Vec<EventRow>,
    events_from: u64,
    events_next: Option<u64>,
    releases: Vec<PublisherRelease>,
    releases_after: Option<(String, String)>,
    releases_more: bool,
    record_embedded: bool,
}

/// An entry's page.
pub(crate) struct EntryPage {
    index: u64,
    checkpoint: CheckpointView,
    kind: &'static str,
    publisher: String,
    fields: Vec<(&'static str, String)>,
    leaf_hash: String,
    size: usize,
    proof: Vec<String>,
    minisig: Option<String>,
    /// For a signature: the release and what the key directory binds it to.
    release: Option<(String, Option<(u64, String)>)>,
}

/// A search result page.
pub(crate) struct SearchPage {
    query: String,
    checkpoint: CheckpointView,
    what: String,
    rows: Vec<EntryRow>,
    total: usize,
}

// ----- responses -----

fn secure_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn html(status: StatusCode, page: Markup) -> Response {
    let mut r = (status, page.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(&mut r);
    r
}

/// An explorer failure, answered as an HTML page (its message escaped).
pub(crate) struct PageError(AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        html(status, pages::error(status, &self.0.to_string()))
    }
}

type PageResult = Result<Response, PageError>;

async fn blocking<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&Log) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let log = st.log().clone();
    tokio::task::spawn_blocking(move || f(&log))
        .await
        .map_err(|e| AppError::internal("a blocking task failed", e))?
}

/// The checkpoint pages are as of: the one `/checkpoint` serves (with a
/// witness policy, the newest cosigned one), and what the log signed for it.
fn current(st: &AppState) -> Result<SignedAt, AppError> {
    let log = st.log();
    match st.witnessing() {
        None => signed_at(log, None),
        Some(w) => {
            let note = w.cosigned().ok_or(AppError::NotCosignedYet)?.to_string();
            let size = Note::parse(&note)
                .and_then(|n| Checkpoint::parse(&n.text))
                .map_err(|e| AppError::internal("the cosigned checkpoint does not parse", e))?
                .size;
            let mut at = log.signed_at(size)?;
            at.checkpoint = note;
            Ok(at)
        }
    }
}

/// The release `name` as the log binds it at the page's checkpoint (its
/// first signature's index and SHA-256, if logged), and, when that
/// checkpoint commits to a key directory, its directory proof added to the
/// page's material. A directory that disagrees with the release index is an
/// internal error, never a page.
fn proven_release(
    log: &Log,
    at: &SignedAt,
    name: &ReleaseName,
    material: &mut Material,
) -> Result<Option<ReleaseRecord>, AppError> {
    let bound = bound_release(log.storage(), name)?.filter(|b| b.index < at.size);
    if let Some((value, dproof)) = log.prove_directory(at, &release_key(name))? {
        if value != bound.map(|b| b.record_hash()) {
            return Err(AppError::internal(
                "the key directory disagrees with the release index",
                name,
            ));
        }
        material.directory.push(DirectoryItem {
            kind: "release",
            name: name.to_string(),
            present: None,
            record: None,
            record_url: None,
            index: bound.map(|b| b.index),
            sha256: bound.map(|b| hex::encode(b.sha256)),
            proof: dproof.to_base64(),
        });
    }
    Ok(bound)
}

fn checkpoint_view(log: &Log, at: &SignedAt) -> CheckpointView {
    let mine = log.key().verifier();
    let (root_b64, signatures) = match Note::parse(&at.checkpoint) {
        Ok(note) => {
            let root = Checkpoint::parse(&note.text)
                .map(|c| B64.encode(c.root))
                .unwrap_or_default();
            let sigs = note
                .signatures
                .iter()
                .map(|s| (s.name.clone(), s.key_id_hex(), mine.matches(s)))
                .collect();
            (root, sigs)
        }
        Err(_) => (String::new(), Vec::new()),
    };
    CheckpointView {
        size: at.size,
        root_b64,
        directory_root: at.directory_root.map(|r| B64.encode(r)),
        note: at.checkpoint.clone(),
        signatures,
    }
}

fn inclusion_item(
    log: &Log,
    at: &SignedAt,
    index: u64,
    bytes: &[u8],
) -> Result<InclusionItem, AppError> {
    let reader = log.reader();
    let proof = merkle::prove_inclusion(&reader, index, at.size).map_err(|e| reader.fail(e))?;
    Ok(InclusionItem {
        index,
        tree_size: at.size,
        entry: B64.encode(bytes),
        proof: proof.iter().map(|h| B64.encode(h)).collect(),
    })
}

fn entry_bytes(log: &Log, index: u64) -> Result<Vec<u8>, AppError> {
    log.storage()
        .entry(index)?
        .ok_or_else(|| AppError::internal("entry missing from storage", index))
}

fn parse_entry(bytes: &[u8], index: u64) -> Result<Entry, AppError> {
    Entry::parse(bytes)
        .map_err(|e| AppError::internal(&format!("logged entry {index} does not parse"), e))
}

fn entry_row(index: u64, entry: &Entry) -> EntryRow {
    let summary = match entry {
        Entry::KeyRegistration(r) => format!(
            "key {} registered ({})",
            r.key.key_id_hex(),
            r.authorization.kind()
        ),
        Entry::KeyRevocation(r) => format!(
            "key {} revoked as {} ({})",
            r.key.key_id_hex(),
            r.reason,
            r.authorization.kind()
        ),
        Entry::Signature(s) => match s.release() {
            Ok(r) => format!(
                "{}@{} sha256 {}",
                r.package,
                r.version,
                hex::encode(&r.sha256[..8])
            ),
            Err(_) => "a signature".into(),
        },
    };
    EntryRow {
        index,
        kind: entry.kind_name(),
        publisher: entry.publisher(),
        summary,
    }
}

/// Rows and inclusion proofs of the entries at `indexes`.
fn list_entries(
    log: &Log,
    at: &SignedAt,
    indexes: &[u64],
    material: &mut Material,
) -> Result<Vec<EntryRow>, AppError> {
    let mut rows = Vec::with_capacity(indexes.len());
    for &index in indexes {
        let bytes = entry_bytes(log, index)?;
        rows.push(entry_row(index, &parse_entry(&bytes, index)?));
        material
            .inclusion
            .push(inclusion_item(log, at, index, &bytes)?);
    }
    Ok(rows)
}

// ----- handlers -----

async fn index(State(st): State<AppState>) -> PageResult {
    let st2 = st.clone();
    let (page, material) = blocking(&st, move |log| {
        let at = current(&st2)?;
        let mut material = Material::new(&st2, &at);
        let from = at.size.saturating_sub(NEWEST_ENTRIES);
        let indexes: Vec<u64> = (from..at.size).rev().collect();
        let newest = list_entries(log, &at, &indexes, &mut material)?;
        Ok((
            IndexPage {
                origin: log.origin().to_string(),
                vkey: log.key().vkey(),
                checkpoint: checkpoint_view(log, &at),
                newest,
                policy: st2.witnessing().map(|w| PolicyView::of(w.policy())),
            },
            material,
        ))
    })
    .await?;
    Ok(html(
        StatusCode::OK,
        pages::index(&page, &material.to_script_json()),
    ))
}

/// The query of a publisher's page: which page of keys, events and releases.
#[derive(Deserialize)]
pub(crate) struct PublisherQuery {
    /// The page of keys (from 0).
    keys: Option<usize>,
    /// The first log index of the key events shown.
    events_from: Option<u64>,
    /// The releases shown start after this package...
    after_package: Option<String>,
    /// ...and version.
    after_version: Option<String>,
}

fn bad_query(e: QueryRejection) -> AppError {
    AppError::BadRequest(format!(
        "{}: give keys=<page number>, events_from=<log index>, after_package=<name>&after_version=<version>",
        e.body_text()
    ))
}

async fn publisher(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    q: Result<Query<PublisherQuery>, QueryRejection>,
) -> PageResult {
    let Path(publisher) = path.map_err(|e| AppError::BadRequest(e.body_text()))?;
    validate_publisher(&publisher).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let Query(q) = q.map_err(bad_query)?;
    let releases_after = match (q.after_package, q.after_version) {
        (Some(p), Some(v)) => Some((p, v)),
        (None, None) => None,
        _ => {
            return Err(AppError::BadRequest(
                "give after_package and after_version together".into(),
            )
            .into())
        }
    };
    let st2 = st.clone();
    let (page, material) = blocking(&st, move |log| {
        let at = current(&st2)?;
        let mut material = Material::new(&st2, &at);
        let (record_b64, proof) = proven_record(log, &at, &publisher)?;
        let Some(proof) = proof else {
            return Err(AppError::NotFound(format!(
                "the checkpoint at tree size {} commits to no key directory; wait for the log's next checkpoint",
                at.size
            )));
        };
        let record = record_b64
            .as_deref()
            .map(|r| B64.decode(r))
            .transpose()
            .map_err(|e| AppError::internal("a key-state record is not base64", e))?;
        let keys = record
            .as_deref()
            .map(PublisherKeys::from_record)
            .transpose()
            .map_err(|e| AppError::internal("a key-state record does not parse", e))?;
        let embedded = record.as_ref().is_some_and(|r| r.len() <= MAX_EMBEDDED_RECORD);
        material.directory.push(DirectoryItem {
            kind: "publisher",
            name: publisher.clone(),
            present: Some(keys.is_some()),
            record: record.as_ref().filter(|_| embedded).map(|r| B64.encode(r)),
            record_url: (record.is_some() && !embedded).then(|| {
                format!(
                    "/explore/publishers/{publisher}/record?tree_size={}",
                    at.size
                )
            }),
            index: None,
            sha256: None,
            proof: proof.to_base64(),
        });
        let keys_page = q.keys.unwrap_or(0);
        let key_views = keys
            .as_ref()
            .map(|k| key_views(k, keys_page))
            .unwrap_or_default();
        // Key events, with inclusion proofs.
        let events_from = q.events_from.unwrap_or(0);
        let mut indexes: Vec<u64> = log
            .storage()
            .key_events_page(&publisher, events_from, EVENTS_PER_PAGE + 1)?
            .into_iter()
            .filter(|i| *i < at.size)
            .collect();
        let events_next = (indexes.len() > EVENTS_PER_PAGE).then(|| indexes[EVENTS_PER_PAGE]);
        indexes.truncate(EVENTS_PER_PAGE);
        let reader = log.reader();
        let mut events = Vec::with_capacity(indexes.len());
        for index in indexes {
            let bytes = entry_bytes(log, index)?;
            let e = key_event(&reader, at.size, index, &bytes)?;
            material.inclusion.push(InclusionItem {
                index,
                tree_size: at.size,
                entry: e.entry,
                proof: e.inclusion_proof.iter().map(|h| B64.encode(h)).collect(),
            });
            events.push(EventRow {
                index,
                kind: e.kind,
                key_id: e.key_id,
                authorization: e.authorization,
                reason: e.reason,
            });
        }
        let after = releases_after
            .as_ref()
            .map(|(p, v)| (p.as_str(), v.as_str()));
        let mut releases: Vec<PublisherRelease> = log
            .storage()
            .publisher_releases(&publisher, after, RELEASES_PER_PAGE + 1)?
            .into_iter()
            .filter(|r| r.first_index < at.size)
            .collect();
        let releases_more = releases.len() > RELEASES_PER_PAGE;
        releases.truncate(RELEASES_PER_PAGE);
        // Each release shown, proven bound (by the key directory) to the
        // first signature the row links to.
        for r in &releases {
            let name = ReleaseName {
                publisher: publisher.clone(),
                package: r.package.clone(),
                version: r.version.clone(),
            };
            proven_release(log, &at, &name, &mut material)?;
        }
        Ok((
            PublisherPage {
                checkpoint: checkpoint_view(log, &at),
                key_count: keys.as_ref().map(|k| k.keys().len()),
                active: keys.as_ref().map_or(0, |k| k.active_keys().count()),
                keys: key_views,
                keys_page,
                events,
                events_from,
                events_next,
                releases,
                releases_after,
                releases_more,
                record_embedded: embedded,
                publisher,
            },
            material,
        ))
    })
    .await?;
    let status = if page.key_count.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(html(
        status,
        pages::publisher(&page, &material.to_script_json()),
    ))
}

/// The keys of one page of the key table.
fn key_views(keys: &PublisherKeys, page: usize) -> Vec<KeyView> {
    let id_of = |h: &sealwax_proto::Hash| {
        keys.key(h)
            .map(|k| k.key.key_id_hex())
            .unwrap_or_else(|| hex::encode(&h[..8]))
    };
    keys.keys()
        .iter()
        .skip(page.saturating_mul(KEYS_PER_PAGE))
        .take(KEYS_PER_PAGE)
        .map(|k| {
            let mut chain: Vec<(String, &'static str)> = keys
                .chain(&k.key_hash)
                .iter()
                .map(|c| (c.key.key_id_hex(), c.voucher().kind()))
                .collect();
            chain.reverse();
            // A deep chain shows its root and its last links, not every key.
            if chain.len() > MAX_CHAIN_SHOWN {
                let skipped = chain.len() - MAX_CHAIN_SHOWN + 1;
                chain.splice(
                    1..=skipped,
                    [(format!("\u{2026} {skipped} more keys \u{2026}"), "")],
                );
            }
            let voucher = k.voucher();
            let mut history = vec![(
                format!("registered ({})", k.authorization.kind()),
                k.registered_at,
            )];
            for v in &k.vouchings {
                let by = match v.by.key() {
                    Some(h) => format!("vouched for again by {}", id_of(h)),
                    None => format!("vouched for again ({})", v.by.kind()),
                };
                history.push((by, v.index));
            }
            if let Some(i) = k.retired_at {
                history.push(("retired".into(), i));
            }
            if let Some(i) = k.compromised_at {
                history.push(("revoked as compromised".into(), i));
            }
            if let Some(s) = k.suspended {
                history.push((
                    format!(
                        "suspended: its chain passes through compromised key {}",
                        id_of(&s.compromised)
                    ),
                    s.at,
                ));
            }
            history.sort_by_key(|(_, i)| *i);
            KeyView {
                key_id: k.key.key_id_hex(),
                key_hash: hex::encode(k.key_hash),
                chain,
                vouched: voucher.kind(),
                vouched_by: voucher.key().map(|h| (id_of(h), hex::encode(h))),
                standing: k.standing().as_str(),
                history,
            }
        })
        .collect()
}

/// The query of `/explore/publishers/<p>/record`.
#[derive(Deserialize)]
pub(crate) struct RecordQuery {
    tree_size: Option<u64>,
}

async fn record(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> PageResult {
    let Path(publisher) = path.map_err(|e| AppError::BadRequest(e.body_text()))?;
    validate_publisher(&publisher).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let Query(q) = q.map_err(bad_query)?;
    let bytes = blocking(&st, move |log| {
        let at = signed_at(log, q.tree_size)?;
        let (record, _) = proven_record(log, &at, &publisher)?;
        let record = record.ok_or_else(|| {
            AppError::NotFound(format!(
                "publisher {publisher:?} has no key-state record at tree size {}",
                at.size
            ))
        })?;
        B64.decode(record)
            .map_err(|e| AppError::internal("a key-state record is not base64", e))
    })
    .await?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    secure_headers(&mut r);
    Ok(r)
}

async fn entry(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> PageResult {
    let Path(raw) = path.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let (number, minisig_only) = match raw.strip_suffix(".minisig") {
        Some(n) => (n, true),
        None => (raw.as_str(), false),
    };
    let index: u64 = number.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "entry {number:?} is not a log index: give a decimal number, e.g. /explore/entries/0"
        ))
    })?;
    let st2 = st.clone();
    let (page, material) = blocking(&st, move |log| {
        let at = current(&st2)?;
        if index >= at.size {
            return Err(AppError::NotFound(format!(
                "no entry at index {index}: the checkpoint shown has {} entries",
                at.size
            )));
        }
        let mut material = Material::new(&st2, &at);
        let bytes = entry_bytes(log, index)?;
        let entry = parse_entry(&bytes, index)?;
        let item = inclusion_item(log, &at, index, &bytes)?;
        let proof = item.proof.clone();
        material.inclusion.push(item);
        let mut release = None;
        let mut minisig = None;
        if let Entry::Signature(s) = &entry {
            minisig = Some(s.to_signature_box().to_file_string());
            if let Ok(r) = s.release() {
                let name = ReleaseName {
                    publisher: r.publisher,
                    package: r.package,
                    version: r.version,
                };
                let bound = proven_release(log, &at, &name, &mut material)?;
                release = Some((
                    name.to_string(),
                    bound.map(|b| (b.index, hex::encode(b.sha256))),
                ));
            }
        }
        Ok((
            EntryPage {
                index,
                checkpoint: checkpoint_view(log, &at),
                kind: entry.kind_name(),
                publisher: entry.publisher(),
                fields: pages::entry_fields(&entry),
                leaf_hash: B64.encode(merkle::leaf_hash(&bytes)),
                size: bytes.len(),
                proof,
                minisig,
                release,
            },
            material,
        ))
    })
    .await?;
    if minisig_only {
        let Some(text) = page.minisig else {
            return Err(AppError::NotFound(format!(
                "entry {index} is a {}, not a signature: it has no .minisig",
                page.kind
            ))
            .into());
        };
        let mut r = text.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"entry-{index}.minisig\""))
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        secure_headers(&mut r);
        return Ok(r);
    }
    Ok(html(
        StatusCode::OK,
        pages::entry(&page, &material.to_script_json()),
    ))
}

/// The query of `/explore/search`.
#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    /// A publisher, `publisher/package[@version]`, a SHA-256 or a log index.
    q: Option<String>,
}

async fn search(
    State(st): State<AppState>,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q.map_err(bad_query)?;
    let query = q.q.unwrap_or_default().trim().to_string();
    if query.is_empty() {
        return Ok(Redirect::to("/").into_response());
    }
    if query.bytes().all(|b| b.is_ascii_digit()) && query.len() <= 20 {
        return Ok(Redirect::to(&format!("/explore/entries/{query}")).into_response());
    }
    enum Lookup {
        Sha([u8; 32]),
        Release(String, String, Option<String>),
    }
    let mut sha = [0u8; 32];
    let lookup = if query.len() == 64 && hex::decode_to_slice(&query, &mut sha).is_ok() {
        Lookup::Sha(sha)
    } else if let Some((p, rest)) = query.split_once('/') {
        let (n, v) = match rest.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (rest, None),
        };
        let bad = |e: sealwax_proto::Error| AppError::BadRequest(format!("{query:?}: {e}"));
        validate_publisher(p).map_err(bad)?;
        validate_package(n).map_err(bad)?;
        if let Some(v) = v {
            validate_version(v).map_err(bad)?;
        }
        Lookup::Release(p.into(), n.into(), v.map(str::to_string))
    } else {
        validate_publisher(&query).map_err(|e| {
            AppError::BadRequest(format!(
                "{query:?} is not a publisher, publisher/package[@version], SHA-256 (64 hex digits) or log index: {e}"
            ))
        })?;
        return Ok(Redirect::to(&format!("/explore/publishers/{query}")).into_response());
    };
    let st2 = st.clone();
    let (page, material) = blocking(&st, move |log| {
        let at = current(&st2)?;
        let mut material = Material::new(&st2, &at);
        let (what, mut indexes) = match &lookup {
            Lookup::Sha(h) => (
                format!("signatures of the artifact with SHA-256 {}", hex::encode(h)),
                log.storage().signatures_by_sha256(h)?,
            ),
            Lookup::Release(p, n, v) => (
                match v {
                    Some(v) => format!("signatures of {p}/{n}@{v}"),
                    None => format!("signatures of {p}/{n}"),
                },
                log.storage().signatures_by_release(p, n, v.as_deref())?,
            ),
        };
        indexes.retain(|i| *i < at.size);
        let total = indexes.len();
        let newest: Vec<u64> = indexes
            .iter()
            .rev()
            .take(MAX_SEARCH_RESULTS)
            .copied()
            .collect();
        let rows = list_entries(log, &at, &newest, &mut material)?;
        Ok((
            SearchPage {
                query,
                checkpoint: checkpoint_view(log, &at),
                what,
                rows,
                total,
            },
            material,
        ))
    })
    .await?;
    Ok(html(
        StatusCode::OK,
        pages::search(&page, &material.to_script_json()),
    ))
}

async fn verify_js() -> Response {
    let mut r = VERIFY_JS.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    secure_headers(&mut r);
    r
}

async fn style_css() -> Response {
    let mut r = STYLE_CSS.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    secure_headers(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_material_cannot_close_its_script_element() {
        let m = Material {
            log_key: "</script><script>alert(1)</script>".into(),
            checkpoint: "a & b <!--".into(),
            inclusion: Vec::new(),
            directory: Vec::new(),
            witnesses: None,
        };
        let json = m.to_script_json();
        assert!(
            !json.contains('<') && !json.contains('>') && !json.contains('&'),
            "{json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["log_key"], "</script><script>alert(1)</script>");
        assert_eq!(back["checkpoint"], "a & b <!--");
    }

    #[test]
    fn a_policy_is_embedded_as_keys_and_a_quorum_tree() {
        let key = |i: u8| {
            let k = ed25519_dalek::SigningKey::from_bytes(&[i; 32]).verifying_key();
            hex::encode(k.as_bytes())
        };
        let text = format!(
            "witness w1 {}\nwitness w2 {}\nwitness w3 {}\ngroup g 2 w1 w2 w3\nquorum g\n",
            key(1),
            key(2),
            key(3)
        );
        let policy = Policy::parse(&text).unwrap();
        let m = serde_json::to_value(WitnessMaterial::of(&policy)).unwrap();
        assert_eq!(m["witnesses"].as_array().unwrap().len(), 3);
        assert_eq!(m["witnesses"][1]["name"], "w2");
        assert!(m["witnesses"][1].get("key_name").is_none());
        let raw = B64
            .decode(m["witnesses"][1]["key"].as_str().unwrap())
            .unwrap();
        assert_eq!(hex::encode(raw), key(2));
        assert_eq!(m["quorum"]["k"], 2);
        assert_eq!(m["quorum"]["members"][2]["witness"], 2);
    }
}
