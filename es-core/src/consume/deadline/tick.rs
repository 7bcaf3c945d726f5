//! One tick of the router: catch up with the deadline events, then fire what is due, checking
//! the lease first, and record each firing with a `DeadlineFired` event.
//!
//! Once in effect: the command runs with the deadline's id as its command id, so a second run
//! (after a crash before the `DeadlineFired` was stored, or by a process that took the lease
//! over meanwhile) finds the events of the first and records nothing. The `DeadlineFired` has an
//! id derived from the deadline's, so it too is stored once.

use std::time::{Duration, Instant};

use tracing::Instrument;
use uuid::Uuid;

use super::error::DeadlineError;
use super::event::{to_new, DeadlineFired};
use super::pending::PendingDeadline;
use super::route::Fire;
use super::router::{Deadlines, Firing, Tick};
use crate::consume::Stepped;
use crate::model::command;
use crate::store::checkpoint::CheckpointStore;
use crate::store::EventStore;
use crate::store::ExpectedVersion;
use crate::store::Metadata;
use crate::store::NewEvent;
use crate::store::StoreError;

/// `DeadlineFired` events appended together.
const MARKS_PER_APPEND: usize = 64;

impl<S: EventStore + CheckpointStore> Deadlines<S> {
    /// Catches up with every deadline event committed so far (taking or renewing the lease
    /// first, when leased), then fires every deadline due by the clock, soonest first.
    /// [`Tick::Standby`] while another process holds the lease.
    pub async fn tick(&mut self) -> Result<Tick, DeadlineError> {
        loop {
            match self.feed.step().await? {
                Stepped::Worked { more: true, .. } => continue,
                Stepped::Worked { .. } => break,
                Stepped::Standby { .. } | Stepped::Fenced { .. } => {
                    self.in_flight.clear();
                    return Ok(Tick::Standby);
                }
            }
        }
        // Firing is idempotent (each command runs with its deadline's id, each mark has an id
        // derived from it), so a failed phase is run again as a whole, as the feed retries a batch.
        let mut attempt = 1;
        loop {
            match self.fire_due().await {
                Err(e) if attempt < self.retry.attempts() => {
                    tracing::debug!(deadlines = %self.feed.name(), attempt, error = %e, "firing failed: trying again");
                    self.retry.wait(attempt).await;
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    /// Fires every deadline due by the clock that is not fired yet, soonest first, recording
    /// each as fired.
    async fn fire_due(&mut self) -> Result<Tick, DeadlineError> {
        let pending = &self.feed.consumer().pending;
        self.in_flight.retain(|id| pending.contains(*id));
        let now = self.clock.now();
        let mut due = Vec::new();
        for p in pending.iter().take_while(|p| p.is_due(now)) {
            if self.in_flight.contains(&p.id) {
                continue;
            }
            if !self.routes.contains_key(&p.command) {
                if self.unrouted.insert(p.command.clone()) {
                    tracing::warn!(deadlines = %self.feed.name(), command = %p.command, "a due deadline's command has no route: it waits");
                }
                continue;
            }
            due.push(p.clone());
        }
        let mut fired = Vec::with_capacity(due.len());
        let mut marks = Vec::new();
        let mut checked = None;
        let mut failed = None;
        for p in due {
            if !self.still_held(&mut checked).await? {
                self.mark(&mut marks).await?;
                return Ok(Tick::Standby);
            }
            let Some(route) = self.routes.get(&p.command) else { continue };
            match self.fire(route.as_ref(), &p).await {
                Ok(firing) => {
                    marks.push(self.fired_event(&firing)?);
                    fired.push(firing);
                }
                // One deadline that fails (its target's stream cannot be read, say) holds back
                // no other: the rest fire, and it stays pending, to be tried again.
                Err(e) => {
                    tracing::warn!(deadlines = %self.feed.name(), id = %p.id, command = %p.command, target = %p.target, error = %e, "a due deadline failed: it stays pending");
                    failed.get_or_insert(e);
                }
            }
            if marks.len() >= MARKS_PER_APPEND {
                self.mark(&mut marks).await?;
            }
        }
        self.mark(&mut marks).await?;
        match failed {
            Some(e) => Err(e),
            None => Ok(Tick::Fired(fired)),
        }
    }

    /// Whether the lease is still held at the epoch of the last batch (renewing it), looked at
    /// again once a quarter of its time has passed since the last look.
    async fn still_held(&self, checked: &mut Option<Instant>) -> Result<bool, StoreError> {
        let Some(check) = &self.lease else { return Ok(true) };
        if checked.is_some_and(|at| at.elapsed() < check.ttl / 4) {
            return Ok(true);
        }
        let held = self.feed.lease().map(|l| l.epoch);
        let renewed = check.ops.acquire(self.feed.name(), &self.owner, check.ttl).await?;
        let same = matches!((renewed, held), (Some(lease), Some(epoch)) if lease.epoch == epoch);
        *checked = Some(Instant::now());
        if !same {
            tracing::info!(deadlines = %self.feed.name(), owner = %self.owner, "lease lost before firing: standing by");
        }
        Ok(same)
    }

    /// Runs one due deadline's command, with the deadline's id as its command id.
    async fn fire(&self, route: &dyn Fire, p: &PendingDeadline) -> Result<Firing, DeadlineError> {
        let fired_at = self.clock.now();
        let late = fired_at.duration_since(p.due()).unwrap_or(Duration::ZERO);
        let span = tracing::info_span!(
            "es.deadline.fire",
            deadlines = %self.feed.name(),
            id = %p.id,
            command = %p.command,
            target = %p.target,
            late_ms = late.as_millis() as u64,
            outcome = tracing::field::Empty,
        );
        let metadata = Metadata::default()
            .command_id(p.id)
            .causation_id(p.id)
            .correlation_id(p.correlation.unwrap_or(p.id));
        let outcome = route.fire(p, metadata).instrument(span.clone()).await?;
        span.record("outcome", tracing::field::debug(&outcome));
        Ok(Firing {
            id: p.id,
            target: p.target.clone(),
            command: p.command.clone(),
            payload: p.payload.clone(),
            due: p.due(),
            fired_at,
            outcome,
        })
    }

    /// The `DeadlineFired` event of `firing`, with its id derived from the deadline's.
    fn fired_event(&self, firing: &Firing) -> Result<(Uuid, NewEvent), StoreError> {
        let event = DeadlineFired { id: firing.id, outcome: firing.outcome.clone() };
        let metadata = Metadata::default().causation_id(firing.id);
        let id = command::event_id(firing.id, &self.fired_stream, 0);
        Ok((firing.id, to_new(&event, id, metadata)?))
    }

    /// Appends the `DeadlineFired` events of `marks` (stored once each, also when a firing is
    /// recorded again), then counts them as in flight until the feed reads them back.
    async fn mark(&mut self, marks: &mut Vec<(Uuid, NewEvent)>) -> Result<(), StoreError> {
        if marks.is_empty() {
            return Ok(());
        }
        let events: Vec<NewEvent> = marks.iter().map(|(_, e)| e.clone()).collect();
        match self.store.append(&self.fired_stream, ExpectedVersion::Any, events).await {
            Ok(_) => {}
            Err(StoreError::DuplicateEventId { .. }) => {
                // Some were recorded by an earlier run: append one at a time, skipping those.
                for (_, event) in marks.iter() {
                    match self
                        .store
                        .append(&self.fired_stream, ExpectedVersion::Any, vec![event.clone()])
                        .await
                    {
                        Ok(_) | Err(StoreError::DuplicateEventId { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
        self.in_flight.extend(marks.drain(..).map(|(id, _)| id));
        Ok(())
    }
}
