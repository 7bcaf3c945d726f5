//! Folding a stream into an aggregate's state, lent event by event (nothing copied), opening
//! personal data on the way.

use std::collections::BTreeSet;

use crate::aggregate::Aggregate;
use crate::codec;
use crate::command;
use crate::error::StoreError;
use crate::personal::{keys, Keyring};
use crate::record::StoredEvent;
use crate::repository::Loaded;
use crate::store::Lend;

use super::site::Site;

/// Applies up to `limit` events after `loaded.version`, lent by the site: nothing copied.
pub(super) async fn fold<A: Aggregate>(
    site: &mut impl Site,
    keys: Option<&Keyring>,
    stream: &str,
    loaded: &mut Loaded<A>,
    limit: usize,
) -> Result<(), StoreError> {
    let opening = Opening { keys, seen: None, may_load: true };
    fold_finding(site, opening, stream, loaded, limit, None).await.map(drop)
}

/// How a fold opens personal data.
pub(super) struct Opening<'k> {
    /// The keyring, if the aggregate's events may hold personal data.
    pub(super) keys: Option<&'k Keyring>,
    /// Collects the subjects whose values were opened, when a snapshot may be taken.
    pub(super) seen: Option<&'k mut BTreeSet<String>>,
    /// Whether a missing key may be loaded during the fold. Not inside a turn: the key store
    /// may need the very connection the turn holds (SQLite's single writer), so the fold stops
    /// with the missing key's error and the caller loads it outside the turn.
    pub(super) may_load: bool,
}

/// Like [`fold`], also collecting the events that the command `finding` names (its id, and the
/// store's name for errors) recorded in the stream, if it ran before (their ids are derived
/// from the command's). Finding needs every field, so it lends them all.
///
/// Personal data opens with `opening.keys`: an event whose subject's key is not cached stops
/// the visit, the key is loaded, and the fold goes on from that event.
pub(super) async fn fold_finding<A: Aggregate>(
    site: &mut impl Site,
    opening: Opening<'_>,
    stream: &str,
    loaded: &mut Loaded<A>,
    limit: usize,
    finding: Option<(uuid::Uuid, &'static str)>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let Opening { keys, mut seen, may_load } = opening;
    let (state, version, mut found) = (&mut loaded.state, &mut loaded.version, Vec::new());
    let lend = if finding.is_some() { Lend::All } else { Lend::ForDecoding };
    let (mut applied, mut stuck_at) = (0, None);
    loop {
        let visit = site.visit(stream, *version + 1, limit - applied, lend, |stored| {
            if let Some((command, backend)) = finding {
                if stored.id == command::event_id(command, stream, found.len()) {
                    found.push(crate::backend::owned(backend, stored)?);
                }
            }
            state.apply(&codec::decode_ref::<A::Event>(stored)?);
            *version = stored.stream_version;
            applied += 1;
            Ok(())
        });
        let visited = match (keys, seen.as_deref_mut()) {
            (Some(keys), Some(seen)) => keys.scoped_seeing(seen, visit).await,
            _ => keys::scoped(keys, visit).await,
        };
        let Err(e) = visited else { return Ok(found) };
        if stuck_at == Some(*version) || (!may_load && e.missing_key().is_some()) {
            return Err(e);
        }
        stuck_at = Some(*version);
        keys::load_missing_or(keys, e).await?;
    }
}
