"""Delivering a request: grant (or revoke) every resource role scope of its access package.

This is the built-in directory connector: a group resource (``originSystem: AadGroup``) is
delivered as a membership row in accessflow's own directory, written in the same transaction
as the state change. Resources of other origin systems need a connector of their own
(issue 6); until one is configured they fail with ``ResourceUnavailable``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import AssignmentState, RequestState
from accessflow.domain.models.packages import AccessPackage, AccessPackageResourceRoleScope
from accessflow.service.ports import Changes, Grant, Membership, MutableView

ASSIGNMENT_NAMESPACE = uuid.UUID("0b6f4c55-2f8e-5f3a-b0a4-5d1e7c9a8e12")


def assignment_id_for(request_id: uuid.UUID) -> uuid.UUID:
    """Deterministic, so a redelivered create can never make a second assignment."""
    return uuid.uuid5(ASSIGNMENT_NAMESPACE, str(request_id))


@dataclass(frozen=True)
class DeliveryResult:
    state: RequestState  # delivered | partiallyDelivered | deliveryFailed
    failures: tuple[tuple[str, str], ...]  # (resource scope id, why)

    @property
    def assignment_state(self) -> AssignmentState:
        return AssignmentState(self.state.value)

    def reason(self) -> dict[str, str] | None:
        if not self.failures:
            return None
        detail = "; ".join(f"{scope}: {why}" for scope, why in self.failures)
        return {"code": ReasonCode.RESOURCE_UNAVAILABLE.value, "message": detail}


def scope_key(scope: AccessPackageResourceRoleScope, index: int) -> str:
    return scope.id or f"{scope.scope.origin_system}:{scope.scope.origin_id}:{index}"


def grant_all(
    package: AccessPackage,
    target_id: str,
    assignment_id: uuid.UUID,
    changes: Changes,
    only: set[str] | None = None,
) -> DeliveryResult:
    """Grant each scope (or only those named in ``only``, for a reprocess)."""
    failures: list[tuple[str, str]] = []
    attempted = 0
    for index, scope in enumerate(package.resource_role_scopes):
        key = scope_key(scope, index)
        if only is not None and key not in only:
            continue
        attempted += 1
        group_id = scope.group_id
        if group_id is None:
            why = f"no connector for originSystem {scope.scope.origin_system!r}"
            failures.append((key, why))
            state = "failed"
        else:
            changes.memberships_added.append(Membership(group_id, target_id))
            state, why = "delivered", ""
        changes.grants.append(
            Grant(
                assignment_id,
                key,
                scope.scope.origin_system,
                scope.scope.origin_id,
                state,
                why or None,
            )
        )
    return _result(attempted, failures)


def revoke_all(
    package: AccessPackage,
    target_id: str,
    assignment_id: uuid.UUID,
    view: MutableView,
    changes: Changes,
) -> None:
    """Remove the memberships this assignment delivered, unless another live assignment of
    the same target still grants the same group."""
    still_granted = {
        scope.group_id
        for other in view.assignments_of(target_id)
        if other.id is not None and other.id != str(assignment_id)
        for other_package in [view.package(other.access_package_id or "")]
        if other_package is not None
        for scope in other_package.resource_role_scopes
    }
    for index, scope in enumerate(package.resource_role_scopes):
        group_id = scope.group_id
        if group_id is not None and group_id not in still_granted:
            changes.memberships_removed.append(Membership(group_id, target_id))
        changes.grants.append(
            Grant(
                assignment_id,
                scope_key(scope, index),
                scope.scope.origin_system,
                scope.scope.origin_id,
                "revoked",
            )
        )


def _result(attempted: int, failures: list[tuple[str, str]]) -> DeliveryResult:
    if not failures:
        state = RequestState.DELIVERED
    elif len(failures) < attempted:
        state = RequestState.PARTIALLY_DELIVERED
    else:
        state = RequestState.DELIVERY_FAILED
    return DeliveryResult(state, tuple(failures))
