//! Change notifications between nodes (PostgreSQL `LISTEN/NOTIFY`), and the heartbeat that
//! tells a node's cache, moment by moment, whether it has heard every change committed so far.
//!
//! The guarantee rests on one fact of PostgreSQL: a listener receives notifications in the
//! order their transactions committed. Every [`BEAT`] the listening connection notifies
//! itself on a channel of its own and notes when it sent that beat; when the beat comes
//! back, every change committed before it was sent has been delivered, and the listener is
//! told so with [`ChangeListener::confirmed`]. A connection that is hung, half-open or gone
//! stops confirming; the cache then stops trusting itself by its own clock, with no thread
//! having to notice anything.

use crate::change::{Change, ChangeListener, CHANNEL};
use crate::pg_tls::Tls;
use futures_util::future::poll_fn;
use std::sync::Weak;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_postgres::{AsyncMessage, NoTls};

/// The `application_name` of each node's notification connection.
pub const NOTIFY_APPLICATION: &str = "tollgate-notify";

/// How often the listening connection proves that it is current.
pub const BEAT: Duration = Duration::from_millis(150);
/// How long a beat, the connection or `LISTEN` may take before the connection is given up.
const PATIENCE: Duration = Duration::from_millis(1000);
const RECONNECT_DELAY: Duration = Duration::from_millis(250);
/// Failures in a row double the delay up to this: a database that stays down (or a node left
/// running against one) is not asked for a new backend four times a second.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);
/// After "the database does not exist": it will not appear in a second.
const MISSING_DATABASE_DELAY: Duration = Duration::from_secs(30);

/// Listens (and reconnects) on a thread of its own for as long as the listener exists.
pub(crate) fn spawn(
    url: String,
    node: std::sync::Arc<str>,
    listener: Weak<dyn ChangeListener>,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    std::thread::Builder::new()
        .name("tollgate-notify".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the notification runtime starts");
            runtime.block_on(listen_while_wanted(&url, &node, &listener, &up));
        })
        .expect("the notification thread starts");
}

async fn listen_while_wanted(
    url: &str,
    node: &str,
    listener: &Weak<dyn ChangeListener>,
    up: &std::sync::atomic::AtomicBool,
) {
    let beat_channel = format!("tollgate_beat_{node}");
    let (mut config, tls) = match crate::pg_tls::notification_config(url) {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "the database URL cannot be used for notifications; the cache stays off");
            return;
        }
    };
    // Named, so that operators (and tests) can tell this connection apart.
    config.application_name(NOTIFY_APPLICATION);
    let mut healthy_before = true;
    let mut failures = 0u32;
    while listener.strong_count() > 0 {
        let error = match &tls {
            Tls::Plain => connected(config.connect(NoTls), node, &beat_channel, listener, up).await,
            Tls::Rustls(tls) => connected(config.connect(tls.clone()), node, &beat_channel, listener, up).await,
        };
        if up.swap(false, std::sync::atomic::Ordering::Relaxed) {
            failures = 0;
        }
        let Some(error) = error else { return };
        failures += 1;
        let delay = if error.missing_database {
            MISSING_DATABASE_DELAY
        } else {
            (RECONNECT_DELAY * 2u32.pow(failures.min(4) - 1)).min(MAX_RECONNECT_DELAY)
        };
        let error = error.why;
        if let Some(l) = listener.upgrade() {
            // The cache already distrusts itself once beats stop; this frees its memory too.
            l.missed_changes();
        }
        if healthy_before {
            tracing::warn!(%error, "the notification connection is down; the cache is bypassed until it is back");
        }
        healthy_before = false;
        tokio::time::sleep(delay).await;
    }
}

/// Connects within [`PATIENCE`], then listens: why the connection ended, or `None` when the
/// listener is gone.
async fn connected<T>(
    connecting: impl std::future::Future<
        Output = Result<
            (
                tokio_postgres::Client,
                tokio_postgres::Connection<tokio_postgres::Socket, T>,
            ),
            tokio_postgres::Error,
        >,
    >,
    node: &str,
    beat_channel: &str,
    listener: &Weak<dyn ChangeListener>,
    up: &std::sync::atomic::AtomicBool,
) -> Option<Ended>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let ended = |why: String| Ended {
        why,
        missing_database: false,
    };
    match timeout(PATIENCE, connecting).await {
        Err(_) => Some(ended("connecting took longer than a second".to_owned())),
        Ok(Err(e)) => Some(Ended {
            missing_database: e.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME),
            why: e.to_string(),
        }),
        Ok(Ok((client, connection))) => session(client, connection, node, beat_channel, listener, up)
            .await
            .map(ended),
    }
}

/// Why a notification connection ended.
struct Ended {
    why: String,
    /// The server said the database does not exist.
    missing_database: bool,
}

/// One connection's life: `LISTEN`, then changes and beats until something fails
/// (`Some(why)`) or the listener is gone (`None`).
async fn session<T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<tokio_postgres::Socket, T>,
    node: &str,
    beat_channel: &str,
    listener: &Weak<dyn ChangeListener>,
    up: &std::sync::atomic::AtomicBool,
) -> Option<String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Drives the socket: notifications go to `rx`; the driver ends when the socket does.
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    let _stop_driver = AbortOnDrop(driver);
    let listen = format!("LISTEN {CHANNEL}; LISTEN {beat_channel}");
    match timeout(PATIENCE, client.batch_execute(&listen)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Some(e.to_string()),
        Err(_) => return Some("LISTEN took longer than a second".into()),
    }
    // Anything may have changed while this node was not listening.
    listener.upgrade()?.missed_changes();
    up.store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!("listening for token changes of other nodes");

    let mut sequence: u64 = 0;
    let mut in_flight: Option<(u64, Instant)> = None;
    let mut beat = tokio::time::interval(BEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            notification = rx.recv() => {
                let Some(n) = notification else { return Some("the connection closed".into()) };
                let l = listener.upgrade()?;
                if n.channel() == beat_channel {
                    match (n.payload().parse::<u64>(), in_flight) {
                        (Ok(seq), Some((expected, sent))) if seq == expected => {
                            l.confirmed(sent);
                            in_flight = None;
                        }
                        _ => {}
                    }
                    continue;
                }
                match Change::parse(n.payload()) {
                    // This node heard its own change when it committed it.
                    Some((from, _)) if from == node => {}
                    Some((_, change)) => {
                        tracing::debug!(payload = n.payload(), "change notification");
                        l.changed(&change);
                    }
                    None => tracing::warn!(payload = n.payload(), "ignoring an unknown change notification"),
                }
            }
            _ = beat.tick() => {
                listener.upgrade()?;
                if let Some((_, sent)) = in_flight {
                    if sent.elapsed() > PATIENCE {
                        return Some("a heartbeat did not come back within a second".into());
                    }
                    continue;
                }
                sequence += 1;
                let sent = Instant::now();
                let notify = format!("NOTIFY {beat_channel}, '{sequence}'");
                match timeout(PATIENCE, client.batch_execute(&notify)).await {
                    Ok(Ok(())) => in_flight = Some((sequence, sent)),
                    Ok(Err(e)) => return Some(e.to_string()),
                    Err(_) => return Some("a heartbeat could not be sent within a second".into()),
                }
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
