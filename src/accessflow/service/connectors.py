"""The delivery connector port: grant or revoke one resource role scope somewhere else.

A package's resource role scopes are delivered one :class:`GrantRequest` at a time. A
:class:`Connector` answers each with a :class:`GrantResult` and never raises for the
outside system's sake: ``succeeded``, ``retry`` (transient: try again later, after
``retry_after`` seconds when the system said so) or ``failed`` (permanent: retrying the same
call cannot help). Connectors must be idempotent: the worker sends the same grant again after
a crash, a rebalance or a reprocess, always with the same :attr:`GrantRequest.idempotency_key`.

:class:`ConnectorRegistry` picks the connector for a resource by its ``originSystem``; it is a
:class:`Connector` itself, so the worker holds one object whatever is configured.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

#: Namespace of idempotency keys; changing it would make every receiver see new grants.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5c3f9a1e-7d2b-5c8e-9f40-a6b7c8d9e0f1")


class Operation(StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


class CallOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"  # transient: timeout, connection error, 5xx, 429
    FAILED = "failed"  # permanent: any other refusal


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """One resource role scope to grant to (or revoke from) an assignment's target."""

    request_id: uuid.UUID
    assignment_id: uuid.UUID
    target_id: str
    access_package_id: str
    resource_scope_id: str
    origin_system: str
    origin_id: str
    role_origin_id: str | None = None
    #: Which durable round this is: 1 on the first call, counting up as the delivery loop
    #: retries; a reprocess or a revoke starts again at 1. Connectors' own inline retries
    #: do not change it.
    attempt: int = 1

    def idempotency_key(self, operation: Operation) -> str:
        """Stable per (assignment, scope, operation): every retry, redelivery or reprocess of
        one grant carries the same key, and a grant and its revoke carry different ones."""
        name = f"{self.assignment_id}:{self.resource_scope_id}:{operation.value}"
        return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, name))


@dataclass(frozen=True, slots=True)
class GrantResult:
    """What one grant or revoke came to, after the connector's own inline retries."""

    outcome: CallOutcome
    detail: str | None = None
    status: int | None = None  # the last HTTP status, for connectors that speak HTTP
    retry_after: float | None = None  # seconds the system asked us to wait, if it did
    attempts: int = 1  # calls made inline for this result

    @classmethod
    def succeeded(cls, *, status: int | None = None, attempts: int = 1) -> GrantResult:
        return cls(CallOutcome.SUCCEEDED, status=status, attempts=attempts)

    @classmethod
    def retry(
        cls,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> GrantResult:
        return cls(CallOutcome.RETRY, detail, status, retry_after, attempts)

    @classmethod
    def failed(cls, detail: str, *, status: int | None = None, attempts: int = 1) -> GrantResult:
        return cls(CallOutcome.FAILED, detail, status, attempts=attempts)

    @property
    def is_transient(self) -> bool:
        return self.outcome is CallOutcome.RETRY


class Connector(Protocol):
    """Grants and revokes resource role scopes in one kind of outside system.

    Both calls are idempotent: granting what is granted, or revoking what is not, succeeds.
    They return a result for everything the outside system does; raising is for bugs.
    """

    async def grant(self, grant: GrantRequest) -> GrantResult: ...

    async def revoke(self, grant: GrantRequest) -> GrantResult: ...


class ConnectorRegistry:
    """Routes each grant to the connector configured for its ``originSystem``.

    Origin systems match case-insensitively, as Graph treats them. A grant whose origin
    system has no connector fails permanently: retrying cannot configure one.
    """

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = {name.casefold(): c for name, c in connectors.items()}
        if len(self._connectors) != len(connectors):
            raise ValueError("two connectors for the same originSystem (compared ignoring case)")

    def lookup(self, origin_system: str) -> Connector | None:
        return self._connectors.get(origin_system.casefold())

    async def grant(self, grant: GrantRequest) -> GrantResult:
        connector = self.lookup(grant.origin_system)
        if connector is None:
            return self._unrouted(grant)
        return await connector.grant(grant)

    async def revoke(self, grant: GrantRequest) -> GrantResult:
        connector = self.lookup(grant.origin_system)
        if connector is None:
            return self._unrouted(grant)
        return await connector.revoke(grant)

    @staticmethod
    def _unrouted(grant: GrantRequest) -> GrantResult:
        return GrantResult.failed(f"no connector for originSystem {grant.origin_system!r}")
