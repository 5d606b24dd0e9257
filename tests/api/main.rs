//! Integration tests: the HTTP contract of `/work/shared/API.md`, against a real server on
//! SQLite and on PostgreSQL (set `CONTESTD_TEST_POSTGRES_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

mod announcements;
mod auth;
mod contests;
mod courses;
mod crash;
mod drafts;
mod errors;
mod export;
mod fuzz;
mod health;
mod hostile;
mod metrics;
mod migrations;
mod nodes;
mod observability;
mod operations;
mod pages;
mod proxy;
mod questions;
mod quotas;
mod receipts;
mod retries;
mod runtime;
mod shutdown;
mod stampede;
mod submissions;
mod users;
mod windows;
mod ws;
