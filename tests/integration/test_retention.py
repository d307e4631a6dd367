"""The housekeeping pass on real PostgreSQL: exactly what is past its retention goes, in
chunks; the history keeps its causeType; one worker prunes at a time; old ledger rows are
found through an index."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.migrate import migrate
from accessflow.adapters.postgres.queries_history import get_history
from accessflow.adapters.postgres.retention import Pruner, Retention
from accessflow.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime(2031, 3, 1, 12, tzinfo=UTC)  # the pass's fixed clock
RETENTION = Retention(processed=timedelta(days=30), idempotency=timedelta(hours=24))
OLD = NOW - timedelta(days=31)
FRESH = NOW - timedelta(days=29)
CREATE = "accessflow.assignmentRequest.create"
REQUEST = uuid.UUID("6f1e4c1a-0000-4000-8000-000000000001")
NOTHING = {"processed_commands": 0, "api_idempotency": 0, "timers": 0}


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    conn = await pool.connect(settings)
    try:
        await migrate(conn, settings.database_schema)
    finally:
        await conn.close()
    db = await pool.create_pool(settings)
    try:
        yield db
    finally:
        await db.close()


async def _seed(db: asyncpg.Pool) -> None:
    """Old and fresh rows in each table, and a request whose first transition was caused by
    an old command (so its ledger row goes, and its causeType must stay)."""
    await db.execute(
        "INSERT INTO assignment_requests (id, request_type, state, status, sequence, "
        "created_at, document) VALUES ($1, 'userAdd', 'delivered', 'Delivered', 1, $2, $3)",
        REQUEST,
        OLD,
        {"id": str(REQUEST)},
    )
    await db.execute(
        "INSERT INTO request_history (request_id, sequence, state, status, causation_id, "
        "occurred_at) VALUES ($1, 1, 'submitted', 'Accepted', 'old-0', $2)",
        REQUEST,
        OLD,
    )
    ledger = [(f"old-{n}", OLD - timedelta(minutes=n)) for n in range(7)]
    ledger += [(f"fresh-{n}", FRESH + timedelta(minutes=n)) for n in range(3)]
    await db.executemany(
        "INSERT INTO processed_commands (command_id, command_type, request_id, outcome, "
        "processed_at) VALUES ($1, $3, $4, 'handled', $2)",
        [(command_id, at, CREATE, REQUEST) for command_id, at in ledger],
    )
    keys = [
        ("old-done", "done", NOW - timedelta(hours=25)),
        ("old-pending", "pending", NOW - timedelta(hours=48)),
        ("fresh-done", "done", NOW - timedelta(hours=23)),
        ("fresh-pending", "pending", NOW - timedelta(minutes=1)),
    ]
    await db.executemany(
        "INSERT INTO api_idempotency (caller_id, key, body_hash, request_id, command, state, "
        "created_at) VALUES ('megan', $1, 'h', $2, '{}', $3, $4)",
        [(key, uuid.uuid4(), state, at) for key, state, at in keys],
    )
    timers = [
        ("fired-old-0", OLD, OLD),
        ("fired-old-1", OLD, OLD - timedelta(days=1)),
        ("fired-old-2", OLD, OLD - timedelta(days=2)),
        ("fired-fresh", OLD, FRESH),
        ("unfired-old", OLD, None),  # due long ago, never fired (nothing to prune)
    ]
    await db.executemany(
        "INSERT INTO timers (id, kind, request_id, due_at, payload, fired_at) "
        "VALUES ($1, $2, $3, $4, '{}', $5)",
        [(uuid.uuid5(REQUEST, kind), kind, REQUEST, due, fired) for kind, due, fired in timers],
    )


async def _column(db: asyncpg.Pool, sql: str) -> list[object]:
    return sorted(row[0] for row in await db.fetch(sql))


async def test_a_pass_deletes_exactly_what_is_past_its_retention(db: asyncpg.Pool) -> None:
    await _seed(db)
    pruner = Pruner(db, RETENTION, chunk=2)  # 7 old ledger rows: four chunks

    counts: dict[str, int] = {}
    await pruner.prune(NOW, counts)

    assert counts == {"processed_commands": 7, "api_idempotency": 2, "timers": 3}
    assert await _column(db, "SELECT command_id FROM processed_commands") == [
        "fresh-0",
        "fresh-1",
        "fresh-2",
    ]
    assert await _column(db, "SELECT key FROM api_idempotency") == ["fresh-done", "fresh-pending"]
    assert await _column(db, "SELECT kind FROM timers") == ["fired-fresh", "unfired-old"]

    again: dict[str, int] = {}
    await pruner.prune(NOW, again)
    assert again == NOTHING


async def test_the_history_keeps_the_cause_type_of_a_pruned_command(db: asyncpg.Pool) -> None:
    """causeType came from the ledger row; pruning copies it onto the history row first."""
    await _seed(db)
    async with db.acquire() as conn:
        before = await get_history(conn, [REQUEST])
    await Pruner(db, RETENTION, chunk=2).prune(NOW, {})
    async with db.acquire() as conn:
        after = await get_history(conn, [REQUEST])
        ledger = await conn.fetchval(
            "SELECT count(*) FROM processed_commands WHERE command_id = 'old-0'"
        )
    assert ledger == 0
    assert [row.cause_type for row in before[REQUEST]] == [CREATE]
    assert after == before


async def test_one_worker_prunes_at_a_time(db: asyncpg.Pool) -> None:
    """While another worker holds the schema's housekeeping lock, a pass deletes nothing."""
    await _seed(db)
    async with db.acquire() as other, other.transaction():
        await other.execute(
            "SELECT pg_advisory_xact_lock(hashtext('accessflow.housekeeping:' || current_schema()))"
        )
        skipped: dict[str, int] = {}
        await Pruner(db, RETENTION).prune(NOW, skipped)
    assert skipped == NOTHING
    assert await db.fetchval("SELECT count(*) FROM processed_commands") == 10

    counts: dict[str, int] = {}
    await Pruner(db, RETENTION).prune(NOW, counts)
    assert counts["processed_commands"] == 7


async def test_old_ledger_rows_are_found_through_the_index(db: asyncpg.Pool) -> None:
    """The pass reads the oldest ledger rows in order from the processed_at index, not by
    scanning a ledger that holds a row for every command (6,000 here, analyzed)."""
    await db.execute(
        "INSERT INTO processed_commands (command_id, command_type, outcome, processed_at) "
        "SELECT 'c' || n, 'create', 'handled', $1::timestamptz + n * interval '1 second' "
        "FROM generate_series(1, 6000) AS n",
        NOW - timedelta(days=30, hours=1),
    )
    await db.execute("ANALYZE processed_commands")
    plan = "\n".join(
        row[0]
        for row in await db.fetch(
            "EXPLAIN SELECT command_id FROM processed_commands WHERE processed_at < $1 "
            "AND processed_at >= $2 ORDER BY processed_at LIMIT 500",
            NOW - RETENTION.processed,
            datetime.min.replace(tzinfo=UTC),
        )
    )
    assert "processed_commands_processed_at" in plan, plan
    assert "Seq Scan" not in plan, plan
