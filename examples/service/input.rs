//! What the service accepts from a request: account ids from the path and JSON bodies. Every
//! refusal is a 4xx with a JSON `{"error": ..}` body: nothing a client sends makes a panic.

use std::fmt::Display;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The longest account id, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// The longest owner name, in characters.
pub const MAX_OWNER_CHARS: usize = 200;

/// A response with `status` and the JSON body `{"error": "<e>"}`.
pub fn error(status: StatusCode, e: &dyn Display) -> Response {
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

/// The account id of the path: 1 to [`MAX_ID_CHARS`] letters or digits (of any script), `-`,
/// `_`, `.` or `@`; anything else is refused with 400.
///
/// The id becomes a stream name (`Account-<id>`), which relays put in message headers, `es`
/// prints and logs carry: no control characters (`%0A`, `%0D`), whitespace, separators or
/// invisible formatting characters reach it.
pub fn account_id(path: Result<Path<String>, PathRejection>) -> Result<String, Response> {
    // A path that is not UTF-8 once decoded (`%FF`) is refused by the extractor.
    let Path(id) = path.map_err(|e| error(StatusCode::BAD_REQUEST, &e.body_text()))?;
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
    let length = id.chars().count();
    if length == 0 || length > MAX_ID_CHARS || !id.chars().all(allowed) {
        let why = format!(
            "an account id is 1 to {MAX_ID_CHARS} letters, digits, '-', '_', '.' or '@' ({length} characters given)"
        );
        return Err(error(StatusCode::BAD_REQUEST, &why));
    }
    Ok(id)
}

/// The body parsed as JSON, and as a `T`: 400 when it is not JSON or not the shape of a `T`
/// (a missing field, a negative or too large amount, ...).
pub fn json<T: DeserializeOwned>(body: &Bytes) -> Result<(T, Value), Response> {
    let bad = |e: serde_json::Error| error(StatusCode::BAD_REQUEST, &format_args!("invalid JSON body: {e}"));
    let value: Value = serde_json::from_slice(body).map_err(bad)?;
    let typed = T::deserialize(&value).map_err(bad)?;
    Ok((typed, value))
}

/// Refuses an owner name that is empty or longer than [`MAX_OWNER_CHARS`] (400).
pub fn owner(owner: &str) -> Result<(), Response> {
    let length = owner.chars().count();
    if length == 0 || length > MAX_OWNER_CHARS {
        let why = format!("an owner is 1 to {MAX_OWNER_CHARS} characters ({length} given)");
        return Err(error(StatusCode::BAD_REQUEST, &why));
    }
    Ok(())
}
