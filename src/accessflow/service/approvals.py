"""The approval record of a request: its stages, who may decide each, and the decisions.

Kept as a JSON document beside the request (Graph's ``approval`` entity has the request's
id). The first decision in a stage wins; a later one is refused ``StageAlreadyDecided``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from accessflow.domain.codes import ReasonCode
from accessflow.domain.errors import DomainError
from accessflow.domain.models.base import format_duration, format_utc
from accessflow.domain.rules import ApprovalPlan
from accessflow.service.ports import Timer

STAGE_NAMESPACE = uuid.UUID("5e0e8a4b-7c1d-5b7e-8f0a-1c2d3e4f5a6b")


def new_approval(plan: ApprovalPlan, request_id: str) -> dict[str, Any]:
    stages = []
    for stage in plan.stages:
        stages.append(
            {
                "id": str(uuid.uuid5(STAGE_NAMESPACE, f"{request_id}:{stage.index}")),
                "index": stage.index,
                "approvers": sorted(stage.approvers),
                "escalationApprovers": sorted(stage.escalation_approvers),
                "justificationRequired": stage.is_approver_justification_required,
                "durationBeforeAutomaticDenial": _duration(stage.duration_before_automatic_denial),
                "durationBeforeEscalation": _duration(stage.duration_before_escalation),
                "denyAfterSeconds": _seconds(stage.duration_before_automatic_denial),
                "escalateAfterSeconds": (
                    _seconds(stage.duration_before_escalation)
                    if stage.is_escalation_enabled and stage.escalation_approvers
                    else None
                ),
                "status": "InProgress" if stage.index == 0 else "Initializing",
                "reviewResult": "NotReviewed",
                "reviewedBy": None,
                "reviewedDateTime": None,
                "justification": None,
                "escalated": False,
            }
        )
    return {"id": request_id, "stages": stages}


def record_decision(
    approval: dict[str, Any],
    stage_id: str,
    reviewer: str,
    approve: bool,
    justification: str | None,
    now: datetime,
) -> bool:
    """Record one decision; returns True when it completes the whole approval (approved).

    Raises a :class:`DomainError` when the stage is unknown, not current, already decided,
    the reviewer may not decide it, or a required justification is missing.
    """
    stage = next((s for s in approval["stages"] if s["id"] == stage_id), None)
    if stage is None:
        raise DomainError(ReasonCode.APPROVAL_STAGE_NOT_FOUND, f"no approval stage {stage_id}")
    if stage["reviewResult"] != "NotReviewed":
        raise DomainError(
            ReasonCode.STAGE_ALREADY_DECIDED,
            f"stage {stage_id} was already {stage['reviewResult']}",
        )
    if stage["status"] != "InProgress":
        raise DomainError(ReasonCode.ILLEGAL_TRANSITION, f"stage {stage_id} is not in progress")
    allowed = set(stage["approvers"])
    if stage["escalated"]:
        allowed |= set(stage["escalationApprovers"])
    if reviewer.casefold() not in {a.casefold() for a in allowed}:
        raise DomainError(
            ReasonCode.NOT_AN_APPROVER, f"{reviewer} is not an approver of this stage"
        )
    if stage["justificationRequired"] and not (justification and justification.strip()):
        raise DomainError(ReasonCode.JUSTIFICATION_REQUIRED, "this stage requires a justification")
    stage.update(
        status="Completed",
        reviewResult="Approved" if approve else "Denied",
        reviewedBy=reviewer,
        reviewedDateTime=format_utc(now),
        justification=justification,
    )
    if not approve:
        return False
    following = [s for s in approval["stages"] if s["index"] == stage["index"] + 1]
    if following:
        following[0]["status"] = "InProgress"
        return False
    return True


ESCALATION = "approvalEscalation"
TIMEOUT = "approvalTimeout"


def stage_timers(approval: dict[str, Any], request_id: uuid.UUID, now: datetime) -> list[Timer]:
    """The escalation and automatic-denial timers of the stage now in progress."""
    stage = current_stage(approval)
    if stage is None:
        return []
    timers = []
    index = stage["index"]
    if stage.get("escalateAfterSeconds") is not None:
        due = now + timedelta(seconds=stage["escalateAfterSeconds"])
        timers.append(Timer.make(ESCALATION, request_id, due, str(index), stage=index))
    if stage.get("denyAfterSeconds") is not None:
        due = now + timedelta(seconds=stage["denyAfterSeconds"])
        timers.append(Timer.make(TIMEOUT, request_id, due, str(index), stage=index))
    return timers


def current_stage(approval: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in approval["stages"] if s["status"] == "InProgress"), None)


def _seconds(value: timedelta | None) -> int | None:
    return int(value.total_seconds()) if value is not None else None


def _duration(value: Any) -> str | None:
    return format_duration(value) if value is not None else None
