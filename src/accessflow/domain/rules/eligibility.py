"""Who may ask: the caller for the target (self, on-behalf, admin, approver), the request
type the policy enables, and whether the target is in the policy's allowed targets."""

from __future__ import annotations

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import AllowedTargetScope, RequestType, UserType
from accessflow.domain.models.policies import (
    AccessPackageAssignmentPolicy,
    AccessPackageAssignmentRequestorSettings,
)
from accessflow.domain.rules.context import RequestContext
from accessflow.domain.rules.decision import deny
from accessflow.domain.rules.subjects import contains, manager_at_level, resolve_subjects
from accessflow.domain.view import DirectoryView

Scope = AllowedTargetScope
_MEMBER_SCOPES = frozenset({Scope.ALL_MEMBER_USERS, Scope.ALL_DIRECTORY_USERS})
_GUEST_SCOPES = frozenset(
    {
        Scope.ALL_DIRECTORY_USERS,
        Scope.ALL_EXTERNAL_USERS,
        Scope.ALL_CONFIGURED_CONNECTED_ORGANIZATION_USERS,
    }
)


def check_eligibility(context: RequestContext, view: DirectoryView) -> None:
    check_requestor(context, view)
    check_scope(context, view)


def check_requestor(context: RequestContext, view: DirectoryView) -> None:
    """``RequestorNotAllowed`` when the caller may not act for the target at all;
    ``RequestTypeNotAllowed`` when the policy does not enable this kind of request."""
    request_type, caller = context.request_type, context.caller
    if request_type.is_admin:
        if not caller.is_admin:
            deny(
                ReasonCode.REQUESTOR_NOT_ALLOWED,
                f"{request_type} needs an entitlement-management role",
            )
        return
    if request_type is RequestType.APPROVER_REMOVE:
        if not contains(
            approvers_of(context.the_policy, context.target_id, view), caller.object_id
        ):
            deny(ReasonCode.REQUESTOR_NOT_ALLOWED, "only an approver of the policy may do this")
        return
    settings = context.the_policy.requestor_settings
    if context.on_behalf:
        if not contains(on_behalf_requestors(context, view), caller.object_id):
            deny(
                ReasonCode.REQUESTOR_NOT_ALLOWED,
                "the caller may not request on behalf of this target",
                "assignment.targetId",
            )
        if not _on_behalf_enabled(settings, request_type):
            deny(
                ReasonCode.REQUEST_TYPE_NOT_ALLOWED,
                f"policy does not allow on-behalf {request_type}",
            )
    elif not _self_enabled(settings, request_type):
        deny(
            ReasonCode.REQUEST_TYPE_NOT_ALLOWED,
            f"policy does not allow self-service {request_type}",
        )


def on_behalf_requestors(context: RequestContext, view: DirectoryView) -> frozenset[str]:
    """The policy's ``onBehalfRequestors``; if it names none, the target's manager (Graph's
    documented case: a manager requesting for a direct report)."""
    configured = context.the_policy.requestor_settings.on_behalf_requestors
    if configured:
        return resolve_subjects(view, configured, context.target_id)
    if context.target_id is None:
        return frozenset()
    manager = manager_at_level(view, context.target_id, 1)
    return frozenset({manager}) if manager else frozenset()


def approvers_of(
    policy: AccessPackageAssignmentPolicy, target_id: str | None, view: DirectoryView
) -> frozenset[str]:
    everyone: set[str] = set()
    for stage in policy.request_approval_settings.stages:
        for sets in (
            stage.primary_approvers,
            stage.fallback_primary_approvers,
            stage.escalation_approvers,
            stage.fallback_escalation_approvers,
        ):
            everyone |= resolve_subjects(view, sets, target_id)
    return frozenset(everyone)


def _self_enabled(
    settings: AccessPackageAssignmentRequestorSettings, request_type: RequestType
) -> bool:
    if request_type.is_add:
        return settings.enable_targets_to_self_add_access
    if request_type.is_update:
        return settings.enable_targets_to_self_update_access
    return settings.enable_targets_to_self_remove_access


def _on_behalf_enabled(
    settings: AccessPackageAssignmentRequestorSettings, request_type: RequestType
) -> bool:
    if request_type.is_add:
        return settings.enable_on_behalf_requestors_to_add_access
    if request_type.is_update:
        return settings.enable_on_behalf_requestors_to_update_access
    return settings.enable_on_behalf_requestors_to_remove_access


def check_scope(context: RequestContext, view: DirectoryView) -> None:
    """``TargetNotInScope`` for user add/update requests whose target the policy excludes.
    Admin (direct) assignments and removals are not bound by the requestor scope."""
    request_type = context.request_type
    if request_type.is_admin or request_type.is_remove or context.target is None:
        return
    policy, target = context.the_policy, context.target
    scope = policy.allowed_target_scope
    if scope is Scope.SPECIFIC_DIRECTORY_USERS:
        allowed = contains(
            resolve_subjects(view, policy.specific_allowed_targets, target.id), target.id
        )
    elif target.user_type is UserType.GUEST:
        allowed = scope in _GUEST_SCOPES
    else:
        allowed = scope in _MEMBER_SCOPES
    if not allowed:
        deny(ReasonCode.TARGET_NOT_IN_SCOPE, f"policy {policy.id} ({scope}) excludes {target.id}")
    catalog = view.catalog(context.package.catalog_ref or "")
    if target.user_type is UserType.GUEST and not (catalog and catalog.is_externally_visible):
        deny(ReasonCode.TARGET_NOT_IN_SCOPE, "the catalog is not visible to external users")
