"""The worker loop on the memory broker and the memory store: what it commits around a
rebalance, where a poison record goes, and how it drains on stop."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from broker_support import Revocations
from command_support import ADELE, ALEX, ISAIAH, KAYO, MEGAN, NESTOR, PATTI, sales_for
from runtime_support import MemoryWorld

from accessflow import bootstrap
from accessflow.adapters.kafka.batches import partition_for
from accessflow.adapters.memory_producers import MemoryRecordSender
from accessflow.entrypoints.batch_processing import CommandProcessor
from accessflow.entrypoints.worker import PollResult, Worker
from accessflow.service.broker import Consumer, Partition, Record
from accessflow.service.commands import create_command

USERS = [ADELE, ALEX, ISAIAH, KAYO, MEGAN, NESTOR, PATTI]


def spread_commands(partitions: int = 3) -> list[dict[str, Any]]:
    """A create per user, their request ids chosen so every partition gets some."""
    ids = [uuid.UUID(int=n) for n in range(1, 200)]
    by_partition: dict[int, list[uuid.UUID]] = {}
    for request_id in ids:
        by_partition.setdefault(partition_for(str(request_id).encode(), [0, 1, 2]), []).append(
            request_id
        )
    chosen = [by_partition[n % partitions][n // partitions] for n in range(len(USERS))]
    return [
        create_command(user, sales_for(user), source="urn:test", request_id=request_id)
        for user, request_id in zip(USERS, chosen, strict=True)
    ]


def worker(world: MemoryWorld, consumer: Consumer, processor: Any = None) -> Worker:
    processor = processor or CommandProcessor(world.uow, world.metrics, bootstrap.utc_now)
    return Worker(
        world.settings,
        processor,
        world.health,
        world.metrics,
        consumer=consumer,
        dead_letters=MemoryRecordSender(world.broker),
    )


def processed_partitions(world: MemoryWorld) -> set[int]:
    """The partitions whose commands the store recorded."""
    ids = {c.command_id for c in world.uow.processed_commands()}
    records = world.broker.records("commands")
    return {r.partition for r in records if orjson.loads(r.value or b"{}")["id"] in ids}


class StopsAfterCommit:
    """A member that sets ``stop`` once its first commit is through."""

    def __init__(self, inner: Consumer, stop: asyncio.Event) -> None:
        self._inner = inner
        self._stop = stop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def commit(self, offsets: dict[Partition, int]) -> None:
        await self._inner.commit(offsets)
        self._stop.set()


class JoinedAfterFetch(StopsAfterCommit):
    """Its first non-empty fetch is followed by another member joining the group before the
    worker takes the batch in hand: a rebalance between fetch and processing."""

    def __init__(self, inner: Consumer, stop: asyncio.Event, joiner: Consumer) -> None:
        super().__init__(inner, stop)
        self.joiner = joiner
        self.joined = False
        self.kept: set[Partition] = set()
        self.taken: set[Partition] = set()

    async def fetch(self, timeout_ms: int) -> dict[Partition, list[Record]]:
        batch = await self._inner.fetch(timeout_ms)
        if batch and not self.joined:
            self.joined = True
            await self.joiner.start(Revocations())
            self.kept, self.taken = self._inner.assignment(), self.joiner.assignment()
        return batch


async def test_a_rebalance_between_fetch_and_processing_commits_only_what_it_still_owns() -> None:
    world = MemoryWorld()
    await world.submit(*spread_commands())
    topic, group = world.settings.commands_topic, world.settings.consumer_group_id
    joiner = world.broker.consumer(topic, group)
    stop = asyncio.Event()
    consumer = JoinedAfterFetch(world.broker.consumer(topic, group), stop, joiner)
    await asyncio.wait_for(worker(world, consumer).run(stop), 5)  # type: ignore[arg-type]

    kept = {p.partition for p in consumer.kept}
    taken = {p.partition for p in consumer.taken}
    assert kept
    assert taken
    assert kept.isdisjoint(taken)
    assert set(world.committed()) <= kept  # nothing committed for the joiner's partitions
    assert processed_partitions(world) == kept  # their records are left to their new owner
    await joiner.stop()


async def test_a_poison_record_goes_to_the_dlq_and_its_partition_moves_on() -> None:
    world = MemoryWorld()
    [command] = spread_commands()[:1]
    key = command["subject"].encode()
    await world.submit(b"{not json", key=key)
    await world.submit(command)
    world.broker.fail("send", times=2)  # the DLQ is away for a moment: waited for, not skipped

    stop = asyncio.Event()
    consumer = StopsAfterCommit(world.broker.consumer("commands", "workers"), stop)
    await asyncio.wait_for(worker(world, consumer).run(stop), 10)  # type: ignore[arg-type]

    [letter] = world.dead_letters()
    assert letter.value == b"{not json"
    headers = dict(letter.headers)
    assert headers["accessflow-error-code"] == b"NotJson"
    assert headers["accessflow-original-offset"] == b"0"
    partition = partition_for(key, [0, 1, 2])
    assert world.committed() == {partition: 2}  # past the poison record and the command
    assert [c.command_id for c in world.uow.processed_commands()] == [command["id"]]


class Held:
    """A processor whose batch waits until released (the in-flight batch on SIGTERM)."""

    def __init__(self, inner: CommandProcessor) -> None:
        self._inner = inner
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def process(self, records: list[Record]) -> PollResult:
        self.started.set()
        await self.release.wait()
        return await self._inner.process(records)


async def test_stop_during_a_batch_finishes_it_and_commits_before_leaving() -> None:
    world = MemoryWorld()
    commands = spread_commands()
    await world.submit(*commands)
    held = Held(CommandProcessor(world.uow, world.metrics, bootstrap.utc_now))
    consumer = world.broker.consumer("commands", "workers")
    stop = asyncio.Event()
    running = asyncio.create_task(worker(world, consumer, held).run(stop))
    await held.started.wait()
    stop.set()  # SIGTERM while the batch is in flight
    await asyncio.sleep(0)
    held.release.set()
    await asyncio.wait_for(running, 5)

    ends = {r.partition: r.offset + 1 for r in world.broker.records("commands")}
    assert world.committed() == ends
    assert len(world.uow.processed_commands()) == len(commands)
    assert world.health.stopping


async def test_a_member_joining_mid_batch_waits_for_its_commit_and_starts_after_it() -> None:
    world = MemoryWorld()
    await world.submit(*spread_commands())
    held = Held(CommandProcessor(world.uow, world.metrics, bootstrap.utc_now))
    stop = asyncio.Event()
    first = world.broker.consumer("commands", "workers")
    running = asyncio.create_task(worker(world, first, held).run(stop))
    await held.started.wait()
    second = world.broker.consumer("commands", "workers")
    joining = asyncio.create_task(second.start(Revocations()))
    await asyncio.sleep(0.01)
    assert not joining.done()  # revocation waits for the in-flight batch
    held.release.set()
    await asyncio.wait_for(joining, 5)
    ends = {r.partition: r.offset + 1 for r in world.broker.records("commands")}
    assert world.committed() == ends  # committed before the partitions moved
    assert await second.fetch(timeout_ms=10) == {}  # the new owner has nothing to redo
    stop.set()
    await running
    await second.stop()
