"""``decode``: record bytes become a command, a rejection (the envelope names a request) or
a dead letter (anything less), per the wire contract; it never raises."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessflow.adapters.kafka.dlq import DeadLetter
from accessflow.entrypoints.decode import decode
from accessflow.service.commands import (
    CANCEL,
    CREATE,
    DECIDE,
    REPROCESS,
    CreateData,
    DecideData,
)
from accessflow.service.types import Command, Rejected

GRAPH_EXAMPLES = sorted(
    (Path(__file__).resolve().parents[1] / "fixtures" / "graph_create").glob("*.json")
)
REQUEST_ID = "0d3b5a0c-5f4e-4d8e-9b59-8f6c9b1d2a10"
MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
LIMIT = 1_000_000
SALES_BODY = {
    "requestType": "userAdd",
    "assignment": {
        "accessPackageId": "a914b616-e04e-476b-aa37-91038f0b165b",
        "assignmentPolicyId": "2264bf65-76ba-417b-a27d-54d291f0cbc8",
        "targetId": MEGAN,
    },
}


@dataclass(frozen=True)
class FakeRecord:
    """The parts of aiokafka's ConsumerRecord that ``decode`` reads."""

    value: bytes | None
    key: bytes | None = REQUEST_ID.encode()
    topic: str = "accessflow.commands"
    partition: int = 3
    offset: int = 42
    timestamp: int = 1_764_000_000_000
    headers: tuple[tuple[str, bytes], ...] = (("traceparent", b"00-abc-def-01"),)


def envelope(kind: str = CREATE, data: Any = None, **attributes: Any) -> dict[str, Any]:
    if data is None:
        data = {"requestId": REQUEST_ID, "requestor": {"objectId": MEGAN}, "request": SALES_BODY}
    return {
        "specversion": "1.0",
        "id": "6c1f0a4e-2d0b-4c53-9a51-0a9a1f1b7e01",
        "source": "urn:example:portal",
        "type": kind,
        "subject": REQUEST_ID,
        "time": "2026-11-28T15:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
        **attributes,
    }


def decoded(document: Any, max_bytes: int = LIMIT) -> Any:
    return decode(FakeRecord(orjson.dumps(document)), max_bytes)  # type: ignore[arg-type]


def dead(value: bytes | None, max_bytes: int = LIMIT) -> DeadLetter:
    record = FakeRecord(value)
    result = decode(record, max_bytes)  # type: ignore[arg-type]
    assert isinstance(result, DeadLetter)
    assert result.original_headers == record.headers  # kept, so a replay restores them
    # The original bytes and where they came from, untouched, for the DLQ headers.
    assert (result.key, result.value, result.topic, result.partition, result.offset) == (
        record.key,
        record.value,
        record.topic,
        record.partition,
        record.offset,
    )
    return result


def rejected(document: Any) -> Rejected:
    result = decoded(document)
    assert isinstance(result, Rejected)
    assert result.request_id == uuid.UUID(REQUEST_ID)
    assert (result.partition, result.offset) == (3, 42)
    return result


def test_a_tombstone_is_a_dead_letter() -> None:
    assert dead(None).code == "EmptyRecord"


@pytest.mark.parametrize("value", [b"not json", b"{", b"", b'{"a": 1} trailing'])
def test_bytes_that_are_not_json_are_a_dead_letter(value: bytes) -> None:
    assert dead(value).code == "NotJson"


@pytest.mark.parametrize("value", [b"\xff\xfe", b'{"id": "\xed\xa0\x80"}', b'"\xc3\x28"'])
def test_bytes_that_are_not_utf8_are_a_dead_letter(value: bytes) -> None:
    assert dead(value).code == "NotUtf8"


def test_a_record_over_the_limit_is_a_dead_letter_before_parsing() -> None:
    value = orjson.dumps(envelope())
    assert dead(value, max_bytes=len(value) - 1).code == "TooLarge"
    assert isinstance(decoded(envelope(), max_bytes=len(value)), Command)


@pytest.mark.parametrize(
    "document",
    [
        [1, 2, 3],
        "a string",
        {"hello": "world"},
        envelope(subject="not-a-guid"),
        envelope(specversion="0.3"),
        envelope(id=""),
    ],
    ids=[
        "array",
        "string",
        "no-envelope",
        "bad-subject",
        "specversion",
        "empty-id",
    ],
)
def test_json_that_is_not_a_command_envelope_is_a_dead_letter(document: Any) -> None:
    """Without a parseable envelope and a GUID subject there is no request to answer."""
    assert dead(orjson.dumps(document)).code == "NotACommand"


@pytest.mark.parametrize(
    "document",
    [{k: v for k, v in envelope().items() if k != "data"}, envelope(data="not an object")],
    ids=["no-data", "data-not-object"],
)
def test_an_envelope_naming_a_request_with_unusable_data_is_rejected(document: Any) -> None:
    """The envelope names its request, so the answer is a rejection event, not the DLQ."""
    result = rejected(document)
    assert result.reason.code == "InvalidCommand"


def test_an_unknown_command_type_is_rejected() -> None:
    result = rejected(envelope("accessflow.assignmentRequest.frobnicate"))
    assert (result.reason.code, result.type) == (
        "UnknownCommandType",
        "accessflow.assignmentRequest.frobnicate",
    )


def test_invalid_data_is_rejected_with_paths() -> None:
    """Each problem names where it is, under ``data``."""
    data = {"requestId": REQUEST_ID, "requestor": {}, "request": {"requestType": "userAdd"}}
    result = rejected(envelope(data=data))
    assert result.reason.code == "InvalidCommand"
    targets = {d.target for d in result.reason.details}
    assert "data.requestor.objectId" in targets
    assert any(t and t.startswith("data.request.assignment") for t in targets), targets


def test_a_system_request_type_is_not_supported() -> None:
    body = {**SALES_BODY, "requestType": "systemAdd"}
    data = {"requestId": REQUEST_ID, "requestor": {"objectId": MEGAN}, "request": body}
    result = rejected(envelope(data=data))
    assert result.reason.code == "RequestTypeNotSupported"
    assert "data.request.requestType" in {d.target for d in result.reason.details}


def test_a_subject_naming_another_request_than_the_data_is_rejected() -> None:
    other = "11111111-2222-4333-8444-555555555555"
    data = {"requestId": other, "requestor": {"objectId": MEGAN}, "request": SALES_BODY}
    result = rejected(envelope(data=data))
    assert result.reason.code == "InvalidCommand"
    assert "subject" in result.reason.message


def test_a_valid_create_becomes_a_command_with_its_record_position() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    result = decoded(envelope(traceparent=traceparent, extension="ignored"))
    assert isinstance(result, Command)
    assert (result.id, result.type, result.request_id) == (
        "6c1f0a4e-2d0b-4c53-9a51-0a9a1f1b7e01",
        CREATE,
        uuid.UUID(REQUEST_ID),
    )
    assert (result.partition, result.offset, result.timestamp_ms) == (3, 42, 1_764_000_000_000)
    assert result.traceparent == traceparent
    assert isinstance(result.data, CreateData)


@pytest.mark.parametrize("path", GRAPH_EXAMPLES, ids=[p.stem for p in GRAPH_EXAMPLES])
def test_each_graph_create_example_decodes_to_a_command(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    data = {"requestId": REQUEST_ID, "requestor": {"objectId": MEGAN}, "request": body}
    result = decoded(envelope(data=data))
    assert isinstance(result, Command), getattr(result, "reason", result)
    assert isinstance(result.data, CreateData)


def test_there_are_nine_graph_examples() -> None:
    assert len(GRAPH_EXAMPLES) == 9


@pytest.mark.parametrize("kind", [CANCEL, REPROCESS])
def test_cancel_and_reprocess_decode(kind: str) -> None:
    data = {"requestId": REQUEST_ID, "requestor": {"objectId": MEGAN, "isAdmin": True}}
    result = decoded(envelope(kind, data))
    assert isinstance(result, Command)
    assert result.data.requestor.is_admin  # type: ignore[union-attr]


def test_a_decision_decodes_with_its_review_result_in_any_case() -> None:
    data = {
        "requestId": REQUEST_ID,
        "stageId": "stage-1",
        "reviewResult": "approve",
        "reviewer": {"objectId": MEGAN},
    }
    result = decoded(envelope(DECIDE, data))
    assert isinstance(result, Command)
    assert isinstance(result.data, DecideData)
    assert result.data.review_result == "Approve"
    assert rejected(envelope(DECIDE, {**data, "reviewResult": "Maybe"})).reason.code == (
        "InvalidCommand"
    )


@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=2048), max_bytes=st.integers(min_value=0, max_value=4096))
def test_arbitrary_bytes_never_raise(value: bytes, max_bytes: int) -> None:
    result = decode(FakeRecord(value), max_bytes)  # type: ignore[arg-type]
    assert isinstance(result, Command | Rejected | DeadLetter)


_FIELDS = ["requestId", "requestor", "request", "stageId", "reviewResult", "reviewer"]
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(st.sampled_from(_FIELDS) | st.text(), _json, max_size=6),
    kind=st.sampled_from([CREATE, CANCEL, REPROCESS, DECIDE, "x"]),
)
def test_any_data_object_in_a_valid_envelope_is_answered(data: Any, kind: str) -> None:
    """Whatever the ``data`` object holds, an envelope naming a request yields a command or
    a rejection, never a dead letter nor an exception."""
    result = decoded(envelope(kind, data))
    assert isinstance(result, Command | Rejected)
