-- Per-student time (API.md, "Per-student time"): a duration that starts at each student's first
-- open of the contest, recorded once; and an admin's personal terms for one student.
ALTER TABLE contests
    ADD COLUMN duration_minutes INTEGER
        CHECK (duration_minutes BETWEEN 1 AND 1440);
CREATE TABLE contest_starts (
    contest_id BIGINT      NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    student_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (contest_id, student_id)
);
CREATE TABLE accommodations (
    contest_id    BIGINT      NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    student_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    extra_minutes INTEGER     NOT NULL DEFAULT 0 CHECK (extra_minutes BETWEEN 0 AND 10080),
    start_time    TIMESTAMPTZ,
    end_time      TIMESTAMPTZ,
    PRIMARY KEY (contest_id, student_id)
);
