//! Scheduling from a decision: a command that names itself, and [`Deadline`], which turns it
//! into the [`DeadlineScheduled`] (or [`DeadlineCancelled`]) event a decision returns.

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::clock::to_ms_ceil;
use super::event::{DeadlineCancelled, DeadlineScheduled};

/// A command that can be scheduled: stored as JSON under a stable name, which a router's
/// [`route`](super::Deadlines::route) maps back to the command type.
///
/// ```
/// use es_core::consume::ScheduledCommand;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// pub struct CancelCart;
///
/// impl ScheduledCommand for CancelCart {
///     const NAME: &'static str = "CancelCart";
/// }
/// ```
pub trait ScheduledCommand: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stored name. It identifies the command in stored deadlines: keep it when the type is
    /// renamed.
    const NAME: &'static str;
}

/// Why a command could not be scheduled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The command does not serialize to JSON.
    #[error("the command `{command}` cannot be scheduled: it does not serialize to JSON: {source}")]
    Payload {
        /// The command's name.
        command: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// The delay does not fit in milliseconds since 1970.
    #[error("the command `{command}` cannot be scheduled {delay:?} from now: too far")]
    TooFar {
        /// The command's name.
        command: &'static str,
        /// The delay asked for.
        delay: Duration,
    },
    /// The reaction's context collects no schedules (made with `ReactContext::new` alone, not
    /// by a runner).
    #[error("reactor `{reactor}` scheduled outside a runner: give its context a `Schedules` with `ReactContext::with_schedules`")]
    NotCollected {
        /// The reactor's name.
        reactor: String,
    },
}

/// Makes the deadline events a decision returns beside its other events.
///
/// ```
/// use es_core::consume::{Deadline, ScheduledCommand};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize)]
/// pub struct CancelCart;
/// impl ScheduledCommand for CancelCart { const NAME: &'static str = "CancelCart"; }
///
/// let cart_id = "cart-1".to_owned();
/// let scheduled = Deadline::after(Duration::from_secs(86_400), &cart_id, &CancelCart)?;
/// assert_eq!((scheduled.command.as_str(), scheduled.after_ms), ("CancelCart", 86_400_000));
/// let cancelled = Deadline::cancel::<CancelCart>(&cart_id);
/// assert_eq!(cancelled.target, "cart-1");
/// # Ok::<_, es_core::consume::deadline::ScheduleError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Deadline;

impl Deadline {
    /// `command` for the aggregate `target`, due `delay` after the store records the event.
    pub fn after<C: ScheduledCommand>(
        delay: Duration,
        target: impl Into<String>,
        command: &C,
    ) -> Result<DeadlineScheduled, ScheduleError> {
        let after_ms = u64::try_from(delay.as_millis())
            .map_err(|_| ScheduleError::TooFar { command: C::NAME, delay })?;
        // A delay with a fraction of a millisecond is rounded up: never early.
        let after_ms =
            if delay.subsec_nanos() % 1_000_000 == 0 { after_ms } else { after_ms.saturating_add(1) };
        Ok(DeadlineScheduled {
            target: target.into(),
            command: C::NAME.to_owned(),
            payload: payload(command)?,
            after_ms,
            at_ms: None,
            key: String::new(),
        })
    }

    /// `command` for the aggregate `target`, due at `time`. A decision that computes `time`
    /// from the clock is no longer a pure function: prefer [`after`](Self::after).
    pub fn at<C: ScheduledCommand>(
        time: SystemTime,
        target: impl Into<String>,
        command: &C,
    ) -> Result<DeadlineScheduled, ScheduleError> {
        Ok(DeadlineScheduled {
            target: target.into(),
            command: C::NAME.to_owned(),
            payload: payload(command)?,
            after_ms: 0,
            at_ms: Some(to_ms_ceil(time)),
            key: String::new(),
        })
    }

    /// Cancels the pending deadlines of the command `C` on `target` (those without a key; set
    /// one with [`DeadlineCancelled::key`]).
    pub fn cancel<C: ScheduledCommand>(target: impl Into<String>) -> DeadlineCancelled {
        DeadlineCancelled { target: target.into(), command: C::NAME.to_owned(), key: String::new() }
    }
}

impl DeadlineScheduled {
    /// Tells this deadline apart from others of the same command on the same target, so that a
    /// cancel with the same key cancels this one only.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// The command, decoded (`None` when it is another command).
    pub fn command_as<C: ScheduledCommand>(&self) -> Option<C> {
        (self.command == C::NAME).then(|| C::deserialize(&self.payload).ok()).flatten()
    }

    /// The delay after the recording, when scheduled with [`Deadline::after`].
    pub fn delay(&self) -> Option<Duration> {
        self.at_ms.is_none().then(|| Duration::from_millis(self.after_ms))
    }
}

impl DeadlineCancelled {
    /// Cancels only the deadlines scheduled with this key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }
}

fn payload<C: ScheduledCommand>(command: &C) -> Result<serde_json::Value, ScheduleError> {
    serde_json::to_value(command).map_err(|source| ScheduleError::Payload { command: C::NAME, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Remind {
        text: String,
    }
    impl ScheduledCommand for Remind {
        const NAME: &'static str = "Remind";
    }

    #[test]
    fn a_deadline_keeps_its_command_and_rounds_its_delay_up() -> Result<(), ScheduleError> {
        let cmd = Remind { text: "pay".into() };
        let d = Deadline::after(Duration::from_micros(1_500), "ann", &cmd)?.key("k");
        assert_eq!((d.after_ms, d.key.as_str(), d.target.as_str()), (2, "k", "ann"));
        assert_eq!(d.command_as::<Remind>(), Some(cmd));
        assert_eq!(d.delay(), Some(Duration::from_millis(2)));
        let at = Deadline::at(
            SystemTime::UNIX_EPOCH + Duration::from_millis(9),
            "ann",
            &Remind { text: String::new() },
        )?;
        assert_eq!((at.at_ms, at.delay()), (Some(9), None));
        Ok(())
    }

    #[test]
    fn a_command_that_does_not_serialize_is_a_typed_error() {
        #[derive(Deserialize)]
        struct Bad(std::collections::HashMap<(u8, u8), u8>);
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
        impl ScheduledCommand for Bad {
            const NAME: &'static str = "Bad";
        }
        let bad = Bad([((1, 2), 3)].into_iter().collect());
        let err = Deadline::after(Duration::from_secs(1), "x", &bad).err();
        assert!(matches!(err, Some(ScheduleError::Payload { command: "Bad", .. })), "{err:?}");
    }
}
