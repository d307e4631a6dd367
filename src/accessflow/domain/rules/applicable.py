"""Which policies of a package a caller may request through: the question behind
``getApplicablePolicyRequirements`` and the API's read rule for packages and policies.

It asks exactly what the worker asks of a ``userAdd`` that names each policy in turn:
:func:`~accessflow.domain.rules.context.resolve` (package and target) and
:func:`~accessflow.domain.rules.eligibility.check_eligibility` (requestor, request type,
allowed targets). Conflicts (an assignment already held, an open request, an incompatible
package) are not part of the answer: they depend on the moment, not on the policy, and the
create request reports them with their own reason.
"""

from __future__ import annotations

from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.enums import RequestType
from accessflow.domain.errors import RuleViolationError
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.domain.rules.context import resolve
from accessflow.domain.rules.decision import Caller
from accessflow.domain.rules.eligibility import check_eligibility
from accessflow.domain.view import DirectoryView


def applicable_policies(
    package_id: str, caller: Caller, view: DirectoryView, target_id: str | None = None
) -> list[AccessPackageAssignmentPolicy]:
    """The package's policies through which ``caller`` may ask for it, for themselves or
    (``target_id``) on behalf of that user; empty when the package or the target is unknown."""
    body = CreateAssignmentRequest(
        request_type=RequestType.USER_ADD,
        assignment=AccessPackageAssignment(access_package_id=package_id, target_id=target_id),
    )
    try:
        context = resolve(body, caller, view)
    except RuleViolationError:
        return []
    found = []
    for policy in view.policies_of(context.package.id):
        try:
            check_eligibility(context.with_policy(policy), view)
        except RuleViolationError:
            continue
        found.append(policy)
    return found
