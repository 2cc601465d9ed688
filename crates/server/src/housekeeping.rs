//! Housekeeping, a task of its own: the retention of audit events and of pulls per day, and
//! sealing webhook secrets that an earlier release wrote in clear. Every
//! node runs it; one at a time does the work, the node holding the `housekeeping` lease in the
//! database (renewed each round, held for three, so that another node takes over soon after
//! one stops). It runs whatever the node's other tasks are (a node that sends no webhooks
//! still keeps the database's size in check).

use crate::config::HousekeepingConfig;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tollgate_store::Store;

/// The lease that says which node does the housekeeping.
pub const LEASE: &str = "housekeeping";

/// This node's housekeeping: present while the server runs; its thread ends with it.
pub struct Housekeeper(());

impl Housekeeper {
    /// Starts the housekeeping thread.
    pub fn start(store: Store, config: &HousekeepingConfig) -> Arc<Housekeeper> {
        let keeper = Arc::new(Housekeeper(()));
        let alive = Arc::downgrade(&keeper);
        let config = config.clone();
        let spawned = std::thread::Builder::new()
            .name("tollgate-housekeeping".into())
            .spawn(move || run(&store, &config, &alive));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the housekeeping thread did not start: retention does not run on this node");
        }
        keeper
    }
}

fn run(store: &Store, config: &HousekeepingConfig, alive: &Weak<Housekeeper>) {
    let interval = Duration::from_millis(config.housekeeping_interval_ms);
    while alive.strong_count() > 0 {
        if let Err(e) = round(store, config, interval) {
            tracing::warn!(error = %e, "housekeeping failed; will retry");
        }
        std::thread::sleep(interval);
    }
}

/// One round: the lease, then what is past its retention.
fn round(store: &Store, config: &HousekeepingConfig, interval: Duration) -> Result<(), tollgate_store::StoreError> {
    let now = chrono::Utc::now();
    let node = store.node().to_owned();
    let held_for = chrono::Duration::from_std(interval * 3).unwrap_or(chrono::Duration::minutes(3));
    if !store.take_lease(LEASE, &node, now.naive_utc(), now.naive_utc() + held_for)? {
        return Ok(());
    }
    let usage = store.prune_usage(now.date_naive() - chrono::Days::new(u64::from(config.usage_retention_days)))?;
    let audit = match config.audit_retention_days {
        0 => 0,
        days => store.prune_audit(now - chrono::Duration::days(i64::from(days)))?,
    };
    if usage + audit > 0 {
        tracing::info!(
            usage_days = usage,
            audit_events = audit,
            "housekeeping deleted what is past its retention"
        );
    }
    // Webhook secrets that a node of an earlier release wrote in clear (during a rolling
    // upgrade) are sealed.
    let sealed = store.reseal_webhook_secrets(true)?;
    if sealed > 0 {
        tracing::info!(
            webhooks = sealed,
            "housekeeping sealed webhook signing secrets written in clear"
        );
    }
    Ok(())
}
