"""The published OpenAPI document describes the API truthfully: schemathesis generates
valid and invalid requests for every operation against ``accessflow api`` (a real uvicorn
process on the real stack) and finds no 5xx and no response that breaks the document; and,
statefully, follows the document's links (list → get → history, cancel; approval → stage →
decide) as a requestor, an approver and an admin while a real worker moves the requests.

``ACCESSFLOW_FUZZ_SCALE`` multiplies the number of examples (default 1: the bounds below)."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import schemathesis
from api_support import (
    ADMIN_ROLE,
    ALEX,
    GRAPH_EXAMPLES,
    KAYO,
    MEGAN,
    NESTOR,
    REQUESTS,
    sales_body,
)
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accessflow.api import create_app
from accessflow.api.auth import mint_token
from accessflow.settings import load_settings

SCALE = float(os.environ.get("ACCESSFLOW_FUZZ_SCALE", "1"))
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
    fuzz(served, GenerationMode.POSITIVE, int(150 * SCALE), CHECKS)
    fuzz(served, GenerationMode.NEGATIVE, int(150 * SCALE), [*CHECKS, negative_data_rejection])
    healthy_ready_and_documented(served)


ROLES = {
    "requestor": (KAYO, False),
    "approver": (ALEX, False),  # Kayo's manager: the first stage of Kayo's Finance request
    "admin": (NESTOR, True),
}


def seed(served: Any) -> None:
    """Requests for the links to start from: Kayo's Finance data (two approval stages, Alex
    first) and Megan's Sales reports (delivered at once)."""
    finance = json.loads((GRAPH_EXAMPLES / "03-user-add-with-answers.json").read_text())
    for user, body in ((KAYO, finance), (MEGAN, sales_body())):
        headers = {"Authorization": f"Bearer {mint_token(served.settings, user)}"}
        created = httpx.post(f"{served.url}{REQUESTS}", json=body, headers=headers, timeout=15)
        assert created.status_code == 201, created.text


def run_statefully(served: Any, user: str, admin: bool, examples: int) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    token = mint_token(served.settings, user, [ADMIN_ROLE] if admin else [])
    headers = {"Authorization": f"Bearer {token}"}

    class AsRole(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            # On the case itself: schemathesis drops an Authorization header passed only as
            # a call argument for an operation whose security scheme it knows.
            case.headers = {**(case.headers or {}), **headers}

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": served.url, "timeout": 15}

        def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
            assert response.status_code != 401, (case.method, case.path, response.text)
            case.validate_response(response, checks=CHECKS, headers=headers)

    # One scenario per engine: the steps a scenario can take depend on what the live API
    # answered (a bundle fills from a list that the worker keeps changing), so hypothesis
    # must never replay one scenario's choices into another, which it would do across the
    # examples of one engine and report as a FlakyStrategyDefinition.
    for _ in range(examples):
        AsRole.run(
            settings=settings(
                max_examples=1,
                stateful_step_count=6,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )


def test_stateful_runs_follow_the_links_as_each_role(served: Any, e2e: Any) -> None:
    """With a worker running beside the API, each role's scenarios start from the lists and
    follow the links; every answer is documented and none is a 5xx."""
    e2e.start_worker()
    seed(served)
    for user, admin in ROLES.values():
        run_statefully(served, user, admin, int(15 * SCALE))


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


def test_links_lead_from_answers_to_operations_the_document_has() -> None:
    """Every link names an operationId of the document and only parameters it takes; a
    created request leads to its read, history, cancel, reprocess and approval."""
    document = create_app(load_settings()).openapi()
    operations = {
        operation["operationId"]: {p["name"] for p in operation.get("parameters", [])}
        for path in document["paths"].values()
        for operation in path.values()
    }
    created = document["paths"][REQUESTS]["post"]["responses"]["201"]["links"]
    assert set(created) == {
        "GetRequest",
        "GetHistory",
        "Cancel",
        "Reprocess",
        "GetApproval",
        "ListStages",
    }
    links = [
        link
        for path in document["paths"].values()
        for operation in path.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) == 25
    for link in links:
        assert set(link["parameters"]) <= operations[link["operationId"]], link
