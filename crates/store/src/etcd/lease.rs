//! TTLs as etcd leases, shared between keys like kube-apiserver's `leaseManager` does.
//!
//! Granting one lease per key would cost a Raft round trip per write and leave etcd with a lease
//! per object. Instead the last lease granted is reused for any later key whose TTL it satisfies:
//! a lease is granted for `ttl + window` seconds, and a request for `ttl` may take it while the
//! lease's expiry is within `[now + ttl, now + ttl + window]`, so keys never expire early and at
//! most `window` late. `window` is 5% of the TTL, at most 60 s.

use super::convert::map_error;
use crate::error::Result;
use etcd_client::LeaseClient;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Longest reuse window, in seconds.
const MAX_REUSE_WINDOW_SECS: i64 = 60;
/// Most keys attached to one lease before a new one is granted.
const MAX_KEYS_PER_LEASE: u32 = 1000;

/// The TTL in whole seconds as etcd takes it, rounded up so a key never expires early (at least 1).
pub(super) fn ttl_seconds(ttl: Duration) -> i64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX).max(1)
}

/// How much later than asked a key may expire so that it can share a lease: 5% of the TTL,
/// at most a minute (in whole seconds, like kube-apiserver).
pub(super) fn reuse_window_seconds(ttl_secs: i64) -> i64 {
    (ttl_secs / 20).min(MAX_REUSE_WINDOW_SECS)
}

/// What to do for one TTL request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// Attach the key to this existing lease.
    Reuse(i64),
    /// Grant a new lease of this many seconds.
    Grant {
        /// TTL to ask etcd for.
        ttl_secs: i64,
    },
}

/// The last lease granted and how many keys took it.
#[derive(Debug, Default)]
pub(super) struct LeaseCache {
    last: Option<CachedLease>,
}

#[derive(Debug, Clone, Copy)]
struct CachedLease {
    id: i64,
    expires: Instant,
    keys: u32,
}

impl LeaseCache {
    /// Decides whether a key with `ttl` at `now` can reuse the last lease; counts it if so.
    pub(super) fn plan(&mut self, now: Instant, ttl: Duration) -> Plan {
        let ttl_secs = ttl_seconds(ttl);
        let window = reuse_window_seconds(ttl_secs);
        if let Some(last) = self.last.as_mut() {
            let earliest = now + secs(ttl_secs);
            let latest = earliest + secs(window);
            if last.expires >= earliest && last.expires <= latest && last.keys < MAX_KEYS_PER_LEASE
            {
                last.keys += 1;
                return Plan::Reuse(last.id);
            }
        }
        Plan::Grant {
            ttl_secs: ttl_secs.saturating_add(window),
        }
    }

    /// Records a lease granted for `granted_ttl_secs` (etcd's answer) by a request sent at `now`.
    pub(super) fn granted(&mut self, now: Instant, id: i64, granted_ttl_secs: i64) {
        self.last = Some(CachedLease {
            id,
            expires: now + secs(granted_ttl_secs),
            keys: 1,
        });
    }

    /// Drops lease `id` from the cache (etcd said it no longer exists).
    pub(super) fn forget(&mut self, id: i64) {
        if self.last.is_some_and(|l| l.id == id) {
            self.last = None;
        }
    }
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

/// Hands out lease IDs for TTLs, reusing leases as [`LeaseCache`] decides.
#[derive(Debug, Default)]
pub(super) struct LeaseManager {
    cache: Mutex<LeaseCache>,
}

impl LeaseManager {
    /// A lease that keeps a key for at least `ttl` (and at most a window more).
    ///
    /// The cache stays locked while a grant is in flight, so concurrent writers wait for that one
    /// lease instead of each granting their own.
    pub(super) async fn lease_for(&self, client: &LeaseClient, ttl: Duration) -> Result<i64> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        match cache.plan(now, ttl) {
            Plan::Reuse(id) => Ok(id),
            Plan::Grant { ttl_secs } => {
                let resp = client
                    .clone()
                    .grant(ttl_secs, None)
                    .await
                    .map_err(|e| map_error("granting an etcd lease", 0, 0, e))?;
                cache.granted(now, resp.id(), resp.ttl());
                Ok(resp.id())
            }
        }
    }

    /// Forgets lease `id` so that the next request grants a new one.
    pub(super) async fn forget(&self, id: i64) {
        self.cache.lock().await.forget(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_seconds() {
        assert_eq!(ttl_seconds(Duration::ZERO), 1);
        assert_eq!(ttl_seconds(Duration::from_millis(1)), 1);
        assert_eq!(ttl_seconds(Duration::from_secs(1)), 1);
        assert_eq!(ttl_seconds(Duration::from_millis(1200)), 2);
        assert_eq!(ttl_seconds(Duration::from_secs(3600)), 3600);
        assert_eq!(reuse_window_seconds(10), 0);
        assert_eq!(reuse_window_seconds(100), 5);
        assert_eq!(reuse_window_seconds(3600), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_is_reused_while_its_expiry_is_within_the_window() {
        let ttl = Duration::from_secs(100);
        let mut cache = LeaseCache::default();
        let start = Instant::now();
        // Nothing cached: grant ttl + 5% (5 s).
        assert_eq!(cache.plan(start, ttl), Plan::Grant { ttl_secs: 105 });
        cache.granted(start, 7, 105);
        // The lease expires at start + 105 s, inside [now + 100 s, now + 105 s].
        assert_eq!(cache.plan(Instant::now(), ttl), Plan::Reuse(7));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(cache.plan(Instant::now(), ttl), Plan::Reuse(7));
        // One more second and the lease would expire before the key's TTL.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            cache.plan(Instant::now(), ttl),
            Plan::Grant { ttl_secs: 105 }
        );
        let now = Instant::now();
        cache.granted(now, 8, 105);
        // A much shorter TTL must not take a lease that lives far longer than it asks.
        assert_eq!(
            cache.plan(now, Duration::from_secs(20)),
            Plan::Grant { ttl_secs: 21 }
        );
        // A longer TTL must not take a lease that expires too soon.
        assert_eq!(
            cache.plan(now, Duration::from_secs(200)),
            Plan::Grant { ttl_secs: 210 }
        );
        assert_eq!(cache.plan(now, ttl), Plan::Reuse(8));
        cache.forget(8);
        assert_eq!(cache.plan(now, ttl), Plan::Grant { ttl_secs: 105 });
    }

    #[tokio::test(start_paused = true)]
    async fn short_ttls_have_no_window_and_full_leases_are_replaced() {
        let mut cache = LeaseCache::default();
        let now = Instant::now();
        let ttl = Duration::from_secs(10);
        assert_eq!(cache.plan(now, ttl), Plan::Grant { ttl_secs: 10 });
        cache.granted(now, 1, 10);
        assert_eq!(cache.plan(now, ttl), Plan::Reuse(1));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(
            cache.plan(Instant::now(), ttl),
            Plan::Grant { ttl_secs: 10 }
        );

        let hour = Duration::from_secs(3600);
        let now = Instant::now();
        cache.granted(now, 2, 3660);
        for _ in 1..MAX_KEYS_PER_LEASE {
            assert_eq!(cache.plan(now, hour), Plan::Reuse(2));
        }
        assert_eq!(cache.plan(now, hour), Plan::Grant { ttl_secs: 3660 });
    }
}
