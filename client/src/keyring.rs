//! This home's own key pairs: which keys it registered in a log, for which
//! publisher, where their files are, and how to open a secret key.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use sealwax_proto::minisign::{PublicKey, SecretKey};
use sealwax_proto::Hash;

use crate::atomic::{read_optional, read_to_string, write_atomic, MODE_PUBLIC};
use crate::error::{ClientError, Result};
use crate::password::PasswordSource;

/// A revocation of one of this home's keys, once logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// "retired" or "compromised", as logged.
    pub reason: String,
    /// Log index of the revocation entry.
    pub index: u64,
}

/// One of this home's own keys, registered in a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnKey {
    /// The publisher it is registered for.
    pub publisher: String,
    /// Minisign public key, base64 line.
    pub key: String,
    /// Minisign key ID.
    pub key_id: String,
    /// SHA-256 of the public key, hex.
    pub key_hash: String,
    /// The `.pub` file.
    pub public_file: PathBuf,
    /// The secret key file.
    pub secret_file: PathBuf,
    /// Log index of its registration.
    pub registered_at: u64,
    /// "claim", "chain" or "operator".
    pub authorization: String,
    /// Its revocation, once logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revoked>,
}

/// `own-keys.toml` of one log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OwnKeys {
    /// The keys, in registration order.
    #[serde(default, rename = "key")]
    pub keys: Vec<OwnKey>,
    #[serde(skip)]
    path: PathBuf,
}

impl OwnKeys {
    /// Loads `path` (empty if missing).
    pub fn load(path: &Path) -> Result<OwnKeys> {
        let mut keys: OwnKeys = match read_optional(path)? {
            None => OwnKeys::default(),
            Some(text) => toml::from_str(&text).map_err(|e| ClientError::BadStateFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?,
        };
        keys.path = path.to_path_buf();
        Ok(keys)
    }

    /// Writes the file back atomically.
    pub fn save(&self) -> Result<()> {
        let mut text = String::from(
            "# Keys this home registered in one log (written by `sealwax keys ...`).\n",
        );
        text.push_str(&toml::to_string(self).expect("own keys serialise"));
        write_atomic(&self.path, text.as_bytes(), MODE_PUBLIC)
    }

    /// The newest active key of `publisher`.
    pub fn current(&self, publisher: &str) -> Option<&OwnKey> {
        self.keys
            .iter()
            .filter(|k| k.publisher == publisher && k.revoked.is_none())
            .max_by_key(|k| k.registered_at)
    }

    /// The key with this key hash.
    pub fn find(&self, key_hash: &Hash) -> Option<&OwnKey> {
        let h = hex::encode(key_hash);
        self.keys.iter().find(|k| k.key_hash == h)
    }

    /// Records a newly registered key (replacing an older record of it).
    pub fn record(
        &mut self,
        publisher: &str,
        pk: &PublicKey,
        public_file: &Path,
        secret_file: &Path,
        registered_at: u64,
        authorization: &str,
    ) {
        let h = hex::encode(pk.key_hash());
        self.keys.retain(|k| k.key_hash != h);
        self.keys.push(OwnKey {
            publisher: publisher.to_string(),
            key: pk.to_base64(),
            key_id: pk.key_id_hex(),
            key_hash: h,
            public_file: absolute(public_file),
            secret_file: absolute(secret_file),
            registered_at,
            authorization: authorization.to_string(),
            revoked: None,
        });
    }

    /// Marks a key revoked.
    pub fn mark_revoked(&mut self, key_hash: &Hash, revoked: Revoked) {
        let h = hex::encode(key_hash);
        for k in self.keys.iter_mut().filter(|k| k.key_hash == h) {
            k.revoked = Some(revoked.clone());
        }
    }
}

/// `path` made absolute against the current directory (for records that outlive it).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads a Minisign public key from a file, or from the argument itself if
/// it is a base64 key line.
pub fn read_public_key(arg: &str) -> Result<PublicKey> {
    let path = Path::new(arg);
    let (text, shown) = if path.is_file() {
        (read_to_string(path)?, path.to_path_buf())
    } else {
        (arg.to_string(), PathBuf::from(arg))
    };
    PublicKey::parse(&text).map_err(|source| ClientError::BadKeyFile {
        path: shown,
        what: "public key",
        cause: source,
    })
}

/// The scrypt memory limit a secret key file asks for, if it is encrypted.
fn kdf_memlimit(text: &str) -> Option<u64> {
    let line = text.lines().nth(1)?.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()?;
    let mem: [u8; 8] = bytes.get(46..54)?.try_into().ok()?;
    Some(u64::from_le_bytes(mem))
}

/// Opens the secret key at `path`, asking for its password if it is encrypted.
///
/// `rsign generate -W` encrypts with an empty password and cheap scrypt
/// parameters; such keys are opened without asking.
pub fn load_secret_key(path: &Path, passwords: &PasswordSource) -> Result<SecretKey> {
    let text = zeroize::Zeroizing::new(read_to_string(path)?);
    let bad = |source| ClientError::BadKeyFile {
        path: path.to_path_buf(),
        what: "secret key",
        cause: source,
    };
    if !SecretKey::is_encrypted(&text) {
        return SecretKey::parse(&text, None).map_err(bad);
    }
    const CHEAP_MEMLIMIT: u64 = 64 << 20;
    if kdf_memlimit(&text).is_some_and(|m| m <= CHEAP_MEMLIMIT) {
        if let Ok(sk) = SecretKey::parse(&text, Some(b"")) {
            return Ok(sk);
        }
    }
    let attempts = if passwords.interactive() { 3 } else { 1 };
    for attempt in 1..=attempts {
        let pw = passwords.existing(path)?;
        match SecretKey::parse(&text, Some(pw.as_bytes())) {
            Ok(sk) => return Ok(sk),
            Err(sealwax_proto::Error::WrongPassword) if attempt < attempts => {
                eprintln!("Wrong password, try again.");
            }
            Err(sealwax_proto::Error::WrongPassword) => {
                return Err(ClientError::WrongPassword(path.to_path_buf()))
            }
            Err(e) => return Err(bad(e)),
        }
    }
    Err(ClientError::WrongPassword(path.to_path_buf()))
}
