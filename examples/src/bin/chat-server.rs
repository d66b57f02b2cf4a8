//! The reference chat server: the HTTP/WebSocket adapter over the chat
//! service, on SQLite by default.
//!
//! `cargo run --release -p examples --bin chat-server` serves
//! <http://127.0.0.1:8080> from `chat.db` in the working directory.
//! `--help` lists every flag; each also reads an environment variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chat_bus_redis::Redis;
use chat_core::{Chat, ChatConfig, GovernorLimiter, Rate, RateLimits, Store};
use chat_http::{ChatHttp, HttpConfig, TokenKeys, Webhook, WebhookConfig};
use chat_store_postgres::PgStore;
use chat_store_sqlite::SqliteStore;
use clap::Parser;
use tracing::{error, info, warn};

/// An embeddable real-time chat: accounts, direct messages, search, live delivery.
#[derive(Debug, Parser)]
#[command(version, about)]
#[command(group(clap::ArgGroup::new("jwt").multiple(true)))]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CHAT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Database URL: `sqlite://path/to/chat.db`, `sqlite::memory:`,
    /// `postgres://user:password@host:5432/database`, or `memory:` (the
    /// memory store: nothing kept).
    #[arg(
        long,
        env = "CHAT_DATABASE_URL",
        default_value = "sqlite://chat.db",
        global = true
    )]
    database_url: String,

    /// Redis URL (`redis://127.0.0.1:6379`): share live events with every
    /// other server on the same Redis and database. Without it, events stay
    /// in this process.
    #[arg(long, env = "CHAT_REDIS_URL")]
    redis_url: Option<String>,

    /// Prefix of this chat's Redis channels, so several chats can share one Redis.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat")]
    redis_prefix: String,

    /// Another origin allowed to call the API and open WebSockets, e.g.
    /// `https://chat.example.com` (repeat the flag for more). The server's
    /// own origin is always allowed.
    #[arg(
        long = "allowed-origin",
        env = "CHAT_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,

    /// A reverse proxy whose `X-Forwarded-For` is trusted (repeatable).
    #[arg(
        long = "trusted-proxy",
        env = "CHAT_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<IpAddr>,

    /// PEM certificate chain: serve HTTPS (with `--tls-key`).
    #[arg(long, env = "CHAT_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "CHAT_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// With TLS: also listen here for plain HTTP and redirect it to HTTPS.
    #[arg(long, env = "CHAT_REDIRECT_LISTEN", requires = "tls_cert")]
    redirect_listen: Option<SocketAddr>,

    /// Set when a TLS-terminating proxy serves this server over HTTPS:
    /// secure `__Host-` cookies and HSTS.
    #[arg(long, env = "CHAT_BEHIND_TLS")]
    behind_tls: bool,

    /// Serve Prometheus metrics at `/metrics` on this address (keep it
    /// private to the monitoring system).
    #[arg(long, env = "CHAT_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,

    /// Log filter, e.g. `info` or `chat_http=debug,info`.
    #[arg(long, env = "CHAT_LOG", default_value = "info")]
    log: String,

    /// Sessions unused for this many minutes end.
    #[arg(long, env = "CHAT_SESSION_IDLE_MINUTES", default_value_t = 7 * 24 * 60)]
    session_idle_minutes: u64,

    /// Sessions end this many hours after login.
    #[arg(long, env = "CHAT_SESSION_MAX_HOURS", default_value_t = 30 * 24)]
    session_max_hours: u64,

    /// Messages one user may send per second, sustained (bursts of 3 s worth).
    #[arg(long, env = "CHAT_SEND_RATE", default_value_t = 10)]
    send_rate: u32,

    /// Login attempts per username before one more every 30 s.
    #[arg(long, env = "CHAT_LOGIN_BURST", default_value_t = 10)]
    login_burst: u32,

    /// Login attempts per client address before one more every 2 s.
    #[arg(long, env = "CHAT_LOGIN_CLIENT_BURST", default_value_t = 30)]
    login_client_burst: u32,

    /// Signups per client address before one more every 10 minutes (a
    /// network allows four times as many).
    #[arg(long, env = "CHAT_SIGNUP_BURST", default_value_t = 5)]
    signup_burst: u32,

    /// IPv4 client addresses count together, for the limits per network,
    /// by this many leading bits (IPv6: a client is its /64, a network its
    /// /48).
    #[arg(long, env = "CHAT_IPV4_PREFIX", default_value_t = 24, value_parser = clap::value_parser!(u8).range(8..=32))]
    ipv4_prefix: u8,

    /// The most members a group may have.
    #[arg(long, env = "CHAT_MAX_GROUP_MEMBERS", default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(2..))]
    max_group_members: u32,

    /// Frames one WebSocket may send per second, sustained (bursts of 3 s
    /// worth); all of one user's WebSockets together, twice as many.
    #[arg(long, env = "CHAT_WS_FRAME_RATE", default_value_t = 20)]
    ws_frame_rate: u32,

    /// Open WebSockets one user may hold at once.
    #[arg(long, env = "CHAT_WS_SOCKETS_PER_USER", default_value_t = 16)]
    ws_sockets_per_user: usize,

    /// Milliseconds a WebSocket's writer waits after a frame for more to
    /// share its write (0: write at once).
    #[arg(long, env = "CHAT_WS_WRITE_DELAY_MS", default_value_t = 0)]
    ws_write_delay_ms: u64,

    /// Connections served at once, open WebSockets included; new ones past
    /// it are closed at once.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// A key that verifies the tokens your application signs for its users
    /// (repeatable): a file holding an HS256 secret (at least 32 bytes) or
    /// a PEM public key (RSA for RS256, P-256 for ES256, Ed25519 for
    /// EdDSA). The file's name without its extension is the key's `kid`.
    #[arg(
        long = "jwt-key",
        env = "CHAT_JWT_KEYS",
        value_delimiter = ',',
        group = "jwt"
    )]
    jwt_keys: Vec<PathBuf>,

    /// Your identity provider's JWKS URL (`https://…/.well-known/jwks.json`):
    /// its RSA, P-256 and Ed25519 signing keys verify tokens, chosen by
    /// `kid`, fetched at start and refreshed in the background (sooner
    /// when a token names a `kid` the set lacks).
    #[arg(long = "jwt-jwks-url", env = "CHAT_JWT_JWKS_URL", group = "jwt")]
    jwt_jwks_url: Option<String>,

    /// How often the JWKS is fetched again, in seconds.
    #[arg(long, env = "CHAT_JWT_JWKS_REFRESH_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    jwt_jwks_refresh_secs: u64,

    /// The `iss` every token must carry.
    #[arg(long, env = "CHAT_JWT_ISSUER", requires = "jwt")]
    jwt_issuer: Option<String>,

    /// The `aud` every token must carry (or include).
    #[arg(long, env = "CHAT_JWT_AUDIENCE", requires = "jwt")]
    jwt_audience: Option<String>,

    /// Password signup and login: `on`, or `off` for a chat whose users
    /// all come from your application's tokens.
    #[arg(long, env = "CHAT_PASSWORD_ACCOUNTS", default_value = "on", value_parser = ["on", "off"])]
    password_accounts: String,

    /// Where offline notices go: an HTTP(S) URL your application receives
    /// signed `POST`s on (see docs/embedding.md). Needs
    /// `--webhook-secret-file`.
    #[arg(long, env = "CHAT_WEBHOOK_URL", requires = "webhook_secret_file")]
    webhook_url: Option<String>,

    /// The file holding the webhook's signing secret (at least 16 bytes;
    /// surrounding whitespace trimmed).
    #[arg(long, env = "CHAT_WEBHOOK_SECRET_FILE", requires = "webhook_url")]
    webhook_secret_file: Option<PathBuf>,

    /// Seconds a member stays away with a message unread before the
    /// webhook hears of it (every message of the conversation meanwhile
    /// joins the same notice).
    #[arg(long, env = "CHAT_OFFLINE_DELAY_SECS", default_value_t = 30)]
    offline_delay_secs: u64,

    /// Put the message's text in offline notices (off: push payloads
    /// travel through third parties).
    #[arg(long, env = "CHAT_WEBHOOK_TEXT")]
    webhook_text: bool,

    /// Instead of serving, manage the database's keys of the server API or
    /// its administrators.
    #[command(subcommand)]
    command: Option<Command>,

    /// For load tests on a private network only: lifts every rate limit of
    /// the service (logins, signups, sends, typing, searches, connections),
    /// whatever the other limit flags say. Never in production.
    #[arg(long, env = "CHAT_LIFT_RATE_LIMITS")]
    lift_rate_limits: bool,
}

/// What the server does instead of serving.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Keys your back end uses to call the server API (`GET /api/feed`).
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Administrators: users who disable and enable accounts, delete any
    /// message and read the audit log (`/api/admin/…`). Only this command
    /// makes them; each grant is in the audit log.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Makes an existing user an administrator.
    Grant {
        /// Their username.
        username: String,
    },
    /// Takes the role away.
    Revoke {
        /// Their username.
        username: String,
    },
    /// Lists the administrators.
    List,
    /// Enables a disabled account (an administrator's too).
    Enable {
        /// Its username.
        username: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum ApiKeyCommand {
    /// Makes a key and prints it (on standard output, once: only its hash
    /// is kept).
    Create {
        /// What it may do: feed, send, groups, users (comma-separated or
        /// repeated).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// A name to know it by.
        #[arg(long, default_value = "api key")]
        name: String,
    },
    /// Lists every key (never a secret), revoked ones included.
    List,
    /// Revokes a key by its id: it stops working at once.
    Revoke {
        /// The key's id, as `list` shows it.
        id: i64,
    },
}

/// Runs `command` against the database and prints what it did: results on
/// standard output (the key, the list), for scripts to read.
#[allow(
    clippy::print_stdout,
    reason = "the subcommands answer on standard output"
)]
async fn manage(args: &Args, command: &Command) -> Result<(), String> {
    let store = open_store(&args.database_url).await?;
    let chat = Chat::builder(store).build();
    let action = match command {
        Command::ApiKey(action) => action,
        Command::Admin(action) => return manage_admins(&chat, action).await,
    };
    match action {
        ApiKeyCommand::Create { scope, name } => {
            let (key, secret) = chat
                .create_api_key(name, &scope.join(","))
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", secret.expose());
            eprintln!(
                "key {} ({}) made, with scopes {}: it is shown only now",
                key.id,
                key.name,
                key.scopes.to_list()
            );
        }
        ApiKeyCommand::List => {
            println!("id\tname\tscopes\tcreated\trevoked");
            for key in chat.api_keys().await.map_err(|e| e.to_string())? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    key.id,
                    key.name,
                    key.scopes.to_list(),
                    key.created_at.to_rfc3339(),
                    key.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            chat.revoke_api_key(*id)
                .await
                .map_err(|e| format!("key {id}: {e}"))?;
            eprintln!("key {id} revoked");
        }
    }
    Ok(())
}

/// Runs an `admin` subcommand: the list on standard output, what changed
/// on standard error.
#[allow(
    clippy::print_stdout,
    reason = "the subcommands answer on standard output"
)]
async fn manage_admins(chat: &Chat, action: &AdminCommand) -> Result<(), String> {
    match action {
        AdminCommand::Grant { username } => {
            let account = chat
                .grant_admin(username)
                .await
                .map_err(|e| format!("{username}: {e}"))?;
            eprintln!("{} is an administrator", account.user().username());
        }
        AdminCommand::Revoke { username } => {
            let account = chat
                .revoke_admin(username)
                .await
                .map_err(|e| format!("{username}: {e}"))?;
            eprintln!(
                "{} is no longer an administrator",
                account.user().username()
            );
        }
        AdminCommand::Enable { username } => {
            let account = chat
                .enable_account_as_operator(username)
                .await
                .map_err(|e| format!("{username}: {e}"))?;
            eprintln!("{}'s account is enabled", account.user().username());
        }
        AdminCommand::List => {
            for user in chat.admins().await.map_err(|e| e.to_string())? {
                println!("{}", user.username());
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let done = match &args.command {
        Some(command) => manage(&args, command).await,
        None => run(args).await,
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            std::process::ExitCode::FAILURE
        }
    }
}

impl Args {
    /// The rate limits the flags set.
    fn limits(&self) -> RateLimits {
        if self.lift_rate_limits {
            return RateLimits::all(Rate::new(u32::MAX, Duration::from_micros(1)));
        }
        let defaults = RateLimits::default();
        let send_rate = self.send_rate.max(1);
        RateLimits {
            send_per_user: Rate::new(send_rate * 3, Duration::from_secs(1) / send_rate),
            login_per_username: Rate::new(
                self.login_burst.max(1),
                defaults.login_per_username.every,
            ),
            login_per_client: Rate::new(
                self.login_client_burst.max(1),
                defaults.login_per_client.every,
            ),
            signup_per_client: Rate::new(
                self.signup_burst.max(1),
                defaults.signup_per_client.every,
            ),
            signup_per_network: Rate::new(
                self.signup_burst.max(1).saturating_mul(4),
                defaults.signup_per_network.every,
            ),
            ..defaults
        }
    }

    /// The service configuration the flags set.
    fn chat_config(&self) -> ChatConfig {
        ChatConfig::default()
            .with_session_idle_timeout(Duration::from_secs(self.session_idle_minutes.max(1) * 60))
            .with_session_absolute_timeout(Duration::from_secs(
                self.session_max_hours.max(1) * 3600,
            ))
            .with_ipv4_prefix(self.ipv4_prefix)
            .with_max_group_members(self.max_group_members as usize)
            .with_offline_notices(
                Duration::from_secs(self.offline_delay_secs),
                self.webhook_text,
            )
    }

    /// The webhook the flags name, if any, started.
    fn webhook(&self) -> Result<Option<Arc<Webhook>>, String> {
        let (Some(url), Some(path)) = (&self.webhook_url, &self.webhook_secret_file) else {
            return Ok(None);
        };
        let secret = std::fs::read(path)
            .map_err(|e| format!("--webhook-secret-file {}: {e}", path.display()))?;
        let secret = secret.trim_ascii().to_vec();
        if secret.len() < 16 {
            return Err("--webhook-secret-file: the secret must be at least 16 bytes".into());
        }
        Webhook::start(WebhookConfig::new(url, secret))
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// The token keys the flags name, if any; a JWKS URL's fetched once
    /// before this returns.
    async fn token_keys(&self) -> Result<Option<TokenKeys>, String> {
        if self.jwt_keys.is_empty() && self.jwt_jwks_url.is_none() {
            return Ok(None);
        }
        let mut keys = TokenKeys::new();
        if let Some(url) = &self.jwt_jwks_url {
            let every = Duration::from_secs(self.jwt_jwks_refresh_secs);
            let jwks = chat_http::Jwks::start(url, every)
                .await
                .map_err(|e| format!("--jwt-jwks-url: {e}"))?;
            keys = keys.with_jwks(jwks);
        }
        for path in &self.jwt_keys {
            keys = keys
                .with_key_file(path)
                .map_err(|e| format!("--jwt-key {}: {e}", path.display()))?;
        }
        if let Some(issuer) = &self.jwt_issuer {
            keys = keys.issuer(issuer);
        }
        if let Some(audience) = &self.jwt_audience {
            keys = keys.audience(audience);
        }
        Ok(Some(keys))
    }

    /// The adapter configuration the flags set (`tls`: served over TLS here).
    fn http_config(&self, tls: bool) -> HttpConfig {
        let mut config = HttpConfig::default();
        config.password_accounts = self.password_accounts == "on";
        config.allowed_origins = self.allowed_origins.clone();
        config.trusted_proxies = self.trusted_proxies.clone();
        let frame_rate = self.ws_frame_rate.max(1);
        config.websocket.frames_per_second = frame_rate;
        config.websocket.frame_burst = frame_rate.saturating_mul(3);
        config.websocket.user_frames_per_second = frame_rate.saturating_mul(2);
        config.websocket.max_per_user = self.ws_sockets_per_user.max(1);
        config.websocket.write_delay = Duration::from_millis(self.ws_write_delay_ms);
        config.tls = self.behind_tls || tls;
        config.max_connections = self.max_connections as usize;
        config
    }
}

async fn run(args: Args) -> Result<(), String> {
    let store = open_store(&args.database_url).await?;
    let limits = args.limits();
    let mut builder = Chat::builder(Arc::clone(&store)).config(args.chat_config());
    let webhook = args.webhook()?;
    if let Some(webhook) = &webhook {
        info!(to = %webhook, "offline notices go to the webhook");
        builder = builder.offline_notifier(Arc::clone(webhook) as _);
    }
    if let Some(url) = &args.redis_url {
        let prefix = &args.redis_prefix;
        // Every process on this database seals its events with the same
        // key, kept in the database: nobody else who can publish on Redis
        // can make them deliver anything.
        let mut candidate = [0u8; 32];
        getrandom::fill(&mut candidate).map_err(|e| e.to_string())?;
        let key = store
            .shared_secret("bus-event-key-v1", &candidate)
            .await
            .map_err(|e| e.to_string())?;
        let redis = Redis::builder(url)
            .prefix(prefix)
            .signing_key(key)
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        let bus = redis.bus().await.map_err(|e| e.to_string())?;
        info!("live events, presence and rate limits go through Redis");
        builder = builder
            .bus(Arc::new(bus))
            .limiter(Arc::new(redis.limiter(limits)))
            .presence(redis.presence());
    } else {
        builder = builder.limiter(Arc::new(GovernorLimiter::new(limits)));
    }
    let chat = builder.build();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(chat_http::load_tls(cert, key).map_err(|e| e.to_string())?),
        _ => None,
    };
    let http = {
        let mut config = args.http_config(tls.is_some());
        config.tokens = args.token_keys().await?.map(Arc::new);
        config.webhook = webhook;
        if let Some(keys) = &config.tokens {
            info!(
                keys = keys.len(),
                "accepting tokens signed by the host application"
            );
        }
        ChatHttp::new(chat.clone(), config).map_err(|e| e.to_string())?
    };

    let listener = bind(args.listen).await?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(purge_sessions(chat));
    if let Some(metrics) = args.metrics_listen {
        let listener = bind(metrics).await?;
        let metrics = listener.local_addr().map_err(|e| e.to_string())?;
        info!("metrics at http://{metrics}/metrics");
        tokio::spawn(chat_http::serve_metrics(
            listener,
            http.clone(),
            shutdown_signal(),
        ));
    }
    let served = match tls {
        Some(tls) => {
            if let Some(redirect) = args.redirect_listen {
                let plain = bind(redirect).await?;
                let redirect = plain.local_addr().map_err(|e| e.to_string())?;
                info!("redirecting http://{redirect}/ to HTTPS");
                tokio::spawn(chat_http::redirect_to_https(
                    plain,
                    address.port(),
                    shutdown_signal(),
                ));
            }
            info!("chat server listening; open https://{address}/");
            chat_http::serve_tls(listener, http, tls, shutdown_signal()).await
        }
        None => {
            info!("chat server listening; open http://{address}/");
            chat_http::serve(listener, http, shutdown_signal()).await
        }
    };
    served.map_err(|e| e.to_string())?;
    info!("stopped");
    Ok(())
}

async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))
}

async fn open_store(url: &str) -> Result<Arc<dyn Store>, String> {
    if url == "memory:" {
        return Ok(Arc::new(chat_core::MemoryStore::new()));
    }
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url).await.map_err(|e| e.to_string())?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = PgStore::open(url).await.map_err(|e| e.to_string())?;
        return Ok(Arc::new(store));
    }
    Err("unsupported --database-url: expected sqlite://…, postgres://… or memory:".into())
}

/// Deletes expired sessions every five minutes.
async fn purge_sessions(chat: Chat) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    loop {
        every.tick().await;
        match chat.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => info!(sessions = n, "expired sessions deleted"),
            Err(e) => warn!(error = %e, "could not purge expired sessions"),
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("chat-server").chain(flags.iter().copied())).unwrap()
    }

    #[test]
    fn without_flags_the_defaults_of_the_libraries_run() {
        let args = parse(&[]);
        assert_eq!(args.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(args.database_url, "sqlite://chat.db");
        assert_eq!(args.limits(), RateLimits::default());
        assert_eq!(args.chat_config(), ChatConfig::default());
        let http = args.http_config(false);
        let defaults = HttpConfig::default();
        assert_eq!(
            http.websocket.frames_per_second,
            defaults.websocket.frames_per_second
        );
        assert_eq!(http.websocket.frame_burst, defaults.websocket.frame_burst);
        assert_eq!(
            http.websocket.user_frames_per_second,
            defaults.websocket.user_frames_per_second
        );
        assert_eq!(http.websocket.max_per_user, defaults.websocket.max_per_user);
        assert_eq!(http.websocket.write_delay, defaults.websocket.write_delay);
        assert_eq!(http.max_connections, defaults.max_connections);
        assert!(!http.tls);
    }

    #[test]
    fn each_flag_changes_its_figure() {
        let args = parse(&[
            "--send-rate",
            "4",
            "--login-burst",
            "3",
            "--login-client-burst",
            "7",
            "--session-idle-minutes",
            "90",
            "--session-max-hours",
            "5",
            "--ws-frame-rate",
            "8",
            "--ws-sockets-per-user",
            "2",
            "--ws-write-delay-ms",
            "6",
            "--behind-tls",
            "--allowed-origin",
            "https://a.example,https://b.example",
            "--trusted-proxy",
            "10.0.0.1",
            "--signup-burst",
            "2",
            "--ipv4-prefix",
            "16",
            "--max-group-members",
            "10000",
            "--max-connections",
            "300",
        ]);
        let limits = args.limits();
        assert_eq!(
            limits.send_per_user,
            Rate::new(12, Duration::from_millis(250))
        );
        assert_eq!(
            limits.login_per_username,
            Rate::new(3, Duration::from_secs(30))
        );
        assert_eq!(
            limits.login_per_client,
            Rate::new(7, Duration::from_secs(2))
        );
        assert_eq!(
            limits.typing_per_user,
            RateLimits::default().typing_per_user
        );
        let chat = args.chat_config();
        assert_eq!(chat.session_idle_timeout, Duration::from_secs(90 * 60));
        assert_eq!(chat.session_absolute_timeout, Duration::from_secs(5 * 3600));
        assert_eq!(chat.ipv4_prefix, 16);
        assert_eq!(chat.max_group_members, 10_000);
        assert_eq!(
            limits.signup_per_client,
            Rate::new(2, Duration::from_secs(600))
        );
        assert_eq!(
            limits.signup_per_network,
            Rate::new(8, Duration::from_secs(180))
        );
        let http = args.http_config(false);
        assert_eq!(
            (
                http.websocket.frames_per_second,
                http.websocket.frame_burst,
                http.websocket.user_frames_per_second
            ),
            (8, 24, 16)
        );
        assert_eq!(http.websocket.max_per_user, 2);
        assert_eq!(http.websocket.write_delay, Duration::from_millis(6));
        assert!(http.tls, "--behind-tls");
        assert_eq!(http.max_connections, 300);
        assert_eq!(
            http.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(
            http.trusted_proxies,
            ["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }

    #[tokio::test]
    async fn token_flags_load_keys_and_password_accounts_switch_off() {
        let dir = std::env::temp_dir().join(format!("chat-server-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("main.secret");
        std::fs::write(&secret, "a secret of at least thirty-two bytes\n").unwrap();
        let short = dir.join("short.secret");
        std::fs::write(&short, "too short").unwrap();
        let (secret, short) = (secret.to_str().unwrap(), short.to_str().unwrap());
        let defaults = parse(&[]);
        assert!(defaults.token_keys().await.unwrap().is_none());
        assert!(defaults.http_config(false).password_accounts);
        let args = parse(&[
            "--jwt-key",
            secret,
            "--jwt-issuer",
            "https://auth.example/",
            "--jwt-audience",
            "chat",
            "--password-accounts",
            "off",
        ]);
        let keys = args.token_keys().await.unwrap().unwrap();
        assert_eq!(keys.len(), 1);
        let shown = format!("{keys:?}");
        assert!(
            shown.contains("\"main\"") && shown.contains("https://auth.example/"),
            "{shown}"
        );
        assert!(!args.http_config(false).password_accounts);
        let refused = parse(&["--jwt-key", short]).token_keys().await.unwrap_err();
        assert!(refused.contains("at least 32 bytes"), "{refused}");
        assert!(
            parse(&["--jwt-key", "/nonexistent/key.pem"])
                .token_keys()
                .await
                .is_err()
        );
        assert!(Args::try_parse_from(["chat-server", "--jwt-issuer", "x"]).is_err());
        // Files and a JWKS URL together.
        assert!(
            Args::try_parse_from([
                "chat-server",
                "--jwt-key",
                secret,
                "--jwt-jwks-url",
                "http://127.0.0.1:9/jwks",
                "--jwt-audience",
                "chat",
            ])
            .is_ok()
        );
        let refused = parse(&["--jwt-jwks-url", "http://idp.example/jwks"])
            .token_keys()
            .await
            .unwrap_err();
        assert!(refused.contains("https"), "{refused}");
        let refused = parse(&["--jwt-jwks-url", "ftp://idp.example/jwks"])
            .token_keys()
            .await
            .unwrap_err();
        assert!(refused.contains("--jwt-jwks-url"), "{refused}");
        // A provider that is down at start: the server starts, without
        // keys until it answers.
        let down = parse(&[
            "--jwt-jwks-url",
            "http://127.0.0.1:9/jwks",
            "--jwt-issuer",
            "x",
        ]);
        let keys = down.token_keys().await.unwrap().unwrap();
        assert_eq!(keys.len(), 0);
        assert!(Args::try_parse_from(["chat-server", "--password-accounts", "maybe"]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn webhook_flags_start_a_webhook_and_set_the_offline_delay() {
        assert!(parse(&[]).webhook().unwrap().is_none());
        assert_eq!(
            parse(&[]).chat_config().offline_delay,
            Duration::from_secs(30)
        );
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("webhook.secret");
        std::fs::write(&secret, "a webhook secret of some length\n").unwrap();
        let secret = secret.to_str().unwrap();
        let args = parse(&[
            "--webhook-url",
            "http://127.0.0.1:9/hooks",
            "--webhook-secret-file",
            secret,
            "--offline-delay-secs",
            "5",
            "--webhook-text",
        ]);
        assert!(args.webhook().unwrap().is_some());
        let chat = args.chat_config();
        assert_eq!(
            (chat.offline_delay, chat.offline_text),
            (Duration::from_secs(5), true)
        );
        let short = dir.path().join("short");
        std::fs::write(&short, "short").unwrap();
        let short = short.to_str().unwrap();
        let refused = parse(&["--webhook-url", "http://x/", "--webhook-secret-file", short]);
        assert!(refused.webhook().is_err());
        let refused = parse(&["--webhook-url", "ftp://x/", "--webhook-secret-file", secret]);
        assert!(refused.webhook().is_err());
        assert!(Args::try_parse_from(["chat-server", "--webhook-url", "http://x/"]).is_err());
    }

    #[test]
    fn tls_flags_come_in_pairs() {
        let alone = ["chat-server", "--tls-cert", "cert.pem"];
        assert!(Args::try_parse_from(alone).is_err());
        let redirect = ["chat-server", "--redirect-listen", "127.0.0.1:80"];
        assert!(Args::try_parse_from(redirect).is_err());
        assert!(
            parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"])
                .http_config(true)
                .tls
        );
    }

    #[tokio::test]
    async fn memory_is_a_store_and_other_urls_are_refused() {
        let store = open_store("memory:").await.unwrap();
        store.ping().await.unwrap();
        assert!(open_store("mysql://localhost/chat").await.is_err());
    }

    #[test]
    fn lifting_the_rate_limits_lifts_every_one() {
        let args = Args::parse_from(["chat-server", "--lift-rate-limits", "--login-burst", "3"]);
        let limits = args.limits();
        for action in chat_core::Action::ALL {
            assert!(limits.rate(action).burst >= 1_000_000, "{action:?}");
        }
        assert!(!Args::parse_from(["chat-server"]).lift_rate_limits);
    }
}
