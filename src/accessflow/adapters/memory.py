"""An in-memory unit of work: the same ports as the PostgreSQL adapter, kept in dicts.

It is a fake for unit tests, held to the real adapter by the contract suite
(``tests/contract``), so it mirrors the database rather than being convenient:

* A batch works on a private copy of the state, swapped in only when the ``batch()`` block
  exits normally; a batch that raises leaves no trace (the transaction's rollback).
* Rows are stored as the database stores them: documents as JSON bytes, read back through
  the same pydantic models, so no object handed out can alias what is stored.
* The constraints of ``migrations/*.sql`` are enforced in the same order as
  :meth:`PgBatchStore.save` writes, and raise :class:`UniqueViolationError` /
  :class:`ForeignKeyViolationError` carrying the database's constraint names. These are
  ``ValueError`` subclasses, not asyncpg's classes: callers that must handle both catch
  :class:`IntegrityViolation` here and ``asyncpg.IntegrityConstraintViolationError`` there.
* ``view()`` selects the users, memberships, assignments and open requests that
  :func:`accessflow.adapters.postgres.view.load_view` selects, by the same conditions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TypeVar

import orjson

from accessflow.adapters.postgres.catalog_store import CatalogObjects
from accessflow.adapters.postgres.view import approver_groups
from accessflow.domain.catalog import Catalog
from accessflow.domain.models.packages import (
    AccessPackage,
    AccessPackageCatalog,
    DirectoryGroup,
    DirectoryUser,
)
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import (
    AccessPackageAssignment,
    AccessPackageAssignmentRequest,
    to_graph,
)
from accessflow.domain.view import InMemoryView, OpenRequest
from accessflow.service.ports import (
    BatchStore,
    Changes,
    Grant,
    HistoryEntry,
    Membership,
    MutableView,
    OutboxEvent,
    ProcessedCommand,
    StoredRequest,
    UnitOfWork,
)

_OPEN = frozenset({"submitted", "pendingApproval", "scheduled", "delivering"})
_ADD_TYPES = frozenset({"userAdd", "adminAdd", "systemAdd"})
_MANAGER_LEVELS = 3  # the recursive CTE of load_view: the user and three managers up
_Doc = TypeVar("_Doc", AccessPackageCatalog, AccessPackage, AccessPackageAssignmentPolicy)


class IntegrityViolation(ValueError):  # noqa: N818 - mirrors asyncpg's class names below
    """A write the database's constraints would refuse; the batch must roll back."""

    def __init__(self, constraint_name: str, message: str) -> None:
        super().__init__(f"{constraint_name}: {message}")
        self.constraint_name = constraint_name


class UniqueViolationError(IntegrityViolation):
    """A primary key or unique index already holds this value."""


class ForeignKeyViolationError(IntegrityViolation):
    """A row names a parent row that does not exist."""


@dataclass(frozen=True, slots=True)
class _RequestRow:
    stored: bytes  # orjson of the Graph document
    request_type: str
    state: str
    target_id: str | None
    access_package_id: str | None
    requestor_id: str | None
    assignment_id: str | None
    sequence: int
    approval: bytes | None


@dataclass(frozen=True, slots=True)
class _AssignmentRow:
    access_package_id: str | None
    target_id: str
    state: str
    document: bytes


@dataclass
class _State:
    """Every table; copied container by container when a batch starts (rows are frozen)."""

    processed: dict[str, ProcessedCommand] = field(default_factory=dict)
    requests: dict[uuid.UUID, _RequestRow] = field(default_factory=dict)
    history: dict[tuple[uuid.UUID, int], HistoryEntry] = field(default_factory=dict)
    outbox: list[OutboxEvent] = field(default_factory=list)
    outbox_ids: set[uuid.UUID] = field(default_factory=set)
    assignments: dict[uuid.UUID, _AssignmentRow] = field(default_factory=dict)
    grants: dict[tuple[uuid.UUID, str], Grant] = field(default_factory=dict)
    members: set[tuple[str, str, str]] = field(default_factory=set)  # group, user, source
    users: dict[str, DirectoryUser] = field(default_factory=dict)
    objects: CatalogObjects = field(default_factory=lambda: CatalogObjects(0, {}, {}, {}))

    def copy(self) -> _State:
        return _State(
            dict(self.processed),
            dict(self.requests),
            dict(self.history),
            list(self.outbox),
            set(self.outbox_ids),
            dict(self.assignments),
            dict(self.grants),
            set(self.members),
            dict(self.users),
            self.objects,
        )


class InMemoryUnitOfWork(UnitOfWork):
    """The fake :class:`UnitOfWork`; batches run one at a time (the rows' locks)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._state = _State()
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
        """As ``catalog_store.apply_catalog``: upsert everything the file names; the file is
        the truth for its groups' catalog memberships, delivered memberships stay."""
        state = self._state.copy()
        for user in catalog.users.values():
            state.users[user.id.lower()] = DirectoryUser(
                id=user.id.lower(),
                display_name=user.display_name,
                mail=user.mail,
                user_type=user.user_type,
                manager_id=user.manager_id.lower() if user.manager_id else None,
            )
        groups = {g.id.lower() for g in catalog.groups.values()}
        state.members = {m for m in state.members if m[2] != "catalog" or m[0] not in groups}
        for group in catalog.groups.values():
            state.members.update((group.id.lower(), u.lower(), "catalog") for u in group.members)
        old = state.objects
        state.objects = CatalogObjects(
            old.version + 1,
            {**old.catalogs, **_reloaded(catalog.catalogs.values(), AccessPackageCatalog)},
            {**old.packages, **_reloaded(catalog.access_packages.values(), AccessPackage)},
            {
                **old.policies,
                **_reloaded(catalog.assignment_policies.values(), AccessPackageAssignmentPolicy),
            },
        )
        self._state = state

    # Read helpers for tests (tests/support/store_support.py has the same for PostgreSQL).
    def request(self, request_id: uuid.UUID) -> StoredRequest | None:
        row = self._state.requests.get(request_id)
        return None if row is None else _stored(row)

    def history_of(self, request_id: uuid.UUID) -> list[HistoryEntry]:
        entries = [h for (rid, _), h in self._state.history.items() if rid == request_id]
        return sorted(entries, key=lambda h: h.sequence)

    def outbox_events(self) -> list[OutboxEvent]:
        return list(self._state.outbox)

    def processed_commands(self) -> list[ProcessedCommand]:
        return list(self._state.processed.values())

    def assignment(self, assignment_id: str) -> AccessPackageAssignment | None:
        row = self._state.assignments.get(uuid.UUID(assignment_id))
        return None if row is None else _assignment(row.document)

    def grants_of(self, assignment_id: str) -> list[Grant]:
        wanted = uuid.UUID(assignment_id)
        return sorted(
            (g for (aid, _), g in self._state.grants.items() if aid == wanted),
            key=lambda g: g.resource_scope_id,
        )

    def members_of(self, group_id: str, source: str | None = None) -> set[str]:
        """Users in the group, from the catalog, deliveries (``accessflow``), or both."""
        gid = group_id.lower()
        return {u for g, u, s in self._state.members if g == gid and source in (None, s)}


class InMemoryBatchStore(BatchStore):
    """One batch's reads and writes against its private copy of the state."""

    def __init__(self, state: _State) -> None:
        self.state = state

    async def processed_ids(self, command_ids: Collection[str]) -> set[str]:
        return {c for c in command_ids if c in self.state.processed}

    async def load_requests(
        self, request_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredRequest]:
        rows = self.state.requests
        return {rid: _stored(rows[rid]) for rid in sorted(request_ids) if rid in rows}

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> MutableView:
        state = self.state
        users = _users_with_managers(state.users, user_ids, mails)
        approvers = set(approver_groups(state.objects))
        members: dict[str, set[str]] = {}
        for group_id, user_id, _ in state.members:
            if user_id in users or group_id in approvers:
                members.setdefault(group_id, set()).add(user_id)
        catalog = Catalog(
            users=users,
            groups={gid: DirectoryGroup(id=gid, members=sorted(ms)) for gid, ms in members.items()},
            catalogs=state.objects.catalogs,
            access_packages=state.objects.packages,
            assignment_policies=state.objects.policies,
        )
        wanted_ids = set(assignment_ids)
        assignments = [
            _assignment(row.document)
            for aid, row in state.assignments.items()
            if (row.target_id in users and row.state != "expired") or str(aid) in wanted_ids
        ]
        open_requests = [
            OpenRequest(str(rid), row.target_id, row.access_package_id)
            for rid, row in state.requests.items()
            if row.target_id in users and row.access_package_id is not None and _is_open_add(row)
        ]
        return InMemoryView(catalog, assignments=assignments, open_requests=open_requests)

    async def save(self, changes: Changes) -> None:
        """Write in :meth:`PgBatchStore.save`'s order, checking each constraint per row."""
        for stored in changes.requests.values():
            self._upsert_request(stored)
        for entry in changes.history:
            self._insert_history(entry)
        self._save_effects(changes)
        for command in changes.processed:
            if command.command_id in self.state.processed:
                raise UniqueViolationError("processed_commands_pkey", command.command_id)
            self.state.processed[command.command_id] = command
        for event in changes.outbox:
            if event.event_id in self.state.outbox_ids:
                raise UniqueViolationError("outbox_event_id_key", str(event.event_id))
            self.state.outbox_ids.add(event.event_id)
            self.state.outbox.append(event)

    def _upsert_request(self, stored: StoredRequest) -> None:
        request = stored.request
        old = self.state.requests.get(stored.id)
        row = _RequestRow(
            stored=orjson.dumps(to_graph(request)),
            request_type=request.request_type.value,
            state=request.state.value,
            target_id=stored.target_id if old is None else old.target_id,
            access_package_id=stored.access_package_id if old is None else old.access_package_id,
            requestor_id=stored.requestor_id if old is None else old.requestor_id,
            assignment_id=stored.assignment_id,
            sequence=stored.sequence,
            approval=None if stored.approval is None else orjson.dumps(stored.approval),
        )
        if old is not None:  # ON CONFLICT (id) DO UPDATE leaves the other columns alone
            row = replace(row, request_type=old.request_type)
        if _is_open_add(row) and row.target_id is not None and row.access_package_id is not None:
            for rid, other in self.state.requests.items():
                if (
                    rid != stored.id
                    and _is_open_add(other)
                    and (other.target_id, other.access_package_id)
                    == (row.target_id, row.access_package_id)
                ):
                    raise UniqueViolationError(
                        "assignment_requests_one_open_add",
                        f"({row.target_id}, {row.access_package_id}) has open request {rid}",
                    )
        self.state.requests[stored.id] = row

    def _insert_history(self, entry: HistoryEntry) -> None:
        key = (entry.request_id, entry.sequence)
        if entry.sequence <= 0:
            raise IntegrityViolation("request_history_sequence_check", str(entry.sequence))
        if entry.request_id not in self.state.requests:
            raise ForeignKeyViolationError("request_history_request_id_fkey", str(entry.request_id))
        if key in self.state.history:
            raise UniqueViolationError("request_history_pkey", f"{key}")
        self.state.history[key] = entry

    def _save_effects(self, changes: Changes) -> None:
        state = self.state
        for assignment in changes.assignments.values():
            if assignment.id is None:
                continue
            aid = uuid.UUID(assignment.id)
            row = _AssignmentRow(
                access_package_id=assignment.access_package_id,
                target_id=(assignment.target_ref or "").lower(),
                state=assignment.state.value if assignment.state else "delivering",
                document=orjson.dumps(to_graph(assignment)),
            )
            old = state.assignments.get(aid)
            if old is not None:  # the upsert updates state and document only
                row = replace(old, state=row.state, document=row.document)
            if row.state != "expired" and any(
                other_id != aid
                and other.state != "expired"
                and (other.target_id, other.access_package_id)
                == (row.target_id, row.access_package_id)
                for other_id, other in state.assignments.items()
            ):
                raise UniqueViolationError("assignments_one_live", f"{row.target_id}")
            state.assignments[aid] = row
        for grant in changes.grants:
            if grant.assignment_id not in state.assignments:
                raise ForeignKeyViolationError(
                    "grants_assignment_id_fkey", str(grant.assignment_id)
                )
            state.grants[(grant.assignment_id, grant.resource_scope_id)] = grant
        state.members.update(_delivered(changes.memberships_added))
        state.members.difference_update(_delivered(changes.memberships_removed))


def _delivered(memberships: Iterable[Membership]) -> set[tuple[str, str, str]]:
    return {(m.group_id.lower(), m.user_id.lower(), "accessflow") for m in memberships}


def _is_open_add(row: _RequestRow) -> bool:
    return row.state in _OPEN and row.request_type in _ADD_TYPES


def _stored(row: _RequestRow) -> StoredRequest:
    """A fresh copy, as ``load_requests`` reads it back from its columns."""
    return StoredRequest(
        request=AccessPackageAssignmentRequest.model_validate(orjson.loads(row.stored)),
        sequence=row.sequence,
        target_id=row.target_id,
        access_package_id=row.access_package_id,
        requestor_id=row.requestor_id,
        assignment_id=row.assignment_id,
        approval=None if row.approval is None else orjson.loads(row.approval),
    )


def _assignment(document: bytes) -> AccessPackageAssignment:
    return AccessPackageAssignment.model_validate(orjson.loads(document))


def _reloaded(items: Iterable[_Doc], model: type[_Doc]) -> dict[str, _Doc]:
    """Keyed and re-read the way ``load_catalog_objects`` reads the stored documents."""
    return {item.id.lower(): model.model_validate(to_graph(item)) for item in items}


def _users_with_managers(
    users: dict[str, DirectoryUser], user_ids: Collection[str], mails: Collection[str]
) -> dict[str, DirectoryUser]:
    """The users named by id or mail, and their managers up to three levels."""
    ids = {u.lower() for u in user_ids}
    lowered = {m.lower() for m in mails}
    level = {
        uid
        for uid, user in users.items()
        if uid in ids or (user.mail is not None and user.mail.lower() in lowered)
    }
    chain = set(level)
    for _ in range(_MANAGER_LEVELS):
        level = {m for uid in level if uid in users and (m := users[uid].manager_id)} - chain
        chain |= level
    return {uid: users[uid] for uid in sorted(chain) if uid in users}


__all__ = [
    "ForeignKeyViolationError",
    "InMemoryBatchStore",
    "InMemoryUnitOfWork",
    "IntegrityViolation",
    "UniqueViolationError",
]
