"""SQL for parked events: outbox rows the events topic will never accept, set aside with
their reason (the relay), listed, moved back, or dropped (an operator).

Parking and moving back take one transaction-scoped advisory lock per schema, so an
operator's retry and the relay's parking never interleave: a row parked behind another
(``BehindParked``) is parked only if an earlier event of its request is still parked when
its batch settles; otherwise it stays in the outbox and goes out after the retried ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from accessflow.adapters.postgres.pool import Conn
from accessflow.service.publishing import BEHIND_PARKED as BEHIND_PARKED
from accessflow.service.publishing import Parking as Parking

_COLUMNS = "id, event_id, event_type, key, payload, created_at"


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    id: int
    event_id: str
    event_type: str
    key: str
    size: int
    reason: str
    error_message: str
    created_at: datetime
    parked_at: datetime


async def _lock(conn: Conn, schema: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"accessflow.parked:{schema}")


async def settle(
    conn: Conn,
    schema: str,
    *,
    sent: Sequence[int],
    refused: Sequence[Parking],
    behind: Sequence[Parking],
) -> list[int]:
    """In one transaction: park ``refused``, then each of ``behind`` that still has an
    earlier parked event of its key, and delete those and ``sent`` from the outbox.
    Returns the ids parked; a ``behind`` row not among them stays in the outbox."""
    async with conn.transaction():
        await _lock(conn, schema)
        parked = await _park(conn, refused, only_behind_parked=False)
        parked += await _park(conn, behind, only_behind_parked=True)
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [*sent, *parked])
    return parked


async def _park(conn: Conn, rows: Sequence[Parking], *, only_behind_parked: bool) -> list[int]:
    if not rows:
        return []
    condition = (
        "WHERE EXISTS (SELECT 1 FROM parked_events q WHERE q.key = o.key AND q.id < o.id)"
        if only_behind_parked
        else ""
    )
    # The row moves inside the database: a parked payload may be megabytes.
    records = await conn.fetch(
        f"INSERT INTO parked_events ({_COLUMNS}, reason, error_message) "
        f"SELECT o.id, o.event_id, o.event_type, o.key, o.payload, o.created_at, "
        f"  p.reason, p.error_message "
        f"FROM outbox o JOIN unnest($1::bigint[], $2::text[], $3::text[]) "
        f"  AS p(id, reason, error_message) ON p.id = o.id "
        f"{condition} ORDER BY o.id RETURNING id",
        [r.outbox_id for r in rows],
        [r.reason for r in rows],
        [r.error_message for r in rows],
    )
    return [int(record["id"]) for record in records]


async def list_parked(conn: Conn, ids: Sequence[int] | None = None) -> list[ParkedEvent]:
    """Parked events in their original (outbox) order; all, or those of ``ids``."""
    rows = await conn.fetch(
        "SELECT id, event_id::text, event_type, key, length(payload) AS size, reason, "
        "error_message, created_at, parked_at FROM parked_events "
        "WHERE $1::bigint[] IS NULL OR id = ANY($1::bigint[]) ORDER BY id",
        None if ids is None else list(ids),
    )
    return [ParkedEvent(*row) for row in rows]


async def retry(conn: Conn, schema: str, ids: Sequence[int] | None) -> list[int]:
    """Move parked events (all, or those of ``ids``) back into the outbox under their
    original ids, so the relay publishes them in their original order. Returns the ids."""
    async with conn.transaction():
        await _lock(conn, schema)
        records = await conn.fetch(
            f"WITH moved AS (DELETE FROM parked_events "
            f"  WHERE $1::bigint[] IS NULL OR id = ANY($1::bigint[]) RETURNING {_COLUMNS}) "
            f"INSERT INTO outbox ({_COLUMNS}) OVERRIDING SYSTEM VALUE "
            f"SELECT {_COLUMNS} FROM moved ORDER BY id RETURNING id",
            None if ids is None else list(ids),
        )
    return sorted(int(record["id"]) for record in records)


async def drop(conn: Conn, schema: str, ids: Sequence[int] | None) -> list[ParkedEvent]:
    """Delete parked events for good (all, or those of ``ids``); returns what was deleted."""
    async with conn.transaction():
        await _lock(conn, schema)
        dropped = await list_parked(conn, ids)
        await conn.execute(
            "DELETE FROM parked_events WHERE id = ANY($1::bigint[])", [e.id for e in dropped]
        )
    return dropped
