//! Hashing an artifact in one pass: SHA-256 (named in the trusted comment)
//! and BLAKE2b-512 (what a pre-hashed Minisign signature signs), computed
//! together while the bytes stream by, optionally written to a file as well.
//!
//! The reader fills a small, fixed pool of 1 MiB buffers and hands each one
//! to two hashing threads, one per hash, so that on a machine with two cores
//! hashing takes about as long as the slower hash alone. Memory use is
//! bounded by the pool (a few MiB) whatever the size of the artifact.

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

/// Size of one buffer of the pool.
const CHUNK: usize = 1 << 20;
/// Number of buffers in the pool.
const BUFFERS: usize = 6;

/// The two digests of an artifact, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// BLAKE2b-512 of the bytes (the Minisign pre-hash).
    pub blake2b512: [u8; 64],
    /// Number of bytes.
    pub len: u64,
}

type Chunk = (Arc<Vec<u8>>, usize);

/// Reads `reader` to its end once, hashing it with SHA-256 and BLAKE2b-512
/// and copying it to `tee` if given; `progress` is called with each
/// chunk's length.
pub fn hash_stream<R: Read>(
    mut reader: R,
    mut tee: Option<&mut dyn Write>,
    mut progress: impl FnMut(u64),
) -> io::Result<Digests> {
    std::thread::scope(|s| {
        let (sha_tx, sha_rx) = mpsc::sync_channel::<Chunk>(BUFFERS);
        let (b2_tx, b2_rx) = mpsc::sync_channel::<Chunk>(BUFFERS);
        let (back_tx, back_rx) = mpsc::channel::<Arc<Vec<u8>>>();
        let back_b2 = back_tx.clone();
        let sha = s.spawn(move || {
            let mut h = Sha256::new();
            for (buf, n) in sha_rx {
                h.update(&buf[..n]);
                let _ = back_tx.send(buf);
            }
            <[u8; 32]>::from(h.finalize())
        });
        let b2 = s.spawn(move || {
            let mut h = blake2b_simd::Params::new().hash_length(64).to_state();
            for (buf, n) in b2_rx {
                h.update(&buf[..n]);
                let _ = back_b2.send(buf);
            }
            let mut out = [0u8; 64];
            out.copy_from_slice(h.finalize().as_bytes());
            out
        });

        let mut allocated = 0usize;
        let mut len = 0u64;
        let pumped = (|| -> io::Result<()> {
            loop {
                let mut buf = if allocated < BUFFERS {
                    allocated += 1;
                    vec![0u8; CHUNK]
                } else {
                    // Each buffer comes back twice (once per hasher); the
                    // second return is the one that owns it alone.
                    loop {
                        let arc = back_rx
                            .recv()
                            .map_err(|_| io::Error::other("a hashing thread stopped"))?;
                        if let Ok(v) = Arc::try_unwrap(arc) {
                            break v;
                        }
                    }
                };
                let n = read_full(&mut reader, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                if let Some(w) = tee.as_mut() {
                    w.write_all(&buf[..n])?;
                }
                len += n as u64;
                progress(n as u64);
                let arc = Arc::new(buf);
                let send_failed =
                    sha_tx.send((arc.clone(), n)).is_err() | b2_tx.send((arc, n)).is_err();
                if send_failed {
                    return Err(io::Error::other("a hashing thread stopped"));
                }
            }
        })();
        drop(sha_tx);
        drop(b2_tx);
        let sha256 = sha.join().expect("SHA-256 thread panicked");
        let blake2b512 = b2.join().expect("BLAKE2b thread panicked");
        pumped?;
        Ok(Digests {
            sha256,
            blake2b512,
            len,
        })
    })
}

/// Fills `buf` from `r` as far as it goes; returns the bytes read (0 at the end).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(data: &[u8]) {
        let d = hash_stream(data, None, |_| {}).unwrap();
        assert_eq!(d.len, data.len() as u64);
        assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(data)));
        assert_eq!(d.blake2b512, sealwax_proto::minisign::prehash(data));
    }

    #[test]
    fn matches_one_shot_hashes_at_chunk_boundaries() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, BUFFERS * CHUNK * 2 + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            check(&data);
        }
    }

    #[test]
    fn tee_gets_every_byte_and_progress_adds_up() {
        let data: Vec<u8> = (0..3 * CHUNK + 5).map(|i| (i % 7) as u8).collect();
        let mut copy = Vec::new();
        let mut seen = 0;
        let d = hash_stream(&data[..], Some(&mut copy), |n| seen += n).unwrap();
        assert_eq!(copy, data);
        assert_eq!(seen, data.len() as u64);
        assert_eq!(d.len, seen);
    }

    #[test]
    fn read_errors_surface() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = hash_stream(Broken, None, |_| {}).unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
    }
}
