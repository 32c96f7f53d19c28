//! Per-client rate limits on the routes that take untrusted input (the reset POST, GET and PUT,
//! and the CSRF token's GET): one token bucket per client, `--rate-limit-per-minute` tokens,
//! refilled continuously.
//!
//! The client's address is the socket's peer, or, only when `--client-ip-header` names one, the
//! last entry of that header: a trusted proxy appends the address it saw, so entries before it
//! are whatever the client claimed. An IPv6 address counts as its network of
//! `--ipv6-prefix-length` bits ([`client_of`]): whoever has one address of a /64 usually has
//! them all.
//!
//! Memory is bounded: at most [`MAX_CLIENTS`] buckets, in least-recently-used order. Each
//! request first drops up to [`EXPIRED_PER_REQUEST`] buckets untouched for a minute (full again,
//! so no different from none); with all [`MAX_CLIENTS`] still in use, the least recently used
//! one makes room, which only forgives a client once that many others came after it.
//!
//! Routes apply it through the `extract::WithinRateLimit` extractor.

use std::collections::hash_map::RandomState;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName};
use lru::LruCache;

use crate::http_server::client_of;

/// Buckets kept at most.
const MAX_CLIENTS: usize = 100_000;
/// A bucket untouched this long has refilled whatever its rate (its capacity is a minute's
/// tokens).
const REFILL_PERIOD: Duration = Duration::from_secs(60);
/// Expired buckets dropped per request at most: constant work per request, and more than one so
/// that the map shrinks back when new clients stop coming.
const EXPIRED_PER_REQUEST: usize = 2;

pub struct RateLimiter {
    per_minute: u32,
    client_ip_header: Option<HeaderName>,
    ipv6_prefix_length: u8,
    /// None when the limit is off.
    buckets: Option<Mutex<LruCache<IpAddr, Bucket, RandomState>>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_minute` 0 turns the limit off.
    pub fn new(
        per_minute: u32,
        client_ip_header: Option<HeaderName>,
        ipv6_prefix_length: u8,
    ) -> RateLimiter {
        RateLimiter::with_capacity(
            per_minute,
            client_ip_header,
            ipv6_prefix_length,
            MAX_CLIENTS,
        )
    }

    fn with_capacity(
        per_minute: u32,
        client_ip_header: Option<HeaderName>,
        ipv6_prefix_length: u8,
        capacity: usize,
    ) -> RateLimiter {
        let capacity = NonZeroUsize::new(capacity).expect("a positive capacity");
        RateLimiter {
            per_minute,
            client_ip_header,
            ipv6_prefix_length,
            // Allocated once: no rehashing pause as clients arrive.
            buckets: (per_minute > 0)
                .then(|| Mutex::new(LruCache::with_hasher(capacity, RandomState::new()))),
        }
    }

    /// Spends one token of the bucket of the client a request comes from (see [`Self::client`]),
    /// or says how long until one is back.
    pub fn admit(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), Duration> {
        self.take(self.client(headers, peer), Instant::now())
    }

    /// Takes one token from `client`'s bucket, or says how long until one is back.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / REFILL_PERIOD.as_secs_f64();
        let mut buckets = buckets.lock().unwrap_or_else(|e| e.into_inner());
        // Every use moves a bucket to the front, so the least recently used is the oldest.
        for _ in 0..EXPIRED_PER_REQUEST {
            match buckets.peek_lru() {
                Some((_, oldest))
                    if now.saturating_duration_since(oldest.updated) >= REFILL_PERIOD =>
                {
                    buckets.pop_lru();
                }
                _ => break,
            }
        }
        // When all MAX_CLIENTS are in use, a new client takes the least recently used one's place.
        let bucket = buckets.get_or_insert_mut(client, || Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// The client: the configured header's last entry, else the socket's peer, as
    /// [`client_of`] groups addresses.
    fn client(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
        let from_header = self.client_ip_header.as_ref().and_then(|name| {
            let last = headers.get_all(name).iter().next_back()?;
            let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
            entry.parse::<IpAddr>().ok()
        });
        // No peer only happens in-process (tests): all such requests share one bucket.
        let address = from_header
            .or(peer.map(|peer| peer.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        client_of(address, self.ipv6_prefix_length)
    }

    #[cfg(test)]
    fn bucket_count(&self) -> usize {
        self.buckets
            .as_ref()
            .map_or(0, |buckets| buckets.lock().unwrap().len())
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
        let limiter = RateLimiter::new(2, None, 64);
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
        let limiter = RateLimiter::new(0, None, 64);
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
        let plain = RateLimiter::new(1, None, 64);
        assert_eq!(plain.client(&headers, peer), address("127.0.0.1"));
        let proxied = RateLimiter::new(1, Some(HeaderName::from_static("x-forwarded-for")), 64);
        assert_eq!(proxied.client(&headers, peer), address("192.0.2.7"));
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(proxied.client(&headers, peer), address("127.0.0.1"));
    }

    /// Spends one token of the bucket `address` (a socket's peer) falls in.
    fn admit_from(limiter: &RateLimiter, address: &str) -> Result<(), Duration> {
        let peer = SocketAddr::new(self::address(address), 5000);
        limiter.admit(&HeaderMap::new(), Some(peer))
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_network_ipv4_clients_per_address() {
        let limiter = RateLimiter::new(1, None, 64);
        assert!(admit_from(&limiter, "2001:db8:1:2::1").is_ok());
        assert!(admit_from(&limiter, "2001:db8:1:2:ffff:ffff:ffff:9").is_err());
        assert!(admit_from(&limiter, "2001:db8:1:3::1").is_ok());
        assert!(admit_from(&limiter, "192.0.2.1").is_ok());
        assert!(admit_from(&limiter, "192.0.2.2").is_ok());
        assert!(admit_from(&limiter, "::ffff:192.0.2.1").is_err());
        assert!(admit_from(&limiter, "::ffff:192.0.2.3").is_ok());

        let per_address = RateLimiter::new(1, None, 128);
        assert!(admit_from(&per_address, "2001:db8:1:2::1").is_ok());
        assert!(admit_from(&per_address, "2001:db8:1:2::2").is_ok());
        let per_48 = RateLimiter::new(1, None, 48);
        assert!(admit_from(&per_48, "2001:db8:1:2::1").is_ok());
        assert!(admit_from(&per_48, "2001:db8:1:3::1").is_err());
        assert!(admit_from(&per_48, "2001:db8:2::1").is_ok());
    }

    #[test]
    fn the_header_address_is_grouped_like_a_peer() {
        let mut headers = HeaderMap::new();
        let limiter = RateLimiter::new(1, Some(HeaderName::from_static("x-real-ip")), 64);
        headers.insert("x-real-ip", HeaderValue::from_static("2001:db8:5:6::1"));
        assert_eq!(limiter.client(&headers, None), address("2001:db8:5:6::"));
    }

    #[test]
    fn buckets_are_bounded_and_the_least_recent_makes_room() {
        let limiter = RateLimiter::with_capacity(1, None, 64, 3);
        let start = Instant::now();
        for client in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"] {
            assert!(limiter.take(address(client), start).is_ok());
            assert!(limiter.bucket_count() <= 3);
        }
        assert_eq!(limiter.bucket_count(), 3);
        // .1 was the least recent: its bucket made room for .4's.
        assert!(limiter.take(address("192.0.2.4"), start).is_err());
        assert!(limiter.take(address("192.0.2.1"), start).is_ok());
        // .2 went for .1; .3 and .4 kept theirs.
        assert!(limiter.take(address("192.0.2.3"), start).is_err());
        assert!(limiter.take(address("192.0.2.4"), start).is_err());
    }

    #[test]
    fn buckets_untouched_for_a_minute_are_dropped_a_few_per_request() {
        let limiter = RateLimiter::with_capacity(10, None, 64, 100);
        let start = Instant::now();
        for i in 0..5 {
            assert!(limiter
                .take(address(&format!("192.0.2.{i}")), start)
                .is_ok());
        }
        assert_eq!(limiter.bucket_count(), 5);
        // Not yet a minute: nothing goes.
        let later = start + Duration::from_secs(59);
        assert!(limiter.take(address("192.0.2.0"), later).is_ok());
        assert_eq!(limiter.bucket_count(), 5);
        // A minute after .1 to .4 were last used: each request drops two of them.
        let after = start + REFILL_PERIOD;
        assert!(limiter.take(address("198.51.100.1"), after).is_ok());
        assert_eq!(limiter.bucket_count(), 4);
        assert!(limiter.take(address("198.51.100.1"), after).is_ok());
        assert_eq!(limiter.bucket_count(), 2);
        // .0 was used at 59 s: it stays, with its spent tokens.
        assert!(limiter.take(address("198.51.100.1"), after).is_ok());
        assert_eq!(limiter.bucket_count(), 2);
    }
}
