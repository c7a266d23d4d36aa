//! A log (or a front-end) that answers with more than any answer may hold,
//! or with text meant for the terminal rather than the user. The installer
//! must cut an endless body off at its limit, with a clear error and nothing
//! left behind, and must show a log's error text without obeying it.

use std::path::Path;
use std::time::Duration;

use sealwax_tests::proxy::{EditingProxy, Forged};
use sealwax_tests::{fails_with, run_within, succeeds, Client};

use crate::scenarios::{generate, install, publish_as, refs, Story, EXIT_LOG};

/// alice publishes `hello@1.0.0` on a fresh log; returns the story.
fn alice_publishes() -> Story {
    let st = Story::new();
    let alice = st.client("alice");
    generate(&alice, "alice");
    succeeds(
        publish_as(&alice, "alice", &st.artifact("v1", 4_000, 1), "1.0.0", None),
        "alice's release",
    );
    st
}

/// `bob`, with his own home, talking to `url` instead of the log.
fn behind(st: &Story, url: &str) -> Client {
    let bob = st.client("bob");
    Client {
        home: bob.home,
        log: url.to_string(),
        log_key: bob.log_key,
    }
}

/// Every file under `dir` (none if it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_endless_artifact_is_cut_off_at_the_download_limit() {
    let st = alice_publishes();
    let proxy = EditingProxy::forging(&st.server.url, |path| {
        path.starts_with("/v1/artifacts/")
            .then_some(Forged::Endless)
    });
    let bob = behind(&st, &proxy.url);
    let to = st.path("bob-packages");
    let limit = 8u64 << 20;
    let mut cmd = bob.cmd();
    cmd.args(install(
        "1.0.0",
        &to,
        &["--trust-new-keys", "--max-download", &limit.to_string()],
    ));
    let err = fails_with(
        run_within(cmd, Duration::from_secs(60)).0,
        EXIT_LOG,
        "an install whose artifact never ends",
    );
    assert!(
        err.contains(&format!("sent more than {limit} bytes")),
        "{err}"
    );
    assert!(err.contains("--max-download"), "{err}");
    assert_eq!(
        files_in(&to),
        Vec::<String>::new(),
        "the cut-off download left files behind"
    );

    // The same install from the honest log works: the limit is only a limit.
    let honest = st.client("bob");
    succeeds(
        honest.run(&refs(&install(
            "1.0.0",
            &to,
            &["--trust-new-keys", "--max-download", "4000"],
        ))),
        "the install from the honest log, with a limit of exactly its size",
    );
}

#[test]
fn an_endless_answer_from_the_log_is_cut_off_at_its_limit() {
    let st = alice_publishes();
    for (path, limit) in [
        ("/checkpoint", sealwax_client::api::MAX_TEXT_BYTES),
        (
            "/v1/publishers/alice/keys",
            sealwax_client::api::MAX_JSON_BYTES,
        ),
        ("/v1/signatures", sealwax_client::api::MAX_JSON_BYTES),
    ] {
        let proxy = EditingProxy::forging(&st.server.url, move |p| {
            p.starts_with(path).then_some(Forged::Endless)
        });
        let bob = behind(&st, &proxy.url);
        let mut cmd = bob.cmd();
        cmd.args(install(
            "1.0.0",
            &st.path("bob-packages"),
            &["--trust-new-keys"],
        ));
        let err = fails_with(
            run_within(cmd, Duration::from_secs(60)).0,
            EXIT_LOG,
            &format!("an install whose {path} never ends"),
        );
        assert!(
            err.contains(&format!("sent more than {limit} bytes")),
            "{path}: {err}"
        );
    }
}

#[test]
fn a_logs_error_text_is_shown_escaped_never_obeyed() {
    let st = alice_publishes();
    // Clear the line, go back to its start, print a reassuring green line,
    // set the window title, and flip the rest of the text right to left.
    let hostile = "\u{1b}[2K\r\u{1b}[32mverified: installed\u{1b}[0m\u{1b}]0;ok\u{7}\u{202e}txet";
    for body in [
        serde_json::to_vec(&serde_json::json!({ "error": hostile })).unwrap(),
        hostile.as_bytes().to_vec(),
    ] {
        let proxy = EditingProxy::forging(&st.server.url, move |p| {
            p.starts_with("/v1/publishers/")
                .then(|| Forged::Answer(500, body.clone()))
        });
        let bob = behind(&st, &proxy.url);
        let err = fails_with(
            bob.run(&refs(&install(
                "1.0.0",
                &st.path("bob-packages"),
                &["--trust-new-keys"],
            ))),
            EXIT_LOG,
            "an install whose log answers with terminal escapes",
        );
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{7}') && !err.contains('\u{202e}'),
            "a raw control character reached the terminal: {err:?}"
        );
        assert!(err.contains("\\u{1b}[2K\\u{d}"), "{err:?}");
        assert!(err.contains("\\u{202e}txet"), "{err:?}");
    }
}
