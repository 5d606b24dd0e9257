//! Request quotas (governor, GCRA): per authenticated user, for login per client address and
//! per username, and failed authentications (unknown tokens) per client address. Over quota →
//! `429 rate_limited` with `Retry-After`. Keyed limiters forget idle keys every minute
//! (`retain_recent`), and every key is bounded: user ids are real users, usernames must be
//! well-formed, and addresses are counted per IPv4 address or per IPv6 /64 (one host owns a
//! whole /64, and would otherwise mint keys at will).

use std::net::{IpAddr, Ipv6Addr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use lru::LruCache;
use parking_lot::Mutex;
use prometheus::IntCounterVec;

use crate::config::ProtectArgs;
use crate::error::ApiError;
use crate::model::{self, Id};

/// How often idle keys are forgotten.
const RETAIN_EVERY: Duration = Duration::from_secs(60);
/// Addresses remembered as over their failed-authentication quota.
const BLOCKED_ADDRESSES: usize = 16_384;

/// Keyed like the others, but each check tells how much burst is left: the failure that
/// spends the last of it blocks the address at once, so no further read is spent finding out.
type BadTokenLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// Which quota refused a request (the `scope` label of `contestd_rate_limited_total`).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    User,
    LoginAddress,
    LoginUsername,
    BadToken,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::User,
        Scope::LoginAddress,
        Scope::LoginUsername,
        Scope::BadToken,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::LoginAddress => "login_address",
            Scope::LoginUsername => "login_username",
            Scope::BadToken => "bad_token",
        }
    }
}

pub struct Quotas {
    users: DefaultKeyedRateLimiter<Id>,
    login_addresses: DefaultKeyedRateLimiter<IpAddr>,
    login_usernames: DefaultKeyedRateLimiter<String>,
    bad_tokens: BadTokenLimiter,
    /// Addresses over their bad-token quota, and until when: a token that is not cached is
    /// refused before it costs a database read.
    blocked: Mutex<LruCache<IpAddr, Instant>>,
    clock: DefaultClock,
    address_header: Option<String>,
    trusted_hops: usize,
    refused: IntCounterVec,
}

fn per_minute(rate: u32, burst: u32) -> Quota {
    let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(at_least_one(rate)).allow_burst(at_least_one(burst))
}

impl Quotas {
    /// `refused` counts refusals by scope (registered by the caller).
    pub fn new(args: &ProtectArgs, refused: IntCounterVec) -> Arc<Self> {
        let login = per_minute(args.login_per_minute, args.login_per_minute);
        Arc::new(Quotas {
            users: DefaultKeyedRateLimiter::keyed(per_minute(
                args.quota_per_minute,
                args.quota_burst,
            )),
            login_addresses: DefaultKeyedRateLimiter::keyed(login),
            login_usernames: DefaultKeyedRateLimiter::keyed(login),
            bad_tokens: RateLimiter::keyed(per_minute(
                args.bad_token_per_minute,
                args.bad_token_per_minute,
            ))
            .with_middleware::<StateInformationMiddleware>(),
            blocked: Mutex::new(LruCache::new(
                NonZeroUsize::new(BLOCKED_ADDRESSES).unwrap_or(NonZeroUsize::MIN),
            )),
            clock: DefaultClock::default(),
            address_header: args.client_address_header.clone(),
            trusted_hops: args.trusted_proxy_hops.max(1),
            refused,
        })
    }

    /// One request by an authenticated user.
    pub fn check_user(&self, user: Id) -> Result<(), ApiError> {
        self.check(&self.users, &user, Scope::User)
    }

    /// One login attempt, before the password is looked at: both the client's address and the
    /// username must be within quota (so neither many usernames from one address nor one
    /// username from many addresses get far).
    pub fn check_login(&self, req: &HttpRequest, username: &str) -> Result<(), ApiError> {
        if let Some(address) = self.client_address(req) {
            self.check(&self.login_addresses, &address, Scope::LoginAddress)?;
        }
        // A name no account can have is not worth a key (nor 256 KiB of memory).
        if model::validate_username(username).is_ok() {
            let username = username.to_lowercase();
            self.check(&self.login_usernames, &username, Scope::LoginUsername)?;
        }
        Ok(())
    }

    /// Before a token that is not cached costs a database read: refused while the address is
    /// over its bad-token quota.
    pub fn check_unverified(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(address) = address else {
            return Ok(());
        };
        let mut blocked = self.blocked.lock();
        let Some(until) = blocked.get(&address).copied() else {
            return Ok(());
        };
        let now = Instant::now();
        if until <= now {
            blocked.pop(&address);
            return Ok(());
        }
        drop(blocked);
        Err(self.refuse(Scope::BadToken, until - now))
    }

    /// One failed authentication (an unknown, expired, revoked or malformed token) from
    /// `address`: `Ok` while within quota (the caller answers 401), else 429. The failure that
    /// spends the quota's last unit blocks the address until the next unit is due.
    pub fn count_bad_token(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(address) = address else {
            return Ok(());
        };
        match self.bad_tokens.check_key(&address) {
            Ok(state) => {
                if state.remaining_burst_capacity() == 0 {
                    let wait = state.quota().replenish_interval();
                    self.blocked.lock().put(address, Instant::now() + wait);
                }
                Ok(())
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                self.blocked.lock().put(address, Instant::now() + wait);
                Err(self.refuse(Scope::BadToken, wait))
            }
        }
    }

    fn check<K>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        scope: Scope,
    ) -> Result<(), ApiError>
    where
        K: std::hash::Hash + Eq + Clone,
    {
        limiter
            .check_key(key)
            .map_err(|not_until| self.refuse(scope, not_until.wait_time_from(self.clock.now())))
    }

    fn refuse(&self, scope: Scope, wait: Duration) -> ApiError {
        self.refused.with_label_values(&[scope.label()]).inc();
        ApiError::RateLimited {
            retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
        }
    }

    /// The client's address as a quota key. Behind a proxy (`address_header` set) it is the
    /// entry the nearest trusted proxy added: `trusted_hops` from the right, since a proxy
    /// appends the address it saw to whatever the client sent. Otherwise, or when the header
    /// has fewer entries, the TCP peer.
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let forwarded = self.address_header.as_ref().and_then(|name| {
            let entries: Vec<&str> = req
                .headers()
                .get_all(name.as_str())
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .collect();
            let index = entries.len().checked_sub(self.trusted_hops)?;
            entries[index].trim().parse().ok()
        });
        forwarded
            .or_else(|| req.peer_addr().map(|a| a.ip()))
            .map(quota_key)
    }

    /// Refusals so far, by scope.
    pub fn refused(&self, scope: Scope) -> u64 {
        self.refused.with_label_values(&[scope.label()]).get()
    }

    fn forget_idle(&self) {
        self.users.retain_recent();
        self.login_addresses.retain_recent();
        self.login_usernames.retain_recent();
        self.bad_tokens.retain_recent();
        self.users.shrink_to_fit();
        self.login_addresses.shrink_to_fit();
        self.login_usernames.shrink_to_fit();
        self.bad_tokens.shrink_to_fit();
    }
}

/// IPv4 addresses (also IPv4-mapped IPv6) as they are; IPv6 by its /64.
fn quota_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Forgets idle keys every minute; abort the handle to stop.
pub fn spawn_forgetter(quotas: Arc<Quotas>) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut every = tokio::time::interval(RETAIN_EVERY);
        loop {
            every.tick().await;
            quotas.forget_idle();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn quotas(header: Option<&str>, hops: usize) -> Arc<Quotas> {
        let args = ProtectArgs {
            client_address_header: header.map(str::to_string),
            trusted_proxy_hops: hops,
            ..ProtectArgs::defaults()
        };
        let refused = IntCounterVec::new(prometheus::Opts::new("r", "r"), &["scope"]).unwrap();
        Quotas::new(&args, refused)
    }

    fn address(q: &Quotas, forwarded: &[&str]) -> Option<IpAddr> {
        let mut req = TestRequest::default().peer_addr("192.0.2.9:4000".parse().unwrap());
        for value in forwarded {
            req = req.append_header(("X-Forwarded-For", *value));
        }
        q.client_address(&req.to_http_request())
    }

    #[test]
    fn the_proxy_added_entry_counts_not_the_client_s() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let one = quotas(Some("X-Forwarded-For"), 1);
        assert_eq!(address(&one, &["6.6.6.6, 10.0.0.7"]), ip("10.0.0.7"));
        assert_eq!(address(&one, &["6.6.6.6", "10.0.0.7"]), ip("10.0.0.7"));
        assert_eq!(address(&one, &["10.0.0.7"]), ip("10.0.0.7"));
        assert_eq!(address(&one, &[]), ip("192.0.2.9"), "no header: the peer");
        assert_eq!(
            address(&one, &["junk"]),
            ip("192.0.2.9"),
            "unparsable: the peer"
        );
        let two = quotas(Some("X-Forwarded-For"), 2);
        assert_eq!(
            address(&two, &["6.6.6.6, 10.0.0.7, 10.1.1.1"]),
            ip("10.0.0.7")
        );
        assert_eq!(
            address(&two, &["10.0.0.7"]),
            ip("192.0.2.9"),
            "too few entries"
        );
        let none = quotas(None, 1);
        assert_eq!(
            address(&none, &["6.6.6.6"]),
            ip("192.0.2.9"),
            "header not trusted"
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| quota_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:10.0.0.1"), key("10.0.0.1"));
    }

    #[test]
    fn bad_tokens_block_an_address_until_it_refills() {
        let args = ProtectArgs {
            bad_token_per_minute: 2,
            ..ProtectArgs::defaults()
        };
        let refused = IntCounterVec::new(prometheus::Opts::new("r", "r"), &["scope"]).unwrap();
        let q = Quotas::new(&args, refused);
        let (a, b) = (
            Some("10.0.0.1".parse().unwrap()),
            Some("10.0.0.2".parse().unwrap()),
        );
        assert!(q.check_unverified(a).is_ok());
        assert!(q.count_bad_token(a).is_ok());
        assert!(q.count_bad_token(a).is_ok());
        assert!(matches!(
            q.count_bad_token(a),
            Err(ApiError::RateLimited { retry_after_s }) if (1..=30).contains(&retry_after_s)
        ));
        assert!(
            q.check_unverified(a).is_err(),
            "blocked before the database"
        );
        assert!(q.check_unverified(b).is_ok(), "another address is not");
        assert_eq!(q.refused(Scope::BadToken), 2);
    }
}
