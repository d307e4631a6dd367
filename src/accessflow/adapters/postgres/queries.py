"""Read models for the HTTP API over committed state: requests, assignments, catalog objects.

The worker is the only writer of these tables; the API only reads them. Filters arrive as
:class:`~accessflow.domain.filters.Comparison` triples (Graph property, operator, typed
value) that the API's OData parser has already checked; each property maps to a fixed SQL
expression below and every value is a bound parameter, so no client text ever becomes SQL.
Pages are keyset pages on ``(created_at, id)`` (the ``assignment_requests_created`` index),
never OFFSET.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any

import asyncpg

from accessflow.adapters.postgres.pool import Conn
from accessflow.service.ports import canonical_uuids
from accessflow.service.read_model import AssignmentRow, PageQuery, RequestRow, Scope

_OPS = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}

REQUEST_FIELDS: Mapping[str, str] = {
    "state": "state",
    "requestType": "request_type",
    "createdDateTime": "created_at",
    "accessPackage/id": "lower(access_package_id)",
    "requestor/objectId": "lower(requestor_id)",
}
ASSIGNMENT_FIELDS: Mapping[str, str] = {
    "state": "state",
    "accessPackage/id": "lower(access_package_id)",
    "assignmentPolicy/id": "lower(assignment_policy_id)",
    "target/objectId": "lower(target_id)",
}

_REQUEST_COLUMNS = (
    "id, created_at, state, completed_at, requestor_id, target_id, access_package_id, "
    "assignment_id, document, approval"
)

# Stage approvers (escalation approvers once escalated) who may decide the current stage.
_APPROVER_NOW = """(state = 'pendingApproval' AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(approval->'stages') s
    WHERE s->>'status' = 'InProgress' AND EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(CASE WHEN (s->>'escalated')::boolean
            THEN s->'approvers' || s->'escalationApprovers' ELSE s->'approvers' END) a
        WHERE lower(a) = {p})))"""
# Anyone named as an approver of any stage, decided or not.
_APPROVER_EVER = """EXISTS (
    SELECT 1 FROM jsonb_array_elements(coalesce(approval->'stages', '[]'::jsonb)) s,
        jsonb_array_elements_text(s->'approvers' || s->'escalationApprovers') a
    WHERE lower(a) = {p})"""
_SCOPES: Mapping[Scope, str] = {
    "target": "lower(target_id) = {p}",
    "createdBy": "lower(requestor_id) = {p}",
    "approver": _APPROVER_NOW,
    "visible": "(lower(requestor_id) = {p} OR lower(target_id) = {p} OR " + _APPROVER_EVER + ")",
}

# Assignments: non-admins see those they are the target of (``visible``, ``target``), or
# those an add request they made created (``createdBy``).
_ASSIGNMENT_SCOPES: Mapping[Scope, str] = {
    "visible": "lower(target_id) = {p}",
    "target": "lower(target_id) = {p}",
    "createdBy": """EXISTS (SELECT 1 FROM assignment_requests r
        WHERE r.assignment_id = assignments.id::text AND lower(r.requestor_id) = {p}
          AND r.request_type IN ('userAdd', 'adminAdd', 'systemAdd', 'onBehalfAdd'))""",
}
# additionalAccess: the target also holds another package, live.
_HOLDING = """(state <> 'expired' AND EXISTS (SELECT 1 FROM assignments other
    WHERE other.target_id = assignments.target_id AND other.state <> 'expired'
      AND lower(other.access_package_id) = {p}))"""


class _Args:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _where(
    fields: Mapping[str, str], query: PageQuery, scopes: Mapping[Scope, str], arg: _Args
) -> list[str]:
    """The conditions of a query: its filters and the caller's scope, without the keyset."""
    where = [f"{fields[c.field]} {_OPS[c.op]} {arg(c.value)}" for c in query.filters]
    if query.user is not None:
        where.append(scopes[query.scope].format(p=arg(query.user.lower())))
    if query.holding is not None:
        where.append(_HOLDING.format(p=arg(query.holding.lower())))
    return where


def _page_sql(
    table: str, columns: str, fields: Mapping[str, str], query: PageQuery, scopes: bool
) -> tuple[str, list[Any]]:
    arg = _Args()
    where = _where(fields, query, _SCOPES if scopes else _ASSIGNMENT_SCOPES, arg)
    if query.after is not None:
        cmp = "<" if query.descending else ">"
        where.append(
            f"(created_at, id) {cmp} ({arg(query.after.created_at)}, {arg(query.after.id)})"
        )
    direction = "DESC" if query.descending else "ASC"
    sql = f"SELECT {columns} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY created_at {direction}, id {direction} LIMIT {arg(query.limit + 1)}"
    return sql, arg.values


async def _count(
    conn: Conn, table: str, fields: Mapping[str, str], query: PageQuery, scopes: bool
) -> int:
    arg = _Args()
    where = _where(fields, query, _SCOPES if scopes else _ASSIGNMENT_SCOPES, arg)
    sql = f"SELECT count(*) FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
    total: int = await conn.fetchval(sql, *arg.values)
    return total


async def count_requests(conn: Conn, query: PageQuery) -> int:
    """How many requests match ``query``'s filters and scope (its keyset and limit aside)."""
    return await _count(conn, "assignment_requests", REQUEST_FIELDS, query, True)


async def count_assignments(conn: Conn, query: PageQuery) -> int:
    return await _count(conn, "assignments", ASSIGNMENT_FIELDS, query, False)


def _request(row: asyncpg.Record) -> RequestRow:
    return RequestRow(**dict(row))


async def list_requests(conn: Conn, query: PageQuery) -> list[RequestRow]:
    """Up to ``limit + 1`` rows (one more than the page: it says whether another follows)."""
    sql, args = _page_sql("assignment_requests", _REQUEST_COLUMNS, REQUEST_FIELDS, query, True)
    return [_request(row) for row in await conn.fetch(sql, *args)]


async def get_request(conn: Conn, request_id: uuid.UUID) -> RequestRow | None:
    row = await conn.fetchrow(
        f"SELECT {_REQUEST_COLUMNS} FROM assignment_requests WHERE id = $1", request_id
    )
    return _request(row) if row is not None else None


async def list_assignments(conn: Conn, query: PageQuery) -> list[AssignmentRow]:
    columns = "id, created_at, target_id, document"
    sql, args = _page_sql("assignments", columns, ASSIGNMENT_FIELDS, query, False)
    return [AssignmentRow(**dict(row)) for row in await conn.fetch(sql, *args)]


async def get_assignments(conn: Conn, ids: Collection[str]) -> dict[str, AssignmentRow]:
    """Assignments by id (lower-case keys); ids that are not GUIDs simply match nothing."""
    rows = await conn.fetch(  # by the primary key: a cast column would read the table
        "SELECT id, created_at, target_id, document FROM assignments WHERE id = ANY($1::uuid[])",
        canonical_uuids(ids),
    )
    return {str(row["id"]): AssignmentRow(**dict(row)) for row in rows}


async def list_catalog_objects(
    conn: Conn, kind: str, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Catalog documents of one kind in id order, keyset-paged by id."""
    rows = await conn.fetch(
        "SELECT document FROM catalog_objects WHERE kind = $1 AND ($2::text IS NULL OR id > $2) "
        "ORDER BY id LIMIT $3",
        kind,
        after,
        limit + 1,
    )
    return [row["document"] for row in rows]


async def get_catalog_objects(
    conn: Conn, kind: str, ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, document FROM catalog_objects WHERE kind = $1 AND id = ANY($2::text[])",
        kind,
        sorted({i.lower() for i in ids}),
    )
    return {row["id"]: row["document"] for row in rows}


async def assignment_target(conn: Conn, assignment_id: str) -> str | None:
    """The target of an assignment, so the rules' view can include that user."""
    wanted = canonical_uuids([assignment_id])
    if not wanted:
        return None
    target: str | None = await conn.fetchval(
        "SELECT target_id FROM assignments WHERE id = $1", wanted[0]
    )
    return target


async def assignment_requestors(conn: Conn, assignment_id: uuid.UUID) -> list[str]:
    """Who made the add requests that created an assignment (``filterByCurrentUser
    (on='createdBy')``'s rule, for a read by id)."""
    rows = await conn.fetch(
        "SELECT requestor_id FROM assignment_requests WHERE assignment_id = $1 "
        "AND request_type IN ('userAdd', 'adminAdd', 'systemAdd', 'onBehalfAdd') "
        "AND requestor_id IS NOT NULL",
        str(assignment_id),
    )
    return [row["requestor_id"] for row in rows]
