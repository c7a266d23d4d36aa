//! Per-client limits on writes (`POST` and `PUT`): a token bucket per
//! client address (GCRA, from the `governor` crate), answered with 429 and
//! `Retry-After` when exhausted. Reads are never limited here; they are
//! cheap, cacheable, and what a proxy in front is for.
//!
//! The client is the TCP peer's address, or, behind a trusted proxy, the
//! address in a header the proxy sets (`--client-ip-header X-Real-IP`).
//! IPv6 clients are keyed by their /64 network, since one host usually
//! holds a whole /64.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;
use crate::metrics::Metrics;

/// Checks between two sweeps of idle clients from the limiter's table.
const SWEEP_EVERY: u64 = 4096;

/// A per-client write limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimit {
    /// Sustained writes per second per client (0: no limit).
    pub per_second: u32,
    /// Writes a client may make at once before the sustained rate applies.
    pub burst: u32,
}

/// The per-client write limiter shared by all connections.
pub struct WriteLimiter {
    limit: WriteLimit,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    client_ip_header: Option<HeaderName>,
    checks: AtomicU64,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for WriteLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteLimiter")
            .field("limit", &self.limit)
            .field("client_ip_header", &self.client_ip_header)
            .finish_non_exhaustive()
    }
}

impl WriteLimiter {
    /// A limiter for `limit`, or `None` when the limit is off (0 per second).
    pub fn new(
        limit: WriteLimit,
        client_ip_header: Option<HeaderName>,
        metrics: Arc<Metrics>,
    ) -> Option<WriteLimiter> {
        let per_second = NonZeroU32::new(limit.per_second)?;
        let burst = NonZeroU32::new(limit.burst).unwrap_or(per_second);
        Some(WriteLimiter {
            limit: WriteLimit {
                per_second: per_second.get(),
                burst: burst.get(),
            },
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            client_ip_header,
            checks: AtomicU64::new(0),
            metrics,
        })
    }

    /// The client a request comes from: the configured proxy header if it
    /// holds an address, else the TCP peer.
    fn client(&self, req: &Request) -> Option<IpAddr> {
        let from_header = self.client_ip_header.as_ref().and_then(|h| {
            req.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                // X-Forwarded-For lists every hop; only the last one was
                // written by the trusted proxy, the rest by the client.
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        });
        from_header.or_else(|| {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip())
        })
    }

    /// Takes one write from `client`'s allowance, or says how long to wait.
    pub fn check(&self, client: IpAddr) -> Result<(), AppError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Forget clients whose bucket is full again, so the table stays small.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let key = limit_key(client);
        self.limiter.check_key(&key).map_err(|not_until| {
            self.metrics
                .rate_limited_total
                .fetch_add(1, Ordering::Relaxed);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::TooManyWrites {
                client: client.to_string(),
                per_second: self.limit.per_second,
                burst: self.limit.burst,
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

/// The key a client is limited by: its IPv4 address, or its IPv6 /64.
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Middleware: limits `POST` and `PUT` requests per client; other methods
/// and requests whose client is unknown pass.
pub async fn limit_writes(
    State(limiter): State<Option<Arc<WriteLimiter>>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(l) = &limiter {
        if matches!(*req.method(), Method::POST | Method::PUT) {
            if let Some(client) = l.client(&req) {
                if let Err(e) = l.check(client) {
                    return e.into_response();
                }
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limit_key(a), limit_key(b));
        assert_ne!(limit_key(a), limit_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(limit_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_client_gets_its_burst_then_429_with_retry_after() {
        let l = WriteLimiter::new(
            WriteLimit {
                per_second: 1,
                burst: 3,
            },
            None,
            Arc::new(Metrics::new()),
        )
        .expect("limit on");
        let me: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            l.check(me).expect("within the burst");
        }
        let err = l.check(me).expect_err("over the burst");
        let resp = err.into_response();
        assert_eq!(resp.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = resp.headers()[axum::http::header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=1).contains(&retry), "retry after {retry}");
        // Another client is not affected.
        l.check(other)
            .expect("a different client has its own bucket");
    }

    #[test]
    fn zero_means_no_limit() {
        let off = WriteLimiter::new(
            WriteLimit {
                per_second: 0,
                burst: 10,
            },
            None,
            Arc::new(Metrics::new()),
        );
        assert!(off.is_none());
    }
}
