//! Checkpoints (C2SP `tlog-checkpoint`): a log's signed tree head.
//!
//! A checkpoint is the text of a signed note (see [`crate::note`]):
//!
//! ```text
//! <origin>\n                 non-empty; the log's identity, e.g. example.com/log
//! <tree size>\n              ASCII decimal, no leading zeros ("0" for the empty tree)
//! <base64(root hash)>\n      the 32-byte RFC 9162 root of the tree at that size
//! <extension line>\n         zero or more, opaque, non-empty
//! ```
//!
//! It is signed by the log with an Ed25519 note key (type `0x01`); witnesses
//! may add cosignature lines (type `0x04`), which a verifier that does not
//! know them ignores.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::note::{sign_note, Note, NoteSigner, NoteVerifier};
use crate::{Error, Hash, Result};

/// A log's tree head: origin, size, root hash and optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The log's origin line (its identity).
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The Merkle tree root at `size`.
    pub root: Hash,
    /// Extension lines after the root, in order, without newlines.
    pub extensions: Vec<String>,
}

/// Parses an ASCII decimal with no sign and no leading zeros (except "0") that fits a u64.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Decodes canonical standard base64 that must hold exactly 32 bytes.
pub(crate) fn parse_hash_b64(s: &str) -> Option<Hash> {
    BASE64.decode(s).ok()?.try_into().ok()
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Parses a checkpoint body (the note text, ending in a newline), strictly.
    pub fn parse(body: &str) -> Result<Checkpoint> {
        let body = body.strip_suffix('\n').ok_or(Error::MalformedCheckpoint(
            "the text does not end with a newline",
        ))?;
        if body.chars().any(|c| c < ' ' && c != '\n') {
            return Err(Error::MalformedCheckpoint(
                "the text contains an ASCII control character other than newline",
            ));
        }
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(Error::MalformedCheckpoint("the origin line is empty"));
        }
        let size = lines
            .next()
            .ok_or(Error::MalformedCheckpoint("the tree size line is missing"))?;
        let size = parse_decimal(size).ok_or(Error::MalformedCheckpoint(
            "the tree size is not a decimal number without leading zeros that fits in 64 bits",
        ))?;
        let root = lines
            .next()
            .ok_or(Error::MalformedCheckpoint("the root hash line is missing"))?;
        let root = parse_hash_b64(root).ok_or(Error::MalformedCheckpoint(
            "the root hash is not the base64 encoding of 32 bytes",
        ))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(Error::MalformedCheckpoint("an extension line is empty"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint body: origin, size, base64 root and extension lines, each ending in a newline.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }
}

/// Signs the checkpoint with the log's key and returns the signed note text.
pub fn sign_checkpoint(cp: &Checkpoint, signer: &NoteSigner) -> Result<String> {
    let body = cp.to_body();
    if Checkpoint::parse(&body)? != *cp {
        return Err(Error::MalformedCheckpoint(
            "the origin or an extension line contains a newline, so the checkpoint cannot be written",
        ));
    }
    sign_note(&body, &[signer])
}

/// Parses a signed checkpoint, checks it is for `origin`, and verifies the log's signature.
///
/// Other signature lines (such as witness cosignatures) are ignored here; the
/// returned note holds only the log's verified signature.
pub fn open_checkpoint(
    text: &str,
    origin: &str,
    verifier: &NoteVerifier,
) -> Result<(Checkpoint, Note)> {
    let note = Note::parse(text)?;
    let cp = Checkpoint::parse(&note.text)?;
    if cp.origin != origin {
        return Err(Error::WrongOrigin {
            expected: origin.to_owned(),
            found: cp.origin,
        });
    }
    let note = note.verified(&[verifier])?;
    Ok((cp, note))
}
