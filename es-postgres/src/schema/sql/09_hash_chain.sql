-- 9: each event's link in its stream's hash chain (es-core's `integrity::link_hash`,
-- computed here in SQL), the chain computed for the events stored before, and appends that
-- chain each event to the last of its stream.

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
    PERFORM pg_advisory_xact_lock(hashtext({lit}), hashtext(p_stream));
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
