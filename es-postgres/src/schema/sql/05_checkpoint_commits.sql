-- 5: checkpoints keep a whole cursor: the commit number, then the position.

ALTER TABLE {s}.es_checkpoints ADD COLUMN commit_no bigint NOT NULL DEFAULT 0;
