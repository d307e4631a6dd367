"""The published OpenAPI document describes the API truthfully: schemathesis generates
valid and invalid requests for every operation against ``accessflow api`` (a real uvicorn
process on the real stack) and finds no 5xx and no response that breaks the document."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from api_support import ADMIN_ROLE, MEGAN
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accessflow.api.auth import mint_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def fuzz(served: Any, mode: GenerationMode, examples: int, checks: list[Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    token = mint_token(served.settings, MEGAN, [ADMIN_ROLE])
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=served.url, headers=headers, timeout=15)
        case.validate_response(response, checks=checks, headers=headers)

    run()


def test_schemathesis_finds_no_5xx_and_no_undocumented_response(served: Any) -> None:
    """Valid requests get documented answers; invalid ones documented 4xx (one served
    process for both runs: starting it is most of the cost)."""
    fuzz(served, GenerationMode.POSITIVE, 150, CHECKS)
    fuzz(served, GenerationMode.NEGATIVE, 150, [*CHECKS, negative_data_rejection])
    healthy_ready_and_documented(served)


def healthy_ready_and_documented(served: Any) -> None:
    """`accessflow api` serves /healthz, /readyz (database and Kafka checked) and a document
    that lists the Graph paths."""
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok", "checks": {}}
    ready = httpx.get(f"{served.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "kafka": True}
    paths = httpx.get(f"{served.url}/openapi.json").json()["paths"]
    base = "/v1.0/identityGovernance/entitlementManagement"
    assert {
        f"{base}/assignmentRequests",
        f"{base}/assignmentRequests/{{request_id}}",
        f"{base}/assignmentRequests/{{request_id}}/history",
        f"{base}/assignmentRequests/filterByCurrentUser(on='{{on}}')",
        f"{base}/assignmentRequests/{{request_id}}/cancel",
        f"{base}/accessPackageAssignmentApprovals/{{approval_id}}/stages/{{stage_id}}",
    } <= set(paths)
