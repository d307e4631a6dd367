"""Graph representations of the catalog (``accessPackage``, ``accessPackageAssignmentPolicy``,
``accessPackageCatalog``, ``accessPackageAssignmentRequestRequirements``) built from the
applied catalog, with navigation properties only when ``$expand`` asks for them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from accessflow.api.catalog_access import CatalogAccess
from accessflow.domain.enums import ApproverInformationVisibility, SubjectType
from accessflow.domain.models.common import AccessPackageSubject, EntitlementManagementSchedule
from accessflow.domain.models.packages import (
    AccessPackage,
    AccessPackageCatalog,
    AccessPackageResourceRoleScope,
    DirectoryUser,
)
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import to_graph

PACKAGE_PROPERTIES = frozenset(
    {"id", "displayName", "description", "isHidden", "createdDateTime", "modifiedDateTime"}
)
CATALOG_PROPERTIES = frozenset(
    {
        "id",
        "displayName",
        "description",
        "catalogType",
        "state",
        "isExternallyVisible",
        "createdDateTime",
        "modifiedDateTime",
    }
)
POLICY_PROPERTIES = frozenset(
    {
        "id",
        "displayName",
        "description",
        "allowedTargetScope",
        "specificAllowedTargets",
        "expiration",
        "requestorSettings",
        "requestApprovalSettings",
        "automaticRequestSettings",
        "notificationSettings",
        "createdDateTime",
        "modifiedDateTime",
    }
)
ROLE_SCOPES = "resourceRoleScopes"
#: ``resourceRoleScopes`` with its own navigation properties (``role``, ``scope``) expanded.
NESTED_ROLE_SCOPES = {
    f"{ROLE_SCOPES}($expand=role,scope)": ("role", "scope"),
    f"{ROLE_SCOPES}($expand=scope,role)": ("role", "scope"),
    f"{ROLE_SCOPES}($expand=role)": ("role",),
    f"{ROLE_SCOPES}($expand=scope)": ("scope",),
}
PACKAGE_EXPAND = frozenset(
    {
        "assignmentPolicies",
        "catalog",
        "incompatibleAccessPackages",
        ROLE_SCOPES,
        *NESTED_ROLE_SCOPES,
    }
)
POLICY_EXPAND = frozenset({"accessPackage", "catalog", "questions"})
CATALOG_EXPAND = frozenset({"accessPackages"})
_APPROVER_LISTS = (
    "primaryApprovers",
    "fallbackPrimaryApprovers",
    "escalationApprovers",
    "fallbackEscalationApprovers",
)
_ROLE_SCOPE_IDS = uuid.UUID("5b0f3c1e-2f51-4d57-9a0e-3f2b8c7a6d10")


def _pick(
    document: dict[str, Any], allowed: Collection[str], select: Sequence[str] | None
) -> dict[str, Any]:
    keys = [k for k in document if k in allowed] if select is None else list(select)
    return {k: document.get(k) for k in keys}


def package_resource(
    package: AccessPackage,
    access: CatalogAccess,
    expand: Collection[str] = (),
    select: Sequence[str] | None = None,
) -> dict[str, Any]:
    out = _pick(to_graph(package), PACKAGE_PROPERTIES, select)
    if "assignmentPolicies" in expand:
        out["assignmentPolicies"] = [
            policy_resource(p, access)
            for p in access.policies_of(package.id)
            if access.may_read_policy(p)
        ]
    if "catalog" in expand:
        catalog = access.objects.catalogs.get((package.catalog_ref or "").casefold())
        out["catalog"] = catalog_resource(catalog, access) if catalog else None
    if "incompatibleAccessPackages" in expand:
        out["incompatibleAccessPackages"] = [
            package_resource(p, access) for p in incompatible_packages(package, access)
        ]
    nested = next((NESTED_ROLE_SCOPES[e] for e in expand if e in NESTED_ROLE_SCOPES), None)
    if ROLE_SCOPES in expand or nested is not None:
        out[ROLE_SCOPES] = [
            role_scope_resource(package, s, nested or ()) for s in package.resource_role_scopes
        ]
    return out


def incompatible_packages(package: AccessPackage, access: CatalogAccess) -> list[AccessPackage]:
    """The packages this one names as incompatible that the caller may read."""
    found = []
    for other_id in package.incompatible_access_packages:
        other = access.objects.packages.get(other_id.casefold())
        if other is not None and access.may_read_package(other):
            found.append(other)
    return found


def role_scope_resource(
    package: AccessPackage, role_scope: AccessPackageResourceRoleScope, expand: Sequence[str]
) -> dict[str, Any]:
    """A resource role scope; a catalog file may leave its id out, so a stable one is made."""
    key = f"{package.id.casefold()}/{role_scope.role.origin_id}/{role_scope.scope.origin_id}"
    out: dict[str, Any] = {
        "id": role_scope.id or str(uuid.uuid5(_ROLE_SCOPE_IDS, key)),
        "createdDateTime": to_graph(role_scope).get("createdDateTime"),
    }
    if "role" in expand:
        out["role"] = {k: v for k, v in to_graph(role_scope.role).items() if k != "resource"}
    if "scope" in expand:
        out["scope"] = to_graph(role_scope.scope)
    return out


def policy_resource(
    policy: AccessPackageAssignmentPolicy,
    access: CatalogAccess,
    expand: Collection[str] = (),
    select: Sequence[str] | None = None,
) -> dict[str, Any]:
    document = to_graph(policy)
    if not access.is_admin:
        _hide_invisible_approvers(document)
    out = _pick(document, POLICY_PROPERTIES, select)
    package = access.objects.packages.get((policy.package_id or "").casefold())
    if "accessPackage" in expand:
        out["accessPackage"] = package_resource(package, access) if package else None
    if "catalog" in expand:
        catalog_id = (package.catalog_ref or "") if package else ""
        catalog = access.objects.catalogs.get(catalog_id.casefold())
        out["catalog"] = catalog_resource(catalog, access) if catalog else None
    if "questions" in expand:
        out["questions"] = document.get("questions", [])
    return out


def _hide_invisible_approvers(document: dict[str, Any]) -> None:
    settings = document.get("requestApprovalSettings") or {}
    for stage in settings.get("stages") or []:
        if stage.get("approverInformationVisibility") == ApproverInformationVisibility.NOT_VISIBLE:
            for name in _APPROVER_LISTS:
                stage[name] = []


def catalog_resource(
    catalog: AccessPackageCatalog,
    access: CatalogAccess,
    expand: Collection[str] = (),
    select: Sequence[str] | None = None,
) -> dict[str, Any]:
    out = _pick(to_graph(catalog), CATALOG_PROPERTIES, select)
    if "accessPackages" in expand:
        out["accessPackages"] = [
            package_resource(p, access)
            for p in access.packages_in(catalog.id)
            if access.listed_package(p)
        ]
    return out


def requirements_resource(policy: AccessPackageAssignmentPolicy) -> dict[str, Any]:
    """``accessPackageAssignmentRequestRequirements`` (v1.0 properties) of one policy."""
    approval = policy.request_approval_settings
    schedule = None
    if policy.expiration is not None:
        schedule = to_graph(EntitlementManagementSchedule(expiration=policy.expiration))
    return {
        "policyId": policy.id,
        "policyDisplayName": policy.display_name,
        "policyDescription": policy.description,
        "isApprovalRequiredForAdd": approval.is_approval_required_for_add,
        "isApprovalRequiredForUpdate": approval.is_approval_required_for_update,
        "isRequestorJustificationRequired": approval.is_requestor_justification_required,
        "allowCustomAssignmentSchedule": policy.requestor_settings.allow_custom_assignment_schedule,
        "schedule": schedule,
        "questions": [to_graph(q) for q in policy.questions],
    }


def subject_resource(user_id: str, user: DirectoryUser | None) -> dict[str, Any]:
    """An assignment's ``target``: the directory user it is for, as ``accessPackageSubject``."""
    if user is None:
        subject = AccessPackageSubject(id=user_id, object_id=user_id)
    else:
        subject = AccessPackageSubject(
            id=user.id,
            object_id=user.id,
            display_name=user.display_name,
            email=user.mail,
            principal_name=user.mail,
            subject_type=SubjectType.USER,
        )
    document: dict[str, Any] = to_graph(subject)
    return document
