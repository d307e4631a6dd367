"""The composition root opens what a process needs on the real services and closes it in
reverse; a database handed in stays open; an unreachable one is waited for until stop."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from accessflow import bootstrap
from accessflow.adapters.postgres.pool import create_pool
from accessflow.entrypoints.retry import Stopping
from accessflow.settings import Settings


async def test_the_worker_runtime_is_built_and_closed(settings: Settings) -> None:
    async with bootstrap.Runtime.open(settings, bootstrap.WORKER, stop=asyncio.Event()) as runtime:
        assert runtime.pool is not None
        assert runtime.uow is not None
        assert runtime.connector is not None
        assert await runtime.pool.fetchval("SELECT 1") == 1
        pool = runtime.pool
    assert pool.is_closing()


async def test_a_database_handed_in_is_used_and_left_open(settings: Settings) -> None:
    db = await create_pool(settings)
    try:
        async with bootstrap.Runtime.open(settings, bootstrap.API, db=db) as runtime:
            assert runtime.pool is db
        assert not db.is_closing()
    finally:
        await db.close()


async def test_an_unreachable_database_is_waited_for_until_stop(settings: Settings) -> None:
    away = settings.model_copy(
        update={"database_url": SecretStr("postgresql://accessflow@127.0.0.1:9/accessflow")}
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    with pytest.raises(Stopping):
        async with bootstrap.Runtime.open(away, bootstrap.API, stop=stop):
            raise AssertionError("nothing is built without the database")
