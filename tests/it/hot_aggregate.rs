//! Many processes, one hot aggregate: 8 OS processes (this test binary run again as children),
//! each with its own store handle and repository, deposit on one account at once. Every command
//! lands and the balance is the sum of them, on SQLite (one file) and PostgreSQL, including under
//! a PostgreSQL role whose default isolation is SERIALIZABLE. The children connect first, then
//! wait on their stdin so that all of them start at once, and report how many turns they took:
//! a run in which no command ever needed a turn would not test turns at all.
//! `ES_HOT_ROUNDS` sets the rounds (default 2; the closing note quotes a run of 20).

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use es_core::personal::Privacy;
use es_core::{Repository, Turns};
use sqlx::{Connection, Executor};

use crate::bank::{Account, Deposit, Open};

const PROCESSES: usize = 8;
const COMMANDS: usize = 25;
const SPEC: &str = "ES_HOT_STORE";
const ACCOUNT: &str = "ES_HOT_ACCOUNT";

fn rounds() -> usize {
    std::env::var("ES_HOT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2)
}

/// What a child reports: commands accepted and turns taken.
#[derive(Debug, Clone, Copy)]
struct Report {
    accepted: usize,
    turns: u64,
}

/// Waits for the parent's go (a line on stdin), then deposits 1 on `account`, `COMMANDS` times,
/// through a repository of its own.
fn deposit_all<S: Privacy + Turns>(
    rt: &tokio::runtime::Runtime,
    store: S,
    account: &str,
) -> Result<Report, String> {
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).map_err(|e| format!("waiting for the go: {e}"))?;
    rt.block_on(async {
        let accounts = Repository::<Account, _>::new(store);
        for n in 0..COMMANDS {
            accounts
                .execute(account, Deposit { amount: 1 })
                .await
                .map_err(|e| format!("command {n}: {e}"))?;
        }
        Ok(Report { accepted: COMMANDS, turns: accounts.turns_taken() })
    })
}

#[test]
#[ignore = "a child process of the hot-aggregate tests; they run it"]
fn hot_child() {
    let (Ok(spec), Ok(account)) = (std::env::var(SPEC), std::env::var(ACCOUNT)) else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let result = match spec.split_once(':') {
        Some(("sqlite", path)) => rt
            .block_on(es_sqlite::SqliteStore::open(path))
            .map_err(|e| e.to_string())
            .and_then(|store| deposit_all(&rt, store, &account)),
        Some(("postgres", schema)) => {
            let options = es_postgres::PostgresOptions::new().schema(schema).max_connections(4);
            rt.block_on(options.connect(&es_postgres::url_from_env()))
                .map_err(|e| e.to_string())
                .and_then(|store| deposit_all(&rt, store, &account))
        }
        _ => Err(format!("bad {SPEC}: {spec}")),
    };
    // On lines of their own: the test harness prints its "test ... " prefix before them.
    match result {
        Ok(report) => println!("\nhot: accepted {} turns {}", report.accepted, report.turns),
        Err(e) => println!("\nhot: failed {e}"),
    }
}

/// Reads a child's report line, failing with what the child said otherwise.
fn parse_report(stdout: &str) -> Report {
    let line = stdout.lines().find_map(|l| l.strip_prefix("hot: "));
    let fields: Vec<&str> = line.unwrap_or("").split(' ').collect();
    match fields.as_slice() {
        ["accepted", accepted, "turns", turns] => Report {
            accepted: accepted.parse().expect("a count of commands"),
            turns: turns.parse().expect("a count of turns"),
        },
        _ => panic!("a child did not land every command: {}", line.unwrap_or("no report")),
    }
}

/// Runs `PROCESSES` children at once against `spec` (connecting to `url`, or the default
/// server), each depositing on `account`; returns what each reported.
fn run_children(spec: &str, account: &str, url: Option<&str>) -> Vec<Report> {
    let exe = std::env::current_exe().expect("the test binary");
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let mut command = Command::new(&exe);
            command
                .args(["--ignored", "--exact", "hot_aggregate::hot_child", "--nocapture", "--test-threads=1"])
                .env(SPEC, spec)
                .env(ACCOUNT, account)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            if let Some(url) = url {
                command.env("ES_POSTGRES_URL", url);
            }
            command.spawn().expect("spawn a child")
        })
        .collect();
    // Go: every child is running (or connecting, then reads the line waiting in its pipe).
    for child in &mut children {
        let mut stdin = child.stdin.take().expect("a child's stdin");
        // A child that failed to connect has exited: its report says why.
        let _ = stdin.write_all(b"go\n");
    }
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("a child's output");
            parse_report(&String::from_utf8_lossy(&out.stdout))
        })
        .collect()
}

async fn every_command_lands<S: Privacy + Turns + Clone>(store: S, spec: &str, url: Option<&str>) {
    let accounts = Repository::<Account, _>::new(store);
    for round in 0..rounds() {
        let account = format!("hot-{round}");
        accounts.execute(&account, Open { owner: "hot".into() }).await.expect("open");
        let reports = tokio::task::block_in_place(|| run_children(spec, &account, url));
        let total: usize = reports.iter().map(|r| r.accepted).sum();
        assert_eq!(total, PROCESSES * COMMANDS, "round {round}: every command of every process lands");
        let turns: u64 = reports.iter().map(|r| r.turns).sum();
        assert!(turns > 0, "round {round}: {PROCESSES} processes at once on one aggregate took no turn");
        let loaded = accounts.load(&account).await.expect("load");
        assert_eq!(
            loaded.state.balance, total as u64,
            "round {round}: the balance is the sum of the commands"
        );
        assert_eq!(loaded.version, 1 + total as u64, "round {round}: one event per command, no more");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_command_on_a_hot_aggregate_lands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hot.db");
    let store = es_sqlite::SqliteStore::open(&path).await.expect("open");
    every_command_lands(store, &format!("sqlite:{}", path.display()), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_command_on_a_hot_aggregate_lands() {
    let store = crate::stores::pg_store("es_hot").await;
    every_command_lands(store.clone(), &format!("postgres:{}", store.schema_name()), None).await;
    store.drop_schema().await.expect("drop the test schema");
}

/// `url` with its user and password replaced.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
    format!("{scheme}://{user}:{password}@{host}")
}

/// A server whose role defaults to SERIALIZABLE must not make turns decide on stale state: the
/// store's transactions ask for READ COMMITTED themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hot_aggregate_lands_under_a_serializable_role() {
    let url = es_postgres::url_from_env();
    let role = format!("es_serializable_{}", es_core::Uuid::new_v4().simple());
    // A password too, for servers that do not trust local connections.
    let password = es_core::Uuid::new_v4().simple().to_string();
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect as the test's user");
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
        format!("ALTER ROLE {role} SET default_transaction_isolation = 'serializable'"),
    ] {
        admin.execute(sql.as_str()).await.expect("create the role");
    }
    let database: String =
        sqlx::query_scalar("SELECT current_database()").fetch_one(&mut admin).await.expect("database");
    admin
        .execute(format!("GRANT CREATE ON DATABASE \"{database}\" TO {role}").as_str())
        .await
        .expect("grant");

    let role_url = with_user(&url, &role, &password);
    let mut check = sqlx::PgConnection::connect(&role_url).await.expect("connect as the role");
    let isolation: String = sqlx::query_scalar("SHOW default_transaction_isolation")
        .fetch_one(&mut check)
        .await
        .expect("the role's default");
    assert_eq!(isolation, "serializable", "the role's sessions default to SERIALIZABLE");
    check.close().await.expect("close");

    let schema = format!("es_hot_ser_{}", es_core::Uuid::new_v4().simple());
    let store = es_postgres::PostgresOptions::new()
        .schema(&schema)
        .connect(&role_url)
        .await
        .expect("the role opens a store");
    every_command_lands(store.clone(), &format!("postgres:{schema}"), Some(&role_url)).await;

    store.drop_schema().await.expect("drop the test schema");
    store.pool().close().await;
    for sql in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        admin.execute(sql.as_str()).await.expect("drop the role");
    }
}
