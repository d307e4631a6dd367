"""Hostile values over the real database: every one is a 400 Graph error, never 500/503."""

from __future__ import annotations

import pytest
from api_support import MEGAN, REQUESTS, SALES, SALES_POLICY, Api
from test_errors import graph_error


async def test_nul_in_target_id_is_400(api: Api) -> None:
    body = {
        "requestType": "adminAdd",
        "assignment": {
            "accessPackageId": SALES,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": "abc\u0000def",
        },
    }
    response = await api.post(REQUESTS, body, MEGAN, admin=True)
    graph_error(response, 400, "invalidRequest")


@pytest.mark.parametrize(
    "query",
    [
        "accessPackage/id eq 'a\u0000b'",
        "(" * 600 + "state eq 'denied'" + ")" * 600,
        "createdDateTime gt 0001-01-01T00:00:00+14:00",
        "createdDateTime gt 9999-12-31T23:59:59-14:00",
    ],
    ids=["nul-literal", "600-parens", "year-1-plus-14", "year-9999-minus-14"],
)
async def test_bad_filters_are_400(api: Api, query: str) -> None:
    response = await api.get(REQUESTS, MEGAN, params={"$filter": query})
    graph_error(response, 400, "invalidRequest")
