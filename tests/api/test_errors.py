"""Every error is Graph's shape: {"error": {code, message, details[], innerError}} with the
status and codes of docs/api.md, from the domain, the API itself, and the framework."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import (
    BASE,
    FINANCE,
    JORDAN,
    KAYO,
    MEGAN,
    REQUESTS,
    SALES,
    Api,
    new_id,
    sales_body,
)


def graph_error(response: Any, status: int, code: str, detail: str | None = None) -> dict[str, Any]:
    """Assert the status, Graph's error shape and codes; returns the error object."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert error["innerError"]["date"].endswith("Z")
    assert isinstance(error["details"], list)
    if detail is not None:
        assert detail in [d["code"] for d in error["details"]], error["details"]
    return error


async def test_malformed_json_is_400(api: Api) -> None:
    response = await api.client.post(
        REQUESTS,
        content=b'{"requestType": "userAdd",',
        headers=api.auth(MEGAN, **{"Content-Type": "application/json"}),
    )
    graph_error(response, 400, "invalidRequest", "MalformedJson")


async def test_a_json_array_is_400(api: Api) -> None:
    response = await api.post(REQUESTS, [sales_body()], MEGAN)
    graph_error(response, 400, "invalidRequest")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_a_body_that_is_not_json_is_415(api: Api, content_type: str | None) -> None:
    headers = api.auth(MEGAN)
    if content_type:
        headers["Content-Type"] = content_type
    response = await api.client.post(REQUESTS, content=b"requestType=userAdd", headers=headers)
    graph_error(response, 415, "invalidRequest", "UnsupportedMediaType")


async def test_an_oversize_body_is_413(make_api: Any) -> None:
    """Over ACCESSFLOW_API_MAX_BODY_BYTES, by Content-Length and by a streamed body."""
    async with make_api(api_max_body_bytes=200) as api:
        body = sales_body(justification="x" * 500)
        graph_error(await api.post(REQUESTS, body, MEGAN), 413, "invalidRequest", "PayloadTooLarge")

        async def chunks() -> Any:
            for _ in range(10):
                yield b"x" * 50

        headers = api.auth(MEGAN, **{"Content-Type": "application/json"})
        streamed = await api.client.post(REQUESTS, content=chunks(), headers=headers)
        graph_error(streamed, 413, "invalidRequest", "PayloadTooLarge")
        assert await api.commands() == []


async def test_an_invalid_body_lists_every_problem_with_its_path(api: Api) -> None:
    body = {"requestType": "adminAdd", "assignment": {"accessPackageId": SALES}}
    error = graph_error(await api.post(REQUESTS, body, MEGAN, admin=True), 400, "invalidRequest")
    targets = {d["target"] for d in error["details"]}
    assert {"assignment.targetId", "assignment.assignmentPolicyId"} <= targets


async def test_enum_values_are_case_insensitive_and_unknown_ones_are_400(api: Api) -> None:
    assert (
        await api.post(REQUESTS, {**sales_body(), "requestType": "USERADD"}, MEGAN)
    ).status_code == 201
    bad = await api.post(REQUESTS, {**sales_body(), "requestType": "userGrab"}, KAYO)
    graph_error(bad, 400, "invalidRequest")


async def test_system_request_types_are_not_supported(api: Api) -> None:
    body = {**sales_body(MEGAN), "requestType": "systemAdd"}
    graph_error(
        await api.post(REQUESTS, body, MEGAN), 400, "notSupported", "RequestTypeNotSupported"
    )


@pytest.mark.parametrize(
    ("body", "caller", "status", "code", "reason", "target"),
    [
        (
            {"requestType": "userAdd", "assignment": {"accessPackageId": new_id()}},
            MEGAN,
            404,
            "itemNotFound",
            "AccessPackageNotFound",
            "assignment.accessPackageId",
        ),
        (sales_body(), JORDAN, 403, "accessDenied", "TargetNotInScope", None),
        (
            {"requestType": "userAdd", "assignment": {"accessPackageId": FINANCE}},
            KAYO,
            400,
            "invalidRequest",
            "AnswerRequired",
            None,
        ),
        (
            {"requestType": "userRemove", "assignment": {"id": new_id()}},
            MEGAN,
            404,
            "itemNotFound",
            "AssignmentNotFound",
            "assignment.id",
        ),
    ],
    ids=["unknown-package", "guest-out-of-scope", "answers-missing", "unknown-assignment"],
)
async def test_a_rule_refusal_is_its_reason_codes_status(
    api: Api, body: Any, caller: str, status: int, code: str, reason: str, target: str | None
) -> None:
    """The rules over committed state refuse synchronously: the reason's HTTP status and
    Graph code, details[{code, target, message}], and no command produced."""
    error = graph_error(await api.post(REQUESTS, body, caller), status, code, reason)
    if target is not None:
        assert error["details"][0]["target"] == target
    assert await api.commands() == []


async def test_an_open_request_in_committed_state_is_a_409(api: Api) -> None:
    await api.sql(
        "INSERT INTO assignment_requests (id, request_type, state, status, target_id, "
        "access_package_id, requestor_id, sequence, created_at, document) VALUES "
        "($1, 'userAdd', 'pendingApproval', 'PendingApproval', $2, $3, $2, 2, now(), $4)",
        __import__("uuid").uuid4(),
        MEGAN,
        SALES,
        {"id": "x", "requestType": "userAdd", "state": "pendingApproval"},
    )
    graph_error(
        await api.post(REQUESTS, sales_body(), MEGAN), 409, "conflict", "ExistingOpenRequest"
    )


async def test_unknown_routes_and_methods_are_graph_errors(api: Api) -> None:
    graph_error(await api.get(f"{BASE}/nothingHere", MEGAN), 404, "itemNotFound")
    deleted = await api.client.delete(f"{REQUESTS}/{new_id()}", headers=api.auth(MEGAN))
    graph_error(deleted, 405, "notAllowed")
    assert "allow" in deleted.headers


async def test_a_malformed_id_is_400_and_an_unknown_one_404(api: Api) -> None:
    error = graph_error(await api.get(f"{REQUESTS}/not-a-guid", MEGAN), 400, "invalidRequest")
    assert error["details"][0]["target"] == "request_id"
    graph_error(
        await api.get(f"{REQUESTS}/{new_id()}", MEGAN), 404, "itemNotFound", "RequestNotFound"
    )


async def test_client_request_id_is_echoed_in_headers_and_inner_error(api: Api) -> None:
    client_id = new_id()
    response = await api.get(
        f"{REQUESTS}/{new_id()}", MEGAN, headers={"client-request-id": client_id}
    )
    assert response.headers["client-request-id"] == client_id
    assert response.json()["error"]["innerError"]["client-request-id"] == client_id


async def test_the_database_being_away_is_a_retriable_503(make_api: Any, prepared: Any) -> None:
    """A pool that cannot serve (here: closed) → 503 serviceNotAvailable with Retry-After on
    reads and creates, and /readyz reports the database down."""
    from accessflow.adapters.postgres.pool import create_pool

    pool = await create_pool(prepared)
    await pool.close()
    async with make_api(pool=pool) as api:
        for response in (
            await api.get(REQUESTS, MEGAN),
            await api.post(REQUESTS, sales_body(), MEGAN),
        ):
            graph_error(response, 503, "serviceNotAvailable", "ResourceUnavailable")
            assert response.headers["retry-after"].isdigit()
        ready = await api.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] is False
        assert await api.commands() == []
