//! A node's listener for the changes other nodes commit (PostgreSQL LISTEN/NOTIFY): what
//! `/health` says of it, the node's id, and cutting its connection from the database side.

use serde_json::Value;
use sqlx::{Connection, PgConnection};

use super::database::postgres_url;
use super::{Db, TestApp};

impl TestApp {
    /// `/health`'s `listener` (`null` on SQLite), whatever the status: a node cut off from its
    /// database answers `503` with the same shape.
    pub async fn listener(&self) -> Value {
        let (_, health) = self.get("/health", None).await;
        health
            .get("listener")
            .unwrap_or_else(|| panic!("a `listener` in /health: {health}"))
            .clone()
    }

    /// This node's id: `listener.node` in `/health` (PostgreSQL).
    pub async fn node_id(&self) -> String {
        let listener = self.listener().await;
        listener["node"]
            .as_str()
            .unwrap_or_else(|| panic!("a string listener.node in /health: {listener}"))
            .to_string()
    }

    /// Terminates this node's listener connection from the database side
    /// (`pg_terminate_backend` on the backend whose `application_name` is
    /// `contestd-listener <node id>`), as a failover or a network cut would. Fails the test
    /// unless exactly one backend was terminated.
    pub async fn kill_listener(&self) {
        assert_eq!(self.db, Db::Postgres, "a PostgreSQL app");
        let name = format!("contestd-listener {}", self.node_id().await);
        let server_url = postgres_url().expect("a PostgreSQL test");
        let mut conn = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {server_url}: {e}"));
        let terminated: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&name)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("terminating {name:?}: {e}"));
        let _ = conn.close().await;
        assert_eq!(
            terminated,
            vec![true],
            "one backend named {name:?} terminated"
        );
    }
}
