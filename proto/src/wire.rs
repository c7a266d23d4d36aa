//! The JSON bodies of the log's HTTP API (`docs/API.md`), defined once: the
//! log server serialises them, the client deserialises them (with
//! [`decode`], which names the field that did not decode).
//!
//! Hashes travel as 64 lowercase hex digits and are typed [`Hash`] here,
//! through [`hex_hash`], [`hex_hashes`] and [`hex_hash_option`]; entry bytes
//! travel as standard base64 and stay strings (the server and the client
//! each say what a bad one means to them).
//!
//! A few fields are `#[serde(default)]` only for reading: they are ones the
//! client does not rely on, and a log that leaves them out (an older one,
//! or a test's hostile fake) is still understood. The log always sends
//! them, and the OpenAPI description (feature `openapi`) marks them
//! required.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::directory::DirectoryProof;
use crate::{Error, Hash, Result};

/// Most key events in one answer of `GET /v1/publishers/<p>/keys`.
pub const KEY_EVENTS_PER_PAGE: usize = 1000;

/// Most signatures one lookup answers (the newest ones).
pub const MAX_SIGNATURES_PER_LOOKUP: usize = 1000;

/// The body of `POST /v1/entries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitBody {
    /// The entry's bytes in standard base64: at most 65,535 bytes once decoded, in the
    /// canonical encoding that sealwax writes.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub entry: String,
}

/// The answer to a submission, once the entry is durably sequenced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitAnswer {
    /// The entry's index (for a duplicate: the index it was first logged at).
    pub index: u64,
    /// The entry's RFC 9162 leaf hash.
    #[serde(with = "hex_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash))]
    pub leaf_hash: Hash,
    /// The signed checkpoint (C2SP signed note text) that the proof leads to.
    pub checkpoint: String,
    /// The entry's inclusion proof in that checkpoint's tree, from the leaf up.
    #[serde(with = "hex_hashes")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<HexHash>))]
    pub inclusion_proof: Vec<Hash>,
    /// True when these exact bytes were logged before.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub duplicate: bool,
}

/// One logged entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryAnswer {
    /// The entry's index.
    pub index: u64,
    /// The entry's bytes, standard base64.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub entry: String,
    /// The entry's RFC 9162 leaf hash.
    #[serde(with = "hex_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash))]
    pub leaf_hash: Hash,
}

/// One registration or revocation of a publisher's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyEventAnswer {
    /// The event's index in the log.
    pub index: u64,
    /// `registration` or `revocation`.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^(registration|revocation)$")
    )]
    pub kind: String,
    /// The key: the base64 line of a Minisign public key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub key: String,
    /// The Minisign key ID: 16 uppercase hex digits.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9A-F]{16}$", required = true)
    )]
    pub key_id: String,
    /// SHA-256 of the key's bytes: its identity in sealwax.
    #[serde(with = "hex_hash", default)]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash, required = true))]
    pub key_hash: Hash,
    /// `claim`, `chain` or `operator` for a registration; `key` or `operator` for a revocation.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^(claim|chain|operator|key)$", required = true)
    )]
    pub authorization: String,
    /// The key hash of the key that signed a `chain` registration or a `key` revocation.
    #[serde(with = "hex_hash_option", default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<HexHash>))]
    pub authorized_by: Option<Hash>,
    /// `retired` or `compromised` for a revocation; null for a registration.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, pattern = "^(retired|compromised)$")
    )]
    pub reason: Option<String>,
    /// The entry's bytes, standard base64.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub entry: String,
    /// The entry's inclusion proof at `tree_size`, from the leaf up.
    #[serde(with = "hex_hashes")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<HexHash>))]
    pub inclusion_proof: Vec<Hash>,
}

/// A publisher's key history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublisherKeysAnswer {
    /// The publisher.
    pub publisher: String,
    /// The tree size of `checkpoint`, at which the proofs are.
    pub tree_size: u64,
    /// The signed checkpoint the proofs lead to.
    pub checkpoint: String,
    /// The registrations and revocations from index `from` on, in index
    /// order: all of them, or the first [`KEY_EVENTS_PER_PAGE`].
    pub events: Vec<KeyEventAnswer>,
    /// Set when more events follow: ask again with `?from=` this index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
    /// The publisher's canonical key-state record at `tree_size` (proto
    /// `PublisherKeys::to_record`), in standard base64: absent for a
    /// publisher with no keys, and for a record over [`MAX_RECORD_IN_ANSWER`]
    /// bytes (fold the events instead: their record must hash to the same value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The key directory proof of the publisher's key-state leaf (or of its
    /// absence) under the directory root `checkpoint` commits to; absent
    /// only when the checkpoint commits to no directory (an older log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Byte))]
    pub directory_proof: Option<DirectoryProof>,
}

/// Longest key-state record sent inline in [`PublisherKeysAnswer::record`].
pub const MAX_RECORD_IN_ANSWER: usize = 1 << 20;

/// The artifact a release name is bound to: its first signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseRecordAnswer {
    /// Log index of the release's first signature entry.
    pub index: u64,
    /// SHA-256 of the artifact, as 64 lowercase hex digits.
    #[serde(with = "hex_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash))]
    pub sha256: Hash,
}

/// One release's leaf of the key directory, proven (`GET /v1/releases/<p>/<n>/<v>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseAnswer {
    /// The publisher.
    pub publisher: String,
    /// The package.
    pub package: String,
    /// The version.
    pub version: String,
    /// The tree size of `checkpoint`, at which the proof is.
    pub tree_size: u64,
    /// The signed checkpoint whose directory root the proof leads to.
    pub checkpoint: String,
    /// The artifact the release is bound to; absent (`null`) when the
    /// release is not logged at `tree_size`, and the proof shows its absence.
    #[serde(default)]
    pub record: Option<ReleaseRecordAnswer>,
    /// The key directory proof of the release's leaf, or of its absence.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub directory_proof: DirectoryProof,
}

/// An RFC 9162 inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InclusionAnswer {
    /// The leaf's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf hash at `index`.
    #[serde(with = "hex_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash))]
    pub leaf_hash: Hash,
    /// The proof, from the leaf up.
    #[serde(with = "hex_hashes")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<HexHash>))]
    pub proof: Vec<Hash>,
}

/// An RFC 9162 consistency proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyAnswer {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The proof.
    #[serde(with = "hex_hashes")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<HexHash>))]
    pub proof: Vec<Hash>,
}

/// One logged release signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignatureAnswer {
    /// The signature entry's index.
    pub index: u64,
    /// The publisher.
    pub publisher: String,
    /// The package.
    pub package: String,
    /// The version.
    pub version: String,
    /// The artifact's SHA-256.
    #[serde(with = "hex_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash))]
    pub sha256: Hash,
    /// The key hash of the signing key.
    #[serde(with = "hex_hash", default)]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash, required = true))]
    pub key_hash: Hash,
    /// The entry's bytes, standard base64.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub entry: String,
}

/// The answer to a signature lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignaturesAnswer {
    /// The matching signatures in index order (the newest 1,000).
    pub signatures: Vec<SignatureAnswer>,
}

/// The answer to an artifact upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactAnswer {
    /// The artifact's SHA-256.
    #[serde(with = "hex_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = HexHash))]
    pub sha256: Hash,
    /// Its size in bytes.
    pub size: u64,
}

/// The answer of `GET /v1/limits`: the artifact store's limits, so that a
/// publisher can check a file against them before logging its signature
/// (`null`: no such limit, or no artifact store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitsAnswer {
    /// Whether this log keeps artifacts (`PUT /v1/artifacts/<sha256>`).
    pub artifacts: bool,
    /// The largest artifact it takes, in bytes.
    pub max_artifact_bytes: Option<u64>,
    /// The most bytes the whole store holds.
    pub artifact_quota_bytes: Option<u64>,
    /// The bytes the store holds now (or has promised to uploads under way).
    pub artifact_used_bytes: Option<u64>,
    /// The most bytes one publisher's artifacts take.
    pub publisher_quota_bytes: Option<u64>,
    /// With `?publisher=P`: the bytes P's artifacts take now.
    #[serde(default)]
    pub publisher_used_bytes: Option<u64>,
}

/// The answer of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Always `ok`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^ok$"))]
    pub status: String,
    /// The published tree size.
    pub tree_size: u64,
}

/// The JSON body of every error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What was wrong and what to do about it.
    pub error: String,
}

/// Decodes a body of this API from `de` (a `serde_json::Deserializer`, say);
/// a failure names the field that did not decode
/// (`events[2].inclusion_proof[0]: ...`) in [`Error::BadJson`]. Whether
/// anything follows the body is the caller's to check.
pub fn decode<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Result<T> {
    serde_path_to_error::deserialize(de).map_err(|e| Error::BadJson {
        path: e.path().to_string(),
        cause: e.into_inner().to_string(),
    })
}

/// The prefix naming `path` in [`Error::BadJson`]'s message: `path: `, or
/// nothing for the whole body.
pub(crate) fn at_path(path: &str) -> String {
    if path == "." {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// `h` as 64 lowercase hex digits, as hashes travel in this API.
fn encode_hash(h: &Hash) -> String {
    hex::encode(h)
}

/// A hash from 64 lowercase hex digits (the one spelling [`encode_hash`] writes,
/// so a hash has one form on the wire), or an error saying what came instead.
fn decode_hash<E: serde::de::Error>(s: &str) -> std::result::Result<Hash, E> {
    let mut h = [0u8; 32];
    let lowercase = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if s.len() == 64 && lowercase && hex::decode_to_slice(s, &mut h).is_ok() {
        return Ok(h);
    }
    // A hostile log chooses the string: show it only when it is short.
    Err(if s.chars().count() <= 80 {
        E::custom(format_args!(
            "{s:?} is not a SHA-256 hash: expected 64 lowercase hex digits"
        ))
    } else {
        E::custom(format_args!(
            "a string of {} bytes is not a SHA-256 hash: expected 64 lowercase hex digits",
            s.len()
        ))
    })
}

/// One hash as a hex string; the element type of [`hex_hashes`].
struct HexValue(Hash);

impl<'de> Deserialize<'de> for HexValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<HexValue, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        decode_hash(&s).map(HexValue)
    }
}

/// Serde for a [`Hash`] as 64 hex digits: `#[serde(with = "hex_hash")]`.
pub mod hex_hash {
    use super::*;

    /// Writes `h` as 64 lowercase hex digits.
    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&encode_hash(h))
    }

    /// Reads 64 lowercase hex digits; anything else fails, saying what came.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Hash, D::Error> {
        HexValue::deserialize(d).map(|h| h.0)
    }
}

/// Serde for a list of [`Hash`]es as hex strings: `#[serde(with = "hex_hashes")]`.
pub mod hex_hashes {
    use super::*;

    /// Writes each hash as 64 lowercase hex digits.
    pub fn serialize<S: Serializer>(hs: &[Hash], s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(hs.iter().map(encode_hash))
    }

    /// Reads a list of 64-lowercase-hex-digit strings; one bad string fails the list.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Vec<Hash>, D::Error> {
        let v = Vec::<HexValue>::deserialize(d)?;
        Ok(v.into_iter().map(|h| h.0).collect())
    }
}

/// Serde for an optional [`Hash`], as hex digits or `null`:
/// `#[serde(with = "hex_hash_option")]`.
pub mod hex_hash_option {
    use super::*;

    /// Writes `null`, or the hash as 64 lowercase hex digits.
    pub fn serialize<S: Serializer>(
        h: &Option<Hash>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match h {
            Some(h) => s.serialize_some(&encode_hash(h)),
            None => s.serialize_none(),
        }
    }

    /// Reads `null` or 64 lowercase hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<Hash>, D::Error> {
        Ok(Option::<HexValue>::deserialize(d)?.map(|h| h.0))
    }
}

/// Schema only: a SHA-256 hash as 64 lowercase hex digits (the OpenAPI
/// type of every hash field here).
#[cfg(feature = "openapi")]
pub struct HexHash;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for HexHash {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9a-f]{64}$"))
            .description(Some("A SHA-256 hash: 64 lowercase hex digits"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for HexHash {}
