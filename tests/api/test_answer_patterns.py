"""A hostile answer to a catastrophic ``regexPattern`` gets its 400 at once, and the API
keeps answering: patterns run on RE2 in the request handler too."""

from __future__ import annotations

from typing import Any

import yaml
from api_support import CATALOG, FINANCE_POLICY, KAYO, REQUESTS
from domain_support import TEXT_QUESTION, finance_request

from accessflow.adapters.postgres.catalog_store import apply_catalog
from accessflow.adapters.postgres.pool import connect
from accessflow.domain.catalog import load_catalog
from accessflow.settings import Settings

CATASTROPHIC = r"([A-Za-z0-9]+ ?)+"


async def _apply_catastrophic_pattern(settings: Settings) -> None:
    document = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    [policy] = [p for p in document["assignmentPolicies"] if p["id"] == FINANCE_POLICY]
    [question] = [q for q in policy["questions"] if q["id"] == TEXT_QUESTION]
    question["regexPattern"] = CATASTROPHIC
    conn = await connect(settings)
    try:
        await apply_catalog(conn, load_catalog(document))
    finally:
        await conn.close()


async def test_a_hostile_answer_is_refused_and_the_api_answers_the_next_request(
    make_api: Any, prepared: Settings
) -> None:
    await _apply_catastrophic_pattern(prepared)
    async with make_api() as api:
        refused = await api.post(REQUESTS, finance_request("a" * 40 + "!"), KAYO)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "invalidRequest"
        assert [(d["code"], d["target"]) for d in error["details"]] == [
            ("InvalidAnswer", "answers[1].value")
        ]
        accepted = await api.post(REQUESTS, finance_request("quarterly close 2026"), KAYO)
        assert accepted.status_code == 201, accepted.text
