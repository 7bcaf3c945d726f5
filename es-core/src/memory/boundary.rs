//! The memory store's [`Boundaries`]: tags indexed per tag; one lock orders every append, so a
//! condition compares positions.

use std::sync::PoisonError;

use super::{Log, MemoryStore};
use crate::store::cursor::Cursor;
use crate::store::{
    AppendCondition, Appended, Boundaries, EventRef, EventStore, ExpectedVersion, NewEvent, Query, Seen,
    StoreError,
};

impl Log {
    /// The slots of the events matching `query`, in order: for each item, those carrying its
    /// first tag, kept if they carry its other tags and have one of its names.
    fn matching(&self, query: &Query) -> Vec<u32> {
        let mut found = Vec::new();
        for item in &query.items {
            let Some(first) = item.tags.first() else { continue };
            let Some(slots) = self.tagged.get(first) else { continue };
            found.extend(slots.iter().copied().filter(|&i| {
                let slot = &self.slots[i as usize];
                item.matches(&self.event_names[slot.name as usize], &slot.tags)
            }));
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Whether an event matching `query` is at a position after `after`.
    pub(super) fn matched_after(&self, query: &Query, after: u64) -> bool {
        query.items.iter().any(|item| {
            let Some(slots) = item.tags.first().and_then(|t| self.tagged.get(t)) else { return false };
            // Slots ascend: look at those after `after` only (slot i is position i + 1).
            let start = slots.partition_point(|&i| u64::from(i) < after);
            slots[start..].iter().any(|&i| {
                let slot = &self.slots[i as usize];
                item.matches(&self.event_names[slot.name as usize], &slot.tags)
            })
        })
    }
}

impl Boundaries for MemoryStore {
    async fn visit_query<F>(&self, query: &Query, mut visit: F) -> Result<Seen, StoreError>
    where
        F: FnMut(&EventRef<'_>, &[&str]) -> Result<(), StoreError> + Send,
    {
        query.check(Self::BACKEND)?;
        let log = self.read();
        let found = log.matching(query);
        let mut tags = Vec::new();
        for &i in &found {
            tags.clear();
            tags.extend(log.slots[i as usize].tags.iter().map(String::as_str));
            visit(&log.lend(i), &tags)?;
        }
        Ok(Seen { head: Cursor::at(log.slots.len() as u64), matched: found.len() as u64 })
    }

    async fn append_if(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        condition: &AppendCondition,
    ) -> Result<Appended, StoreError> {
        condition.query.check(Self::BACKEND)?;
        let _span = crate::store::backend::append_span(Self::BACKEND, stream, events.len()).entered();
        let appended = self.log.write().unwrap_or_else(PoisonError::into_inner).append(
            stream,
            expected,
            events,
            Some(condition),
        )?;
        self.appended.appended(&appended);
        Ok(appended)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{
        AppendCondition, Boundaries, EventStore, ExpectedVersion, NewEvent, Query, QueryItem, StoreError,
    };
    use crate::MemoryStore;

    fn subscribed(student: &str, course: &str) -> NewEvent {
        NewEvent::new("StudentSubscribed", 1, serde_json::json!({ "student": student, "course": course }))
            .with_tags([format!("student:{student}"), format!("course:{course}")])
    }

    #[tokio::test]
    async fn a_condition_fails_only_on_matching_events_after_the_read() {
        let store = MemoryStore::new();
        store.append("s-1", ExpectedVersion::Any, vec![subscribed("ann", "c1")]).await.expect("append");
        let course = Query::new([QueryItem::new(["StudentSubscribed"], ["course:c1"])]);
        let mut read = Vec::new();
        let seen = store
            .visit_query(&course, |e, tags| {
                read.push((e.position, tags.len()));
                Ok(())
            })
            .await
            .expect("read");
        assert_eq!((read, seen.matched), (vec![(1, 2)], 1));

        // Another course and another name do not touch the boundary.
        store.append("s-2", ExpectedVersion::Any, vec![subscribed("bob", "c2")]).await.expect("append");
        let other = NewEvent::new("CourseRenamed", 1, serde_json::json!({})).with_tags(["course:c1"]);
        store.append("c-1", ExpectedVersion::Any, vec![other]).await.expect("append");
        let condition = AppendCondition { query: course.clone(), seen };
        store
            .append_if("d-1", ExpectedVersion::NoStream, vec![subscribed("cid", "c1")], &condition)
            .await
            .expect("no overlap");

        // Now an event of the boundary arrived after the read: the second decision is stale.
        let stale = store
            .append_if("d-2", ExpectedVersion::NoStream, vec![subscribed("dan", "c1")], &condition)
            .await;
        assert!(matches!(stale, Err(StoreError::BoundaryConflict { .. })), "{stale:?}");
        assert!(store.read_stream("d-2", 1, 10).await.expect("read").is_empty());
    }
}
