//! Given / when / then with a virtual clock: after the command, advance time, see which of the
//! deadlines its events scheduled fell due (those its events did not cancel), and run them on
//! the aggregate as the router would.
//!
//! ```ignore
//! ShoppingCart::given_nothing()
//!     .when(Open { id: "c1".into() })
//!     .advance(Duration::from_secs(86_400))
//!     .then_fired([CancelCart])
//!     .fire::<CancelCart>()
//!     .then_state(|cart| assert!(cart.cancelled));
//! ```

use std::fmt::Debug;
use std::time::Duration;

use es_core::consume::{DeadlineCancelled, DeadlineScheduled, ScheduledCommand};
use es_core::{Aggregate, Event, EventEnum, Handle};

use crate::scenario::Then;

/// A scenario after its command, with the virtual clock moved on by `elapsed`.
pub struct Advanced<A: Aggregate> {
    then: Then<A>,
    /// The deadlines scheduled by the command's events and not cancelled by them, due by now,
    /// in due order.
    due: Vec<DeadlineScheduled>,
    elapsed: Duration,
}

impl<A: Aggregate> Then<A> {
    /// Moves a virtual clock on by `elapsed` after the command: the deadlines its events
    /// scheduled with a delay of at most `elapsed`, and did not cancel, fall due (deadlines for a
    /// fixed time, `Deadline::at`, are left to the router's tests with a `VirtualClock`).
    #[must_use = "assert what fired with `.then_fired(..)`, or run it with `.fire::<C>()`"]
    pub fn advance(self, elapsed: Duration) -> Advanced<A> {
        let mut pending: Vec<DeadlineScheduled> = Vec::new();
        for event in self.events() {
            let Ok(encoded) = event.encode() else { continue };
            if encoded.name == DeadlineScheduled::NAME {
                if let Ok(s) = serde_json::from_str::<DeadlineScheduled>(encoded.payload.get()) {
                    pending.push(s);
                }
            } else if encoded.name == DeadlineCancelled::NAME {
                if let Ok(c) = serde_json::from_str::<DeadlineCancelled>(encoded.payload.get()) {
                    pending.retain(|s| !(s.command == c.command && s.target == c.target && s.key == c.key));
                }
            }
        }
        let mut due: Vec<DeadlineScheduled> =
            pending.into_iter().filter(|s| s.delay().is_some_and(|d| d <= elapsed)).collect();
        due.sort_by_key(|s| s.after_ms);
        Advanced { then: self, due, elapsed }
    }
}

impl<A: Aggregate> Advanced<A> {
    /// Asserts that the commands of type `C` that fell due are `expected`, in due order.
    #[track_caller]
    pub fn then_fired<C>(self, expected: impl IntoIterator<Item = C>) -> Self
    where
        C: ScheduledCommand + PartialEq + Debug,
    {
        let expected: Vec<C> = expected.into_iter().collect();
        let fired: Vec<C> = self.due.iter().filter_map(DeadlineScheduled::command_as::<C>).collect();
        assert!(
            fired == expected,
            "\nafter {:?}, the {} commands due were not those expected\n\nexpected: {expected:?}\nfired:    {fired:?}\nall due:  {:?}\n",
            self.elapsed,
            C::NAME,
            self.due.iter().map(|s| (&s.command, &s.target, s.after_ms)).collect::<Vec<_>>(),
        );
        self
    }

    /// Runs each due command of type `C` on the aggregate, in due order, as the router would;
    /// a refusal is the router's `Rejected` outcome and changes nothing. The scenario after
    /// their events.
    pub fn fire<C>(self) -> Then<A>
    where
        C: ScheduledCommand,
        A: Handle<C>,
    {
        let (mut state, mut events) = self.then.into_parts();
        for command in self.due.iter().filter_map(DeadlineScheduled::command_as::<C>) {
            if let Ok(more) = state.handle(&command) {
                for e in &more {
                    state.apply(e);
                }
                events.extend(more);
            }
        }
        Then::from_parts(state, events)
    }
}
