"""Migrations apply once, take turns when run concurrently, and refuse edited history."""

from __future__ import annotations

import asyncio

import pytest

from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.migrate import MigrationError, discover, migrate
from accessflow.settings import Settings


async def _tables(settings: Settings) -> set[str]:
    conn = await pool.connect(settings)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            settings.database_schema,
        )
    finally:
        await conn.close()
    return {r["table_name"] for r in rows}


async def test_migrate_twice_is_a_no_op(settings: Settings) -> None:
    """The first run applies every migration; the second applies none and changes nothing."""
    conn = await pool.connect(settings)
    try:
        first = await migrate(conn, settings.database_schema)
        tables_after_first = await _tables(settings)
        second = await migrate(conn, settings.database_schema)
    finally:
        await conn.close()
    assert [m.version for m in first] == [m.version for m in discover()]
    assert second == []
    assert {"assignment_requests", "outbox", "schema_migrations"} <= tables_after_first
    assert await _tables(settings) == tables_after_first


async def test_concurrent_migrations_take_turns(settings: Settings) -> None:
    """Two migrate runs started together: each migration is applied exactly once, no error."""
    conns = [await pool.connect(settings) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(c, settings.database_schema) for c in conns))
        recorded = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for conn in conns:
            await conn.close()
    applied = sorted(m.version for result in results for m in result)
    assert applied == [m.version for m in discover()]
    assert recorded == len(discover())


async def test_an_edited_applied_migration_is_refused(settings: Settings) -> None:
    """If an applied file's checksum no longer matches, migrate raises instead of skipping."""
    conn = await pool.connect(settings)
    try:
        await migrate(conn, settings.database_schema)
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, settings.database_schema)
    finally:
        await conn.close()


async def test_the_outbox_loses_its_publication_mark_and_the_rows_marked_published(
    settings: Settings,
) -> None:
    """Migration 0010 on an outbox that still has ``published_at``: the marked row (already
    published) goes, the unpublished one stays, and so does nothing else."""
    conn = await pool.connect(settings)
    try:
        await migrate(conn, settings.database_schema)
        await conn.execute("ALTER TABLE outbox ADD COLUMN published_at timestamptz")
        await conn.execute(
            "INSERT INTO outbox (event_id, event_type, key, payload, published_at) VALUES "
            "(gen_random_uuid(), 't', 'sent', '', now()), (gen_random_uuid(), 't', 'due', '', NULL)"
        )
        await conn.execute("DELETE FROM schema_migrations WHERE version = 10")
        applied = await migrate(conn, settings.database_schema)
        keys = [r["key"] for r in await conn.fetch("SELECT key FROM outbox")]
        columns = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = 'outbox' AND column_name = 'published_at'",
            settings.database_schema,
        )
    finally:
        await conn.close()
    assert [m.version for m in applied] == [10]
    assert keys == ["due"]
    assert columns == 0
