//! Idempotent commands: with a command id, the ids of the events a command records are derived
//! from (command id, stream, index), so a retry of the same command finds what the first
//! execution recorded instead of recording it again.

use uuid::Uuid;

/// The namespace of derived event ids (a fixed, random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x5a1b_9c3e_77d2_4f0a_8e61_2b4c_d093_e7f1);

/// The id of event `index` (from 0) recorded on `stream` by the command `command`: a name-based
/// UUID (version 5), the same in every process and after restarts.
///
/// ```
/// let command = es_core::Uuid::new_v4();
/// let a = es_core::command::event_id(command, "Account-ann", 0);
/// assert_eq!(a, es_core::command::event_id(command, "Account-ann", 0));
/// assert_ne!(a, es_core::command::event_id(command, "Account-ann", 1));
/// assert_ne!(a, es_core::command::event_id(command, "Account-bob", 0));
/// ```
pub fn event_id(command: Uuid, stream: &str, index: usize) -> Uuid {
    let mut name = Vec::with_capacity(16 + stream.len() + 9);
    name.extend_from_slice(command.as_bytes());
    name.extend_from_slice(stream.as_bytes());
    // A separator that cannot end a stream name's UTF-8, then the index.
    name.push(0xff);
    name.extend_from_slice(&(index as u64).to_be_bytes());
    Uuid::new_v5(&NAMESPACE, &name)
}
