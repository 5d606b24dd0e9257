//! The pages in a real browser (API.md's clients, `web/`): a test binary of its own, so that
//! `cargo test` runs it after (never beside) the API suite: a headless chromium per test takes
//! a core, and the API suite has timing claims (health during a login stampede) that must not
//! share the machine with it. The harness is the API suite's (`tests/api/support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
#[path = "../api/support/mod.rs"]
// Only part of the harness is used here.
#[allow(dead_code, unused_imports)]
mod support;

mod browser;
mod browser_admin;
mod browser_student;
