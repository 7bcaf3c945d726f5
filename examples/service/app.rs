//! The bank behind an HTTP API (axum): commands as POSTs, with an `Idempotency-Key` header
//! mapped to the command id; the account and a read model as GETs; a live feed of events as
//! server-sent events from a subscription. Shared by `main.rs` and the HTTP test.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use es_core::{CommandError, EventStore, Handle, Metadata, ProjectionRunner, Recorded, Repository, Uuid};
use es_sqlite::SqliteStore;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::{Account, AccountError, AccountEvent, Deposit, Open, Withdraw};
use crate::read_model::BalancePerOwner;

/// What the handlers share.
#[derive(Clone)]
pub struct Bank {
    store: SqliteStore,
    accounts: Repository<Account, SqliteStore>,
    /// The read model's balances, as of its last catch-up.
    balances: Arc<RwLock<BTreeMap<String, u64>>>,
}

impl Bank {
    /// The bank on `store`, with its read model kept up to date by a background task.
    pub async fn start(store: SqliteStore) -> Result<Self, es_core::StoreError> {
        let bank =
            Bank { accounts: Repository::new(store.clone()), store: store.clone(), balances: Arc::default() };
        let mut runner =
            ProjectionRunner::<BalancePerOwner, _>::start("service-balances", store.clone()).await?;
        let (balances, mut watch) = (Arc::clone(&bank.balances), store.watch());
        tokio::spawn(async move {
            loop {
                if runner.catch_up().await.is_ok() {
                    let latest = runner.projection().balances.clone();
                    *balances.write().unwrap_or_else(std::sync::PoisonError::into_inner) = latest;
                }
                match &mut watch {
                    Some(w) => {
                        drop(tokio::time::timeout(std::time::Duration::from_secs(1), w.changed()).await)
                    }
                    None => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                }
            }
        });
        Ok(bank)
    }
}

/// The routes.
pub fn router(bank: Bank) -> Router {
    Router::new()
        .route("/accounts/{id}", get(account))
        .route("/accounts/{id}/open", post(open))
        .route("/accounts/{id}/deposits", post(deposit))
        .route("/accounts/{id}/withdrawals", post(withdraw))
        .route("/balances", get(balances))
        .route("/events", get(events))
        .with_state(bank)
}

#[derive(Deserialize)]
struct OpenBody {
    owner: String,
}

#[derive(Deserialize)]
struct AmountBody {
    amount: u64,
}

async fn open(
    State(bank): State<Bank>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<OpenBody>,
) -> Response {
    execute(&bank, &id, &headers, Open { owner: body.owner }).await
}

async fn deposit(
    State(bank): State<Bank>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<AmountBody>,
) -> Response {
    execute(&bank, &id, &headers, Deposit { amount: body.amount }).await
}

async fn withdraw(
    State(bank): State<Bank>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<AmountBody>,
) -> Response {
    execute(&bank, &id, &headers, Withdraw { amount: body.amount }).await
}

/// The command id an `Idempotency-Key` names: the key itself when it is a UUID, else a UUID
/// derived from it (the same key, the same id).
fn command_id(headers: &HeaderMap) -> Option<Uuid> {
    let key = headers.get("idempotency-key")?.to_str().ok()?;
    Some(Uuid::parse_str(key).unwrap_or_else(|_| Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes())))
}

async fn execute<C>(bank: &Bank, id: &str, headers: &HeaderMap, command: C) -> Response
where
    Account: Handle<C>,
{
    let metadata = match command_id(headers) {
        Some(key) => Metadata::default().command_id(key),
        None => Metadata::default(),
    };
    match bank.accounts.execute_with(id, command, metadata).await {
        Ok(recorded) => {
            Json(json!({ "recorded": recorded.iter().map(describe).collect::<Vec<_>>() })).into_response()
        }
        Err(CommandError::Rejected(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, &e),
        Err(e @ CommandError::Conflict { .. }) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

fn describe(r: &Recorded<AccountEvent>) -> Value {
    json!({ "id": r.id, "stream": r.stream, "version": r.stream_version, "position": r.position, "event": format!("{:?}", r.event) })
}

fn error(status: StatusCode, e: &dyn std::fmt::Display) -> Response {
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

async fn account(State(bank): State<Bank>, Path(id): Path<String>) -> Response {
    match bank.accounts.load(&id).await {
        Ok(loaded) if loaded.version == 0 => error(StatusCode::NOT_FOUND, &AccountError::NotOpen),
        Ok(loaded) => Json(json!({
            "id": id, "owner": loaded.state.owner, "balance": loaded.state.balance, "version": loaded.version,
        }))
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

async fn balances(State(bank): State<Bank>) -> Json<BTreeMap<String, u64>> {
    Json(bank.balances.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
}

/// Events committed from now on, as server-sent events: `event:` the name, `id:` the cursor,
/// `data:` stream, version, position and payload.
async fn events(
    State(bank): State<Bank>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Response> {
    let head = bank.store.head().await.map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let feed = es_core::subscribe(bank.store.clone(), head).map(|next| {
        Ok(match next {
            Ok(e) => SseEvent::default().event(e.name.clone()).id(e.cursor.to_string()).data(
                json!({
                    "stream": e.stream, "version": e.stream_version, "position": e.position,
                    "payload": serde_json::from_str::<Value>(e.payload.get()).unwrap_or(Value::Null),
                })
                .to_string(),
            ),
            Err(e) => SseEvent::default().event("error").data(e.to_string()),
        })
    });
    Ok(Sse::new(feed).keep_alive(KeepAlive::default()))
}
