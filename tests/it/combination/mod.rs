//! Features run together, as a user combines them: personal fields with snapshots, forget,
//! turns, verified loads and several processes, on memory, SQLite and PostgreSQL.

mod files;
mod plaintext;
mod processes;
mod snapshots;

use es_core::{Aggregate, Apply, Event, Handle};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MemberJoined {
    #[event(subject)]
    pub member: String,
    #[event(personal)]
    pub name: String,
    #[event(personal, erased = "erased@invalid".to_owned())]
    pub email: String,
    pub plan: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MemberRenamed {
    #[event(subject)]
    pub member: String,
    #[event(personal)]
    pub name: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PointsEarned {
    pub points: u64,
}

/// A member of a loyalty scheme: personal fields and plain ones, snapshot-able.
#[derive(Aggregate, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[aggregate(events(MemberJoined, MemberRenamed, PointsEarned), error = std::convert::Infallible)]
pub struct Member {
    pub name: String,
    pub email: String,
    pub plan: String,
    pub points: u64,
    pub renames: u32,
}

impl Apply<MemberJoined> for Member {
    fn apply(&mut self, e: &MemberJoined) {
        (self.name, self.email, self.plan) = (e.name.clone(), e.email.clone(), e.plan.clone());
    }
}

impl Apply<MemberRenamed> for Member {
    fn apply(&mut self, e: &MemberRenamed) {
        self.name.clone_from(&e.name);
        self.renames += 1;
    }
}

impl Apply<PointsEarned> for Member {
    fn apply(&mut self, e: &PointsEarned) {
        self.points += e.points;
    }
}

/// Join as (member id, name, email).
pub struct Join(pub String, pub String, pub String);
/// Rename (member id, new name).
pub struct Rename(pub String, pub String);
/// Earn points.
pub struct Earn(pub u64);

impl Handle<Join> for Member {
    fn handle(&self, Join(member, name, email): &Join) -> Result<Vec<MemberEvent>, Self::Error> {
        let joined = MemberJoined {
            member: member.clone(),
            name: name.clone(),
            email: email.clone(),
            plan: "gold".into(),
        };
        Ok(vec![joined.into()])
    }
}

impl Handle<Rename> for Member {
    fn handle(&self, Rename(member, name): &Rename) -> Result<Vec<MemberEvent>, Self::Error> {
        Ok(vec![MemberRenamed { member: member.clone(), name: name.clone() }.into()])
    }
}

impl Handle<Earn> for Member {
    fn handle(&self, Earn(points): &Earn) -> Result<Vec<MemberEvent>, Self::Error> {
        Ok(vec![PointsEarned { points: *points }.into()])
    }
}

/// What a member reads as once forgotten.
pub fn erased(points: u64, renames: u32) -> Member {
    Member { name: String::new(), email: "erased@invalid".into(), plan: "gold".into(), points, renames }
}
