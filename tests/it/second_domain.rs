//! A second domain written from DESIGN.md alone: library books that are lent and returned.
//! It uses what the bank does not: events from another module, a custom aggregate name and
//! event enum name, an aggregate that is an enum, and a command that records nothing.

use es_core::{Aggregate, Apply, CommandError, Handle, MemoryStore, Repository};

mod events {
    use es_core::Event;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[event(name = "library.BookLent")]
    pub struct BookLent {
        pub member: String,
    }

    #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[event(name = "library.BookReturned")]
    pub struct BookReturned;
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum LoanError {
    #[error("the book is lent to {0}")]
    AlreadyLent(String),
}

#[derive(Aggregate, Default, Debug, PartialEq)]
#[aggregate(name = "Book", event_enum = Loan, events(events::BookLent, events::BookReturned), error = LoanError)]
pub enum BookState {
    #[default]
    OnShelf,
    Lent(String),
}

impl Apply<events::BookLent> for BookState {
    fn apply(&mut self, e: &events::BookLent) {
        *self = BookState::Lent(e.member.clone());
    }
}

impl Apply<events::BookReturned> for BookState {
    fn apply(&mut self, _: &events::BookReturned) {
        *self = BookState::OnShelf;
    }
}

pub struct Lend(pub &'static str);
pub struct Return;

impl Handle<Lend> for BookState {
    fn handle(&self, cmd: &Lend) -> Result<Vec<Loan>, LoanError> {
        match self {
            BookState::Lent(to) => Err(LoanError::AlreadyLent(to.clone())),
            BookState::OnShelf => Ok(vec![events::BookLent { member: cmd.0.into() }.into()]),
        }
    }
}

impl Handle<Return> for BookState {
    fn handle(&self, _: &Return) -> Result<Vec<Loan>, LoanError> {
        // Returning a book that is on the shelf changes nothing.
        Ok(match self {
            BookState::OnShelf => vec![],
            BookState::Lent(_) => vec![events::BookReturned.into()],
        })
    }
}

#[tokio::test]
async fn books_are_lent_and_returned() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let books = Repository::<BookState, _>::new(MemoryStore::new());
    assert_eq!(BookState::NAME, "Book");
    assert!(books.execute("dune", Return).await?.is_empty(), "nothing to return");

    let lent = books.execute("dune", Lend("ann")).await?;
    assert_eq!(lent[0].stream, "Book-dune");
    assert_eq!(lent[0].event, Loan::BookLent(events::BookLent { member: "ann".into() }));
    assert!(matches!(
        books.execute("dune", Lend("bob")).await,
        Err(CommandError::Rejected(LoanError::AlreadyLent(who))) if who == "ann"
    ));
    books.execute("dune", Return).await?;
    books.execute("dune", Lend("bob")).await?;
    let dune = books.load("dune").await?;
    assert_eq!((dune.state, dune.version), (BookState::Lent("bob".into()), 3));
    Ok(())
}
