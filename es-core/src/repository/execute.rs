//! `execute`: load, decide, append; a few optimistic attempts, then a turn on the stream that
//! no other process can take meanwhile, so every command on a hot aggregate lands.

use std::sync::atomic::Ordering;

use tracing::Instrument;

use crate::aggregate::{Aggregate, Handle};
use crate::codec;
use crate::command;
use crate::error::StoreError;
use crate::event::EventEnum;
use crate::expected::ExpectedVersion;
use crate::metadata::Metadata;
use crate::personal::{keys, Keyring};
use crate::record::{NewEvent, StoredEvent};
use crate::recorded::Recorded;
use crate::repository::{CommandError, Loaded, Repository};
use crate::snapshot::crosses;
use crate::store::Lend;
use crate::turn::{Turn, Turns};

pub(super) use super::site::Direct;
use super::site::{InTurn, Site};

/// Applies up to `limit` events after `loaded.version`, lent by the site: nothing copied.
pub(super) async fn fold<A: Aggregate>(
    site: &mut impl Site,
    keys: Option<&Keyring>,
    stream: &str,
    loaded: &mut Loaded<A>,
    limit: usize,
) -> Result<(), StoreError> {
    fold_finding(site, keys, stream, loaded, limit, None).await.map(drop)
}

/// Like [`fold`], also collecting the events that the command `finding` names (its id, and the
/// store's name for errors) recorded in the stream, if it ran before (their ids are derived
/// from the command's). Finding needs every field, so it lends them all.
///
/// Personal data opens with `keys`: an event whose subject's key is not cached stops the
/// visit, the key is loaded, and the fold goes on from that event.
async fn fold_finding<A: Aggregate>(
    site: &mut impl Site,
    keys: Option<&Keyring>,
    stream: &str,
    loaded: &mut Loaded<A>,
    limit: usize,
    finding: Option<(uuid::Uuid, &'static str)>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let (state, version, mut found) = (&mut loaded.state, &mut loaded.version, Vec::new());
    let lend = if finding.is_some() { Lend::All } else { Lend::ForDecoding };
    let (mut applied, mut stuck_at) = (0, None);
    loop {
        let visit = site.visit(stream, *version + 1, limit - applied, lend, |stored| {
            if let Some((command, backend)) = finding {
                if stored.id == command::event_id(command, stream, found.len()) {
                    found.push(crate::backend::owned(backend, stored)?);
                }
            }
            state.apply(&codec::decode_ref::<A::Event>(stored)?);
            *version = stored.stream_version;
            applied += 1;
            Ok(())
        });
        let Err(e) = keys::scoped(keys, visit).await else { return Ok(found) };
        if stuck_at == Some(*version) {
            return Err(e);
        }
        stuck_at = Some(*version);
        keys::load_missing_or(keys, e).await?;
    }
}

/// What one load-decide-append cycle came to.
enum Cycle<A: Aggregate> {
    /// The events appended, and the state to keep as a snapshot once they are committed.
    Recorded(Vec<Recorded<A::Event>>, Option<(A, u64)>),
    Conflict,
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
        let recorded = self.run(stream, command, metadata, &span).instrument(span.clone()).await;
        if let Ok(events) = &recorded {
            span.record("recorded", events.len());
        }
        recorded
    }

    /// `execute_with`'s work, inside its span (which it fills in).
    async fn run<C>(
        &self,
        stream: String,
        command: C,
        metadata: Metadata,
        span: &tracing::Span,
    ) -> Result<Vec<Recorded<A::Event>>, CommandError<A::Error>>
    where
        A: Handle<C>,
    {
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
            match self.cycle(&mut direct, &stream, base, &command, &metadata).await? {
                Cycle::Recorded(recorded, snapshot) => {
                    return Ok(self.snapshot(&stream, recorded, snapshot).await)
                }
                Cycle::Conflict => self.retries.fetch_add(1, Ordering::Relaxed),
            };
        }
        self.turns.fetch_add(1, Ordering::Relaxed);
        span.record("turn", true);
        // The snapshot is read before the turn: a store may read it through the connection the
        // turn holds (SQLite in memory has one). A retry inside the turn folds the whole stream.
        let mut base = self.snapshot_base(&stream, &metadata).await?;
        let mut turn = InTurn(self.store.take_turn(&stream).await?);
        for attempt in 1..=self.retry.attempts() {
            if attempt > 1 {
                self.retry.wait(attempt - 1).await;
            }
            span.record("attempts", self.retry.optimistic_attempts() + attempt);
            match self.cycle(&mut turn, &stream, base.take(), &command, &metadata).await? {
                Cycle::Recorded(recorded, snapshot) => {
                    turn.0.finish().await?;
                    return Ok(self.snapshot(&stream, recorded, snapshot).await);
                }
                Cycle::Conflict => self.retries.fetch_add(1, Ordering::Relaxed),
            };
        }
        drop(turn);
        Err(CommandError::Conflict {
            stream,
            attempts: self.retry.optimistic_attempts() + self.retry.attempts(),
        })
    }

    /// Saves the snapshot a committed cycle asked for, and hands its events on. A snapshot that
    /// fails to save costs only speed on the next load, so the command still succeeds.
    async fn snapshot(
        &self,
        stream: &str,
        recorded: Vec<Recorded<A::Event>>,
        snapshot: Option<(A, u64)>,
    ) -> Vec<Recorded<A::Event>> {
        if let (Some(snapshots), Some((state, version))) = (&self.snapshots, snapshot) {
            let _ = snapshots.save(stream, &state, version).await;
        }
        recorded
    }

    /// The newest usable snapshot of `stream`, when snapshots are on and the command is not
    /// named (a named command reads the whole stream to find an earlier run of itself).
    async fn snapshot_base(&self, stream: &str, metadata: &Metadata) -> Result<Option<(A, u64)>, StoreError> {
        match &self.snapshots {
            Some(snapshots) if metadata.command_id.is_none() => snapshots.load(stream).await,
            _ => Ok(None),
        }
    }

    /// One load-decide-append at `site`, folding from `base` (a snapshot) or from the start.
    async fn cycle<C>(
        &self,
        site: &mut impl Site,
        stream: &str,
        base: Option<(A, u64)>,
        command: &C,
        metadata: &Metadata,
    ) -> Result<Cycle<A>, CommandError<A::Error>>
    where
        A: Handle<C>,
    {
        let mut loaded = match base {
            Some((state, version)) => Loaded { state, version },
            None => Loaded { state: A::default(), version: 0 },
        };
        match metadata.command_id {
            // A named command reads the whole stream: if it ran before, its events are there,
            // and it answers with them instead of deciding again.
            Some(id) => {
                let keys = self.keys.as_ref();
                let earlier =
                    fold_finding(site, keys, stream, &mut loaded, usize::MAX, Some((id, S::BACKEND))).await?;
                if !earlier.is_empty() {
                    let mut recorded = Vec::with_capacity(earlier.len());
                    for stored in earlier {
                        let event = keys::decode::<A::Event>(keys, &stored).await?;
                        recorded.push(Recorded::of(event, stored));
                    }
                    return Ok(Cycle::Recorded(recorded, None));
                }
            }
            None => fold(site, self.keys.as_ref(), stream, &mut loaded, usize::MAX).await?,
        }
        let events = loaded.state.handle(command).map_err(CommandError::Rejected)?;
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
                .collect::<Result<Vec<_>, crate::error::EncodeError>>()
        };
        let new_events = match &self.keys {
            Some(keys) => {
                let subjects: Vec<String> = events.iter().filter_map(|e| e.personal_subject()).collect();
                keys.ensure(subjects.iter().map(String::as_str)).await?;
                keys.scope(encode)
            }
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
            (state, appended.stream_version)
        });
        Ok(Cycle::Recorded(
            events
                .into_iter()
                .zip(appended.events)
                .map(|(event, at)| Recorded {
                    event,
                    id: at.id,
                    stream: stream.to_owned(),
                    stream_version: at.stream_version,
                    position: at.position,
                    metadata: metadata.clone(),
                    recorded_at: at.recorded_at,
                })
                .collect(),
            snapshot,
        ))
    }
}
