//! What stays in a SQLite store's files after `forget`: neither the member's plaintext nor
//! its key's bytes (raw or wrapped), in the database file or its write-ahead log; and with a
//! master key, the raw key bytes are never in the files at all.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use es_core::personal::MasterKey;
use es_core::Repository;
use es_sqlite::SqliteStore;

use super::{Earn, Join, Member, Rename};

const SECRETS: [&str; 3] = ["Zelda Plaintext", "zelda@example.com", "Zelda Renamed"];
const MASTER: [u8; 32] = [42; 32];

/// The subject key inside a stored key: itself when raw, opened with [`MASTER`] when wrapped
/// (tag 1, nonce, AES-256-GCM bound to the subject).
fn raw_key(stored: &[u8], subject: &str) -> Vec<u8> {
    if stored.len() == 32 {
        return stored.to_vec();
    }
    assert_eq!((stored.len(), stored[0]), (61, 1), "a wrapped key");
    let cipher = Aes256Gcm::new((&MASTER).into());
    let aad = [b"es-key-v1\0".as_slice(), subject.as_bytes()].concat();
    cipher
        .decrypt(Nonce::from_slice(&stored[1..13]), Payload { msg: &stored[13..], aad: &aad })
        .expect("the wrapped key opens with the master key")
}

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("the store's directory")
        .map(|entry| {
            let path = entry.expect("an entry").path();
            (path.display().to_string(), std::fs::read(&path).expect("read a store file"))
        })
        .collect()
}

fn holds(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

async fn nothing_left_after_forget(master: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("files.db");
    let mut store = SqliteStore::open(&path).await.expect("open");
    if master {
        store = store.with_master_key(MasterKey::from_bytes(MASTER));
    }
    let members = Repository::<Member, _>::new(store.clone()).with_snapshots(2);
    members.execute("m-1", Join("m-1".into(), SECRETS[0].into(), SECRETS[1].into())).await.expect("join");
    members.execute("m-1", Earn(2)).await.expect("earn");
    members.execute("m-1", Rename("m-1".into(), SECRETS[2].into())).await.expect("rename");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM personal_keys WHERE subject = 'm-1'")
        .fetch_one(store.reader())
        .await
        .expect("m-1's stored key");
    let key = raw_key(&stored, "m-1");
    if master {
        store.truncate_wal().await.expect("checkpoint");
        for (file, bytes) in files(dir.path()) {
            assert!(!holds(&bytes, &key), "the unwrapped key is in {file} although a master key wraps it");
        }
    }

    let forgotten = store.forget("m-1").await.expect("forget");
    assert!(forgotten.had_key && forgotten.is_complete(), "{forgotten:?}");
    assert_eq!(members.load("m-1").await.expect("load").state.name, "", "erased");
    store.close().await;
    drop(store);
    for (file, bytes) in files(dir.path()) {
        assert!(!holds(&bytes, &key), "the forgotten key's bytes are still in {file}");
        assert!(!holds(&bytes, &stored), "the forgotten stored key is still in {file}");
        for secret in SECRETS {
            assert!(!holds(&bytes, secret.as_bytes()), "`{secret}` is in {file}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_keep_neither_plaintext_nor_key_after_forget() {
    nothing_left_after_forget(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_with_a_master_key_never_hold_the_raw_key() {
    nothing_left_after_forget(true).await;
}

/// The bytes of the file behind table `table` of the store's schema, after a checkpoint (the
/// server is the local one: the tests run beside it, as root).
async fn table_file(store: &es_postgres::PostgresStore, table: &str) -> Vec<u8> {
    sqlx::query("CHECKPOINT").execute(store.pool()).await.expect("checkpoint");
    let dir: String =
        sqlx::query_scalar("SHOW data_directory").fetch_one(store.pool()).await.expect("data dir");
    let relation = format!("{}.{table}", store.schema());
    let file: String = sqlx::query_scalar("SELECT pg_relation_filepath($1::regclass)")
        .bind(&relation)
        .fetch_one(store.pool())
        .await
        .expect("the table's file");
    let path = std::path::Path::new(&dir).join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("this test reads the local server's files ({}): {e}; run it beside the server, as its owner or root", path.display())
    })
}

/// On PostgreSQL a master key wraps every stored key, and `vacuum_keys` takes a forgotten key's
/// dead row out of the table's file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keys_are_wrapped_and_vacuumed_away() {
    let store =
        crate::stores::pg_store("es_combo_vacuum").await.with_master_key(MasterKey::from_bytes(MASTER));
    let members = Repository::<Member, _>::new(store.clone());
    members.execute("m-1", Join("m-1".into(), SECRETS[0].into(), SECRETS[1].into())).await.expect("join");
    let sql = format!("SELECT key FROM {}.es_personal_keys WHERE subject = 'm-1'", store.schema());
    let stored: Vec<u8> = sqlx::query_scalar(&sql).fetch_one(store.pool()).await.expect("m-1's stored key");
    assert_eq!(stored.len(), 61, "wrapped");
    let key = raw_key(&stored, "m-1");
    // Without the master key, nothing opens.
    let bare = es_postgres::PostgresOptions::new()
        .schema(store.schema_name())
        .connect(&es_postgres::url_from_env())
        .await
        .expect("connect");
    let error = Repository::<Member, _>::new(bare).load("m-1").await.expect_err("no master key");
    assert!(error.to_string().contains("ES_MASTER_KEY"), "{error}");

    let before = table_file(&store, "es_personal_keys").await;
    assert!(holds(&before, &stored) && !holds(&before, &key), "the file holds the wrapped key only");
    assert!(store.forget("m-1").await.expect("forget").had_key);
    assert!(holds(&table_file(&store, "es_personal_keys").await, &stored), "a dead row until vacuumed");
    // A dead row stays while a transaction that began before the forget runs (other tests
    // run beside this one): vacuum again until none does.
    let mut vacuumed = false;
    for _ in 0..50 {
        store.vacuum_keys().await.expect("vacuum");
        if !holds(&table_file(&store, "es_personal_keys").await, &stored) {
            vacuumed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(vacuumed, "the forgotten key is still in the table's file after vacuuming");
    assert_eq!(members.load("m-1").await.expect("load").state.name, "", "erased");
    store.drop_schema().await.expect("drop the test schema");
}
