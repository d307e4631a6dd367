"""``…/assignments`` as "my access" reads it (filterByCurrentUser, $expand, $count),
``additionalAccess`` for separation of duties, and ``$count`` on requests and approvals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import (
    ALEX,
    BASE,
    FINANCE,
    JORDAN,
    KAYO,
    LEE,
    MEGAN,
    NESTOR,
    REQUESTS,
    SALES,
    SALES_POLICY,
    Api,
)
from graph_sdk import AccessPackageAssignment, read, read_collection
from test_listing import insert_requests

ASSIGNMENTS = f"{BASE}/assignments"
INITIATE = "b424929d-1999-4b23-ab28-b3373d8dd9fd"
APPROVE = "8bea7e96-b8cb-4671-820a-c0fcd76487d2"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def assign(
    api: Api, target: str, package: str, *, state: str = "delivered", by: str | None = None
) -> str:
    """An assignment as the worker stores it; ``by``: the requestor of its add request."""
    assignment_id = uuid.uuid4()
    created = T0 + timedelta(minutes=len(await api.sql("SELECT 1 FROM assignments")))
    document = {
        "id": str(assignment_id),
        "state": state,
        "status": state.capitalize(),
        "schedule": {
            "startDateTime": "2026-01-01T00:00:00Z",
            "expiration": None,
            "recurrence": None,
        },
        "expiredDateTime": "2026-02-01T00:00:00Z" if state == "expired" else None,
        "customExtensionCalloutInstances": None,
        "targetId": target,
        "assignmentPolicyId": SALES_POLICY if package == SALES else None,
        "accessPackageId": package,
        "target": None,
        "assignmentPolicy": None,
        "accessPackage": None,
    }
    await api.sql(
        "INSERT INTO assignments (id, access_package_id, assignment_policy_id, target_id, state, "
        "created_at, updated_at, document) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        assignment_id, package, document["assignmentPolicyId"], target, state, created, document,
    )  # fmt: skip
    if by is not None:
        await api.sql(
            "INSERT INTO assignment_requests (id, request_type, state, status, target_id, "
            "access_package_id, requestor_id, assignment_id, sequence, created_at, document) "
            "VALUES ($1, 'userAdd', 'delivered', 'Delivered', $2, $3, $4, $5, 3, $6, '{}')",
            uuid.uuid4(), target, package, by, str(assignment_id), created,
        )  # fmt: skip
    return str(assignment_id)


async def listed(api: Api, path: str, user: str, **kw: Any) -> list[AccessPackageAssignment]:
    response = await api.get(path, user, **kw)
    assert response.status_code == 200, response.text
    return read_collection(response.json(), AccessPackageAssignment)


async def test_my_access_lists_current_and_expired_assignments_and_those_i_created(
    api: Api,
) -> None:
    sales = await assign(api, MEGAN, SALES, by=MEGAN)
    expired = await assign(api, MEGAN, FINANCE, state="expired", by=MEGAN)
    for_kayo = await assign(api, KAYO, SALES, by=ALEX)  # a manager asked for a report
    mine = f"{ASSIGNMENTS}/filterByCurrentUser(on='target')"
    assert [a.id for a in await listed(api, mine, MEGAN)] == [sales, expired]
    made = f"{ASSIGNMENTS}/filterByCurrentUser(on='createdBy')"
    assert [a.id for a in await listed(api, made, ALEX)] == [for_kayo]
    assert [a.id for a in await listed(api, made, MEGAN)] == [sales, expired]
    assert await listed(api, made, KAYO) == []
    # Whoever created an assignment may read it by id; somebody else may not.
    assert (await api.get(f"{ASSIGNMENTS}/{for_kayo}", ALEX)).status_code == 200
    assert (await api.get(f"{ASSIGNMENTS}/{for_kayo}", LEE)).status_code == 403
    unknown = await api.get(f"{BASE}/assignments/filterByCurrentUser(on='approver')", MEGAN)
    assert unknown.status_code == 400


async def test_assignments_expand_target_package_and_policy(api: Api) -> None:
    sales = await assign(api, MEGAN, SALES, by=MEGAN)
    expand = "$expand=target,accessPackage,assignmentPolicy"
    [one] = await listed(api, f"{ASSIGNMENTS}/filterByCurrentUser(on='target')?{expand}", MEGAN)
    assert one.target is not None
    assert (one.target.objectId, one.target.displayName) == (MEGAN, "Megan Bowen")
    assert one.accessPackage is not None
    assert one.accessPackage.displayName == "Sales reports"
    assert one.assignmentPolicy is not None
    assert one.assignmentPolicy.id == SALES_POLICY
    by_policy = f"{ASSIGNMENTS}?$filter=assignmentPolicy/id eq '{SALES_POLICY.upper()}'"
    assert [a.id for a in await listed(api, by_policy, MEGAN)] == [sales]
    response = await api.get(f"{ASSIGNMENTS}/{sales}?$select=state&$expand=target", MEGAN)
    body = response.json()
    assert set(body) == {"@odata.context", "id", "state", "target"}
    read(body, AccessPackageAssignment)


async def test_counts_follow_the_listing_rule(api: Api) -> None:
    await assign(api, MEGAN, SALES)
    await assign(api, MEGAN, FINANCE, state="expired")
    await assign(api, KAYO, SALES)
    body = (await api.get(f"{ASSIGNMENTS}?$count=true&$top=1", MEGAN)).json()
    assert (body["@odata.count"], len(body["value"])) == (2, 1)
    admin = (await api.get(f"{ASSIGNMENTS}?$count=true", NESTOR, admin=True)).json()
    assert admin["@odata.count"] == 3
    counted = {
        (f"{ASSIGNMENTS}/$count", MEGAN, False): "2",
        (f"{ASSIGNMENTS}/$count", NESTOR, True): "3",
        (f"{ASSIGNMENTS}/$count?$filter=state eq 'expired'", NESTOR, True): "1",
        (f"{ASSIGNMENTS}/$count", JORDAN, False): "0",
    }
    for (path, who, admin_role), expected in counted.items():
        response = await api.get(path, who, admin=admin_role)
        assert (response.status_code, response.text) == (200, expected), path
    assert (await api.get(f"{ASSIGNMENTS}/$count?$count=true", MEGAN)).status_code == 400


async def test_additional_access_finds_who_holds_both_packages(api: Api) -> None:
    kayo_initiates = await assign(api, KAYO, INITIATE)
    await assign(api, KAYO, APPROVE)
    await assign(api, LEE, INITIATE)
    await assign(api, MEGAN, INITIATE)
    await assign(api, MEGAN, APPROVE, state="expired")  # no longer held: no conflict
    path = (
        f"{ASSIGNMENTS}/additionalAccess(accessPackageId='{INITIATE}',"
        f"incompatibleAccessPackageId='{APPROVE}')"
    )
    found = await listed(api, f"{path}?$expand=target&$count=true", NESTOR, admin=True)
    assert [(a.id, a.target.objectId if a.target else None) for a in found] == [
        (kayo_initiates, KAYO)
    ]
    assert [a.id for a in await listed(api, path, KAYO)] == [kayo_initiates]
    assert await listed(api, path, LEE) == []  # non-admins see only their own
    for bad in (path.replace(APPROVE, "a%00b"), path.replace(APPROVE, "x" * 201)):
        assert (await api.get(bad, NESTOR, admin=True)).status_code == 400
    same = path.replace(APPROVE, INITIATE)
    refused = await api.get(same, NESTOR, admin=True)
    assert refused.status_code == 400
    assert refused.json()["error"]["details"][0]["target"] == "incompatibleAccessPackageId"


async def test_request_counts_respect_who_may_read_them(api: Api) -> None:
    await insert_requests(api, 30)  # requestors cycle Megan, Kayo, Alex
    first = (await api.get(f"{REQUESTS}?$count=true&$top=5", MEGAN)).json()
    assert (first["@odata.count"], len(first["value"])) == (10, 5)
    admin = await api.get(f"{REQUESTS}/$count", NESTOR, admin=True)
    assert (admin.status_code, admin.text) == (200, "30")
    megan = await api.get(f"{REQUESTS}/$count", MEGAN)
    assert (megan.status_code, megan.text) == (200, "10")
    assert (await api.get(f"{REQUESTS}/$count", JORDAN)).text == "0"
    denied = f"{REQUESTS}/$count?$filter=state eq 'denied'"
    assert (await api.get(denied, NESTOR, admin=True)).text == str(
        len([n for n in range(30) if n % 4 == 1])
    )
    mine = (
        await api.get(f"{REQUESTS}/filterByCurrentUser(on='createdBy')?$count=true", KAYO)
    ).json()
    assert mine["@odata.count"] == 10
    approvals = f"{BASE}/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')"
    body = (await api.get(f"{approvals}?$count=true", NESTOR)).json()
    assert (body["@odata.count"], body["value"]) == (0, [])
