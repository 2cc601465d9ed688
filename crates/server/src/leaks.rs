//! Leak reports, handled apart from their answer. The route answers `202` as soon as a report
//! is queued, whether or not any secret in it works, so that neither the answer nor its time
//! tells anything; a worker thread then looks the digests up (a read) and writes only for those
//! that match a working secret, usually within milliseconds.

use crate::metrics::Metrics;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;
use tollgate_store::secret::SecretDigest;
use tollgate_store::{Origin, Reporter, Store};

/// Reports waiting at most: past it, a report is refused as "try again" (`503`).
const QUEUE: usize = 1024;
/// Tries of a report whose database call fails, a second apart.
const TRIES: u32 = 5;

struct Report {
    digests: Vec<SecretDigest>,
    origin: Origin,
}

/// The queue of reports and its worker.
pub struct Leaks {
    queue: SyncSender<Report>,
}

/// The queue is full.
#[derive(Debug)]
pub struct Busy;

impl Leaks {
    /// Starts the worker; it ends when the last [`Leaks`] is dropped.
    pub fn start(store: Store, metrics: Arc<Metrics>) -> std::io::Result<Leaks> {
        let (queue, reports) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("tollgate-leaks".into())
            .spawn(move || work(&store, &metrics, &reports))?;
        Ok(Leaks { queue })
    }

    /// Queues a report's digests (the secrets that parsed as Tollgate's).
    pub fn report(&self, digests: Vec<SecretDigest>, origin: Origin) -> Result<(), Busy> {
        match self.queue.try_send(Report { digests, origin }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

fn work(store: &Store, metrics: &Metrics, reports: &Receiver<Report>) {
    let reporter = Reporter {
        id: "credential-revocation".into(),
        name: "Leaked-credential report".into(),
        reason: "reported leaked through the credential revocation API".into(),
    };
    while let Ok(report) = reports.recv() {
        let mut tries = 0;
        let outcome = loop {
            tries += 1;
            match store.revoke_leaked(&report.digests, &reporter, &report.origin) {
                Ok(0) => break "unmatched",
                Ok(_) => break "matched",
                Err(e) if tries < TRIES => {
                    tracing::warn!(error = %e, "a leak report could not be handled yet; trying again");
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => {
                    tracing::error!(error = %e, secrets = report.digests.len(), "a leak report could not be handled");
                    break "failed";
                }
            }
        };
        metrics.leak_report(outcome);
    }
}
