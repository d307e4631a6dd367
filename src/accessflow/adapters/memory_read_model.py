"""The API's read model over the in-memory store, with idempotency keys in a dict: what
unit tests hand the API's use cases, as the PostgreSQL one serves the API.

The view is the memory store's own batch view, so a use case tested here decides against
what the memory worker decides against. A claim is stale once ``clock()`` has moved
``stale_after`` past its creation, as the SQL compares ``created_at`` with ``now()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain.models.requests import to_graph
from accessflow.domain.view import DirectoryView
from accessflow.service.read_model import IdempotencyRecord, RequestRow


@dataclass(frozen=True)
class _Key:
    record: IdempotencyRecord
    created_at: datetime


class InMemoryReadModel:
    def __init__(
        self, uow: InMemoryUnitOfWork, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.uow = uow
        self.clock = clock
        self._keys: dict[tuple[str, str], _Key] = {}

    async def request(self, request_id: uuid.UUID) -> RequestRow | None:
        stored = self.uow.request(request_id)
        if stored is None:
            return None
        request = stored.request
        if request.created_date_time is None:  # pragma: no cover - submit always sets it
            raise ValueError(f"request {request_id} has no createdDateTime")
        return RequestRow(
            id=stored.id,
            created_at=request.created_date_time,
            state=request.state.value,
            completed_at=request.completed_date_time,
            requestor_id=stored.requestor_id,
            target_id=stored.target_id,
            access_package_id=stored.access_package_id,
            assignment_id=stored.assignment_id,
            document=to_graph(request),
            approval=None if stored.approval is None else stored.approval.to_json(),
        )

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> DirectoryView:
        async with self.uow.batch() as store:
            return await store.view(user_ids, mails, assignment_ids)

    # IdempotencyKeys
    async def find(self, caller: str, key: str, stale_after: timedelta) -> IdempotencyRecord | None:
        found = self._keys.get((caller.lower(), key))
        if found is None:
            return None
        stale = found.created_at < self.clock() - stale_after
        return replace(found.record, stale=stale)

    async def claim(
        self,
        caller: str,
        key: str,
        body_hash: str,
        request_id: uuid.UUID,
        command: dict[str, Any],
        response: dict[str, Any],
    ) -> bool:
        if (caller.lower(), key) in self._keys:
            return False
        record = IdempotencyRecord(request_id, body_hash, "pending", command, response, False)
        self._keys[(caller.lower(), key)] = _Key(record, self.clock())
        return True

    async def take_over(self, caller: str, key: str, stale_after: timedelta) -> bool:
        found = self._keys.get((caller.lower(), key))
        now = self.clock()
        fresh = found is None or found.created_at >= now - stale_after
        if found is None or fresh or found.record.state != "pending":
            return False
        self._keys[(caller.lower(), key)] = _Key(found.record, now)
        return True

    async def complete(self, caller: str, key: str) -> None:
        found = self._keys.get((caller.lower(), key))
        if found is not None:
            self._keys[(caller.lower(), key)] = replace(
                found, record=replace(found.record, state="done")
            )

    async def release(self, caller: str, key: str, request_id: uuid.UUID) -> None:
        found = self._keys.get((caller.lower(), key))
        if found is not None and (found.record.request_id, found.record.state) == (
            request_id,
            "pending",
        ):
            del self._keys[(caller.lower(), key)]
