//! Given / then for projections: events in, read model out, through the real dispatch.

use es_core::{Event, Projection, StoredEvent};

use crate::roundtrip::stored_record;

/// Events of any types, encoded as the records a store would hand a projection.
pub trait IntoStored {
    /// The records, in order.
    fn into_stored(self) -> Vec<StoredEvent>;
}

/// One event as the record a store would keep, at `position` in stream `test`.
fn record<T: Event>(event: &T, position: u64) -> StoredEvent {
    let encoded = crate::personal::scoped(|| es_core::codec::encode_event(event))
        .unwrap_or_else(|e| panic!("given event {position}: {e}"));
    stored_record(encoded.name, encoded.schema_version, encoded.payload, position)
}

impl IntoStored for Vec<StoredEvent> {
    fn into_stored(self) -> Vec<StoredEvent> {
        self
    }
}

macro_rules! tuple_into_stored {
    ($($t:ident $i:tt)+) => {
        impl<$($t: Event),+> IntoStored for ($($t,)+) {
            fn into_stored(self) -> Vec<StoredEvent> {
                vec![$(record(&self.$i, $i + 1)),+]
            }
        }
    };
}

tuple_into_stored!(T0 0);
tuple_into_stored!(T0 0 T1 1);
tuple_into_stored!(T0 0 T1 1 T2 2);
tuple_into_stored!(T0 0 T1 1 T2 2 T3 3);
tuple_into_stored!(T0 0 T1 1 T2 2 T3 3 T4 4);
tuple_into_stored!(T0 0 T1 1 T2 2 T3 3 T4 4 T5 5);
tuple_into_stored!(T0 0 T1 1 T2 2 T3 3 T4 4 T5 5 T6 6);
tuple_into_stored!(T0 0 T1 1 T2 2 T3 3 T4 4 T5 5 T6 6 T7 7);

/// Starts a projection scenario: `BalancePerOwner::given((opened, deposited))`.
///
/// ```
/// use es_core::{Event, EventContext, Project, Projection};
/// use es_testing::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Deposited { amount: u64 }
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Renamed { name: String }
///
/// #[derive(Projection, Default)]
/// #[projection(events(Deposited))]
/// pub struct Total { sum: u64 }
/// impl Project<Deposited> for Total {
///     fn project(&mut self, e: &Deposited, _: &EventContext<'_>) { self.sum += e.amount }
/// }
///
/// Total::given((Deposited { amount: 2 }, Renamed { name: "x".into() }, Deposited { amount: 3 }))
///     .then_handled(2) // Renamed is not listed: skipped
///     .then_state(|t| assert_eq!(t.sum, 5));
/// ```
pub trait ProjectionTest: Projection + Default {
    /// The read model after `events` (a tuple of event types, or stored records). Events the
    /// projection does not list are skipped, as in production.
    #[track_caller]
    fn given(events: impl IntoStored) -> ProjectionThen<Self>;
}

impl<P: Projection + Default> ProjectionTest for P {
    #[track_caller]
    fn given(events: impl IntoStored) -> ProjectionThen<P> {
        let mut projection = P::default();
        let mut handled = 0;
        for stored in events.into_stored() {
            match crate::personal::scoped(|| projection.handle_stored(&stored)) {
                Ok(true) => handled += 1,
                Ok(false) => {}
                Err(e) => panic!("given event {} cannot be projected: {e}", stored.position),
            }
        }
        ProjectionThen { projection, handled }
    }
}

/// A read model after its given events.
pub struct ProjectionThen<P> {
    projection: P,
    handled: usize,
}

impl<P> ProjectionThen<P> {
    /// Runs `check` on the read model.
    pub fn then_state(self, check: impl FnOnce(&P)) -> Self {
        check(&self.projection);
        self
    }

    /// Asserts how many of the given events the projection consumed (the rest it skipped).
    #[track_caller]
    pub fn then_handled(self, expected: usize) -> Self {
        assert_eq!(
            self.handled, expected,
            "the projection consumed {} of the given events, expected {expected}",
            self.handled
        );
        self
    }

    /// The read model.
    pub fn state(&self) -> &P {
        &self.projection
    }
}
