"""Turning a create body into what it is about: package, policy, target, assignment."""

from __future__ import annotations

from dataclasses import dataclass, replace

from accessflow.domain.codes import ReasonCode
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.enums import AssignmentState, RequestType
from accessflow.domain.models.packages import AccessPackage, DirectoryUser
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.domain.rules.decision import Caller, Resolved, deny
from accessflow.domain.view import DirectoryView


@dataclass(frozen=True)
class RequestContext:
    body: CreateAssignmentRequest
    caller: Caller
    package: AccessPackage
    policy_id: str | None
    target_id: str | None
    target: DirectoryUser | None
    target_email: str | None = None
    existing: AccessPackageAssignment | None = None
    policy: AccessPackageAssignmentPolicy | None = None

    @property
    def request_type(self) -> RequestType:
        return self.body.request_type

    @property
    def on_behalf(self) -> bool:
        """True when the caller acts for someone else (a manager for a direct report)."""
        return self.target_id is not None and (
            self.target_id.casefold() != self.caller.object_id.casefold()
        )

    @property
    def the_policy(self) -> AccessPackageAssignmentPolicy:
        if self.policy is None:  # pragma: no cover - evaluate sets it before any rule reads it
            raise RuntimeError("policy not resolved yet")
        return self.policy

    def with_policy(self, policy: AccessPackageAssignmentPolicy) -> RequestContext:
        return replace(self, policy=policy, policy_id=policy.id)

    def resolved(self) -> Resolved:
        return Resolved(
            access_package_id=self.package.id,
            assignment_policy_id=self.the_policy.id,
            target_id=self.target_id,
            target_email=self.target_email,
            assignment_id=self.existing.id if self.existing else None,
            on_behalf=self.on_behalf,
        )


def resolve(body: CreateAssignmentRequest, caller: Caller, view: DirectoryView) -> RequestContext:
    """Look up what the body names; the first thing missing ends evaluation."""
    if body.request_type.is_add:
        return _resolve_add(body, caller, view)
    return _resolve_existing(body, caller, view)


def _resolve_add(
    body: CreateAssignmentRequest, caller: Caller, view: DirectoryView
) -> RequestContext:
    package_id = body.access_package_id or ""
    package = view.package(package_id)
    if package is None:
        deny(
            ReasonCode.ACCESS_PACKAGE_NOT_FOUND,
            f"no access package {package_id}",
            "assignment.accessPackageId",
        )
    target_id, target, email = _resolve_target(body, caller, view)
    return RequestContext(
        body, caller, package, body.assignment_policy_id, target_id, target, email
    )


def _resolve_target(
    body: CreateAssignmentRequest, caller: Caller, view: DirectoryView
) -> tuple[str | None, DirectoryUser | None, str | None]:
    if body.target_id is not None:
        user = view.user(body.target_id)
        if user is None:
            deny(ReasonCode.TARGET_NOT_FOUND, f"no user {body.target_id}", "assignment.targetId")
        return user.id, user, user.mail
    if body.target_email is not None:
        user = view.user_by_mail(body.target_email)
        if user is not None:
            return user.id, user, user.mail
        if body.request_type is RequestType.ADMIN_ADD:
            return None, None, body.target_email  # Graph creates the subject on delivery
        deny(
            ReasonCode.TARGET_NOT_FOUND,
            f"no user with mail {body.target_email}",
            "assignment.target.email",
        )
    user = view.user(caller.object_id)
    if user is None:
        deny(ReasonCode.TARGET_NOT_FOUND, "a self-service requestor must be in the directory")
    return user.id, user, user.mail


def _resolve_existing(
    body: CreateAssignmentRequest, caller: Caller, view: DirectoryView
) -> RequestContext:
    assignment_id = body.assignment_id or ""
    existing = view.assignment(assignment_id)
    if existing is None or not existing.is_live:
        deny(ReasonCode.ASSIGNMENT_NOT_FOUND, f"no assignment {assignment_id}", "assignment.id")
    if existing.state is AssignmentState.DELIVERING:
        # Its add request still waits on an outside connector; changing the assignment under
        # it would leave that request delivering forever. Once it settles, this works.
        deny(
            ReasonCode.EXISTING_OPEN_REQUEST,
            f"assignment {assignment_id} is still being delivered; try again once its "
            "request has completed",
            "assignment.id",
        )
    package = view.package(existing.package_ref or "")
    if package is None:
        deny(
            ReasonCode.ACCESS_PACKAGE_NOT_FOUND,
            f"assignment {assignment_id} names no known package",
            "assignment.id",
        )
    target_id = existing.target_ref
    target = view.user(target_id) if target_id else None
    if target is None and body.request_type.is_update:
        deny(ReasonCode.TARGET_NOT_FOUND, f"the target of {assignment_id} is not in the directory")
    return RequestContext(
        body, caller, package, existing.policy_ref, target_id, target, None, existing
    )


def load_policy(context: RequestContext, view: DirectoryView) -> AccessPackageAssignmentPolicy:
    """The named policy, which must belong to the request's package."""
    path = "assignment.assignmentPolicyId" if context.existing is None else "assignment.id"
    policy_id = context.policy_id or ""
    policy = view.policy(policy_id)
    if policy is None:
        deny(ReasonCode.POLICY_NOT_FOUND, f"no policy {policy_id}", path)
    owner = policy.package_id
    if owner is None or owner.casefold() != context.package.id.casefold():
        deny(
            ReasonCode.POLICY_NOT_FOUND,
            f"policy {policy_id} does not belong to access package {context.package.id}",
            path,
        )
    return policy
