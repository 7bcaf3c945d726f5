//! `es`: look inside an event store from the command line, on any store by URL and without your
//! types, or embedded in your own binary, where it also knows them.
//!
//! ```text
//! es --store sqlite:bank.db streams             # streams with their event counts
//! es --store sqlite:bank.db show Account-ann    # one stream's events (--json for machines)
//! es --store postgres://postgres@127.0.0.1/test --schema es_bank tail
//! es --store sqlite:bank.db stats | projections | verify | parked | forget SUBJECT | migrate
//! ```
//!
//! The commands that look (`streams`, `show`, `tail`, `stats`, `projections`, `verify`,
//! `parked`) open the store read-only: they never create a file or a schema, and never migrate
//! one (a store that needs it is an error that says to run `es migrate`). `forget` and
//! `rebuild` open it read-write; `migrate` brings its schema up to date. Every name and text
//! read from the store is printed with control characters escaped ([`escape`]).
//!
//! Embedded, with the program's projections registered, it adds `catalogue` (every event type
//! the program registered) and `rebuild NAME` (with a progress bar, or plain lines when the
//! output is not a terminal):
//!
//! ```
//! use es_core::{Event, EventContext, Project, Projection};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Pinged;
//!
//! #[derive(Projection, Default, Serialize, Deserialize)]
//! #[projection(events(Pinged))]
//! pub struct Pings { pub count: u64 }
//!
//! impl Project<Pinged> for Pings {
//!     fn project(&mut self, _: &Pinged, _: &EventContext<'_>) { self.count += 1 }
//! }
//!
//! let app = es_cli::App::new().projection::<Pings>("pings");
//! let (mut out, mut err) = (Vec::new(), Vec::new());
//! let code = app.run(["es", "--store", "sqlite:/nonexistent/bank.db", "streams"], &mut out, &mut err);
//! assert_eq!(code, std::process::ExitCode::from(2));
//! assert!(String::from_utf8(err).unwrap().starts_with("error: no event store at /nonexistent/bank.db"));
//! // In `fn main() -> ExitCode { app.main() }`, it reads the process's arguments.
//! ```

mod any;
mod args;
mod beside;
mod deadlines;
mod error;
mod escape;
mod ops;
mod progress;
mod read;
mod sealed;
mod typed;

use std::io::Write;
use std::marker::PhantomData;
use std::process::ExitCode;

use clap::Parser;
use es_core::inspect::Inspect;
use es_core::integrity::Links;
use es_core::personal::Privacy;
use es_core::{DeadLetters, EventStore, Leases, Projection};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[cfg(feature = "nats")]
pub use crate::any::NotOnJetStream;
pub use crate::any::{Access, AnyOptions, AnyStore, AnyTurn, Migrated, OpenError};
use crate::args::{Args, Command};
pub use crate::error::CliError;
pub use crate::escape::escape;
use crate::progress::Progress;
use crate::typed::{Rebuild, Rebuilder};

/// What the commands need of a store: traits [`AnyStore`] implements (generic, so that a
/// command's code says which of them it uses).
pub(crate) trait Store: EventStore + Inspect + Leases + DeadLetters + Links + Privacy {}

impl<S: EventStore + Inspect + Leases + DeadLetters + Links + Privacy> Store for S {}

/// Where a command writes, and how.
pub(crate) struct Output<'a> {
    pub(crate) w: &'a mut (dyn Write + Send),
    pub(crate) json: bool,
    /// Whether a person watches (progress bars on stderr instead of lines).
    pub(crate) interactive: bool,
}

impl Output<'_> {
    pub(crate) fn json_value(&mut self, value: &serde_json::Value) -> Result<(), CliError> {
        serde_json::to_writer_pretty(&mut *self.w, value).map_err(|e| CliError::new(e.to_string()))?;
        writeln!(self.w)?;
        Ok(())
    }
}

/// The `es` command, with the projections this program can rebuild.
#[derive(Default)]
pub struct App {
    projections: Vec<(String, Box<dyn Rebuild>)>,
}

impl App {
    /// The commands that need no types of yours.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers projection `P` under `name` (its checkpoint's), for `rebuild NAME`.
    pub fn projection<P: Projection + Default + Serialize + DeserializeOwned>(
        mut self,
        name: impl Into<String>,
    ) -> Self {
        self.projections.push((name.into(), Box::new(Rebuilder::<P>(PhantomData))));
        self
    }

    /// Runs with the process's arguments, writing to stdout and stderr: exit code 0, 1 when
    /// `verify` found a broken chain, 2 on an error (one line on stderr).
    pub fn main(self) -> ExitCode {
        use std::io::IsTerminal;
        let interactive = std::io::stderr().is_terminal();
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        self.run_with(std::env::args_os(), &mut out, &mut err, interactive)
    }

    /// Runs with `args` (the first is the program's name), writing to `out` and `err`, with
    /// progress as plain lines.
    pub fn run<I, T>(&self, args: I, out: &mut (dyn Write + Send), err: &mut (dyn Write + Send)) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        self.run_with(args, out, err, false)
    }

    fn run_with<I, T>(
        &self,
        args: I,
        out: &mut (dyn Write + Send),
        err: &mut (dyn Write + Send),
        interactive: bool,
    ) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args = match Args::try_parse_from(args) {
            Ok(args) => args,
            Err(e) => {
                let _ = write!(err, "{}", e.render());
                return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
            }
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = writeln!(err, "error: starting the runtime: {e}");
                return ExitCode::from(2);
            }
        };
        let mut output = Output { w: out, json: args.json, interactive };
        match runtime.block_on(self.execute(&args, &mut output)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                ExitCode::from(2)
            }
        }
    }

    /// Runs one command; `Ok(false)` when it found something wrong (a broken chain).
    async fn execute(&self, args: &Args, out: &mut Output<'_>) -> Result<bool, CliError> {
        match args.command {
            Command::Catalogue => return typed::catalogue(out).map(|()| true),
            Command::Migrate => return ops::migrate(&args.store, &args.schema, out).await.map(|()| true),
            _ => {}
        }
        let store =
            AnyOptions::new().schema(&args.schema).access(args.command.access()).open(&args.store).await?;
        self.on(&store, &args.command, out).await
    }

    async fn on(&self, store: &AnyStore, command: &Command, out: &mut Output<'_>) -> Result<bool, CliError> {
        match command {
            Command::Streams { prefix } => read::streams(store, prefix, out).await?,
            Command::Show { stream } => read::show(store, stream, out).await?,
            Command::Tail { all, count } => read::tail(store, *all, *count, out).await?,
            Command::Stats => read::stats(store, out).await?,
            Command::Projections => ops::projections(store, out).await?,
            Command::Deadlines => deadlines::deadlines(store, out).await?,
            Command::Verify => return ops::verify(store, out).await,
            Command::Parked { name } => ops::parked(store, name.as_deref(), out).await?,
            Command::Forget { subject } => ops::forget(store, subject, out).await?,
            Command::Catalogue => typed::catalogue(out)?,
            // `execute` runs it before any store is opened: it opens the store its own way.
            Command::Migrate => return Err(CliError::new("migrate opens the store itself")),
            Command::Rebuild { name, beside: false, .. } => self.rebuild(store, name, out).await?,
            Command::Rebuild { name, beside: true, version, switch } => {
                let plan = beside::Plan { version: *version, switch: *switch };
                self.rebuild_beside(store, name, plan, out).await?
            }
        }
        Ok(true)
    }

    /// The rebuilder registered as `name`, or an error that lists those registered.
    fn rebuilder(&self, name: &str) -> Result<&dyn Rebuild, CliError> {
        let Some((_, rebuilder)) = self.projections.iter().find(|(n, _)| n == name) else {
            let known: Vec<&str> = self.projections.iter().map(|(n, _)| n.as_str()).collect();
            return Err(CliError::new(format!(
                "no projection `{name}` is registered in this program (registered: {}); embed es-cli with App::projection",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        };
        Ok(rebuilder.as_ref())
    }

    async fn rebuild_beside(
        &self,
        store: &AnyStore,
        name: &str,
        plan: beside::Plan,
        out: &mut Output<'_>,
    ) -> Result<(), CliError> {
        let rebuilder = self.rebuilder(name)?;
        let mut progress = Progress::new("rebuild beside", store.head().await?.position(), out.interactive);
        let built = match store {
            AnyStore::Sqlite(s) => {
                rebuilder.beside_sqlite_with(s.clone(), name, plan, &mut progress, out.w).await
            }
            AnyStore::Postgres(s) => {
                rebuilder.beside_postgres_with(s.clone(), name, plan, &mut progress, out.w).await
            }
            AnyStore::Memory(_) => Err(no_memory_rebuild()),
            #[cfg(feature = "nats")]
            AnyStore::Nats(_) => Err(no_nats_rebuild()),
        }?;
        progress.finish(built.position, out.w);
        writeln!(out.w, "{}", beside::summary(name, &built))?;
        Ok(())
    }

    async fn rebuild(&self, store: &AnyStore, name: &str, out: &mut Output<'_>) -> Result<(), CliError> {
        let rebuilder = self.rebuilder(name)?;
        let mut progress = Progress::new("rebuild", store.head().await?.position(), out.interactive);
        let read = rebuild_on(store, rebuilder, name, &mut progress, out.w).await?;
        progress.finish(read, out.w);
        writeln!(out.w, "rebuilt {name} from {read} events")?;
        Ok(())
    }
}

/// Runs `r` on the store `store` holds.
async fn rebuild_on(
    store: &AnyStore,
    r: &dyn Rebuild,
    name: &str,
    progress: &mut Progress,
    out: &mut (dyn Write + Send),
) -> Result<u64, es_core::StoreError> {
    match store {
        AnyStore::Sqlite(store) => r.sqlite(store.clone(), name, progress, out).await,
        AnyStore::Postgres(store) => r.postgres(store.clone(), name, progress, out).await,
        AnyStore::Memory(_) => Err(no_memory_rebuild()),
        #[cfg(feature = "nats")]
        AnyStore::Nats(_) => Err(no_nats_rebuild()),
    }
}

/// Why a JetStream store's projections are not rebuilt here.
#[cfg(feature = "nats")]
fn no_nats_rebuild() -> es_core::StoreError {
    es_core::StoreError::backend(
        "es",
        "es rebuild runs on SQLite and PostgreSQL stores; on JetStream, reset the projection's checkpoint and let its worker catch up",
    )
}

/// Why `memory:` cannot be rebuilt.
fn no_memory_rebuild() -> es_core::StoreError {
    es_core::StoreError::backend(
        "es",
        "memory: holds no events between runs: rebuild a projection on a SQLite or PostgreSQL store",
    )
}
