-- 4: a notification per append, delivered at commit, so subscribers wake without polling.

CREATE FUNCTION {s}.es_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_notify('es_appended', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER es_notify AFTER INSERT ON {s}.es_events
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.es_notify();
