//! Users: creating them one at a time or in bulk, finding them by name or id.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{conflict_as, on_pool, Result, Store, StoreError, CHUNK};
use crate::model::{Id, Role, User};

/// A new user whose password is already hashed.
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
}

impl Store {
    pub async fn insert_user(&self, user: &UserRow, now: DateTime<Utc>) -> Result<User> {
        let sql = "INSERT INTO users (username, password_hash, role, created_at)
                   VALUES ($1, $2, $3, $4) RETURNING id";
        let id: Id = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(now)
            .fetch_one(pool)
            .await)
        .map_err(conflict_as(|| {
            format!("username {:?} is taken", user.username)
        }))?;
        Ok(User {
            id,
            username: user.username.clone(),
            role: user.role,
        })
    }

    /// Inserts all users in one transaction, or none. A taken username is reported with the
    /// index of the first entry that has it.
    pub async fn insert_users(&self, users: &[UserRow], now: DateTime<Utc>) -> Result<Vec<User>> {
        let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
        let mut ids: HashMap<String, Id> = HashMap::with_capacity(users.len());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in names.chunks(CHUNK) {
                let mut q = QueryBuilder::new("SELECT username FROM users WHERE username IN (");
                let mut list = q.separated(", ");
                for name in chunk {
                    list.push_bind(*name);
                }
                q.push(")");
                let taken: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                if let Some(i) = names.iter().position(|n| taken.iter().any(|t| t == n)) {
                    return Err(StoreError::Conflict(format!(
                        "users[{i}]: username {:?} is taken", names[i]
                    )));
                }
            }
            for chunk in users.chunks(CHUNK) {
                let mut q = QueryBuilder::new(
                    "INSERT INTO users (username, password_hash, role, created_at) ",
                );
                q.push_values(chunk, |mut row, u| {
                    row.push_bind(&u.username)
                        .push_bind(&u.password_hash)
                        .push_bind(u.role.as_str())
                        .push_bind(now);
                });
                q.push(" RETURNING id, username");
                let rows: Vec<(Id, String)> = q
                    .build_query_as()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(conflict_as(|| "a username is taken".to_string()))?;
                ids.extend(rows.into_iter().map(|(id, name)| (name, id)));
            }
            tx.commit().await?;
        });
        users
            .iter()
            .map(|u| {
                let id = ids
                    .get(&u.username)
                    .copied()
                    .ok_or_else(|| StoreError::Other(sqlx::Error::RowNotFound))?;
                Ok(User {
                    id,
                    username: u.username.clone(),
                    role: u.role,
                })
            })
            .collect()
    }

    /// The user and their password hash.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<(User, String)>> {
        let sql = "SELECT id, username, role, password_hash FROM users WHERE username = $1";
        let row: Option<(Id, String, String, String)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(username).fetch_optional(pool).await)?;
        row.map(|(id, username, role, hash)| {
            let role = Role::try_from(role)
                .map_err(|e| StoreError::Other(sqlx::Error::Decode(e.into())))?;
            Ok((User { id, username, role }, hash))
        })
        .transpose()
    }

    /// Which of the ids are users.
    pub async fn existing_users(&self, ids: &[Id]) -> Result<HashSet<Id>> {
        let mut found = HashSet::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let part: Vec<Id> = on_pool!(self, pool => {
                let mut q = QueryBuilder::new("SELECT id FROM users WHERE id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_scalar().fetch_all(pool).await
            })?;
            found.extend(part);
        }
        Ok(found)
    }
}
