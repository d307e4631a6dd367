"""Property tests: no JSON document crashes the create parser."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accessflow.domain import CreateAssignmentRequest, RequestValidationError, parse_create_request

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)

# Bodies that look like Graph's, with arbitrary values in the places that matter.
KEYS = [
    "requestType",
    "assignment",
    "schedule",
    "answers",
    "justification",
    "@odata.type",
    "accessPackageAssignment",
]
ASSIGNMENT_KEYS = [
    "id",
    "targetId",
    "accessPackageId",
    "assignmentPolicyId",
    "target",
    "accessPackage",
    "assignmentPolicy",
    "schedule",
]
REQUEST_TYPES = st.sampled_from(
    [
        "userAdd",
        "AdminAdd",
        "adminRemove",
        "userUpdate",
        "systemAdd",
        "onBehalfAdd",
        "approverRemove",
        "x",
    ]
)
near_values = (
    json_values
    | REQUEST_TYPES
    | st.sampled_from(
        ["2026-01-01T00:00:00Z", "P90D", "afterDuration", "#microsoft.graph.singleUser"]
    )
)
assignments = st.dictionaries(st.sampled_from(ASSIGNMENT_KEYS), near_values, max_size=5)
bodies = st.fixed_dictionaries(
    {"requestType": REQUEST_TYPES},
    optional={
        "assignment": assignments | json_values,
        "schedule": st.dictionaries(
            st.sampled_from(["startDateTime", "expiration", "recurrence"]),
            near_values
            | st.dictionaries(st.sampled_from(["duration", "endDateTime", "type"]), near_values),
        ),
        "answers": st.lists(
            st.dictionaries(
                st.sampled_from(["@odata.type", "value", "answeredQuestion"]),
                near_values | st.fixed_dictionaries({"id": near_values}),
            ),
            max_size=3,
        ),
        "justification": near_values,
    },
) | st.dictionaries(st.sampled_from(KEYS), near_values, max_size=6)


def check(document: Any) -> None:
    failure: RequestValidationError | None = None
    try:
        body = parse_create_request(document)
    except RequestValidationError as error:
        failure = error
    if failure is not None:
        assert failure.details, "a validation error names at least one problem"
        assert all(isinstance(d.path, str) and d.message for d in failure.details)
        return
    # What parses serialises to Graph JSON that parses back to the same request.
    assert CreateAssignmentRequest.model_validate(body.to_graph()) == body


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_parses_or_raises_the_validation_error(document: Any) -> None:
    check(document)
    check(json.dumps(document))


@settings(max_examples=500, deadline=None)
@given(bodies)
def test_graph_like_bodies_parse_or_raise_the_validation_error(document: dict[str, Any]) -> None:
    check(document)
