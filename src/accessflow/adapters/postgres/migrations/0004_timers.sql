-- Durable timers: scheduled starts, approval escalations and automatic denials.
-- Claimed with FOR UPDATE SKIP LOCKED by whichever worker is alive; a timer's effect and its
-- fired_at are written in one transaction, so it fires exactly once in effect.

CREATE TABLE timers (
    -- Deterministic (request, kind, key): re-scheduling the same timer is a no-op.
    id         uuid PRIMARY KEY,
    kind       text        NOT NULL,
    request_id uuid        NOT NULL REFERENCES assignment_requests (id),
    due_at     timestamptz NOT NULL,
    payload    jsonb       NOT NULL DEFAULT '{}',
    fired_at   timestamptz
);

CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;
