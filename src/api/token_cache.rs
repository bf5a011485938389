//! A short-lived memory of API tokens this server has just checked, for the regulator's status
//! lookup only (docs/performance.md "What was tuned", docs/api.md "Authentication").
//!
//! Every other request reads its token from the database. The status lookup is the hot read
//! path: on PostgreSQL the token query was a third of its round trips. Here a token that was
//! checked in the last `ttl` (default 1 s, `--token-cache-ms`) is trusted again without a query.
//!
//! What this costs, and how it is bounded:
//! - a token revoked, or a user disabled, **on this server** is forgotten at once
//!   ([`TokenCache::clear`] is called after the change commits);
//! - on **another** server or by the CLI, the change reaches this server's status lookup within
//!   `ttl`; every other endpoint sees it at once;
//! - a token past its own expiry is never accepted from memory;
//! - only successful checks are remembered (an unknown or revoked token is queried every time),
//!   and at most [`MAX_ENTRIES`] of them; the memory is emptied when it is full.
//!
//! Tokens are remembered by their SHA-256 digest, as they are stored, never in clear.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::service::auth::CurrentUser;

/// Most tokens remembered at once (each entry is a user and two instants, under 200 bytes).
pub const MAX_ENTRIES: usize = 4096;

/// Tokens checked in the last `ttl`, by SHA-256 digest. One per server (in its `AppState`).
pub struct TokenCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Checked>>,
}

/// One successful check.
struct Checked {
    user: CurrentUser,
    /// The token's own expiry (ms since the epoch, UTC), as stored.
    token_expires_at: i64,
    checked_at: Instant,
}

impl TokenCache {
    /// A cache trusting a check for `ttl`; `Duration::ZERO` turns it off (every lookup queries).
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The user of the token with this digest, if it was checked less than `ttl` before `now`
    /// and the token has not expired by `now_ms` (ms since the epoch, UTC).
    pub fn get(&self, digest: &str, now: Instant, now_ms: i64) -> Option<CurrentUser> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let c = entries.get(digest)?;
        let fresh = now.saturating_duration_since(c.checked_at) < self.ttl;
        (fresh && now_ms < c.token_expires_at).then(|| c.user.clone())
    }

    /// Remembers that the token with this digest belonged to `user` at `checked_at`.
    /// `token_expires_at` is the token's expiry as stored (ms since the epoch, UTC).
    pub fn put(
        &self,
        digest: String,
        user: CurrentUser,
        token_expires_at: i64,
        checked_at: Instant,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&digest) {
            entries.clear();
        }
        entries.insert(
            digest,
            Checked {
                user,
                token_expires_at,
                checked_at,
            },
        );
    }

    /// Forgets every token: called after a token is revoked or a user disabled on this server.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Tokens remembered now (fresh or not).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::terms::Role;

    fn regulator() -> CurrentUser {
        CurrentUser {
            id: 7,
            username: "reg".into(),
            role: Role::Regulator,
            lab_id: None,
        }
    }

    #[test]
    fn a_check_is_trusted_for_less_than_ttl() {
        let cache = TokenCache::new(Duration::from_millis(1000));
        let t0 = Instant::now();
        // Token expires at 10 000 ms; checked at wall time 1 000 ms.
        cache.put("d1".into(), regulator(), 10_000, t0);
        // 999 ms later: 999 < 1000, trusted.
        let at = t0 + Duration::from_millis(999);
        assert_eq!(cache.get("d1", at, 1_999), Some(regulator()));
        // 1000 ms later: not < 1000, queried again.
        let at = t0 + Duration::from_millis(1000);
        assert_eq!(cache.get("d1", at, 2_000), None);
        // Another digest was never checked.
        assert_eq!(cache.get("d2", t0, 1_000), None);
    }

    #[test]
    fn an_expired_token_is_never_trusted_from_memory() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        cache.put("d1".into(), regulator(), 5_000, t0);
        assert!(cache.get("d1", t0, 4_999).is_some());
        // expires_at 5 000 <= now 5 000: expired, as `authenticate` judges it.
        assert_eq!(cache.get("d1", t0, 5_000), None);
    }

    #[test]
    fn clear_forgets_at_once_and_zero_ttl_remembers_nothing() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        cache.put("d1".into(), regulator(), i64::MAX, t0);
        cache.clear();
        assert_eq!(cache.get("d1", t0, 0), None);
        let off = TokenCache::new(Duration::ZERO);
        off.put("d1".into(), regulator(), i64::MAX, t0);
        assert!(off.is_empty());
        assert_eq!(off.get("d1", t0, 0), None);
    }

    #[test]
    fn a_full_cache_is_emptied_before_a_new_token() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..MAX_ENTRIES {
            cache.put(format!("d{i}"), regulator(), i64::MAX, t0);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        // Refreshing a known digest does not empty it ...
        cache.put("d0".into(), regulator(), i64::MAX, t0);
        assert_eq!(cache.len(), MAX_ENTRIES);
        // ... a new one does: 4096 forgotten, 1 remembered.
        cache.put("new".into(), regulator(), i64::MAX, t0);
        assert_eq!(cache.len(), 1);
        assert!(cache.get("new", t0, 0).is_some());
    }
}
