//! The PostgreSQL schema: versioned migrations, applied under an advisory lock so several
//! processes starting at once migrate exactly once.

use sqlx::PgConnection;

/// Each migration brings the schema from version `index` to `index + 1`. `{s}` is the quoted
/// schema name. Append, never edit.
const MIGRATIONS: &[&str] = &[
    // 1: events, the head position, and the append function (replaced by 6).
    r#"
    CREATE TABLE {s}.es_events (
        position       bigint      PRIMARY KEY,
        stream         text        NOT NULL,
        stream_version bigint      NOT NULL,
        event_id       uuid        NOT NULL UNIQUE,
        name           text        NOT NULL,
        schema_version integer     NOT NULL,
        payload        json        NOT NULL,
        metadata       json        NOT NULL,
        recorded_at    timestamptz NOT NULL,
        recorded_us    bigint      NOT NULL, -- recorded_at in microseconds since 1970, read without conversion
        UNIQUE (stream, stream_version)
    );

    -- One row: the last position handed out. Appends lock it until they commit.
    CREATE TABLE {s}.es_head (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        position  bigint  NOT NULL
    );
    INSERT INTO {s}.es_head (singleton, position) VALUES (true, 0);

    -- Appends a batch in one round trip. p_expected: -1 any, 0 no stream, n exact.
    -- Returns one row per event with status 'appended'; or the events among p_ids already
    -- stored ('stored', for the caller's idempotency rule); or one 'conflict' row carrying the
    -- actual version; or one 'empty' row when p_ids is empty.
    CREATE FUNCTION {s}.es_append(
        p_stream text, p_expected bigint, p_ids uuid[], p_names text[], p_versions integer[],
        p_payloads text[], p_metadata text[])
    RETURNS TABLE (status text, event_id uuid, stream text, stream_version bigint,
                   "position" bigint, recorded_at_us bigint)
    LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
        v_head   bigint;
        v_actual bigint;
        v_now    timestamptz := now();
        v_now_us bigint := (extract(epoch FROM now()) * 1000000)::bigint;
        v_n      integer := coalesce(array_length(p_ids, 1), 0);
    BEGIN
        -- The row lock is held until this transaction ends: the next append waits here until
        -- this one is committed and visible, so positions become visible in order, gap-free.
        UPDATE {s}.es_head SET position = es_head.position WHERE singleton
            RETURNING es_head.position INTO v_head;

        RETURN QUERY
            SELECT 'stored'::text, e.event_id, e.stream, e.stream_version, e.position, e.recorded_us
            FROM {s}.es_events e WHERE e.event_id = ANY(p_ids);
        IF FOUND THEN RETURN; END IF;

        SELECT coalesce(max(e.stream_version), 0) INTO v_actual
            FROM {s}.es_events e WHERE e.stream = p_stream;
        IF p_expected >= 0 AND v_actual <> p_expected THEN
            RETURN QUERY SELECT 'conflict'::text, NULL::uuid, p_stream, v_actual, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;
        IF v_n = 0 THEN
            RETURN QUERY SELECT 'empty'::text, NULL::uuid, p_stream, v_actual, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;

        INSERT INTO {s}.es_events
            (position, stream, stream_version, event_id, name, schema_version, payload, metadata, recorded_at, recorded_us)
        SELECT v_head + i, p_stream, v_actual + i, p_ids[i], p_names[i], p_versions[i],
               p_payloads[i]::json, p_metadata[i]::json, v_now, v_now_us
        FROM generate_subscripts(p_ids, 1) AS i;
        UPDATE {s}.es_head SET position = v_head + v_n WHERE singleton;

        RETURN QUERY
            SELECT 'appended'::text, p_ids[i], p_stream, v_actual + i, v_head + i, v_now_us
            FROM generate_subscripts(p_ids, 1) AS i ORDER BY i;
    END
    $fn$;
    "#,
    // 2: the newest snapshot of each stream.
    r#"
    CREATE TABLE {s}.es_snapshots (
        stream         text    PRIMARY KEY,
        stream_version bigint  NOT NULL,
        schema_version integer NOT NULL,
        state          json    NOT NULL,
        taken_us       bigint  NOT NULL
    );
    "#,
    // 3: one checkpoint per projection, with its state when the runner keeps it.
    r#"
    CREATE TABLE {s}.es_checkpoints (
        projection text   PRIMARY KEY,
        position   bigint NOT NULL,
        state      json,
        saved_us   bigint NOT NULL
    );
    "#,
    // 4: a notification per append, delivered at commit, so subscribers wake without polling.
    r#"
    CREATE FUNCTION {s}.es_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM pg_notify('es_appended', TG_TABLE_SCHEMA);
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER es_notify AFTER INSERT ON {s}.es_events
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.es_notify();
    "#,
    // 5: checkpoints keep a whole cursor: the commit number, then the position.
    r#"
    ALTER TABLE {s}.es_checkpoints ADD COLUMN commit_no bigint NOT NULL DEFAULT 0;
    "#,
    // 6: appends to different streams commit in parallel. Positions come from an identity
    // column (no lock held to commit); each event is stamped with its transaction id, and
    // readers follow (commit_no, position) below the oldest running transaction. Events stored
    // before keep their positions with commit_no 0, so they stay first, in the same order.
    r#"
    ALTER TABLE {s}.es_events ADD COLUMN commit_no bigint NOT NULL DEFAULT 0;
    ALTER TABLE {s}.es_events ALTER COLUMN commit_no DROP DEFAULT;
    CREATE INDEX es_events_commit_order ON {s}.es_events (commit_no, position);
    ALTER TABLE {s}.es_events ALTER COLUMN position ADD GENERATED BY DEFAULT AS IDENTITY;
    DO $do$ BEGIN
        EXECUTE format('ALTER TABLE %s.es_events ALTER COLUMN position RESTART WITH %s',
                       $q${s}$q$, (SELECT coalesce(max(position), 0) + 1 FROM {s}.es_events));
    END $do$;
    DROP TABLE {s}.es_head;
    -- Stores notify after their appends commit, at most once per 2 ms each (notify.rs): a
    -- notification per commit made commits queue on the server's notification lock.
    DROP TRIGGER es_notify ON {s}.es_events;
    DROP FUNCTION {s}.es_notify();

    -- Appends a batch in one round trip. p_expected: NULL any, 0 no stream, n exact.
    -- Returns one row per event with status 'appended'; or the events among p_ids already
    -- stored ('stored', for the caller's idempotency rule); or one 'conflict' row carrying the
    -- actual version; or one 'empty' row when p_ids is empty.
    CREATE OR REPLACE FUNCTION {s}.es_append(
        p_stream text, p_expected bigint, p_ids uuid[], p_names text[], p_versions integer[],
        p_payloads text[], p_metadata text[])
    RETURNS TABLE (status text, event_id uuid, stream text, stream_version bigint,
                   "position" bigint, recorded_at_us bigint)
    LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
        v_actual bigint;
        v_last   bigint;
        v_commit bigint;
        v_now    timestamptz := now();
        v_now_us bigint := (extract(epoch FROM now()) * 1000000)::bigint;
        v_n      integer := coalesce(array_length(p_ids, 1), 0);
    BEGIN
        -- Appends to one stream take turns (until commit); other streams go on in parallel.
        -- The transaction id is taken after the turn, so it is above that of every earlier
        -- append to the stream, and the stream's events keep their order in the global order.
        PERFORM pg_advisory_xact_lock(hashtext($q${s}$q$), hashtext(p_stream));
        v_commit := pg_current_xact_id()::text::bigint;

        RETURN QUERY
            SELECT 'stored'::text, e.event_id, e.stream, e.stream_version, e.position, e.recorded_us
            FROM {s}.es_events e WHERE e.event_id = ANY(p_ids);
        IF FOUND THEN RETURN; END IF;

        SELECT e.stream_version, e.commit_no INTO v_actual, v_last
            FROM {s}.es_events e WHERE e.stream = p_stream ORDER BY e.stream_version DESC LIMIT 1;
        v_actual := coalesce(v_actual, 0);
        IF v_last > v_commit THEN
            -- Only a caller's transaction that wrote before this append can get here.
            RAISE EXCEPTION 'es_append: this transaction (%) is older than the last append to stream % (%): append in a transaction of its own', v_commit, p_stream, v_last
                USING ERRCODE = 'serialization_failure';
        END IF;
        IF p_expected IS NOT NULL AND v_actual <> p_expected THEN
            RETURN QUERY SELECT 'conflict'::text, NULL::uuid, p_stream, v_actual, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;
        IF v_n = 0 THEN
            RETURN QUERY SELECT 'empty'::text, NULL::uuid, p_stream, v_actual, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;

        RETURN QUERY
            WITH stored AS (
                INSERT INTO {s}.es_events AS e
                    (commit_no, stream, stream_version, event_id, name, schema_version, payload, metadata,
                     recorded_at, recorded_us)
                SELECT v_commit, p_stream, v_actual + i, p_ids[i], p_names[i], p_versions[i],
                       p_payloads[i]::json, p_metadata[i]::json, v_now, v_now_us
                FROM generate_subscripts(p_ids, 1) AS i ORDER BY i
                RETURNING e.event_id, e.stream_version, e.position)
            SELECT 'appended'::text, s.event_id, p_stream, s.stream_version, s.position, v_now_us
            FROM stored s ORDER BY s.stream_version;
    END
    $fn$;
    "#,
    // 7: leases: one holder per projection at a time, with a fencing epoch. Times are the
    // server's, so machines with skewed clocks still agree on expiry.
    r#"
    CREATE TABLE {s}.es_leases (
        name       text        PRIMARY KEY,
        owner      text        NOT NULL,
        epoch      bigint      NOT NULL,
        renewed_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
    );
    "#,
    // 8: events reactors gave up on, each with a copy of the event and the last error.
    r#"
    CREATE TABLE {s}.es_dead_letters (
        reactor        text    NOT NULL,
        event_id       uuid    NOT NULL,
        position       bigint  NOT NULL,
        commit_no      bigint  NOT NULL,
        stream         text    NOT NULL,
        stream_version bigint  NOT NULL,
        name           text    NOT NULL,
        schema_version integer NOT NULL,
        payload        json    NOT NULL,
        metadata       json    NOT NULL,
        recorded_us    bigint  NOT NULL,
        error          text    NOT NULL,
        attempts       bigint  NOT NULL,
        parked_us      bigint  NOT NULL,
        PRIMARY KEY (reactor, event_id)
    );
    "#,
    // 9: each event's link in its stream's hash chain (es-core's `integrity::link_hash`,
    // computed here in SQL), the chain computed for the events stored before, and appends that
    // chain each event to the last of its stream.
    r#"
    CREATE FUNCTION {s}.es_link_hash(
        p_prev bytea, p_stream text, p_version bigint, p_id uuid, p_name text, p_schema integer,
        p_payload text, p_metadata text, p_recorded_us bigint)
    RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
        SELECT sha256(
            p_prev
            || int8send(length(convert_to(p_stream, 'UTF8'))::bigint) || convert_to(p_stream, 'UTF8')
            || int8send(p_version)
            || uuid_send(p_id)
            || int8send(length(convert_to(p_name, 'UTF8'))::bigint) || convert_to(p_name, 'UTF8')
            || int4send(p_schema)
            || int8send(length(convert_to(p_payload, 'UTF8'))::bigint) || convert_to(p_payload, 'UTF8')
            || int8send(length(convert_to(p_metadata, 'UTF8'))::bigint) || convert_to(p_metadata, 'UTF8')
            || int8send(p_recorded_us))
    $fn$;

    ALTER TABLE {s}.es_events ADD COLUMN hash bytea;
    DO $do$
    DECLARE
        r      record;
        v_prev bytea;
        v_last text;
    BEGIN
        FOR r IN SELECT e.position, e.stream, e.stream_version, e.event_id, e.name, e.schema_version,
                        e.payload::text AS payload, e.metadata::text AS metadata, e.recorded_us
                 FROM {s}.es_events e ORDER BY e.stream, e.stream_version
        LOOP
            IF v_last IS DISTINCT FROM r.stream THEN
                v_prev := decode(repeat('00', 32), 'hex');
                v_last := r.stream;
            END IF;
            v_prev := {s}.es_link_hash(v_prev, r.stream, r.stream_version, r.event_id, r.name,
                                       r.schema_version, r.payload, r.metadata, r.recorded_us);
            UPDATE {s}.es_events SET hash = v_prev WHERE position = r.position;
        END LOOP;
    END $do$;

    CREATE OR REPLACE FUNCTION {s}.es_append(
        p_stream text, p_expected bigint, p_ids uuid[], p_names text[], p_versions integer[],
        p_payloads text[], p_metadata text[])
    RETURNS TABLE (status text, event_id uuid, stream text, stream_version bigint,
                   "position" bigint, recorded_at_us bigint)
    LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
        v_actual bigint;
        v_last   bigint;
        v_prev   bytea;
        v_hashes bytea[];
        v_commit bigint;
        v_now    timestamptz := now();
        v_now_us bigint := (extract(epoch FROM now()) * 1000000)::bigint;
        v_n      integer := coalesce(array_length(p_ids, 1), 0);
    BEGIN
        -- Appends to one stream take turns (until commit); other streams go on in parallel.
        -- The transaction id is taken after the turn, so it is above that of every earlier
        -- append to the stream, and the stream's events keep their order in the global order.
        PERFORM pg_advisory_xact_lock(hashtext($q${s}$q$), hashtext(p_stream));
        v_commit := pg_current_xact_id()::text::bigint;

        RETURN QUERY
            SELECT 'stored'::text, e.event_id, e.stream, e.stream_version, e.position, e.recorded_us
            FROM {s}.es_events e WHERE e.event_id = ANY(p_ids);
        IF FOUND THEN RETURN; END IF;

        SELECT e.stream_version, e.commit_no, e.hash INTO v_actual, v_last, v_prev
            FROM {s}.es_events e WHERE e.stream = p_stream ORDER BY e.stream_version DESC LIMIT 1;
        v_actual := coalesce(v_actual, 0);
        IF v_last > v_commit THEN
            -- Only a caller's transaction that wrote before this append can get here.
            RAISE EXCEPTION 'es_append: this transaction (%) is older than the last append to stream % (%): append in a transaction of its own', v_commit, p_stream, v_last
                USING ERRCODE = 'serialization_failure';
        END IF;
        IF p_expected IS NOT NULL AND v_actual <> p_expected THEN
            RETURN QUERY SELECT 'conflict'::text, NULL::uuid, p_stream, v_actual, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;
        IF v_n = 0 THEN
            RETURN QUERY SELECT 'empty'::text, NULL::uuid, p_stream, v_actual, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;

        v_prev := coalesce(v_prev, decode(repeat('00', 32), 'hex'));
        FOR i IN 1..v_n LOOP
            v_prev := {s}.es_link_hash(v_prev, p_stream, v_actual + i, p_ids[i], p_names[i],
                                       p_versions[i], p_payloads[i], p_metadata[i], v_now_us);
            v_hashes[i] := v_prev;
        END LOOP;

        RETURN QUERY
            WITH stored AS (
                INSERT INTO {s}.es_events AS e
                    (commit_no, stream, stream_version, event_id, name, schema_version, payload, metadata,
                     recorded_at, recorded_us, hash)
                SELECT v_commit, p_stream, v_actual + i, p_ids[i], p_names[i], p_versions[i],
                       p_payloads[i]::json, p_metadata[i]::json, v_now, v_now_us, v_hashes[i]
                FROM generate_subscripts(p_ids, 1) AS i ORDER BY i
                RETURNING e.event_id, e.stream_version, e.position)
            SELECT 'appended'::text, s.event_id, p_stream, s.stream_version, s.position, v_now_us
            FROM stored s ORDER BY s.stream_version;
    END
    $fn$;
    "#,
    // 10: each subject's key for its personal data; deleting it forgets the subject.
    r#"
    CREATE TABLE {s}.es_personal_keys (
        subject    text   PRIMARY KEY,
        key        bytea  NOT NULL,
        created_us bigint NOT NULL
    );
    "#,
];

/// An arbitrary constant naming the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x65_73_5f_6d_69_67; // "es_mig"

/// Creates the schema if needed and applies the migrations it lacks, in one transaction.
pub async fn migrate(conn: &mut PgConnection, schema: &str) -> Result<(), MigrateError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&mut *conn).await?;
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {schema}.es_migrations (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())"
    ))
    .execute(&mut *conn)
    .await?;
    let applied: Option<i32> =
        sqlx::query_scalar(&format!("SELECT max(version) FROM {schema}.es_migrations"))
            .fetch_one(&mut *conn)
            .await?;
    let applied = applied.unwrap_or(0).max(0) as usize;
    if applied > MIGRATIONS.len() {
        return Err(MigrateError::Newer { found: applied, current: MIGRATIONS.len() });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        sqlx::raw_sql(&sql.replace("{s}", schema)).execute(&mut *conn).await?;
        sqlx::query(&format!("INSERT INTO {schema}.es_migrations (version) VALUES ($1)"))
            .bind(index as i32 + 1)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A newer program migrated the schema.
    #[error("the schema has version {found}, newer than this program's {current}: upgrade the program")]
    Newer {
        /// Its version.
        found: usize,
        /// This program's.
        current: usize,
    },
    /// PostgreSQL failed.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Quotes a schema name as an SQL identifier, refusing what PostgreSQL would not keep intact.
pub fn quote_ident(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(format!("invalid schema name {name:?}: it must be 1 to 63 bytes, without NUL"));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("tenant_a").as_deref(), Ok("\"tenant_a\""));
        assert_eq!(quote_ident("we\"ird").as_deref(), Ok("\"we\"\"ird\""));
        assert!(quote_ident("").is_err());
        assert!(quote_ident(&"x".repeat(64)).is_err());
    }
}
