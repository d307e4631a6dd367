-- The relay deletes each outbox row in the transaction that records it as sent, so a row
-- in the outbox is an event still to publish and needs no publication mark. A row that
-- carries one was published already: it goes with the column.
DELETE FROM outbox WHERE published_at IS NOT NULL;
ALTER TABLE outbox DROP COLUMN published_at;
