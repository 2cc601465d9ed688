//! The unit of work of a change. A mutation records, inside its transaction, what it did
//! besides its rows: which cached answers it makes stale ([`Effects::changed`]) and, through the
//! audit log, which webhook events it wrote to the outbox. [`Store::write`] alone acts on that:
//! inside the transaction it tells the other nodes (PostgreSQL `NOTIFY`, delivered only if the
//! transaction commits), and after the commit it clears this node's cache and wakes this node's
//! webhook sender, once. On a rollback nothing leaves.
//!
//! A new mutation declares here, in its own transaction, what it changed: nothing else does it.

use crate::audit::Entry;
use crate::change::{Change, ChangeListener, CHANNEL};
use crate::{DbConn, Result, Store};
use diesel::prelude::*;
use std::sync::Arc;

/// What a change did beyond its rows, gathered while its transaction runs.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    audit: Vec<Entry>,
    changes: Vec<Change>,
    enqueued: bool,
}

impl Effects {
    /// An event of the audit log (and, through the outbox, of the webhooks that want it).
    pub(crate) fn audit(&mut self, entry: Entry) {
        self.audit.push(entry);
    }

    /// Cached answers that this change makes stale, on every node.
    pub(crate) fn changed(&mut self, change: Change) {
        if !self.changes.contains(&change) {
            self.changes.push(change);
        }
    }

    /// The change wrote webhook deliveries (or made one due): the sender is woken after it.
    pub(crate) fn enqueued(&mut self) {
        self.enqueued = true;
    }

    /// Inside the transaction, last: the audit events and their deliveries are written, and
    /// the other nodes are told (PostgreSQL delivers a notification when, and only if, its
    /// transaction commits; SQLite has one node).
    fn finish(&mut self, c: &mut DbConn, node: &str) -> Result<()> {
        if crate::audit::write(c, &self.audit)? {
            self.enqueued = true;
        }
        if let DbConn::Pg(_) = c {
            for change in &self.changes {
                diesel::sql_query("SELECT pg_notify($1, $2)")
                    .bind::<diesel::sql_types::Text, _>(CHANNEL)
                    .bind::<diesel::sql_types::Text, _>(change.payload(node))
                    .execute(c)?;
            }
        }
        Ok(())
    }
}

impl Store {
    /// Runs `f` in one write transaction: all of it happens, or none of it. `f` records in
    /// [`Effects`] what it changed; after the commit this node's cache hears of it and the
    /// webhook sender is woken.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut DbConn, &mut Effects) -> Result<T>) -> Result<T> {
        let mut pooled = self.conn()?;
        let sqlite = matches!(pooled.db, DbConn::Sqlite(_));
        let counted = sqlite && self.counts_own_writes.load(std::sync::atomic::Ordering::Acquire);
        let done = pooled.run(|conn| {
            conn.transaction(|c| {
                if sqlite {
                    diesel::sql_query("UPDATE write_gate SET writes = writes + 1 WHERE id = 1").execute(c)?;
                }
                if counted {
                    diesel::sql_query(
                        "INSERT INTO node_writes (node, writes) VALUES (?, 1) \
                         ON CONFLICT (node) DO UPDATE SET writes = writes + 1",
                    )
                    .bind::<diesel::sql_types::Text, _>(&*self.node)
                    .execute(c)?;
                }
                let mut effects = Effects::default();
                let out = f(c, &mut effects)?;
                effects.finish(c, &self.node)?;
                Ok((out, effects))
            })
        });
        let (out, effects) = done?;
        self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.announce(&effects.changes);
        if effects.enqueued {
            if let Some(wake) = self.outbox_waker.get() {
                wake();
            }
        }
        Ok(out)
    }

    /// Registers the listener of token changes: called after each committed change on this
    /// node and, with PostgreSQL, for every other node's changes through `LISTEN/NOTIFY`.
    pub fn set_change_listener(&self, listener: Arc<dyn ChangeListener>) {
        if self.listener.set(listener.clone()).is_err() {
            tracing::warn!("a change listener was already registered");
            return;
        }
        match &self.url {
            Some(url) if self.backend() == crate::Backend::Postgres => {
                crate::notify::spawn(
                    url.clone(),
                    self.node.clone(),
                    Arc::downgrade(&listener),
                    self.notify_up.clone(),
                );
            }
            _ => {
                listener.single_node();
                self.watch_other_writers(Arc::downgrade(&listener));
            }
        }
    }

    /// SQLite has one serving node, but other processes may write (`tollgate project put` on
    /// the host): every 150 ms, a change in the count of writes by others makes the listener
    /// forget everything, well within the promised second.
    fn watch_other_writers(&self, listener: std::sync::Weak<dyn ChangeListener>) {
        if let Err(e) = self.count_own_writes() {
            tracing::warn!(error = %e, "cannot count this process' writes to the SQLite database");
        }
        let store = self.clone();
        let spawned = std::thread::Builder::new()
            .name("tollgate-sqlite-watch".into())
            .spawn(move || {
                let mut seen = store.others_writes().ok();
                loop {
                    std::thread::sleep(std::time::Duration::from_millis(150));
                    let Some(listener) = listener.upgrade() else { return };
                    let Ok(others) = store.others_writes() else { continue };
                    if seen != Some(others) {
                        listener.missed_changes();
                        seen = Some(others);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot watch for other writers of the SQLite database");
        }
    }

    /// Tells the listener of this node about committed changes.
    fn announce(&self, changes: &[Change]) {
        if let Some(listener) = self.listener.get() {
            for change in changes {
                listener.changed(change);
            }
        }
    }
}
