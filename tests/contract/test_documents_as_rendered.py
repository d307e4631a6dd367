"""PostgreSQL keeps a request's and an assignment's Graph document as rendered: the same
keys in the same order (Graph's property order) as the worker wrote them, which is the
order GET answers in. jsonb sorted keys by length (migration 0008 made them json)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from command_support import NOW, create, rid, sales_for
from store_support import Harness

from accessflow.adapters.postgres import pool
from accessflow.domain.models.requests import to_graph
from accessflow.service.grants import assignment_id_for
from accessflow.service.handlers import handle_batch
from accessflow.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def raw(settings: Settings, postgres_store: Harness) -> AsyncIterator[asyncpg.Connection]:
    conn = await pool.connect(settings)
    try:
        yield conn
    finally:
        await conn.close()


async def test_documents_come_back_in_the_order_they_were_written(
    postgres_store: Harness, raw: asyncpg.Connection
) -> None:
    await handle_batch([create("c1", rid(1), sales_for())], postgres_store.uow, NOW)
    stored = await postgres_store.probe.request(rid(1))
    assignment = await postgres_store.probe.assignment(str(assignment_id_for(rid(1))))
    assert stored is not None
    assert assignment is not None

    request_doc = await raw.fetchval(
        "SELECT document FROM assignment_requests WHERE id = $1", rid(1)
    )
    assignment_doc = await raw.fetchval(
        "SELECT document FROM assignments WHERE id = $1", assignment_id_for(rid(1))
    )
    assert list(request_doc) == list(to_graph(stored.request))
    assert request_doc == to_graph(stored.request)
    assert list(assignment_doc) == list(to_graph(assignment))
    # What is stored is byte for byte what the worker rendered.
    text = await raw.fetchval(
        "SELECT document::text FROM assignment_requests WHERE id = $1", rid(1)
    )
    assert text == orjson.dumps(to_graph(stored.request)).decode()
