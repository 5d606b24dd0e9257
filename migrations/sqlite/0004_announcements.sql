-- Announcements (API.md, "Announcements"): an admin's message to a contest's room, listed newest
-- first. Times are RFC 3339 text in UTC, so they sort; ids are never reused.
CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    contest_id INTEGER NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
    text       TEXT    NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    created_at TEXT    NOT NULL
);
CREATE INDEX idx_announcements_contest_time ON announcements (contest_id, created_at, id);
