"""The request state machine: one transition table, one function that applies it.

Rules (after h11's ``_state.py``):

* The table below is the whole machine. A move not in it raises :class:`IllegalTransition`
  and the request is unchanged (requests are frozen; a move returns a new one).
* ``completedDateTime`` is set on entering a completed state (delivered, partiallyDelivered,
  deliveryFailed, denied, canceled) and cleared on re-entering ``delivering`` (reprocess).
* Every state has one default ``status`` string; ``pendingApproval`` may also carry
  ``PendingApprovalEscalated`` and ``submitted`` ``WaitingForCallback`` (see :func:`with_status`).
* No clock: the caller passes ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from accessflow.domain.codes import ReasonCode
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.enums import RequestState
from accessflow.domain.errors import DomainError, IllegalTransition
from accessflow.domain.models.common import AccessPackageSubject
from accessflow.domain.models.packages import AccessPackage
from accessflow.domain.models.requests import AccessPackageAssignmentRequest, derive_graph

S = RequestState


class Transition(NamedTuple):
    source: RequestState | None  # None: the request does not exist yet
    target: RequestState
    when: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, S.SUBMITTED, "create accepted"),
    Transition(S.SUBMITTED, S.PENDING_APPROVAL, "approval required"),
    Transition(S.SUBMITTED, S.SCHEDULED, "no approval, start in future"),
    Transition(S.SUBMITTED, S.DELIVERING, "no approval, start now"),
    Transition(S.SUBMITTED, S.DENIED, "not eligible"),
    Transition(S.SUBMITTED, S.CANCELED, "cancel"),
    Transition(S.PENDING_APPROVAL, S.SCHEDULED, "approved, start in future"),
    Transition(S.PENDING_APPROVAL, S.DELIVERING, "approved"),
    Transition(S.PENDING_APPROVAL, S.DENIED, "denied or timed out"),
    Transition(S.PENDING_APPROVAL, S.CANCELED, "cancel"),
    Transition(S.SCHEDULED, S.DELIVERING, "start time reached"),
    Transition(S.SCHEDULED, S.CANCELED, "cancel"),
    Transition(S.DELIVERING, S.DELIVERED, "all grants done"),
    Transition(S.DELIVERING, S.PARTIALLY_DELIVERED, "some grants failed"),
    Transition(S.DELIVERING, S.DELIVERY_FAILED, "all grants failed"),
    Transition(S.DELIVERY_FAILED, S.DELIVERING, "reprocess"),
    Transition(S.PARTIALLY_DELIVERED, S.DELIVERING, "reprocess"),
)

ALLOWED: frozenset[tuple[RequestState | None, RequestState]] = frozenset(
    (t.source, t.target) for t in TRANSITIONS
)

#: Graph's status string for each state (spec §1.5); the first is the default.
STATUSES: dict[RequestState, tuple[str, ...]] = {
    S.SUBMITTED: ("Accepted", "WaitingForCallback"),
    S.PENDING_APPROVAL: ("PendingApproval", "PendingApprovalEscalated"),
    S.SCHEDULED: ("PendingNotBefore",),
    S.DELIVERING: ("Delivering",),
    S.DELIVERED: ("Delivered",),
    S.PARTIALLY_DELIVERED: ("PartiallyDelivered",),
    S.DELIVERY_FAILED: ("DeliveryFailed",),
    S.DENIED: ("Denied",),
    S.CANCELED: ("Canceled",),
    S.UNKNOWN_FUTURE_VALUE: ("Unknown",),
}

#: No transition leaves these.
FINAL_STATES = frozenset({S.DELIVERED, S.DENIED, S.CANCELED})
#: Processing ended: ``completedDateTime`` is set.
COMPLETED_STATES = frozenset(
    {S.DELIVERED, S.PARTIALLY_DELIVERED, S.DELIVERY_FAILED, S.DENIED, S.CANCELED}
)
#: Terminal unless reprocessed within the window.
REPROCESSABLE_STATES = frozenset({S.DELIVERY_FAILED, S.PARTIALLY_DELIVERED})
#: Still in flight: a second request for the same target and package is refused meanwhile.
OPEN_STATES = frozenset({S.SUBMITTED, S.PENDING_APPROVAL, S.SCHEDULED, S.DELIVERING})
#: Graph's cancel works on statuses accepted/pendingApproval/pendingNotBefore/…Escalated.
CANCELLABLE_STATES = frozenset({S.SUBMITTED, S.PENDING_APPROVAL, S.SCHEDULED})
#: Graph documents 14 days (Entra's portal says 7); the worker may pass its own.
DEFAULT_REPROCESS_WINDOW = timedelta(days=14)


def default_status(state: RequestState) -> str:
    return STATUSES[state][0]


def is_allowed(source: RequestState | None, target: RequestState) -> bool:
    return (source, target) in ALLOWED


def submit(
    body: CreateAssignmentRequest,
    *,
    request_id: str,
    now: datetime,
    requestor: AccessPackageSubject | None = None,
    access_package: AccessPackage | None = None,
) -> AccessPackageAssignmentRequest:
    """The (new) → submitted move: the request as Graph's create returns it."""
    return AccessPackageAssignmentRequest(
        id=request_id,
        request_type=body.request_type,
        state=S.SUBMITTED,
        status=default_status(S.SUBMITTED),
        created_date_time=now,
        completed_date_time=None,
        justification=body.justification,
        schedule=body.schedule,
        answers=body.answer_list,
        access_package=access_package,
        assignment=body.assignment,
        requestor=requestor,
    )


def transition(
    request: AccessPackageAssignmentRequest,
    target: RequestState,
    *,
    now: datetime,
    status: str | None = None,
) -> AccessPackageAssignmentRequest:
    """Move ``request`` to ``target``: a new request, or :class:`IllegalTransition`."""
    if not is_allowed(request.state, target):
        raise IllegalTransition(request.state, target)
    new_status = _checked_status(target, status)
    if target in COMPLETED_STATES:
        completed: datetime | None = now
    elif target is S.DELIVERING:
        completed = None  # reprocess re-opens the request
    else:
        completed = request.completed_date_time
    update = {"state": target, "status": new_status, "completed_date_time": completed}
    moved = request.model_copy(update=update)
    derive_graph(moved, request, update)
    return moved


def with_status(
    request: AccessPackageAssignmentRequest, status: str
) -> AccessPackageAssignmentRequest:
    """Change only the status, to another status of the same state (e.g. escalation)."""
    update = {"status": _checked_status(request.state, status)}
    changed = request.model_copy(update=update)
    derive_graph(changed, request, update)
    return changed


def reprocess(
    request: AccessPackageAssignmentRequest,
    *,
    now: datetime,
    window: timedelta = DEFAULT_REPROCESS_WINDOW,
) -> AccessPackageAssignmentRequest:
    """Back to ``delivering`` from deliveryFailed/partiallyDelivered, within ``window`` of
    ``completedDateTime``; otherwise ``IllegalTransition`` or ``ReprocessWindowExpired``."""
    if request.state not in REPROCESSABLE_STATES:
        raise IllegalTransition(request.state, S.DELIVERING, "only failed or partial requests")
    completed = request.completed_date_time
    if completed is not None and now - completed > window:
        raise DomainError(
            ReasonCode.REPROCESS_WINDOW_EXPIRED,
            f"completed at {completed.isoformat()}, more than {window.days} days ago",
        )
    return transition(request, S.DELIVERING, now=now)


def _checked_status(state: RequestState, status: str | None) -> str:
    allowed = STATUSES[state]
    if status is None:
        return allowed[0]
    if status not in allowed:
        raise IllegalTransition(
            state, state, f"status {status!r} does not go with state {state}: {allowed}"
        )
    return status
