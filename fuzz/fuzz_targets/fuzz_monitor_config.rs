//! The monitor's TOML config (`sealwax_monitor::config::Config::parse`). The
//! config has no writer, so the target writes an accepted config back out as
//! TOML itself and requires it to parse to the same config.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sealwax_monitor::config::{Config, Expect};
use toml::{Table, Value};

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> Value {
    Value::Array(items.into_iter().cloned().map(Value::String).collect())
}

fn secs(d: std::time::Duration) -> Value {
    Value::Integer(i64::try_from(d.as_secs()).expect("TOML integers are i64"))
}

/// The TOML text of a validated config.
fn write(config: &Config) -> String {
    let mut watches = Vec::new();
    for w in config.watches.values() {
        let mut t = Table::new();
        t.insert("publisher".into(), Value::String(w.publisher.clone()));
        match &w.expect {
            Expect::Learn => {
                t.insert("learn".into(), Value::Boolean(true));
            }
            Expect::Keys(keys) => {
                let keys: Vec<String> = keys.values().map(|k| k.to_base64()).collect();
                t.insert("keys".into(), strings(&keys));
            }
        }
        t.insert("packages".into(), strings(&w.packages));
        watches.push(Value::Table(t));
    }
    if let Some(all) = &config.watch_all {
        let mut t = Table::new();
        t.insert("publisher".into(), Value::String("*".into()));
        t.insert("packages".into(), strings(&all.packages));
        watches.push(Value::Table(t));
    }
    let mut verify = Table::new();
    verify.insert(
        "all_signatures".into(),
        Value::Boolean(config.verify_all_signatures),
    );
    let a = &config.alerts;
    let mut alerts = Table::new();
    if let Some(w) = &a.webhook {
        alerts.insert("webhook".into(), Value::String(w.clone()));
    }
    alerts.insert(
        "webhook_retries".into(),
        Value::Integer(a.webhook_retries.into()),
    );
    alerts.insert("webhook_timeout_secs".into(), secs(a.webhook_timeout));
    if let Some(c) = &a.command {
        alerts.insert("command".into(), Value::String(c.clone()));
    }
    alerts.insert("command_timeout_secs".into(), secs(a.command_timeout));
    let mut health = Table::new();
    if let Some(d) = config.health.max_unreachable {
        health.insert("max_unreachable_secs".into(), secs(d));
    }
    if let Some(d) = config.health.max_stale {
        health.insert("max_stale_secs".into(), secs(d));
    }
    let mut root = Table::new();
    root.insert("watch".into(), Value::Array(watches));
    root.insert("verify".into(), Value::Table(verify));
    root.insert("alerts".into(), Value::Table(alerts));
    root.insert("health".into(), Value::Table(health));
    toml::to_string(&root).expect("a TOML table serialises")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("monitor.toml");
    let Ok(config) = Config::parse(text, path) else {
        return;
    };
    for (name, w) in &config.watches {
        assert_eq!(name, &w.publisher);
        assert_ne!(name, "*");
    }
    let written = write(&config);
    match Config::parse(&written, path) {
        Ok(again) => assert_eq!(again, config, "written config:\n{written}"),
        Err(e) => panic!("a written config must parse: {e}\n{written}"),
    }
});
