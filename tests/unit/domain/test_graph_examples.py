"""The nine documented Graph create examples parse and serialise back to Graph's shape."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from domain_support import GRAPH_EXAMPLES

from accessflow.domain import CreateAssignmentRequest, RequestType, parse_create_request

EXAMPLES = sorted(GRAPH_EXAMPLES.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def expected_output(raw: dict[str, Any]) -> dict[str, Any]:
    """What accessflow should emit for a Graph example: the same body, with Graph's own
    quirks straightened out (and nothing else changed)."""
    out: dict[str, Any] = json.loads(json.dumps(raw))
    out["requestType"] = RequestType(out["requestType"]).value  # UserAdd → userAdd
    out.pop("id", None)  # read-only on create (example 6)
    if "accessPackageAssignment" in out:  # beta name (example 4)
        out["assignment"] = out.pop("accessPackageAssignment")
    schedule = out["assignment"].get("schedule")
    if schedule is not None:
        schedule.pop("stopDateTime", None)  # not in the schema (example 9)
    return out


def instants(value: Any) -> Any:
    """Timestamps compared as instants: Graph writes ``.00Z``, accessflow writes ``Z``."""
    if isinstance(value, dict):
        return {k: instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [instants(v) for v in value]
    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        return datetime.fromisoformat(value)
    return value


def test_there_are_nine_examples() -> None:
    assert len(EXAMPLES) == 9


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_parses_and_round_trips_to_graph_json(path: Path) -> None:
    raw = load(path)
    parsed = parse_create_request(path.read_bytes())
    output = parsed.to_graph()
    assert instants(output) == instants(expected_output(raw))
    assert CreateAssignmentRequest.model_validate(output) == parsed


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_parses_from_a_decoded_object_as_from_text(path: Path) -> None:
    assert parse_create_request(load(path)) == parse_create_request(path.read_text())


def test_example_timestamps_are_written_in_utc_with_z() -> None:
    output = parse_create_request(load(GRAPH_EXAMPLES / "07-admin-update-expiration.json"))
    schedule = output.to_graph()["schedule"]
    assert schedule["startDateTime"] == "2023-05-23T20:04:02.39Z"
    assert schedule["expiration"]["endDateTime"] == "2024-07-01T00:00:00Z"


def test_navigation_style_references_resolve_like_flat_ones() -> None:
    body = parse_create_request(load(GRAPH_EXAMPLES / "05-admin-add-user-not-in-directory.json"))
    assert body.request_type is RequestType.ADMIN_ADD
    assert body.access_package_id == "11115C72-0612-4C43-A044-FC0A4E71A4C5"
    assert body.assignment_policy_id == "11114b50-0a08-4f96-83e9-1d714aa2cd79"
    assert (body.target_id, body.target_email) == (None, "user@contoso.com")


def test_manager_example_names_the_direct_report_as_target() -> None:
    body = parse_create_request(load(GRAPH_EXAMPLES / "09-manager-on-behalf-of-direct-report.json"))
    assert body.request_type is RequestType.USER_ADD
    assert body.target_id == "21aceaba-fe13-4e3b-aa8c-4c588d5e7387"
    assert body.answer_list == []
