//! The migrations, in order: one SQL file each in `sql/`, its comment saying what it does.
//!
//! Each is written for a schema by `SchemaName::render`: `{s}` becomes the quoted schema name
//! and `{lit}` the same as a string literal; nothing else is written into them. Migrations 6
//! and 9 once wrote the name as `$q$"name"$q$`; they now write the equal literal `'"name"'`
//! (the same text, so the same lock keys), and no name is ever inside a dollar quote.

/// Migration `index` brings the schema from version `index` to `index + 1`: the version is the
/// position in this list, recorded in `<schema>.es_migrations`. Append, never change what an
/// old one does: databases that ran it keep its effect.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("sql/01_events.sql"),
    include_str!("sql/02_snapshots.sql"),
    include_str!("sql/03_checkpoints.sql"),
    include_str!("sql/04_notify.sql"),
    include_str!("sql/05_checkpoint_commits.sql"),
    include_str!("sql/06_parallel_commits.sql"),
    include_str!("sql/07_leases.sql"),
    include_str!("sql/08_dead_letters.sql"),
    include_str!("sql/09_hash_chain.sql"),
    include_str!("sql/10_personal_keys.sql"),
    include_str!("sql/11_append_time.sql"),
    include_str!("sql/12_snapshots_sealed.sql"),
    include_str!("sql/13_tags.sql"),
];

/// The version this program brings a schema to.
pub(super) const CURRENT: usize = MIGRATIONS.len();
