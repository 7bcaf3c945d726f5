//! [`Decisions`]: runs [`Decide`] commands across streams. Read the events of the decision's
//! states (a query of event names x tags), decide, append only if nothing matching the query
//! was committed since the read; on conflict, read and decide again (bounded).

use std::marker::PhantomData;
use std::sync::Arc;

use tracing::Instrument;

use crate::model::{command, keyed, Decide, EventEnum, EventSet, PrepareDecision, Recorded, States};
use crate::personal::{Keyring, Privacy};
use crate::repository::{CommandError, RetryPolicy};
use crate::store::{
    AppendCondition, Boundaries, EncodeError, ExpectedVersion, LocalQueues, LocalTurn, Metadata, NewEvent,
    Query, StoreError,
};

/// Runs decisions whose events are the set `E` (`#[derive(EventSet)]`) on the store `S`.
///
/// Each command's events go to a stream of their own, `<E::NAME>-<command id>` (a fresh id
/// unless the metadata names the command, which makes it idempotent: executing the same command
/// id again records nothing and returns what the first execution recorded).
pub struct Decisions<E, S> {
    store: S,
    /// This process's queues per tag, shared by clones: racers line up after a conflict.
    queues: Arc<LocalQueues>,
    keys: Option<Keyring>,
    retry: RetryPolicy,
    events: PhantomData<fn() -> E>,
}

impl<E, S: Clone> Clone for Decisions<E, S> {
    fn clone(&self) -> Self {
        Decisions {
            store: self.store.clone(),
            queues: Arc::clone(&self.queues),
            keys: self.keys.clone(),
            retry: self.retry,
            events: PhantomData,
        }
    }
}

impl<E: EventSet, S: Boundaries + Privacy> Decisions<E, S> {
    /// Decisions over `store`, sealing and opening personal data with its keyring.
    pub fn new(store: S) -> Self {
        Decisions {
            keys: store.keys(),
            store,
            queues: Arc::default(),
            retry: RetryPolicy::default(),
            events: PhantomData,
        }
    }
}

impl<E: EventSet, S: Boundaries> Decisions<E, S> {
    /// Retries on conflict as `retry` says (by default 10 attempts with a short backoff).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Seals and opens personal data with `keys` instead of the store's keyring.
    pub fn with_keys(mut self, keys: Keyring) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Calls services before deciding: commands implementing [`PrepareDecision`] with these
    /// `services` run through the returned handle.
    pub fn with_services<V: Send + Sync + 'static>(self, services: V) -> ServicedDecisions<E, S, V> {
        ServicedDecisions { decisions: self, services: Arc::new(services) }
    }

    /// Reads the decision's states, decides, and appends if none of them changed meanwhile;
    /// reads and decides again on conflict.
    pub async fn execute<D>(&self, decision: D) -> Result<Vec<Recorded<E>>, CommandError<D::Error>>
    where
        D: Decide<Events = E>,
    {
        self.execute_with(decision, Metadata::default()).await
    }

    /// Like [`execute`](Self::execute), recording `metadata` with every event; with
    /// [`Metadata::command_id`] the command is idempotent.
    pub async fn execute_with<D>(
        &self,
        decision: D,
        metadata: Metadata,
    ) -> Result<Vec<Recorded<E>>, CommandError<D::Error>>
    where
        D: Decide<Events = E>,
    {
        let command = metadata.command_id.unwrap_or_else(uuid::Uuid::new_v4);
        let stream = Self::stream_of(command);
        let span = tracing::info_span!(
            "es.decide",
            stream = %stream,
            decision = std::any::type_name::<D>(),
            attempts = tracing::field::Empty,
            recorded = tracing::field::Empty,
        );
        let run = self.run(&decision, &stream, command, metadata, &span);
        let recorded = run.instrument(span.clone()).await;
        if let Ok(events) = &recorded {
            span.record("recorded", events.len());
        }
        recorded
    }

    async fn run<D: Decide<Events = E>>(
        &self,
        decision: &D,
        stream: &str,
        command: uuid::Uuid,
        metadata: Metadata,
        span: &tracing::Span,
    ) -> Result<Vec<Recorded<E>>, CommandError<D::Error>> {
        if metadata.command_id.is_some() {
            if let Some(recorded) = self.recorded_before(stream).await? {
                return Ok(recorded);
            }
        }
        let keys = decision.boundary();
        let items = D::States::items(&keys);
        let query = Query::new(items.iter().cloned());
        // After a conflict, the decisions of this process on the same tags wait in line (one
        // local queue per tag, taken in a fixed order), so that racers in one process stop
        // invalidating each other; other processes stay optimistic.
        let mut in_line = Vec::new();
        for attempt in 1..=self.retry.attempts() {
            if attempt > 1 {
                if in_line.is_empty() {
                    in_line = self.line_up(&query).await;
                }
                self.retry.wait(attempt - 1).await;
            }
            span.record("attempts", attempt);
            let mut states = D::States::default();
            let read = self.store.visit_query(&query, |event, tags| {
                states.apply(&items, event, tags).map_err(StoreError::from)
            });
            let seen = keyed::scoped(self.keys.as_ref(), read).await?;
            let events = decision.decide(&states).map_err(CommandError::Rejected)?;
            if events.is_empty() {
                return Ok(Vec::new());
            }
            let new_events = self.encode(&events, stream, command, &metadata).await?;
            let condition = AppendCondition { query: query.clone(), seen };
            match self.store.append_if(stream, ExpectedVersion::NoStream, new_events, &condition).await {
                Ok(appended) => return Ok(Recorded::appended(events, appended.events, stream, &metadata)),
                Err(StoreError::BoundaryConflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(CommandError::Conflict { stream: stream.to_owned(), attempts: self.retry.attempts() })
    }

    /// This process's turns on the first tag of each of `query`'s items, taken in tag order.
    async fn line_up(&self, query: &Query) -> Vec<LocalTurn> {
        let mut tags: Vec<&str> =
            query.items.iter().filter_map(|i| i.tags.first().map(String::as_str)).collect();
        tags.sort_unstable();
        tags.dedup();
        let mut turns = Vec::with_capacity(tags.len());
        for tag in tags {
            turns.push(self.queues.get(tag).wait().await);
        }
        turns
    }

    /// What an earlier run of the command whose stream is `stream` recorded, if it ran.
    async fn recorded_before(&self, stream: &str) -> Result<Option<Vec<Recorded<E>>>, StoreError> {
        let earlier = self.store.read_stream(stream, 1, usize::MAX).await?;
        if earlier.is_empty() {
            return Ok(None);
        }
        let mut recorded = Vec::with_capacity(earlier.len());
        for stored in earlier {
            let event = keyed::decode::<E>(self.keys.as_ref(), &stored).await?;
            recorded.push(Recorded::of(event, stored));
        }
        Ok(Some(recorded))
    }

    /// The stream of the command `command`'s events.
    fn stream_of(command: uuid::Uuid) -> String {
        format!("{}-{command}", E::NAME)
    }

    /// The events as stored: ids derived from the command, personal fields sealed.
    async fn encode(
        &self,
        events: &[E],
        stream: &str,
        command: uuid::Uuid,
        metadata: &Metadata,
    ) -> Result<Vec<NewEvent>, StoreError> {
        let encode = || {
            events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    Ok(NewEvent::encode(e, metadata.clone())?.with_id(command::event_id(command, stream, i)))
                })
                .collect::<Result<Vec<_>, EncodeError>>()
        };
        let subjects: Vec<String> = events.iter().filter_map(EventEnum::personal_subject).collect();
        Ok(match &self.keys {
            Some(keys) if !subjects.is_empty() => {
                keys.ensure(subjects.iter().map(String::as_str)).await?;
                keys.scope(encode)?
            }
            Some(keys) => keys.scope(encode)?,
            None => encode()?,
        })
    }
}

/// [`Decisions`] with the services that [`PrepareDecision`] commands call first.
pub struct ServicedDecisions<E, S, V> {
    decisions: Decisions<E, S>,
    services: Arc<V>,
}

impl<E: EventSet, S: Boundaries, V: Send + Sync + 'static> ServicedDecisions<E, S, V> {
    /// Calls the services once, then runs the pure decision they made (again on conflict, with
    /// the same answer).
    pub async fn execute<P>(
        &self,
        command: P,
    ) -> Result<Vec<Recorded<E>>, CommandError<<P::Decision as Decide>::Error>>
    where
        P: PrepareDecision<Services = V>,
        P::Decision: Decide<Events = E>,
    {
        self.execute_with(command, Metadata::default()).await
    }

    /// Like [`execute`](Self::execute), recording `metadata` with every event. With
    /// [`Metadata::command_id`] the command is idempotent, and a command id that already ran
    /// calls no service: its earlier events are looked up first and returned.
    pub async fn execute_with<P>(
        &self,
        command: P,
        metadata: Metadata,
    ) -> Result<Vec<Recorded<E>>, CommandError<<P::Decision as Decide>::Error>>
    where
        P: PrepareDecision<Services = V>,
        P::Decision: Decide<Events = E>,
    {
        if let Some(id) = metadata.command_id {
            let stream = Decisions::<E, S>::stream_of(id);
            if let Some(recorded) = self.decisions.recorded_before(&stream).await? {
                return Ok(recorded);
            }
        }
        let decision = command.prepare(&self.services).await.map_err(CommandError::Rejected)?;
        self.decisions.execute_with(decision, metadata).await
    }

    /// The decisions without services, for commands that need none.
    pub fn decisions(&self) -> &Decisions<E, S> {
        &self.decisions
    }
}
