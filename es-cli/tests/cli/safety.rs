//! What `es` must not do: write to or migrate a store it only looks at, create a schema from a
//! typo, print the terminal escapes a stream name holds, or show a forgotten subject's data as
//! anything but erased.

use std::path::Path;

use es_core::{
    Aggregate, Apply, DeadLetters, Event, EventStore, ExpectedVersion, Handle, NewEvent, Parked, Repository,
};
use serde::{Deserialize, Serialize};

use crate::{es, json, stderr, stdout};

const LOOKING: [&[&str]; 7] = [
    &["streams"],
    &["show", "Account-ann"],
    &["tail", "--all", "--count", "1"],
    &["stats"],
    &["projections"],
    &["verify"],
    &["parked"],
];

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read the store file")
}

async fn user_version(path: &Path) -> i64 {
    let url = format!("sqlite:{}", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    let v = sqlx::query_scalar("PRAGMA user_version").fetch_one(&pool).await.expect("user_version");
    pool.close().await;
    v
}

async fn set_user_version(path: &Path, v: i64) {
    let url = format!("sqlite:{}", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    sqlx::query(&format!("PRAGMA user_version = {v}")).execute(&pool).await.expect("set user_version");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looking_never_writes_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bank.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    let opened = NewEvent::new("AccountOpened", 1, serde_json::json!({ "owner": "Ann" }));
    store.append("Account-ann", ExpectedVersion::NoStream, vec![opened]).await.expect("append");
    store.close().await;
    let before = file_bytes(&path);
    let url = format!("sqlite:{}", path.display());
    for args in LOOKING {
        let o = es(&[&["--store", url.as_str()], args].concat());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    assert!(file_bytes(&path) == before, "an inspection command changed the file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_needs_migrating_is_refused_until_es_migrate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    // An empty SQLite file: schema version 0, the oldest there is.
    std::fs::File::create(&path).expect("create");
    let url = format!("sqlite:{}", path.display());
    for args in LOOKING {
        let o = es(&[&["--store", url.as_str()], args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("schema version 0") && err.contains("needs migrating: run `es migrate`"),
            "{err}"
        );
    }
    let forget = es(&["--store", &url, "forget", "c-1"]);
    assert!(stderr(&forget).contains("needs migrating"), "writing commands do not migrate either");
    assert_eq!(user_version(&path).await, 0, "nothing migrated it");

    let migrate = es(&["--store", &url, "migrate"]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let to = es_sqlite::SCHEMA_VERSION;
    assert_eq!(stdout(&migrate).trim(), format!("migrated the schema from version 0 to {to}"));
    assert_eq!(user_version(&path).await, to);
    assert!(stdout(&es(&["--store", &url, "streams"])).contains("0 streams"));
    let again = json(&es(&["--store", &url, "migrate", "--json"]));
    assert_eq!(again, serde_json::json!({ "from": to, "to": to }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_schema_version_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("odd.db");
    es_sqlite::SqliteStore::open(&path).await.expect("open").close().await;
    set_user_version(&path, -5).await;
    let url = format!("sqlite:{}", path.display());
    for args in [&["streams"][..], &["migrate"], &["forget", "x"]] {
        let o = es(&[&["--store", url.as_str()], args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("schema version -5, which no version of this program writes"),
            "{}",
            stderr(&o)
        );
    }
    match es_sqlite::SqliteStore::open(&path).await {
        Err(es_core::StoreError::Backend { source, .. }) => {
            assert!(matches!(
                source.downcast_ref::<es_sqlite::MigrateError>(),
                Some(es_sqlite::MigrateError::Invalid { found: -5 })
            ));
        }
        other => panic!("expected a typed error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_in_the_schema_creates_nothing() {
    let url = es_postgres::url_from_env();
    let schema = format!("es_cli_typo_{}", es_core::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("this test needs PostgreSQL ({e})\n{}", es_postgres::how_to_start(&url)));
    let exists = || async {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(&schema)
            .fetch_one(&pool)
            .await
            .expect("query")
    };
    for args in LOOKING {
        let o = es(&[&["--store", url.as_str(), "--schema", schema.as_str()], args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(&format!("schema `{schema}` does not exist")), "{}", stderr(&o));
    }
    assert!(!exists().await, "an inspection command created the schema");
    let migrate = es(&["--store", &url, "--schema", &schema, "migrate"]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    assert!(
        stdout(&migrate).starts_with(&format!("created the schema {schema} at version ")),
        "{}",
        stdout(&migrate)
    );
    assert!(exists().await);
    let streams = es(&["--store", &url, "--schema", &schema, "streams"]);
    assert!(stdout(&streams).contains("0 streams"), "{}", stderr(&streams));
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(&pool).await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_names_and_text_are_printed_escaped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("odd.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    let names = ["Account-\u{1b}[2J\u{1b}[31mred", "Account-a\r\nb", "Account-\u{202e}txt"];
    for name in names {
        let e = NewEvent::new("Odd\u{1b}]0;title\u{7}", 1, serde_json::json!({ "memo": "csi\u{9b}31m" }));
        store.append(name, ExpectedVersion::NoStream, vec![e]).await.expect("append");
    }
    let event = store.read_stream(names[0], 1, 1).await.expect("read").remove(0);
    let parked = Parked {
        reactor: "mailer".into(),
        event,
        error: "failed: \u{1b}[2J".into(),
        attempts: 1,
        parked_at: std::time::SystemTime::now(),
    };
    store.park(parked).await.expect("park");
    let url = format!("sqlite:{}", path.display());
    let outputs = [
        es(&["--store", &url, "streams"]),
        es(&["--store", &url, "show", names[0]]),
        es(&["--store", &url, "show", names[1]]),
        es(&["--store", &url, "tail", "--all", "--count", "3"]),
        es(&["--store", &url, "stats"]),
        es(&["--store", &url, "parked"]),
        es(&["--store", &url, "show", "Nope-\u{1b}[2J"]),
    ];
    for o in &outputs {
        let text = format!("{}{}", stdout(o), stderr(o));
        assert!(
            !text.contains(['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}']),
            "raw control characters: {text:?}"
        );
    }
    let streams = stdout(&outputs[0]);
    assert!(streams.contains(r"Account-\u{1b}[2J\u{1b}[31mred"), "{streams}");
    assert!(streams.contains(r"Account-a\r\nb") && streams.contains(r"Account-\u{202e}txt"), "{streams}");
    assert!(stdout(&outputs[1]).contains(r"csi\u{9b}31m"), "{}", stdout(&outputs[1]));
    assert!(stdout(&outputs[5]).contains(r"failed: \u{1b}[2J"), "{}", stdout(&outputs[5]));
    assert!(stderr(&outputs[6]).contains(r"no stream `Nope-\u{1b}[2J`"), "{}", stderr(&outputs[6]));
    // JSON keeps the names exactly (as JSON escapes).
    let list = json(&es(&["--store", &url, "streams", "--json"]));
    assert!(list.as_array().expect("a list").iter().any(|s| s["stream"] == names[1]), "{list}");
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Registered {
    #[event(subject)]
    pub customer: String,
    #[event(personal)]
    pub name: String,
    pub plan: String,
}

#[derive(Aggregate, Default)]
#[aggregate(events(Registered), error = std::convert::Infallible)]
pub struct Customer {
    pub name: String,
}

impl Apply<Registered> for Customer {
    fn apply(&mut self, e: &Registered) {
        self.name = e.name.clone();
    }
}

impl Handle<String> for Customer {
    fn handle(&self, name: &String) -> Result<Vec<CustomerEvent>, Self::Error> {
        Ok(vec![Registered { customer: "c-1".into(), name: name.clone(), plan: "gold".into() }.into()])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_marks_sealed_fields_and_erased_ones_after_forget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("customers.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    Repository::<Customer, _>::new(store.clone())
        .execute("c-1", "Annabel".to_owned())
        .await
        .expect("execute");
    let stream = store.read_all(es_core::Cursor::START, 1).await.expect("read")[0].stream.clone();
    store.close().await;
    let url = format!("sqlite:{}", path.display());

    let show = stdout(&es(&["--store", &url, "show", &stream]));
    assert!(show.contains(r#""name":<sealed: subject c-1>"#) && show.contains(r#""plan":"gold""#), "{show}");
    assert!(!show.contains("es:sealed") && !show.contains("Annabel"), "{show}");
    let events = json(&es(&["--store", &url, "show", &stream, "--json"]));
    assert_eq!(
        events[0]["sealed"],
        serde_json::json!([{ "field": "name", "subject": "c-1", "state": "sealed" }])
    );

    assert!(stdout(&es(&["--store", &url, "forget", "c-1"])).contains("forgot c-1"));
    let show = stdout(&es(&["--store", &url, "show", &stream]));
    assert!(show.contains(r#""name":<erased>"#), "{show}");
    let events = json(&es(&["--store", &url, "show", &stream, "--json"]));
    assert_eq!(events[0]["sealed"][0]["state"], "erased");

    // The subject comes back with a new key: its old value stays erased, the new one is sealed.
    let store = es_sqlite::SqliteStore::open(&path).await.expect("reopen");
    Repository::<Customer, _>::new(store.clone()).execute("c-1", "Back".to_owned()).await.expect("execute");
    store.close().await;
    let events = json(&es(&["--store", &url, "show", &stream, "--json"]));
    assert_eq!(events[0]["sealed"][0]["state"], "erased", "{events}");
    assert_eq!(events[1]["sealed"][0]["state"], "sealed", "{events}");
}
