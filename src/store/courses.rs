//! Courses and the students enrolled in them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::rows::CourseRow;
use super::{conflict_as, on_pool, Result, Store, StoreError, CHUNK};
use crate::model::{Course, Id, NewCourse};

impl Store {
    pub async fn insert_course(&self, course: &NewCourse, now: DateTime<Utc>) -> Result<Course> {
        let sql = "INSERT INTO courses (code, title, created_at) VALUES ($1, $2, $3) RETURNING id";
        let id: Id = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(&course.code)
            .bind(&course.title)
            .bind(now)
            .fetch_one(pool)
            .await)
        .map_err(conflict_as(|| {
            format!("course code {:?} is taken", course.code)
        }))?;
        Ok(Course {
            id,
            code: course.code.clone(),
            title: course.title.clone(),
        })
    }

    pub async fn courses(&self) -> Result<Vec<Course>> {
        let sql = "SELECT id, code, title FROM courses ORDER BY id";
        let rows: Vec<CourseRow> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Course::from).collect())
    }

    pub async fn courses_of_student(&self, student_id: Id) -> Result<Vec<Course>> {
        let sql = "SELECT c.id, c.code, c.title FROM courses c
                   JOIN enrollments e ON e.course_id = c.id
                   WHERE e.student_id = $1 AND e.is_active ORDER BY c.id";
        let rows: Vec<CourseRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(student_id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Course::from).collect())
    }

    pub async fn course_exists(&self, course_id: Id) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM courses WHERE id = $1";
        let n: i64 =
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(course_id).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    /// Enrolls (or re-activates) the students, all or nothing. Ids that are not students are
    /// reported as `Invalid`, naming them. Returns the number of distinct students enrolled.
    pub async fn enroll(
        &self,
        course_id: Id,
        student_ids: &[Id],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let mut seen = HashSet::with_capacity(student_ids.len());
        let ids: Vec<Id> = student_ids
            .iter()
            .copied()
            .filter(|id| seen.insert(*id))
            .collect();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut students: HashSet<Id> = HashSet::with_capacity(ids.len());
            for chunk in ids.chunks(CHUNK) {
                let mut q = QueryBuilder::new("SELECT id FROM users WHERE role = 'student' AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                let found: Vec<Id> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                students.extend(found);
            }
            let bad: Vec<String> = ids
                .iter()
                .filter(|id| !students.contains(id))
                .map(|id| id.to_string())
                .collect();
            if !bad.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "student_ids: not students: {}", bad.join(", ")
                )));
            }
            for chunk in ids.chunks(CHUNK) {
                let mut q = QueryBuilder::new(
                    "INSERT INTO enrollments (course_id, student_id, is_active, enrolled_at) ",
                );
                q.push_values(chunk, |mut row, id| {
                    row.push_bind(course_id).push_bind(*id).push_bind(true).push_bind(now);
                });
                q.push(" ON CONFLICT (course_id, student_id) DO UPDATE SET is_active = TRUE");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(ids.len())
    }

    /// Marks the enrollment inactive; `NotFound` when the course or the enrollment is missing.
    pub async fn unenroll(&self, course_id: Id, student_id: Id) -> Result<()> {
        if !self.course_exists(course_id).await? {
            return Err(StoreError::NotFound("course".into()));
        }
        let sql =
            "UPDATE enrollments SET is_active = FALSE WHERE course_id = $1 AND student_id = $2";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(course_id)
            .bind(student_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound("enrollment".into()));
        }
        Ok(())
    }

    pub async fn is_enrolled(&self, course_id: Id, student_id: Id) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM enrollments
                   WHERE student_id = $1 AND course_id = $2 AND is_active";
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(student_id)
            .bind(course_id)
            .fetch_one(pool)
            .await)?;
        Ok(n > 0)
    }
}
