-- The relay deletes what it publishes, so every outbox row is unpublished until it is gone:
-- the partial index on unpublished ids held the same entries as the primary key and cost
-- one more index insert (and its WAL) per event. The relay's scan in id order uses the
-- primary key.
DROP INDEX outbox_unpublished;
