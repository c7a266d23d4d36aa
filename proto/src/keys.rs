//! A publisher's key state, folded from its logged key events, and the
//! rules that decide what each key may do.
//!
//! Every party (the log's sequencer, the installer and the monitor) folds
//! key events into a [`PublisherKeys`] with [`PublisherKeys::apply`] and
//! asks it [`PublisherKeys::status_for_signature`]; none of them re-derives
//! the answer. `docs/FORMATS.md` states the rules in words:
//!
//! - the first key claims the name; later keys need a chain-of-trust
//!   signature by a key *in good standing* (registered, not revoked, not
//!   suspended) or the operator;
//! - a key revoked as *compromised* vouches for nothing any more: every key
//!   whose current chain of authorisation passes through it is *suspended*,
//!   and none of a suspended key's signatures, earlier or later, is valid;
//! - a suspended key is vouched for again by a registration entry of the
//!   same key, authorised by a key in good standing or by the operator (a
//!   *re-vouching*); from then on its chain is the new one;
//! - a retired key's signatures logged before its retirement stay valid;
//!   a retired key may still be escalated to compromised.
//!
//! The canonical [record](PublisherKeys::to_record) of a publisher's key
//! state is what the key directory commits to, what a monitor saves and what
//! an installer remembers:
//!
//! ```text
//! record     = version:u8 (=1) || str8 publisher || count:u32 || key{count}
//! key        = minisign key:40 || registered_at:u64 || auth
//!              || vouchings:u32 || (index:u64 || auth){vouchings}
//!              || retired || compromised || standing:u8 (0 good, 1 suspended)
//! auth       = 0 claim | 1 || by key hash:32 (chain) | 2 operator
//! retired, compromised = 0 | 1 || index:u64
//! ```
//!
//! Integers are big-endian; keys are in registration order. `standing` is
//! derived from the rest; a record whose `standing` disagrees is refused.
//!
//! The record is its [header](PublisherKeys::record_header) (`version`,
//! `publisher`, `count`) followed by each key's own canonical encoding
//! ([`KeyRecord::encode`], the `key` rule above). The log stores them apart,
//! a header per publisher and a record per key, so that a batch rewrites
//! only the keys it changed ([`PublisherKeys::take_changed`]), and rebuilds
//! the state from them with [`PublisherKeys::from_parts`] in one pass.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use sha2::{Digest, Sha256};

use crate::entry::{
    validate_publisher, Authorization, Entry, KeyRegistration, KeyRevocation,
    RevocationAuthorization, RevocationReason,
};
use crate::error::Rejection;
use crate::minisign::PublicKey;
use crate::{Error, Hash, Result};

/// Most keys one publisher may register, ever (revoked keys count).
pub const MAX_KEYS_PER_PUBLISHER: usize = 100_000;

/// Most re-vouchings one key may receive.
pub const MAX_VOUCHINGS_PER_KEY: usize = 64;

/// Version byte of the key-state record.
pub const RECORD_VERSION: u8 = 1;

/// Domain prefix of [`PublisherKeys::record_hash`].
pub const RECORD_HASH_DOMAIN: &[u8] = b"sealwax/v1 key-state\0";

/// What vouches for a key: how it was registered, or who vouched for it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorizedBy {
    /// It claimed a new publisher name.
    Claim,
    /// A key of the publisher (this key hash) signed for it.
    Chain(Hash),
    /// The log operator registered or vouched for it.
    Operator,
}

impl AuthorizedBy {
    /// Its name in JSON and messages: "claim", "chain" or "operator".
    pub fn kind(&self) -> &'static str {
        match self {
            AuthorizedBy::Claim => "claim",
            AuthorizedBy::Chain(_) => "chain",
            AuthorizedBy::Operator => "operator",
        }
    }

    /// What an entry's [`Authorization`] makes of a key.
    pub fn of(auth: &Authorization) -> AuthorizedBy {
        match auth {
            Authorization::Claim => AuthorizedBy::Claim,
            Authorization::Chain { by, .. } => AuthorizedBy::Chain(by.key_hash()),
            Authorization::Operator => AuthorizedBy::Operator,
        }
    }

    /// The vouching key, for a chain link.
    pub fn key(&self) -> Option<&Hash> {
        match self {
            AuthorizedBy::Chain(h) => Some(h),
            _ => None,
        }
    }
}

/// A logged re-vouching of a suspended key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vouching {
    /// Index of the registration entry that vouched for the key again.
    pub index: u64,
    /// Who vouched.
    pub by: AuthorizedBy,
}

/// Why a key is suspended: the compromised key its chain passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspension {
    /// Key hash of the compromised key.
    pub compromised: Hash,
    /// Index of that key's compromise revocation.
    pub at: u64,
}

/// One key of a publisher, as its logged history defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public key.
    pub key: PublicKey,
    /// Its identity: SHA-256 of the whole Minisign public key.
    pub key_hash: Hash,
    /// Index of its registration entry.
    pub registered_at: u64,
    /// What authorised its registration.
    pub authorization: AuthorizedBy,
    /// Re-vouchings after a suspension, in log order.
    pub vouchings: Vec<Vouching>,
    /// Index of its retirement, if retired.
    pub retired_at: Option<u64>,
    /// Index of its compromise revocation, if revoked as compromised.
    pub compromised_at: Option<u64>,
    /// Set while its chain passes through a compromised key.
    pub suspended: Option<Suspension>,
}

impl KeyRecord {
    /// What vouches for the key now: the newest re-vouching, else its registration.
    pub fn voucher(&self) -> AuthorizedBy {
        self.vouchings
            .last()
            .map(|v| v.by)
            .unwrap_or(self.authorization)
    }

    /// Whether the key is revoked (retired or compromised).
    pub fn is_revoked(&self) -> bool {
        self.retired_at.is_some() || self.compromised_at.is_some()
    }

    /// Whether the key may sign and vouch: not revoked and not suspended.
    pub fn in_good_standing(&self) -> bool {
        !self.is_revoked() && self.suspended.is_none()
    }

    /// Its revocation, compromise first: (reason, index).
    pub fn revocation(&self) -> Option<(RevocationReason, u64)> {
        match (self.compromised_at, self.retired_at) {
            (Some(i), _) => Some((RevocationReason::Compromised, i)),
            (None, Some(i)) => Some((RevocationReason::Retired, i)),
            (None, None) => None,
        }
    }

    /// The key's canonical encoding: the `key` rule of the record (module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80 + self.vouchings.len() * 41);
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        fn auth(out: &mut Vec<u8>, a: &AuthorizedBy) {
            match a {
                AuthorizedBy::Claim => out.push(0),
                AuthorizedBy::Chain(h) => {
                    out.push(1);
                    out.extend_from_slice(h);
                }
                AuthorizedBy::Operator => out.push(2),
            }
        }
        fn opt(out: &mut Vec<u8>, v: Option<u64>) {
            match v {
                None => out.push(0),
                Some(i) => {
                    out.push(1);
                    out.extend_from_slice(&i.to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&self.key.keynum);
        out.extend_from_slice(&self.key.key);
        out.extend_from_slice(&self.registered_at.to_be_bytes());
        auth(out, &self.authorization);
        out.extend_from_slice(&(self.vouchings.len() as u32).to_be_bytes());
        for v in &self.vouchings {
            out.extend_from_slice(&v.index.to_be_bytes());
            auth(out, &v.by);
        }
        opt(out, self.retired_at);
        opt(out, self.compromised_at);
        out.push(u8::from(self.suspended.is_some()));
    }

    /// The key's standing now, as messages and JSON name it.
    pub fn standing(&self) -> KeyStanding {
        if let Some(i) = self.compromised_at {
            KeyStanding::Compromised(i)
        } else if let Some(s) = self.suspended {
            KeyStanding::Suspended(s)
        } else if let Some(i) = self.retired_at {
            KeyStanding::Retired(i)
        } else {
            KeyStanding::Active
        }
    }
}

/// A key's standing as of the latest state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStanding {
    /// In good standing.
    Active,
    /// Retired at this index.
    Retired(u64),
    /// Revoked as compromised at this index.
    Compromised(u64),
    /// Its chain passes through a compromised key.
    Suspended(Suspension),
}

impl KeyStanding {
    /// "active", "retired", "compromised" or "suspended".
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyStanding::Active => "active",
            KeyStanding::Retired(_) => "retired",
            KeyStanding::Compromised(_) => "compromised",
            KeyStanding::Suspended(_) => "suspended",
        }
    }
}

/// Whether a signature by a key, logged at some index, is to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// The key is in good standing.
    Active,
    /// The key was retired at this index, after the signature was logged: still valid.
    RetiredAfter(u64),
    /// The key was retired at this index, before the signature: not valid.
    Retired(u64),
    /// The key was revoked as compromised at this index: nothing it signed is valid.
    Compromised(u64),
    /// The key's chain of authorisation passes through a compromised key:
    /// nothing it signed is valid until a key in good standing vouches for it again.
    Suspended(Suspension),
    /// The key was registered after the signature, or never: not valid.
    Unknown,
}

impl KeyStatus {
    /// Whether a signature with this status is to be trusted.
    pub fn is_valid(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::RetiredAfter(_))
    }
}

/// What applying a key event changed, for alerts and the key directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyChange {
    /// Keys suspended by this event (a compromise), by key hash.
    pub suspended: Vec<Hash>,
    /// Keys no longer suspended after this event (a re-vouching), by key hash.
    pub reinstated: Vec<Hash>,
    /// Whether the event was a re-vouching of an already registered key.
    pub revouched: bool,
}

/// A publisher's key history, folded into its current state.
#[derive(Debug, Clone, Default)]
pub struct PublisherKeys {
    /// The publisher.
    pub publisher: String,
    /// Every key ever registered, in log order.
    keys: Vec<KeyRecord>,
    /// Position in `keys` by key hash.
    by_hash: HashMap<Hash, usize>,
    /// Keys whose current voucher is each key (the chain, downwards).
    children: HashMap<Hash, Vec<Hash>>,
    /// Positions in `keys` of the keys changed since the last
    /// [`take_changed`](Self::take_changed).
    changed: BTreeSet<usize>,
}

impl PartialEq for PublisherKeys {
    fn eq(&self, other: &Self) -> bool {
        // The indexes are derived from `keys`.
        self.publisher == other.publisher && self.keys == other.keys
    }
}

impl Eq for PublisherKeys {}

impl PublisherKeys {
    /// An empty history for `publisher`.
    pub fn new(publisher: &str) -> Self {
        PublisherKeys {
            publisher: publisher.to_string(),
            ..PublisherKeys::default()
        }
    }

    /// Every key ever registered, in log order.
    pub fn keys(&self) -> &[KeyRecord] {
        &self.keys
    }

    /// Whether the publisher has no keys (the name is unclaimed).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The record of a key, by key hash.
    pub fn key(&self, key_hash: &Hash) -> Option<&KeyRecord> {
        self.by_hash.get(key_hash).map(|&i| &self.keys[i])
    }

    /// The keys in good standing.
    pub fn active_keys(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.iter().filter(|k| k.in_good_standing())
    }

    /// The key that claimed the name.
    pub fn claim_key(&self) -> Option<&KeyRecord> {
        self.keys
            .first()
            .filter(|k| k.authorization == AuthorizedBy::Claim)
    }

    /// The chain of a key upwards: the key, its voucher, that key's voucher,
    /// ... up to a claim or operator registration. Bounded by the key count.
    pub fn chain(&self, key_hash: &Hash) -> Vec<&KeyRecord> {
        let mut out = Vec::new();
        let mut current = self.key(key_hash);
        while let Some(rec) = current {
            if out.len() > self.keys.len() {
                break; // cannot happen for a state built by `apply`
            }
            out.push(rec);
            current = rec.voucher().key().and_then(|h| self.key(h));
        }
        out
    }

    fn unknown(&self, h: &Hash) -> Rejection {
        Rejection::UnknownKey {
            publisher: self.publisher.clone(),
            key: hex::encode(h),
        }
    }

    /// A key that may sign or vouch: registered, not revoked, not suspended.
    fn require_good_standing(&self, key: &PublicKey) -> Result<&KeyRecord, Rejection> {
        let h = key.key_hash();
        let rec = self.key(&h).ok_or_else(|| self.unknown(&h))?;
        if let Some((reason, index)) = rec.revocation() {
            return Err(Rejection::KeyRevoked {
                publisher: self.publisher.clone(),
                key: hex::encode(h),
                reason: reason.as_str(),
                index,
            });
        }
        if let Some(s) = rec.suspended {
            return Err(Rejection::KeySuspended {
                publisher: self.publisher.clone(),
                key: hex::encode(h),
                compromised: hex::encode(s.compromised),
                at: s.at,
            });
        }
        Ok(rec)
    }

    fn require_voucher(&self, by: &PublicKey) -> Result<(), Rejection> {
        self.require_good_standing(by)
            .map(|_| ())
            .map_err(|e| match e {
                Rejection::KeySuspended { .. } => e,
                _ => Rejection::AuthoriserNotActive {
                    publisher: self.publisher.clone(),
                    key: hex::encode(by.key_hash()),
                },
            })
    }

    /// Checks an entry against the rules given this state, without changing
    /// it. Signatures are assumed verified ([`Entry::verify_signatures`]);
    /// whether an operator entry carried the operator's credential, and the
    /// rules across publishers, are [`crate::rules`]'.
    pub fn check(&self, entry: &Entry) -> Result<()> {
        if entry.publisher() != self.publisher {
            return Err(Error::MalformedEntry(
                "entry checked against another publisher's keys",
            ));
        }
        match entry {
            Entry::KeyRegistration(r) => self.check_registration(r),
            Entry::KeyRevocation(r) => self.check_revocation(r),
            Entry::Signature(s) => {
                if self.keys.is_empty() {
                    return Err(Rejection::UnknownPublisher(self.publisher.clone()).into());
                }
                self.require_good_standing(&s.key)?;
                Ok(())
            }
        }
    }

    fn check_registration(&self, r: &KeyRegistration) -> std::result::Result<(), Error> {
        let h = r.key.key_hash();
        if let Some(rec) = self.key(&h) {
            // A re-vouching: only for a suspended key that is not revoked.
            let revouch = rec.suspended.is_some()
                && !rec.is_revoked()
                && !matches!(r.authorization, Authorization::Claim);
            if !revouch {
                return Err(Rejection::KeyAlreadyRegistered {
                    publisher: self.publisher.clone(),
                    key: hex::encode(h),
                    revoked: rec.is_revoked(),
                }
                .into());
            }
            if rec.vouchings.len() >= MAX_VOUCHINGS_PER_KEY {
                return Err(Rejection::TooManyVouchings {
                    publisher: self.publisher.clone(),
                    key: hex::encode(h),
                    max: MAX_VOUCHINGS_PER_KEY,
                }
                .into());
            }
        } else if self.keys.len() >= MAX_KEYS_PER_PUBLISHER {
            return Err(Rejection::TooManyKeys {
                publisher: self.publisher.clone(),
                max: MAX_KEYS_PER_PUBLISHER,
            }
            .into());
        }
        match &r.authorization {
            Authorization::Claim if !self.keys.is_empty() => {
                Err(Rejection::NameTaken(self.publisher.clone()).into())
            }
            Authorization::Claim | Authorization::Operator => Ok(()),
            Authorization::Chain { by, .. } => Ok(self.require_voucher(by)?),
        }
    }

    fn check_revocation(&self, r: &KeyRevocation) -> std::result::Result<(), Error> {
        if self.keys.is_empty() {
            return Err(Rejection::UnknownPublisher(self.publisher.clone()).into());
        }
        let h = r.key.key_hash();
        let rec = self.key(&h).ok_or_else(|| self.unknown(&h))?;
        // Compromised is final; retired may only be escalated to compromised.
        let already = match (rec.revocation(), r.reason) {
            (Some((RevocationReason::Compromised, i)), _) => {
                Some((RevocationReason::Compromised, i))
            }
            (Some((RevocationReason::Retired, i)), RevocationReason::Retired) => {
                Some((RevocationReason::Retired, i))
            }
            _ => None,
        };
        if let Some((reason, index)) = already {
            return Err(Rejection::KeyRevoked {
                publisher: self.publisher.clone(),
                key: hex::encode(h),
                reason: reason.as_str(),
                index,
            }
            .into());
        }
        match &r.authorization {
            RevocationAuthorization::Operator => Ok(()),
            // A key may always report itself, suspended or retired.
            RevocationAuthorization::Key { by, .. } if by.key_hash() == h => Ok(()),
            RevocationAuthorization::Key { by, .. } => Ok(self.require_voucher(by)?),
        }
    }

    /// Checks `entry` and, if it passes, records it as logged at `index`.
    pub fn apply(&mut self, entry: &Entry, index: u64) -> Result<KeyChange> {
        self.check(entry)?;
        let mut change = KeyChange::default();
        match entry {
            Entry::KeyRegistration(r) => {
                let h = r.key.key_hash();
                let by = AuthorizedBy::of(&r.authorization);
                if let Some(&pos) = self.by_hash.get(&h) {
                    self.changed.insert(pos);
                    let old = self.keys[pos].voucher();
                    self.unlink(&h, &old);
                    self.keys[pos].vouchings.push(Vouching { index, by });
                    self.link(h, &by);
                    change.revouched = true;
                    change.reinstated = self.refresh_suspensions(h, &mut change.suspended);
                } else {
                    self.changed.insert(self.keys.len());
                    self.by_hash.insert(h, self.keys.len());
                    self.keys.push(KeyRecord {
                        key: r.key,
                        key_hash: h,
                        registered_at: index,
                        authorization: by,
                        vouchings: Vec::new(),
                        retired_at: None,
                        compromised_at: None,
                        suspended: None,
                    });
                    self.link(h, &by);
                }
            }
            Entry::KeyRevocation(r) => {
                let h = r.key.key_hash();
                let pos = self.by_hash[&h];
                self.changed.insert(pos);
                match r.reason {
                    RevocationReason::Retired => self.keys[pos].retired_at = Some(index),
                    RevocationReason::Compromised => {
                        self.keys[pos].compromised_at = Some(index);
                        let mut suspended = Vec::new();
                        self.refresh_suspensions(h, &mut suspended);
                        change.suspended = suspended;
                    }
                }
            }
            Entry::Signature(_) => {}
        }
        Ok(change)
    }

    fn link(&mut self, child: Hash, by: &AuthorizedBy) {
        if let AuthorizedBy::Chain(p) = by {
            self.children.entry(*p).or_default().push(child);
        }
    }

    fn unlink(&mut self, child: &Hash, by: &AuthorizedBy) {
        if let AuthorizedBy::Chain(p) = by {
            if let Some(c) = self.children.get_mut(p) {
                c.retain(|k| k != child);
            }
        }
    }

    /// What a key's suspension is, given its voucher's current state.
    fn derived_suspension(&self, rec: &KeyRecord) -> Option<Suspension> {
        let parent = self.key(rec.voucher().key()?)?;
        match parent.compromised_at {
            Some(at) => Some(Suspension {
                compromised: parent.key_hash,
                at,
            }),
            None => parent.suspended,
        }
    }

    /// Recomputes the suspension of `root` and every key below it; pushes
    /// newly suspended keys onto `suspended`, returns those reinstated.
    fn refresh_suspensions(&mut self, root: Hash, suspended: &mut Vec<Hash>) -> Vec<Hash> {
        let mut reinstated = Vec::new();
        let mut queue = VecDeque::from([root]);
        let mut seen = HashSet::new();
        while let Some(h) = queue.pop_front() {
            if !seen.insert(h) {
                continue;
            }
            let pos = self.by_hash[&h];
            let new = self.derived_suspension(&self.keys[pos]);
            let old = std::mem::replace(&mut self.keys[pos].suspended, new);
            if old != new {
                self.changed.insert(pos);
            }
            match (old.is_some(), new.is_some()) {
                (false, true) => suspended.push(h),
                (true, false) => reinstated.push(h),
                _ => {}
            }
            if let Some(c) = self.children.get(&h) {
                queue.extend(c.iter().copied());
            }
        }
        reinstated
    }

    /// Whether a signature by `key_hash` logged at `index` is to be trusted,
    /// as of this state.
    pub fn status_for_signature(&self, key_hash: &Hash, index: u64) -> KeyStatus {
        let Some(rec) = self.key(key_hash) else {
            return KeyStatus::Unknown;
        };
        if rec.registered_at > index {
            return KeyStatus::Unknown;
        }
        if let Some(at) = rec.compromised_at {
            return KeyStatus::Compromised(at);
        }
        if let Some(s) = rec.suspended {
            return KeyStatus::Suspended(s);
        }
        match rec.retired_at {
            Some(at) if index < at => KeyStatus::RetiredAfter(at),
            Some(at) => KeyStatus::Retired(at),
            None => KeyStatus::Active,
        }
    }

    /// How this state contradicts an `older` state of the same publisher
    /// that was verified before: a key, vouching or revocation the older one
    /// holds that this one lacks or changed. `None` when this state extends
    /// it. A log whose answer contradicts what a party recorded is lying.
    pub fn contradiction(&self, older: &PublisherKeys) -> Option<String> {
        if older.publisher != self.publisher {
            return Some(format!(
                "it describes publisher {:?}, not {:?}",
                self.publisher, older.publisher
            ));
        }
        for old in &older.keys {
            let id = old.key.key_id_hex();
            let Some(new) = self.key(&old.key_hash) else {
                return Some(format!(
                    "key {id}, registered at index {}, is missing",
                    old.registered_at
                ));
            };
            if new.registered_at != old.registered_at || new.authorization != old.authorization {
                return Some(format!(
                    "key {id} was registered at index {} ({}), now it says index {} ({})",
                    old.registered_at,
                    old.authorization.kind(),
                    new.registered_at,
                    new.authorization.kind()
                ));
            }
            if !new.vouchings.starts_with(&old.vouchings) {
                return Some(format!("a re-vouching of key {id} is missing"));
            }
            for (what, was, now) in [
                ("retirement", old.retired_at, new.retired_at),
                (
                    "compromise revocation",
                    old.compromised_at,
                    new.compromised_at,
                ),
            ] {
                if was.is_some() && was != now {
                    return Some(format!(
                        "the {what} of key {id} at index {} is missing",
                        was.unwrap_or_default()
                    ));
                }
            }
        }
        None
    }

    // ----- the canonical record -----

    /// The keys changed (registered, re-vouched, revoked, suspended or
    /// reinstated) since the last call, by key hash, in registration order;
    /// the log writes their [encodings](KeyRecord::encode) and nothing else.
    pub fn take_changed(&mut self) -> Vec<Hash> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|i| self.keys[i].key_hash)
            .collect()
    }

    /// Counts every key as changed, for a state that must be written whole.
    pub fn mark_all_changed(&mut self) {
        self.changed = (0..self.keys.len()).collect();
    }

    /// The record's header: `version:u8 (=1) || str8 publisher || count:u32`.
    pub fn record_header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.publisher.len());
        out.push(RECORD_VERSION);
        out.push(self.publisher.len() as u8);
        out.extend_from_slice(self.publisher.as_bytes());
        out.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
        out
    }

    /// The canonical record of this key state (see the module docs).
    pub fn to_record(&self) -> Vec<u8> {
        let mut out = self.record_header();
        out.reserve(self.keys.len() * 110);
        for k in &self.keys {
            k.encode_into(&mut out);
        }
        out
    }

    /// The hash the key directory stores for this state:
    /// `SHA-256("sealwax/v1 key-state" || 0x00 || record)`.
    pub fn record_hash(&self) -> Hash {
        record_hash(&self.to_record())
    }

    /// Parses a canonical record. The result is rebuilt with the same rules
    /// as [`apply`](Self::apply): a record that no logged history could
    /// produce (a chain from an unknown key, a wrong standing byte, keys out
    /// of order) is refused.
    pub fn from_record(bytes: &[u8]) -> Result<PublisherKeys> {
        let mut r = RecordReader { buf: bytes };
        let (publisher, count) = r.header()?;
        let mut keys = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            keys.push(r.key()?);
        }
        if !r.buf.is_empty() {
            return Err(Error::MalformedKeyRecord("trailing bytes after the record"));
        }
        PublisherKeys::build(publisher, keys)
    }

    /// Rebuilds a state from its [header](Self::record_header) and its keys'
    /// [encodings](KeyRecord::encode), in any order, with the checks of
    /// [`from_record`](Self::from_record): the same state as parsing the
    /// record they make. One pass over the keys, whatever their chains.
    pub fn from_parts<'a>(
        header: &[u8],
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<PublisherKeys> {
        let bad = Error::MalformedKeyRecord;
        let mut r = RecordReader { buf: header };
        let (publisher, count) = r.header()?;
        if !r.buf.is_empty() {
            return Err(bad("trailing bytes after the record header"));
        }
        let mut parsed = Vec::with_capacity(count.min(1024));
        for k in keys {
            if parsed.len() == count {
                return Err(bad("more keys than the record header counts"));
            }
            let mut r = RecordReader { buf: k };
            parsed.push(r.key()?);
            if !r.buf.is_empty() {
                return Err(bad("trailing bytes after a key's record"));
            }
        }
        if parsed.len() != count {
            return Err(bad("fewer keys than the record header counts"));
        }
        parsed.sort_by_key(|(k, _)| k.registered_at);
        PublisherKeys::build(publisher, parsed)
    }

    /// The state of `publisher` with these keys (and standing bytes), in
    /// registration order, checked as [`from_record`](Self::from_record) says.
    fn build(publisher: String, keys: Vec<(KeyRecord, bool)>) -> Result<PublisherKeys> {
        let bad = Error::MalformedKeyRecord;
        let mut pk = PublisherKeys::new(&publisher);
        let mut standings = Vec::with_capacity(keys.len());
        let mut last_index = None;
        pk.keys.reserve(keys.len());
        for (rec, standing) in keys {
            if last_index.is_some_and(|l| rec.registered_at <= l) {
                return Err(bad("keys are not in registration order"));
            }
            last_index = Some(rec.registered_at);
            if pk.by_hash.insert(rec.key_hash, pk.keys.len()).is_some() {
                return Err(bad("a key appears twice"));
            }
            standings.push(standing);
            pk.keys.push(rec);
        }
        pk.check_record_shape()?;
        for i in 0..pk.keys.len() {
            let (h, by) = (pk.keys[i].key_hash, pk.keys[i].voucher());
            pk.link(h, &by);
        }
        // Suspensions from the roots down: the current vouchers must form a
        // forest, so every key is reached from a root, exactly once.
        let roots: Vec<Hash> = pk
            .keys
            .iter()
            .filter(|k| k.voucher().key().is_none())
            .map(|k| k.key_hash)
            .collect();
        let mut reached = 0;
        for root in roots {
            reached += pk.derive_suspensions(root);
        }
        if reached != pk.keys.len() {
            return Err(bad("the chains of authorisation form a cycle"));
        }
        for (k, standing) in pk.keys.iter().zip(standings) {
            if k.suspended.is_some() != standing {
                return Err(bad("a key's standing byte disagrees with its chain"));
            }
        }
        Ok(pk)
    }

    /// Sets the suspension of `root` and of every key below it, parents
    /// before children; the number of keys it reached.
    fn derive_suspensions(&mut self, root: Hash) -> usize {
        let mut queue = VecDeque::from([root]);
        let mut reached = 0;
        while let Some(h) = queue.pop_front() {
            reached += 1;
            if reached > self.keys.len() {
                break; // a cycle below a root: cannot happen in a forest
            }
            let pos = self.by_hash[&h];
            self.keys[pos].suspended = self.derived_suspension(&self.keys[pos]);
            if let Some(c) = self.children.get(&h) {
                queue.extend(c.iter().copied());
            }
        }
        reached
    }

    /// The structural rules a record must meet (the event rules, replayed
    /// where a record can show them).
    fn check_record_shape(&self) -> Result<()> {
        let bad = Error::MalformedKeyRecord;
        let registered = |p: &Hash| self.key(p).map(|r| r.registered_at);
        for (i, k) in self.keys.iter().enumerate() {
            match k.authorization {
                AuthorizedBy::Claim if i != 0 => {
                    return Err(bad("only the first key may claim the name"))
                }
                AuthorizedBy::Chain(p) if registered(&p).is_none_or(|at| at >= k.registered_at) => {
                    return Err(bad("a key is chained from a key registered after it"))
                }
                _ => {}
            }
            let mut last = k.registered_at;
            for v in &k.vouchings {
                if v.index <= last {
                    return Err(bad("re-vouchings are not in log order"));
                }
                if let AuthorizedBy::Chain(p) = v.by {
                    if p == k.key_hash || registered(&p).is_none_or(|at| at >= v.index) {
                        return Err(bad("a key is re-vouched by a key it could not have been"));
                    }
                }
                last = v.index;
            }
            for at in [k.retired_at, k.compromised_at].into_iter().flatten() {
                if at <= k.registered_at {
                    return Err(bad("a key is revoked before it was registered"));
                }
            }
        }
        Ok(())
    }
}

/// `SHA-256("sealwax/v1 key-state" || 0x00 || record)`: the key directory's
/// value for a publisher's key-state record.
pub fn record_hash(record: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(RECORD_HASH_DOMAIN);
    h.update(record);
    h.finalize().into()
}

struct RecordReader<'a> {
    buf: &'a [u8],
}

impl<'a> RecordReader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::MalformedKeyRecord("the record is truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn opt(&mut self) -> Result<Option<u64>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            _ => Err(Error::MalformedKeyRecord(
                "a present/absent flag is neither 0 nor 1",
            )),
        }
    }
    /// `version || str8 publisher || count`: the publisher and the count.
    fn header(&mut self) -> Result<(String, usize)> {
        let bad = Error::MalformedKeyRecord;
        if self.u8()? != RECORD_VERSION {
            return Err(bad("unknown record version (this sealwax reads version 1)"));
        }
        let n = self.u8()? as usize;
        let publisher = std::str::from_utf8(self.take(n)?)
            .map_err(|_| bad("the publisher is not UTF-8"))?
            .to_string();
        validate_publisher(&publisher)?;
        let count = self.u32()? as usize;
        if count > MAX_KEYS_PER_PUBLISHER {
            return Err(bad("more keys than a publisher may have"));
        }
        Ok((publisher, count))
    }

    /// One key's encoding: the key (not yet suspended) and its standing byte.
    fn key(&mut self) -> Result<(KeyRecord, bool)> {
        let bad = Error::MalformedKeyRecord;
        let key = PublicKey {
            keynum: self.array()?,
            key: self.array()?,
        };
        let registered_at = self.u64()?;
        let authorization = self.auth()?;
        let nv = self.u32()? as usize;
        if nv > MAX_VOUCHINGS_PER_KEY {
            return Err(bad("more re-vouchings than a key may have"));
        }
        let mut vouchings = Vec::with_capacity(nv);
        for _ in 0..nv {
            let index = self.u64()?;
            let by = self.auth()?;
            if by == AuthorizedBy::Claim {
                return Err(bad("a re-vouching cannot be a claim"));
            }
            vouchings.push(Vouching { index, by });
        }
        let retired_at = self.opt()?;
        let compromised_at = self.opt()?;
        let standing = match self.u8()? {
            0 => false,
            1 => true,
            _ => return Err(bad("unknown standing byte")),
        };
        let rec = KeyRecord {
            key_hash: key.key_hash(),
            key,
            registered_at,
            authorization,
            vouchings,
            retired_at,
            compromised_at,
            suspended: None,
        };
        Ok((rec, standing))
    }

    fn auth(&mut self) -> Result<AuthorizedBy> {
        match self.u8()? {
            0 => Ok(AuthorizedBy::Claim),
            1 => Ok(AuthorizedBy::Chain(self.array()?)),
            2 => Ok(AuthorizedBy::Operator),
            _ => Err(Error::MalformedKeyRecord("unknown authorisation kind")),
        }
    }
}
