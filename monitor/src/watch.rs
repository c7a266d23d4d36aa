//! The log's state (every publisher's keys, every release), and the rules
//! that turn entries into alerts.
//!
//! The monitor folds every entry into a [`MemoryLogState`] with the same
//! function the log's sequencer uses (a [`LeafFold`], that is
//! `sealwax_proto::rules::apply_entry`, which also gives the key directory
//! leaves each entry sets, [`crate::directory`]), for every publisher, not only
//! watched ones: an entry the log should have refused is an alert, and a
//! `learn = true` watch added later starts from the publisher's keys at
//! that time. Memory grows with the number of keys and releases.
//!
//! Signature checks: key registrations and revocations are always verified
//! ([`Entry::verify_signatures`]); signature entries are verified for named
//! publishers, or for all with `[verify] all_signatures = true`. An entry
//! that fails a check is a `log-misbehaviour` alert and does not change any
//! key history.

use std::collections::{BTreeMap, BTreeSet};

use sealwax_proto::directory::{Key, LeafFold};
use sealwax_proto::entry::{
    Authorization, Entry, KeyRegistration, KeyRevocation, Release, RevocationAuthorization,
    RevocationReason, SignatureEntry,
};
use sealwax_proto::keys::{AuthorizedBy, KeyChange, PublisherKeys};
use sealwax_proto::merkle::leaf_hash;
use sealwax_proto::minisign::PublicKey;
use sealwax_proto::rules::{Applied, MemoryLogState, ReleaseName};
use sealwax_proto::Hash;

use crate::alert::{Alert, AlertKind, KeyRef, Problem};
use crate::config::{Config, Expect, Watch};
use crate::directory::{Changed, PROBE_LIMIT};

/// Key hashes by publisher: what a watch learned, or is learning.
pub type KeySets = BTreeMap<String, BTreeSet<Hash>>;

/// Applies a run's entries to a working copy of the key histories and
/// produces the alerts they imply.
#[derive(Debug)]
pub struct Tracker<'c> {
    config: &'c Config,
    origin: String,
    tree_size: u64,
    /// The log state, folded with the directory leaves each entry sets.
    fold: LeafFold,
    /// The publishers and releases whose directory leaves changed, to probe.
    changed: Changed,
    learned: BTreeMap<String, BTreeSet<Hash>>,
    /// `learn = true` watches still learning: the keys seen so far.
    learning: BTreeMap<String, BTreeSet<Hash>>,
}

/// The keys a `learn = true` watch learns from a publisher's state: the
/// keys in good standing whose chain leads to the claim key through chain
/// links only (no operator registration or re-vouching on the way).
fn learnable_keys(p: &PublisherKeys) -> BTreeSet<Hash> {
    p.active_keys()
        .filter(|k| {
            let chain = p.chain(&k.key_hash);
            chain.iter().all(|r| r.voucher() != AuthorizedBy::Operator)
                && chain
                    .last()
                    .is_some_and(|r| r.voucher() == AuthorizedBy::Claim)
        })
        .map(|k| k.key_hash)
        .collect()
}

/// How a watched publisher's keys are judged at the moment.
enum Expected<'a> {
    Keys(&'a BTreeMap<Hash, PublicKey>),
    Learned(&'a BTreeSet<Hash>),
    Learning,
}

impl<'c> Tracker<'c> {
    /// A tracker for one run towards a checkpoint of `tree_size`, starting
    /// from the saved `keys` and `learned` sets.
    pub fn new(
        config: &'c Config,
        origin: &str,
        tree_size: u64,
        keys: MemoryLogState,
        learned: BTreeMap<String, BTreeSet<Hash>>,
    ) -> Tracker<'c> {
        let mut learning = BTreeMap::new();
        for w in config.watches.values() {
            if w.expect == Expect::Learn && !learned.contains_key(&w.publisher) {
                let seen: BTreeSet<Hash> = keys
                    .get(&w.publisher)
                    .map(learnable_keys)
                    .unwrap_or_default();
                learning.insert(w.publisher.clone(), seen);
            }
        }
        Tracker {
            config,
            origin: origin.to_string(),
            tree_size,
            fold: LeafFold::resume(keys),
            changed: Changed::default(),
            learned,
            learning,
        }
    }

    /// A tracker that resumes a saved catch-up: `learning` holds the
    /// `learn = true` watches still learning, with the keys seen so far.
    pub fn resume(
        config: &'c Config,
        origin: &str,
        tree_size: u64,
        keys: MemoryLogState,
        learned: BTreeMap<String, BTreeSet<Hash>>,
        learning: BTreeMap<String, BTreeSet<Hash>>,
    ) -> Tracker<'c> {
        let mut t = Tracker::new(config, origin, tree_size, keys, learned);
        for (publisher, seen) in learning {
            if let Some(s) = t.learning.get_mut(&publisher) {
                s.extend(seen);
            }
        }
        t
    }

    /// The key histories as they are now.
    pub fn keys(&self) -> &MemoryLogState {
        self.fold.state()
    }

    /// The key directory leaves the entries set since the last call
    /// ([`LeafFold::take_changes`]).
    pub fn take_leaf_changes(&mut self) -> Vec<(Key, Hash)> {
        self.fold.take_changes()
    }

    /// The names of the leaves changed since the last call.
    pub fn take_changed(&mut self) -> Changed {
        std::mem::take(&mut self.changed)
    }

    /// The learned key sets as they are now (those learning excluded).
    pub fn learned(&self) -> &BTreeMap<String, BTreeSet<Hash>> {
        &self.learned
    }

    /// The `learn = true` watches still learning, with the keys seen so far.
    pub fn learning(&self) -> &BTreeMap<String, BTreeSet<Hash>> {
        &self.learning
    }

    /// Ends the run before its end: key histories, learned sets and the
    /// watches still learning, to save as progress.
    pub fn pause(self) -> (MemoryLogState, KeySets, KeySets) {
        (self.fold.into_state(), self.learned, self.learning)
    }

    /// Ends the run: the key histories and the learned sets to save. A
    /// learning watch that saw at least one key has learned it.
    pub fn finish(self) -> (MemoryLogState, BTreeMap<String, BTreeSet<Hash>>) {
        let mut learned = self.learned;
        for (publisher, seen) in self.learning {
            if !seen.is_empty() {
                tracing::info!(
                    publisher,
                    keys = seen.len(),
                    "learned the expected keys of a `learn = true` watch"
                );
                learned.insert(publisher, seen);
            }
        }
        (self.fold.into_state(), learned)
    }

    fn alert(
        &self,
        kind: AlertKind,
        index: u64,
        publisher: Option<&str>,
        message: String,
    ) -> Alert {
        let mut a = Alert::new(kind, &self.origin, message);
        a.index = Some(index);
        a.tree_size = Some(self.tree_size);
        a.publisher = publisher.map(str::to_string);
        a
    }

    fn misbehaviour(
        &self,
        problem: Problem,
        index: u64,
        publisher: Option<&str>,
        message: String,
    ) -> Alert {
        let mut a = self.alert(AlertKind::LogMisbehaviour, index, publisher, message);
        a.problem = Some(problem);
        a.seal()
    }

    fn expected(&self, w: &'c Watch) -> Expected<'_> {
        match &w.expect {
            Expect::Keys(keys) => Expected::Keys(keys),
            Expect::Learn if self.learning.contains_key(&w.publisher) => Expected::Learning,
            Expect::Learn => Expected::Learned(
                self.learned
                    .get(&w.publisher)
                    .expect("a learn watch is either learning or learned"),
            ),
        }
    }

    /// Whether `key` is the one logged key of `w`'s publisher with a key ID
    /// the watch lists (two keys with that ID make neither expected).
    fn named_by_key_id(&self, w: &Watch, key: &Hash) -> bool {
        let Some(p) = self.keys().get(&w.publisher) else {
            return false;
        };
        let Some(id) = p.key(key).map(|r| r.key.keynum) else {
            return false;
        };
        w.key_ids.contains(&id) && p.keys().iter().filter(|k| k.key.keynum == id).count() == 1
    }

    fn is_expected(&self, w: &'c Watch, key: &Hash) -> bool {
        match self.expected(w) {
            Expected::Keys(k) => k.contains_key(key) || self.named_by_key_id(w, key),
            Expected::Learned(k) => k.contains(key),
            Expected::Learning => self
                .learning
                .get(&w.publisher)
                .is_some_and(|s| s.contains(key)),
        }
    }

    /// Processes the entry logged at `index` (its exact bytes) and pushes the
    /// alerts it implies onto `out`.
    pub fn process(&mut self, index: u64, bytes: &[u8], out: &mut Vec<Alert>) {
        let prepared = prepare(self.config, &self.origin, bytes);
        self.apply(index, prepared, out);
    }

    /// Applies an entry that [`prepare`] parsed and verified: checks it
    /// against the key histories, records it, and pushes its alerts onto `out`.
    pub fn apply(&mut self, index: u64, prepared: PreparedEntry, out: &mut Vec<Alert>) {
        let (entry, publisher, release) = match prepared.state {
            Prep::Ok {
                entry,
                publisher,
                release,
            } => (entry, publisher, release),
            Prep::Unparseable(e) => {
                out.push(self.misbehaviour(
                    Problem::UnparseableEntry,
                    index,
                    None,
                    format!(
                        "entry {index} does not parse ({e}): the log appended {} bytes that are not a sealwax entry",
                        prepared.len
                    ),
                ));
                return;
            }
            Prep::Refused {
                publisher,
                problem,
                detail,
            } => {
                out.push(self.misbehaviour(
                    problem,
                    index,
                    Some(&publisher),
                    format!("entry {index} {detail}: the log appended an entry it must refuse"),
                ));
                return;
            }
            Prep::Copy => return,
        };
        let watch = self.config.watch(&publisher);
        // The monitor judges every entry with the log's own rules.
        let applied = match self.fold.apply(&entry, index) {
            Ok(a) => a,
            Err(e) => {
                out.push(self.misbehaviour(
                    Problem::RuleViolation,
                    index,
                    Some(&publisher),
                    format!(
                        "entry {index} ({} for publisher {publisher:?}) breaks the log's rules ({e}): the log appended an entry it must refuse",
                        entry.kind_name()
                    ),
                ));
                return;
            }
        };
        let change = match applied {
            Applied::Key { change, .. } => {
                self.changed.note(Some(&publisher), None);
                change
            }
            Applied::Signature { release, first } => {
                if first && self.changed.releases.len() < PROBE_LIMIT {
                    self.changed.note(None, Some(ReleaseName::of(&release)));
                }
                KeyChange::default()
            }
        };
        match &entry {
            Entry::KeyRegistration(r) => {
                self.on_registration(index, r, change.revouched, watch, out)
            }
            Entry::KeyRevocation(r) => self.on_revocation(index, r, watch, out),
            Entry::Signature(s) => {
                let release = release.expect("signature entries have a release");
                self.on_signature(index, s, &release, watch, out)
            }
        }
        self.on_suspensions(index, &publisher, &change.suspended, watch, out);
    }

    fn describe_key(&self, h: &Hash) -> KeyRef {
        let key = self
            .keys()
            .owner(h)
            .and_then(|p| self.keys().get(p))
            .and_then(|p| p.key(h))
            .map(|k| &k.key);
        KeyRef::from_hash(h, key)
    }

    /// One `key-suspended` alert per key a compromise suspended, for watched publishers.
    fn on_suspensions(
        &self,
        index: u64,
        p: &str,
        suspended: &[Hash],
        watch: Option<&'c Watch>,
        out: &mut Vec<Alert>,
    ) {
        if suspended.is_empty() || (watch.is_none() && self.config.watch_all.is_none()) {
            return;
        }
        let Some(keys) = self.keys().get(p) else {
            return;
        };
        for h in suspended {
            let Some(rec) = keys.key(h) else { continue };
            let Some(s) = rec.suspended else { continue };
            let key = KeyRef::of(&rec.key);
            let via = self.describe_key(&s.compromised);
            let message = format!(
                "key {key} of publisher {p:?} is suspended: its chain of trust passes through key {via}, revoked as compromised at index {}. None of its signatures, earlier or later, is valid, and the log refuses new ones, until a key of {p:?} in good standing (or the operator) vouches for it again with `sealwax keys vouch`. If the key is the thief's, revoke it too: `sealwax keys revoke KEY --compromised`",
                s.at
            );
            let mut a = self.alert(AlertKind::KeySuspended, index, Some(p), message);
            a.key = Some(key);
            a.authorized_by = Some(via);
            out.push(a.seal());
        }
    }

    fn on_registration(
        &mut self,
        index: u64,
        r: &KeyRegistration,
        revouched: bool,
        watch: Option<&'c Watch>,
        out: &mut Vec<Alert>,
    ) {
        let key = KeyRef::of(&r.key);
        let p = &r.publisher;
        let (how, by) = self.authorised_how(r, watch);
        let (kind, message) = match watch {
            // Like a revocation, a re-vouching is always reported: it makes
            // signatures count again, even when every key in it is expected.
            Some(_) if revouched => (
                AlertKind::KeyVouched,
                format!(
                    "suspended key {key} of publisher {p:?} was vouched for again at index {index}, {how}: its signatures count again. If you did not ask for this, revoke the key (`sealwax keys revoke KEY --compromised`) and tell the log operator"
                ),
            ),
            Some(w) => {
                if self.learn(index, r, &key, w) || self.is_expected(w, &r.key.key_hash()) {
                    return;
                }
                (
                    AlertKind::UnexpectedKey,
                    format!(
                        "key {key} was registered for publisher {p:?} at index {index} and is not one of the keys expected for it; it was authorised {how}. If you did not add this key, revoke it now (`sealwax keys revoke KEY --compromised`) and tell the log operator; if you did, add it to `keys` in the [[watch]] for {p:?} in the monitor config"
                    ),
                )
            }
            None if self.config.watch_all.is_some() && revouched => (
                AlertKind::KeyVouched,
                format!("suspended key {key} of publisher {p:?} was vouched for again at index {index}, {how}"),
            ),
            None if self.config.watch_all.is_some() => (
                AlertKind::KeyRegistered,
                format!("key {key} was registered for publisher {p:?} at index {index}, authorised {how}"),
            ),
            None => return,
        };
        let mut a = self.alert(kind, index, Some(p), message);
        a.key = Some(key);
        a.authorization = Some(r.authorization.kind().to_string());
        a.authorized_by = by;
        out.push(a.seal());
    }

    /// How registration `r` was authorised, in words (naming whether the
    /// authorising key is expected by `watch`), and the authorising key if any.
    fn authorised_how(
        &self,
        r: &KeyRegistration,
        watch: Option<&'c Watch>,
    ) -> (String, Option<KeyRef>) {
        match &r.authorization {
            Authorization::Claim => (
                "by nobody: it claimed the publisher name as its first key".to_string(),
                None,
            ),
            Authorization::Chain { by, .. } => {
                let by_ref = KeyRef::of(by);
                let trust = match watch {
                    Some(w) if self.is_expected(w, &by.key_hash()) => ", an expected key",
                    Some(_) => ", which is not an expected key either",
                    None => "",
                };
                (
                    format!("by a chain-of-trust signature from key {by_ref}{trust}"),
                    Some(by_ref),
                )
            }
            Authorization::Operator => (
                "by the log operator (admin credential), not by any key of the publisher"
                    .to_string(),
                None,
            ),
        }
    }

    /// While `w` is learning, learns the key `r` registers if it is the
    /// claim key or chained from a key learned so far (an operator
    /// registration is never learned). Whether it learned the key.
    fn learn(&mut self, index: u64, r: &KeyRegistration, key: &KeyRef, w: &'c Watch) -> bool {
        if !matches!(self.expected(w), Expected::Learning) {
            return false;
        }
        let p = &r.publisher;
        let learnable = match &r.authorization {
            Authorization::Claim => true,
            Authorization::Chain { by, .. } => self
                .learning
                .get(p)
                .is_some_and(|s| s.contains(&by.key_hash())),
            Authorization::Operator => false,
        };
        if learnable {
            tracing::debug!(publisher = %p, key = %key, index, "learning key");
            self.learning
                .get_mut(p)
                .expect("learning")
                .insert(r.key.key_hash());
        }
        learnable
    }

    fn on_revocation(
        &mut self,
        index: u64,
        r: &KeyRevocation,
        watch: Option<&'c Watch>,
        out: &mut Vec<Alert>,
    ) {
        let p = &r.publisher;
        let key = KeyRef::of(&r.key);
        // Revocations are reported even while a `learn = true` watch learns.
        if watch.is_none() && self.config.watch_all.is_none() {
            return;
        }
        let (by_text, by) = match &r.authorization {
            RevocationAuthorization::Key { by, .. } => {
                let by_ref = self.describe_key(&by.key_hash());
                let text = if by.key_hash() == r.key.key_hash() {
                    "by the key itself".to_string()
                } else {
                    format!("by key {by_ref}")
                };
                (text, Some(by_ref))
            }
            RevocationAuthorization::Operator => {
                ("by the log operator (admin credential)".to_string(), None)
            }
        };
        let effect = match r.reason {
            RevocationReason::Retired => {
                format!(
                    "signatures it made before index {index} stay valid, later ones are refused"
                )
            }
            RevocationReason::Compromised => {
                "no signature it ever made is trusted any more".to_string()
            }
        };
        let message = format!(
            "key {key} of publisher {p:?} was revoked as {} at index {index} {by_text}: {effect}. If you did not revoke it, someone else controls one of your keys or the operator acted: check the publisher's key history",
            r.reason.as_str()
        );
        let mut a = self.alert(AlertKind::KeyRevoked, index, Some(p), message);
        a.key = Some(key);
        a.reason = Some(r.reason.as_str().to_string());
        a.authorization = Some(r.authorization.kind().to_string());
        a.authorized_by = by;
        out.push(a.seal());
    }

    fn on_signature(
        &mut self,
        index: u64,
        s: &SignatureEntry,
        release: &Release,
        watch: Option<&'c Watch>,
        out: &mut Vec<Alert>,
    ) {
        let p = &release.publisher;
        let what = || {
            format!(
                "{p}/{}@{} (sha256 {})",
                release.package,
                release.version,
                hex::encode(release.sha256)
            )
        };
        let h = s.key.key_hash();
        let watched_package = match watch {
            Some(w) => w.packages.contains(&release.package),
            None => self
                .config
                .watch_all
                .as_ref()
                .is_some_and(|a| a.packages.contains(&release.package)),
        };
        let (kind, message) = match watch {
            Some(w) if !self.is_expected(w, &h) => (
                AlertKind::UnexpectedSignature,
                format!(
                    "{} was signed at index {index} by key {}, which is not an expected key for {p:?}. If you did not publish this, revoke the key (`sealwax keys revoke KEY --compromised`) and warn your users",
                    what(),
                    KeyRef::of(&s.key)
                ),
            ),
            _ if watched_package => (
                AlertKind::PackageSignature,
                format!("{} was signed at index {index} by key {}", what(), KeyRef::of(&s.key)),
            ),
            _ => return,
        };
        let mut a = self.alert(kind, index, Some(p), message);
        a.key = Some(KeyRef::of(&s.key));
        a.package = Some(release.package.clone());
        a.version = Some(release.version.clone());
        a.sha256 = Some(hex::encode(release.sha256));
        out.push(a.seal());
    }
}

/// An entry parsed and signature-checked, ready for [`Tracker::apply`].
///
/// [`prepare`] needs no state, so the monitor runs it on bundles as they
/// arrive, on every core, while entries are applied strictly in log order.
#[derive(Debug)]
pub struct PreparedEntry {
    /// The entry's Merkle leaf hash.
    pub leaf: Hash,
    len: usize,
    state: Prep,
}

#[expect(
    clippy::large_enum_variant,
    reason = "`Ok` is the common case by far; boxing it would cost an allocation per entry"
)]
#[derive(Debug)]
enum Prep {
    Unparseable(sealwax_proto::Error),
    Refused {
        publisher: String,
        problem: Problem,
        detail: String,
    },
    Ok {
        entry: Entry,
        publisher: String,
        release: Option<Release>,
    },
    /// A copy of an earlier entry of its bundle, not parsed again: the
    /// duplicate check reports it.
    Copy,
}

/// Parses an entry, hashes it, and verifies its signatures if the config
/// says so (always for key events; for signatures of named publishers, or
/// of all with `[verify] all_signatures`).
pub fn prepare(config: &Config, origin: &str, bytes: &[u8]) -> PreparedEntry {
    let leaf = leaf_hash(bytes);
    let state = prepare_state(config, origin, bytes);
    PreparedEntry {
        leaf,
        len: bytes.len(),
        state,
    }
}

/// [`prepare`]s a bundle's entries; with `skip_copies`, an entry that
/// repeats an earlier one of the bundle is only hashed (the duplicate check
/// reports it and [`Tracker::apply`] ignores it), so a bundle of copies
/// costs one signature check, not 256.
pub fn prepare_bundle(
    config: &Config,
    origin: &str,
    entries: &[&[u8]],
    skip_copies: bool,
) -> Vec<PreparedEntry> {
    if !skip_copies {
        return entries.iter().map(|e| prepare(config, origin, e)).collect();
    }
    let mut seen =
        crate::recent::LeafSet::with_capacity_and_hasher(entries.len(), Default::default());
    entries
        .iter()
        .map(|e| {
            let leaf = leaf_hash(e);
            let state = if seen.insert(leaf) {
                prepare_state(config, origin, e)
            } else {
                Prep::Copy
            };
            PreparedEntry {
                leaf,
                len: e.len(),
                state,
            }
        })
        .collect()
}

fn prepare_state(config: &Config, origin: &str, bytes: &[u8]) -> Prep {
    let entry = match Entry::parse(bytes) {
        Ok(e) => e,
        Err(e) => return Prep::Unparseable(e),
    };
    let (publisher, release) = match &entry {
        Entry::KeyRegistration(r) => (r.publisher.clone(), None),
        Entry::KeyRevocation(r) => (r.publisher.clone(), None),
        Entry::Signature(s) => match s.release() {
            Ok(r) => (r.publisher.clone(), Some(r)),
            Err(e) => return Prep::Unparseable(e),
        },
    };
    let kind = entry.kind_name();
    let verify = !matches!(entry, Entry::Signature(_))
        || config.watch(&publisher).is_some()
        || config.verify_all_signatures;
    if verify {
        if let Err(e) = entry.verify_signatures(origin) {
            return Prep::Refused {
                detail: format!(
                    "({kind} for publisher {publisher:?}) carries a signature that does not verify ({e})"
                ),
                publisher,
                problem: Problem::BadEntrySignature,
            };
        }
    } else if let Some(r) = &release {
        if r.origin != origin {
            return Prep::Refused {
                detail: format!(
                    "(signature for publisher {publisher:?}) names the log {:?}, not this log {origin:?}",
                    r.origin
                ),
                publisher,
                problem: Problem::RuleViolation,
            };
        }
    }
    Prep::Ok {
        entry,
        publisher,
        release,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwax_proto::minisign::{prehash, SecretKey};
    use std::path::Path;

    const ORIGIN: &str = "sealwax.test/log";

    fn key() -> SecretKey {
        SecretKey::generate(&mut rand::thread_rng())
    }

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("t.toml")).unwrap()
    }

    fn reg_claim(p: &str, k: &SecretKey) -> Vec<u8> {
        Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, p, k).unwrap()).to_bytes()
    }

    fn sig(p: &str, k: &SecretKey, pkg: &str) -> Vec<u8> {
        let release = Release {
            origin: ORIGIN.into(),
            publisher: p.into(),
            package: pkg.into(),
            version: "1.0.0".into(),
            sha256: [3; 32],
        };
        Entry::Signature(SignatureEntry::sign(k, &release, prehash(b"artifact")).unwrap())
            .to_bytes()
    }

    fn run(t: &mut Tracker, entries: &[Vec<u8>]) -> Vec<Alert> {
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            t.process(i as u64, e, &mut out);
        }
        out
    }

    fn kinds(alerts: &[Alert]) -> Vec<String> {
        alerts.iter().map(|a| a.kind_label()).collect()
    }

    #[test]
    fn expected_and_unexpected_keys() {
        let (k1, k2) = (key(), key());
        let c = config(&format!(
            "[[watch]]\npublisher = \"alice\"\nkeys = [\"{}\"]\n",
            k1.public_key().to_base64()
        ));
        let mut t = Tracker::new(&c, ORIGIN, 4, MemoryLogState::default(), BTreeMap::new());
        let entries = vec![
            reg_claim("alice", &k1),
            sig("alice", &k1, "tool"),
            Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "alice", &k2).unwrap())
                .to_bytes(),
            sig("alice", &k2, "tool"),
        ];
        let alerts = run(&mut t, &entries);
        assert_eq!(kinds(&alerts), ["unexpected-key", "unexpected-signature"]);
        assert_eq!(alerts[0].index, Some(2));
        assert_eq!(alerts[0].authorization.as_deref(), Some("operator"));
        assert!(
            alerts[0].message.contains("log operator"),
            "{}",
            alerts[0].message
        );
        assert_eq!(
            alerts[0].key.as_ref().unwrap().key_id,
            k2.public_key().key_id_hex()
        );
        assert_eq!(alerts[1].package.as_deref(), Some("tool"));
    }

    #[test]
    fn chain_rotation_names_its_authoriser() {
        let (k1, k2) = (key(), key());
        let c = config(&format!(
            "[[watch]]\npublisher = \"alice\"\nkeys = [\"{}\"]\n",
            k1.public_key().to_base64()
        ));
        let mut t = Tracker::new(&c, ORIGIN, 2, MemoryLogState::default(), BTreeMap::new());
        let entries = vec![
            reg_claim("alice", &k1),
            Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &k2, &k1).unwrap())
                .to_bytes(),
        ];
        let alerts = run(&mut t, &entries);
        assert_eq!(kinds(&alerts), ["unexpected-key"]);
        let by = alerts[0].authorized_by.as_ref().unwrap();
        assert_eq!(by.key_hash, hex::encode(k1.public_key().key_hash()));
        assert!(alerts[0].message.contains("an expected key"));
    }

    #[test]
    fn learn_mode_learns_first_keys_only() {
        let (k1, k2) = (key(), key());
        let c = config("[[watch]]\npublisher = \"bob\"\nlearn = true\n");
        let mut t = Tracker::new(&c, ORIGIN, 2, MemoryLogState::default(), BTreeMap::new());
        assert!(run(&mut t, &[reg_claim("bob", &k1), sig("bob", &k1, "x")]).is_empty());
        let (keys, learned) = t.finish();
        assert_eq!(learned["bob"], BTreeSet::from([k1.public_key().key_hash()]));
        let mut t = Tracker::new(&c, ORIGIN, 3, keys, learned);
        let mut out = Vec::new();
        let e = Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "bob", &k2, &k1).unwrap())
            .to_bytes();
        t.process(2, &e, &mut out);
        assert_eq!(kinds(&out), ["unexpected-key"]);
    }

    #[test]
    fn watch_all_reports_every_key_event() {
        let (k1, k2) = (key(), key());
        let c = config("[[watch]]\npublisher = \"*\"\npackages = [\"tool\"]\n");
        let mut t = Tracker::new(&c, ORIGIN, 4, MemoryLogState::default(), BTreeMap::new());
        let entries = vec![
            reg_claim("carol", &k1),
            reg_claim("dave", &k2),
            sig("dave", &k2, "tool"),
            Entry::KeyRevocation(
                KeyRevocation::by_key(
                    ORIGIN,
                    "dave",
                    k2.public_key(),
                    RevocationReason::Retired,
                    &k2,
                )
                .unwrap(),
            )
            .to_bytes(),
        ];
        let alerts = run(&mut t, &entries);
        assert_eq!(
            kinds(&alerts),
            [
                "key-registered",
                "key-registered",
                "package-signature",
                "key-revoked"
            ]
        );
        assert_eq!(alerts[3].reason.as_deref(), Some("retired"));
        assert!(alerts[3].message.contains("by the key itself"));
    }

    #[test]
    fn misbehaving_entries_are_alerts() {
        let (k1, k2) = (key(), key());
        let c = config("[[watch]]\npublisher = \"alice\"\nlearn = true\n");
        let mut t = Tracker::new(&c, ORIGIN, 5, MemoryLogState::default(), BTreeMap::new());
        let mut forged = reg_claim("alice", &k1);
        let n = forged.len();
        forged[n - 2] ^= 1; // inside the proof of possession
        let entries = vec![
            b"junk".to_vec(),
            forged,
            sig("alice", &k1, "tool"), // alice has no keys: rule violation
            reg_claim("bob", &k2),
            reg_claim("bob", &k1), // name taken
        ];
        let alerts = run(&mut t, &entries);
        assert_eq!(
            kinds(&alerts),
            [
                "log-misbehaviour/unparseable-entry",
                "log-misbehaviour/bad-entry-signature",
                "log-misbehaviour/rule-violation",
                "log-misbehaviour/rule-violation",
            ]
        );
        assert_eq!(t.keys().key_count(), 1, "refused entries change nothing");
    }

    #[test]
    fn one_key_belongs_to_one_publisher() {
        let k = key();
        let c = config("[[watch]]\npublisher = \"bob\"\nlearn = true\n");
        let mut t = Tracker::new(&c, ORIGIN, 2, MemoryLogState::default(), BTreeMap::new());
        let alerts = run(&mut t, &[reg_claim("alice", &k), reg_claim("bob", &k)]);
        assert_eq!(kinds(&alerts), ["log-misbehaviour/rule-violation"]);
        assert!(
            alerts[0]
                .message
                .contains("already registered to publisher \"alice\""),
            "{}",
            alerts[0].message
        );
        assert!(t.keys().get("bob").is_none());
    }
}
