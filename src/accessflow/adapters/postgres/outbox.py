"""SQL for the transactional outbox: rows are written by the worker's transaction and
published by exactly one relay at a time."""

from __future__ import annotations

from dataclasses import dataclass

from accessflow.adapters.postgres.pool import Conn
from accessflow.service.publishing import OutboxRow as OutboxRow  # where it used to live

NOTIFY_CHANNEL = "accessflow_outbox"


@dataclass(frozen=True, slots=True)
class OutboxStats:
    backlog: int
    oldest_age_seconds: float
    parked: int = 0


async def try_lead(conn: Conn, schema: str) -> bool:
    """Take the relay lease for ``schema``; held until this connection closes.

    One relay at a time keeps every request's events in sequence order on the topic; a
    crashed relay's connection closes and the lease passes to the next one.
    """
    got: bool = await conn.fetchval(
        "SELECT pg_try_advisory_lock(hashtext($1))", f"accessflow.relay:{schema}"
    )
    return got


async def fetch_unpublished(conn: Conn, limit: int) -> list[OutboxRow]:
    """The oldest unpublished rows, each saying whether an earlier event of its key is parked.

    The parked-events probe runs only when any event is parked (an init plan checked once):
    per row it cost a third of the fetch on an empty table.
    """
    rows = await conn.fetch(
        "SELECT id, event_id::text, event_type, key, payload, "
        "(SELECT EXISTS (SELECT 1 FROM parked_events)) AND EXISTS ("
        "  SELECT 1 FROM parked_events p WHERE p.key = o.key AND p.id < o.id) "
        "FROM outbox o ORDER BY id LIMIT $1",
        limit,
    )
    return [OutboxRow(*row) for row in rows]


async def delete_published(conn: Conn, ids: list[int]) -> None:
    """Published rows go at once: a publication mark would write a new version of each row
    (its payload too) and a delete later, twice the WAL for rows nobody reads. A crash
    before this statement leaves them to be published again with the same ids."""
    await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", ids)


async def stats(conn: Conn) -> OutboxStats:
    row = await conn.fetchrow(
        "SELECT count(*) AS backlog, "
        "coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age, "
        "(SELECT count(*) FROM parked_events) AS parked "
        "FROM outbox"
    )
    assert row is not None
    return OutboxStats(int(row["backlog"]), float(row["age"]), int(row["parked"]))
