//! Testing support for the es event-sourcing framework (in progress).
