//! The canonical bytes of an entry: [`Entry::to_bytes`] and [`Entry::parse`],
//! laid out as the [module docs](super) show.

use super::*;
use crate::minisign::PublicKey;

fn put_str8(out: &mut Vec<u8>, s: &str) {
    debug_assert!(s.len() <= 255);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn put_key(out: &mut Vec<u8>, k: &PublicKey) {
    out.extend_from_slice(&k.keynum);
    out.extend_from_slice(&k.key);
}

impl Entry {
    /// The canonical bytes of this entry (what the log stores and hashes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![ENTRY_VERSION];
        match self {
            Entry::KeyRegistration(r) => {
                out.push(KIND_REGISTRATION);
                put_str8(&mut out, &r.publisher);
                put_key(&mut out, &r.key);
                out.extend_from_slice(&r.possession);
                match &r.authorization {
                    Authorization::Claim => out.push(0),
                    Authorization::Chain { by, signature } => {
                        out.push(1);
                        put_key(&mut out, by);
                        out.extend_from_slice(signature);
                    }
                    Authorization::Operator => out.push(2),
                }
            }
            Entry::KeyRevocation(r) => {
                out.push(KIND_REVOCATION);
                put_str8(&mut out, &r.publisher);
                put_key(&mut out, &r.key);
                out.push(r.reason.code());
                match &r.authorization {
                    RevocationAuthorization::Key { by, signature } => {
                        out.push(1);
                        put_key(&mut out, by);
                        out.extend_from_slice(signature);
                    }
                    RevocationAuthorization::Operator => out.push(2),
                }
            }
            Entry::Signature(s) => {
                out.push(KIND_SIGNATURE);
                put_key(&mut out, &s.key);
                out.extend_from_slice(&s.prehash);
                out.extend_from_slice(&s.signature);
                let c = s.trusted_comment.as_bytes();
                out.extend_from_slice(&(c.len() as u16).to_be_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(&s.global_signature);
            }
        }
        out
    }

    /// Parse canonical entry bytes; every other byte string is refused.
    pub fn parse(bytes: &[u8]) -> Result<Entry> {
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(Error::EntryTooLarge(bytes.len()));
        }
        let mut r = Reader { buf: bytes };
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(Error::MalformedEntry(
                "unknown entry version (this sealwax reads version 1)",
            ));
        }
        let entry = match r.u8()? {
            KIND_REGISTRATION => {
                let publisher = r.str8()?;
                validate_publisher(&publisher)?;
                let key = r.key()?;
                let possession = r.array::<64>()?;
                let authorization = match r.u8()? {
                    0 => Authorization::Claim,
                    1 => Authorization::Chain {
                        by: r.key()?,
                        signature: r.array::<64>()?,
                    },
                    2 => Authorization::Operator,
                    _ => return Err(Error::MalformedEntry("unknown registration authorization")),
                };
                Entry::KeyRegistration(KeyRegistration {
                    publisher,
                    key,
                    possession,
                    authorization,
                })
            }
            KIND_REVOCATION => {
                let publisher = r.str8()?;
                validate_publisher(&publisher)?;
                let key = r.key()?;
                let reason = match r.u8()? {
                    1 => RevocationReason::Retired,
                    2 => RevocationReason::Compromised,
                    _ => return Err(Error::MalformedEntry("unknown revocation reason")),
                };
                let authorization = match r.u8()? {
                    1 => RevocationAuthorization::Key {
                        by: r.key()?,
                        signature: r.array::<64>()?,
                    },
                    2 => RevocationAuthorization::Operator,
                    _ => return Err(Error::MalformedEntry("unknown revocation authorization")),
                };
                Entry::KeyRevocation(KeyRevocation {
                    publisher,
                    key,
                    reason,
                    authorization,
                })
            }
            KIND_SIGNATURE => {
                let key = r.key()?;
                let prehash = r.array::<64>()?;
                let signature = r.array::<64>()?;
                let len = u16::from_be_bytes(r.array::<2>()?) as usize;
                let comment = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| Error::MalformedEntry("trusted comment is not UTF-8"))?
                    .to_string();
                let global_signature = r.array::<64>()?;
                let s = SignatureEntry {
                    key,
                    prehash,
                    signature,
                    trusted_comment: comment,
                    global_signature,
                };
                s.release()?;
                Entry::Signature(s)
            }
            _ => return Err(Error::MalformedEntry("unknown entry kind")),
        };
        if !r.buf.is_empty() {
            return Err(Error::MalformedEntry("trailing bytes after the entry"));
        }
        Ok(entry)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::MalformedEntry("entry is truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn str8(&mut self) -> Result<String> {
        let n = self.u8()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::MalformedEntry("name is not UTF-8"))
    }
    fn key(&mut self) -> Result<PublicKey> {
        Ok(PublicKey {
            keynum: self.array::<8>()?,
            key: self.array::<32>()?,
        })
    }
}
