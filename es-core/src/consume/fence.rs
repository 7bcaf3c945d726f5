//! Lease handling for a feed: take or renew the lease before each batch, stand by while another
//! holds it, take it over when it lapses, and save checkpoints fenced by its epoch.
//!
//! The feed is generic over stores with checkpoints only; a store's [`Leases`] are reached
//! through an object-safe face built when the feed is leased, so that unleased feeds need no
//! `Leases` bound.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::store::checkpoint::Checkpoint;
use crate::store::lease::{Lease, Leases};
use crate::store::StoreError;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The lease operations of a store, object-safe.
pub(crate) trait LeaseOps: Send + Sync {
    fn acquire<'a>(&'a self, name: &'a str, owner: &'a str, ttl: Duration) -> Boxed<'a, Option<Lease>>;
    fn release<'a>(&'a self, lease: &'a Lease) -> Boxed<'a, ()>;
    fn lease<'a>(&'a self, name: &'a str) -> Boxed<'a, Option<Lease>>;
    fn save_fenced<'a>(&'a self, checkpoint: Checkpoint, lease: &'a Lease) -> Boxed<'a, ()>;
}

impl<S: Leases> LeaseOps for S {
    fn acquire<'a>(&'a self, name: &'a str, owner: &'a str, ttl: Duration) -> Boxed<'a, Option<Lease>> {
        Box::pin(Leases::acquire(self, name, owner, ttl))
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> Boxed<'a, ()> {
        Box::pin(Leases::release(self, lease))
    }

    fn lease<'a>(&'a self, name: &'a str) -> Boxed<'a, Option<Lease>> {
        Box::pin(Leases::lease(self, name))
    }

    fn save_fenced<'a>(&'a self, checkpoint: Checkpoint, lease: &'a Lease) -> Boxed<'a, ()> {
        Box::pin(Leases::save_checkpoint_fenced(self, checkpoint, lease))
    }
}

/// A feed's lease: for how long it takes it, and the lease it holds now.
pub(crate) struct Leasing {
    pub(crate) ttl: Duration,
    /// The lease held since the last batch; `None` on standby.
    pub(crate) held: Option<Lease>,
}

/// What taking the lease before a batch found.
pub(crate) enum Took {
    /// Held, at the same epoch as for the last batch: the consumer's state is current.
    Kept(Lease),
    /// Held at a new epoch (taken or taken over): the state must be reloaded from the store.
    New(Lease),
    /// Another holds it.
    Standby(Option<Lease>),
}

impl Leasing {
    /// Takes or renews the lease `name` for `owner`.
    pub(crate) async fn take(
        &mut self,
        ops: &dyn LeaseOps,
        name: &str,
        owner: &str,
    ) -> Result<Took, StoreError> {
        let Some(lease) = ops.acquire(name, owner, self.ttl).await? else {
            self.held = None;
            return Ok(Took::Standby(ops.lease(name).await?));
        };
        let same = self.held.as_ref().is_some_and(|held| held.epoch == lease.epoch);
        self.held = Some(lease.clone());
        Ok(if same { Took::Kept(lease) } else { Took::New(lease) })
    }
}
