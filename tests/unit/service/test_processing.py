"""The worker's per-partition processing sorts failures: outages are raised for the worker
to retry, a command that keeps failing goes to the DLQ with a rejection, the rest proceed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import TopicPartition
from command_support import (
    MEGAN,
    SALES,
    SALES_POLICY,
    catalog_with_outside_resources,
    example_catalog,
)

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain.limits import MAX_JUSTIFICATION_CHARS
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.entrypoints.processing import CommandProcessor
from accessflow.service.commands import create_command
from accessflow.service.ports import BatchStore, Changes

TP = TopicPartition("accessflow.commands", 0)
KAYO = "46184453-e63b-4f20-86c2-c557ed5d5df9"


@dataclass
class Record:
    value: bytes | None
    offset: int
    key: bytes | None = b"k"
    topic: str = "accessflow.commands"
    partition: int = 0
    timestamp: int = 1_764_000_000_000
    headers: tuple[tuple[str, bytes], ...] = ()


def _create(target: str) -> dict[str, Any]:
    body = {
        "requestType": "userAdd",
        "assignment": {
            "accessPackageId": SALES,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": target,
        },
    }
    return create_command(target, body, source="urn:test")


class FailingUnitOfWork:
    """The in-memory store, except that saving any state change of ``poisoned`` raises."""

    def __init__(self, inner: InMemoryUnitOfWork, poisoned: str, error: Exception) -> None:
        self.inner, self.poisoned, self.error = inner, poisoned, error
        self.attempts = 0

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[BatchStore]:
        async with self.inner.batch() as store:
            original = store.save

            async def save(changes: Changes) -> None:
                if any(str(h.request_id) == self.poisoned for h in changes.history):
                    self.attempts += 1
                    raise self.error
                await original(changes)

            store.save = save  # type: ignore[method-assign]
            yield store


def _processor(uow: Any) -> CommandProcessor:
    return CommandProcessor(uow, Metrics(Health()), lambda: datetime(2026, 3, 1, tzinfo=UTC))


async def test_a_command_that_keeps_failing_is_dead_lettered_and_rejected(
    uow: InMemoryUnitOfWork,
) -> None:
    """A bug-like error on one command: the others in its batch are applied, it is tried 3
    times, then its original bytes go to the DLQ and a ProcessingFailed rejection is
    recorded, so the partition moves on."""
    good, bad = _create(MEGAN), _create(KAYO)
    failing = FailingUnitOfWork(uow, bad["subject"], RuntimeError("boom"))
    records = [Record(orjson.dumps(good), 0), Record(orjson.dumps(bad), 1, headers=(("a", b"1"),))]
    result = await _processor(failing).process(records)  # type: ignore[arg-type]

    assert [(d.code, d.offset, d.value) for d in result.dead_letters] == [
        ("ProcessingFailed", 1, records[1].value)
    ]
    assert ("a", b"1") in result.dead_letters[0].headers()
    assert failing.attempts == 1 + 3  # the whole batch once, then the command alone 3 times
    assert uow.request(uuid.UUID(good["subject"])).request.state.value == "delivered"
    assert uow.request(uuid.UUID(bad["subject"])) is None
    rejections = [
        orjson.loads(e.payload)
        for e in uow.outbox_events()
        if e.event_type == "accessflow.command.rejected"
    ]
    assert [(r["subject"], r["data"]["reason"]["code"]) for r in rejections] == [
        (bad["subject"], "ProcessingFailed")
    ]


@pytest.mark.parametrize(
    "error",
    [asyncpg.PostgresConnectionError("gone"), asyncpg.UniqueViolationError("raced")],
    ids=["outage", "race"],
)
async def test_outages_and_races_are_raised_for_the_worker_to_retry(
    uow: InMemoryUnitOfWork, error: Exception
) -> None:
    """A database outage or a lost race is not the command's fault: nothing is dead-lettered
    or recorded; the error reaches the worker, which retries the batch with backoff."""
    command = _create(MEGAN)
    failing = FailingUnitOfWork(uow, command["subject"], error)
    with pytest.raises(type(error)):
        await _processor(failing).process([Record(orjson.dumps(command), 0)])  # type: ignore[arg-type]
    assert uow.outbox_events() == []
    assert uow.processed_commands() == []


async def test_the_delivery_loop_is_woken_only_by_batches_with_outside_grants() -> None:
    """Groups are delivered in the batch's own transaction: nothing for the delivery loop.
    A grant for an outside system is: the loop is told at once, not at its next poll."""
    woken: list[str] = []
    clock = lambda: datetime(2026, 3, 1, tzinfo=UTC)  # noqa: E731
    for name, catalog in [
        ("groups", example_catalog()),
        ("outside", catalog_with_outside_resources("SaasApp")),
    ]:
        uow = InMemoryUnitOfWork(catalog)
        processor = CommandProcessor(
            uow, Metrics(Health()), clock, on_waiting_grants=lambda n=name: woken.append(n)
        )
        await processor.process([Record(orjson.dumps(_create(MEGAN)), 0)])  # type: ignore[list-item]
    assert woken == ["outside"]


async def test_a_command_with_a_field_over_its_limit_is_rejected_naming_the_field(
    uow: InMemoryUnitOfWork,
) -> None:
    """Straight off Kafka, past the API: a justification over its maximum earns an
    InvalidCommand rejection whose details name the field, and no request; the rejection
    does not echo the input back."""
    command = _create(MEGAN)
    command["data"]["request"]["justification"] = "\x01" * (MAX_JUSTIFICATION_CHARS + 1)
    result = await _processor(uow).process([Record(orjson.dumps(command), 0)])  # type: ignore[list-item]

    assert result.dead_letters == []
    assert uow.request(uuid.UUID(command["subject"])) is None
    [event] = uow.outbox_events()
    rejection = orjson.loads(event.payload)["data"]["reason"]
    assert rejection["code"] == "InvalidCommand"
    assert [d["target"] for d in rejection["details"]] == ["data.request.justification"]
    assert len(event.payload) < 2_000
