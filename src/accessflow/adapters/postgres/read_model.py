"""The API's :class:`~accessflow.service.read_model.ReadModel` and
:class:`~accessflow.service.read_model.IdempotencyKeys` over PostgreSQL.

The view is the worker's own (:meth:`PgBatchStore.view` on a pooled connection, catalog
objects cached by the same :class:`PgUnitOfWork`), so the API's pre-check decides against
exactly what the worker will decide against, short of what commits in between.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import timedelta
from typing import Any

import asyncpg

from accessflow.adapters.postgres import queries_idempotency as keys
from accessflow.adapters.postgres.queries import get_request
from accessflow.adapters.postgres.store import PgBatchStore, PgUnitOfWork
from accessflow.domain.view import DirectoryView
from accessflow.service.read_model import IdempotencyRecord, RequestRow


class PgReadModel:
    def __init__(self, pool: asyncpg.Pool, uow: PgUnitOfWork | None = None) -> None:
        self._pool = pool
        self._uow = uow or PgUnitOfWork(pool)

    async def request(self, request_id: uuid.UUID) -> RequestRow | None:
        async with self._pool.acquire() as conn:
            return await get_request(conn, request_id)

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> DirectoryView:
        async with self._pool.acquire() as conn:
            return await PgBatchStore(conn, self._uow).view(user_ids, mails, assignment_ids)

    # IdempotencyKeys
    async def find(self, caller: str, key: str, stale_after: timedelta) -> IdempotencyRecord | None:
        async with self._pool.acquire() as conn:
            return await keys.find(conn, caller, key, stale_after)

    async def claim(
        self,
        caller: str,
        key: str,
        body_hash: str,
        request_id: uuid.UUID,
        command: dict[str, Any],
        response: dict[str, Any],
    ) -> bool:
        async with self._pool.acquire() as conn:
            return await keys.claim(conn, caller, key, body_hash, request_id, command, response)

    async def take_over(self, caller: str, key: str, stale_after: timedelta) -> bool:
        async with self._pool.acquire() as conn:
            return await keys.take_over(conn, caller, key, stale_after)

    async def complete(self, caller: str, key: str) -> None:
        async with self._pool.acquire() as conn:
            await keys.complete(conn, caller, key)

    async def release(self, caller: str, key: str, request_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn:
            await keys.release(conn, caller, key, request_id)
