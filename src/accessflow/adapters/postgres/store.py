"""The PostgreSQL unit of work: one transaction per batch, bulk reads and multi-row writes.

Requests are locked with ``SELECT … FOR UPDATE`` before any state guard is evaluated: a
zombie worker that still holds a revoked partition then waits for the new owner's commit,
and its own insert of the same command id fails instead of writing a second effect.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from accessflow.adapters.postgres.catalog_store import catalog_version, load_catalog_objects
from accessflow.adapters.postgres.pool import Conn
from accessflow.adapters.postgres.view import load_view
from accessflow.adapters.postgres.writes import save_changes
from accessflow.domain.approval_states import ApprovalRecord
from accessflow.domain.grant_states import GrantState
from accessflow.domain.models.requests import AccessPackageAssignmentRequest
from accessflow.service.ports import (
    Changes,
    Grant,
    MutableView,
    PendingGrant,
    StoredRequest,
    Timer,
    uuids,
)
from accessflow.service.read_model import CatalogObjects


class PgUnitOfWork:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._objects: CatalogObjects | None = None

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[PgBatchStore]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PgBatchStore(conn, self)

    async def catalog_objects(self, conn: Conn) -> CatalogObjects:
        version = await catalog_version(conn)
        if self._objects is None or self._objects.version != version:
            self._objects = await load_catalog_objects(conn, version)
        return self._objects


class PgBatchStore:
    def __init__(self, conn: Conn, uow: PgUnitOfWork) -> None:
        self._conn = conn
        self._uow = uow

    async def processed_ids(self, command_ids: Collection[str]) -> set[str]:
        rows = await self._conn.fetch(PROCESSED, list(command_ids))
        return {row["id"] for row in rows}

    async def load_requests(
        self, request_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredRequest]:
        if not request_ids:
            return {}
        rows = await self._conn.fetch(LOAD_REQUESTS, sorted(request_ids))
        return {row["id"]: stored_request(row) for row in rows}

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> MutableView:
        objects = await self._uow.catalog_objects(self._conn)
        return await load_view(self._conn, objects, user_ids, mails, assignment_ids)

    async def save(self, changes: Changes) -> None:
        await save_changes(self._conn, changes)

    async def claim_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        # SKIP LOCKED: several workers poll; each due timer goes to exactly one of them.
        rows = await self._conn.fetch(
            "SELECT id, kind, request_id, due_at, payload FROM timers "
            "WHERE fired_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT $2 "
            "FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [Timer(r["id"], r["kind"], r["request_id"], r["due_at"], r["payload"]) for r in rows]

    async def grants_of(self, assignment_ids: Collection[str]) -> list[Grant]:
        wanted = uuids(assignment_ids)
        if not wanted:
            return []
        rows = await self._conn.fetch(
            f"SELECT {_GRANT_COLUMNS} FROM grants g WHERE g.assignment_id = ANY($1::uuid[]) "
            "ORDER BY g.assignment_id, g.resource_scope_id",
            wanted,
        )
        return [_grant(row) for row in rows]

    async def lease_due_grants(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[PendingGrant]:
        rows = await self._conn.fetch(_LEASE_GRANTS, now, limit, lease_until)
        return [PendingGrant(_grant(r), r["target_id"], r["access_package_id"]) for r in rows]


#: One index probe per id, whatever the planner's statistics say (see view.py).
PROCESSED = """
SELECT i.id FROM unnest($1::text[]) AS i(id)
CROSS JOIN LATERAL (SELECT FROM processed_commands WHERE command_id = i.id LIMIT 1) AS hit
"""

#: The columns :func:`stored_request` reads.
REQUEST_COLUMNS = (
    "document, sequence, target_id, access_package_id, requestor_id, assignment_id, approval"
)

#: One index probe per id (see view.py), each row locked as it is read, in the order of the
#: ids, which the caller sorts: two batches lock in the same order and cannot deadlock.
LOAD_REQUESTS = f"""
SELECT r.* FROM unnest($1::uuid[]) AS i(id)
CROSS JOIN LATERAL (
    SELECT id, {REQUEST_COLUMNS} FROM assignment_requests WHERE id = i.id FOR UPDATE
) AS r
"""


def stored_request(row: asyncpg.Record) -> StoredRequest:
    """A request row (at least :data:`REQUEST_COLUMNS`) as the handlers hold it."""
    approval = row["approval"]
    return StoredRequest(
        request=AccessPackageAssignmentRequest.model_validate(row["document"]),
        sequence=row["sequence"],
        target_id=row["target_id"],
        access_package_id=row["access_package_id"],
        requestor_id=row["requestor_id"],
        assignment_id=row["assignment_id"],
        approval=None if approval is None else ApprovalRecord.from_json(approval),
    )


_GRANT_COLUMNS = (
    "g.assignment_id, g.resource_scope_id, g.origin_system, g.origin_id, g.state, g.detail, "
    "g.request_id, g.role_origin_id, g.attempts, g.next_attempt_at"
)

# SKIP LOCKED: several workers lease; each due grant goes to exactly one of them, and the
# lease (next_attempt_at pushed forward) outlives this short transaction.
_LEASE_GRANTS = f"""
WITH due AS (
    SELECT assignment_id, resource_scope_id FROM grants
    WHERE state IN ('pending', 'revoking') AND next_attempt_at <= $1
    ORDER BY next_attempt_at, assignment_id, resource_scope_id LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE grants g SET next_attempt_at = $3
FROM due, assignments a
WHERE g.assignment_id = due.assignment_id AND g.resource_scope_id = due.resource_scope_id
  AND a.id = g.assignment_id
RETURNING {_GRANT_COLUMNS}, a.target_id, a.access_package_id
"""


def _grant(row: asyncpg.Record) -> Grant:
    return Grant(
        row["assignment_id"],
        row["resource_scope_id"],
        row["origin_system"],
        row["origin_id"],
        GrantState(row["state"]),
        row["detail"],
        row["request_id"],
        row["role_origin_id"],
        row["attempts"],
        row["next_attempt_at"],
    )


async def due_grant_stats(conn: Conn, now: datetime) -> tuple[int, float]:
    """How many waiting grants are due by ``now``, and how long the oldest has been."""
    row = await conn.fetchrow(
        "SELECT count(*) AS due, coalesce(extract(epoch FROM $1 - min(next_attempt_at)), 0)"
        "::float8 AS age FROM grants WHERE state IN ('pending', 'revoking') "
        "AND next_attempt_at <= $1",
        now,
    )
    assert row is not None
    return int(row["due"]), float(row["age"])
