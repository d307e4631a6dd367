"""An in-memory unit of work: the PostgreSQL adapter's ports over dicts, for unit tests.

The contract suite (``tests/contract``) holds it to the real adapter, so it mirrors the
database rather than being convenient. A batch works on a private copy of the state that
replaces it only when the ``batch()`` block exits normally (a raise is a rollback). Rows keep
documents as JSON bytes read back through the same models, so nothing handed out aliases
what is stored. ``save`` writes in :class:`PgBatchStore`'s order and enforces the
migrations' constraints row by row, raising :class:`IntegrityViolation` subclasses named
after asyncpg's, with the same ``constraint_name``/``column_name``; they are ``ValueError``s,
so code that must survive both catches these and ``asyncpg.IntegrityConstraintViolationError``.
``view()`` selects what :func:`~accessflow.adapters.postgres.view.load_view` selects.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime

import orjson

from accessflow.adapters.memory_constraints import (
    ForeignKeyViolationError,
    IntegrityViolation,
    NotNullViolationError,
    UniqueViolationError,
    insert,
    not_null,
    parent,
)
from accessflow.adapters.memory_rows import (
    AssignmentRow,
    MemoryState,
    RequestRow,
    assignment_of,
    delivered_memberships,
    is_due,
    reloaded,
    row_key,
    stored_request,
    users_with_managers,
)
from accessflow.adapters.postgres.view import approver_groups
from accessflow.domain.catalog import Catalog
from accessflow.domain.models.packages import (
    AccessPackage,
    AccessPackageCatalog,
    DirectoryGroup,
)
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import AccessPackageAssignment as Assignment
from accessflow.domain.models.requests import to_graph
from accessflow.domain.view import InMemoryView, OpenRequest
from accessflow.service.ports import (
    BatchStore,
    Changes,
    Grant,
    HistoryEntry,
    MutableView,
    OutboxEvent,
    PendingGrant,
    ProcessedCommand,
    StoredRequest,
    Timer,
    UnitOfWork,
    uuids,
)
from accessflow.service.read_model import CatalogObjects

_INSERT_ONLY = ("request_type", "target_id", "access_package_id", "requestor_id")
__all__ = [
    "ForeignKeyViolationError",
    "InMemoryBatchStore",
    "InMemoryUnitOfWork",
    "IntegrityViolation",
    "NotNullViolationError",
    "UniqueViolationError",
]


class InMemoryUnitOfWork(UnitOfWork):
    """The fake :class:`UnitOfWork`; batches run one at a time (the rows' locks)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._state = MemoryState()
        self._lock = asyncio.Lock()
        if catalog is not None:
            self.apply_catalog(catalog)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[InMemoryBatchStore]:
        async with self._lock:
            store = InMemoryBatchStore(self._state.copy())
            yield store
            self._state = store.state  # reached only when the block did not raise

    def apply_catalog(self, catalog: Catalog) -> None:
        """As ``catalog_store.apply_catalog``: upsert what the file names; the file is the
        truth for its groups' catalog memberships, delivered memberships stay."""
        state = self._state.copy()
        for user in catalog.users.values():
            manager = user.manager_id.lower() if user.manager_id else None
            state.users[user.id.lower()] = user.model_copy(
                update={"id": user.id.lower(), "manager_id": manager}
            )
        groups = {g.id.lower() for g in catalog.groups.values()}
        state.members = {m for m in state.members if m[2] != "catalog" or m[0] not in groups}
        for group in catalog.groups.values():
            state.members.update((group.id.lower(), u.lower(), "catalog") for u in group.members)
        old = state.objects
        state.objects = CatalogObjects(
            old.version + 1,
            old.catalogs | reloaded(catalog.catalogs.values(), AccessPackageCatalog),
            old.packages | reloaded(catalog.access_packages.values(), AccessPackage),
            old.policies
            | reloaded(catalog.assignment_policies.values(), AccessPackageAssignmentPolicy),
        )
        self._state = state

    # Read helpers for tests (tests/support/store_support.py has the same for PostgreSQL).
    def request(self, request_id: uuid.UUID) -> StoredRequest | None:
        row = self._state.requests.get(request_id)
        return None if row is None else stored_request(row)

    def history_of(self, request_id: uuid.UUID) -> list[HistoryEntry]:
        return [self._state.history[k] for k in sorted(self._state.history) if k[0] == request_id]

    def outbox_events(self) -> list[OutboxEvent]:
        return list(self._state.outbox.values())

    def processed_commands(self) -> list[ProcessedCommand]:
        return list(self._state.processed.values())

    def assignment(self, assignment_id: str) -> Assignment | None:
        row = self._state.assignments.get(uuid.UUID(assignment_id))
        return None if row is None else assignment_of(row.document)

    def grants_of(self, assignment_id: str) -> list[Grant]:
        grants = self._state.grants
        return [grants[k] for k in sorted(grants) if k[0] == uuid.UUID(assignment_id)]

    def members_of(self, group_id: str, source: str | None = None) -> set[str]:
        """Users in the group, from the catalog, deliveries (``accessflow``), or both."""
        gid = group_id.lower()
        return {u for g, u, s in self._state.members if g == gid and source in (None, s)}


class InMemoryBatchStore(BatchStore):
    """One batch's reads and writes against its private copy of the state."""

    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def processed_ids(self, command_ids: Collection[str]) -> set[str]:
        return {c for c in command_ids if c in self.state.processed}

    async def load_requests(
        self, request_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredRequest]:
        rows = self.state.requests
        return {rid: stored_request(rows[rid]) for rid in sorted(request_ids) if rid in rows}

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> MutableView:
        state, objects = self.state, self.state.objects
        wanted = {a.lower() for a in assignment_ids}
        # An update or removal names only the assignment: its person is in the batch too.
        people = {
            *user_ids,
            *(r.target_id for a, r in state.assignments.items() if str(a) in wanted),
        }
        users = users_with_managers(state.users, people, mails)
        approvers = set(approver_groups(objects))
        members: dict[str, set[str]] = {}
        for group_id, user_id, _ in state.members:
            if user_id in users or group_id in approvers:
                members.setdefault(group_id, set()).add(user_id)
        groups = {gid: DirectoryGroup(id=gid, members=sorted(ms)) for gid, ms in members.items()}
        catalog = Catalog(users, groups, objects.catalogs, objects.packages, objects.policies)
        # Graph ids are case-insensitive, as in load_view (pinned by the contract suite's
        # test_a_removal_finds_the_assignment_whatever_the_id_case).
        assignments = [
            assignment_of(row.document)
            for aid, row in state.assignments.items()
            if (row.target_id in users and row.state != "expired") or str(aid) in wanted
        ]
        open_requests = [
            OpenRequest(str(rid), row.target_id, row.access_package_id)
            for rid, row in state.requests.items()
            if row.target_id in users and row.access_package_id and row.is_open_add
        ]
        return InMemoryView(catalog, assignments=assignments, open_requests=open_requests)

    async def save(self, changes: Changes) -> None:
        """Write in :meth:`PgBatchStore.save`'s order, checking each constraint per row."""
        state = self.state
        for stored in changes.requests.values():
            self._upsert_request(stored)
        for entry in changes.history:
            key = (entry.request_id, entry.sequence)
            if entry.sequence <= 0:
                raise IntegrityViolation("request_history_sequence_check", str(key))
            parent(state.requests, entry.request_id, "request_history_request_id_fkey")
            insert(state.history, key, entry, "request_history_pkey")
        self._save_effects(changes)
        for command in changes.processed:
            insert(state.processed, command.command_id, command, "processed_commands_pkey")
        for timer in changes.timers:
            parent(state.requests, timer.request_id, "timers_request_id_fkey")
            state.timers.setdefault(timer.id, (timer, False))  # ON CONFLICT DO NOTHING
        for timer_id in changes.timers_fired:
            if timer_id in state.timers:
                state.timers[timer_id] = (state.timers[timer_id][0], True)
        for event in changes.outbox:
            insert(state.outbox, event.event_id, event, "outbox_event_id_key")

    async def claim_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        due = [t for t, fired in self.state.timers.values() if not fired and t.due_at <= now]
        return sorted(due, key=lambda t: t.due_at)[:limit]

    async def grants_of(self, assignment_ids: Collection[str]) -> list[Grant]:
        wanted = set(uuids(assignment_ids))
        grants = self.state.grants
        return [grants[k] for k in sorted(grants) if k[0] in wanted]

    async def lease_due_grants(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[PendingGrant]:
        due = sorted(
            (g for g in self.state.grants.values() if g.waiting and is_due(g, now)),
            key=lambda g: (g.next_attempt_at, g.assignment_id, g.resource_scope_id),
        )[:limit]
        leased = []
        for grant in due:
            grant = replace(grant, next_attempt_at=lease_until)
            self.state.grants[(grant.assignment_id, grant.resource_scope_id)] = grant
            row = self.state.assignments[grant.assignment_id]
            leased.append(PendingGrant(grant, row.target_id, row.access_package_id or ""))
        return leased

    def _upsert_request(self, stored: StoredRequest) -> None:
        request, old = stored.request, self.state.requests.get(stored.id)
        not_null(status=request.status, created_at=request.created_date_time)
        row = RequestRow(
            orjson.dumps(to_graph(request)),
            request.request_type.value,
            request.state.value,
            stored.target_id,
            stored.access_package_id,
            stored.requestor_id,
            stored.assignment_id,
            stored.sequence,
            None if stored.approval is None else orjson.dumps(stored.approval.to_json()),
        )
        if old is not None:  # ON CONFLICT (id) DO UPDATE leaves these columns alone
            row = replace(row, **{name: getattr(old, name) for name in _INSERT_ONLY})
        key = (row.target_id, row.access_package_id)
        if row.is_open_add and None not in key:
            for other_id, other in self.state.requests.items():
                if other_id != stored.id and other.is_open_add and key == row_key(other):
                    raise UniqueViolationError("assignment_requests_one_open_add", str(key))
        self.state.requests[stored.id] = row

    def _save_effects(self, changes: Changes) -> None:
        state = self.state
        for user in changes.users_created:
            state.users.setdefault(user.id.lower(), user)  # ON CONFLICT DO NOTHING
        for assignment in changes.assignments.values():
            if assignment.id is None:
                continue
            aid = uuid.UUID(assignment.id)
            not_null(access_package_id=assignment.access_package_id)
            row = AssignmentRow(
                assignment.access_package_id,
                (assignment.target_ref or "").lower(),
                assignment.state.value if assignment.state else "delivering",
                orjson.dumps(to_graph(assignment)),
            )
            old = state.assignments.get(aid)
            if old is not None:  # the upsert updates state and document only
                row = replace(old, state=row.state, document=row.document)
            if row.state != "expired" and any(
                other_id != aid and other.state != "expired" and row_key(other) == row_key(row)
                for other_id, other in state.assignments.items()
            ):
                raise UniqueViolationError("assignments_one_live", str(row_key(row)))
            state.assignments[aid] = row
        for grant in changes.grants:
            parent(state.assignments, grant.assignment_id, "grants_assignment_id_fkey")
            state.grants[(grant.assignment_id, grant.resource_scope_id)] = grant
        state.members.update(delivered_memberships(changes.memberships_added))
        state.members.difference_update(delivered_memberships(changes.memberships_removed))
