//! Deadlines on every store: a cart opened schedules its own cancellation in 24 h, confirming it
//! cancels that; a router with a virtual clock fires at or after the due time and never before,
//! never fires a cancelled deadline, fires once in effect across a forced refire, and a
//! reaction's schedules are stored once when its event is redelivered.

use std::time::Duration;

use es_core::consume::{
    pending_deadlines, Deadline, DeadlineCancelled, DeadlineScheduled, Deadlines, ScheduleError,
    ScheduledCommand, Tick,
};
use es_core::inspect::Inspect;
use es_core::personal::Privacy;
use es_core::{
    Aggregate, AppendWatch, Appended, Apply, Checkpoint, CheckpointStore, Cursor, DeadLetters, Event,
    EventRef, EventStore, ExpectedVersion, Handle, Lend, NewEvent, React, ReactContext, ReactError, Reactor,
    ReactorRunner, Repository, StoreError, Turns,
};
use es_testing::prelude::*;
use es_testing::{fired, CrashBeforeCheckpoint, VirtualClock};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CartOpened {
    pub id: String,
}
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CartConfirmed;
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CartCancelled;
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CustomerReminded;

#[derive(Debug, PartialEq)]
pub enum CartError {
    Confirmed,
    Schedule(String),
}

impl From<ScheduleError> for CartError {
    fn from(e: ScheduleError) -> Self {
        CartError::Schedule(e.to_string())
    }
}

#[derive(Aggregate, Default, Debug)]
#[aggregate(
    events(CartOpened, CartConfirmed, CartCancelled, CustomerReminded, DeadlineScheduled, DeadlineCancelled),
    error = CartError
)]
pub struct ShoppingCart {
    pub confirmed: bool,
    pub cancelled: u32,
    pub reminded: u32,
}

impl Apply<CartOpened> for ShoppingCart {
    fn apply(&mut self, _: &CartOpened) {}
}
impl Apply<CartConfirmed> for ShoppingCart {
    fn apply(&mut self, _: &CartConfirmed) {
        self.confirmed = true;
    }
}
impl Apply<CartCancelled> for ShoppingCart {
    fn apply(&mut self, _: &CartCancelled) {
        self.cancelled += 1;
    }
}
impl Apply<CustomerReminded> for ShoppingCart {
    fn apply(&mut self, _: &CustomerReminded) {
        self.reminded += 1;
    }
}

const DAY: Duration = Duration::from_secs(86_400);

pub struct OpenCart {
    pub id: String,
}
pub struct ConfirmCart {
    pub id: String,
}
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct CancelCart;
impl ScheduledCommand for CancelCart {
    const NAME: &'static str = "CancelCart";
}
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct RemindCustomer {
    pub text: String,
}
impl ScheduledCommand for RemindCustomer {
    const NAME: &'static str = "RemindCustomer";
}

impl Handle<OpenCart> for ShoppingCart {
    fn handle(&self, cmd: &OpenCart) -> Result<Vec<ShoppingCartEvent>, CartError> {
        let cancel = Deadline::after(DAY, &cmd.id, &CancelCart)?;
        Ok(vec![CartOpened { id: cmd.id.clone() }.into(), cancel.into()])
    }
}
impl Handle<ConfirmCart> for ShoppingCart {
    fn handle(&self, cmd: &ConfirmCart) -> Result<Vec<ShoppingCartEvent>, CartError> {
        Ok(vec![CartConfirmed.into(), Deadline::cancel::<CancelCart>(&cmd.id).into()])
    }
}
/// Cancels every time it runs (no guard against a second run): only the deadline's command id
/// keeps a refire from cancelling twice.
impl Handle<CancelCart> for ShoppingCart {
    fn handle(&self, _: &CancelCart) -> Result<Vec<ShoppingCartEvent>, CartError> {
        if self.confirmed {
            return Err(CartError::Confirmed);
        }
        Ok(vec![CartCancelled.into()])
    }
}
impl Handle<RemindCustomer> for ShoppingCart {
    fn handle(&self, _: &RemindCustomer) -> Result<Vec<ShoppingCartEvent>, CartError> {
        Ok(vec![CustomerReminded.into()])
    }
}

/// Reminds the customer an hour after a cart was opened: scheduled from a reaction.
#[derive(Reactor)]
#[reactor(events(CartOpened))]
pub struct Reminders;

impl React<CartOpened> for Reminders {
    async fn react(&self, e: &CartOpened, at: &ReactContext<'_>) -> Result<(), ReactError> {
        at.schedule(Duration::from_secs(3600), &e.id, RemindCustomer { text: "still there?".into() })?;
        Ok(())
    }
}

#[test]
fn opening_a_cart_schedules_its_cancellation() {
    ShoppingCart::given_nothing()
        .when(OpenCart { id: "c1".into() })
        .then_scheduled_after(DAY, CancelCart)
        .then_state(|cart| assert_eq!(cart.cancelled, 0));
    // The schedule is a plain event: compared exactly, as the decision is pure.
    ShoppingCart::given_nothing()
        .when(OpenCart { id: "c1".into() })
        .then((CartOpened { id: "c1".into() }, Deadline::after(DAY, "c1", &CancelCart).expect("serializes")));
    ShoppingCart::given((CartOpened { id: "c1".into() },))
        .when(ConfirmCart { id: "c1".into() })
        .then((CartConfirmed, Deadline::cancel::<CancelCart>("c1")));
}

/// The virtual clock in given / when / then: a day later the cancellation fires and cancels the
/// cart; a millisecond before, nothing has.
#[test]
fn a_day_later_the_cancellation_fires() {
    ShoppingCart::given_nothing()
        .when(OpenCart { id: "c1".into() })
        .advance(DAY - Duration::from_millis(1))
        .then_fired(Vec::<CancelCart>::new());
    ShoppingCart::given_nothing()
        .when(OpenCart { id: "c1".into() })
        .advance(DAY)
        .then_fired([CancelCart])
        .fire::<CancelCart>()
        .then_state(|cart| assert_eq!(cart.cancelled, 1));
}

#[test]
#[should_panic(expected = "were not those expected")]
fn then_fired_fails_when_nothing_is_due() {
    let _ = ShoppingCart::given_nothing()
        .when(OpenCart { id: "c1".into() })
        .advance(DAY / 2)
        .then_fired([CancelCart]);
}

#[test]
#[should_panic(expected = "did not schedule what was expected")]
fn then_scheduled_after_fails_on_another_delay() {
    let _ = ShoppingCart::given_nothing()
        .when(OpenCart { id: "c1".into() })
        .then_scheduled_after(DAY / 2, CancelCart);
}

fn router<S: Privacy + Turns + CheckpointStore>(store: &S, clock: &VirtualClock) -> Deadlines<S> {
    Deadlines::new("deadlines", store.clone())
        .clock(clock.clone())
        .route::<CancelCart>(Repository::<ShoppingCart, _>::new(store.clone()))
        .route::<RemindCustomer>(Repository::<ShoppingCart, _>::new(store.clone()))
}

/// Waits until every committed event can be read in the global order: PostgreSQL's readers stop
/// below the oldest transaction open anywhere on the server (other tests'), so a router may not
/// see an event the moment its append returns.
async fn settle<S: EventStore + Inspect>(store: &S) {
    let names = store.event_names().await.expect("count the events");
    let total: u64 = names.iter().map(|n| n.events).sum();
    es_testing::conformance::read_all_settled(store, total as usize).await;
}

async fn cart<S: Privacy + Turns>(store: &S, id: &str) -> ShoppingCart {
    Repository::<ShoppingCart, _>::new(store.clone()).load(id).await.expect("load").state
}

/// Fires at the due time and not a millisecond before; then never again.
async fn fires_when_due<S: Privacy + Turns + CheckpointStore + Inspect>(store: S) {
    let carts = Repository::<ShoppingCart, _>::new(store.clone());
    carts.execute("c1", OpenCart { id: "c1".into() }).await.expect("open");
    let clock = VirtualClock::new();
    let mut deadlines = router(&store, &clock);
    settle(&store).await;
    assert_eq!(deadlines.tick().await.expect("tick"), Tick::Fired(vec![]));
    let due = deadlines.pending().next().expect("one pending").due();
    let opened = store.read_stream("ShoppingCart-c1", 1, 10).await.expect("read")[1].recorded_at;
    assert!(due >= opened + DAY, "due {due:?} is a day after the schedule was recorded {opened:?}");

    clock.set(due - Duration::from_millis(1));
    settle(&store).await;
    assert_eq!(deadlines.tick().await.expect("tick"), Tick::Fired(vec![]), "fired early");
    assert_eq!(cart(&store, "c1").await.cancelled, 0);

    clock.set(due);
    settle(&store).await;
    let tick = deadlines.tick().await.expect("tick");
    assert_eq!(fired::<CancelCart>(&tick), vec![("c1".to_owned(), CancelCart)]);
    assert_eq!(cart(&store, "c1").await.cancelled, 1);

    clock.advance(DAY);
    settle(&store).await;
    assert_eq!(deadlines.tick().await.expect("tick"), Tick::Fired(vec![]), "fired twice");
    assert_eq!(deadlines.pending_count(), 0);
    settle(&store).await;
    assert!(pending_deadlines(&store).await.expect("list").is_empty());
    assert_eq!(cart(&store, "c1").await.cancelled, 1);
}

/// A confirmed cart's cancellation never fires; another cart's does, in the same tick.
async fn cancelled_never_fires<S: Privacy + Turns + CheckpointStore + Inspect>(store: S) {
    let carts = Repository::<ShoppingCart, _>::new(store.clone());
    let clock = VirtualClock::new();
    let mut deadlines = router(&store, &clock);
    carts.execute("kept", OpenCart { id: "kept".into() }).await.expect("open");
    settle(&store).await;
    deadlines.tick().await.expect("the schedule is pending before it is cancelled");
    carts.execute("kept", ConfirmCart { id: "kept".into() }).await.expect("confirm");
    carts.execute("lost", OpenCart { id: "lost".into() }).await.expect("open");
    settle(&store).await;
    let listed = pending_deadlines(&store).await.expect("list");
    assert_eq!(listed.iter().map(|p| p.target.as_str()).collect::<Vec<_>>(), ["lost"]);
    clock.advance(DAY * 2);
    settle(&store).await;
    let tick = deadlines.tick().await.expect("tick");
    assert_eq!(fired::<CancelCart>(&tick), vec![("lost".to_owned(), CancelCart)]);
    assert_eq!((cart(&store, "kept").await.cancelled, cart(&store, "lost").await.cancelled), (0, 1));
}

/// A store that loses every append to the router's `Deadlines-*` stream, as if the process died
/// between running a deadline's command and recording that it fired.
#[derive(Clone, Debug)]
struct DiesBeforeFiredMark<S>(S);

impl<S: EventStore> EventStore for DiesBeforeFiredMark<S> {
    const BACKEND: &'static str = S::BACKEND;

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        if stream.starts_with("Deadlines-") {
            return Err(StoreError::backend("dies", "the process died before recording the firing"));
        }
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

impl<S: Privacy> Privacy for DiesBeforeFiredMark<S> {
    fn keys(&self) -> Option<es_core::personal::Keyring> {
        self.0.keys()
    }
}

impl<S: CheckpointStore> CheckpointStore for DiesBeforeFiredMark<S> {
    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.0.save_checkpoint(name, checkpoint).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.0.load_checkpoint(name).await
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        self.0.delete_checkpoint(name).await
    }
}

/// The command runs, the record of its firing is lost, a new router fires it again: the cart
/// is cancelled once.
async fn a_refire_records_nothing<S: Privacy + Turns + CheckpointStore + Inspect>(store: S) {
    let carts = Repository::<ShoppingCart, _>::new(store.clone());
    carts.execute("c9", OpenCart { id: "c9".into() }).await.expect("open");
    let clock = VirtualClock::new();
    clock.advance(DAY + Duration::from_secs(1));
    let mut dying = Deadlines::new("deadlines", DiesBeforeFiredMark(store.clone()))
        .clock(clock.clone())
        .route::<CancelCart>(carts.clone());
    settle(&store).await;
    assert!(dying.tick().await.is_err(), "the firing's record is lost");
    assert_eq!(cart(&store, "c9").await.cancelled, 1, "the command ran");
    settle(&store).await;
    assert_eq!(pending_deadlines(&store).await.expect("list").len(), 1, "not recorded as fired");

    let mut deadlines = router(&store, &clock);
    settle(&store).await;
    let tick = deadlines.tick().await.expect("tick");
    let Tick::Fired(firings) = &tick else { panic!("no lease to stand by for") };
    assert_eq!(firings.len(), 1, "fired again");
    assert_eq!(firings[0].outcome, es_core::consume::deadline::Outcome::Executed { events: 1 });
    assert_eq!(cart(&store, "c9").await.cancelled, 1, "the refire recorded nothing new");
    settle(&store).await;
    assert!(pending_deadlines(&store).await.expect("list").is_empty());
}

/// A reaction schedules a reminder; the runner dies before its checkpoint, the event is
/// redelivered, and the reminder is stored (and fires) once.
async fn a_reaction_schedules_once<S: Privacy + Turns + CheckpointStore + DeadLetters + Inspect>(store: S) {
    let carts = Repository::<ShoppingCart, _>::new(store.clone());
    for id in ["r1", "r2"] {
        carts.execute(id, OpenCart { id: id.into() }).await.expect("open");
    }
    let mut crashing = ReactorRunner::start("reminders", Reminders, CrashBeforeCheckpoint(store.clone()))
        .await
        .expect("start");
    settle(&store).await;
    assert!(crashing.catch_up().await.is_err(), "dies before its checkpoint");
    let mut runner = ReactorRunner::start("reminders", Reminders, store.clone()).await.expect("start");
    settle(&store).await;
    // The carts' four events, and the two reminders the first runner stored before it died.
    assert_eq!(runner.catch_up().await.expect("redelivered"), 6);
    let stored = store.read_stream("Schedules-reminders", 1, 100).await.expect("read");
    assert_eq!(stored.len(), 2, "one reminder per cart, stored once: {stored:?}");
    settle(&store).await;
    let mut reminders: Vec<_> = pending_deadlines(&store)
        .await
        .expect("list")
        .into_iter()
        .filter(|p| p.command == RemindCustomer::NAME)
        .map(|p| p.target)
        .collect();
    reminders.sort();
    assert_eq!(reminders, ["r1", "r2"]);

    let clock = VirtualClock::new();
    clock.advance(Duration::from_secs(3601));
    settle(&store).await;
    let tick = router(&store, &clock).tick().await.expect("tick");
    assert_eq!(fired::<RemindCustomer>(&tick).len(), 2);
    assert_eq!((cart(&store, "r1").await.reminded, cart(&store, "r2").await.reminded), (1, 1));
}

#[tokio::test]
async fn scheduled_by_a_reaction_in_a_test() {
    let scheduled = es_testing::scheduled_by(&Reminders, "reminders", (CartOpened { id: "t1".into() },))
        .await
        .expect("reacts");
    let expected =
        Deadline::after(Duration::from_secs(3600), "t1", &RemindCustomer { text: "still there?".into() })
            .expect("serializes");
    assert_eq!(scheduled, vec![es_core::consume::deadline::Scheduling::Scheduled(expected)]);
}

async fn all<S: Privacy + Turns + CheckpointStore + DeadLetters + Inspect>(fresh: impl Fn() -> S) {
    fires_when_due(fresh()).await;
    cancelled_never_fires(fresh()).await;
    a_refire_records_nothing(fresh()).await;
    a_reaction_schedules_once(fresh()).await;
}

#[tokio::test]
async fn memory_deadlines() {
    all(es_core::MemoryStore::new).await;
}

#[tokio::test]
async fn sqlite_deadlines() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, test) in ["due", "cancel", "refire", "react"].iter().enumerate() {
        let store =
            es_sqlite::SqliteStore::open(dir.path().join(format!("{i}-{test}.db"))).await.expect("open");
        match i {
            0 => fires_when_due(store).await,
            1 => cancelled_never_fires(store).await,
            2 => a_refire_records_nothing(store).await,
            _ => a_reaction_schedules_once(store).await,
        }
    }
}

#[tokio::test]
async fn postgres_deadlines() {
    for (i, prefix) in ["es_dl_due", "es_dl_cancel", "es_dl_refire", "es_dl_react"].iter().enumerate() {
        let store = crate::stores::pg_store(prefix).await;
        match i {
            0 => fires_when_due(store.clone()).await,
            1 => cancelled_never_fires(store.clone()).await,
            2 => a_refire_records_nothing(store.clone()).await,
            _ => a_reaction_schedules_once(store.clone()).await,
        }
        store.drop_schema().await.expect("drop the test schema");
    }
}
