"""A request's transition history: ``GET …/assignmentRequests/{id}/history`` and
``$expand=history``, from what a real worker recorded (who caused each move, when, why)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import (
    ALEX,
    GRAPH_EXAMPLES,
    KAYO,
    MEGAN,
    NESTOR,
    REQUESTS,
    SALES,
    Api,
    sales_body,
)

CREATE = "accessflow.assignmentRequest.create"
DECIDE = "accessflow.approvalStage.decide"
APPROVALS = "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals"


async def burst(e2e: Any) -> None:
    assert e2e.start_worker("--burst").wait(timeout=120) == 0


def history_of(request_id: str) -> str:
    return f"{REQUESTS}/{request_id}/history"


async def command_id(api: Api, request_id: str, kind: str) -> str:
    [found] = [
        c["id"] for c in await api.commands() if c["subject"] == request_id and c["type"] == kind
    ]
    identifier: str = found
    return identifier


def moment(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


async def test_a_delivered_requests_history_is_its_three_moves_caused_by_the_create(
    api: Api, e2e: Any
) -> None:
    """submitted → delivering → delivered, sequences 1..3, each caused by the create command,
    with UTC times in order and no reason; an OData collection with its own context."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    request_id = (await api.post(REQUESTS, sales_body(), MEGAN)).json()["id"]
    await burst(e2e)
    create_id = await command_id(api, request_id, CREATE)

    response = await api.get(history_of(request_id), MEGAN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"].endswith(
        "/v1.0/$metadata#identityGovernance/entitlementManagement/"
        f"assignmentRequests('{request_id}')/history"
    )
    entries = body["value"]
    assert [(e["sequence"], e["previousState"], e["state"]) for e in entries] == [
        (1, None, "submitted"),
        (2, "submitted", "delivering"),
        (3, "delivering", "delivered"),
    ]
    assert [e["status"] for e in entries] == ["Accepted", "Delivering", "Delivered"]
    assert {(e["causationId"], e["causeType"]) for e in entries} == {(create_id, CREATE)}
    assert [e["reason"] for e in entries] == [None, None, None]
    times = [moment(e["occurredDateTime"]) for e in entries]
    assert times == sorted(times)
    assert before < times[0] < datetime.now(UTC) + timedelta(seconds=5)
    assert set(entries[0]) == {
        "sequence",
        "previousState",
        "state",
        "status",
        "reason",
        "causationId",
        "causeType",
        "occurredDateTime",
    }

    # $expand=history inlines the same entries, on the request and on the list.
    one = await api.get(f"{REQUESTS}/{request_id}?$expand=history", MEGAN)
    assert one.status_code == 200, one.text
    assert one.json()["state"] == "delivered"
    assert one.json()["history"] == entries
    selected = await api.get(f"{REQUESTS}/{request_id}?$select=state&$expand=history", MEGAN)
    assert set(selected.json()) == {"@odata.context", "id", "state", "history"}
    assert selected.json()["history"] == entries
    listed = await api.get(f"{REQUESTS}?$expand=history,requestor", MEGAN)
    [item] = listed.json()["value"]
    assert item["history"] == entries
    assert item["requestor"]["objectId"] == MEGAN
    plain = await api.get(f"{REQUESTS}/{request_id}", MEGAN)
    assert "history" not in plain.json()


async def test_a_denied_requests_last_entry_carries_the_reason_and_the_decision(
    api: Api, e2e: Any
) -> None:
    """Kayo's Finance request is denied by Alex, her first-stage approver: the history keeps
    the create's two moves and the denial, caused by the decide command, with its reason.
    Completed requests keep their history: it is read after the request is final."""
    body = json.loads((GRAPH_EXAMPLES / "03-user-add-with-answers.json").read_text())
    request_id = (await api.post(REQUESTS, body, KAYO)).json()["id"]
    await burst(e2e)
    stage = (await api.get(f"{APPROVALS}/{request_id}", ALEX)).json()["stages"][0]["id"]
    denied = await api.client.patch(
        f"{APPROVALS}/{request_id}/stages/{stage}",
        json={"reviewResult": "Deny", "justification": "not this quarter"},
        headers=api.auth(ALEX),
    )
    assert denied.status_code == 204, denied.text
    await burst(e2e)
    create_id = await command_id(api, request_id, CREATE)
    decide_id = await command_id(api, request_id, DECIDE)

    entries = (await api.get(history_of(request_id), KAYO)).json()["value"]
    assert [(e["sequence"], e["state"], e["causeType"]) for e in entries] == [
        (1, "submitted", CREATE),
        (2, "pendingApproval", CREATE),
        (3, "denied", DECIDE),
    ]
    assert [e["causationId"] for e in entries] == [create_id, create_id, decide_id]
    assert entries[1]["reason"] is None
    reason = entries[2]["reason"]
    assert reason["code"] == "ApproverDenied"
    assert ALEX in reason["message"]
    assert entries[2]["previousState"] == "pendingApproval"
    # The approver named on the request reads its history too, as they read the request.
    assert (await api.get(history_of(request_id), ALEX)).json()["value"] == entries


async def test_history_is_readable_by_exactly_those_who_may_read_the_request(
    api: Api, e2e: Any
) -> None:
    """A stranger gets the request's own 403, an unknown id its 404 (Graph errors both);
    an admin reads any request's history; a malformed id is 400."""
    request_id = (await api.post(REQUESTS, sales_body(), MEGAN)).json()["id"]
    await burst(e2e)

    for user in (KAYO, ALEX):
        request = await api.get(f"{REQUESTS}/{request_id}", user)
        history = await api.get(history_of(request_id), user)
        assert (history.status_code, request.status_code) == (403, 403)
        assert history.json()["error"]["code"] == request.json()["error"]["code"] == "accessDenied"
        assert [d["code"] for d in history.json()["error"]["details"]] == ["RequestorNotAllowed"]
        forbidden = await api.get(f"{REQUESTS}/{request_id}?$expand=history", user)
        assert forbidden.status_code == 403
        assert "history" not in forbidden.text
    admin = await api.get(history_of(request_id), NESTOR, admin=True)
    assert [e["state"] for e in admin.json()["value"]] == ["submitted", "delivering", "delivered"]

    unknown = str(uuid.uuid4())
    for path in (history_of(unknown), f"{REQUESTS}/{unknown}"):
        missing = await api.get(path, NESTOR, admin=True)
        assert missing.status_code == 404, path
        assert missing.json()["error"]["code"] == "itemNotFound"
        assert missing.json()["error"]["details"][0]["code"] == "RequestNotFound"
    assert (await api.get(history_of("not-a-guid"), MEGAN)).status_code == 400


async def insert_request_with_history(api: Api, causes: list[str]) -> str:
    """A request completed long ago whose moves were caused by ``causes``."""
    request_id = uuid.uuid4()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    document = {"id": str(request_id), "requestType": "adminRemove", "state": "delivered"}
    await api.sql(
        "INSERT INTO assignment_requests (id, request_type, state, status, target_id, "
        "access_package_id, requestor_id, sequence, created_at, completed_at, document) "
        "VALUES ($1, 'adminRemove', 'delivered', 'Delivered', $2, $3, $2, $4, $5, $5, $6)",
        request_id,
        MEGAN,
        SALES,
        len(causes),
        created,
        document,
    )
    states = ["submitted", "delivering", "delivered"]
    for n, cause in enumerate(causes):
        await api.sql(
            "INSERT INTO request_history (request_id, sequence, previous_state, state, status, "
            "reason, causation_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            request_id,
            n + 1,
            states[n - 1] if n else None,
            states[n],
            states[n].capitalize(),
            {"code": "Example", "message": "why", "details": [{"k": "v"}]} if n == 2 else None,
            cause,
            created + timedelta(seconds=n, microseconds=250_000 * n),
        )
    return str(request_id)


async def test_causes_that_are_not_commands_are_named_by_their_kind(api: Api) -> None:
    """Timer and delivery causes report ``timer`` / ``delivery``; a reason keeps its details;
    times are UTC with a ``Z``; query options on the history are refused, as elsewhere."""
    timer = f"timer:{uuid.uuid4()}"
    delivery = f"delivery:{uuid.uuid4()}:{uuid.uuid4()}:2"
    request_id = await insert_request_with_history(api, [timer, timer, delivery])
    # As the worker leaves it: a fired timer has its ledger row, typed like a command.
    await api.sql(
        "INSERT INTO processed_commands (command_id, command_type, request_id, outcome) "
        "VALUES ($1, 'accessflow.timer.fired', $2, 'fired')",
        timer,
        uuid.UUID(request_id),
    )
    entries = (await api.get(history_of(request_id), MEGAN)).json()["value"]
    assert [(e["causationId"], e["causeType"]) for e in entries] == [
        (timer, "timer"),
        (timer, "timer"),
        (delivery, "delivery"),
    ]
    assert [e["occurredDateTime"] for e in entries] == [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:01.25Z",
        "2026-01-01T00:00:02.5Z",
    ]
    assert entries[2]["reason"] == {"code": "Example", "message": "why", "details": [{"k": "v"}]}

    counted = (await api.get(f"{history_of(request_id)}?$count=true", MEGAN)).json()
    assert (counted["@odata.count"], counted["value"]) == (3, entries)
    refused = await api.get(f"{history_of(request_id)}?$top=1", MEGAN)
    assert refused.status_code == 400
    assert refused.json()["error"]["details"][0]["code"] == "UnsupportedQueryOption"
    for query in ("$expand=history($top=1)", "$expand=histories", "$select=history"):
        bad = await api.get(f"{REQUESTS}/{request_id}?{query}", MEGAN)
        assert bad.status_code == 400, query
        assert bad.json()["error"]["details"][0]["code"] == "UnsupportedQueryOption"


async def test_a_request_without_recorded_moves_has_an_empty_history(api: Api) -> None:
    request_id = await insert_request_with_history(api, [])
    response = await api.get(history_of(request_id), MEGAN)
    assert response.status_code == 200
    assert response.json()["value"] == []
    expanded = await api.get(f"{REQUESTS}/{request_id}?$expand=history", MEGAN)
    assert expanded.json()["history"] == []
