"""Authorisation, negative paths: every route refuses a caller without a valid token (401),
and every rule refuses the people it names (403), one named case per route and rule.

The cases share one scene (a module's own schema and topics): Alex, Kayo's manager, asks on
Kayo's behalf for Finance data under a policy with one approval stage (Lee approves; Nestor is
its escalation approver, before any escalation), and a real worker takes the request to
``pendingApproval``. Patti holds the admin role but approves nothing; Idris is a stranger.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
import yaml
from api_support import (
    ADMIN_ROLE,
    ALEX,
    BASE,
    CATALOG,
    FALCON_ASSIGNMENT,
    FINANCE,
    FINANCE_ASSIGNMENT,
    IDRIS,
    ISAIAH,
    KAYO,
    LEE,
    MEGAN,
    NESTOR,
    PATTI,
    REQUESTS,
    SECRET,
    Api,
    existing_assignments,
)
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr

from accessflow import bootstrap
from accessflow.adapters.catalog_file import parse_catalog_text
from accessflow.adapters.postgres.catalog_store import apply_catalog
from accessflow.adapters.postgres.pool import connect
from accessflow.api import create_app
from accessflow.domain.catalog import Catalog

APPROVALS = f"{BASE}/accessPackageAssignmentApprovals"
ON_BEHALF_POLICY = "9d3b1c52-6a1f-4c5e-9d0b-2f1e7c4a8b61"


def catalog_with_an_on_behalf_policy() -> Catalog:
    """examples/catalog.yaml plus a Finance data policy where a manager asks for a report and
    one named approver decides (escalation enabled, to a different person)."""
    document: dict[str, Any] = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    single = "#microsoft.graph.singleUser"
    document["assignmentPolicies"].append(
        {
            "id": ON_BEHALF_POLICY,
            "accessPackageId": FINANCE,
            "displayName": "Managers for their reports, Lee approves",
            "allowedTargetScope": "allMemberUsers",
            "expiration": {"type": "afterDuration", "duration": "P30D"},
            "requestorSettings": {
                "enableOnBehalfRequestorsToAddAccess": True,
                "onBehalfRequestors": [
                    {"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1}
                ],
            },
            "requestApprovalSettings": {
                "isApprovalRequiredForAdd": True,
                "stages": [
                    {
                        "durationBeforeAutomaticDenial": "P14D",
                        "isEscalationEnabled": True,
                        "durationBeforeEscalation": "P7D",
                        "primaryApprovers": [{"@odata.type": single, "userId": LEE}],
                        "escalationApprovers": [{"@odata.type": single, "userId": NESTOR}],
                    }
                ],
            },
        }
    )
    return parse_catalog_text(yaml.safe_dump(document))


@dataclass
class Scene:
    api: Api
    request_id: str
    stage_id: str

    def path(self, template: str) -> str:
        return template.format(request=self.request_id, stage=self.stage_id)


@pytest.fixture(scope="module")
async def scene(e2e_module: Any) -> AsyncIterator[Scene]:
    settings = e2e_module.settings.model_copy(
        update={"auth_hs256_secret": SecretStr(SECRET), "auth_admin_role": ADMIN_ROLE}
    )
    await bootstrap.migrate_all(settings)
    conn = await connect(settings)
    try:
        await apply_catalog(conn, catalog_with_an_on_behalf_policy())
    finally:
        await conn.close()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = Api(app, client, settings)
            await existing_assignments(api)
            body = {
                "requestType": "userAdd",
                "assignment": {
                    "accessPackageId": FINANCE,
                    "assignmentPolicyId": ON_BEHALF_POLICY,
                    "targetId": KAYO,
                },
            }
            created = await api.post(REQUESTS, body, ALEX)
            assert created.status_code == 201, created.text
            assert e2e_module.start_worker("--burst").wait(timeout=120) == 0
            request_id = created.json()["id"]
            approval = await api.get(f"{APPROVALS}/{request_id}", LEE)
            assert approval.status_code == 200, approval.text
            [stage] = approval.json()["stages"]
            yield Scene(api, request_id, stage["id"])


async def call(
    scene: Scene, method: str, template: str, user: str, body: Any = None, *, admin: bool = False
) -> httpx.Response:
    headers = scene.api.auth(user, admin=admin)
    return await scene.api.client.request(method, scene.path(template), json=body, headers=headers)


def assert_refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "accessDenied"
    assert [d["code"] for d in error["details"]] == [reason]


# ---- 401: every route, no token or a forged one -------------------------------------------

ANY_ID = str(uuid.uuid4())
#: Every route that needs a caller, as (method, the app's path), with a concrete path to call.
PROTECTED = {
    ("POST", f"{REQUESTS}"): f"{REQUESTS}",
    ("GET", f"{REQUESTS}"): f"{REQUESTS}",
    ("GET", f"{REQUESTS}/filterByCurrentUser(on='{{on}}')"): (
        f"{REQUESTS}/filterByCurrentUser(on='target')"
    ),
    ("GET", f"{REQUESTS}/{{request_id}}"): f"{REQUESTS}/{ANY_ID}",
    ("GET", f"{REQUESTS}/{{request_id}}/history"): f"{REQUESTS}/{ANY_ID}/history",
    ("POST", f"{REQUESTS}/{{request_id}}/cancel"): f"{REQUESTS}/{ANY_ID}/cancel",
    ("POST", f"{REQUESTS}/{{request_id}}/reprocess"): f"{REQUESTS}/{ANY_ID}/reprocess",
    ("GET", f"{APPROVALS}/filterByCurrentUser(on='approver')"): (
        f"{APPROVALS}/filterByCurrentUser(on='approver')"
    ),
    ("GET", f"{APPROVALS}/{{approval_id}}"): f"{APPROVALS}/{ANY_ID}",
    ("GET", f"{APPROVALS}/{{approval_id}}/stages"): f"{APPROVALS}/{ANY_ID}/stages",
    ("GET", f"{APPROVALS}/{{approval_id}}/stages/{{stage_id}}"): (
        f"{APPROVALS}/{ANY_ID}/stages/{ANY_ID}"
    ),
    ("PATCH", f"{APPROVALS}/{{approval_id}}/stages/{{stage_id}}"): (
        f"{APPROVALS}/{ANY_ID}/stages/{ANY_ID}"
    ),
    ("GET", f"{BASE}/assignments"): f"{BASE}/assignments",
    ("GET", f"{BASE}/assignments/{{assignment_id}}"): f"{BASE}/assignments/{ANY_ID}",
    ("GET", f"{BASE}/accessPackages"): f"{BASE}/accessPackages",
    ("GET", f"{BASE}/assignmentPolicies"): f"{BASE}/assignmentPolicies",
    # The read side (issue 14); who may read what is tested in test_reads.py and
    # test_read_assignments.py, every one refuses a caller without a valid token.
    ("GET", f"{REQUESTS}/$count"): f"{REQUESTS}/$count",
    ("GET", f"{BASE}/assignments/$count"): f"{BASE}/assignments/$count",
    ("GET", f"{BASE}/assignments/filterByCurrentUser(on='{{on}}')"): (
        f"{BASE}/assignments/filterByCurrentUser(on='target')"
    ),
    (
        "GET",
        f"{BASE}/assignments/additionalAccess(accessPackageId='{{package_id}}',"
        "incompatibleAccessPackageId='{other_id}')",
    ): (
        f"{BASE}/assignments/additionalAccess(accessPackageId='{ANY_ID}',"
        f"incompatibleAccessPackageId='{ANY_ID}')"
    ),
    ("GET", f"{BASE}/accessPackages/$count"): f"{BASE}/accessPackages/$count",
    ("GET", f"{BASE}/accessPackages/filterByCurrentUser(on='{{on}}')"): (
        f"{BASE}/accessPackages/filterByCurrentUser(on='allowedRequestor')"
    ),
    ("GET", f"{BASE}/accessPackages/{{package_id}}"): f"{BASE}/accessPackages/{ANY_ID}",
    ("GET", f"{BASE}/accessPackages/{{package_id}}/incompatibleAccessPackages"): (
        f"{BASE}/accessPackages/{ANY_ID}/incompatibleAccessPackages"
    ),
    ("GET", f"{BASE}/accessPackages/{{package_id}}/incompatibleGroups"): (
        f"{BASE}/accessPackages/{ANY_ID}/incompatibleGroups"
    ),
    ("POST", f"{BASE}/accessPackages/{{package_id}}/getApplicablePolicyRequirements"): (
        f"{BASE}/accessPackages/{ANY_ID}/getApplicablePolicyRequirements"
    ),
    ("GET", f"{BASE}/assignmentPolicies/$count"): f"{BASE}/assignmentPolicies/$count",
    ("GET", f"{BASE}/assignmentPolicies/{{policy_id}}"): f"{BASE}/assignmentPolicies/{ANY_ID}",
    ("GET", f"{BASE}/catalogs"): f"{BASE}/catalogs",
    ("GET", f"{BASE}/catalogs/$count"): f"{BASE}/catalogs/$count",
    ("GET", f"{BASE}/catalogs/{{catalog_id}}"): f"{BASE}/catalogs/{ANY_ID}",
    ("GET", f"{BASE}/catalogs/{{catalog_id}}/accessPackages"): (
        f"{BASE}/catalogs/{ANY_ID}/accessPackages"
    ),
}
#: Routes anyone may call: probes and the API's own description.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
FORGED = jwt.encode(
    {"iss": "urn:accessflow:dev", "aud": "urn:accessflow:api", "sub": MEGAN, "exp": 4102444800},
    "a-secret-the-api-does-not-know-at-all!",
    algorithm="HS256",
)
CREDENTIALS = {"no token": {}, "forged token": {"Authorization": f"Bearer {FORGED}"}}


def route_id(route: tuple[str, str]) -> str:
    method, path = route
    return f"{method} {path.removeprefix(BASE)}"


def test_every_route_of_the_app_is_in_a_table(scene: Scene) -> None:
    """A new route fails here until it is added to PROTECTED (and so tested below) or,
    deliberately, to PUBLIC."""
    routes = {
        (method, str(route.path))
        for route in iter_route_contexts(scene.api.app.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes == set(PROTECTED) | PUBLIC


@pytest.mark.parametrize("credentials", list(CREDENTIALS), ids=list(CREDENTIALS))
@pytest.mark.parametrize("route", list(PROTECTED), ids=[route_id(r) for r in PROTECTED])
async def test_a_route_refuses_a_caller_without_a_valid_token(
    scene: Scene, route: tuple[str, str], credentials: str
) -> None:
    method = route[0]
    body = {"reviewResult": "Approve"} if method == "PATCH" else None
    response = await scene.api.client.request(
        method, PROTECTED[route], json=body, headers=CREDENTIALS[credentials]
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


# ---- 403: who may decide, read and act ----------------------------------------------------

STAGE = f"{APPROVALS}/{{request}}/stages/{{stage}}"
#: Deciding the stage: only its approver (Lee) may, and not yet its escalation approver.
NOT_DECIDERS = {
    "the requestor": (ALEX, False),
    "the target": (KAYO, False),
    "an admin who is not an approver": (PATTI, True),
    "the escalation approver before escalation": (NESTOR, False),
    "a stranger": (IDRIS, False),
}


@pytest.mark.parametrize("who", list(NOT_DECIDERS))
async def test_a_stage_is_decided_only_by_its_approver(scene: Scene, who: str) -> None:
    user, admin = NOT_DECIDERS[who]
    decision = {"reviewResult": "Approve", "justification": "looks fine"}
    response = await call(scene, "PATCH", STAGE, user, decision, admin=admin)
    assert_refused(response, "NotAnApprover")


#: What a stranger (neither requestor, target, approver nor admin) may not read.
READS = {
    "the approval": f"{APPROVALS}/{{request}}",
    "its stages": f"{APPROVALS}/{{request}}/stages",
    "one stage": STAGE,
    "the request": f"{REQUESTS}/{{request}}",
    "its history": f"{REQUESTS}/{{request}}/history",
}


@pytest.mark.parametrize("what", list(READS))
async def test_a_stranger_may_not_read(scene: Scene, what: str) -> None:
    assert_refused(await call(scene, "GET", READS[what], IDRIS), "RequestorNotAllowed")


#: The stranger's lists do not show the request either (lists are scoped, not refused).
LISTS = {
    "all requests": REQUESTS,
    "requests to approve": f"{REQUESTS}/filterByCurrentUser(on='approver')",
    "approvals to decide": f"{APPROVALS}/filterByCurrentUser(on='approver')",
}


@pytest.mark.parametrize("what", list(LISTS))
async def test_a_strangers_lists_leave_the_request_out(scene: Scene, what: str) -> None:
    response = await call(scene, "GET", LISTS[what], IDRIS)
    assert response.status_code == 200, response.text
    assert response.json()["value"] == []


#: Cancel and reprocess are the requestor's, the target's or an admin's, not an approver's.
ACTIONS_BY_APPROVERS = {
    "cancel by the approver": ("cancel", LEE),
    "reprocess by the approver": ("reprocess", LEE),
    "cancel by the escalation approver": ("cancel", NESTOR),
    "reprocess by the escalation approver": ("reprocess", NESTOR),
}


@pytest.mark.parametrize("case", list(ACTIONS_BY_APPROVERS))
async def test_an_approver_may_not_cancel_or_reprocess(scene: Scene, case: str) -> None:
    action, user = ACTIONS_BY_APPROVERS[case]
    response = await call(scene, "POST", f"{REQUESTS}/{{request}}/{action}", user)
    assert_refused(response, "RequestorNotAllowed")


#: approverRemove of an assignment: only an approver of its policy may ask.
NOT_APPROVERS_OF_THE_ASSIGNMENT = {
    "a member who approves nothing": (KAYO, FINANCE_ASSIGNMENT, False),
    "the assignment's own target": (MEGAN, FINANCE_ASSIGNMENT, False),
    "an admin who is not an approver": (PATTI, FINANCE_ASSIGNMENT, True),
    "anyone, when the policy has no approvers": (ALEX, FALCON_ASSIGNMENT, False),
}


@pytest.mark.parametrize("who", list(NOT_APPROVERS_OF_THE_ASSIGNMENT))
async def test_approver_remove_needs_an_approver_of_the_policy(scene: Scene, who: str) -> None:
    user, assignment, admin = NOT_APPROVERS_OF_THE_ASSIGNMENT[who]
    body = {"requestType": "approverRemove", "assignment": {"id": assignment}}
    response = await call(scene, "POST", REQUESTS, user, body, admin=admin)
    assert_refused(response, "RequestorNotAllowed")


# ---- the people the refusals above spare: the scene is what the tables assume -------------


async def test_the_named_people_may_do_what_the_rules_allow(scene: Scene) -> None:
    """Lee is asked to decide (and Nestor not yet); requestor, target and approvers read the
    request; Isaiah, a Finance data approver, may ask to remove Megan's assignment."""
    stage = await call(scene, "GET", STAGE, LEE)
    assert stage.json()["assignedToMe"] is True
    assert (await call(scene, "GET", STAGE, NESTOR)).json()["assignedToMe"] is False
    for user in (ALEX, KAYO, LEE, NESTOR):
        assert (await call(scene, "GET", f"{REQUESTS}/{{request}}", user)).status_code == 200
    remove = {"requestType": "approverRemove", "assignment": {"id": FINANCE_ASSIGNMENT}}
    assert (await call(scene, "POST", REQUESTS, ISAIAH, remove)).status_code == 201
