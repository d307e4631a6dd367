"""The catalog as a self-service portal reads it: packages, policies, catalogs (who may read
what), ``$expand``/``$select``/``$filter``/``$count``, and ``getApplicablePolicyRequirements``.
Every response is read by the typed Graph SDK style reader (``graph_sdk``)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_support import (
    ALEX,
    BASE,
    FALCON,
    FINANCE,
    FINANCE_POLICY,
    JORDAN,
    MEGAN,
    NESTOR,
    SALES,
    SALES_POLICY,
    Api,
)
from graph_sdk import (
    AccessPackage,
    AccessPackageAssignmentPolicy,
    AccessPackageCatalog,
    RequestRequirements,
    read,
    read_collection,
)

from accessflow.adapters.postgres.catalog_store import apply_catalog
from accessflow.adapters.postgres.pool import connect
from accessflow.domain.catalog import load_catalog

PACKAGES = f"{BASE}/accessPackages"
POLICIES = f"{BASE}/assignmentPolicies"
CATALOGS = f"{BASE}/catalogs"
PARTNER_PORTAL = "11115c72-0612-4c43-a044-fc0a4e71a4c5"
PARTNER_POLICY = "282a7bfd-bc61-4c4c-897d-8755a54f38e0"
DIRECT_SALES = "11ac7d82-4149-4b6d-adef-d5c41158a8cb"
INITIATE = "b424929d-1999-4b23-ab28-b3373d8dd9fd"
APPROVE = "8bea7e96-b8cb-4671-820a-c0fcd76487d2"
GENERAL = "a5e85994-c0cd-40c6-814e-c71e5f641b24"
FINANCE_CATALOG = "17b85c79-d0f4-4571-ad14-632945f97b7f"
PARTNERS = "a97dfb5f-45f0-4128-bbff-9b25fe5c2586"
ADMIN = {"admin": True}


async def ok(api: Api, path: str, user: str, **kw: Any) -> dict[str, Any]:
    response = await api.get(path, user, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ids(api: Api, path: str, user: str, model: Any, **kw: Any) -> set[str]:
    return {str(item.id) for item in read_collection(await ok(api, path, user, **kw), model)}


async def requirements(api: Api, package: str, user: str, body: Any = None) -> Any:
    headers = api.auth(user)
    return await api.client.post(
        f"{PACKAGES}/{package}/getApplicablePolicyRequirements", json=body, headers=headers
    )


async def test_each_caller_reads_the_packages_they_could_request_and_admins_read_all(
    api: Api,
) -> None:
    megan = {SALES, FINANCE, FALCON, INITIATE, APPROVE}
    assert await ids(api, PACKAGES, MEGAN, AccessPackage) == megan
    assert await ids(api, PACKAGES, JORDAN, AccessPackage) == {PARTNER_PORTAL}  # a guest
    assert len(await ids(api, PACKAGES, NESTOR, AccessPackage, **ADMIN)) == 6
    mine = f"{PACKAGES}/filterByCurrentUser(on='allowedRequestor')"
    assert await ids(api, mine, JORDAN, AccessPackage) == {PARTNER_PORTAL}
    # By id: readable ones answer, the others are 404 as if they did not exist.
    read(await ok(api, f"{PACKAGES}/{PARTNER_PORTAL}", JORDAN), AccessPackage)
    read(await ok(api, f"{PACKAGES}/{PARTNER_PORTAL}", NESTOR, **ADMIN), AccessPackage)
    for who, package in ((MEGAN, PARTNER_PORTAL), (JORDAN, SALES), (JORDAN, INITIATE)):
        refused = await api.get(f"{PACKAGES}/{package}", who)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "itemNotFound"


async def test_policies_are_read_by_those_who_may_use_them_so_approvers_do_not_leak(
    api: Api,
) -> None:
    megan = await ids(api, POLICIES, MEGAN, AccessPackageAssignmentPolicy)
    assert megan == {
        SALES_POLICY,
        FINANCE_POLICY,
        "c5f7847f-83a8-4315-a754-d94a6f39b875",
        "fa9fdd60-a0f3-43f9-ad79-78b2273ab772",
        "8ccb26d5-c465-4811-98d8-1342d96672f1",
    }
    assert await ids(api, POLICIES, JORDAN, AccessPackageAssignmentPolicy) == {PARTNER_POLICY}
    assert len(await ids(api, POLICIES, NESTOR, AccessPackageAssignmentPolicy, **ADMIN)) == 8
    finance = await ok(api, f"{POLICIES}/{FINANCE_POLICY}?$expand=questions,accessPackage", MEGAN)
    policy = read(finance, AccessPackageAssignmentPolicy)
    assert policy.accessPackage is not None
    assert policy.accessPackage.id == FINANCE
    assert [q.id for q in policy.questions or []] == [
        "8fe745e7-80b2-490d-bd22-4e708c77288c",
        "7aaa18c9-8e4f-440f-bd5a-3a7ce312cbe6",
    ]
    for who, policy_id in ((JORDAN, FINANCE_POLICY), (MEGAN, DIRECT_SALES), (MEGAN, "nope")):
        assert (await api.get(f"{POLICIES}/{policy_id}", who)).status_code == 404
    read(
        await ok(api, f"{POLICIES}/{DIRECT_SALES}", NESTOR, **ADMIN), AccessPackageAssignmentPolicy
    )


async def test_catalogs_are_read_through_their_readable_packages(api: Api) -> None:
    assert await ids(api, CATALOGS, MEGAN, AccessPackageCatalog) == {GENERAL, FINANCE_CATALOG}
    assert await ids(api, CATALOGS, JORDAN, AccessPackageCatalog) == {PARTNERS}
    assert len(await ids(api, CATALOGS, NESTOR, AccessPackageCatalog, **ADMIN)) == 3
    finance = read(
        await ok(api, f"{CATALOGS}/{FINANCE_CATALOG}?$expand=accessPackages", MEGAN),
        AccessPackageCatalog,
    )
    assert {p.id for p in finance.accessPackages or []} == {FINANCE, INITIATE, APPROVE}
    inside = f"{CATALOGS}/{GENERAL}/accessPackages"
    assert await ids(api, inside, MEGAN, AccessPackage) == {SALES, FALCON}
    partners = f"{CATALOGS}/{PARTNERS}/accessPackages"
    assert await ids(api, partners, NESTOR, AccessPackage, **ADMIN) == {PARTNER_PORTAL}
    assert (await api.get(f"{CATALOGS}/{PARTNERS}", MEGAN)).status_code == 404
    assert (await api.get(f"{CATALOGS}/{PARTNERS}/accessPackages", MEGAN)).status_code == 404


async def test_a_package_expands_policies_catalog_role_scopes_and_incompatibles(api: Api) -> None:
    expand = "assignmentPolicies,catalog,resourceRoleScopes($expand=role,scope)"
    sales = read(await ok(api, f"{PACKAGES}/{SALES}?$expand={expand}", MEGAN), AccessPackage)
    # Megan reads the self-service policy, not the administrators' direct assignment one.
    assert [p.id for p in sales.assignmentPolicies or []] == [SALES_POLICY]
    assert sales.catalog is not None
    assert sales.catalog.displayName == "General"
    [role_scope] = sales.resourceRoleScopes or []
    assert role_scope.role is not None
    assert role_scope.role.originSystem == "AadGroup"
    assert role_scope.scope is not None
    assert role_scope.scope.originId == "d82dafa9-7823-4f55-b4ce-9a1ef3bee1d2"
    bare = read(
        await ok(api, f"{PACKAGES}/{SALES}?$expand=resourceRoleScopes", MEGAN), AccessPackage
    )
    assert [(s.role, s.scope) for s in bare.resourceRoleScopes or []] == [(None, None)]
    initiate = f"{PACKAGES}/{INITIATE}"
    expanded = read(
        await ok(api, f"{initiate}?$expand=incompatibleAccessPackages", NESTOR, **ADMIN),
        AccessPackage,
    )
    assert [p.id for p in expanded.incompatibleAccessPackages or []] == [APPROVE]
    listed = f"{initiate}/incompatibleAccessPackages?$count=true"
    body = await ok(api, listed, NESTOR, **ADMIN)
    assert (body["@odata.count"], [p.id for p in read_collection(body, AccessPackage)]) == (
        1,
        [APPROVE],
    )
    groups = await ok(api, f"{initiate}/incompatibleGroups", NESTOR, **ADMIN)
    assert groups["value"] == []
    assert (await api.get(f"{initiate}/incompatibleGroups", JORDAN)).status_code == 404


async def test_select_filter_and_count_on_the_catalog_collections(api: Api) -> None:
    named = await ok(api, f"{PACKAGES}?$filter=displayName eq 'SALES reports'", MEGAN)
    assert [p.id for p in read_collection(named, AccessPackage)] == [SALES]
    slim = await ok(api, f"{PACKAGES}/{SALES}?$select=displayName", MEGAN)
    assert set(slim) == {"@odata.context", "id", "displayName"}
    first = await ok(api, f"{PACKAGES}?$count=true&$top=4", NESTOR, **ADMIN)
    assert (first["@odata.count"], len(first["value"])) == (6, 4)
    later = await api.get(first["@odata.nextLink"], NESTOR, admin=True)
    assert "@odata.count" not in later.json()  # on the first page only, as Graph does
    assert len(later.json()["value"]) == 2
    counts = {
        (PACKAGES, MEGAN): "5",
        (POLICIES, MEGAN): "5",
        (CATALOGS, JORDAN): "1",
        (f"{POLICIES}", NESTOR): "8",
    }
    for (path, who), expected in counts.items():
        response = await api.get(f"{path}/$count", who, admin=who == NESTOR)
        assert (response.status_code, response.text) == (200, expected)
        assert response.headers["content-type"].startswith("text/plain")
    filtered = await api.get(
        f"{POLICIES}/$count?$filter=accessPackage/id eq '{SALES}'", NESTOR, admin=True
    )
    assert filtered.text == "2"
    eventual = await api.get(f"{PACKAGES}/$count", MEGAN, headers={"ConsistencyLevel": "eventual"})
    assert eventual.text == "5"


@pytest.mark.parametrize(
    ("path", "option"),
    [
        (f"{PACKAGES}?$filter=contains(tolower(displayName),'sales')", "$filter"),
        (f"{PACKAGES}?$expand=owners", "$expand"),
        (f"{PACKAGES}?$count=maybe", "$count"),
        (f"{PACKAGES}?$skip=2", "$skip"),
        (f"{PACKAGES}/$count?$top=1", "$top"),
        (f"{CATALOGS}/{GENERAL}?$top=1", "$top"),
        (f"{POLICIES}?$select=nope", "$select"),
        (f"{PACKAGES}/{SALES}?$expand=resourceRoleScopes($filter=x)", "$expand"),
    ],
)
async def test_unsupported_options_are_a_400_naming_the_option(
    api: Api, path: str, option: str
) -> None:
    response = await api.get(path, MEGAN)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert option in error["message"], error


async def test_requirements_list_the_policies_the_caller_may_request_through(api: Api) -> None:
    response = await requirements(api, FINANCE, MEGAN)
    assert response.status_code == 200, response.text
    [finance] = read_collection(response.json(), RequestRequirements)
    assert (finance.policyId, finance.isApprovalRequiredForAdd) == (FINANCE_POLICY, True)
    assert (finance.isRequestorJustificationRequired, finance.allowCustomAssignmentSchedule) == (
        False,
        False,
    )
    assert finance.schedule is not None
    assert finance.schedule.expiration is not None
    assert finance.schedule.expiration.duration == "P180D"
    assert [q.isRequired for q in finance.questions or []] == [True, True]
    [sales] = read_collection((await requirements(api, SALES, MEGAN)).json(), RequestRequirements)
    assert sales.policyId == SALES_POLICY  # not the direct-assignment policy
    [partner] = read_collection(
        (await requirements(api, PARTNER_PORTAL, JORDAN)).json(), RequestRequirements
    )
    assert (partner.policyId, partner.isRequestorJustificationRequired) == (PARTNER_POLICY, True)
    # An admin asking about a package no policy admits them to gets an empty collection.
    admin = await api.client.post(
        f"{PACKAGES}/{PARTNER_PORTAL}/getApplicablePolicyRequirements",
        headers=api.auth(NESTOR, admin=True),
    )
    assert (admin.status_code, admin.json()["value"]) == (200, [])
    for who, package in ((JORDAN, SALES), (MEGAN, str(uuid.uuid4()))):
        assert (await requirements(api, package, who)).status_code == 404


async def test_requirements_for_a_report_as_their_manager_asks_on_their_behalf(api: Api) -> None:
    on_behalf = {"subject": {"objectId": MEGAN}}
    [sales] = read_collection(
        (await requirements(api, SALES, ALEX, on_behalf)).json(), RequestRequirements
    )
    assert sales.policyId == SALES_POLICY  # managers may request Sales for their reports
    finance = await requirements(api, FINANCE, ALEX, on_behalf)
    assert (finance.status_code, finance.json()["value"]) == (200, [])  # self-service only
    stranger = await requirements(api, SALES, JORDAN, on_behalf)
    assert stranger.status_code == 404
    for bad in (
        {"subject": {}},
        {"subject": {"objectId": MEGAN}, "extra": 1},
        {"subject": {"objectId": "a\u0000b"}},
        [],
    ):
        refused = await requirements(api, SALES, ALEX, bad)
        assert refused.status_code == 400, refused.text
    text = await api.client.post(
        f"{PACKAGES}/{SALES}/getApplicablePolicyRequirements",
        content=b"subject",
        headers={**api.auth(ALEX), "Content-Type": "text/plain"},
    )
    assert text.status_code == 415


async def test_hidden_packages_answer_by_id_and_invisible_approvers_are_removed(
    api: Api,
) -> None:
    hidden, policy = str(uuid.uuid4()), str(uuid.uuid4())
    catalog = load_catalog(
        {
            "catalogs": [{"id": GENERAL, "displayName": "General"}],
            "accessPackages": [
                {"id": hidden, "displayName": "Hidden", "isHidden": True, "catalogId": GENERAL}
            ],
            "groups": [{"id": "27edb669-f35e-4844-9acd-4236eb5f8b54", "members": [NESTOR]}],
            "users": [{"id": NESTOR}],
            "assignmentPolicies": [
                {
                    "id": policy,
                    "accessPackageId": hidden,
                    "allowedTargetScope": "allMemberUsers",
                    "requestorSettings": {"enableTargetsToSelfAddAccess": True},
                    "requestApprovalSettings": {
                        "isApprovalRequiredForAdd": True,
                        "stages": [
                            {
                                "approverInformationVisibility": "notVisible",
                                "primaryApprovers": [
                                    {"@odata.type": "#microsoft.graph.singleUser", "userId": NESTOR}
                                ],
                            }
                        ],
                    },
                }
            ],
        }
    )
    conn = await connect(api.settings)
    try:
        await apply_catalog(conn, catalog)
    finally:
        await conn.close()
    assert hidden not in await ids(api, PACKAGES, MEGAN, AccessPackage)
    read(await ok(api, f"{PACKAGES}/{hidden}", MEGAN), AccessPackage)
    seen = read(await ok(api, f"{POLICIES}/{policy}", MEGAN), AccessPackageAssignmentPolicy)
    assert seen.requestApprovalSettings is not None
    [stage] = seen.requestApprovalSettings.stages or []
    assert stage.primaryApprovers == []
    admin = read(
        await ok(api, f"{POLICIES}/{policy}", NESTOR, **ADMIN), AccessPackageAssignmentPolicy
    )
    assert admin.requestApprovalSettings is not None
    [stage] = admin.requestApprovalSettings.stages or []
    assert [a.userId for a in stage.primaryApprovers or [] if hasattr(a, "userId")] == [NESTOR]


NEW_ROUTES = [
    ("GET", f"{PACKAGES}"),
    ("GET", f"{PACKAGES}/$count"),
    ("GET", f"{PACKAGES}/filterByCurrentUser(on='allowedRequestor')"),
    ("GET", f"{PACKAGES}/{SALES}"),
    ("GET", f"{PACKAGES}/{SALES}/incompatibleAccessPackages"),
    ("GET", f"{PACKAGES}/{SALES}/incompatibleGroups"),
    ("POST", f"{PACKAGES}/{SALES}/getApplicablePolicyRequirements"),
    ("GET", f"{POLICIES}"),
    ("GET", f"{POLICIES}/$count"),
    ("GET", f"{POLICIES}/{SALES_POLICY}"),
    ("GET", f"{CATALOGS}"),
    ("GET", f"{CATALOGS}/$count"),
    ("GET", f"{CATALOGS}/{GENERAL}"),
    ("GET", f"{CATALOGS}/{GENERAL}/accessPackages"),
    ("GET", f"{BASE}/assignments/$count"),
    ("GET", f"{BASE}/assignments/filterByCurrentUser(on='target')"),
    (
        "GET",
        f"{BASE}/assignments/additionalAccess(accessPackageId='a',incompatibleAccessPackageId='b')",
    ),
    ("GET", f"{BASE}/assignmentRequests/$count"),
]


@pytest.mark.parametrize(("method", "path"), NEW_ROUTES)
async def test_every_read_needs_a_token(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"


async def test_incompatible_packages_of_an_unreadable_package_are_not_found(api: Api) -> None:
    path = f"{PACKAGES}/{INITIATE}/incompatibleAccessPackages"
    assert (await api.get(path, JORDAN)).status_code == 404
    # Megan reads both Payments packages, so each lists the other.
    body = await ok(api, path, MEGAN)
    assert [p.id for p in read_collection(body, AccessPackage)] == [APPROVE]


async def test_a_held_package_and_its_policy_are_readable_though_not_requestable(
    api: Api,
) -> None:
    """An admin assigned Megan the Partner portal directly: she may not request it, but she
    reads it, the policy she holds it through, and its catalog."""
    direct = "11114b50-0a08-4f96-83e9-1d714aa2cd79"
    assignment_id = uuid.uuid4()
    document = {
        "id": str(assignment_id),
        "state": "delivered",
        "targetId": MEGAN,
        "accessPackageId": PARTNER_PORTAL,
        "assignmentPolicyId": direct,
    }
    await api.sql(
        "INSERT INTO assignments (id, access_package_id, assignment_policy_id, target_id, state, "
        "created_at, updated_at, document) VALUES ($1, $2, $3, $4, 'delivered', now(), now(), $5)",
        assignment_id, PARTNER_PORTAL, direct, MEGAN, document,
    )  # fmt: skip
    assert PARTNER_PORTAL in await ids(api, PACKAGES, MEGAN, AccessPackage)
    expanded = await ok(api, f"{PACKAGES}/{PARTNER_PORTAL}?$expand=assignmentPolicies", MEGAN)
    held = read(expanded, AccessPackage)
    assert [p.id for p in held.assignmentPolicies or []] == [direct]  # not the guests' one
    assert PARTNER_POLICY not in await ids(api, POLICIES, MEGAN, AccessPackageAssignmentPolicy)
    assert PARTNERS in await ids(api, CATALOGS, MEGAN, AccessPackageCatalog)
    nothing = await requirements(api, PARTNER_PORTAL, MEGAN)
    assert (nothing.status_code, nothing.json()["value"]) == (200, [])
