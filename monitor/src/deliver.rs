//! Alert channels: stdout (always), a webhook and a command.
//!
//! Each alert goes to every configured channel in turn; [`Dispatcher::deliver`]
//! returns only when all of them took it, so the caller may then save the
//! state that the alert implies.
//!
//! - **stdout**: one line of text ([`Alert`]'s `Display`), or with `--json`
//!   one JSON object per line.
//! - **webhook**: `POST` of the alert's JSON with `Content-Type:
//!   application/json`. A 2xx answer is success. Connection errors, timeouts,
//!   408, 429 and 5xx are retried with exponential backoff (0.5 s, 1 s, 2 s, …
//!   up to 30 s); other statuses fail at once.
//! - **command**: run with `sh -c`, stdin empty, its stdout and stderr sent
//!   to the monitor's stderr, and the alert in environment variables:
//!   `SEALWAX_ALERT_ID`, `SEALWAX_ALERT_KIND`, `SEALWAX_ALERT_PROBLEM`,
//!   `SEALWAX_ALERT_LOG`, `SEALWAX_ALERT_INDEX`, `SEALWAX_ALERT_PUBLISHER`,
//!   `SEALWAX_ALERT_MESSAGE` and `SEALWAX_ALERT_JSON` (absent fields are
//!   empty strings). Exit status 0 is success.

use std::io::Write;
use std::time::Duration;

use crate::alert::Alert;
use crate::config::AlertsConfig;
use crate::MonitorError;

const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Sends alerts to every configured channel.
pub struct Dispatcher {
    json: bool,
    out: Box<dyn Write + Send>,
    webhook: Option<String>,
    webhook_retries: u32,
    command: Option<String>,
    command_timeout: Duration,
    http: reqwest::Client,
    delivered: u64,
}

impl Dispatcher {
    /// A dispatcher for `config`, printing to `out` (text, or JSON lines if `json`).
    pub fn new(config: &AlertsConfig, json: bool, out: Box<dyn Write + Send>) -> Dispatcher {
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .user_agent(concat!("sealwax-monitor/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with static settings");
        Dispatcher {
            json,
            out,
            webhook: config.webhook.clone(),
            webhook_retries: config.webhook_retries,
            command: config.command.clone(),
            command_timeout: config.command_timeout,
            http,
            delivered: 0,
        }
    }

    /// How many alerts were delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Delivers `alert` to every channel (stdout once, the webhook, the
    /// command); an error means at least one did not take it.
    pub async fn deliver(&mut self, alert: &Alert) -> Result<(), MonitorError> {
        // The alert goes out once, on stdout, in the format asked for: no
        // second copy in the log lines on stderr.
        let line = if self.json {
            alert.to_json()
        } else {
            alert.to_string()
        };
        writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .map_err(|e| MonitorError::Delivery {
                channel: "stdout",
                reason: e.to_string(),
            })?;
        if let Some(url) = self.webhook.clone() {
            self.post(&url, alert).await?;
        }
        if let Some(cmd) = self.command.clone() {
            self.run_command(&cmd, alert).await?;
        }
        self.delivered += 1;
        Ok(())
    }

    async fn post(&self, url: &str, alert: &Alert) -> Result<(), MonitorError> {
        let body = alert.to_json();
        let mut backoff = BACKOFF_START;
        let mut attempt = 0u32;
        loop {
            let result = self
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let (retryable, reason) = match result {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let s = resp.status();
                    let retry = s.is_server_error()
                        || s == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || s == reqwest::StatusCode::REQUEST_TIMEOUT;
                    (retry, format!("{url} answered {s}"))
                }
                Err(e) => (true, format!("POST {url}: {e}")),
            };
            if !retryable || attempt >= self.webhook_retries {
                let tries = attempt + 1;
                return Err(MonitorError::Delivery {
                    channel: "webhook",
                    reason: format!(
                        "{reason} (after {tries} attempt{})",
                        if tries == 1 { "" } else { "s" }
                    ),
                });
            }
            tracing::warn!("webhook delivery failed ({reason}); retrying in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            attempt += 1;
        }
    }

    async fn run_command(&self, cmd: &str, alert: &Alert) -> Result<(), MonitorError> {
        let fail = |reason: String| MonitorError::Delivery {
            channel: "command",
            reason,
        };
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(cmd)
            .stdin(std::process::Stdio::null())
            .stdout(std::io::stderr())
            .stderr(std::io::stderr())
            .kill_on_drop(true);
        for (name, value) in command_env(alert) {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .map_err(|e| fail(format!("cannot run `sh -c {cmd:?}`: {e}")))?;
        match tokio::time::timeout(self.command_timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(fail(format!("`{cmd}` exited with {status}"))),
            Ok(Err(e)) => Err(fail(format!("waiting for `{cmd}`: {e}"))),
            Err(_) => {
                let _ = child.kill().await;
                Err(fail(format!(
                    "`{cmd}` ran longer than {:?} and was killed",
                    self.command_timeout
                )))
            }
        }
    }
}

/// The environment variables a command alert gets.
pub fn command_env(alert: &Alert) -> Vec<(&'static str, String)> {
    vec![
        ("SEALWAX_ALERT_ID", alert.id.clone()),
        ("SEALWAX_ALERT_KIND", alert.kind.as_str().to_string()),
        (
            "SEALWAX_ALERT_PROBLEM",
            alert
                .problem
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
        ),
        ("SEALWAX_ALERT_LOG", alert.log.clone()),
        (
            "SEALWAX_ALERT_INDEX",
            alert.index.map(|i| i.to_string()).unwrap_or_default(),
        ),
        (
            "SEALWAX_ALERT_PUBLISHER",
            alert.publisher.clone().unwrap_or_default(),
        ),
        ("SEALWAX_ALERT_MESSAGE", alert.message.clone()),
        ("SEALWAX_ALERT_JSON", alert.to_json()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn alert() -> Alert {
        let mut a = Alert::new(AlertKind::KeyRevoked, "log.example", "key X revoked");
        a.index = Some(4);
        a.publisher = Some("alice".into());
        a.seal()
    }

    #[tokio::test]
    async fn stdout_text_and_json() {
        for json in [false, true] {
            let buf = Buf::default();
            let mut d = Dispatcher::new(&AlertsConfig::default(), json, Box::new(buf.clone()));
            d.deliver(&alert()).await.unwrap();
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            if json {
                let back: Alert = serde_json::from_str(out.trim_end()).unwrap();
                assert_eq!(back, alert());
            } else {
                assert_eq!(
                    out,
                    "ALERT key-revoked index 4 publisher alice: key X revoked\n"
                );
            }
            assert_eq!(d.delivered(), 1);
        }
    }

    #[tokio::test]
    async fn command_gets_the_alert_in_its_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env.txt");
        let config = AlertsConfig {
            command: Some(format!(
                "printf '%s|%s|%s|%s' \"$SEALWAX_ALERT_KIND\" \"$SEALWAX_ALERT_INDEX\" \"$SEALWAX_ALERT_PUBLISHER\" \"$SEALWAX_ALERT_PROBLEM\" > {}",
                out.display()
            )),
            ..AlertsConfig::default()
        };
        let mut d = Dispatcher::new(&config, false, Box::new(Buf::default()));
        d.deliver(&alert()).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "key-revoked|4|alice|"
        );
    }

    #[tokio::test]
    async fn failing_command_is_a_delivery_error() {
        let config = AlertsConfig {
            command: Some("exit 3".into()),
            ..AlertsConfig::default()
        };
        let mut d = Dispatcher::new(&config, false, Box::new(Buf::default()));
        let err = d.deliver(&alert()).await.unwrap_err();
        assert!(
            matches!(
                err,
                MonitorError::Delivery {
                    channel: "command",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(d.delivered(), 0);
    }

    #[tokio::test]
    async fn unreachable_webhook_fails_after_retries() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = AlertsConfig {
            webhook: Some(format!("http://127.0.0.1:{port}/hook")),
            webhook_retries: 1,
            ..AlertsConfig::default()
        };
        let mut d = Dispatcher::new(&config, false, Box::new(Buf::default()));
        let err = d.deliver(&alert()).await.unwrap_err().to_string();
        assert!(
            err.contains("webhook") && err.contains("after 2 attempts"),
            "{err}"
        );
    }
}
