//! Subjects' keys for personal data ([`KeyStore`]), in the side tables; forgetting one erases
//! its message on disk (JetStream's secure delete), then purges its subject.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use es_core::personal::{KeyFuture, KeyStore, Keyring};
use es_core::StoreError;
use serde_json::json;

use super::side::Side;
use super::BACKEND;

const KEYS: &str = "k";

/// The keyring over the side tables, with the master key the environment names.
pub(crate) fn keyring(side: Side) -> Result<Keyring, StoreError> {
    Keyring::from_env(JetStreamKeys { side }).map_err(|e| StoreError::backend(BACKEND, e))
}

/// The keys of a [`JetStreamStore`](super::JetStreamStore).
struct JetStreamKeys {
    side: Side,
}

fn bytes(subject: &str, value: &serde_json::Value) -> Result<Vec<u8>, StoreError> {
    value["key"]
        .as_str()
        .and_then(|k| BASE64.decode(k).ok())
        .ok_or_else(|| StoreError::backend(BACKEND, format!("the stored key of `{subject}` does not parse")))
}

impl KeyStore for JetStreamKeys {
    fn key<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let entry = self.side.get(KEYS, subject).await?;
            entry.map(|e| bytes(subject, &e.value)).transpose()
        })
    }

    fn create_key<'a>(&'a self, subject: &'a str, fresh: Vec<u8>) -> KeyFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let value = json!({ "key": BASE64.encode(&fresh) });
            loop {
                if self.side.put(KEYS, subject, &value, Some(0)).await?.is_ok() {
                    return Ok(fresh);
                }
                if let Some(entry) = self.side.get(KEYS, subject).await? {
                    return bytes(subject, &entry.value);
                }
            }
        })
    }

    fn forget<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
        Box::pin(async move { Ok(self.side.erase(KEYS, subject).await?) })
    }
}
