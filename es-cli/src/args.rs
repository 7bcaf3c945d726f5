//! The command line.

use clap::{Parser, Subcommand};

/// Look inside an event store. The commands that look open it read-only and never migrate it.
#[derive(Debug, Parser)]
#[command(
    name = "es",
    version,
    about = "Look inside an event store: streams, events, projections, dead letters, the hash chain"
)]
pub struct Args {
    /// The store: sqlite:PATH, postgres://USER@HOST:PORT/DATABASE, or
    /// nats://HOST:PORT[,...][?stream=NAME&replicas=N] (memory: is an empty one).
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
    /// The events of one stream: version, position, time, name, schema version, metadata,
    /// payload; personal fields shown as `<sealed: subject ID>`, or `<erased>` once forgotten.
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
    /// Pending scheduled commands (deadlines): id, due, target, command.
    Deadlines,
    /// Verifies every stream's hash chain; reports the first broken link of each (exit code 1).
    Verify,
    /// Events parked by reactors and relays (all of them, or one's).
    Parked {
        /// Only this reactor's or relay's.
        name: Option<String>,
    },
    /// Brings the store's schema up to date (read-write), printing its version before and after.
    Migrate,
    /// Forgets a subject: deletes its key, so its personal data reads as erased (read-write).
    Forget {
        /// The subject (`#[event(subject)]`).
        subject: String,
    },
    /// Every event type this program registered: names, versions, upcast chains (embedded
    /// binaries; Markdown, or JSON with --json).
    Catalogue,
    /// Rebuilds a projection registered in this program from the first event, with progress
    /// (read-write).
    Rebuild {
        /// The projection's name (its checkpoint's).
        name: String,
        /// Build a new version beside the live one until it has caught up, instead of
        /// rebuilding in place. Readers keep reading the live version: the new version's
        /// workers switch them when they start and catch up.
        #[arg(long)]
        beside: bool,
        /// The version to build beside (default: the active version plus one).
        #[arg(long, requires = "beside")]
        version: Option<u64>,
        /// Switch readers to the new version once it has caught up. Only while workers of that
        /// version run: nothing else keeps it current after this command ends.
        #[arg(long, requires = "beside")]
        switch: bool,
    },
}

impl Command {
    /// How the command opens the store: only `forget` and `rebuild` change it (`migrate` and
    /// `catalogue` open it their own way).
    pub fn access(&self) -> crate::any::Access {
        match self {
            Command::Forget { .. } | Command::Rebuild { .. } => crate::any::Access::Write,
            _ => crate::any::Access::Read,
        }
    }
}
