"""Cancel, reprocess and approval decisions through the API, applied by a real worker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from api_support import (
    ALEX,
    BASE,
    FINANCE,
    GRAPH_EXAMPLES,
    ISAIAH,
    KAYO,
    MEGAN,
    NESTOR,
    REQUESTS,
    ROOT,
    SALES,
    Api,
    sales_body,
)

APPROVALS = f"{BASE}/accessPackageAssignmentApprovals"


def schema(name: str) -> dict[str, Any]:
    path = ROOT / "docs" / "schemas" / f"accessflow.{name}.schema.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


async def burst(e2e: Any) -> None:
    assert e2e.start_worker("--burst").wait(timeout=120) == 0


async def state_of(api: Api, request_id: str) -> str:
    response = await api.get(f"{REQUESTS}/{request_id}", NESTOR, admin=True)
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


async def finance_request(api: Api, e2e: Any) -> str:
    """Kayo asks for Finance data (Graph's example 3): two-stage approval, Alex first."""
    body = json.loads((GRAPH_EXAMPLES / "03-user-add-with-answers.json").read_text())
    response = await api.post(REQUESTS, body, KAYO)
    assert response.status_code == 201, response.text
    await burst(e2e)
    request_id: str = response.json()["id"]
    assert await state_of(api, request_id) == "pendingApproval"
    return request_id


def decide(api: Api, request_id: str, stage: str, user: str, body: Any) -> Any:
    return api.client.patch(
        f"{APPROVALS}/{request_id}/stages/{stage}", json=body, headers=api.auth(user)
    )


async def test_an_approval_is_read_and_decided_stage_by_stage(api: Api, e2e: Any) -> None:
    """GET shows the stages with assignedToMe for the caller; non-approvers get 403; a strict
    body; the current stage's approver decides (204, a contract-valid decide command); the
    same stage again is 409; a required justification is 400; a denial ends the request."""
    request_id = await finance_request(api, e2e)
    approval = (await api.get(f"{APPROVALS}/{request_id}", ALEX)).json()
    assert approval["id"] == request_id
    first, second = approval["stages"]
    assert (first["assignedToMe"], first["reviewResult"], first["status"]) == (
        True,
        "NotReviewed",
        "InProgress",
    )
    assert first["reviewedBy"]["id"] == "00000000-0000-0000-0000-000000000000"
    assert second["assignedToMe"] is False
    assert (await api.get(f"{APPROVALS}/{request_id}", KAYO)).json()["stages"][0][
        "assignedToMe"
    ] is False
    assert (await api.get(f"{APPROVALS}/{request_id}", MEGAN)).status_code == 403
    stages = await api.get(f"{APPROVALS}/{request_id}/stages", ALEX)
    assert [s["id"] for s in stages.json()["value"]] == [first["id"], second["id"]]
    counted = await api.get(f"{APPROVALS}/{request_id}/stages?$count=true", ALEX)
    assert counted.json()["@odata.count"] == 2
    assert (await api.get(f"{APPROVALS}/{request_id}/stages?$top=1", ALEX)).status_code == 400
    mine = await api.get(f"{APPROVALS}/filterByCurrentUser(on='approver')", ALEX)
    assert [a["id"] for a in mine.json()["value"]] == [request_id]
    pending = await api.get(f"{REQUESTS}/filterByCurrentUser(on='approver')", ALEX)
    assert [r["id"] for r in pending.json()["value"]] == [request_id]

    not_approver = await decide(api, request_id, first["id"], MEGAN, {"reviewResult": "Approve"})
    assert not_approver.status_code == 403
    assert not_approver.json()["error"]["details"][0]["code"] == "NotAnApprover"
    strict = await decide(api, request_id, first["id"], ALEX, {"reviewResult": "Approve", "x": 1})
    assert strict.status_code == 400
    bad_value = await decide(api, request_id, first["id"], ALEX, {"reviewResult": "Maybe"})
    assert bad_value.status_code == 400
    too_early = await decide(api, request_id, second["id"], ISAIAH, {"reviewResult": "Approve"})
    assert too_early.status_code == 409
    unknown_stage = await decide(api, request_id, str(uuid.uuid4()), ALEX, {"reviewResult": "Deny"})
    assert unknown_stage.status_code == 404

    approved = await decide(api, request_id, first["id"], ALEX, {"reviewResult": "approve"})
    assert approved.status_code == 204
    [command] = [c for c in await api.commands() if c["type"].endswith(".decide")]
    jsonschema.validate(command, schema("approvalStage.decide"))
    assert command["data"]["reviewResult"] == "Approve"
    assert command["data"]["reviewer"] == {"objectId": ALEX, "isAdmin": False}
    await burst(e2e)

    again = await decide(api, request_id, first["id"], ALEX, {"reviewResult": "Deny"})
    assert again.status_code == 409
    assert again.json()["error"]["details"][0]["code"] == "StageAlreadyDecided"
    no_reason = await decide(api, request_id, second["id"], ISAIAH, {"reviewResult": "Deny"})
    assert no_reason.status_code == 400
    assert no_reason.json()["error"]["details"][0]["code"] == "JustificationRequired"
    denied = await decide(
        api, request_id, second["id"], ISAIAH, {"reviewResult": "Deny", "justification": "no"}
    )
    assert denied.status_code == 204
    await burst(e2e)
    assert await state_of(api, request_id) == "denied"
    stage = (await api.get(f"{APPROVALS}/{request_id}/stages/{second['id']}", ISAIAH)).json()
    assert (stage["reviewResult"], stage["reviewedBy"]["id"]) == ("Denied", ISAIAH)


async def test_cancel_takes_a_pending_request_to_canceled_and_refuses_a_final_one(
    api: Api, e2e: Any
) -> None:
    """Pending: 200 with an empty body and a contract-valid cancel command; the worker
    cancels it, and a second cancel (committed state: canceled) is 409. Delivered: 409 for
    cancel and reprocess. Unknown: 404. A body on cancel: 400."""
    delivered = (await api.post(REQUESTS, sales_body(), MEGAN)).json()["id"]
    pending = await finance_request(api, e2e)
    assert await state_of(api, delivered) == "delivered"

    response = await api.post(f"{REQUESTS}/{pending}/cancel", None, KAYO)
    assert response.status_code == 200
    assert response.content == b""
    [command] = [c for c in await api.commands() if c["type"].endswith(".cancel")]
    jsonschema.validate(command, schema("assignmentRequest.cancel"))
    await burst(e2e)
    assert await state_of(api, pending) == "canceled"
    again = await api.post(f"{REQUESTS}/{pending}/cancel", None, KAYO)
    assert again.status_code == 409
    assert again.json()["error"]["details"][0]["code"] == "IllegalTransition"

    assert (await api.post(f"{REQUESTS}/{delivered}/cancel", None, MEGAN)).status_code == 409
    assert (await api.post(f"{REQUESTS}/{delivered}/reprocess", None, MEGAN)).status_code == 409
    missing = await api.post(f"{REQUESTS}/{uuid.uuid4()}/cancel", None, MEGAN)
    assert missing.status_code == 404
    with_body = await api.post(f"{REQUESTS}/{delivered}/cancel", {"why": "x"}, MEGAN)
    assert with_body.status_code == 400


async def insert_failed(api: Api, completed: datetime) -> str:
    request_id = uuid.uuid4()
    document = {
        "id": str(request_id),
        "requestType": "userAdd",
        "state": "deliveryFailed",
        "status": "DeliveryFailed",
        "createdDateTime": "2026-01-01T00:00:00Z",
        "completedDateTime": completed.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    await api.sql(
        "INSERT INTO assignment_requests (id, request_type, state, status, target_id, "
        "access_package_id, requestor_id, sequence, created_at, completed_at, document) "
        "VALUES ($1, 'userAdd', 'deliveryFailed', 'DeliveryFailed', $2, $3, $2, 3, "
        "'2026-01-01T00:00:00Z', $4, $5)",
        request_id,
        MEGAN,
        SALES,
        completed,
        document,
    )
    return str(request_id)


async def test_reprocess_of_a_failed_request_is_202_within_the_window(api: Api) -> None:
    now = datetime.now(UTC)
    recent = await insert_failed(api, now - timedelta(days=1))
    old = await insert_failed(api, now - timedelta(days=20))
    response = await api.post(f"{REQUESTS}/{recent}/reprocess", None, MEGAN)
    assert response.status_code == 202
    [command] = await api.commands()
    jsonschema.validate(command, schema("assignmentRequest.reprocess"))
    assert command["subject"] == recent
    expired = await api.post(f"{REQUESTS}/{old}/reprocess", None, MEGAN)
    assert expired.status_code == 400
    assert expired.json()["error"]["details"][0]["code"] == "ReprocessWindowExpired"
    assert (await api.post(f"{REQUESTS}/{recent}/reprocess", None, KAYO)).status_code == 403
    assert len(await api.commands()) == 1


async def test_requests_without_an_approval_have_none(api: Api) -> None:
    request_id = await insert_failed(api, datetime.now(UTC))
    assert (await api.get(f"{APPROVALS}/{request_id}", MEGAN)).status_code == 404
    assert FINANCE  # the package that has approvals is exercised above
