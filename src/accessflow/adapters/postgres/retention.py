"""Deleting rows that have outlived their use: the SQL of the housekeeping loop (0007).

- ``processed_commands``, the dedupe ledger: a command id is only redelivered within the
  commands topic's retention, so rows older than the processed retention go.
- ``api_idempotency``: Idempotency-Key rows, ``pending`` or ``done``, older than the
  idempotency retention. A retry with an expired key is a new request, as with Stripe's keys.
- ``timers`` fired longer ago than the processed retention. Only unfired timers are ever
  read. Re-scheduling a pruned timer's deterministic id would insert it again and fire it,
  but timers are scheduled only while a request is being decided or delivered, and every
  timer's effect first checks that the request (or assignment) is still where the timer
  expected it.

Each table goes in chunks of at most ``chunk`` rows, one short transaction per chunk, so a
first run on a large table never holds locks for long or builds one huge transaction. Each
chunk starts at the timestamp where the previous one stopped (the btree on it orders the
rows), so a first run does not re-read the dead index entries its earlier chunks left
behind: its cost grows with the rows deleted, not with their square.

Each chunk first takes a transaction-level advisory lock per schema: every worker runs the
loop, and a pass that finds the lock taken stops, leaving the pruning to the worker holding
it. A transaction lock cannot outlive its transaction on a pooled connection, as a session
lock could. The ``DELETE`` repeats the age test because a row can change between the
chunk's ``SELECT`` and its ``DELETE`` (an idempotency claim taken over gets a new
``created_at``); under READ COMMITTED the delete re-checks it on the newer version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

PROCESSED = "processed_commands"
IDEMPOTENCY = "api_idempotency"
TIMERS = "timers"
TABLES = (PROCESSED, IDEMPOTENCY, TIMERS)

DEFAULT_CHUNK = 5000

_BEGINNING = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Retention:
    processed: timedelta  # processed_commands rows and fired timers
    idempotency: timedelta  # api_idempotency rows


_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('accessflow.housekeeping:' || current_schema()))"

# $1 cutoff, $2 chunk, $3 the timestamp to start from, oldest first. Before a ledger row goes,
# the type of its command is copied onto the history rows it caused (the history API's
# causeType); a command's transitions are all of its own request, so they are found through
# request_history's primary key. (The one exception, the removal request an expiry timer
# creates, is left to its causation id, which names a timer.) The lateral subquery probes
# that key once per row whatever the statistics say (OFFSET 0 keeps it from being flattened
# into a join that scans the whole history). Returns how many rows were found and deleted,
# and the newest timestamp found (where the next chunk starts).
_PROCESSED = """
WITH doomed AS (
    SELECT ctid, command_id, command_type, request_id, processed_at FROM processed_commands
    WHERE processed_at < $1 AND processed_at >= $3 ORDER BY processed_at LIMIT $2
), kept AS (
    UPDATE request_history h SET command_type = caused.command_type
    FROM (
        SELECT x.ctid AS row_id, d.command_type FROM doomed d
        CROSS JOIN LATERAL (
            SELECT ctid FROM request_history
            WHERE request_id = d.request_id AND causation_id = d.command_id OFFSET 0
        ) AS x
    ) AS caused
    WHERE h.ctid = caused.row_id
), gone AS (
    DELETE FROM processed_commands
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM doomed)) AND processed_at < $1
    RETURNING 1
)
SELECT (SELECT count(*) FROM doomed) AS found, (SELECT count(*) FROM gone) AS deleted,
       (SELECT max(processed_at) FROM doomed) AS reached
"""


def _by_time(table: str, column: str) -> str:
    """$1 cutoff, $2 chunk, $3 the timestamp to start from: the oldest rows first, read in
    order from the btree on ``column``. Returns how many rows were found and deleted, and
    the newest timestamp found (where the next chunk starts)."""
    return f"""
WITH doomed AS (
    SELECT ctid, {column} FROM {table}
    WHERE {column} < $1 AND {column} >= $3 ORDER BY {column} LIMIT $2
), gone AS (
    DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM doomed)) AND {column} < $1
    RETURNING 1
)
SELECT (SELECT count(*) FROM doomed) AS found, (SELECT count(*) FROM gone) AS deleted,
       (SELECT max({column}) FROM doomed) AS reached
"""


_IDEMPOTENCY = _by_time(IDEMPOTENCY, "created_at")  # api_idempotency_created (0003)
_TIMERS = _by_time(TIMERS, "fired_at")  # timers_fired (0007)


class Pruner:
    """Passes over the three tables."""

    def __init__(
        self, db: asyncpg.Pool, retention: Retention, *, chunk: int = DEFAULT_CHUNK
    ) -> None:
        self._db = db
        self._retention = retention
        self._chunk = chunk

    async def prune(self, now: datetime, counts: dict[str, int]) -> None:
        """Delete what is older than the retention at ``now``, adding each committed chunk
        to ``counts`` as it goes (so what an interrupted pass deleted is still counted).
        Stops early when another worker holds the lock."""
        for table in TABLES:  # every table in the counts, so the log line keeps one shape
            counts.setdefault(table, 0)
        processed_cutoff = now - self._retention.processed
        if not await self._prune_by_time(_PROCESSED, PROCESSED, processed_cutoff, counts):
            return
        idempotency_cutoff = now - self._retention.idempotency
        if not await self._prune_by_time(_IDEMPOTENCY, IDEMPOTENCY, idempotency_cutoff, counts):
            return
        await self._prune_by_time(_TIMERS, TIMERS, processed_cutoff, counts)

    async def _prune_by_time(
        self, sql: str, table: str, cutoff: datetime, counts: dict[str, int]
    ) -> bool:
        start = _BEGINNING
        while True:
            rows = await self._locked(sql, cutoff, self._chunk, start)
            if rows is None:
                return False
            found, deleted, reached = rows[0]
            counts[table] += deleted
            if found < self._chunk:
                return True
            start = reached

    async def _locked(self, sql: str, *args: object) -> list[asyncpg.Record] | None:
        """One chunk in a transaction of its own; None when another worker is pruning."""
        async with self._db.acquire() as conn, conn.transaction():
            if not await conn.fetchval(_LOCK):
                return None
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows
