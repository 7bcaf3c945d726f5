//! Wake-ups for subscriptions: a LISTEN on `es_appended`, whose notifications (sent by every
//! store after its appends commit, see `notify.rs`) carry the schema's name; appends of this
//! process tick the signal at once.

use std::sync::OnceLock;
use std::time::Duration;

use es_core::{AppendSignal, AppendWatch, WeakAppendSignal};
use sqlx::postgres::{PgListener, PgPool};

/// The channel stores notify.
pub(crate) const CHANNEL: &str = "es_appended";

/// A store's signal, started on first use and stopped when the store is gone.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    sender: OnceLock<AppendSignal>,
}

impl Signal {
    /// Ticks for subscribers of this process, if any watch.
    pub(crate) fn tick(&self) {
        if let Some(sender) = self.sender.get() {
            sender.tick();
        }
    }

    /// A watch that ticks when events are appended to `schema` (unquoted) by any process.
    /// `None` outside a tokio runtime: subscribers then poll.
    pub(crate) fn watch(&self, pool: &PgPool, schema: &str) -> Option<AppendWatch> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let sender = self.sender.get_or_init(|| {
            let sender = AppendSignal::default();
            runtime.spawn(listen(pool.clone(), schema.to_owned(), sender.downgrade()));
            sender
        });
        Some(sender.watch())
    }
}

/// Forwards notifications for `schema` to `sender` while the store lives; reconnects after
/// errors (subscribers poll meanwhile).
async fn listen(pool: PgPool, schema: String, sender: WeakAppendSignal) {
    while sender.upgrade().is_some() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen(CHANNEL).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            // Wake up now and then to notice that the store is gone.
            match tokio::time::timeout(Duration::from_secs(5), listener.recv()).await {
                Ok(Ok(notification)) if notification.payload() == schema => match sender.upgrade() {
                    Some(sender) => sender.tick(),
                    None => return,
                },
                Ok(Ok(_)) => {}
                Ok(Err(_)) => break,
                Err(_) if sender.upgrade().is_none() => return,
                Err(_) => {}
            }
        }
    }
}
