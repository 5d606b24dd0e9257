-- Questions of four types (API.md, "Question types"): each has a kind and its answer key as
-- JSON in the API's own fields ({"correct_option"} | {"correct_options", "scoring"} |
-- {"answer"} | {"accepted"}); questions stored before are `single`. Contests may shuffle.
-- SQLite cannot drop a column that other columns' rules mention, so the table is rebuilt.
CREATE TABLE questions_typed (
    id         INTEGER PRIMARY KEY AUTOINCREMENT, -- ids of replaced questions are never reused
    contest_id INTEGER NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('single', 'multiple', 'numeric', 'text')),
    prompt     TEXT    NOT NULL,
    options    TEXT    NOT NULL, -- JSON array of strings, [] for numeric and text
    answer_key TEXT    NOT NULL, -- JSON object, the fields of the kind
    points     INTEGER NOT NULL CHECK (points >= 0)
);
INSERT INTO questions_typed (id, contest_id, position, kind, prompt, options, answer_key, points)
SELECT id, contest_id, position, 'single', prompt, options,
       json_object('correct_option', correct_option), points
FROM questions;
DROP TABLE questions;
ALTER TABLE questions_typed RENAME TO questions;
CREATE UNIQUE INDEX uq_questions_contest_position ON questions (contest_id, position);

ALTER TABLE contests ADD COLUMN shuffle_questions BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE contests ADD COLUMN shuffle_options BOOLEAN NOT NULL DEFAULT FALSE;
