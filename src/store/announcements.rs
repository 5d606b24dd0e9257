//! Announcements: an admin's messages to a contest's room.

use chrono::{DateTime, Utc};

use super::rows::AnnouncementRow;
use super::{on_pool, Result, Store, StoreError};
use crate::model::{Announcement, Id};

/// Most announcements `GET …/announcements` returns: the newest this many.
pub const ANNOUNCEMENTS_LISTED: i64 = 500;

impl Store {
    /// Stores an announcement; `NotFound` when the contest does not exist (or was deleted
    /// meanwhile). The answer comes after the commit.
    pub async fn insert_announcement(
        &self,
        contest_id: Id,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Announcement> {
        let sql = "INSERT INTO announcements (contest_id, text, created_at)
                   VALUES ($1, $2, $3) RETURNING id";
        let id: Id = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(contest_id)
            .bind(text)
            .bind(now)
            .fetch_one(pool)
            .await)
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound("contest".into())
            }
            _ => e.into(),
        })?;
        Ok(Announcement {
            id,
            contest_id,
            text: text.to_string(),
            created_at: now,
        })
    }

    /// One announcement of the contest (another node posted it).
    pub async fn announcement(&self, contest_id: Id, id: Id) -> Result<Option<Announcement>> {
        let sql = "SELECT id, contest_id, text, created_at FROM announcements
                   WHERE contest_id = $1 AND id = $2";
        let row: Option<AnnouncementRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(contest_id)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(Announcement::from))
    }

    /// The contest's newest `ANNOUNCEMENTS_LISTED` announcements, newest first (ties by id,
    /// the later first).
    pub async fn announcements(&self, contest_id: Id) -> Result<Vec<Announcement>> {
        let sql = "SELECT id, contest_id, text, created_at FROM announcements
                   WHERE contest_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
        let rows: Vec<AnnouncementRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(contest_id)
            .bind(ANNOUNCEMENTS_LISTED)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(Announcement::from).collect())
    }
}
