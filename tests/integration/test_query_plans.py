"""The batch's reads probe an index per id even before PostgreSQL has statistics.

A fresh deployment's tables are not analyzed until autovacuum gets to them; ``col =
ANY($1)`` was then planned as a full scan, so every batch read every row written so far and
the worker slowed down as it worked. The lookups walk the batch's ids instead (LATERAL …
OFFSET 0); this pins that their plans touch these tables through indexes only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.migrate import migrate
from accessflow.adapters.postgres.store import LOAD_REQUESTS, PROCESSED
from accessflow.adapters.postgres.view import _ASSIGNMENTS, _MEMBERS, _OPEN_ADDS, _TARGETS, _USERS
from accessflow.settings import Settings

pytestmark = pytest.mark.integration

ROWS = 5000
TABLES = (
    "processed_commands",
    "directory_users",
    "group_members",
    "assignments",
    "assignment_requests",
)

_FILL = f"""
INSERT INTO directory_users (id, display_name, mail, user_type, manager_id)
SELECT 'u' || n, 'User ' || n, 'u' || n || '@example.com', 'member',
       CASE WHEN n > 1 THEN 'u' || (n / 2) END
FROM generate_series(1, {ROWS}) AS n;
INSERT INTO group_members (group_id, user_id, source)
SELECT 'g' || (n % 50), 'u' || n, 'catalog' FROM generate_series(1, {ROWS}) AS n;
INSERT INTO processed_commands (command_id, command_type, outcome)
SELECT 'c' || n, 'create', 'handled' FROM generate_series(1, {ROWS}) AS n;
INSERT INTO assignments (id, access_package_id, target_id, state, created_at, updated_at,
    document)
SELECT md5(n::text)::uuid, 'p', 'u' || n, 'delivered', now(), now(), '{{}}'
FROM generate_series(1, {ROWS}) AS n;
INSERT INTO assignment_requests (id, request_type, state, status, target_id,
    access_package_id, sequence, created_at, document)
SELECT md5('r' || n)::uuid, 'userAdd', 'delivered', 'Delivered', 'u' || n, 'p', 3, now(), '{{}}'
FROM generate_series(1, {ROWS}) AS n;
"""


@pytest.fixture
async def filled(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await pool.connect(settings)
    try:
        await migrate(conn, settings.database_schema)
        for table in TABLES:  # no ANALYZE may sneak in between the fill and the plans
            await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
        await conn.execute(_FILL)  # deliberately not analyzed
        yield conn
    finally:
        await conn.close()


def _ids(prefix: str) -> list[str]:
    return [f"{prefix}{n}" for n in range(100, 4100, 40)]


async def _plan(conn: asyncpg.Connection, sql: str, *args: object) -> str:
    rows = await conn.fetch("EXPLAIN " + sql, *args)
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize(
    "name",
    [
        "processed",
        "requests",
        "users",
        "users_by_mail",
        "members",
        "assignments",
        "targets",
        "open_adds",
    ],
)
async def test_batch_reads_use_indexes_without_statistics(
    filled: asyncpg.Connection, name: str
) -> None:
    users = _ids("u")
    assignment_ids = [uuid.UUID(int=n) for n in range(100)]
    queries = {
        "processed": (PROCESSED, [*_ids("c"), "never-seen"]),
        "requests": (LOAD_REQUESTS, [uuid.UUID(int=n) for n in range(100)]),
        "users": (_USERS, users, []),
        "users_by_mail": (_USERS, [], [f"{u}@example.com" for u in users]),
        "members": (_MEMBERS, users, ["g7"]),
        "assignments": (_ASSIGNMENTS, users, assignment_ids),
        "targets": (_TARGETS, assignment_ids),
        "open_adds": (_OPEN_ADDS, users),
    }
    sql, *args = queries[name]
    plan = await _plan(filled, sql, *args)
    for table in TABLES:
        assert f"Seq Scan on {table}" not in plan, plan


async def test_the_old_form_did_scan(filled: asyncpg.Connection) -> None:
    """The control: the same table, the "= ANY" form is planned as a full scan here."""
    plan = await _plan(
        filled,
        "SELECT command_id FROM processed_commands WHERE command_id = ANY($1::text[])",
        _ids("c"),
    )
    assert "Seq Scan on processed_commands" in plan, plan


async def _large_batch_lookup(conn: asyncpg.Connection) -> str:
    # Analyzed, as a directory is once it has been loaded for a while: the recursive CTE's
    # estimate (rows × manager depth) is then what crosses jit_above_cost.
    await conn.execute("ANALYZE directory_users")
    users = [f"u{n}" for n in range(1, 1001)]
    rows = await conn.fetch("EXPLAIN (ANALYZE) " + _USERS, users, [])
    return "\n".join(row[0] for row in rows)


async def test_our_connections_never_jit_a_large_batch(filled: asyncpg.Connection) -> None:
    """A 500-command batch's directory lookup (1,000 users and their managers) is estimated
    costly enough for JIT, which took longer to compile than the query took to run."""
    assert await filled.fetchval("SHOW jit") == "off"
    plan = await _large_batch_lookup(filled)
    assert "JIT:" not in plan, plan


async def test_the_server_default_would_jit_it(filled: asyncpg.Connection) -> None:
    """The control: with PostgreSQL's defaults the same lookup is compiled."""
    await filled.execute("SET jit = on")
    assert await filled.fetchval("SELECT pg_jit_available()"), "this PostgreSQL has no JIT"
    plan = await _large_batch_lookup(filled)
    assert "JIT:" in plan, plan
