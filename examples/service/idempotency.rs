//! Idempotency keys bound to the request they first named.
//!
//! A client sends `Idempotency-Key: <key>` so that a retry records nothing twice. The key must
//! not be able to replay a *different* request, so the service remembers, durably, which
//! request each key named, and refuses the key for any other (422).
//!
//! How it is kept: each key has a small aggregate of its own in the same store,
//! `IdempotencyKey-<SHA-256 of the key>`, whose one event records the hash of the request the
//! key first named (method, route with the account id, and the body). The request hash is
//! checked there before the command runs, and the command's id is derived from both key and
//! request hash, so the repository finds the first run's events on a retry. This is the simplest
//! approach that is durable and exact: the metadata of the account's events could only catch a
//! reuse on the same account (nothing indexes metadata across streams), while the claim's
//! stream is found by the key alone, whatever the account. Appends to it are checked against
//! its version like any aggregate's, so two concurrent first uses of one key cannot both claim
//! it. The stream id is a hash: a key never becomes part of a stream name as it is.
//!
//! A claim is recorded before the command runs: when the command then fails (refused, or the
//! store is down), the same request with the same key runs it again; a different one is refused.

use axum::http::HeaderMap;
use es_core::{Aggregate, Apply, Event, Handle, Uuid};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The longest `Idempotency-Key` accepted, in bytes (a UUID has 36).
pub const MAX_KEY_LEN: usize = 255;

/// The namespace of the command ids derived from keys (a fixed, random UUID of this service).
const COMMAND_IDS: Uuid = Uuid::from_u128(0x8f1e_5a0c_93d4_4b8e_a0a2_6c3e_51f7_d9b4);

/// A key's first use: the hash of the request it names from now on.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IdempotencyKeyClaimed {
    /// SHA-256 of the request, hex.
    pub request: String,
}

/// The request a key names, once it was used.
#[derive(Aggregate, Default, Debug)]
#[aggregate(events(IdempotencyKeyClaimed), error = KeyReused)]
pub struct IdempotencyKey {
    request: Option<String>,
}

/// A key already names another request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key reused for a different request")]
pub struct KeyReused;

impl Apply<IdempotencyKeyClaimed> for IdempotencyKey {
    fn apply(&mut self, e: &IdempotencyKeyClaimed) {
        self.request.get_or_insert_with(|| e.request.clone());
    }
}

/// Claims a key for a request: records the claim on first use, nothing when the key already
/// names this request, and refuses the key for any other.
pub struct Claim {
    /// The request's hash.
    pub request: String,
}

impl Handle<Claim> for IdempotencyKey {
    fn handle(&self, claim: &Claim) -> Result<Vec<IdempotencyKeyEvent>, KeyReused> {
        match &self.request {
            None => Ok(vec![IdempotencyKeyClaimed { request: claim.request.clone() }.into()]),
            Some(named) if *named == claim.request => Ok(Vec::new()),
            Some(_) => Err(KeyReused),
        }
    }
}

/// What the `Idempotency-Key` header gives a command.
pub struct Idempotent {
    /// The id of the key's claim stream (SHA-256 of the key, hex).
    pub key: String,
    /// The hash of the request (hex).
    pub request: String,
    /// The command id: the same key and request, the same id.
    pub command_id: Uuid,
}

/// An `Idempotency-Key` header that is empty, too long, or not visible ASCII (400).
#[derive(Debug, thiserror::Error)]
#[error("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters")]
pub struct BadKey;

/// The key of `headers` bound to the request (`method`, `route` with its account id, the
/// parsed `body`); `None` without the header.
pub fn idempotent(
    headers: &HeaderMap,
    method: &str,
    route: &str,
    body: &Value,
) -> Result<Option<Idempotent>, BadKey> {
    let Some(raw) = headers.get("idempotency-key") else { return Ok(None) };
    let key = raw.to_str().map_err(|_| BadKey)?;
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(BadKey);
    }
    // The body as parsed and written again, not its bytes: spacing and field order do not
    // make a retry a different request, a different amount or owner does. JSON arrays keep
    // the parts apart (no separator to forge).
    let request = hex(serde_json::json!([method, route, body]).to_string().as_bytes());
    let key = hex(key.as_bytes());
    let command_id = Uuid::new_v5(&COMMAND_IDS, format!("{key}/{request}").as_bytes());
    Ok(Some(Idempotent { key, request, command_id }))
}

/// SHA-256 of `bytes`, in lowercase hex.
fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
