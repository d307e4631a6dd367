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
from accessflow.entrypoints.batch_processing import CommandProcessor
from accessflow.entrypoints.observability import Health, Metrics
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


async def test_an_outage_is_raised_for_the_worker_to_retry(uow: InMemoryUnitOfWork) -> None:
    """A database outage is not the command's fault: nothing is dead-lettered or recorded;
    the error reaches the worker, which retries the batch with backoff."""
    command = _create(MEGAN)
    failing = FailingUnitOfWork(uow, command["subject"], asyncpg.PostgresConnectionError("gone"))
    with pytest.raises(asyncpg.PostgresConnectionError):
        await _processor(failing).process([Record(orjson.dumps(command), 0)])  # type: ignore[list-item]
    assert uow.outbox_events() == []
    assert uow.processed_commands() == []


class RaceOnce(FailingUnitOfWork):
    """Another worker commits a conflicting row first, once; then the world is re-read."""

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[BatchStore]:
        if self.attempts == 0:
            self.attempts += 1
            raise self.error
        async with self.inner.batch() as store:
            yield store


async def test_a_lost_race_is_decided_again_and_applied(uow: InMemoryUnitOfWork) -> None:
    """A unique violation once (another worker won a race): the commands are applied on the
    next try, nothing goes to the DLQ and the worker is not stopped."""
    good, other = _create(MEGAN), _create(KAYO)
    racing = RaceOnce(uow, "", asyncpg.UniqueViolationError("raced"))
    records = [Record(orjson.dumps(good), 0), Record(orjson.dumps(other), 1)]
    result = await _processor(racing).process(records)  # type: ignore[arg-type]
    assert result.dead_letters == []
    for command in (good, other):
        assert uow.request(uuid.UUID(command["subject"])).request.state.value == "delivered"


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.CheckViolationError("check"),
        asyncpg.CharacterNotInRepertoireError("invalid byte sequence"),
    ],
    ids=["unique-23505", "check-23514", "data-22021"],
)
async def test_a_command_postgres_always_refuses_is_isolated(
    uow: InMemoryUnitOfWork, error: Exception
) -> None:
    """SQLSTATE class 22/23 on every try (even a unique violation that is no race): the
    command goes to the DLQ with ProcessingFailed, the others in its poll are applied."""
    good, bad = _create(MEGAN), _create(KAYO)
    failing = FailingUnitOfWork(uow, bad["subject"], error)
    records = [Record(orjson.dumps(bad), 0), Record(orjson.dumps(good), 1)]
    result = await _processor(failing).process(records)  # type: ignore[arg-type]
    assert [(d.code, d.offset) for d in result.dead_letters] == [("ProcessingFailed", 0)]
    assert type(error).__name__ in result.dead_letters[0].message
    assert uow.request(uuid.UUID(good["subject"])).request.state.value == "delivered"


class RefusingEverything:
    """A store whose every write fails for the same non-transient reason (say, the command
    id itself is what PostgreSQL refuses, so the rejection fails as well)."""

    def __init__(self, inner: InMemoryUnitOfWork) -> None:
        self.inner = inner

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[BatchStore]:
        async with self.inner.batch() as store:

            async def save(changes: Changes) -> None:
                raise asyncpg.CharacterNotInRepertoireError("invalid byte sequence")

            store.save = save  # type: ignore[method-assign]
            yield store


async def test_a_command_whose_rejection_fails_too_is_still_dead_lettered(
    uow: InMemoryUnitOfWork,
) -> None:
    command = _create(MEGAN)
    processor = _processor(RefusingEverything(uow))
    result = await processor.process([Record(orjson.dumps(command), 7)])  # type: ignore[list-item]
    assert [(d.code, d.offset) for d in result.dead_letters] == [("ProcessingFailed", 7)]
    assert uow.outbox_events() == []


async def test_deeply_nested_json_is_dead_lettered(uow: InMemoryUnitOfWork) -> None:
    """JSON nested past the parser's depth bound ends in the DLQ, not in an exception."""
    deep = b"[" * 100_000 + b"]" * 100_000
    envelope = _create(MEGAN)
    result = await _processor(uow).process(
        [Record(deep, 0), Record(orjson.dumps(envelope), 1)]  # type: ignore[list-item]
    )
    assert [(d.code, d.offset) for d in result.dead_letters] == [("NotJson", 0)]
    assert uow.request(uuid.UUID(envelope["subject"])).request.state.value == "delivered"


class Exploding(bytes):
    """Bytes whose length cannot be taken: stands for any bug the decoder might hit."""

    def __len__(self) -> int:
        raise RecursionError("maximum recursion depth exceeded")


async def test_a_decoder_failure_dead_letters_the_record(uow: InMemoryUnitOfWork) -> None:
    """Whatever the decoder raises on one record, that record goes to the DLQ
    (ProcessingFailed, the error named) and the rest of the poll is applied."""
    envelope = _create(MEGAN)
    result = await _processor(uow).process(
        [Record(Exploding(b"{}"), 0), Record(orjson.dumps(envelope), 1)]  # type: ignore[list-item]
    )
    assert [(d.code, d.offset) for d in result.dead_letters] == [("ProcessingFailed", 0)]
    assert "RecursionError" in result.dead_letters[0].message
    assert uow.request(uuid.UUID(envelope["subject"])).request.state.value == "delivered"


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
