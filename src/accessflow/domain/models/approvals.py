"""``approval`` and ``approvalStage`` (spec §4.8): an approval's id is its request's id."""

from __future__ import annotations

from pydantic import Field

from accessflow.domain.enums import ApprovalStageStatus, ReviewDecision, ReviewResult
from accessflow.domain.models.base import InboundModel, OutboundModel, UtcDateTime
from accessflow.domain.models.text import DecisionJustificationText

#: Graph's ``reviewedBy.id`` until someone reviews the stage.
UNREVIEWED_ID = "00000000-0000-0000-0000-000000000000"


class Identity(OutboundModel):
    id: str = UNREVIEWED_ID
    display_name: str | None = None


class ApprovalStage(OutboundModel):
    id: str
    assigned_to_me: bool | None = None
    display_name: str | None = None
    justification: str | None = None
    reviewed_by: Identity = Field(default_factory=Identity)
    reviewed_date_time: UtcDateTime | None = None
    review_result: ReviewResult = ReviewResult.NOT_REVIEWED
    status: ApprovalStageStatus = ApprovalStageStatus.INITIALIZING


class Approval(OutboundModel):
    id: str
    stages: list[ApprovalStage] = Field(default_factory=list)


class ApprovalStageDecision(InboundModel):
    """The body of ``PATCH …/accessPackageAssignmentApprovals/{id}/stages/{stageId}``."""

    review_result: ReviewDecision
    justification: DecisionJustificationText | None = None
