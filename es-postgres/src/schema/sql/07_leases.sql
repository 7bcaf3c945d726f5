-- 7: leases: one holder per projection at a time, with a fencing epoch. Times are the
-- server's, so machines with skewed clocks still agree on expiry.

CREATE TABLE {s}.es_leases (
    name       text        PRIMARY KEY,
    owner      text        NOT NULL,
    epoch      bigint      NOT NULL,
    renewed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
