//! contestd: a contest runtime for timed quizzes.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod error;
pub mod model;
pub mod observe;
pub mod quota;
pub mod receipts;
pub mod routes;
pub mod runtime;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
