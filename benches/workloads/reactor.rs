//! W11: a reactor issuing one command per event on PostgreSQL: 1,000 large withdrawals, each
//! opening a review (a command with `caused()` metadata: load the review's stream, decide,
//! append), checkpoint per batch of 100. Raw: a hand-written loop doing the same reads and
//! appends with sqlx: paged SELECTs of the events, for each withdrawal a SELECT of the review's
//! stream and an INSERT in a transaction, a checkpoint UPDATE per page.

use es_core::{ReactorRunner, Repository};
use sqlx::Row;

use crate::bank::{Account, Deposit, Open, Withdraw};
use crate::measure::{row, runtime, stats, time_async};
use crate::review::{LargeWithdrawals, REVIEWED_FROM};

const ACCOUNTS: u64 = 50;
const PER_ACCOUNT: u64 = 20;
const BATCH: usize = 100;

pub fn run(runs: usize) {
    runtime().block_on(async {
        let (mut framework, mut hand) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (store, raw) = crate::sql::pg().await;
            let accounts = Repository::<Account, _>::new(store.clone());
            for a in 0..ACCOUNTS {
                let id = format!("w{a}");
                accounts.execute(&id, Open { owner: id.clone() }).await.expect("open");
                accounts.execute(&id, Deposit { amount: 1_000_000 }).await.expect("deposit");
                for _ in 0..PER_ACCOUNT {
                    accounts.execute(&id, Withdraw { amount: REVIEWED_FROM }).await.expect("withdraw");
                }
            }
            let events = ACCOUNTS * (PER_ACCOUNT + 2);
            es_testing::conformance::read_all_settled(&store, events as usize).await;

            let reviewer = LargeWithdrawals { reviews: Repository::new(store.clone()) };
            let (t, read) = time_async(async {
                let mut runner =
                    ReactorRunner::start("w11", reviewer, store.clone()).await.expect("start").with_batch(BATCH);
                runner.catch_up().await.expect("catch up")
            })
            .await;
            // It also reads the reviews it appended (they share the store); the raw loop's go to
            // another table.
            assert!(read as u64 >= events);
            framework.push((ACCOUNTS * PER_ACCOUNT) as f64 / t.as_secs_f64());

            let schema = store.schema().to_owned();
            let page = format!(
                "SELECT position, stream, stream_version, name, payload::text AS payload FROM {schema}.es_events
                 WHERE position > $1 ORDER BY position LIMIT $2"
            );
            let review_stream =
                format!("SELECT name, payload::text AS payload FROM {schema}.raw_events WHERE stream = $1 ORDER BY stream_version");
            sqlx::query(&format!("CREATE TABLE {schema}.raw_checkpoint (name text PRIMARY KEY, position bigint NOT NULL)"))
                .execute(store.pool())
                .await
                .expect("checkpoint table");
            let (t, reacted) = time_async(async {
                let (mut after, mut reacted) = (0i64, 0u64);
                loop {
                    let rows = sqlx::query(&page).bind(after).bind(BATCH as i64).fetch_all(store.pool()).await.expect("page");
                    for r in &rows {
                        if r.get::<&str, _>("name") == "MoneyWithdrawn" {
                            let amount: serde_json::Value = serde_json::from_str(r.get("payload")).expect("json");
                            let review = format!("Review-{}-{}", r.get::<&str, _>("stream"), r.get::<i64, _>("stream_version"));
                            let mut tx = raw.pool.begin().await.expect("begin");
                            let existing = sqlx::query(&review_stream).bind(&review).fetch_all(&mut *tx).await.expect("load");
                            sqlx::query(&format!(
                                "INSERT INTO {schema}.raw_events (stream, stream_version, event_id, name, schema_version, payload, metadata)
                                 VALUES ($1, $2, $3, 'ReviewOpened', 1, $4::json, '{{}}')"
                            ))
                            .bind(&review)
                            .bind(existing.len() as i64 + 1)
                            .bind(es_core::Uuid::new_v4())
                            .bind(serde_json::json!({ "account": r.get::<&str, _>("stream"), "amount": amount["amount"] }).to_string())
                            .execute(&mut *tx)
                            .await
                            .expect("insert");
                            tx.commit().await.expect("commit");
                            reacted += 1;
                        }
                    }
                    let Some(last) = rows.last() else { return reacted };
                    after = last.get("position");
                    sqlx::query(&format!(
                        "INSERT INTO {schema}.raw_checkpoint VALUES ('w11', $1)
                         ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                    ))
                    .bind(after)
                    .execute(store.pool())
                    .await
                    .expect("checkpoint");
                }
            })
            .await;
            assert_eq!(reacted, ACCOUNTS * PER_ACCOUNT);
            hand.push(reacted as f64 / t.as_secs_f64());
            crate::sql::done(store).await;
        }
        row("W11 reactor_pg", "reactions/s", stats(framework), Some(stats(hand)), true);
    });
}
