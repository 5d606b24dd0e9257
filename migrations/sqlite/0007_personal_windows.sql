-- Per-student time (API.md, "Per-student time"): a duration that starts at each student's first
-- open of the contest, recorded once; and an admin's personal terms for one student.
ALTER TABLE contests ADD COLUMN duration_minutes INTEGER;
CREATE TABLE contest_starts (
    contest_id INTEGER NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    student_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at TEXT    NOT NULL,
    PRIMARY KEY (contest_id, student_id)
);
CREATE TABLE accommodations (
    contest_id    INTEGER NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    student_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    extra_minutes INTEGER NOT NULL DEFAULT 0,
    start_time    TEXT,
    end_time      TEXT,
    PRIMARY KEY (contest_id, student_id)
);
