//! Who is calling: login and logout, token lookups through an LRU cache with a TTL, the
//! middleware that resolves the caller before any handler runs, and the extractors handlers use.

pub mod password;
pub mod token;

use std::future::{ready, Ready};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, TimeDelta, Utc};
use lru::LruCache;
use parking_lot::Mutex;
use serde::Serialize;

use crate::error::ApiError;
use crate::model::{self, Role, User};
use crate::quota::Quotas;
use crate::store::{Store, UserRow};
use password::Passwords;
use token::{hash_token, new_token, TokenHash};

pub struct Auth {
    store: Store,
    passwords: Passwords,
    token_ttl: TimeDelta,
    cache: TokenCache,
}

impl Auth {
    /// The token cache's (hits, misses) so far.
    pub fn cache_figures(&self) -> (u64, u64) {
        (
            self.cache.hits.load(Ordering::Relaxed),
            self.cache.misses.load(Ordering::Relaxed),
        )
    }
}

#[derive(Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

impl Auth {
    pub fn new(store: Store, passwords: Passwords, token_ttl: Duration, cache: TokenCache) -> Self {
        Auth {
            store,
            passwords,
            token_ttl: TimeDelta::from_std(token_ttl).unwrap_or(TimeDelta::hours(12)),
            cache,
        }
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// Checks the credentials; an unknown user and a wrong password look the same, in answer
    /// and in time.
    pub async fn login(&self, username: &str, password: String) -> Result<LoginResponse, ApiError> {
        let found = self.store.user_by_username(username).await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let ok = self.passwords.verify(password, hash).await?;
        let user = match user {
            Some(user) if ok => user,
            _ => return Err(ApiError::Unauthorized("wrong username or password".into())),
        };
        let token = new_token();
        let now = model::now();
        let expires_at = now + self.token_ttl;
        let token_hash = hash_token(&token);
        self.store
            .insert_session(&token_hash, user.id, now, expires_at)
            .await?;
        // The student's next request (the contest, at the start) needs no database read.
        self.cache.put(token_hash, user.clone(), expires_at);
        Ok(LoginResponse {
            token,
            expires_at,
            user,
        })
    }

    /// The user holding `token`, from the cache when it is fresh, else from the database.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, ApiError> {
        let hash = hash_token(token);
        let now = Utc::now();
        if let Some(user) = self.cache.get(&hash, now) {
            return Ok(Caller {
                user,
                token_hash: hash,
            });
        }
        let (user, expires_at) =
            self.store.session_user(&hash, now).await?.ok_or_else(|| {
                ApiError::Unauthorized("unknown, expired or revoked token".into())
            })?;
        self.cache.put(hash, user.clone(), expires_at);
        Ok(Caller {
            user,
            token_hash: hash,
        })
    }

    /// Revokes the session: gone from the database and from the cache before this returns.
    pub async fn logout(&self, caller: &Caller) -> Result<(), ApiError> {
        self.store.delete_session(&caller.token_hash).await?;
        self.cache.remove(&caller.token_hash);
        Ok(())
    }
}

/// Creates the `admin` user if there is none. Returns the password when one was generated.
pub async fn ensure_admin(
    store: &Store,
    passwords: &Passwords,
    password: Option<&str>,
) -> Result<Option<String>, String> {
    if store
        .user_by_username("admin")
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) => (p.to_string(), false),
        None => (new_token()[..24].to_string(), true),
    };
    let hash = passwords
        .hash(password.clone())
        .await
        .map_err(|e| e.to_string())?;
    let row = UserRow {
        username: "admin".into(),
        password_hash: hash,
        role: Role::Admin,
    };
    match store.insert_user(&row, model::now()).await {
        Ok(_) => Ok(generated.then_some(password)),
        // Another process created it first: theirs stands.
        Err(crate::store::StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

struct CachedSession {
    user: User,
    expires_at: DateTime<Utc>,
    cached_at: Instant,
}

/// Token hash → user, trusted for `ttl` and never past the session's own expiry.
pub struct TokenCache {
    entries: Mutex<LruCache<TokenHash, CachedSession>>,
    ttl: Duration,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl TokenCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        TokenCache {
            entries: Mutex::new(LruCache::new(capacity)),
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn get(&self, hash: &TokenHash, now: DateTime<Utc>) -> Option<User> {
        let found = self.lookup(hash, now);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(&self, hash: &TokenHash, now: DateTime<Utc>) -> Option<User> {
        let mut entries = self.entries.lock();
        let entry = entries.get(hash)?;
        if entry.cached_at.elapsed() < self.ttl && now < entry.expires_at {
            return Some(entry.user.clone());
        }
        entries.pop(hash);
        None
    }

    fn put(&self, hash: TokenHash, user: User, expires_at: DateTime<Utc>) {
        let entry = CachedSession {
            user,
            expires_at,
            cached_at: Instant::now(),
        };
        self.entries.lock().put(hash, entry);
    }

    fn remove(&self, hash: &TokenHash) {
        self.entries.lock().pop(hash);
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    token_hash: TokenHash,
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.user.role {
            Role::Admin => Ok(()),
            Role::Student => Err(ApiError::forbidden()),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }
}

/// What the middleware found out about the caller; handlers read it through `Caller`.
#[derive(Clone)]
enum Resolved {
    Caller(Caller),
    Refused(&'static str),
}

/// Resolves the bearer token (or `?token=`) before any extractor runs, so a request with a bad
/// token gets 401 before its body or path are looked at. Requests without a token pass on;
/// only handlers that need a caller refuse them.
pub async fn resolve_caller(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(token) = bearer_token(req.request()) {
        let resolved = match req.app_data::<web::Data<Auth>>() {
            Some(auth) => match auth.authenticate(&token).await {
                Ok(caller) => Resolved::Caller(caller),
                Err(ApiError::Unauthorized(_)) => {
                    Resolved::Refused("unknown, expired or revoked token")
                }
                Err(other) => return Ok(req.error_response(other).map_into_right_body()),
            },
            None => Resolved::Refused("authentication is not configured"),
        };
        if let (Resolved::Caller(caller), Some(quotas)) =
            (&resolved, req.app_data::<web::Data<Quotas>>())
        {
            if !is_exempt(req.path()) {
                if let Err(over) = quotas.check_user(caller.user.id) {
                    return Ok(req.error_response(over).map_into_right_body());
                }
            }
        }
        req.extensions_mut().insert(resolved);
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Monitoring is never refused over quota.
fn is_exempt(path: &str) -> bool {
    matches!(path, "/health" | "/api/contests/health" | "/metrics")
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string())
            .filter(|t| !t.is_empty());
    }
    // Browsers cannot set headers on WebSockets, so the token may come in the query.
    web::Query::<TokenQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().token)
        .filter(|t| !t.is_empty())
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<Resolved>() {
            Some(Resolved::Caller(caller)) => Ok(caller.clone()),
            Some(Resolved::Refused(why)) => Err(ApiError::Unauthorized((*why).into())),
            None => Err(ApiError::Unauthorized("missing bearer token".into())),
        })
    }
}

/// A caller who must be an admin: 401 without a valid token, 403 for students.
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload).into_inner();
        ready(caller.and_then(|c| c.require_admin().map(|()| Admin(c))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: 7,
            username: "s".into(),
            role: Role::Student,
        }
    }

    #[test]
    fn cache_honours_ttl_expiry_and_removal() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        let now = Utc::now();
        let hash = hash_token("t");
        cache.put(hash, user(), now + TimeDelta::hours(1));
        assert_eq!(cache.get(&hash, now), Some(user()));
        assert_eq!(
            cache.get(&hash, now + TimeDelta::hours(2)),
            None,
            "session expired"
        );
        cache.put(hash, user(), now + TimeDelta::hours(1));
        cache.remove(&hash);
        assert_eq!(cache.get(&hash, now), None, "logout removes");

        let stale = TokenCache::new(10, Duration::ZERO);
        stale.put(hash, user(), now + TimeDelta::hours(1));
        assert_eq!(stale.get(&hash, now), None, "older than the cache TTL");
    }

    #[test]
    fn cache_is_bounded() {
        let cache = TokenCache::new(2, Duration::from_secs(60));
        let now = Utc::now();
        for t in ["a", "b", "c"] {
            cache.put(hash_token(t), user(), now + TimeDelta::hours(1));
        }
        assert_eq!(
            cache.get(&hash_token("a"), now),
            None,
            "least recently used is gone"
        );
        assert!(cache.get(&hash_token("c"), now).is_some());
    }
}
