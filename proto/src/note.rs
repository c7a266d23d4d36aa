//! Signed notes (C2SP `signed-note`), Ed25519 note keys, and Ed25519 witness
//! cosignatures (C2SP `tlog-cosignature`, signature type `0x04`).
//!
//! The format is the one of Go's `golang.org/x/mod/sumdb/note`; a note signed
//! here opens there and the other way round.
//!
//! ```text
//! <text: UTF-8, no control characters but newline, ending in "\n">
//! <an empty line>
//! — <key name> <base64(4-byte key ID || signature)>\n      (one line per signature)
//! ```
//!
//! The dash is an em dash, U+2014. Key names are non-empty and contain no
//! Unicode white space and no `+`. Key IDs and verifier keys:
//!
//! ```text
//! key ID       = SHA-256(key name || 0x0A || type || public key)[:4]
//! verifier key = <key name> "+" <key ID, 8 lowercase hex digits> "+" base64(type || public key)
//! ```
//!
//! | type | signature bytes after the key ID | signed message |
//! |---|---|---|
//! | `0x01` Ed25519 | 64-byte Ed25519 signature | the note text |
//! | `0x04` cosignature/v1 | timestamp (u64, big-endian) \|\| 64-byte Ed25519 signature | `"cosignature/v1\n" "time " <decimal timestamp> "\n"` \|\| checkpoint text |
//!
//! Opening a note follows the spec's rules: signatures by unknown keys
//! (name and key ID not both matching a known key) are ignored; a signature by
//! a known key must verify, or the whole note is rejected; and at least one
//! known key must have signed.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Signature type byte of Ed25519 note signatures.
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type byte of timestamped Ed25519 witness cosignatures (tlog-cosignature v1).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;
/// The most signature lines a note may carry; more is refused as malformed.
pub const MAX_SIGNATURES: usize = 100;
/// The first line of the message an Ed25519 cosigner signs.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// What each signature line starts with: an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Length of an Ed25519 signature.
const ED25519_SIG_LEN: usize = 64;
/// Length of a cosignature/v1 signature: timestamp and Ed25519 signature.
const COSIG_LEN: usize = 8 + ED25519_SIG_LEN;

/// The key ID of a key: `SHA-256(name || 0x0A || sig_type || public_key)[:4]`.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Whether `name` may be a key name: non-empty, no Unicode white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Whether a character is an ASCII control character other than newline.
fn is_forbidden_control(c: char) -> bool {
    c < ' ' && c != '\n'
}

/// Checks that `text` can be the text of a note.
fn check_text(text: &str) -> Result<()> {
    if !text.ends_with('\n') {
        return Err(Error::MalformedNote(
            "the note text must end with a newline",
        ));
    }
    if text.chars().any(is_forbidden_control) {
        return Err(Error::MalformedNote(
            "the note contains an ASCII control character other than newline",
        ));
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 4-byte key ID (big-endian, as on the wire).
    pub key_id: [u8; 4],
    /// The signature bytes after the key ID (for cosignatures: timestamp and signature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line, without its final newline: `— <name> <base64>`.
    pub fn parse_line(line: &str) -> Result<NoteSignature> {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(Error::MalformedNote(
            "a signature line does not start with an em dash (U+2014) and a space",
        ))?;
        let (name, b64) = rest.split_once(' ').ok_or(Error::MalformedNote(
            "a signature line has no space between the key name and the signature",
        ))?;
        if !is_valid_key_name(name) {
            return Err(Error::MalformedNote(
                "a signature line has an empty key name or one with white space or '+'",
            ));
        }
        let raw = BASE64
            .decode(b64)
            .map_err(|_| Error::MalformedNote("a signature is not valid base64"))?;
        if raw.len() < 5 {
            return Err(Error::MalformedNote(
                "a signature is too short to hold a 4-byte key ID and a signature",
            ));
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: [raw[0], raw[1], raw[2], raw[3]],
            signature: raw[4..].to_vec(),
        })
    }

    /// The key ID as 8 lowercase hex digits, as verifier keys print it.
    pub fn key_id_hex(&self) -> String {
        hex::encode(self.key_id)
    }
}

/// The signature line, without its final newline.
impl fmt::Display for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.signature);
        write!(f, "{SIG_PREFIX}{} {}", self.name, BASE64.encode(raw))
    }
}

/// A signed note: its text and its signature lines.
///
/// From [`Note::parse`] the signatures are all the lines of the note, none of
/// them verified; from [`open_note`] they are only those that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The text, including its final newline, without the blank separator line.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note strictly, without verifying any signature.
    pub fn parse(note: &str) -> Result<Note> {
        if note.chars().any(is_forbidden_control) {
            return Err(Error::MalformedNote(
                "the note contains an ASCII control character other than newline",
            ));
        }
        let split = note.rfind("\n\n").ok_or(Error::MalformedNote(
            "no blank line between the text and the signatures",
        ))?;
        let text = &note[..split + 1];
        let sigs = &note[split + 2..];
        if sigs.is_empty() {
            return Err(Error::MalformedNote(
                "the note has no signature lines after its last blank line",
            ));
        }
        let sigs = sigs.strip_suffix('\n').ok_or(Error::MalformedNote(
            "the last signature line does not end with a newline",
        ))?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(Error::MalformedNote(
                    "the note has more than 100 signatures",
                ));
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }
}

/// The whole signed note: text, blank line, one line per signature.
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            writeln!(f, "{sig}")?;
        }
        Ok(())
    }
}

impl FromStr for Note {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Note::parse(s)
    }
}

/// An Ed25519 note signing key (type `0x01`) with its key name.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

impl NoteSigner {
    /// A signer for `name`; fails if the name is not a valid key name.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<NoteSigner> {
        let name = name.into();
        if !is_valid_key_name(&name) {
            return Err(Error::InvalidKeyName(name));
        }
        let key_id = key_id(&name, SIG_TYPE_ED25519, key.verifying_key().as_bytes());
        Ok(NoteSigner { name, key_id, key })
    }

    /// A signer for `name` with a fresh key from `rng`.
    pub fn generate<R: CryptoRng + RngCore>(
        name: impl Into<String>,
        rng: &mut R,
    ) -> Result<NoteSigner> {
        NoteSigner::new(name, SigningKey::generate(rng))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The Ed25519 signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The verifier for this signer's signatures.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
            kind: PhantomData,
        }
    }

    /// Signs `text` (which should end in a newline; [`sign_note`] checks that).
    pub fn sign(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }
}

/// Shows the name and key ID, never the secret key.
impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

/// Parses `<name>+<hex key ID>+<base64(type || 32-byte key)>` for the given type.
fn parse_vkey(
    vkey: &str,
    sig_type: u8,
    what: &'static str,
) -> Result<(String, [u8; 4], VerifyingKey)> {
    let (name, rest) = vkey.split_once('+').ok_or(Error::MalformedVerifierKey(
        "there is no '+' after the key name",
    ))?;
    let (id_hex, key_b64) = rest.split_once('+').ok_or(Error::MalformedVerifierKey(
        "there is no '+' after the key ID",
    ))?;
    if !is_valid_key_name(name) {
        return Err(Error::MalformedVerifierKey(
            "the key name is empty or contains white space",
        ));
    }
    if id_hex.len() != 8
        || !id_hex
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(Error::MalformedVerifierKey(
            "the key ID is not 8 lowercase hex digits",
        ));
    }
    let raw = BASE64
        .decode(key_b64)
        .map_err(|_| Error::MalformedVerifierKey("the key is not valid base64"))?;
    let (&found, key) = raw
        .split_first()
        .ok_or(Error::MalformedVerifierKey("the key is empty"))?;
    if found != sig_type {
        return Err(Error::WrongKeyType {
            expected: sig_type,
            found,
            what,
        });
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| Error::MalformedVerifierKey("an Ed25519 public key is 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| Error::MalformedVerifierKey("the key is not a valid Ed25519 public key"))?;
    if key.is_weak() {
        return Err(Error::MalformedVerifierKey(
            "the key is a weak (small-order) Ed25519 key",
        ));
    }
    let id = key_id(name, sig_type, key.as_bytes());
    if hex::encode(id) != id_hex {
        return Err(Error::MalformedVerifierKey(
            "the key ID does not match the key name and key (was the key string altered?)",
        ));
    }
    Ok((name.to_owned(), id, key))
}

/// Formats a verifier key string.
fn format_vkey(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    id: [u8; 4],
    sig_type: u8,
    key: &VerifyingKey,
) -> fmt::Result {
    let mut raw = Vec::with_capacity(33);
    raw.push(sig_type);
    raw.extend_from_slice(key.as_bytes());
    write!(f, "{name}+{}+{}", hex::encode(id), BASE64.encode(raw))
}

/// Verifies a 64-byte Ed25519 signature strictly (no small-order points, canonical S).
fn ed25519_verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = <[u8; ED25519_SIG_LEN]>::try_from(sig) else {
        return false;
    };
    key.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok()
}

/// What kind of key a [`Verifier`] is: its signature type byte, and what to
/// call it in errors.
pub trait VerifierKind {
    /// The signature type byte of C2SP signed-note (`0x01`, `0x04`, ...).
    const SIG_TYPE: u8;
    /// The kind of key, as error messages name it.
    const WHAT: &'static str;
}

/// An Ed25519 note signature key (type `0x01`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteKey;

impl VerifierKind for NoteKey {
    const SIG_TYPE: u8 = SIG_TYPE_ED25519;
    const WHAT: &'static str = "note signer";
}

/// A witness's Ed25519 cosignature key (type `0x04`, tlog-cosignature v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CosignatureKey;

impl VerifierKind for CosignatureKey {
    const SIG_TYPE: u8 = SIG_TYPE_COSIGNATURE_V1;
    const WHAT: &'static str = "Ed25519 cosigner";
}

/// A verifier key of kind `K` with its key name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier<K: VerifierKind> {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
    kind: PhantomData<K>,
}

/// An Ed25519 note verifier key (type `0x01`) with its key name.
pub type NoteVerifier = Verifier<NoteKey>;

/// A witness's Ed25519 cosignature verifier key (type `0x04`, tlog-cosignature v1).
pub type CosignatureVerifier = Verifier<CosignatureKey>;

impl<K: VerifierKind> Verifier<K> {
    /// A verifier for `name` and `key`; fails if the name is not a valid key name.
    pub fn new(name: impl Into<String>, key: VerifyingKey) -> Result<Verifier<K>> {
        let name = name.into();
        if !is_valid_key_name(&name) {
            return Err(Error::InvalidKeyName(name));
        }
        let key_id = key_id(&name, K::SIG_TYPE, key.as_bytes());
        Ok(Verifier {
            name,
            key_id,
            key,
            kind: PhantomData,
        })
    }

    /// Parses a verifier key string `<name>+<8 hex key ID>+<base64(type || key)>`.
    pub fn parse(vkey: &str) -> Result<Verifier<K>> {
        let (name, key_id, key) = parse_vkey(vkey, K::SIG_TYPE, K::WHAT)?;
        Ok(Verifier {
            name,
            key_id,
            key,
            kind: PhantomData,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether a signature line names this key (same key name and key ID).
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }
}

/// The verifier key string, `<name>+<8 hex key ID>+<base64(type || key)>`.
impl<K: VerifierKind> fmt::Display for Verifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_vkey(f, &self.name, self.key_id, K::SIG_TYPE, &self.key)
    }
}

impl<K: VerifierKind> FromStr for Verifier<K> {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Verifier::parse(s)
    }
}

impl NoteVerifier {
    /// Whether `sig` names this key and is its valid signature of `text`.
    pub fn verify(&self, text: &str, sig: &NoteSignature) -> bool {
        self.matches(sig) && ed25519_verify(&self.key, text.as_bytes(), &sig.signature)
    }
}

/// Signs `text` with every signer and returns the whole signed note.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(Error::MalformedNote(
            "a signed note needs at least one signer",
        ));
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(Error::MalformedNote(
            "the note would have more than 100 signatures",
        ));
    }
    let note = Note {
        text: text.to_owned(),
        signatures: signers.iter().map(|s| s.sign(text)).collect(),
    };
    Ok(note.to_string())
}

/// Parses `note` and verifies it against the known `verifiers`.
///
/// Signatures by unknown keys are ignored; a signature by a known key that
/// does not verify is an error; at least one known key must have signed.
/// The returned note holds only the verified signatures, once per key.
pub fn open_note(note: &str, verifiers: &[&NoteVerifier]) -> Result<Note> {
    Note::parse(note)?.verified(verifiers)
}

impl Note {
    /// Verifies a parsed note as [`open_note`] does, keeping only the verified signatures.
    pub fn verified(self, verifiers: &[&NoteVerifier]) -> Result<Note> {
        verify_parsed(self, verifiers)
    }
}

/// The verification rules of [`open_note`], on a parsed note.
fn verify_parsed(parsed: Note, verifiers: &[&NoteVerifier]) -> Result<Note> {
    let mut verified: Vec<NoteSignature> = Vec::new();
    for sig in parsed.signatures {
        let Some(v) = verifiers.iter().find(|v| v.matches(&sig)) else {
            continue;
        };
        if !v.verify(&parsed.text, &sig) {
            return Err(Error::NoteSignatureInvalid {
                name: sig.name.clone(),
                key_id: sig.key_id_hex(),
            });
        }
        if !verified.iter().any(|s| v.matches(s)) {
            verified.push(sig);
        }
    }
    if verified.is_empty() {
        let names = if verifiers.is_empty() {
            "any key (no verifier keys were given)".to_owned()
        } else {
            verifiers
                .iter()
                .map(|v| format!("{} (key ID {})", v.name(), hex::encode(v.key_id())))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::NoteNotSigned(names));
    }
    Ok(Note {
        text: parsed.text,
        signatures: verified,
    })
}

/// The message an Ed25519 cosigner signs: header, `time <timestamp>`, then the checkpoint text.
pub fn cosignature_v1_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{checkpoint_text}")
}

impl CosignatureVerifier {
    /// The cosignature's timestamp if `sig` is this cosigner's valid cosignature of the checkpoint text.
    pub fn verify(&self, checkpoint_text: &str, sig: &NoteSignature) -> Option<u64> {
        if !self.matches(sig) || sig.signature.len() != COSIG_LEN {
            return None;
        }
        let (ts, ed_sig) = sig.signature.split_at(8);
        let timestamp = u64::from_be_bytes(ts.try_into().ok()?);
        if timestamp > i64::MAX as u64 {
            return None;
        }
        let msg = cosignature_v1_message(checkpoint_text, timestamp);
        ed25519_verify(&self.key, msg.as_bytes(), ed_sig).then_some(timestamp)
    }
}

/// A witness's Ed25519 cosigning key (type `0x04`, tlog-cosignature v1) with its key name.
#[derive(Clone)]
pub struct CosignatureSigner {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

/// The first field of a private key string (the Go `sumdb/note` form).
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

impl CosignatureSigner {
    /// A cosigner for `name`; fails if the name is not a valid key name.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<CosignatureSigner> {
        let name = name.into();
        if !is_valid_key_name(&name) {
            return Err(Error::InvalidKeyName(name));
        }
        let key_id = key_id(
            &name,
            SIG_TYPE_COSIGNATURE_V1,
            key.verifying_key().as_bytes(),
        );
        Ok(CosignatureSigner { name, key_id, key })
    }

    /// A cosigner for `name` with a fresh key from `rng`.
    pub fn generate<R: CryptoRng + RngCore>(
        name: impl Into<String>,
        rng: &mut R,
    ) -> Result<CosignatureSigner> {
        CosignatureSigner::new(name, SigningKey::generate(rng))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier for this cosigner's cosignatures.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
            kind: PhantomData,
        }
    }

    /// Cosigns a checkpoint's text (the note text, without signature lines)
    /// at `timestamp` (POSIX seconds, from 1 to 2^63-1: tlog-witness forbids 0).
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<NoteSignature> {
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return Err(Error::MalformedNote(
                "a cosignature's timestamp must be from 1 to 2^63-1 seconds: is the clock set?",
            ));
        }
        let msg = cosignature_v1_message(checkpoint_text, timestamp);
        let mut signature = Vec::with_capacity(COSIG_LEN);
        signature.extend_from_slice(&timestamp.to_be_bytes());
        signature.extend_from_slice(&self.key.sign(msg.as_bytes()).to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        })
    }

    /// The private key string `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x04 || seed)>`.
    pub fn to_private_key(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(SIG_TYPE_COSIGNATURE_V1);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(raw)
        )
    }

    /// Parses a private key string made by [`CosignatureSigner::to_private_key`].
    pub fn from_private_key(text: &str) -> Result<CosignatureSigner> {
        let bad = Error::MalformedPrivateKey;
        let rest = text
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(bad("a private key starts with PRIVATE+KEY+"))?;
        // The name has no '+'; the base64 key may.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected PRIVATE+KEY+<name>+<key ID>+<key>"));
        };
        let raw = BASE64
            .decode(b64)
            .map_err(|_| bad("the private key is not valid base64"))?;
        let seed: [u8; 32] = match raw.split_first() {
            Some((&SIG_TYPE_COSIGNATURE_V1, seed)) => seed
                .try_into()
                .map_err(|_| bad("an Ed25519 private key is 32 bytes"))?,
            _ => return Err(bad("not a cosignature/v1 (type 0x04) private key")),
        };
        let signer = CosignatureSigner::new(name, SigningKey::from_bytes(&seed))?;
        if hex::encode(signer.key_id) != id {
            return Err(bad("the key ID does not match the key name and key"));
        }
        Ok(signer)
    }
}

/// Shows the name and key ID, never the secret key.
impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}
