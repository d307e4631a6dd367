"""The API's read model and idempotency keys behave alike over the memory store and over
PostgreSQL: the unit tests of the API's use cases run on the first, the API on the second."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from command_support import ALEX, MEGAN, NOW, create, finance_for_megan, rid
from store_support import Harness, PgProbe

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.adapters.memory_read_model import InMemoryReadModel
from accessflow.adapters.postgres.read_model import PgReadModel
from accessflow.adapters.postgres.store import PgUnitOfWork
from accessflow.service.handlers import handle_batch

FRESH = timedelta(minutes=2)
#: Every claim is older than "a second from now": stale at once, on either clock.
AT_ONCE = timedelta(seconds=-1)


@pytest.fixture
def read_model(harness: Harness) -> Any:
    if isinstance(harness.uow, InMemoryUnitOfWork):
        return InMemoryReadModel(harness.uow)
    assert isinstance(harness.probe, PgProbe)
    assert isinstance(harness.uow, PgUnitOfWork)
    return PgReadModel(harness.probe.db, harness.uow)


async def test_a_recorded_request_reads_back_as_the_worker_wrote_it(
    harness: Harness, read_model: Any
) -> None:
    await handle_batch([create("c1", rid(1), finance_for_megan())], harness.uow, NOW)
    row = await read_model.request(rid(1))
    assert row is not None
    assert (row.id, row.state, row.created_at, row.completed_at) == (
        rid(1),
        "pendingApproval",
        NOW,
        None,
    )
    assert (row.requestor_id, row.target_id) == (MEGAN, MEGAN)
    assert row.document["id"] == str(rid(1))
    assert row.document["state"] == "pendingApproval"
    assert row.approval["stages"][0]["approvers"] == [ALEX]
    assert await read_model.request(uuid.uuid4()) is None


async def test_the_view_is_the_workers(harness: Harness, read_model: Any) -> None:
    await handle_batch([create("c1", rid(1), finance_for_megan())], harness.uow, NOW)
    view = await read_model.view({MEGAN.upper()}, set(), set())
    assert view.manager_of(MEGAN) == ALEX
    assert view.user(ALEX) is not None  # the manager chain, as for requestorManager stages
    assert view.open_request_packages(MEGAN) != frozenset()


async def test_a_key_is_claimed_once_then_completed(read_model: Any) -> None:
    request_id = uuid.uuid4()
    command, response = {"id": "c-1"}, {"id": str(request_id)}
    assert await read_model.claim(MEGAN, "k", "h", request_id, command, response)
    assert not await read_model.claim(MEGAN.upper(), "k", "h", uuid.uuid4(), {}, {})
    pending = await read_model.find(MEGAN.upper(), "k", FRESH)
    assert pending is not None
    assert (pending.request_id, pending.body_hash, pending.state, pending.stale) == (
        request_id,
        "h",
        "pending",
        False,
    )
    assert (pending.command, pending.response) == (command, response)
    assert not await read_model.take_over(MEGAN, "k", FRESH)  # not stale yet
    await read_model.complete(MEGAN, "k")
    done = await read_model.find(MEGAN, "k", FRESH)
    assert done is not None
    assert done.state == "done"
    await read_model.release(MEGAN, "k", request_id)  # a done key is kept
    assert await read_model.find(MEGAN, "k", FRESH) is not None
    assert await read_model.find("someone-else", "k", FRESH) is None


async def test_a_released_claim_frees_the_key(read_model: Any) -> None:
    request_id = uuid.uuid4()
    await read_model.claim(MEGAN, "k", "h", request_id, {}, {})
    await read_model.release(MEGAN, "k", uuid.uuid4())  # another request's release: kept
    assert await read_model.find(MEGAN, "k", FRESH) is not None
    await read_model.release(MEGAN, "k", request_id)
    assert await read_model.find(MEGAN, "k", FRESH) is None
    assert await read_model.claim(MEGAN, "k", "h", uuid.uuid4(), {}, {})


async def test_a_stale_claim_is_taken_over_once(read_model: Any) -> None:
    await read_model.claim(MEGAN, "k", "h", uuid.uuid4(), {}, {})
    stale = await read_model.find(MEGAN, "k", AT_ONCE)
    assert stale is not None
    assert stale.stale
    assert await read_model.take_over(MEGAN, "k", AT_ONCE)
    assert not await read_model.take_over(MEGAN, "k", FRESH)  # renewed by the take-over
    await read_model.complete(MEGAN, "k")
    assert not await read_model.take_over(MEGAN, "k", AT_ONCE)  # done: never taken over
