//! The time that the expiry reminders go by: the system's, which tests move forward to cover
//! 30, 7 and 1 days before an end date without waiting for them.

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Seconds added to the system's time.
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset.load(Ordering::Acquire))
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Moves this clock (and every copy of it) forward by `days`.
    pub fn advance_days(&self, days: i64) {
        self.offset.fetch_add(days * 86_400, Ordering::AcqRel);
    }
}
