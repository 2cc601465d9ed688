//! Configuration from command-line flags and `TOLLGATE_*` environment variables.

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
        }
    }
}
