//! Folding a stream into an aggregate's state, lent event by event (nothing copied), opening
//! personal data on the way.

use std::collections::BTreeSet;

use crate::model::codec;
use crate::model::command;
use crate::model::keyed;
use crate::model::Aggregate;
use crate::personal::{sealed_subjects, Keyring};
use crate::repository::Loaded;
use crate::store::Lend;
use crate::store::StoreError;
use crate::store::StoredEvent;

use super::site::Site;

/// Applies up to `limit` events after `loaded.version`, lent by the site: nothing copied.
pub(super) async fn fold<A: Aggregate>(
    site: &mut impl Site,
    keys: Option<&Keyring>,
    stream: &str,
    loaded: &mut Loaded<A>,
    limit: usize,
) -> Result<(), StoreError> {
    let opening = Opening { keys, seen: None, missing: None };
    fold_finding(site, opening, stream, loaded, limit, None).await.map(drop)
}

/// How a fold opens personal data.
pub(super) struct Opening<'k> {
    /// The keyring, if the aggregate's events may hold personal data.
    pub(super) keys: Option<&'k Keyring>,
    /// Collects the subjects whose values were opened, when a snapshot may be taken.
    pub(super) seen: Option<&'k mut BTreeSet<String>>,
    /// Inside a turn, where no key may be loaded (the key store may need the very connection
    /// the turn holds: SQLite's single writer): collects the subjects whose keys the fold
    /// misses. From the first one on it applies nothing and only notes the subjects sealed in
    /// the rest of the stream, so that the caller loads them all outside the turn at once.
    pub(super) missing: Option<&'k mut BTreeSet<String>>,
}

/// Like [`fold`], also collecting the events that the command `finding` names (its id, and the
/// store's name for errors) recorded in the stream, if it ran before (their ids are derived
/// from the command's). Finding needs every field, so it lends them all.
///
/// Personal data opens with `opening.keys`: an event whose subject's key is not cached stops
/// the visit, the key is loaded, and the fold goes on from that event (in a turn, see
/// [`Opening::missing`]).
pub(super) async fn fold_finding<A: Aggregate>(
    site: &mut impl Site,
    opening: Opening<'_>,
    stream: &str,
    loaded: &mut Loaded<A>,
    limit: usize,
    finding: Option<(uuid::Uuid, &'static str)>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let Opening { keys, mut seen, mut missing } = opening;
    let (state, version, mut found) = (&mut loaded.state, &mut loaded.version, Vec::new());
    let lend = if finding.is_some() { Lend::All } else { Lend::ForDecoding };
    let (mut applied, mut stuck_at) = (0, None);
    loop {
        let visit = site.visit(stream, *version + 1, limit - applied, lend, |stored| {
            if let Some(missing) = missing.as_deref_mut().filter(|m| !m.is_empty()) {
                missing.extend(sealed_subjects(stored.payload));
                return Ok(());
            }
            if let Some((command, backend)) = finding {
                if stored.id == command::event_id(command, stream, found.len()) {
                    found.push(crate::store::backend::owned(backend, stored)?);
                }
            }
            // The error is widened only when there is one: the event moves as it was decoded.
            let event = match codec::decode_ref::<A::Event>(stored) {
                Ok(event) => event,
                Err(e) => {
                    let e = StoreError::from(e);
                    match (missing.as_deref_mut(), e.missing_key()) {
                        (Some(missing), Some(subject)) => {
                            missing.insert(subject.to_owned());
                            missing.extend(sealed_subjects(stored.payload));
                            return Ok(());
                        }
                        _ => return Err(e),
                    }
                }
            };
            state.apply(&event);
            *version = stored.stream_version;
            applied += 1;
            Ok(())
        });
        let visited = match (keys, seen.as_deref_mut()) {
            (Some(keys), Some(seen)) => keys.scoped_seeing(seen, visit).await,
            _ => keyed::scoped(keys, visit).await,
        };
        let Err(e) = visited else { return Ok(found) };
        if stuck_at == Some(*version) {
            return Err(e);
        }
        stuck_at = Some(*version);
        keyed::load_missing_or(keys, e).await?;
    }
}
