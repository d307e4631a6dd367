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
from typing import Any

import asyncpg

from accessflow.adapters.postgres.catalog_store import (
    CatalogObjects,
    catalog_version,
    load_catalog_objects,
)
from accessflow.adapters.postgres.pool import Conn
from accessflow.adapters.postgres.view import load_view
from accessflow.domain.models.requests import AccessPackageAssignmentRequest, to_graph
from accessflow.service.ports import (
    Changes,
    Grant,
    MutableView,
    PendingGrant,
    StoredRequest,
    Timer,
    uuids,
)


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
        rows = await self._conn.fetch(
            "SELECT command_id FROM processed_commands WHERE command_id = ANY($1::text[])",
            list(command_ids),
        )
        return {row["command_id"] for row in rows}

    async def load_requests(
        self, request_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredRequest]:
        if not request_ids:
            return {}
        rows = await self._conn.fetch(
            f"SELECT id, {REQUEST_COLUMNS} FROM assignment_requests WHERE id = ANY($1::uuid[]) "
            "ORDER BY id FOR UPDATE",  # a fixed lock order: two batches cannot deadlock
            sorted(request_ids),
        )
        return {row["id"]: stored_request(row) for row in rows}

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> MutableView:
        objects = await self._uow.catalog_objects(self._conn)
        return await load_view(self._conn, objects, user_ids, mails, assignment_ids)

    async def save(self, changes: Changes) -> None:
        conn = self._conn
        if changes.requests:
            await conn.executemany(
                _UPSERT_REQUEST, [_request_row(s) for s in changes.requests.values()]
            )
        if changes.history:
            await conn.copy_records_to_table(
                "request_history",
                records=[
                    (
                        h.request_id,
                        h.sequence,
                        h.previous_state,
                        h.state,
                        h.status,
                        h.reason,
                        h.causation_id,
                        h.occurred_at,
                    )
                    for h in changes.history
                ],
                columns=[
                    "request_id",
                    "sequence",
                    "previous_state",
                    "state",
                    "status",
                    "reason",
                    "causation_id",
                    "occurred_at",
                ],
            )
        await self._save_effects(changes)
        if changes.processed:
            await conn.copy_records_to_table(
                "processed_commands",
                records=[
                    (p.command_id, p.command_type, p.request_id, p.outcome)
                    for p in changes.processed
                ],
                columns=["command_id", "command_type", "request_id", "outcome"],
            )
        if changes.timers:
            await conn.executemany(
                "INSERT INTO timers (id, kind, request_id, due_at, payload) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                [(t.id, t.kind, t.request_id, t.due_at, t.payload) for t in changes.timers],
            )
        if changes.timers_fired:
            await conn.execute(
                "UPDATE timers SET fired_at = now() WHERE id = ANY($1::uuid[])",
                changes.timers_fired,
            )
        if changes.outbox:
            await conn.executemany(
                "INSERT INTO outbox (event_id, event_type, key, payload) VALUES ($1, $2, $3, $4)",
                [(e.event_id, e.event_type, e.key, e.payload) for e in changes.outbox],
            )

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

    async def _save_effects(self, changes: Changes) -> None:
        conn = self._conn
        if changes.users_created:
            await conn.executemany(
                "INSERT INTO directory_users (id, display_name, mail, user_type) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                [(u.id, u.display_name, u.mail, u.user_type.value) for u in changes.users_created],
            )
        if changes.assignments:
            await conn.executemany(
                _UPSERT_ASSIGNMENT,
                [
                    (
                        uuid.UUID(a.id),
                        a.access_package_id,
                        a.assignment_policy_id,
                        (a.target_ref or "").lower(),
                        a.state.value if a.state else "delivering",
                        to_graph(a),
                    )
                    for a in changes.assignments.values()
                    if a.id is not None
                ],
            )
        if changes.grants:
            await conn.executemany(
                _UPSERT_GRANT,
                [
                    (
                        g.assignment_id,
                        g.resource_scope_id,
                        g.origin_system,
                        g.origin_id,
                        g.state,
                        g.detail,
                        g.request_id,
                        g.role_origin_id,
                        g.attempts,
                        g.next_attempt_at,
                    )
                    for g in changes.grants
                ],
            )
        if changes.memberships_added:
            await conn.executemany(
                "INSERT INTO group_members (group_id, user_id, source) VALUES ($1, $2, "
                "'accessflow') ON CONFLICT DO NOTHING",
                [(m.group_id.lower(), m.user_id.lower()) for m in changes.memberships_added],
            )
        if changes.memberships_removed:
            await conn.executemany(
                "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 "
                "AND source = 'accessflow'",
                [(m.group_id.lower(), m.user_id.lower()) for m in changes.memberships_removed],
            )


#: The columns :func:`stored_request` reads.
REQUEST_COLUMNS = (
    "document, sequence, target_id, access_package_id, requestor_id, assignment_id, approval"
)


def stored_request(row: asyncpg.Record) -> StoredRequest:
    """A request row (at least :data:`REQUEST_COLUMNS`) as the handlers hold it."""
    return StoredRequest(
        request=AccessPackageAssignmentRequest.model_validate(row["document"]),
        sequence=row["sequence"],
        target_id=row["target_id"],
        access_package_id=row["access_package_id"],
        requestor_id=row["requestor_id"],
        assignment_id=row["assignment_id"],
        approval=row["approval"],
    )


def _request_row(stored: StoredRequest) -> tuple[Any, ...]:
    request = stored.request
    return (
        stored.id,
        request.request_type.value,
        request.state.value,
        request.status,
        stored.target_id,
        stored.access_package_id,
        stored.requestor_id,
        stored.assignment_id,
        stored.sequence,
        request.created_date_time,
        request.completed_date_time,
        to_graph(request),
        stored.approval,
    )


_UPSERT_REQUEST = """
INSERT INTO assignment_requests (id, request_type, state, status, target_id, access_package_id,
    requestor_id, assignment_id, sequence, created_at, completed_at, document, approval)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (id) DO UPDATE SET state = excluded.state, status = excluded.status,
    assignment_id = excluded.assignment_id, sequence = excluded.sequence,
    completed_at = excluded.completed_at, document = excluded.document,
    approval = excluded.approval
"""

_UPSERT_ASSIGNMENT = """
INSERT INTO assignments (id, access_package_id, assignment_policy_id, target_id, state,
    created_at, updated_at, document)
VALUES ($1, $2, $3, $4, $5, now(), now(), $6)
ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = now(),
    document = excluded.document
"""

_UPSERT_GRANT = """
INSERT INTO grants (assignment_id, resource_scope_id, origin_system, origin_id, state, detail,
    request_id, role_origin_id, attempts, next_attempt_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
ON CONFLICT (assignment_id, resource_scope_id) DO UPDATE SET state = excluded.state,
    detail = excluded.detail, request_id = excluded.request_id,
    role_origin_id = excluded.role_origin_id, attempts = excluded.attempts,
    next_attempt_at = excluded.next_attempt_at, updated_at = now()
"""

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
        row["state"],
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
