"""Cross-reference checks of a catalog file: every id that points somewhere must land."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accessflow.domain.enums import AllowedTargetScope
from accessflow.domain.errors import ErrorDetail
from accessflow.domain.models.base import odata_tag
from accessflow.domain.models.packages import (
    GROUP_ORIGIN_SYSTEM,
    AccessPackage,
    AccessPackageCatalog,
    DirectoryGroup,
    DirectoryUser,
)
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.subjects import GroupMembers, SingleUser, SubjectSet


@dataclass(frozen=True)
class Sections:
    """The entries of each section that parsed, with their index in the file."""

    users: list[tuple[int, DirectoryUser]]
    groups: list[tuple[int, DirectoryGroup]]
    catalogs: list[tuple[int, AccessPackageCatalog]]
    packages: list[tuple[int, AccessPackage]]
    policies: list[tuple[int, AccessPackageAssignmentPolicy]]


class _Index:
    """Every id declared in the file, including entries that failed validation, so that one
    broken entry does not turn every reference to it into a second, misleading problem."""

    def __init__(self, document: Mapping[Any, Any]) -> None:
        self.users = _declared(document, "users")
        self.groups = _declared(document, "groups")
        self.catalogs = _declared(document, "catalogs")
        self.packages = _declared(document, "accessPackages")


def _declared(document: Mapping[Any, Any], section: str) -> set[str]:
    entries = document.get(section)
    if not isinstance(entries, list):
        return set()
    return {
        e["id"].casefold() for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)
    }


def reference_problems(sections: Sections, document: Mapping[Any, Any]) -> list[ErrorDetail]:
    """Dangling references among the parsed entries, and (best effort) among the raw policy
    entries that failed validation, so their references are reported in the same pass."""
    index = _Index(document)
    problems = _duplicates(sections)
    parsed = {i for i, _ in sections.policies}
    raw_policies = document.get("assignmentPolicies")
    if isinstance(raw_policies, list):
        for i, raw in enumerate(raw_policies):
            if i not in parsed and isinstance(raw, dict):
                problems += _raw_policy_problems(f"assignmentPolicies[{i}]", raw, index)
    problems += _user_problems(sections.users, index)
    for i, group in sections.groups:
        problems += _missing(f"groups[{i}].members", group.members, index.users, "user")
    for i, package in sections.packages:
        problems += _package_problems(f"accessPackages[{i}]", package, index)
    for i, policy in sections.policies:
        problems += _policy_problems(f"assignmentPolicies[{i}]", policy, index)
    return problems


def _duplicates(sections: Sections) -> list[ErrorDetail]:
    problems: list[ErrorDetail] = []
    named: list[tuple[str, list[tuple[int, str]]]] = [
        ("users", [(i, u.id) for i, u in sections.users]),
        ("groups", [(i, g.id) for i, g in sections.groups]),
        ("catalogs", [(i, c.id) for i, c in sections.catalogs]),
        ("accessPackages", [(i, p.id) for i, p in sections.packages]),
        ("assignmentPolicies", [(i, p.id) for i, p in sections.policies]),
    ]
    for name, ids in named:
        problems += _repeated(name, "id", ids)
    mails = [(i, u.mail) for i, u in sections.users if u.mail]
    problems += _repeated("users", "mail", [(i, m) for i, m in mails if m])
    return problems


def _repeated(section: str, key: str, values: list[tuple[int, str]]) -> list[ErrorDetail]:
    seen: dict[str, int] = {}
    problems = []
    for i, value in values:
        first = seen.setdefault(value.casefold(), i)
        if first != i:
            problems.append(
                ErrorDetail(f"{section}[{i}].{key}", f"{value} repeats {section}[{first}].{key}")
            )
    return problems


def _missing(path: str, ids: Iterable[str], known: set[str], kind: str) -> list[ErrorDetail]:
    return [
        ErrorDetail(f"{path}[{j}]", f"no {kind} with id {value}")
        for j, value in enumerate(ids)
        if value.casefold() not in known
    ]


def _user_problems(users: list[tuple[int, DirectoryUser]], index: _Index) -> list[ErrorDetail]:
    problems = []
    for i, user in users:
        manager = user.manager_id
        if manager is None:
            continue
        if manager.casefold() == user.id.casefold():
            problems.append(ErrorDetail(f"users[{i}].managerId", "a user cannot manage themself"))
        elif manager.casefold() not in index.users:
            problems.append(ErrorDetail(f"users[{i}].managerId", f"no user with id {manager}"))
    return problems


def _package_problems(path: str, package: AccessPackage, index: _Index) -> list[ErrorDetail]:
    problems = []
    catalog = package.catalog_ref
    if catalog is None:
        problems.append(ErrorDetail(f"{path}.catalogId", "required"))
    elif catalog.casefold() not in index.catalogs:
        problems.append(ErrorDetail(f"{path}.catalogId", f"no catalog with id {catalog}"))
    incompatible = package.incompatible_access_packages
    problems += _missing(
        f"{path}.incompatibleAccessPackages", incompatible, index.packages, "package"
    )
    for j, other in enumerate(incompatible):
        if other.casefold() == package.id.casefold():
            problems.append(
                ErrorDetail(
                    f"{path}.incompatibleAccessPackages[{j}]",
                    "a package is not incompatible with itself",
                )
            )
    for j, scope in enumerate(package.resource_role_scopes):
        group = scope.group_id
        if group is not None and group.casefold() not in index.groups:
            problems.append(
                ErrorDetail(f"{path}.resourceRoleScopes[{j}].scope.originId", f"no group {group}")
            )
        resource = scope.role.resource
        if (
            resource is not None
            and resource.origin_system == GROUP_ORIGIN_SYSTEM
            and resource.origin_id is not None
            and resource.origin_id.casefold() not in index.groups
        ):
            where = f"{path}.resourceRoleScopes[{j}].role.resource.originId"
            problems.append(ErrorDetail(where, f"no group {resource.origin_id}"))
    return problems


def _policy_problems(
    path: str, policy: AccessPackageAssignmentPolicy, index: _Index
) -> list[ErrorDetail]:
    problems = []
    package = policy.package_id
    if package is None:
        problems.append(ErrorDetail(f"{path}.accessPackageId", "required"))
    elif package.casefold() not in index.packages:
        problems.append(ErrorDetail(f"{path}.accessPackageId", f"no access package {package}"))
    if (
        policy.allowed_target_scope is AllowedTargetScope.SPECIFIC_DIRECTORY_USERS
        and not policy.specific_allowed_targets
    ):
        problems.append(
            ErrorDetail(f"{path}.specificAllowedTargets", "specificDirectoryUsers needs targets")
        )
    lists: list[tuple[str, list[SubjectSet]]] = [
        ("specificAllowedTargets", policy.specific_allowed_targets),
        ("requestorSettings.onBehalfRequestors", policy.requestor_settings.on_behalf_requestors),
    ]
    for s, stage in enumerate(policy.request_approval_settings.stages):
        where = f"requestApprovalSettings.stages[{s}]"
        lists += [
            (f"{where}.primaryApprovers", stage.primary_approvers),
            (f"{where}.fallbackPrimaryApprovers", stage.fallback_primary_approvers),
            (f"{where}.escalationApprovers", stage.escalation_approvers),
            (f"{where}.fallbackEscalationApprovers", stage.fallback_escalation_approvers),
        ]
    for where, subject_sets in lists:
        problems += _subject_set_problems(f"{path}.{where}", subject_sets, index)
    return problems


def _subject_set_problems(
    path: str, subject_sets: list[SubjectSet], index: _Index
) -> list[ErrorDetail]:
    problems = []
    for k, subject_set in enumerate(subject_sets):
        if (
            isinstance(subject_set, SingleUser)
            and subject_set.user_id.casefold() not in index.users
        ):
            problems.append(ErrorDetail(f"{path}[{k}].userId", f"no user {subject_set.user_id}"))
        if isinstance(subject_set, GroupMembers) and (
            subject_set.group_id.casefold() not in index.groups
        ):
            problems.append(ErrorDetail(f"{path}[{k}].groupId", f"no group {subject_set.group_id}"))
    return problems


_SUBJECT_TYPE = odata_tag("singleUser", "groupMembers")
_STAGE_LISTS = (
    "primaryApprovers",
    "fallbackPrimaryApprovers",
    "escalationApprovers",
    "fallbackEscalationApprovers",
)


def _raw_policy_problems(path: str, raw: dict[Any, Any], index: _Index) -> list[ErrorDetail]:
    problems = []
    package = raw.get("accessPackageId")
    if isinstance(package, str) and package.casefold() not in index.packages:
        problems.append(ErrorDetail(f"{path}.accessPackageId", f"no access package {package}"))
    lists: list[tuple[str, Any]] = [
        ("specificAllowedTargets", raw.get("specificAllowedTargets")),
        (
            "requestorSettings.onBehalfRequestors",
            _dig(raw, "requestorSettings", "onBehalfRequestors"),
        ),
    ]
    stages = _dig(raw, "requestApprovalSettings", "stages")
    for s, stage in enumerate(stages if isinstance(stages, list) else []):
        if isinstance(stage, dict):
            where = f"requestApprovalSettings.stages[{s}]"
            lists += [(f"{where}.{name}", stage.get(name)) for name in _STAGE_LISTS]
    for where, subject_sets in lists:
        for k, item in enumerate(subject_sets if isinstance(subject_sets, list) else []):
            problems += _raw_subject_problems(f"{path}.{where}[{k}]", item, index)
    return problems


def _raw_subject_problems(path: str, item: Any, index: _Index) -> list[ErrorDetail]:
    kind = _SUBJECT_TYPE(item)
    for odata_type, key, known, noun in (
        (SingleUser.ODATA_TYPE, "userId", index.users, "user"),
        (GroupMembers.ODATA_TYPE, "groupId", index.groups, "group"),
    ):
        value = item.get(key) if kind == odata_type else None
        if isinstance(value, str) and value.casefold() not in known:
            return [ErrorDetail(f"{path}.{key}", f"no {noun} {value}")]
    return []


def _dig(raw: dict[Any, Any], *keys: str) -> Any:
    value: Any = raw
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value
