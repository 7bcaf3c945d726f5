//! The faults, injected by the database itself in the test's own schema: triggers that count
//! their calls in sequences (which do not roll back with the transaction that failed) and raise,
//! or terminate their own backend, at the Nth; a view over the events that counts each read and
//! fails the Nth; and a kill of a backend from another connection.

use std::time::Duration;

use es_postgres::PostgresStore;

/// Where a fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The Nth checkpoint write of the projection raises (a trigger on the checkpoints).
    CheckpointWrite,
    /// The Nth commit of a batch that wrote the projection's table raises (a deferred trigger).
    Commit,
    /// The runner's connection is killed from another one in the Nth batch with handled events,
    /// after the first event's SQL ran.
    KilledInBatch,
    /// The runner's connection is killed at the Nth commit of the projection's batches.
    KilledAtCommit,
    /// The Nth read of the events table fails.
    Read,
}

/// Terminates the backend `pid` from another connection and waits until it is gone.
pub(super) async fn kill(store: &PostgresStore, pid: i32) {
    let pool = store.pool();
    sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(pool).await.expect("terminate");
    for _ in 0..200 {
        let alive: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(pool)
            .await
            .expect("pg_stat_activity");
        if alive == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("backend {pid} still alive after pg_terminate_backend");
}

/// The fault machinery, in the store's (the test's own) schema: a trigger function that counts
/// its calls in the sequence `TG_ARGV[0]` (once per transaction when `TG_ARGV[3]` is `tx`) and
/// at call `TG_ARGV[1]` raises or (`TG_ARGV[2]` = `kill`) terminates its own backend; for the
/// `Read` kind, the events table behind a view that counts each query reading it.
pub(super) async fn install(store: &PostgresStore, kind: Kind) {
    let s = store.schema();
    let mut ddl = vec![format!(
        "CREATE FUNCTION {s}.fault_nth() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE k bigint;
         BEGIN
             IF TG_ARGV[3] = 'tx' THEN
                 IF current_setting('es_fault.tx', true) = txid_current()::text THEN RETURN NEW; END IF;
                 PERFORM set_config('es_fault.tx', txid_current()::text, true);
             END IF;
             k := nextval(TG_ARGV[0]::regclass);
             IF k = TG_ARGV[1]::bigint THEN
                 IF TG_ARGV[2] = 'kill' THEN
                     PERFORM pg_terminate_backend(pg_backend_pid());
                     PERFORM pg_sleep(10);
                 END IF;
                 RAISE EXCEPTION 'fault injected: call % of %', k, TG_ARGV[0];
             END IF;
             RETURN NEW;
         END $$"
    )];
    if kind == Kind::Read {
        // STABLE and without arguments, the gate is a one-time filter: one call per query.
        ddl.extend([
            format!("CREATE TABLE {s}.read_plan (counter text, n bigint NOT NULL)"),
            format!("INSERT INTO {s}.read_plan VALUES (NULL, 0)"),
            format!(
                "CREATE FUNCTION {s}.read_gate() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
                 DECLARE plan record; k bigint;
                 BEGIN
                     SELECT counter, n INTO plan FROM {s}.read_plan;
                     IF plan.counter IS NULL THEN RETURN true; END IF;
                     k := nextval(plan.counter::regclass);
                     IF k = plan.n THEN RAISE EXCEPTION 'fault injected: read % of the events', k; END IF;
                     RETURN true;
                 END $$"
            ),
            format!("ALTER TABLE {s}.es_events RENAME TO es_events_behind_gate"),
            format!(
                "CREATE VIEW {s}.es_events AS SELECT * FROM {s}.es_events_behind_gate WHERE {s}.read_gate()"
            ),
        ]);
    }
    for sql in ddl {
        sqlx::query(&sql).execute(store.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Creates the run's table and counter, and arms `kind` to strike at call `n` (0: never) of run
/// `name`.
pub(super) async fn arm(store: &PostgresStore, kind: Kind, name: &str, n: u64) {
    let s = store.schema();
    let (table, counter) = (format!("{s}.{name}"), format!("{s}.calls_{name}"));
    let mut ddl = vec![
        format!("CREATE TABLE {table} (stream text PRIMARY KEY, balance bigint NOT NULL, applied bigint NOT NULL)"),
        format!("CREATE SEQUENCE {counter}"),
    ];
    let args = |action: &str, once: &str| format!("'{counter}', '{n}', '{action}', '{once}'");
    ddl.push(match kind {
        Kind::CheckpointWrite => format!(
            "CREATE TRIGGER fault_{name} BEFORE UPDATE ON {s}.es_checkpoints FOR EACH ROW
             WHEN (NEW.projection = '{name}') EXECUTE FUNCTION {s}.fault_nth({})",
            args("raise", "")
        ),
        Kind::Commit => format!(
            "CREATE CONSTRAINT TRIGGER fault_{name} AFTER INSERT OR UPDATE ON {table}
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {s}.fault_nth({})",
            args("raise", "tx")
        ),
        Kind::KilledAtCommit => format!(
            "CREATE CONSTRAINT TRIGGER fault_{name} AFTER INSERT OR UPDATE ON {s}.es_checkpoints
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.projection = '{name}')
             EXECUTE FUNCTION {s}.fault_nth({})",
            args("kill", "tx")
        ),
        Kind::Read => format!("UPDATE {s}.read_plan SET counter = '{counter}', n = {n}"),
        Kind::KilledInBatch => "SELECT 1".to_owned(),
    });
    for sql in ddl {
        sqlx::query(&sql).execute(store.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Counts one call of run `name` (the handler's count of batches), returning it.
pub(super) async fn next_call(store: &PostgresStore, name: &str) -> u64 {
    let n: i64 = sqlx::query_scalar(&format!("SELECT nextval('{}.calls_{name}')", store.schema()))
        .fetch_one(store.pool())
        .await
        .expect("count the call");
    n as u64
}

/// How many calls of run `name` were counted.
pub(super) async fn calls(store: &PostgresStore, name: &str) -> u64 {
    let sql =
        format!("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {}.calls_{name}", store.schema());
    let n: i64 = sqlx::query_scalar(&sql).fetch_one(store.pool()).await.expect("count the calls");
    n as u64
}
