"""The loops beside the consumer on the memory store: the timer loop fires what is due, the
delivery loop wakes on a commit's signal (not its poll) and settles the request."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from command_support import (
    MEGAN,
    NOW,
    catalog_with_outside_resources,
    create,
    example_catalog,
    rid,
    sales_for,
)

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain.catalog import Catalog
from accessflow.entrypoints.delivery_loop import DeliveryLoop
from accessflow.entrypoints.timers import TimerLoop
from accessflow.service.connectors import GrantRequest, GrantResult
from accessflow.service.delivery_rounds import RetryPolicy
from accessflow.service.handlers import handle_batch

FALCON = "5b98f958-0dea-4a5b-836e-109dccbd530c"
FALCON_POLICY = "c5f7847f-83a8-4315-a754-d94a6f39b875"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def states(uow: InMemoryUnitOfWork) -> list[str]:
    return [str(h.state) for h in uow.history_of(rid(1))]


async def test_the_timer_loop_fires_a_scheduled_start_once_its_time_comes() -> None:
    uow = InMemoryUnitOfWork(example_catalog())
    start = NOW + timedelta(hours=1)
    body = {
        "requestType": "userAdd",
        "schedule": {"startDateTime": start.isoformat()},
        "assignment": {
            "accessPackageId": FALCON,
            "assignmentPolicyId": FALCON_POLICY,
            "targetId": MEGAN,
        },
    }
    await handle_batch([create("c1", rid(1), body)], uow, NOW)
    clock = Clock(NOW)
    stop = asyncio.Event()
    loop = TimerLoop(uow, clock, stop.set, poll_seconds=0.01)
    running = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(0.05)  # several polls before the start: nothing fires
    assert states(uow) == ["submitted", "scheduled"]

    clock.now = start
    await asyncio.wait_for(running, 5)  # the firing's commit calls stop.set
    assert states(uow) == ["submitted", "scheduled", "delivering", "delivered"]


class Granting:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def grant(self, grant: GrantRequest) -> GrantResult:
        self.calls.append(grant.resource_scope_id)
        return GrantResult.succeeded(status=200)

    async def revoke(self, grant: GrantRequest) -> GrantResult:
        raise AssertionError("nothing is removed here")


def outside_catalog() -> Catalog:
    return catalog_with_outside_resources("SaasApp")


async def test_the_delivery_loop_wakes_on_a_commit_and_settles_the_request() -> None:
    uow = InMemoryUnitOfWork(outside_catalog())
    connector = Granting()
    stop = asyncio.Event()
    loop = DeliveryLoop(uow, connector, lambda: NOW, RetryPolicy(), stop.set, poll_seconds=3600)
    running = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(0.01)  # idle: nothing was due at its first look

    await handle_batch([create("c1", rid(1), sales_for())], uow, NOW)
    loop.wake()  # what the processor calls after a commit that wrote waiting grants
    await asyncio.wait_for(running, 5)  # settling calls on_committed: stop.set

    assert connector.calls == ["SaasApp-scope"]
    assert states(uow) == ["submitted", "delivering", "delivered"]
    assert loop.recorded_total == 1
