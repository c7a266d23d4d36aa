//! `sealwax init`: save the log URL and key in `config.toml`, once the log
//! has shown that it signs its checkpoints with that key.

use std::path::{Path, PathBuf};

use serde_json::json;

use sealwax_proto::checkpoint::open_checkpoint;

use crate::atomic::{write_atomic, MODE_PUBLIC};
use crate::checkpoints::refused;
use crate::cli::InitArgs;
use crate::commands::Ctx;
use crate::error::{ClientError, Result};
use crate::home::LogIdentity;

/// The key to save: `--log-key` (or the configured one), else the one the
/// log announces at `/v1/log-key`, with a warning to compare it.
fn key_to_save(ctx: &Ctx) -> Result<String> {
    if let Some(k) = ctx.log_key_flag_or_config() {
        return Ok(k);
    }
    let fetched = ctx.api()?.log_key()?;
    ctx.warn(format_args!(
        "no --log-key given: using the key the log itself announces,\n  {fetched}\n  \
         Compare it with the key the log's operator published before you rely on it."
    ));
    Ok(fetched)
}

/// Fetches the log's checkpoint and checks that `log`'s key signs it; a
/// refusal names the key the log announces, if it announces one.
fn check_against_log(ctx: &Ctx, url: &str, log: &LogIdentity) -> Result<()> {
    let api = ctx.api()?;
    let text = api.checkpoint()?;
    let Err(cause) = open_checkpoint(&text, &log.origin, &log.verifier) else {
        return Ok(());
    };
    let announced = match api.log_key() {
        Ok(k) if k != log.verifier.to_string() => format!(" (the log announces {k})"),
        _ => String::new(),
    };
    Err(ClientError::InitKeyRefused {
        url: url.to_string(),
        key: format!("{}{announced}", log.verifier),
        cause: cause.to_string(),
    })
}

/// Refuses to replace a pinned, different log key unless `--force`, which warns.
fn check_pinned(ctx: &Ctx, args: &InitArgs, log: &LogIdentity) -> Result<()> {
    let Some(pinned) = ctx.config.log_key.as_deref() else {
        return Ok(());
    };
    let same = LogIdentity::new(pinned, None).is_ok_and(|p| p.verifier == log.verifier);
    if same {
        return Ok(());
    }
    if !args.force {
        return Err(ClientError::LogKeyPinned {
            config: ctx.home.config_file.clone(),
            pinned: pinned.to_string(),
            new: log.verifier.to_string(),
        });
    }
    ctx.warn(format_args!(
        "replacing the pinned log key\n  {pinned}\n  with {}\n  \
         (--force). What this home verified under the old key is kept apart and no longer used.",
        log.verifier
    ));
    Ok(())
}

/// Checks the policy at `path` (it parses, lists the log's key, and the
/// log's checkpoint meets it), then keeps a copy beside `config.toml`, so
/// the setting does not depend on where the original file stays.
fn save_policy(ctx: &Ctx, url: &str, log: LogIdentity, path: &Path) -> Result<PathBuf> {
    let log = log.with_policy_file(path)?;
    let text = ctx.api()?.checkpoint()?;
    log.open(&text)
        .map_err(|cause| refused(url, &text, cause))?;
    let copy = ctx
        .home
        .config_file
        .parent()
        .map_or_else(|| PathBuf::from("policy"), |d| d.join("policy"));
    if copy != path {
        let bytes = std::fs::read(path).map_err(|e| ClientError::io("read", path, e))?;
        write_atomic(&copy, &bytes, MODE_PUBLIC)?;
    }
    Ok(copy)
}

/// Saves `--log` and `--log-key` (fetched from the log if not given), once
/// the log's checkpoint verifies with the key and no other key is pinned.
pub fn run(ctx: &Ctx, args: InitArgs) -> Result<serde_json::Value> {
    let url = ctx.log_url()?;
    let vkey = key_to_save(ctx)?;
    let log = LogIdentity::new(&vkey, args.origin.as_deref())?;
    check_pinned(ctx, &args, &log)?;
    check_against_log(ctx, &url, &log)?;
    let mut config = ctx.config.clone();
    let policy = match ctx.policy_path() {
        Some(path) => Some(save_policy(ctx, &url, log.clone(), &path)?),
        None => None,
    };
    config.log = Some(url.clone());
    config.log_key = Some(log.verifier.to_string());
    config.origin = args.origin.clone();
    config.policy.clone_from(&policy);
    ctx.home.save_config(&config)?;
    ctx.say(format_args!(
        "Saved log {url} (origin {}, key {}) in {}",
        log.origin,
        log.verifier,
        ctx.home.config_file.display()
    ));
    if let Some(p) = &policy {
        ctx.say(format_args!(
            "Saved the witness policy as {}: every checkpoint must now be cosigned by its quorum",
            p.display()
        ));
    }
    Ok(json!({
        "config": ctx.home.config_file,
        "log": url,
        "log_key": log.verifier.to_string(),
        "origin": log.origin,
        "policy": policy,
    }))
}
