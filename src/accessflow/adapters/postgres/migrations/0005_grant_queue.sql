-- Grants delivered by outside connectors (webhooks) are a durable work queue: a row waits in
-- state 'pending' (a grant to send) or 'revoking' (a revoke to send) until next_attempt_at,
-- is leased by pushing next_attempt_at forward while a worker calls the connector outside
-- any transaction, and settles to delivered/failed or revoked/revokeFailed afterwards.

ALTER TABLE grants
    ADD COLUMN request_id      uuid,             -- the request whose outcome waits on it
    ADD COLUMN role_origin_id  text,
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,  -- connector rounds so far
    ADD COLUMN next_attempt_at timestamptz;

CREATE INDEX grants_due ON grants (next_attempt_at) WHERE state IN ('pending', 'revoking');
CREATE INDEX grants_request ON grants (request_id) WHERE request_id IS NOT NULL;
