"""The outbox port (``service/publishing.py``) over the in-memory store, so the relay runs
in unit tests with the memory broker.

Rows are the store's outbox events in the order they were committed, numbered the first time
the relay sees them (as PostgreSQL's identity column numbers them on insert); settling
deletes them from the store in a batch of its own, parked rows move to :attr:`parked`. One
session leads at a time, as the advisory lock allows on PostgreSQL. The store sends no
notifications: the relay is woken by the worker's in-process signal or its poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.service.publishing import OutboxRow, Parking


@dataclass(frozen=True, slots=True)
class ParkedRow:
    row: OutboxRow
    reason: str
    error_message: str


def first_parked(parked: Sequence[ParkedRow]) -> dict[str, int]:
    """Each key's earliest parked row id."""
    first: dict[str, int] = {}
    for p in parked:
        first[p.row.key] = min(p.row.id, first.get(p.row.key, p.row.id))
    return first


@dataclass
class MemoryOutbox:
    uow: InMemoryUnitOfWork
    parked: list[ParkedRow] = field(default_factory=list)
    leader: MemoryOutboxSession | None = None
    _ids: dict[uuid.UUID, int] = field(default_factory=dict)

    async def open(self, on_notify: Callable[[], None]) -> MemoryOutboxSession:
        return MemoryOutboxSession(self)

    def rows(self) -> list[OutboxRow]:
        parked_keys = first_parked(self.parked)
        rows = []
        for event in self.uow.outbox_events():
            row_id = self._ids.setdefault(event.event_id, len(self._ids) + 1)
            blocked = parked_keys.get(event.key, row_id) < row_id
            rows.append(
                OutboxRow(
                    row_id, str(event.event_id), event.event_type, event.key, event.payload, blocked
                )
            )
        return rows


class MemoryOutboxSession:
    def __init__(self, outbox: MemoryOutbox) -> None:
        self._outbox = outbox
        self._closed = False

    async def lead(self) -> bool:
        if self._outbox.leader is None and not self._closed:
            self._outbox.leader = self
        return self._outbox.leader is self

    async def fetch_unpublished(self, limit: int) -> list[OutboxRow]:
        return self._outbox.rows()[:limit]

    async def settle(
        self, sent: Sequence[int], refused: Sequence[Parking], behind: Sequence[Parking]
    ) -> list[int]:
        rows = {row.id: row for row in self._outbox.rows()}
        parked = [ParkedRow(rows[p.outbox_id], p.reason, p.error_message) for p in refused]
        keys = first_parked([*self._outbox.parked, *parked])
        for p in behind:
            row = rows[p.outbox_id]
            if keys.get(row.key, row.id) < row.id:
                parked.append(ParkedRow(row, p.reason, p.error_message))
        gone = {rows[i].event_id for i in sent} | {p.row.event_id for p in parked}
        async with self._outbox.uow.batch() as store:
            for event_id in gone:
                del store.state.outbox[uuid.UUID(event_id)]
        self._outbox.parked += sorted(parked, key=lambda p: p.row.id)
        return sorted(p.row.id for p in parked)

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        if self._outbox.leader is self:
            self._outbox.leader = None
