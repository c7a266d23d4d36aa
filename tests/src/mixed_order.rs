//! Ed25519 signatures whose nonce point carries a small-order component:
//! what a key holder can make to split verifiers.
//!
//! The signer picks `R = [r]B + T` with `T` the point of order 2, and
//! `S = r + k·a` with `k = SHA-512(R || A || M)`. Then `[S]B − [k]A = R − T`:
//! the strict (cofactorless) check, which compares against `R`, always
//! refuses; a cofactorless batch check with random weights `z` sees the
//! residue `z·T`, which vanishes for every even `z`, so it accepts about half
//! the time. A log that appends such a signature has logged an entry that
//! every strict client refuses.

use curve25519_dalek::constants::{ED25519_BASEPOINT_TABLE, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use sealwax_proto::minisign::SecretKey;
use sha2::{Digest, Sha512};

/// The Ed25519 seed of `sk`, read back from its unencrypted Minisign file.
fn seed(sk: &SecretKey) -> [u8; 32] {
    use base64::Engine as _;
    let text = sk.to_file_string(None, &mut rand::rngs::OsRng);
    let line = text
        .lines()
        .nth(1)
        .expect("a secret key file has two lines");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .expect("base64");
    // sig alg, kdf alg, checksum alg, salt, opslimit, memlimit, key number, then the seed.
    bytes[62..94].try_into().expect("32 bytes")
}

/// A signature by `sk` over `msg` that strict verification refuses and a
/// cofactorless batch check accepts about half the time. Each call gives
/// another one.
pub fn sign(sk: &SecretKey, msg: &[u8]) -> [u8; 64] {
    let h = Sha512::digest(seed(sk));
    let mut a_bytes: [u8; 32] = h[..32].try_into().expect("32 bytes");
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let public = sk.public_key().key;
    let mut wide = [0u8; 64];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut wide);
    let r = Scalar::from_bytes_mod_order_wide(&wide);
    // EIGHT_TORSION[4] is (0, -1), the point of order 2.
    let big_r = (ED25519_BASEPOINT_TABLE * &r + EIGHT_TORSION[4]).compress();
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new()
            .chain_update(big_r.as_bytes())
            .chain_update(public)
            .chain_update(msg)
            .finalize()
            .into(),
    );
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(big_r.as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::traits::IsIdentity;

    #[test]
    fn strict_refuses_and_a_cofactored_check_accepts() {
        let sk = SecretKey::generate(&mut rand::rngs::OsRng);
        let msg = b"a statement";
        for _ in 0..8 {
            let sig = sign(&sk, msg);
            assert!(sk.public_key().verify_raw(msg, &sig).is_err());
            // [8]([S]B - [k]A - R) = 0: the cofactored equation holds.
            let big_r = CompressedEdwardsY(sig[..32].try_into().unwrap())
                .decompress()
                .unwrap();
            let a = CompressedEdwardsY(sk.public_key().key)
                .decompress()
                .unwrap();
            let s = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
            let k = Scalar::from_bytes_mod_order_wide(
                &Sha512::new()
                    .chain_update(&sig[..32])
                    .chain_update(sk.public_key().key)
                    .chain_update(msg)
                    .finalize()
                    .into(),
            );
            let residue = ED25519_BASEPOINT_TABLE * &s - a * k - big_r;
            assert!(!residue.is_identity(), "cofactorless: not the identity");
            assert!(residue.mul_by_cofactor().is_identity());
        }
    }
}
