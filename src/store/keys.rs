//! The key pair that signs receipts: made once, at the first start, and shared by every node.

use chrono::{DateTime, Utc};

use super::{on_pool, Result, Store};

/// The `signing_keys` row of the receipts' key.
const RECEIPTS: &str = "receipts";

impl Store {
    /// The receipts' key pair as stored, `(seed, public key)`. When there is none yet, the
    /// given one is stored first. Insert-if-absent, then read back: of several nodes starting
    /// at once on an empty database, one inserts and every one reads that one's key.
    pub async fn receipt_key(
        &self,
        seed: &[u8],
        public_key: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let insert =
            "INSERT INTO signing_keys (name, algorithm, secret_key, public_key, created_at)
                      VALUES ($1, 'ed25519', $2, $3, $4) ON CONFLICT (name) DO NOTHING";
        let select = "SELECT secret_key, public_key FROM signing_keys WHERE name = $1";
        Ok(on_pool!(self, pool => {
            sqlx::query(insert)
                .bind(RECEIPTS)
                .bind(seed)
                .bind(public_key)
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query_as(select).bind(RECEIPTS).fetch_one(pool).await?
        }))
    }
}
