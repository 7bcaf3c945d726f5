//! Telling other processes that events were appended. A trigger notifying at every commit made
//! commits queue on the server's notification lock (13 to 18% of W3's throughput), so the store
//! notifies itself after its appends commit, at most once per short window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use sqlx::postgres::PgPool;

use crate::signal::CHANNEL;

/// Appends within this window after a notification share the next one.
const WINDOW: Duration = Duration::from_millis(2);

/// One store's notifier: started on the first append, stopped when the store is gone.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    dirty: AtomicBool,
    wake: tokio::sync::Notify,
    started: OnceLock<()>,
}

impl Notifier {
    /// Records that this process committed an append to `schema` (unquoted): listeners in every
    /// process are notified within [`WINDOW`]. Outside a tokio runtime nobody is notified, and
    /// subscribers find the events by polling.
    pub(crate) fn appended(self: &Arc<Self>, pool: &PgPool, schema: &str) {
        self.dirty.store(true, Ordering::Release);
        if self.started.get().is_none() {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
            self.started.get_or_init(|| {
                runtime.spawn(run(Arc::downgrade(self), pool.clone(), schema.to_owned()));
            });
        }
        self.wake.notify_one();
    }
}

async fn run(notifier: Weak<Notifier>, pool: PgPool, schema: String) {
    while let Some(this) = notifier.upgrade() {
        // Wake up now and then to notice that the store is gone.
        let _ = tokio::time::timeout(Duration::from_secs(5), this.wake.notified()).await;
        while this.dirty.swap(false, Ordering::AcqRel) {
            // A failed notification costs listeners only a poll interval.
            let _ = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&schema).execute(&pool).await;
            tokio::time::sleep(WINDOW).await;
        }
    }
}
