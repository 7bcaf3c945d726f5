//! Testing deadlines: a clock the test moves by hand, and what a router's tick fired.
//!
//! ```
//! use es_testing::VirtualClock;
//! use es_core::consume::Clock;
//! use std::time::{Duration, SystemTime};
//!
//! let clock = VirtualClock::at(SystemTime::UNIX_EPOCH);
//! clock.advance(Duration::from_secs(90));
//! assert_eq!(clock.now(), SystemTime::UNIX_EPOCH + Duration::from_secs(90));
//! ```
//!
//! With a router: `Deadlines::new("d", store).clock(clock.clone()).route::<CancelCart>(carts)`,
//! then `clock.advance(..)` and `fired::<CancelCart>(&deadlines.tick().await?)`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use es_core::consume::deadline::Scheduling;
use es_core::consume::{Clock, ScheduledCommand, Tick};
use es_core::{ReactContext, ReactError, Reactor};

use crate::projection::IntoStored;

/// A clock that stands still until the test moves it; clones share the time.
#[derive(Debug, Clone)]
pub struct VirtualClock(Arc<Mutex<SystemTime>>);

impl VirtualClock {
    /// A clock at the system time now (stores record events at the real time: deadlines are
    /// due a delay after that).
    pub fn new() -> Self {
        VirtualClock::at(SystemTime::now())
    }

    /// A clock at `time`.
    pub fn at(time: SystemTime) -> Self {
        VirtualClock(Arc::new(Mutex::new(time)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `time` (also backwards).
    pub fn set(&self, time: SystemTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = time;
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The commands `C` a tick fired, as (target, command), in firing order. Panics when the tick
/// stood by (another process holds the lease): a test expects its router to fire.
#[track_caller]
pub fn fired<C: ScheduledCommand>(tick: &Tick) -> Vec<(String, C)> {
    match tick {
        Tick::Fired(firings) => {
            firings.iter().filter_map(|f| f.command_as::<C>().map(|c| (f.target.clone(), c))).collect()
        }
        Tick::Standby => panic!("the router stood by: another process holds its lease"),
    }
}

/// Feeds `events` through `reactor`'s real dispatch, as the runner named `name` would, and
/// returns what the reactions scheduled and cancelled, in order.
pub async fn scheduled_by<R: Reactor>(
    reactor: &R,
    name: &str,
    events: impl IntoStored,
) -> Result<Vec<Scheduling>, ReactError> {
    let schedules = es_core::consume::deadline::Schedules::default();
    for stored in events.into_stored() {
        if R::handles(&stored.name) {
            let lent = stored.as_ref();
            reactor.react_event(&ReactContext::new(&lent, name).with_schedules(&schedules)).await?;
        }
    }
    Ok(schedules.take())
}
