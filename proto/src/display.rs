//! Text that came from someone else, made safe to print on a terminal.
//!
//! A log (or a proxy in front of it) chooses the text of its error answers,
//! and a publisher chooses names and comments. Printed raw, an ESC or CSI
//! sequence in that text can move the cursor, rewrite earlier lines ("exit
//! 0, verified") or set the window title, and Unicode bidi controls can
//! reorder what is shown ("Trojan Source", CVE-2021-42574). Every party
//! prints foreign text through [`escape_controls`].

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 and C1 controls and DEL
/// (except newline and tab), and the Unicode bidi embedding, override and
/// isolate controls.
pub fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// `s` with every [unsafe character](is_unsafe_char) written as a Rust-style
/// escape (`\u{1b}`), so it shows as text instead of acting on the terminal.
/// Borrowed, without copying, when there is nothing to escape.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `err` and its causes (its `source()` chain) on one line, joined by `": "`,
/// each cause once: a cause whose text the line already shows is not
/// repeated. The `error: ` line the binaries print for a failure.
pub fn error_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}

/// Whether log lines may be coloured: only on a terminal, and not when
/// `NO_COLOR` is set to anything but the empty string (no-color.org).
pub fn colour_wanted(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let off = std::ffi::OsStr::new("1");
        let empty = std::ffi::OsStr::new("");
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(empty)));
        assert!(!colour_wanted(true, Some(off)));
        assert!(!colour_wanted(false, None));
    }

    #[test]
    fn escape_sequences_and_bidi_controls_are_shown_not_obeyed() {
        let cases = [
            ("plain text", "plain text"),
            ("two\nlines\tand a tab", "two\nlines\tand a tab"),
            ("\u{1b}[2K\rverified", "\\u{1b}[2K\\u{d}verified"),
            ("\u{1b}]0;title\u{7}", "\\u{1b}]0;title\\u{7}"),
            ("c1 \u{9b}31m", "c1 \\u{9b}31m"),
            ("del\u{7f}", "del\\u{7f}"),
            ("abc\u{202E}fed", "abc\\u{202e}fed"),
            ("iso\u{2066}x\u{2069}", "iso\\u{2066}x\\u{2069}"),
            ("ünïcödé ✓", "ünïcödé ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_controls(input), want, "input {input:?}");
            assert!(
                !escape_controls(input).chars().any(is_unsafe_char),
                "{input:?} still has an unsafe character"
            );
        }
        assert!(matches!(escape_controls("ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn error_line_shows_each_cause_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let io = E("disk full", None);
        let shown = E("cannot write state: disk full", Some(Box::new(io)));
        assert_eq!(error_line(&shown), "cannot write state: disk full");
        let hidden = E("cannot write state", Some(Box::new(E("disk full", None))));
        assert_eq!(error_line(&hidden), "cannot write state: disk full");
        assert_eq!(error_line(&E("alone", None)), "alone");
    }
}
