//! All of contestd's SQL. One `Store` over either backend: queries that both databases accept
//! are written once and compiled for each pool (`on_pool!`); what differs (connection set-up,
//! migrations, maintenance) lives in `sqlite.rs` and `postgres.rs`.
//! Placeholders are `$1, $2, …`, which SQLite accepts too.

mod postgres;
mod rows;
mod sqlite;

use rows::{ContestRow, QuestionRow, CONTEST_COLUMNS};
pub use rows::{LeaderboardRow, NamedSubmission, Submission};

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgPool, QueryBuilder, SqlitePool};

use crate::config::DbArgs;
use crate::model::{
    Contest, ContestPatch, ContestWithQuestions, Course, Id, NewContest, NewCourse, Question, Role,
    Snapshot, SubmissionRow, User,
};

/// Rows per multi-row statement: keeps every statement under SQLite's 32,766 bind parameters.
const CHUNK: usize = 1000;

/// Indexes the schema must have; `contestd maintenance` checks them.
pub const INDEXES: &[&str] = &[
    "uq_users_username",
    "idx_sessions_expires_at",
    "uq_courses_code",
    "idx_enrollments_student_course_active",
    "idx_contests_course_active_times",
    "uq_questions_contest_position",
    "uq_submissions_contest_student",
    "idx_submissions_contest_time",
];

#[derive(Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now (connection, pool timeout, lock contention).
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// A unique name is taken; the text names it.
    #[error("{0}")]
    Conflict(String),
    /// The text names what was not found.
    #[error("{0}")]
    NotFound(String),
    /// The request breaks a rule that needs the stored data to check.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|c| is_transient_code(&c)),
            _ => false,
        };
        if transient {
            StoreError::Unavailable(e)
        } else {
            StoreError::Other(e)
        }
    }
}

/// SQLite busy/locked, and PostgreSQL's connection, shutdown, overload and retry classes
/// (55000 is also what a database that does not accept connections answers at connect).
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "5" | "6" | "261" | "517" | "53300" | "55000" | "40001" | "40P01"
    ) || code.starts_with("08")
        || code.starts_with("57P")
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Maps a unique-key violation to `Conflict(what)`, anything else as usual.
fn conflict_as(what: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(what())
        } else {
            e.into()
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A new user whose password is already hashed.
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolStats {
    pub backend: &'static str,
    pub pool_size: u32,
    pub pool_idle: usize,
    pub pool_max: u32,
}

/// A contest in a listing, with whether the student asking has submitted.
#[derive(Debug, Clone)]
pub struct ContestListing {
    pub contest: Contest,
    pub submitted: bool,
}

#[derive(sqlx::FromRow)]
struct ListingRow {
    #[sqlx(flatten)]
    contest: ContestRow,
    submitted: bool,
}

impl Store {
    /// Opens a pool for the URL's backend (`sqlite:` or `postgres:`).
    pub async fn connect(args: &DbArgs) -> Result<Store, String> {
        let url = args.database_url.as_str();
        if url.starts_with("sqlite:") {
            sqlite::connect(args).await.map(Store::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            postgres::connect(args).await.map(Store::Postgres)
        } else {
            Err(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
            ))
        }
    }

    pub async fn migrate(&self) -> Result<(), String> {
        match self {
            Store::Sqlite(pool) => sqlite::migrate(pool).await,
            Store::Postgres(pool) => postgres::migrate(pool).await,
        }
    }

    /// Checks the indexes, refreshes statistics; returns a line per step done.
    pub async fn maintenance(&self) -> Result<Vec<String>, String> {
        let present: Vec<String> = match self {
            Store::Sqlite(pool) => sqlite::index_names(pool).await,
            Store::Postgres(pool) => postgres::index_names(pool).await,
        }
        .map_err(|e| format!("listing indexes: {e}"))?;
        let missing: Vec<&str> = INDEXES
            .iter()
            .copied()
            .filter(|name| !present.iter().any(|p| p == name))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "indexes missing: {}; run `contestd migrate`",
                missing.join(", ")
            ));
        }
        let mut done = vec![format!("all {} indexes present", INDEXES.len())];
        done.extend(match self {
            Store::Sqlite(pool) => sqlite::optimize(pool).await,
            Store::Postgres(pool) => postgres::optimize(pool).await,
        }?);
        Ok(done)
    }

    /// The folder holding the database file (SQLite); `None` for a server database.
    pub fn file_folder(&self) -> Option<std::path::PathBuf> {
        match self {
            Store::Sqlite(pool) => {
                let options = pool.connect_options();
                let folder = options.get_filename().parent()?.to_path_buf();
                Some(if folder.as_os_str().is_empty() {
                    ".".into()
                } else {
                    folder
                })
            }
            Store::Postgres(_) => None,
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        on_pool!(self, pool => PoolStats {
            backend: self.backend(),
            pool_size: pool.size(),
            pool_idle: pool.num_idle(),
            pool_max: pool.options().get_max_connections(),
        })
    }

    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    // ---- users ----

    pub async fn insert_user(&self, user: &UserRow, now: DateTime<Utc>) -> Result<User> {
        let sql = "INSERT INTO users (username, password_hash, role, created_at)
                   VALUES ($1, $2, $3, $4) RETURNING id";
        let id: Id = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(now)
            .fetch_one(pool)
            .await)
        .map_err(conflict_as(|| {
            format!("username {:?} is taken", user.username)
        }))?;
        Ok(User {
            id,
            username: user.username.clone(),
            role: user.role,
        })
    }

    /// Inserts all users in one transaction, or none. A taken username is reported with the
    /// index of the first entry that has it.
    pub async fn insert_users(&self, users: &[UserRow], now: DateTime<Utc>) -> Result<Vec<User>> {
        let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
        let mut ids: HashMap<String, Id> = HashMap::with_capacity(users.len());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in names.chunks(CHUNK) {
                let mut q = QueryBuilder::new("SELECT username FROM users WHERE username IN (");
                let mut list = q.separated(", ");
                for name in chunk {
                    list.push_bind(*name);
                }
                q.push(")");
                let taken: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                if let Some(i) = names.iter().position(|n| taken.iter().any(|t| t == n)) {
                    return Err(StoreError::Conflict(format!(
                        "users[{i}]: username {:?} is taken", names[i]
                    )));
                }
            }
            for chunk in users.chunks(CHUNK) {
                let mut q = QueryBuilder::new(
                    "INSERT INTO users (username, password_hash, role, created_at) ",
                );
                q.push_values(chunk, |mut row, u| {
                    row.push_bind(&u.username)
                        .push_bind(&u.password_hash)
                        .push_bind(u.role.as_str())
                        .push_bind(now);
                });
                q.push(" RETURNING id, username");
                let rows: Vec<(Id, String)> = q
                    .build_query_as()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(conflict_as(|| "a username is taken".to_string()))?;
                ids.extend(rows.into_iter().map(|(id, name)| (name, id)));
            }
            tx.commit().await?;
        });
        users
            .iter()
            .map(|u| {
                let id = ids
                    .get(&u.username)
                    .copied()
                    .ok_or_else(|| StoreError::Other(sqlx::Error::RowNotFound))?;
                Ok(User {
                    id,
                    username: u.username.clone(),
                    role: u.role,
                })
            })
            .collect()
    }

    /// The user and their password hash.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<(User, String)>> {
        let sql = "SELECT id, username, role, password_hash FROM users WHERE username = $1";
        let row: Option<(Id, String, String, String)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(username).fetch_optional(pool).await)?;
        row.map(|(id, username, role, hash)| {
            let role = Role::try_from(role)
                .map_err(|e| StoreError::Other(sqlx::Error::Decode(e.into())))?;
            Ok((User { id, username, role }, hash))
        })
        .transpose()
    }

    // ---- sessions ----

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
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: User,
            expires_at: DateTime<Utc>,
        }
        let sql = "SELECT u.id, u.username, u.role, s.expires_at
                   FROM sessions s JOIN users u ON u.id = s.user_id
                   WHERE s.token_hash = $1 AND s.expires_at > $2";
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|r| (r.user, r.expires_at)))
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

    // ---- courses and enrollments ----

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
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
    }

    pub async fn courses_of_student(&self, student_id: Id) -> Result<Vec<Course>> {
        let sql = "SELECT c.id, c.code, c.title FROM courses c
                   JOIN enrollments e ON e.course_id = c.id
                   WHERE e.student_id = $1 AND e.is_active ORDER BY c.id";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(student_id).fetch_all(pool).await)?)
    }

    pub async fn course_exists(&self, course_id: Id) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM courses WHERE id = $1";
        let n: i64 =
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(course_id).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    pub async fn contest_exists(&self, contest_id: Id) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM contests WHERE id = $1";
        let n: i64 =
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(contest_id).fetch_one(pool).await)?;
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

    // ---- contests ----

    pub async fn insert_contest(
        &self,
        new: &NewContest,
        now: DateTime<Utc>,
    ) -> Result<ContestWithQuestions> {
        if !self.course_exists(new.course_id).await? {
            return Err(StoreError::NotFound("course".into()));
        }
        let sql = "INSERT INTO contests (course_id, title, start_time, end_time, results, is_active, created_at)
                   VALUES ($1, $2, $3, $4, $5, TRUE, $6) RETURNING id";
        let (id, mut ids) = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Id = sqlx::query_scalar(sql)
                .bind(new.course_id)
                .bind(&new.title)
                .bind(new.start_time)
                .bind(new.end_time)
                .bind(new.results.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let mut q = QueryBuilder::new(
                "INSERT INTO questions (contest_id, position, prompt, options, correct_option, points) ",
            );
            q.push_values(new.questions.iter().enumerate(), |mut row, (i, question)| {
                row.push_bind(id)
                    .push_bind(i as i32)
                    .push_bind(&question.prompt)
                    .push_bind(sqlx::types::Json(&question.options))
                    .push_bind(question.correct_option as i32)
                    .push_bind(question.points);
            });
            q.push(" RETURNING id, position");
            let ids: Vec<(Id, i32)> = q.build_query_as().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (id, ids)
        });
        ids.sort_by_key(|(_, position)| *position);
        let questions = ids
            .into_iter()
            .zip(&new.questions)
            .map(|((qid, _), q)| Question {
                id: qid,
                prompt: q.prompt.clone(),
                options: q.options.clone(),
                correct_option: q.correct_option as i32,
                points: q.points,
            })
            .collect();
        let contest = Contest {
            id,
            course_id: new.course_id,
            title: new.title.clone(),
            start_time: new.start_time,
            end_time: new.end_time,
            results: new.results,
            is_active: true,
        };
        Ok(ContestWithQuestions { contest, questions })
    }

    pub async fn contest(&self, id: Id) -> Result<Option<ContestWithQuestions>> {
        let contest_sql = format!("SELECT {CONTEST_COLUMNS} FROM contests c WHERE c.id = $1");
        let questions_sql = "SELECT id, prompt, options, correct_option, points FROM questions
                             WHERE contest_id = $1 ORDER BY position";
        on_pool!(self, pool => {
            let Some(contest) = sqlx::query_as::<_, ContestRow>(&contest_sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let questions: Vec<QuestionRow> =
                sqlx::query_as(questions_sql).bind(id).fetch_all(pool).await?;
            Ok(Some(ContestWithQuestions {
                contest: contest.into(),
                questions: questions.into_iter().map(Question::from).collect(),
            }))
        })
    }

    /// Applies a validated patch in one statement that also keeps start < end against the
    /// stored times.
    pub async fn update_contest(
        &self,
        id: Id,
        patch: &ContestPatch,
    ) -> Result<ContestWithQuestions> {
        let sql = "UPDATE contests SET
                       title = COALESCE($2, title),
                       start_time = COALESCE($3, start_time),
                       end_time = COALESCE($4, end_time),
                       is_active = COALESCE($5, is_active)
                   WHERE id = $1 AND COALESCE($3, start_time) < COALESCE($4, end_time)";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(patch.title.as_deref())
            .bind(patch.start_time)
            .bind(patch.end_time)
            .bind(patch.is_active)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        let current = self
            .contest(id)
            .await?
            .ok_or_else(|| StoreError::NotFound("contest".into()))?;
        if changed == 0 {
            return Err(StoreError::Invalid(
                "start_time must be before end_time".into(),
            ));
        }
        Ok(current)
    }

    /// Contests in start order: all of them (admins), or the active ones of the student's
    /// active courses with whether the student has submitted.
    pub async fn contests_for(&self, user: &User) -> Result<Vec<ContestListing>> {
        let by_start = "ORDER BY c.start_time, c.id";
        let rows: Vec<ListingRow> = match user.role {
            Role::Admin => {
                let sql = format!(
                    "SELECT {CONTEST_COLUMNS}, FALSE AS submitted FROM contests c {by_start}"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?
            }
            Role::Student => {
                let sql = format!(
                    "SELECT {CONTEST_COLUMNS},
                         EXISTS (SELECT 1 FROM submissions s
                                 WHERE s.contest_id = c.id AND s.student_id = $1) AS submitted
                     FROM contests c
                     JOIN enrollments e ON e.course_id = c.course_id
                     WHERE e.student_id = $1 AND e.is_active AND c.is_active {by_start}"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).bind(user.id).fetch_all(pool).await)?
            }
        };
        Ok(rows
            .into_iter()
            .map(|r| ContestListing {
                contest: r.contest.into(),
                submitted: r.submitted,
            })
            .collect())
    }

    // ---- the runtime: snapshots and submissions ----

    /// Everything a contest actor needs: the contest, its questions, the students actively
    /// enrolled in its course and the submissions so far.
    pub async fn snapshot(&self, contest_id: Id) -> Result<Option<Snapshot>> {
        let Some(full) = self.contest(contest_id).await? else {
            return Ok(None);
        };
        let enrolled_sql = "SELECT student_id FROM enrollments WHERE course_id = $1 AND is_active";
        let submitted_sql = "SELECT student_id, score FROM submissions WHERE contest_id = $1";
        let course_id = full.contest.course_id;
        let (enrolled, submitted): (Vec<Id>, Vec<(Id, i64)>) = on_pool!(self, pool => {
            let enrolled = sqlx::query_scalar(enrolled_sql).bind(course_id).fetch_all(pool).await?;
            let submitted = sqlx::query_as(submitted_sql).bind(contest_id).fetch_all(pool).await?;
            (enrolled, submitted)
        });
        Ok(Some(Snapshot {
            contest: full.contest,
            questions: full.questions,
            enrolled,
            submitted,
        }))
    }

    /// Inserts the rows atomically, skipping those whose (contest, student) is already stored.
    /// Returns, per row, whether it was inserted.
    pub async fn insert_submissions(&self, rows: &[SubmissionRow]) -> Result<Vec<bool>> {
        let inserted: HashSet<uuid::Uuid> = match self {
            Store::Postgres(pool) => postgres::insert_submissions(pool, rows).await?,
            Store::Sqlite(pool) => {
                let mut inserted = HashSet::with_capacity(rows.len());
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(CHUNK) {
                    let mut q = QueryBuilder::new(
                        "INSERT INTO submissions \
                         (id, contest_id, student_id, submitted_at, answers, score, max_score) ",
                    );
                    q.push_values(chunk, |mut row, s| {
                        row.push_bind(s.id)
                            .push_bind(s.contest_id)
                            .push_bind(s.student_id)
                            .push_bind(s.submitted_at)
                            .push_bind(sqlx::types::Json(&s.answers))
                            .push_bind(s.score)
                            .push_bind(s.max_score);
                    });
                    q.push(" ON CONFLICT (contest_id, student_id) DO NOTHING RETURNING id");
                    let ids: Vec<uuid::Uuid> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                    inserted.extend(ids);
                }
                tx.commit().await?;
                inserted
            }
        };
        Ok(rows.iter().map(|r| inserted.contains(&r.id)).collect())
    }

    pub async fn submission(&self, contest_id: Id, student_id: Id) -> Result<Option<Submission>> {
        let sql = "SELECT id, contest_id, student_id, submitted_at, answers, score, max_score
                   FROM submissions WHERE contest_id = $1 AND student_id = $2";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(contest_id)
            .bind(student_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// The student's submissions to those of the given contests that are active, each with
    /// its contest, in contest id order.
    pub async fn submissions_of(
        &self,
        student_id: Id,
        contest_ids: &[Id],
    ) -> Result<Vec<(Submission, Contest)>> {
        let (submissions, contests): (Vec<Submission>, Vec<ContestRow>) = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT id, contest_id, student_id, submitted_at, answers, score, max_score
                 FROM submissions WHERE student_id = ",
            );
            q.push_bind(student_id).push(" AND contest_id IN (");
            let mut list = q.separated(", ");
            for id in contest_ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY contest_id");
            let submissions = q.build_query_as().fetch_all(pool).await?;
            let mut q = QueryBuilder::new(format!(
                "SELECT {CONTEST_COLUMNS} FROM contests c WHERE c.is_active AND c.id IN ("
            ));
            let mut list = q.separated(", ");
            for id in contest_ids {
                list.push_bind(*id);
            }
            q.push(")");
            let contests = q.build_query_as().fetch_all(pool).await?;
            (submissions, contests)
        });
        let contests: HashMap<Id, Contest> = contests
            .into_iter()
            .map(|c| {
                let c = Contest::from(c);
                (c.id, c)
            })
            .collect();
        Ok(submissions
            .into_iter()
            .filter_map(|s| contests.get(&s.contest_id).cloned().map(|c| (s, c)))
            .collect())
    }

    /// A page of the contest's submissions in (submitted_at, id) order, after the given one.
    /// `Invalid` when `after` is not a submission of this contest.
    pub async fn submissions_page(
        &self,
        contest_id: Id,
        after: Option<uuid::Uuid>,
        limit: i64,
    ) -> Result<Vec<NamedSubmission>> {
        let columns = "s.id, s.contest_id, s.student_id, s.submitted_at, s.answers, s.score,
                       s.max_score, u.username";
        let page: Vec<NamedSubmission> = match after {
            None => {
                let sql = format!(
                    "SELECT {columns} FROM submissions s JOIN users u ON u.id = s.student_id
                     WHERE s.contest_id = $1 ORDER BY s.submitted_at, s.id LIMIT $2"
                );
                on_pool!(self, pool => sqlx::query_as(&sql)
                    .bind(contest_id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await)?
            }
            Some(after) => {
                let cursor_sql =
                    "SELECT submitted_at FROM submissions WHERE contest_id = $1 AND id = $2";
                let sql = format!(
                    "SELECT {columns} FROM submissions s JOIN users u ON u.id = s.student_id
                     WHERE s.contest_id = $1 AND (s.submitted_at, s.id) > ($2, $3)
                     ORDER BY s.submitted_at, s.id LIMIT $4"
                );
                on_pool!(self, pool => {
                    let at: Option<DateTime<Utc>> = sqlx::query_scalar(cursor_sql)
                        .bind(contest_id)
                        .bind(after)
                        .fetch_optional(pool)
                        .await?;
                    let Some(at) = at else {
                        return Err(StoreError::Invalid(
                            "after: not a submission of this contest".into(),
                        ));
                    };
                    sqlx::query_as(&sql)
                        .bind(contest_id)
                        .bind(at)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(pool)
                        .await?
                })
            }
        };
        Ok(page)
    }

    /// Highest score first, earlier submission (then id) breaking ties.
    pub async fn leaderboard(&self, contest_id: Id, limit: i64) -> Result<Vec<LeaderboardRow>> {
        let sql = "SELECT s.student_id, u.username, s.score, s.submitted_at
                   FROM submissions s JOIN users u ON u.id = s.student_id
                   WHERE s.contest_id = $1
                   ORDER BY s.score DESC, s.submitted_at, s.id LIMIT $2";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(contest_id)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Which of the ids are users.
    pub async fn existing_users(&self, ids: &[Id]) -> Result<HashSet<Id>> {
        let mut found = HashSet::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let part: Vec<Id> = on_pool!(self, pool => {
                let mut q = QueryBuilder::new("SELECT id FROM users WHERE id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_scalar().fetch_all(pool).await
            })?;
            found.extend(part);
        }
        Ok(found)
    }
}
