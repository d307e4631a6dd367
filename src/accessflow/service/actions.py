"""The API's actions on a request (cancel, reprocess) and on its approval (decide).

Each checks what committed state can already tell, so the caller gets its Graph error at
once (the request exists, the caller may act, the state allows it: the worker's own checks,
:mod:`accessflow.domain.states` and :func:`~accessflow.domain.approval_states.decide`),
then produces its command. The worker remains the authority and checks everything again
when it applies the command.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accessflow.domain import approval_states, states
from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import RequestState
from accessflow.domain.errors import DomainError, IllegalTransition
from accessflow.domain.models.requests import AccessPackageAssignmentRequest, to_graph
from accessflow.domain.rules import Caller
from accessflow.service.commands import CANCEL, DECIDE, REPROCESS, command_envelope
from accessflow.service.read_model import Channels, ReadModel, RequestRow


@dataclass(frozen=True)
class Action:
    """Who acts on which request, and the trace the command continues."""

    caller: Caller
    request_id: uuid.UUID
    now: datetime
    traceparent: str | None = None


@dataclass(frozen=True)
class StageReview:
    stage_id: uuid.UUID
    review_result: str  # Approve | Deny
    justification: str | None = None


def _is(caller: Caller, other: str | None) -> bool:
    return other is not None and other.casefold() == caller.object_id.casefold()


def is_named_approver(stage: Mapping[str, Any], user: str) -> bool:
    named = [*stage.get("approvers", []), *stage.get("escalationApprovers", [])]
    return user.casefold() in {a.casefold() for a in named}


def may_read(row: RequestRow, caller: Caller) -> bool:
    if caller.is_admin or _is(caller, row.requestor_id) or _is(caller, row.target_id):
        return True
    stages = (row.approval or {}).get("stages", [])
    return any(is_named_approver(stage, caller.object_id) for stage in stages)


def readable(row: RequestRow | None, caller: Caller, request_id: uuid.UUID) -> RequestRow:
    """The request, if it exists (404) and the caller may read it (403)."""
    if row is None:
        raise DomainError(ReasonCode.REQUEST_NOT_FOUND, f"no assignment request {request_id}")
    if not may_read(row, caller):
        raise DomainError(
            ReasonCode.REQUESTOR_NOT_ALLOWED,
            "only the requestor, the target, an approver or an admin may read this request",
        )
    return row


async def _actionable(read: ReadModel, asked: Action) -> RequestRow:
    row = readable(await read.request(asked.request_id), asked.caller, asked.request_id)
    caller = asked.caller
    if not (caller.is_admin or _is(caller, row.requestor_id) or _is(caller, row.target_id)):
        raise DomainError(
            ReasonCode.REQUESTOR_NOT_ALLOWED,
            "only the requestor, the target or an admin may do this",
        )
    return row


async def _publish(
    ports: Channels, command_type: str, row: RequestRow, asked: Action, data: dict[str, Any]
) -> None:
    envelope = command_envelope(
        command_type,
        row.id,
        data,
        source=ports.source,
        time=asked.now,
        traceparent=asked.traceparent,
    )
    await ports.publisher.publish(envelope)


async def cancel(ports: Channels, asked: Action) -> None:
    """Cancel a submitted, pendingApproval or scheduled request."""
    row = await _actionable(ports.read, asked)
    state = RequestState(row.state)
    if state not in states.CANCELLABLE_STATES:
        raise IllegalTransition(
            state, RequestState.CANCELED, f"a {state} request cannot be canceled"
        )
    await _publish(ports, CANCEL, row, asked, {"requestor": to_graph(asked.caller)})


async def reprocess(ports: Channels, asked: Action, window: timedelta) -> None:
    """Reprocess a deliveryFailed or partiallyDelivered request within ``window``."""
    row = await _actionable(ports.read, asked)
    stored = AccessPackageAssignmentRequest.model_validate(row.document)
    states.reprocess(stored, now=asked.now, window=window)
    await _publish(ports, REPROCESS, row, asked, {"requestor": to_graph(asked.caller)})


async def approval_of(
    read: ReadModel, caller: Caller, approval_id: uuid.UUID, *, check_read: bool = True
) -> RequestRow:
    """The request that owns the approval (404s); ``check_read``: and the caller may read
    it (deciding checks instead that the caller approves the stage: NotAnApprover)."""
    row = await read.request(approval_id)
    if check_read:
        row = readable(row, caller, approval_id)
    elif row is None:
        raise DomainError(ReasonCode.REQUEST_NOT_FOUND, f"no approval {approval_id}")
    if not row.approval:
        raise DomainError(ReasonCode.REQUEST_NOT_FOUND, f"request {approval_id} has no approval")
    return row


def stages_of(row: RequestRow) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = (row.approval or {}).get("stages", [])
    return stages


def stage_of(stages: list[dict[str, Any]], stage_id: uuid.UUID) -> dict[str, Any]:
    for stage in stages:
        if str(stage["id"]).casefold() == str(stage_id):
            return stage
    raise DomainError(ReasonCode.APPROVAL_STAGE_NOT_FOUND, f"no approval stage {stage_id}")


async def decide(ports: Channels, asked: Action, decision: StageReview) -> None:
    """Approve or deny the approval's current stage (the approval's id is the request's)."""
    reviewer = asked.caller.object_id
    row = await approval_of(ports.read, asked.caller, asked.request_id, check_read=False)
    stage = stage_of(stages_of(row), decision.stage_id)
    if not is_named_approver(stage, reviewer):
        raise DomainError(ReasonCode.NOT_AN_APPROVER, "the caller is not an approver of this stage")
    if stage.get("reviewResult") != "NotReviewed":
        raise DomainError(
            ReasonCode.STAGE_ALREADY_DECIDED,
            f"stage {decision.stage_id} was already {stage['reviewResult']}",
        )
    if row.state != RequestState.PENDING_APPROVAL.value:
        raise IllegalTransition(row.state, row.state, "the request is not pending approval")
    # The worker's own check, on the committed approval (left as it is): decided (409), not
    # the current stage (409), not (yet) an approver (403), justification missing (400).
    approve = decision.review_result == "Approve"
    approval = approval_states.ApprovalRecord.from_json(row.approval or {})
    approval_states.decide(
        approval, stage["id"], reviewer, approve, decision.justification, asked.now
    )
    data = {
        "stageId": stage["id"],
        "reviewResult": decision.review_result,
        "justification": decision.justification,
        "reviewer": to_graph(asked.caller),
    }
    await _publish(ports, DECIDE, row, asked, data)
