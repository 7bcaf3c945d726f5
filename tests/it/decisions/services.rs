//! Services called once per command, outside the conflict retries: for a decision across
//! streams (`PrepareDecision`) and for an aggregate (`Prepare` + `HandlePrepared` through
//! `Repository::with_services`). A gate makes two commands read before either appends, so one
//! of them must meet a conflict and decide again. A command id that already ran calls no
//! service again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use es_core::{
    Aggregate, Apply, CommandError, Decide, Decisions, Event, HandlePrepared, MemoryStore, Metadata, Prepare,
    PrepareDecision, Repository, Uuid,
};
use es_testing::prelude::*;
use serde::{Deserialize, Serialize};

use super::{created, subscribe, subscribed, Course, CreateCourse, Student, Subscribe, UniError, University};

/// A fake registry service: counts its calls; allows every student but `mallory`.
#[derive(Default)]
pub struct Registry {
    calls: AtomicUsize,
}

/// Makes the first two decisions wait for each other, so both read before either appends: one
/// of them must meet a conflict and decide again.
pub struct Gate {
    decided: AtomicUsize,
    barrier: Barrier,
}
impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Gate { decided: AtomicUsize::new(0), barrier: Barrier::new(2) })
    }
    fn pass(&self) {
        if self.decided.fetch_add(1, Ordering::SeqCst) < 2 {
            self.barrier.wait();
        }
    }
    fn decisions(&self) -> usize {
        self.decided.load(Ordering::SeqCst)
    }
    /// A gate that lets every decision through.
    fn new_open() -> Arc<Self> {
        let gate = Gate::new();
        gate.decided.store(2, Ordering::SeqCst);
        gate
    }
}

pub struct CheckedSubscribe(pub Subscribe, pub Arc<Gate>);
pub struct Checked {
    subscribe: Subscribe,
    allowed: bool,
    gate: Arc<Gate>,
}
impl PrepareDecision for CheckedSubscribe {
    type Services = Arc<Registry>;
    type Decision = Checked;
    async fn prepare(self, registry: &Arc<Registry>) -> Result<Checked, UniError> {
        registry.calls.fetch_add(1, Ordering::SeqCst);
        let allowed = self.0.student != "mallory";
        Ok(Checked { subscribe: self.0, allowed, gate: self.1 })
    }
}
impl Decide for Checked {
    type Events = University;
    type States = (Course, Student);
    type Error = UniError;
    fn boundary(&self) -> (&str, &str) {
        (&self.subscribe.course, &self.subscribe.student)
    }
    fn decide(&self, (course, student): &(Course, Student)) -> Result<Vec<University>, UniError> {
        self.gate.pass();
        if !self.allowed {
            return Err(UniError::NotAllowed);
        }
        subscribe(&self.subscribe, course, student)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_decision_calls_its_service_once_even_when_it_decides_again() {
    let registry = Arc::new(Registry::default());
    let university = Decisions::<University, _>::new(MemoryStore::new());
    university.execute(CreateCourse::new("c1", 5)).await.expect("course");
    let serviced = Arc::new(university.with_services(Arc::clone(&registry)));
    let gate = Gate::new();
    let racers: Vec<_> = ["ann", "bob"]
        .into_iter()
        .map(|student| {
            let (serviced, gate) = (Arc::clone(&serviced), Arc::clone(&gate));
            tokio::spawn(async move {
                serviced.execute(CheckedSubscribe(Subscribe::new(student, "c1"), gate)).await
            })
        })
        .collect();
    for racer in racers {
        racer.await.expect("task").expect("both land");
    }
    assert_eq!(gate.decisions(), 3, "one of the two met a conflict and decided again");
    assert_eq!(registry.calls.load(Ordering::SeqCst), 2, "the service is called once per command");
}

#[test]
fn es_testing_runs_prepared_decisions() {
    let gate = Gate::new_open(); // no racing here
    University::given((created("c1", 5),))
        .when_prepared(
            CheckedSubscribe(Subscribe::new("mallory", "c1"), Arc::clone(&gate)),
            Default::default(),
        )
        .then_error(UniError::NotAllowed);
    University::given((created("c1", 5),))
        .when_prepared(CheckedSubscribe(Subscribe::new("ann", "c1"), gate), Default::default())
        .then((subscribed("ann", "c1"),));
}

/// An aggregate whose withdrawals ask a fraud service first.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Withdrawn {
    pub amount: u64,
}
#[derive(Aggregate, Default)]
#[aggregate(events(Withdrawn), error = UniError)]
pub struct Wallet {
    pub withdrawn: u64,
}
impl Apply<Withdrawn> for Wallet {
    fn apply(&mut self, e: &Withdrawn) {
        self.withdrawn += e.amount;
    }
}
pub struct Fraud {
    calls: AtomicUsize,
}
pub struct Withdraw(pub u64, pub Arc<Gate>);
impl Prepare<Withdraw> for Wallet {
    type Services = Fraud;
    type Prepared = bool;
    async fn prepare(cmd: &Withdraw, fraud: &Fraud) -> Result<bool, UniError> {
        fraud.calls.fetch_add(1, Ordering::SeqCst);
        Ok(cmd.0 < 1_000)
    }
}
impl HandlePrepared<Withdraw> for Wallet {
    fn handle(&self, cmd: &Withdraw, fine: &bool) -> Result<Vec<WalletEvent>, UniError> {
        cmd.1.pass();
        if !fine {
            return Err(UniError::NotAllowed);
        }
        Ok(vec![Withdrawn { amount: cmd.0 }.into()])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_aggregate_command_calls_its_service_once_even_when_it_retries() {
    let wallets = Repository::<Wallet, _>::new(MemoryStore::new())
        .with_local_queue(false) // race like two processes would
        .with_services(Fraud { calls: AtomicUsize::new(0) });
    let wallets = Arc::new(wallets);
    let gate = Gate::new();
    let racers: Vec<_> = [10, 20]
        .into_iter()
        .map(|amount| {
            let (wallets, gate) = (Arc::clone(&wallets), Arc::clone(&gate));
            tokio::spawn(async move { wallets.execute("w", Withdraw(amount, gate)).await })
        })
        .collect();
    for racer in racers {
        racer.await.expect("task").expect("both land");
    }
    assert_eq!(gate.decisions(), 3, "one of the two met a conflict and decided again");
    assert_eq!(wallets.services().calls.load(Ordering::SeqCst), 2, "the service is called once per command");
    assert_eq!(wallets.repository().retries(), 1);
    assert_eq!(wallets.repository().load("w").await.expect("load").state.withdrawn, 30);
    let refused = wallets.execute("w", Withdraw(5_000, Gate::new_open())).await;
    assert!(matches!(refused, Err(CommandError::Rejected(UniError::NotAllowed))), "{refused:?}");
    assert_eq!(wallets.services().calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_prepared_aggregate_command_that_already_ran_calls_no_service() {
    let wallets =
        Repository::<Wallet, _>::new(MemoryStore::new()).with_services(Fraud { calls: AtomicUsize::new(0) });
    let meta = Metadata::default().command_id(Uuid::new_v4());
    let first = wallets.execute_with("w", Withdraw(10, Gate::new_open()), meta.clone()).await.expect("first");
    let again = wallets.execute_with("w", Withdraw(10, Gate::new_open()), meta).await.expect("again");
    assert_eq!(ids(&first), ids(&again), "the retry answers with the first run's events");
    assert_eq!(wallets.services().calls.load(Ordering::SeqCst), 1, "the retry called no service");
    assert_eq!(wallets.repository().load("w").await.expect("load").state.withdrawn, 10);
    // Another command id on the same wallet is a new command: it asks the service.
    let other = Metadata::default().command_id(Uuid::new_v4());
    wallets.execute_with("w", Withdraw(5, Gate::new_open()), other).await.expect("another");
    assert_eq!(wallets.services().calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_prepared_decision_that_already_ran_calls_no_service() {
    let registry = Arc::new(Registry::default());
    let university = Decisions::<University, _>::new(MemoryStore::new());
    university.execute(CreateCourse::new("c1", 5)).await.expect("course");
    let serviced = university.with_services(Arc::clone(&registry));
    let meta = Metadata::default().command_id(Uuid::new_v4());
    let subscribe = || CheckedSubscribe(Subscribe::new("ann", "c1"), Gate::new_open());
    let first = serviced.execute_with(subscribe(), meta.clone()).await.expect("first");
    let again = serviced.execute_with(subscribe(), meta).await.expect("again");
    assert_eq!(ids(&first), ids(&again), "the retry answers with the first run's events");
    assert_eq!(first.len(), 1);
    assert_eq!(registry.calls.load(Ordering::SeqCst), 1, "the retry called no service");
    serviced.execute(subscribe()).await.expect("unnamed: a new command");
    assert_eq!(registry.calls.load(Ordering::SeqCst), 2);
}

fn ids<E>(recorded: &[es_core::Recorded<E>]) -> Vec<Uuid> {
    recorded.iter().map(|r| r.id).collect()
}
