//! Command line and settings. Every setting of `serve` is a flag with a `CONTESTD_…` environment
//! variable; `demo`'s own options (`--students`, `--base-url`) are flags only.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "contestd",
    version,
    about = "A contest runtime for timed quizzes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings for `serve`, the default command.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP and WebSocket API (the default).
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate(DbArgs),
    /// Create a demo course, students and an open contest, and print how to try them.
    Demo(DemoArgs),
    /// Check the schema's indexes, then refresh planner statistics (ANALYZE, optimize/VACUUM).
    Maintenance(DbArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "CONTESTD_DATABASE_URL",
        default_value = "sqlite://contestd.db"
    )]
    pub database_url: String,

    /// Most connections the pool opens.
    #[arg(long, env = "CONTESTD_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// Seconds to wait for a free database connection before answering 503.
    #[arg(long, env = "CONTESTD_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
}

impl DbArgs {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout_secs)
    }
}

#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Argon2id memory cost in KiB (OWASP's minimum is 19456).
    #[arg(long, env = "CONTESTD_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations (time cost).
    #[arg(long, env = "CONTESTD_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,

    /// Password hashes computed at once, off the async workers (default: the number of cores).
    #[arg(long, env = "CONTESTD_HASH_THREADS")]
    pub hash_threads: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Messages a contest actor may have waiting before requests get 503.
    #[arg(long, env = "CONTESTD_MAILBOX_CAPACITY", default_value_t = 8192)]
    pub mailbox_capacity: usize,

    /// Seconds a contest may sit unused before its actor is evicted.
    #[arg(long, env = "CONTESTD_CONTEST_IDLE_TTL_SECS", default_value_t = 1800)]
    pub contest_idle_ttl_secs: u64,

    /// Seconds after a contest's end before its actor is evicted even if still used now and then.
    #[arg(
        long,
        env = "CONTESTD_CONTEST_CLOSED_GRACE_SECS",
        default_value_t = 600
    )]
    pub contest_closed_grace_secs: u64,

    /// Threads the contest actors are spread over (default: the number of cores).
    #[arg(long, env = "CONTESTD_ACTOR_THREADS")]
    pub actor_threads: Option<usize>,

    /// Most submissions written in one transaction.
    #[arg(long, env = "CONTESTD_WRITER_BATCH_SIZE", default_value_t = 512)]
    pub writer_batch_size: usize,

    /// Milliseconds the writer waits for a batch to fill before writing it.
    #[arg(long, env = "CONTESTD_WRITER_DEADLINE_MS", default_value_t = 2)]
    pub writer_deadline_ms: u64,

    /// Submissions that may wait for the writer before requests get 503.
    #[arg(long, env = "CONTESTD_WRITER_QUEUE", default_value_t = 20_000)]
    pub writer_queue: usize,

    /// Milliseconds between the `state` frames sent to WebSocket clients.
    #[arg(long, env = "CONTESTD_WS_TICK_MS", default_value_t = 1000)]
    pub ws_tick_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct WsArgs {
    /// Seconds between the pings the server sends on each WebSocket.
    #[arg(long, env = "CONTESTD_WS_PING_SECS", default_value_t = 10)]
    pub ws_ping_secs: u64,

    /// Seconds without any answer (pong or other frame) before a WebSocket is closed.
    #[arg(long, env = "CONTESTD_WS_TIMEOUT_SECS", default_value_t = 30)]
    pub ws_timeout_secs: u64,

    /// WebSockets one user may hold open at once; opening one more closes their oldest.
    #[arg(long, env = "CONTESTD_WS_PER_USER", default_value_t = 5)]
    pub ws_per_user: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ProtectArgs {
    /// Requests per minute each authenticated user may make (the sustained rate).
    #[arg(long, env = "CONTESTD_QUOTA_PER_MINUTE", default_value_t = 120)]
    pub quota_per_minute: u32,

    /// Requests an authenticated user may make at once above the rate.
    #[arg(long, env = "CONTESTD_QUOTA_BURST", default_value_t = 30)]
    pub quota_burst: u32,

    /// Login attempts per minute per client address and per username (also the burst).
    #[arg(long, env = "CONTESTD_LOGIN_PER_MINUTE", default_value_t = 10)]
    pub login_per_minute: u32,

    /// Failed authentications (unknown, expired or revoked tokens) per minute per client
    /// address (also the burst); past it such requests get 429 before any database read.
    #[arg(long, env = "CONTESTD_BAD_TOKEN_PER_MINUTE", default_value_t = 30)]
    pub bad_token_per_minute: u32,

    /// Header holding the client's address as a proxy appends it (e.g. `X-Forwarded-For`);
    /// set it only behind a proxy that appends to it. Unset: the TCP peer's address.
    #[arg(long, env = "CONTESTD_CLIENT_ADDRESS_HEADER")]
    pub client_address_header: Option<String>,

    /// Proxies in front of contestd that append to the address header: the client address is
    /// the entry this many places from the right (1: the one the nearest proxy added).
    #[arg(long, env = "CONTESTD_TRUSTED_PROXY_HOPS", default_value_t = 1)]
    pub trusted_proxy_hops: usize,

    /// Seconds a shutdown (SIGTERM, Ctrl-C) may take: finishing requests, closing WebSockets
    /// and writing queued submissions.
    #[arg(long, env = "CONTESTD_SHUTDOWN_SECS", default_value_t = 30)]
    pub shutdown_secs: u64,

    /// Seconds a node keeps serving after SIGTERM while `/health/ready` answers 503, so a
    /// proxy's health checks move traffic away before it stops accepting (behind a proxy: a
    /// little more than the checks' interval times their fall count).
    #[arg(long, env = "CONTESTD_DRAIN_SECS", default_value_t = 0)]
    pub drain_secs: u64,

    /// How often the database is checked for `/health` (each check times out within 1 s).
    #[arg(long, env = "CONTESTD_HEALTH_CHECK_MS", default_value_t = 1000)]
    pub health_check_ms: u64,
}

#[cfg(test)]
impl ProtectArgs {
    /// The defaults, as the command line gives them.
    pub fn defaults() -> Self {
        let cli = Cli::parse_from(["contestd"]);
        cli.serve.protect
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub passwords: PasswordArgs,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    #[command(flatten)]
    pub ws: WsArgs,

    #[command(flatten)]
    pub protect: ProtectArgs,

    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "CONTESTD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Connections the kernel may hold waiting to be accepted (capped by net.core.somaxconn):
    /// a whole class connecting at the start must not find the queue full.
    #[arg(long, env = "CONTESTD_LISTEN_BACKLOG", default_value_t = 4096)]
    pub listen_backlog: u32,

    /// HTTP worker threads (default: the number of cores).
    #[arg(long, env = "CONTESTD_WORKERS")]
    pub workers: Option<usize>,

    /// Connections each HTTP worker holds at most (WebSockets included); past it, new ones wait
    /// in the listen backlog.
    #[arg(long, env = "CONTESTD_MAX_CONNECTIONS", default_value_t = 25_000)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers (408, then the connection closes).
    #[arg(long, env = "CONTESTD_HEADER_TIMEOUT_SECS", default_value_t = 5)]
    pub header_timeout_secs: u64,

    /// Seconds a request body has to arrive once its handler reads it (408, then the
    /// connection closes).
    #[arg(long, env = "CONTESTD_BODY_TIMEOUT_SECS", default_value_t = 10)]
    pub body_timeout_secs: u64,

    /// Seconds an idle keep-alive connection stays open between requests.
    #[arg(long, env = "CONTESTD_KEEP_ALIVE_SECS", default_value_t = 5)]
    pub keep_alive_secs: u64,

    /// Password of the `admin` user created on first start; a random one is printed if unset.
    #[arg(long, env = "CONTESTD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Lifetime of a login token, in seconds.
    #[arg(long, env = "CONTESTD_TOKEN_TTL_SECS", default_value_t = 12 * 3600)]
    pub token_ttl_secs: u64,

    /// Tokens kept in the in-memory lookup cache.
    #[arg(long, env = "CONTESTD_TOKEN_CACHE_SIZE", default_value_t = 100_000)]
    pub token_cache_size: usize,

    /// Seconds a cached token is trusted before it is read again from the database. Unset:
    /// until the token expires or is revoked (logout removes it at once on this node).
    #[arg(long, env = "CONTESTD_TOKEN_CACHE_TTL_SECS")]
    pub token_cache_ttl_secs: Option<u64>,

    /// Log output format.
    #[arg(long, env = "CONTESTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

impl ServeArgs {
    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(cores)
    }
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub passwords: PasswordArgs,

    /// Number of demo students (`student0001`, …).
    #[arg(long, default_value_t = 100)]
    pub students: u32,

    /// Password of the `admin` user if this creates it; a random one is printed if unset.
    #[arg(long, env = "CONTESTD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Password given to every demo student.
    #[arg(long, env = "CONTESTD_DEMO_PASSWORD", default_value = "student-pass")]
    pub student_password: String,

    /// Base URL printed in the example curl lines.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
