"""The size budget at the API: a field over its maximum, or a NUL, is a 400 naming the field;
a command over ACCESSFLOW_MAX_COMMAND_BYTES is a 413; nothing reaches the commands topic."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import MEGAN, REQUESTS, Api, sales_body

from accessflow.api.auth import mint_token
from accessflow.domain import limits

ANSWER = {
    "@odata.type": "#microsoft.graph.accessPackageAnswerString",
    "value": "yes",
    "answeredQuestion": {"id": "7aaa18c9-8e4f-440f-bd5a-3a7ce312cbe6"},
}


@pytest.mark.parametrize(
    ("body", "target"),
    [
        (sales_body(justification="j" * (limits.MAX_JUSTIFICATION_CHARS + 1)), "justification"),
        (sales_body(answers=[ANSWER] * (limits.MAX_ANSWERS + 1)), "answers"),
        (
            sales_body(answers=[{**ANSWER, "value": "v" * (limits.MAX_ANSWER_CHARS + 1)}]),
            "answers[0].value",
        ),
        (sales_body(target="x" * (limits.MAX_ID_CHARS + 1)), "assignment.targetId"),
        (sales_body(target="46184453\x00"), "assignment.targetId"),
        (sales_body(justification="fine\x00"), "justification"),
    ],
    ids=["justification", "answer-count", "answer-value", "long-id", "nul-in-id", "nul-in-text"],
)
async def test_a_field_over_its_limit_is_a_400_naming_it(
    api: Api, body: dict[str, Any], target: str
) -> None:
    response = await api.post(REQUESTS, body, MEGAN)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalidRequest"
    assert target in [d["target"] for d in error["details"]]
    assert await api.commands() == []


async def test_a_command_over_the_command_limit_is_a_413_not_a_503(make_api: Any) -> None:
    """Every field within its limit, the whole command over ACCESSFLOW_MAX_COMMAND_BYTES:
    the broker would refuse it for good, so retrying cannot help."""
    async with make_api(max_command_bytes=2_000) as api:
        body = sales_body(justification="j" * 3_000)
        response = await api.post(REQUESTS, body, MEGAN)

        assert response.status_code == 413, response.text
        assert response.json()["error"]["details"][0]["code"] == "PayloadTooLarge"
        assert await api.commands() == []


async def test_a_caller_id_over_the_id_limit_is_refused_at_the_door(api: Api) -> None:
    """The token's oid becomes the command's requestor.objectId: bounded like any id."""
    token = mint_token(api.settings, "o" * (limits.MAX_ID_CHARS + 1))
    response = await api.client.post(
        REQUESTS, json=sales_body(), headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401, response.text
    assert await api.commands() == []
