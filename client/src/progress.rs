//! Progress bars for hashing, uploads and downloads: shown only when
//! standard error is a terminal and the output is not `--json`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Files smaller than this finish too fast for a bar to be worth drawing.
const MIN_BYTES: u64 = 8 << 20;

/// A byte-count bar for `what`, hidden unless a person is watching.
pub fn bytes_bar(enabled: bool, total: Option<u64>, what: &str) -> ProgressBar {
    let show = enabled && std::io::stderr().is_terminal() && total.is_none_or(|t| t >= MIN_BYTES);
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t).with_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg:>12} {spinner} {bytes} {bytes_per_sec}")
                .expect("valid template"),
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message(what.to_string());
    bar
}

/// A spinner for a wait of unknown length, hidden unless a person is watching.
pub fn spinner(enabled: bool, what: &str) -> ProgressBar {
    if !(enabled && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message(what.to_string());
    bar
}
