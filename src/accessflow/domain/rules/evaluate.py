"""The entry point: :func:`evaluate_create` runs every rule in a fixed order and returns a
:class:`Decision`. The order fixes which reason a request with several faults gets:
existence → eligibility → conflicts → content → approvers."""

from __future__ import annotations

from datetime import datetime

from accessflow.domain.codes import ReasonCode
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.enums import AllowedTargetScope, RequestState
from accessflow.domain.errors import RuleViolationError
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.rules.approval import plan_approval, start_state
from accessflow.domain.rules.conflicts import check_conflicts
from accessflow.domain.rules.content import check_answers, check_justification, check_schedule
from accessflow.domain.rules.context import RequestContext, load_policy, resolve
from accessflow.domain.rules.decision import Caller, Decision, deny
from accessflow.domain.rules.eligibility import check_eligibility
from accessflow.domain.view import DirectoryView

Scope = AllowedTargetScope
# When a userAdd names no policy, Graph picks the most specific one that admits the caller:
# specific users/organisations, then all members, then all users, then the rest (E-TRBL).
_TIER = {
    Scope.SPECIFIC_DIRECTORY_USERS: 0,
    Scope.SPECIFIC_CONNECTED_ORGANIZATION_USERS: 0,
    Scope.ALL_MEMBER_USERS: 1,
    Scope.ALL_DIRECTORY_USERS: 2,
}


def evaluate_create(
    body: CreateAssignmentRequest, caller: Caller, view: DirectoryView, now: datetime
) -> Decision:
    """Decide a parsed create request. Never raises for a rule; the Decision says why."""
    try:
        context = _with_policy(resolve(body, caller, view), view)
        check_conflicts(context, view)
        check_justification(context)
        check_answers(context)
        check_schedule(context, now)
        plan = plan_approval(context, view)
    except RuleViolationError as violation:
        return Decision.deny(violation)
    if plan is not None:
        next_state = RequestState.PENDING_APPROVAL
    elif body.request_type.is_remove:
        next_state = RequestState.DELIVERING
    else:
        next_state = start_state(body.schedule, now)
    return Decision(next_state, resolved=context.resolved(), approval=plan)


def _with_policy(context: RequestContext, view: DirectoryView) -> RequestContext:
    if context.policy_id is not None:
        context = context.with_policy(load_policy(context, view))
        check_eligibility(context, view)
        return context
    candidates = sorted(view.policies_of(context.package.id), key=_tier)
    if not candidates:
        deny(
            ReasonCode.POLICY_NOT_FOUND,
            f"access package {context.package.id} has no assignment policy",
            "assignment.assignmentPolicyId",
        )
    refusals: list[RuleViolationError] = []
    for policy in candidates:
        candidate = context.with_policy(policy)
        try:
            check_eligibility(candidate, view)
        except RuleViolationError as refusal:
            refusals.append(refusal)
            continue
        return candidate
    # A policy that does not offer this kind of request at all (say, direct assignment only)
    # explains less than one that does but excludes the target, so the latter's reason wins.
    offered = [r for r in refusals if r.code is not ReasonCode.REQUEST_TYPE_NOT_ALLOWED]
    raise (offered or refusals)[0]


def _tier(policy: AccessPackageAssignmentPolicy) -> int:
    return _TIER.get(policy.allowed_target_scope, 3)
