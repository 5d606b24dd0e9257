-- Questions of four types (API.md, "Question types"): each has a kind and its answer key as
-- JSON in the API's own fields ({"correct_option"} | {"correct_options", "scoring"} |
-- {"answer"} | {"accepted"}); questions stored before are `single`. Contests may shuffle.
ALTER TABLE questions
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'single'
        CHECK (kind IN ('single', 'multiple', 'numeric', 'text')),
    ADD COLUMN answer_key JSONB;
UPDATE questions SET answer_key = jsonb_build_object('correct_option', correct_option);
ALTER TABLE questions
    ALTER COLUMN answer_key SET NOT NULL,
    ALTER COLUMN kind DROP DEFAULT,
    DROP COLUMN correct_option;

ALTER TABLE contests
    ADD COLUMN shuffle_questions BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN shuffle_options BOOLEAN NOT NULL DEFAULT FALSE;
