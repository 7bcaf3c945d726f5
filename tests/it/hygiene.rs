//! The derives' output names everything by absolute path: shadowing prelude names in the user's
//! module breaks nothing, and needless qualification is not reported.
#![deny(unused_qualifications)]
#![allow(dead_code, non_camel_case_types)]

use es_core::{Aggregate, Apply, Event, EventContext, Handle, Project, Projection};

struct Result;
struct Option;
struct Some;
struct None;
struct Ok;
struct Err;
struct Box;
struct From;
struct Vec;
struct String;
struct core;

#[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Pinged {
    n: u32,
}

#[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Ponged", version = 2, upcast_from = PongedV1)]
pub struct Ponged {
    n: u32,
}

#[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Ponged")]
pub struct PongedV1;

impl std::convert::From<PongedV1> for Ponged {
    fn from(_: PongedV1) -> Self {
        Ponged { n: 0 }
    }
}

#[derive(Aggregate, Default)]
#[aggregate(events(Pinged, Ponged), error = std::convert::Infallible)]
pub struct Pinger {
    count: u32,
}

impl Apply<Pinged> for Pinger {
    fn apply(&mut self, e: &Pinged) {
        self.count += e.n;
    }
}

impl Apply<Ponged> for Pinger {
    fn apply(&mut self, _: &Ponged) {}
}

impl Handle<u32> for Pinger {
    fn handle(&self, n: &u32) -> std::result::Result<std::vec::Vec<PingerEvent>, Self::Error> {
        std::result::Result::Ok(vec![Pinged { n: *n }.into()])
    }
}

#[derive(Projection, Default)]
#[projection(events(Pinged, Ponged))]
pub struct PingTotal {
    total: u32,
}

impl Project<Pinged> for PingTotal {
    fn project(&mut self, e: &Pinged, _: &EventContext<'_>) {
        self.total += e.n;
    }
}

impl Project<Ponged> for PingTotal {
    fn project(&mut self, _: &Ponged, _: &EventContext<'_>) {}
}

#[test]
fn derives_work_with_prelude_names_shadowed() {
    let mut p = Pinger::default();
    Aggregate::apply(&mut p, &PingerEvent::Pinged(Pinged { n: 2 }));
    assert_eq!(p.count, 2);
}
