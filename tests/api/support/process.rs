//! A server run as the built binary (`spawn_binary`): kill it, signal it, wait for it to exit,
//! read what it logged.

use std::process::{Command, ExitStatus};
use std::time::Duration;

use tempfile::TempDir;

use super::server::Server;
use super::time::wait_for_opt;
use super::TestApp;

impl TestApp {
    /// Kills a server started with `spawn_binary` at once (SIGKILL, as `kill -9`) and reaps it.
    pub fn kill(&self) {
        let Server::Process { child, .. } = &self.server else {
            panic!("only a server run as a process can be killed");
        };
        if let Some(mut child) = child.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id of a server started with `spawn_binary` (still running or not reaped).
    pub fn pid(&self) -> u32 {
        let Server::Process { child, .. } = &self.server else {
            panic!("only a server run as a process has a pid");
        };
        child.lock().as_ref().expect("the server was reaped").id()
    }

    /// Sends a signal (`"TERM"`, `"INT"`, …) to a server started with `spawn_binary`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed: {status}");
    }

    /// Waits for a server started with `spawn_binary` to exit and reaps it; fails the test
    /// (showing its logs, and killing it) if it is still running after `timeout`.
    pub async fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        let Server::Process { child, logs } = &self.server else {
            panic!("only a server run as a process exits");
        };
        let status = wait_for_opt(timeout, || {
            let mut child = child.lock();
            let status = child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if status.is_some() {
                child.take();
            }
            std::future::ready(status)
        })
        .await;
        status.unwrap_or_else(|| {
            self.kill();
            panic!(
                "contestd still running {timeout:?} after being asked to stop:\n{}",
                read_logs(logs)
            )
        })
    }

    /// Everything a server started with `spawn_binary` has written to stdout and stderr.
    pub fn logs(&self) -> String {
        let Server::Process { logs, .. } = &self.server else {
            panic!("only a server run as a process has captured logs");
        };
        read_logs(logs)
    }
}

/// What a server run as a process wrote to stdout, then to stderr.
pub(super) fn read_logs(logs: &TempDir) -> String {
    ["stdout", "stderr"]
        .iter()
        .map(|f| std::fs::read_to_string(logs.path().join(f)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}
