//! Offline proofs of inclusion (C2SP `tlog-proof`), the `.tlog-proof` files.
//!
//! ```text
//! c2sp.org/tlog-proof@v1\n
//! extra <base64(opaque data)>\n        optional, unauthenticated
//! index <decimal, no leading zeros>\n
//! <base64(32-byte hash)>\n             zero or more: the RFC 9162 inclusion path,
//!                                      from the leaf's sibling up to the root's child
//! \n                                   an empty line
//! <signed checkpoint note, verbatim, with any cosignature lines>
//! ```

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::checkpoint::{parse_decimal, parse_hash_b64, Checkpoint};
use crate::note::{Note, NoteVerifier};
use crate::policy::{open_accepted, Policy};
use crate::{merkle, Error, Hash, Result};

/// The first line of every tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes an inclusion path can have (a tree of at most 2^64 - 1 leaves).
const MAX_PROOF_HASHES: usize = 64;

/// A tlog-proof: the entry's index, its inclusion path, and the checkpoint it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data for the application.
    pub extra: Option<Vec<u8>>,
    /// The zero-based index of the entry in the log.
    pub index: u64,
    /// The inclusion path, from the leaf's sibling up to the root's child.
    pub inclusion: Vec<Hash>,
    /// The signed checkpoint note, verbatim (log signature and any cosignatures).
    pub checkpoint: String,
}

/// Takes the next newline-terminated line off `rest`, without its newline.
fn next_line<'a>(rest: &mut &'a str) -> Result<&'a str> {
    let (line, tail) = rest.split_once('\n').ok_or(Error::MalformedProof(
        "the proof ends before the checkpoint",
    ))?;
    *rest = tail;
    Ok(line)
}

impl TlogProof {
    /// Parses a tlog-proof strictly; the checkpoint must be a well-formed signed checkpoint (not verified here).
    pub fn parse(text: &str) -> Result<TlogProof> {
        let mut rest = text;
        if next_line(&mut rest)? != TLOG_PROOF_HEADER {
            return Err(Error::MalformedProof(
                "the first line is not c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line = next_line(&mut rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                BASE64
                    .decode(b64)
                    .map_err(|_| Error::MalformedProof("the extra data is not valid base64"))?,
            );
            line = next_line(&mut rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .ok_or(Error::MalformedProof("the index line is missing"))?;
        let index = parse_decimal(index).ok_or(Error::MalformedProof(
            "the index is not a decimal number without leading zeros that fits in 64 bits",
        ))?;
        let mut inclusion = Vec::new();
        loop {
            let line = next_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            if inclusion.len() == MAX_PROOF_HASHES {
                return Err(Error::MalformedProof(
                    "the inclusion path has more than 64 hashes",
                ));
            }
            inclusion.push(parse_hash_b64(line).ok_or(Error::MalformedProof(
                "an inclusion path line is not the base64 encoding of a 32-byte hash",
            ))?);
        }
        let note = Note::parse(rest)?;
        Checkpoint::parse(&note.text)?;
        Ok(TlogProof {
            extra,
            index,
            inclusion,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies the checkpoint ([`open_accepted`]: the log's signature and,
    /// under a policy, its quorum) and that `leaf_hash` is at `index` in its
    /// tree; the failure says which part failed.
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        origin: &str,
        verifier: &NoteVerifier,
        policy: Option<&Policy>,
    ) -> Result<(Checkpoint, Note), ProofFailure> {
        let (cp, note) =
            open_accepted(&self.checkpoint, origin, verifier, policy).map_err(|e| {
                if e.is_not_cosigned() {
                    ProofFailure::Quorum(e)
                } else {
                    ProofFailure::Checkpoint(e)
                }
            })?;
        merkle::verify_inclusion(leaf_hash, self.index, cp.size, &self.inclusion, &cp.root)
            .map_err(|cause| ProofFailure::Inclusion {
                index: self.index,
                cause,
            })?;
        Ok((cp, note))
    }
}

/// Which part of a tlog-proof failed in [`TlogProof::verify`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFailure {
    /// The checkpoint is not for the log, or not signed by its key.
    #[error("its checkpoint does not verify with the log's key ({0})")]
    Checkpoint(Error),
    /// The checkpoint is the log's, but the policy's witnesses did not cosign it.
    #[error("its checkpoint is not cosigned by a quorum of the policy's witnesses ({0})")]
    Quorum(Error),
    /// The entry is not at the proof's index in the checkpoint's tree.
    #[error("the entry is not at index {index} of the checkpoint's tree ({cause})")]
    Inclusion {
        /// The proof's index.
        index: u64,
        /// Why the inclusion path does not verify.
        cause: Error,
    },
}

/// The proof text, in the C2SP form.
impl fmt::Display for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", BASE64.encode(extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.inclusion {
            writeln!(f, "{}", BASE64.encode(hash))?;
        }
        writeln!(f)?;
        f.write_str(&self.checkpoint)
    }
}

impl FromStr for TlogProof {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        TlogProof::parse(s)
    }
}
