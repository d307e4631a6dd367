"""A worker's world in memory: the memory broker, the memory store and its outbox, wired by
the composition root (``bootstrap.Runtime``) exactly as Kafka and PostgreSQL are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from command_support import example_catalog

from accessflow import bootstrap
from accessflow.adapters.connectors_config import ConnectorsConfig
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS
from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.adapters.memory_broker import MemoryBroker
from accessflow.adapters.memory_outbox import MemoryOutbox
from accessflow.adapters.memory_producers import MemoryProducers, MemoryRecordSender
from accessflow.adapters.webhook import connectors_from_config
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.service.broker import Delivery, Record
from accessflow.service.connectors import Connector
from accessflow.settings import Settings, load_settings


def memory_settings(**overrides: Any) -> Settings:
    """Settings whose topics and group the memory broker makes on first use."""
    return load_settings(
        commands_topic="commands",
        events_topic="events",
        dlq_topic="commands.dlq",
        consumer_group_id="workers",
        shutdown_timeout_seconds=5,
        **overrides,
    )


@dataclass
class MemoryWorld:
    settings: Settings = field(default_factory=memory_settings)
    broker: MemoryBroker = field(default_factory=MemoryBroker)
    uow: InMemoryUnitOfWork = field(default_factory=lambda: InMemoryUnitOfWork(example_catalog()))
    health: Health = field(default_factory=Health)

    def __post_init__(self) -> None:
        self.outbox = MemoryOutbox(self.uow)
        self.metrics = Metrics(self.health)

    def runtime(self, connector: Connector | None = None) -> bootstrap.Runtime:
        return bootstrap.Runtime(
            self.settings,
            outbox=self.outbox,
            producers=MemoryProducers(self.broker),
            consumer=lambda: self.broker.consumer(
                self.settings.commands_topic,
                self.settings.consumer_group_id,
                max_poll_records=self.settings.max_poll_records,
            ),
            dead_letters=lambda: MemoryRecordSender(self.broker),
            uow=self.uow,
            connector=connector,
        )

    async def submit(self, *messages: dict[str, Any] | bytes, key: bytes = b"k") -> None:
        """Put commands (envelopes, or raw bytes keyed ``key``) on the commands topic."""
        producer = await MemoryProducers(self.broker).start_producer()
        sent = [
            (m["subject"].encode(), orjson.dumps(m)) if isinstance(m, dict) else (key, m)
            for m in messages
        ]
        report = await producer.send_keyed(self.settings.commands_topic, sent, CLOUDEVENTS_HEADERS)
        assert report.deliveries == [Delivery.SENT] * len(sent)

    def events(self) -> list[dict[str, Any]]:
        """Every event published, each partition's in order."""
        return [orjson.loads(r.value or b"") for r in self.broker.records("events")]

    def states(self) -> dict[str, list[str]]:
        """Each request's published states, in the order they were published."""
        found: dict[str, list[str]] = {}
        for event in self.events():
            if event["type"] == "accessflow.assignmentRequest.stateChanged":
                found.setdefault(event["subject"], []).append(event["data"]["state"])
        return found

    def dead_letters(self) -> list[Record]:
        return self.broker.records(self.settings.dlq_topic)

    def committed(self) -> dict[int, int]:
        """The worker group's committed offset per partition of the commands topic."""
        offsets = self.broker.committed_offsets(self.settings.consumer_group_id)
        return {p.partition: offset for p, offset in offsets.items()}


@asynccontextmanager
async def directory_connector() -> AsyncIterator[Connector]:
    """The built-in directory only (what a worker without a connectors file has)."""
    async with httpx.AsyncClient() as client:
        yield connectors_from_config(ConnectorsConfig(), client)


async def burst(world: MemoryWorld, connector: Connector) -> None:
    """``accessflow worker --burst`` over the world: returns once caught up and drained."""
    stop = asyncio.Event()
    runtime = world.runtime(connector)
    await asyncio.wait_for(
        bootstrap.serve_worker(runtime, stop, world.health, world.metrics, burst=True), 30
    )
