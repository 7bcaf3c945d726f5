//! How repositories and runners decode with a keyring: in its scope, loading a subject's key
//! when the codec reports it missing, then trying again.

use std::future::Future;

use crate::model::codec;
use crate::model::EventEnum;
use crate::personal::Keyring;
use crate::store::StoreError;
use crate::store::StoredEvent;

/// How many keys one decode may load before giving up (each load makes progress).
const MAX_LOADS: usize = 64;

/// Runs `fut` in the scope of `keys`, if any.
pub(crate) async fn scoped<F: Future>(keys: Option<&Keyring>, fut: F) -> F::Output {
    match keys {
        Some(keys) => keys.scoped(fut).await,
        None => fut.await,
    }
}

/// When `error` is a missing key, loads it; otherwise (or without a keyring) returns `error`.
pub(crate) async fn load_missing_or(keys: Option<&Keyring>, error: StoreError) -> Result<(), StoreError> {
    match (keys, error.missing_key()) {
        (Some(keys), Some(subject)) => keys.load(subject).await,
        _ => Err(error),
    }
}

/// Decodes an owned event, loading the keys of the subjects sealed in it first.
pub(crate) async fn decode<E: EventEnum>(
    keys: Option<&Keyring>,
    stored: &StoredEvent,
) -> Result<E, StoreError> {
    let Some(keys) = keys else { return Ok(codec::decode(stored)?) };
    keys.load_sealed(stored.payload.get()).await?;
    for _ in 0..MAX_LOADS {
        match keys.scope(|| codec::decode::<E>(stored)) {
            Ok(event) => return Ok(event),
            Err(e) => load_missing_or(Some(keys), e.into()).await?,
        }
    }
    Ok(keys.scope(|| codec::decode::<E>(stored))?)
}
