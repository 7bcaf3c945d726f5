//! `execute`: load, decide, append; a few optimistic attempts, then a turn on the stream that
//! no other process can take meanwhile, so every command on a hot aggregate lands.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use tracing::Instrument;

use super::snapshots::{crosses, Based};
use crate::model::command;
use crate::model::keyed;
use crate::model::EventEnum;
use crate::model::Recorded;
use crate::model::{Aggregate, Handle, HandlePrepared};
use crate::repository::{CommandError, Loaded, Repository};
use crate::store::ExpectedVersion;
use crate::store::Metadata;
use crate::store::NewEvent;
use crate::store::{EncodeError, EncodeFailure, StoreError};
use crate::store::{Turn, Turns};

pub(super) use super::fold::fold;
use super::fold::{fold_finding, Opening};
pub(super) use super::site::Direct;
use super::site::{InTurn, Site};

/// Keys a cycle inside a turn needs first: loaded or created outside the turn, then the turn
/// is taken again.
#[derive(Default)]
struct KeyNeed {
    /// Subjects whose keys a fold needs to open the stream's values.
    load: BTreeSet<String>,
    /// Subjects whose keys the new events will be sealed with.
    ensure: Vec<String>,
}

/// How many times one command may leave its turn to fetch keys (each fetch makes progress; a
/// key cache shorter than a turn could otherwise keep it going).
const MAX_KEY_ROUNDS: u32 = 16;

/// What decides on the loaded state, the one step that differs between commands: a [`Handle`]
/// command alone, or a [`HandlePrepared`] command with what its services answered. The
/// load-decide-append loop (retries, turns, keys, snapshots) is the same for both.
pub(super) trait Decider<A: Aggregate> {
    /// The events to record on `state`, or why not. Pure: it runs again after a conflict.
    fn decide(&self, state: &A) -> Result<Vec<A::Event>, A::Error>;
}

/// A [`Handle`] command.
struct Plain<'c, C>(&'c C);

impl<A: Handle<C>, C> Decider<A> for Plain<'_, C> {
    fn decide(&self, state: &A) -> Result<Vec<A::Event>, A::Error> {
        state.handle(self.0)
    }
}

/// A [`HandlePrepared`] command and what [`Prepare::prepare`](crate::Prepare::prepare) found out,
/// computed once before the loop.
pub(super) struct Prepared<'c, A: HandlePrepared<C>, C> {
    pub(super) command: &'c C,
    pub(super) prepared: &'c A::Prepared,
}

impl<A: HandlePrepared<C>, C> Decider<A> for Prepared<'_, A, C> {
    fn decide(&self, state: &A) -> Result<Vec<A::Event>, A::Error> {
        state.handle(self.command, self.prepared)
    }
}

/// What one load-decide-append cycle came to.
enum Cycle<A: Aggregate> {
    /// The events appended, and the state to keep as a snapshot once they are committed.
    Recorded(Vec<Recorded<A::Event>>, Option<Based<A>>),
    Conflict,
    /// Inside a turn: keys are needed that only I/O outside the turn can bring.
    NeedKeys(KeyNeed),
}

impl<A: Aggregate, S: Turns> Repository<A, S> {
    /// Loads the aggregate, lets it decide on `command`, and appends the events it returns,
    /// expecting the version it loaded; returns the events recorded (none if it decided on
    /// none).
    ///
    /// Commands of this process on one aggregate wait in one queue (see
    /// [`with_local_queue`](Self::with_local_queue)). A command that meets a newer version
    /// written by another process runs again, [`RetryPolicy::optimistic`](crate::RetryPolicy::optimistic)
    /// times, then waits for a turn on the stream that no other process can take meanwhile
    /// ([`Turns`]), so commands on a hot aggregate all land. Only writers that append without
    /// turns can still conflict inside a turn; after the policy's attempts that is
    /// [`CommandError::Conflict`].
    pub async fn execute<C>(
        &self,
        id: &str,
        command: C,
    ) -> Result<Vec<Recorded<A::Event>>, CommandError<A::Error>>
    where
        A: Handle<C>,
    {
        self.execute_with(id, command, Metadata::default()).await
    }

    /// Like [`execute`](Self::execute), recording `metadata` (correlation and causation ids,
    /// free key/values) with every event.
    ///
    /// With [`Metadata::command_id`], the command is idempotent: its events get ids derived
    /// from (command id, stream, index), and executing the same command id on the same
    /// aggregate again (a client's retry, after a restart too, or concurrently) records nothing
    /// new and returns the events the first execution recorded. Such a command reads the whole
    /// stream to find them (snapshots are not used for it).
    ///
    /// ```
    /// # use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Metadata, Repository, Uuid};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    /// # pub struct Added { n: u32 }
    /// # #[derive(Aggregate, Default)]
    /// # #[aggregate(events(Added), error = std::convert::Infallible)]
    /// # pub struct Sum { total: u32 }
    /// # impl Apply<Added> for Sum { fn apply(&mut self, e: &Added) { self.total += e.n } }
    /// # impl Handle<u32> for Sum {
    /// #     fn handle(&self, n: &u32) -> Result<Vec<SumEvent>, Self::Error> { Ok(vec![Added { n: *n }.into()]) }
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let sums = Repository::<Sum, _>::new(MemoryStore::new());
    /// let meta = Metadata::default().command_id(Uuid::new_v4()); // e.g. an Idempotency-Key
    /// let first = sums.execute_with("s", 5, meta.clone()).await?;
    /// let again = sums.execute_with("s", 5, meta).await?;       // nothing appended
    /// assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), again.iter().map(|r| r.id).collect::<Vec<_>>());
    /// assert_eq!(sums.load("s").await?.state.total, 5);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn execute_with<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
    ) -> Result<Vec<Recorded<A::Event>>, CommandError<A::Error>>
    where
        A: Handle<C>,
    {
        let stream = A::stream_name(id);
        let span = tracing::info_span!(
            "es.execute",
            stream = %stream,
            command = std::any::type_name::<C>(),
            attempts = tracing::field::Empty,
            turn = tracing::field::Empty,
            recorded = tracing::field::Empty,
        );
        let recorded = self.run(stream, &Plain(&command), metadata, &span).instrument(span.clone()).await;
        if let Ok(events) = &recorded {
            span.record("recorded", events.len());
        }
        recorded
    }

    /// `execute_with`'s work, inside its span (which it fills in): load, let `decider` decide,
    /// append, with the retries and turns.
    pub(super) async fn run<D: Decider<A>>(
        &self,
        stream: String,
        decider: &D,
        metadata: Metadata,
        span: &tracing::Span,
    ) -> Result<Vec<Recorded<A::Event>>, CommandError<A::Error>> {
        let queue = self.queued.then(|| self.store.local_queue(&stream));
        let _queued = match &queue {
            Some(queue) => Some(queue.wait().await),
            None => None,
        };
        let mut direct = Direct(&self.store);
        for attempt in 1..=self.retry.optimistic_attempts() {
            if attempt > 1 {
                self.retry.wait(attempt - 1).await;
            }
            span.record("attempts", attempt);
            let base = self.snapshot_base(&stream, &metadata).await?;
            match self.cycle(&mut direct, &stream, base, decider, &metadata, None).await? {
                Cycle::Recorded(recorded, snapshot) => {
                    return Ok(self.snapshot(&stream, recorded, snapshot).await)
                }
                Cycle::Conflict | Cycle::NeedKeys(_) => self.retries.fetch_add(1, Ordering::Relaxed),
            };
        }
        self.turns.fetch_add(1, Ordering::Relaxed);
        span.record("turn", true);
        // Keys confirmed at the store for this command, outside its turn.
        let mut confirmed = BTreeSet::new();
        let (mut attempt, mut key_rounds) = (0, 0);
        'turns: loop {
            // The snapshot is read before the turn: a store may read it through the connection
            // the turn holds (SQLite in memory has one). A retry inside the turn folds the whole
            // stream.
            let mut base = self.snapshot_base(&stream, &metadata).await?;
            let mut turn = InTurn(self.store.take_turn(&stream).await?);
            while attempt < self.retry.attempts() {
                attempt += 1;
                if attempt > 1 {
                    self.retry.wait(attempt - 1).await;
                }
                span.record("attempts", self.retry.optimistic_attempts() + attempt);
                let cycle = self.cycle(&mut turn, &stream, base.take(), decider, &metadata, Some(&confirmed));
                match cycle.await? {
                    Cycle::Recorded(recorded, snapshot) => {
                        turn.0.finish().await?;
                        return Ok(self.snapshot(&stream, recorded, snapshot).await);
                    }
                    Cycle::Conflict => self.retries.fetch_add(1, Ordering::Relaxed),
                    Cycle::NeedKeys(need) => {
                        // Give the turn back before any key I/O, fetch, and take it again.
                        drop(turn);
                        attempt -= 1;
                        key_rounds += 1;
                        if key_rounds > MAX_KEY_ROUNDS {
                            return Err(StoreError::backend(
                                S::BACKEND,
                                format!("the keys a command on `{stream}` needs kept expiring from the cache before its turn came (raise `Keyring::with_ttl`)"),
                            )
                            .into());
                        }
                        self.fetch_keys(need, &mut confirmed).await?;
                        continue 'turns;
                    }
                };
            }
            drop(turn);
            return Err(CommandError::Conflict {
                stream,
                attempts: self.retry.optimistic_attempts() + self.retry.attempts(),
            });
        }
    }

    /// Loads or creates the keys a cycle in a turn asked for, outside the turn.
    async fn fetch_keys(&self, need: KeyNeed, confirmed: &mut BTreeSet<String>) -> Result<(), StoreError> {
        let Some(keys) = &self.keys else { return Ok(()) };
        for subject in &need.load {
            keys.load(subject).await?;
        }
        keys.ensure(need.ensure.iter().map(String::as_str)).await?;
        confirmed.extend(need.ensure);
        Ok(())
    }

    /// Saves the snapshot a committed cycle asked for, and hands its events on. A snapshot that
    /// fails to save costs only speed on the next load, so the command still succeeds.
    async fn snapshot(
        &self,
        stream: &str,
        recorded: Vec<Recorded<A::Event>>,
        snapshot: Option<Based<A>>,
    ) -> Vec<Recorded<A::Event>> {
        if let (Some(snapshots), Some((state, version, subjects))) = (&self.snapshots, snapshot) {
            let _ = snapshots.save(stream, &state, version, &subjects, self.keys.as_ref()).await;
        }
        recorded
    }

    /// The newest usable snapshot of `stream`, when snapshots are on and the command is not
    /// named (a named command reads the whole stream to find an earlier run of itself).
    async fn snapshot_base(&self, stream: &str, metadata: &Metadata) -> Result<Option<Based<A>>, StoreError> {
        match &self.snapshots {
            Some(snapshots) if metadata.command_id.is_none() => {
                snapshots.load(stream, self.keys.as_ref()).await
            }
            _ => Ok(None),
        }
    }

    /// One load-decide-append at `site`, folding from `base` (a snapshot) or from the start.
    /// In a turn (`confirmed`: the keys confirmed for this command outside it), a cycle that
    /// needs key I/O stops with [`Cycle::NeedKeys`] instead.
    async fn cycle<D: Decider<A>>(
        &self,
        site: &mut impl Site,
        stream: &str,
        base: Option<Based<A>>,
        decider: &D,
        metadata: &Metadata,
        confirmed: Option<&BTreeSet<String>>,
    ) -> Result<Cycle<A>, CommandError<A::Error>> {
        let (mut loaded, mut seen) = match base {
            Some((state, version, subjects)) => (Loaded { state, version }, subjects),
            None => (Loaded { state: A::default(), version: 0 }, BTreeSet::new()),
        };
        let keys = self.keys.as_ref();
        let mut missing = BTreeSet::new();
        let opening = Opening {
            keys,
            seen: self.snapshots.is_some().then_some(&mut seen),
            missing: confirmed.is_some().then_some(&mut missing),
        };
        let folded = match metadata.command_id {
            // A named command reads the whole stream: if it ran before, its events are there,
            // and it answers with them instead of deciding again.
            Some(id) => {
                fold_finding(site, opening, stream, &mut loaded, usize::MAX, Some((id, S::BACKEND))).await
            }
            None => fold_finding(site, opening, stream, &mut loaded, usize::MAX, None).await,
        };
        let earlier = folded?;
        if !missing.is_empty() {
            return Ok(Cycle::NeedKeys(KeyNeed { load: missing, ensure: Vec::new() }));
        }
        if !earlier.is_empty() {
            let mut recorded = Vec::with_capacity(earlier.len());
            for stored in earlier {
                let event = keyed::decode::<A::Event>(keys, &stored).await?;
                recorded.push(Recorded::of(event, stored));
            }
            return Ok(Cycle::Recorded(recorded, None));
        }
        let events = decider.decide(&loaded.state).map_err(CommandError::Rejected)?;
        if events.is_empty() {
            return Ok(Cycle::Recorded(Vec::new(), None));
        }
        let encode = || {
            events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let encoded = NewEvent::encode(e, metadata.clone())?;
                    Ok(match metadata.command_id {
                        Some(id) => encoded.with_id(command::event_id(id, stream, i)),
                        None => encoded,
                    })
                })
                .collect::<Result<Vec<_>, EncodeError>>()
        };
        let subjects: Vec<String> = events.iter().filter_map(|e| e.personal_subject()).collect();
        let new_events = match keys {
            Some(keys) if !subjects.is_empty() => {
                match confirmed {
                    None => keys.ensure(subjects.iter().map(String::as_str)).await?,
                    Some(confirmed) if !subjects.iter().all(|s| confirmed.contains(s)) => {
                        return Ok(Cycle::NeedKeys(KeyNeed { load: BTreeSet::new(), ensure: subjects }));
                    }
                    Some(_) => {}
                }
                match keys.scope(encode) {
                    // Confirmed before the turn, expired from the cache since: fetch it again.
                    Err(EncodeError { source: EncodeFailure::KeyNotLoaded { .. }, .. })
                        if confirmed.is_some() =>
                    {
                        return Ok(Cycle::NeedKeys(KeyNeed { load: BTreeSet::new(), ensure: subjects }));
                    }
                    encoded => encoded,
                }
            }
            Some(keys) => keys.scope(encode),
            None => encode(),
        }
        .map_err(StoreError::from)?;
        let appended = match site.append(stream, ExpectedVersion::Exact(loaded.version), new_events).await {
            Ok(appended) => appended,
            Err(StoreError::Conflict { .. }) => return Ok(Cycle::Conflict),
            // The same command, run concurrently elsewhere, stored its events first (and decided
            // otherwise than this run): run again, and find them.
            Err(StoreError::DuplicateEventId { .. }) if metadata.command_id.is_some() => {
                return Ok(Cycle::Conflict)
            }
            Err(other) => return Err(other.into()),
        };
        let due = self
            .snapshots
            .as_ref()
            .is_some_and(|s| crosses(loaded.version, appended.stream_version, s.every()));
        let snapshot = due.then(|| {
            let mut state = loaded.state;
            for e in &events {
                state.apply(e);
            }
            seen.extend(subjects);
            (state, appended.stream_version, seen)
        });
        Ok(Cycle::Recorded(Recorded::appended(events, appended.events, stream, metadata), snapshot))
    }
}
