"""Does a request need approval, by whom, and where does it go once it may proceed?"""

from __future__ import annotations

from datetime import datetime

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import RequestState
from accessflow.domain.models.common import EntitlementManagementSchedule
from accessflow.domain.models.policies import AccessPackageApprovalStage
from accessflow.domain.rules.context import RequestContext
from accessflow.domain.rules.decision import ApprovalPlan, PlannedStage, deny
from accessflow.domain.rules.subjects import resolve_subjects, without
from accessflow.domain.view import DirectoryView


def plan_approval(context: RequestContext, view: DirectoryView) -> ApprovalPlan | None:
    """``None`` when no approval is needed: admin* (direct assignment) and remove types skip
    it, and the policy decides for add and update. Otherwise every stage's approvers,
    resolved now; a stage with nobody left raises ``ApproverNotFound``."""
    request_type = context.request_type
    if request_type.is_admin or request_type.is_remove:
        return None
    settings = context.the_policy.request_approval_settings
    required = (
        settings.is_approval_required_for_add
        if request_type.is_add
        else settings.is_approval_required_for_update
    )
    if not required or not settings.stages:
        return None
    # Nobody approves their own request: not the caller, not the person it is for.
    excluded = (context.caller.object_id, context.target_id)
    return ApprovalPlan(
        tuple(
            _plan_stage(index, stage, context.target_id, excluded, view)
            for index, stage in enumerate(settings.stages)
        )
    )


def _plan_stage(
    index: int,
    stage: AccessPackageApprovalStage,
    target_id: str | None,
    excluded: tuple[str | None, ...],
    view: DirectoryView,
) -> PlannedStage:
    approvers = without(resolve_subjects(view, stage.primary_approvers, target_id), excluded)
    used_fallback = not approvers
    if used_fallback:
        fallback = resolve_subjects(view, stage.fallback_primary_approvers, target_id)
        approvers = without(fallback, excluded)
    if not approvers:
        deny(
            ReasonCode.APPROVER_NOT_FOUND,
            f"approval stage {index + 1} has no approver other than the requestor "
            "(no manager found and no fallback approvers)",
        )
    escalation = frozenset[str]()
    if stage.is_escalation_enabled:
        escalation = without(
            resolve_subjects(view, stage.escalation_approvers, target_id), excluded
        ) or without(
            resolve_subjects(view, stage.fallback_escalation_approvers, target_id), excluded
        )
    return PlannedStage(
        index=index,
        approvers=approvers,
        escalation_approvers=escalation,
        used_fallback=used_fallback,
        duration_before_automatic_denial=stage.duration_before_automatic_denial,
        duration_before_escalation=stage.duration_before_escalation,
        is_escalation_enabled=stage.is_escalation_enabled,
        is_approver_justification_required=stage.is_approver_justification_required,
    )


def start_state(schedule: EntitlementManagementSchedule | None, now: datetime) -> RequestState:
    """Once approved (or approval-free): ``scheduled`` if the start is still ahead."""
    start = schedule.start_date_time if schedule else None
    return RequestState.SCHEDULED if start is not None and start > now else RequestState.DELIVERING
