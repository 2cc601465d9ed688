//! `tollgate`: the server, the operators' commands for projects and subscriptions, and the
//! integrators' commands for tokens and service users (over the REST API).

mod integrator;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tollgate_model::{Name, ProductCode, ProjectKey};
use tollgate_server::{Config, DbConfig};
use tollgate_store::ProductSpec;

#[derive(Parser)]
#[command(
    name = "tollgate",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TOLLGATE_COMMIT"), ")"),
    about = "Registry tokens for a private container registry"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the single-page app.
    Serve(Box<Config>),
    /// Manage projects and their subscriptions.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
    /// Revoke the tokens of leaked secrets, on the host.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The sealed secrets (webhook signing secrets).
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Run the database migrations and exit (for an init job before several nodes start);
    /// `migrate status` lists them, run or not, and runs none.
    Migrate {
        #[command(flatten)]
        db: DbConfig,
        #[command(subcommand)]
        what: Option<MigrateCommand>,
    },
    /// A consistent copy of a serving SQLite database into a new file (nodes go on serving).
    Backup {
        #[command(flatten)]
        db: DbConfig,
        /// The new file.
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Move everything of a SQLite database (tokens and their secrets' digests, service users,
    /// the audit log, webhooks with their outbox and log, usage, reminders sent) onto an empty
    /// PostgreSQL database, in one transaction. Give the PostgreSQL nodes the same sealing key.
    Copy {
        #[command(flatten)]
        db: DbConfig,
        /// The PostgreSQL database's URL (better: `--to-file`, so that its password is in no
        /// command line).
        #[arg(
            long,
            env = "TOLLGATE_COPY_TO",
            hide_env_values = true,
            required_unless_present = "to_file",
            conflicts_with = "to_file"
        )]
        to: Option<String>,
        /// A file holding the PostgreSQL database's URL.
        #[arg(long, env = "TOLLGATE_COPY_TO_FILE")]
        to_file: Option<std::path::PathBuf>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 when the server at the URL is ready (for a container's health check, where there
    /// is no curl).
    Probe {
        /// The readiness URL. Default: `/readyz` of this host's server at `--listen`.
        #[arg(long)]
        url: Option<String>,
        /// Where this host's server listens (as `tollgate serve` reads it).
        #[arg(long, env = "TOLLGATE_LISTEN", default_value = tollgate_server::config::DEFAULT_LISTEN)]
        listen: String,
    },
    /// Registry tokens, through the REST API of a server (TOLLGATE_URL, TOLLGATE_BEARER_TOKEN).
    Tokens {
        #[command(flatten)]
        remote: integrator::Remote,
        #[command(subcommand)]
        command: integrator::TokensCommand,
    },
    /// Service users, through the REST API of a server (TOLLGATE_URL, TOLLGATE_BEARER_TOKEN).
    ServiceUsers {
        #[command(flatten)]
        remote: integrator::Remote,
        #[command(subcommand)]
        command: integrator::ServiceUsersCommand,
    },
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a project, or replace its name and subscription.
    Put {
        #[command(flatten)]
        db: DbConfig,
        /// The project key, e.g. `acme`.
        #[arg(long)]
        key: String,
        /// The display name.
        #[arg(long)]
        name: String,
        /// The last day of the subscription (YYYY-MM-DD).
        #[arg(long)]
        end_date: NaiveDate,
        /// A product of the subscription: `code` or `code=Display Name`; repeat for each.
        #[arg(long = "product")]
        products: Vec<String>,
        /// Cap user tokens' lifetime at this many days (1-3650); default: no cap.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(tollgate_model::MAX_TOKEN_DAYS)))]
        max_token_days: Option<u32>,
        /// Cap service tokens' lifetime at this many days (1-3650); default: no cap.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(tollgate_model::MAX_TOKEN_DAYS)))]
        max_service_token_days: Option<u32>,
    },
    /// List projects with their subscriptions.
    List {
        #[command(flatten)]
        db: DbConfig,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Revoke the tokens whose secrets are given, one per line, from a file or stdin; each stops
    /// working at once on every node until its owner re-generates it.
    Revoke {
        #[command(flatten)]
        db: DbConfig,
        /// A file of secrets, one per line. Default: standard input.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// Why, as the tokens' owners will read it.
        #[arg(long, default_value = "reported leaked to the vendor")]
        reason: String,
    },
}

#[derive(Subcommand)]
enum MigrateCommand {
    /// Every migration this release knows, and whether the database has it; runs none.
    Status,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Seal every webhook signing secret anew under the current key
    /// (TOLLGATE_SECRET_KEY_FILE), opening those sealed under a previous one
    /// (TOLLGATE_SECRET_PREVIOUS_KEY_FILES): after it, the previous keys can go.
    Reseal {
        #[command(flatten)]
        db: DbConfig,
        #[command(flatten)]
        keys: tollgate_server::SecretKeyConfig,
    },
}

/// Logs to standard error through a writer thread, so that a request never waits on the
/// terminal or the disk; the guard flushes what is queued when `main` returns.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("TOLLGATE_LOG_FORMAT").is_ok_and(|f| f == "json");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    guard
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _flush_logs_on_exit = init_logging();
    let outcome = match cli.command {
        // The integrators' commands print their own messages and have their own exit codes.
        Command::Tokens { remote, command } => return remotely(integrator::tokens(remote, command)),
        Command::ServiceUsers { remote, command } => return remotely(integrator::service_users(remote, command)),
        Command::Serve(config) => serve(*config),
        Command::Project { command } => project(command),
        Command::Token {
            command: TokenCommand::Revoke { db, file, reason },
        } => revoke(db, file, reason),
        Command::Secrets {
            command: SecretsCommand::Reseal { db, keys },
        } => reseal(&db, &keys),
        Command::Migrate { db, what: None } => db.open(1).map(|_| eprintln!("tollgate: the database is migrated")),
        Command::Migrate {
            db,
            what: Some(MigrateCommand::Status),
        } => migration_status(&db),
        Command::Backup { db, to } => db.url().and_then(|url| {
            tollgate_store::copy::backup_sqlite(&url, &to)
                .map(|()| eprintln!("tollgate: copied the database into {}", to.display()))
                .map_err(|e| e.to_string())
        }),
        Command::Copy { db, to, to_file } => copy(&db, to.as_deref(), to_file.as_deref()),
        Command::Probe { url, listen } => return remotely(probe(url.unwrap_or_else(|| readiness_url(&listen)))),
        Command::Openapi => {
            print!("{}", tollgate_server::openapi::json());
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tollgate: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `tollgate migrate status`: one line per migration; exits 1 when some are not run.
fn migration_status(db: &DbConfig) -> Result<(), String> {
    // Straight to the server when there is such a URL (not through a transaction pooler).
    let url = db.notify_url()?.map_or_else(|| db.url(), Ok)?;
    let states = tollgate_store::copy::migration_status(&url).map_err(|e| e.to_string())?;
    for state in &states {
        println!("{}\t{}", if state.applied { "applied" } else { "pending" }, state.name);
    }
    match states.iter().filter(|s| !s.applied).count() {
        0 => Ok(()),
        n => Err(format!("{n} migration(s) not run yet")),
    }
}

/// `tollgate copy`: the rows of each table, then what the PostgreSQL nodes need.
fn copy(db: &DbConfig, to: Option<&str>, to_file: Option<&std::path::Path>) -> Result<(), String> {
    let to = tollgate_server::config::secret_setting("TOLLGATE_COPY_TO", to, to_file)?
        .ok_or("name the PostgreSQL database with --to-file (or --to)")?;
    let copied = tollgate_store::copy::copy_to_postgres(&db.url()?, &to).map_err(|e| e.to_string())?;
    for (table, rows) in &copied {
        eprintln!("tollgate: {table}: {rows} row(s)");
    }
    eprintln!(
        "tollgate: copied onto PostgreSQL. Give its nodes the sealing key of this data directory \
         (TOLLGATE_SECRET_KEY_FILE={}) and its registry signing key and certificate.",
        db.data_dir.join("secret.key").display()
    );
    Ok(())
}

/// `tollgate secrets reseal`.
fn reseal(db: &DbConfig, keys: &tollgate_server::SecretKeyConfig) -> Result<(), String> {
    let keys = keys.load(db)?;
    let current = keys.current_id().to_owned();
    let store = db.open(1)?;
    store.set_sealing_keys(keys);
    let resealed = store.reseal_webhook_secrets(false).map_err(|e| e.to_string())?;
    eprintln!("tollgate: sealed {resealed} webhook(s) anew under the key {current}");
    Ok(())
}

/// Runs an integrator's command on a small runtime of its own.
fn remotely(command: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(command),
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(1)
        }
    }
}

/// `/readyz` of the server this host runs, from the address it listens on.
fn readiness_url(listen: &str) -> String {
    let port = listen.rsplit_once(':').map_or("8080", |(_, port)| port);
    let host = match listen.rsplit_once(':').map(|(host, _)| host) {
        Some("0.0.0.0" | "[::]" | "") | None => "127.0.0.1",
        Some(host) => host,
    };
    format!("http://{host}:{port}/readyz")
}

async fn probe(url: String) -> ExitCode {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build();
    let answer = match client {
        Ok(client) => client.get(&url).send().await.map(|r| r.status()),
        Err(e) => Err(e),
    };
    match answer {
        Ok(status) if status.is_success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("tollgate: {url} answered {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tollgate: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let running = tollgate_server::start(config).map_err(|e| e.to_string())?;
        let management = running.management.map(|m| {
            let handle = m.server.handle();
            actix_web::rt::spawn(m.server);
            handle
        });
        // actix-web stops gracefully on SIGTERM and SIGINT, finishing requests in flight.
        let served = running.server.await.map_err(|e| e.to_string());
        if let Some(management) = management {
            management.stop(true).await;
        }
        tollgate_server::Running::flush(&running.state);
        served
    })
}

/// The host's `tollgate token revoke`: secrets from a file or stdin, never from the command line.
fn revoke(db: DbConfig, file: Option<std::path::PathBuf>, reason: String) -> Result<(), String> {
    use std::io::Read;
    let mut text = String::new();
    match &file {
        Some(path) => {
            text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        None => {
            std::io::stdin().read_to_string(&mut text).map_err(|e| e.to_string())?;
        }
    }
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let digests: Vec<_> = lines
        .iter()
        .filter_map(|l| tollgate_store::secret::PlainSecret::parse(l).ok())
        .map(|s| tollgate_store::secret::digest(s.expose()))
        .collect();
    let store = db.open(1)?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let reporter = tollgate_store::Reporter {
        id: format!("host:{user}"),
        name: format!("{user} (tollgate token revoke)"),
        reason,
    };
    let origin = tollgate_store::Origin {
        request_id: format!("cli-{}", std::process::id()),
        client_address: None,
    };
    let revoked = store
        .revoke_leaked(&digests, &reporter, &origin)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "tollgate: revoked {revoked} token(s); {} line(s) read, {} not Tollgate secrets",
        lines.len(),
        lines.len() - digests.len()
    );
    Ok(())
}

fn project(command: ProjectCommand) -> Result<(), String> {
    match command {
        ProjectCommand::Put {
            db,
            key,
            name,
            end_date,
            products,
            max_token_days,
            max_service_token_days,
        } => {
            let store = db.open(1)?;
            // Typed before the store sees them, with the same rules as the operator API.
            let mut specs = Vec::with_capacity(products.len());
            for p in &products {
                let (code, name) = match p.split_once('=') {
                    Some((code, name)) => (code.trim(), Some(name)),
                    None => (p.trim(), None),
                };
                specs.push(ProductSpec {
                    code: ProductCode::parse(code).map_err(|why| format!("--product `{code}`: {why}"))?,
                    name: name
                        .map(|n| Name::parse(n).map_err(|e| format!("--product `{p}`: the name {e}")))
                        .transpose()?,
                });
            }
            let key = ProjectKey::parse(&key).map_err(|why| format!("--key: {why}"))?;
            let name = Name::parse(&name).map_err(|e| format!("--name: the name {e}"))?;
            // The audit log names the host's user as the operator.
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            let operator = tollgate_store::Operator {
                id: format!("host:{user}"),
                name: format!("{user} (tollgate project put)"),
            };
            let origin = tollgate_store::Origin {
                request_id: format!("cli-{}", std::process::id()),
                client_address: None,
            };
            let spec = tollgate_store::ProjectSpec {
                key,
                name,
                end_date,
                products: specs,
                max_token_days,
                max_service_token_days,
            };
            let put = store
                .put_project(&operator, &origin, &spec)
                .map_err(|e| e.to_string())?;
            print_project(&put.project);
            Ok(())
        }
        ProjectCommand::List { db } => {
            let store = db.open(1)?;
            for summary in store.list_projects().map_err(|e| e.to_string())? {
                print_project(&summary);
            }
            Ok(())
        }
    }
}

fn print_project(s: &tollgate_store::ProjectSummary) {
    let products: Vec<String> = s
        .subscription
        .products
        .iter()
        .map(|p| format!("{} ({})", p.code, p.name))
        .collect();
    println!(
        "{}\t{}\tends {}\t{}",
        s.project.key,
        s.project.name,
        s.subscription.end_date,
        if products.is_empty() {
            "no products".to_owned()
        } else {
            products.join(", ")
        }
    );
}
