//! Wake-ups for subscriptions: a LISTEN on `es_appended`, whose notifications (sent at commit by
//! a trigger on the events table) carry the schema's name.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;

/// The channel the trigger notifies.
const CHANNEL: &str = "es_appended";

/// A store's signal, started on first use and stopped when the store is gone.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    sender: OnceLock<Arc<watch::Sender<u64>>>,
}

impl Signal {
    /// A receiver that ticks when events are appended to `schema` (unquoted) by any process.
    /// `None` outside a tokio runtime: subscribers then poll.
    pub(crate) fn subscribe(&self, pool: &PgPool, schema: &str) -> Option<watch::Receiver<u64>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let sender = self.sender.get_or_init(|| {
            let sender = Arc::new(watch::Sender::new(0));
            runtime.spawn(listen(pool.clone(), schema.to_owned(), Arc::downgrade(&sender)));
            sender
        });
        Some(sender.subscribe())
    }
}

/// Forwards notifications for `schema` to `sender` while the store lives; reconnects after
/// errors (subscribers poll meanwhile).
async fn listen(pool: PgPool, schema: String, sender: Weak<watch::Sender<u64>>) {
    while sender.strong_count() > 0 {
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
                    Some(sender) => sender.send_modify(|n| *n += 1),
                    None => return,
                },
                Ok(Ok(_)) => {}
                Ok(Err(_)) => break,
                Err(_) if sender.strong_count() == 0 => return,
                Err(_) => {}
            }
        }
    }
}
