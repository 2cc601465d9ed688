//! Configuration from command-line flags and `TOLLGATE_*` environment variables.

use crate::gateway::GatewayClient;
use std::path::PathBuf;

/// Where the database is.
#[derive(clap::Args, Debug, Clone)]
pub struct DbConfig {
    /// Folder for the SQLite database and the demo and signing keys.
    #[arg(long, env = "TOLLGATE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; a path or `sqlite://path` selects SQLite.
    /// Default: `tollgate.db` in the data directory.
    #[arg(long, env = "TOLLGATE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Database connections per process.
    #[arg(long, env = "TOLLGATE_DB_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,
}

impl DbConfig {
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => self.data_dir.join("tollgate.db").to_string_lossy().into_owned(),
        }
    }
}

/// Everything `tollgate serve` needs.
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "TOLLGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub db: DbConfig,
    /// The registry host that tokens log in to, as shown in `docker login` commands.
    #[arg(long, env = "TOLLGATE_REGISTRY_HOST", default_value = "localhost:5000")]
    pub registry_host: String,
    /// The identity provider's issuer (`iss`). Setting it turns demo mode off.
    #[arg(long, env = "TOLLGATE_ISSUER")]
    pub issuer: Option<String>,
    /// The issuer's JWKS URL. Default: `<issuer>/.well-known/jwks.json`.
    #[arg(long, env = "TOLLGATE_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The audience (`aud`) that bearer tokens must name.
    #[arg(long, env = "TOLLGATE_AUDIENCE", default_value = "tollgate")]
    pub audience: String,
    /// The built single-page app, served at `/`.
    #[arg(long, env = "TOLLGATE_WEB_DIR", default_value = "frontend/dist")]
    pub web_dir: PathBuf,
    /// HTTP worker threads. Default: one per core.
    #[arg(long, env = "TOLLGATE_WORKERS")]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub gateway: GatewayConfig,
}

/// The registry gateway's endpoints: introspection and Docker registry tokens.
#[derive(clap::Args, Debug, Clone)]
pub struct GatewayConfig {
    /// Clients of `/oauth2/introspect`, `id:secret` separated by commas (demo mode adds
    /// `registry-gateway:demo-gateway-secret`).
    #[arg(long = "gateway-clients", env = "TOLLGATE_GATEWAY_CLIENTS", value_delimiter = ',', value_parser = GatewayClient::parse)]
    pub clients: Vec<GatewayClient>,
    /// The registry's `service` name; registry tokens are for it only.
    #[arg(long, env = "TOLLGATE_REGISTRY_SERVICE", default_value = "tollgate-registry")]
    pub registry_service: String,
    /// The `iss` of registry tokens (the registry's `auth.token.issuer`).
    #[arg(long, env = "TOLLGATE_TOKEN_ISSUER", default_value = "tollgate")]
    pub token_issuer: String,
    /// Lifetime of registry tokens in seconds (60-3600).
    #[arg(long, env = "TOLLGATE_REGISTRY_TOKEN_TTL", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(60..=3600))]
    pub token_ttl: u64,
    /// PEM (PKCS#8) ES256 key that signs registry tokens. Default: created in the data directory.
    #[arg(long, env = "TOLLGATE_TOKEN_KEY_FILE")]
    pub token_key_file: Option<PathBuf>,
    /// Its certificate, for the registry's `rootcertbundle`. Default: created beside the key.
    #[arg(long, env = "TOLLGATE_TOKEN_CERT_FILE")]
    pub token_cert_file: Option<PathBuf>,
    /// Failed secret checks allowed per minute and client address at `/auth/token` (0: no limit).
    #[arg(long, env = "TOLLGATE_TOKEN_FAILURES_PER_MINUTE", default_value_t = 60)]
    pub token_failures_per_minute: u32,
    /// The same for `/oauth2/introspect`, where the address is the gateway's (0: no limit).
    #[arg(long, env = "TOLLGATE_INTROSPECT_FAILURES_PER_MINUTE", default_value_t = 6000)]
    pub introspect_failures_per_minute: u32,
    /// How often `last_used_at` is written, in milliseconds.
    #[arg(long, env = "TOLLGATE_LAST_USED_FLUSH_MS", default_value_t = 5000)]
    pub last_used_flush_ms: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            clients: Vec::new(),
            registry_service: "tollgate-registry".into(),
            token_issuer: "tollgate".into(),
            token_ttl: 300,
            token_key_file: None,
            token_cert_file: None,
            token_failures_per_minute: 60,
            introspect_failures_per_minute: 6000,
            last_used_flush_ms: 5000,
        }
    }
}

impl Config {
    pub fn demo_mode(&self) -> bool {
        self.issuer.as_deref().is_none_or(str::is_empty)
    }

    /// A configuration for `listen` and `database_url` with every other setting at its default.
    pub fn with(listen: &str, data_dir: PathBuf, database_url: Option<String>) -> Config {
        Config {
            listen: listen.to_owned(),
            db: DbConfig {
                data_dir,
                database_url,
                pool_size: 8,
            },
            registry_host: "localhost:5000".into(),
            issuer: None,
            jwks_url: None,
            audience: "tollgate".into(),
            web_dir: PathBuf::from("frontend/dist"),
            workers: None,
            gateway: GatewayConfig::default(),
        }
    }
}
