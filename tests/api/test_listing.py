"""GET collections: keyset paging with an opaque @odata.nextLink, $filter, $expand, $select,
$orderby, $top, and 400s for everything outside the supported subset."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from api_support import (
    ALEX,
    BASE,
    FALCON,
    FINANCE,
    KAYO,
    MEGAN,
    NESTOR,
    REQUESTS,
    SALES,
    Api,
)

from accessflow.adapters.postgres.pool import connect

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STATES = ["delivered", "denied", "canceled", "deliveryFailed"]
TYPES = ["userAdd", "adminAdd", "userRemove"]
PACKAGES = [SALES, FINANCE, FALCON]
REQUESTORS = [MEGAN, KAYO, ALEX]


async def insert_requests(api: Api, count: int) -> list[dict[str, Any]]:
    """``count`` requests in realistic Graph documents, ten to each timestamp (so paging must
    break ties by id), with states, types, packages and requestors cycling."""
    rows, made = [], []
    for n in range(count):
        request_id = uuid.uuid4()
        created = T0 + timedelta(minutes=n // 10)
        state, kind = STATES[n % 4], TYPES[n % 3]
        package, requestor = PACKAGES[n % 3], REQUESTORS[n % 3]
        document = {
            "id": str(request_id),
            "requestType": kind,
            "state": state,
            "status": state[0].upper() + state[1:],
            "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "completedDateTime": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "justification": f"request {n}",
            "schedule": None,
            "answers": [],
            "customExtensionCalloutInstances": [],
            "accessPackage": {"id": package, "displayName": "slim"},
            "assignment": {"accessPackageId": package, "targetId": requestor},
            "requestor": {"objectId": requestor, "subjectType": "user"},
        }
        rows.append(
            (
                request_id,
                kind,
                state,
                document["status"],
                requestor,
                package,
                requestor,
                3,
                created,
                created,
                document,
            )
        )
        made.append(document)
    conn = await connect(api.settings)
    try:
        await conn.copy_records_to_table(
            "assignment_requests",
            records=rows,
            columns=[
                "id",
                "request_type",
                "state",
                "status",
                "target_id",
                "access_package_id",
                "requestor_id",
                "sequence",
                "created_at",
                "completed_at",
                "document",
            ],
        )
    finally:
        await conn.close()
    return made


def relative(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def all_pages(api: Api, first: str, **kw: Any) -> tuple[list[dict[str, Any]], int]:
    ids: list[dict[str, Any]] = []
    url: str | None = first
    pages = 0
    while url is not None:
        response = await api.get(url, NESTOR, admin=True, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        ids.extend(body["value"])
        pages += 1
        url = relative(body["@odata.nextLink"]) if "@odata.nextLink" in body else None
        assert pages <= 1000
    return ids, pages


async def test_paging_through_1000_requests_returns_each_exactly_once(api: Api) -> None:
    """$top=50 → 20 pages in createdDateTime, id order; every request once; the last page
    has no nextLink; the link is opaque ($skiptoken only) and absolute."""
    made = await insert_requests(api, 1000)
    first = await api.get(f"{REQUESTS}?$top=50", NESTOR, admin=True)
    link = first.json()["@odata.nextLink"]
    assert link.startswith("http://testserver/v1.0/")
    assert "?$skiptoken=" in link
    assert "$top" not in link
    values, pages = await all_pages(api, f"{REQUESTS}?$top=50")
    assert pages == 20
    ids = [v["id"] for v in values]
    assert len(ids) == len(set(ids)) == 1000
    assert set(ids) == {m["id"] for m in made}
    keys = [(v["createdDateTime"], v["id"]) for v in values]
    assert keys == sorted(keys)


async def test_paging_descending_with_a_filter_keeps_the_query(api: Api) -> None:
    made = await insert_requests(api, 200)
    query = f"{REQUESTS}?$top=7&$orderby=createdDateTime desc&$filter=state eq 'denied'"
    values, _ = await all_pages(api, query)
    expected = [m for m in made if m["state"] == "denied"]
    assert len(values) == len(expected) == 50
    assert {v["id"] for v in values} == {m["id"] for m in expected}
    times = [v["createdDateTime"] for v in values]
    assert times == sorted(times, reverse=True)


FILTERS = [
    ("state eq 'canceled'", lambda m: m["state"] == "canceled"),
    ("state eq 'CANCELED'", lambda m: m["state"] == "canceled"),
    ("requestType eq 'adminAdd'", lambda m: m["requestType"] == "adminAdd"),
    (f"accessPackage/id eq '{FINANCE.upper()}'", lambda m: m["accessPackage"]["id"] == FINANCE),
    (f"requestor/objectId eq '{KAYO}'", lambda m: m["requestor"]["objectId"] == KAYO),
    (
        "createdDateTime ge 2026-01-01T00:05:00Z and createdDateTime lt 2026-01-01T00:07:00Z",
        lambda m: "2026-01-01T00:05:00Z" <= m["createdDateTime"] < "2026-01-01T00:07:00Z",
    ),
    (
        f"(state eq 'delivered' and requestor/objectId eq '{MEGAN}') and requestType eq 'userAdd'",
        lambda m: (
            (m["state"], m["requestor"]["objectId"], m["requestType"])
            == ("delivered", MEGAN, "userAdd")
        ),
    ),
]


async def test_filters_return_what_they_say(api: Api) -> None:
    """Each $filter of FILTERS returns exactly the requests its predicate selects."""
    made = await insert_requests(api, 120)
    for query, check in FILTERS:
        values, _ = await all_pages(api, f"{REQUESTS}?$filter={query}")
        expected = {m["id"] for m in made if check(m)}
        assert expected, query
        assert {v["id"] for v in values} == expected, query


async def test_without_expand_navigation_properties_are_left_out(api: Api) -> None:
    await insert_requests(api, 3)
    [first, *_] = (await api.get(REQUESTS, NESTOR, admin=True)).json()["value"]
    assert not {"accessPackage", "assignment", "requestor"} & set(first)


async def test_expand_includes_the_package_assignment_and_requestor(api: Api) -> None:
    """accessPackage is the catalog's full package; requestor and assignment as recorded."""
    made = await insert_requests(api, 3)
    response = await api.get(
        f"{REQUESTS}?$expand=accessPackage,requestor,assignment", NESTOR, admin=True
    )
    by_id = {v["id"]: v for v in response.json()["value"]}
    for m in made:
        got = by_id[m["id"]]
        assert got["accessPackage"]["id"].lower() == m["accessPackage"]["id"]
        assert got["accessPackage"]["displayName"] != "slim"  # the catalog's, not the copy
        assert got["requestor"] == m["requestor"]
        assert got["assignment"] == m["assignment"]


async def test_select_returns_only_those_properties_and_the_id(api: Api) -> None:
    made = await insert_requests(api, 2)
    response = await api.get(
        f"{REQUESTS}/{made[0]['id']}?$select=state,justification", NESTOR, admin=True
    )
    body = response.json()
    assert set(body) == {"@odata.context", "id", "state", "justification"}


UNSUPPORTED = [
    "$skip=10",
    "$search=sales",
    "$count=yes",
    "$format=json",
    "filter=state eq 'denied'",
    "$top=0",
    "$top=1001",
    "$top=ten",
    "$orderby=id",
    "$orderby=createdDateTime sideways",
    "$select=nonsense",
    "$select=accessPackage",
    "$expand=approval",
    "$expand=assignment($expand=target)",
    "$filter=state eq 'denied' or state eq 'canceled'",
    "$filter=not state eq 'denied'",
    "$filter=contains(justification, 'x')",
    "$filter=justification eq 'x'",
    "$filter=state ne 'denied'",
    "$filter=state gt 'denied'",
    "$filter=state eq 'exploded'",
    "$filter=state eq denied",
    "$filter=createdDateTime eq 2026-01-01T00:00:00Z",
    "$filter=createdDateTime gt 2026-01-01T00:00:00",
    "$filter=state eq 'denied'; DROP TABLE assignment_requests",
    "$filter=(state eq 'denied'",
    "$filter=",
    "$top=5&$top=6",
    "$skiptoken=garbage",
    "$skiptoken=eyJjIjoiYWNjZXNzUGFja2FnZXMiLCJxIjp7fSwiayI6WyJ4Il19",
]


async def test_unsupported_query_options_are_400_never_ignored(api: Api) -> None:
    """Each of UNSUPPORTED (other options, bad values, or/not/functions, unknown properties
    and operators, injection attempts, foreign or broken skiptokens) → 400 invalidRequest."""
    for query in UNSUPPORTED:
        response = await api.get(f"{REQUESTS}?{query}", NESTOR, admin=True)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["error"]["code"] == "invalidRequest"
        assert response.json()["error"]["details"][0]["code"] == "UnsupportedQueryOption"
    assert (await api.sql("SELECT count(*) AS n FROM assignment_requests"))[0]["n"] == 0


async def test_a_skiptoken_cannot_be_combined_with_other_options(api: Api) -> None:
    await insert_requests(api, 3)
    link = (await api.get(f"{REQUESTS}?$top=1", NESTOR, admin=True)).json()["@odata.nextLink"]
    response = await api.get(relative(link) + "&$top=2", NESTOR, admin=True)
    assert response.status_code == 400


async def test_filter_by_current_user(api: Api) -> None:
    """target / createdBy scope to the caller, whatever their role."""
    made = await insert_requests(api, 30)
    for on in ("target", "createdBy"):
        response = await api.get(f"{REQUESTS}/filterByCurrentUser(on='{on}')", KAYO)
        assert response.status_code == 200
        expected = {m["id"] for m in made if m["requestor"]["objectId"] == KAYO}
        assert {v["id"] for v in response.json()["value"]} == expected
    bad = await api.get(f"{REQUESTS}/filterByCurrentUser(on='everyone')", KAYO)
    assert bad.status_code == 400


async def test_catalog_collections_page_by_id(api: Api) -> None:
    """accessPackages and assignmentPolicies of examples/catalog.yaml, as an admin reads them
    (who else reads what: test_reads.py)."""
    packages, pages = await all_pages(api, f"{BASE}/accessPackages?$top=4")
    assert len(packages) == 6
    assert pages == 2
    policies, _ = await all_pages(api, f"{BASE}/assignmentPolicies?$expand=accessPackage")
    assert len(policies) == 8
    assert {p["accessPackage"]["id"] for p in policies} == {p["id"] for p in packages}


async def test_assignments_are_listed_for_their_target_or_an_admin(api: Api) -> None:
    for target, package in ((MEGAN, SALES), (KAYO, FALCON)):
        assignment_id = uuid.uuid4()
        await api.sql(
            "INSERT INTO assignments (id, access_package_id, target_id, state, created_at, "
            "updated_at, document) VALUES ($1, $2, $3, 'delivered', now(), now(), $4)",
            assignment_id,
            package,
            target,
            {
                "id": str(assignment_id),
                "state": "delivered",
                "targetId": target,
                "accessPackageId": package,
            },
        )
    mine = (await api.get(f"{BASE}/assignments", MEGAN)).json()["value"]
    assert [a["targetId"] for a in mine] == [MEGAN]
    everyone = await api.get(f"{BASE}/assignments?$filter=state eq 'delivered'", NESTOR, admin=True)
    assert len(everyone.json()["value"]) == 2
    kayo_one = next(a for a in everyone.json()["value"] if a["targetId"] == KAYO)
    assert (await api.get(f"{BASE}/assignments/{kayo_one['id']}", MEGAN)).status_code == 403
    assert (await api.get(f"{BASE}/assignments/{kayo_one['id']}", KAYO)).status_code == 200
    assert (await api.get(f"{BASE}/assignments/{uuid.uuid4()}", KAYO)).status_code == 404
