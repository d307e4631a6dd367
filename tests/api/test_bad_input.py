"""Hostile values against the real app and PostgreSQL: each is a 400 (or 413) in Graph's
shape, never a 500 and never the 503 that means "the database is away"; and the data errors
PostgreSQL itself raises are answered 400 through the real handlers."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from api_support import BASE, MEGAN, NESTOR, REQUESTS, SALES, SALES_POLICY, Api, new_id, sales_body
from test_errors import graph_error

from accessflow.api.deps import Context

APPROVALS = f"{BASE}/accessPackageAssignmentApprovals"
NUL = "\u0000"


def admin_add(**assignment: Any) -> dict[str, Any]:
    body = {"accessPackageId": SALES, "assignmentPolicyId": SALES_POLICY, "targetId": MEGAN}
    return {"requestType": "adminAdd", "assignment": {**body, **assignment}}


@pytest.mark.parametrize(
    "body",
    [
        admin_add(targetId=f"abc{NUL}def"),
        admin_add(targetId=None, target={"email": f"megan{NUL}@contoso.com"}),
    ],
    ids=["targetId", "target.email"],
)
async def test_nul_in_a_create_value_read_from_postgresql_is_400(
    api: Api, body: dict[str, Any]
) -> None:
    """The create looks the target up in PostgreSQL: NUL there is a 400, not a 500."""
    graph_error(await api.post(REQUESTS, body, NESTOR, admin=True), 400, "invalidRequest")
    assert await api.commands() == []


@pytest.mark.parametrize(
    "path",
    [
        f"{REQUESTS}/%00",
        f"{REQUESTS}/{new_id()}%00/history",
        f"{APPROVALS}/{new_id()}/stages/%00",
        f"{BASE}/assignments/%00",
    ],
)
async def test_nul_in_a_path_id_is_400(api: Api, path: str) -> None:
    graph_error(await api.get(path, MEGAN), 400, "invalidRequest")


@pytest.mark.parametrize(
    ("collection", "query"),
    [
        (REQUESTS, f"accessPackage/id eq 'a{NUL}b'"),
        (REQUESTS, f"requestor/objectId eq '{MEGAN}{NUL}'"),
        (f"{BASE}/assignments", f"target/objectId eq '{NUL}'"),
        (REQUESTS, "(" * 600 + "state eq 'denied'" + ")" * 600),
        (REQUESTS, " and ".join(["state eq 'denied'"] * 51)),
        (REQUESTS, "createdDateTime gt 0001-01-01T00:00:00+14:00"),
        (REQUESTS, "createdDateTime gt 9999-12-31T23:59:59-14:00"),
        (REQUESTS, f"accessPackage/id eq '{'x' * 3000}'"),
    ],
    ids=[
        "nul-package",
        "nul-requestor",
        "nul-target",
        "600-parens",
        "51-conditions",
        "year-1-plus-14",
        "year-9999-minus-14",
        "over-2048-chars",
    ],
)
async def test_a_bad_filter_is_400_naming_filter(api: Api, collection: str, query: str) -> None:
    response = await api.get(collection, NESTOR, admin=True, params={"$filter": query})
    error = graph_error(response, 400, "invalidRequest", "UnsupportedQueryOption")
    assert error["details"][0]["target"] == "$filter"


def forged(collection: str, key: list[str], query: dict[str, str] | None = None) -> str:
    payload = json.dumps({"c": collection, "q": query or {}, "k": key}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "token"),
    [
        (f"{BASE}/accessPackages", forged("accessPackages", [f"a{NUL}"])),
        (f"{BASE}/accessPackages", forged("accessPackages", ["x" * 300])),
        (REQUESTS, forged("assignmentRequests", ["9999-12-31T23:59:59-14:00", new_id()])),
        (REQUESTS, forged("assignmentRequests", ["2026-01-01T00:00:00", new_id()])),
        (REQUESTS, forged("assignmentRequests", ["2026-01-01T00:00:00Z", "x"])),
        (
            REQUESTS,
            forged("assignmentRequests", ["2026-01-01T00:00:00Z", new_id()], {"$top": "10000"}),
        ),
        (REQUESTS, "A" * 20_000),
    ],
    ids=["nul-id", "long-id", "date-range", "naive-date", "bad-guid", "top-in-token", "long"],
)
async def test_a_forged_or_garbage_skiptoken_is_400(api: Api, path: str, token: str) -> None:
    response = await api.get(path, MEGAN, params={"$skiptoken": token})
    graph_error(response, 400, "invalidRequest", "UnsupportedQueryOption")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Idempotency-Key", "k" * 201),
        ("Idempotency-Key", "caf\u00e9"),
        ("Idempotency-Key", ""),
        ("client-request-id", "c" * 129),
        ("client-request-id", "two words"),
        ("traceparent", "0" * 101),
    ],
    ids=["key-long", "key-latin1", "key-empty", "client-id-long", "client-id-space", "trace-long"],
)
async def test_a_malformed_header_is_400_naming_it(api: Api, name: str, value: str) -> None:
    headers = api.auth(MEGAN, **{"Content-Type": "application/json"})
    raw = [*headers.items(), (name, value.encode("latin-1"))]
    response = await api.client.post(REQUESTS, json=sales_body(), headers=raw)
    error = graph_error(response, 400, "invalidRequest")
    assert name in [d.get("target") for d in error["details"]], error
    assert await api.commands() == []


async def test_a_malformed_client_request_id_is_400_on_reads_too(api: Api) -> None:
    response = await api.get(REQUESTS, MEGAN, headers={"client-request-id": "x" * 200})
    graph_error(response, 400, "invalidRequest")


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("SELECT $1::text", f"a{NUL}b"),
        ("SELECT $1::jsonb", {"v": NUL}),
        ("SELECT $1::int4", 2**40),
        ("SELECT $1::timestamptz", "9999-12-31T23:59:59-14:00"),
        ("SELECT $1::text::uuid", "not-a-guid"),
        ("SELECT $1::text::int4", "12x"),
        ("SELECT $1::text::date", "2026-02-30"),
    ],
    ids=["nul-text", "nul-jsonb", "int-range", "timestamp-range", "uuid", "int-text", "date"],
)
async def test_a_data_error_from_postgresql_is_400_not_503(api: Api, sql: str, value: Any) -> None:
    """Through the real app, pool and PostgreSQL: a value the database (or asyncpg encoding
    a parameter) refuses is the client's 400 InvalidValue, the pool keeps serving."""
    if "timestamptz" in sql:
        from datetime import datetime

        value = datetime.fromisoformat(value)

    async def probe(ctx: Context) -> None:
        async with ctx.db.acquire() as conn:
            await conn.fetchval(sql, value)

    api.app.add_api_route("/probe", probe)
    error = graph_error(await api.client.get("/probe"), 400, "invalidRequest", "InvalidValue")
    assert "database can store" in error["message"]
    assert (await api.get(REQUESTS, MEGAN)).status_code == 200


async def test_a_body_over_the_limit_is_413_however_it_is_sent(make_api: Any) -> None:
    """Declared (Content-Length) or not (streamed, as a chunked body arrives), on create and
    on the actions and decisions that take a body."""
    async with make_api(api_max_body_bytes=1_000) as api:
        big = b'{"justification": "' + b"x" * 2_000 + b'"}'

        async def chunks() -> Any:
            for start in range(0, len(big), 100):
                yield big[start : start + 100]

        headers = api.auth(MEGAN, **{"Content-Type": "application/json"})
        for path in (REQUESTS, f"{REQUESTS}/{new_id()}/cancel"):
            for content in (big, chunks()):
                response = await api.client.post(path, content=content, headers=headers)
                graph_error(response, 413, "invalidRequest", "PayloadTooLarge")
        stage = f"{APPROVALS}/{new_id()}/stages/{new_id()}"
        response = await api.client.patch(stage, content=chunks(), headers=headers)
        graph_error(response, 413, "invalidRequest", "PayloadTooLarge")
        assert await api.commands() == []


def test_over_real_http_chunked_bodies_nul_and_headers_are_answered(served: Any) -> None:
    """uvicorn in front: a chunked body without Content-Length over the limit, a NUL sent
    percent-encoded in $filter and in a path id, a malformed client-request-id."""
    from api_support import ADMIN_ROLE

    from accessflow.api.auth import mint_token

    token = mint_token(served.settings, MEGAN, [ADMIN_ROLE])
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=served.url, headers=auth, timeout=30) as client:

        def chunks() -> Any:
            for _ in range(1_100):
                yield b"x" * 1_000  # 1.1 MB, over the default 1 MiB

        headers = {"Content-Type": "application/json"}
        streamed = client.post(REQUESTS, content=chunks(), headers=headers)
        assert "content-length" not in streamed.request.headers
        graph_error(streamed, 413, "invalidRequest", "PayloadTooLarge")
        nul_filter = client.get(f"{REQUESTS}?$filter=accessPackage/id%20eq%20'a%00b'")
        graph_error(nul_filter, 400, "invalidRequest", "UnsupportedQueryOption")
        graph_error(client.get(f"{REQUESTS}/%00"), 400, "invalidRequest")
        bad_id = client.get(REQUESTS, headers={"client-request-id": "x" * 129})
        graph_error(bad_id, 400, "invalidRequest")
