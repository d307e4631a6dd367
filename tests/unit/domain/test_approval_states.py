"""The approval stage state machine: the table is the whole machine, walked step by step."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from accessflow.domain.approval_states import (
    FINAL_STAGE_STATUSES,
    STAGE_ALLOWED,
    ApprovalRecord,
    StageRecord,
    decide,
    escalate,
    expire,
    move_stage,
    new_approval,
)
from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import ApprovalStageStatus, ReviewResult
from accessflow.domain.errors import DomainError, IllegalTransition
from accessflow.domain.rules import ApprovalPlan, PlannedStage

A = ApprovalStageStatus
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
REQUEST_ID = "0d3b5a0c-5f4e-4d8e-9b59-8f6c9b1d2a10"
EXPECTED_TABLE = {
    (None, A.IN_PROGRESS),
    (None, A.INITIALIZING),
    (A.INITIALIZING, A.IN_PROGRESS),
    (A.IN_PROGRESS, A.COMPLETED),
    (A.IN_PROGRESS, A.EXPIRED),
}


def planned(index: int, *, justification: bool = False) -> PlannedStage:
    return PlannedStage(
        index=index,
        approvers=frozenset({f"approver-{index}", f"backup-{index}"}),
        escalation_approvers=frozenset({f"escalation-{index}"}),
        used_fallback=False,
        duration_before_automatic_denial=timedelta(days=14),
        duration_before_escalation=timedelta(hours=3),
        is_escalation_enabled=True,
        is_approver_justification_required=justification,
    )


def two_stages() -> ApprovalRecord:
    plan = ApprovalPlan((planned(0), planned(1, justification=True)))
    return new_approval(plan, REQUEST_ID)


def stage_in(status: ApprovalStageStatus) -> StageRecord:
    return replace(two_stages().stages[0], status=status)


def test_table_is_exactly_the_documented_table() -> None:
    assert set(STAGE_ALLOWED) == EXPECTED_TABLE


@pytest.mark.parametrize(("source", "target"), list(itertools.product(A, A)))
def test_every_pair_either_moves_or_raises_and_changes_nothing(
    source: ApprovalStageStatus, target: ApprovalStageStatus
) -> None:
    stage = stage_in(source)
    before = stage.to_json()
    if (source, target) in EXPECTED_TABLE:
        assert move_stage(stage, target).status is target
    else:
        with pytest.raises(IllegalTransition) as raised:
            move_stage(stage, target)
        assert raised.value.code is ReasonCode.ILLEGAL_TRANSITION
    assert stage.to_json() == before


@pytest.mark.parametrize("status", sorted(FINAL_STAGE_STATUSES))
def test_final_statuses_have_no_way_out(status: ApprovalStageStatus) -> None:
    assert not [target for (source, target) in STAGE_ALLOWED if source is status]


def test_a_new_approval_has_its_first_stage_in_progress_and_the_rest_initializing() -> None:
    approval = two_stages()
    assert [s.status for s in approval.stages] == [A.IN_PROGRESS, A.INITIALIZING]
    assert approval.current() == approval.stages[0]
    assert approval.stages[0].approvers == ("approver-0", "backup-0")


def test_the_stored_json_keeps_its_keys_and_round_trips() -> None:
    """The record is stored and rendered as this JSON: the keys are the wire's."""
    stored = two_stages().to_json()
    assert list(stored) == ["id", "stages"]
    assert stored["stages"][0] == {
        "id": stored["stages"][0]["id"],
        "index": 0,
        "approvers": ["approver-0", "backup-0"],
        "escalationApprovers": ["escalation-0"],
        "justificationRequired": False,
        "durationBeforeAutomaticDenial": "P14D",
        "durationBeforeEscalation": "PT3H",
        "denyAfterSeconds": 14 * 86400,
        "escalateAfterSeconds": 3 * 3600,
        "status": "InProgress",
        "reviewResult": "NotReviewed",
        "reviewedBy": None,
        "reviewedDateTime": None,
        "justification": None,
        "escalated": False,
    }
    assert ApprovalRecord.from_json(stored).to_json() == stored


def test_walk_approve_both_stages() -> None:
    """Stage 1 approved starts stage 2; stage 2 approved approves the whole approval."""
    approval = two_stages()
    first, second = approval.stages
    approval, approved = decide(approval, first.id, "approver-0", True, None, NOW)
    assert not approved
    assert [(s.status, s.review_result) for s in approval.stages] == [
        (A.COMPLETED, ReviewResult.APPROVED),
        (A.IN_PROGRESS, ReviewResult.NOT_REVIEWED),
    ]
    assert approval.stages[0].reviewed_by == "approver-0"
    assert approval.stages[0].reviewed_date_time == "2026-03-01T09:30:00Z"
    approval, approved = decide(approval, second.id, "backup-1", True, "needed", NOW)
    assert approved
    assert approval.current() is None
    assert approval.stages[1].justification == "needed"


def test_a_denial_completes_its_stage_and_leaves_the_rest() -> None:
    approval = two_stages()
    denied, approved = decide(approval, approval.stages[0].id, "approver-0", False, None, NOW)
    assert not approved
    assert [(s.status, s.review_result) for s in denied.stages] == [
        (A.COMPLETED, ReviewResult.DENIED),
        (A.INITIALIZING, ReviewResult.NOT_REVIEWED),
    ]


@pytest.mark.parametrize(
    ("stage", "reviewer", "justification", "code"),
    [
        (None, "approver-0", None, ReasonCode.APPROVAL_STAGE_NOT_FOUND),
        (1, "approver-1", "why", ReasonCode.ILLEGAL_TRANSITION),
        (0, "someone", None, ReasonCode.NOT_AN_APPROVER),
        (0, "escalation-0", None, ReasonCode.NOT_AN_APPROVER),
    ],
)
def test_a_refused_decision_changes_nothing(
    stage: int | None, reviewer: str, justification: str | None, code: ReasonCode
) -> None:
    approval = two_stages()
    before = approval.to_json()
    stage_id = "no-such-stage" if stage is None else approval.stages[stage].id
    with pytest.raises(DomainError) as raised:
        decide(approval, stage_id, reviewer, True, justification, NOW)
    assert raised.value.code is code
    assert approval.to_json() == before


def test_a_decided_stage_refuses_a_second_decision_and_keeps_the_first() -> None:
    approval = two_stages()
    stage_id = approval.stages[0].id
    approval, _ = decide(approval, stage_id, "approver-0", True, None, NOW)
    with pytest.raises(DomainError) as raised:
        decide(approval, stage_id, "backup-0", False, None, NOW)
    assert raised.value.code is ReasonCode.STAGE_ALREADY_DECIDED
    assert approval.stages[0].review_result is ReviewResult.APPROVED


@pytest.mark.parametrize("justification", [None, "", "   "])
def test_a_required_justification_must_say_something(justification: str | None) -> None:
    approval = two_stages()
    approval, _ = decide(approval, approval.stages[0].id, "approver-0", True, None, NOW)
    with pytest.raises(DomainError) as raised:
        decide(approval, approval.stages[1].id, "approver-1", True, justification, NOW)
    assert raised.value.code is ReasonCode.JUSTIFICATION_REQUIRED


def test_escalation_lets_the_escalation_approvers_decide() -> None:
    approval = two_stages()
    escalated = escalate(approval, approval.stages[0])
    assert escalated.stages[0].escalated
    assert escalated.stages[0].status is A.IN_PROGRESS
    assert not approval.stages[0].escalated
    decided, _ = decide(escalated, approval.stages[0].id, "escalation-0", True, None, NOW)
    assert decided.stages[0].review_result is ReviewResult.APPROVED


@pytest.mark.parametrize("status", list(A))
def test_only_a_stage_in_progress_escalates_and_only_once(status: ApprovalStageStatus) -> None:
    stage = stage_in(status)
    approval = ApprovalRecord(REQUEST_ID, (stage,))
    if status is A.IN_PROGRESS:
        approval = escalate(approval, stage)
        stage = approval.stages[0]
    before = approval.to_json()
    with pytest.raises(IllegalTransition):
        escalate(approval, stage)
    assert approval.to_json() == before


def test_expiry_ends_the_stage_in_progress_and_no_decision_follows() -> None:
    approval = two_stages()
    expired = expire(approval, approval.stages[0])
    assert expired.stages[0].status is A.EXPIRED
    assert expired.current() is None
    with pytest.raises(DomainError) as raised:
        decide(expired, approval.stages[0].id, "approver-0", True, None, NOW)
    assert raised.value.code is ReasonCode.ILLEGAL_TRANSITION
    with pytest.raises(IllegalTransition):
        expire(expired, expired.stages[0])
