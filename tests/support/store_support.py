"""The same read helpers over the in-memory store and over PostgreSQL, and a harness that
sets up either, so one suite can run against both and compare what they recorded."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import orjson
from command_support import example_catalog

from accessflow.adapters.memory import InMemoryBatchStore, InMemoryUnitOfWork, IntegrityViolation
from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.catalog_store import apply_catalog
from accessflow.adapters.postgres.migrate import migrate
from accessflow.adapters.postgres.store import (
    REQUEST_COLUMNS,
    PgBatchStore,
    PgUnitOfWork,
    stored_request,
)
from accessflow.domain.catalog import Catalog
from accessflow.domain.grant_states import GrantState
from accessflow.domain.models.requests import (
    AccessPackageAssignment,
)
from accessflow.service.ports import (
    Grant,
    HistoryEntry,
    OutboxEvent,
    ProcessedCommand,
    StoredRequest,
    UnitOfWork,
)
from accessflow.settings import Settings


class StoreProbe(Protocol):
    """What tests read back from a store after its batches committed."""

    async def request(self, request_id: uuid.UUID) -> StoredRequest | None: ...

    async def history_of(self, request_id: uuid.UUID) -> list[HistoryEntry]: ...

    async def outbox_events(self) -> list[OutboxEvent]: ...

    async def processed_commands(self) -> list[ProcessedCommand]:
        """Sorted by command id."""
        ...

    async def assignment(self, assignment_id: str) -> AccessPackageAssignment | None: ...

    async def grants_of(self, assignment_id: str) -> list[Grant]: ...

    async def members_of(self, group_id: str, source: str | None = None) -> set[str]: ...


class MemoryProbe:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self.uow = uow

    async def request(self, request_id: uuid.UUID) -> StoredRequest | None:
        return self.uow.request(request_id)

    async def history_of(self, request_id: uuid.UUID) -> list[HistoryEntry]:
        return self.uow.history_of(request_id)

    async def outbox_events(self) -> list[OutboxEvent]:
        return self.uow.outbox_events()

    async def processed_commands(self) -> list[ProcessedCommand]:
        return sorted(self.uow.processed_commands(), key=lambda p: p.command_id)

    async def assignment(self, assignment_id: str) -> AccessPackageAssignment | None:
        return self.uow.assignment(assignment_id)

    async def grants_of(self, assignment_id: str) -> list[Grant]:
        return self.uow.grants_of(assignment_id)

    async def members_of(self, group_id: str, source: str | None = None) -> set[str]:
        return self.uow.members_of(group_id, source)


class PgProbe:
    def __init__(self, db: asyncpg.Pool) -> None:
        self.db = db

    async def request(self, request_id: uuid.UUID) -> StoredRequest | None:
        row = await self.db.fetchrow(
            f"SELECT {REQUEST_COLUMNS} FROM assignment_requests WHERE id = $1", request_id
        )
        return None if row is None else stored_request(row)

    async def history_of(self, request_id: uuid.UUID) -> list[HistoryEntry]:
        rows = await self.db.fetch(
            "SELECT request_id, sequence, previous_state, state, status, reason, causation_id, "
            "occurred_at FROM request_history WHERE request_id = $1 ORDER BY sequence",
            request_id,
        )
        return [HistoryEntry(*row.values()) for row in rows]

    async def outbox_events(self) -> list[OutboxEvent]:
        rows = await self.db.fetch(
            "SELECT event_id, event_type, key, payload FROM outbox ORDER BY id"
        )
        return [OutboxEvent(*row.values()) for row in rows]

    async def processed_commands(self) -> list[ProcessedCommand]:
        rows = await self.db.fetch(
            "SELECT command_id, command_type, request_id, outcome FROM processed_commands "
            "ORDER BY command_id"
        )
        return [ProcessedCommand(*row.values()) for row in rows]

    async def assignment(self, assignment_id: str) -> AccessPackageAssignment | None:
        document = await self.db.fetchval(
            "SELECT document FROM assignments WHERE id = $1", uuid.UUID(assignment_id)
        )
        return None if document is None else AccessPackageAssignment.model_validate(document)

    async def grants_of(self, assignment_id: str) -> list[Grant]:
        rows = await self.db.fetch(
            "SELECT assignment_id, resource_scope_id, origin_system, origin_id, state, detail, "
            "request_id, role_origin_id, attempts, next_attempt_at "
            "FROM grants WHERE assignment_id = $1 ORDER BY resource_scope_id",
            uuid.UUID(assignment_id),
        )
        return [Grant(**{**dict(row), "state": GrantState(row["state"])}) for row in rows]

    async def members_of(self, group_id: str, source: str | None = None) -> set[str]:
        rows = await self.db.fetch(
            "SELECT user_id FROM group_members WHERE group_id = $1 "
            "AND ($2::text IS NULL OR source = $2)",
            group_id.lower(),
            source,
        )
        return {row["user_id"] for row in rows}


@dataclass
class Harness:
    """One adapter under test: its unit of work, its probe, and what it raises on a
    constraint violation."""

    name: str
    uow: UnitOfWork
    probe: StoreProbe
    store_class: type[Any]  # the BatchStore class, for tests that make ``save`` fail
    integrity_errors: tuple[type[Exception], ...]
    apply_catalog: Callable[[Catalog], Awaitable[None]]


def memory_harness() -> Harness:
    uow = InMemoryUnitOfWork(example_catalog())

    async def apply(catalog: Catalog) -> None:
        uow.apply_catalog(catalog)

    return Harness(
        "memory", uow, MemoryProbe(uow), InMemoryBatchStore, (IntegrityViolation,), apply
    )


@asynccontextmanager
async def postgres_harness(settings: Settings) -> AsyncIterator[Harness]:
    """The test's own schema, migrated, with ``examples/catalog.yaml`` applied."""
    conn = await pool.connect(settings)
    try:
        await migrate(conn, settings.database_schema)
        await apply_catalog(conn, example_catalog())
    finally:
        await conn.close()
    db = await pool.create_pool(settings)

    async def apply(catalog: Catalog) -> None:
        async with db.acquire() as connection:
            await apply_catalog(connection, catalog)

    try:
        yield Harness(
            "postgres",
            PgUnitOfWork(db),
            PgProbe(db),
            PgBatchStore,
            (asyncpg.IntegrityConstraintViolationError,),
            apply,
        )
    finally:
        await db.close()


def normalised_history(entries: list[HistoryEntry]) -> list[tuple[Any, ...]]:
    """History rows as plain values (enum members and strings compare alike)."""
    return [
        (
            str(h.request_id),
            h.sequence,
            None if h.previous_state is None else str(h.previous_state),
            str(h.state),
            h.status,
            h.reason,
            h.causation_id,
            h.occurred_at,
        )
        for h in entries
    ]


def normalised_outbox(events: list[OutboxEvent]) -> list[tuple[Any, ...]]:
    """Outbox rows with their payloads parsed, so key order in the bytes does not matter."""
    return [(str(e.event_id), e.event_type, e.key, orjson.loads(e.payload)) for e in events]
