//! Checkpoint signing and opening, against a bare Ed25519 verification.
//!
//! Opening a checkpoint is parsing plus one strict Ed25519 verification, so
//! `open` should cost little more than `ed25519_verify_strict`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer as _, SigningKey};
use sealwax_proto::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
use sealwax_proto::note::{Note, NoteSigner};

const ORIGIN: &str = "example.com/sealwax-bench";

fn checkpoint(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let signer = NoteSigner::new(ORIGIN, key.clone()).expect("valid key name");
    let verifier = signer.verifier();
    let cp = Checkpoint::new(ORIGIN, 123_456_789, [0x42; 32]);
    let signed = sign_checkpoint(&cp, &signer).expect("sign");
    let body = cp.to_body();
    let raw_sig = key.sign(body.as_bytes());
    let vk = key.verifying_key();

    let mut g = c.benchmark_group("checkpoint");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("sign", |b| {
        b.iter(|| sign_checkpoint(black_box(&cp), &signer).expect("sign"))
    });
    g.bench_function("open", |b| {
        b.iter(|| open_checkpoint(black_box(&signed), ORIGIN, &verifier).expect("open"))
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            let note = Note::parse(black_box(&signed)).expect("note");
            Checkpoint::parse(&note.text).expect("checkpoint")
        })
    });
    g.bench_function("ed25519_verify_strict_baseline", |b| {
        b.iter(|| {
            vk.verify_strict(black_box(body.as_bytes()), &raw_sig)
                .expect("verify")
        })
    });
    g.bench_function("ed25519_sign_baseline", |b| {
        b.iter(|| key.sign(black_box(body.as_bytes())))
    });
    g.finish();
}

criterion_group!(benches, checkpoint);
criterion_main!(benches);
