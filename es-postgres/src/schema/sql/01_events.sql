-- 1: events, the head position, and the append function (replaced by 6).

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
