"""Create-body parsing: request types, casing, tolerated and refused content, error paths."""

from __future__ import annotations

from typing import Any

import pytest
from domain_support import FALCON, MEGAN, SALES, SALES_POLICY

from accessflow.domain import (
    CreateAssignmentRequest,
    ReasonCode,
    RequestType,
    RequestValidationError,
    parse_create_request,
    validation_error,
)
from accessflow.domain.models.base import InboundModel


def errors_of(body: Any) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as raised:
        parse_create_request(body)
    return raised.value


def paths(error: RequestValidationError) -> list[str]:
    return [detail.path for detail in error.details]


@pytest.mark.parametrize("spelling", ["userAdd", "UserAdd", "USERADD", "useradd"])
def test_request_type_is_read_in_any_case_and_written_in_camel_case(spelling: str) -> None:
    body = parse_create_request({"requestType": spelling, "assignment": {"accessPackageId": SALES}})
    assert body.request_type is RequestType.USER_ADD
    assert body.to_graph()["requestType"] == "userAdd"


@pytest.mark.parametrize(
    "request_type",
    [
        "systemAdd",
        "SystemUpdate",
        "systemRemove",
        "onBehalfAdd",
        "notSpecified",
        "unknownFutureValue",
    ],
)
def test_service_only_and_unsupported_types_are_refused(request_type: str) -> None:
    error = errors_of(
        {"requestType": request_type, "assignment": {"id": "x", "accessPackageId": SALES}}
    )
    assert error.code is ReasonCode.REQUEST_TYPE_NOT_SUPPORTED
    assert paths(error) == ["requestType"]


def test_an_unknown_request_type_is_invalid_with_its_path() -> None:
    error = errors_of({"requestType": "userExtend", "assignment": {}})
    assert error.code is ReasonCode.INVALID_REQUEST
    assert "requestType" in paths(error)


def test_admin_add_lists_every_missing_reference_at_once() -> None:
    error = errors_of({"requestType": "adminAdd", "assignment": {}})
    assert error.code is ReasonCode.INVALID_REQUEST
    assert sorted(paths(error)) == [
        "assignment.accessPackageId",
        "assignment.assignmentPolicyId",
        "assignment.targetId",
    ]


@pytest.mark.parametrize(
    "request_type", ["adminUpdate", "adminRemove", "userUpdate", "userRemove", "approverRemove"]
)
def test_update_and_remove_need_the_assignment_id(request_type: str) -> None:
    error = errors_of({"requestType": request_type, "assignment": {"accessPackageId": SALES}})
    assert paths(error) == ["assignment.id"]
    ok = parse_create_request({"requestType": request_type, "assignment": {"id": "a1"}})
    assert ok.assignment_id == "a1"


def test_user_add_needs_only_the_package() -> None:
    body = parse_create_request(
        {"requestType": "userAdd", "assignment": {"accessPackageId": SALES}}
    )
    assert (body.target_id, body.assignment_policy_id) == (None, None)
    assert paths(errors_of({"requestType": "userAdd", "assignment": {}})) == [
        "assignment.accessPackageId"
    ]


def test_a_missing_assignment_or_request_type_is_reported_with_its_path() -> None:
    assert sorted(paths(errors_of({}))) == ["assignment", "requestType"]


@pytest.mark.parametrize(
    ("assignment", "path"),
    [
        ({"targetId": MEGAN, "target": {"objectId": SALES}}, "assignment.target.objectId"),
        (
            {"accessPackageId": SALES, "accessPackage": {"id": FALCON}},
            "assignment.accessPackage.id",
        ),
        (
            {"assignmentPolicyId": SALES_POLICY, "assignmentPolicy": {"id": FALCON}},
            "assignment.assignmentPolicy.id",
        ),
    ],
)
def test_flat_and_navigation_references_must_agree(assignment: dict[str, Any], path: str) -> None:
    body = {
        "requestType": "adminAdd",
        "assignment": {
            "targetId": MEGAN,
            "accessPackageId": SALES,
            "assignmentPolicyId": SALES_POLICY,
            **assignment,
        },
    }
    assert path in paths(errors_of(body))


def test_flat_and_navigation_references_differing_only_in_case_agree() -> None:
    body = parse_create_request(
        {
            "requestType": "userAdd",
            "assignment": {"accessPackageId": SALES, "accessPackage": {"id": SALES.upper()}},
        }
    )
    assert body.access_package_id == SALES


def test_unknown_properties_are_ignored_at_every_level() -> None:
    body = parse_create_request(
        {
            "requestType": "userAdd",
            "isValidationOnly": False,
            "parameters": {"bypassApproval": True},
            "assignment": {"accessPackageId": SALES, "catalogId": "c", "target": {"x": 1}},
            "schedule": {"stopDateTime": None, "expiration": {"type": "noExpiration", "y": 2}},
            "answers": [
                {"value": "v", "z": 3, "answeredQuestion": {"id": "q", "text": "t"}},
            ],
        }
    )
    output = body.to_graph()
    assert "isValidationOnly" not in output
    assert "parameters" not in output
    assert output["schedule"] == {"expiration": {"type": "noExpiration"}}


def test_odata_types_are_accepted_without_hash_and_written_with_it() -> None:
    body = parse_create_request(
        {
            "@odata.type": "microsoft.graph.accessPackageAssignmentRequest",
            "requestType": "userAdd",
            "assignment": {"accessPackageId": SALES},
            "answers": [
                {
                    "@odata.type": "microsoft.graph.accessPackageAnswerString",
                    "value": "v",
                    "answeredQuestion": {
                        "@odata.type": "microsoft.graph.AccessPackageTextInputQuestion",
                        "id": "q",
                    },
                }
            ],
        }
    )
    output = body.to_graph()
    assert output["@odata.type"] == "#microsoft.graph.accessPackageAssignmentRequest"
    answer = output["answers"][0]
    assert answer["@odata.type"] == "#microsoft.graph.accessPackageAnswerString"
    assert answer["answeredQuestion"]["@odata.type"] == (
        "#microsoft.graph.accessPackageTextInputQuestion"
    )


def test_a_foreign_odata_type_is_refused_with_its_path() -> None:
    error = errors_of(
        {
            "requestType": "userAdd",
            "assignment": {"accessPackageId": SALES},
            "answers": [{"@odata.type": "#microsoft.graph.user", "answeredQuestion": {"id": "q"}}],
        }
    )
    assert paths(error) == ["answers[0].@odata.type"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-01T10:00:00+02:00", "2026-05-01T08:00:00Z"),
        ("2026-05-01T08:00:00.1234567Z", "2026-05-01T08:00:00.123456Z"),
        ("2026-05-01T08:00:00.500Z", "2026-05-01T08:00:00.5Z"),
    ],
)
def test_timestamps_are_converted_to_utc_z(value: str, expected: str) -> None:
    body = parse_create_request(
        {
            "requestType": "userAdd",
            "assignment": {"accessPackageId": SALES},
            "schedule": {"startDateTime": value},
        }
    )
    assert body.to_graph()["schedule"]["startDateTime"] == expected


@pytest.mark.parametrize(
    "value", ["2026-05-01T08:00:00", "9999-12-31T23:00:00-05:00", "tomorrow", 12]
)
def test_timestamps_without_offset_or_out_of_range_are_invalid(value: object) -> None:
    error = errors_of(
        {
            "requestType": "userAdd",
            "assignment": {"accessPackageId": SALES},
            "schedule": {"startDateTime": value},
        }
    )
    assert paths(error) == ["schedule.startDateTime"]


def test_durations_are_iso_8601() -> None:
    body = parse_create_request(
        {
            "requestType": "userAdd",
            "assignment": {"accessPackageId": SALES},
            "schedule": {"expiration": {"duration": "P1DT12H", "type": "AfterDuration"}},
        }
    )
    assert body.to_graph()["schedule"]["expiration"] == {
        "duration": "P1DT12H",
        "type": "afterDuration",
    }


@pytest.mark.parametrize("text", ["", "{", "[]", "null", "42", '"userAdd"'])
def test_text_that_is_not_a_json_object_is_invalid_at_the_root(text: str) -> None:
    error = errors_of(text)
    assert error.code is ReasonCode.INVALID_REQUEST
    assert paths(error) == [""]


class Command(InboundModel):
    """A stand-in for a Kafka command that embeds a create body."""

    request: CreateAssignmentRequest


def test_embedded_bodies_get_the_same_rules_with_prefixed_paths() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        Command.model_validate({"request": {"requestType": "adminRemove", "assignment": {}}})
    assert paths(validation_error(raised.value)) == ["request.assignment.id"]
