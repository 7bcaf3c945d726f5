//! Personal fields + snapshots + forget: a load after `forget` equals a full replay, with and
//! without snapshots; no table holds a member's plaintext, before or after; `load_verified`
//! reads no snapshot, so a forged snapshot row cannot change what it returns.

use es_core::personal::Keyring;
use es_core::personal::Privacy;
use es_core::{MemoryStore, Repository, SnapshotStore, Turns};
use sqlx::Row;

use super::{erased, Earn, Join, Member, Rename};
use crate::stores::{pg_store, sqlite_store};

const PLAINTEXT: [&str; 4] = ["Ann Example", "ann@example.com", "Ann Other", "Bob Builder"];

/// Runs the scenario; `scan` looks for each plaintext in every table of the store (none for
/// memory) and returns where it found it.
async fn forget_with_snapshots<S, F>(store: S, scan: impl Fn(&'static str) -> F)
where
    S: Privacy + Turns + SnapshotStore,
    F: std::future::Future<Output = Vec<String>>,
{
    let keys: Keyring = store.keys().expect("the store keeps keys");
    let snapped = Repository::<Member, _>::new(store.clone()).with_snapshots(2);
    let replayed = Repository::<Member, _>::new(store.clone());
    let m = |s: &str| s.to_owned();
    snapped.execute("m-1", Join(m("m-1"), m("Ann Example"), m("ann@example.com"))).await.expect("join");
    snapped.execute("m-1", Earn(5)).await.expect("earn");
    snapped.execute("m-1", Rename(m("m-1"), m("Ann Other"))).await.expect("rename");
    snapped.execute("m-1", Earn(7)).await.expect("earn");
    snapped.execute("m-1", Earn(1)).await.expect("earn");
    snapped.execute("m-2", Join(m("m-2"), m("Bob Builder"), m("bob@example.com"))).await.expect("join");
    snapped.execute("m-2", Earn(3)).await.expect("earn");

    let kept = store.load_snapshot("Member-m-1").await.expect("load").expect("a snapshot at version 4");
    assert_eq!(kept.stream_version, 4);
    assert!(!kept.state.get().contains("Ann"), "the snapshot is sealed: {}", kept.state.get());
    let before = snapped.load("m-1").await.expect("load");
    assert_eq!(before, replayed.load("m-1").await.expect("replay"), "snapshot + tail = replay");
    assert_eq!(before.state.name, "Ann Other");
    for text in PLAINTEXT {
        assert_eq!(scan(text).await, Vec::<String>::new(), "`{text}` is stored in plain text");
    }

    assert!(keys.forget("m-1").await.expect("forget"), "m-1 had a key");
    let after = snapped.load("m-1").await.expect("load after forget");
    assert_eq!(after, replayed.load("m-1").await.expect("replay"), "with snapshots = without");
    assert_eq!((after.state, after.version), (erased(13, 1), 5));
    let bob = snapped.load("m-2").await.expect("load m-2").state;
    assert_eq!((bob.name.as_str(), bob.points), ("Bob Builder", 3), "others untouched");

    // The member comes back: a new key, new data readable, the old still erased.
    snapped.execute("m-1", Rename(m("m-1"), m("Ann Back"))).await.expect("rename after forget");
    let back = snapped.load("m-1").await.expect("load");
    assert_eq!(back, replayed.load("m-1").await.expect("replay"));
    assert_eq!((back.state.name.as_str(), back.state.email.as_str()), ("Ann Back", "erased@invalid"));
    assert_eq!(store.load_snapshot("Member-m-1").await.expect("load").map(|s| s.stream_version), Some(6));
    for text in PLAINTEXT {
        assert_eq!(scan(text).await, Vec::<String>::new(), "`{text}` is stored in plain text");
    }
}

#[tokio::test]
async fn memory_forget_with_snapshots_equals_a_full_replay() {
    let store = MemoryStore::new();
    let peek = store.clone();
    forget_with_snapshots(store, move |text| {
        let peek = peek.clone();
        async move {
            let mut found = Vec::new();
            for stream in ["Member-m-1", "Member-m-2"] {
                if let Some(s) = peek.load_snapshot(stream).await.expect("load") {
                    if s.state.get().contains(text) {
                        found.push(format!("snapshot of {stream}"));
                    }
                }
            }
            found
        }
    })
    .await;
}

/// Every (table, column) of the SQLite file at `path` holding `text`.
pub async fn scan_sqlite(pool: &sqlx::SqlitePool, text: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut found = Vec::new();
    for table in tables {
        let columns =
            sqlx::query(&format!("PRAGMA table_info(\"{table}\")")).fetch_all(pool).await.expect("columns");
        for column in columns {
            let column: String = column.get("name");
            let sql = format!("SELECT count(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS BLOB), CAST(?1 AS BLOB)) > 0");
            let hits: i64 = sqlx::query_scalar(&sql).bind(text).fetch_one(pool).await.expect("scan");
            if hits > 0 {
                found.push(format!("{table}.{column}"));
            }
        }
    }
    found
}

/// Every (table, column) of the store's PostgreSQL schema holding `text`.
pub async fn scan_postgres(store: &es_postgres::PostgresStore, text: &str) -> Vec<String> {
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = $1 AND table_name IN
             (SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE')",
    )
    .bind(store.schema_name())
    .fetch_all(store.pool())
    .await
    .expect("columns");
    let mut found = Vec::new();
    for row in columns {
        let (table, column, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let test = if kind == "bytea" {
            format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0")
        } else {
            format!("position($1 in \"{column}\"::text) > 0")
        };
        let sql = format!("SELECT count(*) FROM {}.\"{table}\" WHERE {test}", store.schema());
        let hits: i64 = sqlx::query_scalar(&sql).bind(text).fetch_one(store.pool()).await.expect("scan");
        if hits > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_forget_with_snapshots_equals_a_full_replay_and_no_table_holds_plaintext() {
    let (store, dir) = sqlite_store("combo.db").await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("combo.db").display()))
        .await
        .expect("a second connection");
    forget_with_snapshots(store, |text| {
        let pool = pool.clone();
        async move { scan_sqlite(&pool, text).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_forget_with_snapshots_equals_a_full_replay_and_no_table_holds_plaintext() {
    let store = pg_store("es_combo_snap").await;
    let peek = store.clone();
    forget_with_snapshots(store.clone(), move |text| {
        let peek = peek.clone();
        async move { scan_postgres(&peek, text).await }
    })
    .await;
    store.drop_schema().await.expect("drop the test schema");
}

/// A forged snapshot row: `load` trusts a plain snapshot (it has no way to tell), while
/// `load_verified` folds the verified events only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_verified_ignores_a_tampered_snapshot_row() {
    let (store, dir) = sqlite_store("verified.db").await;
    let members = Repository::<Member, _>::new(store.clone()).with_snapshots(2);
    members.execute("m-1", Join("m-1".into(), "Ann".into(), "ann@example.com".into())).await.expect("join");
    members.execute("m-1", Earn(5)).await.expect("earn");
    members.execute("m-1", Earn(1)).await.expect("earn");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("verified.db").display()))
        .await
        .expect("a second connection");
    let forged = Member { name: "Mallory".into(), points: 1_000_000, ..Member::default() };
    sqlx::query("UPDATE snapshots SET state = ?1 WHERE stream = 'Member-m-1'")
        .bind(serde_json::to_string(&forged).expect("json"))
        .execute(&pool)
        .await
        .expect("forge the snapshot");
    let trusted = members.load("m-1").await.expect("load");
    assert_eq!(trusted.state.points, 1_000_001, "load reads the snapshot (what the forgery targets)");
    let verified = members.load_verified("m-1").await.expect("load_verified");
    assert_eq!((verified.state.name.as_str(), verified.state.points, verified.version), ("Ann", 6, 3));
}
