//! Per-student time: admins' personal terms for one student, and when students first opened a
//! contest with a duration (written by the runtime's writer, read here).

use chrono::{DateTime, Utc};

use super::rows::AccommodationRow;
use super::{on_pool, Result, Store};
use crate::model::{Accommodation, Id, StartRow};

/// Who a student id is to a contest, for an accommodation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No such user, or not a student.
    Unknown,
    NotEnrolled,
    Enrolled,
}

impl Store {
    /// The contest's accommodations by student, with each student's start if recorded.
    pub async fn accommodations(&self, contest_id: Id) -> Result<Vec<AccommodationRow>> {
        let sql = "SELECT a.student_id, a.extra_minutes, a.start_time AS acc_start,
                          a.end_time AS acc_end, st.started_at
                   FROM accommodations a
                   LEFT JOIN contest_starts st
                          ON st.contest_id = a.contest_id AND st.student_id = a.student_id
                   WHERE a.contest_id = $1 ORDER BY a.student_id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(contest_id).fetch_all(pool).await)?)
    }

    /// Sets (replaces) the student's terms.
    pub async fn put_accommodation(
        &self,
        contest_id: Id,
        student_id: Id,
        terms: &Accommodation,
    ) -> Result<()> {
        let sql = "INSERT INTO accommodations
                       (contest_id, student_id, extra_minutes, start_time, end_time)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (contest_id, student_id) DO UPDATE SET
                       extra_minutes = excluded.extra_minutes,
                       start_time = excluded.start_time,
                       end_time = excluded.end_time";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(contest_id)
            .bind(student_id)
            .bind(terms.extra_minutes as i32)
            .bind(terms.start_time)
            .bind(terms.end_time)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Removes the student's terms, if any.
    pub async fn delete_accommodation(&self, contest_id: Id, student_id: Id) -> Result<()> {
        let sql = "DELETE FROM accommodations WHERE contest_id = $1 AND student_id = $2";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(contest_id)
            .bind(student_id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The recorded starts of the contest's students.
    pub async fn starts(&self, contest_id: Id) -> Result<Vec<StartRow>> {
        let sql = "SELECT student_id, started_at FROM contest_starts WHERE contest_id = $1";
        let rows: Vec<(Id, DateTime<Utc>)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(contest_id).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(student_id, started_at)| StartRow {
                contest_id,
                student_id,
                started_at,
            })
            .collect())
    }

    /// When the student first opened the contest, if recorded.
    pub async fn started_at(
        &self,
        contest_id: Id,
        student_id: Id,
    ) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT started_at FROM contest_starts WHERE contest_id = $1 AND student_id = $2";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(contest_id)
            .bind(student_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Whether `student_id` is a student actively enrolled in the contest's course.
    pub async fn standing(&self, contest_id: Id, student_id: Id) -> Result<Standing> {
        let sql = "SELECT EXISTS (SELECT 1 FROM enrollments e
                                  JOIN contests c ON c.course_id = e.course_id
                                  WHERE c.id = $1 AND e.student_id = u.id AND e.is_active)
                   FROM users u WHERE u.id = $2 AND u.role = 'student'";
        let enrolled: Option<bool> = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(contest_id)
            .bind(student_id)
            .fetch_optional(pool)
            .await)?;
        Ok(match enrolled {
            None => Standing::Unknown,
            Some(false) => Standing::NotEnrolled,
            Some(true) => Standing::Enrolled,
        })
    }
}
