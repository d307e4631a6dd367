"""The catalog file: the example loads; broken files report every problem with its path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from domain_support import (
    EXAMPLE_CATALOG,
    FALCON,
    FALCON_POLICY,
    FINANCE,
    FINANCE_POLICY,
    MEGAN,
    PAY_APPROVE,
    PAY_INITIATE,
    SALES,
    SALES_POLICY,
    policy_in,
)

from accessflow.adapters.catalog_file import parse_catalog_text, read_catalog_file
from accessflow.domain import (
    AllowedTargetScope,
    CatalogValidationError,
    ExpirationPatternType,
    ReasonCode,
    UserType,
    load_catalog,
)
from accessflow.domain.models import GroupMembers, RequestorManager

Edit = Callable[[dict[str, Any]], None]


def problems(document: Any) -> dict[str, str]:
    with pytest.raises(CatalogValidationError) as raised:
        load_catalog(document)
    assert raised.value.code is ReasonCode.INVALID_CATALOG
    return {d.path: d.message for d in raised.value.details}


def test_example_catalog_loads_with_the_promised_content() -> None:
    catalog = read_catalog_file(EXAMPLE_CATALOG)
    assert catalog.users[MEGAN].user_type is UserType.MEMBER
    assert catalog.access_packages[SALES].display_name == "Sales reports"
    sales = catalog.assignment_policies[SALES_POLICY]
    assert sales.package_id == SALES
    assert sales.allowed_target_scope is AllowedTargetScope.ALL_MEMBER_USERS
    assert sales.requestor_settings.enable_targets_to_self_add_access
    assert not sales.request_approval_settings.is_approval_required_for_add
    assert sales.expiration is not None
    assert sales.expiration.type is ExpirationPatternType.AFTER_DURATION
    assert sales.expiration.duration == timedelta(days=90)
    [scope] = catalog.access_packages[SALES].resource_role_scopes
    assert scope.group_id is not None
    assert catalog.groups[scope.group_id].display_name == "Sales reports readers"


def test_example_catalog_has_two_stage_future_start_and_incompatible_packages() -> None:
    catalog = read_catalog_file(EXAMPLE_CATALOG)
    first, second = catalog.assignment_policies[FINANCE_POLICY].request_approval_settings.stages
    assert isinstance(first.primary_approvers[0], RequestorManager)
    assert isinstance(second.primary_approvers[0], GroupMembers)
    assert catalog.assignment_policies[
        FALCON_POLICY
    ].requestor_settings.allow_custom_assignment_schedule
    assert catalog.access_packages[PAY_INITIATE].incompatible_access_packages == [PAY_APPROVE]
    assert {FINANCE, FALCON} <= set(catalog.access_packages)
    direct = [
        p
        for p in catalog.assignment_policies.values()
        if p.allowed_target_scope is AllowedTargetScope.NOT_SPECIFIED
    ]
    assert direct, "an admin direct-assignment policy exists"


def test_a_broken_file_reports_every_problem_at_once(example_document: dict[str, Any]) -> None:
    document = copy.deepcopy(example_document)
    document["users"][2]["managerId"] = "nobody"
    document["users"][3]["userType"] = "Robot"
    document["groups"][6]["members"].append("ghost")
    document["accessPackages"][0]["catalogId"] = "no-catalog"
    document["accessPackages"][4]["incompatibleAccessPackages"] = ["no-package"]
    finance = policy_in(document, FINANCE_POLICY)
    finance["requestApprovalSettings"]["stages"][0]["fallbackPrimaryApprovers"][0]["userId"] = "x"
    finance["requestApprovalSettings"]["stages"][1]["durationBeforeAutomaticDenial"] = "soon"
    policy_in(document, SALES_POLICY)["accessPackageId"] = "no-package"
    found = problems(document)
    assert set(found) == {
        "users[2].managerId",
        "users[3].userType",
        "groups[6].members[2]",
        "accessPackages[0].catalogId",
        "accessPackages[4].incompatibleAccessPackages[0]",
        "assignmentPolicies[2].requestApprovalSettings.stages[0].fallbackPrimaryApprovers[0].userId",
        "assignmentPolicies[2].requestApprovalSettings.stages[1].durationBeforeAutomaticDenial",
        "assignmentPolicies[0].accessPackageId",
    }


def set_at(path: list[Any], value: Any) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def delete_at(path: list[Any]) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


CASES: list[tuple[str, Edit, str]] = [
    ("unknown section", set_at(["policies"], []), "policies"),
    ("section not a list", set_at(["users"], {"id": "u"}), "users"),
    ("entry not a mapping", set_at(["catalogs", 0], "General"), "catalogs[0]"),
    ("missing id", delete_at(["groups", 0, "id"]), "groups[0].id"),
    (
        "duplicate id",
        set_at(["users", 1, "id"], "0F6CC311-4E6F-47F2-A8A9-E45BDAAE57F6"),
        "users[1].id",
    ),
    (
        "duplicate mail",
        set_at(["users", 1, "mail"], "Patti.Fernandez@woodgrovebank.com"),
        "users[1].mail",
    ),
    (
        "own manager",
        set_at(["users", 1, "managerId"], "44da820a-dfee-4709-88d8-4e365feb9c00"),
        "users[1].managerId",
    ),
    (
        "package without catalog",
        delete_at(["accessPackages", 0, "catalogId"]),
        "accessPackages[0].catalogId",
    ),
    (
        "self-incompatible",
        set_at(["accessPackages", 4, "incompatibleAccessPackages"], [PAY_INITIATE]),
        "accessPackages[4].incompatibleAccessPackages[0]",
    ),
    (
        "scope to unknown group",
        set_at(["accessPackages", 1, "resourceRoleScopes", 0, "scope", "originId"], "g"),
        "accessPackages[1].resourceRoleScopes[0].scope.originId",
    ),
    (
        "resource to unknown group",
        set_at(["accessPackages", 0, "resourceRoleScopes", 0, "role", "resource", "originId"], "g"),
        "accessPackages[0].resourceRoleScopes[0].role.resource.originId",
    ),
    (
        "policy without package",
        delete_at(["assignmentPolicies", 0, "accessPackageId"]),
        "assignmentPolicies[0].accessPackageId",
    ),
    (
        "approver group unknown",
        set_at(
            [
                "assignmentPolicies",
                2,
                "requestApprovalSettings",
                "stages",
                1,
                "primaryApprovers",
                0,
                "groupId",
            ],
            "g",
        ),
        "assignmentPolicies[2].requestApprovalSettings.stages[1].primaryApprovers[0].groupId",
    ),
    (
        "on-behalf user unknown",
        set_at(
            ["assignmentPolicies", 0, "requestorSettings", "onBehalfRequestors"],
            [{"@odata.type": "#microsoft.graph.singleUser", "userId": "u"}],
        ),
        "assignmentPolicies[0].requestorSettings.onBehalfRequestors[0].userId",
    ),
    (
        "specific scope without targets",
        set_at(["assignmentPolicies", 0, "allowedTargetScope"], "specificDirectoryUsers"),
        "assignmentPolicies[0].specificAllowedTargets",
    ),
    (
        "unknown subject set type",
        set_at(
            ["assignmentPolicies", 0, "specificAllowedTargets"],
            [{"@odata.type": "#microsoft.graph.user"}],
        ),
        "assignmentPolicies[0].specificAllowedTargets[0]",
    ),
    (
        "bad enum",
        set_at(["assignmentPolicies", 0, "allowedTargetScope"], "everyone"),
        "assignmentPolicies[0].allowedTargetScope",
    ),
    (
        "approval without stages",
        set_at(["assignmentPolicies", 2, "requestApprovalSettings", "stages"], []),
        "assignmentPolicies[2].requestApprovalSettings",
    ),
    (
        "bad regex",
        set_at(["assignmentPolicies", 2, "questions", 1, "regexPattern"], "(["),
        "assignmentPolicies[2].questions[1].regexPattern",
    ),
]


@pytest.mark.parametrize(("edit", "path"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_reported_with_its_path(
    example_document: dict[str, Any], edit: Edit, path: str
) -> None:
    document = copy.deepcopy(example_document)
    edit(document)
    assert path in problems(document)


@pytest.mark.parametrize("document", [None, [], "users", 3])
def test_a_document_that_is_not_a_mapping_is_one_root_problem(document: Any) -> None:
    assert list(problems(document)) == [""]


def test_an_empty_catalog_is_valid() -> None:
    assert load_catalog({}).users == {}


def test_yaml_syntax_errors_are_reported_with_their_line() -> None:
    with pytest.raises(CatalogValidationError) as raised:
        parse_catalog_text("users:\n  - {id: u1\n")
    assert "line" in raised.value.details[0].message


def test_json_files_are_read_as_json(tmp_path: Path, example_document: dict[str, Any]) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(example_document, default=str), encoding="utf-8")
    assert SALES in read_catalog_file(path).access_packages
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogValidationError, match="1 problem"):
        read_catalog_file(path)


def test_graph_style_navigation_references_are_accepted() -> None:
    catalog = load_catalog(
        {
            "catalogs": [{"id": "c1"}],
            "accessPackages": [{"id": "p1", "catalog": {"id": "C1"}}],
            "assignmentPolicies": [{"id": "x1", "accessPackage": {"id": "P1"}}],
        }
    )
    assert catalog.assignment_policies["x1"].package_id == "P1"


def test_a_broken_entry_does_not_make_references_to_it_dangle(
    example_document: dict[str, Any],
) -> None:
    document = copy.deepcopy(example_document)
    document["users"][1]["userType"] = "Robot"  # Alex, manager of Megan and Kayo
    assert list(problems(document)) == ["users[1].userType"]
