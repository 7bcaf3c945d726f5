//! Decision states: what a decision across streams reads. A [`State`] folds the events that
//! carry its tag (`#[derive(State)] #[state(events(..), tag = course)]`, with one `Apply<E>` per
//! event, as for aggregates); [`States`] is a tuple of them, the boundary of one decision.

use crate::store::{tag, DecodeError, EventRef, QueryItem};

/// A state folded from the events that carry its tag: `Course` folds the `CourseCreated` and
/// `StudentSubscribed` events tagged `course:<id>`. Derive it with `#[derive(State)]`.
pub trait State: Default + Send + Sync + 'static {
    /// The tag key that selects its events: `course` selects those tagged `course:<id>`.
    const TAG: &'static str;

    /// The stored names (current and former) of the events it folds. Generated.
    fn event_names() -> Vec<&'static str>;

    /// Folds one stored event of [`event_names`](Self::event_names): decodes it and calls its
    /// `Apply` impl. Generated.
    fn apply_stored(&mut self, event: &EventRef<'_>) -> Result<(), DecodeError>;

    /// The query item of the state keyed `key`: its events, tagged `TAG:key`.
    fn item(key: &str) -> QueryItem {
        QueryItem::new(Self::event_names(), [tag(Self::TAG, key)])
    }
}

/// The states one decision reads: a tuple of [`State`]s (one state alone is a 1-tuple), each
/// keyed by a tag value that the command gives ([`Decide::boundary`](crate::model::Decide::boundary)).
pub trait States: Default + Send + Sync + 'static {
    /// The tag values, one per state, in order: `(&str, &str)` for two states.
    type Keys<'a>;

    /// One query item per state, in order.
    fn items(keys: &Self::Keys<'_>) -> Vec<QueryItem>;

    /// Folds `event` (carrying `tags`) into every state whose item (`items[i]`) it matches.
    fn apply(&mut self, items: &[QueryItem], event: &EventRef<'_>, tags: &[&str]) -> Result<(), DecodeError>;
}

macro_rules! tuple_states {
    ($( ($($t:ident $i:tt),+) )+) => {$(
        impl<$($t: State),+> States for ($($t,)+) {
            type Keys<'a> = ($(tuple_states!(@str $t),)+);

            fn items(keys: &Self::Keys<'_>) -> Vec<QueryItem> {
                vec![$($t::item(keys.$i)),+]
            }

            fn apply(
                &mut self,
                items: &[QueryItem],
                event: &EventRef<'_>,
                tags: &[&str],
            ) -> Result<(), DecodeError> {
                $(
                    if items.get($i).is_some_and(|item| item.matches(event.name, tags)) {
                        self.$i.apply_stored(event)?;
                    }
                )+
                Ok(())
            }
        }
    )+};
    (@str $t:ident) => { &'a str };
}

tuple_states! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
}
