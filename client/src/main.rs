//! `sealwax`: the publisher and installer CLI. All logic is in the library;
//! this parses the command line, runs the command, and maps errors to the
//! documented exit codes (`sealwax --help`).

use clap::Parser;

use sealwax_client::cli::Cli;
use sealwax_client::commands;
use sealwax_proto::display::escape_controls;

fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(value) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).expect("JSON serialises")
                );
            }
        }
        Err(err) => {
            // The message may quote the log's own error text: a hostile log
            // must not get to drive the terminal (JSON output escapes itself).
            eprintln!("error: {}", escape_controls(&err.to_string()));
            if json {
                let out = serde_json::json!({
                    "error": err.to_string(),
                    "kind": err.kind(),
                    "exit_code": err.exit_code(),
                });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out).expect("JSON serialises")
                );
            }
            std::process::exit(err.exit_code());
        }
    }
}
