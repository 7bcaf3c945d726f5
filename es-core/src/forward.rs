//! [`forward_store_traits!`](crate::forward_store_traits): a wrapper store forwards the store side
//! traits it does not change to the store it wraps, in one line, as tokio's
//! `deref_async_read!` does for I/O traits. It writes each method out, so a wrapper that
//! forgets none of them still compiles when a trait grows one.

/// Implements the listed store traits for `Wrapper<S>` by forwarding every method to its field
/// `field: S`. Traits: `SnapshotStore`, `CheckpointStore`, `Leases`, `DeadLetters`, `Links`,
/// `Rewrite`, `Turns` (the wrapped store's turns as they are), `Privacy` (its keyring), `Inspect`,
/// `Boundaries` (tags and conditional appends). Write by hand the ones the wrapper
/// changes (`EventStore` always: it is the wrapper's reason to be).
///
/// ```
/// # use es_core::{AppendWatch, Appended, Cursor, EventRef, EventStore, ExpectedVersion, Lend, NewEvent, StoreError};
/// /// Logs every append, forwards the rest.
/// #[derive(Clone)]
/// pub struct Logged<S> { inner: S }
///
/// impl<S: EventStore> EventStore for Logged<S> {
///     const BACKEND: &'static str = S::BACKEND;
///     async fn append(&self, stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> Result<Appended, StoreError> {
///         println!("append to {stream}");
///         self.inner.append(stream, expected, events).await
///     }
///     async fn visit_stream<F>(&self, stream: &str, from: u64, limit: usize, lend: Lend, visit: F) -> Result<usize, StoreError>
///     where F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send {
///         self.inner.visit_stream(stream, from, limit, lend, visit).await
///     }
///     async fn visit_all<F>(&self, after: Cursor, limit: usize, visit: F) -> Result<usize, StoreError>
///     where F: FnMut(&EventRef<'_>) -> Result<(), StoreError> + Send {
///         self.inner.visit_all(after, limit, visit).await
///     }
///     async fn head(&self) -> Result<Cursor, StoreError> { self.inner.head().await }
///     fn watch(&self) -> Option<AppendWatch> { self.inner.watch() }
/// }
///
/// es_core::forward_store_traits!(Logged<S>.inner: SnapshotStore, CheckpointStore, Leases, DeadLetters, Links, Turns, Privacy);
///
/// # fn takes<S: es_core::Leases + es_core::Turns + es_core::SnapshotStore>(_: S) {}
/// takes(Logged { inner: es_core::MemoryStore::new() });
/// ```
#[macro_export]
macro_rules! forward_store_traits {
    ($wrapper:ident<$s:ident>.$field:ident: $($store_trait:ident),+ $(,)?) => {
        $( $crate::__forward_store_trait!($store_trait, $wrapper, $s, $field); )+
    };
}

/// One trait of [`forward_store_traits!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __forward_store_trait {
    (SnapshotStore, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::SnapshotStore> $crate::SnapshotStore for $w<$s> {
            async fn save_snapshot(
                &self,
                stream: &str,
                snapshot: $crate::Snapshot,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                self.$f.save_snapshot(stream, snapshot).await
            }
            async fn load_snapshot(
                &self,
                stream: &str,
            ) -> ::core::result::Result<::core::option::Option<$crate::Snapshot>, $crate::StoreError> {
                self.$f.load_snapshot(stream).await
            }
            async fn delete_snapshot(
                &self,
                stream: &str,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                self.$f.delete_snapshot(stream).await
            }
        }
    };
    (CheckpointStore, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::CheckpointStore> $crate::CheckpointStore for $w<$s> {
            async fn save_checkpoint(
                &self,
                projection: &str,
                checkpoint: $crate::Checkpoint,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                self.$f.save_checkpoint(projection, checkpoint).await
            }
            async fn load_checkpoint(
                &self,
                projection: &str,
            ) -> ::core::result::Result<::core::option::Option<$crate::Checkpoint>, $crate::StoreError> {
                self.$f.load_checkpoint(projection).await
            }
            async fn delete_checkpoint(
                &self,
                projection: &str,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                self.$f.delete_checkpoint(projection).await
            }
        }
    };
    (Leases, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::Leases> $crate::Leases for $w<$s> {
            async fn acquire(
                &self,
                name: &str,
                owner: &str,
                ttl: ::core::time::Duration,
            ) -> ::core::result::Result<::core::option::Option<$crate::Lease>, $crate::StoreError> {
                self.$f.acquire(name, owner, ttl).await
            }
            async fn release(&self, lease: &$crate::Lease) -> ::core::result::Result<(), $crate::StoreError> {
                self.$f.release(lease).await
            }
            async fn lease(
                &self,
                name: &str,
            ) -> ::core::result::Result<::core::option::Option<$crate::Lease>, $crate::StoreError> {
                self.$f.lease(name).await
            }
            async fn save_checkpoint_fenced(
                &self,
                checkpoint: $crate::Checkpoint,
                lease: &$crate::Lease,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                self.$f.save_checkpoint_fenced(checkpoint, lease).await
            }
        }
    };
    (DeadLetters, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::DeadLetters> $crate::DeadLetters for $w<$s> {
            async fn park(&self, parked: $crate::Parked) -> ::core::result::Result<(), $crate::StoreError> {
                self.$f.park(parked).await
            }
            async fn parked(
                &self,
                reactor: &str,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::Parked>, $crate::StoreError> {
                self.$f.parked(reactor).await
            }
            async fn unpark(
                &self,
                reactor: &str,
                event: $crate::Uuid,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                self.$f.unpark(reactor, event).await
            }
        }
    };
    (Links, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::integrity::Links> $crate::integrity::Links for $w<$s> {
            async fn visit_links<F>(
                &self,
                after: $crate::integrity::LinkKey<'_>,
                one_stream: bool,
                limit: usize,
                visit: F,
            ) -> ::core::result::Result<usize, $crate::StoreError>
            where
                F: FnMut(&$crate::integrity::Link<'_>) + Send,
            {
                self.$f.visit_links(after, one_stream, limit, visit).await
            }
        }
    };
    (Rewrite, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::integrity::Rewrite> $crate::integrity::Rewrite for $w<$s> {
            async fn rewrite_payloads(
                &self,
                stream: &str,
                edits: ::std::vec::Vec<$crate::integrity::PayloadEdit>,
                reason: &str,
            ) -> ::core::result::Result<$crate::integrity::Rewritten, $crate::StoreError> {
                self.$f.rewrite_payloads(stream, edits, reason).await
            }
        }
    };
    (Inspect, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::store::inspect::Inspect> $crate::store::inspect::Inspect for $w<$s> {
            fn backend(&self) -> &'static str {
                self.$f.backend()
            }
            async fn streams(
                &self,
                prefix: &str,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::store::inspect::StreamInfo>, $crate::StoreError> {
                self.$f.streams(prefix).await
            }
            async fn event_names(
                &self,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::store::inspect::NameCount>, $crate::StoreError> {
                self.$f.event_names().await
            }
            async fn checkpoint_names(&self) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, $crate::StoreError> {
                self.$f.checkpoint_names().await
            }
            async fn parked_consumers(&self) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, $crate::StoreError> {
                self.$f.parked_consumers().await
            }
            async fn schema_version(&self) -> ::core::result::Result<::core::option::Option<i64>, $crate::StoreError> {
                self.$f.schema_version().await
            }
        }
    };
    (Boundaries, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::store::Boundaries> $crate::store::Boundaries for $w<$s> {
            async fn visit_query<F>(
                &self,
                query: &$crate::store::Query,
                visit: F,
            ) -> ::core::result::Result<$crate::store::Seen, $crate::StoreError>
            where
                F: FnMut(&$crate::EventRef<'_>, &[&str]) -> ::core::result::Result<(), $crate::StoreError> + Send,
            {
                self.$f.visit_query(query, visit).await
            }
            async fn append_if(
                &self,
                stream: &str,
                expected: $crate::ExpectedVersion,
                events: ::std::vec::Vec<$crate::NewEvent>,
                condition: &$crate::store::AppendCondition,
            ) -> ::core::result::Result<$crate::Appended, $crate::StoreError> {
                self.$f.append_if(stream, expected, events, condition).await
            }
        }
    };
    (Privacy, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::personal::Privacy> $crate::personal::Privacy for $w<$s> {
            fn keys(&self) -> ::core::option::Option<$crate::personal::Keyring> {
                self.$f.keys()
            }
        }
    };
    (Turns, $w:ident, $s:ident, $f:ident) => {
        impl<$s: $crate::Turns> $crate::Turns for $w<$s> {
            type Turn<'a> = $s::Turn<'a>;

            fn local_queue(&self, stream: &str) -> $crate::LocalQueue {
                self.$f.local_queue(stream)
            }

            async fn take_turn<'a>(
                &'a self,
                stream: &'a str,
            ) -> ::core::result::Result<Self::Turn<'a>, $crate::StoreError> {
                self.$f.take_turn(stream).await
            }
        }
    };
}
