-- 8: events reactors gave up on, each with a copy of the event and the last error.

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
