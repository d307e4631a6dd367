"""What the HTTP API reads and the ports it reads and produces through.

The API's use cases (:mod:`accessflow.service.submit`, :mod:`accessflow.service.actions`)
see committed state only through :class:`ReadModel` and :class:`IdempotencyKeys`, and send
commands only through :class:`CommandPublisher`, as the worker's handlers see the store only
through :class:`~accessflow.service.ports.UnitOfWork`. The PostgreSQL adapter implements
the reads (``adapters/postgres/read_model.py``), the memory store's twin serves unit tests
(``adapters/memory_read_model.py``), and the API's producer implements the publisher.

The query records (:class:`PageQuery`, holding the
:class:`~accessflow.domain.filters.Comparison` triples the OData parser produces, and the
rows read back) live here too: the API builds them and the adapter translates them into SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from accessflow.domain.filters import Comparison
from accessflow.domain.models.packages import AccessPackage, AccessPackageCatalog
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.view import DirectoryView

Scope = Literal["visible", "target", "createdBy", "approver"]


@dataclass(frozen=True)
class Keyset:
    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class PageQuery:
    filters: tuple[Comparison, ...] = ()
    limit: int = 100
    descending: bool = False
    after: Keyset | None = None
    # Restrict to one user's rows: ``visible`` = what a non-admin may read.
    user: str | None = None
    scope: Scope = "visible"
    # Assignments only: keep those whose target also holds this package (live).
    holding: str | None = None


@dataclass(frozen=True)
class RequestRow:
    id: uuid.UUID
    created_at: datetime
    state: str
    completed_at: datetime | None
    requestor_id: str | None
    target_id: str | None
    access_package_id: str | None
    assignment_id: str | None
    document: dict[str, Any]
    approval: dict[str, Any] | None


@dataclass(frozen=True)
class AssignmentRow:
    id: uuid.UUID
    created_at: datetime
    target_id: str
    document: dict[str, Any]


#: Causes that are not commands, whose causation ids say what they are.
_NOT_COMMANDS = frozenset({"timer", "delivery"})


@dataclass(frozen=True)
class HistoryRow:
    request_id: uuid.UUID
    sequence: int
    previous_state: str | None
    state: str
    status: str
    reason: dict[str, Any] | None
    causation_id: str
    command_type: str | None  # the processed command's type, when a command caused it
    occurred_at: datetime

    @property
    def cause_type(self) -> str:
        """``timer`` or ``delivery`` for those causes (the worker's ledger records fired
        timers too, as ``accessflow.timer.fired``, but a timer is not a command), else the
        command's type."""
        prefix, separator, _ = self.causation_id.partition(":")
        if separator and prefix in _NOT_COMMANDS:
            return prefix
        return self.command_type or "unknown"


@dataclass(frozen=True)
class CatalogObjects:
    """The few, rarely changing parts of the catalog every batch needs, cached by version."""

    version: int
    catalogs: dict[str, AccessPackageCatalog]
    packages: dict[str, AccessPackage]
    policies: dict[str, AccessPackageAssignmentPolicy]


@dataclass(frozen=True)
class IdempotencyRecord:
    request_id: uuid.UUID
    body_hash: str
    state: str  # pending | done
    command: dict[str, Any]
    response: dict[str, Any] | None
    stale: bool


class ReadModel(Protocol):
    """Committed state, as the API's pre-checks read it."""

    async def request(self, request_id: uuid.UUID) -> RequestRow | None: ...

    async def view(
        self, user_ids: Collection[str], mails: Collection[str], assignment_ids: Collection[str]
    ) -> DirectoryView:
        """The rules' view for these ids: what the worker's ``BatchStore.view`` reads."""
        ...


class IdempotencyKeys(Protocol):
    """Idempotency keys of the create: claimed ``pending`` before the command is produced,
    ``done`` (with the answer) once it was acknowledged, released when it was not."""

    async def find(
        self, caller: str, key: str, stale_after: timedelta
    ) -> IdempotencyRecord | None: ...

    async def claim(
        self,
        caller: str,
        key: str,
        body_hash: str,
        request_id: uuid.UUID,
        command: dict[str, Any],
        response: dict[str, Any],
    ) -> bool:
        """False when the key is already claimed or done."""
        ...

    async def take_over(self, caller: str, key: str, stale_after: timedelta) -> bool:
        """Re-claim a stale pending claim; True for exactly one of several contenders."""
        ...

    async def complete(self, caller: str, key: str) -> None: ...

    async def release(self, caller: str, key: str, request_id: uuid.UUID) -> None: ...


class CommandPublisher(Protocol):
    """Sends one command envelope and returns once the broker acknowledged it; raises
    when it could not (the caller learns at once, nothing is left to be sent later)."""

    async def publish(self, envelope: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Channels:
    """The ports the API's use cases read and produce through, and their envelopes'
    ``source``."""

    read: ReadModel
    keys: IdempotencyKeys
    publisher: CommandPublisher
    source: str
