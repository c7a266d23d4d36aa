//! An installer's trust decision: is a signature valid, and does the
//! installer trust the key behind it? `install` and `verify` both decide
//! through [`decide`].
//!
//! The installer holds a set of *trusted roots* per publisher: keys it
//! accepted at the prompt, imported with `keys import`, or made itself.
//! Keys trusted through a chain are never roots: a chain is re-checked
//! against the publisher's current key state every time, so a link that was
//! cut (a compromise) or replaced (an operator re-vouching) is noticed.
//!
//! `--trust-new-keys` may accept a key only on first use of a publisher
//! (no trusted root yet) and only through the publisher's claim key, with no
//! operator registration or re-vouching on the chain ([`NewKey::first_use`]).

use std::collections::HashSet;

use crate::keys::{AuthorizedBy, KeyStatus, PublisherKeys};
use crate::Hash;

/// How the installer trusts a valid signature's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The key is a trusted root itself.
    Direct,
    /// The key chains to a trusted root through logged chain-of-trust signatures.
    Chain {
        /// The trusted root the chain reaches.
        root: Hash,
        /// The keys from the signer (first) up to the root (last).
        path: Vec<Hash>,
    },
    /// No trusted root vouches for the key.
    New(NewKey),
}

/// A key no trusted root vouches for: where its chain leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Whether the installer already trusts some key of the publisher.
    pub publisher_known: bool,
    /// The keys from the signer (first) up to the top of its chain (last).
    pub path: Vec<Hash>,
    /// How the top of the chain was registered: a claim, or the operator.
    pub top: AuthorizedBy,
    /// The first key on the chain that the operator registered or vouched for.
    pub operator: Option<Hash>,
}

/// Why `--trust-new-keys` may not accept a [`NewKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFirstUse {
    /// The installer already trusts other keys of the publisher, and none vouches for this one.
    PublisherKnown,
    /// The log's operator registered or vouched for a key on the chain (this key hash).
    Operator(Hash),
}

impl NewKey {
    /// The key to trust on first use, when `--trust-new-keys` may: the
    /// publisher's claim key at the top of the chain. Refused when the
    /// publisher is already trusted or the operator is involved.
    pub fn first_use(&self) -> Result<Hash, NotFirstUse> {
        if let Some(op) = self.operator {
            return Err(NotFirstUse::Operator(op));
        }
        if self.publisher_known {
            return Err(NotFirstUse::PublisherKnown);
        }
        debug_assert_eq!(self.top, AuthorizedBy::Claim);
        Ok(*self.path.last().expect("a chain holds at least its signer"))
    }
}

/// Decides a signature by `signer` logged at `index`: invalid (its status
/// says why), or valid and how it is trusted given the installer's
/// `trusted` roots for this publisher.
pub fn decide(
    keys: &PublisherKeys,
    signer: &Hash,
    index: u64,
    trusted: &HashSet<Hash>,
) -> Result<Trust, KeyStatus> {
    let status = keys.status_for_signature(signer, index);
    if !status.is_valid() {
        return Err(status);
    }
    let chain = keys.chain(signer);
    let mut path = Vec::with_capacity(chain.len());
    let mut operator = None;
    for rec in &chain {
        path.push(rec.key_hash);
        if trusted.contains(&rec.key_hash) {
            return Ok(if path.len() == 1 {
                Trust::Direct
            } else {
                Trust::Chain {
                    root: rec.key_hash,
                    path,
                }
            });
        }
        if rec.voucher() == AuthorizedBy::Operator && operator.is_none() {
            operator = Some(rec.key_hash);
        }
    }
    let top = chain
        .last()
        .map(|r| r.voucher())
        .unwrap_or(AuthorizedBy::Claim);
    Ok(Trust::New(NewKey {
        publisher_known: !trusted.is_empty(),
        path,
        top,
        operator,
    }))
}
