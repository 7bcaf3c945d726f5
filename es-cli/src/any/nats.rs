//! `nats://`: an [`AnyStore`] on a [`JetStreamStore`], and what it cannot do.
//!
//! The URL is the servers' (one, or several comma-separated: the client fails over between
//! them), with the store's options as a query on the end:
//!
//! ```text
//! nats://127.0.0.1:4222                                         stream ES, one replica
//! nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224?stream=BANK&replicas=3
//! ```
//!
//! `stream` names the JetStream stream of events (side tables in `<stream>_SIDE`); `replicas`
//! is used only when the streams are created. Opened for reading or writing ([`Access::Read`],
//! [`Access::Write`]) a missing stream is an error and connecting writes nothing; for
//! [`Access::Migrate`] and [`Access::Create`] the streams are created if missing.

use es_core::StoreError;
use es_nats::{JetStreamOptions, JetStreamStore};

use super::{Access, AnyStore, OpenError};

/// What an [`AnyStore`] holding a [`JetStreamStore`] refuses: the traits [`AnyStore`]
/// implements for every store but that `JetStreamStore` does not.
///
/// `AnyStore` chooses its store at run time, so it implements the union of the stores' traits,
/// and a call the store it holds cannot answer is this error, inside
/// [`StoreError::Backend`] (backend `jetstream`; downcast the source to match on it). Typed
/// code that wants the compiler to say it instead uses [`JetStreamStore`] itself, which
/// implements neither trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotOnJetStream {
    /// [`Rewrite`](es_core::integrity::Rewrite): JetStream messages are immutable and the
    /// events stream denies deletes, so no stored event is ever changed.
    #[error(
        "the JetStream store rewrites no event: its messages are immutable and its events stream \
         denies deletes (JetStreamStore does not implement Rewrite); to erase personal data, forget \
         its subject's key"
    )]
    Rewrite,
    /// [`Boundaries`](es_core::Boundaries): a condition over the streams a tag query matches
    /// needs a check over several subjects, which JetStream does not make safely (with a
    /// wildcard filter, conflicting writes both committed on a 3-node stream).
    #[error(
        "the JetStream store makes no decisions across streams (Boundaries): JetStream checks an \
         expected sequence per literal subject, and a condition over several subjects is not safe \
         on a cluster; use one aggregate per decision, or a SQL store"
    )]
    Boundaries,
}

impl NotOnJetStream {
    /// As the store error a call returns.
    pub(crate) fn into_store(self) -> StoreError {
        StoreError::backend(<JetStreamStore as es_core::EventStore>::BACKEND, self)
    }
}

/// A `nats://` URL: the servers and the store's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NatsUrl {
    /// `nats://host:port`, comma-separated.
    pub(super) servers: String,
    /// The events stream.
    pub(super) stream: String,
    /// Replicas when created.
    pub(super) replicas: usize,
}

impl NatsUrl {
    /// Parses `nats://host:port[,nats://...][?stream=NAME&replicas=N]`.
    pub(super) fn parse(url: &str) -> Result<Self, OpenError> {
        let bad = |problem: String| OpenError::NatsUrl { url: url.to_owned(), problem };
        let (servers, query) = url.split_once('?').unwrap_or((url, ""));
        let defaults = JetStreamOptions::default();
        let mut parsed =
            NatsUrl { servers: servers.to_owned(), stream: defaults.stream_name().to_owned(), replicas: 1 };
        for server in servers.split(',') {
            let host = server.trim().strip_prefix("nats://").unwrap_or("");
            if host.is_empty() || host.contains('/') {
                return Err(bad(format!("`{server}` is not nats://HOST:PORT")));
            }
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("stream", name)) if valid_stream(name) => parsed.stream = name.to_owned(),
                Some(("stream", name)) => {
                    return Err(bad(format!("stream `{name}`: use letters, digits, `-` and `_`")))
                }
                Some(("replicas", n)) => match n.parse::<usize>() {
                    Ok(n @ 1..=5) => parsed.replicas = n,
                    _ => return Err(bad(format!("replicas `{n}`: a number from 1 to 5"))),
                },
                _ => return Err(bad(format!("`{pair}`: the options are stream=NAME and replicas=N"))),
            }
        }
        Ok(parsed)
    }

    /// Opens the store, creating its streams only for [`Access::Migrate`] and [`Access::Create`].
    pub(super) async fn open(&self, url: &str, access: Access) -> Result<AnyStore, OpenError> {
        let create = matches!(access, Access::Migrate | Access::Create);
        let options = JetStreamOptions::new(&self.stream).replicas(self.replicas).create(create);
        JetStreamStore::connect(&self.servers, options)
            .await
            .map(AnyStore::Nats)
            .map_err(|e| OpenError::nats(url, &self.stream, e))
    }
}

/// A JetStream stream name the store accepts (the API takes any, the subjects need this).
fn valid_stream(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let one = NatsUrl::parse("nats://127.0.0.1:4222").expect("one server");
        assert_eq!(
            (one.servers.as_str(), one.stream.as_str(), one.replicas),
            ("nats://127.0.0.1:4222", "ES", 1)
        );
        let three = NatsUrl::parse("nats://a:1,nats://b:2,nats://c:3?stream=BANK&replicas=3").expect("three");
        assert_eq!(three.servers, "nats://a:1,nats://b:2,nats://c:3");
        assert_eq!((three.stream.as_str(), three.replicas), ("BANK", 3));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, says) in [
            ("nats://", "is not nats://HOST:PORT"),
            ("nats://a:1,http://b:2", "`http://b:2` is not"),
            ("nats://a:1?stream=a.b", "stream `a.b`"),
            ("nats://a:1?stream=", "stream ``"),
            ("nats://a:1?replicas=0", "replicas `0`"),
            ("nats://a:1?replicas=x", "replicas `x`"),
            ("nats://a:1?color=red", "`color=red`"),
        ] {
            let e = NatsUrl::parse(url).expect_err(url).to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }
}
