//! End-to-end tests: one binary, a module per area. They drive the real
//! binaries over real HTTP on loopback.

mod attacks;
mod bad_input;
mod cli;
mod cli_last;
mod cli_more;
mod client;
mod crashloop;
mod deploy;
mod directory_client;
mod downloads;
mod explorer;
mod keys_scale;
mod mirror;
mod monitor;
mod scenarios;
mod server;
mod splitview;
mod starve;
mod witness;
mod witnessing;
