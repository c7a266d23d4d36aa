//! `sealwax init`: save the log URL and key in `config.toml`.

use serde_json::json;

use crate::cli::InitArgs;
use crate::commands::Ctx;
use crate::error::{ClientError, Result};
use crate::home::LogIdentity;

/// Saves `--log` and `--log-key` (fetched from the log if not given).
pub fn run(ctx: &Ctx, args: InitArgs) -> Result<serde_json::Value> {
    let url = ctx.log_url()?;
    let mut config = ctx.config.clone();
    let vkey = match ctx.log() {
        Ok(_) => ctx.log_key_flag_or_config().unwrap_or_default(),
        Err(ClientError::NoLogKey) => {
            let fetched = ctx.api()?.log_key()?;
            ctx.warn(format_args!(
                "no --log-key given: using the key the log itself announces,\n  {fetched}\n  \
                 Compare it with the key the log's operator published before you rely on it."
            ));
            fetched
        }
        Err(e) => return Err(e),
    };
    let log = LogIdentity::new(&vkey, args.origin.as_deref())?;
    config.log = Some(url.clone());
    config.log_key = Some(log.verifier.to_string());
    config.origin = args.origin.clone();
    ctx.home.save_config(&config)?;
    ctx.say(format_args!(
        "Saved log {url} (origin {}, key {}) in {}",
        log.origin,
        log.verifier,
        ctx.home.config_file.display()
    ));
    Ok(json!({
        "config": ctx.home.config_file,
        "log": url,
        "log_key": log.verifier.to_string(),
        "origin": log.origin,
    }))
}
