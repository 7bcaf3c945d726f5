//! What the store's connections and transactions run with, whatever the server's or the role's
//! defaults say.
//!
//! The design relies on READ COMMITTED: a turn waits for its stream's lock, then must read what
//! the turn before it appended, and only READ COMMITTED takes a fresh snapshot per statement. At
//! REPEATABLE READ or SERIALIZABLE (a server or role default some operators set), the snapshot
//! would be taken before the wait and the turn would decide on a stale stream. So every
//! transaction the store begins says `BEGIN ISOLATION LEVEL READ COMMITTED`, pools the store
//! makes set it as the session default too (so that an append, one statement, needs no
//! `BEGIN`), and `es_append` refuses to run at another level.

use std::time::Duration;

use sqlx::{PgPool, Postgres, Transaction};

/// How the store begins every transaction.
pub(crate) const READ_COMMITTED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// The SQLSTATE `es_append` raises when called at another isolation level (migration 11).
const NEEDS_READ_COMMITTED: &str = "ES001";

/// Begins a READ COMMITTED transaction on a connection of `pool`.
pub(crate) async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with(READ_COMMITTED).await
}

/// Whether `e` is `es_append` refusing to run outside READ COMMITTED.
pub(crate) fn needs_read_committed(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(NEEDS_READ_COMMITTED))
}

/// The session settings of a pool the store makes, sent when each connection starts (no round
/// trip), as `(name, value)` in the form PostgreSQL's `options` startup parameter takes.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) lock_timeout: Option<Duration>,
    pub(crate) idle_in_transaction: Option<Duration>,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) read_only: bool,
}

impl Settings {
    /// The settings, each as `(name, value)`.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        // A space in a value is escaped with a backslash in the `options` parameter.
        let mut pairs = vec![("default_transaction_isolation", "read\\ committed".to_owned())];
        if let Some(timeout) = self.lock_timeout {
            pairs.push(("lock_timeout", millis(timeout)));
        }
        if let Some(timeout) = self.idle_in_transaction {
            pairs.push(("idle_in_transaction_session_timeout", millis(timeout)));
        }
        if let Some(idle) = self.tcp_keepalive.filter(|idle| !idle.is_zero()) {
            // The server probes a connection idle for `idle`, then every third of it, and
            // drops it after 3 unanswered probes; data it sent that stays unacknowledged as long
            // drops it too (keepalives do not run while data is in flight).
            let idle_s = idle.as_secs().clamp(1, i32::MAX as u64 / 4000);
            let interval_s = (idle_s / 3).max(1);
            pairs.push(("tcp_keepalives_idle", idle_s.to_string()));
            pairs.push(("tcp_keepalives_interval", interval_s.to_string()));
            pairs.push(("tcp_keepalives_count", "3".to_owned()));
            pairs.push(("tcp_user_timeout", format!("{}ms", (idle_s + 3 * interval_s) * 1000)));
        }
        if self.read_only {
            pairs.push(("default_transaction_read_only", "on".to_owned()));
        }
        pairs
    }
}

/// `d` in milliseconds as a setting: rounded up (a zero would turn the timeout off), at most
/// what PostgreSQL takes. `Duration::ZERO` is `0`, which PostgreSQL reads as "no timeout".
fn millis(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128);
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Settings;

    fn settings() -> Settings {
        Settings {
            lock_timeout: Some(Duration::from_secs(10)),
            idle_in_transaction: Some(Duration::from_micros(1500)),
            tcp_keepalive: Some(Duration::from_secs(30)),
            read_only: false,
        }
    }

    fn value(settings: &Settings, name: &str) -> Option<String> {
        settings.pairs().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[test]
    fn sessions_run_read_committed_with_timeouts() {
        let s = settings();
        assert_eq!(value(&s, "default_transaction_isolation").as_deref(), Some("read\\ committed"));
        assert_eq!(value(&s, "lock_timeout").as_deref(), Some("10000ms"));
        assert_eq!(value(&s, "idle_in_transaction_session_timeout").as_deref(), Some("2ms"), "rounded up");
        assert_eq!(value(&s, "tcp_keepalives_idle").as_deref(), Some("30"));
        assert_eq!(value(&s, "tcp_keepalives_interval").as_deref(), Some("10"));
        assert_eq!(value(&s, "tcp_user_timeout").as_deref(), Some("60000ms"));
        assert_eq!(value(&s, "default_transaction_read_only"), None);
    }

    #[test]
    fn none_leaves_the_servers_setting() {
        let s =
            Settings { lock_timeout: None, idle_in_transaction: None, tcp_keepalive: None, read_only: true };
        assert_eq!(value(&s, "lock_timeout"), None);
        assert_eq!(value(&s, "idle_in_transaction_session_timeout"), None);
        assert_eq!(value(&s, "tcp_keepalives_idle"), None);
        assert_eq!(value(&s, "default_transaction_read_only").as_deref(), Some("on"));
        let huge = Settings { lock_timeout: Some(Duration::MAX), ..s };
        assert_eq!(value(&huge, "lock_timeout"), Some(format!("{}ms", i32::MAX)));
    }
}
