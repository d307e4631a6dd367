-- Requests, their transition history, the processed-command ledger and the event outbox.
-- One worker transaction writes all four, which is what makes the effect exactly-once.

CREATE TABLE assignment_requests (
    id                uuid PRIMARY KEY,
    request_type      text        NOT NULL,
    state             text        NOT NULL,
    status            text        NOT NULL,
    target_id         text,
    access_package_id text,
    requestor_id      text,
    assignment_id     text,
    -- The sequence of the last transition; the next event gets sequence + 1.
    sequence          integer     NOT NULL,
    created_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    -- The Graph v1.0 representation, as GET returns it.
    document          jsonb       NOT NULL,
    -- The approval (stages, approvers, decisions) while and after one is needed.
    approval          jsonb
);

-- At most one open add request per target and access package, even when two workers race:
-- the second insert fails on this index and its command is denied ExistingOpenRequest.
CREATE UNIQUE INDEX assignment_requests_one_open_add
    ON assignment_requests (target_id, access_package_id)
    WHERE state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')
      AND request_type IN ('userAdd', 'adminAdd', 'systemAdd');

-- Keyset paging for GET …/assignmentRequests ($orderby=createdDateTime).
CREATE INDEX assignment_requests_created ON assignment_requests (created_at, id);

CREATE TABLE request_history (
    request_id     uuid        NOT NULL REFERENCES assignment_requests (id),
    sequence       integer     NOT NULL CHECK (sequence > 0),
    previous_state text,
    state          text        NOT NULL,
    status         text        NOT NULL,
    reason         jsonb,
    causation_id   text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    PRIMARY KEY (request_id, sequence)
);

-- A command id recorded here has had its effect; a redelivery of it changes nothing.
CREATE TABLE processed_commands (
    command_id   text PRIMARY KEY,
    command_type text        NOT NULL,
    request_id   uuid,
    outcome      text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Deterministic (UUIDv5 of requestId:sequence for state changes): a re-publish keeps it.
    event_id     uuid        NOT NULL UNIQUE,
    event_type   text        NOT NULL,
    key          text        NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Wake relays the moment a transaction that wrote events commits (NOTIFY is delivered at
-- commit, once per transaction). The payload names the schema, so relays of different
-- schemas sharing one database only wake for their own.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('accessflow_outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
