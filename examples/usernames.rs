//! Unique usernames without an aggregate holding them all (`cargo run --example usernames`):
//! a registration's boundary is the username's tag, so it reads only the events that claimed
//! that name, and its append fails if one landed meanwhile. 20 users racing for one name: one
//! gets it. Registrations of other names never wait for or conflict with it.

use es_core::{Apply, CommandError, Decide, Decisions, Event, EventSet, MemoryStore, State};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct UserRegistered {
    #[event(tag)]
    username: String,
    user_id: u32,
}

#[derive(EventSet, Debug, Clone, PartialEq)]
enum Accounts {
    UserRegistered(UserRegistered),
}

/// A username: taken once an event tagged `username:<name>` exists.
#[derive(State, Default, Debug)]
#[state(events(UserRegistered), tag = username)]
struct Username {
    taken_by: Option<u32>,
}
impl Apply<UserRegistered> for Username {
    fn apply(&mut self, e: &UserRegistered) {
        self.taken_by = Some(e.user_id);
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("the username is taken by user {0}")]
struct Taken(u32);

struct Register {
    username: String,
    user_id: u32,
}
impl Decide for Register {
    type Events = Accounts;
    type States = (Username,);
    type Error = Taken;
    fn boundary(&self) -> (&str,) {
        (&self.username,)
    }
    fn decide(&self, (name,): &(Username,)) -> Result<Vec<Accounts>, Taken> {
        match name.taken_by {
            Some(owner) => Err(Taken(owner)),
            None => {
                Ok(vec![UserRegistered { username: self.username.clone(), user_id: self.user_id }.into()])
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let accounts = Decisions::<Accounts, _>::new(MemoryStore::new());
    accounts.execute(Register { username: "bob".into(), user_id: 100 }).await?;

    let racers = (0..20).map(|user_id| {
        let accounts = accounts.clone();
        tokio::spawn(async move { accounts.execute(Register { username: "ann".into(), user_id }).await })
    });
    let (mut won, mut taken) = (0, 0);
    for racer in racers {
        match racer.await? {
            Ok(_) => won += 1,
            Err(CommandError::Rejected(Taken(_))) => taken += 1,
            Err(other) => return Err(other.into()),
        }
    }
    println!("\"ann\": {won} registered, {taken} refused (taken)");
    assert_eq!((won, taken), (1, 19));
    Ok(())
}
