//! Routes: from a stored command name back to the command type and what runs it (a
//! repository), behind an object-safe face so that one router holds routes of many aggregates.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use super::error::DeadlineError;
use super::event::Outcome;
use super::pending::PendingDeadline;
use super::schedule::ScheduledCommand;
use crate::model::Handle;
use crate::repository::{CommandError, Repository};
use crate::store::Metadata;
use crate::store::Turns;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, DeadlineError>> + Send + 'a>>;

/// What runs a scheduled command `C` on its target: a [`Repository`] of an aggregate that
/// handles `C` (or your own executor, with the same once-in-effect duty: `metadata` carries the
/// deadline's id as command id).
pub trait Executes<C>: Send + Sync + 'static {
    /// Runs `command` on the aggregate `target` with `metadata`.
    fn execute_scheduled<'a>(&'a self, target: &'a str, command: C, metadata: Metadata)
        -> Boxed<'a, Outcome>;
}

impl<A, C, T> Executes<C> for Repository<A, T>
where
    A: Handle<C>,
    C: ScheduledCommand,
    T: Turns,
{
    fn execute_scheduled<'a>(
        &'a self,
        target: &'a str,
        command: C,
        metadata: Metadata,
    ) -> Boxed<'a, Outcome> {
        Box::pin(async move {
            let id = metadata.command_id.unwrap_or_default();
            match self.execute_with(target, command, metadata).await {
                Ok(recorded) => Ok(Outcome::Executed { events: recorded.len() }),
                Err(CommandError::Rejected(reason)) => {
                    Ok(Outcome::Rejected { reason: format!("{reason:?}") })
                }
                Err(CommandError::Conflict { stream, attempts }) => {
                    Err(DeadlineError::Conflict { id, stream, attempts })
                }
                Err(CommandError::Store(e)) => Err(e.into()),
            }
        })
    }
}

/// Runs a due deadline's command.
pub(crate) trait Fire: Send + Sync {
    /// Decodes the command and executes it on its target with `metadata` (whose command id is
    /// the deadline's id).
    fn fire<'a>(&'a self, due: &'a PendingDeadline, metadata: Metadata) -> Boxed<'a, Outcome>;
}

/// The route of the command `C` to the executor `X`.
pub(crate) struct Route<C, X> {
    pub(crate) executor: X,
    pub(crate) command: PhantomData<fn() -> C>,
}

impl<C: ScheduledCommand, X: Executes<C>> Fire for Route<C, X> {
    fn fire<'a>(&'a self, due: &'a PendingDeadline, metadata: Metadata) -> Boxed<'a, Outcome> {
        let command = match C::deserialize(&due.payload) {
            Ok(command) => command,
            Err(e) => return Box::pin(async move { Ok(Outcome::Undecodable { reason: e.to_string() }) }),
        };
        self.executor.execute_scheduled(&due.target, command, metadata)
    }
}
