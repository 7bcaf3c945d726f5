-- 13: tags and conditional appends (dynamic consistency boundaries). Each tagged event's
-- tags are kept in es_tags, written by the append that stores the event; events without tags
-- have no row. A decision reads the events matching its query (es_query_positions) and counts
-- them; its append takes an exclusive advisory lock per (first tag, name) of each query item,
-- every append of tagged events a shared one per (tag, name) of its events, all in one order
-- (by key) after the stream's lock, so the count the conditional append makes after its locks
-- sees every writer of its boundary that committed before it, and no writer of it can commit
-- before the decision ends. More events than the read counted: a boundary conflict. Events are
-- never deleted (rewrites replace payloads in place), so the count is exact at READ COMMITTED.
-- Written to run again safely (IF NOT EXISTS, OR REPLACE).

CREATE TABLE IF NOT EXISTS {s}.es_tags (
    tag        text   NOT NULL,
    name       text   NOT NULL,
    "position" bigint NOT NULL,
    PRIMARY KEY (tag, name, "position")
);
-- An event's tags, to lend them with it.
CREATE INDEX IF NOT EXISTS es_tags_by_position ON {s}.es_tags ("position");

-- The advisory lock key of (tag, event name) in this schema. Two keys that collide only make
-- their writers wait for each other; the count decides conflicts.
CREATE OR REPLACE FUNCTION {s}.es_tag_lock(p_tag text, p_name text)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT hashtextextended({lit} || chr(31) || p_tag || chr(31) || p_name, 0)
$fn$;

-- The positions of the events matching a query, given flat: one key row (item, its first tag,
-- one of its names) per name of each item, and one row (item, tag) per other tag of each item.
-- An event matches an item if it carries the item's first tag under one of its names (a range
-- of the primary key) and its other tags too.
CREATE OR REPLACE FUNCTION {s}.es_query_positions(
    p_key_items integer[], p_key_tags text[], p_key_names text[], p_need_items integer[],
    p_need_tags text[])
RETURNS TABLE ("position" bigint) LANGUAGE sql STABLE AS $fn$
    SELECT DISTINCT t."position"
    FROM unnest(p_key_items, p_key_tags, p_key_names) AS k(item, tag, name)
    JOIN {s}.es_tags t ON t.tag = k.tag AND t.name = k.name
    WHERE NOT EXISTS (
        SELECT 1 FROM unnest(p_need_items, p_need_tags) AS n(item, tag)
        WHERE n.item = k.item AND NOT EXISTS (
            SELECT 1 FROM {s}.es_tags o
            WHERE o.tag = n.tag AND o.name = t.name AND o."position" = t."position"))
$fn$;


-- Appends a batch in one round trip, as before (migration 11), with its events' tags
-- (p_tags[j] belongs to event p_tag_events[j], 1-based) and, when p_matched is not NULL, the
-- condition: fewer than p_matched + 1 events match the query (see es_query_positions), or one
-- 'boundary' row carrying the count found. Idempotency first, then the condition, then the
-- version check.
CREATE OR REPLACE FUNCTION {s}.es_append(
    p_stream text, p_expected bigint, p_ids uuid[], p_names text[], p_versions integer[],
    p_payloads text[], p_metadata text[], p_tag_events integer[], p_tags text[],
    p_matched bigint, p_key_items integer[], p_key_tags text[], p_key_names text[],
    p_need_items integer[], p_need_tags text[])
RETURNS TABLE (status text, event_id uuid, stream text, stream_version bigint,
               "position" bigint, recorded_at_us bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_actual    bigint;
    v_last      bigint;
    v_prev      bytea;
    v_prev_us   bigint;
    v_hashes    bytea[];
    v_commit    bigint;
    v_now       timestamptz;
    v_now_us    bigint;
    v_n         integer := coalesce(array_length(p_ids, 1), 0);
    v_key       bigint;
    v_exclusive boolean;
    v_found     bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'es_append needs READ COMMITTED, and this transaction runs at %',
            current_setting('transaction_isolation')
            USING ERRCODE = 'ES001';
    END IF;

    -- Appends to one stream take turns (until commit); other streams go on in parallel.
    PERFORM pg_advisory_xact_lock(hashtext({lit}), hashtext(p_stream));

    -- The boundary locks, after the stream's and sorted by key, so that no two appends wait
    -- for each other in a cycle: exclusive on the keys of the condition's query, shared on
    -- those of the events written. Appends of untagged events take none.
    IF p_matched IS NOT NULL OR coalesce(cardinality(p_tags), 0) > 0 THEN
        FOR v_key, v_exclusive IN
            SELECT k.key, bool_or(k.exclusive) FROM (
                SELECT {s}.es_tag_lock(q.tag, q.name) AS key, true AS exclusive
                FROM unnest(p_key_tags, p_key_names) AS q(tag, name)
                WHERE p_matched IS NOT NULL
                UNION ALL
                SELECT {s}.es_tag_lock(p_tags[j], p_names[p_tag_events[j]]), false
                FROM generate_subscripts(p_tags, 1) AS j) AS k
            GROUP BY k.key ORDER BY k.key
        LOOP
            IF v_exclusive THEN
                PERFORM pg_advisory_xact_lock(v_key);
            ELSE
                PERFORM pg_advisory_xact_lock_shared(v_key);
            END IF;
        END LOOP;
    END IF;

    -- The transaction id is taken after the locks, so it is above that of every earlier
    -- append to the stream (the stream's events keep their order in the global order) and of
    -- every writer of the boundary this append waited for (a decision sorts after what it saw).
    v_commit := pg_current_xact_id()::text::bigint;

    RETURN QUERY
        SELECT 'stored'::text, e.event_id, e.stream, e.stream_version, e.position, e.recorded_us
        FROM {s}.es_events e WHERE e.event_id = ANY(p_ids);
    IF FOUND THEN RETURN; END IF;

    -- A statement of its own, so a snapshot taken after the locks: it sees every writer of the
    -- boundary that committed before this append.
    IF p_matched IS NOT NULL THEN
        SELECT count(*) INTO v_found
            FROM {s}.es_query_positions(p_key_items, p_key_tags, p_key_names, p_need_items, p_need_tags);
        IF v_found > p_matched THEN
            RETURN QUERY SELECT 'boundary'::text, NULL::uuid, p_stream, v_found, NULL::bigint, NULL::bigint;
            RETURN;
        END IF;
    END IF;

    SELECT e.stream_version, e.commit_no, e.hash, e.recorded_us INTO v_actual, v_last, v_prev, v_prev_us
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

    v_now_us := greatest((extract(epoch FROM clock_timestamp()) * 1000000)::bigint, coalesce(v_prev_us, 0));
    v_now := timestamptz 'epoch' + v_now_us * interval '1 microsecond';

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
            RETURNING e.event_id, e.stream_version, e.position),
        tagged AS (
            INSERT INTO {s}.es_tags (tag, name, "position")
            SELECT p_tags[j], p_names[p_tag_events[j]], s.position
            FROM generate_subscripts(p_tags, 1) AS j
            JOIN stored s ON s.stream_version = v_actual + p_tag_events[j])
        SELECT 'appended'::text, s.event_id, p_stream, s.stream_version, s.position, v_now_us
        FROM stored s ORDER BY s.stream_version;
END
$fn$;

-- The call of migration 11 (no tags, no condition) stays, for SQL written against it.
CREATE OR REPLACE FUNCTION {s}.es_append(
    p_stream text, p_expected bigint, p_ids uuid[], p_names text[], p_versions integer[],
    p_payloads text[], p_metadata text[])
RETURNS TABLE (status text, event_id uuid, stream text, stream_version bigint,
               "position" bigint, recorded_at_us bigint)
LANGUAGE sql AS $fn$
    SELECT * FROM {s}.es_append(p_stream, p_expected, p_ids, p_names, p_versions, p_payloads,
        p_metadata, ARRAY[]::integer[], ARRAY[]::text[], NULL::bigint, ARRAY[]::integer[],
        ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::integer[], ARRAY[]::text[])
$fn$;
