-- 12: snapshots taken before states holding personal data were sealed may hold it in plain
-- text, which forgetting would not erase: drop them all (a snapshot is only a cache).

DELETE FROM {s}.es_snapshots;
