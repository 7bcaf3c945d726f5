use es_core::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
pub struct NotPersonal {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    pub name: String,
    #[event(renamed_from = "mail")]
    pub email: String,
}

#[derive(Event, Serialize, Deserialize)]
pub struct BadNames {
    #[event(subject, renamed_from = "who")]
    pub person: String,
    #[event(personal, renamed_from = "", renamed_from = "name")]
    pub name: String,
    #[event(personal, renamed_from = "phone", renamed_from = "phone", renamed_from = "plan")]
    pub mobile: String,
    #[event(personal, renamed_from = "phone")]
    pub landline: String,
    pub plan: String,
}

#[derive(Event, Serialize, Deserialize)]
pub struct Alias {
    #[event(subject)]
    pub person: String,
    #[event(personal)]
    #[serde(alias = "nickname")]
    pub nick: String,
}

fn main() {}
