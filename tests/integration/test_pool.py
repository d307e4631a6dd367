"""A pooled connection comes back clean: whatever transaction its last user left open is
rolled back, although the pool skips asyncpg's reset query (one round trip per batch)."""

from __future__ import annotations

import pytest

from accessflow.adapters.postgres import pool
from accessflow.settings import Settings

pytestmark = pytest.mark.integration


async def test_a_transaction_left_open_is_rolled_back_on_release(settings: Settings) -> None:
    one = settings.model_copy(update={"database_pool_min_size": 1, "database_pool_max_size": 1})
    connections = await pool.create_pool(one)
    try:
        async with connections.acquire() as conn:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"')
            await conn.execute("CREATE TABLE pool_probe (n int)")
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO pool_probe VALUES (1)")
            first_pid = conn.get_server_pid()
        async with connections.acquire() as conn:
            assert conn.get_server_pid() == first_pid  # the same connection, reused
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM pool_probe") == 0
    finally:
        await connections.close()
