-- Retention: the workers' housekeeping loop (entrypoints/housekeeping.py, SQL in
-- adapters/postgres/retention.py) deletes processed-command ledger rows and fired timers
-- older than ACCESSFLOW_PROCESSED_RETENTION_DAYS, and API idempotency keys older than
-- ACCESSFLOW_IDEMPOTENCY_RETENTION_HOURS (api_idempotency_created, from 0003, finds those).
-- What follows lets it find old rows cheaply. (Building these indexes reads
-- processed_commands and timers once, and blocks writes to them meanwhile: a migration is
-- one transaction, so CONCURRENTLY is not available; on a large ledger, run it in a quiet
-- hour.)

-- processed_commands takes one row per command with processed_at = now(): rows arrive in
-- time order, so this btree only ever grows at its right edge (one hot page, ≈ 2 µs and
-- ≈ 60 bytes of WAL per command) and finds the oldest rows in order. A BRIN index would
-- cost inserts less but never narrows its summaries once pruned pages are reused, which
-- would turn every later pass into a full scan unless it re-summarized (owner only).
CREATE INDEX processed_commands_processed_at ON processed_commands (processed_at);

-- Fired timers are found by fired_at. Partial, so scheduling a timer (inserted unfired)
-- costs no extra index entry; firing it adds one, on an update that already writes new
-- entries in the other indexes (fired_at is in timers_due's predicate, so it is never HOT).
-- Timers are a few per request at most, far fewer than commands.
CREATE INDEX timers_fired ON timers (fired_at) WHERE fired_at IS NOT NULL;

-- The history API reports a transition's causeType from the ledger row of the command that
-- caused it (a LEFT JOIN on causation_id). Pruning copies that command's type here first, so
-- older history keeps its causeType. Nullable without a default: adding it rewrites nothing,
-- and new rows leave it empty while their ledger row still exists.
ALTER TABLE request_history ADD COLUMN command_type text;
