//! Witnessing: the cosigner task asks every witness of the `--witness-policy`
//! to cosign the newest checkpoint (C2SP tlog-witness `POST /add-checkpoint`)
//! and keeps the newest one whose cosignatures meet the policy's quorum, as
//! [`Policy::verify_checkpoint`] decides. Writes never wait for it: it only
//! reads [`Log::published`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sealwax_proto::note::{Note, NoteSignature};
use sealwax_proto::policy::Policy;
use sealwax_proto::witness_request::AddCheckpoint;

use crate::log::Log;

/// How often the cosigner looks for a newer checkpoint.
pub const COSIGN_INTERVAL: Duration = Duration::from_secs(1);
/// Time limit of one request to a witness.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(3);

/// Request counts and latency of one witness.
#[derive(Debug, Default)]
struct WitnessStats {
    micros: AtomicU64,
    requests: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
}

/// The witnessing state the handlers read: the newest cosigned checkpoint and metrics.
#[derive(Debug)]
pub struct Witnessing {
    policy: Policy,
    cosigned: RwLock<Option<(u64, Arc<str>)>>,
    stats: Vec<WitnessStats>,
}

impl Witnessing {
    /// Witnessing under `policy`, with nothing cosigned yet.
    pub fn new(policy: Policy) -> Witnessing {
        let stats = policy
            .witnesses()
            .iter()
            .map(|_| Default::default())
            .collect();
        Witnessing {
            policy,
            cosigned: RwLock::new(None),
            stats,
        }
    }

    /// The witness policy the log serves checkpoints under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The newest checkpoint that met the quorum, with its cosignature lines.
    pub fn cosigned(&self) -> Option<Arc<str>> {
        let c = self.cosigned.read().unwrap_or_else(|p| p.into_inner());
        c.as_ref().map(|(_, note)| note.clone())
    }

    /// The size of the newest cosigned checkpoint (0 when none).
    fn cosigned_size(&self) -> u64 {
        let c = self.cosigned.read().unwrap_or_else(|p| p.into_inner());
        c.as_ref().map_or(0, |(size, _)| *size)
    }

    /// Keeps `note` as the cosigned checkpoint if it meets the quorum and is newer.
    fn offer(&self, size: u64, note: String) -> bool {
        if self.policy.verify_checkpoint(&note).is_err() {
            return false;
        }
        let mut c = self.cosigned.write().unwrap_or_else(|p| p.into_inner());
        if c.as_ref().is_none_or(|(s, _)| *s <= size) {
            *c = Some((size, note.into()));
        }
        true
    }

    /// Whether `line` is a valid cosignature of witness `i` on `checkpoint`
    /// (a signed note): a witness that answers with someone else's or a
    /// broken signature does not get it served.
    fn verifies(&self, i: usize, checkpoint: &str, line: &str) -> bool {
        let (Ok(note), Ok(sig)) = (Note::parse(checkpoint), NoteSignature::parse_line(line)) else {
            return false;
        };
        self.policy.witness_cosigned(i, &note.text, &sig).is_some()
    }

    /// Records one request to witness `i`.
    fn record(&self, i: usize, took: Duration, failure: Option<&'static str>) {
        let s = &self.stats[i];
        s.micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        s.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(kind) = failure {
            let mut f = s.failures.lock().unwrap_or_else(|p| p.into_inner());
            *f.entry(kind).or_default() += 1;
        }
    }

    /// The witnessing metrics in Prometheus text.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP sealwax_cosign_request_seconds Time of add-checkpoint requests, per witness.\n# TYPE sealwax_cosign_request_seconds summary");
        for (w, s) in self.policy.witnesses().iter().zip(&self.stats) {
            let secs = s.micros.load(Ordering::Relaxed) as f64 / 1e6;
            let n = s.requests.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "sealwax_cosign_request_seconds_sum{{witness=\"{}\"}} {secs}",
                w.name
            );
            let _ = writeln!(
                out,
                "sealwax_cosign_request_seconds_count{{witness=\"{}\"}} {n}",
                w.name
            );
        }
        let _ = writeln!(out, "# HELP sealwax_cosign_failures_total Failed add-checkpoint requests, per witness and kind.\n# TYPE sealwax_cosign_failures_total counter");
        for (w, s) in self.policy.witnesses().iter().zip(&self.stats) {
            let f = s.failures.lock().unwrap_or_else(|p| p.into_inner());
            for (kind, n) in f.iter() {
                let _ = writeln!(
                    out,
                    "sealwax_cosign_failures_total{{witness=\"{}\",kind=\"{kind}\"}} {n}",
                    w.name
                );
            }
        }
        let _ = writeln!(out, "# HELP sealwax_cosigned_tree_size Size of the newest checkpoint that met the witness quorum.\n# TYPE sealwax_cosigned_tree_size gauge\nsealwax_cosigned_tree_size {}", self.cosigned_size());
    }
}

/// What one add-checkpoint request came to.
enum Answer {
    /// The cosignature line.
    Cosigned(String),
    /// 409: the witness is at this size.
    AtSize(u64),
    /// Anything else, by kind.
    Failed(&'static str),
}

/// A 200 answer's one signature line, so that a witness answering garbage
/// cannot spoil the note the others' cosignatures make.
fn cosignature_line(text: &str) -> Answer {
    let line = text.strip_suffix('\n').unwrap_or(text);
    match NoteSignature::parse_line(line) {
        Ok(_) if !line.contains('\n') => Answer::Cosigned(line.to_owned()),
        _ => Answer::Failed("bad_cosignature"),
    }
}

/// Sends one add-checkpoint request.
async fn send(client: &reqwest::Client, url: &str, body: String) -> Answer {
    let url = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let resp = match client.post(url).body(body).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Answer::Failed("timeout"),
        Err(_) => return Answer::Failed("connect"),
    };
    let status = resp.status().as_u16();
    let sized = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/x.tlog.size"));
    let Ok(text) = resp.text().await else {
        return Answer::Failed("read");
    };
    match status {
        200 => cosignature_line(&text),
        409 if sized => text
            .trim_end()
            .parse()
            .map_or(Answer::Failed("bad_size"), Answer::AtSize),
        400..=499 => Answer::Failed("refused"),
        _ => Answer::Failed("server"),
    }
}

/// Asks witness `i` to cosign `checkpoint` (size `size`), proving from its size `old`;
/// learns its size once from a 409. Returns the cosignature line.
async fn ask(
    w: &Witnessing,
    log: &Arc<Log>,
    client: &reqwest::Client,
    i: usize,
    old: &Mutex<u64>,
    size: u64,
    checkpoint: &str,
) -> Option<String> {
    let url = w.policy.witnesses()[i].url.as_deref()?;
    let mut from = *old.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..2 {
        let proof = match from {
            0 => Vec::new(),
            m if m >= size => Vec::new(),
            m => log.consistency_proof(m, size).ok()?,
        };
        let started = Instant::now();
        let body = AddCheckpoint {
            old_size: from,
            proof,
            checkpoint: checkpoint.to_owned(),
        }
        .to_body();
        let answer = match send(client, url, body).await {
            Answer::Cosigned(line) if !w.verifies(i, checkpoint, &line) => {
                Answer::Failed("bad_cosignature")
            }
            a => a,
        };
        let failure = match &answer {
            Answer::Failed(kind) => Some(*kind),
            Answer::AtSize(_) => Some("conflict"),
            Answer::Cosigned(_) => None,
        };
        w.record(i, started.elapsed(), failure);
        match answer {
            Answer::Cosigned(line) => {
                *old.lock().unwrap_or_else(|p| p.into_inner()) = size;
                return Some(line);
            }
            Answer::AtSize(m) if m <= size => from = m,
            _ => return None,
        }
    }
    None
}

/// The checkpoint being cosigned, and the cosignature lines gathered for it
/// (one slot per witness of the policy).
#[derive(Debug)]
struct Round {
    size: u64,
    checkpoint: Arc<str>,
    lines: Vec<Option<String>>,
    started: Instant,
}

/// How long a round that has not met the quorum keeps every witness on its
/// checkpoint before a newer one replaces it: two request timeouts, so a
/// slow witness's answer still counts, and a dead one stalls nothing.
pub const ROUND_LIMIT: Duration = Duration::from_secs(2 * WITNESS_TIMEOUT.as_secs());
/// The longest a failing witness waits before it is asked again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The next back-off after a failure: 1 s, then doubling up to [`MAX_BACKOFF`].
fn next_backoff(last: Duration) -> Duration {
    (last * 2).clamp(Duration::from_secs(1), MAX_BACKOFF)
}

/// Adds witness `i`'s line to the round if it is still about `size`, and
/// offers the note the round's lines make.
fn gathered(w: &Witnessing, round: &Mutex<Option<Round>>, i: usize, size: u64, line: String) {
    let note = {
        let mut r = round.lock().unwrap_or_else(|p| p.into_inner());
        let Some(r) = r.as_mut().filter(|r| r.size == size) else {
            return;
        };
        r.lines[i] = Some(line);
        let mut note = r.checkpoint.to_string();
        for l in r.lines.iter().flatten() {
            note.push_str(l);
            note.push('\n');
        }
        note
    };
    if !w.offer(size, note) {
        tracing::debug!(tree_size = size, "checkpoint not cosigned by a quorum yet");
    }
}

/// One witness's task: asks it about each round's checkpoint once, as soon
/// as the round starts, and after a failure backs off (1 s doubling to
/// 30 s) before asking again, so a witness that is down costs a request
/// every half minute and never holds up the others.
async fn witness_task(
    w: Arc<Witnessing>,
    log: Arc<Log>,
    client: reqwest::Client,
    i: usize,
    mut rounds: tokio::sync::watch::Receiver<Option<(u64, Arc<str>)>>,
    round: Arc<Mutex<Option<Round>>>,
) {
    let old = Mutex::new(0);
    let mut done = None;
    let mut backoff = Duration::ZERO;
    loop {
        let target = rounds.borrow_and_update().clone();
        let Some((size, checkpoint)) = target.filter(|(size, _)| done.is_none_or(|d| *size > d))
        else {
            if rounds.changed().await.is_err() {
                return;
            }
            continue;
        };
        match ask(&w, &log, &client, i, &old, size, &checkpoint).await {
            Some(line) => {
                backoff = Duration::ZERO;
                done = Some(size);
                gathered(&w, &round, i, size, line);
            }
            None => {
                backoff = next_backoff(backoff);
                tracing::debug!(witness = %w.policy.witnesses()[i].name, ?backoff, "witness failed; asking again later");
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// The cosigner: about once a second, when the log has a checkpoint newer
/// than the cosigned one, starts a round for it (unless the current round
/// is still gathering, for up to [`ROUND_LIMIT`]); each witness has its own
/// task ([`witness_task`]), and a round is served as soon as its lines meet
/// the quorum, however slow the other witnesses are.
pub async fn run(w: Arc<Witnessing>, log: Arc<Log>) {
    let client = match reqwest::Client::builder().timeout(WITNESS_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client for witnesses; no checkpoint will be cosigned");
            return;
        }
    };
    let n = w.policy.witnesses().len();
    let (tx, rx) = tokio::sync::watch::channel(None);
    let round = Arc::new(Mutex::new(None::<Round>));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(witness_task(
                w.clone(),
                log.clone(),
                client.clone(),
                i,
                rx.clone(),
                round.clone(),
            ))
        })
        .collect();
    let mut tick = tokio::time::interval(COSIGN_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let p = log.published();
        if w.cosigned_size() >= p.size && w.cosigned().is_some() {
            continue;
        }
        let mut r = round.lock().unwrap_or_else(|p| p.into_inner());
        let busy = r.as_ref().is_some_and(|r| {
            r.size >= p.size || (w.cosigned_size() < r.size && r.started.elapsed() < ROUND_LIMIT)
        });
        if busy {
            continue;
        }
        *r = Some(Round {
            size: p.size,
            checkpoint: p.checkpoint.clone(),
            lines: vec![None; n],
            started: Instant::now(),
        });
        drop(r);
        let _ = tx.send(Some((p.size, p.checkpoint.clone())));
        if tasks.iter().all(|t| t.is_finished()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_starts_at_a_second_and_doubles_to_its_limit() {
        let mut b = Duration::ZERO;
        let seen: Vec<u64> = (0..8)
            .map(|_| {
                b = next_backoff(b);
                b.as_secs()
            })
            .collect();
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn only_one_well_formed_signature_line_is_kept() {
        let good = "\u{2014} w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
        assert!(matches!(cosignature_line(good), Answer::Cosigned(l) if l == good.trim_end()));
        for bad in ["", "garbage\n", "\u{2014} w1 AAAA\nextra\n"] {
            assert!(
                matches!(cosignature_line(bad), Answer::Failed("bad_cosignature")),
                "{bad:?}"
            );
        }
    }
}
