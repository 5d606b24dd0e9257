//! Token lookups kept in memory: known tokens until their session expires or is revoked (so an
//! exam's end, with tokens hours old, costs no session reads), and unknown tokens for a short
//! while (so a flood of made-up tokens costs one read each at most). Both are bounded LRUs.
//!
//! Revocation must win against a lookup in flight: a request that read a session just before
//! logout deleted it would otherwise put the token back after logout cleared it. A read starts
//! with a `Ticket` (the revocation count); its result is kept only if no revocation happened
//! since, checked under the same lock that revocations take.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lru::LruCache;
use parking_lot::Mutex;

use super::token::TokenHash;
use crate::model::User;

/// How long an unknown token is answered from memory.
const UNKNOWN_TTL: Duration = Duration::from_secs(30);

pub struct TokenCache {
    entries: Mutex<Entries>,
    /// Known entries older than this are read again (None: until the session expires).
    max_age: Option<Duration>,
    /// Lookups answered from memory (a known or an unknown token).
    pub hits: AtomicU64,
    /// Lookups that read the database.
    pub misses: AtomicU64,
}

struct Entries {
    known: LruCache<TokenHash, Session>,
    unknown: LruCache<TokenHash, Instant>,
    revocations: u64,
}

struct Session {
    user: User,
    expires_at: DateTime<Utc>,
    cached_at: Instant,
}

/// What the cache knows of a token.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    Known(User, DateTime<Utc>),
    Unknown,
    /// Not cached: read the database, starting with this ticket.
    Miss(Ticket),
}

/// Taken before a database read; a result is only cached if no token was revoked since.
#[derive(Debug, PartialEq, Clone, Copy)]
pub struct Ticket(u64);

impl TokenCache {
    /// `capacity` known tokens (and as many unknown ones).
    pub fn new(capacity: usize, max_age: Option<Duration>) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        TokenCache {
            entries: Mutex::new(Entries {
                known: LruCache::new(capacity),
                unknown: LruCache::new(capacity),
                revocations: 0,
            }),
            max_age,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn get(&self, hash: &TokenHash, now: DateTime<Utc>) -> Lookup {
        let found = self.lookup(hash, now);
        if !matches!(found, Lookup::Miss(_)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    fn lookup(&self, hash: &TokenHash, now: DateTime<Utc>) -> Lookup {
        let mut entries = self.entries.lock();
        if let Some(session) = entries.known.get(hash) {
            let fresh = self
                .max_age
                .is_none_or(|age| session.cached_at.elapsed() < age);
            if fresh && now < session.expires_at {
                return Lookup::Known(session.user.clone(), session.expires_at);
            }
            entries.known.pop(hash);
        }
        if let Some(until) = entries.unknown.get(hash) {
            if Instant::now() < *until {
                return Lookup::Unknown;
            }
            entries.unknown.pop(hash);
        }
        Lookup::Miss(Ticket(entries.revocations))
    }

    /// Keeps what a database read found, unless a token was revoked since the read began.
    pub fn admit(&self, ticket: Ticket, hash: TokenHash, found: Option<(User, DateTime<Utc>)>) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.lock();
        if entries.revocations != ticket.0 {
            return;
        }
        match found {
            Some((user, expires_at)) => {
                entries.known.put(hash, session(user, expires_at));
            }
            None => {
                entries.unknown.put(hash, Instant::now() + UNKNOWN_TTL);
            }
        }
    }

    /// A token just issued (login): nobody can have revoked it yet.
    pub fn prime(&self, hash: TokenHash, user: User, expires_at: DateTime<Utc>) {
        let mut entries = self.entries.lock();
        entries.unknown.pop(&hash);
        entries.known.put(hash, session(user, expires_at));
    }

    /// Forgets the token and voids every read in flight.
    pub fn revoke(&self, hash: &TokenHash) {
        let mut entries = self.entries.lock();
        entries.known.pop(hash);
        entries.unknown.put(*hash, Instant::now() + UNKNOWN_TTL);
        entries.revocations += 1;
    }

    /// Forgets every token, as if each had been revoked (reads in flight are not kept).
    pub fn clear(&self) {
        let mut entries = self.entries.lock();
        entries.known.clear();
        entries.unknown.clear();
        entries.revocations += 1;
    }
}

fn session(user: User, expires_at: DateTime<Utc>) -> Session {
    Session {
        user,
        expires_at,
        cached_at: Instant::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::hash_token;
    use crate::model::Role;
    use chrono::TimeDelta;

    fn user() -> User {
        User {
            id: 7,
            username: "s".into(),
            role: Role::Student,
        }
    }

    fn ticket(cache: &TokenCache, hash: &TokenHash, now: DateTime<Utc>) -> Ticket {
        match cache.get(hash, now) {
            Lookup::Miss(ticket) => ticket,
            other => panic!("expected a miss, got {other:?}"),
        }
    }

    #[test]
    fn known_tokens_stay_until_their_session_expires_or_is_revoked() {
        let cache = TokenCache::new(10, None);
        let now = Utc::now();
        let hash = hash_token("t");
        let expires = now + TimeDelta::hours(12);
        let t = ticket(&cache, &hash, now);
        cache.admit(t, hash, Some((user(), expires)));
        let later = now + TimeDelta::hours(11);
        assert_eq!(cache.get(&hash, later), Lookup::Known(user(), expires));
        assert!(
            matches!(
                cache.get(&hash, now + TimeDelta::hours(13)),
                Lookup::Miss(_)
            ),
            "expired"
        );
        cache.prime(hash, user(), expires);
        cache.revoke(&hash);
        assert_eq!(cache.get(&hash, now), Lookup::Unknown, "revoked");
    }

    #[test]
    fn a_max_age_makes_entries_read_again() {
        let cache = TokenCache::new(10, Some(Duration::ZERO));
        let now = Utc::now();
        let hash = hash_token("t");
        cache.prime(hash, user(), now + TimeDelta::hours(1));
        assert!(matches!(cache.get(&hash, now), Lookup::Miss(_)));
    }

    #[test]
    fn unknown_tokens_are_remembered_apart_and_bounded() {
        let cache = TokenCache::new(2, None);
        let now = Utc::now();
        let known = hash_token("known");
        cache.prime(known, user(), now + TimeDelta::hours(1));
        for t in ["a", "b", "c"] {
            let hash = hash_token(t);
            let ticket = ticket(&cache, &hash, now);
            cache.admit(ticket, hash, None);
        }
        assert_eq!(cache.get(&hash_token("c"), now), Lookup::Unknown);
        assert!(
            matches!(cache.get(&hash_token("a"), now), Lookup::Miss(_)),
            "the oldest unknown token made room"
        );
        assert!(
            matches!(cache.get(&known, now), Lookup::Known(..)),
            "unknown tokens never push out known ones"
        );
    }

    /// The race logout must win: a read that began before the revocation and ends after it
    /// must not put the token back.
    #[test]
    fn a_read_in_flight_cannot_undo_a_revocation() {
        let cache = TokenCache::new(10, None);
        let now = Utc::now();
        let hash = hash_token("t");
        let expires = now + TimeDelta::hours(1);
        let in_flight = ticket(&cache, &hash, now); // the read starts, the session is there
        cache.revoke(&hash); // logout deletes the session and revokes
        cache.admit(in_flight, hash, Some((user(), expires))); // the read ends
        assert_eq!(cache.get(&hash, now), Lookup::Unknown);

        // A read that began after the revocation is kept as usual.
        let other = hash_token("other");
        let fresh = ticket(&cache, &other, now);
        cache.admit(fresh, other, Some((user(), expires)));
        assert!(matches!(cache.get(&other, now), Lookup::Known(..)));
    }

    #[test]
    fn known_tokens_are_bounded() {
        let cache = TokenCache::new(2, None);
        let now = Utc::now();
        for t in ["a", "b", "c"] {
            cache.prime(hash_token(t), user(), now + TimeDelta::hours(1));
        }
        assert!(matches!(cache.get(&hash_token("a"), now), Lookup::Miss(_)));
        assert!(matches!(
            cache.get(&hash_token("c"), now),
            Lookup::Known(..)
        ));
    }
}
