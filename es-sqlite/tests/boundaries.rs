//! The SQLite store passes the conformance checks of dynamic consistency boundaries: on a file
//! in a temp dir, and in memory.

mod file {
    use es_sqlite::SqliteStore;

    /// A fresh store in a new temporary directory, which the teardown removes.
    async fn fresh() -> SqliteStore {
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        SqliteStore::open(dir.join("events.db")).await.expect("open")
    }

    async fn remove(store: SqliteStore) {
        store.close().await;
        if let Some(dir) = store.path().and_then(|p| p.parent()) {
            std::fs::remove_dir_all(dir).expect("remove the temporary directory");
        }
    }

    es_testing::boundary_conformance!(fresh().await, teardown = remove);
}

mod memory {
    es_testing::boundary_conformance!(es_sqlite::SqliteStore::in_memory().await.expect("in-memory SQLite"));
}

/// The README's example: a decision whose boundary changed after its read is refused.
#[tokio::test(flavor = "current_thread")]
async fn a_stale_decision_is_refused() -> Result<(), Box<dyn std::error::Error>> {
    use es_core::{
        AppendCondition, Boundaries, EventStore, ExpectedVersion, NewEvent, Query, QueryItem, StoreError,
    };

    let dir = tempfile::tempdir()?;
    let store = es_sqlite::SqliteStore::open(dir.path().join("uni.db")).await?;
    let subscribed = |student: &str| {
        NewEvent::new("StudentSubscribed", 1, serde_json::json!({ "student": student }))
            .with_tags([format!("student:{student}"), "course:c1".to_owned()])
    };
    let course = Query::new([QueryItem::new(["StudentSubscribed"], ["course:c1"])]);

    let mut taken = 0;
    let seen = store
        .visit_query(&course, |_event, _tags| {
            taken += 1;
            Ok(())
        })
        .await?;
    assert_eq!(taken, 0);
    let condition = AppendCondition { query: course.clone(), seen };

    store.append("Subscription-bob", ExpectedVersion::NoStream, vec![subscribed("bob")]).await?;

    let stale = store
        .append_if("Subscription-ann", ExpectedVersion::NoStream, vec![subscribed("ann")], &condition)
        .await;
    assert!(matches!(stale, Err(StoreError::BoundaryConflict { .. })), "{stale:?}");
    Ok(())
}
