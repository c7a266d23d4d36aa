//! Witness policies in Sigsum's policy file syntax, and the one check of
//! whether a checkpoint meets a policy's quorum ([`Policy::verify_checkpoint`]).
//!
//! ```text
//! # comment
//! log KEY [URL]
//! witness NAME KEY [URL]
//! group NAME k|any|all MEMBER...
//! quorum NAME|none
//! ```
//!
//! Items are separated by spaces and tabs; the only control characters
//! allowed are tab and newline. KEY is a 64-hex-digit Ed25519 public key or
//! a verifier key line (`name+keyid+base64(type || key)`: type 0x01 for a
//! log, 0x04 for a witness). A group needs `k` of its members (`any`: 1,
//! `all`: every one); members are witnesses or groups defined on earlier
//! lines, each a member once at most, and `none` (the empty group, always
//! met) is never a member. There is exactly one `quorum` line.
//!
//! A log given as hex signs under the checkpoint's origin as its key name; a
//! witness given as hex is matched by key ID under whatever name its
//! cosignature line carries (the Ed25519 cosignature does not sign the
//! name); a key given as a verifier key line matches its own name only.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::note::{CosignatureVerifier, Note, NoteSignature, NoteVerifier};
use crate::{Error, Result};

/// The predefined name of the empty group, which every checkpoint meets.
pub const NONE: &str = "none";

/// A key as a policy gives it: bare, or with its key name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKey<V> {
    /// A 64-hex Ed25519 public key (no name).
    Raw(VerifyingKey),
    /// A verifier key line.
    Named(V),
}

/// A log of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its key.
    pub key: PolicyKey<NoteVerifier>,
    /// Its URL, if given.
    pub url: Option<String>,
}

/// A witness of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy.
    pub name: String,
    /// Its key.
    pub key: PolicyKey<CosignatureVerifier>,
    /// Its URL, if given.
    pub url: Option<String>,
}

impl PolicyWitness {
    /// The witness's raw Ed25519 key, however the policy gives it.
    pub fn public_key(&self) -> VerifyingKey {
        raw(&self.key, |v| *v.public_key())
    }

    /// The key name its cosignature lines must carry, when the policy gives
    /// a verifier key line; a bare key accepts the name of the line.
    pub fn key_name(&self) -> Option<&str> {
        match &self.key {
            PolicyKey::Raw(_) => None,
            PolicyKey::Named(v) => Some(v.name()),
        }
    }
}

/// A node of the quorum: a witness (by index) or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Witness `i` of [`Policy::witnesses`] cosigned.
    Witness(usize),
    /// At least `k` of `members` are met.
    Group {
        /// How many members must be met.
        k: usize,
        /// The members.
        members: Vec<Node>,
    },
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    quorum: Node,
}

/// Opens a checkpoint the way every reader accepts one: for `origin`, signed
/// with the trusted log key and, under a policy, cosigned by a quorum of its
/// witnesses. The client, the monitor and the `.tlog-proof` check all call
/// this, so a checkpoint one of them accepts the others accept too.
pub fn open_accepted(
    text: &str,
    origin: &str,
    verifier: &NoteVerifier,
    policy: Option<&Policy>,
) -> Result<(Checkpoint, Note)> {
    let opened = open_checkpoint(text, origin, verifier)?;
    if let Some(policy) = policy {
        policy.verify_checkpoint(text)?;
    }
    Ok(opened)
}

/// A checkpoint that met the quorum, from [`Policy::verify_checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorate {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The index (in [`Policy::logs`]) of the log that signed it.
    pub log: usize,
    /// Each witness whose cosignature verified, with its timestamp.
    pub cosigned: Vec<(String, u64)>,
}

/// The parser's state: what earlier lines defined.
#[derive(Default)]
struct Builder {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    names: HashMap<String, Node>,
    used: HashMap<String, String>,
    quorum: Option<Node>,
}

/// Parses a 64-hex-digit key or a verifier key line.
fn parse_key<V>(s: &str, parse_vkey: impl Fn(&str) -> Result<V>) -> Result<PolicyKey<V>, String> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(s, &mut raw).map_err(|e| e.to_string())?;
        let key = VerifyingKey::from_bytes(&raw)
            .ok()
            .filter(|k| !k.is_weak())
            .ok_or("the key is not a valid Ed25519 public key")?;
        return Ok(PolicyKey::Raw(key));
    }
    if s.contains('+') {
        return parse_vkey(s)
            .map(PolicyKey::Named)
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "{s:?} is not a key: give 64 hex digits or a verifier key line"
    ))
}

/// The raw Ed25519 key of a policy key.
fn raw<V>(key: &PolicyKey<V>, public: impl Fn(&V) -> VerifyingKey) -> VerifyingKey {
    match key {
        PolicyKey::Raw(k) => *k,
        PolicyKey::Named(v) => public(v),
    }
}

impl Builder {
    fn line(&mut self, fields: &[&str]) -> Result<(), String> {
        match fields {
            ["log", key, url @ ..] if url.len() <= 1 => self.log(key, url.first()),
            ["witness", name, key, url @ ..] if url.len() <= 1 => {
                self.witness(name, key, url.first())
            }
            ["group", name, k, members @ ..] if !members.is_empty() => {
                self.group(name, k, members)
            }
            ["quorum", name] => self.quorum(name),
            ["log" | "witness" | "group" | "quorum", ..] => Err(format!(
                "wrong number of items for `{}`: the forms are `log KEY [URL]`, `witness NAME KEY [URL]`, `group NAME k|any|all MEMBER...` and `quorum NAME`",
                fields[0]
            )),
            [other, ..] => Err(format!(
                "unknown keyword {other:?}: a line starts with log, witness, group, quorum or #"
            )),
            [] => Ok(()),
        }
    }

    fn log(&mut self, key: &str, url: Option<&&str>) -> Result<(), String> {
        let key = parse_key(key, NoteVerifier::parse)?;
        let pk = raw(&key, |v| *v.public_key());
        if self
            .logs
            .iter()
            .any(|l| raw(&l.key, |v| *v.public_key()) == pk)
        {
            return Err("this log key is listed twice".into());
        }
        self.logs.push(PolicyLog {
            key,
            url: url.map(|u| u.to_string()),
        });
        Ok(())
    }

    fn define(&mut self, name: &str, node: Node) -> Result<(), String> {
        if name == NONE || self.names.contains_key(name) {
            return Err(format!("the name {name:?} is already defined"));
        }
        self.names.insert(name.to_owned(), node);
        Ok(())
    }

    fn witness(&mut self, name: &str, key: &str, url: Option<&&str>) -> Result<(), String> {
        let key = parse_key(key, CosignatureVerifier::parse)?;
        let pk = raw(&key, |v| *v.public_key());
        if self.witnesses.iter().any(|w| w.public_key() == pk) {
            return Err(format!("witness {name:?} has the key of another witness"));
        }
        self.define(name, Node::Witness(self.witnesses.len()))?;
        self.witnesses.push(PolicyWitness {
            name: name.to_owned(),
            key,
            url: url.map(|u| u.to_string()),
        });
        Ok(())
    }

    fn group(&mut self, name: &str, k: &str, members: &[&str]) -> Result<(), String> {
        let n = members.len();
        let k = match k {
            "any" => 1,
            "all" => n,
            k => k.parse::<usize>().map_err(|_| {
                format!("group {name:?}: the threshold {k:?} is not a number, `any` or `all`")
            })?,
        };
        if k < 1 || k > n {
            return Err(format!(
                "group {name:?}: the threshold {k} is not between 1 and its {n} members"
            ));
        }
        let mut nodes = Vec::with_capacity(n);
        for m in members {
            if *m == NONE {
                return Err(format!("group {name:?}: `none` cannot be a group member"));
            }
            if let Some(parent) = self.used.get(*m) {
                return Err(format!("{m:?} is already a member of group {parent:?}"));
            }
            let node = self.names.get(*m).cloned().ok_or_else(|| {
                format!("group {name:?}: {m:?} is not defined on an earlier line")
            })?;
            self.used.insert((*m).to_owned(), name.to_owned());
            nodes.push(node);
        }
        self.define(name, Node::Group { k, members: nodes })
    }

    fn quorum(&mut self, name: &str) -> Result<(), String> {
        if self.quorum.is_some() {
            return Err("a second quorum line: a policy has exactly one".into());
        }
        let node = if name == NONE {
            Node::Group {
                k: 0,
                members: Vec::new(),
            }
        } else {
            self.names.get(name).cloned().ok_or_else(|| {
                format!("quorum {name:?} is not a witness or group defined on an earlier line")
            })?
        };
        self.quorum = Some(node);
        Ok(())
    }
}

/// Whether `node` is met, given which witnesses cosigned.
fn met(node: &Node, cosigned: &[bool]) -> bool {
    match node {
        Node::Witness(i) => cosigned[*i],
        Node::Group { k, members } => members.iter().filter(|m| met(m, cosigned)).count() >= *k,
    }
}

impl Policy {
    /// Parses a policy file; an error names the line.
    pub fn parse(text: &str) -> Result<Policy> {
        let mut b = Builder::default();
        for (i, line) in text.split('\n').enumerate() {
            let syntax = |reason: String| Error::PolicySyntax {
                line: i + 1,
                reason,
            };
            if let Some(c) = line.chars().find(|&c| c < ' ' && c != '\t' || c == '\x7f') {
                return Err(syntax(format!(
                    "control character 0x{:02x}: only tab and newline are allowed",
                    c as u32
                )));
            }
            let fields: Vec<&str> = line.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
            if fields.first().is_some_and(|f| f.starts_with('#')) {
                continue;
            }
            b.line(&fields).map_err(syntax)?;
        }
        Ok(Policy {
            quorum: b.quorum.ok_or(Error::PolicyNoQuorum)?,
            logs: b.logs,
            witnesses: b.witnesses,
        })
    }

    /// The logs, in file order.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses, in file order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The quorum a checkpoint's cosignatures must meet: what a reader in
    /// another language (the explorer's script) evaluates.
    pub fn quorum(&self) -> &Node {
        &self.quorum
    }

    /// Whether one of the policy's logs has `verifier`'s key (a named key
    /// must also have its name): a reader checks this once, when it loads
    /// a policy for the log it follows.
    pub fn lists_log(&self, verifier: &NoteVerifier) -> bool {
        self.logs.iter().any(|l| match &l.key {
            PolicyKey::Raw(k) => k == verifier.public_key(),
            PolicyKey::Named(v) => v == verifier,
        })
    }

    /// The timestamp of witness `i`'s cosignature `sig` on `checkpoint_text`
    /// (a note body), if it is that witness's and it verifies: how a log
    /// decides whether a witness's answer is worth serving.
    pub fn witness_cosigned(
        &self,
        i: usize,
        checkpoint_text: &str,
        sig: &NoteSignature,
    ) -> Option<u64> {
        let w = self.witnesses.get(i)?;
        Policy::cosignature(w, checkpoint_text, std::slice::from_ref(sig))
            .ok()
            .flatten()
    }

    /// The index of the policy log that signed `note` (signed-note rules:
    /// a matching signature that fails rejects the note).
    fn signing_log(&self, note: &Note, origin: &str) -> Result<usize> {
        for (i, log) in self.logs.iter().enumerate() {
            let v = match &log.key {
                PolicyKey::Raw(k) => match NoteVerifier::new(origin, *k) {
                    Ok(v) => v,
                    Err(_) => continue,
                },
                PolicyKey::Named(v) => v.clone(),
            };
            match note.clone().verified(&[&v]) {
                Ok(_) => return Ok(i),
                Err(Error::NoteNotSigned(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::PolicyNoLog(origin.to_owned()))
    }

    /// The timestamp of `w`'s valid cosignature among `sigs`; `Err` if one names it but fails.
    fn cosignature(
        w: &PolicyWitness,
        text: &str,
        sigs: &[NoteSignature],
    ) -> Result<Option<u64>, ()> {
        let mut failed = false;
        for sig in sigs {
            let v = match &w.key {
                PolicyKey::Raw(k) => match CosignatureVerifier::new(sig.name.clone(), *k) {
                    Ok(v) => v,
                    Err(_) => continue,
                },
                PolicyKey::Named(v) => v.clone(),
            };
            if !v.matches(sig) {
                continue;
            }
            match v.verify(text, sig) {
                Some(ts) => return Ok(Some(ts)),
                None => failed = true,
            }
        }
        if failed {
            Err(())
        } else {
            Ok(None)
        }
    }

    /// Checks a signed checkpoint against the policy: signed by one of its
    /// logs, and cosigned by witnesses that meet the quorum.
    pub fn verify_checkpoint(&self, note: &str) -> Result<Quorate> {
        let note = Note::parse(note)?;
        let checkpoint = Checkpoint::parse(&note.text)?;
        let log = self.signing_log(&note, &checkpoint.origin)?;
        let (mut verified, mut failed, mut cosigned) = (Vec::new(), Vec::new(), Vec::new());
        let mut ok = vec![false; self.witnesses.len()];
        for (i, w) in self.witnesses.iter().enumerate() {
            match Policy::cosignature(w, &note.text, &note.signatures) {
                Ok(Some(ts)) => {
                    ok[i] = true;
                    verified.push(w.name.clone());
                    cosigned.push((w.name.clone(), ts));
                }
                Ok(None) => {}
                Err(()) => failed.push(w.name.clone()),
            }
        }
        if !met(&self.quorum, &ok) {
            return Err(Error::PolicyQuorumNotMet { verified, failed });
        }
        Ok(Quorate {
            checkpoint,
            log,
            cosigned,
        })
    }
}
