//! Per-client-address rate limits on the reset routes that take untrusted input (POST and GET):
//! one token bucket per address, `--rate-limit-per-minute` tokens, refilled continuously.
//!
//! The address is the socket's peer, or, only when `--client-ip-header` names one, the last
//! entry of that header: a trusted proxy appends the address it saw, so entries before it are
//! whatever the client claimed.
//!
//! Routes apply it through the `extract::WithinRateLimit` extractor.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName};

/// Buckets kept before full ones (addresses quiet for a minute) are dropped.
const PRUNE_AT: usize = 100_000;

pub struct RateLimiter {
    per_minute: u32,
    client_ip_header: Option<HeaderName>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_minute` 0 turns the limit off.
    pub fn new(per_minute: u32, client_ip_header: Option<HeaderName>) -> RateLimiter {
        RateLimiter {
            per_minute,
            client_ip_header,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one token of the bucket of the client a request comes from (see [`Self::client`]),
    /// or says how long until one is back.
    pub fn admit(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), Duration> {
        self.take(self.client(headers, peer), Instant::now())
    }

    /// Takes one token from `client`'s bucket, or says how long until one is back.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let refill = |bucket: &mut Bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
            bucket.updated = now;
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, bucket| {
                refill(bucket);
                bucket.tokens < capacity
            });
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        refill(bucket);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// The client's address: the configured header's last entry, else the socket's peer.
    fn client(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
        let from_header = self.client_ip_header.as_ref().and_then(|name| {
            let last = headers.get_all(name).iter().next_back()?;
            let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
            entry.parse::<IpAddr>().ok()
        });
        // No peer only happens in-process (tests): all such requests share one bucket.
        from_header
            .or(peer.map(|peer| peer.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn buckets_are_per_address_and_refill() {
        let limiter = RateLimiter::new(2, None);
        let start = Instant::now();
        let (a, b) = (address("192.0.2.1"), address("2001:db8::1"));
        assert!(limiter.take(a, start).is_ok());
        assert!(limiter.take(a, start).is_ok());
        let wait = limiter.take(a, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        assert!(limiter.take(b, start).is_ok());
        assert!(limiter.take(a, start + Duration::from_secs(30)).is_ok());
        assert!(limiter.take(a, start + Duration::from_secs(30)).is_err());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::new(0, None);
        for _ in 0..1000 {
            assert!(limiter.take(address("192.0.2.1"), Instant::now()).is_ok());
        }
    }

    #[test]
    fn the_header_counts_only_when_configured_and_only_its_last_entry() {
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("10.0.0.1, 192.0.2.7"),
        );
        let peer = Some("127.0.0.1:5000".parse().unwrap());
        let plain = RateLimiter::new(1, None);
        assert_eq!(plain.client(&headers, peer), address("127.0.0.1"));
        let proxied = RateLimiter::new(1, Some(HeaderName::from_static("x-forwarded-for")));
        assert_eq!(proxied.client(&headers, peer), address("192.0.2.7"));
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(proxied.client(&headers, peer), address("127.0.0.1"));
    }
}
