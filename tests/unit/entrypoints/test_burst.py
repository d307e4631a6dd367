"""The whole worker as bootstrap wires it, over the memory broker and the memory store:
``--burst`` (commands in, events out), and a failing loop that still lets the relay drain."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from command_support import ADELE, ALEX, ISAIAH, KAYO, MEGAN, NESTOR, PATTI, sales_for
from runtime_support import MemoryWorld, burst, directory_connector

from accessflow import bootstrap
from accessflow.service.broker import Consumer, Partition, Record
from accessflow.service.commands import create_command

USERS = [ADELE, ALEX, ISAIAH, KAYO, MEGAN, NESTOR, PATTI]


async def test_a_burst_run_delivers_every_request_and_publishes_its_events_in_order() -> None:
    world = MemoryWorld()
    commands = [create_command(user, sales_for(user), source="urn:test") for user in USERS]
    await world.submit(*commands)

    async with directory_connector() as connector:
        await burst(world, connector)

    states = world.states()
    assert set(states) == {command["subject"] for command in commands}
    for published in states.values():
        assert published[0] == "submitted"
        assert published[-1] == "delivered"
    sequences = [
        e["data"]["sequence"]
        for e in world.events()
        if e["type"] == "accessflow.assignmentRequest.stateChanged"
        and e["subject"] == commands[0]["subject"]
    ]
    assert sequences == sorted(sequences)
    assert world.uow.outbox_events() == []  # everything committed was published
    ends = {r.partition: r.offset + 1 for r in world.broker.records("commands")}
    assert world.committed() == ends  # and every command's offset committed
    assert world.dead_letters() == []


class FailsOnSecondFetch:
    """A consumer whose broker breaks for good after the first batch (not an outage)."""

    def __init__(self, inner: Consumer) -> None:
        self._inner = inner
        self.fetches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def fetch(self, timeout_ms: int) -> dict[Partition, list[Record]]:
        self.fetches += 1
        if self.fetches > 1:
            raise RuntimeError("the consumer broke")
        return await self._inner.fetch(timeout_ms)


async def test_a_failing_consumer_stops_the_worker_and_the_relay_still_drains_its_events() -> None:
    world = MemoryWorld()
    commands = [create_command(user, sales_for(user), source="urn:test") for user in USERS]
    await world.submit(*commands)
    runtime = world.runtime()
    inner = runtime.consumer()
    runtime.consumer = lambda: FailsOnSecondFetch(inner)  # type: ignore[assignment,return-value]

    async with directory_connector() as connector:
        runtime.connector = connector
        with pytest.raises(RuntimeError, match="the consumer broke"):
            await asyncio.wait_for(
                bootstrap.serve_worker(runtime, asyncio.Event(), world.health, world.metrics), 10
            )

    assert set(world.states()) == {command["subject"] for command in commands}
    assert world.uow.outbox_events() == []  # the relay published everything on its way out


async def test_a_burst_run_rides_out_a_broker_that_fails_fetches() -> None:
    world = MemoryWorld()
    commands = [create_command(user, sales_for(user), source="urn:test") for user in USERS]
    await world.submit(*commands)
    world.broker.fail("fetch", times=2)  # (failed sends: test_relay, test_worker_loop)

    async with directory_connector() as connector:
        await burst(world, connector)

    assert set(world.states()) == {command["subject"] for command in commands}
    assert world.uow.outbox_events() == []
