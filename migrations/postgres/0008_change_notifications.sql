-- Several nodes on one database: every change a warm contest actor or a token cache may hold is
-- published on the channel `contestd_changes`, from the transaction that makes it (a NOTIFY is
-- delivered at commit, and never for a rolled-back change). Statement-level triggers, so a batch
-- of a thousand rows sends one notification per contest, not a thousand. Each payload is a small
-- JSON object naming what changed and `from`, the writer's application_name: a node names its
-- connections after itself and skips its own changes, which it applied already.

CREATE FUNCTION contestd_origin() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('application_name', true), '') $$;

-- What changed, named by one column of the changed rows: `contestd_notify_by(column, key)` sends
-- {"from": …, key: value} once per distinct value (contest_id or id as "contest": the
-- contest's warm actors reload it; course_id as "course": every warm contest of the course
-- reloads its enrollment).
CREATE FUNCTION contestd_notify_by() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v BIGINT;
BEGIN
    FOR v IN EXECUTE format('SELECT DISTINCT %I FROM changed', TG_ARGV[0]) LOOP
        PERFORM pg_notify('contestd_changes',
                          json_build_object('from', contestd_origin(), TG_ARGV[1], v)::text);
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
    EXECUTE FUNCTION contestd_notify_by('id', 'contest');

CREATE TRIGGER questions_inserted AFTER INSERT ON questions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');
CREATE TRIGGER questions_updated AFTER UPDATE ON questions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');
CREATE TRIGGER questions_deleted AFTER DELETE ON questions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');

CREATE TRIGGER enrollments_inserted AFTER INSERT ON enrollments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('course_id', 'course');
CREATE TRIGGER enrollments_updated AFTER UPDATE ON enrollments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('course_id', 'course');
CREATE TRIGGER enrollments_deleted AFTER DELETE ON enrollments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('course_id', 'course');

CREATE TRIGGER accommodations_inserted AFTER INSERT ON accommodations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');
CREATE TRIGGER accommodations_updated AFTER UPDATE ON accommodations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');
CREATE TRIGGER accommodations_deleted AFTER DELETE ON accommodations
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');

CREATE TRIGGER contest_starts_inserted AFTER INSERT ON contest_starts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');

-- Submissions (new ones, and a regrade's scores) and drafts (an auto-submission takes the
-- latest, wherever it was saved).
CREATE TRIGGER submissions_inserted AFTER INSERT ON submissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');
CREATE TRIGGER submissions_updated AFTER UPDATE ON submissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');
CREATE TRIGGER drafts_inserted AFTER INSERT ON drafts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');
CREATE TRIGGER drafts_updated AFTER UPDATE ON drafts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_by('contest_id', 'contest');

CREATE TRIGGER announcements_inserted AFTER INSERT ON announcements
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_announcements();

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION contestd_notify_sessions();
