//! The command line.

use clap::{Parser, Subcommand};

/// Look inside an event store.
#[derive(Debug, Parser)]
#[command(
    name = "es",
    version,
    about = "Look inside an event store: streams, events, projections, dead letters, the hash chain"
)]
pub struct Args {
    /// The store: sqlite:PATH, or postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, env = "ES_STORE")]
    pub store: String,
    /// The PostgreSQL schema the store lives in.
    #[arg(long, default_value = "public")]
    pub schema: String,
    /// Print JSON for machines instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Streams with their event counts.
    Streams {
        /// Only streams whose name starts with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// The events of one stream: version, position, time, name, schema version, metadata, payload.
    Show {
        /// The stream, as stored (`Account-ann`).
        stream: String,
    },
    /// Follows the global order: prints events as they are committed (Ctrl-C stops).
    Tail {
        /// Start from the first event instead of the newest.
        #[arg(long)]
        all: bool,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Counts: events, streams, events per name, the head of the global order.
    Stats,
    /// Projections, reactors and relays with a checkpoint: position, lag, owner, last renewal.
    Projections,
    /// Verifies every stream's hash chain; reports the first broken link of each (exit code 1).
    Verify,
    /// Events parked by reactors and relays (all of them, or one's).
    Parked {
        /// Only this reactor's or relay's.
        name: Option<String>,
    },
    /// Forgets a subject: deletes its key, so its personal data reads as erased.
    Forget {
        /// The subject (`#[event(subject)]`).
        subject: String,
    },
    /// Every event type this program registered: names, versions, upcast chains (embedded
    /// binaries; Markdown, or JSON with --json).
    Catalogue,
    /// Rebuilds a projection registered in this program from the first event, with progress.
    Rebuild {
        /// The projection's name (its checkpoint's).
        name: String,
    },
}
