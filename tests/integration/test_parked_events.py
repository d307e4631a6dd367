"""An event the events topic will never accept is parked, not retried forever: the relay
publishes every other event in order, parks later events of the same request behind it,
and `accessflow outbox parked retry` publishes them once the topic accepts them."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from polling import eventually

from accessflow import bootstrap
from accessflow.adapters.kafka import limits
from accessflow.adapters.kafka.clients import KafkaProducers
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.reading import read_all
from accessflow.adapters.postgres.relay_outbox import PgOutbox
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.entrypoints.relay import OutboxRelay
from accessflow.settings import Settings

TOPIC_LIMIT = 10_000
STATE_CHANGED = "accessflow.assignmentRequest.stateChanged"


async def _admin(settings: Settings, work: Callable[[AIOKafkaAdminClient], Awaitable[Any]]) -> Any:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        return await work(admin)
    finally:
        await admin.close()


async def _set_topic_limit(settings: Settings, limit: int) -> None:
    resource = ConfigResource(
        ConfigResourceType.TOPIC, settings.events_topic, {"max.message.bytes": str(limit)}
    )
    await _admin(settings, lambda admin: admin.alter_configs([resource]))


@pytest.fixture
async def small_topic(settings: Settings) -> Settings:
    """The test's schema, and an events topic that accepts records of 10,000 bytes at most."""
    topic = NewTopic(
        settings.events_topic, 3, 1, topic_configs={"max.message.bytes": str(TOPIC_LIMIT)}
    )
    await _admin(settings, lambda admin: admin.create_topics([topic]))
    await bootstrap.migrate_all(settings)  # the other topics; the events topic stays as is
    return settings


class Outbox:
    """The test's outbox: events are written as the worker writes them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            self.settings.dsn, server_settings={"search_path": self.settings.database_schema}
        )
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def add(self, *events: tuple[str, int, int]) -> None:
        """(request, sequence, size in bytes) each, in this order."""
        rows = []
        for request, sequence, size in events:
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request}:{sequence}"))
            body = {"id": event_id, "type": STATE_CHANGED, "subject": request}
            body["data"] = {"sequence": sequence, "pad": "x" * max(0, size - 200)}
            rows.append((event_id, STATE_CHANGED, request, orjson.dumps(body)))
        await self.query(
            "INSERT INTO outbox (event_id, event_type, key, payload) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[])",
            *zip(*rows, strict=True),
        )

    async def count(self, table: str = "outbox") -> int:
        return int((await self.query(f"SELECT count(*) AS n FROM {table}"))[0]["n"])

    async def drained(self, published: int) -> None:
        """Wait until the outbox is empty and ``published`` events are on the topic."""

        async def drained() -> bool:
            return await self.count() == 0 and len(await self.published()) >= published

        await eventually(drained, what=f"an empty outbox and {published} events published")

    async def published(self) -> list[tuple[str, int]]:
        """(request, sequence) of every event on the topic, in per-partition order."""
        records = await read_all(self.settings, self.settings.events_topic)
        events = [orjson.loads(r.value) for r in records]
        return [(e["subject"], e["data"]["sequence"]) for e in events]

    async def parked(self) -> list[tuple[str, int, str]]:
        rows = await self.query("SELECT key, payload, reason FROM parked_events ORDER BY id")
        return [
            (r["key"], orjson.loads(r["payload"])["data"]["sequence"], r["reason"]) for r in rows
        ]


def per_request(published: list[tuple[str, int]]) -> dict[str, list[int]]:
    by_request: dict[str, list[int]] = {}
    for request, sequence in published:
        by_request.setdefault(request, []).append(sequence)
    return by_request


@contextlib.asynccontextmanager
async def running_relay(settings: Settings, metrics: Metrics) -> AsyncIterator[OutboxRelay]:
    publisher = OutboxRelay(
        PgOutbox(settings),
        KafkaProducers(settings),
        settings.events_topic,
        poll_interval=0.2,
        metrics=metrics,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        yield publisher
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


def parked_count(metrics: Metrics, reason: str) -> float:
    value = metrics.registry.get_sample_value("accessflow_events_parked_total", {"reason": reason})
    return value or 0.0


def accessflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "accessflow.entrypoints.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


async def test_an_event_over_the_topic_limit_is_parked_and_retried_once_the_limit_is_raised(
    small_topic: Settings, subprocess_env: dict[str, str]
) -> None:
    metrics = Metrics(Health())
    async with running_relay(small_topic, metrics) as relay:
        outbox = Outbox(small_topic)
        await outbox.add(
            ("request-a", 1, 500),
            ("request-b", 1, 500),
            ("request-a", 2, 20_000),  # twice the topic's limit
            ("request-c", 1, 500),
            ("request-a", 3, 500),  # behind request-a's parked event
            ("request-b", 2, 9_000),  # close to the limit, under it
            ("request-c", 2, 500),
        )
        relay.wake()
        await outbox.drained(published=5)

        assert await outbox.parked() == [
            ("request-a", 2, "MessageTooLarge"),
            ("request-a", 3, "BehindParked"),
        ]
        published = await outbox.published()
        assert per_request(published) == {
            "request-a": [1],
            "request-b": [1, 2],
            "request-c": [1, 2],
        }
        assert parked_count(metrics, "MessageTooLarge") == 1
        assert parked_count(metrics, "BehindParked") == 1

        # A later event of request-a waits behind the parked ones; the others keep flowing.
        await outbox.add(("request-a", 4, 500), ("request-b", 3, 500))
        relay.wake()
        await outbox.drained(published=6)
        assert [p[:2] for p in await outbox.parked()] == [
            ("request-a", 2),
            ("request-a", 3),
            ("request-a", 4),
        ]
        assert per_request(await outbox.published())["request-b"] == [1, 2, 3]
        assert parked_count(metrics, "BehindParked") == 2

        listed = accessflow(subprocess_env, "outbox", "parked", "list", "--json").stdout
        entries = [orjson.loads(line) for line in listed.splitlines()]
        assert [(e["requestId"], e["reason"]) for e in entries] == [
            ("request-a", "MessageTooLarge"),
            ("request-a", "BehindParked"),
            ("request-a", "BehindParked"),
        ]
        assert entries[0]["size"] > TOPIC_LIMIT
        assert "10000" in entries[0]["error"]

        await _set_topic_limit(small_topic, 100_000)
        retried = accessflow(subprocess_env, "outbox", "parked", "retry", "--all").stdout
        assert "moved 3 parked event(s) of 1 request(s)" in retried
        await outbox.drained(published=9)

        assert await outbox.count("parked_events") == 0
        published = await outbox.published()
        assert per_request(published)["request-a"] == [1, 2, 3, 4]
        assert len(published) == len(set(published))  # nothing was sent twice: no spinning


async def test_without_the_topic_limit_the_brokers_refusal_finds_the_event_to_park(
    small_topic: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay may not read the topic's configuration (no DescribeConfigs permission):
    the broker refuses a whole batch, the relay sends that batch's events one per batch to
    find the culprit, parks it and publishes the others in order, each once."""

    async def unknown(settings: Settings, topic: str) -> None:
        return None

    monkeypatch.setattr(limits, "topic_max_message_bytes", unknown)
    outbox = Outbox(small_topic)
    await outbox.add(
        *[(f"request-{n}", 1, 500) for n in range(6)],
        ("request-0", 2, 20_000),
        *[(f"request-{n}", 2 + (n == 0), 500) for n in range(6)],
    )
    metrics = Metrics(Health())
    async with running_relay(small_topic, metrics):
        await outbox.drained(published=11)

    assert await outbox.parked() == [
        ("request-0", 2, "MessageTooLarge"),
        ("request-0", 3, "BehindParked"),
    ]
    published = await outbox.published()
    assert len(published) == len(set(published)) == 11
    assert per_request(published) == {
        "request-0": [1],
        **{f"request-{n}": [1, 2] for n in range(1, 6)},
    }
    assert parked_count(metrics, "MessageTooLarge") == 1
