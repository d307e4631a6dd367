"""The published JSON Schemas are current, and real messages validate against them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from accessflow.domain.create_body import parse_create_request
from accessflow.domain.states import submit
from accessflow.service.events import ReasonDetail, RejectionReason
from accessflow.service.ports import Changes, StoredRequest
from accessflow.service.recorder import Recorder
from accessflow.service.schemas import generate

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
CONTRACT_EXAMPLE = {
    "specversion": "1.0",
    "id": "6c1f0a4e-2d0b-4c53-9a51-0a9a1f1b7e01",
    "source": "urn:example:portal",
    "type": "accessflow.assignmentRequest.create",
    "subject": "0d3b5a0c-5f4e-4d8e-9b59-8f6c9b1d2a10",
    "time": "2026-11-28T15:00:00Z",
    "datacontenttype": "application/json",
    "data": {
        "requestId": "0d3b5a0c-5f4e-4d8e-9b59-8f6c9b1d2a10",
        "requestor": {"objectId": "46184453-e63b-4f20-86c2-a3a00ff7e1f3"},
        "request": {
            "requestType": "userAdd",
            "justification": "Need the sales reports",
            "assignment": {
                "accessPackageId": "a914b616-e04e-476b-aa37-91038f0b165b",
                "assignmentPolicyId": "2264bf65-76ba-417b-a27d-54d291f0cbc8",
                "targetId": "46184453-e63b-4f20-86c2-a3a00ff7e1f3",
            },
        },
    },
}


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def test_checked_in_schemas_match_the_models() -> None:
    """docs/schemas/ is exactly what the models generate (run `make schemas` after a change)."""
    generated = generate()
    on_disk = {p.name for p in SCHEMAS.glob("*.schema.json")}
    assert on_disk == set(generated)
    for name, schema in generated.items():
        assert json.loads((SCHEMAS / name).read_text(encoding="utf-8")) == schema, name


def test_the_wire_contract_example_command_validates() -> None:
    """The create command printed in the wire contract is valid under its schema."""
    _validator("accessflow.assignmentRequest.create").validate(CONTRACT_EXAMPLE)


def test_a_command_without_a_request_id_is_invalid() -> None:
    """The schema rejects what the worker would reject: no data.requestId."""
    broken = json.loads(json.dumps(CONTRACT_EXAMPLE))
    del broken["data"]["requestId"]
    assert not _validator("accessflow.assignmentRequest.create").is_valid(broken)


@pytest.mark.parametrize(
    "traceparent", [None, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
)
def test_recorded_events_validate_against_their_schemas(traceparent: str | None) -> None:
    """The worker's own state-changed and rejection payloads are valid under the schemas."""
    now = datetime(2026, 11, 28, 15, 0, 0, 123456, tzinfo=UTC)
    body = parse_create_request(CONTRACT_EXAMPLE["data"]["request"])  # type: ignore[arg-type]
    request_id = uuid.uuid4()
    stored = StoredRequest(
        submit(body, request_id=str(request_id), now=now), 1, None, None, None, None
    )
    changes = Changes()
    recorder = Recorder(changes, now)
    recorder.created(stored, "cmd-1", traceparent)
    reason = RejectionReason(
        code="InvalidCommand",
        message="bad",
        details=[ReasonDetail(target="data.requestId", message="missing")],
    )
    recorder.rejected(
        "cmd-2", "accessflow.assignmentRequest.cancel", request_id, reason, traceparent
    )
    state_changed, rejected = (orjson.loads(e.payload) for e in changes.outbox)
    _validator("accessflow.assignmentRequest.stateChanged").validate(state_changed)
    _validator("accessflow.command.rejected").validate(rejected)
    assert state_changed["time"] == "2026-11-28T15:00:00.123Z"
    assert state_changed["data"]["sequence"] == 1
