//! The Tollgate token service: configuration, identity, the REST API and its OpenAPI document.

pub mod auth;
pub mod blocking;
pub mod caller;
pub mod claims;
pub mod client_address;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod housekeeping;
pub mod keys;
pub mod leaks;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod spa;
pub mod state;
pub mod webhooks;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{web, App, HttpResponse, HttpServer};
use std::net::{SocketAddr, TcpListener};
use utoipa_swagger_ui::SwaggerUi;

pub use config::{Config, DbConfig, SecretKeyConfig};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error(transparent)]
    Store(#[from] tollgate_store::StoreError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("{0}")]
    Config(String),
}

/// A started server: where it listens, the future that runs it until shutdown, and its state.
pub struct Running {
    pub addr: SocketAddr,
    pub server: Server,
    /// The management listener (`TOLLGATE_MANAGEMENT_LISTEN`), when there is one: metrics and
    /// health checks, apart from the public port. Run it beside `server`.
    pub management: Option<Management>,
    pub state: web::Data<state::AppState>,
}

/// The management listener: where it listens and the future that runs it.
pub struct Management {
    pub addr: SocketAddr,
    pub server: Server,
}

impl Running {
    /// What must be written before the process exits (the last uses of tokens).
    pub fn flush(state: &state::AppState) {
        state.gateway.usage.flush(&state.store);
    }
}

/// Checks the configuration, opens the database, prepares identity (the configured issuer, or
/// demo mode when asked for), binds the listener and builds the server. Await `server` (or
/// spawn it) to serve.
pub fn start(config: Config) -> Result<Running, StartError> {
    let identity = Identity::of(&config)?;
    let gateway_clients = configured_gateway_clients(&config.gateway).map_err(StartError::Config)?;
    let sealing = config.secrets.load(&config.db).map_err(StartError::Config)?;
    let mut store = tollgate_store::Store::open_beside(
        &config.db.url().map_err(StartError::Config)?,
        config.db.pool_size,
        config.db.notify_url().map_err(StartError::Config)?,
    )?;
    store.set_sealing_keys(sealing);
    // Secrets still in clear (from before they were sealed) are sealed now; one sealed under a
    // key this node lacks stops the start, naming the key.
    let sealed = store.reseal_webhook_secrets(true)?;
    if sealed > 0 {
        tracing::info!(
            webhooks = sealed,
            "sealed the webhook signing secrets that were in clear"
        );
    }
    if let Some(asked) = config.db_turns {
        let turns = store.set_turns(asked as usize);
        if turns < asked as usize {
            tracing::warn!(
                asked,
                turns,
                "TOLLGATE_DB_TURNS is more than TOLLGATE_DB_POOL_SIZE: one turn per connection"
            );
        }
    }
    let listener = TcpListener::bind(&config.listen).map_err(|e| StartError::Listen(config.listen.clone(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Listen(config.listen.clone(), e))?;

    let (verifier, demo) = identity.verifier(&config, &store, addr)?;
    tracing::info!(%addr, backend = ?store.backend(), issuer = verifier.issuer(), "Tollgate listening");

    let gateway = build_gateway(&config, &store, gateway_clients, demo.is_some())?;
    let sender = config.webhooks.delivery.then(|| {
        webhooks::Sender::start(
            store.clone(),
            &config.webhooks,
            config.clock.clone(),
            gateway.metrics.clone(),
        )
    });
    let housekeeper = housekeeping::Housekeeper::start(store.clone(), &config.housekeeping);
    let state = web::Data::new(state::AppState {
        store,
        verifier,
        demo,
        registry_host: config.registry_host.clone(),
        gateway,
        client_addresses: client_address::ClientAddresses {
            trusted: config.trusted_proxies.clone(),
            header: config.client_address_header,
        },
        housekeeper,
        webhooks: state::Webhooks {
            sender,
            allow_private: config.webhooks.allow_private,
        },
        oidc_client: config.oidc.client_id.clone().map(|client_id| state::PortalClient {
            client_id,
            scopes: config.oidc.scopes.clone(),
        }),
    });
    let management = match &config.management_listen {
        None => None,
        Some(at) => {
            let listener = TcpListener::bind(at).map_err(|e| StartError::Listen(at.clone(), e))?;
            let addr = listener.local_addr().map_err(|e| StartError::Listen(at.clone(), e))?;
            tracing::info!(%addr, "management listener (metrics, health)");
            Some(Management {
                addr,
                server: management_server(&config, state.clone(), listener)?,
            })
        }
    };
    reload_on_hangup(config.gateway.clone(), &state)?;
    let server = http_server(&config, state.clone(), listener, management.is_some())?;
    Ok(Running {
        addr,
        server,
        management,
        state,
    })
}

/// The API's docs: Swagger UI at `/docs/`, and the OpenAPI document it reads.
fn docs(config: &Config) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let api_document = openapi::document(&config.gateway.registry_service);
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            SwaggerUi::new("/docs/{_:.*}").external_url_unchecked(tollgate_model::paths::OPENAPI, api_document.clone()),
        )
        .service(web::resource("/docs").to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/docs/"))
                .finish()
        }));
    }
}

/// The management listener's server: metrics and health checks.
fn management_server(
    config: &Config,
    state: web::Data<state::AppState>,
    listener: TcpListener,
) -> Result<Server, StartError> {
    let at = config.management_listen.clone().unwrap_or_default();
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(middleware::security_headers())
            .configure(routes::configure_management_listener)
            .default_service(web::to(routes::common::not_found))
    })
    .listen(listener)
    .map_err(|e| StartError::Listen(at, e))?
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .run())
}

/// The HTTP server over `listener`: middleware, the API's routes, the docs and the portal.
fn http_server(
    config: &Config,
    state: web::Data<state::AppState>,
    listener: TcpListener,
    management_elsewhere: bool,
) -> Result<Server, StartError> {
    let web_dir = config.web_dir.clone();
    let docs = docs(config);
    // The portal calls the identity provider's token endpoint when it signs in with it.
    let csp = web::Data::new(spa::Csp::new(
        config.oidc.client_id.as_ref().and(config.issuer.as_deref()),
    ));
    let mut server = HttpServer::new(move || {
        let app = App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(extract::BODY_LIMIT))
            .wrap(middleware::security_headers())
            .wrap_fn(middleware::request_log);
        // With a management listener, metrics are there only: here they are unknown (never
        // the portal's page).
        let app = if management_elsewhere {
            app.service(web::resource(tollgate_model::paths::METRICS).to(routes::common::not_found))
        } else {
            app.configure(routes::configure_management)
        };
        let app = app.configure(docs.clone()).configure(routes::configure);
        match spa::Portal::of(web_dir.as_deref()) {
            Some(portal) => app
                .app_data(web::Data::new(portal))
                .app_data(csp.clone())
                .default_service(web::to(spa::serve)),
            None => app.default_service(web::to(routes::common::not_found)),
        }
    })
    .listen(listener)
    .map_err(|e| StartError::Listen(config.listen.clone(), e))?
    .shutdown_timeout(10);
    if let Some(n) = config.workers {
        server = server.workers(n);
    }
    Ok(server.run())
}

/// Where portal users' identities come from: decided before anything is opened or seeded.
enum Identity {
    Demo,
    Issuer { issuer: String, jwks_url: Option<String> },
}

impl Identity {
    /// The bearer token verifier, and in demo mode the demo issuer (its data seeded, its keys
    /// fetched over HTTP from this server like any issuer's: one code path).
    fn verifier(
        self,
        config: &Config,
        store: &tollgate_store::Store,
        addr: SocketAddr,
    ) -> Result<(auth::Verifier, Option<demo::DemoIssuer>), StartError> {
        let ((issuer, jwks_url), demo) = match self {
            Identity::Demo => {
                let demo_issuer = demo::DemoIssuer::load_or_create(&config.db.data_dir, &config.audience)?;
                demo::seed(store)?;
                let mut own = addr;
                if own.ip().is_unspecified() {
                    own.set_ip(if own.is_ipv4() {
                        [127, 0, 0, 1].into()
                    } else {
                        std::net::Ipv6Addr::LOCALHOST.into()
                    });
                }
                let jwks_url = format!("http://{own}{}", tollgate_model::paths::DEMO_JWKS);
                tracing::warn!(
                    "DEMO MODE (--demo): a built-in identity provider signs sessions for the demo users, \
                     anyone can sign in as them, and demo data is seeded; never use it in production"
                );
                ((demo::DEMO_ISSUER.to_owned(), Some(jwks_url)), Some(demo_issuer))
            }
            Identity::Issuer { issuer, jwks_url } => ((issuer, jwks_url), None),
        };
        let claims = if demo.is_some() {
            claims::ClaimMap {
                operators: claims::Operators {
                    subjects: Vec::new(),
                    audience: Some(demo::OPERATOR_AUDIENCE.into()),
                },
                ..claims::ClaimMap::default()
            }
        } else {
            config.oidc.claim_map().map_err(StartError::Config)?
        };
        let verifier = auth::Verifier::new(issuer, config.audience.clone(), jwks_url)
            .max_lifetime(config.max_bearer_lifetime)
            .claims(claims);
        Ok((verifier, demo))
    }

    fn of(config: &Config) -> Result<Identity, StartError> {
        match (&config.issuer, config.demo) {
            (Some(_), true) => Err(StartError::Config(
                "TOLLGATE_ISSUER and --demo (TOLLGATE_DEMO) exclude each other: choose one".into(),
            )),
            (None, true) => Ok(Identity::Demo),
            (None, false) => Err(StartError::Config(
                "no identity provider: set TOLLGATE_ISSUER (and TOLLGATE_AUDIENCE) to your OpenID \
                 provider, or run `tollgate serve --demo` (TOLLGATE_DEMO=true) to try Tollgate with \
                 demo users"
                    .into(),
            )),
            (Some(issuer), false) => {
                // Keys and endpoints come from the issuer's discovery document, when they are
                // first needed: a node starts while the identity provider is down.
                auth::require_safe_url(issuer).map_err(|why| StartError::Config(format!("TOLLGATE_ISSUER: {why}")))?;
                if let Some(url) = &config.jwks_url {
                    auth::require_safe_url(url)
                        .map_err(|why| StartError::Config(format!("TOLLGATE_JWKS_URL: {why}")))?;
                }
                config.oidc.claim_map().map_err(StartError::Config)?;
                Ok(Identity::Issuer {
                    issuer: issuer.clone(),
                    jwks_url: config.jwks_url.clone(),
                })
            }
        }
    }
}

/// The gateway clients the settings name (`TOLLGATE_GATEWAY_CLIENTS` or its file), parsed. The
/// errors name a client's id at most, never its secret.
fn configured_gateway_clients(g: &config::GatewayConfig) -> Result<Vec<gateway::GatewayClient>, String> {
    g.gateway_clients()?
        .iter()
        .map(|c| gateway::GatewayClient::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| format!("TOLLGATE_GATEWAY_CLIENTS: {why}"))
}

/// On SIGHUP, what may change without a restart is read again: the gateway clients (from
/// `TOLLGATE_GATEWAY_CLIENTS_FILE`, which a Kubernetes Secret or a vault agent rewrites), put in
/// place whole for every request from then on. A file that cannot be read or holds a bad client
/// changes nothing, and the log says why. The database URLs and the keys are read at start only:
/// a new password or key takes a restart, node by node.
fn reload_on_hangup(g: config::GatewayConfig, state: &web::Data<state::AppState>) -> Result<(), StartError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups =
        signal(SignalKind::hangup()).map_err(|e| StartError::Config(format!("cannot listen for SIGHUP: {e}")))?;
    let state = std::sync::Arc::downgrade(&state.clone().into_inner());
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(state) = state.upgrade() else { return };
            match configured_gateway_clients(&g) {
                Ok(mut clients) => {
                    if state.demo.is_some() {
                        clients.push(demo::demo_gateway_client());
                    }
                    let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
                    state.gateway.replace_clients(clients);
                    tracing::info!(clients = ?ids, "SIGHUP: the gateway clients were read again");
                }
                Err(why) => {
                    tracing::error!(%why, "SIGHUP: the gateway clients in use are kept");
                }
            }
        }
    });
    Ok(())
}

/// The gateway's parts: cache (told of every token change), limiters, clients, signer.
fn build_gateway(
    config: &Config,
    store: &tollgate_store::Store,
    mut clients: Vec<gateway::GatewayClient>,
    demo: bool,
) -> Result<gateway::Gateway, StartError> {
    let g = &config.gateway;
    if g.forward_auth_proxy.is_some() && config.trusted_proxies.is_empty() {
        tracing::warn!(
            "TOLLGATE_FORWARD_AUTH_PROXY is set but TOLLGATE_TRUSTED_PROXIES is not: forward auth cannot \
             tell pulling clients apart, and limits no client's failures"
        );
    }
    let metrics = std::sync::Arc::new(metrics::Metrics::new());
    let cache = std::sync::Arc::new(gateway::cache::TokenCache::bounded(
        metrics.clone(),
        usize::try_from(g.cache_max_tokens).unwrap_or(usize::MAX),
    ));
    store.set_change_listener(cache.clone());
    let trusted = std::sync::Arc::downgrade(&cache);
    metrics.gauge_fn(
        "tollgate_cache_trusted",
        "1 while the token cache may answer (every other node's change heard within the bound; always on SQLite), 0 while every lookup goes to the database",
        move || f64::from(u8::from(trusted.upgrade().is_some_and(|c| c.trusted()))),
    );
    let usage = std::sync::Arc::new(gateway::usage::Usage::default());
    usage.spawn_flusher(
        store.clone(),
        std::time::Duration::from_millis(g.last_used_flush_ms.max(10)),
    );
    if demo {
        clients.push(demo::demo_gateway_client());
    }
    if clients.is_empty() {
        tracing::warn!(
            "no gateway clients are configured (TOLLGATE_GATEWAY_CLIENTS): introspection refuses every caller"
        );
    }
    let signer = gateway::registry::RegistrySigner::load_or_create(
        &config.db.data_dir,
        g.token_key_file.clone(),
        g.token_cert_file.clone(),
        &g.token_published_cert_files,
        g.token_issuer.clone(),
        g.token_ttl,
    )?;
    let leaks = leaks::Leaks::start(store.clone(), metrics.clone())
        .map_err(|e| StartError::Config(format!("cannot start the leak reports' thread: {e}")))?;
    let writes = store.clone();
    metrics.counter_fn(
        "tollgate_db_write_transactions_total",
        "Write transactions this node has committed",
        move || writes.writes(),
    );
    for (name, help, read) in [
        (
            "tollgate_db_pool_size",
            "Database connections this node's pool may hold",
            (|s| s.size) as fn(tollgate_store::PoolState) -> u32,
        ),
        (
            "tollgate_db_pool_open_connections",
            "Database connections this node's pool holds",
            |s| s.open,
        ),
        (
            "tollgate_db_pool_idle_connections",
            "Of those, the ones no call is using",
            |s| s.idle,
        ),
    ] {
        let pool = store.clone();
        metrics.gauge_fn(name, help, move || f64::from(read(pool.pool_state())));
    }
    type Wait = fn(&tollgate_store::WaitFigures) -> f64;
    for (name, help, read) in [
        (
            "tollgate_db_turns_total",
            "Requests' storage calls that took a turn (at most TOLLGATE_DB_TURNS at once)",
            (|w| w.turns as f64) as Wait,
        ),
        (
            "tollgate_db_turn_wait_seconds_total",
            "Seconds requests' storage calls waited for a turn, in all",
            |w| w.turn_seconds,
        ),
        (
            "tollgate_db_pool_checkouts_total",
            "Connections taken from the pool",
            |w| w.connections as f64,
        ),
        (
            "tollgate_db_pool_wait_seconds_total",
            "Seconds spent waiting for a pooled connection (one being opened included), in all",
            |w| w.connection_seconds,
        ),
    ] {
        let waits = store.clone();
        metrics.counter_fn_f64(name, help, move || read(&waits.waits()));
    }
    if store.notifications_up().is_some() {
        let notify = store.clone();
        metrics.gauge_fn(
            "tollgate_notify_connected",
            "1 while the notification connection (PostgreSQL LISTEN) is up and listening",
            move || f64::from(u8::from(notify.notifications_up() == Some(true))),
        );
    }
    let misses = tollgate_store::batch::MissBatcher::start(store.clone())
        .map_err(|e| StartError::Config(format!("cannot start the gateway's lookup threads: {e}")))?;
    let limiter = |per_minute: u32| {
        gateway::limiter::FailureLimiter::with_capacity(
            per_minute,
            usize::try_from(g.failure_budgets).unwrap_or(usize::MAX),
        )
    };
    Ok(gateway::Gateway {
        forward_proxy: g.forward_auth_proxy,
        cache,
        misses,
        usage,
        introspect_limiter: limiter(g.introspect_failures_per_minute),
        client_limiter: limiter(g.gateway_client_failures_per_minute),
        token_limiter: limiter(g.token_failures_per_minute),
        revocation_limiter: limiter(g.revocation_reports_per_minute),
        leaks,
        clients: std::sync::RwLock::new(std::sync::Arc::new(clients)),
        signer,
        service: g.registry_service.clone(),
        metrics,
    })
}
