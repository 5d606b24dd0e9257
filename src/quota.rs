//! Request quotas (governor, GCRA): per authenticated user, and for login per client address
//! and per username. Over quota → `429 rate_limited` with `Retry-After`. Keyed limiters forget
//! idle keys every minute (`retain_recent`), so they never grow without bound.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use prometheus::IntCounterVec;

use crate::config::ProtectArgs;
use crate::error::ApiError;
use crate::model::Id;

/// How often idle keys are forgotten.
const RETAIN_EVERY: Duration = Duration::from_secs(60);

/// Which quota refused a request (the `scope` label of `contestd_rate_limited_total`).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    User,
    LoginAddress,
    LoginUsername,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::User, Scope::LoginAddress, Scope::LoginUsername];

    pub fn label(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::LoginAddress => "login_address",
            Scope::LoginUsername => "login_username",
        }
    }
}

pub struct Quotas {
    users: DefaultKeyedRateLimiter<Id>,
    login_addresses: DefaultKeyedRateLimiter<IpAddr>,
    login_usernames: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    address_header: Option<String>,
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
            clock: DefaultClock::default(),
            address_header: args.client_address_header.clone(),
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
        let username = username.to_lowercase();
        self.check(&self.login_usernames, &username, Scope::LoginUsername)
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
        limiter.check_key(key).map_err(|not_until| {
            self.refused.with_label_values(&[scope.label()]).inc();
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::RateLimited {
                retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// The configured header's first entry when set (behind a trusted proxy), else the peer.
    fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        if let Some(name) = &self.address_header {
            let forwarded = req
                .headers()
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|first| first.trim().parse().ok());
            if forwarded.is_some() {
                return forwarded;
            }
        }
        req.peer_addr().map(|a| a.ip())
    }

    /// Refusals so far, by scope.
    pub fn refused(&self, scope: Scope) -> u64 {
        self.refused.with_label_values(&[scope.label()]).get()
    }

    fn forget_idle(&self) {
        self.users.retain_recent();
        self.login_addresses.retain_recent();
        self.login_usernames.retain_recent();
        self.users.shrink_to_fit();
        self.login_addresses.shrink_to_fit();
        self.login_usernames.shrink_to_fit();
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
