//! # sealwax-proto: the pure core of sealwax
//!
//! Formats, Merkle math, signed notes, checkpoints, Minisign handling and the
//! rules for log entries. Nothing here does I/O: no files, no network, no
//! clock. The log server, the client and the monitor all verify through this
//! crate, so every rule has exactly one implementation.
//!
//! | module | what | spec |
//! |---|---|---|
//! | [`merkle`] | leaf/node hashes, roots, inclusion and consistency proofs, compact ranges | RFC 9162 §2.1 |
//! | [`tile`] | tile coordinates, tile paths, entry bundles | C2SP `tlog-tiles` |
//! | [`note`] | signed notes, Ed25519 signers/verifiers, cosignatures | C2SP `signed-note`, `tlog-cosignature` |
//! | [`checkpoint`] | checkpoint bodies | C2SP `tlog-checkpoint` |
//! | [`proof`] | offline proof bundles | C2SP `tlog-proof` |
//! | [`directory`] | the key directory: a sparse Merkle tree of key states and releases, its proofs | `docs/FORMATS.md` |
//! | [`minisign`] | Minisign public keys, secret keys, signatures | Minisign file formats |
//! | [`entry`] | the three kinds of log entry, their encoding and statements | `docs/FORMATS.md` |
//! | [`keys`] | a publisher's key state, its rules (suspension included) and canonical record | `docs/FORMATS.md` |
//! | [`rules`] | the rules across publishers, and `apply_entry`, the fold every party uses | `docs/FORMATS.md` |
//! | [`display`] | escaping foreign text (a log's errors, names) before it reaches a terminal | |
//! | [`trust`] | an installer's trust decision (TOFU, chains, `--trust-new-keys`) | `docs/FORMATS.md` |
//! | [`wire`] | the JSON bodies of the log's HTTP API, hashes typed, for server and client | `docs/API.md` |
#![warn(missing_docs)]

pub mod checkpoint;
pub mod directory;
pub mod display;
pub mod entry;
pub mod error;
pub mod keys;
pub mod merkle;
pub mod minisign;
pub mod note;
pub mod policy;
pub mod proof;
pub mod rules;
pub mod tile;
pub mod trust;
pub mod wire;
pub mod witness_request;

pub use error::{DirectoryError, Error};

/// A SHA-256 hash: a Merkle tree node, a leaf hash or a root.
pub type Hash = [u8; 32];

/// Shorthand for results whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
