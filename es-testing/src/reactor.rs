//! Testing reactors: feed events through a reactor's real dispatch, and crash a runner between
//! its effects and its checkpoint.

use es_core::personal::Privacy;
use es_core::{
    AppendWatch, Appended, Checkpoint, CheckpointStore, Cursor, DeadLetters, EventRef, EventStore,
    ExpectedVersion, Lend, NewEvent, Parked, ReactContext, ReactError, Reactor, StoreError, Uuid,
};

use crate::projection::IntoStored;

/// Feeds `events` (a tuple of events, or stored records) through `reactor`'s real dispatch, as
/// the runner named `name` would, in order; returns how many it reacted to. Each event goes
/// through the codec on the way, and [`ReactContext::caused`] derives from its record, so
/// feeding the same records twice issues the same command ids.
///
/// ```ignore
/// let handled = es_testing::react_to(&reviewer, "reviewer", (MoneyWithdrawn { amount: 500 },)).await?;
/// assert_eq!(reviews.load("test-1").await?.state.opened, 1);
/// ```
pub async fn react_to<R: Reactor>(
    reactor: &R,
    name: &str,
    events: impl IntoStored,
) -> Result<usize, ReactError> {
    let mut handled = 0;
    for stored in events.into_stored() {
        if R::handles(&stored.name) {
            let lent = stored.as_ref();
            // What it schedules is collected and dropped: `scheduled_by` returns it.
            let schedules = es_core::consume::deadline::Schedules::default();
            reactor.react_event(&ReactContext::new(&lent, name).with_schedules(&schedules)).await?;
            handled += 1;
        }
    }
    Ok(handled)
}

/// A store whose checkpoints fail to save, as if the process died between a reactor's effects
/// and its checkpoint. Run a `ReactorRunner` on it (its `catch_up` fails after the effects),
/// then a runner on the real store: it redelivers, and its commands must record nothing twice.
#[derive(Clone, Debug)]
pub struct CrashBeforeCheckpoint<S>(pub S);

impl<S: EventStore> EventStore for CrashBeforeCheckpoint<S> {
    const BACKEND: &'static str = S::BACKEND;

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.0.append(stream, expected, events).await
    }

    async fn visit_stream<F>(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
        lend: Lend,
        visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.0.visit_stream(stream, from, limit, lend, visit).await
    }

    async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
    where
        F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send,
    {
        self.0.visit_all(after, limit, visit).await
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        self.0.head().await
    }

    fn watch(&self) -> Option<AppendWatch> {
        self.0.watch()
    }
}

impl<S: Privacy> Privacy for CrashBeforeCheckpoint<S> {
    fn keys(&self) -> Option<es_core::personal::Keyring> {
        self.0.keys()
    }
}

impl<S: CheckpointStore> CheckpointStore for CrashBeforeCheckpoint<S> {
    async fn save_checkpoint(&self, projection: &str, _: Checkpoint) -> Result<(), StoreError> {
        Err(StoreError::backend(
            "crash-before-checkpoint",
            format!("the process died before saving the checkpoint of `{projection}`"),
        ))
    }

    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.0.load_checkpoint(projection).await
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        self.0.delete_checkpoint(projection).await
    }
}

impl<S: DeadLetters> DeadLetters for CrashBeforeCheckpoint<S> {
    async fn park(&self, parked: Parked) -> Result<(), StoreError> {
        self.0.park(parked).await
    }

    async fn parked(&self, reactor: &str) -> Result<Vec<Parked>, StoreError> {
        self.0.parked(reactor).await
    }

    async fn unpark(&self, reactor: &str, event: Uuid) -> Result<(), StoreError> {
        self.0.unpark(reactor, event).await
    }
}
