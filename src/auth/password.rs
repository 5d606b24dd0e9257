//! Argon2id password hashing, run on the blocking pool behind a semaphore: at most
//! `hash_threads` hashes at once, so a login stampede queues instead of stalling the async
//! workers or starting hundreds of threads.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::{cores, PasswordArgs};
use crate::error::ApiError;

/// Passwords hashed per blocking task in a bulk job: small enough that logins interleave.
const BULK_GROUP: usize = 8;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against when the username is unknown, so both cases take the same time.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(args: &PasswordArgs) -> Result<Self, String> {
        let params = Params::new(args.argon2_memory_kib, args.argon2_iterations, 1, None)
            .map_err(|e| format!("invalid argon2 settings: {e}"))?;
        let dummy_hash = hash_with(&params, "not a password of anyone")
            .map_err(|e| format!("argon2 self-test failed: {e}"))?;
        Ok(Passwords {
            params,
            permits: Arc::new(Semaphore::new(
                args.hash_threads.unwrap_or_else(cores).max(1),
            )),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let params = self.params.clone();
        self.off_thread(move || hash_with(&params, &password))
            .await?
            .map_err(|e| ApiError::Unexpected(e.to_string().into()))
    }

    /// Hashes many passwords in parallel (up to the semaphore's width), keeping their order.
    pub async fn hash_many(&self, passwords: Vec<String>) -> Result<Vec<String>, ApiError> {
        let groups = passwords.chunks(BULK_GROUP).map(|group| {
            let group = group.to_vec();
            let params = self.params.clone();
            self.off_thread(move || {
                group
                    .iter()
                    .map(|p| hash_with(&params, p))
                    .collect::<Result<Vec<_>, _>>()
            })
        });
        let mut hashes = Vec::with_capacity(passwords.len());
        for group in futures_util::future::join_all(groups).await {
            hashes.extend(group?.map_err(|e| ApiError::Unexpected(e.to_string().into()))?);
        }
        Ok(hashes)
    }

    /// Whether `password` matches `hash`; with no hash (unknown user) it still does the work.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .off_thread(move || {
                PasswordHash::new(&hash).is_ok_and(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
            })
            .await?;
        Ok(known && matches)
    }

    async fn off_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Unexpected(e.into()))?;
        tokio::task::spawn_blocking(move || {
            yield_to_requests();
            work()
        })
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))
    }
}

/// Lowers the calling (blocking-pool) thread's scheduling priority once: a login stampede
/// keeps every hashing permit busy, and at equal priority the HTTP workers got only a share
/// of the cores (a contest's GET p99 reached ~1 s behind 1,000 logins). Niced, hashing still
/// takes all the CPU nobody else wants.
fn yield_to_requests() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if LOWERED.with(|l| l.replace(true)) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id only changes its nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(&PasswordArgs {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            hash_threads: Some(2),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let p = cheap();
        let a = p.hash("correct horse".into()).await.unwrap();
        let b = p.hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(p
            .verify("correct horse".into(), Some(a.clone()))
            .await
            .unwrap());
        assert!(!p.verify("wrong horse".into(), Some(a)).await.unwrap());
        assert!(!p.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn bulk_hashing_keeps_order() {
        let p = cheap();
        let passwords: Vec<String> = (0..20).map(|i| format!("password-{i}")).collect();
        let hashes = p.hash_many(passwords.clone()).await.unwrap();
        assert_eq!(hashes.len(), 20);
        for (pw, h) in passwords.into_iter().zip(hashes) {
            assert!(p.verify(pw, Some(h)).await.unwrap());
        }
    }
}
