//! Configuration from command-line flags and `TOLLGATE_*` environment variables.

use crate::client_address::{AddressHeader, TrustedProxies};
use crate::gateway::forward::ForwardAuthProxy;
use std::path::PathBuf;

/// A setting that is present must say something: `TOLLGATE_ISSUER=` is a mistake, not an
/// absence, and is refused rather than read as "unset".
fn non_empty(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("is set but empty; give it a value or unset it".into())
    } else {
        Ok(text.to_owned())
    }
}

/// `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`); anything else, empty included,
/// is refused.
fn strict_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be `true` or `false`".into()),
    }
}

/// Settings at their defaults, as their declarations below say them (flag, environment
/// variable, default, help and check are declared once, on the field): the declarations parsed
/// with no flag given and no environment read. Every `Default` here is this.
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults").no_binary_name(true)).mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(std::iter::empty::<String>())
        .expect("every setting's default parses");
    T::from_arg_matches(&matches).expect("every setting's default parses")
}

/// `Default` for each group of settings: [`defaults`].
macro_rules! defaults_as_declared {
    ($($settings:ty),* $(,)?) => {$(
        impl Default for $settings {
            fn default() -> Self {
                defaults()
            }
        }
    )*};
}

defaults_as_declared!(
    DbConfig,
    SecretKeyConfig,
    WebhookConfig,
    HousekeepingConfig,
    OidcConfig,
    GatewayConfig
);

/// Where `tollgate serve` listens unless told: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Where the database is.
#[derive(clap::Args, Debug, Clone)]
pub struct DbConfig {
    /// Folder for the SQLite database and the demo and signing keys.
    #[arg(long, env = "TOLLGATE_DATA_DIR", default_value = "./data", value_parser = non_empty_path)]
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL (`sslmode` and `sslrootcert` as libpq reads them,
    /// for every connection); a path or `sqlite://path` selects SQLite. Default: `tollgate.db`
    /// in the data directory. Better from a file, `TOLLGATE_DATABASE_URL_FILE`: a password here
    /// is in the process' environment (or, as a flag, in its command line).
    #[arg(long, env = "TOLLGATE_DATABASE_URL", hide_env_values = true, value_parser = non_empty,
          conflicts_with = "database_url_file")]
    pub database_url: Option<String>,
    /// A file holding the database URL (its contents, a trailing newline trimmed).
    #[arg(long, env = "TOLLGATE_DATABASE_URL_FILE", value_parser = non_empty_path)]
    pub database_url_file: Option<PathBuf>,
    /// PostgreSQL: a URL straight to the server, for the notification connection (`LISTEN`) and
    /// the migrations; required when `TOLLGATE_DATABASE_URL` goes through a pooler in
    /// transaction mode (PgBouncer), where neither can work. Default: the database URL.
    #[arg(long, env = "TOLLGATE_NOTIFY_DATABASE_URL", hide_env_values = true, value_parser = non_empty,
          conflicts_with = "notify_database_url_file")]
    pub notify_database_url: Option<String>,
    /// A file holding the notification connection's URL.
    #[arg(long, env = "TOLLGATE_NOTIFY_DATABASE_URL_FILE", value_parser = non_empty_path)]
    pub notify_database_url_file: Option<PathBuf>,
    /// Database connections per process.
    #[arg(long, env = "TOLLGATE_DB_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,
}

fn non_empty_path(text: &str) -> Result<PathBuf, String> {
    non_empty(text).map(PathBuf::from)
}

/// A secret setting's value: given, or read from its file (a trailing newline trimmed). An
/// error names the setting and the file, never the value.
pub fn secret_setting(
    name: &str,
    given: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<Option<String>, String> {
    match (given, file) {
        (Some(value), _) => Ok(Some(value.to_owned())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{name}_FILE {}: {e}", path.display()))?;
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            if value.trim().is_empty() {
                return Err(format!("{name}_FILE {}: the file is empty", path.display()));
            }
            Ok(Some(value.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

impl DbConfig {
    /// The database URL: given, from its file, or the SQLite file in the data directory.
    pub fn url(&self) -> Result<String, String> {
        let given = secret_setting(
            "TOLLGATE_DATABASE_URL",
            self.database_url.as_deref(),
            self.database_url_file.as_deref(),
        )?;
        Ok(given.unwrap_or_else(|| self.data_dir.join("tollgate.db").to_string_lossy().into_owned()))
    }

    /// The notification connection's URL, when it is not the database URL.
    pub fn notify_url(&self) -> Result<Option<String>, String> {
        secret_setting(
            "TOLLGATE_NOTIFY_DATABASE_URL",
            self.notify_database_url.as_deref(),
            self.notify_database_url_file.as_deref(),
        )
    }

    /// Opens (and migrates) the database, with `pool` connections: an operator's command
    /// behind a transaction pooler migrates on the direct URL, as a serving node does.
    pub fn open(&self, pool: u32) -> Result<tollgate_store::Store, String> {
        tollgate_store::Store::open_beside(&self.url()?, pool, self.notify_url()?).map_err(|e| e.to_string())
    }
}

/// The key that seals recoverable secrets (webhook signing secrets) at rest.
#[derive(clap::Args, Debug, Clone)]
pub struct SecretKeyConfig {
    /// A file holding the key that seals webhook signing secrets in the database (AES-256-GCM):
    /// 32 random bytes in base64 (`openssl rand -base64 32`). Every node of a PostgreSQL
    /// database needs the same one. Default with SQLite: `secret.key` in the data directory,
    /// made on first start.
    #[arg(long, env = "TOLLGATE_SECRET_KEY_FILE", value_parser = non_empty_path)]
    pub secret_key_file: Option<PathBuf>,
    /// Files of previous keys (comma-separated), to open what they sealed until `tollgate
    /// secrets reseal` has sealed everything anew under the current key.
    #[arg(long, env = "TOLLGATE_SECRET_PREVIOUS_KEY_FILES", value_delimiter = ',')]
    pub secret_previous_key_files: Vec<PathBuf>,
}

impl GatewayConfig {
    /// The gateway clients, given or from their file.
    pub fn gateway_clients(&self) -> Result<Vec<String>, String> {
        let from_file = secret_setting("TOLLGATE_GATEWAY_CLIENTS", None, self.clients_file.as_deref())?;
        Ok(match from_file {
            Some(text) => text
                .split([',', '\n'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            None => self.clients.clone(),
        })
    }
}

impl SecretKeyConfig {
    /// The keys, read from their files (or, with SQLite and no file named, from the data
    /// directory, made there on first start). Errors name the file, never its contents.
    pub fn load(&self, db: &DbConfig) -> Result<tollgate_store::sealing::SealingKeys, String> {
        use tollgate_store::sealing::SealingKeys;
        let read = |path: &std::path::Path| -> Result<[u8; 32], String> {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            SealingKeys::parse_key(&text).map_err(|why| format!("{}: {why}", path.display()))
        };
        let current = match &self.secret_key_file {
            Some(path) => read(path).map_err(|e| format!("TOLLGATE_SECRET_KEY_FILE: {e}"))?,
            None if tollgate_store::Backend::of_url(&db.url()?) == tollgate_store::Backend::Postgres => {
                return Err(
                    "TOLLGATE_SECRET_KEY_FILE: with PostgreSQL every node must seal webhook secrets with \
                            the same key: make one (openssl rand -base64 32 > secret.key, mode 0600) and give its \
                            path to every node"
                        .into(),
                )
            }
            None => {
                let path = db.data_dir.join("secret.key");
                if !path.exists() {
                    use base64::Engine;
                    let mut key = [0u8; 32];
                    getrandom::fill(&mut key).map_err(|e| e.to_string())?;
                    tollgate_store::files::create_private_dir(&db.data_dir)
                        .map_err(|e| format!("{}: {e}", db.data_dir.display()))?;
                    let text = format!("{}\n", base64::engine::general_purpose::STANDARD.encode(key));
                    tollgate_store::files::write_private(&path, text.as_bytes())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
                read(&path)?
            }
        };
        let previous = self
            .secret_previous_key_files
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("TOLLGATE_SECRET_PREVIOUS_KEY_FILES: {e}"))?;
        Ok(SealingKeys::new(&current, &previous))
    }
}

/// Everything `tollgate serve` needs.
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "TOLLGATE_LISTEN", default_value = DEFAULT_LISTEN, value_parser = non_empty)]
    pub listen: String,
    #[command(flatten)]
    pub db: DbConfig,
    #[command(flatten)]
    pub secrets: SecretKeyConfig,
    /// The registry host that tokens log in to, as shown in `docker login` commands.
    #[arg(long, env = "TOLLGATE_REGISTRY_HOST", default_value = "localhost:5000", value_parser = non_empty)]
    pub registry_host: String,
    /// Demo mode: a built-in identity provider with public sign-in as demo users, and demo
    /// data seeded into the database. Only for trying Tollgate out; never with an issuer.
    #[arg(long, env = "TOLLGATE_DEMO", num_args = 0..=1, default_value = "false",
          default_missing_value = "true", value_parser = strict_bool)]
    pub demo: bool,
    /// The identity provider's issuer (`iss`). Required unless `--demo`.
    #[arg(long, env = "TOLLGATE_ISSUER", value_parser = non_empty)]
    pub issuer: Option<String>,
    /// The issuer's JWKS URL (`https`, or `http` on a loopback address only), overriding the
    /// `jwks_uri` of the issuer's discovery document (`<issuer>/.well-known/openid-configuration`).
    #[arg(long, env = "TOLLGATE_JWKS_URL", value_parser = non_empty)]
    pub jwks_url: Option<String>,
    #[command(flatten)]
    pub oidc: OidcConfig,
    /// The audience (`aud`) that bearer tokens must name.
    #[arg(long, env = "TOLLGATE_AUDIENCE", default_value = "tollgate", value_parser = non_empty)]
    pub audience: String,
    /// The longest lifetime of a bearer token accepted, in seconds (`exp` minus `iat`, and
    /// `exp` from now).
    #[arg(long, env = "TOLLGATE_MAX_BEARER_LIFETIME", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(60..=2_592_000))]
    pub max_bearer_lifetime: u64,
    /// Proxies (CIDR networks, comma-separated: the ingress controller's or load balancer's
    /// own addresses, not whole cluster networks) whose client-address header names the
    /// client's address, for failure limiting, usage and the audit log. Default: none.
    #[arg(long, env = "TOLLGATE_TRUSTED_PROXIES", value_parser = TrustedProxies::parse, default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// The one header the trusted proxies name the client in: `x-forwarded-for`, `forwarded`
    /// (RFC 7239) or `x-real-ip`. No other header is read, whatever a client sends.
    #[arg(
        long,
        env = "TOLLGATE_CLIENT_ADDRESS_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    pub client_address_header: AddressHeader,
    /// Another address and port for `/metrics`, `/docs` and the OpenAPI document's viewer
    /// (a management listener that only the cluster reaches); the public listener then answers
    /// them with 404. Default: everything on TOLLGATE_LISTEN.
    #[arg(long, env = "TOLLGATE_MANAGEMENT_LISTEN", value_parser = non_empty)]
    pub management_listen: Option<String>,
    /// A folder to serve the single-page app from instead of the copy built into the binary
    /// (for development: `frontend/dist` after `make web`).
    #[arg(long, env = "TOLLGATE_WEB_DIR", value_parser = non_empty_path)]
    pub web_dir: Option<PathBuf>,
    /// HTTP worker threads. Default: one per core.
    #[arg(long, env = "TOLLGATE_WORKERS")]
    pub workers: Option<usize>,
    /// Requests' database calls under way at once (the others wait their turn in arrival
    /// order), at most one per pooled connection. Default: twice the cores.
    #[arg(long, env = "TOLLGATE_DB_TURNS", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub db_turns: Option<u32>,
    #[command(flatten)]
    pub gateway: GatewayConfig,
    #[command(flatten)]
    pub webhooks: WebhookConfig,
    #[command(flatten)]
    pub housekeeping: HousekeepingConfig,
    /// The clock of the expiry reminders; the system's, moved only by tests.
    #[arg(skip)]
    pub clock: crate::clock::Clock,
}

/// How webhooks are sent.
#[derive(clap::Args, Debug, Clone)]
pub struct WebhookConfig {
    /// Whether webhook URLs may point at private, loopback or link-local addresses (an
    /// on-premises receiver, tests). Off: such URLs are refused when registered, and a name
    /// that resolves only to such addresses is not sent to.
    #[arg(long = "webhook-allow-private", env = "TOLLGATE_WEBHOOK_ALLOW_PRIVATE", num_args = 0..=1,
          default_value = "false", default_missing_value = "true", value_parser = strict_bool)]
    pub allow_private: bool,
    /// How long a receiver has to answer a delivery, in milliseconds.
    #[arg(long = "webhook-timeout-ms", env = "TOLLGATE_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub timeout_ms: u64,
    /// The waits before each retry of a failed delivery, comma-separated (`s`, `m`, `h`); after
    /// the last, the delivery is `failed`. The default retries over about 28 hours.
    #[arg(long = "webhook-retry-schedule", env = "TOLLGATE_WEBHOOK_RETRY_SCHEDULE",
          default_value = "5s,5m,30m,2h,5h,10h,10h", value_parser = parse_schedule)]
    pub retry_schedule: Schedule,
    /// Whether this node sends webhook deliveries and the expiry reminders (several nodes may;
    /// they share the work). Off: its changes are sent by the other nodes.
    #[arg(long = "webhook-delivery", env = "TOLLGATE_WEBHOOK_DELIVERY", num_args = 0..=1,
          default_value = "true", default_missing_value = "true", value_parser = strict_bool)]
    pub delivery: bool,
    /// How often the expiry reminders are looked for, in milliseconds.
    #[arg(long = "reminder-interval-ms", env = "TOLLGATE_REMINDER_INTERVAL_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(100..=86_400_000))]
    pub reminder_interval_ms: u64,
}

/// Housekeeping: what is kept how long, and how often the node holding the housekeeping lease
/// deletes what is past it.
#[derive(clap::Args, Debug, Clone)]
pub struct HousekeepingConfig {
    /// Days audit events are kept (0: for ever); older ones are deleted in batches.
    #[arg(long = "audit-retention-days", env = "TOLLGATE_AUDIT_RETENTION_DAYS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub audit_retention_days: u32,
    /// Days pulls per day are kept (at least the 30 the API shows).
    #[arg(long = "usage-retention-days", env = "TOLLGATE_USAGE_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(30..=36_500))]
    pub usage_retention_days: u32,
    /// How often housekeeping looks for what is past its retention, in milliseconds.
    #[arg(long = "housekeeping-interval-ms", env = "TOLLGATE_HOUSEKEEPING_INTERVAL_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(100..=86_400_000))]
    pub housekeeping_interval_ms: u64,
}

/// Waits between retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(pub Vec<std::time::Duration>);

fn parse_schedule(text: &str) -> Result<Schedule, String> {
    let waits = text
        .split(',')
        .map(|part| {
            let part = part.trim();
            let (number, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len()));
            let n: u64 = number
                .parse()
                .map_err(|_| format!("`{part}`: expected a number and s, m or h"))?;
            let seconds = match unit {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                _ => return Err(format!("`{part}`: expected a number and s, m or h")),
            };
            if seconds == 0 || seconds > 86_400 {
                return Err(format!("`{part}`: each wait is 1 s to 24 h"));
            }
            Ok(std::time::Duration::from_secs(seconds))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if waits.len() > 20 {
        return Err("at most 20 retries".into());
    }
    Ok(Schedule(waits))
}

/// How the portal signs in with the identity provider, and which claims say who the caller is.
#[derive(clap::Args, Debug, Clone)]
pub struct OidcConfig {
    /// The portal's client id at the identity provider: a public client (no secret) allowed
    /// the Authorization Code flow with PKCE, with `<this server>/` as its redirect URI. Without
    /// it, the portal cannot sign in (the API still accepts the issuer's tokens).
    #[arg(long, env = "TOLLGATE_OIDC_CLIENT_ID", value_parser = non_empty)]
    pub client_id: Option<String>,
    /// The scopes the portal asks for, separated by spaces.
    #[arg(long, env = "TOLLGATE_OIDC_SCOPES", default_value = "openid profile email", value_parser = non_empty)]
    pub scopes: String,
    /// The claim that carries the caller's project key (a name, or a dotted path).
    #[arg(long, env = "TOLLGATE_CLAIM_PROJECT", default_value = "project", value_parser = non_empty)]
    pub claim_project: String,
    /// The claim whose value, or list of values, says the caller's role (`role`, `groups`,
    /// `roles`, `realm_access.roles`, …).
    #[arg(long, env = "TOLLGATE_CLAIM_ROLE", default_value = "role", value_parser = non_empty)]
    pub claim_role: String,
    /// The claim with the caller's display name.
    #[arg(long, env = "TOLLGATE_CLAIM_NAME", default_value = "name", value_parser = non_empty)]
    pub claim_name: String,
    /// The claim with the caller's email address.
    #[arg(long, env = "TOLLGATE_CLAIM_EMAIL", default_value = "email", value_parser = non_empty)]
    pub claim_email: String,
    /// Which values of the role claim mean which role: `role=value` pairs separated by commas,
    /// roles `customer` and `customer_admin` (e.g.
    /// `customer_admin=tollgate-admins,customer=tollgate-users`). Operators never come from it.
    #[arg(long, env = "TOLLGATE_ROLE_VALUES", default_value = crate::claims::DEFAULT_ROLE_VALUES,
          value_parser = non_empty)]
    pub role_values: String,
    /// The subjects (`sub`) of operators' bearer tokens, separated by commas: the vendor's
    /// staff, or its subscription system's client-credentials client (whose `sub` is its client
    /// id). A token of one that also names a project is refused.
    #[arg(long, env = "TOLLGATE_OPERATOR_SUBJECTS", value_delimiter = ',')]
    pub operator_subjects: Vec<String>,
    /// An audience (`aud`) that only operators' tokens name, e.g. a resource of its own at the
    /// identity provider that only the vendor's clients may ask for: every valid token for it is
    /// an operator's. A token for it that also names a project is refused.
    #[arg(long, env = "TOLLGATE_OPERATOR_AUDIENCE", value_parser = non_empty)]
    pub operator_audience: Option<String>,
}

impl OidcConfig {
    /// The claim names and role values, checked.
    pub fn claim_map(&self) -> Result<crate::claims::ClaimMap, String> {
        Ok(crate::claims::ClaimMap {
            project: self.claim_project.clone(),
            role: self.claim_role.clone(),
            name: self.claim_name.clone(),
            email: self.claim_email.clone(),
            roles: crate::claims::ClaimMap::parse_roles(&self.role_values)
                .map_err(|why| format!("TOLLGATE_ROLE_VALUES: {why}"))?,
            operators: crate::claims::Operators {
                subjects: self
                    .operator_subjects
                    .iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
                audience: self.operator_audience.clone(),
            },
        })
    }
}

/// The registry gateway's endpoints: introspection and Docker registry tokens.
#[derive(clap::Args, Debug, Clone)]
pub struct GatewayConfig {
    /// Clients of `/oauth2/introspect`, `id:secret` separated by commas (demo mode adds
    /// `registry-gateway:demo-gateway-secret`). Checked at start, where an error names the
    /// client's id only, never its secret.
    #[arg(
        long = "gateway-clients",
        env = "TOLLGATE_GATEWAY_CLIENTS",
        value_delimiter = ',',
        hide_env_values = true,
        conflicts_with = "clients_file"
    )]
    pub clients: Vec<String>,
    /// A file holding the gateway clients (`id:secret` separated by commas or lines).
    #[arg(long = "gateway-clients-file", env = "TOLLGATE_GATEWAY_CLIENTS_FILE", value_parser = non_empty_path)]
    pub clients_file: Option<PathBuf>,
    /// The registry's `service` name; registry tokens are for it only.
    #[arg(long, env = "TOLLGATE_REGISTRY_SERVICE", default_value = "tollgate-registry", value_parser = non_empty)]
    pub registry_service: String,
    /// The `iss` of registry tokens (the registry's `auth.token.issuer`).
    #[arg(long, env = "TOLLGATE_TOKEN_ISSUER", default_value = "tollgate", value_parser = non_empty)]
    pub token_issuer: String,
    /// Lifetime of registry tokens in seconds (60-3600).
    #[arg(long, env = "TOLLGATE_REGISTRY_TOKEN_TTL", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(60..=3600))]
    pub token_ttl: u64,
    /// PEM (PKCS#8) ES256 key that signs registry tokens. Default: created in the data directory.
    #[arg(long, env = "TOLLGATE_TOKEN_KEY_FILE", value_parser = non_empty_path)]
    pub token_key_file: Option<PathBuf>,
    /// Its certificate, for the registry's `rootcertbundle`. Default: created beside the key.
    #[arg(long, env = "TOLLGATE_TOKEN_CERT_FILE", value_parser = non_empty_path)]
    pub token_cert_file: Option<PathBuf>,
    /// Certificates published beside the signing one (comma-separated PEM files), in
    /// `/auth/certificate.pem` and `/auth/jwks.json`: the next key before it signs, or the
    /// previous one until its last tokens have expired.
    #[arg(long, env = "TOLLGATE_TOKEN_PUBLISHED_CERT_FILES", value_delimiter = ',')]
    pub token_published_cert_files: Vec<PathBuf>,
    /// Failed secret checks allowed per minute and client address at `/auth/token` (0: no
    /// limit). Only failures count, and only failures are refused.
    #[arg(long, env = "TOLLGATE_TOKEN_FAILURES_PER_MINUTE", default_value_t = 60)]
    pub token_failures_per_minute: u32,
    /// The same for `/oauth2/introspect`, per client address that a trusted proxy (the
    /// gateway) forwards; the gateway's own address is never a budget (0: no limit).
    #[arg(long, env = "TOLLGATE_INTROSPECT_FAILURES_PER_MINUTE", default_value_t = 600)]
    pub introspect_failures_per_minute: u32,
    /// Reports of leaked secrets (`/api/v1/credentials/revoke`) allowed per minute and client
    /// address (an IPv6 /64), a report counting one per hundred secrets it carries (0: no
    /// limit).
    #[arg(long, env = "TOLLGATE_REVOCATION_REPORTS_PER_MINUTE", default_value_t = 30)]
    pub revocation_reports_per_minute: u32,
    /// Wrong gateway-client credentials allowed per minute and address at
    /// `/oauth2/introspect` (0: no limit).
    #[arg(long, env = "TOLLGATE_GATEWAY_CLIENT_FAILURES_PER_MINUTE", default_value_t = 10)]
    pub gateway_client_failures_per_minute: u32,
    /// Client budgets (an IPv4 address or an IPv6 /64) each failure limiter holds at most,
    /// 16 bytes each; past it, the budgets closest to whole make room.
    #[arg(long, env = "TOLLGATE_FAILURE_BUDGETS", default_value_t = 131_072,
          value_parser = clap::value_parser!(u64).range(1024..=67_108_864))]
    pub failure_budgets: u64,
    /// The proxy in front of a registry without auth that asks `/auth/forward`: `nginx`
    /// (`X-Original-Method`, `X-Original-URI`), `traefik` or `caddy` (`X-Forwarded-Method`,
    /// `X-Forwarded-Uri`). Only that pair is read; a request that also carries the other pair
    /// is refused. Unset: `/auth/forward` refuses every request.
    #[arg(long, env = "TOLLGATE_FORWARD_AUTH_PROXY", value_enum)]
    pub forward_auth_proxy: Option<ForwardAuthProxy>,
    /// How often `last_used_at` is written, in milliseconds.
    #[arg(long, env = "TOLLGATE_LAST_USED_FLUSH_MS", default_value_t = 5000)]
    pub last_used_flush_ms: u64,
    /// Valid tokens a node's cache holds at most (about 1.6 KB each); when full, those not
    /// looked up lately make room.
    #[arg(long, env = "TOLLGATE_CACHE_MAX_TOKENS", default_value_t = crate::gateway::cache::DEFAULT_MAX_TOKENS as u64,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub cache_max_tokens: u64,
}

impl Config {
    /// A demo-mode configuration for `listen` and `database_url` with every other setting at
    /// its default.
    pub fn with(listen: &str, data_dir: PathBuf, database_url: Option<String>) -> Config {
        let mut config: Config = defaults();
        config.listen = listen.to_owned();
        config.db.data_dir = data_dir;
        config.db.database_url = database_url;
        config.demo = true;
        config
    }
}
