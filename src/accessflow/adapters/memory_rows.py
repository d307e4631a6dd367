"""The in-memory store's tables: frozen rows as the PostgreSQL tables hold them, and the
helpers that read them back the way the real adapter's queries do (``memory.py`` uses them)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TypeVar

import orjson

from accessflow.domain.approval_states import ApprovalRecord
from accessflow.domain.models.packages import AccessPackage, AccessPackageCatalog, DirectoryUser
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import AccessPackageAssignment as Assignment
from accessflow.domain.models.requests import AccessPackageAssignmentRequest, to_graph
from accessflow.service.ports import (
    Grant,
    HistoryEntry,
    Membership,
    OutboxEvent,
    ProcessedCommand,
    StoredRequest,
    Timer,
)
from accessflow.service.read_model import CatalogObjects

OPEN_STATES = frozenset({"submitted", "pendingApproval", "scheduled", "delivering"})
ADD_TYPES = frozenset({"userAdd", "adminAdd", "systemAdd"})
MANAGER_LEVELS = 3  # load_view's recursive CTE: the user and three managers up
Doc = TypeVar("Doc", AccessPackageCatalog, AccessPackage, AccessPackageAssignmentPolicy)


@dataclass(frozen=True, slots=True)
class RequestRow:
    document: bytes  # the Graph document, as orjson bytes
    request_type: str
    state: str
    target_id: str | None
    access_package_id: str | None
    requestor_id: str | None
    assignment_id: str | None
    sequence: int
    approval: bytes | None

    @property
    def is_open_add(self) -> bool:  # the predicate of assignment_requests_one_open_add
        return self.state in OPEN_STATES and self.request_type in ADD_TYPES


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    access_package_id: str | None
    target_id: str
    state: str
    document: bytes


@dataclass
class MemoryState:
    """Every table; copied container by container when a batch starts (rows are frozen)."""

    processed: dict[str, ProcessedCommand] = field(default_factory=dict)
    requests: dict[uuid.UUID, RequestRow] = field(default_factory=dict)
    history: dict[tuple[uuid.UUID, int], HistoryEntry] = field(default_factory=dict)
    outbox: dict[uuid.UUID, OutboxEvent] = field(default_factory=dict)  # in insertion order
    assignments: dict[uuid.UUID, AssignmentRow] = field(default_factory=dict)
    grants: dict[tuple[uuid.UUID, str], Grant] = field(default_factory=dict)
    members: set[tuple[str, str, str]] = field(default_factory=set)  # group, user, source
    users: dict[str, DirectoryUser] = field(default_factory=dict)
    timers: dict[uuid.UUID, tuple[Timer, bool]] = field(default_factory=dict)  # timer, fired
    objects: CatalogObjects = field(default_factory=lambda: CatalogObjects(0, {}, {}, {}))

    def copy(self) -> MemoryState:
        return MemoryState(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})


def is_due(grant: Grant, now: datetime) -> bool:
    return grant.next_attempt_at is not None and grant.next_attempt_at <= now


def row_key(row: RequestRow | AssignmentRow) -> tuple[str | None, str | None]:
    return (row.target_id, row.access_package_id)


def delivered_memberships(memberships: Iterable[Membership]) -> set[tuple[str, str, str]]:
    return {(m.group_id.lower(), m.user_id.lower(), "accessflow") for m in memberships}


def stored_request(row: RequestRow) -> StoredRequest:
    """A fresh copy, as ``load_requests`` reads it back from its columns."""
    request = AccessPackageAssignmentRequest.model_validate(orjson.loads(row.document))
    approval = (
        None if row.approval is None else ApprovalRecord.from_json(orjson.loads(row.approval))
    )
    ids = (row.target_id, row.access_package_id, row.requestor_id, row.assignment_id)
    return StoredRequest(request, row.sequence, *ids, approval=approval)


def assignment_of(document: bytes) -> Assignment:
    return Assignment.model_validate(orjson.loads(document))


def reloaded(items: Iterable[Doc], model: type[Doc]) -> dict[str, Doc]:
    """Keyed and re-read the way ``load_catalog_objects`` reads the stored documents."""
    return {item.id.lower(): model.model_validate(to_graph(item)) for item in items}


def users_with_managers(
    users: dict[str, DirectoryUser], user_ids: Collection[str], mails: Collection[str]
) -> dict[str, DirectoryUser]:
    """The users named by id or mail, and their managers up to three levels."""
    ids, lowered = {u.lower() for u in user_ids}, {m.lower() for m in mails}
    level = {
        uid
        for uid, user in users.items()
        if uid in ids or (user.mail is not None and user.mail.lower() in lowered)
    }
    chain = set(level)
    for _ in range(MANAGER_LEVELS):
        level = {m for uid in level if uid in users and (m := users[uid].manager_id)} - chain
        chain |= level
    return {uid: users[uid] for uid in sorted(chain) if uid in users}
