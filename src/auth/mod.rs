//! Who is calling: login and logout, token lookups through an LRU cache with a TTL, the
//! middleware that resolves the caller before any handler runs, and the extractors handlers use.

pub mod cache;
pub mod password;
pub mod token;

use std::future::{ready, Ready};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::error::ApiError;
use crate::model::{self, Id, Role, User};
use crate::quota::Quotas;
use crate::store::{Store, UserRow};
pub use cache::TokenCache;
use cache::{Lookup, Ticket};
use password::Passwords;
use token::{hash_token, new_token, TokenHash};

/// Told of every revoked token (and whose it was) before the revocation is answered: live
/// WebSockets opened with it close.
pub type OnRevoke = Arc<dyn Fn(Id, &TokenHash) + Send + Sync>;

pub struct Auth {
    store: Store,
    passwords: Passwords,
    token_ttl: TimeDelta,
    cache: TokenCache,
    on_revoke: OnRevoke,
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
    pub fn new(
        store: Store,
        passwords: Passwords,
        token_ttl: Duration,
        cache: TokenCache,
        on_revoke: OnRevoke,
    ) -> Self {
        Auth {
            store,
            passwords,
            token_ttl: TimeDelta::from_std(token_ttl).unwrap_or(TimeDelta::hours(12)),
            cache,
            on_revoke,
        }
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// Checks the credentials; an unknown user and a wrong password look the same, in answer
    /// and in time.
    pub async fn login(&self, username: &str, password: String) -> Result<LoginResponse, ApiError> {
        // A name no account can have (U+0000 included, which PostgreSQL refuses) is not
        // looked up, but costs the same hash as an unknown one.
        let found = match model::validate_username(username) {
            Ok(()) => self.store.user_by_username(username).await?,
            Err(_) => None,
        };
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
        self.cache.prime(token_hash, user.clone(), expires_at);
        Ok(LoginResponse {
            token,
            expires_at,
            user,
        })
    }

    /// The user holding `token`: from the cache, else from the database. `before_read` runs
    /// only when the database must be read, and may refuse (an address over its bad-token
    /// quota).
    pub async fn authenticate(
        &self,
        token: &str,
        before_read: impl FnOnce() -> Result<(), ApiError>,
    ) -> Result<Caller, ApiError> {
        // Tokens are 64 hex digits: anything else is unknown without a lookup.
        if !token::well_formed(token) {
            return Err(unknown_token());
        }
        let hash = hash_token(token);
        let now = Utc::now();
        let ticket = match self.cache.get(&hash, now) {
            Lookup::Known(user, expires_at) => return Ok(Caller::new(user, hash, expires_at)),
            Lookup::Unknown => return Err(unknown_token()),
            Lookup::Miss(ticket) => ticket,
        };
        before_read()?;
        let (user, expires_at) = self.read_session(ticket, hash, now).await?;
        Ok(Caller::new(user, hash, expires_at))
    }

    /// Reads a session that missed the cache, and caches what was found unless a revocation
    /// happened since `ticket` was taken.
    async fn read_session(
        &self,
        ticket: Ticket,
        hash: TokenHash,
        now: DateTime<Utc>,
    ) -> Result<(User, DateTime<Utc>), ApiError> {
        let found = self.store.session_user(&hash, now).await?;
        self.cache.admit(ticket, hash, found.clone());
        found.ok_or_else(unknown_token)
    }

    /// Revokes the session: gone from the database, the cache and every live WebSocket opened
    /// with it before this returns; requests that were reading it cannot bring it back.
    pub async fn logout(&self, caller: &Caller) -> Result<(), ApiError> {
        self.store.delete_session(&caller.token_hash).await?;
        self.cache.revoke(&caller.token_hash);
        (self.on_revoke)(caller.user.id, &caller.token_hash);
        Ok(())
    }

    /// Another node revoked the session: forgotten here too, and this node's WebSockets opened
    /// with it close.
    pub fn revoked_elsewhere(&self, user: Id, token_hash: &TokenHash) {
        self.cache.revoke(token_hash);
        (self.on_revoke)(user, token_hash);
    }

    /// This node may have missed revocations: every token is read again on its next use.
    pub fn forget_all(&self) {
        self.cache.clear();
    }
}

fn unknown_token() -> ApiError {
    ApiError::Unauthorized("unknown, expired or revoked token".into())
}

/// Creates the `admin` user if there is none. Returns the password when one was generated.
pub async fn ensure_admin(
    store: &Store,
    passwords: &Passwords,
    password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    use anyhow::Context;
    let existing = store
        .user_by_username("admin")
        .await
        .context("looking for the admin user")?;
    if existing.is_some() {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) => {
            model::validate_password(p).map_err(|e| anyhow::anyhow!("the admin password: {e}"))?;
            (p.to_string(), false)
        }
        None => (new_token()[..24].to_string(), true),
    };
    let hash = passwords
        .hash(password.clone())
        .await
        .context("hashing the admin password")?;
    let row = UserRow {
        username: "admin".into(),
        password_hash: hash,
        role: Role::Admin,
    };
    match store.insert_user(&row, model::now()).await {
        Ok(_) => Ok(generated.then_some(password)),
        // Another process created it first: theirs stands.
        Err(crate::store::StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context("creating the admin user")),
    }
}

/// Where a generated admin password is kept: beside the SQLite file, else in the working
/// folder.
pub const ADMIN_PASSWORD_FILE: &str = "contestd-admin-password";

/// Writes a generated admin password to `ADMIN_PASSWORD_FILE` in `folder`, readable by its
/// owner only (never to a log, where it would outlive its use). Returns the file's path.
pub fn keep_generated_password(
    folder: &std::path::Path,
    password: &str,
) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = folder.join(ADMIN_PASSWORD_FILE);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "{password}")?;
    file.sync_all()?;
    Ok(path)
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub token_hash: TokenHash,
    /// When the token expires (a WebSocket closes then).
    pub expires_at: DateTime<Utc>,
}

impl Caller {
    fn new(user: User, token_hash: TokenHash, expires_at: DateTime<Utc>) -> Self {
        Caller {
            user,
            token_hash,
            expires_at,
        }
    }

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
    /// A bad token: 401 from handlers that need a caller (a login need not).
    Refused,
}

/// Resolves the bearer token (or, on the WebSocket upgrade only, `?token=`) before any
/// extractor runs, so a request with a bad token gets 401 before its body or path are looked
/// at. Requests without a token, or with a bad one, pass on; only handlers that need a caller
/// refuse them.
/// Monitoring needs no caller and never reads a token. Failed authentications count against
/// the client address's bad-token quota (429 past it, before any database read).
pub async fn resolve_caller(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let token = (!is_monitoring(req.path()))
        .then(|| bearer_token(req.request()))
        .flatten();
    if let Some(token) = token {
        let (Some(auth), Some(quotas)) = (
            req.app_data::<web::Data<Auth>>(),
            req.app_data::<web::Data<Quotas>>(),
        ) else {
            let refused = ApiError::Unexpected("authentication is not configured".into());
            return Ok(req.error_response(refused).map_into_right_body());
        };
        let resolved = match resolve(auth, quotas, req.request(), &token).await {
            Ok(caller) => Resolved::Caller(caller),
            Err(ApiError::Unauthorized(_)) => Resolved::Refused,
            Err(refused) => return Ok(req.error_response(refused).map_into_right_body()),
        };
        req.extensions_mut().insert(resolved);
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The caller holding `token`, within the user's quota; a bad token is 401 while its address
/// is within its bad-token quota, 429 past it. The client's address is only worked out when a
/// token is not cached or fails: a cached token, the hot path, needs none.
async fn resolve(
    auth: &Auth,
    quotas: &Quotas,
    req: &HttpRequest,
    token: &str,
) -> Result<Caller, ApiError> {
    match auth
        .authenticate(token, || {
            quotas.check_unverified(quotas.client_address(req))
        })
        .await
    {
        Ok(caller) => {
            quotas.check_user(caller.user.id)?;
            Ok(caller)
        }
        Err(unauthorized @ ApiError::Unauthorized(_)) => {
            quotas.count_bad_token(quotas.client_address(req))?;
            Err(unauthorized)
        }
        Err(other) => Err(other),
    }
}

/// Monitoring answers anyone, is never refused over quota, and never reads a token.
fn is_monitoring(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/health/ready" | "/api/contests/health" | "/metrics"
    )
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
    // Browsers cannot set headers on WebSockets, so the upgrade (only) may carry the token in
    // the query; anywhere else it would end up in proxy logs and browser history.
    if !req.path().starts_with("/ws/") {
        return None;
    }
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
            Some(Resolved::Refused) => Err(unknown_token()),
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
