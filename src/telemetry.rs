//! Logging: `tracing` with pretty or JSON output; the level comes from `RUST_LOG` (default
//! `info`). Each request logs one line (target `contestd::http`) inside a span holding its
//! request id, method and route template; `RUST_LOG=info,contestd::http=warn` keeps only
//! server errors. Log lines never carry passwords, tokens or query strings.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    // A second init (tests start many servers in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
