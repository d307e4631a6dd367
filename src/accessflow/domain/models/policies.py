"""``accessPackageAssignmentPolicy`` and its settings (spec §2.7)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from accessflow.domain.enums import AllowedTargetScope, ApproverInformationVisibility
from accessflow.domain.models.base import Duration, EntityRef, InboundModel, UtcDateTime
from accessflow.domain.models.common import ExpirationPattern
from accessflow.domain.models.questions import Question
from accessflow.domain.models.subjects import SubjectSet

MAX_APPROVAL_STAGES = 3


class AccessPackageApprovalStage(InboundModel):
    duration_before_automatic_denial: Duration | None = None
    duration_before_escalation: Duration | None = None
    is_approver_justification_required: bool = False
    is_escalation_enabled: bool = False
    primary_approvers: list[SubjectSet] = Field(default_factory=list)
    fallback_primary_approvers: list[SubjectSet] = Field(default_factory=list)
    escalation_approvers: list[SubjectSet] = Field(default_factory=list)
    fallback_escalation_approvers: list[SubjectSet] = Field(default_factory=list)
    approver_information_visibility: ApproverInformationVisibility = (
        ApproverInformationVisibility.DEFAULT
    )

    @model_validator(mode="after")
    def _escalation_is_coherent(self) -> AccessPackageApprovalStage:
        # Escalation must happen before the stage times out, or it can never take effect.
        if self.is_escalation_enabled:
            if not self.escalation_approvers and not self.fallback_escalation_approvers:
                raise ValueError("isEscalationEnabled needs escalationApprovers")
            if self.duration_before_escalation is None:
                raise ValueError("isEscalationEnabled needs durationBeforeEscalation")
            deadline = self.duration_before_automatic_denial
            if deadline is not None and self.duration_before_escalation >= deadline:
                raise ValueError(
                    "durationBeforeEscalation must be shorter than durationBeforeAutomaticDenial"
                )
        for duration in (self.duration_before_automatic_denial, self.duration_before_escalation):
            if duration is not None and duration <= timedelta(0):
                raise ValueError("stage durations must be positive")
        return self


class AccessPackageAssignmentApprovalSettings(InboundModel):
    is_approval_required_for_add: bool = False
    is_approval_required_for_update: bool = False
    is_requestor_justification_required: bool = False
    stages: list[AccessPackageApprovalStage] = Field(
        default_factory=list, max_length=MAX_APPROVAL_STAGES
    )

    @model_validator(mode="after")
    def _stages_when_required(self) -> AccessPackageAssignmentApprovalSettings:
        required = self.is_approval_required_for_add or self.is_approval_required_for_update
        if required and not self.stages:
            raise ValueError("approval is required but no stages are defined")
        return self


class AccessPackageAssignmentRequestorSettings(InboundModel):
    allow_custom_assignment_schedule: bool = False
    enable_targets_to_self_add_access: bool = False
    enable_targets_to_self_update_access: bool = False
    enable_targets_to_self_remove_access: bool = False
    enable_on_behalf_requestors_to_add_access: bool = False
    enable_on_behalf_requestors_to_update_access: bool = False
    enable_on_behalf_requestors_to_remove_access: bool = False
    on_behalf_requestors: list[SubjectSet] = Field(default_factory=list)


class AccessPackageAutomaticRequestSettings(InboundModel):
    request_access_for_allowed_targets: bool = False
    remove_access_when_target_leaves_allowed_targets: bool = False
    grace_period_before_access_removal: Duration | None = None


class AccessPackageNotificationSettings(InboundModel):
    is_assignment_notification_disabled: bool = False


class AccessPackageAssignmentPolicy(InboundModel):
    """A policy. ``accessPackageId`` (catalog-file form) or ``accessPackage.id`` (Graph form)
    names its package; :attr:`package_id` reads whichever was given."""

    id: str
    display_name: str | None = None
    description: str | None = None
    access_package_id: str | None = None
    access_package: EntityRef | None = None
    allowed_target_scope: AllowedTargetScope = AllowedTargetScope.NOT_SPECIFIED
    specific_allowed_targets: list[SubjectSet] = Field(default_factory=list)
    expiration: ExpirationPattern | None = None
    requestor_settings: AccessPackageAssignmentRequestorSettings = Field(
        default_factory=AccessPackageAssignmentRequestorSettings
    )
    request_approval_settings: AccessPackageAssignmentApprovalSettings = Field(
        default_factory=AccessPackageAssignmentApprovalSettings
    )
    questions: list[Question] = Field(default_factory=list)
    automatic_request_settings: AccessPackageAutomaticRequestSettings | None = None
    notification_settings: AccessPackageNotificationSettings | None = None
    created_date_time: UtcDateTime | None = None
    modified_date_time: UtcDateTime | None = None

    @property
    def package_id(self) -> str | None:
        if self.access_package_id is not None:
            return self.access_package_id
        return self.access_package.id if self.access_package else None

    @model_validator(mode="after")
    def _coherent(self) -> AccessPackageAssignmentPolicy:
        if (
            self.access_package_id is not None
            and self.access_package is not None
            and self.access_package.id.casefold() != self.access_package_id.casefold()
        ):
            raise ValueError("accessPackageId and accessPackage.id disagree")
        ids = [q.id.casefold() for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("question ids must be unique within a policy")
        return self
