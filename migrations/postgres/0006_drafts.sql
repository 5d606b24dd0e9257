-- The deadline (API.md, "Drafts and the deadline"): each student's work in progress, one row per
-- contest and student, upserted by the writer's group commit; a grace after the end; and which
-- submissions were made from a draft when a student's window ended.
CREATE TABLE drafts (
    contest_id BIGINT      NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    student_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    answers    JSONB       NOT NULL,
    saved_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (contest_id, student_id)
);
ALTER TABLE contests
    ADD COLUMN grace_seconds INTEGER NOT NULL DEFAULT 0
        CHECK (grace_seconds BETWEEN 0 AND 300);
ALTER TABLE submissions ADD COLUMN auto BOOLEAN NOT NULL DEFAULT FALSE;
