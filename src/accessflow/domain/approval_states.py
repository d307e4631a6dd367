"""The approval state machine: each stage's status moves only along one table.

Rules (after h11's ``_state.py``, like :mod:`accessflow.domain.states`):

* :data:`STAGE_TRANSITIONS` is the whole machine of one stage. A move not in it raises
  :class:`IllegalTransition` and changes nothing: records are frozen, a move returns a new
  one.
* Stages are decided in order. The first is ``InProgress`` from the start, the rest
  ``Initializing`` until the stage before is approved; a denial completes the stage and
  leaves the later ones as they are (the request is denied).
* An in-progress stage may escalate once: its escalation approvers may then decide too. Its
  status stays ``InProgress``; ``escalated`` is a flag, as Graph shows no status for it.
* The record is stored as JSON beside the request (:meth:`ApprovalRecord.to_json`), key for
  key what the API renders from; no clock: the caller passes ``now``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import ApprovalStageStatus, ReviewResult
from accessflow.domain.errors import DomainError, IllegalTransition
from accessflow.domain.models.base import format_duration, format_utc
from accessflow.domain.rules import ApprovalPlan

A = ApprovalStageStatus
STAGE_NAMESPACE = uuid.UUID("5e0e8a4b-7c1d-5b7e-8f0a-1c2d3e4f5a6b")


class StageTransition(NamedTuple):
    source: ApprovalStageStatus | None  # None: the approval does not exist yet
    target: ApprovalStageStatus
    when: str


STAGE_TRANSITIONS: tuple[StageTransition, ...] = (
    StageTransition(None, A.IN_PROGRESS, "approval created, first stage"),
    StageTransition(None, A.INITIALIZING, "approval created, later stage"),
    StageTransition(A.INITIALIZING, A.IN_PROGRESS, "stage before approved"),
    StageTransition(A.IN_PROGRESS, A.COMPLETED, "approved or denied"),
    StageTransition(A.IN_PROGRESS, A.EXPIRED, "not decided in time"),
)

STAGE_ALLOWED: frozenset[tuple[ApprovalStageStatus | None, ApprovalStageStatus]] = frozenset(
    (t.source, t.target) for t in STAGE_TRANSITIONS
)
#: No transition leaves these.
FINAL_STAGE_STATUSES = frozenset({A.COMPLETED, A.EXPIRED})


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One stage as stored: who decides it, its deadlines, and its decision."""

    id: str
    index: int
    approvers: tuple[str, ...]
    escalation_approvers: tuple[str, ...]
    justification_required: bool
    duration_before_automatic_denial: str | None
    duration_before_escalation: str | None
    deny_after_seconds: int | None
    escalate_after_seconds: int | None
    status: ApprovalStageStatus
    review_result: ReviewResult = ReviewResult.NOT_REVIEWED
    reviewed_by: str | None = None
    reviewed_date_time: str | None = None
    justification: str | None = None
    escalated: bool = False

    def may_decide(self, reviewer: str) -> bool:
        """An approver of the stage; its escalation approvers too once it escalated."""
        allowed = self.approvers + (self.escalation_approvers if self.escalated else ())
        return reviewer.casefold() in {a.casefold() for a in allowed}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "index": self.index,
            "approvers": list(self.approvers),
            "escalationApprovers": list(self.escalation_approvers),
            "justificationRequired": self.justification_required,
            "durationBeforeAutomaticDenial": self.duration_before_automatic_denial,
            "durationBeforeEscalation": self.duration_before_escalation,
            "denyAfterSeconds": self.deny_after_seconds,
            "escalateAfterSeconds": self.escalate_after_seconds,
            "status": self.status.value,
            "reviewResult": self.review_result.value,
            "reviewedBy": self.reviewed_by,
            "reviewedDateTime": self.reviewed_date_time,
            "justification": self.justification,
            "escalated": self.escalated,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StageRecord:
        get = data.get
        return cls(
            id=data["id"],
            index=data["index"],
            approvers=tuple(get("approvers", ())),
            escalation_approvers=tuple(get("escalationApprovers", ())),
            justification_required=get("justificationRequired", False),
            duration_before_automatic_denial=get("durationBeforeAutomaticDenial"),
            duration_before_escalation=get("durationBeforeEscalation"),
            deny_after_seconds=get("denyAfterSeconds"),
            escalate_after_seconds=get("escalateAfterSeconds"),
            status=ApprovalStageStatus(data["status"]),
            review_result=ReviewResult(get("reviewResult", ReviewResult.NOT_REVIEWED)),
            reviewed_by=get("reviewedBy"),
            reviewed_date_time=get("reviewedDateTime"),
            justification=get("justification"),
            escalated=get("escalated", False),
        )


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A request's approval (Graph's ``approval`` has the request's id) and its stages."""

    id: str
    stages: tuple[StageRecord, ...]

    def stage(self, stage_id: str) -> StageRecord | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def current(self) -> StageRecord | None:
        """The stage in progress, if any."""
        return next((s for s in self.stages if s.status is A.IN_PROGRESS), None)

    def with_stage(self, stage: StageRecord) -> ApprovalRecord:
        stages = tuple(stage if s.index == stage.index else s for s in self.stages)
        return replace(self, stages=stages)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "stages": [s.to_json() for s in self.stages]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApprovalRecord:
        return cls(data["id"], tuple(StageRecord.from_json(s) for s in data["stages"]))


def move_stage(stage: StageRecord, target: ApprovalStageStatus, **fields: Any) -> StageRecord:
    """``stage`` moved to ``target`` (and ``fields`` set): a new record, or
    :class:`IllegalTransition` with ``stage`` unchanged."""
    if (stage.status, target) not in STAGE_ALLOWED:
        raise IllegalTransition(
            stage.status,
            target,
            f"approval stage {stage.id} in status {stage.status} cannot move to {target}",
        )
    return replace(stage, status=target, **fields)


def new_approval(plan: ApprovalPlan, request_id: str) -> ApprovalRecord:
    """The (new) → first stage ``InProgress``, the others ``Initializing`` move."""
    stages = []
    for stage in plan.stages:
        status = A.IN_PROGRESS if stage.index == 0 else A.INITIALIZING
        escalates = stage.is_escalation_enabled and stage.escalation_approvers
        stages.append(
            StageRecord(
                id=str(uuid.uuid5(STAGE_NAMESPACE, f"{request_id}:{stage.index}")),
                index=stage.index,
                approvers=tuple(sorted(stage.approvers)),
                escalation_approvers=tuple(sorted(stage.escalation_approvers)),
                justification_required=stage.is_approver_justification_required,
                duration_before_automatic_denial=_duration(stage.duration_before_automatic_denial),
                duration_before_escalation=_duration(stage.duration_before_escalation),
                deny_after_seconds=_seconds(stage.duration_before_automatic_denial),
                escalate_after_seconds=(
                    _seconds(stage.duration_before_escalation) if escalates else None
                ),
                status=status,
            )
        )
    return ApprovalRecord(request_id, tuple(stages))


class Decided(NamedTuple):
    approval: ApprovalRecord
    #: The decision approved the last stage: the whole approval is approved.
    approved: bool


def decide(
    approval: ApprovalRecord,
    stage_id: str,
    reviewer: str,
    approve: bool,
    justification: str | None,
    now: datetime,
) -> Decided:
    """Record one decision: the first in a stage wins. Raises a :class:`DomainError` when the
    stage is unknown, already decided, not in progress, the reviewer may not decide it, or
    a required justification is missing; ``approval`` is unchanged either way."""
    stage = approval.stage(stage_id)
    if stage is None:
        raise DomainError(ReasonCode.APPROVAL_STAGE_NOT_FOUND, f"no approval stage {stage_id}")
    if stage.review_result is not ReviewResult.NOT_REVIEWED:
        raise DomainError(
            ReasonCode.STAGE_ALREADY_DECIDED, f"stage {stage_id} was already {stage.review_result}"
        )
    if stage.status is not A.IN_PROGRESS:
        raise DomainError(ReasonCode.ILLEGAL_TRANSITION, f"stage {stage_id} is not in progress")
    if not stage.may_decide(reviewer):
        raise DomainError(
            ReasonCode.NOT_AN_APPROVER, f"{reviewer} is not an approver of this stage"
        )
    if stage.justification_required and not (justification and justification.strip()):
        raise DomainError(ReasonCode.JUSTIFICATION_REQUIRED, "this stage requires a justification")
    decided = move_stage(
        stage,
        A.COMPLETED,
        review_result=ReviewResult.APPROVED if approve else ReviewResult.DENIED,
        reviewed_by=reviewer,
        reviewed_date_time=format_utc(now),
        justification=justification,
    )
    approval = approval.with_stage(decided)
    if not approve:
        return Decided(approval, approved=False)
    following = [s for s in approval.stages if s.index == stage.index + 1]
    if following:
        return Decided(approval.with_stage(move_stage(following[0], A.IN_PROGRESS)), False)
    return Decided(approval, approved=True)


def escalate(approval: ApprovalRecord, stage: StageRecord) -> ApprovalRecord:
    """The in-progress ``stage`` escalated (once): its escalation approvers may decide too."""
    if stage.status is not A.IN_PROGRESS or stage.escalated:
        raise IllegalTransition(
            stage.status, stage.status, f"approval stage {stage.id} cannot escalate"
        )
    return approval.with_stage(replace(stage, escalated=True))


def expire(approval: ApprovalRecord, stage: StageRecord) -> ApprovalRecord:
    """The in-progress ``stage`` was not decided in time."""
    return approval.with_stage(move_stage(stage, A.EXPIRED))


def _seconds(value: timedelta | None) -> int | None:
    return int(value.total_seconds()) if value is not None else None


def _duration(value: timedelta | None) -> str | None:
    return format_duration(value) if value is not None else None
