//! Argon2id password hashing, run on the blocking pool behind a semaphore: at most
//! `hash_threads` hashes at once, so a login stampede queues instead of stalling the async
//! workers or starting hundreds of threads. Single hashes (logins, one new user) come before
//! bulk work: a bulk job hashes in small groups, and before each group it waits until no
//! single hash is waiting for a permit, so a 10,000-user import cannot hold logins for minutes.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::config::{cores, PasswordArgs};
use crate::error::ApiError;

/// Passwords hashed per blocking task in a bulk job: small enough that logins interleave.
const BULK_GROUP: usize = 8;

/// Why hashing cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid argon2 settings: {0}")]
    Settings(argon2::Error),
    #[error("argon2 self-test failed: {0}")]
    SelfTest(argon2::password_hash::Error),
}

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    /// Bulk groups hashed at once (the number of permits).
    width: usize,
    /// Single hashes waiting for a permit; bulk groups wait for it to be zero.
    singles_waiting: Arc<watch::Sender<usize>>,
    /// Verified against when the username is unknown, so both cases take the same time.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(args: &PasswordArgs) -> Result<Self, SetupError> {
        let params = Params::new(args.argon2_memory_kib, args.argon2_iterations, 1, None)
            .map_err(SetupError::Settings)?;
        let width = args.hash_threads.unwrap_or_else(cores).max(1);
        let dummy_hash =
            hash_with(&params, "not a password of anyone").map_err(SetupError::SelfTest)?;
        Ok(Passwords {
            params,
            permits: Arc::new(Semaphore::new(width)),
            width,
            singles_waiting: Arc::new(watch::Sender::new(0)),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let params = self.params.clone();
        self.off_thread(move || hash_with(&params, &password))
            .await?
            .map_err(|e| ApiError::Unexpected(e.to_string().into()))
    }

    /// Hashes many passwords in groups, up to the semaphore's width at once, keeping their
    /// order; yields to single hashes between groups.
    pub async fn hash_many(&self, passwords: Vec<String>) -> Result<Vec<String>, ApiError> {
        let groups: Vec<Vec<String>> = passwords.chunks(BULK_GROUP).map(<[_]>::to_vec).collect();
        let hashed: Vec<Vec<String>> = futures_util::stream::iter(groups)
            .map(|group| {
                let params = self.params.clone();
                async move {
                    let permit = self.bulk_permit().await?;
                    run_blocking(permit, move || {
                        group
                            .iter()
                            .map(|p| hash_with(&params, p))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .await?
                    .map_err(|e| ApiError::Unexpected(e.to_string().into()))
                }
            })
            .buffered(self.width)
            .try_collect()
            .await?;
        Ok(hashed.into_iter().flatten().collect())
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

    /// Runs one hash's work off the async workers, ahead of any bulk group still waiting.
    async fn off_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let waiting = SingleWaiting::new(&self.singles_waiting);
        let permit = self.permits.clone().acquire_owned().await;
        drop(waiting);
        run_blocking(permit.map_err(|e| ApiError::Unexpected(e.into()))?, work).await
    }

    /// A permit for one bulk group, taken only while no single hash waits for one. A group
    /// that got its permit just as a single hash began to wait hands it back.
    async fn bulk_permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let unexpected = |e: Box<dyn std::error::Error + Send + Sync>| ApiError::Unexpected(e);
        let mut waiting = self.singles_waiting.subscribe();
        loop {
            waiting
                .wait_for(|&n| n == 0)
                .await
                .map_err(|e| unexpected(e.into()))?;
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| unexpected(e.into()))?;
            if *self.singles_waiting.borrow() == 0 {
                return Ok(permit);
            }
        }
    }
}

/// Counts a single hash as waiting for a permit while it lives (also when the request that
/// waits goes away).
struct SingleWaiting<'a>(&'a watch::Sender<usize>);

impl<'a> SingleWaiting<'a> {
    fn new(count: &'a watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        SingleWaiting(count)
    }
}

impl Drop for SingleWaiting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Runs `work` on the blocking pool; the permit is held until the work is done, even when the
/// caller stops waiting for it.
async fn run_blocking<T: Send + 'static>(
    permit: OwnedSemaphorePermit,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        yield_to_requests();
        work()
    })
    .await
    .map_err(|e| ApiError::Unexpected(e.into()))
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

    /// A single hash asked for while a large bulk job runs is served before the job ends; with
    /// first-come permits it waited behind every group of the job.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_hashes_go_before_bulk_groups() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let p = Passwords::new(&PasswordArgs {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            hash_threads: Some(1),
        })
        .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let bulk = tokio::spawn({
            let (p, done) = (p.clone(), done.clone());
            async move {
                let passwords = (0..400).map(|i| format!("password-{i}")).collect();
                let hashes = p.hash_many(passwords).await.unwrap();
                done.store(true, Ordering::SeqCst);
                hashes.len()
            }
        });
        // Once the job holds the only permit, ask for one hash.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while p.permits.available_permits() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the bulk job never started"
            );
            tokio::task::yield_now().await;
        }
        p.hash("a login's password".into()).await.unwrap();
        assert!(
            !done.load(Ordering::SeqCst),
            "the single hash waited for the whole bulk job"
        );
        assert_eq!(bulk.await.unwrap(), 400);
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
