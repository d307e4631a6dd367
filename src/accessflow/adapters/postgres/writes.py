"""A batch's writes: set-based statements, each table's rows passed as arrays.

``executemany`` would run its statement once per row: PostgreSQL binds, executes and fires
the statement's triggers per row, ≈ 40–80 µs each here, most of a large batch's time in the
database. ``INSERT … SELECT FROM unnest($1::uuid[], $2::text[], …)`` is one
execution for the whole set (a few µs per row), and the nine tables' inserts and upserts go
together in one statement of data-modifying CTEs: one round trip instead of nine. What
must see those rows (revoked memberships, fired timers) follows in statements of its own,
so what a batch leaves behind is what one statement per table, in turn, would leave.

An upsert may not touch one row twice in one statement, so the rows are keyed: requests and
assignments by id (dicts already), grants by (assignment, scope), the last write winning as
if each row were written in turn.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from accessflow.adapters.postgres.pool import Conn
from accessflow.domain.models.requests import to_graph
from accessflow.service.ports import Changes, Grant, StoredRequest


def columns(rows: Iterable[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    """Rows → one sequence per column (the arrays ``unnest`` takes), transposed in C."""
    transposed: list[Sequence[Any]] = list(zip(*rows, strict=True))
    return transposed or [() for _ in range(width)]


async def save_changes(conn: Conn, changes: Changes) -> None:
    """Every insert and upsert of the batch in one statement (one round trip, not nine), then
    the rare removals and timer marks, which must see those rows (a membership granted and
    revoked in one batch ends revoked, as if each table were written in turn)."""
    if _has_rows(changes):
        await conn.execute(_SAVE, *_save_arguments(changes))
    if changes.memberships_removed:
        pairs = ((m.group_id.lower(), m.user_id.lower()) for m in changes.memberships_removed)
        await conn.execute(_DELETE_MEMBERS, *columns(pairs, 2))
    if changes.timers_fired:
        await conn.execute(
            "UPDATE timers SET fired_at = now() WHERE id = ANY($1::uuid[])", changes.timers_fired
        )


def _has_rows(changes: Changes) -> bool:
    return bool(
        changes.requests
        or changes.history
        or changes.users_created
        or changes.assignments
        or changes.grants
        or changes.memberships_added
        or changes.processed
        or changes.timers
        or changes.outbox
    )


def _save_arguments(changes: Changes) -> list[Sequence[Any]]:
    history = (
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
    )
    users = ((u.id, u.display_name, u.mail, u.user_type.value) for u in changes.users_created)
    assignments = (
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
    )
    members = ((m.group_id.lower(), m.user_id.lower()) for m in changes.memberships_added)
    processed = ((p.command_id, p.command_type, p.request_id, p.outcome) for p in changes.processed)
    timers = ((t.id, t.kind, t.request_id, t.due_at, t.payload) for t in changes.timers)
    events = ((e.event_id, e.event_type, e.key, e.payload) for e in changes.outbox)
    return [
        *columns(map(_request_row, changes.requests.values()), 13),
        *columns(history, 8),
        *columns(users, 4),
        *columns(assignments, 6),
        *columns(map(_grant_row, _last_per_key(changes.grants)), 10),
        *columns(members, 2),
        *columns(processed, 4),
        *columns(timers, 5),
        *columns(events, 4),
    ]


def _last_per_key(grants: list[Grant]) -> Iterable[Grant]:
    latest: dict[tuple[uuid.UUID, str], Grant] = {}
    for grant in grants:
        latest[(grant.assignment_id, grant.resource_scope_id)] = grant
    return latest.values()


def _grant_row(g: Grant) -> tuple[Any, ...]:
    return (
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
        None if stored.approval is None else stored.approval.to_json(),
    )


_UPSERT_REQUESTS = """
INSERT INTO assignment_requests (id, request_type, state, status, target_id, access_package_id,
    requestor_id, assignment_id, sequence, created_at, completed_at, document, approval)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::int[], $10::timestamptz[], $11::timestamptz[], $12::json[],
    $13::jsonb[])
ON CONFLICT (id) DO UPDATE SET state = excluded.state, status = excluded.status,
    assignment_id = excluded.assignment_id, sequence = excluded.sequence,
    completed_at = excluded.completed_at, document = excluded.document,
    approval = excluded.approval
"""

_INSERT_HISTORY = """
INSERT INTO request_history (request_id, sequence, previous_state, state, status, reason,
    causation_id, occurred_at)
SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::jsonb[],
    $7::text[], $8::timestamptz[])
"""

_INSERT_PROCESSED = """
INSERT INTO processed_commands (command_id, command_type, request_id, outcome)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[])
"""

_INSERT_TIMERS = """
INSERT INTO timers (id, kind, request_id, due_at, payload)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::jsonb[])
ON CONFLICT (id) DO NOTHING
"""

_INSERT_OUTBOX = """
INSERT INTO outbox (event_id, event_type, key, payload)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[])
"""

_INSERT_USERS = """
INSERT INTO directory_users (id, display_name, mail, user_type)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (id) DO NOTHING
"""

_UPSERT_ASSIGNMENTS = """
INSERT INTO assignments (id, access_package_id, assignment_policy_id, target_id, state,
    created_at, updated_at, document)
SELECT id, package, policy, target, state, now(), now(), document
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::json[])
    AS r(id, package, policy, target, state, document)
ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = now(),
    document = excluded.document
"""

_UPSERT_GRANTS = """
INSERT INTO grants (assignment_id, resource_scope_id, origin_system, origin_id, state, detail,
    request_id, role_origin_id, attempts, next_attempt_at, updated_at)
SELECT *, now() FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
    $6::text[], $7::uuid[], $8::text[], $9::int[], $10::timestamptz[])
ON CONFLICT (assignment_id, resource_scope_id) DO UPDATE SET state = excluded.state,
    detail = excluded.detail, request_id = excluded.request_id,
    role_origin_id = excluded.role_origin_id, attempts = excluded.attempts,
    next_attempt_at = excluded.next_attempt_at, updated_at = now()
"""

_INSERT_MEMBERS = """
INSERT INTO group_members (group_id, user_id, source)
SELECT g, u, 'accessflow' FROM unnest($1::text[], $2::text[]) AS m(g, u)
ON CONFLICT DO NOTHING
"""

_DELETE_MEMBERS = """
DELETE FROM group_members gm USING unnest($1::text[], $2::text[]) AS m(g, u)
WHERE gm.group_id = m.g AND gm.user_id = m.u AND gm.source = 'accessflow'
"""


def _renumbered(sql: str, offset: int) -> str:
    return re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + offset}", sql.strip())


def _one_statement(*parts: tuple[str, str, int]) -> str:
    """Data-modifying CTEs: each runs once, to completion, whether or not the main query
    reads it; unique violations still raise at once, and the foreign keys (history and
    timers → requests, grants → assignments) are checked at the end of the statement, when
    the rows they point at are in."""
    ctes, offset = [], 0
    for name, sql, width in parts:
        ctes.append(f"{name} AS ({_renumbered(sql, offset)})")
        offset += width
    return "WITH " + ",\n".join(ctes) + "\nSELECT 1"


# Same column order as _save_arguments.
_SAVE = _one_statement(
    ("requests", _UPSERT_REQUESTS, 13),
    ("history", _INSERT_HISTORY, 8),
    ("users", _INSERT_USERS, 4),
    ("assignments", _UPSERT_ASSIGNMENTS, 6),
    ("grants", _UPSERT_GRANTS, 10),
    ("members", _INSERT_MEMBERS, 2),
    ("processed", _INSERT_PROCESSED, 4),
    ("timers", _INSERT_TIMERS, 5),
    ("events", _INSERT_OUTBOX, 4),
)
