//! The bank behind an HTTP API (axum): commands as POSTs, with an `Idempotency-Key` header
//! bound to the request and mapped to the command id; the account and a read model as GETs; a
//! live feed of events as server-sent events from a subscription. Shared by `main.rs` and the
//! HTTP test.
//!
//! Any input is answered, never a panic: a malformed id or body is a 400, a refused command
//! (a deposit past the largest balance, say) or a reused key a 422, each with a JSON
//! `{"error": ..}` body.

// Handlers answer refusals with a ready `Response`, axum's own idiom; boxing it would only
// obscure the example.
#![allow(clippy::result_large_err)]

// Paths spelled out: this file is also included by the HTTP test, from another directory.
#[path = "idempotency.rs"]
mod idempotency;
#[path = "input.rs"]
mod input;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use es_core::{
    Aggregate, CommandError, EventStore, Handle, Metadata, ProjectionRunner, Recorded, Repository,
};
use es_sqlite::SqliteStore;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::{Account, AccountError, AccountEvent, Deposit, Open, Withdraw};
use crate::read_model::BalancePerOwner;
use idempotency::{idempotent, Claim, IdempotencyKey, Idempotent};
use input::error;

/// What the handlers share.
#[derive(Clone)]
pub struct Bank {
    store: SqliteStore,
    accounts: Repository<Account, SqliteStore>,
    /// Which request each `Idempotency-Key` named ([`idempotency`]).
    keys: Repository<IdempotencyKey, SqliteStore>,
    /// The read model's balances, as of its last catch-up.
    balances: Arc<RwLock<BTreeMap<String, u64>>>,
}

impl Bank {
    /// The bank on `store`, with its read model kept up to date by a background task.
    pub async fn start(store: SqliteStore) -> Result<Self, es_core::StoreError> {
        let bank = Bank {
            accounts: Repository::new(store.clone()),
            keys: Repository::new(store.clone()),
            store: store.clone(),
            balances: Arc::default(),
        };
        let mut runner =
            ProjectionRunner::<BalancePerOwner, _>::start("service-balances", store.clone()).await?;
        let (balances, mut watch) = (Arc::clone(&bank.balances), store.watch());
        tokio::spawn(async move {
            loop {
                // An error (a store failure, an event that does not decode) leaves the balances
                // as they were and is tried again: the task lives on. The projection saturates
                // rather than overflow, so no event makes it panic.
                match runner.catch_up().await {
                    Ok(_) => {
                        let latest = runner.projection().balances.clone();
                        *balances.write().unwrap_or_else(std::sync::PoisonError::into_inner) = latest;
                    }
                    Err(e) => tracing::warn!(error = %e, "the balances read model is behind"),
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

async fn open(State(bank): State<Bank>, path: PathResult, headers: HeaderMap, body: Bytes) -> Response {
    command(&bank, path, &headers, "open", &body, |b: OpenBody| {
        input::owner(&b.owner)?;
        Ok(Open { owner: b.owner })
    })
    .await
}

async fn deposit(State(bank): State<Bank>, path: PathResult, headers: HeaderMap, body: Bytes) -> Response {
    command(&bank, path, &headers, "deposits", &body, |b: AmountBody| Ok(Deposit { amount: b.amount })).await
}

async fn withdraw(State(bank): State<Bank>, path: PathResult, headers: HeaderMap, body: Bytes) -> Response {
    command(&bank, path, &headers, "withdrawals", &body, |b: AmountBody| Ok(Withdraw { amount: b.amount }))
        .await
}

/// The path's account id, or why the extractor refused it.
type PathResult = Result<Path<String>, PathRejection>;

/// `POST /accounts/{id}/{action}`: checks the id and the body (`make` turns it into the
/// command), binds an `Idempotency-Key` to this request, then runs the command.
async fn command<B, C>(
    bank: &Bank,
    path: PathResult,
    headers: &HeaderMap,
    action: &str,
    body: &Bytes,
    make: impl FnOnce(B) -> Result<C, Response>,
) -> Response
where
    B: DeserializeOwned,
    Account: Handle<C>,
{
    let checked = async {
        let id = input::account_id(path)?;
        let (body, value) = input::json::<B>(body)?;
        let command = make(body)?;
        let route = format!("/accounts/{id}/{action}");
        let metadata = match idempotent(headers, "POST", &route, &value) {
            Ok(Some(key)) => {
                claim(bank, &key).await?;
                Metadata::default().command_id(key.command_id)
            }
            Ok(None) => Metadata::default(),
            Err(e) => return Err(error(StatusCode::BAD_REQUEST, &e)),
        };
        Ok(execute(bank, &id, command, metadata).await)
    };
    checked.await.unwrap_or_else(|refused| refused)
}

/// Binds the key to the request on its first use; 422 when it already names another request.
async fn claim(bank: &Bank, key: &Idempotent) -> Result<(), Response> {
    match bank.keys.execute(&key.key, Claim { request: key.request.clone() }).await {
        Ok(_) => Ok(()),
        Err(CommandError::Rejected(e)) => Err(error(StatusCode::UNPROCESSABLE_ENTITY, &e)),
        Err(e) => Err(failure(&e)),
    }
}

async fn execute<C>(bank: &Bank, id: &str, command: C, metadata: Metadata) -> Response
where
    Account: Handle<C>,
{
    match bank.accounts.execute_with(id, command, metadata).await {
        Ok(recorded) => {
            Json(json!({ "recorded": recorded.iter().map(describe).collect::<Vec<_>>() })).into_response()
        }
        Err(CommandError::Rejected(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, &e),
        Err(e) => failure(&e),
    }
}

/// A command that could not run: 503 when it met conflicts every time (retry later), 500 when
/// the store failed.
fn failure<E: std::fmt::Debug>(e: &CommandError<E>) -> Response {
    match e {
        CommandError::Conflict { .. } => error(StatusCode::SERVICE_UNAVAILABLE, e),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn describe(r: &Recorded<AccountEvent>) -> Value {
    json!({ "id": r.id, "stream": r.stream, "version": r.stream_version, "position": r.position, "event": format!("{:?}", r.event) })
}

async fn account(State(bank): State<Bank>, path: PathResult) -> Response {
    let id: String = match input::account_id(path) {
        Ok(id) => id,
        Err(refused) => return refused,
    };
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

/// Events of the accounts committed from now on, as server-sent events: `event:` the name,
/// `id:` the cursor, `data:` stream, version, position and payload. Idempotency keys' claims
/// are the service's own bookkeeping, not shown.
async fn events(
    State(bank): State<Bank>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Response> {
    let head = bank.store.head().await.map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let claims = format!("{}-", IdempotencyKey::NAME);
    let feed = es_core::subscribe(bank.store.clone(), head).filter_map(move |next| {
        let shown = !matches!(&next, Ok(e) if e.stream.starts_with(&claims));
        std::future::ready(shown.then_some(next))
    });
    let feed = feed.map(|next| {
        Ok(match next {
            // An SSE field cannot hold a line break (axum panics on one): a name written by
            // another program might.
            Ok(e) => {
                SseEvent::default().event(e.name.replace(['\r', '\n'], " ")).id(e.cursor.to_string()).data(
                    json!({
                        "stream": e.stream, "version": e.stream_version, "position": e.position,
                        "payload": serde_json::from_str::<Value>(e.payload.get()).unwrap_or(Value::Null),
                    })
                    .to_string(),
                )
            }
            Err(e) => SseEvent::default().event("error").data(e.to_string()),
        })
    });
    Ok(Sse::new(feed).keep_alive(KeepAlive::default()))
}
