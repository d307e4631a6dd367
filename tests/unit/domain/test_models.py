"""Graph resource models: names, enums, @odata.type, scalars, policy invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from accessflow.domain import enums
from accessflow.domain.models import (
    AccessPackageApprovalStage,
    AccessPackageAssignmentApprovalSettings,
    AccessPackageAssignmentPolicy,
    AccessPackageAssignmentRequest,
    ApprovalStage,
    GroupMembers,
    SingleUser,
    SubjectSet,
    format_duration,
    to_graph,
)

ENUMS = [
    value
    for value in vars(enums).values()
    if isinstance(value, type)
    and issubclass(value, enums.GraphEnum)
    and value is not enums.GraphEnum
]
V1_REQUEST_PROPERTIES = {
    "id", "answers", "completedDateTime", "createdDateTime", "customExtensionCalloutInstances",
    "justification", "requestType", "schedule", "state", "status", "accessPackage",
    "assignment", "requestor",
}  # fmt: skip


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_every_enum_reads_any_case_and_keeps_graph_spelling(enum: type[StrEnum]) -> None:
    for member in enum:
        assert enum(member.value.upper()) is member
        assert enum(member.value.lower()) is member
    with pytest.raises(ValueError, match="not a valid"):
        enum("no such member")


@pytest.mark.parametrize(
    "enum",
    [
        e
        for e in ENUMS
        if e.__name__
        not in {
            "UserType",
            "ReviewResult",
            "ReviewDecision",
            "ApprovalStageStatus",
            "ExpirationPatternType",
        }
    ],
    ids=lambda e: e.__name__,
)
def test_graph_enums_include_unknown_future_value(enum: type[StrEnum]) -> None:
    assert "unknownFutureValue" in {m.value for m in enum}


def test_request_resource_writes_exactly_the_v1_properties() -> None:
    request = AccessPackageAssignmentRequest(
        id="r1", request_type=enums.RequestType.USER_ADD, state=enums.RequestState.SUBMITTED
    )
    assert set(to_graph(request)) == V1_REQUEST_PROPERTIES


def test_request_resource_refuses_unknown_properties() -> None:
    with pytest.raises(ValidationError):
        AccessPackageAssignmentRequest.model_validate(
            {"id": "r1", "requestType": "userAdd", "state": "submitted", "requestState": "x"}
        )


def test_request_resource_reads_back_what_it_writes() -> None:
    request = AccessPackageAssignmentRequest.model_validate(
        {
            "id": "r1",
            "requestType": "UserAdd",
            "state": "Delivered",
            "createdDateTime": "2026-01-01T10:00:00+01:00",
        }
    )
    output = to_graph(request)
    assert (output["requestType"], output["state"]) == ("userAdd", "delivered")
    assert output["createdDateTime"] == "2026-01-01T09:00:00Z"
    assert AccessPackageAssignmentRequest.model_validate(output) == request


SUBJECT_SETS: TypeAdapter[list[Any]] = TypeAdapter(list[SubjectSet])


@pytest.mark.parametrize(
    "odata_type",
    ["#microsoft.graph.singleUser", "microsoft.graph.singleUser", "#Microsoft.Graph.SingleUser"],
)
def test_subject_sets_accept_odata_type_variants_and_write_the_canonical_one(
    odata_type: str,
) -> None:
    [parsed] = SUBJECT_SETS.validate_python([{"@odata.type": odata_type, "userId": "u1"}])
    assert isinstance(parsed, SingleUser)
    assert SUBJECT_SETS.dump_python([parsed], mode="json", by_alias=True)[0]["@odata.type"] == (
        "#microsoft.graph.singleUser"
    )


def test_subject_set_without_a_known_type_is_refused_with_its_index() -> None:
    with pytest.raises(ValidationError) as raised:
        SUBJECT_SETS.validate_python(
            [{"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g"}, {"userId": "u"}]
        )
    assert [e["loc"] for e in raised.value.errors()] == [(1,)]


def test_subject_set_constructed_in_python_carries_its_type() -> None:
    assert GroupMembers(group_id="g").odata_type == "#microsoft.graph.groupMembers"


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(days=90), "P90D"),
        (timedelta(hours=3), "PT3H"),
        (timedelta(days=1, hours=2, minutes=30, seconds=5), "P1DT2H30M5S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_durations_are_written_in_iso_8601(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text
    assert TypeAdapter(timedelta).validate_python(text) == duration


def stage(**fields: Any) -> dict[str, Any]:
    return {"primaryApprovers": [{"@odata.type": "#microsoft.graph.requestorManager"}], **fields}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"isApprovalRequiredForAdd": True, "stages": []}, "no stages"),
        ({"stages": [stage()] * 4}, "at most 3"),
        (
            {"stages": [stage(isEscalationEnabled=True, durationBeforeEscalation="P1D")]},
            "needs escalationApprovers",
        ),
        (
            {
                "stages": [
                    stage(
                        isEscalationEnabled=True,
                        durationBeforeAutomaticDenial="P2D",
                        durationBeforeEscalation="P3D",
                        escalationApprovers=[
                            {"@odata.type": "#microsoft.graph.singleUser", "userId": "u"}
                        ],
                    )
                ]
            },
            "shorter than",
        ),
        ({"stages": [stage(durationBeforeAutomaticDenial="-P1D")]}, "positive"),
    ],
)
def test_approval_settings_invariants(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AccessPackageAssignmentApprovalSettings.model_validate(settings)


def test_two_stage_approval_with_escalation_is_accepted() -> None:
    settings = AccessPackageAssignmentApprovalSettings.model_validate(
        {
            "isApprovalRequiredForAdd": True,
            "stages": [
                stage(
                    isEscalationEnabled=True,
                    durationBeforeAutomaticDenial="P14D",
                    durationBeforeEscalation="P7D",
                    escalationApprovers=[
                        {"@odata.type": "#microsoft.graph.singleUser", "userId": "u"}
                    ],
                ),
                {
                    "primaryApprovers": [
                        {"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g"}
                    ]
                },
            ],
        }
    )
    first = settings.stages[0]
    assert isinstance(first, AccessPackageApprovalStage)
    assert first.duration_before_escalation == timedelta(days=7)


@pytest.mark.parametrize(
    ("questions", "message"),
    [
        (
            [
                {
                    "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
                    "id": "q",
                    "regexPattern": "(",
                }
            ],
            "RE2 cannot compile it",
        ),
        (
            [
                {
                    "@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion",
                    "id": "q",
                    "choices": [],
                }
            ],
            "at least 1",
        ),
        (
            [{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "id": "q"}] * 2,
            "unique",
        ),
    ],
)
def test_policy_question_invariants(questions: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AccessPackageAssignmentPolicy.model_validate({"id": "p", "questions": questions})


def test_policy_package_reference_in_either_form() -> None:
    flat = AccessPackageAssignmentPolicy.model_validate({"id": "p", "accessPackageId": "a"})
    nav = AccessPackageAssignmentPolicy.model_validate({"id": "p", "accessPackage": {"id": "a"}})
    assert flat.package_id == nav.package_id == "a"
    with pytest.raises(ValidationError, match="disagree"):
        AccessPackageAssignmentPolicy.model_validate(
            {"id": "p", "accessPackageId": "a", "accessPackage": {"id": "b"}}
        )


def test_a_new_approval_stage_is_unreviewed_like_graph() -> None:
    output = to_graph(ApprovalStage(id="s1"))
    assert output["reviewResult"] == "NotReviewed"
    assert output["reviewedBy"]["id"] == "00000000-0000-0000-0000-000000000000"
    reviewed = ApprovalStage(id="s1", reviewed_date_time=datetime(2026, 1, 2, tzinfo=UTC))
    assert to_graph(reviewed)["reviewedDateTime"] == "2026-01-02T00:00:00Z"
