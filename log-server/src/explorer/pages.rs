//! The explorer's HTML, with maud: every interpolated string is escaped.

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use sealwax_proto::entry::{Authorization, Entry, RevocationAuthorization};

use super::{
    CheckpointView, EntryPage, EntryRow, IndexPage, PublisherPage, SearchPage, KEYS_PER_PAGE,
};

/// The frame of every page: header with search, `<main>` with the badge,
/// the embedded material and the verifier.
fn layout(title: &str, material: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · sealwax explorer" }
                link rel="stylesheet" href="/explore/style.css";
                @if material.is_some() {
                    script src="/explore/verify.js" defer {}
                }
            }
            body {
                a.skip href="#content" { "Skip to content" }
                header {
                    nav aria-label="Site" {
                        a href="/" { "sealwax log" }
                    }
                    (search_form())
                }
                main #content data-verified=(if material.is_some() { "pending" } else { "none" }) {
                    @if let Some(m) = material {
                        p #verify-badge .badge.pending role="status" aria-live="polite" {
                            "Not verified yet: this page is checked by JavaScript in your browser. \
                             Without it, nothing here is verified; check it with the sealwax client."
                        }
                        script #sealwax-material type="application/json" { (PreEscaped(m)) }
                    }
                    (body)
                }
                footer {
                    p { "Each page embeds the signed checkpoint and the proofs of what it shows; "
                        code { "/explore/verify.js" } " re-checks them with WebCrypto." }
                }
            }
        }
    }
}

fn search_form() -> Markup {
    html! {
        form role="search" action="/explore/search" method="get" {
            label for="q" { "Search" }
            " "
            input #q type="search" name="q" placeholder="publisher, publisher/package, SHA-256 or index" size="40";
            " "
            button type="submit" { "Go" }
        }
    }
}

fn checkpoint(cp: &CheckpointView) -> Markup {
    html! {
        section aria-labelledby="cp-h" {
            h2 #cp-h { "Checkpoint" }
            dl {
                dt { "Tree size" } dd { (cp.size) }
                dt { "Root hash" } dd { code { (cp.root_b64) } }
                dt { "Key directory root" }
                dd { @match &cp.directory_root { Some(r) => code { (r) }, None => "none" } }
            }
            h3 { "Signatures" }
            ul {
                @for (name, id, mine) in &cp.signatures {
                    li {
                        code { (name) } " (key ID " code { (id) } "): "
                        @if *mine { "the log's signature" } @else { "a cosignature (witness)" }
                    }
                }
            }
            details {
                summary { "The signed note" }
                pre { (cp.note) }
            }
        }
    }
}

fn entry_table(rows: &[EntryRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p { "No entries." }
        } @else {
            div.scroll {
                table {
                    thead { tr { th scope="col" { "Index" } th scope="col" { "Kind" } th scope="col" { "Publisher" } th scope="col" { "What" } } }
                    tbody {
                        @for r in rows {
                            tr {
                                td { a href={ "/explore/entries/" (r.index) } { (r.index) } }
                                td { (r.kind) }
                                td { a href={ "/explore/publishers/" (r.publisher) } { (r.publisher) } }
                                td { (r.summary) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The front page.
pub(super) fn index(p: &IndexPage, material: &str) -> Markup {
    layout(
        &p.origin,
        Some(material),
        html! {
            h1 { "Log " code { (p.origin) } }
            section aria-labelledby="key-h" {
                h2 #key-h { "Verifier key" }
                p { code.wrap { (p.vkey) } }
                p { "Pin this key (e.g. " code { "sealwax log add" } ") from a source you trust; "
                    "this page checks the checkpoint against it." }
            }
            @if let Some(policy) = &p.policy {
                section aria-labelledby="policy-h" {
                    h2 #policy-h { "Witness policy" }
                    p { "Every page checks that the checkpoint is cosigned by " strong { (policy.quorum) } ". "
                        "Compare these keys with your own policy file (" code { "sealwax --policy" } ")." }
                    ul {
                        @for (name, key) in &policy.witnesses {
                            li { code { (name) } ": " code.wrap { (key) } }
                        }
                    }
                }
            }
            (checkpoint(&p.checkpoint))
            section aria-labelledby="new-h" {
                h2 #new-h { "Newest entries" }
                (entry_table(&p.newest))
            }
        },
    )
}

/// A publisher's page.
pub(super) fn publisher(p: &PublisherPage, material: &str) -> Markup {
    let base = format!("/explore/publishers/{}", p.publisher);
    layout(
        &p.publisher,
        Some(material),
        html! {
            h1 { "Publisher " code { (p.publisher) } }
            @match p.key_count {
                None => p { "This publisher has no keys in this log: the key directory proves its absence at tree size " (p.checkpoint.size) "." },
                Some(n) => p #key-count { (n) " key(s), " (p.active) " active. "
                    @if !p.record_embedded { "The key-state record is too large to embed; the verifier fetches it from this log." } },
            }
            @if let Some(n) = p.key_count {
                section aria-labelledby="keys-h" {
                    h2 #keys-h { "Keys" }
                    p { "Each key's chain reads from the key that claimed the name (or an operator registration, marked \u{2691}) down to it." }
                    div.scroll {
                        table.stack {
                            thead { tr {
                                th scope="col" { "Key ID" }
                                th scope="col" { "State" }
                                th scope="col" { "Vouched for by" }
                                th scope="col" { "Chain" }
                                th scope="col" { "History" }
                            } }
                            tbody {
                                @for k in &p.keys {
                                    tr id={ "key-" (k.key_hash) } class={ "state-" (k.standing) } {
                                        td data-label="Key ID" { code title=(k.key_hash) { (k.key_id) } }
                                        td data-label="State" { strong { (k.standing) } }
                                        td data-label="Vouched for by" {
                                            @match (&k.vouched_by, k.vouched) {
                                                (Some((id, hash)), _) => { "chain: " a href={ "#key-" (hash) } { code { (id) } } },
                                                (None, "operator") => { span.operator { "\u{2691} operator" } },
                                                (None, v) => { (v) },
                                            }
                                        }
                                        td data-label="Chain" {
                                            ol.chain {
                                                @for (id, how) in &k.chain {
                                                    @if how.is_empty() { li { (id) } } @else {
                                                        li { code { (id) } " " small { "(" (how) ")" }
                                                            @if *how == "operator" { " " span.operator { "\u{2691}" } } }
                                                    }
                                                }
                                            }
                                        }
                                        td data-label="History" {
                                            ul.history {
                                                @for (what, at) in &k.history {
                                                    li { (what) " at " a href={ "/explore/entries/" (at) } { "#" (at) } }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    (pager(n.div_ceil(KEYS_PER_PAGE), p.keys_page, &base))
                }
                section aria-labelledby="ev-h" {
                    h2 #ev-h { "Key events" }
                    p { "Registrations and revocations from log index " (p.events_from) ", each with its inclusion proof (checked by this page)." }
                    div.scroll {
                        table.stack {
                            thead { tr { th scope="col" { "Index" } th scope="col" { "Event" } th scope="col" { "Key ID" } th scope="col" { "Authorised by" } } }
                            tbody {
                                @for e in &p.events {
                                    tr {
                                        td data-label="Index" { a href={ "/explore/entries/" (e.index) } { (e.index) } }
                                        td data-label="Event" { (e.kind) @if let Some(r) = &e.reason { " (" (r) ")" } }
                                        td data-label="Key ID" { code { (e.key_id) } }
                                        td data-label="Authorised by" { @if e.authorization == "operator" { span.operator { "\u{2691} operator" } } @else { (e.authorization) } }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(next) = p.events_next {
                        p { a rel="next" href={ (base) "?events_from=" (next) "#ev-h" } { "Later key events \u{2192}" } }
                    }
                }
            }
            section aria-labelledby="rel-h" {
                h2 #rel-h { "Releases" }
                @if p.releases.is_empty() {
                    p { "No releases" @if p.releases_after.is_some() { " after these" } "." }
                } @else {
                    div.scroll {
                        table {
                            thead { tr { th scope="col" { "Package" } th scope="col" { "Version" } th scope="col" { "First signature" } } }
                            tbody {
                                @for (i, r) in p.releases.iter().enumerate() {
                                    tr data-release={ (p.publisher) "/" (r.package) "@" (r.version) } {
                                        @if i == 0 || p.releases[i - 1].package != r.package {
                                            th scope="row" { (r.package) }
                                        } @else {
                                            td {}
                                        }
                                        td.version { (r.version) }
                                        td { a data-index=(r.first_index) href={ "/explore/entries/" (r.first_index) } { "#" (r.first_index) } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if p.releases_more {
                    @if let Some(last) = p.releases.last() {
                        p { a rel="next" href={ (base) "?after_package=" (urlencode(&last.package)) "&after_version=" (urlencode(&last.version)) "#rel-h" } { "More releases \u{2192}" } }
                    }
                }
            }
            (checkpoint(&p.checkpoint))
        },
    )
}

fn pager(pages: usize, current: usize, base: &str) -> Markup {
    html! {
        @if pages > 1 {
            nav aria-label="Pages of keys" {
                ul.pager {
                    @for i in 0..pages {
                        li {
                            @if i == current { span aria-current="page" { (i + 1) } }
                            @else { a href={ (base) "?keys=" (i) "#keys-h" } { (i + 1) } }
                        }
                    }
                }
            }
        }
    }
}

/// Percent-encodes a name for a query string (names are ASCII).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An entry decoded field by field.
pub(super) fn entry_fields(e: &Entry) -> Vec<(&'static str, String)> {
    let mut f = vec![("Kind", e.kind_name().to_string())];
    match e {
        Entry::KeyRegistration(r) => {
            f.push(("Publisher", r.publisher.clone()));
            f.push(("Key", r.key.to_base64()));
            f.push(("Key ID", r.key.key_id_hex()));
            f.push(("Key hash", hex::encode(r.key.key_hash())));
            f.push(("Proof of possession", B64.encode(r.possession)));
            match &r.authorization {
                Authorization::Claim => {
                    f.push(("Authorization", "claim (the publisher's first key)".into()))
                }
                Authorization::Chain { by, signature } => {
                    f.push((
                        "Authorization",
                        format!("chain: vouched for by key {}", by.key_id_hex()),
                    ));
                    f.push(("Vouching key hash", hex::encode(by.key_hash())));
                    f.push(("Vouching signature", B64.encode(signature)));
                }
                Authorization::Operator => f.push((
                    "Authorization",
                    "\u{2691} operator (the log operator's admin credential)".into(),
                )),
            }
        }
        Entry::KeyRevocation(r) => {
            f.push(("Publisher", r.publisher.clone()));
            f.push(("Key", r.key.to_base64()));
            f.push(("Key ID", r.key.key_id_hex()));
            f.push(("Key hash", hex::encode(r.key.key_hash())));
            f.push(("Reason", r.reason.to_string()));
            match &r.authorization {
                RevocationAuthorization::Key { by, signature } => {
                    f.push((
                        "Authorization",
                        format!("signed by key {}", by.key_id_hex()),
                    ));
                    f.push(("Revocation signature", B64.encode(signature)));
                }
                RevocationAuthorization::Operator => {
                    f.push(("Authorization", "\u{2691} operator".into()))
                }
            }
        }
        Entry::Signature(s) => {
            if let Ok(r) = s.release() {
                f.push(("Publisher", r.publisher));
                f.push(("Package", r.package));
                f.push(("Version", r.version));
                f.push(("Artifact SHA-256", hex::encode(r.sha256)));
            }
            f.push(("Key", s.key.to_base64()));
            f.push(("Key ID", s.key.key_id_hex()));
            f.push(("Key hash", hex::encode(s.key.key_hash())));
            f.push(("BLAKE2b-512 of the artifact", hex::encode(s.prehash)));
            f.push(("Signature", B64.encode(s.signature)));
            f.push(("Trusted comment", s.trusted_comment.clone()));
            f.push(("Global signature", B64.encode(s.global_signature)));
        }
    }
    f
}

/// An entry's page.
pub(super) fn entry(p: &EntryPage, material: &str) -> Markup {
    layout(
        &format!("Entry {}", p.index),
        Some(material),
        html! {
            h1 { "Entry " (p.index) }
            p { "A " (p.kind) " of publisher " a href={ "/explore/publishers/" (p.publisher) } { code { (p.publisher) } } ", " (p.size) " bytes." }
            section aria-labelledby="f-h" {
                h2 #f-h { "Fields" }
                dl.fields {
                    @for (name, value) in &p.fields {
                        dt { (name) } dd { code.wrap { (value) } }
                    }
                }
            }
            @if let Some(m) = &p.minisig {
                section aria-labelledby="ms-h" {
                    h2 #ms-h { "Minisign signature" }
                    p { "The stock " code { ".minisig" } " this entry holds: "
                        a href={ "/explore/entries/" (p.index) ".minisig" } download { "download it" }
                        ", or copy it:" }
                    pre.minisig tabindex="0" aria-label="The .minisig file" { (m) }
                }
            }
            @if let Some((name, bound)) = &p.release {
                section aria-labelledby="rel-h" {
                    h2 #rel-h { "Release " code { (name) } }
                    @match bound {
                        Some((index, sha)) => p { "The key directory binds this release to the artifact with SHA-256 " code.wrap { (sha) }
                            ", first signed at " a href={ "/explore/entries/" (index) } { "#" (index) } "." },
                        None => p { "The key directory holds no binding for this release at this checkpoint." },
                    }
                }
            }
            section aria-labelledby="inc-h" {
                h2 #inc-h { "Inclusion proof" }
                p { "Leaf hash " code.wrap { (p.leaf_hash) } " in the tree of size " (p.checkpoint.size) ":" }
                ol.proof {
                    @for h in &p.proof { li { code { (h) } } }
                }
            }
            (checkpoint(&p.checkpoint))
        },
    )
}

/// A search result page.
pub(super) fn search(p: &SearchPage, material: &str) -> Markup {
    layout(
        &format!("Search {}", p.query),
        Some(material),
        html! {
            h1 { "Search " code { (p.query) } }
            p { (p.total) " " (p.what)
                @if p.total > p.rows.len() { " (the newest " (p.rows.len()) " shown)" } "." }
            (entry_table(&p.rows))
            (checkpoint(&p.checkpoint))
        },
    )
}

/// An error page: the status and the message, escaped.
pub(super) fn error(status: StatusCode, message: &str) -> Markup {
    layout(
        status.canonical_reason().unwrap_or("Error"),
        None,
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("Error")) }
            p.error role="alert" { (message) }
            p { a href="/" { "Back to the log" } }
        },
    )
}
