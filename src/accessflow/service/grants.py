"""Delivering a request: grant (or revoke) every resource role scope of its access package.

Groups (``originSystem: AadGroup``) are delivered by the built-in directory connector: a
membership row in accessflow's own directory, written in the same transaction as the state
change. Every other resource is written as a *waiting* grant (``pending``, or ``revoking``
for a removal) for the delivery loop, which calls the configured connector outside any
transaction (``service/delivery_rounds.py``): the consume path never waits on an outside system.
A request settles (delivered / partiallyDelivered / deliveryFailed) once none of its grants
is waiting any more; :func:`settle` says how.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import AssignmentState, RequestState
from accessflow.domain.grant_states import (
    FAILED_STATES,
    GAVE_UP,
    GrantState,
    advance,
    granted,
    revoked,
)
from accessflow.domain.models.packages import (
    GROUP_ORIGIN_SYSTEM,
    AccessPackage,
    AccessPackageResourceRoleScope,
)
from accessflow.service.ids import uuid5
from accessflow.service.ports import Changes, Grant, Membership, MutableView

ASSIGNMENT_NAMESPACE = uuid.UUID("0b6f4c55-2f8e-5f3a-b0a4-5d1e7c9a8e12")


def assignment_id_for(request_id: uuid.UUID) -> uuid.UUID:
    """Deterministic, so a redelivered create can never make a second assignment."""
    return uuid5(ASSIGNMENT_NAMESPACE, str(request_id))


@dataclass(frozen=True)
class DeliveryResult:
    state: RequestState  # delivered | partiallyDelivered | deliveryFailed
    failures: tuple[tuple[str, str], ...]  # (resource scope id, why)

    @property
    def assignment_state(self) -> AssignmentState:
        return AssignmentState(self.state.value)

    def reason(self) -> dict[str, object] | None:
        """``code``/``message`` as the wire contract has them, plus one ``details`` entry
        per resource that failed (``target`` = its resource role scope id)."""
        if not self.failures:
            return None
        detail = "; ".join(f"{scope}: {why}" for scope, why in self.failures)
        return {
            "code": ReasonCode.RESOURCE_UNAVAILABLE.value,
            "message": detail,
            "details": [{"target": scope, "message": why} for scope, why in self.failures],
        }


def scope_key(scope: AccessPackageResourceRoleScope, index: int) -> str:
    return scope.id or f"{scope.scope.origin_system}:{scope.scope.origin_id}:{index}"


def is_directory(origin_system: str) -> bool:
    return origin_system.casefold() == GROUP_ORIGIN_SYSTEM.casefold()


def grant_all(
    package: AccessPackage,
    target_id: str,
    assignment_id: uuid.UUID,
    request_id: uuid.UUID,
    changes: Changes,
    now: datetime,
    only: set[str] | None = None,
    granted_before: Mapping[str, Grant] | None = None,
) -> list[Grant]:
    """Grant each scope (or only those named in ``only``, for a reprocess): groups now, the
    rest as ``pending`` grants due at once. ``granted_before``: the assignment's grant rows,
    each scope's move checked against the grant state machine before anything is written."""
    before = granted_before or {}
    written = []
    members = []
    for index, scope in enumerate(package.resource_role_scopes):
        key = scope_key(scope, index)
        if only is not None and key not in only:
            continue
        origin = scope.scope.origin_system
        directory = is_directory(origin)
        previous = before.get(key)
        state = advance(previous.state if previous else None, granted(directory=directory))
        if directory:
            members.append(Membership(scope.scope.origin_id, target_id))
        grant = Grant(
            assignment_id,
            key,
            origin,
            scope.scope.origin_id,
            state,
            request_id=request_id,
            role_origin_id=scope.role.origin_id,
            next_attempt_at=None if directory else now,
        )
        written.append(grant)
    changes.memberships_added.extend(members)
    changes.grants.extend(written)
    return written


def revoke_all(
    package: AccessPackage | None,
    target_id: str,
    assignment_id: uuid.UUID,
    request_id: uuid.UUID,
    view: MutableView,
    changes: Changes,
    now: datetime,
    granted: Mapping[str, Grant],
    only: set[str] | None = None,
) -> list[Grant]:
    """Revoke what the assignment was granted (its grant rows; the package's scopes for
    assignments older than them): memberships now, unless another live assignment of the
    same target still grants the same group; outside resources as ``revoking`` grants. Each
    move is checked against the grant state machine before anything is written."""
    rows = dict(granted)
    for index, scope in enumerate(package.resource_role_scopes if package else ()):
        key = scope_key(scope, index)
        rows.setdefault(
            key,
            Grant(
                assignment_id,
                key,
                scope.scope.origin_system,
                scope.scope.origin_id,
                GrantState.DELIVERED,
                role_origin_id=scope.role.origin_id,
            ),
        )
    still_granted = _groups_granted_elsewhere(view, target_id, assignment_id)
    written = []
    members = []
    for key, row in sorted(rows.items()):
        if (only is not None and key not in only) or row.state == GrantState.REVOKED:
            continue
        # Even a grant that failed is revoked: the far side may have half-done it.
        directory = is_directory(row.origin_system)
        state = advance(row.state, revoked(directory=directory))
        if directory and row.origin_id.casefold() not in still_granted:
            members.append(Membership(row.origin_id, target_id))
        grant = Grant(
            assignment_id,
            key,
            row.origin_system,
            row.origin_id,
            state,
            request_id=request_id,
            role_origin_id=row.role_origin_id,
            next_attempt_at=None if directory else now,
        )
        written.append(grant)
    changes.memberships_removed.extend(members)
    changes.grants.extend(written)
    return written


def _groups_granted_elsewhere(
    view: MutableView, target_id: str, assignment_id: uuid.UUID
) -> set[str]:
    return {
        group_id.casefold()
        for other in view.assignments_of(target_id)
        if other.id is not None and other.id != str(assignment_id)
        for other_package in [view.package(other.access_package_id or "")]
        if other_package is not None
        for scope in other_package.resource_role_scopes
        if (group_id := scope.group_id) is not None
    }


def settle(grants: Iterable[Grant]) -> DeliveryResult | None:
    """The outcome over an assignment's grants of this round, or None while any waits."""
    grants = list(grants)
    if any(g.waiting for g in grants):
        return None
    failures = [
        (g.resource_scope_id, g.detail or "failed") for g in grants if g.state in FAILED_STATES
    ]
    if not failures:
        state = RequestState.DELIVERED
    elif len(failures) < len(grants):
        state = RequestState.PARTIALLY_DELIVERED
    else:
        state = RequestState.DELIVERY_FAILED
    return DeliveryResult(state, tuple(failures))


def failed_keys(grants: Iterable[Grant], *, removal: bool) -> set[str]:
    """What a reprocess sends again: the grants (a removal's: the revokes) that failed,
    nothing else."""
    failed = GAVE_UP[GrantState.REVOKING if removal else GrantState.PENDING]
    return {g.resource_scope_id for g in grants if g.state == failed}
