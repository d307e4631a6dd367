"""The ports the command handlers need, and the records that cross them.

A partition's batch is one unit of work: the handlers read what the batch is about in a
few bulk calls, decide everything in memory, and hand back one :class:`Changes` that the
store writes in one transaction. That keeps the hot path at a handful of round trips per
batch, whatever its size, and makes the handlers testable against an in-memory store.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from accessflow.domain.approval_states import ApprovalRecord
from accessflow.domain.grant_states import WAITING, GrantState
from accessflow.domain.models.packages import DirectoryUser
from accessflow.domain.models.requests import (
    AccessPackageAssignment,
    AccessPackageAssignmentRequest,
)
from accessflow.domain.view import DirectoryView, OpenRequest
from accessflow.service.ids import uuid5


@dataclass
class StoredRequest:
    """A request as the store keeps it: the Graph document plus what is indexed."""

    request: AccessPackageAssignmentRequest
    sequence: int
    target_id: str | None
    access_package_id: str | None
    requestor_id: str | None
    assignment_id: str | None
    approval: ApprovalRecord | None = None
    is_new: bool = False

    @functools.cached_property
    def id(self) -> uuid.UUID:
        # Read a dozen times per request on the hot path; a transition never changes it.
        return uuid.UUID(self.request.id)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    request_id: uuid.UUID
    sequence: int
    previous_state: str | None
    state: str
    status: str
    reason: dict[str, Any] | None
    causation_id: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ProcessedCommand:
    command_id: str
    command_type: str
    request_id: uuid.UUID | None
    outcome: str


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    event_id: uuid.UUID
    event_type: str
    key: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Grant:
    """One resource role scope delivered (or not) for an assignment.

    A grant of an outside system (a webhook) is written ``pending`` (or ``revoking``) with a
    ``next_attempt_at``; the delivery loop sends it outside any transaction and writes the
    result back. ``request_id`` names the request whose outcome waits on it.
    """

    assignment_id: uuid.UUID
    resource_scope_id: str
    origin_system: str
    origin_id: str
    state: GrantState
    detail: str | None = None
    request_id: uuid.UUID | None = None
    role_origin_id: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None

    @property
    def waiting(self) -> bool:
        return self.state in WAITING


@dataclass(frozen=True, slots=True)
class PendingGrant:
    """A waiting grant as the delivery loop claims it: the row and who it is for."""

    grant: Grant
    target_id: str
    access_package_id: str


@dataclass(frozen=True, slots=True)
class Membership:
    group_id: str
    user_id: str


def uuids(ids: Collection[str]) -> list[uuid.UUID]:
    """The ids that are UUIDs (a command may name any string as an assignment id)."""
    parsed = set()
    for value in ids:
        try:
            parsed.add(uuid.UUID(value))
        except ValueError:
            continue
    return sorted(parsed)


def canonical_uuids(ids: Collection[str]) -> list[uuid.UUID]:
    """The ids written as a GUID in its usual form, in any letter case: what ``id::text =
    lower(value)`` matches, as a key the primary-key index can use."""
    parsed = set()
    for value in ids:
        try:
            candidate = uuid.UUID(value)
        except ValueError:
            continue
        if str(candidate) == value.lower():
            parsed.add(candidate)
    return sorted(parsed)


TIMER_NAMESPACE = uuid.UUID("9a7c3c1e-4b5d-5e6f-8a9b-0c1d2e3f4a5b")


@dataclass(frozen=True, slots=True)
class Timer:
    """Something due at a moment: a scheduled start, an escalation, an automatic denial."""

    id: uuid.UUID
    kind: str
    request_id: uuid.UUID
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(
        cls, kind: str, request_id: uuid.UUID, due_at: datetime, key: str = "", **payload: Any
    ) -> Timer:
        timer_id = uuid5(TIMER_NAMESPACE, f"{request_id}:{kind}:{key}")
        return cls(timer_id, kind, request_id, due_at, payload)


@dataclass
class Changes:
    """Everything one batch writes, applied atomically by :meth:`BatchStore.save`."""

    requests: dict[uuid.UUID, StoredRequest] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    processed: list[ProcessedCommand] = field(default_factory=list)
    outbox: list[OutboxEvent] = field(default_factory=list)
    assignments: dict[str, AccessPackageAssignment] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    memberships_added: list[Membership] = field(default_factory=list)
    memberships_removed: list[Membership] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    users_created: list[DirectoryUser] = field(default_factory=list)
    timers_fired: list[uuid.UUID] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.processed or self.outbox)


class MutableView(DirectoryView, Protocol):
    """The rules' view, kept current by the handlers as the batch changes things."""

    def put_assignment(self, assignment: AccessPackageAssignment) -> None: ...

    def remove_assignment(self, assignment_id: str) -> None: ...

    def put_open_request(self, request: OpenRequest) -> None: ...

    def close_request(self, request_id: str) -> None: ...


class BatchStore(Protocol):
    """Reads and writes of one batch, inside one transaction."""

    async def processed_ids(self, command_ids: Collection[str]) -> set[str]: ...

    async def load_requests(
        self, request_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredRequest]:
        """The requests that exist, locked against concurrent writers until the commit."""
        ...

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> MutableView:
        """The directory, catalog, open requests and assignments relevant to these ids."""
        ...

    async def save(self, changes: Changes) -> None: ...

    async def claim_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        """Unfired timers due by ``now``, locked (others skip them) until the commit."""
        ...

    async def grants_of(self, assignment_ids: Collection[str]) -> list[Grant]:
        """Every grant row of these assignments (read after ``load_requests`` locked their
        requests, so a concurrent result for the same request is seen, not lost)."""
        ...

    async def lease_due_grants(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[PendingGrant]:
        """Waiting grants due by ``now``, their ``next_attempt_at`` pushed to
        ``lease_until``: no other worker claims them while this one calls the connector,
        and a worker that dies mid-call leaves them due again when the lease ends."""
        ...


class UnitOfWork(Protocol):
    def batch(self) -> AbstractAsyncContextManager[BatchStore]:
        """A transaction: committed when the block exits normally, rolled back otherwise."""
        ...


Events = Sequence[OutboxEvent]
