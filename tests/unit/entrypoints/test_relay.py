"""The outbox relay on the memory broker and the memory store's outbox: events go out in
order, an event the topic refuses is parked (and what follows it for the same request), and
a relay that dies between publishing and settling publishes again, with the same ids."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence

import orjson
from command_support import KAYO, MEGAN, NOW, create, rid, sales_for
from runtime_support import MemoryWorld

from accessflow.adapters.memory_outbox import MemoryOutbox, MemoryOutboxSession
from accessflow.adapters.memory_producers import MemoryProducers
from accessflow.entrypoints.relay import OutboxRelay
from accessflow.service.handlers import handle_batch
from accessflow.service.ports import Changes, OutboxEvent
from accessflow.service.publishing import Parking


class Watched(MemoryOutbox):
    """Sets ``stop`` once a settle leaves the outbox empty; may fail a settle first."""

    def __init__(self, world: MemoryWorld, stop: asyncio.Event, *, crash_once: bool = False):
        super().__init__(world.uow, parked=world.outbox.parked)
        self.stop = stop
        self.crash_once = crash_once

    async def open(self, on_notify: Callable[[], None]) -> MemoryOutboxSession:
        return _WatchedSession(self)


class _WatchedSession(MemoryOutboxSession):
    def __init__(self, outbox: Watched) -> None:
        super().__init__(outbox)
        self.watched = outbox

    async def settle(
        self, sent: Sequence[int], refused: Sequence[Parking], behind: Sequence[Parking]
    ) -> list[int]:
        if self.watched.crash_once:
            self.watched.crash_once = False
            raise RuntimeError("the relay died after publishing, before settling")
        parked = await super().settle(sent, refused, behind)
        if not self.watched.rows():
            self.watched.stop.set()
        return parked


def relay(world: MemoryWorld, outbox: MemoryOutbox) -> OutboxRelay:
    return OutboxRelay(
        outbox,
        MemoryProducers(world.broker),
        world.settings.events_topic,
        poll_interval=0.01,
        metrics=world.metrics,
    )


async def publish_all(world: MemoryWorld, *, crash_once: bool = False) -> OutboxRelay:
    stop = asyncio.Event()
    publisher = relay(world, Watched(world, stop, crash_once=crash_once))
    await asyncio.wait_for(publisher.run(stop), 5)
    return publisher


def published(world: MemoryWorld) -> list[tuple[str, str]]:
    """(request, event id) of every event on the topic, each partition's in order."""
    return [
        (event["subject"], event["id"])
        for event in (orjson.loads(r.value or b"") for r in world.broker.records("events"))
    ]


def per_key(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, event_id in pairs:
        found.setdefault(key, []).append(event_id)
    return found


async def committed_events(world: MemoryWorld) -> list[tuple[str, str]]:
    await handle_batch(
        [create("c1", rid(1), sales_for(MEGAN)), create("c2", rid(2), sales_for(KAYO))],
        world.uow,
        NOW,
    )
    return [(e.key, str(e.event_id)) for e in world.uow.outbox_events()]


async def test_committed_events_go_out_in_order_per_request_through_an_outage() -> None:
    world = MemoryWorld()
    events = await committed_events(world)
    world.broker.fail("send", times=2)  # the broker is away for two tries: waited for

    publisher = await publish_all(world)

    assert per_key(published(world)) == per_key(events)
    assert publisher.published_total == len(events)
    assert world.uow.outbox_events() == []


def _event(key: str, n: int, size: int) -> OutboxEvent:
    payload = orjson.dumps({"subject": key, "id": f"{key}#{n}", "pad": "x" * size})
    return OutboxEvent(uuid.uuid4(), "accessflow.test", key, payload)


async def test_an_event_the_topic_refuses_is_parked_with_its_requests_later_events() -> None:
    world = MemoryWorld()
    world.broker.create_topic(world.settings.events_topic, 3, max_message_bytes=2_000)
    rows = [_event("a", 1, 100), _event("a", 2, 5_000), _event("a", 3, 100), _event("b", 1, 100)]
    async with world.uow.batch() as store:
        await store.save(Changes(outbox=rows))

    publisher = await publish_all(world)

    assert sorted(published(world)) == [("a", "a#1"), ("b", "b#1")]
    assert [(p.row.key, p.reason) for p in world.outbox.parked] == [
        ("a", "MessageTooLarge"),
        ("a", "BehindParked"),
    ]
    assert publisher.parked_total == 2
    assert world.uow.outbox_events() == []


async def test_a_relay_that_dies_before_settling_is_followed_by_one_publishing_the_same_ids() -> (
    None
):
    world = MemoryWorld()
    events = await committed_events(world)

    try:
        await publish_all(world, crash_once=True)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the first relay should have died")
    assert len(published(world)) == len(events)  # out, but still in the outbox
    assert len(world.uow.outbox_events()) == len(events)

    await publish_all(world)  # the restart

    twice = per_key(published(world))
    assert {key: ids[: len(ids) // 2] for key, ids in twice.items()} == per_key(events)
    assert {key: ids[len(ids) // 2 :] for key, ids in twice.items()} == per_key(events)
    assert world.uow.outbox_events() == []
