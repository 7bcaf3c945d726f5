-- 3: one checkpoint per projection, with its state when the runner keeps it.

CREATE TABLE {s}.es_checkpoints (
    projection text   PRIMARY KEY,
    position   bigint NOT NULL,
    state      json,
    saved_us   bigint NOT NULL
);
