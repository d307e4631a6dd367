"""The asyncpg connection pool, set up once per process by ``bootstrap``."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
import orjson

from accessflow.settings import Settings

#: A connection of its own or one borrowed from the pool: every query helper takes either.
Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json: the Graph documents of requests and assignments, stored as rendered (see
    # migration 0008); its binary form is the JSON text itself.
    await conn.set_type_codec(
        "json",
        encoder=orjson.dumps,
        decoder=orjson.loads,
        schema="pg_catalog",
        format="binary",
    )
    # jsonb in and out through orjson (approvals, reasons, timer payloads, the catalog).
    # Binary format (a version byte, then the JSON) so COPY can carry jsonb columns too.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + orjson.dumps(value),
        decoder=lambda data: orjson.loads(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Returning a connection to the pool: asyncpg has already rolled back any open
    transaction; its default reset query (UNLISTEN, advisory unlock, RESET ALL) would cost
    a round trip per batch for state no pool user creates. Session locks and LISTEN live on
    connections of their own (the relay's lease, migrations), never on a pooled one."""


async def connect(settings: Settings) -> asyncpg.Connection:
    """One connection with the same session settings as the pool's (for migrate and tools)."""
    conn: asyncpg.Connection = await asyncpg.connect(
        settings.dsn,
        server_settings=_server_settings(settings),
        command_timeout=settings.database_command_timeout_seconds,
        timeout=settings.database_command_timeout_seconds,
    )
    await _init_connection(conn)
    return conn


async def create_pool(settings: Settings) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.dsn,
        min_size=settings.database_pool_min_size,
        max_size=settings.database_pool_max_size,
        server_settings=_server_settings(settings),
        init=_init_connection,
        reset=_keep_session,
        command_timeout=settings.database_command_timeout_seconds,
        timeout=settings.database_command_timeout_seconds,
    )
    assert pool is not None  # create_pool only returns None when awaited wrongly
    return pool


def _server_settings(settings: Settings) -> dict[str, str]:
    return {
        "search_path": settings.database_schema,
        "application_name": "accessflow",
        # Every query here is a short index-probing OLTP statement. JIT compiles a plan whose
        # *estimated* cost passes jit_above_cost; the directory lookup's recursive CTE does at
        # a 500-command batch (its row estimate is 40x too high) and spent 16 ms compiling to
        # run 5 ms. PostgreSQL's docs advise JIT for long analytical queries, not this.
        "jit": "off",
    }
