-- 11: appends record the time they happen, not the time their transaction began (a turn
-- begins, then may wait for its lock), and never a time before the stream's previous event
-- (the server's clock may step back), so a stream's times only go forward and reading up to a
-- moment stops at the right event. And appends refuse to run at another isolation level than
-- READ COMMITTED: only that level shows them the appends they waited for.

CREATE OR REPLACE FUNCTION {s}.es_append(
    p_stream text, p_expected bigint, p_ids uuid[], p_names text[], p_versions integer[],
    p_payloads text[], p_metadata text[])
RETURNS TABLE (status text, event_id uuid, stream text, stream_version bigint,
               "position" bigint, recorded_at_us bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_actual  bigint;
    v_last    bigint;
    v_prev    bytea;
    v_prev_us bigint;
    v_hashes  bytea[];
    v_commit  bigint;
    v_now     timestamptz;
    v_now_us  bigint;
    v_n       integer := coalesce(array_length(p_ids, 1), 0);
BEGIN
    -- At REPEATABLE READ or SERIALIZABLE the version read below would come from a snapshot
    -- taken before the lock wait, and the append would decide on a stale stream. The store
    -- answers this error code by running the append again in a READ COMMITTED transaction.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'es_append needs READ COMMITTED, and this transaction runs at %',
            current_setting('transaction_isolation')
            USING ERRCODE = 'ES001';
    END IF;

    -- Appends to one stream take turns (until commit); other streams go on in parallel.
    -- The transaction id is taken after the turn, so it is above that of every earlier
    -- append to the stream, and the stream's events keep their order in the global order.
    PERFORM pg_advisory_xact_lock(hashtext({lit}), hashtext(p_stream));
    v_commit := pg_current_xact_id()::text::bigint;

    RETURN QUERY
        SELECT 'stored'::text, e.event_id, e.stream, e.stream_version, e.position, e.recorded_us
        FROM {s}.es_events e WHERE e.event_id = ANY(p_ids);
    IF FOUND THEN RETURN; END IF;

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

    -- The time of the append, after the lock wait: clock_timestamp(), as now() is when the
    -- transaction began. One time for the whole batch, as it commits at once.
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
            RETURNING e.event_id, e.stream_version, e.position)
        SELECT 'appended'::text, s.event_id, p_stream, s.stream_version, s.position, v_now_us
        FROM stored s ORDER BY s.stream_version;
END
$fn$;
