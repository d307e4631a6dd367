"""The worker's watch on PostgreSQL: outbox backlog and age, parked events and due grants
for the metrics, and the database half of readiness."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg

from accessflow.adapters.postgres import outbox
from accessflow.adapters.postgres.store import due_grant_stats
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.logs import get_logger

log = get_logger("accessflow.worker")


async def watch_outbox(
    db: asyncpg.Pool, health: Health, metrics: Metrics, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            async with db.acquire() as conn:
                stats = await outbox.stats(conn)
                due, age = await due_grant_stats(conn, datetime.now(UTC))
            metrics.outbox_backlog.set(stats.backlog)
            metrics.outbox_oldest_age.set(stats.oldest_age_seconds)
            metrics.parked_events.set(stats.parked)
            metrics.grants_due.set(due)
            metrics.grants_oldest_due_age.set(age)
            health.database_ok = True
        except Exception as exc:
            health.database_ok = False
            log.warning("outbox.stats_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=5)
