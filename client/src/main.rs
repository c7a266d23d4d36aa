//! `sealwax`: the publisher and installer CLI. All logic is in the library;
//! this parses the command line, runs the command, and maps errors to the
//! documented exit codes (`sealwax --help`).

use std::io::Write as _;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use sealwax_client::cli::{Cli, Command};
use sealwax_client::commands::{self, publish};
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

/// Settles what `publish` takes from RELEASE, the flags and `sealwax.toml`;
/// a bare `publish --version` prints the version, as `sealwax --version`.
fn settle_publish(cli: &mut Cli) {
    let Command::Publish(args) = &mut cli.command else {
        return;
    };
    if args.version == Some(None) {
        println!("{}", Cli::command().render_version().trim_end());
        std::process::exit(0);
    }
    if let Err(msg) = publish::settle_names(args, std::path::Path::new(".")) {
        let mut cmd = Cli::command();
        cmd.build();
        let publish = cmd
            .find_subcommand_mut("publish")
            .expect("publish is a verb");
        publish.error(ErrorKind::ValueValidation, msg).exit();
    }
}

fn main() {
    let mut cli = Cli::try_parse().unwrap_or_else(|e| {
        // `sealwax install --version` says `sealwax 0.1.0`, as `sealwax --version`.
        if e.kind() == ErrorKind::DisplayVersion {
            println!("{}", Cli::command().render_version().trim_end());
            std::process::exit(0);
        }
        e.exit()
    });
    settle_publish(&mut cli);
    let json = cli.json;
    match commands::run(cli) {
        Ok(value) => {
            if json {
                if let Err(code) = print_json(&value) {
                    std::process::exit(code);
                }
            }
            if let Some(e) = commands::stdout_failure() {
                eprintln!("error: the command finished, but its output could not all be written to stdout: {e}");
                std::process::exit(EXIT_USAGE);
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
