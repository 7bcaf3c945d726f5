//! W16: decisions across streams on PostgreSQL, at 1, 8 and 32 writers, on disjoint tags (each
//! writer its own slots) and on overlapping tags (every writer on the same 8 slots), against a
//! hand-written sqlx baseline doing the same check in the same run: one transaction that takes
//! the same advisory lock on (tag, name), reads the matching events, decides, and inserts the
//! event and its tag row. The framework reads without a lock and checks on append (re-reading
//! and deciding again on conflict); conflicts are reported as the decisions made beyond one
//! per command, and decisions that ran out of retries as `gave up`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use es_core::{Apply, CommandError, Decide, Decisions, Event, EventSet, State};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::measure::{row, runtime, stats, time_async};
use crate::raw::Error;
use crate::sql::{done, pg};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Reserved {
    #[event(tag)]
    pub slot: String,
}

#[derive(EventSet, Debug, Clone, PartialEq)]
pub enum Booking {
    Reserved(Reserved),
}

#[derive(State, Default)]
#[state(events(Reserved), tag = slot)]
pub struct Slot {
    taken: u64,
}
impl Apply<Reserved> for Slot {
    fn apply(&mut self, _: &Reserved) {
        self.taken += 1;
    }
}

/// Reserves a place in a slot of `CAPACITY`; counts its decisions (re-decisions are conflicts).
pub struct Reserve {
    slot: String,
    decided: Arc<AtomicU64>,
}

const CAPACITY: u64 = 1_000_000;

impl Decide for Reserve {
    type Events = Booking;
    type States = (Slot,);
    type Error = String;
    fn boundary(&self) -> (&str,) {
        (&self.slot,)
    }
    fn decide(&self, (slot,): &(Slot,)) -> Result<Vec<Booking>, String> {
        self.decided.fetch_add(1, Ordering::Relaxed);
        if slot.taken >= CAPACITY {
            return Err("full".into());
        }
        Ok(vec![Reserved { slot: self.slot.clone() }.into()])
    }
}

/// The same decision by hand: lock (tag, name), read the matching payloads, decide, insert.
struct RawDecisions {
    pool: sqlx::PgPool,
    lock: String,
    select: String,
    insert: String,
    tag: String,
}

impl RawDecisions {
    async fn new(pool: sqlx::PgPool, schema: &str) -> Result<Self, Error> {
        for ddl in [
            format!(
                "CREATE TABLE {schema}.raw_dcb_events (position bigserial PRIMARY KEY, stream text NOT NULL,
                 event_id uuid NOT NULL UNIQUE, name text NOT NULL, payload json NOT NULL,
                 recorded_at timestamptz NOT NULL DEFAULT now())"
            ),
            format!(
                "CREATE TABLE {schema}.raw_dcb_tags (tag text NOT NULL, name text NOT NULL, position bigint NOT NULL,
                 PRIMARY KEY (tag, name, position))"
            ),
        ] {
            sqlx::query(&ddl).execute(&pool).await?;
        }
        Ok(RawDecisions {
            pool,
            lock: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))".into(),
            select: format!(
                "SELECT e.payload::text AS payload FROM {schema}.raw_dcb_tags t JOIN {schema}.raw_dcb_events e
                 USING (position) WHERE t.tag = $1 AND t.name = 'Reserved' ORDER BY t.position"
            ),
            insert: format!(
                "INSERT INTO {schema}.raw_dcb_events (stream, event_id, name, payload)
                 VALUES ($1, $2, 'Reserved', $3::json) RETURNING position"
            ),
            tag: format!(
                "INSERT INTO {schema}.raw_dcb_tags (tag, name, position) VALUES ($1, 'Reserved', $2)"
            ),
        })
    }

    async fn reserve(&self, slot: &str) -> Result<(), Error> {
        let tag = format!("slot:{slot}");
        let mut tx = self.pool.begin().await?;
        sqlx::query(&self.lock).bind(format!("{tag}|Reserved")).execute(&mut *tx).await?;
        let rows = sqlx::query(&self.select).bind(&tag).fetch_all(&mut *tx).await?;
        let mut taken = 0u64;
        for r in &rows {
            let _: Reserved = serde_json::from_str(r.get::<&str, _>("payload"))?;
            taken += 1;
        }
        if taken >= CAPACITY {
            return Err("full".into());
        }
        let id = es_core::Uuid::new_v4();
        let payload = serde_json::to_string(&Reserved { slot: slot.to_owned() })?;
        let position: i64 = sqlx::query_scalar(&self.insert)
            .bind(format!("Booking-{id}"))
            .bind(id)
            .bind(payload)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(&self.tag).bind(&tag).bind(position).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The slot of writer `w`'s `i`th decision: its own slots, or the 8 every writer shares.
fn slot(overlap: bool, prefix: &str, w: usize, i: usize) -> String {
    if overlap {
        format!("{prefix}-o{}", i % 8)
    } else {
        format!("{prefix}-w{w}-{}", i % 8)
    }
}

pub fn run(runs: usize) {
    runtime().block_on(async {
        let (store, _) = pg().await;
        let raw = Arc::new(
            RawDecisions::new(store.pool().clone(), &format!("\"{}\"", store.schema_name()))
                .await
                .expect("raw"),
        );
        let decisions = Decisions::<Booking, _>::new(store.clone());
        for overlap in [false, true] {
            for (writers, commands) in [(1, 400), (8, 1_600), (32, 1_600)] {
                let per_task = commands / writers;
                let (mut framework, mut hand) = (Vec::new(), Vec::new());
                let (mut conflicts, mut failed) = (Vec::new(), Vec::new());
                for run in 0..runs {
                    let prefix = format!("{overlap}-{writers}-{run}");
                    let decided = Arc::new(AtomicU64::new(0));
                    let gave_up = Arc::new(AtomicU64::new(0));
                    let (t, ()) = time_async(async {
                        let tasks: Vec<_> = (0..writers)
                            .map(|w| {
                                let (decisions, decided, prefix) =
                                    (decisions.clone(), decided.clone(), prefix.clone());
                                let gave_up = gave_up.clone();
                                tokio::spawn(async move {
                                    for i in 0..per_task {
                                        let slot = slot(overlap, &prefix, w, i);
                                        let reserve = Reserve { slot, decided: decided.clone() };
                                        match decisions.execute(reserve).await {
                                            Ok(_) => {}
                                            // Out of retries: reported, not fatal (see `gave up`).
                                            Err(CommandError::Conflict { .. }) => {
                                                gave_up.fetch_add(1, Ordering::Relaxed);
                                            }
                                            Err(other) => panic!("reserve: {other}"),
                                        }
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.expect("task");
                        }
                    })
                    .await;
                    framework.push((writers * per_task) as f64 / t.as_secs_f64());
                    let decided = decided.load(Ordering::Relaxed);
                    conflicts.push(decided.saturating_sub((writers * per_task) as u64) as f64);
                    failed.push(gave_up.load(Ordering::Relaxed) as f64);
                    let (t, ()) = time_async(async {
                        let tasks: Vec<_> = (0..writers)
                            .map(|w| {
                                let (raw, prefix) = (raw.clone(), format!("raw-{prefix}"));
                                tokio::spawn(async move {
                                    for i in 0..per_task {
                                        raw.reserve(&slot(overlap, &prefix, w, i))
                                            .await
                                            .expect("raw reserve");
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.expect("task");
                        }
                    })
                    .await;
                    hand.push((writers * per_task) as f64 / t.as_secs_f64());
                }
                let tags = if overlap { "overlap" } else { "disjoint" };
                let name = format!("W16 dcb_pg {tags} {writers}w");
                row(&name, "decisions/s", stats(framework), Some(stats(hand)), true);
                let c = stats(conflicts);
                println!(
                    "{:<22} {:>14.1} {:<10}   ({:.0}..{:.0})",
                    "  conflicts", c.median, "per run", c.min, c.max
                );
                let f = stats(failed);
                println!(
                    "{:<22} {:>14.1} {:<10}   ({:.0}..{:.0})",
                    "  gave up", f.median, "per run", f.min, f.max
                );
            }
        }
        done(store).await;
    });
}
