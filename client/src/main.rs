//! `sealwax`: the publisher and installer CLI. All logic is in the library;
//! this parses the command line, runs the command, and maps errors to the
//! documented exit codes (`sealwax --help`).

use std::io::Write as _;

use clap::Parser;

use sealwax_client::cli::Cli;
use sealwax_client::commands;
use sealwax_client::error::EXIT_USAGE;
use sealwax_proto::display::escape_controls;

/// Prints `value` as pretty JSON on stdout. A reader that went away (`| head
/// -1`) is not an error: the command is done. Any other failure (a full
/// disk) is, with the usage exit code.
fn print_json(value: &serde_json::Value) -> Result<(), i32> {
    let text = serde_json::to_string_pretty(value).expect("JSON serialises");
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("error: cannot write the JSON answer to stdout: {e}");
            Err(EXIT_USAGE)
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(value) => {
            if json {
                if let Err(code) = print_json(&value) {
                    std::process::exit(code);
                }
            }
        }
        Err(err) => {
            // The message may quote the log's own error text: a hostile log
            // must not get to drive the terminal (JSON output escapes itself).
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                escape_controls(&err.to_string())
            );
            if json {
                let out = serde_json::json!({
                    "error": err.to_string(),
                    "kind": err.kind(),
                    "exit_code": err.exit_code(),
                });
                let _ = print_json(&out);
            }
            std::process::exit(err.exit_code());
        }
    }
}
