"""Every client field's maximum (domain/limits.py) and the NUL ban, where the models read
them: the value at its limit passes, one more character (or a NUL) fails naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from accessflow.domain import limits
from accessflow.domain.create_body import parse_create_request
from accessflow.domain.errors import RequestValidationError
from accessflow.domain.models import Duration, format_duration
from accessflow.service.commands import CommandEnvelope, CreateData, DecideData

MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
REQUEST_ID = "0d3b5a0c-5f4e-4d8e-9b59-8f6c9b1d2a10"


def body(**changes: Any) -> dict[str, Any]:
    assignment = {"accessPackageId": "a914b616-e04e-476b-aa37-91038f0b165b", "targetId": MEGAN}
    return {"requestType": "userAdd", "assignment": assignment, **changes}


def answer(value: str = "yes", question: str = "q1", **extra: Any) -> dict[str, Any]:
    return {"value": value, "answeredQuestion": {"id": question}, **extra}


def target(**fields: Any) -> dict[str, Any]:
    return body(assignment={"accessPackageId": "p", "target": fields})


def callouts(count: int, detail: str = "d") -> dict[str, Any]:
    instances = [{"id": "c", "detail": detail}] * count
    return body(assignment={"accessPackageId": "p", "customExtensionCalloutInstances": instances})


def schedule(**expiration: Any) -> dict[str, Any]:
    return body(schedule={"expiration": expiration})


def paths(document: dict[str, Any]) -> list[str]:
    with pytest.raises(RequestValidationError) as refused:
        parse_create_request(document)
    return [d.path for d in refused.value.details]


J, A, ID = limits.MAX_JUSTIFICATION_CHARS, limits.MAX_ANSWER_CHARS, limits.MAX_ID_CHARS
D, E = limits.MAX_DISPLAY_CHARS, limits.MAX_EMAIL_CHARS
CASES = [
    ("justification", lambda n: body(justification="j" * n), J),
    ("answers", lambda n: body(answers=[answer()] * n), limits.MAX_ANSWERS),
    ("answers[0].value", lambda n: body(answers=[answer("v" * n)]), A),
    ("answers[0].displayValue", lambda n: body(answers=[answer(displayValue="v" * n)]), A),
    ("answers[0].answeredQuestion.id", lambda n: body(answers=[answer(question="q" * n)]), ID),
    ("assignment.targetId", lambda n: body(assignment={"targetId": "t" * n}), ID),
    ("assignment.target.displayName", lambda n: target(displayName="d" * n), D),
    ("assignment.target.email", lambda n: target(email="e" * n), E),
    ("assignment.target.principalName", lambda n: target(principalName="p" * n), D),
    (
        "assignment.accessPackage.id",
        lambda n: body(assignment={"accessPackage": {"id": "p" * n}}),
        ID,
    ),
    ("assignment.customExtensionCalloutInstances", callouts, limits.MAX_CALLOUT_INSTANCES),
    (
        "assignment.customExtensionCalloutInstances[0].detail",
        lambda n: callouts(1, "d" * n),
        limits.MAX_CALLOUT_DETAIL_CHARS,
    ),
    (
        "schedule.expiration.duration",
        lambda n: schedule(duration="P" + "0" * (n - 2) + "D"),
        limits.MAX_DURATION_CHARS,
    ),
]


@pytest.mark.parametrize(("path", "build", "maximum"), CASES, ids=[c[0] for c in CASES])
def test_a_field_at_its_maximum_passes_and_one_more_is_refused_naming_it(
    path: str, build: Any, maximum: int
) -> None:
    at_limit = build(maximum)
    assert path not in _problems(at_limit)
    assert path in paths(build(maximum + 1))


def _problems(document: dict[str, Any]) -> list[str]:
    try:
        parse_create_request(document)
    except RequestValidationError as exc:
        return [d.path for d in exc.details]
    return []


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (body(justification="a\x00b"), "justification"),
        (body(answers=[answer("\x00")]), "answers[0].value"),
        (body(assignment={"accessPackageId": "p\x00"}), "assignment.accessPackageId"),
        (target(email="m\x00@x"), "assignment.target.email"),
        (body(schedule={"recurrence": {"pattern": {"k\x00": 1}}}), "schedule.recurrence"),
        (body(schedule={"recurrence": {"range": ["\x00"]}}), "schedule.recurrence"),
    ],
)
def test_a_nul_anywhere_in_client_text_is_refused_naming_the_field(
    document: dict[str, Any], path: str
) -> None:
    assert path in paths(document)


def test_recurrence_is_bounded_as_compact_json_and_in_depth() -> None:
    fits = {"pattern": "r" * (limits.MAX_RECURRENCE_BYTES - len('{"pattern":""}'))}
    assert "schedule.recurrence" not in _problems(body(schedule={"recurrence": fits}))
    over = {"pattern": "r" * limits.MAX_RECURRENCE_BYTES}
    assert "schedule.recurrence" in paths(body(schedule={"recurrence": over}))
    deep: dict[str, Any] = {}
    for _ in range(5_000):
        deep = {"a": deep}
    assert _problems(body(schedule={"recurrence": deep}))  # refused, not a RecursionError


def test_the_commands_bound_the_caller_the_stage_and_the_decision() -> None:
    caller = {"objectId": "o" * (limits.MAX_ID_CHARS + 1)}
    with pytest.raises(ValidationError, match=r"requestor\.objectId"):
        CreateData.model_validate({"requestId": REQUEST_ID, "requestor": caller, "request": body()})
    decide = {
        "requestId": REQUEST_ID,
        "stageId": "s",
        "reviewResult": "Approve",
        "reviewer": {"objectId": MEGAN},
    }
    for justification in ("x" * (limits.MAX_DECISION_JUSTIFICATION_CHARS + 1), "ok\x00"):
        with pytest.raises(ValidationError, match="justification"):
            DecideData.model_validate({**decide, "justification": justification})
    envelope = {"specversion": "1.0", "source": "s", "type": "t", "subject": REQUEST_ID}
    with pytest.raises(ValidationError, match="id"):
        CommandEnvelope.model_validate({**envelope, "id": "c\x00"})


def test_the_longest_duration_is_written_so_it_reads_back() -> None:
    longest = timedelta.max
    written = format_duration(longest)
    assert TypeAdapter(Duration).validate_python(written) == timedelta(
        days=longest.days, seconds=longest.seconds
    )


def test_a_reason_is_cut_to_the_budget_and_says_what_it_left_out() -> None:
    details = [{"target": "t" * 1_000, "message": "m" * 1_000}] * 30
    reason = limits.bounded_reason({"code": "X", "message": "m" * 10_000, "details": details})

    assert reason["code"] == "X"
    assert len(reason["message"]) == limits.MAX_REASON_MESSAGE_CHARS
    assert reason["message"].endswith("…")
    assert len(reason["details"]) == limits.MAX_REASON_DETAILS
    assert reason["details"][-1] == {"message": "11 more not shown"}
    first = reason["details"][0]
    assert len(first["message"]) == limits.MAX_REASON_DETAIL_CHARS
    assert len(first["target"]) == limits.MAX_ID_CHARS
    small = {"code": "X", "message": "m", "details": [{"target": "t", "message": "m"}]}
    assert limits.bounded_reason(small) == small


def test_no_character_costs_orjson_more_than_max_bytes_per_char() -> None:
    """The budget's premise: every ASCII and Latin character (where the escapes are), and a
    sample of every plane beyond."""
    sample = [*range(1, 0x800), *range(0x800, 0x110000, 97), 0x2028, 0x2029, 0xFFFF, 0x10FFFF]
    costs = {len(orjson.dumps(chr(c))) - 2 for c in sample if not 0xD800 <= c <= 0xDFFF}
    assert max(costs) == limits.MAX_BYTES_PER_CHAR
