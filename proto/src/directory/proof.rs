//! [`DirectoryProof`], its canonical encoding, and [`verify`].

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{common_prefix_bits, key_bit, leaf_hash, node_hash, Key, EMPTY, MAX_DEPTH};
use crate::error::DirectoryError;
use crate::Hash;

/// The longest encoded proof: a path of 256 non-empty siblings ending at another key's leaf.
pub const MAX_PROOF_LEN: usize = 3 + 32 + 32 * MAX_DEPTH as usize + 64;

/// Where a directory proof's path ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminal {
    /// At the key's own leaf: the key is in the directory, with the value the verifier is given.
    Leaf,
    /// At an empty subtree: the key is absent.
    Empty,
    /// At the leaf of another key that shares the path: the key is absent.
    OtherLeaf {
        /// That leaf's key.
        key: Key,
        /// That leaf's value.
        value: Hash,
    },
}

impl Terminal {
    /// The kind byte of the encoding.
    fn kind(&self) -> u8 {
        match self {
            Terminal::Leaf => 0,
            Terminal::Empty => 1,
            Terminal::OtherLeaf { .. } => 2,
        }
    }
}

/// A proof that a key has a value in the directory ([`Terminal::Leaf`]), or has none.
///
/// Encoded as `kind:u8 || depth:u16 || bitmap || non-empty siblings ||
/// other leaf` (see `docs/FORMATS.md`); its text form is that in standard
/// base64, which is also how it travels in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryProof {
    /// The sibling hash at each depth of the key's path, from the root down ([`EMPTY`] for an empty sibling).
    pub siblings: Vec<Hash>,
    /// Where the path ends, at depth `siblings.len()`.
    pub terminal: Terminal,
}

impl DirectoryProof {
    /// The canonical encoding: empty siblings are one bit of the bitmap, not 32 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let depth = self.siblings.len();
        let mut bitmap = vec![0u8; depth.div_ceil(8)];
        let mut hashes = Vec::new();
        for (i, s) in self.siblings.iter().enumerate() {
            if *s != EMPTY {
                bitmap[i / 8] |= 0x80 >> (i % 8);
                hashes.extend_from_slice(s);
            }
        }
        let mut out = Vec::with_capacity(3 + bitmap.len() + hashes.len() + 64);
        out.push(self.terminal.kind());
        out.extend_from_slice(&(depth as u16).to_be_bytes());
        out.extend_from_slice(&bitmap);
        out.extend_from_slice(&hashes);
        if let Terminal::OtherLeaf { key, value } = &self.terminal {
            out.extend_from_slice(key);
            out.extend_from_slice(value);
        }
        out
    }

    /// Parses the canonical encoding strictly: a known kind, at most 256
    /// siblings, zero padding bits, no listed sibling that is empty, and
    /// exactly the bytes these call for.
    pub fn decode(bytes: &[u8]) -> Result<DirectoryProof, DirectoryError> {
        let bad = DirectoryError::MalformedProof;
        if bytes.len() < 3 {
            return Err(bad("shorter than its 3-byte header"));
        }
        let (kind, depth) = (bytes[0], u16::from_be_bytes([bytes[1], bytes[2]]));
        if kind > 2 {
            return Err(bad("unknown kind byte (0 leaf, 1 empty, 2 other leaf)"));
        }
        if depth > MAX_DEPTH {
            return Err(bad("a path of more than 256 levels"));
        }
        let depth = usize::from(depth);
        let bitmap = bytes
            .get(3..3 + depth.div_ceil(8))
            .ok_or(bad("truncated in its bitmap"))?;
        if depth % 8 != 0 && bitmap[depth / 8] & (0xff >> (depth % 8)) != 0 {
            return Err(bad("the bitmap's padding bits are not zero"));
        }
        let present = bitmap
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum::<usize>();
        let other = if kind == 2 { 64 } else { 0 };
        let rest = &bytes[3 + bitmap.len()..];
        if rest.len() != 32 * present + other {
            return Err(bad(
                "its length is not the one its bitmap and kind call for",
            ));
        }
        let (hashes, leaf) = rest.split_at(32 * present);
        let mut hashes = hashes.chunks_exact(32);
        let mut siblings = Vec::with_capacity(depth);
        for i in 0..depth {
            if bitmap[i / 8] & (0x80 >> (i % 8)) == 0 {
                siblings.push(EMPTY);
                continue;
            }
            let h: Hash = hashes
                .next()
                .expect("counted")
                .try_into()
                .expect("32 bytes");
            if h == EMPTY {
                return Err(bad("a sibling listed as non-empty is the empty hash"));
            }
            siblings.push(h);
        }
        let terminal = match kind {
            0 => Terminal::Leaf,
            1 => Terminal::Empty,
            _ => Terminal::OtherLeaf {
                key: leaf[..32].try_into().expect("32 bytes"),
                value: leaf[32..].try_into().expect("32 bytes"),
            },
        };
        Ok(DirectoryProof { siblings, terminal })
    }

    /// Parses the text form: canonical standard base64 of the encoding, at most [`MAX_PROOF_LEN`] bytes.
    pub fn from_base64(text: &str) -> Result<DirectoryProof, DirectoryError> {
        if text.len() > MAX_PROOF_LEN.div_ceil(3) * 4 {
            return Err(DirectoryError::MalformedProof("longer than any proof"));
        }
        let bytes = BASE64
            .decode(text)
            .map_err(|_| DirectoryError::MalformedProof("not canonical standard base64"))?;
        DirectoryProof::decode(&bytes)
    }

    /// The text form: standard base64 of [`encode`](Self::encode).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.encode())
    }
}

impl fmt::Display for DirectoryProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl FromStr for DirectoryProof {
    type Err = DirectoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DirectoryProof::from_base64(s)
    }
}

impl Serialize for DirectoryProof {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for DirectoryProof {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DirectoryProof::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// Checks that `proof` shows, under directory root `root`, that `key` holds
/// `value` (`Some`) or is absent (`None`).
///
/// The path must be one the tree's shape allows: its last sibling is not
/// empty (such a node would have collapsed), and another key's leaf shares
/// the whole path with `key`. Then the path is hashed from where it ends up
/// to the root, and must give `root`.
pub fn verify(
    root: &Hash,
    key: &Key,
    value: Option<&Hash>,
    proof: &DirectoryProof,
) -> Result<(), DirectoryError> {
    let invalid = DirectoryError::ProofInvalid;
    let depth = proof.siblings.len();
    if depth > usize::from(MAX_DEPTH) {
        return Err(DirectoryError::MalformedProof(
            "a path of more than 256 levels",
        ));
    }
    if proof.siblings.last() == Some(&EMPTY) {
        return Err(invalid(
            "its path ends beside an empty subtree, where the tree has no node",
        ));
    }
    let mut hash = match (value, &proof.terminal) {
        (Some(v), Terminal::Leaf) => leaf_hash(key, v),
        (None, Terminal::Empty) => EMPTY,
        (None, Terminal::OtherLeaf { key: other, value }) => {
            if other == key {
                return Err(invalid("it shows the key's own leaf as another key's"));
            }
            if usize::from(common_prefix_bits(key, other)) < depth {
                return Err(invalid("it ends at the leaf of a key off the key's path"));
            }
            leaf_hash(other, value)
        }
        (Some(_), _) => return Err(invalid("it shows the key absent, but a value was expected")),
        (None, _) => {
            return Err(invalid(
                "it shows the key present, but its absence was expected",
            ))
        }
    };
    for (d, sibling) in proof.siblings.iter().enumerate().rev() {
        hash = if key_bit(key, d as u16) {
            node_hash(sibling, &hash)
        } else {
            node_hash(&hash, sibling)
        };
    }
    if hash != *root {
        return Err(invalid("it does not lead to the directory root"));
    }
    Ok(())
}
