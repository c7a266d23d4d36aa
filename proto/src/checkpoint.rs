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
//!
//! One extension line is sealwax's own: `sealwax-directory <base64(root)>`,
//! the root of the key directory ([`crate::directory`]) as of the tree
//! size, read with [`Checkpoint::directory_root`] and written with
//! [`Checkpoint::set_directory_root`]. A checkpoint without it (from a log
//! older than the directory) commits to no directory.
//!
//! [`relate`] is the one rule for how a new checkpoint relates to the last
//! one a reader verified (same, extends, older, rollback, fork); what each
//! reader then allows is its own policy.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::merkle::verify_consistency;
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

/// The first word of the extension line that carries the key directory's root.
pub const DIRECTORY_EXTENSION: &str = "sealwax-directory";

/// The extension line `sealwax-directory <base64(root)>` for a key directory root.
pub fn directory_line(root: &Hash) -> String {
    format!("{DIRECTORY_EXTENSION} {}", BASE64.encode(root))
}

/// Whether an extension line is a directory line (its first word is `sealwax-directory`).
fn is_directory_line(line: &str) -> bool {
    line.split(' ').next() == Some(DIRECTORY_EXTENSION)
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

    /// The key directory root this checkpoint commits to, from its one
    /// `sealwax-directory` line; `None` when it has none (an older log).
    /// Strict: a second such line, or one that is not exactly the word, a
    /// space and 44 characters of canonical base64 of 32 bytes, is refused.
    pub fn directory_root(&self) -> Result<Option<Hash>> {
        let mut lines = self.extensions.iter().filter(|l| is_directory_line(l));
        let Some(line) = lines.next() else {
            return Ok(None);
        };
        if lines.next().is_some() {
            return Err(Error::MalformedCheckpoint(
                "it has more than one sealwax-directory line",
            ));
        }
        line.strip_prefix(DIRECTORY_EXTENSION)
            .and_then(|rest| rest.strip_prefix(' '))
            .filter(|b64| b64.len() == 44)
            .and_then(parse_hash_b64)
            .map(Some)
            .ok_or(Error::MalformedCheckpoint(
                "its sealwax-directory line is not the word, one space and the base64 of a 32-byte root",
            ))
    }

    /// Sets the `sealwax-directory` line to `root`, last, removing any there was.
    pub fn set_directory_root(&mut self, root: &Hash) {
        self.extensions.retain(|l| !is_directory_line(l));
        self.extensions.push(directory_line(root));
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

/// How a new tree head relates to the last one a reader verified, from [`relate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    /// The same size and root: nothing new.
    Same,
    /// Larger, and proven to extend the old tree (by the consistency proof, or the old tree is empty).
    Extends,
    /// Larger, but no consistency proof was given: the caller must prove it another way.
    Unproven,
    /// Smaller, and proven to be a prefix of the old tree (by the consistency proof, or it is empty).
    Older,
    /// Smaller, with no proof that it is a prefix of the old tree: the log went back.
    Rollback,
    /// Not the history of the old tree: the log forked.
    Fork(ForkReason),
}

/// Why [`relate`] found a fork.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkReason {
    /// Two different roots for one tree size.
    #[error("same size, different root hash")]
    SameSizeOtherRoot,
    /// The consistency proof between the two sizes does not verify.
    #[error("{0}")]
    BadProof(Error),
}

/// The sizes `(from, to)` of the consistency proof [`relate`] needs for trees of `old_size` and `new_size`; `None` if it needs none.
///
/// No proof is needed between equal sizes, or when the smaller tree is
/// empty (the empty tree is a prefix of every tree).
pub fn consistency_needed(old_size: u64, new_size: u64) -> Option<(u64, u64)> {
    let (from, to) = (old_size.min(new_size), old_size.max(new_size));
    (from > 0 && from < to).then_some((from, to))
}

/// Relates a new tree head `(size, root)` to the `old` one, given the consistency proof [`consistency_needed`] names, if it was fetched.
///
/// The proof goes from the smaller tree to the larger, whichever is new; it
/// is not read when none is needed. Without it a larger tree is
/// [`Relation::Unproven`] and a smaller one a [`Relation::Rollback`]. Which
/// relations are acceptable is the caller's decision: an installer takes an
/// older checkpoint only from a proof file, a monitor none.
pub fn relate(old: (u64, Hash), new: (u64, Hash), proof: Option<&[Hash]>) -> Relation {
    let ((old_size, old_root), (new_size, new_root)) = (old, new);
    if new_size == old_size {
        return if new_root == old_root {
            Relation::Same
        } else {
            Relation::Fork(ForkReason::SameSizeOtherRoot)
        };
    }
    let grew = new_size > old_size;
    let (proven, unproven) = if grew {
        (Relation::Extends, Relation::Unproven)
    } else {
        (Relation::Older, Relation::Rollback)
    };
    let Some((from, to)) = consistency_needed(old_size, new_size) else {
        return proven;
    };
    let Some(proof) = proof else {
        return unproven;
    };
    let (from_root, to_root) = if grew {
        (old_root, new_root)
    } else {
        (new_root, old_root)
    };
    match verify_consistency(from, to, proof, &from_root, &to_root) {
        Ok(()) => proven,
        Err(e) => Relation::Fork(ForkReason::BadProof(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, prove_consistency, tree_root, MemoryHashStore, EMPTY_ROOT};

    /// A tree of `n` leaves.
    fn tree(n: u64) -> MemoryHashStore {
        let mut t = MemoryHashStore::new();
        for i in 0..n {
            t.append(leaf_hash(&i.to_be_bytes()));
        }
        t
    }

    fn head(t: &MemoryHashStore, size: u64) -> (u64, Hash) {
        (size, tree_root(t, size).unwrap())
    }

    #[test]
    fn proofs_are_needed_between_two_non_empty_sizes_only() {
        assert_eq!(consistency_needed(3, 7), Some((3, 7)));
        assert_eq!(consistency_needed(7, 3), Some((3, 7)));
        assert_eq!(consistency_needed(5, 5), None);
        assert_eq!(consistency_needed(0, 5), None);
        assert_eq!(consistency_needed(5, 0), None);
    }

    #[test]
    fn each_relation_is_found() {
        let t = tree(7);
        let proof = prove_consistency(&t, 3, 7).unwrap();
        let (small, large) = (head(&t, 3), head(&t, 7));
        assert_eq!(relate(large, large, None), Relation::Same);
        assert_eq!(relate(small, large, Some(&proof)), Relation::Extends);
        assert_eq!(relate(small, large, None), Relation::Unproven);
        assert_eq!(relate(large, small, Some(&proof)), Relation::Older);
        assert_eq!(relate(large, small, None), Relation::Rollback);
        assert_eq!(
            relate(large, (7, [1; 32]), None),
            Relation::Fork(ForkReason::SameSizeOtherRoot)
        );
        // The empty tree is a prefix of every tree: no proof is read.
        let empty = (0, EMPTY_ROOT);
        assert_eq!(relate(empty, large, None), Relation::Extends);
        assert_eq!(relate(large, empty, None), Relation::Older);
    }

    #[test]
    fn a_tampered_proof_or_root_is_a_fork() {
        let t = tree(7);
        let proof = prove_consistency(&t, 3, 7).unwrap();
        let (small, large) = (head(&t, 3), head(&t, 7));
        let mut bad = proof.clone();
        bad[0][0] ^= 1;
        let other_root = (7, [2; 32]);
        for (old, new, proof) in [
            (small, large, &bad),
            (large, small, &bad),
            (small, other_root, &proof),
            (other_root, small, &proof),
            // A proof for other sizes.
            (head(&t, 4), large, &proof),
        ] {
            assert!(
                matches!(
                    relate(old, new, Some(proof)),
                    Relation::Fork(ForkReason::BadProof(_))
                ),
                "{old:?} -> {new:?}"
            );
        }
    }
}
