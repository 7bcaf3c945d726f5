//! The derives' output names everything by absolute path: shadowing prelude names in the user's
//! module breaks nothing, and needless qualification is not reported.
#![deny(unused_qualifications)]
#![allow(dead_code, non_camel_case_types)]

use es_core::integration::{Contract, IntegrationEvent, MapError, Outgoing, Translate};
use es_core::{
    Aggregate, Apply, Event, EventContext, Handle, Project, Projection, React, ReactContext, ReactError,
    Reactor,
};

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

/// Personal data: its generated `PERSONAL` and `personal_subject` name `String` too.
#[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Named {
    #[event(subject)]
    who: std::string::String,
    #[event(personal)]
    name: std::string::String,
}

#[derive(Reactor)]
#[reactor(events(Pinged))]
pub struct PingWatcher;

impl React<Pinged> for PingWatcher {
    async fn react(&self, _: &Pinged, _: &ReactContext<'_>) -> std::result::Result<(), ReactError> {
        std::result::Result::Ok(())
    }
}

#[derive(es_core::IntegrationEvent, serde::Serialize)]
#[integration(name = "pings.Pinged", version = 2)]
pub struct PublicPing {
    n: u32,
}

#[derive(es_core::Contract)]
#[contract(events(Pinged))]
pub struct Pings;

impl Translate<Pinged> for Pings {
    fn translate(&self, e: &Pinged, _: &EventContext<'_>) -> std::result::Result<Outgoing, MapError> {
        Outgoing::one(PublicPing { n: e.n })
    }
}

#[test]
fn derives_work_with_prelude_names_shadowed() {
    let named = Named { who: "p-1".into(), name: "Ada".into() };
    assert_eq!(Event::personal_subject(&named), std::option::Option::Some("p-1".into()));
    assert!(<PingWatcher as Reactor>::handles("Pinged") && !<PingWatcher as Reactor>::handles("Ponged"));
    assert!(<Pings as Contract>::handles("Pinged") && !<Pings as Contract>::handles("Ponged"));
    assert_eq!(
        (<PublicPing as IntegrationEvent>::NAME, <PublicPing as IntegrationEvent>::VERSION),
        ("pings.Pinged", 2)
    );
    let mut p = Pinger::default();
    Aggregate::apply(&mut p, &PingerEvent::Pinged(Pinged { n: 2 }));
    assert_eq!(p.count, 2);
}

/// Raw identifiers: `r#type` is stored as "type", and its aggregate's enum is `typeEvent`.
mod raw_identifiers {
    use es_core::{Aggregate, Apply, Event};

    #[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
    pub struct r#type {
        pub n: u32,
    }

    #[derive(Aggregate, Default)]
    #[aggregate(events(r#type), error = std::convert::Infallible)]
    pub struct r#match {
        pub total: u32,
    }

    impl Apply<r#type> for r#match {
        fn apply(&mut self, e: &r#type) {
            self.total += e.n;
        }
    }

    #[test]
    fn are_named_without_their_prefix() {
        assert_eq!(<r#type as Event>::NAME, "type");
        assert_eq!(<r#match as Aggregate>::NAME, "match");
        let mut m = r#match::default();
        Aggregate::apply(&mut m, &matchEvent::r#type(r#type { n: 2 }));
        assert_eq!(m.total, 2);
    }
}

/// Attribute values passed through `macro_rules!` arrive wrapped in invisible groups; the
/// derives see through them.
mod through_macro_rules {
    use es_core::Event;

    macro_rules! versioned_event {
        ($name:literal, $version:literal, $ty:ident) => {
            #[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
            #[event(name = $name, version = $version)]
            pub struct $ty;
        };
    }

    versioned_event!("Renamed", 3, Declared);

    #[test]
    fn literals_are_accepted() {
        assert_eq!((<Declared as Event>::NAME, <Declared as Event>::VERSION), ("Renamed", 3));
    }
}
