-- 2: the newest snapshot of each stream.

CREATE TABLE {s}.es_snapshots (
    stream         text    PRIMARY KEY,
    stream_version bigint  NOT NULL,
    schema_version integer NOT NULL,
    state          json    NOT NULL,
    taken_us       bigint  NOT NULL
);
