-- Retries and receipts (API.md): a submission keeps the client's Idempotency-Key and the SHA-256
-- of its canonical answers (NULL for rows from before: computed when read), and the key pair
-- that signs receipts lives here, one row made at the first start.
ALTER TABLE submissions
    ADD COLUMN idempotency_key TEXT,
    ADD COLUMN answers_hash BYTEA;

CREATE TABLE signing_keys (
    name       TEXT PRIMARY KEY, -- 'receipts'
    algorithm  TEXT NOT NULL CHECK (algorithm = 'ed25519'),
    secret_key BYTEA NOT NULL,   -- the 32-byte seed; never leaves the server
    public_key BYTEA NOT NULL,   -- 32 bytes, derived from the seed
    created_at TIMESTAMPTZ NOT NULL
);
