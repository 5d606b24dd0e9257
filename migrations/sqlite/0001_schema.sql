-- contestd schema, SQLite. Times are RFC 3339 text in UTC (as sqlx writes them), so they sort.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'student')),
    created_at    TEXT    NOT NULL
);
CREATE UNIQUE INDEX uq_users_username ON users (username);

CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL
);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE courses (
    id         INTEGER PRIMARY KEY,
    code       TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE UNIQUE INDEX uq_courses_code ON courses (code);

CREATE TABLE enrollments (
    course_id   INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    student_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_active   BOOLEAN NOT NULL DEFAULT TRUE,
    enrolled_at TEXT    NOT NULL,
    PRIMARY KEY (course_id, student_id)
);
CREATE INDEX idx_enrollments_student_course_active ON enrollments (student_id, course_id, is_active);

CREATE TABLE contests (
    id         INTEGER PRIMARY KEY,
    course_id  INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    start_time TEXT    NOT NULL,
    end_time   TEXT    NOT NULL,
    results    TEXT    NOT NULL CHECK (results IN ('after_close', 'immediate')),
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT    NOT NULL,
    CHECK (start_time < end_time)
);
CREATE INDEX idx_contests_course_active_times ON contests (course_id, is_active, start_time, end_time);

CREATE TABLE questions (
    id             INTEGER PRIMARY KEY,
    contest_id     INTEGER NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    prompt         TEXT    NOT NULL,
    options        TEXT    NOT NULL, -- JSON array of strings
    correct_option INTEGER NOT NULL,
    points         INTEGER NOT NULL CHECK (points >= 0)
);
CREATE UNIQUE INDEX uq_questions_contest_position ON questions (contest_id, position);

CREATE TABLE submissions (
    id           BLOB    PRIMARY KEY, -- UUID
    contest_id   INTEGER NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    student_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    submitted_at TEXT    NOT NULL,
    answers      TEXT    NOT NULL, -- JSON array of {question_id, option}
    score        INTEGER NOT NULL,
    max_score    INTEGER NOT NULL
);
CREATE UNIQUE INDEX uq_submissions_contest_student ON submissions (contest_id, student_id);
CREATE INDEX idx_submissions_contest_time ON submissions (contest_id, submitted_at, id);
