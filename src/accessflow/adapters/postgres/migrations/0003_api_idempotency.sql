-- Idempotency keys of POST …/assignmentRequests (the Idempotency-Key or client-request-id
-- header), per caller: a retried create gets the first answer instead of a second request.
-- The API inserts a 'pending' row before producing the command (the primary key makes a
-- concurrent retry wait instead of producing again), deletes it when Kafka refuses, and
-- marks it 'done' with the response once Kafka acknowledged. The command is kept so that a
-- row left pending by a crash can be completed by re-sending the very same command (same
-- CloudEvents id, so the worker applies it at most once).
CREATE TABLE api_idempotency (
    caller_id   text        NOT NULL,
    key         text        NOT NULL,
    body_hash   text        NOT NULL,
    request_id  uuid        NOT NULL,
    command     jsonb       NOT NULL,
    response    jsonb,
    state       text        NOT NULL CHECK (state IN ('pending', 'done')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller_id, key)
);

CREATE INDEX api_idempotency_created ON api_idempotency (created_at);
