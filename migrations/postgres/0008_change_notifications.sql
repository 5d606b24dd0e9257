-- Several nodes on one database: every change a warm contest actor or a token cache may hold is
-- published on the channel `contestd_changes`, from the transaction that makes it (a NOTIFY is
-- delivered at commit, and never for a rolled-back change). Statement-level triggers, so a batch
-- of a thousand rows sends one notification per contest, not a thousand. Each payload is a small
-- JSON object naming what changed and `from`, the writer's application_name: a node names its
-- connections after itself and skips its own changes, which it applied already.

CREATE FUNCTION contestd_origin() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('application_name', true), '') $$;

-- Rows of a table with a contest_id column: the contest's warm actors reload it.
CREATE FUNCTION contestd_notify_contest_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c BIGINT;
BEGIN
    FOR c IN SELECT DISTINCT contest_id FROM changed LOOP
        PERFORM pg_notify('contestd_changes',
                          json_build_object('from', contestd_origin(), 'contest', c)::text);
    END LOOP;
    RETURN NULL;
END $$;

-- The contests themselves (times, visibility, title, duration, results policy).
CREATE FUNCTION contestd_notify_contests() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c BIGINT;
BEGIN
    FOR c IN SELECT DISTINCT id FROM changed LOOP
        PERFORM pg_notify('contestd_changes',
                          json_build_object('from', contestd_origin(), 'contest', c)::text);
    END LOOP;
    RETURN NULL;
END $$;

-- Enrollments: every warm contest of the course reloads its enrollment.
CREATE FUNCTION contestd_notify_enrollments() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c BIGINT;
BEGIN
    FOR c IN SELECT DISTINCT course_id FROM changed LOOP
        PERFORM pg_notify('contestd_changes',
                          json_build_object('from', contestd_origin(), 'course', c)::text);
    END LOOP;
    RETURN NULL;
END $$;

-- Announcements: pushed to the sockets of the contest on every node.
CREATE FUNCTION contestd_notify_announcements() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN SELECT id, contest_id FROM changed ORDER BY id LOOP
        PERFORM pg_notify('contestd_changes',
                          json_build_object('from', contestd_origin(), 'contest', r.contest_id,
                                            'announcement', r.id)::text);
    END LOOP;
    RETURN NULL;
END $$;

-- Sessions ended before their time (a logout): every node forgets the token. Expired sessions
-- swept away need no notice: no node accepts an expired token.
CREATE FUNCTION contestd_notify_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN SELECT token_hash, user_id FROM changed WHERE expires_at > now() LOOP
        PERFORM pg_notify('contestd_changes',
                          json_build_object('from', contestd_origin(), 'user', r.user_id,
                                            'session', encode(r.token_hash, 'hex'))::text);
    END LOOP;
    RETURN NULL;
END $$;

-- A trigger with a transition table serves one event: one per event and table.
CREATE TRIGGER contests_changed AFTER UPDATE ON contests
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contests();

CREATE TRIGGER questions_inserted AFTER INSERT ON questions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();
CREATE TRIGGER questions_updated AFTER UPDATE ON questions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();
CREATE TRIGGER questions_deleted AFTER DELETE ON questions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();

CREATE TRIGGER enrollments_inserted AFTER INSERT ON enrollments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_enrollments();
CREATE TRIGGER enrollments_updated AFTER UPDATE ON enrollments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_enrollments();
CREATE TRIGGER enrollments_deleted AFTER DELETE ON enrollments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_enrollments();

CREATE TRIGGER accommodations_inserted AFTER INSERT ON accommodations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();
CREATE TRIGGER accommodations_updated AFTER UPDATE ON accommodations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();
CREATE TRIGGER accommodations_deleted AFTER DELETE ON accommodations
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();

CREATE TRIGGER contest_starts_inserted AFTER INSERT ON contest_starts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();

-- Submissions (new ones, and a regrade's scores) and drafts (an auto-submission takes the
-- latest, wherever it was saved).
CREATE TRIGGER submissions_inserted AFTER INSERT ON submissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();
CREATE TRIGGER submissions_updated AFTER UPDATE ON submissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();
CREATE TRIGGER drafts_inserted AFTER INSERT ON drafts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();
CREATE TRIGGER drafts_updated AFTER UPDATE ON drafts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_contest_rows();

CREATE TRIGGER announcements_inserted AFTER INSERT ON announcements
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_announcements();

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_sessions();
