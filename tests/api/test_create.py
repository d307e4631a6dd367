"""POST …/assignmentRequests: Graph's nine examples end to end, the command on the topic,
idempotent retries, and Kafka being down."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from api_support import (
    ALEX,
    GRAPH_EXAMPLES,
    KAYO,
    LEE,
    MEGAN,
    NESTOR,
    REQUESTS,
    ROOT,
    Api,
    existing_assignments,
    read_topic,
    sales_body,
)

from accessflow.service.commands import CommandEnvelope, CreateData

CREATE_SCHEMA = json.loads(
    (ROOT / "docs/schemas/accessflow.assignmentRequest.create.schema.json").read_text()
)


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((GRAPH_EXAMPLES / f"{name}.json").read_text())
    now = datetime.now(UTC)
    if name.startswith("07"):  # 2023 dates: moved so the start is still ahead
        body["schedule"]["startDateTime"] = _iso(now + timedelta(days=30))
        body["schedule"]["expiration"]["endDateTime"] = _iso(now + timedelta(days=60))
    if name.startswith("08"):  # 2024 dates: moved so the window is open now
        body["schedule"]["startDateTime"] = _iso(now - timedelta(hours=1))
        body["schedule"]["expiration"]["endDateTime"] = _iso(now + timedelta(days=29))
    return body


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# (example, caller, admin, the state the worker takes it to); callers as in the domain tests.
EXAMPLES = [
    ("01-admin-add-user-in-directory", NESTOR, True, "delivered"),
    ("02-admin-remove", NESTOR, True, "delivered"),
    ("03-user-add-with-answers", KAYO, False, "pendingApproval"),
    ("04-user-add-with-justification", ALEX, False, "delivered"),
    # As Graph does, delivery creates the subject (a guest) and grants to it.
    ("05-admin-add-user-not-in-directory", NESTOR, True, "delivered"),
    ("06-admin-update-answers", NESTOR, True, "delivered"),
    ("07-admin-update-expiration", NESTOR, True, "scheduled"),
    ("08-user-update-answers-and-expiration", KAYO, False, "delivered"),
    ("09-manager-on-behalf-of-direct-report", LEE, False, "delivered"),
]


async def test_graph_examples_are_created_and_reach_their_state_through_the_worker(
    api: Api, e2e: Any
) -> None:
    """Each of Graph's nine create bodies → 201 with Graph's shape (submitted/Accepted, id,
    @odata.context); a real worker then takes each to its expected state, read back by GET."""
    await existing_assignments(api)
    created = {}
    for name, caller, admin, _ in EXAMPLES:
        response = await api.post(REQUESTS, example(name), caller, admin=admin)
        assert response.status_code == 201, (name, response.text)
        body = response.json()
        assert body["@odata.context"].endswith(
            "/v1.0/$metadata#identityGovernance/entitlementManagement/assignmentRequests/$entity"
        )
        assert (body["state"], body["status"]) == ("submitted", "Accepted")
        assert body["requestType"] == json.loads((GRAPH_EXAMPLES / f"{name}.json").read_text())[
            "requestType"
        ].replace("User", "user").replace("Admin", "admin")
        assert uuid.UUID(body["id"]).version == 4
        assert response.headers["location"].endswith(f"{REQUESTS}/{body['id']}")
        created[name] = body["id"]

    assert e2e.start_worker("--burst").wait(timeout=120) == 0

    reached = {}
    for name, caller, admin, _ in EXAMPLES:
        response = await api.get(f"{REQUESTS}/{created[name]}", caller, admin=admin)
        assert response.status_code == 200, response.text
        reached[name] = response.json()["state"]
    assert reached == {name: state for name, _, _, state in EXAMPLES}


async def test_the_create_command_follows_the_wire_contract(api: Api) -> None:
    """One command per POST, keyed by the request id, valid against the published schema and
    the worker's models, from urn:accessflow:api, carrying the caller and the traceparent."""
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await api.post(
        REQUESTS, sales_body(justification="reports"), MEGAN, headers={"traceparent": traceparent}
    )
    assert response.status_code == 201
    request_id = response.json()["id"]
    [command] = await api.commands()
    jsonschema.validate(command, CREATE_SCHEMA)
    envelope = CommandEnvelope.model_validate(command)
    data = CreateData.model_validate(envelope.data)
    assert str(envelope.subject) == request_id == str(data.request_id)
    assert envelope.source == "urn:accessflow:api"
    assert envelope.traceparent == traceparent
    assert (data.requestor.object_id, data.requestor.is_admin) == (MEGAN, False)
    assert data.request.justification == "reports"


async def test_an_invalid_traceparent_is_not_carried(api: Api) -> None:
    response = await api.post(REQUESTS, sales_body(), MEGAN, headers={"traceparent": "nonsense"})
    assert response.status_code == 201
    [command] = await api.commands()
    assert "traceparent" not in command


@pytest.mark.parametrize("header", ["Idempotency-Key", "client-request-id"])
async def test_a_retried_post_with_the_same_key_returns_the_same_request(
    api: Api, header: str
) -> None:
    """Same key, same caller, same body → the first answer again (201, same id), and only one
    command on the topic; client-request-id is echoed."""
    key = str(uuid.uuid4())
    first = await api.post(REQUESTS, sales_body(), MEGAN, headers={header: key})
    again = await api.post(REQUESTS, sales_body(), MEGAN, headers={header: key})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await api.commands()) == 1
    if header == "client-request-id":
        assert first.headers["client-request-id"] == key


async def test_the_same_key_with_another_body_is_a_conflict(api: Api) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert (await api.post(REQUESTS, sales_body(), MEGAN, headers=key)).status_code == 201
    other = await api.post(REQUESTS, sales_body(justification="other"), MEGAN, headers=key)
    assert other.status_code == 409
    assert other.json()["error"]["details"][0]["code"] == "IdempotencyKeyReused"
    assert len(await api.commands()) == 1


async def test_keys_are_per_caller(api: Api) -> None:
    """Another caller's identical key is a different request."""
    key = {"Idempotency-Key": "shared"}
    one = await api.post(REQUESTS, sales_body(), MEGAN, headers=key)
    two = await api.post(REQUESTS, sales_body(), KAYO, headers=key)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]


async def test_a_key_still_being_submitted_makes_a_retry_wait(api: Api) -> None:
    """A pending claim (a concurrent POST mid-produce) → 409 with Retry-After, no command."""
    from accessflow.api.create_mapping import body_hash
    from accessflow.domain.create_body import parse_create_request

    digest = body_hash(parse_create_request(sales_body()))
    await api.sql(
        "INSERT INTO api_idempotency (caller_id, key, body_hash, request_id, command, response, "
        "state) VALUES ($1, 'busy', $2, $3, '{}'::jsonb, '{}'::jsonb, 'pending')",
        MEGAN,
        digest,
        uuid.uuid4(),
    )
    response = await api.post(REQUESTS, sales_body(), MEGAN, headers={"Idempotency-Key": "busy"})
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["details"][0]["code"] == "IdempotencyKeyInFlight"
    assert await api.commands() == []


async def test_kafka_down_answers_503_with_retry_after_and_writes_nothing(make_api: Any) -> None:
    """The producer points at a port nobody listens on: 503 serviceNotAvailable with
    Retry-After, no idempotency row kept, nothing on the real topic; the same key then works
    once Kafka is back."""
    async with make_api(kafka_bootstrap_servers="127.0.0.1:1", produce_timeout_seconds=2.0) as down:
        key = {"Idempotency-Key": "during-outage"}
        response = await down.post(REQUESTS, sales_body(), MEGAN, headers=key)
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert response.json()["error"]["code"] == "serviceNotAvailable"
        assert await down.sql("SELECT * FROM api_idempotency") == []
        ready = await down.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": True, "kafka": False}
        settings = down.settings
    async with make_api() as up:
        assert await read_topic(up.settings, settings.commands_topic) == []
        again = await up.post(REQUESTS, sales_body(), MEGAN, headers=key)
        assert again.status_code == 201
        assert len(await up.commands()) == 1


async def test_a_stopped_producer_answers_503(make_api: Any, prepared: Any) -> None:
    from accessflow.adapters.kafka.producer import make_producer

    producer = make_producer(prepared)
    await producer.start()
    await producer.stop()
    async with make_api(producer=producer, produce_timeout_seconds=1.0) as api:
        response = await api.post(REQUESTS, sales_body(), MEGAN)
        assert response.status_code == 503
        assert "retry-after" in response.headers
