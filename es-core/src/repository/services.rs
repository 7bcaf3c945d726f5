//! [`Serviced`]: a [`Repository`] with the services that prepared commands call first. A
//! command implementing [`Prepare`] and [`HandlePrepared`] calls its services once, outside
//! the conflict retries; the pure decision gets their answer and runs (again after a conflict,
//! on fresh state) in the repository's one load-decide-append loop.

use std::sync::Arc;

use tracing::Instrument;

use super::execute::Prepared;
use crate::model::{command, keyed};
use crate::model::{Aggregate, HandlePrepared, Prepare, Recorded};
use crate::repository::{CommandError, Repository};
use crate::store::backend;
use crate::store::{Lend, Metadata, StoreError, Turns};

/// A [`Repository`] of aggregates `A` on the store `S` with the services `V` that their
/// [`Prepare`] steps call: built by [`Repository::with_services`].
///
/// ```
/// # use es_core::{Aggregate, Apply, Event, HandlePrepared, MemoryStore, Prepare, Repository};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct Withdrawn { amount: u64 }
/// # #[derive(Aggregate, Default)]
/// # #[aggregate(events(Withdrawn), error = String)]
/// # pub struct Account { withdrawn: u64 }
/// # impl Apply<Withdrawn> for Account { fn apply(&mut self, e: &Withdrawn) { self.withdrawn += e.amount } }
/// pub struct Fraud { pub limit: u64 }                     // the application's own service
/// pub struct Withdraw { pub amount: u64 }
///
/// impl Prepare<Withdraw> for Account {
///     type Services = Fraud;
///     type Prepared = bool;                               // suspicious?
///     async fn prepare(cmd: &Withdraw, fraud: &Fraud) -> Result<bool, String> {
///         Ok(cmd.amount > fraud.limit)                    // a call to a real service, once
///     }
/// }
/// impl HandlePrepared<Withdraw> for Account {
///     fn handle(&self, cmd: &Withdraw, suspicious: &bool) -> Result<Vec<AccountEvent>, String> {
///         if *suspicious { return Err("held for review".into()) }
///         Ok(vec![Withdrawn { amount: cmd.amount }.into()])
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let accounts = Repository::<Account, _>::new(MemoryStore::new()).with_services(Fraud { limit: 100 });
/// accounts.execute("ann", Withdraw { amount: 30 }).await?;
/// assert!(accounts.execute("ann", Withdraw { amount: 500 }).await.is_err());
/// assert_eq!(accounts.repository().load("ann").await?.state.withdrawn, 30);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Serviced<A, S, V> {
    repository: Repository<A, S>,
    services: Arc<V>,
}

impl<A, S: Clone, V> Clone for Serviced<A, S, V> {
    fn clone(&self) -> Self {
        Serviced { repository: self.repository.clone(), services: Arc::clone(&self.services) }
    }
}

impl<A, S: std::fmt::Debug, V> std::fmt::Debug for Serviced<A, S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serviced")
            .field("repository", &self.repository)
            .field("services", &std::any::type_name::<V>())
            .finish()
    }
}

impl<A: Aggregate, S> Repository<A, S> {
    /// This repository with `services`, for commands whose decision needs them first
    /// ([`Prepare`] + [`HandlePrepared`]); see [`Serviced`].
    pub fn with_services<V: Send + Sync + 'static>(self, services: V) -> Serviced<A, S, V> {
        Serviced { repository: self, services: Arc::new(services) }
    }
}

impl<A: Aggregate, S: Turns, V: Send + Sync + 'static> Serviced<A, S, V> {
    /// Calls the command's services once ([`Prepare::prepare`]; its error refuses the command),
    /// then loads, decides with their answer ([`HandlePrepared::handle`]) and appends as
    /// [`Repository::execute`] does, deciding again on fresh state after a conflict.
    pub async fn execute<C>(
        &self,
        id: &str,
        command: C,
    ) -> Result<Vec<Recorded<A::Event>>, CommandError<A::Error>>
    where
        A: HandlePrepared<C, Services = V>,
    {
        self.execute_with(id, command, Metadata::default()).await
    }

    /// Like [`execute`](Self::execute), recording `metadata` with every event. With
    /// [`Metadata::command_id`] it is idempotent as [`Repository::execute_with`] is, and a
    /// command id that already ran on this aggregate calls no service: its earlier events are
    /// looked up first (reading the stream) and returned.
    pub async fn execute_with<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
    ) -> Result<Vec<Recorded<A::Event>>, CommandError<A::Error>>
    where
        A: HandlePrepared<C, Services = V>,
    {
        let stream = A::stream_name(id);
        let span = tracing::info_span!(
            "es.execute",
            stream = %stream,
            command = std::any::type_name::<C>(),
            prepared = true,
            attempts = tracing::field::Empty,
            turn = tracing::field::Empty,
            recorded = tracing::field::Empty,
        );
        let run = async {
            if let Some(id) = metadata.command_id {
                if let Some(recorded) = self.recorded_before(&stream, id).await? {
                    return Ok(recorded);
                }
            }
            let prepared = <A as Prepare<C>>::prepare(&command, &self.services)
                .instrument(tracing::debug_span!("es.prepare"))
                .await
                .map_err(CommandError::Rejected)?;
            let decider = Prepared::<A, C> { command: &command, prepared: &prepared };
            self.repository.run(stream, &decider, metadata, &span).await
        };
        let recorded = run.instrument(span.clone()).await;
        if let Ok(events) = &recorded {
            span.record("recorded", events.len());
        }
        recorded
    }

    /// What the command `command` recorded in `stream` if it ran before (its events' ids
    /// derive from the command's), so that a command id that already ran calls no service.
    async fn recorded_before(
        &self,
        stream: &str,
        command: uuid::Uuid,
    ) -> Result<Option<Vec<Recorded<A::Event>>>, StoreError> {
        let mut found = Vec::new();
        let store = &self.repository.store;
        store
            .visit_stream(stream, 1, usize::MAX, Lend::All, |stored| {
                if stored.id == command::event_id(command, stream, found.len()) {
                    found.push(backend::owned(S::BACKEND, stored)?);
                }
                Ok(())
            })
            .await?;
        if found.is_empty() {
            return Ok(None);
        }
        let mut recorded = Vec::with_capacity(found.len());
        for stored in found {
            let event = keyed::decode::<A::Event>(self.repository.keys.as_ref(), &stored).await?;
            recorded.push(Recorded::of(event, stored));
        }
        Ok(Some(recorded))
    }

    /// The repository, for commands that need no services, and loads.
    pub fn repository(&self) -> &Repository<A, S> {
        &self.repository
    }

    /// The services.
    pub fn services(&self) -> &V {
        &self.services
    }
}
