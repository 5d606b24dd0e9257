//! Login sessions, kept by the hash of their token.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::rows::SessionRow;
use super::{on_pool, Result, Store};
use crate::model::{Id, User};

impl Store {
    pub async fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: Id,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                   VALUES ($1, $2, $3, $4)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The user holding an unexpired session, and when the session expires.
    pub async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<(User, DateTime<Utc>)>> {
        let sql = "SELECT u.id, u.username, u.role, s.expires_at
                   FROM sessions s JOIN users u ON u.id = s.user_id
                   WHERE s.token_hash = $1 AND s.expires_at > $2";
        let row: Option<SessionRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|r| (r.user.into(), r.expires_at)))
    }

    /// Which of these tokens still have an unexpired session (PostgreSQL: one query).
    pub async fn live_sessions(
        &self,
        token_hashes: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<HashSet<Vec<u8>>> {
        let mut live = HashSet::new();
        for chunk in token_hashes.chunks(super::CHUNK) {
            let rows: Vec<Vec<u8>> = match self {
                Store::Postgres(pool) => {
                    let sql = "SELECT token_hash FROM sessions
                               WHERE token_hash = ANY($1) AND expires_at > $2";
                    sqlx::query_scalar(sql)
                        .bind(chunk)
                        .bind(now)
                        .fetch_all(pool)
                        .await?
                }
                // One process: nothing is revoked behind its back.
                Store::Sqlite(_) => chunk.to_vec(),
            };
            live.extend(rows);
        }
        Ok(live)
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
        let sql = "DELETE FROM sessions WHERE token_hash = $1";
        on_pool!(self, pool => sqlx::query(sql).bind(token_hash).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let sql = "DELETE FROM sessions WHERE expires_at <= $1";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(now).execute(pool).await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
