//! Deadlines: opening a cart schedules its cancellation; confirming it cancels that. A router
//! fires what is due (`cargo run --example shopping_cart`). The same code as the README's
//! deadline section.

use es_core::consume::{
    Deadline, DeadlineCancelled, DeadlineScheduled, Deadlines, ScheduleError, ScheduledCommand, Tick,
};
use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct CartOpened {
    id: String,
}
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct CartConfirmed;
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct CartCancelled;

#[derive(Debug, thiserror::Error)]
enum CartError {
    #[error("the cart is confirmed")]
    Confirmed,
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

// The deadline events are listed like any event; every aggregate applies them without code.
#[derive(Aggregate, Default)]
#[aggregate(events(CartOpened, CartConfirmed, CartCancelled, DeadlineScheduled, DeadlineCancelled), error = CartError)]
struct ShoppingCart {
    confirmed: bool,
    cancelled: bool,
}
impl Apply<CartOpened> for ShoppingCart {
    fn apply(&mut self, _: &CartOpened) {}
}
impl Apply<CartConfirmed> for ShoppingCart {
    fn apply(&mut self, _: &CartConfirmed) {
        self.confirmed = true
    }
}
impl Apply<CartCancelled> for ShoppingCart {
    fn apply(&mut self, _: &CartCancelled) {
        self.cancelled = true
    }
}

struct Open {
    id: String,
}
struct Confirm {
    id: String,
}
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct CancelCart;
impl ScheduledCommand for CancelCart {
    const NAME: &'static str = "CancelCart";
}

impl Handle<Open> for ShoppingCart {
    fn handle(&self, cmd: &Open) -> Result<Vec<ShoppingCartEvent>, CartError> {
        let cancel = Deadline::after(Duration::from_millis(50), &cmd.id, &CancelCart)?; // 24 h in real life
        Ok(vec![CartOpened { id: cmd.id.clone() }.into(), cancel.into()])
    }
}
impl Handle<Confirm> for ShoppingCart {
    fn handle(&self, cmd: &Confirm) -> Result<Vec<ShoppingCartEvent>, CartError> {
        Ok(vec![CartConfirmed.into(), Deadline::cancel::<CancelCart>(&cmd.id).into()])
    }
}
impl Handle<CancelCart> for ShoppingCart {
    fn handle(&self, _: &CancelCart) -> Result<Vec<ShoppingCartEvent>, CartError> {
        if self.confirmed {
            return Err(CartError::Confirmed);
        }
        Ok(vec![CartCancelled.into()])
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = MemoryStore::new();
    let carts = Repository::<ShoppingCart, _>::new(store.clone());
    carts.execute("kept", Open { id: "kept".into() }).await?;
    carts.execute("kept", Confirm { id: "kept".into() }).await?; // cancels its deadline
    carts.execute("lost", Open { id: "lost".into() }).await?;

    let mut deadlines = Deadlines::new("deadlines", store.clone())
        .route::<CancelCart>(carts.clone())
        .leased(Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(60)).await;
    let Tick::Fired(fired) = deadlines.tick().await? else { panic!("holds the lease") };
    assert_eq!(fired.iter().map(|f| f.target.as_str()).collect::<Vec<_>>(), ["lost"]);
    assert!(carts.load("lost").await?.state.cancelled);
    assert!(!carts.load("kept").await?.state.cancelled);
    // In a service, in every process: `deadlines.run(shutdown).await?` wakes by itself at each due time.
    Ok(())
}
