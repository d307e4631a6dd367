-- Parked events: outbox rows the events topic will never accept (over its
-- max.message.bytes, refused as an invalid record). The relay moves them here, in the
-- transaction that deletes the rest of its batch, instead of retrying them forever; later
-- events of the same request follow them here (reason BehindParked), so a consumer never
-- sees a request's events with a gap. `accessflow outbox parked retry` moves rows back into
-- the outbox under their original ids (so in their original order); `... drop` deletes them.

CREATE TABLE parked_events (
    -- The outbox row as it was, id included: a retry restores it, and with it the order.
    id            bigint      PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    event_type    text        NOT NULL,
    key           text        NOT NULL,
    payload       bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    -- Why: a Refusal code of the Kafka adapter (MessageTooLarge, InvalidRecord) or
    -- BehindParked; and the error as the producer or the broker put it.
    reason        text        NOT NULL,
    error_message text        NOT NULL,
    parked_at     timestamptz NOT NULL DEFAULT now()
);

-- "Has this request an earlier parked event?" for every outbox row the relay reads.
CREATE INDEX parked_events_key ON parked_events (key, id);
